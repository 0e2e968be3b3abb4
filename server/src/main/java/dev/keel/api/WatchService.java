package dev.keel.api;

import dev.keel.Main;
import dev.keel.proto.etcdserverpb.WatchGrpc;
import dev.keel.proto.etcdserverpb.WatchRequest;
import dev.keel.proto.etcdserverpb.WatchResponse;
import dev.keel.server.WatchSession;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;

/** etcdserverpb.Watch over gRPC: one {@link WatchSession} per stream, drained as the client reads. */
@GrpcService
public class WatchService extends WatchGrpc.WatchImplBase {

    /** Requests parsed as etcd does (nesting limit, grpc-go's error for a request that does not parse). */
    @Override
    public io.grpc.ServerServiceDefinition bindService() {
        return GrpcRequestParsing.apply(super.bindService());
    }

    @Override
    public StreamObserver<WatchRequest> watch(StreamObserver<WatchResponse> responses) {
        ServerCallStreamObserver<WatchResponse> call = (ServerCallStreamObserver<WatchResponse>) responses;
        WatchSession session = Main.server().newWatchSession(CallerInterceptor.current(), new WatchSession.Output() {
            @Override
            public void send(WatchResponse response) {
                call.onNext(response);
            }

            @Override
            public boolean isReady() {
                return call.isReady() && !call.isCancelled();
            }
        });
        call.setOnReadyHandler(session::onReady);
        call.setOnCancelHandler(session::close);
        return new StreamObserver<>() {
            @Override
            public void onNext(WatchRequest request) {
                session.onRequest(request);
            }

            @Override
            public void onError(Throwable t) {
                session.close();
            }

            @Override
            public void onCompleted() {
                session.close();
                call.onCompleted();
            }
        };
    }
}
