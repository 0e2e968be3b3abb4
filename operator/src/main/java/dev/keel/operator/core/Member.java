package dev.keel.operator.core;

/** A member as Cluster.MemberList reports it. */
public record Member(long id, String name, String peerUrl, boolean learner) {
}
