package dev.keel.e2e.linearizability;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Randomised: histories generated from a real sequential execution must pass; the same histories with one read's
 * result changed in a way that provably breaks linearizability must fail. Plus the performance bound.
 */
class RandomHistoryTest {

    private static final int ROUNDS = 300;

    @Test
    void generatedHistoriesPassAndMutatedOnesFail() {
        int mutated = 0;
        int perKeyOnly = 0;
        for (int seed = 0; seed < ROUNDS; seed++) {
            Random rnd = new Random(seed * 7919L);
            HistoryGenerator g = new HistoryGenerator(seed, 2 + rnd.nextInt(6), 1 + rnd.nextInt(4),
                    20 + rnd.nextInt(120), rnd.nextDouble() * 0.15);
            CheckResult ok = LinearizabilityChecker.check(g.ops);
            assertEquals(CheckResult.Verdict.LINEARIZABLE, ok.verdict(), "seed " + seed + ": " + ok.report());

            List<Operation> reads = g.ops.stream()
                    .filter(o -> !o.unknown() && o.input().kind() == Op.Kind.GET).toList();
            if (reads.isEmpty()) {
                continue;
            }
            // (a) a value nobody ever wrote
            Operation r = reads.get(rnd.nextInt(reads.size()));
            long m = r.output().modRevision() == 0 ? 1 : r.output().modRevision();
            expectViolation(replace(g.ops, r, Result.get("never-written", m, r.output().revision())),
                    seed, "never-written value");
            expectViolation(replace(stripReadHeaders(g.ops), r, Result.get("never-written", m, 0)),
                    seed, "never-written value, per key only");
            mutated++;

            // (b) a stale version: older than a write to the key that completed before the read started
            Stale stale = findStale(g, reads, rnd);
            if (stale != null) {
                Result old = Result.get(stale.version.value(), stale.version.rev(), stale.read.output().revision());
                expectViolation(replace(g.ops, stale.read, old), seed, "stale read " + stale);
                Result oldNoHeader = Result.get(stale.version.value(), stale.version.rev(), 0);
                expectViolation(replace(stripReadHeaders(g.ops), stale.read, oldNoHeader), seed,
                        "stale read, per key only " + stale);
                perKeyOnly++;
            }

            // (c) a header revision below a write that completed before the read started
            for (Operation read : reads) {
                Operation w = latestCompletedWriteBefore(g.ops, read.call());
                if (w != null) {
                    Result res = read.output();
                    long h = w.output().revision() - 1;
                    Result lowered = new Result(h, res.value(), Math.min(res.modRevision(), h), true, 0);
                    if (res.value() != null && res.modRevision() > h) {
                        continue; // would need a different value too; not this mutation
                    }
                    expectViolation(replace(g.ops, read, lowered), seed, "header revision below " + w);
                    break;
                }
            }
        }
        assertTrue(mutated > ROUNDS * 3 / 4, "mutated " + mutated);
        assertTrue(perKeyOnly > ROUNDS / 3, "stale mutations " + perKeyOnly);
    }

    private record Stale(Operation read, Operation write, HistoryGenerator.Version version) { }

    /** A read R, a known write W to R's key with W.ret &lt; R.call, and a present version of the key older than W. */
    private static Stale findStale(HistoryGenerator g, List<Operation> reads, Random rnd) {
        List<Operation> shuffled = new ArrayList<>(reads);
        java.util.Collections.shuffle(shuffled, rnd);
        for (Operation r : shuffled) {
            String key = r.input().key();
            Operation w = null;
            for (Operation o : g.ops) {
                if (o.knownWrite() && o.input().key().equals(key) && o.ret() < r.call()
                        && (w == null || o.output().revision() > w.output().revision())) {
                    w = o;
                }
            }
            if (w == null) {
                continue;
            }
            for (HistoryGenerator.Version v : g.versions.getOrDefault(key, List.of())) {
                if (v.value() != null && v.rev() < w.output().revision()) {
                    return new Stale(r, w, v);
                }
            }
        }
        return null;
    }

    private static Operation latestCompletedWriteBefore(List<Operation> ops, long t) {
        Operation w = null;
        for (Operation o : ops) {
            if (o.knownWrite() && o.ret() < t && (w == null || o.output().revision() > w.output().revision())) {
                w = o;
            }
        }
        return w;
    }

    private static List<Operation> replace(List<Operation> ops, Operation target, Result result) {
        List<Operation> out = new ArrayList<>(ops);
        int at = -1;
        for (int i = 0; i < out.size(); i++) {
            if (out.get(i).id() == target.id()) {
                at = i;
            }
        }
        out.set(at, new Operation(target.id(), target.client(), target.input(), target.call(),
                target.ret(), result));
        return out;
    }

    /** Without header revisions on reads, only the per-key search can see a stale value. */
    private static List<Operation> stripReadHeaders(List<Operation> ops) {
        List<Operation> out = new ArrayList<>(ops.size());
        for (Operation o : ops) {
            if (!o.unknown() && o.input().kind() == Op.Kind.GET) {
                o = new Operation(o.id(), o.client(), o.input(), o.call(), o.ret(),
                        Result.get(o.output().value(), o.output().modRevision(), 0));
            }
            out.add(o);
        }
        return out;
    }

    private static void expectViolation(List<Operation> ops, int seed, String what) {
        CheckResult r = LinearizabilityChecker.check(ops);
        assertEquals(CheckResult.Verdict.VIOLATION, r.verdict(), "seed " + seed + ", " + what + ": " + r.report());
    }

    @Test
    void twentyThousandOperationsOnFiftyKeysCheckInSeconds() {
        HistoryGenerator g = new HistoryGenerator(42, 16, 50, 20_000, 0.01);
        long unknown = g.ops.stream().filter(Operation::unknown).count();
        CheckResult r = LinearizabilityChecker.check(g.ops);
        System.out.println("[perf] 20000 ops / 50 keys / 16 clients / " + unknown + " unknown: " + r.report());
        r.assertLinearizable();
        assertTrue(r.millis() < 20_000, r.report());

        // and a broken one is found as fast
        Operation read = g.ops.stream().filter(o -> !o.unknown() && o.input().kind() == Op.Kind.GET)
                .skip(10_000 / 3).findFirst().orElseThrow();
        CheckResult bad = LinearizabilityChecker.check(replace(g.ops, read, Result.get("never-written", 1, 0)));
        System.out.println("[perf] same history, one read broken: " + bad.verdict() + " in " + bad.millis() + " ms");
        assertEquals(CheckResult.Verdict.VIOLATION, bad.verdict());
    }

    @Test
    void withoutAnyRevisionsTheSearchAloneOrdersTheWrites() {
        // no revisions recorded at all: the per-key search has to find the order of concurrent writes itself
        HistoryGenerator g = new HistoryGenerator(43, 16, 50, 20_000, 0.01);
        List<Operation> ops = new ArrayList<>();
        for (Operation o : g.ops) {
            Result r = o.output();
            if (r != null) {
                r = new Result(0, r.value(), 0, r.succeeded(), r.deleted());
            }
            ops.add(new Operation(o.id(), o.client(), o.input(), o.call(), o.ret(), r));
        }
        CheckResult r = LinearizabilityChecker.check(ops);
        System.out.println("[perf] 20000 ops / 50 keys / 16 clients, no revisions: " + r.report());
        r.assertLinearizable();
        Operation read = ops.stream().filter(o -> !o.unknown() && o.input().kind() == Op.Kind.GET
                && o.output().value() != null).skip(5000).findFirst().orElseThrow();
        CheckResult bad = LinearizabilityChecker.check(replace(ops, read, Result.get("never-written", 0, 0)));
        System.out.println("[perf] same, one read broken: " + bad.report().lines().findFirst().orElse("")
                + "\n" + bad.violations().get(0));
        assertEquals(CheckResult.Verdict.VIOLATION, bad.verdict());
    }

    @Test
    void manyUnknownOutcomes() {
        // a fault-injection-like history: 20% of operations time out (half of those took effect)
        HistoryGenerator g = new HistoryGenerator(44, 8, 10, 5_000, 0.20);
        CheckResult r = LinearizabilityChecker.check(g.ops);
        System.out.println("[perf] 5000 ops / 10 keys / 8 clients / 20% unknown: " + r.report());
        r.assertLinearizable();
    }

    @Test
    void heavilyContendedSingleKey() {
        // 8 clients on ONE key, 2000 ops, 3% unknown: the hard case for the search
        HistoryGenerator g = new HistoryGenerator(7, 8, 1, 2_000, 0.03);
        CheckResult r = LinearizabilityChecker.check(g.ops);
        System.out.println("[perf] 2000 ops / 1 key / 8 clients: " + r.report());
        r.assertLinearizable();
    }
}
