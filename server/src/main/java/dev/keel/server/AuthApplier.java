package dev.keel.server;

import dev.keel.auth.AuthInfo;
import dev.keel.auth.AuthStore;
import dev.keel.lease.Lessor;
import dev.keel.proto.etcdserverpb.AuthDisableResponse;
import dev.keel.proto.etcdserverpb.AuthEnableResponse;
import dev.keel.proto.etcdserverpb.AuthRoleAddResponse;
import dev.keel.proto.etcdserverpb.AuthRoleDeleteResponse;
import dev.keel.proto.etcdserverpb.AuthRoleGrantPermissionResponse;
import dev.keel.proto.etcdserverpb.AuthRoleRevokePermissionResponse;
import dev.keel.proto.etcdserverpb.AuthUserAddResponse;
import dev.keel.proto.etcdserverpb.AuthUserChangePasswordResponse;
import dev.keel.proto.etcdserverpb.AuthUserDeleteResponse;
import dev.keel.proto.etcdserverpb.AuthUserGrantRoleResponse;
import dev.keel.proto.etcdserverpb.AuthUserRevokeRoleResponse;
import dev.keel.proto.etcdserverpb.AuthenticateResponse;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.ResponseHeader;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.etcdserverpb.Compare;
import dev.keel.proto.internal.InternalRequest;
import dev.keel.proto.internal.InternalResponse;
import com.google.protobuf.ByteString;

/**
 * The auth side of applying an entry (etcd's authApplierV3): re-checks the proposer's permissions against the auth
 * store as of this point of the log, using the user name and auth revision the proposer put in the entry's header,
 * and applies auth administration. Entries without a header are the members' own (lease expiry, checkpoints,
 * quota alarms) and are not checked, as etcd runs those as root.
 */
final class AuthApplier {

    private final AuthStore store;
    private final Lessor lessor;

    AuthApplier(AuthStore store, Lessor lessor) {
        this.store = store;
        this.lessor = lessor;
    }

    /** Throws etcd's error if the entry's proposer may not do what it asks. Changes nothing. */
    void check(InternalRequest req) {
        if (!req.hasHeader() || !store.isEnabled()) {
            return;
        }
        AuthInfo ai = new AuthInfo(req.getHeader().getUsername(), req.getHeader().getAuthRevision());
        switch (req.getRequestCase()) {
            case AUTH_ENABLE, AUTH_DISABLE, AUTH_USER_ADD, AUTH_USER_DELETE, AUTH_USER_CHANGE_PASSWORD,
                    AUTH_USER_GRANT_ROLE, AUTH_USER_REVOKE_ROLE, AUTH_ROLE_ADD, AUTH_ROLE_DELETE,
                    AUTH_ROLE_GRANT_PERMISSION, AUTH_ROLE_REVOKE_PERMISSION -> store.checkAdmin(ai);
            case PUT -> checkPut(ai, req.getPut());
            case DELETE_RANGE -> {
                var d = req.getDeleteRange();
                store.checkDeleteRange(ai, d.getKey().toByteArray(), d.getRangeEnd().toByteArray());
                if (d.getPrevKv()) {
                    store.checkRange(ai, d.getKey().toByteArray(), d.getRangeEnd().toByteArray());
                }
            }
            case TXN -> checkTxn(store, lessor, ai, req.getTxn());
            case RANGE -> store.checkRange(ai, req.getRange().getKey().toByteArray(),
                    req.getRange().getRangeEnd().toByteArray());
            case LEASE_REVOKE -> checkLeaseKeys(store, lessor, ai, req.getLeaseRevoke().getID());
            default -> {
                // compaction, lease grant, alarms: no permission beyond a valid user (checked before proposing)
            }
        }
    }

    private void checkPut(AuthInfo ai, PutRequest p) {
        checkPut(store, lessor, ai, p);
    }

    static void checkPut(AuthStore store, Lessor lessor, AuthInfo ai, PutRequest p) {
        store.checkPut(ai, p.getKey().toByteArray());
        if (p.getLease() != 0) {
            checkLeaseKeys(store, lessor, ai, p.getLease());
        }
        if (p.getPrevKv()) {
            store.checkRange(ai, p.getKey().toByteArray(), null);
        }
    }

    /** Every compare and every operation of both branches, nested txns included (etcd's checkTxnPermission). */
    static void checkTxn(AuthStore store, Lessor lessor, AuthInfo ai, TxnRequest t) {
        for (Compare c : t.getCompareList()) {
            store.checkRange(ai, c.getKey().toByteArray(), c.getRangeEnd().toByteArray());
        }
        checkOps(store, lessor, ai, t.getSuccessList());
        checkOps(store, lessor, ai, t.getFailureList());
    }

    private static void checkOps(AuthStore store, Lessor lessor, AuthInfo ai, java.util.List<RequestOp> ops) {
        for (RequestOp op : ops) {
            switch (op.getRequestCase()) {
                case REQUEST_RANGE -> store.checkRange(ai, op.getRequestRange().getKey().toByteArray(),
                        op.getRequestRange().getRangeEnd().toByteArray());
                case REQUEST_PUT -> checkPut(store, lessor, ai, op.getRequestPut());
                case REQUEST_DELETE_RANGE -> {
                    var d = op.getRequestDeleteRange();
                    if (d.getPrevKv()) {
                        store.checkRange(ai, d.getKey().toByteArray(), d.getRangeEnd().toByteArray());
                    }
                    store.checkDeleteRange(ai, d.getKey().toByteArray(), d.getRangeEnd().toByteArray());
                }
                case REQUEST_TXN -> checkTxn(store, lessor, ai, op.getRequestTxn());
                default -> {
                }
            }
        }
    }

    /** Writing to a lease's keys (revoke, or a put attaching to it) needs write on all of them, or root. */
    static void checkLeaseKeys(AuthStore store, Lessor lessor, AuthInfo ai, long leaseId) {
        if (!lessor.exists(leaseId) || store.isAdmin(ai)) {
            return;
        }
        for (ByteString k : lessor.keys(leaseId)) {
            store.checkPut(ai, k.toByteArray());
        }
    }

    /** Applies an auth administration entry; false if {@code req} is not one. */
    boolean apply(long index, InternalRequest req, InternalResponse.Builder resp, ResponseHeader header) {
        switch (req.getRequestCase()) {
            case AUTH_ENABLE -> {
                store.enable();
                resp.setAuthEnable(AuthEnableResponse.newBuilder().setHeader(header));
            }
            case AUTH_DISABLE -> {
                store.disable();
                resp.setAuthDisable(AuthDisableResponse.newBuilder().setHeader(header));
            }
            case AUTH_USER_ADD -> {
                store.userAdd(req.getAuthUserAdd());
                resp.setAuthUserAdd(AuthUserAddResponse.newBuilder().setHeader(header));
            }
            case AUTH_USER_DELETE -> {
                store.userDelete(req.getAuthUserDelete().getName());
                resp.setAuthUserDelete(AuthUserDeleteResponse.newBuilder().setHeader(header));
            }
            case AUTH_USER_CHANGE_PASSWORD -> {
                store.userChangePassword(req.getAuthUserChangePassword());
                resp.setAuthUserChangePassword(AuthUserChangePasswordResponse.newBuilder().setHeader(header));
            }
            case AUTH_USER_GRANT_ROLE -> {
                store.userGrantRole(req.getAuthUserGrantRole().getUser(), req.getAuthUserGrantRole().getRole());
                resp.setAuthUserGrantRole(AuthUserGrantRoleResponse.newBuilder().setHeader(header));
            }
            case AUTH_USER_REVOKE_ROLE -> {
                store.userRevokeRole(req.getAuthUserRevokeRole().getName(), req.getAuthUserRevokeRole().getRole());
                resp.setAuthUserRevokeRole(AuthUserRevokeRoleResponse.newBuilder().setHeader(header));
            }
            case AUTH_ROLE_ADD -> {
                store.roleAdd(req.getAuthRoleAdd().getName());
                resp.setAuthRoleAdd(AuthRoleAddResponse.newBuilder().setHeader(header));
            }
            case AUTH_ROLE_DELETE -> {
                store.roleDelete(req.getAuthRoleDelete().getRole());
                resp.setAuthRoleDelete(AuthRoleDeleteResponse.newBuilder().setHeader(header));
            }
            case AUTH_ROLE_GRANT_PERMISSION -> {
                store.roleGrantPermission(req.getAuthRoleGrantPermission());
                resp.setAuthRoleGrantPermission(AuthRoleGrantPermissionResponse.newBuilder().setHeader(header));
            }
            case AUTH_ROLE_REVOKE_PERMISSION -> {
                store.roleRevokePermission(req.getAuthRoleRevokePermission());
                resp.setAuthRoleRevokePermission(AuthRoleRevokePermissionResponse.newBuilder().setHeader(header));
            }
            case AUTHENTICATE -> {
                String token = store.authenticate(req.getAuthenticate().getName(),
                        req.getAuthenticate().getSimpleToken(), index);
                resp.setAuthenticate(AuthenticateResponse.newBuilder().setHeader(header).setToken(token));
            }
            default -> {
                return false;
            }
        }
        return true;
    }
}
