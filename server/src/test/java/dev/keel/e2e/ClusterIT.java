package dev.keel.e2e;

import com.google.protobuf.ByteString;
import dev.keel.proto.etcdserverpb.ClusterGrpc;
import dev.keel.proto.etcdserverpb.HashKVRequest;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.Member;
import dev.keel.proto.etcdserverpb.MemberAddRequest;
import dev.keel.proto.etcdserverpb.MemberListRequest;
import dev.keel.proto.etcdserverpb.MemberPromoteRequest;
import dev.keel.proto.etcdserverpb.MemberRemoveRequest;
import dev.keel.proto.etcdserverpb.MoveLeaderRequest;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.PutResponse;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RangeResponse;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.etcdserverpb.StatusRequest;
import dev.keel.proto.etcdserverpb.StatusResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A three-member cluster of real server processes on 127.0.0.1: bootstrap from etcd's flags, replication and
 * reads on every member, faults (kill -9, SIGSTOP, loss of quorum) and membership changes (learner add, promote,
 * MoveLeader, remove, restart of all members at once).
 */
class ClusterIT {

    @TempDir
    Path tmp;

    private final List<ServerProcess> members = new ArrayList<>();
    private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();

    @AfterEach
    void tearDown() throws Exception {
        channels.values().forEach(ManagedChannel::shutdownNow);
        for (ServerProcess m : members) {
            if (m.isAlive()) {
                try {
                    m.resume();
                } catch (Exception ignored) {
                    // not paused
                }
            }
            m.close();
        }
    }

    private void startCluster() throws Exception {
        members.addAll(ServerProcess.startCluster(tmp, 3));
    }

    // ---- tests ---------------------------------------------------------------------------------------------------

    @Test
    void bootstrapsReplicatesAndServesLinearizableReadsOnEveryMember() throws Exception {
        startCluster();
        // every member published its name and client URL
        List<Member> list = awaitMembersPublished(members.get(0), 3);
        Set<String> names = new HashSet<>();
        list.forEach(m -> names.add(m.getName()));
        assertEquals(Set.of("m1", "m2", "m3"), names);

        // etcdctl sees one leader in the whole cluster
        String all = String.join(",", members.stream().map(ServerProcess::endpoint).toList());
        Etcdctl.Result st = new Etcdctl(all).run("endpoint", "status", "-w", "json");
        assertEquals(0, st.exitCode(), st.toString());
        java.util.regex.Matcher mm = java.util.regex.Pattern.compile("\"member_id\":(\\d+).*?\"leader\":(\\d+)")
                .matcher(st.stdout());
        int leaders = 0;
        while (mm.find()) {
            leaders += mm.group(1).equals(mm.group(2)) ? 1 : 0;
        }
        assertEquals(1, leaders, st.stdout());
        assertEquals(3, st.stdout().split("\"Endpoint\"", -1).length - 1, st.stdout());

        // a write on a follower is forwarded; the answer carries the header of the member that answered
        ServerProcess follower = follower();
        long followerId = status(follower).getHeader().getMemberId();
        PutResponse put = kv(follower).put(put("k", "v1"));
        assertEquals(followerId, put.getHeader().getMemberId());
        // a linearizable read on any member sees it at once
        for (ServerProcess m : members) {
            RangeResponse r = kv(m).range(RangeRequest.newBuilder().setKey(bs("k")).build());
            assertEquals("v1", r.getKvs(0).getValue().toStringUtf8(), m.name());
            assertTrue(r.getHeader().getRevision() >= put.getHeader().getRevision());
        }
        // etcdctl --consistency=s and =l both work
        for (String c : List.of("s", "l")) {
            Etcdctl.Result g = new Etcdctl(follower.endpoint()).run("get", "k", "--consistency=" + c);
            assertEquals("k\nv1\n", g.stdout(), g.toString());
        }
        Etcdctl.Result ml = new Etcdctl(follower.endpoint()).run("member", "list");
        assertEquals(3, ml.stdout().strip().split("\n").length, ml.toString());
        assertTrue(ml.stdout().contains("started, m1, "), ml.toString());
        // etcdctl 3.4 --cluster finds every member from the member list
        Etcdctl.Result cl = new Etcdctl(follower.endpoint()).run("endpoint", "status", "--cluster");
        assertEquals(0, cl.exitCode(), cl.toString());
        assertEquals(3, cl.stdout().strip().split("\n").length, cl.toString());

        // the whole state is handed out only to a Raft member holding a ticket (a snapshot install asks for one)
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        for (String ticket : new String[]{null, "0123456789abcdef0123456789abcdef0123456789abcdef"}) {
            java.net.http.HttpRequest.Builder rb = java.net.http.HttpRequest.newBuilder(java.net.URI.create(
                    "http://" + leader().endpoint() + "/keel/internal/v1/raft-snapshot"));
            if (ticket != null) {
                rb.header("Keel-Snapshot-Ticket", ticket);
            }
            java.net.http.HttpResponse<String> resp = http.send(rb.build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertEquals(403, resp.statusCode(), resp.body());
        }
    }

    @Test
    void killingTheLeaderUnderLoadLosesNoAcknowledgedWrite() throws Exception {
        startCluster();
        Map<String, Long> acked = new ConcurrentHashMap<>();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger failures = new AtomicInteger();
        ExecutorService writers = Executors.newFixedThreadPool(8);
        for (int w = 0; w < 8; w++) {
            int writer = w;
            writers.submit(() -> {
                int i = 0;
                while (!stop.get()) {
                    String key = "load/" + writer + "/" + i;
                    ServerProcess target = members.get((writer + i) % members.size());
                    try {
                        PutResponse r = kv(target).withDeadlineAfter(10, TimeUnit.SECONDS).put(put(key, "v" + i));
                        acked.put(key, r.getHeader().getRevision());
                        i++;
                    } catch (StatusRuntimeException e) {
                        failures.incrementAndGet(); // unknown outcome or refused: retried with a new key
                        i++;
                    }
                }
                return null;
            });
        }
        Thread.sleep(2000);
        ServerProcess leader = leader();
        leader.kill9();
        Thread.sleep(3000);
        int beforeRestart = acked.size();
        leader.restart();
        Thread.sleep(1500);
        stop.set(true);
        writers.shutdown();
        assertTrue(writers.awaitTermination(60, TimeUnit.SECONDS));
        if (beforeRestart <= 100) {
            StringBuilder logs = new StringBuilder();
            for (ServerProcess m : members) {
                logs.append("\n--- ").append(m.name()).append(m == leader ? " (killed leader)" : "").append(" ---\n")
                        .append(m.logTail());
            }
            fail("writes did not continue: " + beforeRestart + " acknowledged, " + failures.get() + " failed"
                    + logs);
        }

        awaitSameRevision();
        // every acknowledged write is on every member, at its acknowledged revision
        for (ServerProcess m : members) {
            Map<String, Long> seen = new HashMap<>();
            RangeResponse all = kv(m).range(RangeRequest.newBuilder().setKey(bs("load/")).setRangeEnd(bs("load0"))
                    .setSerializable(true).build());
            all.getKvsList().forEach(kv -> seen.put(kv.getKey().toStringUtf8(), kv.getModRevision()));
            for (Map.Entry<String, Long> e : acked.entrySet()) {
                assertEquals(e.getValue(), seen.get(e.getKey()), m.name() + " lost or changed " + e.getKey());
            }
        }
        assertIdenticalHashes();
    }

    @Test
    void minorityPausesNoQuorumFailsCleanlyAndHealsToOneHistory() throws Exception {
        startCluster();
        kv(members.get(0)).put(put("a", "1"));

        // a paused leader is replaced; writes go on in the majority
        ServerProcess oldLeader = leader();
        oldLeader.pause();
        List<ServerProcess> rest = new ArrayList<>(members);
        rest.remove(oldLeader);
        awaitLeaderAmong(rest);
        for (int i = 0; i < 50; i++) {
            kv(rest.get(i % 2)).put(put("b/" + i, "x"));
        }
        // --strict-reconfig-check (on by default): with a member silent for over 5 s the leader refuses to add
        // one or to remove a live one (asked on a follower: it asks the leader), but a silent one may go
        Thread.sleep(5500);
        ServerProcess newLeader = awaitLeaderAmong(rest);
        ServerProcess liveFollower = rest.get(0) == newLeader ? rest.get(1) : rest.get(0);
        StatusRuntimeException unhealthy = assertThrows(StatusRuntimeException.class, () -> cluster(liveFollower)
                .memberAdd(MemberAddRequest.newBuilder().addPeerURLs("http://127.0.0.1:1").setIsLearner(true)
                        .build()));
        assertEquals("etcdserver: unhealthy cluster", unhealthy.getStatus().getDescription());
        assertEquals(Status.Code.UNAVAILABLE, unhealthy.getStatus().getCode());
        long liveId = status(liveFollower).getHeader().getMemberId();
        StatusRuntimeException breaksQuorum = assertThrows(StatusRuntimeException.class, () -> cluster(newLeader)
                .memberRemove(MemberRemoveRequest.newBuilder().setID(liveId).build()));
        assertEquals("etcdserver: unhealthy cluster", breaksQuorum.getStatus().getDescription());
        oldLeader.resume();
        awaitSameRevision();
        assertIdenticalHashes();
        assertEquals(1, members.stream().filter(m -> status(m).getLeader() == status(m).getHeader().getMemberId())
                .count(), "one leader after healing");

        // two of three paused: the last one has no quorum and says so within the request timeout
        ServerProcess alone = members.get(0);
        List<ServerProcess> paused = List.of(members.get(1), members.get(2));
        for (ServerProcess p : paused) {
            p.pause();
        }
        long t0 = System.nanoTime();
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> kv(alone).withDeadlineAfter(30, TimeUnit.SECONDS).put(put("c", "1")));
        long took = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
        assertTrue(Set.of("etcdserver: no leader", "etcdserver: request timed out").contains(
                e.getStatus().getDescription()), e.toString());
        assertTrue(took <= 10, "failed within the request timeout, took " + took + " s");
        for (ServerProcess p : paused) {
            p.resume();
        }
        // quorum is back: writes succeed again
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                kv(alone).withDeadlineAfter(10, TimeUnit.SECONDS).put(put("c", "2"));
                break;
            } catch (StatusRuntimeException again) {
                assertTrue(System.nanoTime() < deadline, "no recovery: " + again);
                Thread.sleep(200);
            }
        }
        awaitSameRevision();
        assertIdenticalHashes();
    }

    @Test
    void learnerJoinsCatchesUpIsPromotedLeadershipMovesAndMembersAreRemovedAndRestarted() throws Exception {
        // a small snapshot count: the leader's log is purged, so the new member must install a snapshot
        members.addAll(ServerProcess.startCluster(tmp, 3, "--snapshot-count=200"));
        // the 100k keys, written as transactions of etcd's --max-txn-ops (128) puts from every member
        int keys = Integer.getInteger("keel.cluster.learnerKeys", 100_000);
        ServerProcess any = members.get(0);
        int perTxn = 128;
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        List<Thread> writers = new ArrayList<>();
        List<Throwable> writeErrors = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int w = 0; w < 6; w++) {
            ServerProcess target = members.get(w % 3);
            writers.add(started(() -> {
                try {
                    for (int from = next.getAndAdd(perTxn); from < keys; from = next.getAndAdd(perTxn)) {
                        TxnRequest.Builder txn = TxnRequest.newBuilder();
                        for (int n = from; n < Math.min(keys, from + perTxn); n++) {
                            txn.addSuccess(RequestOp.newBuilder().setRequestPut(put("data/" + n, "value-" + n)));
                        }
                        kv(target).txn(txn.build());
                    }
                } catch (Throwable t) {
                    writeErrors.add(t);
                }
            }));
        }
        for (Thread t : writers) {
            t.join();
        }
        assertEquals(List.of(), writeErrors);

        ServerProcess joiner = ServerProcess.prepareJoiner(tmp.resolve("m4"), "m4", members);
        // etcdctl member add --learner
        Etcdctl.Result add = new Etcdctl(any.endpoint()).run("member", "add", "m4", "--learner",
                "--peer-urls=" + joiner.peerUrl());
        assertEquals(0, add.exitCode(), add.toString());
        assertTrue(add.stdout().contains("Member") && add.stdout().contains("added to cluster"), add.toString());
        // a second learner is over etcd's default --max-learners=1
        StatusRuntimeException tooMany = assertThrows(StatusRuntimeException.class, () -> cluster(any).memberAdd(
                MemberAddRequest.newBuilder().addPeerURLs("http://127.0.0.1:1").setIsLearner(true).build()));
        assertEquals("etcdserver: too many learner members in cluster", tooMany.getStatus().getDescription());
        long learnerId = cluster(any).memberList(MemberListRequest.getDefaultInstance()).getMembersList().stream()
                .filter(Member::getIsLearner).findFirst().orElseThrow().getID();

        members.add(joiner);
        joiner.launchPrepared();
        StatusResponse ls = status(joiner);
        assertTrue(ls.getIsLearner(), "the new member is a learner");
        StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
                () -> kv(joiner).put(put("x", "y")));
        assertEquals("etcdserver: rpc not supported for learner", refused.getStatus().getDescription());
        // serializable reads work on a learner once it has caught up
        awaitKeyOn(joiner, "data/" + (keys - 1));

        // promote (from a follower: forwarded to the leader); retried while the learner is not yet in sync
        ServerProcess follower = follower();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                cluster(follower).memberPromote(MemberPromoteRequest.newBuilder().setID(learnerId).build());
                break;
            } catch (StatusRuntimeException e) {
                assertEquals("etcdserver: can only promote a learner member which is in sync with leader",
                        e.getStatus().getDescription(), e.toString());
                assertTrue(System.nanoTime() < deadline, "learner never in sync");
                Thread.sleep(500);
            }
        }
        StatusRuntimeException again = assertThrows(StatusRuntimeException.class, () -> cluster(any).memberPromote(
                MemberPromoteRequest.newBuilder().setID(learnerId).build()));
        assertEquals("etcdserver: can only promote a learner member", again.getStatus().getDescription());
        awaitCondition(() -> !status(joiner).getIsLearner(), "m4 becomes a voter");
        assertEquals(4, cluster(any).memberList(MemberListRequest.getDefaultInstance()).getMembersCount());

        // MoveLeader to the new member (asked of the leader, as etcdctl does)
        // (the Raft configuration makes m4 a voter shortly after the promotion: retried until the transfer happens)
        ServerProcess leader = leader();
        awaitCondition(() -> {
            try {
                MaintenanceGrpc.newBlockingStub(channel(leader)).withDeadlineAfter(15, TimeUnit.SECONDS).moveLeader(
                        MoveLeaderRequest.newBuilder().setTargetID(learnerId).build());
                return true;
            } catch (StatusRuntimeException e) {
                assertEquals("etcdserver: request timed out, leader transfer took too long",
                        e.getStatus().getDescription(), e.toString());
                return false;
            }
        }, "MoveLeader to m4");
        awaitCondition(() -> status(joiner).getLeader() == learnerId, "m4 leads");
        kv(leader).put(put("after-move", "1"));

        // remove the old leader (now a follower): it stops by itself, the rest keep working
        long oldLeaderId = status(leader).getHeader().getMemberId();
        cluster(joiner).memberRemove(MemberRemoveRequest.newBuilder().setID(oldLeaderId).build());
        assertTrue(leader.awaitExit(Duration.ofSeconds(30)), "removed member stopped");
        members.remove(leader);
        StatusRuntimeException gone = assertThrows(StatusRuntimeException.class, () -> cluster(joiner).memberRemove(
                MemberRemoveRequest.newBuilder().setID(oldLeaderId).build()));
        assertEquals("etcdserver: member not found", gone.getStatus().getDescription());
        kv(members.get(0)).put(put("after-remove", "1"));

        // all remaining members restart at once and come back with the data
        for (ServerProcess m : members) {
            m.kill9();
        }
        channels.values().forEach(ManagedChannel::shutdownNow);
        channels.clear();
        List<Thread> starts = new ArrayList<>();
        List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        for (ServerProcess m : members) {
            starts.add(started(() -> {
                try {
                    m.restart();
                } catch (Throwable t) {
                    errors.add(t);
                }
            }));
        }
        for (Thread t : starts) {
            t.join();
        }
        assertEquals(List.of(), errors);
        // three cold JVMs elect a leader and rebuild their indexes: clients retry "request timed out" meanwhile
        ServerProcess.awaitLeader(members);
        for (ServerProcess m : members) {
            long[] count = {-1};
            awaitCondition(() -> {
                count[0] = kv(m).range(RangeRequest.newBuilder().setKey(bs("data/")).setRangeEnd(bs("data0"))
                        .setCountOnly(true).build()).getCount();
                return true;
            }, "a linearizable count on " + m.name() + " after the restart");
            assertEquals(keys, count[0], m.name());
        }
        assertEquals(3, cluster(members.get(0)).memberList(MemberListRequest.getDefaultInstance()).getMembersCount());
        awaitSameRevision();
        assertIdenticalHashes();
    }

    // ---- helpers -------------------------------------------------------------------------------------------------

    private static Thread started(Runnable r) {
        Thread t = new Thread(r);
        t.start();
        return t;
    }

    private ManagedChannel channel(ServerProcess m) {
        return channels.computeIfAbsent(m.endpoint(), e -> NettyChannelBuilder.forTarget(e).usePlaintext().build());
    }

    private KVGrpc.KVBlockingStub kv(ServerProcess m) {
        return KVGrpc.newBlockingStub(channel(m)).withDeadlineAfter(15, TimeUnit.SECONDS);
    }

    private ClusterGrpc.ClusterBlockingStub cluster(ServerProcess m) {
        return ClusterGrpc.newBlockingStub(channel(m)).withDeadlineAfter(15, TimeUnit.SECONDS);
    }

    private StatusResponse status(ServerProcess m) {
        return MaintenanceGrpc.newBlockingStub(channel(m)).withDeadlineAfter(5, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance());
    }

    private static PutRequest put(String k, String v) {
        return PutRequest.newBuilder().setKey(bs(k)).setValue(bs(v)).build();
    }

    private static ByteString bs(String s) {
        return ByteString.copyFrom(s, StandardCharsets.UTF_8);
    }

    private ServerProcess leader() throws Exception {
        return awaitLeaderAmong(members);
    }

    private ServerProcess awaitLeaderAmong(List<ServerProcess> among) throws Exception {
        return ServerProcess.awaitLeader(among);
    }

    private ServerProcess follower() throws Exception {
        ServerProcess leader = leader();
        return members.stream().filter(m -> m != leader && !status(m).getIsLearner()).findFirst().orElseThrow();
    }

    private List<Member> awaitMembersPublished(ServerProcess m, int n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            List<Member> list = cluster(m).memberList(MemberListRequest.getDefaultInstance()).getMembersList();
            if (list.size() == n && list.stream().allMatch(x -> x.getClientURLsCount() > 0 && !x.getName().isEmpty())) {
                return list;
            }
            if (System.nanoTime() >= deadline) {
                StringBuilder logs = new StringBuilder();
                for (ServerProcess x : members) {
                    if (list.stream().anyMatch(y -> y.getName().equals(x.name()) && y.getClientURLsCount() == 0)) {
                        logs.append("\n--- ").append(x.name()).append(" ---\n").append(x.logTail());
                    }
                }
                fail("members not published: " + list + logs);
            }
            Thread.sleep(200);
        }
    }

    private void awaitKeyOn(ServerProcess m, String key) throws Exception {
        awaitCondition(() -> kv(m).range(RangeRequest.newBuilder().setKey(bs(key)).setSerializable(true).build())
                .getCount() == 1, key + " on " + m.name());
    }

    private interface Check {
        boolean ok() throws Exception;
    }

    private static void awaitCondition(Check c, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        Throwable last = null;
        while (System.nanoTime() < deadline) {
            try {
                if (c.ok()) {
                    return;
                }
            } catch (StatusRuntimeException e) {
                last = e;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("timed out waiting for: " + what, last);
    }

    /** Waits until every member has applied the same revision (serializable reads, no writes meanwhile). */
    private void awaitSameRevision() throws Exception {
        awaitCondition(() -> {
            Set<Long> revs = new HashSet<>();
            for (ServerProcess m : members) {
                revs.add(kv(m).range(RangeRequest.newBuilder().setKey(bs("\0")).setSerializable(true).build())
                        .getHeader().getRevision());
            }
            return revs.size() == 1;
        }, "all members at the same revision");
    }

    private void assertIdenticalHashes() {
        Map<String, Integer> hashes = new HashMap<>();
        long rev = -1;
        for (ServerProcess m : members) {
            var h = MaintenanceGrpc.newBlockingStub(channel(m)).withDeadlineAfter(15, TimeUnit.SECONDS)
                    .hashKV(HashKVRequest.getDefaultInstance());
            hashes.put(m.name(), h.getHash());
            if (rev >= 0) {
                assertEquals(rev, h.getHeader().getRevision());
            }
            rev = h.getHeader().getRevision();
        }
        assertEquals(1, new HashSet<>(hashes.values()).size(), "HashKV differs: " + hashes);
    }
}
