package dev.keel.mvcc;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

class RevisionTest {

    @Test
    void roundTripsAndKeepsEtcdLayout() {
        Revision r = new Revision(0x0102030405060708L, 9);
        byte[] b = r.toBytes();
        assertEquals(17, b.length);
        assertEquals('_', b[8]);
        assertArrayEquals(new byte[]{1, 2, 3, 4, 5, 6, 7, 8}, Arrays.copyOf(b, 8));
        assertEquals(9, b[16]);
        assertEquals(r, Revision.fromBytes(b));
        assertFalse(Revision.isTombstone(b));
    }

    @Test
    void tombstoneMarkIsAnExtraByte() {
        byte[] b = new Revision(5, 1).toBytes(true);
        assertEquals(18, b.length);
        assertEquals('t', b[17]);
        assertTrue(Revision.isTombstone(b));
        assertEquals(new Revision(5, 1), Revision.fromBytes(b));
    }

    @Test
    void byteOrderIsRevisionOrder() {
        Revision[] revs = {new Revision(1, 0), new Revision(1, 1), new Revision(2, 0), new Revision(255, 0),
                new Revision(256, 0), new Revision(1L << 40, 3)};
        for (int i = 0; i + 1 < revs.length; i++) {
            assertTrue(revs[i].compareTo(revs[i + 1]) < 0);
            assertTrue(Arrays.compareUnsigned(revs[i].toBytes(), revs[i + 1].toBytes()) < 0, revs[i] + " vs " + revs[i + 1]);
        }
    }

    @Test
    void rejectsGarbage() {
        assertThrows(IllegalArgumentException.class, () -> Revision.fromBytes(new byte[3]));
    }
}
