package dev.keel.api;

import dev.keel.Main;
import dev.keel.proto.etcdserverpb.ClusterGrpc;
import dev.keel.proto.etcdserverpb.MemberAddRequest;
import dev.keel.proto.etcdserverpb.MemberAddResponse;
import dev.keel.proto.etcdserverpb.MemberListRequest;
import dev.keel.proto.etcdserverpb.MemberListResponse;
import dev.keel.proto.etcdserverpb.MemberPromoteRequest;
import dev.keel.proto.etcdserverpb.MemberPromoteResponse;
import dev.keel.proto.etcdserverpb.MemberRemoveRequest;
import dev.keel.proto.etcdserverpb.MemberRemoveResponse;
import dev.keel.proto.etcdserverpb.MemberUpdateRequest;
import dev.keel.proto.etcdserverpb.MemberUpdateResponse;
import dev.keel.server.EtcdServer;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;

import java.util.concurrent.CompletableFuture;

/** etcdserverpb.Cluster over gRPC (and the JSON gateway, through the static methods). */
@GrpcService
public class ClusterService extends ClusterGrpc.ClusterImplBase {

    /** Requests parsed as etcd does (nesting limit, grpc-go's error for a request that does not parse). */
    @Override
    public io.grpc.ServerServiceDefinition bindService() {
        return GrpcRequestParsing.apply(super.bindService());
    }


    @Override
    public void memberList(MemberListRequest request, StreamObserver<MemberListResponse> observer) {
        GrpcErrors.reply(() -> memberList(Main.server(), request), observer);
    }

    @Override
    public void memberAdd(MemberAddRequest request, StreamObserver<MemberAddResponse> observer) {
        GrpcErrors.reply(() -> {
            // membership changes need the root role while auth is on (etcd's checkMembershipOperationPermission)
            Main.server().auth().checkAdmin(CallerInterceptor.current());
            return memberAdd(Main.server(), request);
        }, observer);
    }

    @Override
    public void memberRemove(MemberRemoveRequest request, StreamObserver<MemberRemoveResponse> observer) {
        GrpcErrors.reply(() -> {
            // membership changes need the root role while auth is on (etcd's checkMembershipOperationPermission)
            Main.server().auth().checkAdmin(CallerInterceptor.current());
            return memberRemove(Main.server(), request);
        }, observer);
    }

    @Override
    public void memberUpdate(MemberUpdateRequest request, StreamObserver<MemberUpdateResponse> observer) {
        GrpcErrors.reply(() -> {
            // membership changes need the root role while auth is on (etcd's checkMembershipOperationPermission)
            Main.server().auth().checkAdmin(CallerInterceptor.current());
            return memberUpdate(Main.server(), request);
        }, observer);
    }

    @Override
    public void memberPromote(MemberPromoteRequest request, StreamObserver<MemberPromoteResponse> observer) {
        GrpcErrors.reply(() -> {
            // membership changes need the root role while auth is on (etcd's checkMembershipOperationPermission)
            Main.server().auth().checkAdmin(CallerInterceptor.current());
            return memberPromote(Main.server(), request);
        }, observer);
    }

    /** The answer to MemberList, over gRPC and the JSON gateway. */
    static CompletableFuture<MemberListResponse> memberList(EtcdServer s, MemberListRequest r) {
        if (r.getLinearizable()) {
            return s.membersLinearizable().thenApply(ms -> MemberListResponse.newBuilder().setHeader(s.header(0))
                    .addAllMembers(ms).build());
        }
        return CompletableFuture.completedFuture(MemberListResponse.newBuilder().setHeader(s.header(0))
                .addAllMembers(s.members()).build());
    }

    static CompletableFuture<MemberAddResponse> memberAdd(EtcdServer s, MemberAddRequest r) {
        return s.memberAdd(r.getPeerURLsList(), r.getIsLearner()).thenApply(c -> MemberAddResponse.newBuilder()
                .setHeader(s.header(0)).setMember(c.getMember()).addAllMembers(c.getMembersList()).build());
    }

    static CompletableFuture<MemberRemoveResponse> memberRemove(EtcdServer s, MemberRemoveRequest r) {
        return s.memberRemove(r.getID()).thenApply(c -> MemberRemoveResponse.newBuilder()
                .setHeader(s.header(0)).addAllMembers(c.getMembersList()).build());
    }

    static CompletableFuture<MemberUpdateResponse> memberUpdate(EtcdServer s, MemberUpdateRequest r) {
        return s.memberUpdate(r.getID(), r.getPeerURLsList()).thenApply(c -> MemberUpdateResponse.newBuilder()
                .setHeader(s.header(0)).addAllMembers(c.getMembersList()).build());
    }

    /** A follower asks the leader, which alone knows whether the learner has caught up (see EtcdServer). */
    static CompletableFuture<MemberPromoteResponse> memberPromote(EtcdServer s, MemberPromoteRequest r) {
        return s.memberPromote(r.getID())
                .thenApply(c -> MemberPromoteResponse.newBuilder().setHeader(s.header(0))
                        .addAllMembers(c.getMembersList()).build());
    }
}
