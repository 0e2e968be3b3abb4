package dev.keel.raft;

import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * Lets concurrent read barriers share one ReadIndex round.
 *
 * <p>At most one barrier is in flight. A caller arriving while none is in flight issues a new one at once. A caller
 * arriving while one is in flight must NOT join it (that barrier's read index may have been fixed before the caller
 * arrived, so it could miss a write the caller has already seen acknowledged); it joins the single queued barrier
 * instead, which is issued as soon as the in-flight one completes. So every caller waits for a barrier issued after
 * it arrived, and a burst of N concurrent reads costs at most two ReadIndex rounds.
 *
 * <p>Deadlines: a barrier's deadline is its creation time plus the timeout. A queued barrier is created after the
 * in-flight one, so the in-flight one (which the issuer must complete by its deadline) finishes before the queued
 * one's deadline; the issuer gets what is left.
 *
 * <p>No Ratis types here, so it is unit-testable on its own.
 */
final class ReadBarrierCoalescer {

    /** Starts one ReadIndex round; must complete {@code barrier} (normally or exceptionally) by the deadline. */
    interface Issuer {
        void issue(CompletableFuture<Void> barrier, long deadlineNanos);
    }

    private record Barrier(CompletableFuture<Void> future, long deadlineNanos) {
    }

    private final Issuer issuer;
    private final long timeoutNanos;
    private final Object lock = new Object();
    private boolean inFlight;
    private Barrier queued;

    ReadBarrierCoalescer(Issuer issuer, long timeoutNanos) {
        this.issuer = Objects.requireNonNull(issuer, "issuer");
        this.timeoutNanos = timeoutNanos;
    }

    /**
     * Returns a future that completes once a barrier issued after this call has completed. The returned future is
     * shared between callers: callers must not complete it themselves (hand out a copy).
     */
    CompletableFuture<Void> join() {
        final Barrier mine;
        boolean issueNow = false;
        synchronized (lock) {
            if (queued != null) {
                mine = queued;
            } else {
                mine = new Barrier(new CompletableFuture<>(), System.nanoTime() + timeoutNanos);
                if (inFlight) {
                    queued = mine;
                } else {
                    inFlight = true;
                    issueNow = true;
                }
            }
        }
        if (issueNow) {
            issue(mine);
        }
        return mine.future();
    }

    /** Fails the queued barrier (if any); the in-flight one is failed by its issuer. */
    void failQueued(Throwable cause) {
        final Barrier q;
        synchronized (lock) {
            q = queued;
            queued = null;
        }
        if (q != null) {
            q.future().completeExceptionally(cause);
        }
    }

    private void issue(Barrier barrier) {
        barrier.future().whenComplete((v, t) -> onDone());
        try {
            issuer.issue(barrier.future(), barrier.deadlineNanos());
        } catch (Throwable t) {
            barrier.future().completeExceptionally(t);
        }
    }

    private void onDone() {
        final Barrier next;
        synchronized (lock) {
            next = queued;
            queued = null;
            if (next == null) {
                inFlight = false;
            }
        }
        if (next != null) {
            issue(next);
        }
    }
}
