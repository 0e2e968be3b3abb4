package dev.keel.server;

import com.google.protobuf.ByteString;
import dev.keel.lease.Lessor;
import dev.keel.mvcc.MvccStore;
import dev.keel.storage.Storage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The snapshot dump format, the snapshot stream and the offline restore/status tool, on a real RocksDB. */
class SnapshotFormatTest {

    @TempDir
    Path dir;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static long apply(MvccStore store, Storage storage, Consumer<MvccStore.WriteTxn> changes) {
        return dev.keel.mvcc.Writes.apply(store, storage, changes);
    }

    /** Every (column, key, value) of the database, columns in name order. */
    private static List<String> dump(Storage s) {
        List<String> out = new ArrayList<>();
        try (Storage.View v = s.openView()) {
            for (String c : v.columnNames()) {
                Storage.View.Cursor cur = v.cursor(c);
                while (cur.next()) {
                    out.add(c + " " + Arrays.toString(cur.key()) + " " + Arrays.toString(cur.value()));
                }
            }
        }
        return out;
    }

    /** The whole stream a client would save: every blob in order. Checks etcd's framing on the way. */
    private static byte[] stream(SnapshotStream st) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        long total = st.totalBytes();
        long seen = 0;
        var r = st.next();
        List<byte[]> blobs = new ArrayList<>();
        while (r != null) {
            blobs.add(r.getBlob().toByteArray());
            out.write(r.getBlob().toByteArray());
            if (seen < total) {
                seen += r.getBlob().size();
                assertEquals(total - seen, r.getRemainingBytes());
                assertTrue(r.getBlob().size() <= SnapshotStream.CHUNK);
            } else {
                assertEquals(0, r.getRemainingBytes());
                assertEquals(32, r.getBlob().size()); // the SHA-256 message
            }
            assertEquals(st.revision(), r.getHeader().getRevision());
            assertEquals("3.6.0", r.getVersion());
            r = st.next();
        }
        byte[] all = out.toByteArray();
        assertEquals(total + 32, all.length);
        assertEquals(32, all.length % 512, "etcdctl recognises the trailer by size % 512 == 32");
        byte[] body = Arrays.copyOf(all, (int) total);
        assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(body),
                Arrays.copyOfRange(all, (int) total, all.length));
        assertEquals(total, blobs.stream().limit(blobs.size() - 1).mapToLong(x -> x.length).sum());
        return all;
    }

    /**
     * A snapshot file in Keel's own format (what Maintenance.Snapshot sent before it sent etcd's bbolt format; still
     * read by {@code snapshot restore|status}): the encoded body of {@code view} and its SHA-256.
     */
    static byte[] keelFormatFile(Storage storage, Storage.View view) throws Exception {
        MvccStore.Revisions revs = MvccStore.revisionsOf(storage, view);
        SnapshotFormat.Header h = new SnapshotFormat.Header(Version.STORAGE, revs.current(), revs.compacted(),
                view.columnNames());
        byte[] body = new SnapshotFormat.Encoder(view, h, SnapshotStream::excluded).readAllBytes();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(body);
        out.write(MessageDigest.getInstance("SHA-256").digest(body));
        return out.toByteArray();
    }

    @Test
    void keelFormatIsAPointInTimeDumpThatRestoresExactly() throws Exception {
        Path src = dir.resolve("src");
        List<String> expected;
        byte[] file;
        try (Storage storage = Storage.open(src, EtcdServer.storageColumns())) {
            MvccStore mvcc = new MvccStore(storage);
            Storage.Column meta = storage.column(MvccStore.META_COLUMN);
            Storage.Column lease = storage.column(Lessor.COLUMN);
            apply(mvcc, storage, t -> t.put(b("a"), ByteString.copyFromUtf8("1"), 0));        // rev 2
            apply(mvcc, storage, t -> t.put(b("b"), ByteString.copyFromUtf8("2"), 7));        // rev 3
            apply(mvcc, storage, t -> t.put(b("a"), ByteString.copyFromUtf8("3"), 0));        // rev 4
            apply(mvcc, storage, t -> t.deleteRange(b("b"), null));                           // rev 5
            apply(mvcc, storage, t -> t.put(b("big"), ByteString.copyFrom(new byte[100_000]), 0)); // rev 6
            apply(mvcc, storage, t -> t.compact(4));
            mvcc.physicalCompaction(4).get();
            try (Storage.Batch batch = storage.newBatch()) {
                batch.put(lease, b("lease-7"), b("ttl"));
                batch.put(meta, Applier.APPLIED, new byte[16]);
                storage.write(batch);
            }
            expected = new ArrayList<>(dump(storage));
            expected.removeIf(line -> line.startsWith("meta " + Arrays.toString(Applier.APPLIED)));

            try (Storage.View view = storage.openView()) {
                // written after the view was taken: not in it
                apply(mvcc, storage, t -> t.put(b("late"), ByteString.copyFromUtf8("x"), 0));
                file = keelFormatFile(storage, view);
            }
            mvcc.close();
        }
        Path snap = dir.resolve("snap.db");
        Files.write(snap, file);

        // the format reads back to exactly the records (and the header) that were there
        List<String> read = new ArrayList<>();
        SnapshotFormat.Contents c = SnapshotFormat.read(new ByteArrayInputStream(file), file.length - 32,
                (col, k, v) -> read.add(col + " " + Arrays.toString(k) + " " + Arrays.toString(v)));
        assertEquals(expected, read);
        assertEquals(new SnapshotFormat.Header("3.6.0", 6, 4, List.of("auth", "kv", "lease", "meta")), c.header());
        assertEquals(expected.size(), c.records());

        // status: etcd's fields; the hash is CRC-32C over column names, keys and values
        CRC32C crc = new CRC32C();
        String[] last = {null};
        SnapshotFormat.read(new ByteArrayInputStream(file), file.length - 32, (col, k, v) -> {
            if (!col.equals(last[0])) {
                crc.update(b(col));
                last[0] = col;
            }
            crc.update(k);
            crc.update(v);
        });
        assertEquals(new SnapshotRestore.Status(crc.getValue(), 6, 2, file.length - 32, "3.6.0"),
                SnapshotRestore.status(snap));

        // restore: the same records, a new identity, no applied index, no Raft log
        Path restored = dir.resolve("restored");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(0, SnapshotRestore.run(new String[]{"restore", snap.toString(), "--data-dir", restored.toString(),
                "--name", "r1", "--initial-cluster", "r1=http://127.0.0.1:2380",
                "--initial-advertise-peer-urls=http://127.0.0.1:2380"}, new PrintStream(out), new PrintStream(err)),
                err.toString());
        assertTrue(Files.exists(restored.resolve("member").resolve("identity")));
        assertFalse(Files.exists(restored.resolve("member").resolve("raft")));
        try (Storage s = Storage.open(restored.resolve("member").resolve("kv"), EtcdServer.storageColumns())) {
            assertEquals(expected, dump(s));
            MvccStore m = new MvccStore(s);
            assertEquals(6, m.currentRevision());
            assertEquals(4, m.compactRevision());
            assertEquals("3", m.range(b("a"), null, 0, 0, false).kvs().get(0).getValue().toStringUtf8());
            assertEquals(0, m.range(b("b"), null, 0, 0, false).count());
            m.close();
        }

        // an existing data dir is refused, and left alone
        err.reset();
        assertEquals(1, SnapshotRestore.run(new String[]{"restore", snap.toString(), "--data-dir",
                restored.toString(), "--name=r1", "--initial-cluster=r1=http://localhost:2380"},
                new PrintStream(out), new PrintStream(err)));
        assertEquals("Error: data-dir \"" + restored + "\" not empty or could not be read\n", err.toString());
        assertTrue(Files.exists(restored.resolve("member").resolve("identity")));

        // one flipped byte: refused by the hash check, nothing written
        byte[] bad = file.clone();
        bad[100] ^= 1;
        Path corrupt = dir.resolve("corrupt.db");
        Files.write(corrupt, bad);
        err.reset();
        Path target = dir.resolve("from-corrupt");
        assertEquals(1, SnapshotRestore.run(new String[]{"restore", corrupt.toString(), "--data-dir",
                target.toString()}, new PrintStream(out), new PrintStream(err)));
        assertTrue(err.toString().startsWith("Error: expected sha256 ["), err.toString());
        assertFalse(Files.exists(target));
        // without the trailer
        Path noHash = dir.resolve("nohash.db");
        Files.write(noHash, Arrays.copyOf(file, file.length - 32));
        err.reset();
        assertEquals(1, SnapshotRestore.run(new String[]{"restore", noHash.toString(), "--data-dir",
                target.toString()}, new PrintStream(out), new PrintStream(err)));
        assertEquals("Error: snapshot missing hash but --skip-hash-check=false\n", err.toString());
        // a corrupt body restored with --skip-hash-check still fails the format's checks and leaves nothing
        byte[] badTag = file.clone();
        int firstRecord = 8 + 4 + 2 + 5 + 8 + 8 + 2 + (2 + 4) + (2 + 2) + (2 + 5) + (2 + 4); // auth, kv, lease, meta
        badTag[firstRecord] = 9;
        Files.write(corrupt, badTag);
        err.reset();
        assertEquals(1, SnapshotRestore.run(new String[]{"restore", corrupt.toString(), "--data-dir",
                target.toString(), "--skip-hash-check"}, new PrintStream(out), new PrintStream(err)));
        assertEquals("restoring snapshot " + corrupt + " into data dir " + target + "\n"
                + "Error: corrupt snapshot: unknown record tag 9 at byte " + firstRecord + "\n", err.toString());
        assertFalse(Files.exists(target));
    }

    /**
     * Maintenance.Snapshot's stream: etcd's framing around a bbolt database in etcd's layout, taken at one point in
     * time; {@code snapshot restore} reads it back to the same revisions, records, compaction and leases, and
     * {@code snapshot status} reports etcdutl's fields. The temporary file is gone when the stream is.
     */
    @Test
    void streamIsABboltDatabaseInEtcdsLayoutThatRestoresExactly() throws Exception {
        Path src = dir.resolve("bsrc");
        List<String> expected;
        byte[] file;
        dev.keel.proto.internal.LeaseRecord leaseRecord = dev.keel.proto.internal.LeaseRecord.newBuilder().setId(7)
                .setTtl(600).build();
        try (Storage storage = Storage.open(src, EtcdServer.storageColumns())) {
            MvccStore mvcc = new MvccStore(storage);
            apply(mvcc, storage, t -> t.put(b("a"), ByteString.copyFromUtf8("1"), 0));        // rev 2
            apply(mvcc, storage, t -> t.put(b("b"), ByteString.copyFromUtf8("2"), 7));        // rev 3
            apply(mvcc, storage, t -> t.put(b("a"), ByteString.copyFromUtf8("3"), 0));        // rev 4
            apply(mvcc, storage, t -> t.deleteRange(b("b"), null));                           // rev 5
            apply(mvcc, storage, t -> t.put(b("big"), ByteString.copyFrom(new byte[100_000]), 0)); // rev 6
            apply(mvcc, storage, t -> t.compact(4));
            mvcc.physicalCompaction(4).get();
            try (Storage.Batch batch = storage.newBatch()) {
                batch.put(storage.column(Lessor.COLUMN), java.nio.ByteBuffer.allocate(8).putLong(7).array(), leaseRecord.toByteArray());
                batch.put(storage.column(MvccStore.META_COLUMN), Applier.APPLIED, new byte[16]);
                storage.write(batch);
            }
            expected = new ArrayList<>(dump(storage));
            expected.removeIf(line -> !line.startsWith("kv ") && !line.startsWith("lease "));
            try (SnapshotStream st = new SnapshotStream(storage, rev ->
                    dev.keel.proto.etcdserverpb.ResponseHeader.newBuilder().setRevision(rev).build())) {
                assertEquals(6, st.revision());
                try (var temps = Files.list(src.getParent())) {
                    assertEquals(1, temps.filter(f -> f.getFileName().toString()
                            .startsWith(SnapshotStream.TEMP_PREFIX)).count());
                }
                // written after the snapshot was taken: not in it, and not held up by it
                apply(mvcc, storage, t -> t.put(b("late"), ByteString.copyFromUtf8("x"), 0));
                file = stream(st);
            }
            try (var temps = Files.list(src.getParent())) {
                assertEquals(0, temps.filter(f -> f.getFileName().toString()
                        .startsWith(SnapshotStream.TEMP_PREFIX)).count(), "temporary file removed");
            }
            mvcc.close();
        }
        assertEquals(0, (file.length - 32) % 4096);
        assertTrue(dev.keel.snapshot.bbolt.BoltReader.looksLikeBolt(file));
        Path snap = dir.resolve("bsnap.db");
        Files.write(snap, file);
        SnapshotRestore.Status st = SnapshotRestore.status(snap);
        assertEquals(6, st.revision());
        assertEquals(2, st.totalKey()); // a and big
        assertEquals(file.length - 32, st.totalSize());
        assertEquals("3.6.0", st.version());

        Path restored = dir.resolve("brestored");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(0, SnapshotRestore.run(new String[]{"restore", snap.toString(), "--data-dir", restored.toString(),
                "--name", "r1", "--initial-cluster", "r1=http://127.0.0.1:2380",
                "--initial-advertise-peer-urls=http://127.0.0.1:2380"}, new PrintStream(out), new PrintStream(err)),
                err.toString());
        assertTrue(err.toString().contains(": revision 6, compact revision 4, "), err.toString());
        try (Storage s = Storage.open(restored.resolve("member").resolve("kv"), EtcdServer.storageColumns())) {
            List<String> got = new ArrayList<>(dump(s));
            got.removeIf(line -> !line.startsWith("kv ") && !line.startsWith("lease "));
            assertEquals(expected, got);
            assertEquals(null, s.get(s.column(MvccStore.META_COLUMN), Applier.APPLIED));
            MvccStore m = new MvccStore(s);
            assertEquals(6, m.currentRevision());
            assertEquals(4, m.compactRevision());
            assertEquals("3", m.range(b("a"), null, 0, 0, false).kvs().get(0).getValue().toStringUtf8());
            assertEquals(0, m.range(b("b"), null, 0, 0, false).count());
            m.close();
        }
    }

    @Test
    void flagsAndFormatting() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream e = new PrintStream(err);
        PrintStream o = new PrintStream(new ByteArrayOutputStream());
        assertEquals(2, SnapshotRestore.run(new String[]{"restore", "x.db", "--bogus"}, o, e));
        assertTrue(err.toString().startsWith("Error: unknown flag: --bogus\n"), err.toString());
        err.reset();
        assertEquals(2, SnapshotRestore.run(new String[]{"restore"}, o, e));
        assertTrue(err.toString().startsWith("Error: snapshot restore requires exactly one argument\n"));
        err.reset();
        assertEquals(2, SnapshotRestore.run(new String[]{"restore", "x.db", "--wal-dir=/tmp/w"}, o, e));
        assertTrue(err.toString().startsWith("Error: Keel keeps its Raft log in the data dir: --wal-dir is not "
                + "supported\n"), err.toString());
        err.reset();
        assertEquals(2, SnapshotRestore.run(new String[]{"frobnicate"}, o, e));
        assertTrue(err.toString().startsWith("Error: unknown command \"frobnicate\" for \"keel snapshot\"\n"));
        err.reset();
        // etcdutl's default --initial-cluster names the member "default"
        assertEquals(1, SnapshotRestore.run(new String[]{"restore", "x.db", "--name=n1",
                "--data-dir=" + dir.resolve("n1")}, o, e));
        assertEquals("Error: couldn't find local name \"n1\" in the initial cluster configuration\n",
                err.toString());

        assertEquals("82 B", SnapshotRestore.humanizeBytes(82));
        assertEquals("1.5 kB", SnapshotRestore.humanizeBytes(1500));
        assertEquals("25 kB", SnapshotRestore.humanizeBytes(25_088));
        assertEquals("3.4 MB", SnapshotRestore.humanizeBytes(3_400_000));
        assertEquals("""
                +----------+----------+------------+------------+---------+
                |   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE | VERSION |
                +----------+----------+------------+------------+---------+
                | 2b0ad5a1 |        9 |          3 |      25 kB |   3.6.0 |
                +----------+----------+------------+------------+---------+
                """, SnapshotRestore.table(List.of("hash", "revision", "total keys", "total size", "version"),
                List.of("2b0ad5a1", "9", "3", "25 kB", "3.6.0")));
    }
}
