package dev.keel.operator.core;

/**
 * How to start one member: its ordinal and name, the server version (image tag), and the bootstrap flags. The
 * {@code --initial-*} flags only matter on an empty data dir; a member restarted on its data keeps its identity.
 *
 * @param initialCluster {@code name=peerURL,...}: the seed alone for a new cluster, every current member plus
 *                       this one for a learner joining an existing cluster
 * @param restoreFrom    a backup to restore into the empty data dir first (seed of a restored cluster), or null
 */
public record MemberSpec(int ordinal, String name, String version, String initialCluster, boolean newCluster,
                         String clusterToken, String restoreFrom) {
}
