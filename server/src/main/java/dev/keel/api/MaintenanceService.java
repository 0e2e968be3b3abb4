package dev.keel.api;

import dev.keel.Main;
import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.StatusRequest;
import dev.keel.proto.etcdserverpb.StatusResponse;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;

/** etcdserverpb.Maintenance over gRPC. Methods not overridden answer UNIMPLEMENTED. */
@GrpcService
public class MaintenanceService extends MaintenanceGrpc.MaintenanceImplBase {

    @Override
    public void status(StatusRequest request, StreamObserver<StatusResponse> observer) {
        GrpcErrors.replyNow(() -> Main.server().status(), observer);
    }
}
