package dev.keel.snapshot.bbolt;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;

/**
 * Writes a bbolt database ({@link BoltFormat}) in one pass from sorted input, the way a bulk load would lay it
 * out: leaf pages filled in key order as the entries arrive (an entry larger than a page gets overflow pages),
 * then the branch levels above them, bottom-up; every bucket, nested ones included, gets pages of its own (no
 * inline buckets). Page 2 is an empty freelist, every page below the high-water mark is reachable, so bbolt's
 * {@code tx.Check()} (run by {@code etcdctl snapshot status}) finds nothing to report.
 *
 * <p>Usage: {@link #beginBucket}, {@link #put}..., {@link #endBucket} (buckets nest), then {@link #finish}.
 * Within a bucket, keys (of entries and nested buckets alike) must come in strictly increasing unsigned byte
 * order; the root holds buckets only. Memory: the entries of the leaf page being filled plus the first key of
 * every page written (for the branch levels), so a large database streams through. Not thread-safe.
 */
public final class BoltWriter {

    private final FileChannel out;
    private final int pageSize;
    private final Deque<Bucket> open = new ArrayDeque<>();
    private long nextPage = 3; // 0 and 1: meta, 2: freelist
    private boolean finished;

    /** Writes to {@code out} from position 0 with bbolt's default page size. */
    public BoltWriter(FileChannel out) {
        this(out, BoltFormat.DEFAULT_PAGE_SIZE);
    }

    public BoltWriter(FileChannel out, int pageSize) {
        if (pageSize < 1024 || Integer.bitCount(pageSize) != 1) {
            throw new IllegalArgumentException("page size " + pageSize + " is not a power of two >= 1024");
        }
        this.out = out;
        this.pageSize = pageSize;
        open.push(new Bucket(null));
    }

    /** Opens a bucket named {@code name} inside the current one (the root at first). */
    public void beginBucket(byte[] name) throws BoltException {
        checkOpen();
        open.peek().checkKey(name);
        open.push(new Bucket(name.clone()));
    }

    /** Adds an entry to the current bucket. */
    public void put(byte[] key, byte[] value) throws IOException {
        checkOpen();
        if (open.size() == 1) {
            throw new BoltException("the root holds buckets only");
        }
        if (value.length > BoltFormat.MAX_VALUE_SIZE) {
            throw new BoltException("value too large");
        }
        open.peek().add(key, value, 0);
    }

    /** Closes the current bucket: writes its last leaf and its branch pages. */
    public void endBucket() throws IOException {
        checkOpen();
        if (open.size() == 1) {
            throw new IllegalStateException("no bucket is open");
        }
        Bucket b = open.pop();
        long root = b.finish();
        byte[] header = new byte[BoltFormat.BUCKET_HEADER];
        BoltFormat.le(header).putLong(root).putLong(0);
        open.peek().add(b.name, header, BoltFormat.BUCKET_LEAF);
    }

    /**
     * Writes the root, the freelist and both meta pages (txids 2 and 3, as after one committed transaction);
     * returns the file size (high-water mark times the page size). The channel is not closed or forced.
     */
    public long finish() throws IOException {
        checkOpen();
        if (open.size() != 1) {
            throw new IllegalStateException(open.size() - 1 + " bucket(s) still open");
        }
        long root = open.pop().finish();
        finished = true;
        byte[] freelist = new byte[pageSize];
        BoltFormat.le(freelist).putLong(2).putShort((short) BoltFormat.FREELIST_PAGE);
        write(2, freelist);
        for (long txid = 2; txid <= 3; txid++) {
            BoltFormat.Meta m = new BoltFormat.Meta(BoltFormat.MAGIC, BoltFormat.VERSION, pageSize, 0, root, 0, 2,
                    nextPage, txid, 0);
            write(txid & 1, m.page());
        }
        return nextPage * pageSize;
    }

    private void checkOpen() {
        if (finished) {
            throw new IllegalStateException("already finished");
        }
    }

    private void write(long pgid, byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        long pos = pgid * pageSize;
        while (b.hasRemaining()) {
            pos += out.write(b, pos);
        }
    }

    /** Pages needed for {@code bytes}. */
    private long pages(long bytes) {
        return (bytes + pageSize - 1) / pageSize;
    }

    /** A page written: its first key and id, for the level above. */
    private record Ref(byte[] firstKey, long pgid) {
    }

    /** One bucket being written: its current leaf and the pages written so far. */
    private final class Bucket {
        final byte[] name;
        final List<byte[]> keys = new ArrayList<>();
        final List<byte[]> values = new ArrayList<>();
        final List<Integer> flags = new ArrayList<>();
        long leafBytes = BoltFormat.PAGE_HEADER;
        byte[] lastKey;
        List<Ref> pagesWritten = new ArrayList<>();

        Bucket(byte[] name) {
            this.name = name;
        }

        void checkKey(byte[] key) throws BoltException {
            if (key.length == 0) {
                throw new BoltException("key required");
            }
            if (key.length > BoltFormat.MAX_KEY_SIZE) {
                throw new BoltException("key too large");
            }
            if (lastKey != null && Arrays.compareUnsigned(key, lastKey) <= 0) {
                throw new BoltException("keys out of order: " + hex(key) + " after " + hex(lastKey));
            }
        }

        void add(byte[] key, byte[] value, int flag) throws IOException {
            checkKey(key);
            long size = BoltFormat.ELEMENT + (long) key.length + value.length;
            if (!keys.isEmpty() && (leafBytes + size > pageSize || keys.size() == 0xFFFF)) {
                flushLeaf();
            }
            keys.add(key);
            values.add(value);
            flags.add(flag);
            leafBytes += size;
            lastKey = key;
        }

        void flushLeaf() throws IOException {
            long n = pages(leafBytes);
            if (n * pageSize > Integer.MAX_VALUE) {
                throw new BoltException("entry too large for one page run");
            }
            byte[] page = new byte[(int) (n * pageSize)];
            ByteBuffer b = BoltFormat.le(page);
            long pgid = nextPage;
            b.putLong(pgid).putShort((short) BoltFormat.LEAF_PAGE).putShort((short) keys.size()).putInt((int) (n - 1));
            int data = BoltFormat.PAGE_HEADER + keys.size() * BoltFormat.ELEMENT;
            for (int i = 0; i < keys.size(); i++) {
                byte[] k = keys.get(i);
                byte[] v = values.get(i);
                int elem = BoltFormat.PAGE_HEADER + i * BoltFormat.ELEMENT;
                b.putInt(elem, flags.get(i)).putInt(elem + 4, data - elem).putInt(elem + 8, k.length)
                        .putInt(elem + 12, v.length);
                System.arraycopy(k, 0, page, data, k.length);
                System.arraycopy(v, 0, page, data + k.length, v.length);
                data += k.length + v.length;
            }
            write(pgid, page);
            nextPage += n;
            pagesWritten.add(new Ref(keys.isEmpty() ? new byte[0] : keys.get(0), pgid));
            keys.clear();
            values.clear();
            flags.clear();
            leafBytes = BoltFormat.PAGE_HEADER;
        }

        /** Writes what is left and the branch levels; returns the bucket's root page. */
        long finish() throws IOException {
            if (!keys.isEmpty() || pagesWritten.isEmpty()) {
                flushLeaf(); // an empty bucket is one empty leaf page
            }
            List<Ref> level = pagesWritten;
            while (level.size() > 1) {
                level = branches(level);
            }
            return level.get(0).pgid();
        }

        /** Writes the branch pages over {@code children}; returns their refs. */
        private List<Ref> branches(List<Ref> children) throws IOException {
            List<Ref> written = new ArrayList<>();
            int from = 0;
            while (from < children.size()) {
                long bytes = BoltFormat.PAGE_HEADER;
                int to = from;
                while (to < children.size() && to - from < 0xFFFF) {
                    long size = BoltFormat.ELEMENT + children.get(to).firstKey().length;
                    if (to > from + 1 && bytes + size > pageSize) {
                        break; // at least two children per branch page
                    }
                    bytes += size;
                    to++;
                }
                long n = pages(bytes);
                byte[] page = new byte[(int) (n * pageSize)];
                ByteBuffer b = BoltFormat.le(page);
                long pgid = nextPage;
                b.putLong(pgid).putShort((short) BoltFormat.BRANCH_PAGE).putShort((short) (to - from))
                        .putInt((int) (n - 1));
                int data = BoltFormat.PAGE_HEADER + (to - from) * BoltFormat.ELEMENT;
                for (int i = from; i < to; i++) {
                    byte[] k = children.get(i).firstKey();
                    int elem = BoltFormat.PAGE_HEADER + (i - from) * BoltFormat.ELEMENT;
                    b.putInt(elem, data - elem).putInt(elem + 4, k.length).putLong(elem + 8, children.get(i).pgid());
                    System.arraycopy(k, 0, page, data, k.length);
                    data += k.length;
                }
                write(pgid, page);
                nextPage += n;
                written.add(new Ref(children.get(from).firstKey(), pgid));
                from = to;
            }
            return written;
        }
    }

    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < Math.min(b.length, 64); i++) {
            s.append(String.format("%02x", b[i]));
        }
        return b.length > 64 ? s + "..." : s.toString();
    }
}
