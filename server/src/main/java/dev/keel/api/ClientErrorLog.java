package dev.keel.api;

import org.jboss.logging.Logger;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Errors a client caused (a request that does not parse, bad chunked encoding, a dropped connection): one line
 * each, no stack trace, at most one line per {@link #INTERVAL_NANOS} for all of them together; the line says how
 * many were left out since the last one. A misbehaving or fuzzing client can thus not grow the log faster than a
 * line per second. Stack traces stay for the server's own faults.
 */
final class ClientErrorLog {

    private static final Logger LOG = Logger.getLogger("dev.keel.api.ClientErrors");
    static final long INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final AtomicLong NEXT = new AtomicLong(System.nanoTime());
    private static final AtomicLong SUPPRESSED = new AtomicLong();

    private ClientErrorLog() {
    }

    /** Logs (or counts) one client error: where it came in, on what, and what was wrong (one line). */
    static void log(String transport, String what, String error) {
        long now = System.nanoTime();
        long next = NEXT.get();
        if (now - next >= 0 && NEXT.compareAndSet(next, now + INTERVAL_NANOS)) {
            long left = SUPPRESSED.getAndSet(0);
            LOG.warnf("client error (%s %s): %s%s", transport, what, oneLine(error),
                    left > 0 ? " [" + left + " more client errors not logged]" : "");
        } else {
            SUPPRESSED.incrementAndGet();
        }
    }

    private static String oneLine(String s) {
        if (s == null) {
            return "";
        }
        String t = s.replace('\n', ' ').replace('\r', ' ');
        return t.length() > 300 ? t.substring(0, 300) + "..." : t;
    }
}
