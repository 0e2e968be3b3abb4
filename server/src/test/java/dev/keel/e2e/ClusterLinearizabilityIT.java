package dev.keel.e2e;

import dev.keel.e2e.linearizability.CheckResult;
import dev.keel.e2e.linearizability.History;
import dev.keel.e2e.linearizability.LinearizabilityChecker;
import dev.keel.e2e.linearizability.RecordingClient;
import dev.keel.e2e.linearizability.Workload;
import io.etcd.jetcd.Client;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
                runs.add(pool.submit(() -> Workload.putGetCas(rc, id, deadline, "clin/k", KEYS)));
            }
            // faults, one every few seconds until the end
            int step = 0;
            while (System.nanoTime() < deadline - TimeUnit.SECONDS.toNanos(4)) {
                Thread.sleep(2500);
                switch (step++ % 3) {
                    case 0 -> {
                        ServerProcess leader = ServerProcess.awaitLeader(members);
                        leader.kill9();
                        Thread.sleep(1500);
                        leader.restartNoWait();
                        faults.add("kill -9 leader " + leader.name());
                    }
                    case 1 -> {
                        ServerProcess leader = ServerProcess.awaitLeader(members);
                        ServerProcess f = members.stream().filter(m -> m != leader).findFirst().orElseThrow();
                        f.pause();
                        Thread.sleep(2000);
                        f.resume();
                        faults.add("SIGSTOP follower " + f.name() + " for 2 s");
                    }
                    default -> {
                        ServerProcess leader = ServerProcess.awaitLeader(members);
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
}
