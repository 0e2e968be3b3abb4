package dev.keel.e2e;

import com.google.protobuf.ByteString;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.WatchCreateRequest;
import dev.keel.proto.etcdserverpb.WatchGrpc;
import dev.keel.proto.etcdserverpb.WatchRequest;
import dev.keel.proto.etcdserverpb.WatchResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A member stopped (SIGTERM) while clients write and watch: it exits by itself, without an ERROR line or a crash
 * (a put arriving while the store closed used to kill the process in RocksDB), and every write it acknowledged is
 * there after a restart.
 */
class StopIT {

    @TempDir
    Path tmp;

    @Test
    void stopsCleanlyUnderLoadAndKeepsAcknowledgedWrites() throws Exception {
        ServerProcess member = ServerProcess.start(tmp.resolve("m"));
        ManagedChannel ch = NettyChannelBuilder.forTarget(member.endpoint()).usePlaintext().build();
        List<String> acknowledged = java.util.Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        try {
            // an open watch stream, as kube-apiserver keeps
            CountDownLatch created = new CountDownLatch(1);
            WatchGrpc.newStub(ch).watch(new StreamObserver<>() {
                @Override
                public void onNext(WatchResponse r) {
                    created.countDown();
                }

                @Override
                public void onError(Throwable t) {
                }

                @Override
                public void onCompleted() {
                }
            }).onNext(WatchRequest.newBuilder().setCreateRequest(WatchCreateRequest.newBuilder()
                    .setKey(ByteString.copyFromUtf8("k")).setRangeEnd(ByteString.copyFromUtf8("l"))).build());
            assertTrue(created.await(10, TimeUnit.SECONDS), "watch created");

            List<Thread> writers = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                int id = w;
                Thread t = new Thread(() -> {
                    KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(ch);
                    for (int i = 0; i < 100_000 && !stop.get(); i++) {
                        String key = "k" + id + "-" + i;
                        try {
                            kv.withDeadlineAfter(5, TimeUnit.SECONDS).put(PutRequest.newBuilder()
                                    .setKey(ByteString.copyFromUtf8(key)).setValue(ByteString.copyFromUtf8("v"))
                                    .build());
                            acknowledged.add(key);
                        } catch (RuntimeException e) {
                            return; // the member is going away
                        }
                    }
                });
                t.start();
                writers.add(t);
            }
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (acknowledged.size() < 200 && System.nanoTime() < until) {
                Thread.sleep(20);
            }
            assertTrue(acknowledged.size() >= 200, "writes before the stop: " + acknowledged.size());

            member.stop(); // SIGTERM, waits up to 20 s
            stop.set(true);
            for (Thread t : writers) {
                t.join(10_000);
            }
            assertFalse(member.isAlive(), "the member exited");
            // 143: it exited on the SIGTERM by itself (ServerProcess#stop kills it with SIGKILL, 137, after 20 s)
            assertEquals(143, member.exitValue(), "exit status after SIGTERM:\n" + member.logTail());
            String log = Files.readString(tmp.resolve("m").resolveSibling("m.log"), StandardCharsets.UTF_8);
            assertFalse(log.contains("A fatal error has been detected"), "no crash:\n" + member.logTail());
            assertFalse(log.lines().anyMatch(l -> l.contains(" ERROR ")), "no ERROR line:\n" + member.logTail());
        } finally {
            stop.set(true);
            ch.shutdownNow();
        }

        member.restart();
        ManagedChannel ch2 = NettyChannelBuilder.forTarget(member.endpoint()).usePlaintext().build();
        try {
            long count = KVGrpc.newBlockingStub(ch2).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .range(RangeRequest.newBuilder().setKey(ByteString.copyFromUtf8("k"))
                            .setRangeEnd(ByteString.copyFromUtf8("l")).setCountOnly(true).build()).getCount();
            List<String> acked = new ArrayList<>(acknowledged);
            assertTrue(count >= acked.size(), "acknowledged " + acked.size() + ", found " + count);
            for (String key : acked.subList(Math.max(0, acked.size() - 20), acked.size())) {
                assertEquals(1, KVGrpc.newBlockingStub(ch2).range(RangeRequest.newBuilder()
                        .setKey(ByteString.copyFromUtf8(key)).build()).getCount(), key);
            }
        } finally {
            ch2.shutdownNow();
            member.stop();
        }
        assertTrue(member.awaitExit(Duration.ofSeconds(5)));
    }
}
