package dev.keel.operator.core;

import java.time.Duration;

/** The desired state and the knobs of the state machine, taken from a KVCluster's spec. */
public record Policy(
        String cluster,
        int replicas,
        String version,
        boolean allowDowngrade,
        boolean paused,
        long maxIndexLag,
        Duration learnerStableFor,
        Duration learnerTimeout,
        Duration minReady,
        Duration gateTimeout,
        boolean autoReplace,
        Duration unhealthyAfter,
        boolean deletePvcOnScaleDown,
        Duration failureBackoff,
        String restoreFrom) {

    /** Defaults as documented in the CRD, for tests and for fields left out. */
    public static Policy defaults(String cluster, int replicas, String version) {
        return new Policy(cluster, replicas, version, false, false, 1000, Duration.ofSeconds(10),
                Duration.ofMinutes(15), Duration.ofSeconds(10), Duration.ofMinutes(10), true, Duration.ofMinutes(5),
                true, Duration.ofMinutes(1), null);
    }

    public Policy withReplicas(int r) {
        return new Policy(cluster, r, version, allowDowngrade, paused, maxIndexLag, learnerStableFor, learnerTimeout,
                minReady, gateTimeout, autoReplace, unhealthyAfter, deletePvcOnScaleDown, failureBackoff, restoreFrom);
    }

    public Policy withVersion(String v) {
        return new Policy(cluster, replicas, v, allowDowngrade, paused, maxIndexLag, learnerStableFor, learnerTimeout,
                minReady, gateTimeout, autoReplace, unhealthyAfter, deletePvcOnScaleDown, failureBackoff, restoreFrom);
    }

    public Policy withAllowDowngrade(boolean a) {
        return new Policy(cluster, replicas, version, a, paused, maxIndexLag, learnerStableFor, learnerTimeout,
                minReady, gateTimeout, autoReplace, unhealthyAfter, deletePvcOnScaleDown, failureBackoff, restoreFrom);
    }

    public Policy withPaused(boolean p) {
        return new Policy(cluster, replicas, version, allowDowngrade, p, maxIndexLag, learnerStableFor, learnerTimeout,
                minReady, gateTimeout, autoReplace, unhealthyAfter, deletePvcOnScaleDown, failureBackoff, restoreFrom);
    }

    public Policy withRestoreFrom(String r) {
        return new Policy(cluster, replicas, version, allowDowngrade, paused, maxIndexLag, learnerStableFor, learnerTimeout,
                minReady, gateTimeout, autoReplace, unhealthyAfter, deletePvcOnScaleDown, failureBackoff, r);
    }

    public String memberName(int ordinal) {
        return cluster + "-" + ordinal;
    }

    /** The ordinal of a member named {@code <cluster>-<n>}, or -1 for a name the operator did not give. */
    public int ordinalOf(String memberName) {
        String prefix = cluster + "-";
        if (memberName == null || !memberName.startsWith(prefix)) {
            return -1;
        }
        try {
            return Integer.parseInt(memberName.substring(prefix.length()));
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
