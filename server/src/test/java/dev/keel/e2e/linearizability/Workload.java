package dev.keel.e2e.linearizability;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;

/** Client workloads for recorded histories. */
public final class Workload {
    private Workload() {
    }

    /**
     * Until {@code deadline} (System.nanoTime): 40% linearizable gets, 30% puts, 30% compare-and-set expecting the
     * value this client last read (often stale under contention, so both outcomes occur), on keys
     * {@code prefix + 0..keys-1}. Written values are unique per client and operation.
     */
    public static void putGetCas(RecordingClient rc, int id, long deadline, String prefix, int keys) {
        Random rnd = new Random(id);
        Map<String, String> lastSeen = new HashMap<>();
        int n = 0;
        while (System.nanoTime() < deadline) {
            String key = prefix + rnd.nextInt(keys);
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
}
