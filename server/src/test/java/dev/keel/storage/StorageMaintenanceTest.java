package dev.keel.storage;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Size accounting, defragmentation and the whole-database hash, on a real RocksDB. */
class StorageMaintenanceTest {

    @TempDir
    Path dir;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void putAll(Storage s, Storage.Column c, int n, int valueSize, long seed) {
        Random r = new Random(seed);
        for (int i = 0; i < n; i++) {
            byte[] v = new byte[valueSize];
            r.nextBytes(v); // incompressible
            try (Storage.Batch batch = s.newBatch()) {
                batch.put(c, b(String.format("k%05d", i)), v);
                s.write(batch);
            }
        }
    }

    @Test
    void sizeCountsDataNotMemtableArenaAndDefragmentGivesSpaceBack() {
        try (Storage s = Storage.open(dir.resolve("db"), List.of("kv"))) {
            Storage.Column kv = s.column("kv");
            assertTrue(s.sizeOnDisk() <= 8192, "empty database: " + s.sizeOnDisk());
            putAll(s, kv, 20, 1000, 1);
            // memtables grow in 16 KiB blocks (RocksDB's default would be 1 MiB, swamping a small quota)
            long small = s.sizeOnDisk();
            assertTrue(small >= 20_000 && small <= 20_000 + 2 * Storage.ARENA_BLOCK + 8192, "20 KB written: " + small);

            putAll(s, kv, 200, 2000, 2); // another ~400 KB in the memtable
            long inMemtable = s.sizeOnDisk();
            assertTrue(inMemtable > 410_000 && inMemtable < 500_000, "both versions of 20 keys in the memtable: " + inMemtable);

            s.flush();
            long flushed = s.sizeOnDisk();
            assertTrue(flushed > 400_000 && flushed < 480_000, "flushed: " + flushed);

            try (Storage.Batch batch = s.newBatch()) {
                for (int i = 0; i < 200; i++) {
                    batch.delete(kv, b(String.format("k%05d", i)));
                }
                s.write(batch);
            }
            assertTrue(s.sizeOnDisk() >= flushed, "deleted data still occupies the files");

            s.defragment();
            long after = s.sizeOnDisk();
            assertTrue(after < 10_000, "after defragment: " + after);
            assertTrue(s.sizeInUse() <= after);
        }
    }

    @Test
    void hashCoversEveryColumnAndSkipsIgnoredKeys() {
        int[] hashes = new int[2];
        for (int i = 0; i < 2; i++) {
            try (Storage s = Storage.open(dir.resolve("db" + i), List.of("kv", "meta"))) {
                putAll(s, s.column("kv"), 50, 300, 7);
                try (Storage.Batch batch = s.newBatch()) {
                    batch.put(s.column("meta"), b("stable"), b("x"));
                    batch.put(s.column("meta"), b("volatile"), b("member " + i));
                    s.write(batch);
                }
                if (i == 1) {
                    s.flush(); // where the data lives must not matter
                }
                hashes[i] = s.hash((column, key) -> column.equals("meta") && new String(key).equals("volatile"));
                assertNotEquals(hashes[i], s.hash((column, key) -> false), "the volatile key counts unless ignored");
                int before = s.hash((column, key) -> false);
                try (Storage.Batch batch = s.newBatch()) {
                    batch.put(s.column("kv"), b("k00003"), b("changed"));
                    s.write(batch);
                }
                assertNotEquals(before, s.hash((column, key) -> false));
                try (Storage.Batch batch = s.newBatch()) {
                    batch.delete(s.column("kv"), b("k00003"));
                    s.write(batch);
                }
            }
        }
        assertEquals(hashes[0], hashes[1]);
    }
}
