package dev.keel.e2e;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.PutResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Durability: concurrent writers, {@code kill -9} in the middle of the load, restart. Every write the server
 * acknowledged must be there with the revision it was acknowledged at, and no revision may be handed out twice.
 */
class CrashRecoveryIT {

    @TempDir
    Path tmp;

    private static ByteSequence bs(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    @Test
    void acknowledgedWritesSurviveKillDashNine() throws Exception {
        try (ServerProcess server = ServerProcess.start(tmp.resolve("crash.etcd"))) {
            Map<String, Long> acked = new ConcurrentHashMap<>();
            for (int round = 0; round < 2; round++) {
                loadThenKill(server, round, acked);
                server.restart();
                verify(server, acked);
            }
            assertTrue(acked.size() > 100, "the load should have acknowledged a fair number of writes: " + acked.size());
        }
    }

    private void loadThenKill(ServerProcess server, int round, Map<String, Long> acked) throws Exception {
        int writers = 16;
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger ackedThisRound = new AtomicInteger();
        CountDownLatch enough = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        try (Client client = Client.builder().endpoints(server.url()).build()) {
            KV kv = client.getKVClient();
            for (int w = 0; w < writers; w++) {
                int writer = w;
                pool.execute(() -> {
                    for (int i = 0; !stop.get() && i < 100_000; i++) {
                        String key = "r" + round + "/w" + writer + "/" + i;
                        try {
                            PutResponse r = kv.put(bs(key), bs("value-" + key)).get(10, TimeUnit.SECONDS);
                            acked.put(key, r.getHeader().getRevision());
                            if (ackedThisRound.incrementAndGet() >= 300) {
                                enough.countDown();
                            }
                        } catch (Exception e) {
                            return; // the server died under us: this write may or may not have landed
                        }
                    }
                });
            }
            assertTrue(enough.await(60, TimeUnit.SECONDS), "writes were not acknowledged:\n" + server.logTail());
            server.kill9();
            stop.set(true);
            pool.shutdown();
            assertTrue(pool.awaitTermination(60, TimeUnit.SECONDS));
        }
    }

    private void verify(ServerProcess server, Map<String, Long> acked) throws Exception {
        try (Client client = Client.builder().endpoints(server.url()).build()) {
            KV kv = client.getKVClient();
            Set<Long> revisions = new HashSet<>();
            long maxRev = 0;
            for (Map.Entry<String, Long> e : acked.entrySet()) {
                GetResponse r = kv.get(bs(e.getKey())).get(10, TimeUnit.SECONDS);
                assertEquals(1, r.getKvs().size(), "acknowledged key lost: " + e.getKey());
                assertEquals("value-" + e.getKey(), r.getKvs().get(0).getValue().toString(StandardCharsets.UTF_8));
                assertEquals(e.getValue().longValue(), r.getKvs().get(0).getModRevision(),
                        "revision changed for " + e.getKey());
                assertTrue(revisions.add(e.getValue()), "revision acknowledged twice: " + e.getValue());
                maxRev = Math.max(maxRev, e.getValue());
            }
            PutResponse next = kv.put(bs("after-restart"), bs("x")).get(10, TimeUnit.SECONDS);
            assertTrue(next.getHeader().getRevision() > maxRev,
                    "revision reused after restart: " + next.getHeader().getRevision() + " <= " + maxRev);
        }
    }
}
