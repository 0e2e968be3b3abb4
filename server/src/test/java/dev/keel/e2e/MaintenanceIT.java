package dev.keel.e2e;

import com.google.protobuf.ByteString;
import dev.keel.proto.etcdserverpb.AlarmMember;
import dev.keel.proto.etcdserverpb.AlarmRequest;
import dev.keel.proto.etcdserverpb.AlarmRequest.AlarmAction;
import dev.keel.proto.etcdserverpb.AlarmResponse;
import dev.keel.proto.etcdserverpb.AlarmType;
import dev.keel.proto.etcdserverpb.CompactionRequest;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.DowngradeRequest;
import dev.keel.proto.etcdserverpb.DowngradeRequest.DowngradeAction;
import dev.keel.proto.etcdserverpb.DowngradeResponse;
import dev.keel.proto.etcdserverpb.HashKVRequest;
import dev.keel.proto.etcdserverpb.HashKVResponse;
import dev.keel.proto.etcdserverpb.HashRequest;
import dev.keel.proto.etcdserverpb.HashResponse;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.MoveLeaderRequest;
import dev.keel.proto.etcdserverpb.MoveLeaderResponse;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RangeResponse;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.ResponseHeader;
import dev.keel.proto.etcdserverpb.StatusRequest;
import dev.keel.proto.etcdserverpb.StatusResponse;
import dev.keel.proto.etcdserverpb.TxnRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The Maintenance service end to end: HashKV and Hash, Defragment, alarms with the NOSPACE quota, MoveLeader and
 * Downgrade, through Debian's etcdctl 3.4 where it has a command and raw gRPC where it has none (Hash,
 * Downgrade, exact status codes). HashKV is also compared with a real etcd fed the same history.
 *
 * <p>With {@code -Dkeel.e2e.impl=etcd} the suite runs against etcd 3.4; expectations where etcd 3.6 (Keel's
 * reference) differs from 3.4 are skipped there, and say so.
 */
class MaintenanceIT {

    private static final long TIMEOUT_S = 15;
    /** Backend quota of the member that is filled up. */
    private static final long QUOTA = 256 * 1024;
    private static final String NO_SPACE = "etcdserver: mvcc: database space exceeded";

    @TempDir
    static Path tmp;

    static ServerProcess server;
    static ServerProcess small;
    static ManagedChannel channel;
    static ManagedChannel smallChannel;
    static long clusterId;
    static long memberId;

    @BeforeAll
    static void start() throws Exception {
        server = ServerProcess.start(tmp.resolve("maintenance"));
        small = ServerProcess.start(tmp.resolve("small-quota"), "--quota-backend-bytes=" + QUOTA);
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort()).usePlaintext().build();
        smallChannel = NettyChannelBuilder.forAddress("127.0.0.1", small.clientPort()).usePlaintext().build();
        StatusResponse st = maint(channel).status(StatusRequest.getDefaultInstance());
        clusterId = st.getHeader().getClusterId();
        memberId = st.getHeader().getMemberId();
        assertNotEquals(0, memberId);
    }

    @AfterAll
    static void stop() throws Exception {
        for (ManagedChannel c : new ManagedChannel[]{channel, smallChannel}) {
            if (c != null) {
                c.shutdownNow();
                c.awaitTermination(5, TimeUnit.SECONDS);
            }
        }
        for (ServerProcess s : new ServerProcess[]{server, small}) {
            if (s != null) {
                s.close();
            }
        }
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    static MaintenanceGrpc.MaintenanceBlockingStub maint(ManagedChannel c) {
        return MaintenanceGrpc.newBlockingStub(c).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS);
    }

    static KVGrpc.KVBlockingStub kv(ManagedChannel c) {
        return KVGrpc.newBlockingStub(c).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS);
    }

    static ByteString b(String s) {
        return ByteString.copyFromUtf8(s);
    }

    static long put(ManagedChannel c, String key, ByteString value) {
        return kv(c).put(PutRequest.newBuilder().setKey(b(key)).setValue(value).build()).getHeader().getRevision();
    }

    static long currentRevision(ManagedChannel c) {
        return kv(c).range(RangeRequest.newBuilder().setKey(b("no-such-key")).build()).getHeader().getRevision();
    }

    static void assertStatus(Status.Code code, String message, Executable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
        assertEquals(code, e.getStatus().getCode(), "status of " + e);
        assertEquals(message, e.getStatus().getDescription());
    }

    static void assertHeader(ResponseHeader h, long revision) {
        assertEquals(clusterId, h.getClusterId());
        assertEquals(memberId, h.getMemberId());
        assertTrue(h.getRaftTerm() >= 1);
        assertEquals(revision, h.getRevision());
    }

    static String hex(long id) {
        return Long.toHexString(id);
    }

    static long jsonLong(String json, String field) {
        Matcher m = Pattern.compile("\"" + field + "\":(-?\\d+)").matcher(json);
        assertTrue(m.find(), field + " in " + json);
        return Long.parseLong(m.group(1));
    }

    static ByteString random(Random r, int n) {
        byte[] v = new byte[n];
        r.nextBytes(v);
        return ByteString.copyFrom(v);
    }

    // ---- HashKV ----------------------------------------------------------------------------------------------

    /**
     * The same history through etcdctl into a fresh Keel member and a real etcd (Debian's /usr/bin/etcd 3.4):
     * every HashKV answer must be identical. Revisions at exactly a compaction are left out (etcd 3.4 refuses
     * them; 3.6 and Keel answer with the compaction's recorded hash, see KvHashTest).
     */
    @Test
    void hashKvEqualsRealEtcdForTheSameHistory() throws Exception {
        Path etcd = Path.of(System.getProperty("keel.etcd", "/usr/bin/etcd"));
        assumeTrue(Files.isExecutable(etcd), "needs a real etcd at " + etcd + " (Debian package etcd-server)");
        try (ServerProcess keel = ServerProcess.start(tmp.resolve("hash-keel"));
             EtcdReference ref = EtcdReference.start(etcd, tmp.resolve("hash-etcd"))) {
            Etcdctl a = new Etcdctl(keel.endpoint());
            Etcdctl e = new Etcdctl(ref.endpoint());
            List<String> checked = new ArrayList<>();
            String[][] steps = {
                    {"put", "a", "1"}, {"put", "b", "2"}, {"put", "a", "3"}, {"del", "a"},
                    {"txn"}, {"put", "a", "6"}, {"del", "b"}, {"put", "e", ""},
                    {"hash", "0", "5", "7", "9"},
                    {"compact", "5", "--physical"},
                    {"hash", "0", "6", "7", "9"},
                    {"del", "c"}, {"put", "b", "7"}, {"hash", "8"},
                    {"compact", "8", "--physical"},
                    {"hash", "0", "9", "11"},
                    {"del", "", "--from-key"}, {"hash", "11"},
                    {"compact", "11", "--physical"},
                    {"hash", "0", "12"},
                    {"compact", "12", "--physical"},
                    {"hash", "0"},
                    {"put", "z", "1"}, {"hash", "0", "13"},
            };
            for (String[] step : steps) {
                if (step[0].equals("hash")) {
                    for (int i = 1; i < step.length; i++) {
                        String ka = a.ok("endpoint", "hashkv", "--rev=" + step[i], "-w", "json");
                        String ke = e.ok("endpoint", "hashkv", "--rev=" + step[i], "-w", "json");
                        long hash = jsonLong(ke, "hash");
                        assertEquals(hash, jsonLong(ka, "hash"), "hash at " + step[i] + "\nkeel: " + ka + "\netcd: " + ke);
                        assertEquals(jsonLong(ke, "compact_revision"), jsonLong(ka, "compact_revision"), "at " + step[i]);
                        assertEquals(jsonLong(ke, "revision"), jsonLong(ka, "revision"), "header revision");
                        checked.add(step[i] + "=" + hash);
                    }
                } else if (step[0].equals("txn")) {
                    String in = "\nput c 4\nput d 5\n\n\n";
                    assertEquals(e.runWithInput(in, "txn").out(), a.runWithInput(in, "txn").out());
                } else {
                    assertEquals(e.ok(step), a.ok(step), String.join(" ", step));
                }
            }
            // the history ends where KvHashTest's etcd-recorded values say it does
            assertEquals(List.of("0=2463183201", "5=1346927904", "7=522387753", "9=2463183201",
                    "0=452713207", "6=297928237", "7=3643112976", "9=452713207", "8=2874972214",
                    "0=2619080813", "9=1434551111", "11=2619080813", "11=2619080813",
                    "0=251091099", "12=251091099", "0=1084519789", "0=765405192", "13=765405192"), checked);
        }
    }

    @Test
    void hashKvFieldsAndErrors() {
        for (int i = 0; i < 3; i++) {
            put(channel, "hk/" + i, b("v" + i));
        }
        long rev = currentRevision(channel);
        HashKVResponse now = maint(channel).hashKV(HashKVRequest.getDefaultInstance());
        assertHeader(now.getHeader(), rev);
        HashKVResponse atRev = maint(channel).hashKV(HashKVRequest.newBuilder().setRevision(rev).build());
        assertEquals(now.getHash(), atRev.getHash());
        HashKVResponse before = maint(channel).hashKV(HashKVRequest.newBuilder().setRevision(rev - 1).build());
        assertNotEquals(now.getHash(), before.getHash());
        assertHeader(before.getHeader(), rev);
        if (!ServerProcess.isReferenceEtcd()) { // etcd 3.4 has no hash_revision
            assertEquals(rev, now.getHashRevision());
            assertEquals(rev - 1, before.getHashRevision());
        }
        assertStatus(Status.Code.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision",
                () -> maint(channel).hashKV(HashKVRequest.newBuilder().setRevision(rev + 1).build()));

        put(channel, "hk/0", b("again"));
        kv(channel).compact(CompactionRequest.newBuilder().setRevision(rev).setPhysical(true).build());
        assertStatus(Status.Code.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted",
                () -> maint(channel).hashKV(HashKVRequest.newBuilder().setRevision(rev - 1).build()));
        HashKVResponse after = maint(channel).hashKV(HashKVRequest.getDefaultInstance());
        assertEquals(rev, after.getCompactRevision());
        assertHeader(after.getHeader(), rev + 1);
        if (!ServerProcess.isReferenceEtcd()) {
            // etcd 3.6: at the compaction revision, the hash that compaction recorded; its lower bound is the
            // previous compaction. (etcd 3.4 refuses this revision as compacted.)
            HashKVResponse atCompaction = maint(channel).hashKV(HashKVRequest.newBuilder().setRevision(rev).build());
            assertEquals(now.getHash(), atCompaction.getHash());
            assertEquals(now.getCompactRevision(), atCompaction.getCompactRevision());
            assertEquals(rev, atCompaction.getHashRevision());
        }
    }

    @Test
    void endpointHashKvIsTheSameAfterARestart() throws Exception {
        for (int i = 0; i < 20; i++) {
            put(channel, "hr/" + (i % 7), b("v" + i));
        }
        long rev = currentRevision(channel);
        Etcdctl ctl = new Etcdctl(server.endpoint());
        String before = ctl.ok("endpoint", "hashkv", "--rev=" + rev);
        server.restart();
        String after = ctl.ok("endpoint", "hashkv", "--rev=" + rev);
        assertTrue(before.startsWith(server.endpoint() + ", "), before);
        assertEquals(before, after, "HashKV at a fixed revision survives a restart");
    }

    @Test
    void hashOfTheWholeBackend() {
        put(channel, "h/1", b("x"));
        long rev = currentRevision(channel);
        HashResponse h1 = maint(channel).hash(HashRequest.getDefaultInstance());
        assertHeader(h1.getHeader(), rev);
        HashResponse h2 = maint(channel).hash(HashRequest.getDefaultInstance());
        assertEquals(h1.getHash(), h2.getHash(), "nothing changed in between");
        put(channel, "h/1", b("y"));
        HashResponse h3 = maint(channel).hash(HashRequest.getDefaultInstance());
        assertHeader(h3.getHeader(), rev + 1);
        assertNotEquals(h1.getHash(), h3.getHash());
    }

    // ---- Defragment --------------------------------------------------------------------------------------

    @Test
    void defragmentGivesBackTheSpaceOfCompactedHistory() throws Exception {
        Etcdctl ctl = new Etcdctl(server.endpoint());
        Random r = new Random(42);
        ByteString last = null;
        for (int i = 0; i < 80; i++) {
            last = random(r, 8 * 1024);
            put(channel, "defrag/big", last);
        }
        long rev = currentRevision(channel);
        long before = jsonLong(ctl.ok("endpoint", "status", "-w", "json"), "dbSize");
        assertTrue(before > 600_000, "80 x 8 KiB of history: " + before);
        assertEquals("compacted revision " + rev + "\n", ctl.ok("compact", Long.toString(rev), "--physical"));
        assertEquals("Finished defragmenting etcd member[" + server.endpoint() + "]\n", ctl.ok("defrag"));
        String status = ctl.ok("endpoint", "status", "-w", "json");
        long after = jsonLong(status, "dbSize");
        long inUse = jsonLong(status, "dbSizeInUse");
        assertTrue(after < before / 4, "dbSize " + before + " -> " + after);
        assertTrue(inUse <= after, "dbSizeInUse " + inUse + " <= dbSize " + after);
        RangeResponse got = kv(channel).range(RangeRequest.newBuilder().setKey(b("defrag/big")).build());
        assertEquals(last, got.getKvs(0).getValue(), "the live value survives");
        assertEquals(80, got.getKvs(0).getVersion());
    }

    // ---- Alarms ----------------------------------------------------------------------------------------------

    /**
     * etcd's NOSPACE runbook: fill the member past --quota-backend-bytes, see the alarm, compact, defragment,
     * disarm, write again; the alarm survives a restart until disarmed and nothing written is lost.
     */
    @Test
    void noSpaceAlarmFromQuotaToDisarm() throws Exception {
        Etcdctl ctl = new Etcdctl(small.endpoint());
        long id = maint(smallChannel).status(StatusRequest.getDefaultInstance()).getHeader().getMemberId();
        String alarmLine = "memberID:" + Long.toUnsignedString(id) + " alarm:NOSPACE ";
        Random r = new Random(7);
        ByteString[] latest = new ByteString[4];
        int written = 0;
        StatusRuntimeException full = null;
        while (written < 400 && full == null) {
            ByteString v = random(r, 4096);
            try {
                put(smallChannel, "fill/" + (written % 4), v);
                latest[written % 4] = v;
                written++;
            } catch (StatusRuntimeException e) {
                full = e;
            }
        }
        assertTrue(full != null, "the quota was never hit after " + written + " writes of 4 KiB");
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, full.getStatus().getCode());
        assertEquals(NO_SPACE, full.getStatus().getDescription());
        // about the quota's worth of data went in first: each write adds 4 KiB to the database and costs
        // 4096 + 256 + key as etcd counts it, so at most 63 fit; Keel's size is memtable memory (16 KiB blocks) plus
        // files. etcd 3.4 measures its file only when its batch commits, every 100 ms, and lets ~80 in.
        if (ServerProcess.isReferenceEtcd()) {
            assertTrue(written >= 25 && written <= 100, "writes before the quota was hit: " + written);
        } else {
            assertTrue(written >= 45 && written <= 63, "writes before the quota was hit: " + written);
        }

        Etcdctl.Result put = ctl.run("put", "tiny", "x");
        assertEquals(1, put.exitCode());
        assertTrue(put.stderr().contains("Error: " + NO_SPACE + "\n"), put.toString());
        assertEquals(alarmLine + "\n", ctl.ok("alarm", "list"));
        String status = ctl.ok("endpoint", "status", "-w", "json");
        assertTrue(status.contains("\"errors\":[\"" + alarmLine + "\"]"), status);

        // while the alarm is active: reads, deletions and compaction work; anything that may grow fails
        assertEquals(latest[1], kv(smallChannel).range(RangeRequest.newBuilder().setKey(b("fill/1")).build())
                .getKvs(0).getValue());
        assertStatus(Status.Code.RESOURCE_EXHAUSTED, NO_SPACE, () -> kv(smallChannel).txn(TxnRequest.newBuilder()
                .addFailure(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(b("t")))).build()));
        kv(smallChannel).txn(TxnRequest.newBuilder().addSuccess(RequestOp.newBuilder().setRequestDeleteRange(
                DeleteRangeRequest.newBuilder().setKey(b("nothing-here")))).build());
        assertEquals("1\n", ctl.ok("del", "fill/3"));
        long rev = currentRevision(smallChannel);
        long sizeFull = jsonLong(ctl.ok("endpoint", "status", "-w", "json"), "dbSize");
        assertTrue(sizeFull > QUOTA * 3 / 4, "size when full: " + sizeFull);
        assertEquals("compacted revision " + rev + "\n", ctl.ok("compact", Long.toString(rev), "--physical"));
        assertEquals("Finished defragmenting etcd member[" + small.endpoint() + "]\n", ctl.ok("defrag"));
        long sizeAfter = jsonLong(ctl.ok("endpoint", "status", "-w", "json"), "dbSize");
        assertTrue(sizeAfter < QUOTA / 4, "size after compact + defrag: " + sizeAfter);
        // the space is back, but the alarm still caps writes until it is disarmed
        Etcdctl.Result still = ctl.run("put", "tiny", "x");
        assertEquals(1, still.exitCode());
        assertTrue(still.stderr().contains("Error: " + NO_SPACE + "\n"), still.toString());

        small.restart();
        assertEquals(alarmLine + "\n", ctl.ok("alarm", "list"), "the alarm is persisted");

        assertEquals(alarmLine + "\n", ctl.ok("alarm", "disarm"));
        assertEquals("", ctl.ok("alarm", "list"));
        assertEquals("OK\n", ctl.ok("put", "tiny", "x"));
        assertFalse(ctl.ok("endpoint", "status", "-w", "json").contains("\"errors\""));
        for (int k = 0; k < 3; k++) {
            RangeResponse got = kv(smallChannel).range(RangeRequest.newBuilder().setKey(b("fill/" + k)).build());
            assertEquals(latest[k], got.getKvs(0).getValue(), "fill/" + k + " kept its last value");
        }
        assertEquals("x\n", ctl.ok("get", "tiny", "--print-value-only"));
    }

    /** Alarms raised by hand: CORRUPT stops every write; an alarm of any member applies to the whole cluster. */
    @Test
    void alarmsRaisedByHand() throws Exception {
        Etcdctl ctl = new Etcdctl(server.endpoint());
        put(channel, "corrupt/k", b("v"));
        AlarmResponse raised = maint(channel).alarm(AlarmRequest.newBuilder().setAction(AlarmAction.ACTIVATE)
                .setMemberID(memberId).setAlarm(AlarmType.CORRUPT).build());
        AlarmMember corrupt = AlarmMember.newBuilder().setMemberID(memberId).setAlarm(AlarmType.CORRUPT).build();
        long rev = currentRevision(channel);
        try {
            if (!ServerProcess.isReferenceEtcd()) { // etcd 3.4 leaves the Alarm header empty; 3.6 fills it
                assertHeader(raised.getHeader(), rev);
            }
            assertEquals(List.of(corrupt), raised.getAlarmsList());
            String corruptText = "etcdserver: corrupt cluster";
            assertStatus(Status.Code.DATA_LOSS, corruptText, () -> put(channel, "corrupt/k", b("w")));
            assertStatus(Status.Code.DATA_LOSS, corruptText, () -> kv(channel).deleteRange(
                    DeleteRangeRequest.newBuilder().setKey(b("corrupt/k")).build()));
            assertStatus(Status.Code.DATA_LOSS, corruptText, () -> kv(channel).compact(
                    CompactionRequest.newBuilder().setRevision(rev).build()));
            assertEquals("v\n", ctl.ok("get", "corrupt/k", "--print-value-only"));
            assertEquals("memberID:" + Long.toUnsignedString(memberId) + " alarm:CORRUPT \n", ctl.ok("alarm", "list"));
            assertNotReady("CORRUPT");
        } finally {
            AlarmResponse cleared = maint(channel).alarm(AlarmRequest.newBuilder()
                    .setAction(AlarmAction.DEACTIVATE).setMemberID(memberId).setAlarm(AlarmType.CORRUPT).build());
            assertEquals(List.of(corrupt), cleared.getAlarmsList());
        }
        assertEquals(rev + 1, put(channel, "corrupt/k", b("w")));

        // another member's NOSPACE alarm caps this member's writes too; GET by type; deactivate what is absent
        maint(channel).alarm(AlarmRequest.newBuilder().setAction(AlarmAction.ACTIVATE).setMemberID(12345)
                .setAlarm(AlarmType.NOSPACE).build());
        try {
            assertStatus(Status.Code.RESOURCE_EXHAUSTED, NO_SPACE, () -> put(channel, "corrupt/k", b("x")));
            assertEquals(List.of(AlarmMember.newBuilder().setMemberID(12345).setAlarm(AlarmType.NOSPACE).build()),
                    maint(channel).alarm(AlarmRequest.newBuilder().setAction(AlarmAction.GET)
                            .setAlarm(AlarmType.NOSPACE).build()).getAlarmsList());
            assertEquals(List.of(), maint(channel).alarm(AlarmRequest.newBuilder().setAction(AlarmAction.GET)
                    .setAlarm(AlarmType.CORRUPT).build()).getAlarmsList());
            assertEquals(List.of(), maint(channel).alarm(AlarmRequest.newBuilder().setAction(AlarmAction.DEACTIVATE)
                    .setMemberID(999).setAlarm(AlarmType.NOSPACE).build()).getAlarmsList());
            assertNotReady("NOSPACE(member3039)");
        } finally {
            assertEquals("memberID:12345 alarm:NOSPACE \n", ctl.ok("alarm", "disarm"));
        }
        assertEquals("", ctl.ok("alarm", "list"));
        assertEquals(rev + 2, put(channel, "corrupt/k", b("x")));
        if (!ServerProcess.isReferenceEtcd()) {
            assertEquals(200, ready().statusCode(), "ready again once the alarms are gone");
        }
    }

    /** SmallRye Health's readiness (Keel only): DOWN, 503, naming the active alarm. */
    private static void assertNotReady(String alarm) throws Exception {
        if (ServerProcess.isReferenceEtcd()) {
            return;
        }
        java.net.http.HttpResponse<String> r = ready();
        assertEquals(503, r.statusCode(), r.body());
        String body = r.body().replaceAll("\\s+", "");
        assertTrue(body.startsWith("{\"status\":\"DOWN\"") && body.contains(alarm), r.body());
    }

    private static java.net.http.HttpResponse<String> ready() throws Exception {
        return java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(server.url() + "/q/health/ready"))
                .timeout(java.time.Duration.ofSeconds(10)).GET().build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    }

    // ---- MoveLeader ------------------------------------------------------------------------------------------

    @Test
    void moveLeaderOnASingleMember() throws Exception {
        Etcdctl ctl = new Etcdctl(server.endpoint());
        assertEquals("Leadership transferred from " + hex(memberId) + " to " + hex(memberId) + "\n",
                ctl.ok("move-leader", hex(memberId)));
        Etcdctl.Result unknown = ctl.run("move-leader", "1234");
        assertEquals(1, unknown.exitCode());
        assertTrue(unknown.stderr().endsWith("Error: etcdserver: bad leader transferee\n"), unknown.toString());
        MoveLeaderResponse self = maint(channel).moveLeader(MoveLeaderRequest.newBuilder().setTargetID(memberId).build());
        assertFalse(self.hasHeader(), "etcd answers MoveLeader without a header");
        assertStatus(Status.Code.FAILED_PRECONDITION, "etcdserver: bad leader transferee",
                () -> maint(channel).moveLeader(MoveLeaderRequest.getDefaultInstance()));
    }

    // ---- Downgrade -------------------------------------------------------------------------------------------

    static DowngradeResponse downgrade(DowngradeAction action, String version) {
        return maint(channel).downgrade(DowngradeRequest.newBuilder().setAction(action).setVersion(version).build());
    }

    @Test
    void downgradeValidateEnableCancel() {
        assumeFalse(ServerProcess.isReferenceEtcd(), "etcd 3.4 has no Downgrade");
        long rev = currentRevision(channel);
        DowngradeResponse ok = downgrade(DowngradeAction.VALIDATE, "3.5");
        assertEquals("3.6", ok.getVersion());
        assertHeader(ok.getHeader(), rev);
        assertEquals("3.6", downgrade(DowngradeAction.VALIDATE, "3.5.9").getVersion());
        String invalid = "etcdserver: invalid downgrade target version";
        assertStatus(Status.Code.INVALID_ARGUMENT, invalid, () -> downgrade(DowngradeAction.VALIDATE, "3.6"));
        assertStatus(Status.Code.INVALID_ARGUMENT, invalid, () -> downgrade(DowngradeAction.VALIDATE, "3.4.0"));
        assertStatus(Status.Code.INVALID_ARGUMENT, "etcdserver: wrong downgrade target version format",
                () -> downgrade(DowngradeAction.ENABLE, "three"));
        // etcd 3.6 only logs "no inflight downgrade job" and answers a cancel with success
        assertEquals("3.6", downgrade(DowngradeAction.CANCEL, "").getVersion());

        StatusResponse idle = maint(channel).status(StatusRequest.getDefaultInstance());
        assertTrue(idle.hasDowngradeInfo());
        assertFalse(idle.getDowngradeInfo().getEnabled());

        assertEquals("3.6", downgrade(DowngradeAction.ENABLE, "3.5").getVersion());
        StatusResponse enabled = maint(channel).status(StatusRequest.getDefaultInstance());
        assertTrue(enabled.getDowngradeInfo().getEnabled());
        assertEquals("3.5.0", enabled.getDowngradeInfo().getTargetVersion());
        // etcd 3.6's version monitor lowers the cluster version (and the storage version after it) to the target
        assertEquals("3.5.0", enabled.getStorageVersion());
        assertEquals("3.6.0", enabled.getVersion(), "the server version stays");
        assertTrue(versionJson().contains("\"etcdcluster\":\"3.5.0\""), versionJson());
        // so the only target left is 3.4, and the job in progress refuses it
        assertStatus(Status.Code.INVALID_ARGUMENT, invalid, () -> downgrade(DowngradeAction.VALIDATE, "3.5"));
        String inProgress = "etcdserver: cluster has a downgrade job in progress";
        assertStatus(Status.Code.FAILED_PRECONDITION, inProgress, () -> downgrade(DowngradeAction.VALIDATE, "3.4"));
        assertStatus(Status.Code.FAILED_PRECONDITION, inProgress, () -> downgrade(DowngradeAction.ENABLE, "3.4"));

        assertEquals("3.5", downgrade(DowngradeAction.CANCEL, "").getVersion(), "the cluster version at the cancel");
        StatusResponse cancelled = maint(channel).status(StatusRequest.getDefaultInstance());
        assertFalse(cancelled.getDowngradeInfo().getEnabled());
        assertEquals("", cancelled.getDowngradeInfo().getTargetVersion());
        assertEquals("3.6.0", cancelled.getStorageVersion());
        assertTrue(versionJson().contains("\"etcdcluster\":\"3.6.0\""), versionJson());
        assertEquals("3.6", downgrade(DowngradeAction.VALIDATE, "3.5").getVersion());
        assertEquals(rev, currentRevision(channel), "downgrade changes no key-value revision");
    }

    /** GET /version's body. */
    static String versionJson() {
        try {
            return java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                            java.net.URI.create(server.url() + "/version")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString()).body();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** A real etcd member on loopback, for comparisons; stopped (and never left behind) when closed. */
    static final class EtcdReference implements AutoCloseable {
        private final Process process;
        private final int clientPort;

        private EtcdReference(Process process, int clientPort) {
            this.process = process;
            this.clientPort = clientPort;
        }

        static EtcdReference start(Path binary, Path dataDir) throws Exception {
            return start(binary, dataDir, "ref", ServerProcess.freePort());
        }

        /** A member named {@code name} with peer port {@code peer} (those of a restored data dir). */
        static EtcdReference start(Path binary, Path dataDir, String name, int peer) throws Exception {
            int client = ServerProcess.freePort();
            String c = "http://127.0.0.1:" + client;
            String p = "http://127.0.0.1:" + peer;
            Process proc = new ProcessBuilder(binary.toString(), "--name=" + name, "--data-dir=" + dataDir,
                    "--listen-client-urls=" + c, "--advertise-client-urls=" + c, "--listen-peer-urls=" + p,
                    "--initial-advertise-peer-urls=" + p, "--initial-cluster=" + name + "=" + p)
                    .redirectErrorStream(true)
                    .redirectOutput(dataDir.resolveSibling(dataDir.getFileName() + ".log").toFile())
                    .start();
            EtcdReference ref = new EtcdReference(proc, client);
            Runtime.getRuntime().addShutdownHook(new Thread(proc::destroyForcibly));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < deadline) {
                if (!proc.isAlive()) {
                    throw new IllegalStateException("etcd exited with " + proc.exitValue());
                }
                if (ref.hasLeader()) {
                    return ref;
                }
                Thread.sleep(100);
            }
            ref.close();
            throw new IllegalStateException("etcd did not start within 30 s");
        }

        private boolean hasLeader() {
            ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", clientPort).usePlaintext().build();
            try {
                return MaintenanceGrpc.newBlockingStub(ch).withDeadlineAfter(2, TimeUnit.SECONDS)
                        .status(StatusRequest.getDefaultInstance()).getLeader() != 0;
            } catch (StatusRuntimeException e) {
                return false;
            } finally {
                ch.shutdownNow();
            }
        }

        String endpoint() {
            return "127.0.0.1:" + clientPort;
        }

        @Override
        public void close() throws IOException, InterruptedException {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
