package dev.keel.mvcc;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

class KeyIndexTest {

    private static Revision r(long main) {
        return new Revision(main, 0);
    }

    /** put@2, put@4, delete@6, put@8, put@10: two generations plus the live one. */
    private static KeyIndex sample() {
        KeyIndex ki = new KeyIndex("foo".getBytes());
        ki.put(r(2));
        ki.put(r(4));
        assertTrue(ki.tombstone(r(6)));
        ki.put(r(8));
        ki.put(r(10));
        return ki;
    }

    @Test
    void getFindsTheRevisionLiveAtEachPoint() {
        KeyIndex ki = sample();
        assertNull(ki.get(1));
        assertEquals(new KeyIndex.Hit(r(2), r(2), 1), ki.get(2));
        assertEquals(new KeyIndex.Hit(r(2), r(2), 1), ki.get(3));
        assertEquals(new KeyIndex.Hit(r(4), r(2), 2), ki.get(5));
        assertNull(ki.get(6), "deleted at 6");
        assertNull(ki.get(7));
        assertEquals(new KeyIndex.Hit(r(8), r(8), 1), ki.get(8));
        assertEquals(new KeyIndex.Hit(r(10), r(8), 2), ki.get(100));
    }

    @Test
    void tombstoneOfAbsentKeyIsRefused() {
        KeyIndex ki = new KeyIndex("k".getBytes());
        assertFalse(ki.tombstone(r(3)));
        ki.put(r(4));
        assertTrue(ki.tombstone(r(5)));
        assertFalse(ki.tombstone(r(6)));
    }

    @Test
    void revisionsMustGrow() {
        KeyIndex ki = new KeyIndex("k".getBytes());
        ki.put(r(4));
        assertThrows(IllegalStateException.class, () -> ki.put(r(4)));
        assertThrows(IllegalStateException.class, () -> ki.put(r(3)));
    }

    @Test
    void compactKeepsNewestRevisionAtOrBelowTarget() {
        KeyIndex ki = sample();
        Set<Revision> keep = new HashSet<>();
        ki.compact(5, keep);
        assertEquals(Set.of(r(4)), keep);
        assertEquals(new KeyIndex.Hit(r(4), r(2), 2), ki.get(5));
        assertNull(ki.get(7));
        assertEquals(new KeyIndex.Hit(r(10), r(8), 2), ki.get(10));
    }

    @Test
    void compactAtTombstoneDropsTheWholeGeneration() {
        KeyIndex ki = sample();
        Set<Revision> keep = new HashSet<>();
        ki.compact(6, keep);
        assertTrue(keep.isEmpty(), "a tombstone is not kept: " + keep);
        assertNull(ki.get(6));
        assertEquals(new KeyIndex.Hit(r(8), r(8), 1), ki.get(9));
        assertFalse(ki.isEmpty());
    }

    @Test
    void compactAfterLastDeleteEmptiesTheIndex() {
        KeyIndex ki = new KeyIndex("k".getBytes());
        ki.put(r(2));
        ki.tombstone(r(3));
        Set<Revision> keep = new HashSet<>();
        ki.compact(3, keep);
        assertTrue(keep.isEmpty());
        assertTrue(ki.isEmpty());
    }

    @Test
    void keepReportsWithoutChanging() {
        KeyIndex ki = sample();
        Set<Revision> keep = new HashSet<>();
        ki.keep(9, keep);
        assertEquals(Set.of(r(8)), keep);
        assertEquals(new KeyIndex.Hit(r(2), r(2), 1), ki.get(2), "history still there");
        Set<Revision> keep2 = new HashSet<>();
        ki.keep(6, keep2);
        assertTrue(keep2.isEmpty());
    }

    @Test
    void restoreContinuesVersionsFromDisk() {
        KeyIndex ki = new KeyIndex("k".getBytes());
        ki.restore(r(3), r(7), 4); // generation created at 3, history before 7 compacted away
        ki.put(r(9));
        assertEquals(new KeyIndex.Hit(r(9), r(3), 5), ki.get(9));
        assertEquals(new KeyIndex.Hit(r(7), r(3), 4), ki.get(8));
    }

    @Test
    void sinceListsRevisionsFromAPoint() {
        KeyIndex ki = sample();
        assertEquals(java.util.List.of(r(6), r(8), r(10)), ki.since(5));
    }
}
