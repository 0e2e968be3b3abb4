package dev.keel.mvcc;

/**
 * A point in the store's history. {@code main} is the etcd revision a write (or a whole Txn) is given;
 * {@code sub} numbers the changes within that write, from 0.
 *
 * <p>On disk a revision is 17 bytes, {@code main} big-endian, '_', {@code sub} big-endian, so byte order equals
 * revision order; a deletion record carries an extra 't' (etcd's layout, which keeps HashKV and snapshot
 * conversion straightforward).
 */
public record Revision(long main, long sub) implements Comparable<Revision> {

    public static final int BYTES = 17;
    static final byte TOMBSTONE_MARK = 't';

    @Override
    public int compareTo(Revision o) {
        int c = Long.compare(main, o.main);
        return c != 0 ? c : Long.compare(sub, o.sub);
    }

    public byte[] toBytes() {
        return toBytes(false);
    }

    public byte[] toBytes(boolean tombstone) {
        byte[] b = new byte[tombstone ? BYTES + 1 : BYTES];
        putLong(b, 0, main);
        b[8] = '_';
        putLong(b, 9, sub);
        if (tombstone) {
            b[BYTES] = TOMBSTONE_MARK;
        }
        return b;
    }

    /** First key at or after every revision with this main number: a scan bound. */
    public static byte[] startKey(long main) {
        return new Revision(main, 0).toBytes();
    }

    public static Revision fromBytes(byte[] b) {
        if (b.length < BYTES || b[8] != '_') {
            throw new IllegalArgumentException("not a revision key (" + b.length + " bytes)");
        }
        return new Revision(getLong(b, 0), getLong(b, 9));
    }

    public static boolean isTombstone(byte[] b) {
        return b.length == BYTES + 1 && b[BYTES] == TOMBSTONE_MARK;
    }

    static void putLong(byte[] b, int off, long v) {
        for (int i = 7; i >= 0; i--) {
            b[off + i] = (byte) v;
            v >>>= 8;
        }
    }

    static long getLong(byte[] b, int off) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (b[off + i] & 0xFF);
        }
        return v;
    }

    @Override
    public String toString() {
        return main + "_" + sub;
    }
}
