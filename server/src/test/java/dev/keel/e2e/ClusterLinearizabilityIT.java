package dev.keel.e2e;

import dev.keel.e2e.linearizability.CheckResult;
import dev.keel.e2e.linearizability.History;
import dev.keel.e2e.linearizability.LinearizabilityChecker;
import dev.keel.e2e.linearizability.RecordingClient;
import dev.keel.e2e.linearizability.Result;
import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.StatusRequest;
import dev.keel.proto.etcdserverpb.StatusResponse;
import io.etcd.jetcd.Client;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Concurrent put/get/compare-and-set from jetcd clients spread over a three-member cluster while faults are injected
 * (kill -9 of the leader and restart, SIGSTOP of a follower, then of the leader), recorded and checked for
 * linearizability. The CI run lasts {@value #DEFAULT_SECONDS} s; {@code -Dkeel.soak.seconds=N} runs longer, cycling
 * through the faults.
 */
class ClusterLinearizabilityIT {

    private static final int DEFAULT_SECONDS = 24;
    private static final int CLIENTS = 8;
    private static final int KEYS = 12;

    @TempDir
    Path tmp;

    @Test
    void historyUnderFaultsIsLinearizable() throws Exception {
        int seconds = Integer.getInteger("keel.soak.seconds", DEFAULT_SECONDS);
        History history = new History();
        List<ServerProcess> members = ServerProcess.startCluster(tmp, 3);
        List<String> faults = new ArrayList<>();
        List<Client> clients = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
        try {
            String[] urls = members.stream().map(ServerProcess::url).toArray(String[]::new);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            List<Future<?>> runs = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                Client client = Client.builder().endpoints(urls).build();
                clients.add(client);
                RecordingClient rc = new RecordingClient(history, c, client.getKVClient(), Duration.ofSeconds(4));
                int id = c;
                runs.add(pool.submit(() -> workload(rc, id, deadline)));
            }
            // faults, one every few seconds until the end
            int step = 0;
            while (System.nanoTime() < deadline - TimeUnit.SECONDS.toNanos(4)) {
                Thread.sleep(2500);
                switch (step++ % 3) {
                    case 0 -> {
                        ServerProcess leader = leader(members);
                        leader.kill9();
                        Thread.sleep(1500);
                        leader.restartNoWait();
                        faults.add("kill -9 leader " + leader.name());
                    }
                    case 1 -> {
                        ServerProcess f = members.stream().filter(m -> m != leader(members)).findFirst().orElseThrow();
                        f.pause();
                        Thread.sleep(2000);
                        f.resume();
                        faults.add("SIGSTOP follower " + f.name() + " for 2 s");
                    }
                    default -> {
                        ServerProcess leader = leader(members);
                        leader.pause();
                        Thread.sleep(2000);
                        leader.resume();
                        faults.add("SIGSTOP leader " + leader.name() + " for 2 s");
                    }
                }
            }
            for (Future<?> f : runs) {
                f.get(seconds + 120L, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
            clients.forEach(Client::close);
            for (ServerProcess m : members) {
                m.close();
            }
        }
        CheckResult result = LinearizabilityChecker.check(history.operations());
        System.out.println("[cluster-linearizability] " + result.report().lines().findFirst().orElse("")
                + "; faults: " + faults);
        result.assertLinearizable();
        // at least the leader kill and one pause (a loaded machine fits fewer fault cycles into the run)
        assertTrue(faults.size() >= 2, "faults injected: " + faults);
        assertTrue(result.checkedOps() > 300, "only " + result.checkedOps() + " operations checked");
    }

    private static void workload(RecordingClient rc, int id, long deadline) {
        Random rnd = new Random(id);
        Map<String, String> lastSeen = new HashMap<>();
        int n = 0;
        while (System.nanoTime() < deadline) {
            String key = "clin/k" + rnd.nextInt(KEYS);
            int dice = rnd.nextInt(10);
            if (dice < 4) {
                Result r = rc.get(key);
                if (r != null) {
                    lastSeen.put(key, r.value());
                }
            } else if (dice < 7) {
                rc.put(key, "c" + id + "-" + n++);
            } else {
                rc.cas(key, lastSeen.get(key), "c" + id + "-" + n++);
            }
        }
    }

    private static ServerProcess leader(List<ServerProcess> members) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            for (ServerProcess m : members) {
                ManagedChannel ch = NettyChannelBuilder.forTarget(m.endpoint()).usePlaintext().build();
                try {
                    StatusResponse s = MaintenanceGrpc.newBlockingStub(ch).withDeadlineAfter(1, TimeUnit.SECONDS)
                            .status(StatusRequest.getDefaultInstance());
                    if (s.getLeader() == s.getHeader().getMemberId()) {
                        return m;
                    }
                } catch (RuntimeException ignored) {
                    // down, paused or starting
                } finally {
                    ch.shutdownNow();
                }
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        throw new AssertionError("no leader");
    }
}
