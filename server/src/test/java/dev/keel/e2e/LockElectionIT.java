package dev.keel.e2e;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.Election;
import io.etcd.jetcd.election.CampaignResponse;
import io.etcd.jetcd.election.LeaderResponse;
import io.etcd.jetcd.election.NoLeaderException;
import io.etcd.jetcd.election.NotLeaderException;
import io.etcd.jetcd.lock.LockResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.*;

/** Lock and Election services: contention between clients, with jetcd and etcdctl. */
class LockElectionIT {

    static Path dir;
    static ServerProcess server;
    static Client a;
    static Client b;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("keel-lock");
        server = ServerProcess.start(dir.resolve("lock.etcd"));
        a = Client.builder().endpoints(server.url()).build();
        b = Client.builder().endpoints(server.url()).build();
    }

    @AfterAll
    static void stop() throws Exception {
        a.close();
        b.close();
        server.close();
    }

    private static ByteSequence bs(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    private static long lease(Client c) throws Exception {
        return c.getLeaseClient().grant(30).get(10, TimeUnit.SECONDS).getID();
    }

    private static void assertPending(CompletableFuture<?> f) throws Exception {
        try {
            Object v = f.get(1500, TimeUnit.MILLISECONDS);
            fail("should still be waiting, but completed with " + v);
        } catch (TimeoutException expected) {
            // still waiting, as it should
        }
    }

    @Test
    void secondLockerWaitsForTheFirstToUnlock() throws Exception {
        long la = lease(a);
        long lb = lease(b);
        LockResponse first = a.getLockClient().lock(bs("L1"), la).get(10, TimeUnit.SECONDS);
        assertEquals("L1/" + Long.toHexString(la), first.getKey().toString(StandardCharsets.UTF_8));
        CompletableFuture<LockResponse> second = b.getLockClient().lock(bs("L1"), lb);
        assertPending(second);
        a.getLockClient().unlock(first.getKey()).get(10, TimeUnit.SECONDS);
        LockResponse got = second.get(10, TimeUnit.SECONDS);
        assertEquals("L1/" + Long.toHexString(lb), got.getKey().toString(StandardCharsets.UTF_8));
        assertTrue(got.getHeader().getRevision() > first.getHeader().getRevision());
        b.getLockClient().unlock(got.getKey()).get(10, TimeUnit.SECONDS);
    }

    @Test
    void revokingTheHoldersLeaseReleasesTheLock() throws Exception {
        long la = lease(a);
        long lb = lease(b);
        a.getLockClient().lock(bs("L2"), la).get(10, TimeUnit.SECONDS);
        CompletableFuture<LockResponse> second = b.getLockClient().lock(bs("L2"), lb);
        assertPending(second);
        a.getLeaseClient().revoke(la).get(10, TimeUnit.SECONDS);
        assertEquals("L2/" + Long.toHexString(lb), second.get(10, TimeUnit.SECONDS).getKey().toString(StandardCharsets.UTF_8));
    }

    @Test
    void electionLeaderProclaimObserveResign() throws Exception {
        Election ea = a.getElectionClient();
        Election eb = b.getElectionClient();
        ByteSequence name = bs("E1");
        ExecutionException none = assertThrows(ExecutionException.class, () -> ea.leader(name).get(10, TimeUnit.SECONDS));
        assertInstanceOf(NoLeaderException.class, none.getCause(), String.valueOf(none.getCause()));

        List<String> observed = new CopyOnWriteArrayList<>();
        ea.observe(name, new Election.Listener() {
            @Override
            public void onNext(LeaderResponse r) {
                observed.add(r.getKv().getValue().toString(StandardCharsets.UTF_8));
            }

            @Override
            public void onError(Throwable t) {
            }

            @Override
            public void onCompleted() {
            }
        });

        long la = lease(a);
        long lb = lease(b);
        CampaignResponse ca = ea.campaign(name, la, bs("alpha")).get(10, TimeUnit.SECONDS);
        assertEquals(la, ca.getLeader().getLease());
        CompletableFuture<CampaignResponse> cb = eb.campaign(name, lb, bs("beta"));
        assertPending(cb);
        assertEquals("alpha", ea.leader(name).get(10, TimeUnit.SECONDS).getKv().getValue().toString(StandardCharsets.UTF_8));

        ea.proclaim(ca.getLeader(), bs("alpha2")).get(10, TimeUnit.SECONDS);
        assertEquals("alpha2", eb.leader(name).get(10, TimeUnit.SECONDS).getKv().getValue().toString(StandardCharsets.UTF_8));

        ea.resign(ca.getLeader()).get(10, TimeUnit.SECONDS);
        CampaignResponse won = cb.get(10, TimeUnit.SECONDS);
        assertEquals(lb, won.getLeader().getLease());
        assertEquals("beta", ea.leader(name).get(10, TimeUnit.SECONDS).getKv().getValue().toString(StandardCharsets.UTF_8));

        ExecutionException notLeader = assertThrows(ExecutionException.class,
                () -> ea.proclaim(ca.getLeader(), bs("stale")).get(10, TimeUnit.SECONDS));
        assertInstanceOf(NotLeaderException.class, notLeader.getCause(), String.valueOf(notLeader.getCause()));

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (observed.size() < 3 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(List.of("alpha", "alpha2", "beta"), observed);
    }

    @Test
    void etcdctlLockRunsTheCommandUnderTheLock() throws Exception {
        Etcdctl ctl = new Etcdctl(server.endpoint());
        Etcdctl.Result r = ctl.run("lock", "ctl-lock", "echo", "inside");
        assertEquals(0, r.exitCode(), r.toString());
        assertEquals("inside\n", r.stdout());
        // the lock is released afterwards: nothing left under the prefix
        assertEquals("", ctl.ok("get", "--prefix", "ctl-lock/"));
    }

    /** Starts a long-running etcdctl (elect) whose output goes to a file. */
    private static Process etcdctlInBackground(Path out, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(Etcdctl.binary(), "--endpoints=" + server.endpoint()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.to(out.toFile()));
        pb.environment().put("ETCDCTL_API", "3");
        return pb.start();
    }

    private static String awaitOutput(Path out, String expected) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        String text = "";
        while (System.nanoTime() < deadline) {
            text = Files.exists(out) ? Files.readString(out) : "";
            if (text.contains(expected)) {
                return text;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no '" + expected + "' in output:\n" + text);
    }

    @Test
    void etcdctlElectHandsOverWhenTheLeaderQuits() throws Exception {
        Path out1 = dir.resolve("elect1.out");
        Path out2 = dir.resolve("elect2.out");
        Path watch = dir.resolve("observe.out");
        Process observer = etcdctlInBackground(watch, "elect", "-l", "ctl-elect");
        Process first = etcdctlInBackground(out1, "elect", "ctl-elect", "p1");
        Process second = null;
        try {
            String won = awaitOutput(out1, "p1\n");
            assertTrue(won.startsWith("ctl-elect/"), won);
            awaitOutput(watch, "p1\n");
            second = etcdctlInBackground(out2, "elect", "ctl-elect", "p2");
            Thread.sleep(1500);
            assertEquals("", Files.readString(out2), "the second candidate waits while the first leads");
            first.destroy(); // SIGTERM: etcdctl resigns before exiting
            assertTrue(first.waitFor(15, TimeUnit.SECONDS));
            String won2 = awaitOutput(out2, "p2\n");
            assertTrue(won2.startsWith("ctl-elect/"), won2);
            String seen = awaitOutput(watch, "p2\n");
            assertTrue(seen.indexOf("p1") < seen.indexOf("p2"), seen);
        } finally {
            first.destroyForcibly();
            if (second != null) {
                second.destroyForcibly();
            }
            observer.destroyForcibly();
        }
    }
}
