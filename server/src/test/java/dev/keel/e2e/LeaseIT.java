package dev.keel.e2e;

import com.google.protobuf.ByteString;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.LeaseGrantRequest;
import dev.keel.proto.etcdserverpb.LeaseGrantResponse;
import dev.keel.proto.etcdserverpb.LeaseGrpc;
import dev.keel.proto.etcdserverpb.LeaseKeepAliveRequest;
import dev.keel.proto.etcdserverpb.LeaseKeepAliveResponse;
import dev.keel.proto.etcdserverpb.LeaseLeasesRequest;
import dev.keel.proto.etcdserverpb.LeaseLeasesResponse;
import dev.keel.proto.etcdserverpb.LeaseRevokeRequest;
import dev.keel.proto.etcdserverpb.LeaseRevokeResponse;
import dev.keel.proto.etcdserverpb.LeaseStatus;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveRequest;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveResponse;
import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.PutResponse;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RangeResponse;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.ResponseHeader;
import dev.keel.proto.etcdserverpb.StatusRequest;
import dev.keel.proto.etcdserverpb.StatusResponse;
import dev.keel.proto.etcdserverpb.TxnRequest;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.LeaseOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.support.CloseableClient;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The Lease service as etcd clients see it: etcdctl 3.4 (Debian's etcd-client) for the commands, jetcd 0.8.5 for
 * keep-alive streams, and etcd's own messages over plain grpc-java for ids, exact status codes and headers.
 *
 * <p>The member runs with {@code --heartbeat-interval=100 --election-timeout=500}, which makes etcd's minimum
 * lease TTL 1 s (ceil(3/2 × 5 ticks × 100 ms)) and the extension on promotion 0.5 s, so expiry tests are short.
 * Expectations are etcd's (re-check with {@code -Dkeel.e2e.impl=etcd}, which runs the same tests against a real
 * etcd; the restart test then restarts it too).
 *
 * <p>Tests share one member and use their own keys. Waits poll with deadlines, never sleep blindly except where the
 * point is that nothing happens for a while (a kept-alive key must survive several TTLs).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LeaseIT {

    private static final long TIMEOUT_S = 15;
    private static final String LEASE_NOT_FOUND = "etcdserver: requested lease not found";

    @TempDir
    static Path tmp;

    static ServerProcess server;
    static Etcdctl ctl;
    static Client client;
    static ManagedChannel channel;
    static long clusterId;
    static long memberId;

    @BeforeAll
    static void start() throws Exception {
        server = ServerProcess.start(tmp.resolve("lease"), "--heartbeat-interval=100", "--election-timeout=500");
        ctl = new Etcdctl(server.endpoint());
        client = Client.builder().endpoints(server.url()).build();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort()).usePlaintext().build();
        StatusResponse status = MaintenanceGrpc.newBlockingStub(channel).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance());
        clusterId = status.getHeader().getClusterId();
        memberId = status.getHeader().getMemberId();
        assertNotEquals(0, clusterId);
        assertNotEquals(0, memberId);
    }

    @AfterAll
    static void stop() throws Exception {
        if (client != null) {
            client.close();
        }
        if (channel != null) {
            channel.shutdownNow();
            channel.awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    static ByteString b(String s) {
        return ByteString.copyFromUtf8(s);
    }

    static ByteSequence bs(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    static LeaseGrpc.LeaseBlockingStub lease() {
        return LeaseGrpc.newBlockingStub(channel).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS);
    }

    static KVGrpc.KVBlockingStub kv() {
        return KVGrpc.newBlockingStub(channel).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS);
    }

    /** Checks a header of this member; returns its revision. */
    static long hdr(ResponseHeader h) {
        assertEquals(clusterId, h.getClusterId(), "header cluster_id: " + h);
        assertEquals(memberId, h.getMemberId(), "header member_id: " + h);
        assertTrue(h.getRaftTerm() >= 1, "header raft_term: " + h);
        assertTrue(h.getRevision() >= 1, "header revision: " + h);
        return h.getRevision();
    }

    static long currentRevision() {
        return hdr(kv().range(RangeRequest.newBuilder().setKey(b("no-such-key")).build()).getHeader());
    }

    static LeaseGrantResponse grant(long id, long ttl) {
        LeaseGrantResponse r = lease().leaseGrant(LeaseGrantRequest.newBuilder().setID(id).setTTL(ttl).build());
        hdr(r.getHeader());
        assertEquals("", r.getError());
        return r;
    }

    static long put(String key, long leaseId) {
        PutResponse r = kv().put(PutRequest.newBuilder().setKey(b(key)).setValue(b("v")).setLease(leaseId).build());
        return hdr(r.getHeader());
    }

    static RangeResponse prefix(String p, long rev) {
        String end = p.substring(0, p.length() - 1) + (char) (p.charAt(p.length() - 1) + 1);
        RangeResponse r = kv().range(RangeRequest.newBuilder().setKey(b(p)).setRangeEnd(b(end)).setRevision(rev)
                .build());
        hdr(r.getHeader());
        return r;
    }

    static List<String> keys(RangeResponse r) {
        return r.getKvsList().stream().map(kv -> kv.getKey().toStringUtf8()).toList();
    }

    static LeaseTimeToLiveResponse ttl(long id, boolean keys) {
        LeaseTimeToLiveResponse r = lease().leaseTimeToLive(LeaseTimeToLiveRequest.newBuilder().setID(id)
                .setKeys(keys).build());
        hdr(r.getHeader());
        return r;
    }

    static List<Long> leaseIds() {
        LeaseLeasesResponse r = lease().leaseLeases(LeaseLeasesRequest.getDefaultInstance());
        hdr(r.getHeader());
        return r.getLeasesList().stream().map(LeaseStatus::getID).toList();
    }

    static StatusRuntimeException assertStatus(Status.Code code, String message, Executable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
        assertEquals(code, e.getStatus().getCode(), "status code of " + e);
        assertEquals(message, e.getStatus().getDescription(), "status message of " + e);
        return e;
    }

    /** Polls until the condition holds; fails after {@code seconds}. Returns the seconds it took. */
    static double await(String what, double seconds, BooleanSupplier condition) throws InterruptedException {
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail(what + " did not happen within " + seconds + " s");
            }
            Thread.sleep(50);
        }
        return (System.nanoTime() - start) / 1e9;
    }

    static String hex(long id) {
        return String.format("%016x", id);
    }

    /** One keep-alive over a raw stream: the response to one request. */
    static LeaseKeepAliveResponse keepAliveOnce(long id) throws Exception {
        LinkedBlockingQueue<Object> out = new LinkedBlockingQueue<>();
        StreamObserver<LeaseKeepAliveRequest> req = LeaseGrpc.newStub(channel)
                .withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS)
                .leaseKeepAlive(new StreamObserver<>() {
                    @Override
                    public void onNext(LeaseKeepAliveResponse v) {
                        out.add(v);
                    }

                    @Override
                    public void onError(Throwable t) {
                        out.add(t);
                    }

                    @Override
                    public void onCompleted() {
                        out.add("completed");
                    }
                });
        req.onNext(LeaseKeepAliveRequest.newBuilder().setID(id).build());
        req.onCompleted();
        Object first = out.poll(TIMEOUT_S, TimeUnit.SECONDS);
        assertInstanceOf(LeaseKeepAliveResponse.class, first, "keep-alive answer: " + first);
        assertEquals("completed", out.poll(TIMEOUT_S, TimeUnit.SECONDS), "the stream ends after the client's end");
        LeaseKeepAliveResponse r = (LeaseKeepAliveResponse) first;
        hdr(r.getHeader());
        return r;
    }

    // ---- etcdctl -------------------------------------------------------------------------------------------

    @Test
    @Order(1)
    void etcdctlLeaseCommands() throws Exception {
        String granted = ctl.ok("lease", "grant", "30");
        Matcher m = Pattern.compile("lease ([0-9a-f]{16}) granted with TTL\\(30s\\)\n").matcher(granted);
        assertTrue(m.matches(), granted);
        String id = m.group(1);
        assertEquals("OK\n", ctl.ok("put", "--lease=" + id, "ctl/k2", "v2"));
        assertEquals("OK\n", ctl.ok("put", "--lease=" + id, "ctl/k1", "v1"));
        String ttl = ctl.ok("lease", "timetolive", id, "--keys");
        assertTrue(ttl.matches("lease " + id + " granted with TTL\\(30s\\), remaining\\((29|28)s\\), "
                + "attached keys\\(\\[ctl/k1 ctl/k2]\\)\n"), ttl);
        assertTrue(ctl.ok("lease", "timetolive", id).matches(
                "lease " + id + " granted with TTL\\(30s\\), remaining\\((29|28)s\\)\n"));

        String list = ctl.ok("lease", "list");
        List<String> lines = List.of(list.split("\n"));
        assertEquals("found " + (lines.size() - 1) + " leases", lines.get(0), list);
        assertTrue(lines.contains(id), list);

        assertEquals("lease " + id + " keepalived with TTL(30)\n", ctl.ok("lease", "keep-alive", "--once", id));
        Etcdctl.Result missing = ctl.run("lease", "keep-alive", "--once", "1234");
        assertEquals(2, missing.exitCode(), missing.toString());
        assertTrue(missing.stderr().contains("Error: " + LEASE_NOT_FOUND), missing.toString());

        assertEquals("lease " + id + " revoked\n", ctl.ok("lease", "revoke", id));
        assertEquals("", ctl.ok("get", "--prefix", "ctl/"));
        assertEquals("lease " + id + " already expired\n", ctl.ok("lease", "timetolive", id));
        assertFalse(List.of(ctl.ok("lease", "list").split("\n")).contains(id));

        Etcdctl.Result again = ctl.run("lease", "revoke", id);
        assertEquals(1, again.exitCode(), again.toString());
        assertTrue(again.stderr().contains("Error: failed to revoke lease (" + LEASE_NOT_FOUND + ")"), again.toString());
        Etcdctl.Result put = ctl.run("put", "--lease=1234", "ctl/x", "y");
        assertEquals(1, put.exitCode(), put.toString());
        assertTrue(put.stderr().contains("Error: " + LEASE_NOT_FOUND), put.toString());
        Etcdctl.Result big = ctl.run("lease", "grant", "9000000001");
        assertEquals(1, big.exitCode(), big.toString());
        assertTrue(big.stderr().contains("Error: failed to grant lease (etcdserver: too large lease TTL)"),
                big.toString());
    }

    // ---- grants, ids and errors --------------------------------------------------------------------------------

    @Test
    @Order(2)
    void grantChoosesOrHonoursIdsAndReportsEtcdsErrors() throws Exception {
        long rev = currentRevision();
        LeaseGrantResponse chosen = grant(0, 60);
        assertTrue(chosen.getID() > 0, "server-chosen ids are positive: " + chosen);
        assertEquals(60, chosen.getTTL());
        assertEquals(rev, chosen.getHeader().getRevision(), "a grant does not change the revision");

        long mine = 0x7eed_0000_0000_0001L;
        assertEquals(mine, grant(mine, 60).getID());
        assertStatus(Status.Code.FAILED_PRECONDITION, "etcdserver: lease already exists",
                () -> lease().leaseGrant(LeaseGrantRequest.newBuilder().setID(mine).setTTL(5).build()));
        assertStatus(Status.Code.OUT_OF_RANGE, "etcdserver: too large lease TTL",
                () -> lease().leaseGrant(LeaseGrantRequest.newBuilder().setTTL(9_000_000_001L).build()));
        assertEquals(9_000_000_000L, grant(0, 9_000_000_000L).getTTL(), "the maximum TTL is allowed");
        assertEquals(1, grant(0, 0).getTTL(), "raised to the minimum TTL");
        assertEquals(1, grant(0, -3).getTTL(), "raised to the minimum TTL");

        List<Long> ids = leaseIds();
        assertTrue(ids.contains(chosen.getID()) && ids.contains(mine), ids.toString());

        LeaseTimeToLiveResponse t = ttl(mine, true);
        assertEquals(mine, t.getID());
        assertEquals(60, t.getGrantedTTL());
        assertTrue(t.getTTL() == 59 || t.getTTL() == 58, "truncated remaining seconds: " + t);
        assertEquals(0, t.getKeysCount());

        LeaseTimeToLiveResponse gone = ttl(4242, true);
        assertEquals(4242, gone.getID());
        assertEquals(-1, gone.getTTL());
        assertEquals(0, gone.getGrantedTTL());

        assertStatus(Status.Code.NOT_FOUND, LEASE_NOT_FOUND,
                () -> lease().leaseRevoke(LeaseRevokeRequest.newBuilder().setID(4242).build()));
        assertStatus(Status.Code.NOT_FOUND, LEASE_NOT_FOUND,
                () -> kv().put(PutRequest.newBuilder().setKey(b("e/k")).setLease(4242).build()));
        assertStatus(Status.Code.NOT_FOUND, LEASE_NOT_FOUND,
                () -> kv().txn(TxnRequest.newBuilder().addSuccess(RequestOp.newBuilder().setRequestPut(
                        PutRequest.newBuilder().setKey(b("e/k")).setLease(4242))).build()));
        assertEquals(0, prefix("e/", 0).getCount());

        LeaseKeepAliveResponse ka = keepAliveOnce(4242);
        assertEquals(4242, ka.getID());
        assertEquals(0, ka.getTTL(), "keep-alive of an unknown lease answers TTL 0");
        LeaseKeepAliveResponse ok = keepAliveOnce(mine);
        assertEquals(mine, ok.getID());
        assertEquals(60, ok.getTTL());

        for (long id : List.of(chosen.getID(), mine)) {
            LeaseRevokeResponse r = lease().leaseRevoke(LeaseRevokeRequest.newBuilder().setID(id).build());
            assertEquals(rev, hdr(r.getHeader()), "revoking a lease without keys does not change the revision");
        }
    }

    // ---- attachment and revoke --------------------------------------------------------------------------------

    @Test
    @Order(3)
    void revokeDeletesEveryAttachedKeyInOneRevision() throws Exception {
        long id = grant(0, 60).getID();
        long other = grant(0, 60).getID();
        put("r/a", id);
        put("r/b", id);
        put("r/c", id);
        put("r/moved", id);
        put("r/moved", other); // re-put with another lease: moves
        put("r/plain", id);
        put("r/plain", 0); // re-put without a lease: detaches
        put("r/kept", id);
        long last = hdr(kv().put(PutRequest.newBuilder().setKey(b("r/kept")).setValue(b("new")).setIgnoreLease(true)
                .build()).getHeader());
        LeaseTimeToLiveResponse t = ttl(id, true);
        assertEquals(List.of(b("r/a"), b("r/b"), b("r/c"), b("r/kept")), t.getKeysList(), "keys in key order");
        assertEquals(List.of(b("r/moved")), ttl(other, true).getKeysList());

        LeaseRevokeResponse r = lease().leaseRevoke(LeaseRevokeRequest.newBuilder().setID(id).build());
        assertEquals(last + 1, hdr(r.getHeader()), "one revision for all deletions");
        assertEquals(List.of("r/a", "r/b", "r/c", "r/kept", "r/moved", "r/plain"), keys(prefix("r/", last)));
        assertEquals(List.of("r/moved", "r/plain"), keys(prefix("r/", last + 1)));
        assertEquals(last + 1, currentRevision());
        assertEquals(-1, ttl(id, false).getTTL());

        lease().leaseRevoke(LeaseRevokeRequest.newBuilder().setID(other).build());
        assertEquals(List.of("r/plain"), keys(prefix("r/", 0)));
    }

    // ---- keep-alive and expiry ---------------------------------------------------------------------------------

    @Test
    @Order(4)
    void keepAliveKeepsAKeyAndExpiryDeletesItsKeysInOneRevision() throws Exception {
        long kept = client.getLeaseClient().grant(2).get(TIMEOUT_S, TimeUnit.SECONDS).getID();
        long lapsing = client.getLeaseClient().grant(1).get(TIMEOUT_S, TimeUnit.SECONDS).getID();
        client.getKVClient().put(bs("x/kept"), bs("v"), PutOption.builder().withLeaseId(kept).build())
                .get(TIMEOUT_S, TimeUnit.SECONDS);
        for (String k : List.of("x/lapse-1", "x/lapse-2", "x/lapse-3")) {
            put(k, lapsing);
        }
        long written = currentRevision();
        List<Long> ttls = new CopyOnWriteArrayList<>();
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        CloseableClient keepAlive = client.getLeaseClient().keepAlive(kept, new StreamObserver<>() {
            @Override
            public void onNext(io.etcd.jetcd.lease.LeaseKeepAliveResponse r) {
                ttls.add(r.getTTL());
            }

            @Override
            public void onError(Throwable t) {
                errors.add(t);
            }

            @Override
            public void onCompleted() {
            }
        });
        try {
            // the lapsing lease expires after its 1 s TTL (plus up to one 500 ms check): all three keys go at once
            double took = await("expiry of x/lapse-*", 4,
                    () -> keys(prefix("x/lapse-", 0)).isEmpty());
            assertTrue(took <= 4, "took " + took);
            long now = currentRevision();
            int deletedAt = -1;
            for (long rev = written + 1; rev <= now; rev++) {
                int n = keys(prefix("x/lapse-", rev)).size();
                assertTrue(n == 3 || n == 0, "at revision " + rev + " " + n + " of the 3 keys were left");
                if (n == 0 && deletedAt < 0) {
                    deletedAt = (int) rev;
                }
            }
            assertTrue(deletedAt > 0);
            assertEquals(-1, ttl(lapsing, false).getTTL());
            assertFalse(leaseIds().contains(lapsing));

            // meanwhile, and for more than its TTL after that, the kept-alive key stays
            Thread.sleep(3000);
            assertEquals(List.of("x/kept"), keys(prefix("x/kept", 0)));
            assertTrue(ttls.size() >= 3, "keep-alive responses: " + ttls);
            assertTrue(ttls.stream().allMatch(t -> t == 2), ttls.toString());
            assertEquals(List.of(), errors);
            LeaseTimeToLiveResponse t = ttl(kept, true);
            assertEquals(2, t.getGrantedTTL());
            assertEquals(List.of(b("x/kept")), t.getKeysList());
        } finally {
            keepAlive.close();
        }
        // without keep-alives it expires as well
        await("expiry of x/kept", 4, () -> keys(prefix("x/kept", 0)).isEmpty());
        assertEquals(-1, ttl(kept, false).getTTL());
    }

    @Test
    @Order(5)
    void jetcdTimeToLiveAndKeepAliveOnce() throws Exception {
        long id = client.getLeaseClient().grant(20).get(TIMEOUT_S, TimeUnit.SECONDS).getID();
        put("j/k", id);
        io.etcd.jetcd.lease.LeaseTimeToLiveResponse t = client.getLeaseClient()
                .timeToLive(id, LeaseOption.builder().withAttachedKeys().build()).get(TIMEOUT_S, TimeUnit.SECONDS);
        assertEquals(id, t.getID());
        assertEquals(20, t.getGrantedTTL());
        assertTrue(t.getTTL() == 19 || t.getTTL() == 18, "remaining " + t.getTTL());
        assertEquals(List.of(bs("j/k")), t.getKeys());
        assertEquals(20, client.getLeaseClient().keepAliveOnce(id).get(TIMEOUT_S, TimeUnit.SECONDS).getTTL());
        io.etcd.jetcd.lease.LeaseTimeToLiveResponse none = client.getLeaseClient()
                .timeToLive(777, LeaseOption.DEFAULT).get(TIMEOUT_S, TimeUnit.SECONDS);
        assertEquals(-1, none.getTTL());
        client.getLeaseClient().revoke(id).get(TIMEOUT_S, TimeUnit.SECONDS);
        assertEquals(0, prefix("j/", 0).getCount());
    }

    // ---- restart ---------------------------------------------------------------------------------------------

    @Test
    @Order(6)
    void leasesSurviveARestartAndExpireAfterIt() throws Exception {
        long longLease = grant(0, 60).getID();
        long shortLease = grant(0, 2).getID();
        put("s/long", longLease);
        put("s/short", shortLease);
        server.restart();
        // the restarted member counts every lease's full TTL again from its promotion (+0.5 s)
        LeaseTimeToLiveResponse t = lease().withWaitForReady().leaseTimeToLive(
                LeaseTimeToLiveRequest.newBuilder().setID(longLease).setKeys(true).build());
        hdr(t.getHeader());
        assertEquals(60, t.getGrantedTTL());
        assertTrue(t.getTTL() >= 58 && t.getTTL() <= 60, "remaining " + t.getTTL());
        assertEquals(List.of(b("s/long")), t.getKeysList());
        assertTrue(leaseIds().containsAll(List.of(longLease)));
        await("expiry of s/short after the restart", 5, () -> keys(prefix("s/short", 0)).isEmpty());
        assertEquals(List.of("s/long"), keys(prefix("s/", 0)));
        lease().leaseRevoke(LeaseRevokeRequest.newBuilder().setID(longLease).build());
        assertEquals(List.of(), keys(prefix("s/", 0)));
    }

    @Test
    @Order(7)
    void expiryDeletesShowAsDeleteEventsOfOneRevision() throws Exception {
        long lease = client.getLeaseClient().grant(1).get(TIMEOUT_S, TimeUnit.SECONDS).getID();
        for (String k : List.of("ev/a", "ev/b", "ev/c")) {
            put(k, lease);
        }
        List<io.etcd.jetcd.watch.WatchResponse> responses = new CopyOnWriteArrayList<>();
        try (io.etcd.jetcd.Watch.Watcher w = client.getWatchClient().watch(bs("ev/"),
                io.etcd.jetcd.options.WatchOption.builder().isPrefix(true).withRevision(currentRevision() + 1).build(),
                responses::add)) {
            await("DELETE events of the expired lease", 6,
                    () -> responses.stream().mapToLong(r -> r.getEvents().size()).sum() >= 3);
            List<io.etcd.jetcd.watch.WatchEvent> events = responses.get(0).getEvents();
            assertEquals(3, events.size(), "all three deletions in one response: " + responses);
            List<String> keys = new java.util.ArrayList<>();
            for (io.etcd.jetcd.watch.WatchEvent e : events) {
                assertEquals(io.etcd.jetcd.watch.WatchEvent.EventType.DELETE, e.getEventType());
                assertEquals(events.get(0).getKeyValue().getModRevision(), e.getKeyValue().getModRevision());
                keys.add(e.getKeyValue().getKey().toString(java.nio.charset.StandardCharsets.UTF_8));
            }
            assertEquals(List.of("ev/a", "ev/b", "ev/c"), keys);
        }
    }
}
