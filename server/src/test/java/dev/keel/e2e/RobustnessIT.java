package dev.keel.e2e;

import com.google.protobuf.ByteString;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.TxnRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * Issue 11: one bad request must never stop the cluster. Real server processes, driven through the JSON gateway
 * and gRPC as an adversarial client would.
 */
class RobustnessIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    static final String DUPLICATE = "etcdserver: duplicate key given in txn request";

    @TempDir
    static Path tmp;

    static ServerProcess server;
    static HttpClient http;
    static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        server = ServerProcess.start(tmp.resolve("one"));
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(TIMEOUT).build();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort()).usePlaintext().build();
    }

    @AfterAll
    static void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow();
            channel.awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
    }

    record Resp(int status, String body) {
    }

    static Resp send(ServerProcess s, String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(s.url() + path)).timeout(TIMEOUT);
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        return new Resp(r.statusCode(), r.body());
    }

    static Resp post(ServerProcess s, String path, String body) throws Exception {
        return send(s, "POST", path, body);
    }

    static void assertOk(Resp r) {
        assertEquals(200, r.status(), () -> "status; body " + r.body());
    }

    static void assertLive(ServerProcess s) throws Exception {
        for (String path : List.of("/livez", "/readyz", "/health", "/q/health/live")) {
            Resp r = send(s, "GET", path, null);
            assertEquals(200, r.status(), () -> path + ": " + r.body() + "\n" + s.logTail());
        }
    }

    static ByteString bs(String s) {
        return ByteString.copyFromUtf8(s);
    }

    // ---- item 1: the poison txn --------------------------------------------------------------------------

    /** The exact reproduction, then its variants (prefix on an empty key, nested), on one member. */
    @Test
    void poisonTxnIsRefusedAndTheMemberStaysUp() throws Exception {
        assertOk(post(server, "/v3/kv/put", "{\"key\":\"Yg==\",\"value\":\"MQ==\"}"));
        Resp r = post(server, "/v3/kv/txn", "{\"success\":[{\"request_delete_range\":{\"key\":\"YQ==\",\"range_end\":"
                + "\"AA==\"}},{\"request_put\":{\"key\":\"Yg==\",\"ignore_value\":true}}]}");
        assertEquals(400, r.status(), r.body());
        assertEquals("{\"code\":3,\"message\":\"" + DUPLICATE + "\"}", r.body());
        // WithPrefix on an empty key ("\0".."\0"), and the same inside a nested txn
        r = post(server, "/v3/kv/txn", "{\"success\":[{\"request_delete_range\":{\"key\":\"AA==\",\"range_end\":"
                + "\"AA==\"}},{\"request_put\":{\"key\":\"Yg==\",\"ignore_value\":true}}]}");
        assertEquals(400, r.status(), r.body());
        r = post(server, "/v3/kv/txn", "{\"success\":[{\"request_delete_range\":{\"key\":\"YQ==\",\"range_end\":"
                + "\"AA==\"}},{\"request_txn\":{\"success\":[{\"request_put\":{\"key\":\"Yg==\",\"ignore_lease\":true}}]}}]}");
        assertEquals(400, r.status(), r.body());
        assertTrue(r.body().contains(DUPLICATE), r.body());

        // the member still serves reads and writes, and "b" is untouched
        assertOk(post(server, "/v3/kv/put", "{\"key\":\"Yw==\",\"value\":\"Mg==\"}"));
        r = post(server, "/v3/kv/range", "{\"key\":\"Yg==\"}");
        assertOk(r);
        assertTrue(r.body().contains("\"value\":\"MQ==\""), r.body());
        assertLive(server);
    }

    /** The same txn over gRPC on three members: refused on the leader and on a follower; all keep serving. */
    @Test
    void poisonTxnOnThreeMembers() throws Exception {
        assumeFalse(ServerProcess.isReferenceEtcd(), "etcd itself panics on this txn (etcd-io/etcd#22445)");
        java.nio.file.Files.createDirectories(tmp.resolve("three"));
        List<ServerProcess> members = ServerProcess.startCluster(tmp.resolve("three"), 3);
        List<ManagedChannel> channels = new ArrayList<>();
        try {
            for (ServerProcess m : members) {
                channels.add(NettyChannelBuilder.forAddress("127.0.0.1", m.clientPort()).usePlaintext().build());
            }
            KVGrpc.KVBlockingStub first = KVGrpc.newBlockingStub(channels.get(0));
            first.withDeadlineAfter(20, TimeUnit.SECONDS)
                    .put(PutRequest.newBuilder().setKey(bs("b")).setValue(bs("1")).build());
            TxnRequest poison = TxnRequest.newBuilder()
                    .addSuccess(RequestOp.newBuilder().setRequestDeleteRange(DeleteRangeRequest.newBuilder()
                            .setKey(bs("a")).setRangeEnd(ByteString.copyFrom(new byte[]{0}))))
                    .addSuccess(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(bs("b"))
                            .setIgnoreValue(true)))
                    .build();
            for (ManagedChannel ch : channels) {
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                        () -> KVGrpc.newBlockingStub(ch).withDeadlineAfter(20, TimeUnit.SECONDS).txn(poison));
                assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
                assertEquals(DUPLICATE, e.getStatus().getDescription());
            }
            for (int i = 0; i < channels.size(); i++) {
                KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channels.get(i)).withDeadlineAfter(20, TimeUnit.SECONDS);
                kv.put(PutRequest.newBuilder().setKey(bs("after-" + i)).setValue(bs("v")).build());
            }
            for (int i = 0; i < channels.size(); i++) {
                KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channels.get(i)).withDeadlineAfter(20, TimeUnit.SECONDS);
                assertEquals(4, kv.range(RangeRequest.newBuilder().setKey(bs("a"))
                        .setRangeEnd(ByteString.copyFrom(new byte[]{0})).setCountOnly(true).build()).getCount());
                assertLive(members.get(i));
            }
        } finally {
            for (ManagedChannel ch : channels) {
                ch.shutdownNow();
            }
            for (ServerProcess m : members) {
                m.close();
            }
        }
    }

    /**
     * A member whose state machine stops on an environment failure (an injected I/O error while applying) fails its
     * liveness endpoints, so a supervisor restarts it, while a deterministic fault would only fail its request.
     */
    @Test
    void aMemberHaltedByAnIoErrorFailsLiveness() throws Exception {
        assumeFalse(ServerProcess.isReferenceEtcd(), "fault injection is Keel's");
        try (ServerProcess s = ServerProcess.startWithEnv(tmp.resolve("halt"),
                java.util.Map.of("KEEL_TEST_APPLY_IO_FAULT_KEY", "disk-fails-here"))) {
            assertOk(post(s, "/v3/kv/put", "{\"key\":\"b2s=\",\"value\":\"MQ==\"}"));
            assertLive(s);
            Resp r = post(s, "/v3/kv/put", "{\"key\":\"" + java.util.Base64.getEncoder()
                    .encodeToString("disk-fails-here".getBytes(StandardCharsets.UTF_8)) + "\",\"value\":\"MQ==\"}");
            assertNotEquals(200, r.status(), r.body());
            for (String path : List.of("/livez", "/readyz", "/health", "/q/health/live")) {
                Resp h = send(s, "GET", path, null);
                assertEquals(503, h.status(), () -> path + ": " + h.body());
            }
            assertTrue(send(s, "GET", "/livez?verbose", null).body()
                    .contains("[-]serializable_read failed: etcdserver: server stopped"));
            // then it exits non-zero (after 10 s of reporting it), so that a supervisor restarts it
            assertTrue(s.awaitExit(Duration.ofSeconds(60)), "the stopped member did not exit");
            assertEquals(1, s.exitValue(), s.logTail());
            assertTrue(s.logTail().contains("exiting with status 1"), s.logTail());
        }
    }

    // ---- item 2: deeply nested txns ----------------------------------------------------------------------

    /** A Txn nested {@code depth} deep (the outermost is depth 1) whose innermost success puts {@code key}. */
    static TxnRequest nested(int depth, String key) {
        TxnRequest t = TxnRequest.newBuilder().addSuccess(RequestOp.newBuilder()
                .setRequestPut(PutRequest.newBuilder().setKey(bs(key)).setValue(bs("v")))).build();
        for (int i = 1; i < depth; i++) {
            t = TxnRequest.newBuilder().addSuccess(RequestOp.newBuilder().setRequestTxn(t)).build();
        }
        return t;
    }

    /** Txn over gRPC, parsing the (deep) answer with a recursion limit above protobuf's default 100. */
    static dev.keel.proto.etcdserverpb.TxnResponse deepTxn(ManagedChannel ch, TxnRequest t) {
        io.grpc.MethodDescriptor<TxnRequest, dev.keel.proto.etcdserverpb.TxnResponse> m = KVGrpc.getTxnMethod()
                .toBuilder(io.grpc.protobuf.ProtoUtils.marshaller(TxnRequest.getDefaultInstance()),
                        io.grpc.protobuf.ProtoUtils.marshallerWithRecursionLimit(
                                dev.keel.proto.etcdserverpb.TxnResponse.getDefaultInstance(), 10_000))
                .build();
        return io.grpc.stub.ClientCalls.blockingUnaryCall(ch, m,
                io.grpc.CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), t);
    }

    static int depthOf(dev.keel.proto.etcdserverpb.TxnResponse r) {
        int d = 1;
        while (r.getResponsesCount() == 1 && r.getResponses(0).hasResponseTxn()) {
            r = r.getResponses(0).getResponseTxn();
            d++;
        }
        return d;
    }

    /**
     * etcd applies every depth its op budget allows (a nested Txn gets what its parent leaves of --max-txn-ops, 128:
     * 128 levels with a put at the bottom). Keel did not: depth 49 answered an error although applied, depth 50 was
     * committed and skipped by every member, 51 and deeper answered "Half-closed without a request".
     */
    @Test
    void deeplyNestedTxnsApplyAtEveryDepthEtcdAllows() throws Exception {
        KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
        for (int depth : new int[]{2, 48, 49, 50, 51, 64, 100, 127, 128}) {
            String key = "deep/" + depth;
            var resp = deepTxn(channel, nested(depth, key));
            assertTrue(resp.getSucceeded());
            assertEquals(depth, depthOf(resp), "depth " + depth);
            assertEquals(1, kv.range(RangeRequest.newBuilder().setKey(bs(key)).build()).getCount(), key);
        }
        // one level more exceeds etcd's op budget
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> deepTxn(channel, nested(129, "deep/129")));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertEquals("etcdserver: too many operations in txn request", e.getStatus().getDescription());

        // through the JSON gateway as well, up to what its JSON parser nests (255 JSON levels, 3 per Txn level)
        int depth = 80;
        StringBuilder json = new StringBuilder();
        json.append("{\"success\":[{\"request_txn\":".repeat(depth - 1));
        json.append("{\"success\":[{\"request_put\":{\"key\":\"").append(java.util.Base64.getEncoder()
                .encodeToString("deep/json".getBytes(StandardCharsets.UTF_8))).append("\",\"value\":\"dg==\"}}]}");
        json.append("}]}".repeat(depth - 1));
        Resp r = post(server, "/v3/kv/txn", json.toString());
        assertOk(r);
        assertEquals(1, kv.range(RangeRequest.newBuilder().setKey(bs("deep/json")).build()).getCount());

        // far deeper than any budget allows: refused at the edge, nothing committed, the member serves on
        StatusRuntimeException deep = assertThrows(StatusRuntimeException.class,
                () -> deepTxn(channel, nested(1000, "deep/1000")));
        assertNotEquals(Status.Code.OK, deep.getStatus().getCode());
        assertEquals(0, kv.range(RangeRequest.newBuilder().setKey(bs("deep/1000")).build()).getCount());
        kv.put(PutRequest.newBuilder().setKey(bs("deep/after")).setValue(bs("v")).build());
        assertLive(server);
    }

    /** Deep txns batched with other clients' writes into the same Raft entries fail none of them. */
    @Test
    void deepTxnsShareEntriesWithOtherWrites() throws Exception {
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
        try {
            List<java.util.concurrent.Future<?>> all = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                int n = i;
                all.add(pool.submit(() -> deepTxn(channel, nested(128, "mix/deep/" + n))));
                all.add(pool.submit(() -> KVGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
                        .put(PutRequest.newBuilder().setKey(bs("mix/put/" + n)).setValue(bs("v")).build())));
            }
            for (var f : all) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
        assertEquals(80, kv.range(RangeRequest.newBuilder().setKey(bs("mix/"))
                .setRangeEnd(bs("mix0")).setCountOnly(true).build()).getCount());
    }

    // ---- items 6 and 7: error codes and log amplification ---------------------------------------------------

    /** Raw bytes as a request of {@code method}, the response parsed as the method's. */
    static <R> io.grpc.MethodDescriptor<byte[], R> raw(io.grpc.MethodDescriptor<?, R> method) {
        io.grpc.MethodDescriptor.Marshaller<byte[]> bytes = RawBytes.MARSHALLER;
        return method.toBuilder(bytes, method.getResponseMarshaller()).build();
    }

    /**
     * A request that is not valid protobuf gets grpc-go's INTERNAL "grpc: error unmarshalling request: ..." (was
     * "Half-closed without a request"); a flood of them and of broken HTTP requests logs no stack trace.
     */
    @Test
    void malformedRequestsGetAnUnmarshallingErrorAndLogNoStackTraces() throws Exception {
        byte[][] bad = {
            {0x0a, (byte) 0xff}, // key: length runs past the end
            {0x0a, 0x05, 'a'}, // key: truncated
            {(byte) 0x80}, // truncated varint tag
            {0x0f}, // wire type 7 does not exist
        };
        for (int round = 0; round < 10; round++) {
            for (byte[] b : bad) {
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                        () -> io.grpc.stub.ClientCalls.blockingUnaryCall(channel, raw(KVGrpc.getPutMethod()),
                                io.grpc.CallOptions.DEFAULT.withDeadlineAfter(20, TimeUnit.SECONDS), b));
                assertEquals(Status.Code.INTERNAL, e.getStatus().getCode(), e.toString());
                assertTrue(e.getStatus().getDescription().startsWith("grpc: error unmarshalling request: "),
                        e.getStatus().getDescription());
            }
        }
        // broken HTTP: bad chunked encoding, garbage, connections dropped mid-request
        for (int i = 0; i < 20; i++) {
            try (java.net.Socket sock = new java.net.Socket("127.0.0.1", server.clientPort())) {
                sock.setSoTimeout(2000);
                var out = sock.getOutputStream();
                String head = "POST /v3/kv/put HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
                switch (i % 3) {
                    case 0 -> out.write((head + "Transfer-Encoding: chunked\r\n\r\nZZZZ\r\n{}\r\n")
                            .getBytes(StandardCharsets.US_ASCII));
                    case 1 -> out.write((head + "Content-Length: 100\r\n\r\n{\"key\":").getBytes(StandardCharsets.US_ASCII));
                    default -> out.write("\u0016\u0003\u0001garbage\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                }
                out.flush();
                if (i % 3 != 1) {
                    try {
                        sock.getInputStream().read(new byte[256]);
                    } catch (java.io.IOException ignored) {
                        // the server may close first
                    }
                }
            }
        }
        // the member is fine, and its log holds no stack trace from all this
        KVGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
                .put(PutRequest.newBuilder().setKey(bs("after-fuzz")).setValue(bs("v")).build());
        assertLive(server);
        Thread.sleep(500);
        String log = server.logTail();
        assertFalse(log.contains("\tat "), "stack trace in the log:\n" + log);
    }

    // ---- item 4: abandoned lock and campaign waiters -------------------------------------------------------

    static String keysUnder(String prefix) throws Exception {
        String b64 = java.util.Base64.getEncoder().encodeToString(prefix.getBytes(StandardCharsets.UTF_8));
        byte[] end = prefix.getBytes(StandardCharsets.UTF_8);
        end[end.length - 1]++;
        Resp r = post(server, "/v3/kv/range", "{\"key\":\"" + b64 + "\",\"range_end\":\""
                + java.util.Base64.getEncoder().encodeToString(end) + "\",\"count_only\":true}");
        assertOk(r);
        return r.body();
    }

    /** Sends a gateway request on a raw connection and drops the connection without waiting for the answer. */
    static void sendAndHangUp(String path, String json) throws Exception {
        try (java.net.Socket sock = new java.net.Socket("127.0.0.1", server.clientPort())) {
            byte[] body = json.getBytes(StandardCharsets.UTF_8);
            sock.getOutputStream().write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                    + "application/json\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            sock.getOutputStream().write(body);
            sock.getOutputStream().flush();
            Thread.sleep(1500); // the waiter key is written meanwhile
        }
    }

    /**
     * A /v3/lock/lock or /v3/election/campaign waiter whose HTTP client disconnects gives up and removes its key, as
     * etcd's gateway does (it cancels the gRPC call). Before, the key stayed, later took the lock and held it until
     * its lease expired.
     */
    @Test
    void abandonedGatewayWaitersRemoveTheirKeys() throws Exception {
        String lockName = java.util.Base64.getEncoder().encodeToString("abandon-lock".getBytes(StandardCharsets.UTF_8));
        Resp held = post(server, "/v3/lock/lock", "{\"name\":\"" + lockName + "\"}");
        assertOk(held);
        assertTrue(keysUnder("abandon-lock/").contains("\"count\":\"1\""), keysUnder("abandon-lock/"));
        sendAndHangUp("/v3/lock/lock", "{\"name\":\"" + lockName + "\"}");
        awaitCount("abandon-lock/", 1);

        String electionName = java.util.Base64.getEncoder().encodeToString("abandon-el".getBytes(StandardCharsets.UTF_8));
        assertOk(post(server, "/v3/election/campaign", "{\"name\":\"" + electionName + "\",\"value\":\"YQ==\"}"));
        sendAndHangUp("/v3/election/campaign", "{\"name\":\"" + electionName + "\",\"value\":\"Yg==\"}");
        awaitCount("abandon-el/", 1);
    }

    static void awaitCount(String prefix, int n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String body = keysUnder(prefix);
        while (!body.contains("\"count\":\"" + n + "\"") && System.nanoTime() < deadline) {
            Thread.sleep(200);
            body = keysUnder(prefix);
        }
        assertTrue(body.contains("\"count\":\"" + n + "\""), prefix + ": " + body);
    }
}
