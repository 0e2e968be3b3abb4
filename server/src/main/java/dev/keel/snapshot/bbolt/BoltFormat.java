package dev.keel.snapshot.bbolt;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Facts of bbolt's file format (go.etcd.io/bbolt, format version 2) shared by {@link BoltWriter} and
 * {@link BoltReader}. All integers are little-endian (the layout of bbolt's structs on amd64/arm64).
 *
 * <pre>
 * page header (16 bytes):  u64 id, u16 flags, u16 count, u32 overflow (extra pages that follow)
 * meta (pages 0 and 1):    u32 magic 0xED0CDAED, u32 version 2, u32 page size, u32 flags,
 *                          u64 root bucket page, u64 root bucket sequence, u64 freelist page,
 *                          u64 high-water mark (pages in use), u64 txid, u64 checksum (FNV-1a 64 of the 56
 *                          bytes before it); page id = txid % 2, the valid one with the higher txid wins
 * branch element (16):     u32 pos, u32 key size, u64 child page      (pos: from the element to its key)
 * leaf element (16):       u32 flags (1 = nested bucket), u32 pos, u32 key size, u32 value size
 * freelist:                count page ids (u64); count 0xFFFF means the first u64 holds the real count
 * bucket value (16+):      u64 root page (0 = inline: a leaf page follows in the value), u64 sequence
 * </pre>
 */
public final class BoltFormat {

    public static final int MAGIC = 0xED0CDAED;
    public static final int VERSION = 2;
    /** What etcd's backend uses on Linux (the OS page size). */
    public static final int DEFAULT_PAGE_SIZE = 4096;
    public static final int PAGE_HEADER = 16;
    public static final int ELEMENT = 16;
    public static final int BUCKET_HEADER = 16;
    public static final int META_CHECKSUM_OFFSET = 56;
    public static final int META_SIZE = 64;

    public static final int BRANCH_PAGE = 0x01;
    public static final int LEAF_PAGE = 0x02;
    public static final int META_PAGE = 0x04;
    public static final int FREELIST_PAGE = 0x10;
    public static final int BUCKET_LEAF = 0x01;

    public static final long NO_FREELIST = -1L;
    /** bbolt's MaxKeySize and MaxValueSize. */
    public static final int MAX_KEY_SIZE = 32768;
    public static final int MAX_VALUE_SIZE = (1 << 31) - 2;

    private BoltFormat() {
    }

    /** A little-endian view of {@code b}. */
    static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** FNV-1a 64 of {@code len} bytes of {@code b} from {@code off} (Go's hash/fnv New64a). */
    public static long fnv1a64(byte[] b, int off, int len) {
        long h = 0xcbf29ce484222325L;
        for (int i = off; i < off + len; i++) {
            h ^= b[i] & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }

    /** The meta struct of a page (its fields in file order). */
    public record Meta(int magic, int version, int pageSize, int flags, long root, long sequence, long freelist,
                       long highWater, long txid, long checksum) {

        /** Reads the meta struct at {@code off} (just after a page header). */
        static Meta read(byte[] page, int off) {
            ByteBuffer b = le(page);
            b.position(off);
            return new Meta(b.getInt(), b.getInt(), b.getInt(), b.getInt(), b.getLong(), b.getLong(), b.getLong(),
                    b.getLong(), b.getLong(), b.getLong());
        }

        /** What bbolt's Meta.Validate says about it: null if valid, else its error text. */
        String invalid(byte[] page, int off) {
            if (magic != MAGIC) {
                return "invalid database";
            }
            if (version != VERSION) {
                return "version mismatch";
            }
            if (checksum != fnv1a64(page, off, META_CHECKSUM_OFFSET)) {
                return "checksum error";
            }
            return null;
        }

        /** A whole meta page of {@code pageSize} bytes: header (id txid % 2) and this meta with its checksum. */
        byte[] page() {
            byte[] p = new byte[pageSize];
            ByteBuffer b = le(p);
            b.putLong(txid & 1).putShort((short) META_PAGE).putShort((short) 0).putInt(0);
            b.putInt(magic).putInt(version).putInt(pageSize).putInt(flags).putLong(root).putLong(sequence)
                    .putLong(freelist).putLong(highWater).putLong(txid);
            b.putLong(fnv1a64(p, PAGE_HEADER, META_CHECKSUM_OFFSET));
            return p;
        }
    }
}
