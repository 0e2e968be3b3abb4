package dev.keel.api;

import dev.keel.Main;
import dev.keel.proto.etcdserverpb.ClusterGrpc;
import dev.keel.proto.etcdserverpb.MemberListRequest;
import dev.keel.proto.etcdserverpb.MemberListResponse;
import dev.keel.server.EtcdServer;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;

/** etcdserverpb.Cluster over gRPC. Membership changes answer UNIMPLEMENTED until the cluster work lands. */
@GrpcService
public class ClusterService extends ClusterGrpc.ClusterImplBase {

    @Override
    public void memberList(MemberListRequest request, StreamObserver<MemberListResponse> observer) {
        GrpcErrors.replyNow(() -> memberList(Main.server()), observer);
    }

    /** The answer to MemberList, over gRPC and the JSON gateway. */
    static MemberListResponse memberList(EtcdServer s) {
        return MemberListResponse.newBuilder().setHeader(s.header(0)).addAllMembers(s.members()).build();
    }
}
