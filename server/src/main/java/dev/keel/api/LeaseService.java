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
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;

import java.util.concurrent.CompletableFuture;

/** etcdserverpb.Lease over gRPC. */
@GrpcService
public class LeaseService extends LeaseGrpc.LeaseImplBase {

    @Override
    public void leaseGrant(LeaseGrantRequest request, StreamObserver<LeaseGrantResponse> observer) {
        GrpcErrors.reply(() -> Main.server().leaseGrant(request), observer);
    }

    @Override
    public void leaseRevoke(LeaseRevokeRequest request, StreamObserver<LeaseRevokeResponse> observer) {
        GrpcErrors.reply(() -> Main.server().leaseRevoke(request), observer);
    }

    @Override
    public void leaseTimeToLive(LeaseTimeToLiveRequest request, StreamObserver<LeaseTimeToLiveResponse> observer) {
        GrpcErrors.reply(() -> Main.server().leaseTimeToLive(request), observer);
    }

    @Override
    public void leaseLeases(LeaseLeasesRequest request, StreamObserver<LeaseLeasesResponse> observer) {
        GrpcErrors.replyNow(() -> Main.server().leaseLeases(), observer);
    }

    /**
     * The keep-alive stream: each request renews one lease and gets one response, in request order. A lease that
     * does not exist answers TTL 0; any other failure ends the stream with its status (etcd does the same). The
     * stream ends normally when the client half-closes and the answers so far are sent.
     */
    @Override
    public StreamObserver<LeaseKeepAliveRequest> leaseKeepAlive(StreamObserver<LeaseKeepAliveResponse> observer) {
        return new StreamObserver<>() {
            /** Answers go out one after another: the next renewal starts when the previous answer is sent. */
            private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);
            private boolean done;

            @Override
            public synchronized void onNext(LeaseKeepAliveRequest req) {
                tail = tail.thenCompose(v -> {
                    if (isDone()) {
                        return CompletableFuture.completedFuture(null);
                    }
                    CompletableFuture<LeaseKeepAliveResponse> renewal;
                    try {
                        renewal = Main.server().leaseKeepAlive(req.getID());
                    } catch (RuntimeException e) {
                        renewal = CompletableFuture.failedFuture(e);
                    }
                    return renewal.handle((resp, err) -> {
                        synchronized (this) {
                            if (done) {
                                return null;
                            }
                            if (err != null) {
                                done = true;
                                observer.onError(GrpcErrors.toStatus(err));
                            } else {
                                observer.onNext(resp);
                            }
                        }
                        return null;
                    });
                });
            }

            private synchronized boolean isDone() {
                return done;
            }

            @Override
            public synchronized void onError(Throwable t) {
                done = true; // the client went away: nothing more to send
            }

            @Override
            public synchronized void onCompleted() {
                tail = tail.thenRun(() -> {
                    synchronized (this) {
                        if (!done) {
                            done = true;
                            observer.onCompleted();
                        }
                    }
                });
            }
        };
    }
}
