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
import dev.keel.proto.etcdserverpb.SnapshotRequest;
import dev.keel.proto.etcdserverpb.SnapshotResponse;
import dev.keel.server.SnapshotStream;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** etcdserverpb.Maintenance over gRPC. */
@GrpcService
public class MaintenanceService extends MaintenanceGrpc.MaintenanceImplBase {

    /** Requests parsed as etcd does (nesting limit, grpc-go's error for a request that does not parse). */
    @Override
    public io.grpc.ServerServiceDefinition bindService() {
        return GrpcRequestParsing.apply(super.bindService());
    }

    /** Threads that read snapshot views and send their chunks (never the event loop, never the apply thread). */
    private static final ExecutorService SNAPSHOT_SENDERS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "snapshot-sender");
        t.setDaemon(true);
        return t;
    });

    /**
     * Maintenance.Snapshot: sends the server's {@link SnapshotStream} as fast as the client takes it (gRPC flow
     * control: a message only while the call is ready), and releases the snapshot when done or cancelled.
     */
    @Override
    public void snapshot(SnapshotRequest request, StreamObserver<SnapshotResponse> observer) {
        try {
            Main.server().auth().checkAdmin(CallerInterceptor.current());
        } catch (RuntimeException e) {
            observer.onError(GrpcErrors.toStatus(e));
            return;
        }
        new SnapshotPump((ServerCallStreamObserver<SnapshotResponse>) observer).start();
    }

    private static final class SnapshotPump {
        private final ServerCallStreamObserver<SnapshotResponse> call;
        private final java.util.concurrent.atomic.AtomicBoolean scheduled =
                new java.util.concurrent.atomic.AtomicBoolean();
        private SnapshotStream stream; // guarded by this
        private boolean done;          // guarded by this
        private volatile boolean cancelled;

        SnapshotPump(ServerCallStreamObserver<SnapshotResponse> call) {
            this.call = call;
        }

        void start() {
            // never block the transport's thread: the sender thread releases the snapshot
            call.setOnCancelHandler(() -> {
                cancelled = true;
                schedule();
            });
            call.setOnReadyHandler(this::schedule);
            schedule();
        }

        private void schedule() {
            if (scheduled.compareAndSet(false, true)) {
                SNAPSHOT_SENDERS.execute(this::drain);
            }
        }

        private void drain() {
            synchronized (this) {
                try {
                    if (cancelled) {
                        finish();
                    }
                    if (!done && stream == null) {
                        stream = Main.server().maintenance().snapshot();
                    }
                    while (!done && !cancelled && call.isReady()) {
                        SnapshotResponse next = stream.next();
                        if (next == null) {
                            call.onCompleted();
                            finish();
                            break;
                        }
                        call.onNext(next);
                    }
                } catch (RuntimeException e) {
                    if (!done && !cancelled) {
                        call.onError(GrpcErrors.toStatus(e));
                    }
                    finish();
                }
            }
            scheduled.set(false);
            // the call may have become ready between the last isReady() and the reset: do not miss it
            synchronized (this) {
                if (!done && (cancelled || call.isReady())) {
                    schedule();
                }
            }
        }

        private synchronized void finish() {
            done = true;
            if (stream != null) {
                stream.close();
            }
        }
    }

    @Override
    public void status(StatusRequest request, StreamObserver<StatusResponse> observer) {
        GrpcErrors.replyNow(() -> {
            Main.server().auth().checkAuthenticated(CallerInterceptor.current());
            return Main.server().status();
        }, observer);
    }

    @Override
    public void alarm(AlarmRequest request, StreamObserver<AlarmResponse> observer) {
        GrpcErrors.reply(() -> {
            checkAlarm(request);
            return Main.server().maintenance().alarm(request);
        }, observer);
    }

    @Override
    public void defragment(DefragmentRequest request, StreamObserver<DefragmentResponse> observer) {
        GrpcErrors.reply(() -> {
            admin();
            // etcd's healthNotifier: NOT_SERVING while defragmenting with StopGRPCServiceOnDefrag, SERVING after
            if (Boolean.TRUE.equals(Main.server().config().featureGates().get("StopGRPCServiceOnDefrag"))) {
                GrpcHealthService.setStatus(GrpcHealthService.ALL_SERVICES,
                        dev.keel.proto.health.HealthCheckResponse.ServingStatus.NOT_SERVING, "defrag is active");
            }
            return Main.server().maintenance().defragment().whenComplete((r, e) -> GrpcHealthService.setStatus(
                    GrpcHealthService.ALL_SERVICES, dev.keel.proto.health.HealthCheckResponse.ServingStatus.SERVING,
                    null));
        }, observer);
    }

    @Override
    public void hash(HashRequest request, StreamObserver<HashResponse> observer) {
        GrpcErrors.reply(() -> {
            admin();
            return Main.server().maintenance().hash();
        }, observer);
    }

    @Override
    public void hashKV(HashKVRequest request, StreamObserver<HashKVResponse> observer) {
        GrpcErrors.reply(() -> {
            admin();
            return Main.server().maintenance().hashKv(request);
        }, observer);
    }

    @Override
    public void moveLeader(MoveLeaderRequest request, StreamObserver<MoveLeaderResponse> observer) {
        GrpcErrors.reply(() -> {
            admin();
            return Main.server().maintenance().moveLeader(request);
        }, observer);
    }

    @Override
    public void downgrade(DowngradeRequest request, StreamObserver<DowngradeResponse> observer) {
        GrpcErrors.reply(() -> {
            admin();
            return Main.server().maintenance().downgrade(request);
        }, observer);
    }

    /** Root only while auth is on (etcd's authMaintenanceServer). */
    private static void admin() {
        Main.server().auth().checkAdmin(CallerInterceptor.current());
    }

    /** Listing alarms needs a user; raising or clearing them needs root. */
    static void checkAlarm(AlarmRequest r) {
        if (r.getAction() == AlarmRequest.AlarmAction.GET) {
            Main.server().auth().checkAuthenticated(CallerInterceptor.current());
        } else {
            admin();
        }
    }
}
