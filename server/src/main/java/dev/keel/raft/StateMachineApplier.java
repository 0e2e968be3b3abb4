package dev.keel.raft;

/**
 * The deterministic state that the log drives. Implemented above this package (by the server, which routes to
 * MVCC, leases, auth, membership) and called by the Raft engine.
 *
 * <p>Invariants the engine relies on:
 * <ul>
 *   <li>{@link #apply} is called from one thread, in strictly increasing index order.</li>
 *   <li>The applier persists the index and term of each applied entry atomically with the data it produced,
 *       and ignores (returns {@code null} for) entries whose index is not above {@link #appliedIndex()}, so
 *       replay after a crash is harmless.</li>
 *   <li>The result depends only on the state and the command, never on time, randomness or the member.</li>
 * </ul>
 */
public interface StateMachineApplier {

    /** Index of the last applied entry, as persisted; 0 if nothing has been applied. */
    long appliedIndex();

    /** Term of the entry at {@link #appliedIndex()}; 0 if nothing has been applied. */
    long appliedTerm();

    /** Applies one committed command and returns the result to hand back to the proposer. */
    byte[] apply(long index, long term, byte[] command);

    /**
     * Makes everything applied so far durable (independent of the Raft log) and returns the applied index it
     * covers. The engine may discard log entries up to that index afterwards.
     */
    long persist();

    /**
     * Replaces the whole state with a copy of the leader's (the leader no longer has the log entries this member
     * needs). Afterwards {@link #appliedIndex()} / {@link #appliedTerm()} report the copy's position. Called off the
     * apply thread while nothing is being applied.
     *
     * @param leaderId member id (hex) of the leader to copy from
     */
    default java.util.concurrent.CompletableFuture<Void> installSnapshot(String leaderId) {
        return java.util.concurrent.CompletableFuture.failedFuture(
                new UnsupportedOperationException("this state machine cannot install snapshots"));
    }

    /**
     * Answers a read-only query against the applied state (e.g. a joining member asking for the member list).
     * Called after a read barrier, on any member.
     */
    default byte[] query(byte[] request) {
        return new byte[0];
    }
}
