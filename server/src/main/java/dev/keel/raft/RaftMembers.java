package dev.keel.raft;

import java.util.Map;

/**
 * The Raft configuration: who votes and who only learns, each member id (hex) with its "host:port".
 *
 * @param voters   members that vote and count towards a quorum
 * @param learners members that receive the log but do not vote (etcd's learners, Ratis' listeners)
 * @param changing a configuration change is still in progress (joint consensus or a new member catching up)
 */
public record RaftMembers(Map<String, String> voters, Map<String, String> learners, boolean changing) {
}
