package dev.keel.snapshot.bbolt;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

/**
 * Reads a bbolt database ({@link BoltFormat}) file without bbolt: picks the meta page as bbolt does (the valid
 * one with the higher txid), then walks the buckets depth-first in key order with positional reads, so memory
 * stays at one page per tree level. Every structural fact used is checked, and a file that breaks one is refused
 * with a {@link BoltException} (never an unchecked exception): page ids beyond the high-water mark, pages of the
 * wrong type, a page referenced twice, element bounds outside their page, keys out of order, nesting deeper than
 * 64 levels.
 *
 * <p>The file may carry bytes after the high-water mark (etcd's SHA-256 trailer of a snapshot is one): they are
 * ignored. Not thread-safe.
 */
public final class BoltReader implements Closeable {

    private static final int MAX_DEPTH = 64;

    private final FileChannel in;
    private final long fileSize;
    private final BoltFormat.Meta meta;
    private final BitSet seen = new BitSet();

    /** Receives the contents of a database in order. */
    public interface Visitor {
        /** A bucket starts; {@code path} holds its name last (one element for a top-level bucket). */
        default void bucket(List<byte[]> path) throws IOException {
        }

        /** An entry of the bucket at {@code path}. */
        void entry(List<byte[]> path, byte[] key, byte[] value) throws IOException;
    }

    private BoltReader(FileChannel in) throws IOException {
        this.in = in;
        this.fileSize = in.size();
        this.meta = readMeta();
    }

    /** Opens {@code file} and reads its meta pages; the caller closes the reader. */
    public static BoltReader open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return new BoltReader(ch);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Whether {@code head} (the first bytes of a file, at least 24) looks like a bbolt database. */
    public static boolean looksLikeBolt(byte[] head) {
        return head.length >= 24 && BoltFormat.le(head).getInt(BoltFormat.PAGE_HEADER) == BoltFormat.MAGIC;
    }

    public int pageSize() {
        return meta.pageSize();
    }

    /** Bytes in use: the high-water mark times the page size (bbolt's tx.Size()). */
    public long size() {
        return meta.highWater() * meta.pageSize();
    }

    public long txid() {
        return meta.txid();
    }

    private BoltFormat.Meta readMeta() throws IOException {
        byte[] first = new byte[(int) Math.min(fileSize, BoltFormat.DEFAULT_PAGE_SIZE)];
        read(first, 0);
        if (first.length < BoltFormat.PAGE_HEADER + BoltFormat.META_SIZE) {
            throw new BoltException("invalid database (file too small: " + fileSize + " bytes)");
        }
        BoltFormat.Meta m0 = BoltFormat.Meta.read(first, BoltFormat.PAGE_HEADER);
        String why0 = m0.invalid(first, BoltFormat.PAGE_HEADER);
        int pageSize = why0 == null ? m0.pageSize() : BoltFormat.DEFAULT_PAGE_SIZE; // as bbolt: else the OS's
        if (pageSize < 512 || Integer.bitCount(pageSize) != 1 || pageSize > (1 << 24)) {
            throw new BoltException("invalid database (page size " + pageSize + ")");
        }
        BoltFormat.Meta best = why0 == null ? m0 : null;
        String why = why0;
        if (fileSize >= (long) pageSize + BoltFormat.PAGE_HEADER + BoltFormat.META_SIZE) {
            byte[] second = new byte[BoltFormat.PAGE_HEADER + BoltFormat.META_SIZE];
            read(second, pageSize);
            BoltFormat.Meta m1 = BoltFormat.Meta.read(second, BoltFormat.PAGE_HEADER);
            String why1 = m1.invalid(second, BoltFormat.PAGE_HEADER);
            if (why1 == null && m1.pageSize() == pageSize && (best == null || m1.txid() > best.txid())) {
                best = m1;
            }
            why = why == null ? why1 : why;
        }
        if (best == null) {
            throw new BoltException(why);
        }
        if (best.highWater() < 3 || best.root() < 2 || best.root() >= best.highWater()) {
            throw new BoltException("invalid database (root page " + best.root() + ", high-water mark "
                    + best.highWater() + ")");
        }
        if (best.highWater() * best.pageSize() > fileSize) {
            throw new BoltException("invalid database (file has " + fileSize + " bytes, its meta page says "
                    + best.highWater() * best.pageSize() + ")");
        }
        return best;
    }

    private void read(byte[] into, long pos) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(into);
        while (b.hasRemaining()) {
            int n = in.read(b, pos + b.position());
            if (n < 0) {
                throw new BoltException("invalid database (truncated at " + (pos + b.position()) + ")");
            }
        }
    }

    /** Page {@code pgid} with its overflow pages; checks its range and that no other reference reached it. */
    private byte[] page(long pgid) throws IOException {
        if (pgid < 2 || pgid >= meta.highWater()) {
            throw new BoltException("page " + pgid + ": out of bounds (high-water mark " + meta.highWater() + ")");
        }
        int ps = meta.pageSize();
        byte[] head = new byte[BoltFormat.PAGE_HEADER];
        read(head, pgid * ps);
        ByteBuffer h = BoltFormat.le(head);
        long overflow = Integer.toUnsignedLong(h.getInt(12));
        if (h.getLong(0) != pgid) {
            throw new BoltException("page " + pgid + ": header says page " + h.getLong(0));
        }
        if (pgid + overflow >= meta.highWater() || (overflow + 1) * ps > Integer.MAX_VALUE) {
            throw new BoltException("page " + pgid + ": overflow " + overflow + " beyond the high-water mark");
        }
        for (long p = pgid; p <= pgid + overflow; p++) {
            if (seen.get((int) p)) {
                throw new BoltException("page " + p + ": multiple references");
            }
            seen.set((int) p);
        }
        byte[] page = new byte[(int) ((overflow + 1) * ps)];
        read(page, pgid * ps);
        return page;
    }

    /** Walks every bucket and entry in key order. Can be called once. */
    public void forEach(Visitor visitor) throws IOException {
        if (meta.highWater() > Integer.MAX_VALUE) {
            throw new BoltException("database too large (" + meta.highWater() + " pages)");
        }
        seen.clear();
        walkTree(meta.root(), new ArrayList<>(), visitor, 0, new byte[][]{null});
    }

    private void walkTree(long pgid, List<byte[]> path, Visitor visitor, int depth, byte[][] last)
            throws IOException {
        if (depth > MAX_DEPTH) {
            throw new BoltException("page " + pgid + ": tree deeper than " + MAX_DEPTH + " levels");
        }
        byte[] page = page(pgid);
        ByteBuffer b = BoltFormat.le(page);
        int flags = b.getShort(8) & 0xffff;
        int count = b.getShort(10) & 0xffff;
        if (BoltFormat.PAGE_HEADER + (long) count * BoltFormat.ELEMENT > page.length) {
            throw new BoltException("page " + pgid + ": " + count + " elements do not fit");
        }
        if (flags == BoltFormat.BRANCH_PAGE) {
            for (int i = 0; i < count; i++) {
                int elem = BoltFormat.PAGE_HEADER + i * BoltFormat.ELEMENT;
                slice(page, pgid, elem, b.getInt(elem), b.getInt(elem + 4)); // bounds of the key
                walkTree(b.getLong(elem + 8), path, visitor, depth + 1, last);
            }
        } else if (flags == BoltFormat.LEAF_PAGE) {
            leaf(page, 0, pgid, count, path, visitor, depth, last);
        } else {
            throw new BoltException("page " + pgid + ": invalid type " + flags + " in a bucket's tree");
        }
    }

    /** The elements of the leaf page at {@code base} of {@code page} (an inline bucket's page is not at 0). */
    private void leaf(byte[] page, int base, long pgid, int count, List<byte[]> path, Visitor visitor, int depth,
                      byte[][] last) throws IOException {
        ByteBuffer b = BoltFormat.le(page);
        for (int i = 0; i < count; i++) {
            int elem = base + BoltFormat.PAGE_HEADER + i * BoltFormat.ELEMENT;
            int flags = b.getInt(elem);
            int ksize = b.getInt(elem + 8);
            int vsize = b.getInt(elem + 12);
            byte[] key = slice(page, pgid, elem, b.getInt(elem + 4), ksize);
            byte[] value = slice(page, pgid, elem, (long) b.getInt(elem + 4) + Integer.toUnsignedLong(ksize), vsize);
            if (last[0] != null && Arrays.compareUnsigned(key, last[0]) <= 0) {
                throw new BoltException("page " + pgid + ": keys out of order");
            }
            last[0] = key;
            if ((flags & BoltFormat.BUCKET_LEAF) != 0) {
                bucket(key, value, pgid, path, visitor, depth);
            } else if (path.isEmpty()) {
                throw new BoltException("page " + pgid + ": a plain entry in the root bucket");
            } else {
                visitor.entry(path, key, value);
            }
        }
    }

    private void bucket(byte[] name, byte[] value, long pgid, List<byte[]> path, Visitor visitor, int depth)
            throws IOException {
        if (value.length < BoltFormat.BUCKET_HEADER) {
            throw new BoltException("page " + pgid + ": bucket value of " + value.length + " bytes");
        }
        List<byte[]> sub = new ArrayList<>(path);
        sub.add(name);
        visitor.bucket(sub);
        long root = BoltFormat.le(value).getLong(0);
        byte[][] last = {null};
        if (root != 0) {
            walkTree(root, sub, visitor, depth + 1, last);
            return;
        }
        // inline bucket: a leaf page inside the value
        int base = BoltFormat.BUCKET_HEADER;
        if (value.length < base + BoltFormat.PAGE_HEADER) {
            throw new BoltException("page " + pgid + ": inline bucket without a page");
        }
        ByteBuffer b = BoltFormat.le(value);
        int flags = b.getShort(base + 8) & 0xffff;
        int count = b.getShort(base + 10) & 0xffff;
        if (flags != BoltFormat.LEAF_PAGE
                || base + BoltFormat.PAGE_HEADER + (long) count * BoltFormat.ELEMENT > value.length) {
            throw new BoltException("page " + pgid + ": invalid inline bucket");
        }
        leaf(value, base, pgid, count, sub, visitor, depth + 1, last);
    }

    private static byte[] slice(byte[] page, long pgid, int elem, long pos, int size) throws BoltException {
        long from = elem + pos;
        long to = from + Integer.toUnsignedLong(size);
        if (pos < 0 || to > page.length) {
            throw new BoltException("page " + pgid + ": element out of bounds");
        }
        return Arrays.copyOfRange(page, (int) from, (int) to);
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
