package dev.keel.operator.core;

import java.time.Instant;

/**
 * The one membership or version change in flight, persisted in the KVCluster's status after every step so that a
 * restarted operator resumes it where it was. Immutable; the planner returns the next one.
 *
 * @param ordinal       the member the current step is about (-1: none yet, e.g. between two members of a roll)
 * @param stepSince     when the current step began (timeouts count from here)
 * @param stableSince   since when the catch-up / health gate has held without interruption, or null
 * @param targetVersion for Upgrade/Downgrade: the version being rolled to
 */
public record Operation(Type type, Step step, int ordinal, Instant startedAt, Instant stepSince,
                        Instant stableSince, String targetVersion, int attempts, String lastError) {

    public enum Type { Create, ScaleUp, ScaleDown, Replace, Upgrade, Downgrade }

    public enum Step {
        // create
        SeedStarting,
        // learner-first join (ScaleUp, and Replace after the old member is gone)
        AddLearner, CreatePod, CatchUp, Rollback, RollbackDeletePod,
        // scale down and the first half of Replace
        MoveLeader, RemoveMember, DeletePod,
        // rolling update
        DowngradeValidate, DowngradeEnable, NextMember, RollDeletePod, RollCreatePod, HealthGate,
        // stopped; waits for the spec to change (a person decides)
        Failed
    }

    public static Operation start(Type type, Step step, int ordinal, Instant now, String targetVersion) {
        return new Operation(type, step, ordinal, now, now, null, targetVersion, 0, null);
    }

    /** The next step of the same operation (timers restart, errors are forgotten). */
    public Operation to(Step next, int ordinal, Instant now) {
        return new Operation(type, next, ordinal, startedAt, now, null, targetVersion, 0, null);
    }

    public Operation to(Step next, Instant now) {
        return to(next, ordinal, now);
    }

    public Operation stable(Instant since) {
        return new Operation(type, step, ordinal, startedAt, stepSince, since, targetVersion, attempts, lastError);
    }

    public Operation failedAttempt(String error) {
        return new Operation(type, step, ordinal, startedAt, stepSince, stableSince, targetVersion, attempts + 1,
                error);
    }

    public Operation failed(String why, Instant now) {
        return new Operation(type, Step.Failed, ordinal, startedAt, now, null, targetVersion, attempts, why);
    }
}
