package dev.keel.server;

import dev.keel.auth.AuthInfo;
import dev.keel.auth.AuthStore;
import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.lease.Lessor;
import dev.keel.proto.etcdserverpb.AuthDisableRequest;
import dev.keel.proto.etcdserverpb.AuthDisableResponse;
import dev.keel.proto.etcdserverpb.AuthEnableRequest;
import dev.keel.proto.etcdserverpb.AuthEnableResponse;
import dev.keel.proto.etcdserverpb.AuthRoleAddRequest;
import dev.keel.proto.etcdserverpb.AuthRoleAddResponse;
import dev.keel.proto.etcdserverpb.AuthRoleDeleteRequest;
import dev.keel.proto.etcdserverpb.AuthRoleDeleteResponse;
import dev.keel.proto.etcdserverpb.AuthRoleGetRequest;
import dev.keel.proto.etcdserverpb.AuthRoleGetResponse;
import dev.keel.proto.etcdserverpb.AuthRoleGrantPermissionRequest;
import dev.keel.proto.etcdserverpb.AuthRoleGrantPermissionResponse;
import dev.keel.proto.etcdserverpb.AuthRoleListRequest;
import dev.keel.proto.etcdserverpb.AuthRoleListResponse;
import dev.keel.proto.etcdserverpb.AuthRoleRevokePermissionRequest;
import dev.keel.proto.etcdserverpb.AuthRoleRevokePermissionResponse;
import dev.keel.proto.etcdserverpb.AuthStatusRequest;
import dev.keel.proto.etcdserverpb.AuthStatusResponse;
import dev.keel.proto.etcdserverpb.AuthUserAddRequest;
import dev.keel.proto.etcdserverpb.AuthUserAddResponse;
import dev.keel.proto.etcdserverpb.AuthUserChangePasswordRequest;
import dev.keel.proto.etcdserverpb.AuthUserChangePasswordResponse;
import dev.keel.proto.etcdserverpb.AuthUserDeleteRequest;
import dev.keel.proto.etcdserverpb.AuthUserDeleteResponse;
import dev.keel.proto.etcdserverpb.AuthUserGetRequest;
import dev.keel.proto.etcdserverpb.AuthUserGetResponse;
import dev.keel.proto.etcdserverpb.AuthUserGrantRoleRequest;
import dev.keel.proto.etcdserverpb.AuthUserGrantRoleResponse;
import dev.keel.proto.etcdserverpb.AuthUserListRequest;
import dev.keel.proto.etcdserverpb.AuthUserListResponse;
import dev.keel.proto.etcdserverpb.AuthUserRevokeRoleRequest;
import dev.keel.proto.etcdserverpb.AuthUserRevokeRoleResponse;
import dev.keel.proto.etcdserverpb.AuthenticateRequest;
import dev.keel.proto.etcdserverpb.AuthenticateResponse;
import dev.keel.proto.etcdserverpb.WatchCreateRequest;
import dev.keel.proto.internal.Authenticate;
import dev.keel.proto.internal.InternalRequest;
import dev.keel.proto.internal.InternalResponse;
import dev.keel.proto.internal.RequestHeader;
import com.google.protobuf.ByteString;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Authentication and authorization at the edge of the member (etcd's AuthInfoFromCtx, requireAuthInfo,
 * IsAdminPermitted and the Auth service). Identities come from a token (simple or JWT) or, with
 * --client-cert-auth, from the client certificate's common name when no token is given. Writes carry the
 * identity in the entry's header and are checked again when applied ({@link AuthApplier}).
 */
public final class Auth {

    /** Where passwords are hashed and checked (bcrypt is slow on purpose). */
    private static final java.util.concurrent.ExecutorService HASHING = java.util.concurrent.Executors.newFixedThreadPool(
            2, r -> {
                Thread t = new Thread(r, "auth-bcrypt");
                t.setDaemon(true);
                return t;
            });

    private final AuthStore store;
    private final Lessor lessor;
    private final boolean clientCertAuth;
    private final EtcdServer server;
    private final Function<InternalRequest.Builder, CompletableFuture<InternalResponse>> propose;
    private final Supplier<CompletableFuture<Void>> readBarrier;

    Auth(EtcdServer server, AuthStore store, Lessor lessor, boolean clientCertAuth,
         Function<InternalRequest.Builder, CompletableFuture<InternalResponse>> propose,
         Supplier<CompletableFuture<Void>> readBarrier) {
        this.server = server;
        this.store = store;
        this.lessor = lessor;
        this.clientCertAuth = clientCertAuth;
        this.propose = propose;
        this.readBarrier = readBarrier;
    }

    public AuthStore store() {
        return store;
    }

    // ---- identities --------------------------------------------------------------------------------------

    /**
     * The caller, or null when auth is disabled or nothing identifies the caller. A token that is not (or no
     * longer) valid fails with "invalid auth token".
     */
    public AuthInfo authInfo(Credentials c) {
        if (!store.isEnabled() || c == null) {
            return null;
        }
        String token = c.token();
        if (token != null) {
            if (token.startsWith("Bearer ")) {
                token = token.substring("Bearer ".length());
            }
            AuthInfo ai = store.tokens().info(token, store.revision());
            if (ai == null) {
                throw EtcdError.INVALID_AUTH_TOKEN.exception();
            }
            return ai;
        }
        if (clientCertAuth && c.certCommonName() != null && !c.viaGateway()) {
            return new AuthInfo(c.certCommonName(), store.revision());
        }
        return null;
    }

    /** The caller, or {@link AuthInfo#NONE} (which every permission check refuses while auth is on). */
    AuthInfo authInfoOrNone(Credentials c) {
        AuthInfo ai = authInfo(c);
        return ai == null ? AuthInfo.NONE : ai;
    }

    /** etcd's requireAuthInfo: with auth on, some user must be identified ("user name is empty" otherwise). */
    AuthInfo require(Credentials c) {
        if (!store.isEnabled()) {
            return null;
        }
        AuthInfo ai = authInfo(c);
        if (ai == null) {
            throw EtcdError.USER_EMPTY.exception();
        }
        return ai;
    }

    /** Root only (etcd's IsAdminPermitted) while auth is on. */
    public void checkAdmin(Credentials c) {
        store.checkAdmin(authInfo(c));
    }

    /** With auth on, some valid user (etcd's requireAuthInfo). */
    public void checkAuthenticated(Credentials c) {
        require(c);
    }

    /** The header a proposed entry carries so the apply re-checks its proposer. */
    RequestHeader header(Credentials c) {
        AuthInfo ai = authInfo(c);
        return ai == null ? RequestHeader.getDefaultInstance()
                : RequestHeader.newBuilder().setUsername(ai.username()).setAuthRevision(ai.revision()).build();
    }

    /** Read permission on a key or range, then a recheck after the read (etcd's doSerialize). */
    void checkRange(Credentials c, byte[] key, byte[] rangeEnd) {
        if (!store.isEnabled()) {
            return;
        }
        store.checkRange(authInfoOrNone(c), key, rangeEnd);
    }

    void checkStale(Credentials c) {
        if (!store.isEnabled()) {
            return;
        }
        AuthInfo ai = authInfo(c);
        if (ai != null && ai.revision() != 0 && ai.revision() != store.revision()) {
            throw EtcdError.AUTH_OLD_REVISION.exception();
        }
    }

    /** Write permission on all keys of a lease (keep-alive), or root (etcd's checkLeaseRenew). */
    void checkLeaseWrite(Credentials c, long leaseId) {
        if (!store.isEnabled()) {
            return;
        }
        AuthInfo ai = require(c);
        AuthApplier.checkLeaseKeys(store, lessor, ai, leaseId);
    }

    /** Read permission on all keys of a lease (TimeToLive with keys), or root. */
    void checkLeaseRead(Credentials c, long leaseId) {
        if (!store.isEnabled()) {
            return;
        }
        AuthInfo ai = require(c);
        if (store.isAdmin(ai) || !lessor.exists(leaseId)) {
            return;
        }
        for (ByteString k : lessor.keys(leaseId)) {
            store.checkRange(ai, k.toByteArray(), null);
        }
    }

    /** Read permission on every key attached to any lease, or root (etcd's checkLeaseLeases). */
    void checkLeaseList(Credentials c) {
        if (!store.isEnabled()) {
            return;
        }
        AuthInfo ai = require(c);
        if (store.isAdmin(ai)) {
            return;
        }
        for (long id : lessor.leases()) {
            for (ByteString k : lessor.keys(id)) {
                store.checkRange(ai, k.toByteArray(), null);
            }
        }
    }

    /**
     * Why a watch may not be created, as its cancel reason, or null if it may (etcd's isWatchPermitted: the key,
     * with an empty key meaning "\0"; a from-key watch, range_end "\0", needs permission on every key from its key
     * on, as etcd 3.6 checks it since its 2026 fix (etcd 3.4 checked only the start key)). The reason is
     * the text of etcd's gRPC error, "rpc error: code = ... desc = ...", as etcd puts it there.
     */
    public String watchDenial(Credentials c, WatchCreateRequest w) {
        if (!store.isEnabled()) {
            return null;
        }
        try {
            byte[] key = w.getKey().isEmpty() ? new byte[]{0} : w.getKey().toByteArray();
            // the range end as sent: "\0" is the open range [key, +inf), not a single key
            store.checkRange(authInfoOrNone(c), key, w.getRangeEnd().toByteArray());
            return null;
        } catch (EtcdException e) {
            EtcdError reason = EtcdError.PERMISSION_DENIED;
            for (EtcdError known : new EtcdError[]{EtcdError.INVALID_AUTH_TOKEN, EtcdError.AUTH_OLD_REVISION,
                    EtcdError.USER_EMPTY}) {
                if (known.message().equals(e.getMessage())) {
                    reason = known;
                }
            }
            return "rpc error: code = " + GO_CODES[reason.code()] + " desc = " + reason.message();
        }
    }

    /** grpc-go's names of the status codes, by number. */
    private static final String[] GO_CODES = {"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded",
            "NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",
            "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"};

    /**
     * Lock and Election work on the keys under {@code name + "/"} with the caller's rights (etcd runs these
     * recipes through a client carrying the caller's token): reading the prefix, and with {@code write} also
     * creating and deleting keys under it. Also needs a user (the session lease).
     */
    public void checkRecipe(Credentials c, ByteString name, boolean write) {
        if (!store.isEnabled()) {
            return;
        }
        AuthInfo ai = require(c);
        ByteString prefix = name.concat(ByteString.copyFromUtf8("/"));
        byte[] key = prefix.toByteArray();
        byte[] end = Coordination.prefixEnd(prefix).toByteArray();
        store.checkRange(ai, key, end);
        if (write) {
            store.checkDeleteRange(ai, key, end);
        }
    }

    /** A recipe key the caller holds (unlock, resign, proclaim): write on it. */
    public void checkRecipeKey(Credentials c, ByteString key) {
        if (!store.isEnabled()) {
            return;
        }
        AuthInfo ai = require(c);
        store.checkPut(ai, key.toByteArray());
    }

    // ---- the Auth service --------------------------------------------------------------------------------

    private CompletableFuture<InternalResponse> proposeAs(Credentials c, InternalRequest.Builder req) {
        try {
            return propose.apply(req.setHeader(header(c)));
        } catch (EtcdException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private static <T> CompletableFuture<T> failed(Throwable t) {
        return CompletableFuture.failedFuture(t);
    }

    public CompletableFuture<AuthEnableResponse> enable(Credentials c, AuthEnableRequest r) {
        return proposeAs(c, InternalRequest.newBuilder().setAuthEnable(r))
                .thenApply(x -> x.getAuthEnable().toBuilder().setHeader(server.stampHeader(x.getAuthEnable().getHeader())).build());
    }

    public CompletableFuture<AuthDisableResponse> disable(Credentials c, AuthDisableRequest r) {
        return proposeAs(c, InternalRequest.newBuilder().setAuthDisable(r))
                .thenApply(x -> x.getAuthDisable().toBuilder().setHeader(server.stampHeader(x.getAuthDisable().getHeader())).build());
    }

    /** Served by this member after a read barrier (etcd sends it through the log; no permission needed). */
    public CompletableFuture<AuthStatusResponse> status(Credentials c, AuthStatusRequest r) {
        return readBarrier.get().thenApply(v -> AuthStatusResponse.newBuilder()
                .setHeader(server.currentHeader()).setEnabled(store.isEnabled())
                .setAuthRevision(store.revision()).build());
    }

    /**
     * Checks the password here, then proposes the token's issue; if the auth store moved on meanwhile, the
     * password is checked again (etcd's loop). The password never enters the log.
     */
    public CompletableFuture<AuthenticateResponse> authenticate(AuthenticateRequest r) {
        // bcrypt takes tens of milliseconds: never on the transport's or the Raft engine's threads
        return readBarrier.get().thenComposeAsync(v -> {
            long checked = store.checkPassword(r.getName(), r.getPassword());
            InternalRequest.Builder req = InternalRequest.newBuilder().setAuthenticate(Authenticate.newBuilder()
                    .setName(r.getName()).setSimpleToken(store.tokens().newPrefix()));
            return propose.apply(req).thenCompose(x -> {
                if (checked != store.revision()) {
                    return authenticate(r);
                }
                return CompletableFuture.completedFuture(x.getAuthenticate().toBuilder()
                        .setHeader(server.stampHeader(x.getAuthenticate().getHeader())).build());
            });
        }, HASHING);
    }

    public CompletableFuture<AuthUserAddResponse> userAdd(Credentials c, AuthUserAddRequest r) {
        return CompletableFuture.supplyAsync(() -> {
            AuthUserAddRequest.Builder b = r.toBuilder();
            if (!r.getOptions().getNoPassword() && !(r.getPassword().isEmpty() && !r.getHashedPassword().isEmpty())) {
                // hashed on the receiving member, before proposing: the log carries only the hash (as in etcd)
                b.setHashedPassword(store.hash(r.getPassword())).clearPassword();
            }
            return b;
        }, HASHING).thenCompose(b -> proposeAs(c, InternalRequest.newBuilder().setAuthUserAdd(b)))
                .thenApply(x -> x.getAuthUserAdd().toBuilder().setHeader(server.stampHeader(x.getAuthUserAdd().getHeader())).build());
    }

    public CompletableFuture<AuthUserDeleteResponse> userDelete(Credentials c, AuthUserDeleteRequest r) {
        return proposeAs(c, InternalRequest.newBuilder().setAuthUserDelete(r))
                .thenApply(x -> x.getAuthUserDelete().toBuilder().setHeader(server.stampHeader(x.getAuthUserDelete().getHeader())).build());
    }

    public CompletableFuture<AuthUserChangePasswordResponse> userChangePassword(Credentials c,
                                                                               AuthUserChangePasswordRequest r) {
        return CompletableFuture.supplyAsync(() -> {
            AuthUserChangePasswordRequest.Builder b = r.toBuilder();
            if (!r.getPassword().isEmpty()) {
                b.setHashedPassword(store.hash(r.getPassword())).clearPassword();
            }
            return b;
        }, HASHING).thenCompose(b -> proposeAs(c, InternalRequest.newBuilder().setAuthUserChangePassword(b)))
                .thenApply(x -> x.getAuthUserChangePassword().toBuilder()
                        .setHeader(server.stampHeader(x.getAuthUserChangePassword().getHeader())).build());
    }

    public CompletableFuture<AuthUserGrantRoleResponse> userGrantRole(Credentials c, AuthUserGrantRoleRequest r) {
        return proposeAs(c, InternalRequest.newBuilder().setAuthUserGrantRole(r))
                .thenApply(x -> x.getAuthUserGrantRole().toBuilder()
                        .setHeader(server.stampHeader(x.getAuthUserGrantRole().getHeader())).build());
    }

    public CompletableFuture<AuthUserRevokeRoleResponse> userRevokeRole(Credentials c, AuthUserRevokeRoleRequest r) {
        return proposeAs(c, InternalRequest.newBuilder().setAuthUserRevokeRole(r))
                .thenApply(x -> x.getAuthUserRevokeRole().toBuilder()
                        .setHeader(server.stampHeader(x.getAuthUserRevokeRole().getHeader())).build());
    }

    public CompletableFuture<AuthRoleAddResponse> roleAdd(Credentials c, AuthRoleAddRequest r) {
        return proposeAs(c, InternalRequest.newBuilder().setAuthRoleAdd(r))
                .thenApply(x -> x.getAuthRoleAdd().toBuilder().setHeader(server.stampHeader(x.getAuthRoleAdd().getHeader())).build());
    }

    public CompletableFuture<AuthRoleDeleteResponse> roleDelete(Credentials c, AuthRoleDeleteRequest r) {
        return proposeAs(c, InternalRequest.newBuilder().setAuthRoleDelete(r))
                .thenApply(x -> x.getAuthRoleDelete().toBuilder().setHeader(server.stampHeader(x.getAuthRoleDelete().getHeader())).build());
    }

    public CompletableFuture<AuthRoleGrantPermissionResponse> roleGrantPermission(Credentials c,
                                                                                 AuthRoleGrantPermissionRequest r) {
        return proposeAs(c, InternalRequest.newBuilder().setAuthRoleGrantPermission(r))
                .thenApply(x -> x.getAuthRoleGrantPermission().toBuilder()
                        .setHeader(server.stampHeader(x.getAuthRoleGrantPermission().getHeader())).build());
    }

    public CompletableFuture<AuthRoleRevokePermissionResponse> roleRevokePermission(Credentials c,
                                                                                   AuthRoleRevokePermissionRequest r) {
        return proposeAs(c, InternalRequest.newBuilder().setAuthRoleRevokePermission(r))
                .thenApply(x -> x.getAuthRoleRevokePermission().toBuilder()
                        .setHeader(server.stampHeader(x.getAuthRoleRevokePermission().getHeader())).build());
    }

    /** Root, or the user asking about itself (etcd's authApplierV3.UserGet). */
    public CompletableFuture<AuthUserGetResponse> userGet(Credentials c, AuthUserGetRequest r) {
        return local(() -> {
            AuthInfo ai = authInfo(c);
            if (!store.isAdmin(ai) && (ai == null || !r.getName().equals(ai.username()))) {
                store.checkAdmin(ai);
            }
            return AuthUserGetResponse.newBuilder().setHeader(server.currentHeader())
                    .addAllRoles(store.userRoles(r.getName())).build();
        });
    }

    public CompletableFuture<AuthUserListResponse> userList(Credentials c, AuthUserListRequest r) {
        return local(() -> {
            store.checkAdmin(authInfo(c));
            return AuthUserListResponse.newBuilder().setHeader(server.currentHeader())
                    .addAllUsers(store.userNames()).build();
        });
    }

    /** Root, or a user who has the role (etcd's authApplierV3.RoleGet). */
    public CompletableFuture<AuthRoleGetResponse> roleGet(Credentials c, AuthRoleGetRequest r) {
        return local(() -> {
            AuthInfo ai = authInfo(c);
            if (!store.isAdmin(ai) && (ai == null || !store.hasRole(ai.username(), r.getRole()))) {
                store.checkAdmin(ai);
            }
            return AuthRoleGetResponse.newBuilder().setHeader(server.currentHeader())
                    .addAllPerm(store.rolePermissions(r.getRole())).build();
        });
    }

    public CompletableFuture<AuthRoleListResponse> roleList(Credentials c, AuthRoleListRequest r) {
        return local(() -> {
            store.checkAdmin(authInfo(c));
            return AuthRoleListResponse.newBuilder().setHeader(server.currentHeader())
                    .addAllRoles(store.roleNames()).build();
        });
    }

    /** A read of the auth store after a read barrier (etcd sends these through the log). */
    private <T> CompletableFuture<T> local(Supplier<T> read) {
        return readBarrier.get().thenApply(v -> {
            try {
                return read.get();
            } catch (EtcdException e) {
                throw new CompletionException(e);
            }
        });
    }
}
