package dev.keel.mvcc;

/** Something ranges can be read from: the store itself, or a write transaction (which sees its own writes). */
public interface KvReader {
    MvccStore.RangeResult range(byte[] key, byte[] end, long rev, long limit, boolean countOnly);
}
