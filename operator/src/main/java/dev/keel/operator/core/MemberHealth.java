package dev.keel.operator.core;

import java.util.List;

/**
 * What Maintenance.Status on one member's own endpoint says (etcd's fields): {@code raftIndex} is the committed
 * index, {@code appliedIndex} the applied one, {@code leader} 0 when the member knows no leader.
 */
public record MemberHealth(boolean reachable, long memberId, long leader, long raftIndex, long appliedIndex,
                           boolean learner, String version, List<String> errors, String error) {

    public static MemberHealth unreachable(String why) {
        return new MemberHealth(false, 0, 0, 0, 0, false, "", List.of(), why);
    }

    /** Answers, knows a leader, and reports no alarm. */
    public boolean healthy() {
        return reachable && leader != 0 && errors.isEmpty();
    }
}
