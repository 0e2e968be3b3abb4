package dev.keel.e2e;

import com.google.protobuf.ByteString;
import dev.keel.proto.etcdserverpb.CompactionRequest;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.LeaseGrantRequest;
import dev.keel.proto.etcdserverpb.LeaseGrpc;
import dev.keel.proto.etcdserverpb.LeaseLeasesRequest;
import dev.keel.proto.etcdserverpb.LeaseStatus;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveRequest;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveResponse;
import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RangeResponse;
import dev.keel.proto.etcdserverpb.SnapshotRequest;
import dev.keel.proto.etcdserverpb.SnapshotResponse;
import dev.keel.proto.etcdserverpb.StatusRequest;
import dev.keel.proto.etcdserverpb.StatusResponse;
import dev.keel.proto.mvccpb.KeyValue;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * Maintenance.Snapshot and the offline {@code snapshot restore|status} tool end to end: {@code etcdctl snapshot
 * save} (Debian's etcdctl 3.4) against a Keel member, Keel's status of the saved file, a restore into a new data
 * dir and a member started from it; a slow snapshot of a larger store while writes continue; corrupt files and
 * existing data dirs refused.
 */
class SnapshotIT {

    private static final long TIMEOUT_S = 30;

    @TempDir
    static Path tmp;

    static ServerProcess server;
    static ManagedChannel channel;
    private static final List<ManagedChannel> CHANNELS = new CopyOnWriteArrayList<>();
    private static final List<ServerProcess> SERVERS = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        assumeFalse(ServerProcess.isReferenceEtcd(), "Keel's snapshot files and restore tool");
        server = track(ServerProcess.start(tmp.resolve("source")));
        channel = channel(server);
    }

    @AfterAll
    static void stop() throws Exception {
        for (ManagedChannel c : CHANNELS) {
            c.shutdownNow();
            c.awaitTermination(5, TimeUnit.SECONDS);
        }
        for (ServerProcess s : SERVERS) {
            s.close();
        }
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    static ServerProcess track(ServerProcess s) {
        SERVERS.add(s);
        return s;
    }

    static ManagedChannel channel(ServerProcess s) {
        ManagedChannel c = NettyChannelBuilder.forAddress("127.0.0.1", s.clientPort()).usePlaintext()
                .maxInboundMessageSize(16 << 20).build();
        CHANNELS.add(c);
        return c;
    }

    static KVGrpc.KVBlockingStub kv(ManagedChannel c) {
        return KVGrpc.newBlockingStub(c).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS);
    }

    static LeaseGrpc.LeaseBlockingStub lease(ManagedChannel c) {
        return LeaseGrpc.newBlockingStub(c).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS);
    }

    static StatusResponse status(ManagedChannel c) {
        return MaintenanceGrpc.newBlockingStub(c).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance());
    }

    static ByteString bs(String s) {
        return ByteString.copyFromUtf8(s);
    }

    static long put(ManagedChannel c, String k, String v, long leaseId) {
        return kv(c).put(PutRequest.newBuilder().setKey(bs(k)).setValue(bs(v)).setLease(leaseId).build())
                .getHeader().getRevision();
    }

    /** Every live key at {@code rev} (0: current), in key order. */
    static RangeResponse all(ManagedChannel c, long rev) {
        return kv(c).range(RangeRequest.newBuilder().setKey(bs("\0")).setRangeEnd(bs("\0")).setRevision(rev)
                .build());
    }

    static KeyValue kvOf(String k, String v, long create, long mod, long version, long leaseId) {
        return KeyValue.newBuilder().setKey(bs(k)).setValue(bs(v)).setCreateRevision(create).setModRevision(mod)
                .setVersion(version).setLease(leaseId).build();
    }

    /** What one run of the offline tool printed and returned. */
    record Tool(int exit, String out, String err) {
    }

    /** Runs {@code java -jar quarkus-run.jar snapshot <args>}. */
    static Tool tool(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", ServerProcess.jar(), "snapshot"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(tmp.resolve("tool.err").toFile()).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "tool hung: " + cmd);
        return new Tool(p.exitValue(), new String(out, StandardCharsets.UTF_8),
                Files.readString(tmp.resolve("tool.err")));
    }

    /** Restores {@code file} for a prepared member {@code target} (its name, data dir and peer URL). */
    static Tool restoreFor(Path file, ServerProcess target, String token) throws Exception {
        return tool("restore", file.toString(), "--name", target.name(), "--data-dir", target.dataDir().toString(),
                "--initial-cluster", target.name() + "=" + target.peerUrl(),
                "--initial-advertise-peer-urls", target.peerUrl(), "--initial-cluster-token", token);
    }

    /** {@code snapshot status -w json} of a file: hash, revision, totalKey, totalSize, version. */
    static Matcher statusJson(Path file) throws Exception {
        Tool st = tool("status", file.toString(), "-w", "json");
        assertEquals(0, st.exit(), st.err());
        Matcher m = Pattern.compile("\\{\"hash\":(\\d+),\"revision\":(\\d+),\"totalKey\":(\\d+),\"totalSize\":(\\d+),"
                + "\"version\":\"3\\.6\\.0\"}\n").matcher(st.out());
        assertTrue(m.matches(), st.out());
        return m;
    }

    // ---- tests -------------------------------------------------------------------------------------------

    @Test
    void saveStatusRestoreAndServe() throws Exception {
        long id = lease(channel).leaseGrant(LeaseGrantRequest.newBuilder().setTTL(600).build()).getID();
        long base = put(channel, "a", "1", 0);               // a fresh member: base = 2
        assertEquals(base + 1, put(channel, "b", "2", 0));
        assertEquals(base + 2, put(channel, "a", "3", 0));
        assertEquals(base + 3, put(channel, "leased", "L", id));
        assertEquals(base + 4, put(channel, "gone", "x", 0));
        assertEquals(base + 5, kv(channel).deleteRange(DeleteRangeRequest.newBuilder().setKey(bs("gone")).build())
                .getHeader().getRevision());
        assertEquals(base + 6, put(channel, "c", "4", 0));
        long compactAt = base + 2;
        kv(channel).compact(CompactionRequest.newBuilder().setRevision(compactAt).setPhysical(true).build());
        long rev = base + 6;
        List<KeyValue> expected = List.of(
                kvOf("a", "3", base, base + 2, 2, 0),
                kvOf("b", "2", base + 1, base + 1, 1, 0),
                kvOf("c", "4", base + 6, base + 6, 1, 0),
                kvOf("leased", "L", base + 3, base + 3, 1, id));
        assertEquals(expected, all(channel, 0).getKvsList());

        // etcdctl 3.4 saves our stream: it finds the SHA-256 trailer and says so
        Path file = tmp.resolve("one.db");
        Etcdctl.Result saved = new Etcdctl(server.endpoint()).run("snapshot", "save", file.toString());
        assertEquals(0, saved.exitCode(), saved.toString());
        assertEquals("Snapshot saved at " + file + "\n", saved.stdout());
        assertTrue(Files.exists(file));
        assertFalse(Files.exists(Path.of(file + ".part")));
        long size = Files.size(file);
        assertEquals(32, size % 512);
        byte[] bytes = Files.readAllBytes(file);
        assertEquals(List.of(bytes.length), List.of((int) size));
        assertTrue(Arrays.equals(MessageDigest.getInstance("SHA-256").digest(Arrays.copyOf(bytes, bytes.length - 32)),
                Arrays.copyOfRange(bytes, bytes.length - 32, bytes.length)));

        // status: revision and live keys as etcdutl counts them, size without the trailer
        Matcher m = statusJson(file);
        assertEquals(rev, Long.parseLong(m.group(2)));
        assertEquals(4, Long.parseLong(m.group(3)));
        assertEquals(size - 32, Long.parseLong(m.group(4)));
        Tool table = tool("status", file.toString(), "-w", "table");
        assertEquals(0, table.exit(), table.err());
        String hex = Long.toHexString(Long.parseLong(m.group(1)));
        assertTrue(table.out().contains("| " + hex + " | "), table.out());
        assertTrue(table.out().contains(" | REVISION | TOTAL KEYS | TOTAL SIZE | VERSION |\n"), table.out());
        Tool simple = tool("status", file.toString());
        assertEquals(hex + ", " + rev + ", 4, " + humanize(size - 32) + ", 3.6.0\n", simple.out());

        // restore into a new data dir and start a member there: same data, new identity, fresh Raft log
        ServerProcess restored = track(ServerProcess.prepare(tmp.resolve("restored")));
        Tool r = restoreFor(file, restored, "restored-token");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().contains("restored snapshot " + file + " into data dir " + restored.dataDir()
                + ": revision " + rev + ", compact revision " + compactAt), r.err());
        restored.launchPrepared();
        ManagedChannel rc = channel(restored);

        RangeResponse now = all(rc, 0);
        assertEquals(expected, now.getKvsList());
        assertEquals(rev, now.getHeader().getRevision());
        StatusResponse st = status(rc);
        assertNotEquals(status(channel).getHeader().getClusterId(), st.getHeader().getClusterId());
        assertNotEquals(status(channel).getHeader().getMemberId(), st.getHeader().getMemberId());
        assertTrue(st.getRaftAppliedIndex() < 5, "a new Raft log: applied " + st.getRaftAppliedIndex());
        // compaction still in force: below it compacted, at it readable
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> all(rc, compactAt - 1));
        assertEquals(Status.Code.OUT_OF_RANGE, e.getStatus().getCode());
        assertEquals("etcdserver: mvcc: required revision has been compacted", e.getStatus().getDescription());
        assertEquals(List.of(kvOf("a", "3", base, base + 2, 2, 0), kvOf("b", "2", base + 1, base + 1, 1, 0)),
                all(rc, compactAt).getKvsList());
        // the deleted key's history is there too: gone existed at base + 4 only
        assertEquals(List.of(kvOf("gone", "x", base + 4, base + 4, 1, 0)),
                kv(rc).range(RangeRequest.newBuilder().setKey(bs("gone")).setRevision(base + 4).build())
                        .getKvsList());
        // the lease with its key
        assertEquals(List.of(LeaseStatus.newBuilder().setID(id).build()),
                lease(rc).leaseLeases(LeaseLeasesRequest.getDefaultInstance()).getLeasesList());
        LeaseTimeToLiveResponse ttl = lease(rc).leaseTimeToLive(LeaseTimeToLiveRequest.newBuilder().setID(id)
                .setKeys(true).build());
        assertEquals(600, ttl.getGrantedTTL());
        assertEquals(List.of(bs("leased")), ttl.getKeysList());
        assertTrue(ttl.getTTL() > 500 && ttl.getTTL() <= 602, "TTL " + ttl.getTTL());
        // writes continue from the snapshot's revision
        assertEquals(rev + 1, put(rc, "after", "restore", 0));

        // restoring into an existing data dir is refused
        Tool again = restoreFor(file, restored, "restored-token");
        assertEquals(1, again.exit());
        assertEquals("Error: data-dir \"" + restored.dataDir() + "\" not empty or could not be read\n", again.err());

        // a flipped byte is refused, nothing is written
        byte[] bad = bytes.clone();
        bad[bad.length / 2] ^= 0x40;
        Path corrupt = tmp.resolve("corrupt.db");
        Files.write(corrupt, bad);
        ServerProcess never = ServerProcess.prepare(tmp.resolve("never"));
        Tool refused = restoreFor(corrupt, never, "t");
        assertEquals(1, refused.exit());
        assertTrue(refused.err().startsWith("Error: expected sha256 ["), refused.err());
        assertFalse(Files.exists(never.dataDir()));

        // unknown flags are named
        Tool unknown = tool("restore", file.toString(), "--no-such-flag");
        assertEquals(2, unknown.exit());
        assertTrue(unknown.err().startsWith("Error: unknown flag: --no-such-flag\n"), unknown.err());
    }

    /** A snapshot stream read slowly (one 32 KiB message at a time, with pauses), with gRPC flow control. */
    static final class SlowReader implements ClientResponseObserver<SnapshotRequest, SnapshotResponse> {
        final ByteArrayOutputStream data = new ByteArrayOutputStream();
        final List<SnapshotResponse> headers = new ArrayList<>();
        final CompletableFuture<Void> done = new CompletableFuture<>();
        final CompletableFuture<Void> first = new CompletableFuture<>();
        private ClientCallStreamObserver<SnapshotRequest> call;

        @Override
        public void beforeStart(ClientCallStreamObserver<SnapshotRequest> requestStream) {
            call = requestStream;
            call.disableAutoRequestWithInitial(1);
        }

        @Override
        public void onNext(SnapshotResponse r) {
            synchronized (this) {
                data.writeBytes(r.getBlob().toByteArray());
                headers.add(r.toBuilder().clearBlob().build());
            }
            first.complete(null);
            CompletableFuture.delayedExecutor(25, TimeUnit.MILLISECONDS).execute(() -> call.request(1));
        }

        @Override
        public void onError(Throwable t) {
            first.completeExceptionally(t);
            done.completeExceptionally(t);
        }

        @Override
        public void onCompleted() {
            done.complete(null);
        }
    }

    @Test
    void snapshotOfALargerStoreDoesNotBlockWritesAndHoldsExactlyItsRevision() throws Exception {
        ServerProcess big = track(ServerProcess.start(tmp.resolve("big")));
        ManagedChannel bc = channel(big);
        byte[] value = new byte[8 * 1024];
        new java.util.Random(7).nextBytes(value);
        for (int i = 0; i < 500; i++) { // ~4 MB
            kv(bc).put(PutRequest.newBuilder().setKey(bs(String.format("big/%04d", i)))
                    .setValue(ByteString.copyFrom(value)).build());
        }

        // a writer keeps going during the whole snapshot
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong maxLatencyMs = new AtomicLong();
        List<Long> revisions = new CopyOnWriteArrayList<>();
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            int n = 0;
            while (!stop.get()) {
                long t0 = System.nanoTime();
                revisions.add(put(bc, "w/" + n, "v" + n, 0));
                n++;
                maxLatencyMs.accumulateAndGet((System.nanoTime() - t0) / 1_000_000, Math::max);
            }
        });

        SlowReader reader = new SlowReader();
        MaintenanceGrpc.newStub(bc).snapshot(SnapshotRequest.getDefaultInstance(), reader);
        reader.first.get(TIMEOUT_S, TimeUnit.SECONDS);
        int writesAtStart = revisions.size();
        reader.done.get(120, TimeUnit.SECONDS);
        int writesDuring = revisions.size() - writesAtStart;
        stop.set(true);
        writer.get(TIMEOUT_S, TimeUnit.SECONDS);

        List<SnapshotResponse> msgs = reader.headers;
        long snapRev = msgs.get(0).getHeader().getRevision();
        byte[] stream = reader.data.toByteArray();
        long total = stream.length - 32;
        assertTrue(total > 4_000_000, "body " + total);
        assertTrue(msgs.size() > 100, msgs.size() + " messages");
        // etcd's framing: remaining_bytes counts down with each 32 KiB chunk; the SHA-256 comes last with 0
        long sent = 0;
        for (int i = 0; i < msgs.size() - 1; i++) {
            sent += Math.min(32 * 1024, total - sent);
            assertEquals(total - sent, msgs.get(i).getRemainingBytes());
            assertEquals(snapRev, msgs.get(i).getHeader().getRevision());
        }
        assertEquals(0, msgs.get(msgs.size() - 1).getRemainingBytes());
        assertTrue(Arrays.equals(MessageDigest.getInstance("SHA-256").digest(Arrays.copyOf(stream, (int) total)),
                Arrays.copyOfRange(stream, (int) total, stream.length)));

        // writes went on while the snapshot streamed (several seconds at 25 ms per message)
        assertTrue(writesDuring >= 20, "only " + writesDuring + " writes during the snapshot");
        assertTrue(maxLatencyMs.get() < 2000, "a write took " + maxLatencyMs.get() + " ms");
        long lastRev = revisions.get(revisions.size() - 1);
        assertTrue(lastRev > snapRev, "writes after the snapshot: " + lastRev + " > " + snapRev);

        // the snapshot holds exactly the data at its revision
        Path file = tmp.resolve("big.db");
        Files.write(file, stream);
        Matcher m = statusJson(file);
        assertEquals(snapRev, Long.parseLong(m.group(2)));
        RangeResponse atSnap = all(bc, snapRev);
        assertEquals(atSnap.getCount(), Long.parseLong(m.group(3)));
        ServerProcess restored = track(ServerProcess.prepare(tmp.resolve("big-restored")));
        Tool r = restoreFor(file, restored, "big-token");
        assertEquals(0, r.exit(), r.err());
        restored.launchPrepared();
        ManagedChannel rc = channel(restored);
        RangeResponse there = all(rc, 0);
        assertEquals(snapRev, there.getHeader().getRevision());
        assertEquals(atSnap.getKvsList(), there.getKvsList());
        assertEquals(500 + (snapRev - 501), there.getCount()); // 500 big keys (revs 2..501) + the w/ keys before

        // and etcdctl saves a multi-chunk stream of the current state
        Path file2 = tmp.resolve("big2.db");
        Etcdctl.Result saved = new Etcdctl(big.endpoint()).run("snapshot", "save", file2.toString());
        assertEquals(0, saved.exitCode(), saved.toString());
        assertEquals("Snapshot saved at " + file2 + "\n", saved.stdout());
        assertEquals(lastRev, Long.parseLong(statusJson(file2).group(2)));
    }

    /** go-humanize's Bytes for the sizes these tests see (kB range). */
    private static String humanize(long s) {
        double val = Math.floor(s / 1000.0 * 10 + 0.5) / 10;
        return s < 1000 ? s + " B" : String.format(java.util.Locale.ROOT, val < 10 ? "%.1f kB" : "%.0f kB", val);
    }
}
