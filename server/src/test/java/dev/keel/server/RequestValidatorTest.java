package dev.keel.server;

import com.google.protobuf.ByteString;
import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.TxnRequest;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** etcd's txn overlap check (checkIntervals), including the from-key delete etcd itself misses (issue 11). */
class RequestValidatorTest {

    private final RequestValidator v = new RequestValidator(128);

    private static ByteString bs(String s) {
        return ByteString.copyFromUtf8(s);
    }

    private static final ByteString ZERO = ByteString.copyFrom(new byte[]{0});

    private static RequestOp del(ByteString key, ByteString end) {
        return RequestOp.newBuilder().setRequestDeleteRange(DeleteRangeRequest.newBuilder().setKey(key)
                .setRangeEnd(end)).build();
    }

    private static RequestOp put(String key) {
        return RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(bs(key))).build();
    }

    private static RequestOp txn(TxnRequest.Builder t) {
        return RequestOp.newBuilder().setRequestTxn(t).build();
    }

    private void assertDuplicate(TxnRequest.Builder t) {
        EtcdException e = assertThrows(EtcdException.class, () -> v.checkTxn(t.build()));
        assertEquals(EtcdError.DUPLICATE_KEY.message(), e.getMessage());
        assertEquals(EtcdError.DUPLICATE_KEY.code(), e.code());
    }

    @Test
    void aPutInsideADeletedRangeIsADuplicateHoweverTheRangeIsSpelled() {
        // the poison txn: delete from "a" to the end, put "b"
        assertDuplicate(TxnRequest.newBuilder().addSuccess(del(bs("a"), ZERO)).addSuccess(put("b")));
        // WithPrefix on an empty key: key = range_end = "\0"
        assertDuplicate(TxnRequest.newBuilder().addSuccess(del(ZERO, ZERO)).addSuccess(put("b")));
        // explicit range, prefix range, point
        assertDuplicate(TxnRequest.newBuilder().addSuccess(del(bs("a"), bs("c"))).addSuccess(put("b")));
        assertDuplicate(TxnRequest.newBuilder().addSuccess(del(bs("pre/"), bs("pre0"))).addSuccess(put("pre/x")));
        assertDuplicate(TxnRequest.newBuilder().addSuccess(del(bs("b"), ByteString.EMPTY)).addSuccess(put("b")));
        // the failure branch too
        assertDuplicate(TxnRequest.newBuilder().addFailure(del(bs("a"), ZERO)).addFailure(put("zzz")));
        // a from-key delete at the outer level covers puts in nested txns, in either branch
        assertDuplicate(TxnRequest.newBuilder().addSuccess(del(bs("a"), ZERO))
                .addSuccess(txn(TxnRequest.newBuilder().addSuccess(put("q")))));
        assertDuplicate(TxnRequest.newBuilder().addSuccess(del(bs("a"), ZERO))
                .addSuccess(txn(TxnRequest.newBuilder().addFailure(put("q")))));
        // a nested from-key delete covers the outer level's puts
        assertDuplicate(TxnRequest.newBuilder().addSuccess(put("q"))
                .addSuccess(txn(TxnRequest.newBuilder().addSuccess(del(bs("a"), ZERO)))));
        // deeper nesting
        assertDuplicate(TxnRequest.newBuilder().addSuccess(txn(TxnRequest.newBuilder()
                .addSuccess(txn(TxnRequest.newBuilder().addSuccess(del(bs("k"), ZERO)).addSuccess(put("m")))))));
    }

    @Test
    void nonOverlappingOpsPass() {
        v.checkTxn(TxnRequest.newBuilder().addSuccess(del(bs("b"), ZERO)).addSuccess(put("a")).build());
        v.checkTxn(TxnRequest.newBuilder().addSuccess(del(bs("a"), bs("c"))).addSuccess(put("c")).build());
        // success and failure branches exclude each other
        v.checkTxn(TxnRequest.newBuilder().addSuccess(del(bs("a"), ZERO)).addFailure(put("b")).build());
        // a nested txn's branches exclude each other: a key put in both is fine
        v.checkTxn(TxnRequest.newBuilder().addSuccess(txn(TxnRequest.newBuilder().addSuccess(put("x"))
                .addFailure(put("x")))).build());
        // deletes of overlapping ranges are fine
        v.checkTxn(TxnRequest.newBuilder().addSuccess(del(bs("a"), ZERO)).addSuccess(del(bs("b"), ZERO)).build());
    }

    @Test
    void twoPutsOfOneKeyAreADuplicate() {
        assertDuplicate(TxnRequest.newBuilder().addSuccess(put("a")).addSuccess(put("a")));
    }
}
