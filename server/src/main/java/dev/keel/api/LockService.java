package dev.keel.api;

import dev.keel.Main;
import dev.keel.proto.v3lockpb.LockGrpc;
import dev.keel.proto.v3lockpb.LockRequest;
import dev.keel.proto.v3lockpb.LockResponse;
import dev.keel.proto.v3lockpb.UnlockRequest;
import dev.keel.proto.v3lockpb.UnlockResponse;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;

/** v3lockpb.Lock over gRPC. */
@GrpcService
public class LockService extends LockGrpc.LockImplBase {

    /** Requests parsed as etcd does (nesting limit, grpc-go's error for a request that does not parse). */
    @Override
    public io.grpc.ServerServiceDefinition bindService() {
        return GrpcRequestParsing.apply(super.bindService());
    }

    @Override
    public void lock(LockRequest request, StreamObserver<LockResponse> observer) {
        var cancelled = GrpcErrors.cancellation(observer);
        GrpcErrors.reply(() -> {
            Main.server().auth().checkRecipe(CallerInterceptor.current(), request.getName(), true);
            return Main.server().locks().lock(request, cancelled);
        }, observer);
    }

    @Override
    public void unlock(UnlockRequest request, StreamObserver<UnlockResponse> observer) {
        GrpcErrors.reply(() -> {
            Main.server().auth().checkRecipeKey(CallerInterceptor.current(), request.getKey());
            return Main.server().locks().unlock(request);
        }, observer);
    }
}
