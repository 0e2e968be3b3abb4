package dev.keel.mvcc;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * In-memory index from key to its {@link KeyIndex}, ordered by unsigned byte order (etcd's key order). Rebuilt
 * from disk at startup. Written only by the apply thread; read concurrently by range requests, which pass the
 * revision they read at and so never see changes made after it.
 */
final class TreeIndex {

    /** One key found by a range: its key and the revision holding its value. */
    record Found(byte[] key, KeyIndex.Hit hit) {
    }

    private final ConcurrentSkipListMap<byte[], KeyIndex> keys = new ConcurrentSkipListMap<>(Arrays::compareUnsigned);

    KeyIndex.Hit get(byte[] key, long atRev) {
        KeyIndex ki = keys.get(key);
        return ki == null ? null : ki.get(atRev);
    }

    void put(byte[] key, Revision rev) {
        keys.computeIfAbsent(key, KeyIndex::new).put(rev);
    }

    void restore(byte[] key, Revision created, Revision rev, long version) {
        keys.computeIfAbsent(key, KeyIndex::new).restore(created, rev, version);
    }

    boolean tombstone(byte[] key, Revision rev) {
        KeyIndex ki = keys.get(key);
        return ki != null && ki.tombstone(rev);
    }

    /** Takes back the newest change of {@code key} (see {@link KeyIndex#undo}); drops a key left without history. */
    void undo(byte[] key, Revision rev, boolean tombstone) {
        KeyIndex ki = keys.get(key);
        if (ki == null) {
            throw new IllegalStateException("undo of " + rev + " for a key not in the index");
        }
        ki.undo(rev, tombstone);
        if (ki.isEmpty()) {
            keys.remove(key, ki);
        }
    }

    /**
     * Keys live at {@code atRev} in the range: {@code end == null} means just {@code key}; an empty {@code end}
     * means every key from {@code key} on; otherwise [key, end). Collects at most {@code limit} (0: all) into
     * {@code out} unless it is null, and returns how many keys matched in total.
     */
    long range(byte[] key, byte[] end, long atRev, long limit, List<Found> out) {
        if (end == null) {
            KeyIndex.Hit hit = get(key, atRev);
            if (hit == null) {
                return 0;
            }
            if (out != null) {
                out.add(new Found(key, hit));
            }
            return 1;
        }
        NavigableMap<byte[], KeyIndex> sub;
        if (end.length == 0) {
            sub = keys.tailMap(key, true);
        } else if (Arrays.compareUnsigned(key, end) >= 0) {
            return 0;
        } else {
            sub = keys.subMap(key, true, end, false);
        }
        long total = 0;
        for (Map.Entry<byte[], KeyIndex> e : sub.entrySet()) {
            KeyIndex.Hit hit = e.getValue().get(atRev);
            if (hit == null) {
                continue;
            }
            total++;
            if (out != null && (limit <= 0 || out.size() < limit)) {
                out.add(new Found(e.getKey(), hit));
            }
        }
        return total;
    }

    /**
     * The first {@code max} (&gt; 0) keys live at {@code atRev} in the range (shape as in {@link #range}), in key
     * order, into {@code out}. Unlike {@link #range} it stops there and counts nothing, so reading a range page
     * by page walks each key once.
     */
    void page(byte[] key, byte[] end, long atRev, int max, List<Found> out) {
        if (end == null) {
            KeyIndex.Hit hit = get(key, atRev);
            if (hit != null) {
                out.add(new Found(key, hit));
            }
            return;
        }
        NavigableMap<byte[], KeyIndex> sub;
        if (end.length == 0) {
            sub = keys.tailMap(key, true);
        } else if (Arrays.compareUnsigned(key, end) >= 0) {
            return;
        } else {
            sub = keys.subMap(key, true, end, false);
        }
        for (Map.Entry<byte[], KeyIndex> e : sub.entrySet()) {
            KeyIndex.Hit hit = e.getValue().get(atRev);
            if (hit != null) {
                out.add(new Found(e.getKey(), hit));
                if (out.size() >= max) {
                    return;
                }
            }
        }
    }

    /** Every revision with main &gt;= sinceMain of keys in the range, per key (for watch replay). */
    void forEachInRange(byte[] key, byte[] end, java.util.function.Consumer<KeyIndex> visitor) {
        if (end == null) {
            KeyIndex ki = keys.get(key);
            if (ki != null) {
                visitor.accept(ki);
            }
            return;
        }
        NavigableMap<byte[], KeyIndex> sub = end.length == 0 ? keys.tailMap(key, true)
                : Arrays.compareUnsigned(key, end) >= 0 ? new ConcurrentSkipListMap<>()
                : keys.subMap(key, true, end, false);
        sub.values().forEach(visitor);
    }

    /** Compacts every key's history at {@code atRev}; returns the revisions at or below it that must stay. */
    Set<Revision> compact(long atRev) {
        Set<Revision> keep = new HashSet<>();
        for (var it = keys.entrySet().iterator(); it.hasNext(); ) {
            KeyIndex ki = it.next().getValue();
            ki.compact(atRev, keep);
            if (ki.isEmpty()) {
                it.remove();
            }
        }
        return keep;
    }

    /** The revisions at or below {@code atRev} that a compaction there would keep. */
    Set<Revision> keep(long atRev) {
        Set<Revision> keep = new HashSet<>();
        for (KeyIndex ki : keys.values()) {
            ki.keep(atRev, keep);
        }
        return keep;
    }

    int size() {
        return keys.size();
    }
}
