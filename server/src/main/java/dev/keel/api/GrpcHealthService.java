package dev.keel.api;

import dev.keel.proto.health.HealthCheckRequest;
import dev.keel.proto.health.HealthCheckResponse;
import dev.keel.proto.health.HealthCheckResponse.ServingStatus;
import dev.keel.proto.health.HealthGrpc;
import dev.keel.proto.health.HealthListRequest;
import dev.keel.proto.health.HealthListResponse;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;
import org.jboss.logging.Logger;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@code grpc.health.v1.Health} on the client port, as etcd serves it (grpc-go's health server, set up by etcd's
 * {@code v3rpc/health.go}): one service name, {@code ""} (all services), SERVING once the member serves clients;
 * it turns NOT_SERVING only while a Defragment runs with the {@code StopGRPCServiceOnDefrag} feature gate on.
 * Leader loss and alarms do not change it (etcd reports those through {@code /health} and {@code /readyz}).
 *
 * <p>grpc-go's answers: Check of an unregistered name fails with NOT_FOUND "unknown service"; List returns every
 * registered name; Watch sends the current status at once (SERVICE_UNKNOWN for an unregistered name, then
 * whatever the name is later set to) and then every change, never the same status twice in a row.
 */
@GrpcService
public class GrpcHealthService extends HealthGrpc.HealthImplBase {

    private static final Logger LOG = Logger.getLogger(GrpcHealthService.class);

    /** etcd's allGRPCServices. */
    public static final String ALL_SERVICES = "";

    /** grpc-go's maxAllowedServices for List. */
    private static final int MAX_LISTED = 100;

    private static final Map<String, ServingStatus> STATUSES = new ConcurrentHashMap<>(
            Map.of(ALL_SERVICES, ServingStatus.SERVING));
    private static final Set<Watcher> WATCHERS = ConcurrentHashMap.newKeySet();

    /** One Watch stream: sends a status when it differs from the last one sent. */
    private static final class Watcher {
        final String service;
        final ServerCallStreamObserver<HealthCheckResponse> call;
        ServingStatus last; // guarded by this

        Watcher(String service, ServerCallStreamObserver<HealthCheckResponse> call) {
            this.service = service;
            this.call = call;
        }

        synchronized void send(ServingStatus s) {
            if (s == last || call.isCancelled()) {
                return;
            }
            last = s;
            try {
                call.onNext(HealthCheckResponse.newBuilder().setStatus(s).build());
            } catch (RuntimeException e) {
                WATCHERS.remove(this); // the stream has ended
            }
        }
    }

    /** Sets the status of a service name (etcd: healthNotifier.startServe/stopServe) and tells its watchers. */
    public static void setStatus(String service, ServingStatus status, String reason) {
        ServingStatus old = STATUSES.put(service, status);
        if (old != status) {
            if (status == ServingStatus.SERVING) {
                LOG.infof("grpc service status changed: service=\"%s\" status=%s", service, status);
            } else {
                LOG.warnf("grpc service status changed: service=\"%s\" status=%s reason=%s", service, status, reason);
            }
        }
        for (Watcher w : WATCHERS) {
            if (w.service.equals(service)) {
                w.send(status);
            }
        }
    }

    /** The current status of a service name, null if it is not registered. */
    public static ServingStatus status(String service) {
        return STATUSES.get(service);
    }

    @Override
    public void check(HealthCheckRequest request, StreamObserver<HealthCheckResponse> observer) {
        ServingStatus s = STATUSES.get(request.getService());
        if (s == null) {
            observer.onError(Status.NOT_FOUND.withDescription("unknown service").asRuntimeException());
            return;
        }
        observer.onNext(HealthCheckResponse.newBuilder().setStatus(s).build());
        observer.onCompleted();
    }

    @Override
    public void list(HealthListRequest request, StreamObserver<HealthListResponse> observer) {
        Map<String, ServingStatus> now = new TreeMap<>(STATUSES);
        if (now.size() > MAX_LISTED) {
            observer.onError(Status.RESOURCE_EXHAUSTED
                    .withDescription("server health list exceeds maximum capacity: " + MAX_LISTED)
                    .asRuntimeException());
            return;
        }
        HealthListResponse.Builder b = HealthListResponse.newBuilder();
        now.forEach((name, s) -> b.putStatuses(name, HealthCheckResponse.newBuilder().setStatus(s).build()));
        observer.onNext(b.build());
        observer.onCompleted();
    }

    @Override
    public void watch(HealthCheckRequest request, StreamObserver<HealthCheckResponse> observer) {
        var call = (ServerCallStreamObserver<HealthCheckResponse>) observer;
        Watcher w = new Watcher(request.getService(), call);
        call.setOnCancelHandler(() -> WATCHERS.remove(w));
        WATCHERS.add(w);
        ServingStatus s = STATUSES.get(w.service);
        w.send(s == null ? ServingStatus.SERVICE_UNKNOWN : s);
        // a change between the read above and the registration is sent by setStatus (a later read wins)
        ServingStatus again = STATUSES.get(w.service);
        if (again != null) {
            w.send(again);
        }
    }
}
