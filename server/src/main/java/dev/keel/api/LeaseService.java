package dev.keel.api;

import dev.keel.Main;
import dev.keel.proto.etcdserverpb.LeaseGrantRequest;
import dev.keel.proto.etcdserverpb.LeaseGrantResponse;
import dev.keel.proto.etcdserverpb.LeaseGrpc;
import dev.keel.proto.etcdserverpb.LeaseKeepAliveRequest;
import dev.keel.proto.etcdserverpb.LeaseKeepAliveResponse;
import dev.keel.proto.etcdserverpb.LeaseLeasesRequest;
import dev.keel.proto.etcdserverpb.LeaseLeasesResponse;
import dev.keel.proto.etcdserverpb.LeaseRevokeRequest;
import dev.keel.proto.etcdserverpb.LeaseRevokeResponse;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveRequest;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveResponse;
import dev.keel.server.KeepAliveSession;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;


/** etcdserverpb.Lease over gRPC. */
@GrpcService
public class LeaseService extends LeaseGrpc.LeaseImplBase {

    /** Requests parsed as etcd does (nesting limit, grpc-go's error for a request that does not parse). */
    @Override
    public io.grpc.ServerServiceDefinition bindService() {
        return GrpcRequestParsing.apply(super.bindService());
    }

    @Override
    public void leaseGrant(LeaseGrantRequest request, StreamObserver<LeaseGrantResponse> observer) {
        GrpcErrors.reply(() -> Main.server().leaseGrant(CallerInterceptor.current(), request), observer);
    }

    @Override
    public void leaseRevoke(LeaseRevokeRequest request, StreamObserver<LeaseRevokeResponse> observer) {
        GrpcErrors.reply(() -> Main.server().leaseRevoke(CallerInterceptor.current(), request), observer);
    }

    @Override
    public void leaseTimeToLive(LeaseTimeToLiveRequest request, StreamObserver<LeaseTimeToLiveResponse> observer) {
        GrpcErrors.reply(() -> Main.server().leaseTimeToLive(CallerInterceptor.current(), request), observer);
    }

    @Override
    public void leaseLeases(LeaseLeasesRequest request, StreamObserver<LeaseLeasesResponse> observer) {
        GrpcErrors.replyNow(() -> Main.server().leaseLeases(CallerInterceptor.current()), observer);
    }

    /** The keep-alive stream: see {@link KeepAliveSession}. */
    @Override
    public StreamObserver<LeaseKeepAliveRequest> leaseKeepAlive(StreamObserver<LeaseKeepAliveResponse> observer) {
        KeepAliveSession session = Main.server().newKeepAliveSession(CallerInterceptor.current(), new KeepAliveSession.Output() {
            @Override
            public void send(LeaseKeepAliveResponse response) {
                observer.onNext(response);
            }

            @Override
            public void fail(Throwable error) {
                observer.onError(GrpcErrors.toStatus(error));
            }

            @Override
            public void end() {
                observer.onCompleted();
            }
        });
        return new StreamObserver<>() {
            @Override
            public void onNext(LeaseKeepAliveRequest req) {
                session.onRequest(req.getID());
            }

            @Override
            public void onError(Throwable t) {
                session.cancel();
            }

            @Override
            public void onCompleted() {
                session.onRequestsEnd();
            }
        };
    }
}
