package dev.keel.api;

import dev.keel.Main;
import dev.keel.errors.EtcdError;
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
import dev.keel.server.Errors;
import dev.keel.server.EtcdServer;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;

import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/** etcdserverpb.Cluster over gRPC (and the JSON gateway, through the static methods). */
@GrpcService
public class ClusterService extends ClusterGrpc.ClusterImplBase {

    /** Channels to other members' client URLs, for promotions forwarded to the leader. */
    private static final Map<String, ManagedChannel> LEADER_CHANNELS = new ConcurrentHashMap<>();

    @Override
    public void memberList(MemberListRequest request, StreamObserver<MemberListResponse> observer) {
        GrpcErrors.reply(() -> memberList(Main.server(), request), observer);
    }

    @Override
    public void memberAdd(MemberAddRequest request, StreamObserver<MemberAddResponse> observer) {
        GrpcErrors.reply(() -> memberAdd(Main.server(), request), observer);
    }

    @Override
    public void memberRemove(MemberRemoveRequest request, StreamObserver<MemberRemoveResponse> observer) {
        GrpcErrors.reply(() -> memberRemove(Main.server(), request), observer);
    }

    @Override
    public void memberUpdate(MemberUpdateRequest request, StreamObserver<MemberUpdateResponse> observer) {
        GrpcErrors.reply(() -> memberUpdate(Main.server(), request), observer);
    }

    @Override
    public void memberPromote(MemberPromoteRequest request, StreamObserver<MemberPromoteResponse> observer) {
        GrpcErrors.reply(() -> memberPromote(Main.server(), request), observer);
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

    /**
     * Only the leader knows whether a learner has caught up, so a follower forwards the promotion to the leader's
     * client URL, as etcd forwards it over its peer API.
     */
    static CompletableFuture<MemberPromoteResponse> memberPromote(EtcdServer s, MemberPromoteRequest r) {
        return s.memberPromote(r.getID())
                .thenApply(c -> MemberPromoteResponse.newBuilder().setHeader(s.header(0))
                        .addAllMembers(c.getMembersList()).build())
                .exceptionallyCompose(err -> {
                    var e = Errors.toEtcd(err);
                    if (e == null || !e.getMessage().equals(EtcdError.NOT_LEADER.message())) {
                        return CompletableFuture.failedFuture(err);
                    }
                    return forwardPromote(s, r);
                });
    }

    private static CompletableFuture<MemberPromoteResponse> forwardPromote(EtcdServer s, MemberPromoteRequest r) {
        List<URI> urls = s.leaderClientUrls();
        if (urls.isEmpty()) {
            return CompletableFuture.failedFuture(EtcdError.NO_LEADER.exception());
        }
        URI u = urls.get(0);
        ManagedChannel ch = LEADER_CHANNELS.computeIfAbsent(u.getHost() + ":" + u.getPort(),
                a -> NettyChannelBuilder.forTarget(a).usePlaintext().build());
        return CompletableFuture.supplyAsync(() -> {
            try {
                return ClusterGrpc.newBlockingStub(ch).withDeadlineAfter(5, TimeUnit.SECONDS).memberPromote(r);
            } catch (StatusRuntimeException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
    }
}
