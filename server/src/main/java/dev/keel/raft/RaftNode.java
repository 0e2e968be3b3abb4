package dev.keel.raft;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The replicated log, as the rest of the server sees it. The only implementation wraps Apache Ratis;
 * nothing outside this package imports Ratis.
 *
 * <p>Every state change goes through {@link #propose}: the command is appended to the log, committed by a
 * quorum, and handed to the {@link StateMachineApplier} of every member in log order. The future completes
 * with the bytes the local applier returned for that entry.
 */
public interface RaftNode extends AutoCloseable {

    /** Starts the member (opens the log, replays committed entries, joins elections). */
    void start() throws Exception;

    /**
     * Appends a command to the log. Completes with the applier's result once the entry is committed and applied
     * on this member, or exceptionally with a {@link RaftException}.
     */
    CompletableFuture<byte[]> propose(byte[] command);

    /**
     * A ReadIndex barrier: completes once this member has applied everything the leader had committed when the
     * call was made, so a local read afterwards is linearizable.
     */
    CompletableFuture<Void> readBarrier();

    /**
     * Sends a question to the leader's state machine ({@link StateMachineApplier#query}), outside the log: the leader
     * answers it after its own read index has been applied. Asked of the local state machine when this member
     * leads. Retried while no leader is known; fails with {@link RaftException.Timeout} or
     * {@link RaftException.NoLeader} at the request timeout.
     */
    CompletableFuture<byte[]> askLeader(byte[] query);

    /**
     * Why this member has stopped for good (its state machine failed to apply a committed entry, or the Raft
     * server died under it), or null while it runs (or is still starting, or was closed on purpose). Liveness
     * checks fail on it: only a restart can help.
     */
    default String failure() {
        return null;
    }

    /** A snapshot of the member's Raft view, for Status. */
    RaftStatus status();

    /** The current term alone (every response header carries it), cheaper than {@link #status()}. */
    default long term() {
        return status().term();
    }

    /** Whether this member is a non-voting learner, cheaper than {@link #status()} (asked on every request). */
    default boolean isLearner() {
        return status().isLearner();
    }

    /** The Raft configuration as this member knows it. */
    RaftMembers members();

    /**
     * Leader only: replaces the configuration with these voters and learners (member id to "host:port"). New voters
     * first catch up, so this completes only once they have (or fails with {@link RaftException.Timeout}). One
     * change at a time; fails with {@link RaftException.NotLeader} on a follower.
     */
    CompletableFuture<Void> changeMembers(Map<String, String> voters, Map<String, String> learners);

    /**
     * Leader only: the highest log index each member (this one included) is known to have committed; empty on a
     * follower.
     */
    Map<String, Long> progress();

    /**
     * Leader only: how many milliseconds ago each other member last answered this leader (etcd's "active since"
     * for --strict-reconfig-check); empty on a follower.
     */
    default Map<String, Long> lastContactMillis() {
        return Map.of();
    }

    /** Hands leadership to {@code memberId}; completes once it has taken over, or fails. */
    CompletableFuture<Void> transferLeadership(String memberId, Duration timeout);

    @Override
    void close() throws Exception;
}
