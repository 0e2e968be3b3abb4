package dev.keel.snapshot.bbolt;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * BoltWriter and BoltReader against each other and against the format's facts (meta checksum, page layout);
 * files written by real etcd are read in EtcdSnapshotIT, files written here are checked by etcd's tools there.
 */
class BoltWriterReaderTest {

    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Everything the reader visits, as "path|key|value" lines (hex for binary). */
    private static List<String> dump(Path file) throws IOException {
        List<String> out = new ArrayList<>();
        try (BoltReader r = BoltReader.open(file)) {
            r.forEach(new BoltReader.Visitor() {
                @Override
                public void bucket(List<byte[]> path) {
                    out.add("bucket " + names(path));
                }

                @Override
                public void entry(List<byte[]> path, byte[] key, byte[] value) {
                    out.add(names(path) + "|" + BoltWriter.hex(key) + "|" + value.length + ":"
                            + Arrays.hashCode(value));
                }
            });
        }
        return out;
    }

    private static String names(List<byte[]> path) {
        return String.join("/", path.stream().map(p -> new String(p, StandardCharsets.UTF_8)).toList());
    }

    private long write(Path file, Writes w) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            BoltWriter bw = new BoltWriter(ch);
            w.run(bw);
            return bw.finish();
        }
    }

    @FunctionalInterface
    interface Writes {
        void run(BoltWriter w) throws IOException;
    }

    @Test
    void manyKeysLargeValuesNestedAndEmptyBucketsRoundTrip() throws IOException {
        Random rnd = new Random(42);
        List<String> expected = new ArrayList<>();
        Path file = tmp.resolve("a.db");
        long size = write(file, w -> {
            w.beginBucket(b("a-empty"));
            expected.add("bucket a-empty");
            w.endBucket();
            w.beginBucket(b("key"));
            expected.add("bucket key");
            for (int i = 0; i < 60_000; i++) { // three branch levels with 4 KiB pages
                byte[] k = ByteBuffer.allocate(17).putLong(i).put((byte) '_').putLong(0).array();
                byte[] v = new byte[i % 1000 == 0 ? 20_000 : rnd.nextInt(40)]; // some overflow pages
                rnd.nextBytes(v);
                w.put(k, v);
                expected.add("key|" + BoltWriter.hex(k) + "|" + v.length + ":" + Arrays.hashCode(v));
            }
            w.beginBucket(b("nested"));
            expected.add("bucket key/nested");
            w.put(b("x"), b("y"));
            expected.add("key/nested|" + BoltWriter.hex(b("x")) + "|1:" + Arrays.hashCode(b("y")));
            w.endBucket();
            w.endBucket();
            w.beginBucket(b("meta"));
            expected.add("bucket meta");
            w.put(b("k"), new byte[0]);
            expected.add("meta|" + BoltWriter.hex(b("k")) + "|0:" + Arrays.hashCode(new byte[0]));
            w.endBucket();
        });
        assertEquals(Files.size(file), size);
        assertEquals(0, size % 4096);
        assertEquals(expected, dump(file));
        try (BoltReader r = BoltReader.open(file)) {
            assertEquals(size, r.size());
            assertEquals(3, r.txid()); // meta page 1 (txid 3) wins over page 0 (txid 2)
            assertEquals(4096, r.pageSize());
        }
    }

    @Test
    void metaPagesCarryBboltsChecksumAndTheOtherMetaIsUsedWhenOneIsCorrupt() throws IOException {
        Path file = tmp.resolve("m.db");
        write(file, w -> {
            w.beginBucket(b("b"));
            w.put(b("k"), b("v"));
            w.endBucket();
        });
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer le = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int page = 0; page < 2; page++) {
            int off = page * 4096;
            assertEquals(page, le.getLong(off));                         // page id = txid % 2
            assertEquals(0x04, le.getShort(off + 8));                    // meta page
            assertEquals(0xED0CDAED, le.getInt(off + 16));               // magic
            assertEquals(2, le.getInt(off + 20));                        // version
            assertEquals(4096, le.getInt(off + 24));                     // page size
            assertEquals(2, le.getLong(off + 16 + 32));                  // freelist page
            // FNV-1a 64 of "" is the offset basis; of the meta's 56 bytes it is what bbolt computes
            assertEquals(0xcbf29ce484222325L, BoltFormat.fnv1a64(new byte[0], 0, 0));
            assertEquals(BoltFormat.fnv1a64(bytes, off + 16, 56), le.getLong(off + 16 + 56));
        }
        assertEquals(0x10, le.getShort(2 * 4096 + 8));                  // freelist page, empty
        assertEquals(0, le.getShort(2 * 4096 + 10));
        // FNV-1a 64 test vector ("a")
        assertEquals(0xaf63dc4c8601ec8cL, BoltFormat.fnv1a64(b("a"), 0, 1));

        bytes[4096 + 16 + 48] ^= 1; // txid of meta 1: its checksum fails, meta 0 is used
        Files.write(file, bytes);
        try (BoltReader r = BoltReader.open(file)) {
            assertEquals(2, r.txid());
        }
        assertEquals(List.of("bucket b", "b|6b|1:" + Arrays.hashCode(b("v"))), dump(file));
        bytes[16 + 48] ^= 1; // both broken
        Files.write(file, bytes);
        BoltException e = assertThrows(BoltException.class, () -> BoltReader.open(file));
        assertEquals("checksum error", e.getMessage());
    }

    @Test
    void corruptFilesAreRefusedWithABoltExceptionNeverACrash() throws IOException {
        Path file = tmp.resolve("c.db");
        write(file, w -> {
            w.beginBucket(b("key"));
            for (int i = 0; i < 3000; i++) {
                w.put(b(String.format("k%05d", i)), b("value " + i));
            }
            w.endBucket();
        });
        byte[] good = Files.readAllBytes(file);
        Random rnd = new Random(1);
        int refused = 0;
        for (int round = 0; round < 300; round++) {
            byte[] bad = good.clone();
            int page = 3 + rnd.nextInt(good.length / 4096 - 3);
            int at = page * 4096 + (round % 2 == 0 ? rnd.nextInt(64) : rnd.nextInt(4096));
            bad[at] = (byte) rnd.nextInt(256);
            Path f = tmp.resolve("bad" + round + ".db");
            Files.write(f, bad);
            try {
                dump(f);
            } catch (BoltException e) {
                refused++;
            }
            Files.delete(f);
        }
        assertTrue(refused > 20, "only " + refused + " of 300 corruptions detected");
        Path truncated = tmp.resolve("t.db");
        Files.write(truncated, Arrays.copyOf(good, good.length - 4096));
        assertThrows(BoltException.class, () -> BoltReader.open(truncated));
        Path text = tmp.resolve("x.db");
        Files.write(text, b("not a database at all"));
        assertThrows(BoltException.class, () -> BoltReader.open(text));
        assertTrue(!BoltReader.looksLikeBolt(b("KEELSNAP and more bytes here")));
        assertTrue(BoltReader.looksLikeBolt(good));
    }

    @Test
    void writerRefusesKeysOutOfOrderAndPlainEntriesAtTheRoot() throws IOException {
        try (FileChannel ch = FileChannel.open(tmp.resolve("o.db"), StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE)) {
            BoltWriter w = new BoltWriter(ch);
            assertThrows(BoltException.class, () -> w.put(b("k"), b("v")));
            w.beginBucket(b("b"));
            w.put(b("b"), b("1"));
            assertThrows(BoltException.class, () -> w.put(b("a"), b("2")));
            assertThrows(BoltException.class, () -> w.put(b("b"), b("2")));
            assertThrows(BoltException.class, () -> w.put(new byte[0], b("2")));
            w.endBucket();
            assertThrows(BoltException.class, () -> w.beginBucket(b("a")));
        }
    }
}
