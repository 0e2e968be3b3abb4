package dev.keel.server;

import com.google.protobuf.ByteString;
import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.mvcc.KvApplier;
import dev.keel.mvcc.MvccStore;
import dev.keel.mvcc.Writes;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RangeResponse;
import dev.keel.proto.etcdserverpb.ResponseHeader;
import dev.keel.storage.Storage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * KV.RangeStream's chunks on a real MVCC store (RocksDB): merged, they equal what Range answers for the same
 * request; one revision for the whole stream; etcd 3.7's chunk sizes, header, count and refusals.
 */
class RangeChunksTest {

    @TempDir
    Path dir;
    Storage storage;
    MvccStore mvcc;
    final KvApplier kv = new KvApplier(id -> true);

    @BeforeEach
    void open() {
        storage = Storage.open(dir, MvccStore.COLUMNS);
        mvcc = new MvccStore(storage);
    }

    @AfterEach
    void close() {
        mvcc.close();
        storage.close();
    }

    private static ByteString b(String s) {
        return ByteString.copyFromUtf8(s);
    }

    private long put(String key, String value) {
        return Writes.apply(mvcc, storage, t -> t.put(key.getBytes(), b(value), 0));
    }

    /** 500 keys k000..k499 with values of varying size, a few overwritten and deleted; returns the revision. */
    private long fill() {
        for (int i = 0; i < 500; i++) {
            String k = String.format("k%03d", i);
            put(k, "v".repeat(1 + (i * 37) % 900));
        }
        put("k010", "again");
        Writes.apply(mvcc, storage, t -> t.deleteRange("k020".getBytes(), "k030".getBytes()));
        put("other", "x");
        return mvcc.currentRevision();
    }

    private RangeChunks chunks(RangeRequest r, int targetBytes) {
        return new RangeChunks(mvcc, r, rev -> ResponseHeader.newBuilder().setRevision(rev).build(), targetBytes);
    }

    private List<RangeResponse> all(RangeChunks c) {
        List<RangeResponse> out = new ArrayList<>();
        for (RangeResponse r; (r = c.next()) != null; ) {
            out.add(r);
            assertTrue(out.size() < 100_000, "bounded");
        }
        return out;
    }

    /** proto.Merge of every chunk, as etcd's RangeStreamResponse documents. */
    private static RangeResponse merge(List<RangeResponse> chunks) {
        RangeResponse.Builder b = RangeResponse.newBuilder();
        chunks.forEach(b::mergeFrom);
        return b.build();
    }

    @Test
    void mergedChunksEqualRange() {
        fill();
        long early = 300;
        List<RangeRequest> requests = List.of(
                RangeRequest.newBuilder().setKey(b("k")).setRangeEnd(b("l")).build(),
                RangeRequest.newBuilder().setKey(b("k")).setRangeEnd(b("l")).setLimit(123).build(),
                RangeRequest.newBuilder().setKey(b("k")).setRangeEnd(b("l")).setLimit(489).build(),
                RangeRequest.newBuilder().setKey(b("k")).setRangeEnd(b("l")).setLimit(10_000).build(),
                RangeRequest.newBuilder().setKey(b("k")).setRangeEnd(b("l")).setLimit(1).build(),
                RangeRequest.newBuilder().setKey(b("k100")).setRangeEnd(b("\0")).build(),
                RangeRequest.newBuilder().setKey(b("\0")).setRangeEnd(b("\0")).setKeysOnly(true).build(),
                RangeRequest.newBuilder().setKey(b("k")).setRangeEnd(b("l")).setRevision(early).build(),
                RangeRequest.newBuilder().setKey(b("k")).setRangeEnd(b("l")).setCountOnly(true).build(),
                RangeRequest.newBuilder().setKey(b("k")).setRangeEnd(b("l")).setSortOrder(RangeRequest.SortOrder.ASCEND)
                        .build(),
                RangeRequest.newBuilder().setKey(b("k010")).build(),
                RangeRequest.newBuilder().setKey(b("k020")).build(),
                RangeRequest.newBuilder().setKey(b("zzz")).setRangeEnd(b("\0")).build(),
                RangeRequest.newBuilder().setKey(b("k2")).setRangeEnd(b("k1")).build());
        for (RangeRequest r : requests) {
            for (int target : new int[]{1, 2048, 1 << 20}) {
                List<RangeResponse> got = all(chunks(r, target));
                RangeResponse expected = kv.range(mvcc, r);
                assertEquals(expected, merge(got), r + " target " + target);
                for (int i = 0; i < got.size() - 1; i++) {
                    RangeResponse c = got.get(i);
                    assertFalse(c.hasHeader(), "only the last chunk has the header");
                    assertEquals(0, c.getCount());
                    assertFalse(c.getMore());
                    assertTrue(c.getKvsCount() > 0, "no empty chunk before the last");
                }
            }
        }
    }

    @Test
    void chunkSizesFollowTheTarget() {
        fill();
        RangeRequest r = RangeRequest.newBuilder().setKey(b("k")).setRangeEnd(b("l")).build();
        List<RangeResponse> big = all(chunks(r, 1 << 20));
        assertEquals(10, big.get(0).getKvsCount(), "etcd's first chunk: 10 keys");
        assertEquals(20, big.get(1).getKvsCount(), "small chunks double");
        assertEquals(40, big.get(2).getKvsCount());
        // a 1-byte target: each chunk is over twice the target, so the limit halves down to one key
        List<RangeResponse> tiny = all(chunks(r, 1));
        assertEquals(List.of(10, 5, 2, 1, 1), tiny.subList(0, 5).stream().map(RangeResponse::getKvsCount).toList());
        assertEquals(490, tiny.stream().mapToInt(RangeResponse::getKvsCount).sum());
        // a target near the chunks' size keeps chunks near it
        List<RangeResponse> mid = all(chunks(r, 16 * 1024));
        for (RangeResponse c : mid.subList(0, mid.size() - 1)) {
            assertTrue(c.getSerializedSize() < 4 * 16 * 1024, "chunk of " + c.getSerializedSize() + " bytes");
        }
        assertEquals(2, RangeChunks.adjustChunkLimit(1, 10, 100));
        assertEquals(4, RangeChunks.adjustChunkLimit(8, 201, 100));
        assertEquals(8, RangeChunks.adjustChunkLimit(8, 150, 100));
        assertEquals(1, RangeChunks.adjustChunkLimit(1, 1000, 100));
    }

    @Test
    void oneRevisionForTheWholeStream() {
        long start = fill();
        RangeChunks c = chunks(RangeRequest.newBuilder().setKey(b("k")).setRangeEnd(b("l")).build(), 1);
        RangeResponse first = c.next();
        put("k499", "changed");
        put("k4990", "new");
        Writes.apply(mvcc, storage, t -> t.deleteRange("k000".getBytes(), "k300".getBytes()));
        List<RangeResponse> rest = all(c);
        List<RangeResponse> every = new ArrayList<>(List.of(first));
        every.addAll(rest);
        RangeResponse merged = merge(every);
        assertEquals(start, merged.getHeader().getRevision(), "the revision the stream started at");
        assertEquals(kv.range(mvcc, RangeRequest.newBuilder().setKey(b("k")).setRangeEnd(b("l")).setRevision(start)
                .build()).getKvsList(), merged.getKvsList());
        assertEquals(490, merged.getCount());
    }

    @Test
    void compactionPastThePinnedRevisionFailsTheNextChunk() {
        fill();
        RangeChunks c = chunks(RangeRequest.newBuilder().setKey(b("k")).setRangeEnd(b("l")).build(), 1);
        c.next();
        long now = put("k001", "newer");
        Writes.apply(mvcc, storage, t -> t.compact(now));
        EtcdException e = assertThrows(EtcdException.class, c::next);
        assertEquals(EtcdError.COMPACTED.message(), e.getMessage());
        assertEquals("mvcc: required revision has been compacted", e.getMessage().replace("etcdserver: ", ""));
    }

    @Test
    void futureAndCompactedRevisionsFailTheFirstChunk() {
        long rev = fill();
        EtcdException future = assertThrows(EtcdException.class, () -> chunks(RangeRequest.newBuilder()
                .setKey(b("k")).setRevision(rev + 1).build(), 1024).next());
        assertEquals(EtcdError.FUTURE_REV.message(), future.getMessage());
        Writes.apply(mvcc, storage, t -> t.compact(100));
        EtcdException compacted = assertThrows(EtcdException.class, () -> chunks(RangeRequest.newBuilder()
                .setKey(b("k")).setRangeEnd(b("l")).setRevision(50).build(), 1024).next());
        assertEquals(EtcdError.COMPACTED.message(), compacted.getMessage());
    }

    @Test
    void refusesWhatEtcd37Refuses() {
        for (RangeRequest r : List.of(
                RangeRequest.newBuilder().setKey(b("a")).setSortOrder(RangeRequest.SortOrder.DESCEND).build(),
                RangeRequest.newBuilder().setKey(b("a")).setSortOrder(RangeRequest.SortOrder.ASCEND)
                        .setSortTarget(RangeRequest.SortTarget.MOD).build())) {
            EtcdException e = assertThrows(EtcdException.class, () -> RangeChunks.checkStreamable(r));
            assertEquals(EtcdError.Codes.UNIMPLEMENTED, e.code());
            assertEquals("RangeStream does not support custom sort orders", e.getMessage());
        }
        for (RangeRequest r : List.of(
                RangeRequest.newBuilder().setKey(b("a")).setMinModRevision(1).build(),
                RangeRequest.newBuilder().setKey(b("a")).setMaxModRevision(1).build(),
                RangeRequest.newBuilder().setKey(b("a")).setMinCreateRevision(1).build(),
                RangeRequest.newBuilder().setKey(b("a")).setMaxCreateRevision(1).build())) {
            EtcdException e = assertThrows(EtcdException.class, () -> RangeChunks.checkStreamable(r));
            assertEquals(EtcdError.Codes.UNIMPLEMENTED, e.code());
            assertEquals("RangeStream does not support revision filters", e.getMessage());
        }
        // accepted as etcd accepts them: no sort, key ascending, NONE with any target
        RangeChunks.checkStreamable(RangeRequest.newBuilder().setKey(b("a")).build());
        RangeChunks.checkStreamable(RangeRequest.newBuilder().setKey(b("a"))
                .setSortOrder(RangeRequest.SortOrder.ASCEND).setSortTarget(RangeRequest.SortTarget.KEY).build());
        RangeChunks.checkStreamable(RangeRequest.newBuilder().setKey(b("a"))
                .setSortTarget(RangeRequest.SortTarget.CREATE).build());
    }

    @Test
    void countOnlyIsOneChunk() {
        long rev = fill();
        RangeChunks c = chunks(RangeRequest.newBuilder().setKey(b("k")).setRangeEnd(b("l")).setCountOnly(true)
                .setLimit(5).build(), 1);
        RangeResponse only = c.next();
        assertEquals(490, only.getCount());
        assertEquals(rev, only.getHeader().getRevision());
        assertEquals(0, only.getKvsCount());
        assertNull(c.next());
    }
}
