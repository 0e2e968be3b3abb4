package dev.keel.e2e;

import com.google.protobuf.ByteString;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.PutResponse;
import dev.keel.proto.etcdserverpb.WatchCreateRequest;
import dev.keel.proto.etcdserverpb.WatchResponse;
import dev.keel.proto.mvccpb.Event;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.WatchOption;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/** Watch under restarts and at scale. */
class WatchScaleIT {

    @TempDir
    Path tmp;

    private static ByteSequence bs(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    /**
     * A watcher from revision R while writers run: the server restarts in the middle; jetcd re-watches from its
     * last revision + 1. Every event after R arrives exactly once, in revision order.
     */
    @Test
    void everyEventOnceAndInOrderAcrossARestart() throws Exception {
        try (ServerProcess server = ServerProcess.start(tmp.resolve("restart.etcd"));
             Client client = Client.builder().endpoints(server.url()).build()) {
            KV kv = client.getKVClient();
            long r = kv.put(bs("rs/start"), bs("0")).get(10, TimeUnit.SECONDS).getHeader().getRevision();
            List<Long> seen = new CopyOnWriteArrayList<>();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger acked = new AtomicInteger();
            try (Watch.Watcher w = client.getWatchClient().watch(bs("rs/"),
                    WatchOption.builder().isPrefix(true).withRevision(r + 1).build(),
                    resp -> resp.getEvents().forEach(e -> seen.add(e.getKeyValue().getModRevision())))) {
                Thread writer = new Thread(() -> {
                    for (int i = 0; !stop.get(); i++) {
                        try {
                            kv.put(bs("rs/k" + i), bs("v" + i)).get(10, TimeUnit.SECONDS);
                            acked.incrementAndGet();
                        } catch (Exception e) {
                            // the server is restarting; this write may or may not have landed
                        }
                    }
                });
                writer.start();
                awaitAtLeast(acked, 200);
                server.restart();
                int before = acked.get();
                awaitAtLeast(acked, before + 200);
                stop.set(true);
                writer.join(30_000);
                GetResponse all = kv.get(bs("rs/k"), GetOption.builder().isPrefix(true).build()).get(10, TimeUnit.SECONDS);
                List<Long> expected = all.getKvs().stream().map(io.etcd.jetcd.KeyValue::getModRevision).sorted().toList();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (seen.size() < expected.size() && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                assertEquals(expected, new ArrayList<>(seen), "every event once, in order");
                for (int i = 1; i < expected.size(); i++) {
                    assertEquals(expected.get(i - 1) + 1, expected.get(i), "one put per revision, no gaps");
                }
                assertTrue(expected.size() >= 400);
            }
        }
    }

    private static void awaitAtLeast(AtomicInteger n, int target) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (n.get() < target) {
            assertTrue(System.nanoTime() < deadline, "writes stalled at " + n.get());
            Thread.sleep(20);
        }
    }

    /**
     * 10,000 watchers on the keys being written, plus one stream that watches everything and never reads.
     * Writes must all succeed, every live watcher gets its event, and the write rate is reported next to the
     * rate without watchers (a measurement, not an assertion: timing belongs in benchmarks).
     */
    @Test
    void tenThousandWatchersAndAStuckConsumer() throws Exception {
        int watchers = 10_000;
        int streams = 10;
        int puts = 3000;
        try (ServerProcess server = ServerProcess.start(tmp.resolve("scale.etcd"))) {
            ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort()).usePlaintext().build();
            ManagedChannel stuckCh = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort()).usePlaintext()
                    .flowControlWindow(64 * 1024).build();
            try {
                putRate(ch, "warm/", puts); // JIT warm-up, so the two rates compare like with like
                double baseline = putRate(ch, "base/", puts);
                List<WatchIT.RawStream> live = new ArrayList<>();
                for (int s = 0; s < streams; s++) {
                    live.add(new WatchIT.RawStream(ch));
                }
                for (int i = 0; i < watchers; i++) {
                    live.get(i % streams).create(WatchCreateRequest.newBuilder().setKey(ByteString.copyFromUtf8("load/" + i)));
                }
                int created = 0;
                for (WatchIT.RawStream s : live) {
                    for (int i = 0; i < watchers / streams; i++) {
                        assertTrue(s.next().getCreated());
                        created++;
                    }
                }
                assertEquals(watchers, created);
                try (WatchIT.RawStream stuck = new WatchIT.RawStream(stuckCh, true)) {
                    stuck.create(WatchIT.prefix("load/"));
                    assertTrue(stuck.next().getCreated()); // the one response it asked for; it reads no more
                    double loaded = putRate(ch, "load/", puts);
                    int events = 0;
                    for (WatchIT.RawStream s : live) {
                        WatchResponse r;
                        while ((r = s.next(2000)) != null) {
                            for (Event e : r.getEventsList()) {
                                assertEquals(Event.EventType.PUT, e.getType());
                                events++;
                            }
                        }
                    }
                    assertEquals(puts, events, "each put reaches the one watcher of its key");
                    System.out.printf("WatchScaleIT: %d puts/s without watchers, %d puts/s with %d watchers and a "
                            + "stuck consumer (ratio %.2f)%n", (long) baseline, (long) loaded, watchers, loaded / baseline);
                }
                for (WatchIT.RawStream s : live) {
                    s.close();
                }
            } finally {
                ch.shutdownNow();
                stuckCh.shutdownNow();
            }
        }
    }

    /** Puts {@code n} distinct keys with 32 in flight; returns puts per second. */
    private static double putRate(ManagedChannel ch, String prefix, int n) throws Exception {
        KVGrpc.KVFutureStub kv = KVGrpc.newFutureStub(ch);
        Semaphore inFlight = new Semaphore(32);
        List<CompletableFuture<PutResponse>> all = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            inFlight.acquire();
            CompletableFuture<PutResponse> f = new CompletableFuture<>();
            var g = kv.withDeadlineAfter(30, TimeUnit.SECONDS).put(PutRequest.newBuilder()
                    .setKey(ByteString.copyFromUtf8(prefix + i)).setValue(ByteString.copyFromUtf8("v" + i)).build());
            g.addListener(() -> {
                inFlight.release();
                try {
                    f.complete(g.get());
                } catch (Exception e) {
                    f.completeExceptionally(e);
                }
            }, Runnable::run);
            all.add(f);
        }
        for (CompletableFuture<PutResponse> f : all) {
            assertTrue(f.get(60, TimeUnit.SECONDS).getHeader().getRevision() > 0);
        }
        return n / ((System.nanoTime() - t0) / 1e9);
    }
}
