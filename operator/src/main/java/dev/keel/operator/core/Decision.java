package dev.keel.operator.core;

import java.util.List;

/**
 * What to do now: one action, the operation to persist when it succeeds ({@code next}, null = no operation in
 * flight) and when it fails ({@code onFailure}, null = keep the current one and count the failed attempt), the
 * phase and a person-readable message, and the events to record.
 */
public record Decision(Action action, Operation next, Operation onFailure, Phase phase, String reason,
                       String message, List<Event> events) {

    public enum Phase { Creating, Restoring, Running, Scaling, Upgrading, Downgrading, Replacing, Degraded, QuorumLost,
        Paused }

    /** A Kubernetes event: Normal or Warning, a CamelCase reason, a message a person can act on. */
    public record Event(boolean warning, String reason, String message) {
        public static Event normal(String reason, String message) {
            return new Event(false, reason, message);
        }

        public static Event warning(String reason, String message) {
            return new Event(true, reason, message);
        }
    }

    static Decision of(Action action, Operation next, Phase phase, String reason, String message, Event... events) {
        return new Decision(action, next, null, phase, reason, message, List.of(events));
    }

    static Decision wait(Operation op, Phase phase, String reason, String message, Event... events) {
        return new Decision(Action.NONE, op, null, phase, reason, message, List.of(events));
    }

    Decision onFailure(Operation failure) {
        return new Decision(action, next, failure, phase, reason, message, events);
    }

    /** Whether an operation is in flight after this decision. */
    public boolean progressing() {
        return next != null && next.step() != Operation.Step.Failed;
    }
}
