package dev.keel.e2e.linearizability;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Checks a recorded history of single-key operations ({@link Op}) against an etcd-like KV store with a global
 * revision. The verdict is {@link CheckResult.Verdict#VIOLATION} if any check below fails,
 * {@link CheckResult.Verdict#UNKNOWN} if none failed but some key's search hit its step or time limit (that key was
 * NOT checked), {@link CheckResult.Verdict#LINEARIZABLE} otherwise.
 *
 * <p>Histories: every operation has a call time and either a return time and result, or an unknown outcome
 * (timeout, connection loss, "no leader" after the request was sent): it may have taken effect at any instant after
 * its call, or never. Operations known not to have taken effect must be left out by the caller
 * ({@link History.Pending#fail()}); GETs with an unknown outcome are dropped here (they constrain nothing). Reads must
 * be linearizable reads (not serializable ones). Intervals that merely touch ({@code a.ret == b.call}) count as
 * concurrent, never as ordered.
 *
 * <h2>What each check guarantees</h2>
 * <ol>
 * <li><b>Per key (exact, Wing &amp; Gong with Lowe's memoisation):</b> for each key, a sequential order of that
 * key's operations exists that respects real time (an op that returned before another was invoked comes first) in
 * which every operation with a known outcome takes effect once, each unknown-outcome op either takes effect once
 * after its call or not at all, and every result matches the {@link KvModel} of one key: a get returns the current
 * value and its mod revision, a put/successful cas/delete-of-a-present-key creates the revision it returned and
 * revisions of a key's writes increase along the order, a cas succeeds iff the value equals the expected one
 * (absent for create-if-absent), a delete deletes 1 iff the key exists. This is sound to check per key because
 * every operation touches one key: linearizability is compositional (Herlihy &amp; Wing), the per-key objects are
 * independent registers apart from the shared revision counter, which the checks below cover. It is NOT a proof
 * that one global order exists that is also consistent with the revision numbers across keys.</li>
 * <li><b>R1, unique write revisions:</b> no two writes (put, successful cas, delete that deleted) with a known
 * outcome report the same revision (every single-key write in etcd creates its own main revision).</li>
 * <li><b>R2, revisions follow real time:</b> with rev(op) the header revision of any op with a known outcome and a
 * recorded revision (the revision a write created; the store revision a read — get, failed cas, delete of an
 * absent key — was served at): if A returned before B was invoked then rev(A) &lt; rev(B) when B is a write and
 * rev(A) ≤ rev(B) otherwise. So: writes are numbered in real-time order; a read never sees a store revision lower
 * than that of a write (or a read) that completed before it started (no stale reads, across keys); and a read
 * never sees a revision that only a write invoked after the read returned could have created (no reads from the
 * future). Sound because the store revision never decreases along etcd's linearization and every write increments
 * it.</li>
 * <li><b>R3, reads are snapshots at their header revision:</b> a get served at revision H that returned mod revision
 * m has m ≤ H and no write to the same key with a known outcome has a revision in (m, H]; a get that found the key
 * absent at H has, as the last known write to the key at or below H, a delete (or none) — skipped for keys with
 * deletes of unknown outcome. Catches a read that is stale relative to its own header even when no real-time order
 * exposes it.</li>
 * <li><b>R4, read provenance:</b> a get returning mod revision m where some known write created revision m must
 * have read that write's key and value.</li>
 * </ol>
 * The global checks only use operations whose revisions are recorded; an op with revision 0 is skipped by them.
 */
public final class LinearizabilityChecker {

    /**
     * Search bounds per key. When either is exceeded the key is reported as undecided (verdict UNKNOWN), never as
     * linearizable. The memo holds at most one entry per step, so the step limit also bounds memory (the default,
     * 2M steps, stays well under 512 MB; the histories in the tests need under 100k steps per key).
     */
    public record Options(Duration timeoutPerKey, long maxStepsPerKey, boolean parallel) {
        public static Options defaults() {
            return new Options(Duration.ofSeconds(60), 2_000_000L, false);
        }

        public Options withTimeoutPerKey(Duration d) {
            return new Options(d, maxStepsPerKey, parallel);
        }

        public Options withMaxStepsPerKey(long steps) {
            return new Options(timeoutPerKey, steps, parallel);
        }

        /** Search keys on the common fork-join pool (the machine is shared: off by default). */
        public Options withParallel(boolean p) {
            return new Options(timeoutPerKey, maxStepsPerKey, p);
        }
    }

    private LinearizabilityChecker() {
    }

    public static CheckResult check(List<Operation> history) {
        return check(history, Options.defaults());
    }

    public static CheckResult check(List<Operation> history, Options options) {
        long start = System.nanoTime();
        long base = history.stream().mapToLong(Operation::call).min().orElse(0);
        List<Operation> ops = new ArrayList<>(history.size());
        int droppedReads = 0;
        for (Operation o : history) {
            if (o.unknown() && o.input().kind() == Op.Kind.GET) {
                droppedReads++;
            } else {
                ops.add(o);
            }
        }
        List<String> global = RevisionChecks.check(ops, base);

        Map<String, List<Operation>> byKey = new TreeMap<>();
        for (Operation o : ops) {
            byKey.computeIfAbsent(o.input().key(), k -> new ArrayList<>()).add(o);
        }
        Stream<Map.Entry<String, List<Operation>>> keys = byKey.entrySet().stream();
        if (options.parallel()) {
            keys = keys.parallel();
        }
        List<KeyOutcome> outcomes = keys.map(e -> {
            long t0 = System.nanoTime();
            WglSearch.Outcome out = WglSearch.check(KvModel.INSTANCE, e.getValue(), e.getKey(),
                    options.maxStepsPerKey(), t0 + options.timeoutPerKey().toNanos(), base);
            return new KeyOutcome(e.getKey(), out, System.nanoTime() - t0);
        }).toList();

        List<String> violations = new ArrayList<>();
        List<String> undecided = new ArrayList<>();
        long steps = 0;
        long slowest = 0;
        for (KeyOutcome k : outcomes) {
            steps += k.outcome.steps();
            slowest = Math.max(slowest, k.nanos);
            switch (k.outcome.verdict()) {
                case VIOLATION -> violations.add(k.outcome.explanation());
                case UNKNOWN -> undecided.add(k.outcome.explanation());
                default -> { }
            }
        }
        global.forEach(g -> violations.add("revision check: " + g));
        int unknownOps = (int) ops.stream().filter(Operation::unknown).count();
        return new CheckResult(ops.size(), unknownOps, droppedReads, byKey.size(), violations, undecided, steps,
                (System.nanoTime() - start) / 1_000_000, slowest / 1_000_000);
    }

    private record KeyOutcome(String key, WglSearch.Outcome outcome, long nanos) { }
}
