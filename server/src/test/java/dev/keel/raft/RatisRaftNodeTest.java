package dev.keel.raft;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Real Ratis, real disk (a temp dir), real gRPC on 127.0.0.1. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class RatisRaftNodeTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final String GROUP_SEED = "cafebabe";

    @TempDir
    Path tmp;

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() {
        Collections.reverse(toClose);
        for (AutoCloseable c : toClose) {
            try {
                c.close();
            } catch (Exception ignored) {
                // best effort
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // single member

    @Test
    void proposalsReturnTheApplierResultAndApplyInOrder() throws Exception {
        final Map<String, String> peers = peers("m1");
        final FileKvApplier applier = applier("m1", true);
        final RatisRaftNode node = node("m1", peers, applier, 0);
        node.start();

        // No waiting for the election: propose retries until this member is leader.
        long lastIndex = 0;
        for (int i = 1; i <= 20; i++) {
            final String result = str(node.propose(cmd("put k" + i + " v" + i)).get(10, TimeUnit.SECONDS));
            final String[] parts = result.split(" ");
            assertEquals("OK", parts[0], result);
            final long index = Long.parseLong(parts[1]);
            assertTrue(index > lastIndex, "indexes increase: " + index + " after " + lastIndex);
            assertEquals("k" + i, parts[2]);
            assertEquals("null", parts[3]);
            lastIndex = index;
        }
        // the previous value comes back: the result really is the applier's
        assertEquals("OK", str(node.propose(cmd("put k1 again")).get(5, TimeUnit.SECONDS)).split(" ")[0]);
        assertTrue(str(node.propose(cmd("put k1 third")).get(5, TimeUnit.SECONDS)).endsWith(" k1 again"));

        final List<String> expected = new ArrayList<>();
        for (int i = 1; i <= 20; i++) {
            expected.add("put k" + i + " v" + i);
        }
        expected.add("put k1 again");
        expected.add("put k1 third");
        assertEquals(expected, applier.appliedCommands(), "applied in proposal order, each once");
        assertStrictlyIncreasing(applier.appliedIndexes());
        assertEquals(List.of(), applier.violations());
        assertEquals("third", applier.get("k1"));
    }

    @Test
    void statusOfASingleMember() throws Exception {
        final Map<String, String> peers = peers("a1");
        final FileKvApplier applier = applier("a1", true);
        final RatisRaftNode node = node("a1", peers, applier, 0);

        final RaftStatus before = node.status();
        assertFalse(before.isLeader());
        assertNull(before.leaderId());

        node.start();
        node.propose(cmd("put a 1")).get(10, TimeUnit.SECONDS);
        final RaftStatus s1 = node.status();
        assertTrue(s1.term() >= 1, "term " + s1.term());
        assertTrue(s1.isLeader());
        assertFalse(s1.isLearner());
        assertEquals("a1", s1.leaderId());
        assertTrue(s1.appliedIndex() >= applier.appliedIndex(), s1.toString());
        assertTrue(s1.commitIndex() >= s1.appliedIndex(), s1.toString());

        final long idx = index(node.propose(cmd("put a 2")).get(5, TimeUnit.SECONDS));
        final RaftStatus s2 = node.status();
        assertTrue(s2.appliedIndex() > s1.appliedIndex(), s1 + " -> " + s2);
        assertTrue(s2.appliedIndex() >= idx, s2 + " vs " + idx);
        assertEquals(s1.term(), s2.term());
    }

    @Test
    void concurrentProposalsEachGetTheirOwnResult() throws Exception {
        final Map<String, String> peers = peers("c1");
        final FileKvApplier applier = applier("c1", true);
        final RatisRaftNode node = node("c1", peers, applier, 0);
        node.start();
        awaitLeader(List.of(node));

        final int n = 400;
        final List<CompletableFuture<byte[]>> futures = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            futures.add(node.propose(cmd("put c" + i + " " + i)));
        }
        final Set<Long> indexes = new HashSet<>();
        for (int i = 0; i < n; i++) {
            final String[] parts = str(futures.get(i).get(20, TimeUnit.SECONDS)).split(" ");
            assertEquals("c" + i, parts[2], "result belongs to its own proposal");
            assertTrue(indexes.add(Long.parseLong(parts[1])), "distinct indexes");
        }
        assertEquals(n, applier.appliedCommands().size());
        assertStrictlyIncreasing(applier.appliedIndexes());
        assertEquals(List.of(), applier.violations());
    }

    @Test
    void readBarrierCompletesAfterWhatWasCommittedIsApplied() throws Exception {
        final Map<String, String> peers = peers("r1");
        final FileKvApplier applier = applier("r1", true);
        final RatisRaftNode node = node("r1", peers, applier, 0);
        node.start();

        final long idx = index(node.propose(cmd("put r 1")).get(10, TimeUnit.SECONDS));
        node.readBarrier().get(5, TimeUnit.SECONDS);
        assertTrue(applier.appliedIndex() >= idx);

        // many concurrent barriers, interleaved with writes
        final List<CompletableFuture<?>> all = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            all.add(node.readBarrier());
            if (i % 10 == 0) {
                all.add(node.propose(cmd("put r" + i + " x")));
            }
        }
        CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0])).get(20, TimeUnit.SECONDS);

        final long commitBefore = node.status().commitIndex();
        node.readBarrier().get(5, TimeUnit.SECONDS);
        assertTrue(applier.appliedIndex() >= idx);
        assertTrue(node.status().appliedIndex() >= commitBefore);
    }

    @Test
    void restartReplaysOnlyEntriesAboveTheAppliersPersistedIndex() throws Exception {
        final Map<String, String> peers = peers("s1");
        final Path state = tmp.resolve("s1.state");
        // The applier writes its file only on persist(): whatever it applied after that is "lost in the crash".
        final FileKvApplier first = FileKvApplier.open(state, false);
        final RatisRaftNode node1 = node("s1", peers, first, 0);
        node1.start();
        for (int i = 1; i <= 10; i++) {
            node1.propose(cmd("put k" + i + " v" + i)).get(10, TimeUnit.SECONDS);
        }
        final long persisted = first.persist();
        long last = 0;
        for (int i = 11; i <= 15; i++) {
            last = index(node1.propose(cmd("put k" + i + " v" + i)).get(5, TimeUnit.SECONDS));
        }
        final long termBefore = node1.status().term();
        node1.close();

        final FileKvApplier second = FileKvApplier.open(state, false);
        assertEquals(persisted, second.appliedIndex(), "the restarted applier only has what was persisted");
        assertEquals(10, second.snapshotMap().size());

        final RatisRaftNode node2 = node("s1", peers, second, 0);
        node2.start();
        assertTrue(node2.status().appliedIndex() >= persisted,
                "Ratis resumes after the applier's persisted index: " + node2.status());
        assertTrue(second.awaitApplied(last, Duration.ofSeconds(10)), "replayed up to " + last);

        final List<String> expected = new ArrayList<>();
        for (int i = 11; i <= 15; i++) {
            expected.add("put k" + i + " v" + i);
        }
        assertEquals(expected, second.appliedCommands(), "exactly the entries above the persisted index");
        for (long i : second.appliedIndexes()) {
            assertTrue(i > persisted, "re-applied " + i + " <= " + persisted);
        }
        assertEquals(List.of(), second.violations());
        assertEquals(15, second.snapshotMap().size());
        assertEquals(first.snapshotMap(), second.snapshotMap());

        final long next = index(node2.propose(cmd("put k16 v16")).get(10, TimeUnit.SECONDS));
        assertTrue(next > last);
        assertTrue(node2.status().term() > termBefore, "a restarted single member starts a new term");
    }

    @Test
    void restartOfAnUpToDateApplierAppliesNothingTwice() throws Exception {
        final Map<String, String> peers = peers("u1");
        final Path state = tmp.resolve("u1.state");
        final FileKvApplier first = FileKvApplier.open(state, true);
        final RatisRaftNode node1 = node("u1", peers, first, 0);
        node1.start();
        long last = 0;
        for (int i = 1; i <= 10; i++) {
            last = index(node1.propose(cmd("put k" + i + " v" + i)).get(10, TimeUnit.SECONDS));
        }
        node1.close();

        final FileKvApplier second = FileKvApplier.open(state, true);
        assertEquals(last, second.appliedIndex());
        final RatisRaftNode node2 = node("u1", peers, second, 0);
        node2.start();
        final long next = index(node2.propose(cmd("put k11 v11")).get(10, TimeUnit.SECONDS));
        assertTrue(next > last);
        assertEquals(List.of("put k11 v11"), second.appliedCommands());
        assertEquals(List.of(), second.violations());
    }

    @Test
    void snapshotsPersistTheApplierWriteAMarkerAndSurviveRestart() throws Exception {
        final Map<String, String> peers = peers("p1");
        final Path state = tmp.resolve("p1.state");
        final FileKvApplier first = FileKvApplier.open(state, false); // durable only through the engine's persist()
        final RatisRaftNode node1 = node("p1", peers, first, 5);
        node1.start();
        long last = 0;
        for (int i = 1; i <= 23; i++) {
            last = index(node1.propose(cmd("put k" + i + " v" + i)).get(10, TimeUnit.SECONDS));
        }
        final Path marker = node1.groupDir().resolve("sm").resolve(SnapshotMarkerStorage.MARKER_FILE);
        waitFor(() -> first.persistCalls() >= 4 && Files.exists(marker), Duration.ofSeconds(5),
                "automatic snapshots (persist calls: " + first.persistCalls() + ")");
        final String[] m = Files.readString(marker).trim().split(" ");
        final long markerIndex = Long.parseLong(m[2]);
        final long markerApplierIndex = Long.parseLong(m[3]);
        assertTrue(markerIndex >= 15, "marker index " + markerIndex);
        assertTrue(markerApplierIndex <= first.persistedIndex());
        node1.close();

        final FileKvApplier second = FileKvApplier.open(state, false);
        assertTrue(second.appliedIndex() >= markerApplierIndex);
        final RatisRaftNode node2 = node("p1", peers, second, 5);
        node2.start();
        assertTrue(second.awaitApplied(last, Duration.ofSeconds(10)));
        for (long i : second.appliedIndexes()) {
            assertTrue(i > markerApplierIndex, "re-applied " + i);
        }
        assertEquals(first.snapshotMap(), second.snapshotMap());
        assertEquals(List.of(), second.violations());
        node2.propose(cmd("put after restart")).get(10, TimeUnit.SECONDS);
        assertEquals("restart", second.get("after"));
    }

    @Test
    void startFailsLoudlyIfTheApplierLostStateTheSnapshotMarkerCovers() throws Exception {
        final Map<String, String> peers = peers("l1");
        final FileKvApplier first = FileKvApplier.open(tmp.resolve("l1.state"), true);
        final RatisRaftNode node1 = node("l1", peers, first, 3);
        node1.start();
        for (int i = 1; i <= 8; i++) {
            node1.propose(cmd("put k" + i + " v")).get(10, TimeUnit.SECONDS);
        }
        final Path marker = node1.groupDir().resolve("sm").resolve(SnapshotMarkerStorage.MARKER_FILE);
        waitFor(() -> Files.exists(marker), Duration.ofSeconds(5), "a snapshot marker");
        node1.close();

        final FileKvApplier empty = FileKvApplier.open(tmp.resolve("other.state"), true);
        final RatisRaftNode node2 = node("l1", peers, empty, 3);
        final Exception e = assertThrows(Exception.class, node2::start);
        assertTrue(causeChainMentions(e, "behind the Raft snapshot marker"), () -> "unexpected: " + e);
        assertEquals(List.of(), empty.appliedCommands());
    }

    @Test
    void closedOrNotStartedMemberRejectsWithStopped() throws Exception {
        final Map<String, String> peers = peers("x1");
        final RatisRaftNode node = node("x1", peers, applier("x1", true), 0);
        assertStopped(node.propose(cmd("put a b")));
        assertStopped(node.readBarrier());
        node.start();
        node.propose(cmd("put a b")).get(10, TimeUnit.SECONDS);
        node.close();
        assertStopped(node.propose(cmd("put a c")));
        assertStopped(node.readBarrier());
        node.close(); // idempotent
    }

    @Test
    void anApplierFailureStopsTheMember() throws Exception {
        final Map<String, String> peers = peers("f1");
        final FileKvApplier applier = applier("f1", true);
        final RatisRaftNode node = node("f1", peers, applier, 0);
        node.start();
        node.propose(cmd("put a 1")).get(10, TimeUnit.SECONDS);
        final ExecutionException e = assertThrows(ExecutionException.class,
                () -> node.propose(cmd("boom")).get(10, TimeUnit.SECONDS));
        assertInstanceOf(RaftException.class, e.getCause(), e.toString());
        waitFor(() -> {
            try {
                node.propose(cmd("put a 2")).get(5, TimeUnit.SECONDS);
                return false;
            } catch (ExecutionException stopped) {
                return stopped.getCause() instanceof RaftException.Stopped;
            } catch (Exception other) {
                return false;
            }
        }, Duration.ofSeconds(5), "the member to refuse proposals after the failure");
        final ExecutionException e2 = assertThrows(ExecutionException.class,
                () -> node.propose(cmd("put a 3")).get(5, TimeUnit.SECONDS));
        assertTrue(e2.getCause().getMessage().contains("simulated storage failure"), e2.getCause().getMessage());
        assertEquals("1", applier.get("a"), "nothing applied after the failed entry");
        node.close();
    }

    @Test
    void closeReleasesThePortPromptly() throws Exception {
        final Map<String, String> peers = peers("q1");
        final RatisRaftNode node1 = node("q1", peers, applier("q1", true), 0);
        node1.start();
        node1.propose(cmd("put a b")).get(10, TimeUnit.SECONDS);
        final long t0 = System.nanoTime();
        node1.close();
        final long closeMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(closeMs < 5_000, "close took " + closeMs + " ms");
        final int port = Integer.parseInt(peers.get("q1").substring(peers.get("q1").lastIndexOf(':') + 1));
        try (ServerSocket s = new ServerSocket(port, 50, InetAddress.getLoopbackAddress())) {
            assertEquals(port, s.getLocalPort());
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // three members

    @Test
    void threeMembersReplicateForwardAndServeLinearizableReads() throws Exception {
        final Map<String, String> peers = peers("n1", "n2", "n3");
        final Map<String, FileKvApplier> appliers = new LinkedHashMap<>();
        final Map<String, RatisRaftNode> nodes = new LinkedHashMap<>();
        for (String id : peers.keySet()) {
            appliers.put(id, applier(id, true));
            nodes.put(id, node(id, peers, appliers.get(id), 0));
        }
        for (RatisRaftNode n : nodes.values()) {
            n.start();
        }
        final RatisRaftNode leader = awaitLeader(nodes.values());
        final String leaderId = leader.status().leaderId();
        final List<String> followerIds = new ArrayList<>(peers.keySet());
        followerIds.remove(leaderId);
        final long term = leader.status().term();
        waitFor(() -> followerIds.stream().allMatch(f -> leaderId.equals(nodes.get(f).status().leaderId())),
                Duration.ofSeconds(5), "followers learn the leader");
        for (String f : followerIds) {
            final RaftStatus s = nodes.get(f).status();
            assertFalse(s.isLeader());
            assertFalse(s.isLearner());
            assertEquals(term, s.term());
        }

        // 1. a proposal on the leader is applied on all three
        final long i1 = index(leader.propose(cmd("put x 1")).get(10, TimeUnit.SECONDS));
        for (FileKvApplier a : appliers.values()) {
            assertTrue(a.awaitApplied(i1, Duration.ofSeconds(5)));
            assertEquals("1", a.get("x"));
        }

        // 2. a proposal on a follower is forwarded to the leader, and its result comes back
        final RatisRaftNode follower = nodes.get(followerIds.get(0));
        final String r2 = str(follower.propose(cmd("put y 2")).get(10, TimeUnit.SECONDS));
        assertTrue(r2.startsWith("OK ") && r2.endsWith(" y null"), r2);
        final long i2 = index(r2.getBytes(StandardCharsets.UTF_8));
        assertTrue(i2 > i1);
        for (FileKvApplier a : appliers.values()) {
            assertTrue(a.awaitApplied(i2, Duration.ofSeconds(5)));
            assertEquals("2", a.get("y"));
        }

        // 3. a read barrier on a follower covers a write the leader has acknowledged
        final RatisRaftNode other = nodes.get(followerIds.get(1));
        for (int i = 0; i < 10; i++) {
            final long idx = index(leader.propose(cmd("put z " + i)).get(10, TimeUnit.SECONDS));
            other.readBarrier().get(5, TimeUnit.SECONDS);
            final FileKvApplier oa = appliers.get(followerIds.get(1));
            assertTrue(oa.appliedIndex() >= idx, "follower applied " + oa.appliedIndex() + " < " + idx);
            assertEquals(String.valueOf(i), oa.get("z"));
        }

        // 4. concurrent proposals through every member: all applied, identically, everywhere
        final List<CompletableFuture<byte[]>> futures = new ArrayList<>();
        final List<RatisRaftNode> all = new ArrayList<>(nodes.values());
        for (int i = 0; i < 150; i++) {
            futures.add(all.get(i % 3).propose(cmd("put m" + i + " " + i)));
        }
        long max = 0;
        for (int i = 0; i < futures.size(); i++) {
            final String[] parts = str(futures.get(i).get(20, TimeUnit.SECONDS)).split(" ");
            assertEquals("m" + i, parts[2]);
            max = Math.max(max, Long.parseLong(parts[1]));
        }
        for (FileKvApplier a : appliers.values()) {
            assertTrue(a.awaitApplied(max, Duration.ofSeconds(5)));
        }
        final FileKvApplier ref = appliers.get(leaderId);
        for (FileKvApplier a : appliers.values()) {
            assertEquals(ref.appliedIndexes(), a.appliedIndexes());
            assertEquals(ref.appliedCommands(), a.appliedCommands());
            assertEquals(ref.snapshotMap(), a.snapshotMap());
            assertEquals(List.of(), a.violations());
        }

        // 5. the leader goes away: the other two elect a new one and keep accepting proposals
        leader.close();
        final RatisRaftNode survivor = nodes.get(followerIds.get(0));
        final String r5 = str(survivor.propose(cmd("put after failover")).get(15, TimeUnit.SECONDS));
        final long i5 = index(r5.getBytes(StandardCharsets.UTF_8));
        for (String f : followerIds) {
            assertTrue(appliers.get(f).awaitApplied(i5, Duration.ofSeconds(5)));
            assertEquals("failover", appliers.get(f).get("after"));
            assertTrue(nodes.get(f).status().term() > term);
        }
        nodes.get(followerIds.get(1)).readBarrier().get(5, TimeUnit.SECONDS);
    }

    @Test
    void withoutQuorumProposalsAndBarriersFailWithNoLeader() throws Exception {
        final Map<String, String> peers = peers("w1", "w2", "w3");
        final RatisRaftNode lonely = new RatisRaftNode(
                new RaftConfig("w1", GROUP_SEED, peers, tmp.resolve("w1"), Duration.ofMillis(1500), 0),
                applier("w1", true));
        toClose.add(lonely);
        lonely.start();

        final long t0 = System.nanoTime();
        final ExecutionException e = assertThrows(ExecutionException.class,
                () -> lonely.propose(cmd("put a b")).get(10, TimeUnit.SECONDS));
        final long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertInstanceOf(RaftException.NoLeader.class, e.getCause(), e.toString());
        assertTrue(ms >= 1000 && ms < 5000, "failed after " + ms + " ms");

        final ExecutionException e2 = assertThrows(ExecutionException.class,
                () -> lonely.readBarrier().get(10, TimeUnit.SECONDS));
        assertInstanceOf(RaftException.NoLeader.class, e2.getCause(), e2.toString());

        final RaftStatus s = lonely.status();
        assertFalse(s.isLeader());
        assertNull(s.leaderId());
    }

    // ---------------------------------------------------------------------------------------------------------------
    // helpers

    private Map<String, String> peers(String... ids) throws IOException {
        final Map<String, String> peers = new LinkedHashMap<>();
        for (String id : ids) {
            peers.put(id, "127.0.0.1:" + freePort());
        }
        return peers;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }

    private FileKvApplier applier(String id, boolean persistEveryApply) {
        return FileKvApplier.open(tmp.resolve(id + ".state"), persistEveryApply);
    }

    private RatisRaftNode node(String id, Map<String, String> peers, StateMachineApplier applier, long snapshotEvery) {
        final RatisRaftNode node = new RatisRaftNode(
                new RaftConfig(id, GROUP_SEED, peers, tmp.resolve("raft-" + id), TIMEOUT, snapshotEvery), applier);
        toClose.add(node);
        return node;
    }

    private static RatisRaftNode awaitLeader(Iterable<RatisRaftNode> nodes) throws InterruptedException {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            RatisRaftNode leader = null;
            int leaders = 0;
            for (RatisRaftNode n : nodes) {
                if (n.status().isLeader()) {
                    leader = n;
                    leaders++;
                }
            }
            if (leaders == 1) {
                return leader;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no single leader elected");
    }

    private static void waitFor(BooleanSupplier condition, Duration timeout, String what) throws InterruptedException {
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + what);
            }
            Thread.sleep(10);
        }
    }

    private static void assertStopped(CompletableFuture<?> f) throws Exception {
        final ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
        assertInstanceOf(RaftException.Stopped.class, e.getCause(), e.toString());
    }

    private static void assertStrictlyIncreasing(List<Long> xs) {
        for (int i = 1; i < xs.size(); i++) {
            assertTrue(xs.get(i) > xs.get(i - 1), "not increasing at " + i + ": " + xs);
        }
    }

    private static boolean causeChainMentions(Throwable t, String text) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c.getMessage() != null && c.getMessage().contains(text)) {
                return true;
            }
            for (Throwable s : c.getSuppressed()) {
                if (causeChainMentions(s, text)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static byte[] cmd(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String str(byte[] b) {
        assertNotNull(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private static long index(byte[] result) {
        final String s = str(result);
        assertTrue(s.startsWith("OK "), s);
        return Long.parseLong(s.split(" ")[1]);
    }
}
