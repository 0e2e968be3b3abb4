package dev.keel.e2e.linearizability;

import dev.keel.e2e.ServerProcess;
import io.etcd.jetcd.Client;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Smoke test of the recorder and checker against one real member: 8 concurrent jetcd clients doing put/get/cas on
 * 10 keys for about 10 seconds; the history must be linearizable. A negative control makes sure the same history
 * with one read made stale is rejected (so the pass is not vacuous).
 */
class LinearizabilityIT {

    private static final int CLIENTS = 8;
    private static final int KEYS = 10;
    private static final Duration RUN = Duration.ofSeconds(10);
    private static final int MIN_OPS = 200; // ~960 seen on a shared 2-core machine

    @TempDir
    Path tmp;

    @Test
    void concurrentClientsOnOneMemberAreLinearizable() throws Exception {
        History history = new History();
        List<RecordingClient> recorders = new ArrayList<>();
        try (ServerProcess server = ServerProcess.start(tmp.resolve("lin"))) {
            List<Client> clients = new ArrayList<>();
            ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
            try {
                List<Future<?>> runs = new ArrayList<>();
                long deadline = System.nanoTime() + RUN.toNanos();
                for (int c = 0; c < CLIENTS; c++) {
                    Client client = Client.builder().endpoints(server.url()).build();
                    clients.add(client);
                    RecordingClient rc = new RecordingClient(history, c, client.getKVClient(), Duration.ofSeconds(5));
                    recorders.add(rc);
                    int id = c;
                    runs.add(pool.submit(() -> workload(rc, id, deadline)));
                }
                for (Future<?> f : runs) {
                    f.get(RUN.toSeconds() + 60, TimeUnit.SECONDS);
                }
            } finally {
                pool.shutdownNow();
                clients.forEach(Client::close);
            }
        }

        List<Operation> ops = history.operations();
        CheckResult result = LinearizabilityChecker.check(ops);
        int failed = recorders.stream().mapToInt(RecordingClient::failedCount).sum();
        System.out.println("[linearizability] " + result.report().lines().findFirst().orElse("")
                + "; definite failures dropped: " + failed);
        result.assertLinearizable();
        assertTrue(result.checkedOps() > MIN_OPS, "only " + result.checkedOps() + " operations: " + result.report());

        // negative control: one read that started after a completed write to its key returns the version before it
        Operation[] stale = staleCandidate(ops);
        assertTrue(stale != null, "no read after two completed writes to its key in " + ops.size() + " operations");
        Operation read = stale[0];
        Operation older = stale[1];
        List<Operation> broken = new ArrayList<>(ops);
        broken.replaceAll(o -> o != read ? o : new Operation(o.id(), o.client(), o.input(), o.call(), o.ret(),
                Result.get(older.input().value(), older.output().revision(), o.output().revision())));
        CheckResult bad = LinearizabilityChecker.check(broken);
        assertEquals(CheckResult.Verdict.VIOLATION, bad.verdict(), bad.report());
        System.out.println("[linearizability] negative control: " + bad.violations().get(0).lines().findFirst().orElse(""));
    }

    private static void workload(RecordingClient rc, int id, long deadline) {
        Random rnd = new Random(id);
        Map<String, String> lastSeen = new HashMap<>();
        int n = 0;
        while (System.nanoTime() < deadline) {
            String key = "lin/k" + rnd.nextInt(KEYS);
            int dice = rnd.nextInt(10);
            if (dice < 4) {
                Result r = rc.get(key);
                if (r != null) {
                    lastSeen.put(key, r.value());
                }
            } else if (dice < 7) {
                rc.put(key, "c" + id + "-" + n++);
            } else {
                // expected: what this client last saw (often stale under contention, so both outcomes occur)
                rc.cas(key, lastSeen.get(key), "c" + id + "-" + n++);
            }
        }
    }

    /**
     * A read that started after at least two acknowledged puts/cas to its key had completed, and the older of those
     * writes: making the read return that older write's value and revision is provably not linearizable (the newer
     * write has to take effect before the read, and nothing can restore the older revision).
     */
    private static Operation[] staleCandidate(List<Operation> ops) {
        for (Operation r : ops) {
            if (r.unknown() || r.input().kind() != Op.Kind.GET) {
                continue;
            }
            Operation oldest = null;
            int before = 0;
            for (Operation w : ops) {
                if (w.knownWrite() && w.input().kind() != Op.Kind.DELETE && w.input().key().equals(r.input().key())
                        && w.ret() < r.call()) {
                    before++;
                    if (oldest == null || w.output().revision() < oldest.output().revision()) {
                        oldest = w;
                    }
                }
            }
            if (before >= 2) {
                return new Operation[]{r, oldest};
            }
        }
        return null;
    }
}
