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
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * One Maintenance.Snapshot stream, as etcd sends it (v3rpc/maintenance.go): the body of a {@link SnapshotFormat}
 * dump of a point-in-time view of the database in 32 KiB chunks, {@code remaining_bytes} counting down to 0 with
 * the last chunk, then one more message whose blob is the SHA-256 of all chunks (remaining_bytes 0). The view is
 * a RocksDB snapshot: the apply thread is never held up, and writes made while the stream runs are not in it.
 *
 * <p>Pull-based: the transport calls {@link #next()} whenever it can send (flow control), one thread at a time.
 */
public final class SnapshotStream implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(SnapshotStream.class);

    /** etcd's snapshotSendBufferSize. */
    static final int CHUNK = 32 * 1024;

    private final Storage.View view;
    private final SnapshotFormat.Encoder body;
    private final MessageDigest sha;
    private final ResponseHeader header;
    private final long total;
    private final long revision;
    private final long started = System.nanoTime();
    private long sent;
    private boolean shaSent;

    SnapshotStream(Storage storage, java.util.function.LongFunction<ResponseHeader> headers) {
        this.view = storage.openView();
        try {
            if (view.get(storage.column(MvccStore.META_COLUMN), SnapshotInstaller.INSTALLING) != null) {
                throw new dev.keel.errors.EtcdException(dev.keel.errors.EtcdError.Codes.UNAVAILABLE,
                        "etcdserver: member is installing a snapshot from the leader");
            }
            MvccStore.Revisions revs = MvccStore.revisionsOf(storage, view);
            this.revision = revs.current();
            SnapshotFormat.Header h = new SnapshotFormat.Header(Version.STORAGE, revs.current(), revs.compacted(),
                    view.columnNames());
            this.body = new SnapshotFormat.Encoder(view, h, SnapshotStream::excluded);
            this.total = body.size();
            this.header = headers.apply(revs.current());
            this.sha = MessageDigest.getInstance("SHA-256");
        } catch (RuntimeException | NoSuchAlgorithmException e) {
            view.close();
            throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
        }
        LOG.infof("sending database snapshot to client: revision %d, %d bytes", revision, total);
    }

    /**
     * What stays behind: the applied Raft index and the member list (a member restored from the snapshot starts a
     * new log in a new cluster, whose members come from the restore's flags).
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

    /** The body size (the stream is this plus the 32-byte SHA-256). */
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
            byte[] buf = new byte[(int) Math.min(CHUNK, total - sent)];
            try {
                int n = body.readNBytes(buf, 0, buf.length);
                if (n != buf.length) {
                    throw new IOException("snapshot body ended after " + (sent + n) + " of " + total + " bytes");
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            sent += buf.length;
            sha.update(buf);
            return resp.setRemainingBytes(total - sent).setBlob(ByteString.copyFrom(buf)).build();
        }
        shaSent = true;
        view.close();
        LOG.infof("sent database snapshot to client: revision %d, %d bytes in %d ms", revision, total,
                (System.nanoTime() - started) / 1_000_000);
        return resp.setRemainingBytes(0).setBlob(ByteString.copyFrom(sha.digest())).build();
    }

    /** Releases the view (also when the client went away early). */
    @Override
    public void close() {
        view.close();
    }
}
