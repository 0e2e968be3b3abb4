package dev.keel.raft;

/**
 * The member's Raft view at one moment.
 *
 * @param term         current term
 * @param leaderId     member id of the current leader as known here, or {@code null} if none
 * @param isLeader     this member is the leader
 * @param isLearner    this member is a non-voting learner
 * @param commitIndex  highest log index known committed
 * @param appliedIndex highest log index applied to the state machine
 */
public record RaftStatus(long term, String leaderId, boolean isLeader, boolean isLearner,
                         long commitIndex, long appliedIndex) {
}
