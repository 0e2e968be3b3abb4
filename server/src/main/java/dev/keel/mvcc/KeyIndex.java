package dev.keel.mvcc;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Every revision at which one key changed, grouped into generations. A generation runs from the put that created
 * the key to the deletion (tombstone) that ended it; after a tombstone an empty generation waits for the next
 * create. Example: put@1, put@2, delete@3, put@4 gives generations {1,2,3(t)} and {4}.
 *
 * <p>Invariants: revisions only grow; only the last generation may be empty or lack a tombstone; every earlier
 * generation ends with its tombstone. Methods are synchronized: the apply thread writes while readers look up.
 */
final class KeyIndex {

    /** What a lookup at some revision found. */
    record Hit(Revision modified, Revision created, long version) {
    }

    private static final class Generation {
        long version;
        Revision created;
        final List<Revision> revs = new ArrayList<>(2);

        boolean isEmpty() {
            return revs.isEmpty();
        }

        Revision last() {
            return revs.get(revs.size() - 1);
        }

        /** Index of the newest revision with main &lt;= atRev, or -1. */
        int indexAtOrBefore(long atRev) {
            for (int i = revs.size() - 1; i >= 0; i--) {
                if (revs.get(i).main() <= atRev) {
                    return i;
                }
            }
            return -1;
        }
    }

    private final byte[] key;
    private Revision modified;
    private final List<Generation> generations = new ArrayList<>(1);

    KeyIndex(byte[] key) {
        this.key = key;
        generations.add(new Generation());
    }

    byte[] key() {
        return key;
    }

    synchronized Revision modified() {
        return modified;
    }

    /** Records a put at {@code rev}; starts a new generation's life if the key is currently absent. */
    synchronized void put(Revision rev) {
        if (modified != null && rev.compareTo(modified) <= 0) {
            throw new IllegalStateException("revision " + rev + " not after " + modified + " for key");
        }
        Generation g = generations.get(generations.size() - 1);
        if (g.isEmpty()) {
            g.created = rev;
        }
        g.revs.add(rev);
        g.version++;
        modified = rev;
    }

    /** Rebuilds state from a stored record during startup (the generation may be partly compacted away). */
    synchronized void restore(Revision created, Revision rev, long version) {
        Generation g = generations.get(generations.size() - 1);
        if (g.isEmpty()) {
            g.created = created;
            g.version = version;
            g.revs.add(rev);
        } else {
            g.revs.add(rev);
            g.version++;
        }
        modified = rev;
    }

    /** Records a deletion at {@code rev}; returns false if the key is not currently live. */
    synchronized boolean tombstone(Revision rev) {
        Generation g = generations.get(generations.size() - 1);
        if (g.isEmpty()) {
            return false;
        }
        put(rev);
        generations.add(new Generation());
        return true;
    }

    /**
     * Takes back the newest change, which was made at {@code rev} by {@link #put} ({@code tombstone} false) or by
     * {@link #tombstone} (true): the exact inverse, for a request rolled back before its entry was committed. The
     * modified revision becomes the newest one left, which is what it was before the change.
     */
    synchronized void undo(Revision rev, boolean tombstone) {
        if (tombstone) {
            Generation empty = generations.get(generations.size() - 1);
            if (!empty.isEmpty() || generations.size() < 2) {
                throw new IllegalStateException("undo of tombstone " + rev + " but the key has no ended generation");
            }
            generations.remove(generations.size() - 1);
        }
        Generation g = generations.get(generations.size() - 1);
        if (g.isEmpty() || !g.last().equals(rev)) {
            throw new IllegalStateException("undo of " + rev + " but the newest change is not it");
        }
        g.revs.remove(g.revs.size() - 1);
        g.version--;
        if (g.isEmpty()) {
            g.created = null;
            g.version = 0;
        }
        modified = null;
        for (int i = generations.size() - 1; i >= 0 && modified == null; i--) {
            if (!generations.get(i).isEmpty()) {
                modified = generations.get(i).last();
            }
        }
    }

    /** The live revision of the key as of {@code atRev}, or null if the key did not exist then. */
    synchronized Hit get(long atRev) {
        Generation g = findGeneration(atRev);
        if (g == null) {
            return null;
        }
        int n = g.indexAtOrBefore(atRev);
        if (n < 0) {
            return null;
        }
        return new Hit(g.revs.get(n), g.created, g.version - (g.revs.size() - n - 1));
    }

    /** The generation that holds the key's state at {@code atRev}, or null if the key was absent then. */
    private Generation findGeneration(long atRev) {
        int last = generations.size() - 1;
        for (int i = last; i >= 0; i--) {
            Generation g = generations.get(i);
            if (g.isEmpty()) {
                continue;
            }
            if (i != last && g.last().main() <= atRev) {
                return null; // deleted at or before atRev
            }
            if (g.revs.get(0).main() <= atRev) {
                return g;
            }
        }
        return null;
    }

    /** Revisions with main &gt;= {@code sinceMain}, oldest first (for watch replay). */
    synchronized List<Revision> since(long sinceMain) {
        List<Revision> out = new ArrayList<>();
        for (Generation g : generations) {
            for (Revision r : g.revs) {
                if (r.main() >= sinceMain) {
                    out.add(r);
                }
            }
        }
        return out;
    }

    /**
     * Where a compaction at {@code atRev} lands: the first generation not entirely at or before {@code atRev}
     * (generations ending in a tombstone at or before it are pure history), and in it the index of the newest
     * revision at or before {@code atRev} (-1 if none).
     */
    private int[] locate(long atRev) {
        int genIdx = 0;
        while (genIdx < generations.size() - 1 && generations.get(genIdx).last().main() <= atRev) {
            genIdx++;
        }
        Generation g = generations.get(genIdx);
        return new int[]{genIdx, g.isEmpty() ? -1 : g.indexAtOrBefore(atRev)};
    }

    /**
     * Drops history older than {@code atRev}, keeping the newest revision at or before it while the key is live
     * then. Adds the revisions that must stay on disk to {@code keep}.
     */
    synchronized void compact(long atRev, Set<Revision> keep) {
        int[] at = locate(atRev);
        int genIdx = at[0];
        Generation g = generations.get(genIdx);
        if (at[1] >= 0) {
            keep.add(g.revs.get(at[1]));
            g.revs.subList(0, at[1]).clear();
            if (g.revs.size() == 1 && genIdx != generations.size() - 1) {
                // the only survivor is the tombstone ending this generation: drop it too
                keep.remove(g.revs.get(0));
                genIdx++;
            }
        }
        generations.subList(0, genIdx).clear();
    }

    /** Like {@link #compact} but only reports what would stay, changing nothing. */
    synchronized void keep(long atRev, Set<Revision> keep) {
        int[] at = locate(atRev);
        Generation g = generations.get(at[0]);
        boolean onlyTombstone = at[1] == g.revs.size() - 1 && at[0] != generations.size() - 1;
        if (at[1] >= 0 && !onlyTombstone) {
            keep.add(g.revs.get(at[1]));
        }
    }

    /** No history left at all: the index entry can be removed. */
    synchronized boolean isEmpty() {
        return generations.size() == 1 && generations.get(0).isEmpty();
    }

    @Override
    public synchronized String toString() {
        StringBuilder sb = new StringBuilder("KeyIndex{");
        for (Generation g : generations) {
            sb.append(g.revs).append(" v").append(g.version).append("; ");
        }
        return sb.append('}').toString();
    }
}
