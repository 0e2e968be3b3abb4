package dev.keel.server;

import dev.keel.storage.Storage;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Keel's snapshot file: a self-describing dump of every column of a member's database as of one point in time.
 * All integers are big-endian.
 *
 * <pre>
 * "KEELSNAP"                    8 bytes, magic
 * u32  format version           1
 * u16 + UTF-8                   storage version of the member that wrote it ("3.6.0")
 * i64  revision                 the MVCC current revision of the data
 * i64  compact revision         the revision compacted at, -1 if none
 * u16  column count, then per column: u16 + UTF-8 name (sorted)
 * records, in column order, then key order:
 *   u8 1, u16 column index, u32 key length, key, u32 value length, value
 * u8 0, u64 record count        end marker
 * zero bytes up to a multiple of 512 bytes
 * </pre>
 *
 * <p>The body above is what {@link Encoder} produces. A snapshot as sent by Maintenance.Snapshot and saved by
 * {@code etcdctl snapshot save} is the body followed by the 32-byte SHA-256 of the body, as etcd appends it; the
 * padding makes the file length a multiple of 512 plus 32, which is how etcd's client recognises the trailer.
 */
public final class SnapshotFormat {

    static final byte[] MAGIC = "KEELSNAP".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    /** etcd's alignment of a snapshot body: the SHA-256 trailer is found by {@code size % 512 == 32}. */
    static final int ALIGN = 512;
    static final int SHA_SIZE = 32;
    private static final int TAG_END = 0;
    private static final int TAG_RECORD = 1;

    private SnapshotFormat() {
    }

    /** What a snapshot body starts with. */
    public record Header(String storageVersion, long revision, long compactRevision, List<String> columns) {
    }

    /** Decides which key-value pairs are left out of a snapshot (state that must not travel). */
    @FunctionalInterface
    public interface Exclusion {
        boolean excluded(String column, byte[] key);
    }

    /** Receives the records of a snapshot body in order. */
    @FunctionalInterface
    public interface RecordVisitor {
        void record(String column, byte[] key, byte[] value) throws IOException;
    }

    /** Thrown for a file that is not a valid snapshot; the message says why. */
    public static final class FormatException extends IOException {
        FormatException(String message) {
            super(message);
        }
    }

    /**
     * The body of a snapshot of {@code view}, as a stream. Its exact length ({@link #size()}) is computed by a
     * first pass over the view, so a sender can count down the remaining bytes as etcd does; both passes read
     * the same point in time. Not thread-safe.
     */
    public static final class Encoder extends InputStream {
        private final Storage.View view;
        private final Exclusion exclusion;
        private final List<String> columns;
        private final long size;
        private final ByteArrayOutputStream buf = new ByteArrayOutputStream(64 << 10);
        private final DataOutputStream out = new DataOutputStream(buf);
        private byte[] pending = new byte[0];
        private int pos;
        private int column = -1;
        private Storage.View.Cursor cursor;
        private long records;
        private long produced;
        private boolean finished;

        public Encoder(Storage.View view, Header header, Exclusion exclusion) {
            this.view = view;
            this.exclusion = exclusion;
            this.columns = header.columns();
            try {
                writeHeader(out, header);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            long bytes = buf.size();
            long count = 0;
            for (String c : columns) {
                Storage.View.Cursor cur = view.cursor(c);
                while (cur.next()) {
                    if (!exclusion.excluded(c, cur.key())) {
                        bytes += 1 + 2 + 4 + cur.key().length + 4 + cur.value().length;
                        count++;
                    }
                }
            }
            bytes += 1 + 8;
            this.size = (bytes + ALIGN - 1) / ALIGN * ALIGN;
        }

        /** The length of the body in bytes (a multiple of 512). */
        public long size() {
            return size;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            while (pos == pending.length) {
                if (finished) {
                    return -1;
                }
                fill();
            }
            int n = Math.min(len, pending.length - pos);
            System.arraycopy(pending, pos, b, off, n);
            pos += n;
            return n;
        }

        /** Encodes the next records (about 64 KiB) into the pending buffer. */
        private void fill() throws IOException {
            while (buf.size() < (64 << 10) && !finished) {
                if (cursor == null) {
                    column++;
                    if (column == columns.size()) {
                        out.writeByte(TAG_END);
                        out.writeLong(records);
                        long body = produced + buf.size();
                        long padding = size - body;
                        if (padding < 0 || padding >= ALIGN) {
                            throw new IOException("snapshot changed while it was written (" + body + " bytes, "
                                    + size + " expected)");
                        }
                        out.write(new byte[(int) padding]);
                        finished = true;
                        break;
                    }
                    cursor = view.cursor(columns.get(column));
                }
                if (!cursor.next()) {
                    cursor = null;
                    continue;
                }
                byte[] k = cursor.key();
                if (exclusion.excluded(columns.get(column), k)) {
                    continue;
                }
                byte[] v = cursor.value();
                out.writeByte(TAG_RECORD);
                out.writeShort(column);
                out.writeInt(k.length);
                out.write(k);
                out.writeInt(v.length);
                out.write(v);
                records++;
            }
            out.flush();
            pending = buf.toByteArray();
            pos = 0;
            produced += pending.length;
            buf.reset();
        }
    }

    static void writeHeader(DataOutputStream out, Header h) throws IOException {
        out.write(MAGIC);
        out.writeInt(VERSION);
        writeString(out, h.storageVersion());
        out.writeLong(h.revision());
        out.writeLong(h.compactRevision());
        out.writeShort(h.columns().size());
        for (String c : h.columns()) {
            writeString(out, c);
        }
    }

    private static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeShort(b.length);
        out.write(b);
    }

    /** The result of reading a body: its header and how many records it held. */
    public record Contents(Header header, long records, long bodyBytes) {
    }

    /**
     * Reads a snapshot body (without the SHA-256 trailer) from {@code in}: checks the magic, the version, the
     * record count and the padding, and hands every record to {@code visitor} in order.
     */
    public static Contents read(InputStream in, long bodyLength, RecordVisitor visitor) throws IOException {
        CountingInput counting = new CountingInput(in);
        DataInputStream data = new DataInputStream(counting);
        try {
            byte[] magic = new byte[MAGIC.length];
            data.readFully(magic);
            if (!Arrays.equals(magic, MAGIC)) {
                throw new FormatException("not a Keel snapshot (bad magic; etcd's own bbolt snapshots cannot be "
                        + "read by Keel)");
            }
            int version = data.readInt();
            if (version != VERSION) {
                throw new FormatException("unsupported snapshot format version " + version + " (this Keel reads "
                        + VERSION + ")");
            }
            String storageVersion = readString(data);
            long revision = data.readLong();
            long compact = data.readLong();
            int ncol = data.readUnsignedShort();
            List<String> columns = new ArrayList<>(ncol);
            for (int i = 0; i < ncol; i++) {
                columns.add(readString(data));
            }
            Header header = new Header(storageVersion, revision, compact, List.copyOf(columns));
            long records = 0;
            while (true) {
                int tag = data.readUnsignedByte();
                if (tag == TAG_END) {
                    long count = data.readLong();
                    if (count != records) {
                        throw new FormatException("record count mismatch: end marker says " + count + ", read "
                                + records);
                    }
                    break;
                }
                if (tag != TAG_RECORD) {
                    throw new FormatException("corrupt snapshot: unknown record tag " + tag + " at byte "
                            + (counting.count - 1));
                }
                int col = data.readUnsignedShort();
                if (col >= columns.size()) {
                    throw new FormatException("corrupt snapshot: column index " + col + " out of range");
                }
                byte[] key = readBytes(data, bodyLength - counting.count);
                byte[] value = readBytes(data, bodyLength - counting.count);
                visitor.record(columns.get(col), key, value);
                records++;
            }
            long rest = bodyLength - counting.count;
            if (rest < 0 || rest >= ALIGN) {
                throw new FormatException("corrupt snapshot: " + rest + " bytes after the end marker");
            }
            for (long i = 0; i < rest; i++) {
                if (data.readUnsignedByte() != 0) {
                    throw new FormatException("corrupt snapshot: non-zero padding");
                }
            }
            return new Contents(header, records, bodyLength);
        } catch (EOFException e) {
            throw new FormatException("truncated snapshot (ends after " + counting.count + " bytes)");
        }
    }

    private static byte[] readBytes(DataInputStream data, long available) throws IOException {
        int n = data.readInt();
        if (n < 0 || n > available) {
            throw new FormatException("corrupt snapshot: length " + Integer.toUnsignedString(n) + " beyond the end");
        }
        byte[] b = new byte[n];
        data.readFully(b);
        return b;
    }

    private static String readString(DataInputStream data) throws IOException {
        byte[] b = new byte[data.readUnsignedShort()];
        data.readFully(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private static final class CountingInput extends InputStream {
        private final InputStream in;
        long count;

        CountingInput(InputStream in) {
            this.in = in;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                count++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) {
                count += n;
            }
            return n;
        }
    }
}
