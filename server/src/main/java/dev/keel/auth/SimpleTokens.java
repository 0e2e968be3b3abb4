package dev.keel.auth;

import java.security.SecureRandom;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * etcd's simple tokens: 16 random letters, a dot and the Raft index of the Authenticate entry. Every member
 * records the token when it applies that entry, so a token works on any member that has applied it. A token lives
 * for the TTL after its last use (etcd's --auth-token-ttl, 300 s by default), and dies with a password change,
 * the deletion of its user or the disabling of auth. Not signed: it is only as secret as the connection.
 */
public final class SimpleTokens implements TokenProvider {

    private static final String LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    private static final int LENGTH = 16;

    private record Entry(String username, long expiresAtNanos) {
    }

    private final SecureRandom random = new SecureRandom();
    private final long ttlNanos;
    private final LongSupplier clock;
    private final Map<String, Entry> tokens = new HashMap<>();
    private boolean enabled;

    public SimpleTokens(long ttlSeconds, LongSupplier nanoClock) {
        this.ttlNanos = (ttlSeconds <= 0 ? 300 : ttlSeconds) * 1_000_000_000L;
        this.clock = nanoClock;
    }

    @Override
    public synchronized AuthInfo info(String token, long currentRevision) {
        int dot = token.indexOf('.');
        if (dot < 0 || dot != token.lastIndexOf('.')) {
            return null;
        }
        try {
            Long.parseUnsignedLong(token.substring(dot + 1));
        } catch (NumberFormatException e) {
            return null;
        }
        Entry e = tokens.get(token);
        long now = clock.getAsLong();
        if (e == null) {
            return null;
        }
        if (now - e.expiresAtNanos > 0) {
            tokens.remove(token);
            return null;
        }
        tokens.put(token, new Entry(e.username, now + ttlNanos)); // each use extends the token's life
        return new AuthInfo(e.username, currentRevision);
    }

    @Override
    public synchronized String assign(String username, long revision, String prefix, long index) {
        String token = prefix + "." + index;
        if (enabled) {
            expire();
            tokens.put(token, new Entry(username, clock.getAsLong() + ttlNanos));
        }
        return token;
    }

    private void expire() {
        long now = clock.getAsLong();
        for (Iterator<Entry> it = tokens.values().iterator(); it.hasNext(); ) {
            if (now - it.next().expiresAtNanos > 0) {
                it.remove();
            }
        }
    }

    @Override
    public String newPrefix() {
        StringBuilder sb = new StringBuilder(LENGTH);
        for (int i = 0; i < LENGTH; i++) {
            sb.append(LETTERS.charAt(random.nextInt(LETTERS.length())));
        }
        return sb.toString();
    }

    @Override
    public synchronized void enable() {
        enabled = true;
    }

    @Override
    public synchronized void disable() {
        enabled = false;
        tokens.clear();
    }

    @Override
    public synchronized void invalidateUser(String username) {
        tokens.values().removeIf(e -> e.username.equals(username));
    }

    synchronized int size() {
        return tokens.size();
    }
}
