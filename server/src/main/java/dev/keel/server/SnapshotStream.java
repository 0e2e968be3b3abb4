package dev.keel.server;

import com.google.protobuf.ByteString;
import dev.keel.membership.MemberStore;
import dev.keel.mvcc.MvccStore;
import dev.keel.proto.etcdserverpb.ResponseHeader;
import dev.keel.proto.etcdserverpb.SnapshotResponse;
import dev.keel.storage.Storage;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * One Maintenance.Snapshot stream, as etcd sends it (v3rpc/maintenance.go): a bbolt database laid out as etcd's
 * backend ({@link EtcdSnapshotExport}) in 32 KiB chunks, {@code remaining_bytes} counting down to 0 with the last
 * chunk, then one more message whose blob is the SHA-256 of all chunks (remaining_bytes 0). So {@code etcdctl
 * snapshot save} stores the database followed by its SHA-256, which {@code etcdctl snapshot restore} and
 * etcdutl check, and which Keel's {@code snapshot restore} reads too.
 *
 * <p>The database is written from a RocksDB snapshot (the apply thread is never held up, and writes made while
 * the stream runs are not in it) to a temporary file next to the data ({@code member/client-snapshot-*.tmp}),
 * removed when the stream ends; memory stays bounded by a page run and the first keys of the pages.
 *
 * <p>Pull-based: the transport calls {@link #next()} whenever it can send (flow control), one thread at a time.
 */
public final class SnapshotStream implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(SnapshotStream.class);

    /** etcd's snapshotSendBufferSize. */
    static final int CHUNK = 32 * 1024;
    static final String TEMP_PREFIX = "client-snapshot-";
    /** The temporary files of the streams of this process; others with the prefix are left from a crash. */
    private static final java.util.Set<Path> ACTIVE = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private final Path file;
    private final FileChannel body;
    private final MessageDigest sha;
    private final ResponseHeader header;
    private final long total;
    private final long revision;
    private final long started = System.nanoTime();
    private long sent;
    private boolean shaSent;
    private boolean closed;

    SnapshotStream(Storage storage, java.util.function.LongFunction<ResponseHeader> headers) {
        Path tmp = null;
        FileChannel ch = null;
        try (Storage.View view = storage.openView()) {
            if (view.get(storage.column(MvccStore.META_COLUMN), SnapshotInstaller.INSTALLING) != null) {
                throw new dev.keel.errors.EtcdException(dev.keel.errors.EtcdError.Codes.UNAVAILABLE,
                        "etcdserver: member is installing a snapshot from the leader");
            }
            Path dir = storage.dir().toAbsolutePath().getParent();
            synchronized (ACTIVE) { // no other stream's new file is taken for a leftover
                removeLeftovers(dir);
                tmp = Files.createTempFile(dir, TEMP_PREFIX, ".tmp");
                ACTIVE.add(tmp);
            }
            ch = FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE);
            EtcdSnapshotExport.Result r = EtcdSnapshotExport.write(storage, view, ch);
            this.revision = r.revision();
            this.total = r.size();
            this.header = headers.apply(r.revision());
            this.sha = MessageDigest.getInstance("SHA-256");
            this.file = tmp;
            this.body = ch;
        } catch (RuntimeException | IOException | NoSuchAlgorithmException e) {
            closeQuietly(ch, tmp);
            if (e instanceof RuntimeException r) {
                throw r;
            }
            throw e instanceof IOException io ? new UncheckedIOException(io) : new IllegalStateException(e);
        }
        LOG.infof("sending database snapshot to client: revision %d, %d bytes", revision, total);
    }

    /** Deletes temporary files a crashed process left behind. */
    private static void removeLeftovers(Path dir) {
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith(TEMP_PREFIX)).toList()) {
                if (!ACTIVE.contains(f)) {
                    Files.deleteIfExists(f);
                }
            }
        } catch (IOException e) {
            LOG.warnf("cannot list %s for old snapshot files: %s", dir, e.getMessage());
        }
    }

    private static void closeQuietly(FileChannel ch, Path tmp) {
        if (tmp != null) {
            ACTIVE.remove(tmp);
        }
        try {
            if (ch != null) {
                ch.close();
            }
            if (tmp != null) {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            LOG.warnf("cannot remove snapshot temporary file %s: %s", tmp, e.getMessage());
        }
    }

    /**
     * What stays behind in Keel's own snapshot format ({@link SnapshotFormat}, still read by {@code snapshot
     * restore}): the applied Raft index and the member list (a member restored from the snapshot starts a new log
     * in a new cluster, whose members come from the restore's flags).
     */
    static boolean excluded(String column, byte[] key) {
        return column.equals(MvccStore.META_COLUMN) && (Arrays.equals(key, Applier.APPLIED)
                || startsWith(key, MemberStore.MEMBER_PREFIX) || startsWith(key, MemberStore.REMOVED_PREFIX));
    }

    private static boolean startsWith(byte[] key, String prefix) {
        byte[] p = prefix.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return key.length >= p.length && Arrays.equals(key, 0, p.length, p, 0, p.length);
    }

    /** The MVCC revision the snapshot holds. */
    public long revision() {
        return revision;
    }

    /** The database size (the stream is this plus the 32-byte SHA-256). */
    public long totalBytes() {
        return total;
    }

    /** The next message to send, null once everything (the SHA-256 last) has been returned. */
    public SnapshotResponse next() {
        if (shaSent) {
            return null;
        }
        SnapshotResponse.Builder resp = SnapshotResponse.newBuilder().setHeader(header).setVersion(Version.STORAGE);
        if (sent < total) {
            ByteBuffer buf = ByteBuffer.allocate((int) Math.min(CHUNK, total - sent));
            try {
                while (buf.hasRemaining()) {
                    if (body.read(buf, sent + buf.position()) < 0) {
                        throw new IOException("snapshot file ended after " + (sent + buf.position()) + " of "
                                + total + " bytes");
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            byte[] chunk = buf.array();
            sent += chunk.length;
            sha.update(chunk);
            return resp.setRemainingBytes(total - sent).setBlob(ByteString.copyFrom(chunk)).build();
        }
        shaSent = true;
        close();
        LOG.infof("sent database snapshot to client: revision %d, %d bytes in %d ms", revision, total,
                (System.nanoTime() - started) / 1_000_000);
        return resp.setRemainingBytes(0).setBlob(ByteString.copyFrom(sha.digest())).build();
    }

    /** Removes the temporary file (also when the client went away early). */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            closeQuietly(body, file);
        }
    }
}
