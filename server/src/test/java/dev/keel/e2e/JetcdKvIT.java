package dev.keel.e2e;

import com.google.protobuf.ByteString;
import dev.keel.proto.etcdserverpb.ClusterGrpc;
import dev.keel.proto.etcdserverpb.CompactionRequest;
import dev.keel.proto.etcdserverpb.CompactionResponse;
import dev.keel.proto.etcdserverpb.Compare;
import dev.keel.proto.etcdserverpb.Compare.CompareResult;
import dev.keel.proto.etcdserverpb.Compare.CompareTarget;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.DeleteRangeResponse;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.MemberListRequest;
import dev.keel.proto.etcdserverpb.MemberListResponse;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.PutResponse;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RangeRequest.SortOrder;
import dev.keel.proto.etcdserverpb.RangeRequest.SortTarget;
import dev.keel.proto.etcdserverpb.RangeResponse;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.ResponseHeader;
import dev.keel.proto.etcdserverpb.ResponseOp;
import dev.keel.proto.etcdserverpb.StatusRequest;
import dev.keel.proto.etcdserverpb.StatusResponse;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.etcdserverpb.TxnResponse;
import dev.keel.proto.mvccpb.KeyValue;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.Response;
import io.etcd.jetcd.common.exception.EtcdException;
import io.etcd.jetcd.kv.DeleteResponse;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.CompactOption;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The KV service as unmodified etcd clients see it: jetcd 0.8.5 where it can express the request, and etcd's own
 * wire messages over a plain grpc-java channel where jetcd cannot (ignore_value/ignore_lease, LEASE and range
 * compares, nested transactions, empty keys, exact status codes). Every expectation here is etcd's behaviour
 * (checked against etcd 3.4.23 with {@code -Dkeel.e2e.impl=etcd}; etcd 3.6 behaves the same unless noted).
 *
 * <p>Every response header is checked: cluster_id and member_id non-zero and the ones the member reports in
 * Status, raft_term at least 1, and the revision where it is known.
 *
 * <p>Tests share one member and use their own key prefixes; revisions are taken from responses, so the tests
 * do not depend on each other. Keys at or after {@code "~"} belong to {@link #rangeFromKeyAndAllKeys} and
 * {@link #deleteFromKey} only.
 */
class JetcdKvIT {

    private static final long TIMEOUT_S = 15;

    @TempDir
    static Path tmp;

    static ServerProcess server;
    static ServerProcess small; // --max-request-bytes=1024
    static Client client;
    static KV kv;
    static ManagedChannel channel;
    static ManagedChannel smallChannel;
    static long clusterId;
    static long memberId;

    @BeforeAll
    static void start() throws Exception {
        server = ServerProcess.start(tmp.resolve("jetcd-kv"));
        small = ServerProcess.start(tmp.resolve("small-requests"), "--max-request-bytes=1024");
        client = Client.builder().endpoints(server.url()).build();
        kv = client.getKVClient();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort()).usePlaintext().build();
        smallChannel = NettyChannelBuilder.forAddress("127.0.0.1", small.clientPort()).usePlaintext().build();
        StatusResponse status = MaintenanceGrpc.newBlockingStub(channel).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance());
        clusterId = status.getHeader().getClusterId();
        memberId = status.getHeader().getMemberId();
        assertNotEquals(0, clusterId, "cluster_id");
        assertNotEquals(0, memberId, "member_id");
    }

    @AfterAll
    static void stop() throws Exception {
        if (client != null) {
            client.close();
        }
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

    /** Keys and values are byte strings; tests write them as ISO-8859-1 so "\u00ff" is the byte 0xFF. */
    static ByteString b(String s) {
        return ByteString.copyFrom(s, StandardCharsets.ISO_8859_1);
    }

    static String s(ByteString b) {
        return b.toString(StandardCharsets.ISO_8859_1);
    }

    static ByteSequence bs(String s) {
        return ByteSequence.from(s.getBytes(StandardCharsets.ISO_8859_1));
    }

    static String s(ByteSequence b) {
        return b.toString(StandardCharsets.ISO_8859_1);
    }

    static KVGrpc.KVBlockingStub stub() {
        return KVGrpc.newBlockingStub(channel).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS);
    }

    static KVGrpc.KVBlockingStub smallStub() {
        return KVGrpc.newBlockingStub(smallChannel).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS);
    }

    static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(TIMEOUT_S, TimeUnit.SECONDS);
    }

    /** Checks a header of this member; returns its revision. */
    static long hdr(ResponseHeader h) {
        assertEquals(clusterId, h.getClusterId(), "header cluster_id: " + h);
        assertEquals(memberId, h.getMemberId(), "header member_id: " + h);
        assertTrue(h.getRaftTerm() >= 1, "header raft_term: " + h);
        assertTrue(h.getRevision() >= 1, "header revision: " + h);
        return h.getRevision();
    }

    static long hdr(Response.Header h) {
        assertEquals(clusterId, h.getClusterId(), "header cluster_id");
        assertEquals(memberId, h.getMemberId(), "header member_id");
        assertTrue(h.getRaftTerm() >= 1, "header raft_term " + h.getRaftTerm());
        assertTrue(h.getRevision() >= 1, "header revision " + h.getRevision());
        return h.getRevision();
    }

    static long currentRevision() {
        return hdr(stub().range(RangeRequest.newBuilder().setKey(b("keel-e2e-no-such-key")).build()).getHeader());
    }

    static long put(String key, String value) {
        PutResponse r = stub().put(PutRequest.newBuilder().setKey(b(key)).setValue(b(value)).build());
        return hdr(r.getHeader());
    }

    static RangeResponse range(RangeRequest.Builder r) {
        RangeResponse resp = stub().range(r.build());
        hdr(resp.getHeader());
        return resp;
    }

    static RangeRequest.Builder rq(String key) {
        return RangeRequest.newBuilder().setKey(b(key));
    }

    static RangeRequest.Builder rq(String key, String end) {
        return RangeRequest.newBuilder().setKey(b(key)).setRangeEnd(b(end));
    }

    /** A prefix range as etcd clients compute it: [p, p with its last byte incremented). */
    static RangeRequest.Builder prefix(String p) {
        return rq(p, prefixEnd(p));
    }

    static String prefixEnd(String p) {
        char[] c = p.toCharArray();
        c[c.length - 1]++;
        return new String(c);
    }

    static List<String> keys(RangeResponse r) {
        return r.getKvsList().stream().map(kv -> s(kv.getKey())).toList();
    }

    static List<String> keys(List<KeyValue> kvs) {
        return kvs.stream().map(kv -> s(kv.getKey())).toList();
    }

    static KeyValue kv(String key, String value, long create, long mod, long version) {
        return KeyValue.newBuilder().setKey(b(key)).setValue(b(value)).setCreateRevision(create)
                .setModRevision(mod).setVersion(version).build();
    }

    static KeyValue get1(String key) {
        RangeResponse r = range(rq(key));
        assertEquals(1, r.getKvsCount(), "expected exactly one kv for " + key + ": " + r);
        return r.getKvs(0);
    }

    static StatusRuntimeException assertStatus(Status.Code code, String message, Executable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
        assertEquals(code, e.getStatus().getCode(), "status code of " + e);
        assertEquals(message, e.getStatus().getDescription(), "status message of " + e);
        return e;
    }

    /** What jetcd reports for a failed call: the gRPC code (by jetcd's ErrorCode name) and etcd's message. */
    static void assertJetcdError(Status.Code code, String message, CompletableFuture<?> f) throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(TIMEOUT_S, TimeUnit.SECONDS));
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof StatusRuntimeException sre) {
                assertEquals(code, sre.getStatus().getCode(), sre.toString());
                assertEquals(message, sre.getStatus().getDescription(), sre.toString());
                return;
            }
            if (t instanceof StatusException se) {
                assertEquals(code, se.getStatus().getCode(), se.toString());
                assertEquals(message, se.getStatus().getDescription(), se.toString());
                return;
            }
            if (t instanceof EtcdException ee) {
                assertEquals(code.name(), ee.getErrorCode().name(), ee.toString());
                assertEquals(message, ee.getMessage(), ee.toString());
                return;
            }
        }
        fail("not a gRPC error: " + e);
    }

    static Compare cmp(String key, CompareTarget target, CompareResult result, Object operand) {
        Compare.Builder c = Compare.newBuilder().setKey(b(key)).setTarget(target).setResult(result);
        switch (target) {
            case VERSION -> c.setVersion((Long) operand);
            case CREATE -> c.setCreateRevision((Long) operand);
            case MOD -> c.setModRevision((Long) operand);
            case VALUE -> c.setValue(b((String) operand));
            case LEASE -> c.setLease((Long) operand);
            default -> throw new IllegalArgumentException(target.toString());
        }
        return c.build();
    }

    static RequestOp opPut(String k, String v) {
        return RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(b(k)).setValue(b(v))).build();
    }

    static RequestOp opGet(String k) {
        return RequestOp.newBuilder().setRequestRange(rq(k)).build();
    }

    static RequestOp opGet(RangeRequest.Builder r) {
        return RequestOp.newBuilder().setRequestRange(r).build();
    }

    static RequestOp opDel(String k) {
        return RequestOp.newBuilder().setRequestDeleteRange(DeleteRangeRequest.newBuilder().setKey(b(k))).build();
    }

    static RequestOp opDel(String k, String end) {
        return RequestOp.newBuilder()
                .setRequestDeleteRange(DeleteRangeRequest.newBuilder().setKey(b(k)).setRangeEnd(b(end))).build();
    }

    static RequestOp opTxn(TxnRequest.Builder t) {
        return RequestOp.newBuilder().setRequestTxn(t).build();
    }

    static TxnResponse txn(TxnRequest.Builder t) {
        TxnResponse r = stub().txn(t.build());
        hdr(r.getHeader());
        return r;
    }

    // ---- headers --------------------------------------------------------------------------------------------

    @Test
    void headersCarryTheMembersIdsEverywhere() throws Exception {
        MemberListResponse members = ClusterGrpc.newBlockingStub(channel).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS)
                .memberList(MemberListRequest.getDefaultInstance());
        assertEquals(clusterId, members.getHeader().getClusterId());
        assertEquals(memberId, members.getHeader().getMemberId());
        assertTrue(members.getHeader().getRaftTerm() >= 1);
        assertEquals(1, members.getMembersCount());
        assertEquals(memberId, members.getMembers(0).getID());

        StatusResponse st = MaintenanceGrpc.newBlockingStub(channel).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance());
        assertEquals(memberId, st.getLeader());
        assertEquals(st.getRaftTerm(), st.getHeader().getRaftTerm());

        // jetcd sees the same header on every kind of response
        long rev = hdr(await(kv.put(bs("hdr/k"), bs("v"))).getHeader());
        assertEquals(rev, hdr(await(kv.get(bs("hdr/k"))).getHeader()));
        assertEquals(rev, hdr(await(kv.txn().If().Then().Else().commit()).getHeader()));
        assertEquals(rev + 1, hdr(await(kv.delete(bs("hdr/k"))).getHeader()));
        assertEquals(rev + 1, hdr(await(kv.compact(rev)).getHeader()));
        assertEquals(rev + 1, currentRevision());
        // raw responses: PutResponse, RangeResponse, DeleteRangeResponse, TxnResponse, CompactionResponse
        long p = put("hdr/k2", "v");
        assertEquals(rev + 2, p);
        assertEquals(p, hdr(stub().deleteRange(DeleteRangeRequest.newBuilder().setKey(b("hdr/none")).build()).getHeader()));
        CompactionResponse c = stub().compact(CompactionRequest.newBuilder().setRevision(p).build());
        assertEquals(p, hdr(c.getHeader()));
    }

    // ---- Range ----------------------------------------------------------------------------------------------

    @Test
    void rangeSingleKey() throws Exception {
        long rev = hdr(await(kv.put(bs("rs/a"), bs("1"))).getHeader());
        GetResponse g = await(kv.get(bs("rs/a")));
        assertEquals(rev, hdr(g.getHeader()));
        assertEquals(1, g.getCount());
        assertFalse(g.isMore());
        assertEquals(1, g.getKvs().size());
        io.etcd.jetcd.KeyValue x = g.getKvs().get(0);
        assertEquals("rs/a", s(x.getKey()));
        assertEquals("1", s(x.getValue()));
        assertEquals(rev, x.getCreateRevision());
        assertEquals(rev, x.getModRevision());
        assertEquals(1, x.getVersion());
        assertEquals(0, x.getLease());

        RangeResponse r = range(rq("rs/a"));
        assertEquals(List.of(kv("rs/a", "1", rev, rev, 1)), r.getKvsList());
        assertEquals(1, r.getCount());
        assertFalse(r.getMore());

        // a key that is not there; a single key is not a prefix
        RangeResponse none = range(rq("rs/"));
        assertEquals(0, none.getKvsCount());
        assertEquals(0, none.getCount());
        assertFalse(none.getMore());
        assertEquals(rev, none.getHeader().getRevision());
        GetResponse gn = await(kv.get(bs("rs/nothing")));
        assertEquals(0, gn.getCount());
        assertTrue(gn.getKvs().isEmpty());
    }

    @Test
    void rangePrefixAndExplicitEnd() throws Exception {
        for (String k : List.of("rp", "rp/a", "rp/b", "rp/b/c", "rp/c", "rp0", "rp.")) {
            put(k, "v-" + k);
        }
        assertEquals(List.of("rp/a", "rp/b", "rp/b/c", "rp/c"), keys(range(prefix("rp/"))));
        assertEquals(4, range(prefix("rp/")).getCount());
        GetResponse g = await(kv.get(bs("rp/"), GetOption.builder().isPrefix(true).build()));
        assertEquals(List.of("rp/a", "rp/b", "rp/b/c", "rp/c"), g.getKvs().stream().map(x -> s(x.getKey())).toList());
        assertEquals(List.of("v-rp/a", "v-rp/b", "v-rp/b/c", "v-rp/c"),
                g.getKvs().stream().map(x -> s(x.getValue())).toList());
        // [rp/b, rp/c)
        assertEquals(List.of("rp/b", "rp/b/c"), keys(range(rq("rp/b", "rp/c"))));
        assertEquals(List.of("rp/b", "rp/b/c"), await(kv.get(bs("rp/b"), GetOption.builder()
                .withRange(bs("rp/c")).build())).getKvs().stream().map(x -> s(x.getKey())).toList());
        // range_end at or before key: empty
        RangeResponse empty = range(rq("rp/c", "rp/a"));
        assertEquals(0, empty.getKvsCount());
        assertEquals(0, empty.getCount());
        assertEquals(0, range(rq("rp/b", "rp/b")).getCount());
        // "rp" prefix covers rp, rp., rp/..., rp0
        assertEquals(List.of("rp", "rp.", "rp/a", "rp/b", "rp/b/c", "rp/c", "rp0"), keys(range(prefix("rp"))));
    }

    /** range_end "\0": every key from key on; key "\0" with range_end "\0": all keys. Keys sort as unsigned bytes. */
    @Test
    void rangeFromKeyAndAllKeys() throws Exception {
        List<String> mine = List.of("~fk/\u0001", "~fk/a", "~fk/\u0080", "~fk/\u00ff", "~fk/\u00ff\u00ff");
        for (String k : List.of("~fk/\u00ff", "~fk/a", "~fk/\u00ff\u00ff", "~fk/\u0080", "~fk/\u0001")) {
            put(k, "x");
        }
        RangeResponse from = range(rq("~fk/", "\0"));
        assertEquals(mine, keys(from));
        assertEquals(5, from.getCount());
        assertFalse(from.getMore());
        RangeResponse from2 = range(rq("~fk/a", "\0").setLimit(2));
        assertEquals(List.of("~fk/a", "~fk/\u0080"), keys(from2));
        assertEquals(4, from2.getCount());
        assertTrue(from2.getMore());
        GetResponse g = await(kv.get(bs("~fk/\u0080"), GetOption.builder().withRange(bs("\0")).build()));
        assertEquals(List.of("~fk/\u0080", "~fk/\u00ff", "~fk/\u00ff\u00ff"),
                g.getKvs().stream().map(x -> s(x.getKey())).toList());
        // a prefix whose end must carry: "~fk/\xff" -> "~fk0" (etcd clients drop trailing 0xff bytes)
        assertEquals(List.of("~fk/\u00ff", "~fk/\u00ff\u00ff"), keys(range(rq("~fk/\u00ff", "~fk0"))));
        GetResponse gp = await(kv.get(bs("~fk/\u00ff"), GetOption.builder().isPrefix(true).build()));
        assertEquals(List.of("~fk/\u00ff", "~fk/\u00ff\u00ff"), gp.getKvs().stream().map(x -> s(x.getKey())).toList());

        RangeResponse all = range(rq("\0", "\0"));
        assertEquals(all.getKvsCount(), all.getCount());
        assertFalse(all.getMore());
        List<String> allKeys = keys(all);
        assertEquals(mine, allKeys.subList(allKeys.size() - 5, allKeys.size()), "keys after \"~\" are this test's");
        List<ByteString> sorted = new ArrayList<>(all.getKvsList().stream().map(KeyValue::getKey).toList());
        sorted.sort(ByteString.unsignedLexicographicalComparator());
        assertEquals(sorted, all.getKvsList().stream().map(KeyValue::getKey).toList(), "unsigned byte order");
        assertEquals(all.getCount(), range(rq("\0", "\0").setCountOnly(true)).getCount());
        assertEquals(all.getCount(), await(kv.get(bs("\0"), GetOption.builder().withRange(bs("\0"))
                .withCountOnly(true).build())).getCount());
    }

    @Test
    void rangeLimitAndMore() throws Exception {
        for (String k : List.of("rl/a", "rl/b", "rl/c", "rl/d", "rl/e")) {
            put(k, k);
        }
        for (int limit = 1; limit <= 6; limit++) {
            RangeResponse r = range(prefix("rl/").setLimit(limit));
            assertEquals(Math.min(limit, 5), r.getKvsCount(), "limit " + limit);
            assertEquals(5, r.getCount(), "count is the total, limit " + limit);
            assertEquals(limit < 5, r.getMore(), "more, limit " + limit);
            assertEquals(List.of("rl/a", "rl/b", "rl/c", "rl/d", "rl/e").subList(0, Math.min(limit, 5)), keys(r));
        }
        assertEquals(5, range(prefix("rl/").setLimit(0)).getKvsCount());
        RangeResponse neg = range(prefix("rl/").setLimit(-1));
        assertEquals(5, neg.getKvsCount(), "a negative limit means no limit");
        assertFalse(neg.getMore());
        GetResponse g = await(kv.get(bs("rl/"), GetOption.builder().isPrefix(true).withLimit(2).build()));
        assertEquals(2, g.getKvs().size());
        assertTrue(g.isMore());
        assertEquals(5, g.getCount());
    }

    @Test
    void rangeAtHistoricalRevisions() throws Exception {
        long r1 = put("rh/k", "v1");
        long r2 = put("rh/k", "v2");
        long r2b = put("rh/other", "o");
        long r3 = hdr(stub().deleteRange(DeleteRangeRequest.newBuilder().setKey(b("rh/k")).build()).getHeader());
        long r4 = put("rh/k", "v3");
        assertEquals(List.of(r1 + 1, r1 + 2, r1 + 3, r1 + 4), List.of(r2, r2b, r3, r4));

        RangeResponse at1 = range(rq("rh/k").setRevision(r1));
        assertEquals(List.of(kv("rh/k", "v1", r1, r1, 1)), at1.getKvsList());
        assertEquals(r4, at1.getHeader().getRevision(), "the header carries the current revision");
        assertEquals(List.of(kv("rh/k", "v2", r1, r2, 2)), range(rq("rh/k").setRevision(r2)).getKvsList());
        assertEquals(List.of(kv("rh/k", "v2", r1, r2, 2)), range(rq("rh/k").setRevision(r2b)).getKvsList());
        RangeResponse at3 = range(rq("rh/k").setRevision(r3));
        assertEquals(0, at3.getKvsCount());
        assertEquals(0, at3.getCount());
        assertEquals(List.of(kv("rh/k", "v3", r4, r4, 1)), range(rq("rh/k").setRevision(r4)).getKvsList());
        assertEquals(0, range(rq("rh/k").setRevision(r1 - 1)).getCount());
        assertEquals(List.of("rh/k"), keys(range(prefix("rh/").setRevision(r1))));
        assertEquals(List.of("rh/k", "rh/other"), keys(range(prefix("rh/").setRevision(r2b))));
        assertEquals(List.of("rh/other"), keys(range(prefix("rh/").setRevision(r3))));
        assertEquals(2, range(prefix("rh/").setRevision(r2b).setCountOnly(true)).getCount());

        GetResponse g = await(kv.get(bs("rh/k"), GetOption.builder().withRevision(r2).build()));
        assertEquals("v2", s(g.getKvs().get(0).getValue()));
        assertEquals(r4, hdr(g.getHeader()));

        assertStatus(Status.Code.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision",
                () -> stub().range(rq("rh/k").setRevision(r4 + 1).build()));
        assertJetcdError(Status.Code.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision",
                kv.get(bs("rh/k"), GetOption.builder().withRevision(r4 + 100).build()));
    }

    /*
     * Sort data: keys A < B < C with every other target ordering them differently:
     *   create: C, A, B   mod: B, A, C   version: B(1), C(2), A(3)   value: C("x"), B("y"), A("z")
     */
    private static final List<String> SORT_KEYS = List.of("so/A", "so/B", "so/C");

    private static void writeSortData() {
        put("so/C", "c0");
        put("so/A", "a0");
        put("so/B", "y");
        put("so/A", "a1");
        put("so/A", "z");
        put("so/C", "x");
    }

    private static List<String> ascending(SortTarget t) {
        return switch (t) {
            case KEY -> List.of("so/A", "so/B", "so/C");
            case CREATE -> List.of("so/C", "so/A", "so/B");
            case MOD -> List.of("so/B", "so/A", "so/C");
            case VERSION -> List.of("so/B", "so/C", "so/A");
            case VALUE -> List.of("so/C", "so/B", "so/A");
            default -> throw new IllegalArgumentException();
        };
    }

    @Test
    void rangeSortEveryTargetAndOrder() throws Exception {
        writeSortData();
        for (SortTarget t : List.of(SortTarget.KEY, SortTarget.VERSION, SortTarget.CREATE, SortTarget.MOD,
                SortTarget.VALUE)) {
            for (SortOrder o : List.of(SortOrder.NONE, SortOrder.ASCEND, SortOrder.DESCEND)) {
                List<String> want = new ArrayList<>(ascending(t));
                if (o == SortOrder.DESCEND) {
                    java.util.Collections.reverse(want);
                }
                // NONE with a target other than KEY sorts ascending (etcd: "sort ASCEND by default")
                RangeResponse r = range(prefix("so/").setSortTarget(t).setSortOrder(o));
                assertEquals(want, keys(r), t + " " + o);
                assertEquals(3, r.getCount());
                RangeResponse lim = range(prefix("so/").setSortTarget(t).setSortOrder(o).setLimit(2));
                assertEquals(want.subList(0, 2), keys(lim), t + " " + o + " limit 2");
                assertTrue(lim.getMore());
                assertEquals(3, lim.getCount());
            }
        }
        // jetcd's names for the same thing
        GetResponse g = await(kv.get(bs("so/"), GetOption.builder().isPrefix(true)
                .withSortField(GetOption.SortTarget.MOD).withSortOrder(GetOption.SortOrder.DESCEND).build()));
        assertEquals(List.of("so/C", "so/A", "so/B"), g.getKvs().stream().map(x -> s(x.getKey())).toList());
        g = await(kv.get(bs("so/"), GetOption.builder().isPrefix(true)
                .withSortField(GetOption.SortTarget.VALUE).withSortOrder(GetOption.SortOrder.ASCEND).withLimit(1).build()));
        assertEquals(List.of("so/C"), g.getKvs().stream().map(x -> s(x.getKey())).toList());
        assertTrue(g.isMore());
    }

    @Test
    void rangeKeysOnlyAndCountOnly() throws Exception {
        long r1 = put("rk/a", "va");
        long r2 = put("rk/b", "vb");
        long r3 = put("rk/b", "vb2");
        RangeResponse ko = range(prefix("rk/").setKeysOnly(true));
        assertEquals(List.of(
                KeyValue.newBuilder().setKey(b("rk/a")).setCreateRevision(r1).setModRevision(r1).setVersion(1).build(),
                KeyValue.newBuilder().setKey(b("rk/b")).setCreateRevision(r2).setModRevision(r3).setVersion(2).build()),
                ko.getKvsList());
        assertEquals(2, ko.getCount());
        GetResponse g = await(kv.get(bs("rk/"), GetOption.builder().isPrefix(true).withKeysOnly(true).build()));
        assertTrue(g.getKvs().stream().allMatch(x -> x.getValue().isEmpty()));
        assertEquals(2, g.getKvs().size());

        RangeResponse co = range(prefix("rk/").setCountOnly(true));
        assertEquals(0, co.getKvsCount());
        assertEquals(2, co.getCount());
        assertFalse(co.getMore());
        RangeResponse coLimit = range(prefix("rk/").setCountOnly(true).setLimit(1));
        assertEquals(0, coLimit.getKvsCount());
        assertEquals(2, coLimit.getCount());
        assertFalse(coLimit.getMore(), "count_only never reports more");
        assertEquals(1, range(prefix("rk/").setCountOnly(true).setRevision(r1)).getCount());
        GetResponse gc = await(kv.get(bs("rk/"), GetOption.builder().isPrefix(true).withCountOnly(true).build()));
        assertEquals(2, gc.getCount());
        assertTrue(gc.getKvs().isEmpty());
    }

    @Test
    void rangeSerializable() throws Exception {
        long rev = put("rz/a", "1");
        RangeResponse lin = range(prefix("rz/"));
        RangeResponse ser = range(prefix("rz/").setSerializable(true));
        assertEquals(lin.getKvsList(), ser.getKvsList());
        assertEquals(rev, ser.getHeader().getRevision());
        GetResponse g = await(kv.get(bs("rz/a"), GetOption.builder().withSerializable(true).build()));
        assertEquals("1", s(g.getKvs().get(0).getValue()));
        assertEquals(rev, hdr(g.getHeader()));
    }

    /** min/max mod/create revision filter the kvs; count is the number of keys in the range before filtering. */
    @Test
    void rangeRevisionFilters() throws Exception {
        long a = put("rf/a", "1");       // a: create a, mod a
        long bb = put("rf/b", "1");      // b: create bb
        long c = put("rf/c", "1");       // c: create c
        long a2 = put("rf/a", "2");      // a: mod a2
        long d = put("rf/d", "1");       // d: create d
        long b2 = put("rf/b", "2");      // b: mod b2
        // create: a < bb < c < d; mod: c < a2 < d < b2
        assertEquals(List.of("rf/b", "rf/d"), keys(range(prefix("rf/").setMinModRevision(d))));
        assertEquals(List.of("rf/a", "rf/c"), keys(range(prefix("rf/").setMaxModRevision(a2))));
        assertEquals(List.of("rf/c", "rf/d"), keys(range(prefix("rf/").setMinCreateRevision(c))));
        assertEquals(List.of("rf/a", "rf/b"), keys(range(prefix("rf/").setMaxCreateRevision(bb))));
        assertEquals(List.of("rf/a", "rf/d"), keys(range(prefix("rf/").setMinModRevision(a2).setMaxModRevision(d))));
        assertEquals(List.of("rf/c"), keys(range(prefix("rf/").setMinCreateRevision(bb + 1).setMaxModRevision(a2))));

        RangeResponse counted = range(prefix("rf/").setMinModRevision(d));
        assertEquals(4, counted.getCount(), "count ignores the filters");
        RangeResponse lim = range(prefix("rf/").setMinCreateRevision(bb).setLimit(2));
        assertEquals(List.of("rf/b", "rf/c"), keys(lim));
        assertTrue(lim.getMore());
        RangeResponse lim3 = range(prefix("rf/").setMinCreateRevision(bb).setLimit(3));
        assertEquals(List.of("rf/b", "rf/c", "rf/d"), keys(lim3));
        assertFalse(lim3.getMore(), "more counts the filtered kvs");
        assertEquals(4, lim3.getCount());
        // filters and sorting together
        assertEquals(List.of("rf/b", "rf/d", "rf/a"), keys(range(prefix("rf/").setMinModRevision(a2)
                .setSortTarget(SortTarget.MOD).setSortOrder(SortOrder.DESCEND))));
        // jetcd's spelling
        GetResponse g = await(kv.get(bs("rf/"), GetOption.builder().isPrefix(true).withMinModRevision(d)
                .withMaxCreateRevision(bb).build()));
        assertEquals(List.of("rf/b"), g.getKvs().stream().map(x -> s(x.getKey())).toList());
        assertEquals(4, g.getCount());
        assertEquals(b2, hdr(g.getHeader()));
        assertEquals(List.of("rf/d"), await(kv.get(bs("rf/"), GetOption.builder().isPrefix(true)
                .withMinCreateRevision(d).withMaxModRevision(d).build())).getKvs().stream()
                .map(x -> s(x.getKey())).toList());
    }

    // ---- Put ------------------------------------------------------------------------------------------------

    @Test
    void putPrevKv() throws Exception {
        io.etcd.jetcd.kv.PutResponse first = await(kv.put(bs("pp/k"), bs("v1"), PutOption.builder().withPrevKV().build()));
        long r1 = hdr(first.getHeader());
        assertFalse(first.hasPrevKv(), "no previous kv for a new key");
        io.etcd.jetcd.kv.PutResponse second = await(kv.put(bs("pp/k"), bs("v2"), PutOption.builder().withPrevKV().build()));
        assertEquals(r1 + 1, hdr(second.getHeader()));
        assertTrue(second.hasPrevKv());
        assertEquals("v1", s(second.getPrevKv().getValue()));
        assertEquals(r1, second.getPrevKv().getModRevision());
        assertEquals(1, second.getPrevKv().getVersion());

        PutResponse raw = stub().put(PutRequest.newBuilder().setKey(b("pp/k")).setValue(b("v3")).setPrevKv(true).build());
        assertEquals(r1 + 2, hdr(raw.getHeader()));
        assertEquals(kv("pp/k", "v2", r1, r1 + 1, 2), raw.getPrevKv());
        PutResponse noPrev = stub().put(PutRequest.newBuilder().setKey(b("pp/k")).setValue(b("v4")).build());
        assertFalse(noPrev.hasPrevKv(), "prev_kv only when asked");
        assertEquals(kv("pp/k", "v4", r1, r1 + 3, 4), get1("pp/k"));
        // an empty value is a value
        long r5 = put("pp/empty", "");
        assertEquals(kv("pp/empty", "", r5, r5, 1), get1("pp/empty"));
    }

    @Test
    void putIgnoreValueAndIgnoreLease() throws Exception {
        long r1 = put("pi/k", "keep");
        PutResponse iv = stub().put(PutRequest.newBuilder().setKey(b("pi/k")).setIgnoreValue(true).setPrevKv(true).build());
        assertEquals(r1 + 1, hdr(iv.getHeader()));
        assertEquals(kv("pi/k", "keep", r1, r1, 1), iv.getPrevKv());
        assertEquals(kv("pi/k", "keep", r1, r1 + 1, 2), get1("pi/k"));

        PutResponse il = stub().put(PutRequest.newBuilder().setKey(b("pi/k")).setValue(b("new")).setIgnoreLease(true).build());
        assertEquals(r1 + 2, hdr(il.getHeader()));
        assertEquals(kv("pi/k", "new", r1, r1 + 2, 3), get1("pi/k"));

        PutResponse both = stub().put(PutRequest.newBuilder().setKey(b("pi/k")).setIgnoreValue(true)
                .setIgnoreLease(true).build());
        assertEquals(r1 + 3, hdr(both.getHeader()));
        assertEquals(kv("pi/k", "new", r1, r1 + 3, 4), get1("pi/k"));
    }

    @Test
    void putErrors() throws Exception {
        put("pe/exists", "v");
        long before = currentRevision();
        assertStatus(Status.Code.INVALID_ARGUMENT, "etcdserver: key not found",
                () -> stub().put(PutRequest.newBuilder().setKey(b("pe/missing")).setIgnoreValue(true).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "etcdserver: key not found",
                () -> stub().put(PutRequest.newBuilder().setKey(b("pe/missing")).setValue(b("v")).setIgnoreLease(true).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "etcdserver: value is provided",
                () -> stub().put(PutRequest.newBuilder().setKey(b("pe/exists")).setValue(b("v")).setIgnoreValue(true).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "etcdserver: value is provided",
                () -> stub().put(PutRequest.newBuilder().setKey(b("pe/missing")).setValue(b("v")).setIgnoreValue(true).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "etcdserver: lease is provided",
                () -> stub().put(PutRequest.newBuilder().setKey(b("pe/exists")).setValue(b("v")).setLease(7).setIgnoreLease(true).build()));
        assertStatus(Status.Code.NOT_FOUND, "etcdserver: requested lease not found",
                () -> stub().put(PutRequest.newBuilder().setKey(b("pe/exists")).setValue(b("v")).setLease(12345).build()));
        // a standalone Put checks the lease before the key (etcd's applier order)
        assertStatus(Status.Code.NOT_FOUND, "etcdserver: requested lease not found",
                () -> stub().put(PutRequest.newBuilder().setKey(b("pe/missing")).setIgnoreValue(true).setLease(12345).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "etcdserver: key is not provided",
                () -> stub().put(PutRequest.newBuilder().setValue(b("v")).build()));
        assertJetcdError(Status.Code.NOT_FOUND, "etcdserver: requested lease not found",
                kv.put(bs("pe/exists"), bs("v"), PutOption.builder().withLeaseId(12345).build()));
        assertEquals(before, currentRevision(), "failed puts must not change the store");
        assertEquals(0, range(rq("pe/missing")).getCount());
    }

    // ---- DeleteRange ----------------------------------------------------------------------------------------

    @Test
    void deleteSingleKey() throws Exception {
        long r1 = put("ds/a", "1");
        put("ds/ab", "2");
        DeleteResponse d = await(kv.delete(bs("ds/a")));
        assertEquals(1, d.getDeleted());
        assertEquals(r1 + 2, hdr(d.getHeader()));
        assertTrue(d.getPrevKvs().isEmpty(), "prev_kvs only when asked");
        assertEquals(0, range(rq("ds/a")).getCount());
        assertEquals(1, range(rq("ds/ab")).getCount(), "a single-key delete is not a prefix delete");
        // deleting nothing does not create a revision
        DeleteRangeResponse none = stub().deleteRange(DeleteRangeRequest.newBuilder().setKey(b("ds/a")).build());
        assertEquals(0, none.getDeleted());
        assertEquals(r1 + 2, hdr(none.getHeader()));
        assertEquals(r1 + 2, currentRevision());
        // the deleted value is still there in history
        assertEquals(List.of(kv("ds/a", "1", r1, r1, 1)), range(rq("ds/a").setRevision(r1 + 1)).getKvsList());
        // re-creating starts a new life: version 1, new create revision
        long r3 = put("ds/a", "again");
        assertEquals(kv("ds/a", "again", r3, r3, 1), get1("ds/a"));
    }

    @Test
    void deletePrefixRangeAndPrevKv() throws Exception {
        long r1 = put("dp/a", "1");
        long r2 = put("dp/b", "2");
        long r3 = put("dp/c", "3");
        long r4 = put("dp/d", "4");
        put("dp0", "outside");
        DeleteRangeResponse range = stub().deleteRange(DeleteRangeRequest.newBuilder().setKey(b("dp/b"))
                .setRangeEnd(b("dp/d")).setPrevKv(true).build());
        assertEquals(2, range.getDeleted());
        assertEquals(List.of(kv("dp/b", "2", r2, r2, 1), kv("dp/c", "3", r3, r3, 1)), range.getPrevKvsList());
        long rd = hdr(range.getHeader());
        assertEquals(r4 + 2, rd, "one revision for the whole range");
        assertEquals(List.of("dp/a", "dp/d"), keys(range(prefix("dp/"))));

        DeleteResponse pre = await(kv.delete(bs("dp/"), DeleteOption.builder().isPrefix(true).withPrevKV(true).build()));
        assertEquals(2, pre.getDeleted());
        assertEquals(List.of("dp/a", "dp/d"), pre.getPrevKvs().stream().map(x -> s(x.getKey())).toList());
        assertEquals(List.of("1", "4"), pre.getPrevKvs().stream().map(x -> s(x.getValue())).toList());
        assertEquals(r1, pre.getPrevKvs().get(0).getCreateRevision());
        assertEquals(rd + 1, hdr(pre.getHeader()));
        assertEquals(0, range(prefix("dp/")).getCount());
        assertEquals(1, range(rq("dp0")).getCount());
        // both deletions are visible in history
        assertEquals(List.of("dp/a", "dp/b", "dp/c", "dp/d"), keys(range(prefix("dp/").setRevision(rd - 1))));
        assertEquals(List.of("dp/a", "dp/d"), keys(range(prefix("dp/").setRevision(rd))));
    }

    @Test
    void deleteFromKey() throws Exception {
        put("~~del/a", "1");
        long r = put("~~del/b", "2");
        put("~~del/c", "3");
        DeleteRangeResponse d = stub().deleteRange(DeleteRangeRequest.newBuilder().setKey(b("~~del/b"))
                .setRangeEnd(b("\0")).setPrevKv(true).build());
        assertEquals(2, d.getDeleted());
        assertEquals(List.of("~~del/b", "~~del/c"), keys(d.getPrevKvsList()));
        assertEquals(List.of("~~del/a"), keys(range(rq("~~del/", "\0"))));
        DeleteResponse rest = await(kv.delete(bs("~~del/"), DeleteOption.builder().withRange(bs("\0")).build()));
        assertEquals(1, rest.getDeleted());
        assertEquals(r + 3, hdr(rest.getHeader()));
        assertEquals(0, range(rq("~~del/", "\0")).getCount());
    }

    // ---- Txn ------------------------------------------------------------------------------------------------

    /** Every compare target with every result, against a key whose fields are known, each true and false. */
    @Test
    void txnCompareEveryTargetAndResult() throws Exception {
        long created = put("tc/k", "l");
        long mod = put("tc/k", "m"); // version 2, lease 0, value "m"
        long rev = currentRevision();
        record Case(CompareTarget target, Object less, Object equal, Object greater) {
        }
        List<Case> cases = List.of(
                new Case(CompareTarget.VERSION, 1L, 2L, 3L),
                new Case(CompareTarget.CREATE, created - 1, created, created + 1),
                new Case(CompareTarget.MOD, mod - 1, mod, mod + 1),
                new Case(CompareTarget.VALUE, "l", "m", "n"),
                new Case(CompareTarget.LEASE, -1L, 0L, 1L));
        List<String> wrong = new ArrayList<>();
        for (Case c : cases) {
            // operand below / equal to / above the key's actual field
            Object[] operands = {c.less(), c.equal(), c.greater()};
            for (CompareResult result : List.of(CompareResult.EQUAL, CompareResult.GREATER, CompareResult.LESS,
                    CompareResult.NOT_EQUAL)) {
                for (int i = 0; i < 3; i++) {
                    boolean want = switch (result) {
                        case EQUAL -> i == 1;
                        case GREATER -> i == 0; // field > operand
                        case LESS -> i == 2;
                        case NOT_EQUAL -> i != 1;
                        default -> throw new IllegalStateException();
                    };
                    TxnResponse r = txn(TxnRequest.newBuilder()
                            .addCompare(cmp("tc/k", c.target(), result, operands[i]))
                            .addSuccess(opGet("tc/k")));
                    if (r.getSucceeded() != want) {
                        wrong.add(c.target() + " " + result + " " + operands[i] + ": got " + r.getSucceeded());
                    }
                    assertEquals(rev, r.getHeader().getRevision(), "a read-only txn makes no revision");
                    assertEquals(want ? 1 : 0, r.getResponsesCount());
                }
            }
        }
        assertEquals(List.of(), wrong);

        // the same through jetcd's Cmp
        assertTrue(await(kv.txn().If(new Cmp(bs("tc/k"), Cmp.Op.EQUAL, CmpTarget.version(2))).commit()).isSucceeded());
        assertTrue(await(kv.txn().If(new Cmp(bs("tc/k"), Cmp.Op.GREATER, CmpTarget.createRevision(created - 1)))
                .commit()).isSucceeded());
        assertTrue(await(kv.txn().If(new Cmp(bs("tc/k"), Cmp.Op.LESS, CmpTarget.modRevision(mod + 1))).commit())
                .isSucceeded());
        assertTrue(await(kv.txn().If(new Cmp(bs("tc/k"), Cmp.Op.NOT_EQUAL, CmpTarget.value(bs("x")))).commit())
                .isSucceeded());
        assertFalse(await(kv.txn().If(new Cmp(bs("tc/k"), Cmp.Op.EQUAL, CmpTarget.value(bs("l")))).commit())
                .isSucceeded());
    }

    /** A missing key compares as all zeros, except that a VALUE compare on it always fails. */
    @Test
    void txnCompareMissingKey() throws Exception {
        String k = "tm/missing";
        Object[][] cases = {
                {CompareTarget.VERSION, CompareResult.EQUAL, 0L, true},
                {CompareTarget.VERSION, CompareResult.GREATER, 0L, false},
                {CompareTarget.VERSION, CompareResult.LESS, 1L, true},
                {CompareTarget.CREATE, CompareResult.EQUAL, 0L, true},
                {CompareTarget.MOD, CompareResult.EQUAL, 0L, true},
                {CompareTarget.MOD, CompareResult.NOT_EQUAL, 0L, false},
                {CompareTarget.LEASE, CompareResult.EQUAL, 0L, true},
                {CompareTarget.VALUE, CompareResult.EQUAL, "", false},
                {CompareTarget.VALUE, CompareResult.NOT_EQUAL, "x", false},
                {CompareTarget.VALUE, CompareResult.LESS, "z", false},
                {CompareTarget.VALUE, CompareResult.GREATER, "", false},
        };
        for (Object[] c : cases) {
            TxnResponse r = txn(TxnRequest.newBuilder().addCompare(cmp(k, (CompareTarget) c[0], (CompareResult) c[1], c[2])));
            assertEquals(c[3], r.getSucceeded(), Arrays.toString(c));
        }
        // a deleted key is missing too
        put("tm/gone", "v");
        stub().deleteRange(DeleteRangeRequest.newBuilder().setKey(b("tm/gone")).build());
        assertTrue(txn(TxnRequest.newBuilder().addCompare(cmp("tm/gone", CompareTarget.VERSION, CompareResult.EQUAL, 0L)))
                .getSucceeded());
        assertTrue(await(kv.txn().If(new Cmp(bs("tm/gone"), Cmp.Op.EQUAL, CmpTarget.createRevision(0))).commit())
                .isSucceeded());
    }

    /** A compare with range_end must hold for every key in the range (not expressible in jetcd 0.8). */
    @Test
    void txnCompareOverRange() throws Exception {
        put("tr/a", "1");
        put("tr/b", "1");
        long b2 = put("tr/b", "2");
        Function<Compare, Boolean> holds = c -> txn(TxnRequest.newBuilder().addCompare(c)).getSucceeded();
        Function<Compare.Builder, Compare> prefixed = c -> c.setRangeEnd(b("tr0")).build();
        assertTrue(holds.apply(prefixed.apply(cmp("tr/", CompareTarget.VERSION, CompareResult.GREATER, 0L).toBuilder())));
        assertFalse(holds.apply(prefixed.apply(cmp("tr/", CompareTarget.VERSION, CompareResult.EQUAL, 1L).toBuilder())),
                "tr/b has version 2");
        assertTrue(holds.apply(prefixed.apply(cmp("tr/", CompareTarget.VERSION, CompareResult.LESS, 3L).toBuilder())));
        assertTrue(holds.apply(prefixed.apply(cmp("tr/", CompareTarget.MOD, CompareResult.LESS, b2 + 1).toBuilder())));
        assertFalse(holds.apply(prefixed.apply(cmp("tr/", CompareTarget.MOD, CompareResult.EQUAL, b2).toBuilder())));
        assertFalse(holds.apply(prefixed.apply(cmp("tr/", CompareTarget.VALUE, CompareResult.EQUAL, "1").toBuilder())));
        assertTrue(holds.apply(prefixed.apply(cmp("tr/", CompareTarget.VALUE, CompareResult.LESS, "3").toBuilder())));
        // [tr/a, tr/b): only tr/a
        assertTrue(holds.apply(cmp("tr/a", CompareTarget.VERSION, CompareResult.EQUAL, 1L).toBuilder()
                .setRangeEnd(b("tr/b")).build()));
        // an empty range compares like a missing key
        assertTrue(holds.apply(cmp("tr/x", CompareTarget.VERSION, CompareResult.EQUAL, 0L).toBuilder()
                .setRangeEnd(b("tr/y")).build()));
        assertFalse(holds.apply(cmp("tr/x", CompareTarget.VALUE, CompareResult.EQUAL, "").toBuilder()
                .setRangeEnd(b("tr/y")).build()));
        // from-key ("\0"): tr/b and every key after it exists, so each has a version above 0
        assertTrue(holds.apply(cmp("tr/b", CompareTarget.VERSION, CompareResult.GREATER, 0L).toBuilder()
                .setRangeEnd(b("\0")).build()));
        assertFalse(holds.apply(cmp("tr/b", CompareTarget.VERSION, CompareResult.LESS, 1L).toBuilder()
                .setRangeEnd(b("\0")).build()));
    }

    @Test
    void txnSuccessAndFailureBranches() throws Exception {
        long r0 = put("tb/k", "1");
        io.etcd.jetcd.kv.TxnResponse ok = await(kv.txn()
                .If(new Cmp(bs("tb/k"), Cmp.Op.EQUAL, CmpTarget.value(bs("1"))))
                .Then(Op.put(bs("tb/then"), bs("yes"), PutOption.DEFAULT),
                        Op.get(bs("tb/k"), GetOption.DEFAULT),
                        Op.delete(bs("tb/k"), DeleteOption.builder().withPrevKV(true).build()))
                .Else(Op.put(bs("tb/else"), bs("yes"), PutOption.DEFAULT))
                .commit());
        assertTrue(ok.isSucceeded());
        assertEquals(r0 + 1, hdr(ok.getHeader()));
        assertEquals(1, ok.getPutResponses().size());
        assertEquals(1, ok.getGetResponses().size());
        assertEquals("1", s(ok.getGetResponses().get(0).getKvs().get(0).getValue()));
        assertEquals(1, ok.getDeleteResponses().size());
        assertEquals(1, ok.getDeleteResponses().get(0).getDeleted());
        assertEquals("1", s(ok.getDeleteResponses().get(0).getPrevKvs().get(0).getValue()));
        assertEquals(0, range(rq("tb/else")).getCount());
        assertEquals("yes", s(get1("tb/then").getValue()));

        io.etcd.jetcd.kv.TxnResponse no = await(kv.txn()
                .If(new Cmp(bs("tb/k"), Cmp.Op.EQUAL, CmpTarget.value(bs("1"))))
                .Then(Op.put(bs("tb/then2"), bs("yes"), PutOption.DEFAULT))
                .Else(Op.put(bs("tb/else"), bs("no"), PutOption.DEFAULT), Op.get(bs("tb/then"), GetOption.DEFAULT))
                .commit());
        assertFalse(no.isSucceeded());
        assertEquals(r0 + 2, hdr(no.getHeader()));
        assertEquals(1, no.getPutResponses().size());
        assertEquals("yes", s(no.getGetResponses().get(0).getKvs().get(0).getValue()));
        assertEquals(0, range(rq("tb/then2")).getCount());
        assertEquals("no", s(get1("tb/else").getValue()));

        // raw: response kinds in request order; inner headers carry only the revision at that point
        long r2 = r0 + 2;
        TxnResponse raw = txn(TxnRequest.newBuilder()
                .addSuccess(opGet("tb/else"))
                .addSuccess(opPut("tb/else", "again"))
                .addSuccess(opGet("tb/else"))
                .addSuccess(opDel("tb/nothing")));
        assertTrue(raw.getSucceeded());
        assertEquals(r2 + 1, raw.getHeader().getRevision());
        List<ResponseOp> ops = raw.getResponsesList();
        assertEquals(List.of(ResponseOp.ResponseCase.RESPONSE_RANGE, ResponseOp.ResponseCase.RESPONSE_PUT,
                ResponseOp.ResponseCase.RESPONSE_RANGE, ResponseOp.ResponseCase.RESPONSE_DELETE_RANGE),
                ops.stream().map(ResponseOp::getResponseCase).toList());
        assertEquals(ResponseHeader.newBuilder().setRevision(r2).build(), ops.get(0).getResponseRange().getHeader(),
                "a read before the txn's first write sees the old revision");
        assertEquals("no", s(ops.get(0).getResponseRange().getKvs(0).getValue()));
        assertEquals(ResponseHeader.newBuilder().setRevision(r2 + 1).build(), ops.get(1).getResponsePut().getHeader());
        assertEquals(ResponseHeader.newBuilder().setRevision(r2 + 1).build(), ops.get(2).getResponseRange().getHeader());
        assertEquals(kv("tb/else", "again", r2, r2 + 1, 2), ops.get(2).getResponseRange().getKvs(0),
                "a read after a write in the same txn sees it");
        assertEquals(ResponseHeader.newBuilder().setRevision(r2 + 1).build(),
                ops.get(3).getResponseDeleteRange().getHeader());
        assertEquals(0, ops.get(3).getResponseDeleteRange().getDeleted());
    }

    @Test
    void txnIsOneRevision() throws Exception {
        long r0 = put("t1/d", "x");
        TxnResponse w = txn(TxnRequest.newBuilder()
                .addSuccess(opPut("t1/a", "1")).addSuccess(opPut("t1/b", "2")).addSuccess(opPut("t1/c", "3"))
                .addSuccess(opDel("t1/d")));
        assertEquals(r0 + 1, w.getHeader().getRevision());
        for (String k : List.of("t1/a", "t1/b", "t1/c")) {
            KeyValue x = get1(k);
            assertEquals(r0 + 1, x.getModRevision(), k);
            assertEquals(r0 + 1, x.getCreateRevision(), k);
        }
        assertEquals(0, range(rq("t1/d")).getCount());
        assertEquals(r0 + 1, currentRevision());
        // no change, no revision: read-only, failed compare with an empty else, deleting nothing
        assertEquals(r0 + 1, txn(TxnRequest.newBuilder().addSuccess(opGet("t1/a"))).getHeader().getRevision());
        assertEquals(r0 + 1, txn(TxnRequest.newBuilder()
                .addCompare(cmp("t1/a", CompareTarget.VALUE, CompareResult.EQUAL, "nope"))
                .addSuccess(opPut("t1/a", "never"))).getHeader().getRevision());
        assertEquals(r0 + 1, txn(TxnRequest.newBuilder().addSuccess(opDel("t1/none"))).getHeader().getRevision());
        assertEquals(r0 + 1, txn(TxnRequest.newBuilder()).getHeader().getRevision());
        assertEquals(r0 + 1, currentRevision());
        assertEquals("1", s(get1("t1/a").getValue()));
        // a key written twice in one revision? not allowed (duplicate), but a key deleted and another put is fine
        TxnResponse mixed = txn(TxnRequest.newBuilder().addSuccess(opDel("t1/a")).addSuccess(opPut("t1/e", "5")));
        assertEquals(r0 + 2, mixed.getHeader().getRevision());
    }

    /** Compares of nested transactions see the state before the outer transaction, as do their branches' choice. */
    @Test
    void txnNested() throws Exception {
        long r0 = put("tn/k", "1");
        TxnRequest.Builder inner = TxnRequest.newBuilder()
                .addCompare(cmp("tn/k", CompareTarget.VALUE, CompareResult.EQUAL, "1"))
                .addSuccess(opPut("tn/inner", "saw-old-value"))
                .addSuccess(opGet("tn/k"))
                .addFailure(opPut("tn/inner", "saw-new-value"));
        TxnResponse r = txn(TxnRequest.newBuilder()
                .addCompare(cmp("tn/k", CompareTarget.VERSION, CompareResult.EQUAL, 1L))
                .addSuccess(opPut("tn/k", "2"))
                .addSuccess(opTxn(inner))
                .addSuccess(opGet("tn/k"))
                .addFailure(opPut("tn/outer-failed", "x")));
        assertTrue(r.getSucceeded());
        assertEquals(r0 + 1, r.getHeader().getRevision());
        assertEquals(3, r.getResponsesCount());
        TxnResponse nested = r.getResponses(1).getResponseTxn();
        assertTrue(nested.getSucceeded(), "the nested compare sees the value before the outer txn");
        // etcd leaves a nested transaction's header empty
        assertEquals(ResponseHeader.getDefaultInstance(), nested.getHeader());
        assertEquals(2, nested.getResponsesCount());
        assertEquals(r0 + 1, nested.getResponses(0).getResponsePut().getHeader().getRevision());
        assertEquals(kv("tn/k", "2", r0, r0 + 1, 2), nested.getResponses(1).getResponseRange().getKvs(0),
                "the nested read runs after the outer put");
        assertEquals("saw-old-value", s(get1("tn/inner").getValue()));
        assertEquals(r0 + 1, get1("tn/inner").getModRevision());
        assertEquals(0, range(rq("tn/outer-failed")).getCount());

        // nested in the failure branch, choosing its own failure branch
        TxnResponse f = txn(TxnRequest.newBuilder()
                .addCompare(cmp("tn/k", CompareTarget.VALUE, CompareResult.EQUAL, "1"))
                .addFailure(opTxn(TxnRequest.newBuilder()
                        .addCompare(cmp("tn/k", CompareTarget.VALUE, CompareResult.EQUAL, "1"))
                        .addFailure(opPut("tn/f", "inner-else"))
                        .addFailure(opTxn(TxnRequest.newBuilder().addSuccess(opPut("tn/g", "deep")))))));
        assertFalse(f.getSucceeded());
        assertEquals(r0 + 2, f.getHeader().getRevision());
        TxnResponse fi = f.getResponses(0).getResponseTxn();
        assertFalse(fi.getSucceeded());
        assertTrue(fi.getResponses(1).getResponseTxn().getSucceeded());
        assertEquals("inner-else", s(get1("tn/f").getValue()));
        assertEquals(r0 + 2, get1("tn/g").getModRevision());
    }

    @Test
    void txnDuplicateKeys() throws Exception {
        put("td/a", "1");
        long before = currentRevision();
        String dup = "etcdserver: duplicate key given in txn request";
        assertStatus(Status.Code.INVALID_ARGUMENT, dup, () -> stub().txn(TxnRequest.newBuilder()
                .addSuccess(opPut("td/k", "1")).addSuccess(opPut("td/k", "2")).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, dup, () -> stub().txn(TxnRequest.newBuilder()
                .addSuccess(opPut("td/k", "1")).addSuccess(opDel("td/k")).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, dup, () -> stub().txn(TxnRequest.newBuilder()
                .addSuccess(opDel("td/a", "td/z")).addSuccess(opPut("td/k", "1")).build()));
        // checked in the branch that will not run as well
        assertStatus(Status.Code.INVALID_ARGUMENT, dup, () -> stub().txn(TxnRequest.newBuilder()
                .addFailure(opPut("td/k", "1")).addFailure(opPut("td/k", "2")).build()));
        // a nested put of a key the outer level also puts
        assertStatus(Status.Code.INVALID_ARGUMENT, dup, () -> stub().txn(TxnRequest.newBuilder()
                .addSuccess(opPut("td/k", "1"))
                .addSuccess(opTxn(TxnRequest.newBuilder().addSuccess(opPut("td/k", "2")))).build()));
        // a nested put inside an outer delete's range
        assertStatus(Status.Code.INVALID_ARGUMENT, dup, () -> stub().txn(TxnRequest.newBuilder()
                .addSuccess(opDel("td/", "td0"))
                .addSuccess(opTxn(TxnRequest.newBuilder().addFailure(opPut("td/k", "2")))).build()));
        // two nested transactions putting one key
        assertStatus(Status.Code.INVALID_ARGUMENT, dup, () -> stub().txn(TxnRequest.newBuilder()
                .addSuccess(opTxn(TxnRequest.newBuilder().addSuccess(opPut("td/k", "1"))))
                .addSuccess(opTxn(TxnRequest.newBuilder().addSuccess(opPut("td/k", "2")))).build()));
        assertEquals(before, currentRevision());

        // allowed: the same key in both branches; in a nested txn's two branches; deleted twice; a put next to a
        // delete range that does not cover it; put then read
        assertTrue(txn(TxnRequest.newBuilder().addSuccess(opPut("td/k", "s")).addFailure(opPut("td/k", "f")))
                .getSucceeded());
        txn(TxnRequest.newBuilder().addSuccess(opTxn(TxnRequest.newBuilder()
                .addCompare(cmp("td/a", CompareTarget.VALUE, CompareResult.EQUAL, "1"))
                .addSuccess(opPut("td/n", "then")).addFailure(opPut("td/n", "else")))));
        assertEquals("then", s(get1("td/n").getValue()));
        txn(TxnRequest.newBuilder().addSuccess(opDel("td/k")).addSuccess(opDel("td/k")));
        assertEquals(0, range(rq("td/k")).getCount());
        txn(TxnRequest.newBuilder().addSuccess(opDel("td/a", "td/b")).addSuccess(opPut("td/b", "x"))
                .addSuccess(opGet("td/b")).addSuccess(opGet("td/b")));
        assertEquals("x", s(get1("td/b").getValue()));
    }

    @Test
    void txnTooManyOps() throws Exception {
        String tooMany = "etcdserver: too many operations in txn request";
        long before = currentRevision();
        TxnRequest.Builder ok = TxnRequest.newBuilder();
        for (int i = 0; i < 128; i++) {
            ok.addSuccess(opPut("to/" + i, "v"));
        }
        TxnResponse r = txn(ok);
        assertEquals(before + 1, r.getHeader().getRevision());
        assertEquals(128, r.getResponsesCount());
        assertEquals(128, range(prefix("to/")).getCount());

        TxnRequest.Builder puts = TxnRequest.newBuilder();
        TxnRequest.Builder cmps = TxnRequest.newBuilder();
        TxnRequest.Builder fails = TxnRequest.newBuilder();
        for (int i = 0; i < 129; i++) {
            puts.addSuccess(opPut("to/x" + i, "v"));
            cmps.addCompare(cmp("to/" + i, CompareTarget.VERSION, CompareResult.GREATER, 0L));
            fails.addFailure(opGet("to/" + i));
        }
        assertStatus(Status.Code.INVALID_ARGUMENT, tooMany, () -> stub().txn(puts.build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, tooMany, () -> stub().txn(cmps.build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, tooMany, () -> stub().txn(fails.build()));
        assertEquals(before + 1, currentRevision());

        // a nested txn may use what its parent leaves of the 128: 100 outer ops leave 28
        TxnRequest.Builder nested28 = TxnRequest.newBuilder();
        TxnRequest.Builder nested29 = TxnRequest.newBuilder();
        for (int i = 0; i < 29; i++) {
            if (i < 28) {
                nested28.addSuccess(opGet("to/n" + i));
            }
            nested29.addSuccess(opGet("to/n" + i));
        }
        TxnRequest.Builder outerOk = TxnRequest.newBuilder();
        TxnRequest.Builder outerBad = TxnRequest.newBuilder();
        for (int i = 0; i < 99; i++) {
            outerOk.addSuccess(opGet("to/" + i));
            outerBad.addSuccess(opGet("to/" + i));
        }
        outerOk.addSuccess(opTxn(nested28));
        outerBad.addSuccess(opTxn(nested29));
        assertEquals(100, txn(outerOk).getResponsesCount());
        assertStatus(Status.Code.INVALID_ARGUMENT, tooMany, () -> stub().txn(outerBad.build()));
    }

    @Test
    void txnOpErrors() throws Exception {
        put("te/exists", "v");
        long before = currentRevision();
        assertStatus(Status.Code.INVALID_ARGUMENT, "etcdserver: key is not provided", () -> stub().txn(
                TxnRequest.newBuilder().addCompare(Compare.newBuilder().setTarget(CompareTarget.VERSION)).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "etcdserver: key is not provided", () -> stub().txn(
                TxnRequest.newBuilder().addSuccess(opPut("", "v")).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "etcdserver: key is not provided", () -> stub().txn(
                TxnRequest.newBuilder().addFailure(opGet("")).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "etcdserver: key is not provided", () -> stub().txn(
                TxnRequest.newBuilder().addSuccess(opTxn(TxnRequest.newBuilder().addSuccess(opDel("")))).build()));
        // a RequestOp with no request in it
        assertStatus(Status.Code.INVALID_ARGUMENT, "etcdserver: key not found", () -> stub().txn(
                TxnRequest.newBuilder().addSuccess(RequestOp.getDefaultInstance()).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "etcdserver: value is provided", () -> stub().txn(
                TxnRequest.newBuilder().addSuccess(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder()
                        .setKey(b("te/exists")).setValue(b("v")).setIgnoreValue(true))).build()));
        // errors found when the txn is applied, on the branch that runs; the txn then changes nothing
        assertStatus(Status.Code.INVALID_ARGUMENT, "etcdserver: key not found", () -> stub().txn(
                TxnRequest.newBuilder().addSuccess(opPut("te/a", "1")).addSuccess(RequestOp.newBuilder()
                        .setRequestPut(PutRequest.newBuilder().setKey(b("te/missing")).setIgnoreValue(true))).build()));
        assertStatus(Status.Code.NOT_FOUND, "etcdserver: requested lease not found", () -> stub().txn(
                TxnRequest.newBuilder().addSuccess(opPut("te/a", "1")).addSuccess(RequestOp.newBuilder()
                        .setRequestPut(PutRequest.newBuilder().setKey(b("te/b")).setLease(999))).build()));
        assertStatus(Status.Code.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision",
                () -> stub().txn(TxnRequest.newBuilder().addSuccess(opPut("te/a", "1"))
                        .addSuccess(opGet(rq("te/exists").setRevision(before + 1))).build()));
        assertStatus(Status.Code.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision",
                () -> stub().txn(TxnRequest.newBuilder().addSuccess(opGet(rq("te/exists").setRevision(before + 5)))
                        .build()));
        assertEquals(before, currentRevision(), "failed txns change nothing");
        assertEquals(0, range(rq("te/a")).getCount());
        // the branch that does not run is not checked at apply time
        assertFalse(txn(TxnRequest.newBuilder()
                .addCompare(cmp("te/exists", CompareTarget.VALUE, CompareResult.EQUAL, "no"))
                .addSuccess(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(b("te/b")).setLease(999)))
                .addSuccess(opGet(rq("te/exists").setRevision(before + 100)))).getSucceeded());
        assertEquals(before, currentRevision());
    }

    // ---- Compact --------------------------------------------------------------------------------------------

    @Test
    void compaction() throws Exception {
        long r1 = put("cp/k", "1");
        long r2 = put("cp/k", "2");
        long r3 = put("cp/k", "3");
        String compacted = "etcdserver: mvcc: required revision has been compacted";
        String future = "etcdserver: mvcc: required revision is a future revision";

        assertStatus(Status.Code.OUT_OF_RANGE, future,
                () -> stub().compact(CompactionRequest.newBuilder().setRevision(r3 + 1).build()));
        CompactionResponse c = stub().compact(CompactionRequest.newBuilder().setRevision(r2).build());
        assertEquals(r3, hdr(c.getHeader()), "compaction makes no revision");
        assertEquals(r3, currentRevision());

        assertStatus(Status.Code.OUT_OF_RANGE, compacted, () -> stub().range(rq("cp/k").setRevision(r1).build()));
        assertJetcdError(Status.Code.OUT_OF_RANGE, compacted,
                kv.get(bs("cp/k"), GetOption.builder().withRevision(r1).build()));
        assertEquals(List.of(kv("cp/k", "2", r1, r2, 2)), range(rq("cp/k").setRevision(r2)).getKvsList(),
                "the compaction revision itself stays readable");
        assertStatus(Status.Code.OUT_OF_RANGE, compacted, () -> stub().txn(TxnRequest.newBuilder()
                .addSuccess(opGet(rq("cp/k").setRevision(r1))).build()));
        assertStatus(Status.Code.OUT_OF_RANGE, compacted, () -> stub().txn(TxnRequest.newBuilder()
                .addSuccess(opPut("cp/x", "1")).addSuccess(opGet(rq("cp/k").setRevision(r1))).build()));

        assertStatus(Status.Code.OUT_OF_RANGE, compacted,
                () -> stub().compact(CompactionRequest.newBuilder().setRevision(r2).build()));
        assertStatus(Status.Code.OUT_OF_RANGE, compacted,
                () -> stub().compact(CompactionRequest.newBuilder().setRevision(r1).build()));
        assertJetcdError(Status.Code.OUT_OF_RANGE, compacted, kv.compact(r1));
        assertJetcdError(Status.Code.OUT_OF_RANGE, future, kv.compact(r3 + 10));

        // physical: the reply waits until the old revisions are gone
        io.etcd.jetcd.kv.CompactResponse p = await(kv.compact(r3, CompactOption.builder().withCompactPhysical(true).build()));
        assertEquals(r3, hdr(p.getHeader()));
        assertStatus(Status.Code.OUT_OF_RANGE, compacted, () -> stub().range(rq("cp/k").setRevision(r2).build()));
        assertEquals(List.of(kv("cp/k", "3", r1, r3, 3)), range(rq("cp/k").setRevision(r3)).getKvsList());
        assertEquals(List.of(kv("cp/k", "3", r1, r3, 3)), range(rq("cp/k")).getKvsList());

        long r4 = put("cp/k", "4");
        CompactionResponse phys = stub().compact(CompactionRequest.newBuilder().setRevision(r4).setPhysical(true).build());
        assertEquals(r4, hdr(phys.getHeader()));
        assertEquals(List.of(kv("cp/k", "4", r1, r4, 4)), range(rq("cp/k")).getKvsList());
    }

    // ---- request validation -----------------------------------------------------------------------------------

    @Test
    void emptyKeyIsRejected() throws Exception {
        String msg = "etcdserver: key is not provided";
        assertStatus(Status.Code.INVALID_ARGUMENT, msg, () -> stub().range(RangeRequest.getDefaultInstance()));
        assertStatus(Status.Code.INVALID_ARGUMENT, msg, () -> stub().range(rq("", "z").build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, msg, () -> stub().put(PutRequest.newBuilder().setValue(b("v")).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, msg, () -> stub().deleteRange(DeleteRangeRequest.getDefaultInstance()));
        assertStatus(Status.Code.INVALID_ARGUMENT, msg,
                () -> stub().deleteRange(DeleteRangeRequest.newBuilder().setRangeEnd(b("\0")).build()));
        assertJetcdError(Status.Code.INVALID_ARGUMENT, msg, kv.put(ByteSequence.EMPTY, bs("v")));
        assertJetcdError(Status.Code.INVALID_ARGUMENT, msg, kv.get(ByteSequence.EMPTY));
        assertJetcdError(Status.Code.INVALID_ARGUMENT, msg, kv.delete(ByteSequence.EMPTY));
    }

    @Test
    void requestTooLarge() throws Exception {
        String big = "x".repeat(2000);
        String msg = "etcdserver: request is too large";
        assertStatus(Status.Code.INVALID_ARGUMENT, msg, () -> smallStub().put(
                PutRequest.newBuilder().setKey(b("big/k")).setValue(b(big)).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, msg, () -> smallStub().put(
                PutRequest.newBuilder().setKey(b(big)).setValue(b("v")).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, msg, () -> smallStub().txn(TxnRequest.newBuilder()
                .addSuccess(opPut("big/a", "y".repeat(600))).addSuccess(opPut("big/b", "y".repeat(600))).build()));
        // below the limit is fine; reads are not limited by --max-request-bytes
        PutResponse okPut = smallStub().put(PutRequest.newBuilder().setKey(b("big/k")).setValue(b("y".repeat(500))).build());
        assertEquals(2, okPut.getHeader().getRevision());
        RangeResponse read = smallStub().range(RangeRequest.newBuilder().setKey(b(big)).build());
        assertEquals(0, read.getCount());
        assertEquals(1, smallStub().range(RangeRequest.newBuilder().setKey(b("big/k")).build()).getCount());
        // beyond what gRPC accepts at all (limit + 512 KiB): the transport refuses the message
        StatusRuntimeException huge = assertThrows(StatusRuntimeException.class, () -> smallStub().put(
                PutRequest.newBuilder().setKey(b("big/huge")).setValue(b("z".repeat(600 * 1024))).build()));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, huge.getStatus().getCode(), huge.toString());
        assertEquals(2, smallStub().range(RangeRequest.newBuilder().setKey(b("x")).build()).getHeader().getRevision());

        try (Client smallClient = Client.builder().endpoints(small.url()).build()) {
            assertJetcdError(Status.Code.INVALID_ARGUMENT, msg,
                    smallClient.getKVClient().put(bs("big/j"), bs(big)));
        }
    }

    /** etcd 3.5+ rejects sort enums it does not know; 3.4 ignored them (no sort). Keel follows 3.6. */
    @Test
    void invalidSortOption() throws Exception {
        put("is/a", "1");
        String version = MaintenanceGrpc.newBlockingStub(channel).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance()).getVersion();
        if (version.startsWith("3.4.")) {
            assertEquals(1, range(rq("is/a").setSortOrderValue(7)).getCount());
            return;
        }
        String msg = "etcdserver: invalid sort option";
        assertStatus(Status.Code.INVALID_ARGUMENT, msg, () -> stub().range(rq("is/a").setSortOrderValue(7).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, msg, () -> stub().range(rq("is/a").setSortTargetValue(9).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, msg, () -> stub().txn(TxnRequest.newBuilder()
                .addFailure(opGet(rq("is/a").setSortOrderValue(99))).build()));
        // the compare's empty key is found first
        assertStatus(Status.Code.INVALID_ARGUMENT, "etcdserver: key is not provided", () -> stub().txn(
                TxnRequest.newBuilder().addCompare(Compare.getDefaultInstance())
                        .addSuccess(opGet(rq("is/a").setSortOrderValue(99))).build()));
    }
}
