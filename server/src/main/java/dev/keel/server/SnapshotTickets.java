package dev.keel.server;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Tickets for the internal snapshot download ({@link SnapshotInstaller#PATH}), which hands out the whole state,
 * auth data included. Only a Raft member can get one (it asks over the Raft connection, see
 * {@link LeaderQuestions}); the client port serves the download only against a ticket this member issued in the
 * last {@link #VALID_MINUTES} minutes.
 */
final class SnapshotTickets {
    static final long VALID_MINUTES = 10;
    private static final int MAX_OUTSTANDING = 64;

    private final SecureRandom random = new SecureRandom();
    private final Map<String, Long> expiries = new ConcurrentHashMap<>();
    private final LongSupplier nanoClock;

    SnapshotTickets() {
        this(System::nanoTime);
    }

    SnapshotTickets(LongSupplier nanoClock) {
        this.nanoClock = nanoClock;
    }

    /** A new ticket, valid for {@link #VALID_MINUTES} minutes. */
    String issue() {
        purge();
        if (expiries.size() >= MAX_OUTSTANDING) {
            // many members installing at once is unusual; the oldest tickets give way
            expiries.entrySet().stream().min(Map.Entry.comparingByValue())
                    .ifPresent(e -> expiries.remove(e.getKey()));
        }
        byte[] b = new byte[24];
        random.nextBytes(b);
        String t = HexFormat.of().formatHex(b);
        expiries.put(t, nanoClock.getAsLong() + TimeUnit.MINUTES.toNanos(VALID_MINUTES));
        return t;
    }

    /** Whether {@code ticket} was issued here and has not expired. */
    boolean valid(String ticket) {
        if (ticket == null || ticket.isEmpty()) {
            return false;
        }
        Long until = expiries.get(ticket);
        return until != null && nanoClock.getAsLong() - until < 0;
    }

    private void purge() {
        long now = nanoClock.getAsLong();
        expiries.values().removeIf(until -> now - until >= 0);
    }
}
