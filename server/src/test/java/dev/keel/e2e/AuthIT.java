package dev.keel.e2e;

import com.google.protobuf.ByteString;
import dev.keel.proto.etcdserverpb.AlarmRequest;
import dev.keel.proto.etcdserverpb.AuthGrpc;
import dev.keel.proto.etcdserverpb.AuthRoleGetRequest;
import dev.keel.proto.etcdserverpb.AuthUserChangePasswordRequest;
import dev.keel.proto.etcdserverpb.AuthUserGetRequest;
import dev.keel.proto.etcdserverpb.AuthUserListRequest;
import dev.keel.proto.etcdserverpb.AuthenticateRequest;
import dev.keel.proto.etcdserverpb.ClusterGrpc;
import dev.keel.proto.etcdserverpb.CompactionRequest;
import dev.keel.proto.etcdserverpb.Compare;
import dev.keel.proto.etcdserverpb.DefragmentRequest;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.HashKVRequest;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.LeaseGrantRequest;
import dev.keel.proto.etcdserverpb.LeaseGrpc;
import dev.keel.proto.etcdserverpb.LeaseRevokeRequest;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveRequest;
import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.MemberListRequest;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.StatusRequest;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.etcdserverpb.WatchCreateRequest;
import dev.keel.proto.etcdserverpb.WatchGrpc;
import dev.keel.proto.etcdserverpb.WatchRequest;
import dev.keel.proto.etcdserverpb.WatchResponse;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Auth end to end. etcdctl 3.4 sets it up ({@code user add}, {@code role add}, {@code role grant-permission},
 * {@code user grant-role}, {@code auth enable}, then {@code --user}), then every service method is called over raw
 * gRPC as users with no permission, READ and WRITE on the right range, READ and WRITE on another range, and root,
 * and each answer (code and text) must be etcd's. Runs against real etcd with {@code -Dkeel.e2e.impl=etcd}.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AuthIT {

    static final String DENIED = "etcdserver: permission denied";
    static final String NO_USER = "etcdserver: user name is empty";

    @TempDir
    static Path tmp;
    static ServerProcess server;
    static Etcdctl ctl;
    static ManagedChannel channel;
    /** user → token */
    static final Map<String, String> tokens = new LinkedHashMap<>();
    /** the users of the matrix, in column order */
    static final String[] USERS = {"nobody", "reader", "writer", "otherreader", "otherwriter", "root"};

    @BeforeAll
    static void start() throws Exception {
        server = ServerProcess.start(tmp.resolve("auth"), ServerProcess.isReferenceEtcd() ? "" : "--bcrypt-cost=4");
        ctl = new Etcdctl(server.endpoint());
        // set up with etcdctl, as an operator would
        assertEquals("User root created\n", ctl.ok("user", "add", "root:rootpw"));
        for (String u : USERS) {
            if (!u.equals("root")) {
                assertEquals("User " + u + " created\n", ctl.ok("user", "add", u + ":" + u + "pw"));
            }
        }
        assertEquals("User rw created\n", ctl.ok("user", "add", "rw:rwpw"));
        for (String[] r : new String[][]{{"reader", "read", "a/"}, {"writer", "write", "a/"},
                {"otherreader", "read", "b/"}, {"otherwriter", "write", "b/"}, {"rw", "readwrite", "a/"}}) {
            assertEquals("Role " + r[0] + "-role created\n", ctl.ok("role", "add", r[0] + "-role"));
            assertEquals("Role " + r[0] + "-role updated\n",
                    ctl.ok("role", "grant-permission", r[0] + "-role", r[1], r[2], "--prefix=true"));
            assertEquals("Role " + r[0] + "-role is granted to user " + r[0] + "\n",
                    ctl.ok("user", "grant-role", r[0], r[0] + "-role"));
        }
        assertEquals("Role root is granted to user root\n", ctl.ok("user", "grant-role", "root", "root"));
        assertEquals("Authentication Enabled\n", ctl.ok("auth", "enable"));

        // etcdctl without a user is refused; with one it works
        Etcdctl.Result anon = ctl.run("put", "a/x", "1");
        assertTrue(anon.exitCode() != 0 && anon.stderr().contains("Error: " + NO_USER), anon.toString());
        assertEquals("OK\n", ctl.ok("--user", "rw:rwpw", "put", "a/x", "1"));
        assertEquals("a/x\n1\n", ctl.ok("--user", "reader:readerpw", "get", "a/x"));
        Etcdctl.Result denied = ctl.run("--user", "reader:readerpw", "put", "a/x", "2");
        assertTrue(denied.exitCode() != 0 && denied.stderr().contains("Error: " + DENIED), denied.toString());
        Etcdctl.Result badPw = ctl.run("--user", "reader:nope", "get", "a/x");
        assertTrue(badPw.stderr().contains("Error: etcdserver: authentication failed, invalid user ID or password"),
                badPw.toString());
        assertEquals("Role reader-role\nKV Read:\n\t[a/, a0) (prefix a/)\nKV Write:\n",
                ctl.ok("--user", "root:rootpw", "role", "get", "reader-role"));
        assertEquals("User: reader\nRoles: reader-role\n", ctl.ok("--user", "reader:readerpw", "user", "get", "reader"));

        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort()).usePlaintext().build();
        for (String u : USERS) {
            tokens.put(u, AuthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .authenticate(AuthenticateRequest.newBuilder().setName(u).setPassword(u + "pw").build())
                    .getToken());
        }
        tokens.put("rw", AuthGrpc.newBlockingStub(channel)
                .authenticate(AuthenticateRequest.newBuilder().setName("rw").setPassword("rwpw").build()).getToken());
    }

    @AfterAll
    static void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (server != null) {
            server.close();
        }
    }

    static <S extends AbstractStub<S>> S as(S stub, String user) {
        S s = stub.withDeadlineAfter(10, TimeUnit.SECONDS);
        if (user == null) {
            return s;
        }
        Metadata md = new Metadata();
        md.put(Metadata.Key.of("token", Metadata.ASCII_STRING_MARSHALLER), tokens.get(user));
        return s.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
    }

    static ByteString bs(String s) {
        return ByteString.copyFromUtf8(s);
    }

    /** The etcd 3.6 answer (Keel's), or etcd 3.4's where it differs, when the suite runs against etcd 3.4. */
    static String v36(String etcd36, String etcd34) {
        return ServerProcess.isReferenceEtcd() ? etcd34 : etcd36;
    }

    /** "OK" or "<code>: <text>" of one call. */
    static String outcome(Runnable call) {
        try {
            call.run();
            return "OK";
        } catch (StatusRuntimeException e) {
            return e.getStatus().getCode() + ": " + e.getStatus().getDescription();
        }
    }

    static final String PD = "PERMISSION_DENIED: " + DENIED;
    static final String EMPTY = "INVALID_ARGUMENT: " + NO_USER;

    /** Runs {@code call} as each user of {@link #USERS} and compares with the expected outcomes, in order. */
    static void matrix(String what, Function<String, Runnable> call, String... expected) {
        Map<String, String> want = new LinkedHashMap<>();
        Map<String, String> got = new LinkedHashMap<>();
        for (int i = 0; i < USERS.length; i++) {
            want.put(USERS[i], expected[i]);
            got.put(USERS[i], outcome(call.apply(USERS[i])));
        }
        assertEquals(want, got, what);
    }

    @Test
    @Order(1)
    void kvMatrix() {
        matrix("Range a/x", u -> () -> as(KVGrpc.newBlockingStub(channel), u)
                        .range(RangeRequest.newBuilder().setKey(bs("a/x")).build()),
                PD, "OK", PD, PD, PD, "OK");
        matrix("Range prefix a/", u -> () -> as(KVGrpc.newBlockingStub(channel), u)
                        .range(RangeRequest.newBuilder().setKey(bs("a/")).setRangeEnd(bs("a0")).build()),
                PD, "OK", PD, PD, PD, "OK");
        matrix("Range wider than the grant", u -> () -> as(KVGrpc.newBlockingStub(channel), u)
                        .range(RangeRequest.newBuilder().setKey(bs("a/")).setRangeEnd(bs("b")).build()),
                PD, PD, PD, PD, PD, "OK");
        matrix("Put a/y", u -> () -> as(KVGrpc.newBlockingStub(channel), u)
                        .put(PutRequest.newBuilder().setKey(bs("a/y")).setValue(bs("v")).build()),
                PD, PD, "OK", PD, PD, "OK");
        matrix("Put a/y with prev_kv (needs read too)", u -> () -> as(KVGrpc.newBlockingStub(channel), u)
                        .put(PutRequest.newBuilder().setKey(bs("a/y")).setValue(bs("v")).setPrevKv(true).build()),
                PD, PD, PD, PD, PD, "OK");
        matrix("DeleteRange prefix a/y", u -> () -> as(KVGrpc.newBlockingStub(channel), u)
                        .deleteRange(DeleteRangeRequest.newBuilder().setKey(bs("a/y")).setRangeEnd(bs("a/z")).build()),
                PD, PD, "OK", PD, PD, "OK");
        assertEquals(EMPTY, outcome(() -> as(KVGrpc.newBlockingStub(channel), null)
                .range(RangeRequest.newBuilder().setKey(bs("a/x")).build())), "no token");
        assertEquals(EMPTY, outcome(() -> as(KVGrpc.newBlockingStub(channel), null)
                .put(PutRequest.newBuilder().setKey(bs("a/x")).build())), "no token");
    }

    @Test
    @Order(2)
    void txnChecksEveryCompareAndOperation() {
        // compare on a key only readable elsewhere: even the read-write user of a/ is refused
        Function<String, Runnable> compareOnForbidden = u -> () -> as(KVGrpc.newBlockingStub(channel), u)
                .txn(TxnRequest.newBuilder()
                        .addCompare(Compare.newBuilder().setKey(bs("b/secret")).setTarget(Compare.CompareTarget.VERSION)
                                .setResult(Compare.CompareResult.EQUAL).setVersion(0))
                        .addSuccess(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(bs("a/t"))))
                        .build());
        matrix("Txn compare b/secret, put a/t", compareOnForbidden, PD, PD, PD, PD, PD, "OK");
        assertEquals(PD, outcome(compareOnForbidden.apply("rw")));
        // compare and put inside a/: read-write on a/ is enough, read or write alone is not
        Function<String, Runnable> inside = u -> () -> as(KVGrpc.newBlockingStub(channel), u)
                .txn(TxnRequest.newBuilder()
                        .addCompare(Compare.newBuilder().setKey(bs("a/t")).setTarget(Compare.CompareTarget.VERSION)
                                .setResult(Compare.CompareResult.GREATER).setVersion(-1))
                        .addSuccess(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(bs("a/t"))))
                        .build());
        matrix("Txn compare a/t, put a/t", inside, PD, PD, PD, PD, PD, "OK");
        assertEquals("OK", outcome(inside.apply("rw")));
        // a nested txn's failure branch writing outside a/ is checked too, although it would not run
        Runnable nested = () -> as(KVGrpc.newBlockingStub(channel), "rw")
                .txn(TxnRequest.newBuilder()
                        .addSuccess(RequestOp.newBuilder().setRequestTxn(TxnRequest.newBuilder()
                                .addFailure(RequestOp.newBuilder().setRequestDeleteRange(
                                        DeleteRangeRequest.newBuilder().setKey(bs("b/x"))))))
                        .build());
        // etcd 3.6 checks nested txns (3.4 did not look inside them)
        assertEquals(ServerProcess.isReferenceEtcd() ? "OK" : PD, outcome(nested));
    }

    @Test
    @Order(3)
    void watchOnAForbiddenPrefixIsCancelled() throws Exception {
        // the cancel reason is the text of etcd's gRPC error
        String denied = "cancelled: rpc error: code = PermissionDenied desc = " + DENIED;
        assertEquals("created", watch("reader", "a/"), "reader on a/");
        assertEquals(denied, watch("writer", "a/"), "writer on a/");
        assertEquals(denied, watch("reader", "b/"), "reader on b/");
        assertEquals(denied, watch("nobody", "a/"), "nobody on a/");
        assertEquals("created", watch("root", "b/"), "root");
        assertEquals("cancelled: rpc error: code = InvalidArgument desc = " + NO_USER, watch(null, "a/"), "no token");
        if (!ServerProcess.isReferenceEtcd()) { // etcd 3.4 checks only the start key of a from-key watch
            // etcd 3.6's fix (issue 11, item 8): a from-key watch needs permission on every key from its key on
            ByteString fromKey = ByteString.copyFrom(new byte[]{0});
            assertEquals(denied, watch("reader", bs("a/"), fromKey), "reader from a/ on");
            assertEquals("created", watch("root", bs("a/"), fromKey), "root from a/ on");
        }
    }

    /** Opens a prefix watch as {@code user}; what the first response says. */
    static String watch(String user, String prefix) throws Exception {
        byte[] end = prefix.getBytes();
        end[end.length - 1]++;
        return watch(user, bs(prefix), ByteString.copyFrom(end));
    }

    /** Opens a watch of [key, rangeEnd) as {@code user}; what the first response says. */
    static String watch(String user, ByteString key, ByteString rangeEnd) throws Exception {
        LinkedBlockingQueue<Object> q = new LinkedBlockingQueue<>();
        WatchGrpc.WatchStub stub = WatchGrpc.newStub(channel);
        if (user != null) {
            Metadata md = new Metadata();
            md.put(Metadata.Key.of("token", Metadata.ASCII_STRING_MARSHALLER), tokens.get(user));
            stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
        }
        StreamObserver<WatchRequest> req = stub.watch(new StreamObserver<>() {
            @Override
            public void onNext(WatchResponse r) {
                q.add(r);
            }

            @Override
            public void onError(Throwable t) {
                q.add(t);
            }

            @Override
            public void onCompleted() {
            }
        });
        req.onNext(WatchRequest.newBuilder().setCreateRequest(WatchCreateRequest.newBuilder()
                .setKey(key).setRangeEnd(rangeEnd)).build());
        Object first = q.poll(10, TimeUnit.SECONDS);
        req.onCompleted();
        if (first instanceof WatchResponse w) {
            if (w.getCanceled()) {
                assertEquals(-1, w.getWatchId(), "a refused watch has id -1");
                return "cancelled: " + w.getCancelReason();
            }
            return w.getCreated() ? "created" : "other: " + w;
        }
        return "failed: " + first;
    }

    @Test
    @Order(4)
    void leases() {
        long lease = as(LeaseGrpc.newBlockingStub(channel), "nobody")
                .leaseGrant(LeaseGrantRequest.newBuilder().setTTL(60).build()).getID();
        // etcd 3.6 wants a user for a grant (3.4 granted to anyone)
        assertEquals(ServerProcess.isReferenceEtcd() ? "OK" : EMPTY, outcome(() -> as(LeaseGrpc.newBlockingStub(channel), null)
                .leaseGrant(LeaseGrantRequest.newBuilder().setTTL(60).build())));
        as(KVGrpc.newBlockingStub(channel), "root")
                .put(PutRequest.newBuilder().setKey(bs("a/leased")).setLease(lease).build());
        // TimeToLive with keys: read on every attached key (etcd 3.6; 3.4 checked nothing)
        String pd = v36(PD, "OK");
        matrix("LeaseTimeToLive keys", u -> () -> as(LeaseGrpc.newBlockingStub(channel), u)
                        .leaseTimeToLive(LeaseTimeToLiveRequest.newBuilder().setID(lease).setKeys(true).build()),
                pd, "OK", pd, pd, pd, "OK");
        // revoking deletes the keys: write on every attached key (refusals first: they change nothing)
        for (String u : new String[]{"nobody", "reader", "otherreader", "otherwriter"}) {
            assertEquals(PD, outcome(() -> as(LeaseGrpc.newBlockingStub(channel), u)
                    .leaseRevoke(LeaseRevokeRequest.newBuilder().setID(lease).build())), "LeaseRevoke as " + u);
        }
        assertEquals("OK", outcome(() -> as(LeaseGrpc.newBlockingStub(channel), "writer")
                .leaseRevoke(LeaseRevokeRequest.newBuilder().setID(lease).build())), "LeaseRevoke as writer");
        assertEquals(0, as(KVGrpc.newBlockingStub(channel), "root")
                .range(RangeRequest.newBuilder().setKey(bs("a/leased")).build()).getCount(), "its key is gone");
    }

    @Test
    @Order(5)
    void maintenanceAndCluster() {
        matrix("Status", u -> () -> as(MaintenanceGrpc.newBlockingStub(channel), u)
                .status(StatusRequest.getDefaultInstance()), "OK", "OK", "OK", "OK", "OK", "OK");
        // etcd 3.6 wants a user for Status (3.4 answered anyone)
        assertEquals(ServerProcess.isReferenceEtcd() ? "OK" : EMPTY, outcome(() -> as(MaintenanceGrpc.newBlockingStub(channel), null)
                .status(StatusRequest.getDefaultInstance())));
        matrix("Alarm GET", u -> () -> as(MaintenanceGrpc.newBlockingStub(channel), u)
                        .alarm(AlarmRequest.newBuilder().setAction(AlarmRequest.AlarmAction.GET).build()),
                "OK", "OK", "OK", "OK", "OK", "OK");
        // root only; etcd 3.4 sent the auth package's error untranslated (Unknown), 3.6 sends etcd's
        String adminPd = v36(PD, "UNKNOWN: auth: permission denied");
        matrix("Defragment", u -> () -> as(MaintenanceGrpc.newBlockingStub(channel), u)
                .defragment(DefragmentRequest.getDefaultInstance()), adminPd, adminPd, adminPd, adminPd, adminPd, "OK");
        matrix("HashKV", u -> () -> as(MaintenanceGrpc.newBlockingStub(channel), u)
                .hashKV(HashKVRequest.getDefaultInstance()), adminPd, adminPd, adminPd, adminPd, adminPd, "OK");
        assertEquals(v36(EMPTY, "UNKNOWN: auth: user name is empty"),
                outcome(() -> as(MaintenanceGrpc.newBlockingStub(channel), null)
                        .hashKV(HashKVRequest.getDefaultInstance())));
        matrix("MemberList", u -> () -> as(ClusterGrpc.newBlockingStub(channel), u)
                .memberList(MemberListRequest.getDefaultInstance()), "OK", "OK", "OK", "OK", "OK", "OK");
        assertEquals("OK", outcome(() -> as(ClusterGrpc.newBlockingStub(channel), null)
                .memberList(MemberListRequest.getDefaultInstance())), "MemberList needs no user");
    }

    @Test
    @Order(6)
    void authAdministration() {
        matrix("UserList", u -> () -> as(AuthGrpc.newBlockingStub(channel), u)
                .userList(AuthUserListRequest.getDefaultInstance()), PD, PD, PD, PD, PD, "OK");
        matrix("UserGet reader (itself, or root)", u -> () -> as(AuthGrpc.newBlockingStub(channel), u)
                .userGet(AuthUserGetRequest.newBuilder().setName("reader").build()), PD, "OK", PD, PD, PD, "OK");
        matrix("RoleGet reader-role (its holder, or root)", u -> () -> as(AuthGrpc.newBlockingStub(channel), u)
                        .roleGet(AuthRoleGetRequest.newBuilder().setRole("reader-role").build()),
                PD, "OK", PD, PD, PD, "OK");
        assertEquals("FAILED_PRECONDITION: etcdserver: user name not found",
                outcome(() -> as(AuthGrpc.newBlockingStub(channel), "root")
                        .userGet(AuthUserGetRequest.newBuilder().setName("ghost").build())));
        assertEquals("UNAUTHENTICATED: etcdserver: invalid auth token", outcome(() -> {
            Metadata md = new Metadata();
            md.put(Metadata.Key.of("token", Metadata.ASCII_STRING_MARSHALLER), "bogus.1");
            KVGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
                    .withDeadlineAfter(10, TimeUnit.SECONDS).range(RangeRequest.newBuilder().setKey(bs("a/x")).build());
        }));
        assertEquals("INVALID_ARGUMENT: etcdserver: authentication failed, invalid user ID or password",
                outcome(() -> AuthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                        .authenticate(AuthenticateRequest.newBuilder().setName("ghost").setPassword("x").build())));
    }

    @Test
    @Order(7)
    void gatewayTakesTheAuthorizationHeader() throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        String body = "{\"key\":\"" + Base64.getEncoder().encodeToString("a/x".getBytes()) + "\"}";
        HttpResponse<String> anon = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v3/kv/range"))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(400, anon.statusCode(), anon.body());
        assertTrue(anon.body().contains("\"code\":3") && anon.body().contains(NO_USER), anon.body());
        HttpResponse<String> auth = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v3/auth/authenticate"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"reader\",\"password\":\"readerpw\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, auth.statusCode(), auth.body());
        String token = auth.body().replaceAll(".*\"token\":\"([^\"]+)\".*", "$1");
        HttpResponse<String> ok = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v3/kv/range"))
                .header("Authorization", token)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, ok.statusCode(), ok.body());
        assertTrue(ok.body().contains("\"count\":\"1\""), ok.body());
        HttpResponse<String> put = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v3/kv/put"))
                .header("Authorization", token)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(403, put.statusCode(), put.body());
        assertTrue(put.body().contains(DENIED), put.body());
    }

    @Test
    @Order(8)
    void passwordChangeInvalidatesTheUsersTokens() {
        Runnable read = () -> as(KVGrpc.newBlockingStub(channel), "reader")
                .range(RangeRequest.newBuilder().setKey(bs("a/x")).build());
        assertEquals("OK", outcome(read));
        as(AuthGrpc.newBlockingStub(channel), "root").userChangePassword(
                AuthUserChangePasswordRequest.newBuilder().setName("reader").setPassword("newpw").build());
        assertEquals("UNAUTHENTICATED: etcdserver: invalid auth token", outcome(read));
        assertEquals("OK", outcome(() -> as(KVGrpc.newBlockingStub(channel), "writer")
                .put(PutRequest.newBuilder().setKey(bs("a/w")).build())), "other users' tokens live on");
        assertEquals("a/x\n1\n", uncheck(() -> ctl.ok("--user", "reader:newpw", "get", "a/x")));
    }

    @Test
    @Order(9)
    void compactionNeedsNoPermission() {
        long rev = as(KVGrpc.newBlockingStub(channel), "root")
                .range(RangeRequest.newBuilder().setKey(bs("a/x")).build()).getHeader().getRevision();
        // etcd checks no permission for a compaction
        assertEquals("OK", outcome(() -> as(KVGrpc.newBlockingStub(channel), "nobody")
                .compact(CompactionRequest.newBuilder().setRevision(rev - 1).build())));
    }

    @Test
    @Order(10)
    void disableWithEtcdctl() throws Exception {
        Etcdctl.Result r = ctl.run("--user", "reader:newpw", "auth", "disable");
        assertTrue(r.stderr().contains("Error: " + DENIED), r.toString());
        assertEquals("Authentication Disabled\n", ctl.ok("--user", "root:rootpw", "auth", "disable"));
        assertEquals("a/x\n1\n", ctl.ok("get", "a/x"));
    }

    interface Io<T> {
        T get() throws Exception;
    }

    static <T> T uncheck(Io<T> f) {
        try {
            return f.get();
        } catch (Exception e) {
            fail(e);
            return null;
        }
    }
}
