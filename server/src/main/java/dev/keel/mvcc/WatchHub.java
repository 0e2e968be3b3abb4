package dev.keel.mvcc;

import com.google.protobuf.ByteString;
import dev.keel.proto.mvccpb.Event;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Delivers the store's changes to watchers, in revision order, with no gap and no duplicate.
 *
 * <p>A watcher is <em>synced</em> when everything up to the last notified revision has been handed to it; new
 * changes then go to it directly from the apply thread ({@link #notify}). Otherwise it is <em>unsynced</em>: a
 * background loop reads the missing revisions from the store's history and hands them over, and moves the
 * watcher to synced once it has caught up. A watcher whose consumer cannot keep up (its sink refuses a
 * delivery) simply becomes unsynced again, so a slow consumer never blocks writes or other watchers.
 *
 * <p>Invariants: a synced watcher has been handed every event of its range up to the last notified revision; an
 * unsynced one, every event before its {@code nextRev}. Events are handed over only in whole revisions. Synced
 * watchers are indexed by key (single-key watchers) or kept in a list (ranges), so a write costs a map lookup per
 * changed key plus a scan of the range watchers, not a visit to every watcher.
 */
public final class WatchHub implements AutoCloseable {

    /** Where a watcher's events go. Called with the hub's lock held: implementations must not block. */
    public interface Sink {
        /** The watcher is registered; events after {@code rev} (or from its start revision) will follow. */
        void created(long rev);

        /**
         * Takes the events of whole revisions (ascending), up to and including revision {@code rev}; an empty
         * list is a progress notification. Returns false to refuse (consumer too far behind); they are offered
         * again later from history.
         */
        boolean offer(List<Event> events, long rev);

        /** The watcher needed history below the compaction revision; it has been removed. */
        void compacted(long compactRev);

        /** Whether the consumer has room for more; a stuck one is skipped by the catch-up loop (no wasted reads). */
        default boolean wantsMore() {
            return true;
        }
    }

    /** A registered watcher. */
    public final class Watcher {
        private final byte[] key;
        private final byte[] end; // null: one key; empty: to the end; else [key, end)
        private final ByteString keyBytes;
        private final Sink sink;
        /** Events before this revision are not for this watcher (a start revision in the future). */
        private long startRev;
        /** While unsynced: the oldest revision not yet handed over. (Synced: everything up to notifiedRev.) */
        private long nextRev;
        private boolean synced;
        private boolean cancelled;

        private Watcher(byte[] key, byte[] end, Sink sink) {
            this.key = key;
            this.end = end;
            this.keyBytes = ByteString.copyFrom(key);
            this.sink = sink;
        }

        boolean matches(byte[] k) {
            if (end == null) {
                return Arrays.equals(key, k);
            }
            return Arrays.compareUnsigned(k, key) >= 0 && (end.length == 0 || Arrays.compareUnsigned(k, end) < 0);
        }
    }

    private static final Logger LOG = Logger.getLogger(WatchHub.class);
    /** Most revisions read from history for one watcher in one pass. */
    private static final long HISTORY_CHUNK = 10_000;
    /**
     * Most revisions with events in one catch-up delivery (etcd's watchBatchMaxRevs), so one response stays
     * within what clients accept (gRPC's default is 4 MiB); the rest follows in the next pass.
     */
    static final int MAX_BATCH_REVS = 1000;

    private final MvccStore store;
    private final Object lock = new Object();
    private final Map<ByteString, Set<Watcher>> syncedByKey = new HashMap<>();
    private final Set<Watcher> syncedRanges = new LinkedHashSet<>();
    private final Set<Watcher> unsynced = new LinkedHashSet<>();
    private long notifiedRev;
    private final ScheduledExecutorService syncer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "watch-sync");
        t.setDaemon(true);
        return t;
    });

    WatchHub(MvccStore store, long currentRev) {
        this.store = store;
        this.notifiedRev = currentRev;
        syncer.scheduleWithFixedDelay(this::syncSafely, 100, 100, TimeUnit.MILLISECONDS);
    }

    /**
     * Registers a watcher on a range (shape as in {@link MvccStore#range}) from {@code startRev} (0: from the
     * next change on). Calls {@link Sink#created} before anything else reaches the sink.
     */
    public Watcher watch(byte[] key, byte[] end, long startRev, Sink sink) {
        Watcher w = new Watcher(key, end, sink);
        synchronized (lock) {
            sink.created(notifiedRev);
            if (startRev <= 0 || startRev > notifiedRev) {
                w.startRev = Math.max(notifiedRev + 1, startRev);
                addSynced(w);
            } else {
                w.startRev = startRev;
                w.nextRev = startRev;
                unsynced.add(w);
            }
        }
        if (!w.synced) {
            syncer.execute(this::syncSafely);
        }
        return w;
    }

    public void cancel(Watcher w) {
        synchronized (lock) {
            w.cancelled = true;
            removeSynced(w);
            unsynced.remove(w);
        }
    }

    /** Whether the watcher has been handed everything up to the newest revision. */
    public boolean isSynced(Watcher w) {
        synchronized (lock) {
            return w.synced;
        }
    }

    /** Registered watchers, synced or catching up (etcd_debugging_mvcc_watcher_total). */
    public int watcherCount() {
        synchronized (lock) {
            int n = syncedRanges.size() + unsynced.size();
            for (Set<Watcher> ws : syncedByKey.values()) {
                n += ws.size();
            }
            return n;
        }
    }

    private void addSynced(Watcher w) {
        w.synced = true;
        if (w.end == null) {
            syncedByKey.computeIfAbsent(w.keyBytes, k -> new LinkedHashSet<>()).add(w);
        } else {
            syncedRanges.add(w);
        }
    }

    private void removeSynced(Watcher w) {
        if (!w.synced) {
            return;
        }
        w.synced = false;
        if (w.end == null) {
            Set<Watcher> ws = syncedByKey.get(w.keyBytes);
            if (ws != null && ws.remove(w) && ws.isEmpty()) {
                syncedByKey.remove(w.keyBytes);
            }
        } else {
            syncedRanges.remove(w);
        }
    }

    /**
     * Sends a progress notification (no events, the newest revision) to every given watcher that is synced;
     * returns false, sending nothing, if any of them is not.
     */
    public boolean progress(List<Watcher> watchers, Sink to) {
        synchronized (lock) {
            for (Watcher w : watchers) {
                // unsynced, or waiting for a future start revision: no progress can be promised yet
                if (!w.cancelled && (!w.synced || w.startRev > notifiedRev + 1)) {
                    return false;
                }
            }
            return to.offer(List.of(), notifiedRev);
        }
    }

    /** The newest revision handed to synced watchers. */
    public long revision() {
        synchronized (lock) {
            return notifiedRev;
        }
    }

    /**
     * Called by the store on the apply thread once the changes up to {@code rev} are visible. The changes of one
     * Raft entry may span several revisions (batched requests); synced watchers get them one revision at a time,
     * as etcd notifies them once per write transaction.
     */
    void notify(List<Event> events, long rev) {
        synchronized (lock) {
            if (rev <= notifiedRev) {
                return;
            }
            notifiedRev = rev;
            if (syncedByKey.isEmpty() && syncedRanges.isEmpty()) {
                return;
            }
            for (int start = 0, end; start < events.size(); start = end) {
                long r = events.get(start).getKv().getModRevision();
                end = start + 1;
                while (end < events.size() && events.get(end).getKv().getModRevision() == r) {
                    end++;
                }
                deliver(events.subList(start, end), r);
            }
        }
    }

    /** Hands the events of revision {@code rev} to the synced watchers they concern. Caller holds the lock. */
    private void deliver(List<Event> events, long rev) {
        // first decide who gets what, then offer: a sink may cancel watchers while it is being offered events
        Map<Watcher, List<Event>> mine = new LinkedHashMap<>();
        for (Event e : events) {
            ByteString k = e.getKv().getKey();
            Set<Watcher> exact = syncedByKey.get(k);
            if (exact != null) {
                for (Watcher w : exact) {
                    if (rev >= w.startRev) {
                        mine.computeIfAbsent(w, x -> new ArrayList<>(1)).add(e);
                    }
                }
            }
            if (!syncedRanges.isEmpty()) {
                byte[] kb = k.toByteArray();
                for (Watcher w : syncedRanges) {
                    if (rev >= w.startRev && w.matches(kb)) {
                        mine.computeIfAbsent(w, x -> new ArrayList<>(1)).add(e);
                    }
                }
            }
        }
        for (Map.Entry<Watcher, List<Event>> m : mine.entrySet()) {
            Watcher w = m.getKey();
            if (w.cancelled || !w.synced) {
                continue;
            }
            if (!offerSafely(w, m.getValue(), rev)) {
                // its consumer is behind: it catches up from history later, from this revision
                removeSynced(w);
                w.nextRev = rev;
                unsynced.add(w);
            }
        }
    }

    /**
     * Offers events to a watcher's sink. This runs on the apply thread: a failing sink must never stop the
     * member, so it loses its watcher instead.
     */
    private boolean offerSafely(Watcher w, List<Event> events, long rev) {
        try {
            return w.sink.offer(events, rev);
        } catch (RuntimeException e) {
            LOG.error("a watch consumer failed; cancelling its watcher", e);
            cancel(w);
            return true;
        }
    }

    /**
     * The store's contents were replaced (a snapshot from the leader) and its current revision is now {@code rev}.
     * As etcd's watchableStore.Restore: every synced watcher becomes unsynced, to catch up from the new history
     * from the revision after the last one it was handed (or be cancelled as compacted if the new contents are
     * compacted past it); nothing it was handed is handed again. Unsynced watchers go on from where they were.
     * Called by the store with readers held off; {@link #wakeUp} starts the catch-up.
     */
    void restored(long rev) {
        synchronized (lock) {
            long next = notifiedRev + 1;
            List<Watcher> synced = new ArrayList<>(syncedRanges);
            for (Set<Watcher> ws : syncedByKey.values()) {
                synced.addAll(ws);
            }
            for (Watcher w : synced) {
                removeSynced(w);
                w.nextRev = Math.max(w.startRev, next);
                w.startRev = w.nextRev; // revisions before it were handed over already (from the old contents)
                unsynced.add(w);
            }
            LOG.infof("store contents replaced at revision %d (watchers had everything up to %d); %d synced "
                    + "watchers catch up from the new contents", rev, notifiedRev, synced.size());
            notifiedRev = rev;
        }
    }

    /** Runs a catch-up pass now rather than at the next tick. */
    void wakeUp() {
        try {
            syncer.execute(this::syncSafely);
        } catch (RejectedExecutionException e) {
            // closing
        }
    }

    private void syncSafely() {
        boolean more;
        try {
            more = syncUnsynced();
        } catch (RuntimeException e) {
            LOG.error("watch catch-up failed; will retry", e);
            return;
        }
        if (more) {
            // some watcher took a batch and is still behind: go on at once rather than after the usual delay
            try {
                syncer.execute(this::syncSafely);
            } catch (RejectedExecutionException e) {
                // closing
            }
        }
    }

    /**
     * One pass over the unsynced watchers: hand each the history it misses (at most {@link #MAX_BATCH_REVS}
     * revisions), move caught-up ones to synced. Returns whether a watcher took a batch and is still behind.
     */
    private boolean syncUnsynced() {
        List<Watcher> todo;
        long target;
        boolean more = false;
        synchronized (lock) {
            if (unsynced.isEmpty()) {
                return false;
            }
            todo = new ArrayList<>(unsynced);
            target = notifiedRev;
        }
        for (Watcher w : todo) {
            long from;
            synchronized (lock) {
                if (w.cancelled) {
                    continue;
                }
                from = w.nextRev;
            }
            if (!w.sink.wantsMore()) {
                continue;
            }
            long compactRev = store.compactRevision();
            if (from < compactRev) {
                compact(w, compactRev);
                continue;
            }
            long to = Math.min(target, from + HISTORY_CHUNK - 1);
            List<Event> events = from > to ? List.of() : store.history(w.key, w.end, from, to);
            int revs = 0;
            long lastRev = -1;
            for (int i = 0; i < events.size(); i++) {
                long r = events.get(i).getKv().getModRevision();
                if (r != lastRev && ++revs > MAX_BATCH_REVS) {
                    events = events.subList(0, i); // whole revisions only; the rest from r on, next pass
                    to = r - 1;
                    break;
                }
                lastRev = r;
            }
            if (from < store.compactRevision()) {
                compact(w, store.compactRevision()); // history may have been removed while we read it
                continue;
            }
            synchronized (lock) {
                if (w.cancelled || w.nextRev != from) {
                    continue;
                }
                if (!events.isEmpty() && !offerSafely(w, events, to)) {
                    continue; // still behind; try again next pass
                }
                w.nextRev = to + 1;
                if (w.nextRev > notifiedRev) {
                    unsynced.remove(w);
                    addSynced(w);
                } else {
                    more = true;
                }
            }
        }
        return more;
    }

    private void compact(Watcher w, long compactRev) {
        synchronized (lock) {
            if (w.cancelled) {
                return;
            }
            w.cancelled = true;
            unsynced.remove(w);
            removeSynced(w);
            w.sink.compacted(compactRev);
        }
    }

    @Override
    public void close() {
        syncer.shutdownNow();
        try {
            // a history read may be running; the store must not close under it
            syncer.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
