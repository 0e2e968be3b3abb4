package dev.keel.api;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.keel.Main;
import dev.keel.errors.EtcdError;
import dev.keel.proto.etcdserverpb.AlarmRequest;
import dev.keel.proto.etcdserverpb.AuthDisableRequest;
import dev.keel.proto.etcdserverpb.AuthEnableRequest;
import dev.keel.proto.etcdserverpb.AuthRoleAddRequest;
import dev.keel.proto.etcdserverpb.AuthRoleDeleteRequest;
import dev.keel.proto.etcdserverpb.AuthRoleGetRequest;
import dev.keel.proto.etcdserverpb.AuthRoleGrantPermissionRequest;
import dev.keel.proto.etcdserverpb.AuthRoleListRequest;
import dev.keel.proto.etcdserverpb.AuthRoleRevokePermissionRequest;
import dev.keel.proto.etcdserverpb.AuthStatusRequest;
import dev.keel.proto.etcdserverpb.AuthUserAddRequest;
import dev.keel.proto.etcdserverpb.AuthUserChangePasswordRequest;
import dev.keel.proto.etcdserverpb.AuthUserDeleteRequest;
import dev.keel.proto.etcdserverpb.AuthUserGetRequest;
import dev.keel.proto.etcdserverpb.AuthUserGrantRoleRequest;
import dev.keel.proto.etcdserverpb.AuthUserListRequest;
import dev.keel.proto.etcdserverpb.AuthUserRevokeRoleRequest;
import dev.keel.proto.etcdserverpb.AuthenticateRequest;
import dev.keel.server.Credentials;
import dev.keel.proto.etcdserverpb.DefragmentRequest;
import dev.keel.proto.etcdserverpb.HashRequest;
import dev.keel.proto.etcdserverpb.HashKVRequest;
import dev.keel.proto.etcdserverpb.MoveLeaderRequest;
import dev.keel.proto.etcdserverpb.DowngradeRequest;
import dev.keel.proto.etcdserverpb.LeaseGrantRequest;
import dev.keel.proto.etcdserverpb.LeaseRevokeRequest;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveRequest;
import dev.keel.proto.etcdserverpb.LeaseLeasesRequest;
import dev.keel.proto.v3lockpb.LockRequest;
import dev.keel.proto.v3lockpb.UnlockRequest;
import dev.keel.proto.v3electionpb.CampaignRequest;
import dev.keel.proto.v3electionpb.ProclaimRequest;
import dev.keel.proto.v3electionpb.LeaderRequest;
import dev.keel.proto.v3electionpb.ResignRequest;
import dev.keel.proto.etcdserverpb.CompactionRequest;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.MemberAddRequest;
import dev.keel.proto.etcdserverpb.MemberListRequest;
import dev.keel.proto.etcdserverpb.MemberPromoteRequest;
import dev.keel.proto.etcdserverpb.MemberRemoveRequest;
import dev.keel.proto.etcdserverpb.MemberUpdateRequest;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.StatusRequest;
import dev.keel.proto.etcdserverpb.TxnRequest;
import io.grpc.StatusRuntimeException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.ConfigProvider;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.BiFunction;

/**
 * etcd's gRPC gateway (grpc-gateway v2 as etcd 3.6 configures it) on the client port: {@code POST /v3/<service>/<method>}
 * with the request message as JSON, answered with the response message as JSON. The mapping is protobuf's JSON
 * mapping with the .proto field names ({@code create_revision}, {@code dbSize}), int64/uint64 as strings, bytes as
 * base64, enums by name (names or numbers accepted), default values omitted and unknown fields ignored. An empty
 * body is the empty request. {@code /v3beta/...} is served as {@code /v3/...}, as etcd does.
 *
 * <p>Failures answer with the HTTP status grpc-gateway maps the gRPC code to and the google.rpc.Status as JSON,
 * {@code {"code":3,"message":"etcdserver: key is not provided"}} (etcd 3.4's gateway, grpc-gateway v1, also sent an
 * {@code "error"} field; 3.6 does not). A body that is not JSON of the request is code 3 (InvalidArgument), 400.
 *
 * <p>Every method calls the same {@link dev.keel.server.EtcdServer} methods as the gRPC services. gRPC shares the
 * port but never reaches these routes: its requests go to {@code /etcdserverpb.KV/Range} and the like.
 */
@ApplicationScoped
public class JsonGateway {

    /** What grpc-go says when a request is over the server's receive limit (etcd's gateway goes through gRPC). */
    static final String TOO_LARGE = "grpc: received message larger than max (%d vs. %d)";

    private static final JsonFormat.Parser PARSER = withRecursionLimit(JsonFormat.parser().ignoringUnknownFields());

    /**
     * The parser with {@link dev.keel.server.NestingLimits#RECURSION_LIMIT} instead of its default 100 levels, as at
     * the gRPC edge. protobuf-java-util keeps {@code usingRecursionLimit} package-private, hence the reflection; if
     * it ever fails, the default stays (deep Txns then fail to parse, with a parse error, and nothing else).
     */
    private static JsonFormat.Parser withRecursionLimit(JsonFormat.Parser p) {
        try {
            java.lang.reflect.Method m = JsonFormat.Parser.class.getDeclaredMethod("usingRecursionLimit", int.class);
            m.setAccessible(true);
            return (JsonFormat.Parser) m.invoke(p, dev.keel.server.NestingLimits.RECURSION_LIMIT);
        } catch (ReflectiveOperationException | RuntimeException e) {
            org.jboss.logging.Logger.getLogger(JsonGateway.class)
                    .warnf("JSON gateway: cannot raise the parser's recursion limit (%s); it stays at 100", e);
            return p;
        }
    }
    static final JsonFormat.Printer PRINTER = JsonFormat.printer()
            .preservingProtoFieldNames()
            .omittingInsignificantWhitespace();

    /** A gateway method: the request's type and the server call answering it. */
    private record Rpc<Q extends Message>(Q prototype,
                                          BiFunction<Credentials, Q, CompletionStage<? extends Message>> call) {
    }

    /** The methods served, by path. */
    private static final Map<String, Rpc<?>> RPCS = new LinkedHashMap<>();

    /**
     * The rest of etcd's gateway paths (etcd 3.6 rpc.proto, v3lock, v3election) with the gRPC method behind each:
     * they answer as the gRPC call does, UNIMPLEMENTED. Move a path to {@link #RPCS} when its service lands.
     */
    private static final Map<String, String> NOT_YET = new LinkedHashMap<>();

    static {
        rpc("/v3/kv/range", RangeRequest.getDefaultInstance(), (w, r) -> Main.server().range(w, r));
        rpc("/v3/kv/put", PutRequest.getDefaultInstance(), (w, r) -> Main.server().put(w, r));
        rpc("/v3/kv/deleterange", DeleteRangeRequest.getDefaultInstance(), (w, r) -> Main.server().deleteRange(w, r));
        rpc("/v3/kv/txn", TxnRequest.getDefaultInstance(), (w, r) -> Main.server().txn(w, r));
        rpc("/v3/kv/compaction", CompactionRequest.getDefaultInstance(), (w, r) -> Main.server().compact(w, r));
        rpc("/v3/cluster/member/list", MemberListRequest.getDefaultInstance(),
                (w, r) -> ClusterService.memberList(Main.server(), r));
        rpc("/v3/cluster/member/add", MemberAddRequest.getDefaultInstance(),
                (w, r) -> admin(w, () -> ClusterService.memberAdd(Main.server(), r)));
        rpc("/v3/cluster/member/remove", MemberRemoveRequest.getDefaultInstance(),
                (w, r) -> admin(w, () -> ClusterService.memberRemove(Main.server(), r)));
        rpc("/v3/cluster/member/update", MemberUpdateRequest.getDefaultInstance(),
                (w, r) -> admin(w, () -> ClusterService.memberUpdate(Main.server(), r)));
        rpc("/v3/cluster/member/promote", MemberPromoteRequest.getDefaultInstance(),
                (w, r) -> admin(w, () -> ClusterService.memberPromote(Main.server(), r)));
        rpc("/v3/lease/grant", LeaseGrantRequest.getDefaultInstance(), (w, r) -> Main.server().leaseGrant(w, r));
        rpc("/v3/lease/revoke", LeaseRevokeRequest.getDefaultInstance(), (w, r) -> Main.server().leaseRevoke(w, r));
        rpc("/v3/kv/lease/revoke", LeaseRevokeRequest.getDefaultInstance(), (w, r) -> Main.server().leaseRevoke(w, r));
        rpc("/v3/lease/timetolive", LeaseTimeToLiveRequest.getDefaultInstance(),
                (w, r) -> Main.server().leaseTimeToLive(w, r));
        rpc("/v3/kv/lease/timetolive", LeaseTimeToLiveRequest.getDefaultInstance(),
                (w, r) -> Main.server().leaseTimeToLive(w, r));
        rpc("/v3/lease/leases", LeaseLeasesRequest.getDefaultInstance(),
                (w, r) -> CompletableFuture.completedFuture(Main.server().leaseLeases(w)));
        rpc("/v3/kv/lease/leases", LeaseLeasesRequest.getDefaultInstance(),
                (w, r) -> CompletableFuture.completedFuture(Main.server().leaseLeases(w)));
        rpc("/v3/lock/lock", LockRequest.getDefaultInstance(), (w, r) -> {
            Main.server().auth().checkRecipe(w, r.getName(), true);
            return Main.server().locks().lock(r, clientGone());
        });
        rpc("/v3/lock/unlock", UnlockRequest.getDefaultInstance(), (w, r) -> {
            Main.server().auth().checkRecipeKey(w, r.getKey());
            return Main.server().locks().unlock(r);
        });
        rpc("/v3/election/campaign", CampaignRequest.getDefaultInstance(), (w, r) -> {
            Main.server().auth().checkRecipe(w, r.getName(), true);
            return Main.server().elections().campaign(r, clientGone());
        });
        rpc("/v3/election/proclaim", ProclaimRequest.getDefaultInstance(), (w, r) -> {
            Main.server().auth().checkRecipeKey(w, r.getLeader().getKey());
            return Main.server().elections().proclaim(r);
        });
        rpc("/v3/election/leader", LeaderRequest.getDefaultInstance(), (w, r) -> {
            Main.server().auth().checkRecipe(w, r.getName(), false);
            return Main.server().elections().leader(r);
        });
        rpc("/v3/election/resign", ResignRequest.getDefaultInstance(), (w, r) -> {
            Main.server().auth().checkRecipeKey(w, r.getLeader().getKey());
            return Main.server().elections().resign(r);
        });
        rpc("/v3/maintenance/alarm", AlarmRequest.getDefaultInstance(), (w, r) -> {
            if (r.getAction() == AlarmRequest.AlarmAction.GET) {
                Main.server().auth().checkAuthenticated(w);
            } else {
                Main.server().auth().checkAdmin(w);
            }
            return Main.server().maintenance().alarm(r);
        });
        rpc("/v3/maintenance/defragment", DefragmentRequest.getDefaultInstance(),
                (w, r) -> admin(w, () -> Main.server().maintenance().defragment()));
        rpc("/v3/maintenance/hash", HashRequest.getDefaultInstance(),
                (w, r) -> admin(w, () -> Main.server().maintenance().hash()));
        rpc("/v3/maintenance/hashkv", HashKVRequest.getDefaultInstance(),
                (w, r) -> admin(w, () -> Main.server().maintenance().hashKv(r)));
        rpc("/v3/maintenance/transfer-leadership", MoveLeaderRequest.getDefaultInstance(),
                (w, r) -> admin(w, () -> Main.server().maintenance().moveLeader(r)));
        rpc("/v3/maintenance/downgrade", DowngradeRequest.getDefaultInstance(),
                (w, r) -> admin(w, () -> Main.server().maintenance().downgrade(r)));
        rpc("/v3/maintenance/status", StatusRequest.getDefaultInstance(), (w, r) -> {
            Main.server().auth().checkAuthenticated(w);
            return CompletableFuture.completedFuture(Main.server().status());
        });
        rpc("/v3/auth/enable", AuthEnableRequest.getDefaultInstance(), (w, r) -> Main.server().auth().enable(w, r));
        rpc("/v3/auth/disable", AuthDisableRequest.getDefaultInstance(), (w, r) -> Main.server().auth().disable(w, r));
        rpc("/v3/auth/status", AuthStatusRequest.getDefaultInstance(), (w, r) -> Main.server().auth().status(w, r));
        rpc("/v3/auth/authenticate", AuthenticateRequest.getDefaultInstance(),
                (w, r) -> Main.server().auth().authenticate(r));
        rpc("/v3/auth/user/add", AuthUserAddRequest.getDefaultInstance(), (w, r) -> Main.server().auth().userAdd(w, r));
        rpc("/v3/auth/user/get", AuthUserGetRequest.getDefaultInstance(), (w, r) -> Main.server().auth().userGet(w, r));
        rpc("/v3/auth/user/list", AuthUserListRequest.getDefaultInstance(),
                (w, r) -> Main.server().auth().userList(w, r));
        rpc("/v3/auth/user/delete", AuthUserDeleteRequest.getDefaultInstance(),
                (w, r) -> Main.server().auth().userDelete(w, r));
        rpc("/v3/auth/user/changepw", AuthUserChangePasswordRequest.getDefaultInstance(),
                (w, r) -> Main.server().auth().userChangePassword(w, r));
        rpc("/v3/auth/user/grant", AuthUserGrantRoleRequest.getDefaultInstance(),
                (w, r) -> Main.server().auth().userGrantRole(w, r));
        rpc("/v3/auth/user/revoke", AuthUserRevokeRoleRequest.getDefaultInstance(),
                (w, r) -> Main.server().auth().userRevokeRole(w, r));
        rpc("/v3/auth/role/add", AuthRoleAddRequest.getDefaultInstance(), (w, r) -> Main.server().auth().roleAdd(w, r));
        rpc("/v3/auth/role/get", AuthRoleGetRequest.getDefaultInstance(), (w, r) -> Main.server().auth().roleGet(w, r));
        rpc("/v3/auth/role/list", AuthRoleListRequest.getDefaultInstance(),
                (w, r) -> Main.server().auth().roleList(w, r));
        rpc("/v3/auth/role/delete", AuthRoleDeleteRequest.getDefaultInstance(),
                (w, r) -> Main.server().auth().roleDelete(w, r));
        rpc("/v3/auth/role/grant", AuthRoleGrantPermissionRequest.getDefaultInstance(),
                (w, r) -> Main.server().auth().roleGrantPermission(w, r));
        rpc("/v3/auth/role/revoke", AuthRoleRevokePermissionRequest.getDefaultInstance(),
                (w, r) -> Main.server().auth().roleRevokePermission(w, r));

        String[][] notYet = {
        };
        for (String[] p : notYet) {
            NOT_YET.put(p[0], p[1]);
        }
    }

    /** The request being dispatched on this thread (set around the call in {@link #serve}). */
    private static final ThreadLocal<RoutingContext> CURRENT = new ThreadLocal<>();

    /**
     * Completes when the HTTP client of the request being dispatched goes away before its answer (connection
     * closed): a Lock or Campaign waiting for its turn then gives up and removes its waiter key, as etcd's gateway
     * cancels the gRPC call. Never completes outside {@link #serve}.
     */
    private static CompletableFuture<Void> clientGone() {
        CompletableFuture<Void> gone = new CompletableFuture<>();
        RoutingContext ctx = CURRENT.get();
        if (ctx != null) {
            ctx.response().closeHandler(v -> gone.complete(null));
            if (ctx.response().closed()) {
                gone.complete(null);
            }
        }
        return gone;
    }

    private static <Q extends Message> void rpc(String path, Q prototype,
                                                BiFunction<Credentials, Q, CompletionStage<? extends Message>> call) {
        RPCS.put(path, new Rpc<>(prototype, call));
    }

    void routes(@Observes Router router) {
        long maxMessage = maxInboundMessageBytes();
        // JSON is larger than the message it encodes (base64 is 4/3 of the bytes); beyond this the body is not
        // read at all and the answer is the same as for a message over the limit.
        long maxBody = 4 * maxMessage + 64 * 1024;

        // etcd's access controller answers OPTIONS (CORS preflight) on every HTTP path before routing.
        router.route().method(HttpMethod.OPTIONS).handler(ctx -> Http.cors(ctx.response()).setStatusCode(200).end());
        if (!dev.keel.Main.server().config().enableGrpcGateway()) {
            return; // --enable-grpc-gateway=false: no /v3/ paths, as in etcd
        }

        for (String prefix : new String[]{"/v3/", "/v3beta/"}) {
            RPCS.forEach((path, rpc) -> router.post(prefix + path.substring("/v3/".length()))
                    .handler(BodyHandler.create(false).setBodyLimit(maxBody))
                    .handler(ctx -> serve(ctx, rpc, maxMessage))
                    .failureHandler(ctx -> failed(ctx, maxMessage)));
            GatewayStreams.install(router, prefix, maxMessage, maxBody);
            router.route(prefix + "*").handler(this::unrouted);
        }
    }

    /** The limit gRPC applies to a request on this port (Main sets it from --max-request-bytes). */
    private static long maxInboundMessageBytes() {
        return ConfigProvider.getConfig()
                .getOptionalValue("quarkus.grpc.server.max-inbound-message-size", Long.class)
                .orElse(2L * 1024 * 1024);
    }

    private static <Q extends Message> void serve(RoutingContext ctx, Rpc<Q> rpc, long maxMessage) {
        Q request;
        try {
            request = parse(ctx.body().buffer(), rpc.prototype());
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            writeError(ctx.response(), EtcdError.Codes.INVALID_ARGUMENT, decodeError(e), false);
            return;
        }
        int size = request.getSerializedSize();
        if (size > maxMessage) {
            writeError(ctx.response(), EtcdError.Codes.RESOURCE_EXHAUSTED,
                    String.format(TOO_LARGE, size, maxMessage), true);
            return;
        }
        CompletionStage<? extends Message> answer;
        CURRENT.set(ctx);
        try {
            answer = rpc.call().apply(credentials(ctx), request);
        } catch (RuntimeException e) {
            writeFailure(ctx.response(), e);
            return;
        } finally {
            CURRENT.remove();
        }
        answer.whenComplete((response, err) -> {
            if (err != null) {
                writeFailure(ctx.response(), err);
            } else {
                writeMessage(ctx.response(), response);
            }
        });
    }

    /**
     * What an HTTP request presents: the Authorization header's token (etcd's gateway forwards it as the
     * "authorization" metadata). A client certificate's name is not used through the gateway, as in etcd.
     */
    static Credentials credentials(RoutingContext ctx) {
        return new Credentials(ctx.request().getHeader("Authorization"), null, true);
    }

    /** Root only while auth is on. */
    private static <T> CompletionStage<T> admin(Credentials w, java.util.function.Supplier<CompletionStage<T>> call) {
        Main.server().auth().checkAdmin(w);
        return call.get();
    }

    @SuppressWarnings("unchecked")
    static <Q extends Message> Q parse(Buffer body, Q prototype) throws InvalidProtocolBufferException {
        String json = body == null ? "" : body.toString(StandardCharsets.UTF_8);
        if (json.isBlank()) {
            return prototype; // grpc-gateway takes an empty body (EOF) as the empty request
        }
        Message.Builder b = prototype.newBuilderForType();
        PARSER.merge(json, b);
        return (Q) b.build();
    }

    /**
     * Why a body is not the request, without Java class names. A body that ends early is Go's "unexpected EOF",
     * as etcd says; other texts are the JSON parser's own.
     */
    static String decodeError(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.io.EOFException) {
                return "unexpected EOF";
            }
        }
        String m = String.valueOf(e.getMessage());
        if (m.startsWith("java.io.EOFException")) {
            return "unexpected EOF";
        }
        return m.replaceFirst("^([a-zA-Z_$][\\w$]*\\.)+[\\w$]*(Exception|Error): ", "");
    }

    /** The body handler's failures: a body over its limit, or one that could not be read. */
    static void failed(RoutingContext ctx, long maxMessage) {
        if (ctx.statusCode() == 413) {
            long length = -1;
            try {
                length = Long.parseLong(ctx.request().getHeader("Content-Length"));
            } catch (NumberFormatException e) {
                // chunked: the size is not known
            }
            writeError(ctx.response(), EtcdError.Codes.RESOURCE_EXHAUSTED,
                    length >= 0 ? String.format(TOO_LARGE, length, maxMessage)
                            : "grpc: received message larger than max", true);
        } else if (ctx.failure() != null) {
            writeFailure(ctx.response(), ctx.failure());
        } else {
            writeError(ctx.response(), EtcdError.Codes.INVALID_ARGUMENT, "cannot read request body", false);
        }
    }

    /**
     * Everything else under /v3/: grpc-gateway's routing errors. A gateway path with another method than POST is
     * 405 turned into code 12 (Unimplemented, 501); a path it does not know is code 5 (NotFound, 404).
     */
    private void unrouted(RoutingContext ctx) {
        String path = ctx.request().path();
        if (path.startsWith("/v3beta/")) {
            path = "/v3/" + path.substring("/v3beta/".length());
        }
        boolean known = RPCS.containsKey(path) || GatewayStreams.PATHS.contains(path) || NOT_YET.containsKey(path);
        if (known && ctx.request().method() != HttpMethod.POST) {
            writeError(ctx.response(), EtcdError.Codes.UNIMPLEMENTED, "Method Not Allowed", false);
        } else if (NOT_YET.containsKey(path)) {
            writeError(ctx.response(), EtcdError.Codes.UNIMPLEMENTED,
                    "Method " + NOT_YET.get(path) + " is unimplemented", true);
        } else {
            writeError(ctx.response(), EtcdError.Codes.NOT_FOUND, "Not Found", false);
        }
    }

    private static void writeMessage(HttpServerResponse r, Message m) {
        String json;
        try {
            json = PRINTER.print(m);
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            writeFailure(r, e);
            return;
        }
        if (r.ended() || r.closed()) {
            return;
        }
        Http.cors(r).setStatusCode(200)
                .putHeader("Content-Type", Http.JSON)
                .putHeader("Grpc-Metadata-Content-Type", "application/grpc")
                .end(json);
    }

    private static void writeFailure(HttpServerResponse r, Throwable t) {
        StatusRuntimeException s = GrpcErrors.toStatus(t);
        String message = s.getStatus().getDescription();
        writeError(r, s.getStatus().getCode().value(), message == null ? "" : message, true);
    }

    /**
     * grpc-gateway's DefaultHTTPErrorHandler: the status as JSON with the mapped HTTP status. {@code fromCall}:
     * the error came back from the gRPC call, whose header metadata grpc-gateway forwards.
     */
    static void writeError(HttpServerResponse r, int code, String message, boolean fromCall) {
        if (r.ended() || r.closed()) {
            return;
        }
        Http.cors(r).setStatusCode(httpStatus(code)).putHeader("Content-Type", Http.JSON);
        if (fromCall) {
            r.putHeader("Grpc-Metadata-Content-Type", "application/grpc");
        }
        if (code == EtcdError.Codes.UNAUTHENTICATED) {
            r.putHeader("WWW-Authenticate", message);
        }
        StringBuilder body = new StringBuilder("{\"code\":").append(code);
        if (!message.isEmpty()) {
            body.append(",\"message\":").append(Http.protoQuote(message));
        }
        r.end(body.append('}').toString());
    }

    /** grpc-gateway's HTTPStatusFromCode. */
    static int httpStatus(int grpcCode) {
        return switch (grpcCode) {
            case 0 -> 200;             // OK
            case 1 -> 499;             // Canceled
            case 2 -> 500;             // Unknown
            case 3 -> 400;             // InvalidArgument
            case 4 -> 504;             // DeadlineExceeded
            case 5 -> 404;             // NotFound
            case 6 -> 409;             // AlreadyExists
            case 7 -> 403;             // PermissionDenied
            case 8 -> 429;             // ResourceExhausted
            case 9 -> 400;             // FailedPrecondition (deliberately not 412)
            case 10 -> 409;            // Aborted
            case 11 -> 400;            // OutOfRange
            case 12 -> 501;            // Unimplemented
            case 13 -> 500;            // Internal
            case 14 -> 503;            // Unavailable
            case 15 -> 500;            // DataLoss
            case 16 -> 401;            // Unauthenticated
            default -> 500;
        };
    }
}
