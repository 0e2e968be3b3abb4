package dev.keel.server;

import com.google.protobuf.ByteString;
import dev.keel.errors.EtcdError;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.internal.InternalRequest;
import dev.keel.proto.internal.InternalResponse;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The applier's isolation boundary, on a real RocksDB: a request whose apply throws (here the "poison txn" of
 * issue 11, which the validator now refuses but which reaches the applier directly in this test) fails alone, its
 * changes taken back, while the other requests of its entry apply; nothing of it reaches disk (checked by reopening).
 */
class ApplierIsolationTest extends ApplierOnRocksDb {

    private List<InternalResponse> apply(InternalRequest... reqs) throws Exception {
        return applyEntry(List.of(reqs));
    }

    private static InternalRequest put(String k, String v) {
        return InternalRequest.newBuilder().setPut(PutRequest.newBuilder().setKey(bs(k)).setValue(bs(v))).build();
    }

    /** The reproduction: delete from "a" to the end, then put "b" keeping its (now deleted) value. */
    private static InternalRequest poison() {
        return InternalRequest.newBuilder().setTxn(TxnRequest.newBuilder()
                .addSuccess(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(bs("c"))
                        .setValue(bs("written-before-the-fault"))))
                .addSuccess(RequestOp.newBuilder().setRequestDeleteRange(DeleteRangeRequest.newBuilder()
                        .setKey(bs("a")).setRangeEnd(ByteString.copyFrom(new byte[]{0}))))
                .addSuccess(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(bs("b"))
                        .setIgnoreValue(true))))
                .build();
    }

    @Test
    void aFaultingRequestFailsAloneAndLeavesNoTrace() throws Exception {
        apply(put("b", "1"));
        apply(put("a", "0"));
        long rev = mvcc.currentRevision();
        long live = mvcc.liveKeys();

        List<InternalResponse> out = apply(put("x", "before"), poison(), put("y", "after"));

        assertEquals(3, out.size(), "one answer per request");
        assertEquals(0, out.get(0).getErrorCode(), out.get(0).toString());
        assertEquals(EtcdError.Codes.INTERNAL, out.get(1).getErrorCode(), out.get(1).toString());
        assertEquals(Applier.APPLY_FAILED, out.get(1).getErrorMessage());
        assertFalse(out.get(1).hasTxn());
        assertEquals(0, out.get(2).getErrorCode(), out.get(2).toString());
        // the poison txn took no revision: x and y got consecutive ones
        assertEquals(rev + 1, out.get(0).getPut().getHeader().getRevision());
        assertEquals(rev + 2, out.get(2).getPut().getHeader().getRevision());
        assertEquals(rev + 2, mvcc.currentRevision());
        assertEquals(index, applier.appliedIndex(), "the entry counts as applied");
        assertState(live + 2);

        // the same key can be written again afterwards (the index holds no stale revision of the rolled-back txn)
        assertEquals(0, apply(put("b", "2")).get(0).getErrorCode());
        assertEquals("2", get("b").getValue().toStringUtf8());
        assertEquals(2, get("b").getVersion());
        assertEquals(0, apply(InternalRequest.newBuilder().setDeleteRange(DeleteRangeRequest.newBuilder()
                .setKey(bs("c"))).build()).get(0).getErrorCode(), "c never existed: deleting it changes nothing");

        // nothing of the rolled-back request reached disk: a restart sees the same state
        long revBefore = mvcc.currentRevision();
        close();
        open();
        assertEquals(revBefore, mvcc.currentRevision());
        assertEquals("2", get("b").getValue().toStringUtf8());
        assertNull(get("c"));
        assertEquals("0", get("a").getValue().toStringUtf8());
        assertEquals(4, mvcc.range(new byte[]{0}, new byte[0], 0, 0, false).count());
    }

    private void assertState(long liveKeys) {
        assertEquals("1", get("b").getValue().toStringUtf8(), "the txn's delete was taken back");
        assertEquals(1, get("b").getVersion());
        assertEquals("0", get("a").getValue().toStringUtf8());
        assertNull(get("c"), "the txn's first put was taken back");
        assertEquals("before", get("x").getValue().toStringUtf8());
        assertEquals("after", get("y").getValue().toStringUtf8());
        assertEquals(liveKeys, mvcc.liveKeys());
        assertEquals(liveKeys, mvcc.range(new byte[]{0}, new byte[0], 0, 0, false).count());
    }

    @Test
    void anErrorAfterAChangeIsRolledBackInsteadOfStoppingTheMember() throws Exception {
        apply(put("k", "v"));
        long rev = mvcc.currentRevision();
        // a txn whose put at the end needs a lease that does not exist: an EtcdException after earlier ops
        // (checked before changes today; the rollback makes the order irrelevant)
        InternalResponse r = apply(InternalRequest.newBuilder().setTxn(TxnRequest.newBuilder()
                .addSuccess(RequestOp.newBuilder().setRequestDeleteRange(DeleteRangeRequest.newBuilder()
                        .setKey(bs("k"))))
                .addSuccess(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(bs("n"))
                        .setLease(12345)))).build()).get(0);
        assertEquals(EtcdError.LEASE_NOT_FOUND.code(), r.getErrorCode());
        assertEquals(rev, mvcc.currentRevision());
        assertEquals("v", get("k").getValue().toStringUtf8());
    }
}
