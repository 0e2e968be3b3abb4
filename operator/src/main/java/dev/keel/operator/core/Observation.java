package dev.keel.operator.core;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * What the engine saw in one pass, the planner's only input besides the spec and the operation in flight.
 *
 * @param members       MemberList as answered by any member, or null when no member answered
 * @param clusterId     from that answer's header (0 if none)
 * @param health        Maintenance.Status per member name (unreachable entries included)
 * @param pods          the members' workloads by ordinal
 * @param unhealthySince per member name, since when it has been seen unhealthy (kept across passes)
 */
public record Observation(Instant now, List<Member> members, long clusterId, Map<String, MemberHealth> health,
                          Map<Integer, PodState> pods, Map<String, Instant> unhealthySince, boolean bootstrapped) {

    public MemberHealth healthOf(String name) {
        MemberHealth h = health.get(name);
        return h == null ? MemberHealth.unreachable("not observed") : h;
    }

    /** A member counts as healthy when its status says so and its workload (if it has one) is not going away. */
    public boolean healthy(Member m) {
        return healthOf(m.name()).healthy();
    }

    /**
     * The leader, when every healthy member names the same one; null while they disagree (an election, or a
     * member that has not heard of the new term yet) or none is known.
     */
    public Member leader() {
        if (members == null) {
            return null;
        }
        long agreed = 0;
        for (Member m : members) {
            MemberHealth h = healthOf(m.name());
            if (h.healthy()) {
                if (agreed != 0 && agreed != h.leader()) {
                    return null;
                }
                agreed = h.leader();
            }
        }
        for (Member candidate : members) {
            if (candidate.id() == agreed && agreed != 0) {
                return candidate;
            }
        }
        return null;
    }
}
