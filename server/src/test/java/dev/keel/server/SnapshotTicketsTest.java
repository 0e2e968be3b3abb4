package dev.keel.server;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class SnapshotTicketsTest {
    private long now = 1_000;

    @Test
    void onlyIssuedUnexpiredTicketsAreValid() {
        SnapshotTickets t = new SnapshotTickets(() -> now);
        String a = t.issue();
        assertEquals(48, a.length());
        assertTrue(t.valid(a));
        assertFalse(t.valid(null));
        assertFalse(t.valid(""));
        assertFalse(t.valid(a.substring(1) + "0"), "an altered ticket");
        now += TimeUnit.MINUTES.toNanos(SnapshotTickets.VALID_MINUTES) - 1;
        assertTrue(t.valid(a));
        now += 1;
        assertFalse(t.valid(a), "expired");
    }

    @Test
    void ticketsAreDistinctAndTheOldestGiveWayBeyondTheLimit() {
        SnapshotTickets t = new SnapshotTickets(() -> now);
        String first = t.issue();
        Set<String> seen = new HashSet<>();
        seen.add(first);
        for (int i = 0; i < 64; i++) {
            now++;
            assertTrue(seen.add(t.issue()));
        }
        assertFalse(t.valid(first), "the oldest ticket was dropped");
    }
}
