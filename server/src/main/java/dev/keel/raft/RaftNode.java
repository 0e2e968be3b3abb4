package dev.keel.raft;

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

    /** A snapshot of the member's Raft view, for Status. */
    RaftStatus status();

    /** The current term alone (every response header carries it), cheaper than {@link #status()}. */
    default long term() {
        return status().term();
    }

    @Override
    void close() throws Exception;
}
