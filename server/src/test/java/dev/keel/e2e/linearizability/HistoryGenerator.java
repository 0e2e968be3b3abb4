package dev.keel.e2e.linearizability;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Builds linearizable histories from a real sequential execution: each client issues operations back to back with
 * random durations, each operation takes effect at a random instant strictly inside its interval, and a sequential
 * etcd-like store (global revision, single-key ops) executes them in the order of those instants. Operations whose
 * outcome is made unknown either took effect at their instant (revision consumed, result hidden) or never did.
 */
final class HistoryGenerator {

    /** One state of a key: value (null = deleted/absent) since revision {@code rev}. */
    record Version(long rev, String value) { }

    final List<Operation> ops = new ArrayList<>();
    /** Per key, every state it went through, in revision order (the initial absent state not included). */
    final Map<String, List<Version>> versions = new HashMap<>();
    long revision = 1;

    private record Plan(int client, long call, long at, long ret, boolean unknown, boolean applied) { }

    HistoryGenerator(long seed, int clients, int keys, int count, double unknownRate) {
        Random rnd = new Random(seed);
        List<Plan> plans = new ArrayList<>();
        long[] clock = new long[clients];
        for (int c = 0; c < clients; c++) {
            clock[c] = rnd.nextInt(100);
        }
        for (int i = 0; i < count; i++) {
            int c = rnd.nextInt(clients);
            long call = clock[c];
            long duration = 2 + rnd.nextInt(rnd.nextInt(10) == 0 ? 2000 : 200);
            long at = call + 1 + rnd.nextInt((int) duration - 1);
            boolean unknown = rnd.nextDouble() < unknownRate;
            boolean applied = !unknown || rnd.nextBoolean();
            plans.add(new Plan(c, call, at, call + duration, unknown, applied));
            clock[c] = call + duration + rnd.nextInt(20) + (unknown ? 1000 : 0);
        }
        plans.sort(Comparator.comparingLong(Plan::at));
        Map<String, String> value = new HashMap<>();
        Map<String, Long> modRev = new HashMap<>();
        int serial = 0;
        for (Plan p : plans) {
            String key = "k" + rnd.nextInt(keys);
            String cur = value.get(key);
            int dice = rnd.nextInt(100);
            Op op;
            if (dice < 40) {
                op = Op.get(key);
            } else if (dice < 65) {
                op = Op.put(key, "v" + serial++);
            } else if (dice < 75) {
                op = Op.delete(key);
            } else {
                String expected = switch (rnd.nextInt(4)) {
                    case 0, 1 -> cur;
                    case 2 -> null;
                    default -> "v" + rnd.nextInt(serial + 1);
                };
                op = Op.cas(key, expected, "v" + serial++);
            }
            Result r = null;
            if (p.applied) {
                switch (op.kind()) {
                    case GET -> r = Result.get(cur, cur == null ? 0 : modRev.get(key), revision);
                    case PUT -> r = Result.put(write(value, modRev, key, op.value()));
                    case DELETE -> r = cur == null ? Result.delete(0, revision)
                            : Result.delete(1, write(value, modRev, key, null));
                    case CAS -> r = java.util.Objects.equals(cur, op.expected())
                            ? Result.cas(true, write(value, modRev, key, op.value())) : Result.cas(false, revision);
                    default -> throw new IllegalStateException();
                }
            }
            int id = ops.size();
            ops.add(p.unknown ? new Operation(id, p.client, op, p.call, Operation.NEVER, null)
                    : new Operation(id, p.client, op, p.call, p.ret, r));
        }
    }

    private long write(Map<String, String> value, Map<String, Long> modRev, String key, String v) {
        revision++;
        if (v == null) {
            value.remove(key);
            modRev.remove(key);
        } else {
            value.put(key, v);
            modRev.put(key, revision);
        }
        versions.computeIfAbsent(key, k -> new ArrayList<>()).add(new Version(revision, v));
        return revision;
    }
}
