package dev.keel.operator.etcd;

import dev.keel.operator.core.Action;
import dev.keel.operator.core.ClusterApi;
import dev.keel.operator.core.Member;
import dev.keel.operator.core.MemberHealth;
import dev.keel.proto.etcdserverpb.ClusterGrpc;
import dev.keel.proto.etcdserverpb.DowngradeRequest;
import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.MemberAddRequest;
import dev.keel.proto.etcdserverpb.MemberAddResponse;
import dev.keel.proto.etcdserverpb.MemberListRequest;
import dev.keel.proto.etcdserverpb.MemberListResponse;
import dev.keel.proto.etcdserverpb.MemberPromoteRequest;
import dev.keel.proto.etcdserverpb.MemberRemoveRequest;
import dev.keel.proto.etcdserverpb.MoveLeaderRequest;
import dev.keel.proto.etcdserverpb.StatusRequest;
import dev.keel.proto.etcdserverpb.StatusResponse;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/** {@link ClusterApi} over etcd's gRPC API (stubs generated from keel-proto's rpc.proto), plaintext. */
public final class GrpcClusterApi implements ClusterApi, AutoCloseable {

    private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
    private final Duration timeout;

    public GrpcClusterApi(Duration timeout) {
        this.timeout = timeout;
    }

    public ManagedChannel channel(String clientUrl) {
        return channels.computeIfAbsent(clientUrl, u -> {
            URI uri = URI.create(u.contains("://") ? u : "http://" + u);
            return NettyChannelBuilder.forAddress(uri.getHost(), uri.getPort()).usePlaintext()
                    .maxInboundMessageSize(8 << 20).build();
        });
    }

    private ClusterGrpc.ClusterBlockingStub cluster(String url) {
        return ClusterGrpc.newBlockingStub(channel(url)).withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    private MaintenanceGrpc.MaintenanceBlockingStub maintenance(String url) {
        return MaintenanceGrpc.newBlockingStub(channel(url))
                .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Tries each URL in turn; an etcd error (not a transport failure) is final. */
    private <T> T first(List<String> urls, String what, Function<String, T> call) {
        if (urls.isEmpty()) {
            throw new ClusterApiException(what + ": no member to send it to");
        }
        StatusRuntimeException last = null;
        for (String url : urls) {
            try {
                return call.apply(url);
            } catch (StatusRuntimeException e) {
                last = e;
                io.grpc.Status.Code code = e.getStatus().getCode();
                if (code != io.grpc.Status.Code.UNAVAILABLE && code != io.grpc.Status.Code.DEADLINE_EXCEEDED) {
                    break;
                }
            }
        }
        throw new ClusterApiException(message(last), last);
    }

    static String message(StatusRuntimeException e) {
        String d = e.getStatus().getDescription();
        return d != null ? d : e.getStatus().getCode().toString();
    }

    private static Member member(dev.keel.proto.etcdserverpb.Member m) {
        return new Member(m.getID(), m.getName(), m.getPeerURLsCount() > 0 ? m.getPeerURLs(0) : "", m.getIsLearner());
    }

    @Override
    public MemberListing memberList(List<String> urls) {
        MemberListResponse r = first(urls, "MemberList",
                u -> cluster(u).memberList(MemberListRequest.newBuilder().setLinearizable(true).build()));
        return new MemberListing(r.getHeader().getClusterId(), r.getMembersList().stream()
                .map(GrpcClusterApi::member).toList());
    }

    @Override
    public Member addLearner(List<String> urls, String peerUrl) {
        MemberAddResponse r = first(urls, "MemberAdd", u -> cluster(u).memberAdd(
                MemberAddRequest.newBuilder().addPeerURLs(peerUrl).setIsLearner(true).build()));
        return member(r.getMember());
    }

    @Override
    public void promote(List<String> urls, long memberId) {
        first(urls, "MemberPromote", u -> cluster(u).memberPromote(
                MemberPromoteRequest.newBuilder().setID(memberId).build()));
    }

    @Override
    public void remove(List<String> urls, long memberId) {
        try {
            first(urls, "MemberRemove", u -> cluster(u).memberRemove(
                    MemberRemoveRequest.newBuilder().setID(memberId).build()));
        } catch (ClusterApiException e) {
            if (!String.valueOf(e.getMessage()).contains("member not found")) { // already gone: done
                throw e;
            }
        }
    }

    @Override
    public MemberHealth status(String url) {
        try {
            StatusResponse r = maintenance(url).status(StatusRequest.getDefaultInstance());
            return new MemberHealth(true, r.getHeader().getMemberId(), r.getLeader(), r.getRaftIndex(),
                    r.getRaftAppliedIndex(), r.getIsLearner(), r.getVersion(), List.copyOf(r.getErrorsList()), null);
        } catch (StatusRuntimeException e) {
            return MemberHealth.unreachable(message(e));
        }
    }

    @Override
    public void moveLeader(String leaderUrl, long targetId) {
        first(List.of(leaderUrl), "MoveLeader", u -> maintenance(u).moveLeader(
                MoveLeaderRequest.newBuilder().setTargetID(targetId).build()));
    }

    @Override
    public void downgrade(List<String> urls, Action.Downgrade.Kind kind, String version) {
        DowngradeRequest.Builder b = DowngradeRequest.newBuilder()
                .setAction(DowngradeRequest.DowngradeAction.valueOf(kind.name()));
        if (version != null) {
            b.setVersion(version);
        }
        first(urls, "Downgrade", u -> maintenance(u).downgrade(b.build()));
    }

    @Override
    public void close() {
        channels.values().forEach(ManagedChannel::shutdownNow);
        channels.clear();
    }
}
