package dev.keel.mvcc;

import dev.keel.proto.mvccpb.Event;
import dev.keel.proto.mvccpb.KeyValue;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.Arrays;
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
 * <p>Invariant: for every watcher, {@code nextRev} is the oldest revision not yet handed to its sink. Events are
 * handed over only in whole revisions.
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
    }

    /** A registered watcher. */
    public final class Watcher {
        private final byte[] key;
        private final byte[] end; // null: one key; empty: to the end; else [key, end)
        private final Sink sink;
        private long nextRev;
        private boolean synced;
        private boolean cancelled;

        private Watcher(byte[] key, byte[] end, Sink sink) {
            this.key = key;
            this.end = end;
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
    private final Set<Watcher> synced = new LinkedHashSet<>();
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
                w.nextRev = Math.max(notifiedRev + 1, startRev);
                w.synced = true;
                synced.add(w);
            } else {
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
            synced.remove(w);
            unsynced.remove(w);
        }
    }

    /** Registered watchers, synced or catching up (etcd_debugging_mvcc_watcher_total). */
    public int watcherCount() {
        synchronized (lock) {
            return synced.size() + unsynced.size();
        }
    }

    /** Whether the watcher has been handed everything up to the newest revision. */
    public boolean isSynced(Watcher w) {
        synchronized (lock) {
            return w.synced && w.nextRev > notifiedRev;
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
                if (!w.cancelled && (!w.synced || w.nextRev > notifiedRev + 1)) {
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
            if (synced.isEmpty()) {
                return;
            }
            // a copy: a sink may cancel watchers (its own or others) while it is being offered events
            List<Watcher> targets = new ArrayList<>(synced);
            for (int start = 0, end; start < events.size(); start = end) {
                long r = events.get(start).getKv().getModRevision();
                end = start + 1;
                while (end < events.size() && events.get(end).getKv().getModRevision() == r) {
                    end++;
                }
                deliver(events.subList(start, end), r, targets);
            }
            for (Watcher w : synced) {
                // max: a watcher waiting for a future start revision must not be moved back to this one
                w.nextRev = Math.max(w.nextRev, rev + 1);
            }
        }
    }

    /** Hands the events of revision {@code rev} to the synced watchers they concern. Caller holds the lock. */
    private void deliver(List<Event> events, long rev, List<Watcher> targets) {
        List<Watcher> fallen = null;
        for (Watcher w : targets) {
            if (w.cancelled || !w.synced) {
                continue;
            }
            List<Event> mine = select(w, events);
            if (mine.isEmpty()) {
                continue;
            }
            if (offerSafely(w, mine, rev)) {
                w.nextRev = rev + 1;
            } else {
                // its consumer is behind: it catches up from history later, from this revision
                w.nextRev = rev;
                if (fallen == null) {
                    fallen = new ArrayList<>();
                }
                fallen.add(w);
            }
        }
        if (fallen != null) {
            for (Watcher w : fallen) {
                if (!w.cancelled) {
                    w.synced = false;
                    synced.remove(w);
                    unsynced.add(w);
                }
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

    private static List<Event> select(Watcher w, List<Event> events) {
        List<Event> mine = null;
        for (Event e : events) {
            KeyValue kv = e.getKv();
            if (kv.getModRevision() >= w.nextRev && w.matches(kv.getKey().toByteArray())) {
                if (mine == null) {
                    mine = new ArrayList<>();
                }
                mine.add(e);
            }
        }
        return mine == null ? List.of() : mine;
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
                    w.synced = true;
                    unsynced.remove(w);
                    synced.add(w);
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
            synced.remove(w);
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
