package dev.keel.e2e.linearizability;

import java.util.List;

/** The outcome of {@link LinearizabilityChecker#check}. */
public final class CheckResult {

    public enum Verdict {
        /** Every check passed on every key. */
        LINEARIZABLE,
        /** At least one check found a history that no linearization explains (see {@link #violations()}). */
        VIOLATION,
        /** No violation found, but some key's search hit its limit: that key was NOT checked. Not a pass. */
        UNKNOWN
    }

    private final int checkedOps;
    private final int unknownOps;
    private final int droppedUnknownReads;
    private final int keys;
    private final List<String> violations;
    private final List<String> undecided;
    private final long steps;
    private final long millis;
    private final long slowestKeyMillis;

    CheckResult(int checkedOps, int unknownOps, int droppedUnknownReads, int keys, List<String> violations,
                List<String> undecided, long steps, long millis, long slowestKeyMillis) {
        this.checkedOps = checkedOps;
        this.unknownOps = unknownOps;
        this.droppedUnknownReads = droppedUnknownReads;
        this.keys = keys;
        this.violations = List.copyOf(violations);
        this.undecided = List.copyOf(undecided);
        this.steps = steps;
        this.millis = millis;
        this.slowestKeyMillis = slowestKeyMillis;
    }

    public Verdict verdict() {
        return !violations.isEmpty() ? Verdict.VIOLATION : !undecided.isEmpty() ? Verdict.UNKNOWN : Verdict.LINEARIZABLE;
    }

    public boolean isLinearizable() {
        return verdict() == Verdict.LINEARIZABLE;
    }

    /** Operations the checker looked at (unknown-outcome writes included, unknown-outcome reads not). */
    public int checkedOps() {
        return checkedOps;
    }

    /** Of {@link #checkedOps()}, those with an unknown outcome. */
    public int unknownOps() {
        return unknownOps;
    }

    /** Reads with an unknown outcome, left out (they constrain nothing). */
    public int droppedUnknownReads() {
        return droppedUnknownReads;
    }

    public int keys() {
        return keys;
    }

    /** One readable explanation per violating key and per failed revision check. */
    public List<String> violations() {
        return violations;
    }

    /** One line per key whose search hit its limit. */
    public List<String> undecided() {
        return undecided;
    }

    public long steps() {
        return steps;
    }

    public long millis() {
        return millis;
    }

    public long slowestKeyMillis() {
        return slowestKeyMillis;
    }

    /** A one-line summary followed by every violation and undecided key. */
    public String report() {
        StringBuilder sb = new StringBuilder();
        sb.append(verdict()).append(": ").append(checkedOps).append(" operations (").append(unknownOps)
                .append(" with unknown outcome, ").append(droppedUnknownReads).append(" unknown reads dropped) on ")
                .append(keys).append(" keys, ").append(steps).append(" search steps, ").append(millis)
                .append(" ms (slowest key ").append(slowestKeyMillis).append(" ms)");
        for (String v : violations) {
            sb.append("\n").append(v);
        }
        for (String u : undecided) {
            sb.append("\n").append(u);
        }
        return sb.toString();
    }

    /** Throws an {@link AssertionError} with the {@link #report()} unless the verdict is LINEARIZABLE. */
    public CheckResult assertLinearizable() {
        if (!isLinearizable()) {
            throw new AssertionError(report());
        }
        return this;
    }

    @Override
    public String toString() {
        return report();
    }
}
