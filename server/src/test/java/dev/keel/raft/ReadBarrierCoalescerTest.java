package dev.keel.raft;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReadBarrierCoalescerTest {

    private final List<CompletableFuture<Void>> issued = new ArrayList<>();
    private final ReadBarrierCoalescer coalescer = new ReadBarrierCoalescer(
            (barrier, deadline) -> issued.add(barrier), TimeUnit.SECONDS.toNanos(5));

    @Test
    void firstBarrierIsIssuedAtOnce() {
        final CompletableFuture<Void> a = coalescer.join();
        assertEquals(1, issued.size());
        assertSame(a, issued.get(0));
        assertFalse(a.isDone());
        issued.get(0).complete(null);
        assertTrue(a.isDone());
    }

    @Test
    void readsArrivingWhileOneIsInFlightShareTheNextBarrierNotTheInFlightOne() {
        final CompletableFuture<Void> first = coalescer.join();
        final CompletableFuture<Void> second = coalescer.join();
        final CompletableFuture<Void> third = coalescer.join();
        assertEquals(1, issued.size(), "only one ReadIndex in flight");
        assertNotSame(first, second, "a read arriving after a barrier was issued must not reuse it");
        assertSame(second, third, "reads queued behind the in-flight barrier share one");

        first.complete(null);
        assertEquals(2, issued.size(), "the queued barrier is issued when the in-flight one completes");
        assertSame(second, issued.get(1));
        assertFalse(second.isDone(), "the queued barrier completes only with its own ReadIndex");

        // A read that arrives now (second is in flight) must wait for a third barrier.
        final CompletableFuture<Void> fourth = coalescer.join();
        assertNotSame(second, fourth);
        assertEquals(2, issued.size());
        second.complete(null);
        assertEquals(3, issued.size());
        assertSame(fourth, issued.get(2));
        fourth.complete(null);

        // Idle again: the next read issues immediately.
        final CompletableFuture<Void> fifth = coalescer.join();
        assertEquals(4, issued.size());
        assertSame(fifth, issued.get(3));
    }

    @Test
    void aFailedBarrierStillReleasesTheQueuedOne() {
        final CompletableFuture<Void> first = coalescer.join();
        final CompletableFuture<Void> second = coalescer.join();
        first.completeExceptionally(new RaftException.Timeout("t"));
        assertEquals(2, issued.size());
        assertSame(second, issued.get(1));
    }

    @Test
    void failQueuedFailsOnlyTheQueuedBarrier() {
        final CompletableFuture<Void> first = coalescer.join();
        final CompletableFuture<Void> second = coalescer.join();
        coalescer.failQueued(new RaftException.Stopped("closing"));
        assertTrue(second.isCompletedExceptionally());
        assertFalse(first.isDone());
        first.complete(null);
        assertEquals(1, issued.size(), "nothing left to issue");
    }
}
