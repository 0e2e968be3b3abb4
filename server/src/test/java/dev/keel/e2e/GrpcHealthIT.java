package dev.keel.e2e;

import dev.keel.proto.etcdserverpb.AlarmRequest;
import dev.keel.proto.etcdserverpb.AlarmType;
import dev.keel.proto.etcdserverpb.DefragmentRequest;
import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.health.HealthListRequest;
import grpc.health.v1.HealthGrpc;
import grpc.health.v1.HealthOuterClass.HealthCheckRequest;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse.ServingStatus;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * {@code grpc.health.v1.Health} on the client port, driven by grpc-java's generated health stub (the copy Quarkus
 * ships, generated from grpc's health.proto independently of Keel's): the answers etcd's grpc-go health server
 * gives. etcd registers one name, "", SERVING; it goes NOT_SERVING only while a Defragment runs with the
 * StopGRPCServiceOnDefrag feature gate, and not when the member loses its leader or an alarm is raised (those fail
 * /health and /readyz, checked here too).
 */
class GrpcHealthIT {

    @TempDir
    static Path tmp;

    private static final int SERVING = 1;
    private static final int NOT_SERVING = 2;
    private static final int SERVICE_UNKNOWN = 3;

    private static ManagedChannel channel(ServerProcess s) {
        return NettyChannelBuilder.forAddress("127.0.0.1", s.clientPort()).usePlaintext().build();
    }

    private static HealthCheckRequest service(String name) {
        return HealthCheckRequest.newBuilder().setService(name).build();
    }

    /** A Watch stream's messages, in order. */
    private static LinkedBlockingQueue<Object> watch(ManagedChannel ch, String name) {
        LinkedBlockingQueue<Object> q = new LinkedBlockingQueue<>();
        HealthGrpc.newStub(ch).watch(service(name), new StreamObserver<>() {
            @Override
            public void onNext(HealthCheckResponse r) {
                q.add(r.getStatusValue()); // SERVICE_UNKNOWN (3) is newer than this copy of the enum
            }

            @Override
            public void onError(Throwable t) {
                q.add(t);
            }

            @Override
            public void onCompleted() {
                q.add("completed");
            }
        });
        return q;
    }

    @Test
    void checkListAndWatchAnswerAsGrpcGo() throws Exception {
        try (ServerProcess s = ServerProcess.start(tmp.resolve("plain"))) {
            ManagedChannel ch = channel(s);
            try {
                var health = HealthGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS);
                assertEquals(ServingStatus.SERVING, health.check(service("")).getStatus());

                // grpc-go: only registered names; etcd registers "" alone
                for (String unknown : List.of("etcdserverpb.KV", "grpc.health.v1.Health", "nope")) {
                    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                            () -> health.check(service(unknown)), unknown);
                    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode(), unknown);
                    assertEquals("unknown service", e.getStatus().getDescription(), unknown);
                }

                LinkedBlockingQueue<Object> all = watch(ch, "");
                LinkedBlockingQueue<Object> unknown = watch(ch, "etcdserverpb.KV");
                assertEquals(SERVING, all.poll(10, TimeUnit.SECONDS));
                assertEquals(SERVICE_UNKNOWN, unknown.poll(10, TimeUnit.SECONDS));
                // nothing changed: no further message (a Defragment without the gate changes nothing either)
                MaintenanceGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
                        .defragment(DefragmentRequest.getDefaultInstance());
                assertEquals(null, all.poll(500, TimeUnit.MILLISECONDS));
                assertEquals(null, unknown.poll(10, TimeUnit.MILLISECONDS));

                alarmsLeaveGrpcHealthServing(s, ch);

                if (!ServerProcess.isReferenceEtcd()) { // List is newer than etcd 3.4's grpc-go
                    var list = dev.keel.proto.health.HealthGrpc.newBlockingStub(ch)
                            .withDeadlineAfter(10, TimeUnit.SECONDS).list(HealthListRequest.getDefaultInstance());
                    assertEquals(1, list.getStatusesCount(), list.toString());
                    assertEquals(dev.keel.proto.health.HealthCheckResponse.ServingStatus.SERVING,
                            list.getStatusesOrThrow("").getStatus());
                }
            } finally {
                ch.shutdownNow();
            }
        }
    }

    private static HttpResponse<String> get(ServerProcess s, String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(s.url() + path))
                .timeout(java.time.Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void alarm(ManagedChannel ch, AlarmRequest.AlarmAction action, AlarmType type) {
        MaintenanceGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS).alarm(AlarmRequest.newBuilder()
                .setAction(action).setMemberID(12345).setAlarm(type).build());
    }

    /**
     * NOSPACE and CORRUPT alarms fail etcd's /health ("ALARM NOSPACE", unless ?exclude=NOSPACE) and, for CORRUPT,
     * /readyz's data_corruption check; the gRPC health stays SERVING, as etcd's does.
     */
    private static void alarmsLeaveGrpcHealthServing(ServerProcess s, ManagedChannel ch) throws Exception {
        var health = HealthGrpc.newBlockingStub(ch);
        alarm(ch, AlarmRequest.AlarmAction.ACTIVATE, AlarmType.NOSPACE);
        try {
            HttpResponse<String> h = get(s, "/health");
            assertEquals(503, h.statusCode(), h.body());
            assertEquals("{\"health\":\"false\",\"reason\":\"ALARM NOSPACE\"}", h.body().trim());
            HttpResponse<String> excluded = get(s, "/health?exclude=NOSPACE");
            assertEquals(200, excluded.statusCode(), excluded.body());
            assertEquals(ServingStatus.SERVING, health.withDeadlineAfter(10, TimeUnit.SECONDS)
                    .check(service("")).getStatus());
        } finally {
            alarm(ch, AlarmRequest.AlarmAction.DEACTIVATE, AlarmType.NOSPACE);
        }
        alarm(ch, AlarmRequest.AlarmAction.ACTIVATE, AlarmType.CORRUPT);
        try {
            HttpResponse<String> h = get(s, "/health");
            assertEquals(503, h.statusCode(), h.body());
            assertTrue(h.body().contains("\"reason\":\"ALARM CORRUPT\""), h.body());
            if (!ServerProcess.isReferenceEtcd()) { // etcd 3.4 has no /readyz
                HttpResponse<String> ready = get(s, "/readyz?verbose");
                assertEquals(503, ready.statusCode(), ready.body());
                assertTrue(ready.body().contains("[-]data_corruption failed: alarm activated: CORRUPT"), ready.body());
            }
            assertEquals(ServingStatus.SERVING, health.withDeadlineAfter(10, TimeUnit.SECONDS)
                    .check(service("")).getStatus());
        } finally {
            alarm(ch, AlarmRequest.AlarmAction.DEACTIVATE, AlarmType.CORRUPT);
        }
        assertEquals(200, get(s, "/health").statusCode());
    }

    @Test
    void notServingWhileDefragmentingWithTheFeatureGate() throws Exception {
        try (ServerProcess s = ServerProcess.start(tmp.resolve("gate"),
                "--feature-gates=StopGRPCServiceOnDefrag=true")) {
            ManagedChannel ch = channel(s);
            try {
                for (int i = 0; i < 20; i++) {
                    KVGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS).put(PutRequest.newBuilder().setKey(com.google.protobuf.ByteString.copyFromUtf8("k" + i))
                            .setValue(com.google.protobuf.ByteString.copyFromUtf8("v".repeat(100))).build());
                }
                LinkedBlockingQueue<Object> all = watch(ch, "");
                assertEquals(SERVING, all.poll(10, TimeUnit.SECONDS));
                MaintenanceGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
                        .defragment(DefragmentRequest.getDefaultInstance());
                assertEquals(NOT_SERVING, all.poll(10, TimeUnit.SECONDS));
                assertEquals(SERVING, all.poll(10, TimeUnit.SECONDS));
                assertEquals(ServingStatus.SERVING, HealthGrpc.newBlockingStub(ch)
                        .withDeadlineAfter(10, TimeUnit.SECONDS).check(service("")).getStatus());
            } finally {
                ch.shutdownNow();
            }
        }
    }

    /**
     * Without a leader etcd's gRPC health stays SERVING (etcd's /health reports the leader). Keel only: etcd does
     * not serve clients before its member has first published itself through a leader.
     */
    @Test
    void servingWithoutLeaderWhileHttpHealthFails() throws Exception {
        assumeFalse(ServerProcess.isReferenceEtcd(), "etcd serves no client before it has had a leader");
        try (ServerProcess s = ServerProcess.startWithoutQuorum(tmp.resolve("noquorum"))) {
            ManagedChannel ch = channel(s);
            try {
                HttpResponse<String> h = HttpClient.newHttpClient().send(
                        HttpRequest.newBuilder(URI.create(s.url() + "/health"))
                                .timeout(java.time.Duration.ofSeconds(60)).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(503, h.statusCode(), h.body());
                assertTrue(h.body().contains("\"health\":\"false\""), h.body());
                HealthCheckResponse r = HealthGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
                        .check(service(""));
                assertNotNull(r);
                assertEquals(ServingStatus.SERVING, r.getStatus());
            } finally {
                ch.shutdownNow();
            }
        }
    }
}
