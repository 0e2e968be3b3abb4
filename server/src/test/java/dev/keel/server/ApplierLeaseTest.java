package dev.keel.server;

import dev.keel.errors.EtcdError;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.LeaseCheckpoint;
import dev.keel.proto.etcdserverpb.LeaseCheckpointRequest;
import dev.keel.proto.etcdserverpb.LeaseGrantRequest;
import dev.keel.proto.etcdserverpb.LeaseRevokeRequest;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.internal.InternalRequest;
import dev.keel.proto.internal.InternalResponse;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Lease requests and key attachment through the applier, on a real RocksDB, including a restart. */
class ApplierLeaseTest extends ApplierOnRocksDb {

    /** Applies one entry holding the requests; returns their responses. */
    private List<InternalResponse> apply(InternalRequest.Builder... reqs) throws Exception {
        return applyEntry(java.util.Arrays.stream(reqs).map(InternalRequest.Builder::build).toList());
    }

    private InternalResponse apply1(InternalRequest.Builder req) throws Exception {
        return apply(req).get(0);
    }

    private static InternalRequest.Builder grant(long id, long ttl) {
        return InternalRequest.newBuilder().setLeaseGrant(LeaseGrantRequest.newBuilder().setID(id).setTTL(ttl));
    }

    private static InternalRequest.Builder revoke(long id) {
        return InternalRequest.newBuilder().setLeaseRevoke(LeaseRevokeRequest.newBuilder().setID(id));
    }

    private static PutRequest.Builder put(String key, long lease) {
        return PutRequest.newBuilder().setKey(bs(key)).setValue(bs("v-" + key)).setLease(lease);
    }

    private static InternalRequest.Builder req(PutRequest.Builder p) {
        return InternalRequest.newBuilder().setPut(p);
    }

    private static void assertError(EtcdError e, InternalResponse r) {
        assertEquals(e.code(), r.getErrorCode(), r.toString());
        assertEquals(e.message(), r.getErrorMessage());
    }

    @Test
    void leasesAttachDetachRevokeAndSurviveARestart() throws Exception {
        InternalResponse g = apply1(grant(5, 10));
        assertEquals(5, g.getLeaseGrant().getID());
        assertEquals(10, g.getLeaseGrant().getTTL());
        assertEquals(1, g.getLeaseGrant().getHeader().getRevision(), "a grant changes no key");
        assertEquals(2, apply1(grant(6, 1)).getLeaseGrant().getTTL(), "raised to the minimum");
        assertError(EtcdError.LEASE_EXIST, apply1(grant(5, 20)));
        assertError(EtcdError.LEASE_TTL_TOO_LARGE, apply1(grant(7, 9_000_000_001L)));

        assertEquals(2, apply1(req(put("k1", 5))).getPut().getHeader().getRevision());
        apply1(req(put("k2", 5)));
        assertError(EtcdError.LEASE_NOT_FOUND, apply1(req(put("k9", 99))));
        assertNull(get("k9"));
        // a Txn put attaches too; a Txn put with an unknown lease fails as a whole
        apply1(InternalRequest.newBuilder().setTxn(TxnRequest.newBuilder()
                .addSuccess(RequestOp.newBuilder().setRequestPut(put("k3", 5)))));
        InternalResponse bad = apply1(InternalRequest.newBuilder().setTxn(TxnRequest.newBuilder()
                .addSuccess(RequestOp.newBuilder().setRequestPut(put("k8", 0)))
                .addSuccess(RequestOp.newBuilder().setRequestPut(put("k9", 99)))));
        assertError(EtcdError.LEASE_NOT_FOUND, bad);
        assertNull(get("k8"));
        assertEquals(List.of(bs("k1"), bs("k2"), bs("k3")), lessor.keys(5));

        apply1(req(put("k2", 0))); // re-put without a lease: detached
        apply1(req(PutRequest.newBuilder().setKey(bs("k1")).setValue(bs("new")).setIgnoreLease(true)));
        apply1(InternalRequest.newBuilder().setDeleteRange(DeleteRangeRequest.newBuilder().setKey(bs("k3"))));
        assertEquals(List.of(bs("k1")), lessor.keys(5));
        assertEquals(5, get("k1").getLease(), "ignore_lease keeps the lease");
        assertEquals(0, get("k2").getLease());

        apply1(req(put("a", 6)));
        apply1(req(put("b", 6)));
        long before = mvcc.currentRevision();
        // one entry: a put attaching "c" to 6, then the revoke, which must delete "c" as well
        List<InternalResponse> rs = apply(req(put("c", 6)), revoke(6), revoke(6));
        assertEquals(before + 1, rs.get(0).getPut().getHeader().getRevision());
        assertEquals(before + 2, rs.get(1).getLeaseRevoke().getHeader().getRevision(), "all deletions at one revision");
        assertError(EtcdError.LEASE_NOT_FOUND, rs.get(2));
        assertEquals(before + 2, mvcc.currentRevision());
        assertNull(get("a"));
        assertNull(get("b"));
        assertNull(get("c"));
        assertFalse(lessor.exists(6));
        assertEquals(1, mvcc.range("c".getBytes(), null, before + 1, 0, false).kvs().size(),
                "the history before the revoke is still there");

        // revoking a lease without keys changes no revision
        apply1(grant(8, 30));
        long rev = mvcc.currentRevision();
        assertEquals(rev, apply1(revoke(8)).getLeaseRevoke().getHeader().getRevision());

        apply1(InternalRequest.newBuilder().setLeaseCheckpoint(LeaseCheckpointRequest.newBuilder()
                .addCheckpoints(LeaseCheckpoint.newBuilder().setID(5).setRemainingTTL(4))
                .addCheckpoints(LeaseCheckpoint.newBuilder().setID(77).setRemainingTTL(4))));
        assertEquals(4, lessor.checkpointedRemainingTtl(5));

        long appliedBefore = applier.appliedIndex();
        close();
        open();
        assertEquals(appliedBefore, applier.appliedIndex());
        assertEquals(List.of(5L), lessor.leases());
        assertEquals(10, lessor.grantedTtl(5));
        assertEquals(4, lessor.checkpointedRemainingTtl(5));
        assertEquals(List.of(bs("k1")), lessor.keys(5), "attachments rebuilt from the live keys");
        assertError(EtcdError.LEASE_NOT_FOUND, apply1(req(put("x", 6))));

        long last = mvcc.currentRevision();
        assertEquals(last + 1, apply1(revoke(5)).getLeaseRevoke().getHeader().getRevision());
        assertNull(get("k1"));
        assertEquals("v-k2", get("k2").getValue().toStringUtf8(), "detached keys stay");
    }

    @Test
    void attachmentsAreRebuiltAcrossPagesOfKeys() throws Exception {
        apply1(grant(1, 60));
        apply1(grant(2, 60));
        InternalRequest.Builder[] puts = new InternalRequest.Builder[2500];
        for (int i = 0; i < puts.length; i++) {
            puts[i] = req(put(String.format("key-%05d", i), i % 3 == 0 ? 0 : i % 3));
        }
        apply(puts);
        close();
        open();
        assertEquals(833, lessor.keys(1).size());
        assertEquals(833, lessor.keys(2).size());
        assertEquals(bs("key-00001"), lessor.keys(1).get(0));
        assertEquals(bs("key-02498"), lessor.keys(2).get(832));
    }
}
