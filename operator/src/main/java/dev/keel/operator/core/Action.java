package dev.keel.operator.core;

/** One side effect the engine carries out for a decision. Each is idempotent or guarded by the planner. */
public sealed interface Action {

    record None() implements Action { }

    record CreateMember(MemberSpec spec) implements Action { }

    /** Stops the member's workload; with {@code deleteData} its volume goes too. */
    record DeletePod(int ordinal, boolean deleteData) implements Action { }

    record AddLearner(String peerUrl) implements Action { }

    record Promote(long memberId) implements Action { }

    record RemoveMember(long memberId) implements Action { }

    /** Maintenance.MoveLeader, sent to the current leader. */
    record MoveLeader(long leaderId, long targetId) implements Action { }

    record Downgrade(Kind kind, String version) implements Action {
        public enum Kind { VALIDATE, ENABLE, CANCEL }
    }

    None NONE = new None();
}
