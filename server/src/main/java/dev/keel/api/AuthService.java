package dev.keel.api;

import dev.keel.Main;
import dev.keel.proto.etcdserverpb.AuthDisableRequest;
import dev.keel.proto.etcdserverpb.AuthDisableResponse;
import dev.keel.proto.etcdserverpb.AuthEnableRequest;
import dev.keel.proto.etcdserverpb.AuthEnableResponse;
import dev.keel.proto.etcdserverpb.AuthGrpc;
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
import dev.keel.server.Auth;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;

/** etcdserverpb.Auth over gRPC: see {@link Auth}. */
@GrpcService
public class AuthService extends AuthGrpc.AuthImplBase {

    /** Requests parsed as etcd does (nesting limit, grpc-go's error for a request that does not parse). */
    @Override
    public io.grpc.ServerServiceDefinition bindService() {
        return GrpcRequestParsing.apply(super.bindService());
    }

    private static Auth auth() {
        return Main.server().auth();
    }

    @Override
    public void authEnable(AuthEnableRequest r, StreamObserver<AuthEnableResponse> o) {
        GrpcErrors.reply(() -> auth().enable(CallerInterceptor.current(), r), o);
    }

    @Override
    public void authDisable(AuthDisableRequest r, StreamObserver<AuthDisableResponse> o) {
        GrpcErrors.reply(() -> auth().disable(CallerInterceptor.current(), r), o);
    }

    @Override
    public void authStatus(AuthStatusRequest r, StreamObserver<AuthStatusResponse> o) {
        GrpcErrors.reply(() -> auth().status(CallerInterceptor.current(), r), o);
    }

    @Override
    public void authenticate(AuthenticateRequest r, StreamObserver<AuthenticateResponse> o) {
        GrpcErrors.reply(() -> auth().authenticate(r), o);
    }

    @Override
    public void userAdd(AuthUserAddRequest r, StreamObserver<AuthUserAddResponse> o) {
        GrpcErrors.reply(() -> auth().userAdd(CallerInterceptor.current(), r), o);
    }

    @Override
    public void userGet(AuthUserGetRequest r, StreamObserver<AuthUserGetResponse> o) {
        GrpcErrors.reply(() -> auth().userGet(CallerInterceptor.current(), r), o);
    }

    @Override
    public void userList(AuthUserListRequest r, StreamObserver<AuthUserListResponse> o) {
        GrpcErrors.reply(() -> auth().userList(CallerInterceptor.current(), r), o);
    }

    @Override
    public void userDelete(AuthUserDeleteRequest r, StreamObserver<AuthUserDeleteResponse> o) {
        GrpcErrors.reply(() -> auth().userDelete(CallerInterceptor.current(), r), o);
    }

    @Override
    public void userChangePassword(AuthUserChangePasswordRequest r, StreamObserver<AuthUserChangePasswordResponse> o) {
        GrpcErrors.reply(() -> auth().userChangePassword(CallerInterceptor.current(), r), o);
    }

    @Override
    public void userGrantRole(AuthUserGrantRoleRequest r, StreamObserver<AuthUserGrantRoleResponse> o) {
        GrpcErrors.reply(() -> auth().userGrantRole(CallerInterceptor.current(), r), o);
    }

    @Override
    public void userRevokeRole(AuthUserRevokeRoleRequest r, StreamObserver<AuthUserRevokeRoleResponse> o) {
        GrpcErrors.reply(() -> auth().userRevokeRole(CallerInterceptor.current(), r), o);
    }

    @Override
    public void roleAdd(AuthRoleAddRequest r, StreamObserver<AuthRoleAddResponse> o) {
        GrpcErrors.reply(() -> auth().roleAdd(CallerInterceptor.current(), r), o);
    }

    @Override
    public void roleGet(AuthRoleGetRequest r, StreamObserver<AuthRoleGetResponse> o) {
        GrpcErrors.reply(() -> auth().roleGet(CallerInterceptor.current(), r), o);
    }

    @Override
    public void roleList(AuthRoleListRequest r, StreamObserver<AuthRoleListResponse> o) {
        GrpcErrors.reply(() -> auth().roleList(CallerInterceptor.current(), r), o);
    }

    @Override
    public void roleDelete(AuthRoleDeleteRequest r, StreamObserver<AuthRoleDeleteResponse> o) {
        GrpcErrors.reply(() -> auth().roleDelete(CallerInterceptor.current(), r), o);
    }

    @Override
    public void roleGrantPermission(AuthRoleGrantPermissionRequest r,
                                    StreamObserver<AuthRoleGrantPermissionResponse> o) {
        GrpcErrors.reply(() -> auth().roleGrantPermission(CallerInterceptor.current(), r), o);
    }

    @Override
    public void roleRevokePermission(AuthRoleRevokePermissionRequest r,
                                     StreamObserver<AuthRoleRevokePermissionResponse> o) {
        GrpcErrors.reply(() -> auth().roleRevokePermission(CallerInterceptor.current(), r), o);
    }
}
