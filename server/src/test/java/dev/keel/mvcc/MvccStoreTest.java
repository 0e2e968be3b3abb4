package dev.keel.mvcc;

import com.google.protobuf.ByteString;
import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.proto.etcdserverpb.Compare;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.etcdserverpb.TxnResponse;
import dev.keel.proto.mvccpb.KeyValue;
import dev.keel.storage.Storage;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The MVCC store against a real RocksDB in a temporary directory. */
class MvccStoreTest extends MvccStoreFixture {

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static ByteString bs(String s) {
        return ByteString.copyFromUtf8(s);
    }

    /** Runs changes as one applied entry: commit to disk, then publish. */
    private long write(java.util.function.Consumer<MvccStore.WriteTxn> changes) {
        return Writes.apply(store, storage, changes);
    }

    private List<KeyValue> get(String key, long rev) {
        return store.range(b(key), null, rev, 0, false).kvs();
    }

    @Test
    void freshStoreStartsAtRevisionOneAndFirstWriteIsTwo() {
        assertEquals(1, store.currentRevision());
        assertEquals(2, write(t -> t.put(b("foo"), bs("bar"), 0)));
        KeyValue kv = get("foo", 0).get(0);
        assertEquals(2, kv.getCreateRevision());
        assertEquals(2, kv.getModRevision());
        assertEquals(1, kv.getVersion());
        assertEquals("bar", kv.getValue().toStringUtf8());
    }

    @Test
    void versionsAndGenerationsFollowEtcd() {
        write(t -> t.put(b("k"), bs("v1"), 0));           // 2
        write(t -> t.put(b("k"), bs("v2"), 0));           // 3
        assertEquals(1, write(t -> assertEquals(1, t.deleteRange(b("k"), null))) - 3); // 4
        write(t -> t.put(b("k"), bs("v3"), 0));           // 5
        KeyValue now = get("k", 0).get(0);
        assertEquals(5, now.getCreateRevision());
        assertEquals(1, now.getVersion());
        KeyValue old = get("k", 3).get(0);
        assertEquals(2, old.getCreateRevision());
        assertEquals(2, old.getVersion());
        assertEquals("v2", old.getValue().toStringUtf8());
        assertTrue(get("k", 4).isEmpty());
    }

    @Test
    void severalRequestsInOneEntryGetTheirOwnRevisionsAndSeeEachOther() {
        MvccStore.Writer writer = store.writer();
        MvccStore.WriteTxn first = writer.begin();
        first.put(b("a"), bs("1"), 0);
        first.end();
        MvccStore.WriteTxn noop = writer.begin();
        assertEquals(0, noop.deleteRange(b("missing"), null));
        noop.end();
        MvccStore.WriteTxn second = writer.begin();
        assertEquals("1", second.get(b("a")).getValue().toStringUtf8(), "sees the earlier request's write");
        KeyValue kv = second.put(b("a"), bs("2"), 0);
        second.end();
        assertEquals(3, kv.getModRevision());
        assertEquals(2, kv.getCreateRevision());
        assertEquals(2, kv.getVersion());
        assertEquals(1, store.currentRevision(), "nothing visible before publish");
        try (Storage.Batch batch = storage.newBatch()) {
            writer.commit(batch);
            storage.write(batch);
        }
        writer.publish();
        assertEquals(3, store.currentRevision());
        assertEquals("1", get("a", 2).get(0).getValue().toStringUtf8());
        reopen();
        assertEquals(3, store.currentRevision());
        assertEquals("2", get("a", 0).get(0).getValue().toStringUtf8());
    }

    @Test
    void deleteOfMissingKeyDoesNotBumpRevision() {
        write(t -> t.put(b("a"), bs("1"), 0));
        assertEquals(2, write(t -> assertEquals(0, t.deleteRange(b("zzz"), null))));
        assertEquals(2, store.currentRevision());
    }

    @Test
    void rangeShapesLimitAndCount() {
        write(t -> {
            for (String k : List.of("a", "b", "c", "d")) {
                t.put(b(k), bs(k), 0);
            }
        });
        assertEquals(2, store.currentRevision(), "one txn, one revision");
        assertEquals(4, store.range(b("a"), new byte[0], 0, 0, false).kvs().size(), "from-key");
        assertEquals(List.of("b", "c"), keys(store.range(b("b"), b("d"), 0, 0, false).kvs()));
        MvccStore.RangeResult limited = store.range(b("a"), b("z"), 0, 2, false);
        assertEquals(2, limited.kvs().size());
        assertEquals(4, limited.count());
        assertEquals(4, store.range(b("a"), b("z"), 0, 0, true).count());
        assertTrue(store.range(b("a"), b("z"), 0, 0, true).kvs().isEmpty());
        assertEquals(0, store.range(b("d"), b("a"), 0, 0, false).count(), "end before key is empty");
        // sub-revisions within one txn
        assertEquals(2, get("d", 0).get(0).getModRevision());
    }

    @Test
    void futureAndCompactedRevisionsAreRefused() {
        write(t -> t.put(b("a"), bs("1"), 0)); // 2
        write(t -> t.put(b("a"), bs("2"), 0)); // 3
        write(t -> t.put(b("a"), bs("3"), 0)); // 4
        EtcdException future = assertThrows(EtcdException.class, () -> get("a", 5));
        assertEquals(EtcdError.FUTURE_REV.message(), future.getMessage());
        write(t -> t.compact(3));
        EtcdException compacted = assertThrows(EtcdException.class, () -> get("a", 2));
        assertEquals(EtcdError.COMPACTED.message(), compacted.getMessage());
        assertEquals("2", get("a", 3).get(0).getValue().toStringUtf8(), "the compaction revision itself stays");
        assertThrows(EtcdException.class, () -> write(t -> t.compact(3)), "compacting twice at 3");
        assertThrows(EtcdException.class, () -> write(t -> t.compact(9)), "compacting the future");
    }

    @Test
    void physicalCompactionRemovesHistoryButKeepsLiveValues() throws Exception {
        for (int i = 0; i < 50; i++) {
            int v = i;
            write(t -> t.put(b("k"), bs("v" + v), 0));
        }
        write(t -> t.put(b("gone"), bs("x"), 0));
        write(t -> t.deleteRange(b("gone"), null));
        long rows = countRows();
        assertEquals(52, rows, "50 versions of k, one put and one tombstone of gone");
        long at = store.currentRevision();
        write(t -> t.compact(at));
        store.physicalCompaction(at).get(10, TimeUnit.SECONDS);
        assertEquals(1, countRows(), "only the live revision of k remains");
        assertEquals("v49", get("k", 0).get(0).getValue().toStringUtf8());
        assertEquals(50, get("k", 0).get(0).getVersion());
    }

    private long countRows() {
        long[] n = {0};
        storage.scan(storage.column(MvccStore.KV_COLUMN), null, null, (k, v) -> {
            n[0]++;
            return true;
        });
        return n[0];
    }

    @Test
    void restartRebuildsIndexRevisionAndCompaction() {
        write(t -> t.put(b("a"), bs("1"), 0));   // 2
        write(t -> t.put(b("b"), bs("1"), 0));   // 3
        write(t -> t.put(b("a"), bs("2"), 0));   // 4
        write(t -> t.deleteRange(b("b"), null)); // 5
        write(t -> t.compact(3));
        reopen();
        assertEquals(5, store.currentRevision());
        assertEquals(3, store.compactRevision());
        KeyValue a = get("a", 0).get(0);
        assertEquals(2, a.getCreateRevision());
        assertEquals(4, a.getModRevision());
        assertEquals(2, a.getVersion());
        assertTrue(get("b", 0).isEmpty());
        assertEquals("1", get("b", 4).get(0).getValue().toStringUtf8());
        assertThrows(EtcdException.class, () -> get("a", 2));
        assertEquals(6, write(t -> t.put(b("b"), bs("new"), 0)));
        assertEquals(1, get("b", 0).get(0).getVersion());
    }

    @Test
    void currentRevisionSurvivesDeletingEverythingAndCompacting() {
        write(t -> t.put(b("a"), bs("1"), 0)); // 2
        write(t -> t.deleteRange(b("a"), null)); // 3
        write(t -> t.compact(3));
        reopen();
        assertEquals(3, store.currentRevision());
        assertEquals(4, write(t -> t.put(b("a"), bs("again"), 0)));
    }

    // ---- etcd request semantics through KvApplier ----

    private final KvApplier kv = new KvApplier(lease -> false);

    private TxnResponse txn(TxnRequest r) {
        TxnResponse[] out = new TxnResponse[1];
        write(t -> out[0] = kv.txn(t, r));
        return out[0];
    }

    private static RequestOp put(String k, String v) {
        return RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(bs(k)).setValue(bs(v))).build();
    }

    @Test
    void txnComparesChooseBranchAndShareOneRevision() {
        write(t -> t.put(b("x"), bs("1"), 0)); // 2
        Compare eq = Compare.newBuilder().setKey(bs("x")).setTarget(Compare.CompareTarget.VALUE)
                .setResult(Compare.CompareResult.EQUAL).setValue(bs("1")).build();
        TxnResponse ok = txn(TxnRequest.newBuilder().addCompare(eq)
                .addSuccess(put("y", "a")).addSuccess(put("z", "b"))
                .addSuccess(RequestOp.newBuilder().setRequestRange(RangeRequest.newBuilder().setKey(bs("y"))))
                .addFailure(put("never", "n")).build());
        assertTrue(ok.getSucceeded());
        assertEquals(3, ok.getHeader().getRevision());
        assertEquals("a", ok.getResponses(2).getResponseRange().getKvs(0).getValue().toStringUtf8(),
                "a range inside the txn sees the txn's own put");
        assertEquals(3, get("z", 0).get(0).getModRevision());
        TxnResponse failed = txn(TxnRequest.newBuilder().addCompare(eq.toBuilder().setValue(bs("2")))
                .addFailure(RequestOp.newBuilder().setRequestRange(RangeRequest.newBuilder().setKey(bs("x")))).build());
        assertFalse(failed.getSucceeded());
        assertEquals(3, failed.getHeader().getRevision(), "read-only txn keeps the revision");
        Compare missing = Compare.newBuilder().setKey(bs("nope")).setTarget(Compare.CompareTarget.VERSION)
                .setResult(Compare.CompareResult.EQUAL).setVersion(0).build();
        assertTrue(txn(TxnRequest.newBuilder().addCompare(missing).build()).getSucceeded(),
                "a missing key has version 0");
        Compare missingValue = Compare.newBuilder().setKey(bs("nope")).setTarget(Compare.CompareTarget.VALUE)
                .setResult(Compare.CompareResult.EQUAL).setValue(ByteString.EMPTY).build();
        assertFalse(txn(TxnRequest.newBuilder().addCompare(missingValue).build()).getSucceeded(),
                "a value compare on a missing key fails");
    }

    @Test
    void putWithUnknownLeaseOrIgnoreValueOnMissingKeyChangesNothing() {
        EtcdException e = assertThrows(EtcdException.class, () -> write(t -> kv.put(t,
                PutRequest.newBuilder().setKey(bs("k")).setValue(bs("v")).setLease(42).build())));
        assertEquals(EtcdError.LEASE_NOT_FOUND.message(), e.getMessage());
        EtcdException e2 = assertThrows(EtcdException.class, () -> write(t -> kv.put(t,
                PutRequest.newBuilder().setKey(bs("k")).setIgnoreValue(true).build())));
        assertEquals(EtcdError.KEY_NOT_FOUND.message(), e2.getMessage());
        assertEquals(1, store.currentRevision());
        assertTrue(get("k", 0).isEmpty());
    }

    private static List<String> keys(List<KeyValue> kvs) {
        return kvs.stream().map(kv -> kv.getKey().toStringUtf8()).toList();
    }
}
