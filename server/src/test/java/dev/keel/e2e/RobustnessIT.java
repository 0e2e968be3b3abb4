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
        }
    }
}
