package dev.keel.storage;

import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompactRangeOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.LRUCache;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;
import org.rocksdb.Snapshot;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * The member's local database: RocksDB with one column family per logical table. Knows nothing about what the
 * bytes mean. Every state change of one Raft entry is one {@link Batch}, written atomically.
 *
 * <p>Writes go to RocksDB's WAL without fsync: the Raft log is the durable record, and an entry whose batch was
 * lost in a crash is replayed from it (the applied index lives in the same batch as the data). {@link #flush()}
 * makes everything durable before the Raft log may be truncated.
 */
public final class Storage implements AutoCloseable {

    static {
        RocksDB.loadLibrary();
    }

    /** A named table. Obtained from {@link #column(String)}. */
    public static final class Column {
        private final String name;
        private final ColumnFamilyHandle handle;

        private Column(String name, ColumnFamilyHandle handle) {
            this.name = name;
            this.handle = handle;
        }

        public String name() {
            return name;
        }
    }

    /** Memtable allocation unit; see {@link #open}. */
    static final long ARENA_BLOCK = 16 << 10;

    private final Path dir;
    private final RocksDB db;
    private final DBOptions dbOptions;
    private final ColumnFamilyOptions cfOptions;
    private final LRUCache blockCache;
    private final List<ColumnFamilyHandle> handles;
    private final Map<String, Column> columns = new HashMap<>();
    private final WriteOptions writeOptions = new WriteOptions().setSync(false);
    /** Held (shared) by every {@link View} operation and (exclusive) by {@link #close}: no read outlives the DB. */
    private final java.util.concurrent.locks.ReentrantReadWriteLock lifecycle =
            new java.util.concurrent.locks.ReentrantReadWriteLock();
    private volatile boolean closed;
    private final java.util.Set<View> openViews = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private Storage(Path dir, RocksDB db, DBOptions dbOptions, ColumnFamilyOptions cfOptions, LRUCache cache,
                    List<String> names, List<ColumnFamilyHandle> handles) {
        this.dir = dir;
        this.db = db;
        this.dbOptions = dbOptions;
        this.cfOptions = cfOptions;
        this.blockCache = cache;
        this.handles = handles;
        for (int i = 0; i < names.size(); i++) {
            columns.put(names.get(i), new Column(names.get(i), handles.get(i)));
        }
    }

    /** Opens (creating if needed) the database in {@code dir} with the given column families. */
    public static Storage open(Path dir, List<String> columnNames) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        LRUCache cache = new LRUCache(64L << 20);
        BlockBasedTableConfig table = new BlockBasedTableConfig()
                .setBlockCache(cache)
                .setFilterPolicy(new BloomFilter(10, false))
                .setCacheIndexAndFilterBlocks(true);
        ColumnFamilyOptions cfOptions = new ColumnFamilyOptions()
                .setTableFormatConfig(table)
                .setWriteBufferSize(32L << 20)
                // memtables allocate in blocks of this size (RocksDB's default: 1 MiB here); small blocks keep
                // sizeOnDisk(), which counts memtable memory, within 16 KiB of the data per column family
                .setArenaBlockSize(ARENA_BLOCK);
        DBOptions dbOptions = new DBOptions()
                .setCreateIfMissing(true)
                .setCreateMissingColumnFamilies(true)
                .setMaxBackgroundJobs(2)
                .setKeepLogFileNum(3);
        List<String> names = new ArrayList<>();
        names.add("default");
        names.addAll(columnNames);
        List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
        for (String n : names) {
            descriptors.add(new ColumnFamilyDescriptor(n.getBytes(java.nio.charset.StandardCharsets.UTF_8), cfOptions));
        }
        List<ColumnFamilyHandle> handles = new ArrayList<>();
        try {
            RocksDB db = RocksDB.open(dbOptions, dir.toString(), descriptors, handles);
            return new Storage(dir, db, dbOptions, cfOptions, cache, names, handles);
        } catch (RocksDBException e) {
            throw new StorageException("cannot open database in " + dir + ": " + e.getMessage(), e);
        }
    }

    public Path dir() {
        return dir;
    }

    public Column column(String name) {
        Column c = columns.get(name);
        if (c == null) {
            throw new IllegalArgumentException("no column family " + name);
        }
        return c;
    }

    /** The column names of the database (without RocksDB's unused {@code default}), sorted. */
    public List<String> columnNames() {
        List<String> names = new ArrayList<>(new TreeMap<>(columns).keySet());
        names.remove("default");
        return names;
    }

    public byte[] get(Column column, byte[] key) {
        try {
            return db.get(column.handle, key);
        } catch (RocksDBException e) {
            throw new StorageException("read failed: " + e.getMessage(), e);
        }
    }

    /** Point reads of many keys at once; the result has one entry per key, {@code null} where absent. */
    public List<byte[]> multiGet(Column column, List<byte[]> keys) {
        if (keys.isEmpty()) {
            return List.of();
        }
        List<ColumnFamilyHandle> cfs = new ArrayList<>(keys.size());
        for (int i = 0; i < keys.size(); i++) {
            cfs.add(column.handle);
        }
        try {
            return db.multiGetAsList(cfs, keys);
        } catch (RocksDBException e) {
            throw new StorageException("read failed: " + e.getMessage(), e);
        }
    }

    public Batch newBatch() {
        return new Batch();
    }

    /** Writes the batch atomically. */
    public void write(Batch batch) {
        try {
            db.write(writeOptions, batch.wb);
        } catch (RocksDBException e) {
            throw new StorageException("write failed: " + e.getMessage(), e);
        }
    }

    /** Visits keys in [from, to) in order ({@code to == null}: to the end) until the visitor returns false. */
    public void scan(Column column, byte[] from, byte[] to, KeyValueVisitor visitor) {
        try (ReadOptions ro = new ReadOptions();
             Slice upper = to == null ? null : new Slice(to)) {
            if (upper != null) {
                ro.setIterateUpperBound(upper);
            }
            try (RocksIterator it = db.newIterator(column.handle, ro)) {
                if (from == null) {
                    it.seekToFirst();
                } else {
                    it.seek(from);
                }
                for (; it.isValid(); it.next()) {
                    if (!visitor.visit(it.key(), it.value())) {
                        break;
                    }
                }
                it.status();
            }
        } catch (RocksDBException e) {
            throw new StorageException("scan failed: " + e.getMessage(), e);
        }
    }

    /** The last key of the column in key order (as of now), or null if the column is empty. */
    public byte[] lastKey(Column column) {
        try (RocksIterator it = db.newIterator(column.handle)) {
            it.seekToLast();
            byte[] k = it.isValid() ? it.key() : null;
            it.status();
            return k;
        } catch (RocksDBException e) {
            throw new StorageException("read failed: " + e.getMessage(), e);
        }
    }

    /**
     * Adds to {@code batch} the deletion of every key the column holds now (one range deletion from the empty
     * key to just past the last key). Keys written to the column later, also by {@code batch} itself after this
     * call, are not affected. The caller must make sure no one else writes the column until the batch is written.
     */
    public void clearColumn(Batch batch, Column column) {
        byte[] last = lastKey(column);
        if (last != null) {
            batch.deleteRange(column, new byte[0], java.util.Arrays.copyOf(last, last.length + 1));
        }
    }

    /** Makes every write so far durable on disk (memtables flushed, WAL synced). */
    public void flush() {
        try (FlushOptions fo = new FlushOptions().setWaitForFlush(true)) {
            db.flushWal(true);
            db.flush(fo, handles);
        } catch (RocksDBException e) {
            throw new StorageException("flush failed: " + e.getMessage(), e);
        }
    }

    /** Rewrites the SST files of a column so deleted data frees disk space. */
    public void compactAll(Column column) {
        try {
            db.compactRange(column.handle);
        } catch (RocksDBException e) {
            throw new StorageException("compaction failed: " + e.getMessage(), e);
        }
    }

    /**
     * Rewrites every column's SST files down to the bottom level, so the space of deleted and overwritten data
     * (e.g. history removed by an MVCC compaction) is given back: Keel's equivalent of etcd's defragmentation.
     * Flushes the memtables first. Writes may continue meanwhile.
     */
    public void defragment() {
        flush();
        try (CompactRangeOptions o = new CompactRangeOptions()
                .setBottommostLevelCompaction(CompactRangeOptions.BottommostLevelCompaction.kForceOptimized)
                .setExclusiveManualCompaction(true)) {
            for (ColumnFamilyHandle h : handles) {
                db.compactRange(h, null, null, o);
            }
        } catch (RocksDBException e) {
            throw new StorageException("defragmentation failed: " + e.getMessage(), e);
        }
    }

    /**
     * Bytes the database holds: SST files plus memtables (data not yet flushed to files), all columns. Deleted
     * and overwritten data counts until {@link #defragment} (or RocksDB's background compaction) rewrites the
     * files holding it, like the free pages of etcd's bbolt file.
     */
    public long sizeOnDisk() {
        return sumProperty("rocksdb.total-sst-files-size") + memtableBytes();
    }

    /** RocksDB's estimate of the bytes holding live data, all columns (memtable data included). */
    public long sizeInUse() {
        return Math.min(sizeOnDisk(), sumProperty("rocksdb.estimate-live-data-size") + memtableBytes());
    }

    /** Memory held by all memtables (active and not yet flushed), allocated in {@link #ARENA_BLOCK} steps. */
    private long memtableBytes() {
        return sumProperty("rocksdb.cur-size-all-mem-tables");
    }

    /**
     * CRC-32C over the whole database as of one point in time: for every column in name order its name, then
     * every key and value in key order, skipping pairs {@code ignore} accepts. Deterministic for equal contents.
     */
    public int hash(KeyIgnorer ignore) {
        CRC32C crc = new CRC32C();
        Map<String, Column> sorted = new TreeMap<>(columns);
        Snapshot snap = db.getSnapshot();
        try (ReadOptions ro = new ReadOptions().setSnapshot(snap)) {
            for (Column c : sorted.values()) {
                crc.update(c.name.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                try (RocksIterator it = db.newIterator(c.handle, ro)) {
                    for (it.seekToFirst(); it.isValid(); it.next()) {
                        byte[] k = it.key();
                        if (!ignore.ignore(c.name, k)) {
                            crc.update(k);
                            crc.update(it.value());
                        }
                    }
                    it.status();
                }
            }
        } catch (RocksDBException e) {
            throw new StorageException("hash failed: " + e.getMessage(), e);
        } finally {
            db.releaseSnapshot(snap);
        }
        return (int) crc.getValue();
    }

    /** Chooses the key-value pairs {@link #hash} leaves out. */
    @FunctionalInterface
    public interface KeyIgnorer {
        boolean ignore(String column, byte[] key);
    }

    private long sumProperty(String property) {
        long total = 0;
        for (ColumnFamilyHandle h : handles) {
            try {
                total += db.getLongProperty(h, property);
            } catch (RocksDBException e) {
                // property not available for this column: count nothing
            }
        }
        return total;
    }

    /**
     * A consistent point-in-time view of every column (a RocksDB snapshot): later writes are invisible to it and
     * are not held up by it. Close it when done; it keeps the data it sees alive on disk until then.
     */
    public View openView() {
        lifecycle.readLock().lock();
        try {
            if (closed) {
                throw new StorageException("database closed", null);
            }
            View v = new View(db.getSnapshot());
            openViews.add(v);
            return v;
        } finally {
            lifecycle.readLock().unlock();
        }
    }

    /** See {@link #openView()}. Not thread-safe: one thread at a time. */
    public final class View implements AutoCloseable {
        private final Snapshot snapshot;
        private final ReadOptions readOptions;
        private final List<Cursor> cursors = new ArrayList<>();
        private boolean released;

        private View(Snapshot snapshot) {
            this.snapshot = snapshot;
            this.readOptions = new ReadOptions().setSnapshot(snapshot);
        }

        /** The column names of the database (without RocksDB's unused {@code default}), sorted. */
        public List<String> columnNames() {
            List<String> names = new ArrayList<>(new TreeMap<>(columns).keySet());
            names.remove("default");
            return names;
        }

        public byte[] get(Column column, byte[] key) {
            return guarded(() -> db.get(column.handle, readOptions, key));
        }

        /** The last key of the column in key order, or null if it is empty. */
        public byte[] lastKey(Column column) {
            return guarded(() -> {
                try (RocksIterator it = db.newIterator(column.handle, readOptions)) {
                    it.seekToLast();
                    byte[] k = it.isValid() ? it.key() : null;
                    it.status();
                    return k;
                }
            });
        }

        /** Iterates one column in key order, from the first key. Closed with the view at the latest. */
        public Cursor cursor(String columnName) {
            Column c = column(columnName);
            Cursor cur = guarded(() -> new Cursor(db.newIterator(c.handle, readOptions)));
            cursors.add(cur);
            return cur;
        }

        private <T> T guarded(RocksCall<T> call) {
            lifecycle.readLock().lock();
            try {
                if (closed || released) {
                    throw new StorageException("snapshot view closed", null);
                }
                return call.call();
            } catch (RocksDBException e) {
                throw new StorageException("read failed: " + e.getMessage(), e);
            } finally {
                lifecycle.readLock().unlock();
            }
        }

        /** Releases the RocksDB snapshot (so its data may be compacted away). Idempotent. */
        @Override
        public void close() {
            lifecycle.readLock().lock();
            try {
                if (released) {
                    return;
                }
                released = true;
                openViews.remove(this);
                if (!closed) {
                    free();
                }
            } finally {
                lifecycle.readLock().unlock();
            }
        }

        /** Frees the native resources; only under the lifecycle lock, before the database closes. */
        private void free() {
            for (Cursor c : cursors) {
                c.release();
            }
            readOptions.close();
            db.releaseSnapshot(snapshot);
        }

        /** One column's key/value pairs in key order: {@code while (c.next()) use(c.key(), c.value())}. */
        public final class Cursor {
            private final RocksIterator it;
            private boolean started;
            private boolean done;
            private byte[] key;
            private byte[] value;

            private Cursor(RocksIterator it) {
                this.it = it;
            }

            /** Moves to the next pair; false at the end (the iterator is then released). */
            public boolean next() {
                if (done) {
                    return false;
                }
                return guarded(() -> {
                    if (!started) {
                        it.seekToFirst();
                        started = true;
                    } else {
                        it.next();
                    }
                    if (!it.isValid()) {
                        it.status();
                        release();
                        return false;
                    }
                    key = it.key();
                    value = it.value();
                    return true;
                });
            }

            public byte[] key() {
                return key;
            }

            public byte[] value() {
                return value;
            }

            private void release() {
                if (!done) {
                    done = true;
                    it.close();
                }
            }
        }
    }

    @FunctionalInterface
    private interface RocksCall<T> {
        T call() throws RocksDBException;
    }

    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            closed = true;
            for (View v : openViews) {
                v.free(); // a snapshot still streaming fails with "snapshot view closed" from now on
            }
            openViews.clear();
        } finally {
            lifecycle.writeLock().unlock();
        }
        for (ColumnFamilyHandle h : handles) {
            h.close();
        }
        db.close();
        writeOptions.close();
        dbOptions.close();
        cfOptions.close();
        blockCache.close();
    }

    /** Receives one key/value of a scan; returns false to stop. */
    @FunctionalInterface
    public interface KeyValueVisitor {
        boolean visit(byte[] key, byte[] value);
    }

    /** Changes to write atomically; see {@link Storage#write(Batch)}. */
    public static final class Batch implements AutoCloseable {
        private final WriteBatch wb = new WriteBatch();

        private Batch() {
        }

        public void put(Column column, byte[] key, byte[] value) {
            try {
                wb.put(column.handle, key, value);
            } catch (RocksDBException e) {
                throw new StorageException("batch put failed: " + e.getMessage(), e);
            }
        }

        public void delete(Column column, byte[] key) {
            try {
                wb.delete(column.handle, key);
            } catch (RocksDBException e) {
                throw new StorageException("batch delete failed: " + e.getMessage(), e);
            }
        }

        /** Deletes every key in [from, to) of the column (a RocksDB range deletion). */
        public void deleteRange(Column column, byte[] from, byte[] to) {
            try {
                wb.deleteRange(column.handle, from, to);
            } catch (RocksDBException e) {
                throw new StorageException("batch range delete failed: " + e.getMessage(), e);
            }
        }

        /** The size of the batch's serialized representation, bytes. */
        public long dataSize() {
            return wb.getDataSize();
        }

        public int count() {
            return wb.count();
        }

        @Override
        public void close() {
            wb.close();
        }
    }
}
