package dev.keel.server;

import com.google.protobuf.ByteString;
import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.mvcc.MvccStore;
import dev.keel.proto.etcdserverpb.AlarmMember;
import dev.keel.proto.etcdserverpb.AlarmRequest;
import dev.keel.proto.etcdserverpb.AlarmRequest.AlarmAction;
import dev.keel.proto.etcdserverpb.AlarmResponse;
import dev.keel.proto.etcdserverpb.AlarmType;
import dev.keel.proto.etcdserverpb.CompactionRequest;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.internal.DowngradeInfoSet;
import dev.keel.proto.internal.InternalRequest;
import dev.keel.storage.Storage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Alarm store, quota and downgrade rules without a running server. */
class AlarmAndDowngradeStateTest {

    @TempDir
    Path dir;

    private static AlarmRequest req(AlarmAction action, long member, AlarmType type) {
        return AlarmRequest.newBuilder().setAction(action).setMemberID(member).setAlarm(type).build();
    }

    private static AlarmMember member(long id, AlarmType type) {
        return AlarmMember.newBuilder().setMemberID(id).setAlarm(type).build();
    }

    private static void applyAndCommit(Storage s, AlarmStore alarms, AlarmRequest r, List<AlarmMember> expected) {
        AlarmResponse resp = alarms.apply(r);
        assertEquals(expected, resp.getAlarmsList());
        try (Storage.Batch b = s.newBatch()) {
            alarms.commit(b);
            s.write(b);
        }
    }

    private static void assertRefused(EtcdError error, Executable e) {
        EtcdException ex = assertThrows(EtcdException.class, e);
        assertEquals(error.message(), ex.getMessage());
        assertEquals(error.code(), ex.code());
    }

    @Test
    void alarmsActivateDeactivateListAndSurviveRestart() {
        long m1 = 0x8e9e05c52164694dL; // above Long.MAX_VALUE as unsigned
        try (Storage s = Storage.open(dir, MvccStore.COLUMNS)) {
            AlarmStore alarms = new AlarmStore(s);
            applyAndCommit(s, alarms, req(AlarmAction.GET, 0, AlarmType.NONE), List.of());
            applyAndCommit(s, alarms, req(AlarmAction.ACTIVATE, m1, AlarmType.NOSPACE), List.of(member(m1, AlarmType.NOSPACE)));
            // activating again answers with the alarm already there
            applyAndCommit(s, alarms, req(AlarmAction.ACTIVATE, m1, AlarmType.NOSPACE), List.of(member(m1, AlarmType.NOSPACE)));
            applyAndCommit(s, alarms, req(AlarmAction.ACTIVATE, 7, AlarmType.CORRUPT), List.of(member(7, AlarmType.CORRUPT)));
            applyAndCommit(s, alarms, req(AlarmAction.ACTIVATE, 7, AlarmType.NONE), List.of());
            applyAndCommit(s, alarms, req(AlarmAction.GET, 0, AlarmType.NONE),
                    List.of(member(m1, AlarmType.NOSPACE), member(7, AlarmType.CORRUPT)));
            applyAndCommit(s, alarms, req(AlarmAction.GET, 0, AlarmType.CORRUPT), List.of(member(7, AlarmType.CORRUPT)));
            assertEquals("memberID:10276657743932975437 alarm:NOSPACE ", AlarmStore.format(member(m1, AlarmType.NOSPACE)));
        }
        try (Storage s = Storage.open(dir, MvccStore.COLUMNS)) {
            AlarmStore alarms = new AlarmStore(s);
            assertEquals(List.of(member(m1, AlarmType.NOSPACE), member(7, AlarmType.CORRUPT)), alarms.list());
            assertTrue(alarms.isActive(AlarmType.NOSPACE, m1));
            assertFalse(alarms.isActive(AlarmType.NOSPACE, 7));
            applyAndCommit(s, alarms, req(AlarmAction.DEACTIVATE, 7, AlarmType.CORRUPT), List.of(member(7, AlarmType.CORRUPT)));
            applyAndCommit(s, alarms, req(AlarmAction.DEACTIVATE, 7, AlarmType.CORRUPT), List.of());
        }
        try (Storage s = Storage.open(dir, MvccStore.COLUMNS)) {
            assertEquals(List.of(member(m1, AlarmType.NOSPACE)), new AlarmStore(s).list());
        }
    }

    @Test
    void activeAlarmsRefuseWhatEtcdRefuses() {
        InternalRequest put = InternalRequest.newBuilder()
                .setPut(PutRequest.newBuilder().setKey(ByteString.copyFromUtf8("k"))).build();
        InternalRequest del = InternalRequest.newBuilder()
                .setDeleteRange(DeleteRangeRequest.newBuilder().setKey(ByteString.copyFromUtf8("k"))).build();
        InternalRequest compact = InternalRequest.newBuilder()
                .setCompaction(CompactionRequest.newBuilder().setRevision(1)).build();
        RequestOp putOp = RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8("k"))).build();
        RequestOp delOp = RequestOp.newBuilder().setRequestDeleteRange(DeleteRangeRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8("k"))).build();
        InternalRequest txnDeletes = InternalRequest.newBuilder()
                .setTxn(TxnRequest.newBuilder().addSuccess(delOp)).build();
        InternalRequest txnPutOnFailure = InternalRequest.newBuilder()
                .setTxn(TxnRequest.newBuilder().addSuccess(delOp).addFailure(putOp)).build();
        InternalRequest alarmOff = InternalRequest.newBuilder()
                .setAlarm(req(AlarmAction.DEACTIVATE, 1, AlarmType.NOSPACE)).build();
        try (Storage s = Storage.open(dir, MvccStore.COLUMNS)) {
            AlarmStore alarms = new AlarmStore(s);
            alarms.checkApply(put);
            alarms.apply(req(AlarmAction.ACTIVATE, 1, AlarmType.NOSPACE));
            assertRefused(EtcdError.NO_SPACE, () -> alarms.checkApply(put));
            assertRefused(EtcdError.NO_SPACE, () -> alarms.checkApply(txnPutOnFailure));
            alarms.checkApply(txnDeletes);
            alarms.checkApply(del);
            alarms.checkApply(compact);
            alarms.checkApply(alarmOff);
            alarms.apply(req(AlarmAction.ACTIVATE, 2, AlarmType.CORRUPT));
            assertRefused(EtcdError.CORRUPT, () -> alarms.checkApply(put));
            assertRefused(EtcdError.CORRUPT, () -> alarms.checkApply(del));
            assertRefused(EtcdError.CORRUPT, () -> alarms.checkApply(compact));
            assertRefused(EtcdError.CORRUPT, () -> alarms.checkApply(txnDeletes));
            alarms.checkApply(alarmOff);
            assertEquals(15, EtcdError.CORRUPT.code()); // gRPC DataLoss
        }
    }

    @Test
    void quotaAdmitsWhileSizePlusCostStaysBelowIt() {
        AtomicLong size = new AtomicLong(1000);
        BackendQuota q = new BackendQuota(2000, size::get, Long.MAX_VALUE); // never re-measures on its own
        PutRequest p = PutRequest.newBuilder().setKey(ByteString.copyFromUtf8("key"))
                .setValue(ByteString.copyFrom(new byte[341])).build();
        assertEquals(600, BackendQuota.cost(p));
        assertTrue(q.admit(600));    // 1000 + 600 < 2000
        assertFalse(q.admit(600));   // 1000 + 600 (admitted, not yet measured) + 600 >= 2000
        assertTrue(q.admit(0));      // costless requests always pass
        size.set(500);
        q.invalidate();
        assertTrue(q.admit(600));
        assertTrue(q.admit(600));    // 500 + 1200 < 2000
        assertFalse(q.admit(300));   // 500 + 1200 + 300 == 2000: not below
        assertTrue(new BackendQuota(-1, size::get, 0).admit(1 << 30)); // negative quota: disabled
        TxnRequest t = TxnRequest.newBuilder()
                .addSuccess(RequestOp.newBuilder().setRequestPut(p))
                .addFailure(RequestOp.newBuilder().setRequestPut(p))
                .addFailure(RequestOp.newBuilder().setRequestPut(p))
                .addFailure(RequestOp.newBuilder().setRequestTxn(TxnRequest.newBuilder()
                        .addSuccess(RequestOp.newBuilder().setRequestPut(p)))) // nested: not counted by etcd
                .build();
        assertEquals(1200, BackendQuota.cost(t));
    }

    @Test
    void downgradeTargetsFollowEtcdRules() {
        assertEquals(new DowngradeState.MajorMinor(3, 5), DowngradeState.parseTarget("3.5"));
        assertEquals(new DowngradeState.MajorMinor(3, 5), DowngradeState.parseTarget("3.5.7"));
        assertEquals(new DowngradeState.MajorMinor(3, 5), DowngradeState.parseTarget("3.5.0-rc.1+build.7"));
        for (String bad : new String[]{"", "3", "v3.5", "3.5.x", "three.five", "3.5.0.1", "3.5.0-a..b"}) {
            assertRefused(EtcdError.WRONG_DOWNGRADE_VERSION_FORMAT, () -> DowngradeState.parseTarget(bad));
        }
        assertEquals("3.6", DowngradeState.clusterVersion().cluster());
        try (Storage s = Storage.open(dir, MvccStore.COLUMNS)) {
            DowngradeState d = new DowngradeState(s);
            assertFalse(d.info().getEnabled());
            d.validate(DowngradeState.parseTarget("3.5"));
            assertRefused(EtcdError.INVALID_DOWNGRADE_TARGET_VERSION, () -> d.validate(DowngradeState.parseTarget("3.6")));
            assertRefused(EtcdError.INVALID_DOWNGRADE_TARGET_VERSION, () -> d.validate(DowngradeState.parseTarget("3.4")));
            assertRefused(EtcdError.INVALID_DOWNGRADE_TARGET_VERSION, () -> d.validate(DowngradeState.parseTarget("2.5")));
            d.apply(DowngradeInfoSet.newBuilder().setEnabled(true).setVer("3.5.0").build());
            try (Storage.Batch b = s.newBatch()) {
                d.commit(b);
                s.write(b);
            }
            // the cluster version is lowered to the target (etcd 3.6's monitor): 3.5 is no target any more
            assertEquals("3.5.0", d.currentClusterVersion().semver());
            assertRefused(EtcdError.INVALID_DOWNGRADE_TARGET_VERSION, () -> d.validate(DowngradeState.parseTarget("3.5")));
            assertRefused(EtcdError.DOWNGRADE_IN_PROCESS, () -> d.validate(DowngradeState.parseTarget("3.4")));
        }
        try (Storage s = Storage.open(dir, MvccStore.COLUMNS)) {
            DowngradeState d = new DowngradeState(s);
            assertTrue(d.info().getEnabled());
            assertEquals("3.5.0", d.info().getTargetVersion());
            assertEquals("3.5", d.currentClusterVersion().cluster(), "kept across a restart");
            d.apply(DowngradeInfoSet.newBuilder().setEnabled(false).build());
            assertEquals("3.6.0", d.currentClusterVersion().semver(), "back to this build's once cancelled");
            d.validate(DowngradeState.parseTarget("3.5"));
        }
    }
}
