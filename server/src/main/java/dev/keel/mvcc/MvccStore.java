package dev.keel.mvcc;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.keel.errors.EtcdError;
import dev.keel.metrics.Metrics;
import dev.keel.proto.mvccpb.Event;
import dev.keel.proto.mvccpb.KeyValue;
import dev.keel.storage.Storage;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The multi-version key-value store: every change gets a revision, old revisions stay readable until compacted.
 *
 * <p>Layout: column {@code kv} maps revision bytes ({@link Revision}) to the serialized {@link KeyValue} written
 * at that revision (a deletion stores just the key, under a tombstone-marked revision); column {@code meta}
 * holds the current and compacted revisions. The key index lives in memory and is rebuilt from {@code kv} at
 * startup.
 *
 * <p>Concurrency: one writer (the apply thread) at a time through {@link WriteTxn}; any number of readers. The
 * writer updates the index before its batch reaches disk but publishes the new current revision only after, and
 * readers never look past the current revision, so a reader sees every change of a revision or none.
 */
public final class MvccStore implements AutoCloseable, KvReader {

    public static final String KV_COLUMN = "kv";
    public static final String META_COLUMN = "meta";
    public static final List<String> COLUMNS = List.of(KV_COLUMN, META_COLUMN);

    private static final Logger LOG = Logger.getLogger(MvccStore.class);
    private static final byte[] CURRENT_REV = "mvcc/current_rev".getBytes();
    private static final byte[] COMPACT_SCHEDULED = "mvcc/compact_scheduled".getBytes();
    private static final byte[] COMPACT_FINISHED = "mvcc/compact_finished".getBytes();
    private static final int COMPACT_BATCH = 10_000;

    private final Storage storage;
    private final Storage.Column kv;
    private final Storage.Column meta;
    /** Replaced as a whole by {@link #replaceContents}. */
    private volatile TreeIndex index = new TreeIndex();
    /**
     * Held shared by reads that touch the index or the {@code kv} column from threads other than the apply thread
     * (ranges, watch history, HashKV), exclusively by {@link #replaceContents} while storage is rewritten and
     * the in-memory state rebuilt, so no read sees a mix of the old and the new contents.
     */
    private final java.util.concurrent.locks.ReentrantReadWriteLock contents =
            new java.util.concurrent.locks.ReentrantReadWriteLock();
    /** Bumped by {@link #replaceContents}: background compactions of an earlier generation stop. */
    private volatile long generation;
    private volatile long currentRev = 1;
    private volatile long compactRev = -1;
    private final ExecutorService compactor = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "mvcc-compactor");
        t.setDaemon(true);
        return t;
    });
    private final Map<Long, CompletableFuture<Void>> physicalCompactions = new ConcurrentHashMap<>();
    private volatile long lastPhysicalCompaction = -1;
    private final WatchHub watchHub;
    /** The revision of the last compaction handed to the compactor, -1 if none. */
    private volatile long scheduledCompaction = -1;
    /** Hashes recorded by finished compactions (etcd 3.6's HashStorage), answered by {@link #hashByRev}. */
    private final KvHasher.Recorded compactionHashes = new KvHasher.Recorded();
    /** Set by {@link #close}: the compactor stops between batches and must not touch storage afterwards. */
    private volatile boolean closing;

    public MvccStore(Storage storage) {
        this.storage = storage;
        this.kv = storage.column(KV_COLUMN);
        this.meta = storage.column(META_COLUMN);
        restore();
        this.watchHub = new WatchHub(this, currentRev);
    }

    /** Keys that exist now (not deleted), for etcd_debugging_mvcc_keys_total. Changed only by the apply thread. */
    private final java.util.concurrent.atomic.LongAdder liveKeys = new java.util.concurrent.atomic.LongAdder();

    /** How many keys exist at the current revision (as seen by the apply thread, before publication). */
    public long liveKeys() {
        return liveKeys.sum();
    }

    /** Watchers of this store's changes. */
    public WatchHub watchHub() {
        return watchHub;
    }

    /**
     * Every change with revision in [fromRev, toRev] to keys in the range (shape as in {@link #range}), in
     * revision order, read from disk. Deletions carry the key and the deletion's revision.
     */
    List<Event> history(byte[] key, byte[] end, long fromRev, long toRev) {
        contents.readLock().lock();
        try {
            return historyLocked(key, end, fromRev, toRev);
        } finally {
            contents.readLock().unlock();
        }
    }

    private List<Event> historyLocked(byte[] key, byte[] end, long fromRev, long toRev) {
        List<Event> out = new ArrayList<>();
        storage.scan(kv, Revision.startKey(fromRev), Revision.startKey(toRev + 1), (k, v) -> {
            KeyValue rec = parse(v);
            byte[] recKey = rec.getKey().toByteArray();
            boolean match = end == null ? java.util.Arrays.equals(key, recKey)
                    : java.util.Arrays.compareUnsigned(recKey, key) >= 0
                    && (end.length == 0 || java.util.Arrays.compareUnsigned(recKey, end) < 0);
            if (match) {
                if (Revision.isTombstone(k)) {
                    out.add(Event.newBuilder().setType(Event.EventType.DELETE)
                            .setKv(rec.toBuilder().setModRevision(Revision.fromBytes(k).main())).build());
                } else {
                    out.add(Event.newBuilder().setType(Event.EventType.PUT).setKv(rec).build());
                }
            }
            return true;
        });
        return out;
    }

    private void restore() {
        long[] max = {1};
        storage.scan(kv, null, null, (k, v) -> {
            Revision rev = Revision.fromBytes(k);
            KeyValue rec = parse(v);
            byte[] key = rec.getKey().toByteArray();
            if (Revision.isTombstone(k)) {
                index.tombstone(key, rev);
            } else {
                index.restore(key, new Revision(rec.getCreateRevision(), 0), rev, rec.getVersion());
            }
            max[0] = Math.max(max[0], rev.main());
            return true;
        });
        long scheduled = readLong(COMPACT_SCHEDULED, -1);
        long finished = readLong(COMPACT_FINISHED, -1);
        currentRev = Math.max(Math.max(max[0], readLong(CURRENT_REV, 1)), scheduled);
        if (scheduled >= 0) {
            compactRev = scheduled;
            Set<Revision> keep = index.compact(scheduled);
            if (finished < scheduled) {
                // resumed after a restart: as in etcd, an interrupted compaction records no hash
                schedulePhysicalCompaction(scheduled, keep, false);
            } else {
                lastPhysicalCompaction = finished;
                scheduledCompaction = finished;
            }
        }
        liveKeys.reset();
        liveKeys.add(index.range(new byte[]{0}, new byte[0], currentRev, 0, null));
        LOG.infof("mvcc store restored: %d keys, current revision %d, compacted at %d",
                index.size(), currentRev, compactRev);
    }

    /**
     * Replaces the store's whole contents (a snapshot installed from the leader, etcd's store.Restore): stops the
     * background compaction, runs {@code rewrite} (which rewrites storage), rebuilds the key index, the revisions
     * and the compaction state from storage, then runs {@code afterRebuild} (other state derived from storage).
     * Reads wait meanwhile and then see the new contents; none sees a mix. Watchers that were synced become
     * unsynced (etcd's watchableStore.Restore): each catches up from the new history from the revision after the
     * last one it was handed, or is cancelled as compacted if that revision is below the new compaction.
     *
     * <p>Must not run concurrently with the apply thread (the caller stops applying while it runs). If
     * {@code rewrite} or the rebuild fails, the exception propagates and the in-memory state is undefined: the
     * caller must replace the contents again (for example with empty storage).
     */
    public void replaceContents(Runnable rewrite, Runnable afterRebuild) {
        contents.writeLock().lock();
        try {
            generation++;
            try {
                // a compaction still running from the old contents must not touch the new ones
                compactor.submit(() -> { }).get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while stopping the compactor", e);
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException(e);
            }
            rewrite.run();
            index = new TreeIndex();
            currentRev = 1;
            compactRev = -1;
            scheduledCompaction = -1;
            lastPhysicalCompaction = -1;
            restore();
            physicalCompactions.entrySet().removeIf(e -> {
                if (e.getKey() <= lastPhysicalCompaction) {
                    e.getValue().complete(null);
                    return true;
                }
                return false;
            });
            watchHub.restored(currentRev);
            afterRebuild.run();
        } finally {
            contents.writeLock().unlock();
        }
        watchHub.wakeUp();
    }

    /** The current and compacted revisions of a store as a snapshot view of its storage sees them. */
    public record Revisions(long current, long compacted) {
    }

    /**
     * The revisions a store opened on the data of {@code view} would have (as {@link #restore} computes them):
     * current = the newest of the recorded current revision, the last record and the scheduled compaction;
     * compacted = the scheduled compaction, -1 if none.
     */
    public static Revisions revisionsOf(Storage storage, Storage.View view) {
        Storage.Column kvCol = storage.column(KV_COLUMN);
        Storage.Column metaCol = storage.column(META_COLUMN);
        byte[] cur = view.get(metaCol, CURRENT_REV);
        byte[] sched = view.get(metaCol, COMPACT_SCHEDULED);
        byte[] last = view.lastKey(kvCol);
        long compacted = sched == null ? -1 : Revision.getLong(sched, 0);
        long current = Math.max(cur == null ? 1 : Revision.getLong(cur, 0), compacted);
        if (last != null) {
            current = Math.max(current, Revision.fromBytes(last).main());
        }
        return new Revisions(current, compacted);
    }

    private long readLong(byte[] key, long dflt) {
        byte[] b = storage.get(meta, key);
        return b == null ? dflt : Revision.getLong(b, 0);
    }

    private static byte[] longBytes(long v) {
        byte[] b = new byte[8];
        Revision.putLong(b, 0, v);
        return b;
    }

    static KeyValue parse(byte[] v) {
        try {
            return KeyValue.parseFrom(v);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("corrupt key-value record", e);
        }
    }

    /** The newest revision whose changes are visible to readers. */
    public long currentRevision() {
        return currentRev;
    }

    /** The revision of the last compaction, -1 if none. */
    public long compactRevision() {
        return compactRev;
    }

    /** Result of a range read. {@code rev} is the store's current revision when the read was made. */
    public record RangeResult(List<KeyValue> kvs, long count, long rev) {
    }

    /**
     * Reads keys in a range at a revision ({@code rev <= 0}: the current one). Range shape as in
     * {@link TreeIndex#range}. {@code limit <= 0} means no limit; {@code countOnly} returns the count and no
     * key-values.
     */
    @Override
    public RangeResult range(byte[] key, byte[] end, long rev, long limit, boolean countOnly) {
        contents.readLock().lock();
        try {
            long cur = currentRev;
            long atRev = checkReadRevision(rev, cur);
            return read(key, end, atRev, cur, limit, countOnly, null);
        } finally {
            contents.readLock().unlock();
        }
    }

    /** One page of a paged range read: up to the page size of key-values in key order, and whether more follow. */
    public record Page(List<KeyValue> kvs, boolean more) {
    }

    /**
     * Reads one page of a range at a fixed revision {@code atRev} (&gt; 0): at most {@code limit} (&gt; 0) keys of
     * the range (shape as in {@link #range}) live at that revision, in key order. Unlike {@link #range} it does
     * not count or look at keys beyond the page (only whether one more exists), so a caller reading a large
     * range in pages, each starting after the previous page's last key, walks every key once and holds one page
     * in memory. Fails with etcd's FUTURE_REV when {@code atRev} is past the current revision and COMPACTED when
     * it is below the compaction revision, also when a compaction passes it while the page is read.
     */
    public Page rangePage(byte[] key, byte[] end, long atRev, int limit) {
        if (atRev <= 0 || limit <= 0) {
            throw new IllegalArgumentException("rangePage needs a revision and a page size");
        }
        contents.readLock().lock();
        try {
            checkReadRevision(atRev, currentRev);
            List<TreeIndex.Found> found = new ArrayList<>(Math.min(limit, 1024) + 1);
            index.page(key, end, atRev, limit + 1, found);
            boolean more = found.size() > limit;
            if (more) {
                found.remove(found.size() - 1);
            }
            List<byte[]> revs = new ArrayList<>(found.size());
            for (TreeIndex.Found f : found) {
                revs.add(f.hit().modified().toBytes());
            }
            List<byte[]> values = storage.multiGet(kv, revs);
            if (atRev < compactRev) {
                throw EtcdError.COMPACTED.exception(); // a compaction passed atRev while this page was read
            }
            List<KeyValue> kvs = new ArrayList<>(values.size());
            for (byte[] v : values) {
                if (v == null) {
                    throw EtcdError.COMPACTED.exception();
                }
                kvs.add(parse(v));
            }
            return new Page(kvs, more);
        } finally {
            contents.readLock().unlock();
        }
    }

    private long checkReadRevision(long rev, long cur) {
        if (rev > cur) {
            throw EtcdError.FUTURE_REV.exception();
        }
        long atRev = rev <= 0 ? cur : rev;
        if (atRev < compactRev) {
            throw EtcdError.COMPACTED.exception();
        }
        return atRev;
    }

    private RangeResult read(byte[] key, byte[] end, long atRev, long cur, long limit, boolean countOnly,
                             Map<Revision, KeyValue> pending) {
        if (countOnly) {
            return new RangeResult(List.of(), index.range(key, end, atRev, 0, null), cur);
        }
        List<TreeIndex.Found> found = new ArrayList<>();
        long total = index.range(key, end, atRev, limit, found);
        List<KeyValue> kvs = new ArrayList<>(found.size());
        List<byte[]> missing = new ArrayList<>();
        List<Integer> missingAt = new ArrayList<>();
        for (TreeIndex.Found f : found) {
            KeyValue p = pending == null ? null : pending.get(f.hit().modified());
            kvs.add(p);
            if (p == null) {
                missing.add(f.hit().modified().toBytes());
                missingAt.add(kvs.size() - 1);
            }
        }
        List<byte[]> values = storage.multiGet(kv, missing);
        if (atRev < compactRev) {
            // a compaction began while this read walked the index: what it saw may be incomplete
            throw EtcdError.COMPACTED.exception();
        }
        for (int i = 0; i < values.size(); i++) {
            byte[] v = values.get(i);
            if (v == null) {
                // removed by a compaction that ran after this read started
                throw EtcdError.COMPACTED.exception();
            }
            kvs.set(missingAt.get(i), parse(v));
        }
        return new RangeResult(kvs, total, cur);
    }

    /**
     * Starts the changes of one applied Raft entry. Only the apply thread may call this, and only one writer may
     * be open at a time.
     */
    public Writer writer() {
        return new Writer();
    }

    /**
     * The changes of one applied Raft entry, which may carry several client requests: each request runs as a
     * {@link WriteTxn} and gets its own revision; later transactions see the writes of earlier ones. Nothing is
     * visible to other readers until {@link #commit} has added the rows to a batch, the batch is written, and
     * {@link #publish} has run.
     */
    public final class Writer {
        private long rev = currentRev;
        private final Map<Revision, KeyValue> pending = new HashMap<>();
        private final List<Event> events = new ArrayList<>();
        private WriteTxn open;
        private long compactTo = -1;
        private Set<Revision> compactKeep;
        private final long beginRev = rev;

        private Writer() {
        }

        /** Starts the next transaction; the previous one must have ended. */
        public WriteTxn begin() {
            if (open != null) {
                throw new IllegalStateException("previous transaction not ended");
            }
            open = new WriteTxn(this);
            return open;
        }

        void end(WriteTxn txn) {
            rev = txn.revision();
            open = null;
        }

        /** The revision after every transaction so far. */
        public long revision() {
            return rev;
        }

        /** All changes so far, in order (for watchers). */
        public List<Event> events() {
            return events;
        }

        /** Adds the rows of every transaction to {@code batch}. */
        public void commit(Storage.Batch batch) {
            for (Map.Entry<Revision, KeyValue> e : pending.entrySet()) {
                KeyValue v = e.getValue();
                boolean tomb = v.getModRevision() == 0; // deletion markers carry only the key
                batch.put(kv, e.getKey().toBytes(tomb), v.toByteArray());
            }
            if (rev != beginRev) {
                batch.put(meta, CURRENT_REV, longBytes(rev));
            }
            if (compactTo >= 0) {
                batch.put(meta, COMPACT_SCHEDULED, longBytes(compactTo));
            }
        }

        /** Makes the committed changes visible. Call after the batch is written. */
        public void publish() {
            currentRev = rev;
            if (!events.isEmpty()) {
                watchHub.notify(events, rev);
            }
            if (compactTo >= 0) {
                schedulePhysicalCompaction(compactTo, compactKeep);
            }
        }
    }

    /**
     * The changes of one client request: one revision for all of them (sub-revisions count the changes). Reads
     * inside see this and earlier transactions of the same {@link Writer}. Call {@link #end()} when done.
     */
    public final class WriteTxn implements KvReader {
        private final Writer writer;
        private final long beginRev;
        private int changes;
        /** Operations for etcd's mvcc counters, recorded at {@link #end()}. */
        private int ranges;
        private int puts;
        private int deletes;
        /** What {@link #rollback} takes back: each change to the index, in order; null until the first. */
        private List<Undo> undo;
        /** Live keys added (+) or removed (-) so far. */
        private long liveDelta;
        /** The writer's event count when this transaction began. */
        private final int eventsAtBegin;
        /** A compaction began: its in-memory effects cannot be taken back. */
        private boolean compacting;

        private WriteTxn(Writer writer) {
            this.writer = writer;
            this.beginRev = writer.rev;
            this.eventsAtBegin = writer.events.size();
        }

        /** One change to the index: a put of {@code key} at {@code rev}, or its deletion if {@code tombstone}. */
        private record Undo(byte[] key, Revision rev, boolean tombstone) {
        }

        private void recordUndo(byte[] key, Revision rev, boolean tombstone) {
            if (undo == null) {
                undo = new ArrayList<>(4);
            }
            undo.add(new Undo(key, rev, tombstone));
        }

        /**
         * Takes back every change this transaction made (index, pending rows, events, live-key count), newest
         * first, so the request that made them can fail alone without its entry's other requests failing and
         * without anything of it reaching disk. Afterwards {@link #changes()} is 0. Returns false, changing
         * nothing, if the transaction began a compaction (whose in-memory effects cannot be taken back).
         */
        public boolean rollback() {
            if (compacting) {
                return false;
            }
            if (undo != null) {
                for (int i = undo.size() - 1; i >= 0; i--) {
                    Undo u = undo.get(i);
                    index.undo(u.key(), u.rev(), u.tombstone());
                }
                undo = null;
            }
            for (int i = 0; i < changes; i++) {
                writer.pending.remove(new Revision(beginRev + 1, i));
            }
            writer.events.subList(eventsAtBegin, writer.events.size()).clear();
            liveKeys.add(-liveDelta);
            liveDelta = 0;
            changes = 0;
            return true;
        }

        MvccStore store() {
            return MvccStore.this;
        }

        /** The revision this transaction's changes get (= the one before it while it has none). */
        public long revision() {
            return changes == 0 ? beginRev : beginRev + 1;
        }

        /** Number of changes made; an aborted request must have made none. */
        public int changes() {
            return changes;
        }

        /** Ends the transaction; the writer's next one starts at this one's revision. */
        public void end() {
            Metrics.mvccTxn(ranges, puts, deletes);
            writer.end(this);
        }

        @Override
        public RangeResult range(byte[] key, byte[] end, long rev, long limit, boolean countOnly) {
            ranges++;
            long cur = revision();
            long atRev = checkReadRevision(rev, cur);
            return read(key, end, atRev, cur, limit, countOnly, writer.pending);
        }

        /** The live key-value of {@code key} as this transaction sees it, or null. */
        public KeyValue get(byte[] key) {
            List<KeyValue> kvs = range(key, null, 0, 1, false).kvs();
            return kvs.isEmpty() ? null : kvs.get(0);
        }

        private Revision next() {
            return new Revision(beginRev + 1, changes++);
        }

        /** Writes a value; returns the stored key-value (with its revisions and version). */
        public KeyValue put(byte[] key, ByteString value, long lease) {
            long rev = beginRev + 1;
            puts++;
            KeyIndex.Hit prev = index.get(key, rev);
            if (prev == null) {
                liveKeys.increment();
                liveDelta++;
            }
            long created = prev == null ? rev : prev.created().main();
            long version = prev == null ? 1 : prev.version() + 1;
            KeyValue stored = KeyValue.newBuilder()
                    .setKey(ByteString.copyFrom(key))
                    .setValue(value)
                    .setCreateRevision(created)
                    .setModRevision(rev)
                    .setVersion(version)
                    .setLease(lease)
                    .build();
            Revision r = next();
            index.put(key, r);
            recordUndo(key, r, false);
            writer.pending.put(r, stored);
            writer.events.add(Event.newBuilder().setType(Event.EventType.PUT).setKv(stored).build());
            return stored;
        }

        /** Deletes the keys live in the range; returns how many. */
        public long deleteRange(byte[] key, byte[] end) {
            List<TreeIndex.Found> found = new ArrayList<>();
            index.range(key, end, revision(), 0, found);
            deletes++;
            liveKeys.add(-found.size());
            liveDelta -= found.size();
            long rev = beginRev + 1;
            for (TreeIndex.Found f : found) {
                Revision r = next();
                if (index.tombstone(f.key(), r)) {
                    recordUndo(f.key(), r, true);
                }
                KeyValue marker = KeyValue.newBuilder().setKey(ByteString.copyFrom(f.key())).build();
                writer.pending.put(r, marker);
                writer.events.add(Event.newBuilder().setType(Event.EventType.DELETE)
                        .setKv(marker.toBuilder().setModRevision(rev)).build());
            }
            return found.size();
        }

        /**
         * Compacts history at {@code rev}: reads below it fail from now on, and the superseded revisions are
         * removed from disk in the background after commit.
         */
        public void compact(long rev) {
            if (rev <= compactRev) {
                throw EtcdError.COMPACTED.exception();
            }
            if (rev > beginRev) {
                throw EtcdError.FUTURE_REV.exception();
            }
            compacting = true;
            writer.compactTo = rev;
            compactRev = rev; // published before the index changes, so concurrent readers notice (see read())
            writer.compactKeep = index.compact(rev);
        }
    }

    /** Completes when the on-disk removal of history below {@code rev} has finished. */
    public CompletableFuture<Void> physicalCompaction(long rev) {
        if (lastPhysicalCompaction >= rev) {
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<Void> done = physicalCompactions.computeIfAbsent(rev, r -> new CompletableFuture<>());
        // The compactor may have finished between the check above and the registration, after it completed the
        // registered futures: look again, or this waiter is never woken.
        if (lastPhysicalCompaction >= rev) {
            physicalCompactions.remove(rev, done);
            done.complete(null);
        }
        return done;
    }

    private void schedulePhysicalCompaction(long rev, Set<Revision> keep) {
        // etcd records a compaction's hash only if the previous compaction had finished when this one began,
        // so that the hash covers every revision since the previous one
        schedulePhysicalCompaction(rev, keep, lastPhysicalCompaction >= scheduledCompaction);
    }

    private void schedulePhysicalCompaction(long rev, Set<Revision> keep, boolean recordHash) {
        long prev = scheduledCompaction; // the compaction in force before this one (unused when resuming)
        scheduledCompaction = rev;
        long gen = generation;
        compactor.execute(() -> {
            if (gen != generation) {
                return; // the store's contents were replaced meanwhile; the new contents schedule their own
            }
            try {
                removeHistory(rev, keep, recordHash ? compactionHasher(prev, rev, keep) : null, gen);
            } catch (RuntimeException e) {
                LOG.errorf(e, "physical compaction at %d failed", rev);
            }
        });
    }

    /**
     * The hasher etcd 3.6 runs while compacting at {@code rev}: every record up to {@code rev}, with the
     * previous compaction as the lower bound. etcd 3.6's compaction keep set also holds the tombstones at
     * exactly {@code rev} (Keel, like etcd 3.4, removes them), which only matters for whether it is empty.
     */
    private KvHasher compactionHasher(long prev, long rev, Set<Revision> keep) {
        boolean nonEmpty = !keep.isEmpty();
        if (!nonEmpty) {
            boolean[] tomb = {false};
            storage.scan(kv, Revision.startKey(rev), Revision.startKey(rev + 1), (k, v) -> {
                tomb[0] = Revision.isTombstone(k);
                return !tomb[0];
            });
            nonEmpty = tomb[0];
        }
        return new KvHasher(prev, rev, keep, nonEmpty);
    }

    /** Result of {@link #hashByRev}: the hash and the store's current revision when it was taken. */
    public record HashKvResult(KvHasher.KeyValueHash hash, long currentRevision) {
    }

    /**
     * etcd's HashKV: the hash of the MVCC records up to {@code rev} ({@code rev == 0}: the current revision), see
     * {@link KvHasher}. A revision a compaction recorded a hash for answers with that hash (and the compaction
     * revision before it), as etcd 3.6 does. Fails like a read below the compaction or above the current revision.
     */
    public HashKvResult hashByRev(long rev) {
        contents.readLock().lock();
        try {
            return hashByRevLocked(rev);
        } finally {
            contents.readLock().unlock();
        }
    }

    private HashKvResult hashByRevLocked(long rev) {
        KvHasher.KeyValueHash recorded = compactionHashes.find(rev);
        if (recorded != null) {
            return new HashKvResult(recorded, currentRev);
        }
        for (int attempt = 0; ; attempt++) {
            long compact = compactRev;
            long cur = currentRev;
            if (rev > 0 && rev < compact) {
                throw EtcdError.COMPACTED.exception();
            }
            if (rev > 0 && rev > cur) {
                throw EtcdError.FUTURE_REV.exception();
            }
            long at = rev == 0 ? cur : rev;
            KvHasher h = new KvHasher(compact, at, index.keep(at));
            if (at >= 1) {
                // an iterator reads one consistent point in time; everything up to currentRev is on disk
                storage.scan(kv, null, Revision.startKey(at + 1), (k, v) -> {
                    h.write(k, v);
                    return true;
                });
            }
            if (compactRev == compact || attempt >= 3) {
                return new HashKvResult(h.hash(), cur);
            }
            // a compaction changed the index while the keep set was taken: take it again
        }
    }

    private void removeHistory(long rev, Set<Revision> keep, KvHasher hasher, long gen) {
        long started = System.nanoTime();
        long[] removed = {0};
        byte[][] from = {null};
        byte[] to = Revision.startKey(rev + 1);
        while (true) {
            if (closing || gen != generation) {
                return; // unfinished: restore() schedules it again at the next start (or reload)
            }
            List<byte[]> doomed = new ArrayList<>();
            byte[][] next = {null};
            storage.scan(kv, from[0], to, (k, v) -> {
                if (doomed.size() >= COMPACT_BATCH || closing || gen != generation) {
                    next[0] = k;
                    return false;
                }
                if (!keep.contains(Revision.fromBytes(k))) {
                    doomed.add(k);
                }
                if (hasher != null) {
                    hasher.write(k, v);
                }
                return true;
            });
            if (closing || gen != generation) {
                return;
            }
            try (Storage.Batch b = storage.newBatch()) {
                for (byte[] k : doomed) {
                    b.delete(kv, k);
                }
                if (next[0] == null) {
                    b.put(meta, COMPACT_FINISHED, longBytes(rev));
                }
                storage.write(b);
            }
            removed[0] += doomed.size();
            if (next[0] == null) {
                break;
            }
            from[0] = next[0];
            Thread.yield();
        }
        if (hasher != null) {
            compactionHashes.store(hasher.hash());
        }
        lastPhysicalCompaction = Math.max(lastPhysicalCompaction, rev);
        physicalCompactions.entrySet().removeIf(e -> {
            if (e.getKey() <= rev) {
                e.getValue().complete(null);
                return true;
            }
            return false;
        });
        LOG.infof("finished compaction at revision %d: removed %d records in %d ms", rev, removed[0],
                (System.nanoTime() - started) / 1_000_000);
    }

    /**
     * Stops the background compactor and waits for it, so the caller may close the storage afterwards (closing
     * RocksDB under a running scan crashes the JVM).
     */
    @Override
    public void close() {
        watchHub.close();
        closing = true;
        compactor.shutdownNow();
        try {
            if (!compactor.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS)) {
                LOG.warn("the compactor did not stop within 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
