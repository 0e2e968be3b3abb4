package dev.keel.api;

import dev.keel.Main;
import dev.keel.proto.etcdserverpb.AlarmRequest;
import dev.keel.proto.etcdserverpb.AlarmResponse;
import dev.keel.proto.etcdserverpb.DefragmentRequest;
import dev.keel.proto.etcdserverpb.DefragmentResponse;
import dev.keel.proto.etcdserverpb.DowngradeRequest;
import dev.keel.proto.etcdserverpb.DowngradeResponse;
import dev.keel.proto.etcdserverpb.HashKVRequest;
import dev.keel.proto.etcdserverpb.HashKVResponse;
import dev.keel.proto.etcdserverpb.HashRequest;
import dev.keel.proto.etcdserverpb.HashResponse;
import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.MoveLeaderRequest;
import dev.keel.proto.etcdserverpb.MoveLeaderResponse;
import dev.keel.proto.etcdserverpb.StatusRequest;
import dev.keel.proto.etcdserverpb.StatusResponse;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;

/** etcdserverpb.Maintenance over gRPC. Methods not overridden (Snapshot) answer UNIMPLEMENTED. */
@GrpcService
public class MaintenanceService extends MaintenanceGrpc.MaintenanceImplBase {

    @Override
    public void status(StatusRequest request, StreamObserver<StatusResponse> observer) {
        GrpcErrors.replyNow(() -> Main.server().status(), observer);
    }

    @Override
    public void alarm(AlarmRequest request, StreamObserver<AlarmResponse> observer) {
        GrpcErrors.reply(() -> Main.server().maintenance().alarm(request), observer);
    }

    @Override
    public void defragment(DefragmentRequest request, StreamObserver<DefragmentResponse> observer) {
        GrpcErrors.reply(() -> Main.server().maintenance().defragment(), observer);
    }

    @Override
    public void hash(HashRequest request, StreamObserver<HashResponse> observer) {
        GrpcErrors.reply(() -> Main.server().maintenance().hash(), observer);
    }

    @Override
    public void hashKV(HashKVRequest request, StreamObserver<HashKVResponse> observer) {
        GrpcErrors.reply(() -> Main.server().maintenance().hashKv(request), observer);
    }

    @Override
    public void moveLeader(MoveLeaderRequest request, StreamObserver<MoveLeaderResponse> observer) {
        GrpcErrors.reply(() -> Main.server().maintenance().moveLeader(request), observer);
    }

    @Override
    public void downgrade(DowngradeRequest request, StreamObserver<DowngradeResponse> observer) {
        GrpcErrors.reply(() -> Main.server().maintenance().downgrade(request), observer);
    }
}
