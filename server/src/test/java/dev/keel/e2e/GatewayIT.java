package dev.keel.e2e;

import com.google.protobuf.ByteString;
import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.StatusRequest;
import dev.keel.proto.etcdserverpb.StatusResponse;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.kv.GetResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * etcd's JSON gateway ({@code POST /v3/...}) and HTTP endpoints ({@code /health}, {@code /livez}, {@code /readyz},
 * {@code /version}) on the client port, driven with plain HTTP as curl users and HTTP-only clients do. Expected
 * bodies are etcd 3.6's: the gateway is grpc-gateway v2 with protojson (proto field names, int64 as strings, bytes
 * as base64, defaults omitted) and errors are {@code {"code":N,"message":"..."}}.
 *
 * <p>With {@code -Dkeel.e2e.impl=etcd} the KV shapes are checked against a real etcd; the checks that are etcd
 * 3.6's own (error body without "error", /livez, /readyz, /version's storage field) are skipped there, since the
 * etcd on hand (Debian's) is 3.4, whose gateway is grpc-gateway v1.
 *
 * <p>Tests share one member and use their own key prefixes. Revisions are taken from a read just before, so each
 * test knows the revisions its writes get (the tests of one class run one after another).
 */
class GatewayIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @TempDir
    static Path tmp;

    static ServerProcess server;
    static HttpClient http;
    static Client jetcd;
    static ManagedChannel channel;
    static String clusterId;
    static String memberId;
    static String raftTerm;

    @BeforeAll
    static void start() throws Exception {
        server = ServerProcess.start(tmp.resolve("gateway"));
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(TIMEOUT).build();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort()).usePlaintext().build();
        StatusResponse st = MaintenanceGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance());
        clusterId = Long.toUnsignedString(st.getHeader().getClusterId());
        memberId = Long.toUnsignedString(st.getHeader().getMemberId());
        raftTerm = Long.toUnsignedString(st.getRaftTerm());
        jetcd = Client.builder().endpoints(server.url()).build();
    }

    @AfterAll
    static void stop() throws Exception {
        if (jetcd != null) {
            jetcd.close();
        }
        if (channel != null) {
            channel.shutdownNow();
            channel.awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    record Resp(int status, String body, HttpHeaders headers) {
        String header(String name) {
            return headers.firstValue(name).orElse(null);
        }

        JsonObject json() {
            return new JsonObject(body);
        }
    }

    static Resp send(ServerProcess s, String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(s.url() + path)).timeout(TIMEOUT);
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        return new Resp(r.statusCode(), r.body(), r.headers());
    }

    static Resp post(String path, String body) throws Exception {
        return send(server, "POST", path, body);
    }

    static Resp get(String path) throws Exception {
        return send(server, "GET", path, null);
    }

    /** A successful gateway answer: 200, JSON. */
    static String ok(Resp r) {
        assertEquals(200, r.status(), () -> "status; body " + r.body());
        assertEquals("application/json", r.header("Content-Type"), "content type");
        return r.body();
    }

    /** Base64 of the ISO-8859-1 bytes of s ("\u00ff" is the byte 0xFF), as the gateway carries bytes. */
    static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.ISO_8859_1));
    }

    /** The response header etcd's gateway writes for this member at revision rev. */
    static String hdr(long rev) {
        return "{\"cluster_id\":\"" + clusterId + "\",\"member_id\":\"" + memberId + "\",\"revision\":\"" + rev
                + "\",\"raft_term\":\"" + raftTerm + "\"}";
    }

    static String kv(String key, long create, long mod, long version, String value) {
        return "{\"key\":\"" + b64(key) + "\",\"create_revision\":\"" + create + "\",\"mod_revision\":\"" + mod
                + "\",\"version\":\"" + version + "\"" + (value.isEmpty() ? "" : ",\"value\":\"" + b64(value) + "\"")
                + "}";
    }

    /** The store's revision now, read through the gateway. */
    static long revision() throws Exception {
        JsonObject o = new JsonObject(ok(post("/v3/kv/range", "{\"key\":\"" + b64("gw/no-such-key") + "\"}")));
        return Long.parseLong(o.getJsonObject("header").getString("revision"));
    }

    /**
     * A gateway error: the HTTP status grpc-gateway maps the code to, JSON, and etcd 3.6's body
     * {"code":N,"message":"..."} (etcd 3.4 in reference mode adds "error": only code and message are compared).
     */
    static void assertError(Resp r, int httpStatus, int code, String message) {
        assertEquals(httpStatus, r.status(), () -> "status; body " + r.body());
        assertEquals("application/json", r.header("Content-Type"), "content type");
        if (ServerProcess.isReferenceEtcd()) {
            JsonObject o = r.json();
            assertEquals(code, o.getInteger("code"), r.body());
            assertEquals(message, o.getString("message"), r.body());
        } else {
            assertEquals("{\"code\":" + code + ",\"message\":\"" + message + "\"}", r.body());
        }
    }

    // ---- KV ----------------------------------------------------------------------------------------------

    @Test
    void putRangeDeleteRoundTrip() throws Exception {
        long rev = revision();
        Resp put = post("/v3/kv/put", "{\"key\":\"" + b64("gw/rt/a") + "\",\"value\":\"" + b64("v1") + "\"}");
        assertEquals("{\"header\":" + hdr(rev + 1) + "}", ok(put));
        assertEquals("application/grpc", put.header("Grpc-Metadata-Content-Type"));
        assertEquals("*", put.header("Access-Control-Allow-Origin"));

        // binary value, prev_kv on overwrite
        String binary = "\u00ff\u0000\u0080z";
        assertEquals("{\"header\":" + hdr(rev + 2) + ",\"prev_kv\":" + kv("gw/rt/a", rev + 1, rev + 1, 1, "v1") + "}",
                ok(post("/v3/kv/put", "{\"key\":\"" + b64("gw/rt/a") + "\",\"value\":\"" + b64(binary)
                        + "\",\"prev_kv\":true}")));

        assertEquals("{\"header\":" + hdr(rev + 2) + ",\"kvs\":[" + kv("gw/rt/a", rev + 1, rev + 2, 2, binary)
                        + "],\"count\":\"1\"}",
                ok(post("/v3/kv/range", "{\"key\":\"" + b64("gw/rt/a") + "\"}")));

        // an older revision, as a JSON number (int64 accepted as number or string)
        assertEquals("{\"header\":" + hdr(rev + 2) + ",\"kvs\":[" + kv("gw/rt/a", rev + 1, rev + 1, 1, "v1")
                        + "],\"count\":\"1\"}",
                ok(post("/v3/kv/range", "{\"key\":\"" + b64("gw/rt/a") + "\",\"revision\":" + (rev + 1) + "}")));

        // a key that does not exist: no kvs, count 0 omitted
        assertEquals("{\"header\":" + hdr(rev + 2) + "}",
                ok(post("/v3/kv/range", "{\"key\":\"" + b64("gw/rt/none") + "\"}")));

        assertEquals("{\"header\":" + hdr(rev + 3) + ",\"deleted\":\"1\",\"prev_kvs\":["
                        + kv("gw/rt/a", rev + 1, rev + 2, 2, binary) + "]}",
                ok(post("/v3/kv/deleterange", "{\"key\":\"" + b64("gw/rt/a") + "\",\"prev_kv\":true}")));
        assertEquals("{\"header\":" + hdr(rev + 3) + "}",
                ok(post("/v3/kv/range", "{\"key\":\"" + b64("gw/rt/a") + "\"}")));
        // deleting nothing: deleted 0 is omitted and the revision does not move
        assertEquals("{\"header\":" + hdr(rev + 3) + "}",
                ok(post("/v3/kv/deleterange", "{\"key\":\"" + b64("gw/rt/a") + "\"}")));
    }

    @Test
    void prefixRangesWithRangeEnd() throws Exception {
        long rev = revision();
        for (String k : List.of("gw/pfx/a", "gw/pfx/b", "gw/pfx/c", "gw/pfy")) {
            ok(post("/v3/kv/put", "{\"key\":\"" + b64(k) + "\",\"value\":\"" + b64("x") + "\"}"));
        }
        String prefix = "\"key\":\"" + b64("gw/pfx/") + "\",\"range_end\":\"" + b64("gw/pfx0") + "\"";
        assertEquals("{\"header\":" + hdr(rev + 4) + ",\"kvs\":[" + kv("gw/pfx/a", rev + 1, rev + 1, 1, "x") + ","
                        + kv("gw/pfx/b", rev + 2, rev + 2, 1, "x") + "," + kv("gw/pfx/c", rev + 3, rev + 3, 1, "x")
                        + "],\"count\":\"3\"}",
                ok(post("/v3/kv/range", "{" + prefix + "}")));

        // limit, sort by key descending (enum by name; numbers are accepted too), keys only: more and count
        String desc = ok(post("/v3/kv/range", "{" + prefix + ",\"limit\":\"2\",\"sort_order\":\"DESCEND\","
                + "\"sort_target\":0,\"keys_only\":true}"));
        assertEquals("{\"header\":" + hdr(rev + 4) + ",\"kvs\":[" + kv("gw/pfx/c", rev + 3, rev + 3, 1, "") + ","
                + kv("gw/pfx/b", rev + 2, rev + 2, 1, "") + "],\"more\":true,\"count\":\"3\"}", desc);

        // count_only; the JSON names (rangeEnd, countOnly) are accepted as protojson does; unknown fields ignored
        assertEquals("{\"header\":" + hdr(rev + 4) + ",\"count\":\"3\"}",
                ok(post("/v3/kv/range", "{\"key\":\"" + b64("gw/pfx/") + "\",\"rangeEnd\":\"" + b64("gw/pfx0")
                        + "\",\"countOnly\":true,\"no_such_field\":{\"x\":[1,2]}}")));

        assertEquals("{\"header\":" + hdr(rev + 5) + ",\"deleted\":\"3\"}",
                ok(post("/v3/kv/deleterange", "{" + prefix + "}")));
        assertEquals("{\"header\":" + hdr(rev + 5) + ",\"kvs\":[" + kv("gw/pfy", rev + 4, rev + 4, 1, "x")
                        + "],\"count\":\"1\"}",
                ok(post("/v3/kv/range", "{\"key\":\"" + b64("gw/pf") + "\",\"range_end\":\"" + b64("gw/pg") + "\"}")));
    }

    @Test
    void txn() throws Exception {
        long rev = revision();
        ok(post("/v3/kv/put", "{\"key\":\"" + b64("gw/txn/a") + "\",\"value\":\"" + b64("1") + "\"}"));

        // compare holds: success branch, a put and a range in it; enums by name, revision as a string
        String txn = "{\"compare\":[{\"result\":\"EQUAL\",\"target\":\"MOD\",\"key\":\"" + b64("gw/txn/a")
                + "\",\"mod_revision\":\"" + (rev + 1) + "\"}],"
                + "\"success\":[{\"request_put\":{\"key\":\"" + b64("gw/txn/b") + "\",\"value\":\"" + b64("2")
                + "\"}},{\"request_range\":{\"key\":\"" + b64("gw/txn/a") + "\"}}],"
                + "\"failure\":[{\"request_delete_range\":{\"key\":\"" + b64("gw/txn/a") + "\"}}]}";
        assertEquals("{\"header\":" + hdr(rev + 2) + ",\"succeeded\":true,\"responses\":["
                        + "{\"response_put\":{\"header\":{\"revision\":\"" + (rev + 2) + "\"}}},"
                        + "{\"response_range\":{\"header\":{\"revision\":\"" + (rev + 2) + "\"},\"kvs\":["
                        + kv("gw/txn/a", rev + 1, rev + 1, 1, "1") + "],\"count\":\"1\"}}]}",
                ok(post("/v3/kv/txn", txn)));

        // the same compare fails now (enums by number): failure branch; succeeded=false is omitted
        String failing = "{\"compare\":[{\"result\":0,\"target\":1,\"key\":\"" + b64("gw/txn/b")
                + "\",\"create_revision\":\"0\"}],"
                + "\"failure\":[{\"request_range\":{\"key\":\"" + b64("gw/txn/b") + "\",\"count_only\":true}}]}";
        assertEquals("{\"header\":" + hdr(rev + 2) + ",\"responses\":[{\"response_range\":{\"header\":{\"revision\":\""
                + (rev + 2) + "\"},\"count\":\"1\"}}]}", ok(post("/v3/kv/txn", failing)));

        // etcd's own e2e case: unknown field names leave an empty operation, which etcd rejects
        String malformed = "{\"compare\":[{\"result\":0,\"target\":1,\"key\":\"Zm9v\",\"TargetUnion\":null}],"
                + "\"success\":[{\"Request\":{\"RequestPut\":{\"key\":\"Zm9v\",\"value\":\"YmFy\"}}}]}";
        assertError(post("/v3/kv/txn", malformed), 400, 3, "etcdserver: key not found");
        assertEquals(rev + 2, revision());
    }

    @Test
    void compaction() throws Exception {
        long rev = revision();
        ok(post("/v3/kv/put", "{\"key\":\"" + b64("gw/compact") + "\",\"value\":\"" + b64("1") + "\"}"));
        ok(post("/v3/kv/put", "{\"key\":\"" + b64("gw/compact") + "\",\"value\":\"" + b64("2") + "\"}"));

        assertError(post("/v3/kv/compaction", "{\"revision\":\"" + (rev + 1000) + "\"}"), 400, 11,
                "etcdserver: mvcc: required revision is a future revision");

        assertEquals("{\"header\":" + hdr(rev + 2) + "}",
                ok(post("/v3/kv/compaction", "{\"revision\":\"" + (rev + 2) + "\",\"physical\":true}")));
        assertError(post("/v3/kv/range", "{\"key\":\"" + b64("gw/compact") + "\",\"revision\":\"" + (rev + 1) + "\"}"),
                400, 11, "etcdserver: mvcc: required revision has been compacted");
        assertError(post("/v3/kv/compaction", "{\"revision\":\"" + (rev + 1) + "\"}"), 400, 11,
                "etcdserver: mvcc: required revision has been compacted");
        assertEquals("{\"header\":" + hdr(rev + 2) + ",\"kvs\":[" + kv("gw/compact", rev + 1, rev + 2, 2, "2")
                        + "],\"count\":\"1\"}",
                ok(post("/v3/kv/range", "{\"key\":\"" + b64("gw/compact") + "\",\"revision\":\"" + (rev + 2) + "\"}")));
    }

    // ---- errors --------------------------------------------------------------------------------------------

    @Test
    void emptyKeyIsInvalidArgument() throws Exception {
        assertError(post("/v3/kv/put", "{\"key\":\"\",\"value\":\"" + b64("v") + "\"}"), 400, 3,
                "etcdserver: key is not provided");
        assertError(post("/v3/kv/range", "{}"), 400, 3, "etcdserver: key is not provided");
        // an empty body is the empty request, as in grpc-gateway
        assertError(post("/v3/kv/deleterange", ""), 400, 3, "etcdserver: key is not provided");
        // null is the default value
        assertError(post("/v3/kv/range", "{\"key\":null}"), 400, 3, "etcdserver: key is not provided");
    }

    @Test
    void bodiesThatAreNotTheRequestAreInvalidArgument() throws Exception {
        long rev = revision();
        // cut short: Go's decoder says "unexpected EOF"
        assertError(post("/v3/kv/put", "{\"key\":"), 400, 3, "unexpected EOF");
        for (String bad : List.of("[1]", "{\"key\":\"Zm9v!\"}", "{\"key\":5}", "{\"limit\":\"ten\"}", "not json",
                "{\"key\":\"Zm9v\",\"limit\":1.5}")) {
            Resp r = post("/v3/kv/range", bad);
            assertEquals(400, r.status(), () -> bad + " -> " + r.body());
            assertEquals("application/json", r.header("Content-Type"));
            JsonObject o = r.json();
            assertEquals(3, o.getInteger("code"), bad + " -> " + r.body());
            assertFalse(o.getString("message").isEmpty(), r.body());
            assertFalse(o.getString("message").contains("Exception"), r.body());
        }
        assertEquals(rev, revision(), "nothing was written");
    }

    @Test
    void requestSizeLimits() throws Exception {
        // over --max-request-bytes (1.5 MiB) but within gRPC's limit (+512 KiB): etcd's own error
        String big = "x".repeat(1600 * 1024);
        assertError(post("/v3/kv/put", "{\"key\":\"" + b64("gw/big") + "\",\"value\":\"" + b64(big) + "\"}"),
                400, 3, "etcdserver: request is too large");
        // over gRPC's receive limit: what grpc-go says, ResourceExhausted
        String huge = "x".repeat(2200 * 1024);
        int size = PutRequest.newBuilder().setKey(ByteString.copyFromUtf8("gw/big"))
                .setValue(ByteString.copyFromUtf8(huge)).build().getSerializedSize();
        assertError(post("/v3/kv/put", "{\"key\":\"" + b64("gw/big") + "\",\"value\":\"" + b64(huge) + "\"}"),
                429, 8, "grpc: received message larger than max (" + size + " vs. 2097152)");
    }

    @Test
    void routingErrors() throws Exception {
        assumeFalse(ServerProcess.isReferenceEtcd(), "grpc-gateway v2 (etcd 3.6) routing");
        // a gateway path with another method: grpc-gateway's 405 as Unimplemented
        assertError(get("/v3/kv/range"), 501, 12, "Method Not Allowed");
        assertError(send(server, "PUT", "/v3/kv/put", "{}"), 501, 12, "Method Not Allowed");
        assertError(post("/v3/kv/nothing", "{}"), 404, 5, "Not Found");
        // the auth paths are served (auth off: status only, a fresh store is at auth revision 1)
        String status = ok(post("/v3/auth/status", "{}"));
        assertTrue(status.contains("\"authRevision\":\"1\"") && !status.contains("\"enabled\""), status);
    }

    @Test
    void maintenanceHashKvAlarmAndDefragment() throws Exception {
        assumeFalse(ServerProcess.isReferenceEtcd(), "etcd 3.4's gateway differs for maintenance paths");
        ok(post("/v3/kv/put", "{\"key\":\"" + b64("gw/hash") + "\",\"value\":\"" + b64("v") + "\"}"));
        long rev = revision();
        String h1 = ok(post("/v3/maintenance/hashkv", "{\"revision\":\"" + rev + "\"}"));
        String h2 = ok(post("/v3/maintenance/hashkv", "{\"revision\":\"" + rev + "\"}"));
        assertTrue(h1.contains("\"hash\":"), h1);
        assertEquals(h1.substring(h1.indexOf("\"hash\"")), h2.substring(h2.indexOf("\"hash\"")),
                "HashKV at a fixed revision is stable");
        assertEquals("{\"header\":" + hdr(rev) + "}", ok(post("/v3/maintenance/alarm", "{\"action\":\"GET\"}")));
        assertEquals("{}", ok(post("/v3/maintenance/defragment", "{}")), "etcd answers Defragment with an empty response");
    }

    @Test
    void snapshotStreamsResultLines() throws Exception {
        assumeFalse(ServerProcess.isReferenceEtcd(), "Keel's snapshot format");
        String body = ok(post("/v3/maintenance/snapshot", "{}"));
        String[] lines = body.split("\n");
        assertTrue(lines.length >= 2, body);
        for (String l : lines) {
            assertTrue(l.startsWith("{\"result\":{\"header\":"), l);
        }
        // etcd's format: a bbolt file, whose first page is a meta page carrying bbolt's magic 0xED0CDAED
        String first = lines[0].replaceAll(".*\"blob\":\"([^\"]*)\".*", "$1");
        byte[] page = java.util.Base64.getDecoder().decode(first);
        assertTrue(page.length >= 20 && java.nio.ByteBuffer.wrap(page, 16, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .getInt() == 0xED0CDAED, "the stream starts with a bbolt meta page: " + lines[0]);
        assertFalse(lines[lines.length - 1].contains("remaining_bytes"), "the last message has 0 remaining");
    }

    @Test
    void leaseGrantAndTimeToLive() throws Exception {
        String granted = ok(post("/v3/lease/grant", "{\"TTL\":\"30\",\"ID\":\"4242\"}"));
        assertTrue(granted.endsWith(",\"ID\":\"4242\",\"TTL\":\"30\"}"), granted);
        String ttl = ok(post("/v3/lease/timetolive", "{\"ID\":\"4242\"}"));
        assertTrue(ttl.contains("\"ID\":\"4242\"") && ttl.contains("\"grantedTTL\":\"30\""), ttl);
        assertError(post("/v3/lease/grant", "{\"TTL\":\"30\",\"ID\":\"4242\"}"), 400, 9,
                "etcdserver: lease already exists");
        ok(post("/v3/lease/revoke", "{\"ID\":\"4242\"}"));
        assertError(post("/v3/lease/revoke", "{\"ID\":\"4242\"}"), 404, 5,
                "etcdserver: requested lease not found");
    }

    @Test
    void v3betaIsServedAsV3() throws Exception {
        long rev = revision();
        assertEquals("{\"header\":" + hdr(rev) + "}",
                ok(post("/v3beta/kv/range", "{\"key\":\"" + b64("gw/no-such-key") + "\",\"count_only\":true}")));
    }

    @Test
    void corsPreflight() throws Exception {
        Resp r = send(server, "OPTIONS", "/v3/kv/range", null);
        assertEquals(200, r.status());
        assertEquals("", r.body());
        assertEquals("*", r.header("Access-Control-Allow-Origin"));
        assertEquals("POST, GET, OPTIONS, PUT, DELETE", r.header("Access-Control-Allow-Methods"));
        assertEquals("accept, content-type, authorization", r.header("Access-Control-Allow-Headers"));
    }

    // ---- Cluster, Maintenance -----------------------------------------------------------------------------

    @Test
    void memberList() throws Exception {
        // MemberList's header carries no revision
        assertEquals("{\"header\":{\"cluster_id\":\"" + clusterId + "\",\"member_id\":\"" + memberId
                        + "\",\"raft_term\":\"" + raftTerm + "\"},\"members\":[{\"ID\":\"" + memberId
                        + "\",\"name\":\"m1\",\"peerURLs\":[\"" + server.peerUrl() + "\"],\"clientURLs\":[\""
                        + server.url() + "\"]}]}",
                ok(post("/v3/cluster/member/list", "{}")));
    }

    @Test
    void status() throws Exception {
        long rev = revision();
        JsonObject o = new JsonObject(ok(post("/v3/maintenance/status", "")));
        assertEquals(new JsonObject(hdr(rev)), o.getJsonObject("header"));
        assertEquals(memberId, o.getString("leader"));
        assertEquals(raftTerm, o.getString("raftTerm"));
        for (String f : List.of("dbSize", "dbSizeInUse", "raftIndex", "raftAppliedIndex")) {
            assertTrue(Long.parseLong(o.getString(f)) > 0, f + " is a positive int64 string: " + o);
        }
        assertFalse(o.containsKey("isLearner"), "false is omitted");
        assertFalse(o.containsKey("errors"), "an empty list is omitted");
        if (!ServerProcess.isReferenceEtcd()) {
            assertEquals("3.6.0", o.getString("version"));
            assertEquals("3.6.0", o.getString("storageVersion"));
            assertEquals(String.valueOf(2L * 1024 * 1024 * 1024), o.getString("dbSizeQuota"));
            assertEquals(Set.of("header", "version", "dbSize", "leader", "raftIndex", "raftTerm", "raftAppliedIndex",
                    "dbSizeInUse", "storageVersion", "dbSizeQuota", "downgradeInfo"), o.fieldNames());
        }
    }

    // ---- gRPC on the same port -------------------------------------------------------------------------------

    @Test
    void grpcClientsStillWorkOnTheSamePort() throws Exception {
        ByteSequence key = ByteSequence.from("gw/grpc/a", StandardCharsets.UTF_8);
        long rev = jetcd.getKVClient().put(key, ByteSequence.from("from-grpc", StandardCharsets.UTF_8))
                .get(20, TimeUnit.SECONDS).getHeader().getRevision();
        assertEquals("{\"header\":" + hdr(rev) + ",\"kvs\":[" + kv("gw/grpc/a", rev, rev, 1, "from-grpc")
                + "],\"count\":\"1\"}", ok(post("/v3/kv/range", "{\"key\":\"" + b64("gw/grpc/a") + "\"}")));

        ok(post("/v3/kv/put", "{\"key\":\"" + b64("gw/grpc/a") + "\",\"value\":\"" + b64("from-http") + "\"}"));
        GetResponse g = jetcd.getKVClient().get(key).get(20, TimeUnit.SECONDS);
        assertEquals(1, g.getKvs().size());
        assertEquals("from-http", g.getKvs().get(0).getValue().toString(StandardCharsets.UTF_8));
        assertEquals(rev + 1, g.getKvs().get(0).getModRevision());
        assertEquals(2, g.getKvs().get(0).getVersion());
    }

    // ---- /health, /livez, /readyz, /version ------------------------------------------------------------------

    @Test
    void health() throws Exception {
        assumeFalse(ServerProcess.isReferenceEtcd(), "etcd 3.6's /health has a reason");
        for (String path : List.of("/health", "/health?serializable=true", "/health?serializable=false")) {
            Resp r = get(path);
            assertEquals(200, r.status(), path);
            assertEquals("{\"health\":\"true\",\"reason\":\"\"}", r.body(), path);
            assertEquals("text/plain; charset=utf-8", r.header("Content-Type"), path);
        }
        Resp post = post("/health", "");
        assertEquals(405, post.status());
        assertEquals("Method Not Allowed\n", post.body());
        assertEquals("GET", post.header("Allow"));
    }

    @Test
    void livezAndReadyz() throws Exception {
        assumeFalse(ServerProcess.isReferenceEtcd(), "etcd 3.6 endpoints");
        for (String path : List.of("/livez", "/readyz", "/livez/serializable_read", "/readyz/linearizable_read",
                "/readyz/serializable_read", "/readyz/data_corruption", "/readyz/non_learner")) {
            Resp r = get(path);
            assertEquals(200, r.status(), path);
            assertEquals("ok\n", r.body(), path);
            assertEquals("text/plain; charset=utf-8", r.header("Content-Type"), path);
            assertEquals("nosniff", r.header("X-Content-Type-Options"), path);
        }
        assertEquals("[+]serializable_read ok\nok\n", get("/livez?verbose").body());
        assertEquals("[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\n[+]non_learner ok\nok\n",
                get("/readyz?verbose").body());
        assertEquals("[+]data_corruption ok\n[+]serializable_read ok\n[+]non_learner ok\nok\n",
                get("/readyz?verbose&exclude=linearizable_read&exclude=no_such_check").body());
        assertEquals("[+]linearizable_read ok\nok\n", get("/readyz/linearizable_read?verbose").body());
        assertEquals(405, send(server, "DELETE", "/readyz", null).status());
    }

    @Test
    void version() throws Exception {
        assumeFalse(ServerProcess.isReferenceEtcd(), "etcd 3.6 reports storage");
        Resp r = get("/version");
        assertEquals(200, r.status());
        assertEquals("{\"etcdserver\":\"3.6.0\",\"etcdcluster\":\"3.6.0\",\"storage\":\"3.6.0\"}", r.body());
        assertEquals("application/json", r.header("Content-Type"));
        assertEquals(405, post("/version", "").status());
    }

    /**
     * A member without quorum (its only peer never starts): /health says so, a serializable health check and
     * /livez pass, /readyz fails its linearizable read, and a write through the gateway is Unavailable (503).
     */
    @Test
    void withoutALeader() throws Exception {
        assumeFalse(ServerProcess.isReferenceEtcd(), "etcd 3.6 endpoints");
        try (ServerProcess lonely = ServerProcess.startWithoutQuorum(tmp.resolve("no-quorum"))) {
            Resp h = send(lonely, "GET", "/health", null);
            assertEquals(503, h.status());
            assertEquals("{\"health\":\"false\",\"reason\":\"RAFT NO LEADER\"}\n", h.body());
            assertEquals("text/plain; charset=utf-8", h.header("Content-Type"));

            Resp hs = send(lonely, "GET", "/health?serializable=true", null);
            assertEquals(200, hs.status());
            assertEquals("{\"health\":\"true\",\"reason\":\"\"}", hs.body());

            // SmallRye Health: alive (local reads work), not ready (no leader)
            Resp qlive = send(lonely, "GET", "/q/health/live", null);
            assertEquals(200, qlive.status(), qlive.body());
            assertTrue(qlive.body().replaceAll("\\s+", "").startsWith("{\"status\":\"UP\""), qlive.body());
            Resp qready = send(lonely, "GET", "/q/health/ready", null);
            assertEquals(503, qready.status(), qready.body());
            String qr = qready.body().replaceAll("\\s+", "");
            assertTrue(qr.startsWith("{\"status\":\"DOWN\"") && qr.contains("\"leader\":false")
                    && qr.contains("etcdserver:noleader"), qready.body());

            Resp live = send(lonely, "GET", "/livez", null);
            assertEquals(200, live.status());
            assertEquals("ok\n", live.body());

            // both wait for the request timeout: run them together
            CompletableFuture<Resp> ready = CompletableFuture.supplyAsync(() -> unchecked(
                    () -> send(lonely, "GET", "/readyz", null)));
            Resp put = send(lonely, "POST", "/v3/kv/put", "{\"key\":\"" + b64("k") + "\"}");
            assertError(put, 503, 14, "etcdserver: no leader");
            Resp r = ready.get(30, TimeUnit.SECONDS);
            assertEquals(503, r.status());
            assertEquals("[+]data_corruption ok\n[+]serializable_read ok\n"
                    + "[-]linearizable_read failed: etcdserver: no leader\n[+]non_learner ok\n\n", r.body());
        }
    }

    interface IoCall<T> {
        T call() throws Exception;
    }

    static <T> T unchecked(IoCall<T> c) {
        try {
            return c.call();
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }
}
