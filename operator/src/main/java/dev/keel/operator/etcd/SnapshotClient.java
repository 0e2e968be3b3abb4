package dev.keel.operator.etcd;

import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.SnapshotRequest;
import dev.keel.proto.etcdserverpb.SnapshotResponse;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;

/**
 * Streams Maintenance.Snapshot from one member into a file, as {@code etcdctl snapshot save} does: written to
 * {@code <file>.part}, checked against the SHA-256 trailer etcd appends (the last 32 bytes hash everything before
 * them), then renamed into place. Reports the revision (the first response's header), size and a SHA-256 of the
 * whole file.
 */
public final class SnapshotClient {

    public record Result(long revision, long sizeBytes, String sha256, String memberVersion, long memberId) { }

    private SnapshotClient() {
    }

    public static Result save(ManagedChannel channel, Path file, long timeoutSeconds) throws IOException {
        Path part = file.resolveSibling(file.getFileName() + ".part");
        Files.createDirectories(file.toAbsolutePath().getParent());
        MessageDigest whole = sha256();
        long revision = -1;
        long memberId = 0;
        String version = "";
        long size = 0;
        byte[] tail = new byte[0]; // the last 32 bytes seen, held back from the trailer digest
        MessageDigest body = sha256();
        try (OutputStream out = Files.newOutputStream(part)) {
            Iterator<SnapshotResponse> it = MaintenanceGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(timeoutSeconds, TimeUnit.SECONDS).snapshot(SnapshotRequest.getDefaultInstance());
            while (it.hasNext()) {
                SnapshotResponse r = it.next();
                if (revision < 0 && r.hasHeader()) {
                    revision = r.getHeader().getRevision();
                    memberId = r.getHeader().getMemberId();
                }
                if (!r.getVersion().isEmpty()) {
                    version = r.getVersion();
                }
                byte[] blob = r.getBlob().toByteArray();
                out.write(blob);
                whole.update(blob);
                size += blob.length;
                byte[] joined = new byte[tail.length + blob.length];
                System.arraycopy(tail, 0, joined, 0, tail.length);
                System.arraycopy(blob, 0, joined, tail.length, blob.length);
                int keep = Math.min(32, joined.length);
                body.update(joined, 0, joined.length - keep);
                tail = Arrays.copyOfRange(joined, joined.length - keep, joined.length);
            }
        } catch (StatusRuntimeException e) {
            Files.deleteIfExists(part);
            throw new IOException("snapshot failed: " + GrpcClusterApi.message(e), e);
        }
        if (tail.length != 32 || size % 512 != 32 || !Arrays.equals(body.digest(), tail)) {
            Files.deleteIfExists(part);
            throw new IOException("snapshot of " + size + " bytes has no valid SHA-256 trailer");
        }
        Files.move(part, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return new Result(revision, size, "sha256:" + HexFormat.of().formatHex(whole.digest()), version, memberId);
    }

    /** sha256:... of a file, to check a backup before restoring it. */
    public static String checksum(Path file) throws IOException {
        MessageDigest d = sha256();
        try (var in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                d.update(buf, 0, n);
            }
        }
        return "sha256:" + HexFormat.of().formatHex(d.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
