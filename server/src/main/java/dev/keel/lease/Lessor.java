package dev.keel.lease;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.keel.errors.EtcdError;
import dev.keel.proto.etcdserverpb.LeaseCheckpoint;
import dev.keel.proto.etcdserverpb.LeaseCheckpointRequest;
import dev.keel.proto.internal.LeaseRecord;
import dev.keel.storage.Storage;
import org.jboss.logging.Logger;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;

/**
 * etcd's lessor: the leases, the keys attached to them, and (on the leader only) when each lease expires.
 *
 * <p><b>Replicated state</b> (changed only by the apply thread, identically on every member): which leases exist,
 * their granted TTL and last checkpointed remaining TTL (persisted in column {@value #COLUMN}, written in the batch
 * of the entry that changed them, see {@link #commit}), and which key is attached to which lease (not persisted:
 * rebuilt at startup from the live keys' {@code lease} field, see {@link #restoreKey}).
 *
 * <p><b>Primary state</b> (the leader's, in memory only): expiry times. A lessor starts as a follower, where every
 * lease lives forever; {@link #promote} (when its member has become leader and applied everything of the earlier
 * terms) sets every expiry to now + remaining TTL + {@code extend}; {@link #demote} sets them back to forever.
 * Only the primary renews leases and finds expired ones; the server revokes those through the log, so every member
 * deletes the same keys at the same revision.
 *
 * <p>Thread-safe: the apply thread, the server's lease loop and request threads call in concurrently.
 */
public final class Lessor {

    private static final Logger LOG = Logger.getLogger(Lessor.class);

    public static final String COLUMN = "lease";
    public static final List<String> COLUMNS = List.of(COLUMN);
    /** etcd's MaxLeaseTTL: larger TTLs are refused ("too large lease TTL"). */
    public static final long MAX_LEASE_TTL = 9_000_000_000L;
    /** etcd's defaultLeaseRevokeRate (leases revoked per second at most). */
    public static final int DEFAULT_REVOKE_RATE = 1000;
    /** etcd's defaultLeaseCheckpointInterval. */
    public static final long DEFAULT_CHECKPOINT_INTERVAL_NANOS = 5L * 60 * 1_000_000_000L;
    /** etcd's maxLeaseCheckpointBatchSize. */
    public static final int MAX_CHECKPOINT_BATCH = 1000;

    private static final long SECOND = 1_000_000_000L;
    private static final long FOREVER = Long.MAX_VALUE;

    /**
     * @param minTtlSeconds      shorter TTLs are raised to this (etcd: ceil(3/2 election ticks × heartbeat))
     * @param checkpointInterval how often the primary checkpoints a long lease's remaining TTL, ns
     * @param expiredRetryNanos  after handing out an expired lease, hand it out again after this long if it has
     *                           not been revoked by then (etcd: the request timeout)
     * @param revokeRate         at most this many leases are handed out for revocation per second
     */
    public record Config(long minTtlSeconds, long checkpointInterval, long expiredRetryNanos, int revokeRate) {
    }

    /** Deletes one key on behalf of a revoke (etcd's RangeDeleter), inside the revoke's transaction. */
    @FunctionalInterface
    public interface KeyDeleter {
        void delete(ByteString key);
    }

    /**
     * Records remaining TTLs in the log (etcd's Checkpointer). Set only when lease checkpointing is enabled; the
     * future completes once the checkpoint has been applied.
     */
    @FunctionalInterface
    public interface Checkpointer {
        CompletableFuture<Void> checkpoint(LeaseCheckpointRequest request);
    }

    /** This lessor is not (or no longer) the primary: the caller must go to the leader or retry. */
    public static final class NotPrimaryException extends RuntimeException {
        public NotPrimaryException() {
            super("not a primary lessor", null, false, false);
        }
    }

    /** A granted lease: its id and effective TTL. */
    public record Granted(long id, long ttl) {
    }

    /** What LeaseTimeToLive reports: remaining seconds (truncated, as etcd does), granted TTL, attached keys. */
    public record TimeToLive(long id, long ttl, long grantedTtl, List<ByteString> keys) {
    }

    private static final class Lease {
        final long id;
        final long ttl;
        long remainingTtl;
        long expiry = FOREVER;
        final TreeSet<ByteString> keys = new TreeSet<>(ByteString.unsignedLexicographicalComparator());
        final CompletableFuture<Void> revoked = new CompletableFuture<>();

        Lease(long id, long ttl, long remainingTtl) {
            this.id = id;
            this.ttl = ttl;
            this.remainingTtl = remainingTtl;
        }

        /** etcd's getRemainingTTL: the checkpointed remaining TTL if any, else the full TTL. */
        long remainingOrTtl() {
            return remainingTtl > 0 ? remainingTtl : ttl;
        }

        void refresh(long now, long extendNanos) {
            expiry = add(now, add(extendNanos, secondsToNanos(remainingOrTtl())));
        }

        LeaseRecord record() {
            return LeaseRecord.newBuilder().setId(id).setTtl(ttl).setRemainingTtl(remainingTtl).build();
        }
    }

    /** An entry of the expiry or checkpoint queue. */
    private record Item(long time, long id) {
        static final Comparator<Item> ORDER = Comparator.comparingLong(Item::time).thenComparingLong(Item::id);
    }

    private final Storage storage;
    private final Storage.Column column;
    private final Config config;
    private final LongSupplier clock;
    private final long origin;

    private final Map<Long, Lease> leases = new HashMap<>();
    private final Map<ByteString, Long> itemMap = new HashMap<>();
    /** Lease rows changed since the last {@link #commit}; null value = deleted. Apply thread only. */
    private final Map<Long, LeaseRecord> dirty = new LinkedHashMap<>();

    private boolean primary;
    private CompletableFuture<Void> demoted = new CompletableFuture<>();
    private final TreeSet<Item> expiryQueue = new TreeSet<>(Item.ORDER);
    private final Map<Long, Item> registered = new HashMap<>();
    private final PriorityQueue<Item> checkpointQueue = new PriorityQueue<>(Item.ORDER);
    private volatile Checkpointer checkpointer;

    /** Opens the lessor over {@code storage} (which must have column {@value #COLUMN}) and loads the leases. */
    public Lessor(Storage storage, Config config, LongSupplier nanoClock) {
        this.storage = storage;
        this.column = storage.column(COLUMN);
        this.config = config;
        this.clock = nanoClock;
        this.origin = nanoClock.getAsLong();
        recover();
    }

    private void recover() {
        storage.scan(column, null, null, (k, v) -> {
            LeaseRecord r;
            try {
                r = LeaseRecord.parseFrom(v);
            } catch (InvalidProtocolBufferException e) {
                throw new IllegalStateException("corrupt lease record " + ByteBuffer.wrap(k).getLong(), e);
            }
            // etcd raises a stored TTL below the (possibly changed) minimum when it loads it
            leases.put(r.getId(), new Lease(r.getId(), Math.max(r.getTtl(), config.minTtlSeconds()),
                    r.getRemainingTtl()));
            return true;
        });
        LOG.infof("lessor restored %d leases (minimum TTL %d s)", leases.size(), config.minTtlSeconds());
    }

    /**
     * Replaces every lease with those in storage now (a snapshot installed from the leader): drops the old leases
     * and attachments, loads the stored ones, then runs {@code attach} (which re-attaches the live keys through
     * {@link #restoreKey}) while still holding this lessor, so no caller sees leases without their keys. Renewals
     * waiting for an expired lease that the new state no longer has fail with lease not found. On the primary, the loaded leases get
     * fresh expiries (now + remaining TTL), as granted leases do. Not concurrent with the apply thread.
     */
    public void reload(Runnable attach) {
        List<Lease> gone;
        synchronized (this) {
            gone = new ArrayList<>(leases.values());
            leases.clear();
            itemMap.clear();
            dirty.clear();
            expiryQueue.clear();
            registered.clear();
            checkpointQueue.clear();
            recover();
            gone.removeIf(l -> leases.containsKey(l.id));
            attach.run();
            if (primary) {
                long now = now();
                for (Lease l : leases.values()) {
                    l.refresh(now, 0);
                    register(l);
                    scheduleCheckpoint(l);
                }
            }
        }
        for (Lease l : gone) {
            l.revoked.complete(null);
        }
    }

    private long now() {
        return clock.getAsLong() - origin;
    }

    private static long secondsToNanos(long seconds) {
        if (seconds >= Long.MAX_VALUE / SECOND) {
            return FOREVER - 1;
        }
        return seconds <= Long.MIN_VALUE / SECOND ? Long.MIN_VALUE / 2 : seconds * SECOND;
    }

    /** Saturating add, never reaching {@link #FOREVER} (which means "not expiring"). */
    private static long add(long a, long b) {
        long r = a + b;
        if (((a ^ r) & (b ^ r)) < 0) {
            return a > 0 ? FOREVER - 1 : Long.MIN_VALUE / 2;
        }
        return Math.min(r, FOREVER - 1);
    }

    public long minTtlSeconds() {
        return config.minTtlSeconds();
    }

    /** Enables checkpointing (etcd's SetCheckpointer); null disables it. */
    public void setCheckpointer(Checkpointer cp) {
        this.checkpointer = cp;
    }

    // ---- replicated state (apply thread) -------------------------------------------------------------

    /** Whether the lease is granted and not revoked. */
    public synchronized boolean exists(long id) {
        return leases.containsKey(id);
    }

    /**
     * Grants a lease (etcd's lessor.Grant). Errors, in etcd's order: id 0 → lease not found, TTL above
     * {@link #MAX_LEASE_TTL} → too large, id in use → exists. A TTL below the minimum is raised to it.
     */
    public synchronized Granted grant(long id, long ttl) {
        if (id == 0) {
            throw EtcdError.LEASE_NOT_FOUND.exception();
        }
        if (ttl > MAX_LEASE_TTL) {
            throw EtcdError.LEASE_TTL_TOO_LARGE.exception();
        }
        if (leases.containsKey(id)) {
            throw EtcdError.LEASE_EXIST.exception();
        }
        Lease l = new Lease(id, Math.max(ttl, config.minTtlSeconds()), 0);
        leases.put(id, l);
        dirty.put(id, l.record());
        if (primary) {
            l.refresh(now(), 0);
            register(l);
            scheduleCheckpoint(l);
        }
        dev.keel.metrics.Metrics.LEASE_GRANTED.inc();
        return new Granted(id, l.ttl);
    }

    /**
     * Revokes a lease (etcd's lessor.Revoke): deletes its keys in key order through {@code deleter} (all in the
     * caller's one transaction), then removes the lease. Unknown id → lease not found, before anything changes.
     */
    public void revoke(long id, KeyDeleter deleter) {
        Lease l;
        List<ByteString> keys;
        synchronized (this) {
            l = leases.get(id);
            if (l == null) {
                throw EtcdError.LEASE_NOT_FOUND.exception();
            }
            keys = new ArrayList<>(l.keys);
        }
        for (ByteString k : keys) {
            deleter.delete(k);
        }
        synchronized (this) {
            leases.remove(id);
            dirty.put(id, null);
            for (ByteString k : l.keys) {
                itemMap.remove(k, id);
            }
            Item it = registered.remove(id);
            if (it != null) {
                expiryQueue.remove(it);
            }
        }
        dev.keel.metrics.Metrics.LEASE_REVOKED.inc();
        l.revoked.complete(null);
    }

    /** Applies a checkpointed remaining TTL (etcd's lessor.Checkpoint); unknown leases are ignored. */
    public synchronized void checkpoint(long id, long remainingTtl) {
        Lease l = leases.get(id);
        if (l == null) {
            return;
        }
        l.remainingTtl = remainingTtl;
        dirty.put(id, l.record()); // etcd 3.6 always persists checkpoints
        if (primary) {
            scheduleCheckpoint(l);
        }
    }

    /** A key was written with {@code leaseId} (0 = none): moves its attachment (etcd's Put → Detach/Attach). */
    public synchronized void keyPut(ByteString key, long leaseId) {
        Long old = itemMap.get(key);
        long oldId = old == null ? 0 : old;
        if (oldId == leaseId) {
            return;
        }
        if (oldId != 0) {
            itemMap.remove(key);
            Lease ol = leases.get(oldId);
            if (ol != null) {
                ol.keys.remove(key);
            }
        }
        if (leaseId != 0) {
            attach(key, leaseId);
        }
    }

    /** A key was deleted: detaches it from its lease, if any. */
    public synchronized void keyDeleted(ByteString key) {
        Long old = itemMap.remove(key);
        if (old != null) {
            Lease l = leases.get(old);
            if (l != null) {
                l.keys.remove(key);
            }
        }
    }

    /** At startup: a live key carries {@code leaseId} (rebuilds the attachments, as etcd's mvcc restore does). */
    public synchronized void restoreKey(ByteString key, long leaseId) {
        if (leaseId != 0) {
            attach(key, leaseId);
        }
    }

    private void attach(ByteString key, long leaseId) {
        Lease l = leases.get(leaseId);
        if (l == null) {
            // cannot happen: writes check that the lease exists, and a revoke deletes the lease's keys
            LOG.errorf("key %s refers to lease %x, which does not exist; not attaching it", key.toStringUtf8(),
                    leaseId);
            return;
        }
        l.keys.add(key);
        itemMap.put(key, leaseId);
    }

    /** The lease a key is attached to, 0 if none. */
    public synchronized long leaseOf(ByteString key) {
        Long id = itemMap.get(key);
        return id == null ? 0 : id;
    }

    /** Adds the lease rows changed since the last call to {@code batch} (the batch of the entry being applied). */
    public synchronized void commit(Storage.Batch batch) {
        for (Map.Entry<Long, LeaseRecord> e : dirty.entrySet()) {
            byte[] key = idKey(e.getKey());
            if (e.getValue() == null) {
                batch.delete(column, key);
            } else {
                batch.put(column, key, e.getValue().toByteArray());
            }
        }
        dirty.clear();
    }

    static byte[] idKey(long id) {
        return ByteBuffer.allocate(8).putLong(id).array();
    }

    // ---- primary state --------------------------------------------------------------------------------

    public synchronized boolean isPrimary() {
        return primary;
    }

    /**
     * Makes this lessor the primary (etcd's Promote): every lease expires {@code extendNanos} after its remaining
     * TTL from now; with many leases, expiries are spread so at most 3/4 of the revoke rate fall in one second.
     */
    public synchronized void promote(long extendNanos) {
        primary = true;
        demoted = new CompletableFuture<>();
        long now = now();
        for (Lease l : leases.values()) {
            l.refresh(now, extendNanos);
            register(l);
            scheduleCheckpoint(l);
        }
        if (leases.size() < config.revokeRate()) {
            return; // no possibility of a pile-up
        }
        List<Lease> sorted = new ArrayList<>(leases.values());
        sorted.sort(Comparator.comparingLong((Lease l) -> l.expiry).thenComparingLong(l -> l.id));
        long baseWindow = sorted.get(0).expiry - now;
        long nextWindow = baseWindow + SECOND;
        int expires = 0;
        int target = (3 * config.revokeRate()) / 4;
        for (Lease l : sorted) {
            long remaining = l.expiry - now;
            if (remaining > nextWindow) {
                baseWindow = remaining;
                nextWindow = baseWindow + SECOND;
                expires = 1;
                continue;
            }
            expires++;
            if (expires <= target) {
                continue;
            }
            double rateDelay = (double) SECOND * ((double) expires / target);
            rateDelay -= remaining - baseWindow;
            long delay = (long) rateDelay;
            nextWindow = baseWindow + delay;
            l.refresh(now, add(delay, extendNanos));
            register(l);
            scheduleCheckpoint(l);
        }
    }

    /** Stops being the primary (etcd's Demote): leases no longer expire here; pending renewals fail. */
    public void demote() {
        CompletableFuture<Void> d;
        synchronized (this) {
            for (Lease l : leases.values()) {
                l.expiry = FOREVER;
            }
            expiryQueue.clear();
            registered.clear();
            checkpointQueue.clear();
            primary = false;
            d = demoted;
        }
        d.complete(null);
    }

    private void register(Lease l) {
        Item it = new Item(l.expiry, l.id);
        Item old = registered.put(l.id, it);
        if (old != null) {
            expiryQueue.remove(old);
        }
        expiryQueue.add(it);
    }

    private void scheduleCheckpoint(Lease l) {
        if (checkpointer == null) {
            return;
        }
        if (l.remainingOrTtl() > config.checkpointInterval() / SECOND) {
            checkpointQueue.add(new Item(add(now(), config.checkpointInterval()), l.id));
        }
    }

    /**
     * Renews a lease on the primary (etcd's lessor.Renew): completes with the granted TTL; fails with lease not
     * found, or {@link NotPrimaryException}. An expired lease that is still being revoked answers once the revoke
     * is applied (not found) or this lessor is demoted. With checkpointing, a lease carrying a checkpointed
     * remaining TTL first has it cleared through the log.
     */
    public CompletableFuture<Long> renew(long id) {
        Checkpointer cp;
        boolean clear;
        synchronized (this) {
            if (!primary) {
                return CompletableFuture.failedFuture(new NotPrimaryException());
            }
            Lease l = leases.get(id);
            if (l == null) {
                return CompletableFuture.failedFuture(EtcdError.LEASE_NOT_FOUND.exception());
            }
            cp = checkpointer;
            clear = cp != null && l.remainingTtl > 0;
            if (l.expiry - now() <= 0) {
                CompletableFuture<Long> out = new CompletableFuture<>();
                l.revoked.thenRun(() -> out.completeExceptionally(EtcdError.LEASE_NOT_FOUND.exception()));
                demoted.thenRun(() -> out.completeExceptionally(new NotPrimaryException()));
                return out;
            }
        }
        CompletableFuture<Void> before = clear
                ? cp.checkpoint(LeaseCheckpointRequest.newBuilder()
                        .addCheckpoints(LeaseCheckpoint.newBuilder().setID(id).setRemainingTTL(0)).build())
                : CompletableFuture.completedFuture(null);
        return before.thenApply(v -> {
            synchronized (this) {
                if (!primary) {
                    throw new NotPrimaryException();
                }
                Lease cur = leases.get(id);
                if (cur == null) {
                    throw EtcdError.LEASE_NOT_FOUND.exception();
                }
                cur.refresh(now(), 0);
                register(cur);
                dev.keel.metrics.Metrics.LEASE_RENEWED.inc();
                return cur.ttl;
            }
        });
    }

    /**
     * The remaining TTL of a lease on the primary, or null if there is no such lease. The remaining seconds are
     * truncated (etcd: {@code int64(Remaining().Seconds())}): a fresh 10 s lease reports 9.
     */
    public synchronized TimeToLive timeToLive(long id, boolean withKeys) {
        if (!primary) {
            throw new NotPrimaryException();
        }
        Lease l = leases.get(id);
        if (l == null) {
            return null;
        }
        if (l.expiry == FOREVER) {
            throw new NotPrimaryException(); // demoted meanwhile (etcd: "leader changed")
        }
        long ttl = (l.expiry - now()) / SECOND;
        return new TimeToLive(id, ttl, l.ttl, withKeys ? List.copyOf(l.keys) : List.of());
    }

    /** All lease ids, soonest expiry first (ties and followers' never-expiring leases by id). */
    public synchronized List<Long> leases() {
        List<Lease> ls = new ArrayList<>(leases.values());
        ls.sort(Comparator.comparingLong((Lease l) -> l.expiry).thenComparingLong(l -> l.id));
        List<Long> ids = new ArrayList<>(ls.size());
        for (Lease l : ls) {
            ids.add(l.id);
        }
        return ids;
    }

    /** The granted TTL of a lease, -1 if there is none. */
    public synchronized long grantedTtl(long id) {
        Lease l = leases.get(id);
        return l == null ? -1 : l.ttl;
    }

    /** The last checkpointed remaining TTL of a lease (0 = none), -1 if there is no such lease. */
    public synchronized long checkpointedRemainingTtl(long id) {
        Lease l = leases.get(id);
        return l == null ? -1 : l.remainingTtl;
    }

    /** The keys attached to a lease, in key order (empty if none or no such lease). */
    public synchronized List<ByteString> keys(long id) {
        Lease l = leases.get(id);
        return l == null ? List.of() : List.copyOf(l.keys);
    }

    /**
     * On the primary: up to {@code limit} leases that have expired, soonest first (etcd's findExpiredLeases). Each
     * one handed out is handed out again after the retry interval if it still exists then.
     */
    public synchronized List<Long> expired(int limit) {
        List<Long> out = new ArrayList<>();
        if (!primary) {
            return out;
        }
        long now = now();
        while (!expiryQueue.isEmpty() && out.size() < limit) {
            Item it = expiryQueue.first();
            Lease l = leases.get(it.id());
            if (l == null) {
                expiryQueue.pollFirst();
                registered.remove(it.id(), it);
                continue;
            }
            if (now - it.time() < 0) {
                break;
            }
            Item retry = new Item(add(now, config.expiredRetryNanos()), it.id());
            expiryQueue.pollFirst();
            expiryQueue.add(retry);
            registered.put(it.id(), retry);
            if (l.expiry - now <= 0) {
                out.add(l.id);
            }
        }
        return out;
    }

    /** Whether the lease exists and, on the primary, has expired (re-checked just before revoking it). */
    public synchronized boolean isExpired(long id) {
        Lease l = leases.get(id);
        return primary && l != null && l.expiry - now() <= 0;
    }

    /**
     * On the primary, with checkpointing: remaining TTLs due for a checkpoint, at most {@code limit} (etcd's
     * findDueScheduledCheckpoints: rounded up to whole seconds; leases whose remaining TTL is still the full TTL
     * are skipped).
     */
    public synchronized List<LeaseCheckpoint> dueCheckpoints(int limit) {
        List<LeaseCheckpoint> out = new ArrayList<>();
        if (!primary || checkpointer == null) {
            return out;
        }
        long now = now();
        while (!checkpointQueue.isEmpty() && out.size() < limit) {
            Item it = checkpointQueue.peek();
            if (it.time() - now > 0) {
                break;
            }
            checkpointQueue.poll();
            Lease l = leases.get(it.id());
            if (l == null || l.expiry - now <= 0) {
                continue;
            }
            long remaining = (l.expiry - now + SECOND - 1) / SECOND; // ceil
            if (remaining >= l.ttl) {
                continue;
            }
            out.add(LeaseCheckpoint.newBuilder().setID(l.id).setRemainingTTL(remaining).build());
        }
        return out;
    }
}
