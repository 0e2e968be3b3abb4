package dev.keel.server;

import java.util.concurrent.atomic.AtomicLong;

/**
 * etcd's idutil.Generator: ids unique across members and restarts without coordination. The high 2 bytes are the
 * low 16 bits of the member id, the next 5 bytes the start time in milliseconds, the low byte a counter (which may
 * carry into the time bytes). etcd takes lease ids from it (masked to positive values).
 */
final class IdGenerator {
    private static final int TS_LEN = 5 * 8;
    private static final int CNT_LEN = 8;
    private static final int SUFFIX_LEN = TS_LEN + CNT_LEN;

    private final long prefix;
    private final AtomicLong suffix;

    IdGenerator(long memberId, long nowMillis) {
        this.prefix = (memberId & 0xffffL) << SUFFIX_LEN;
        this.suffix = new AtomicLong(lowBits(nowMillis, TS_LEN) << CNT_LEN);
    }

    long next() {
        return prefix | lowBits(suffix.incrementAndGet(), SUFFIX_LEN);
    }

    private static long lowBits(long x, int n) {
        return x & (-1L >>> (64 - n));
    }
}
