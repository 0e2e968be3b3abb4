package dev.keel.e2e;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import dev.keel.proto.etcdserverpb.Compare;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RangeResponse;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.TxnRequest;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 11's fuzz test: generated and mutated requests (valid ones with bytes flipped, truncated, spliced, pure
 * noise) over gRPC (Range, Put, DeleteRange, Txn) and the JSON gateway against one member. Every request must get an
 * answer (a gRPC status or an HTTP status, never a hang), the member must stay up and live, and nothing written before
 * may be lost. {@code -Dkeel.fuzz.requests=N} (default 10,000; the opt-in long run uses 100,000) and
 * {@code -Dkeel.fuzz.seed=S} reproduce a run.
 */
class FuzzIT {

    @TempDir
    static Path tmp;

    private static final int REQUESTS = Integer.getInteger("keel.fuzz.requests", 10_000);
    private static final long SEED = Long.getLong("keel.fuzz.seed", System.nanoTime());

    static ByteString bs(String s) {
        return ByteString.copyFromUtf8(s);
    }

    @Test
    void memberSurvivesMalformedAndMutatedRequests() throws Exception {
        Random rnd = new Random(SEED);
        try (ServerProcess server = ServerProcess.start(tmp.resolve("fuzz"))) {
            ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort()).usePlaintext().build();
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(10)).build();
            try {
                KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(ch).withDeadlineAfter(20, TimeUnit.SECONDS);
                // written before: must survive (checked at this revision afterwards; no compaction is sent)
                for (int i = 0; i < 50; i++) {
                    kv.put(PutRequest.newBuilder().setKey(bs("canary/" + i)).setValue(bs("v" + i)).build());
                }
                long before = kv.range(RangeRequest.newBuilder().setKey(bs("canary/")).setRangeEnd(bs("canary0"))
                        .build()).getHeader().getRevision();

                List<MethodDescriptor<byte[], byte[]>> methods = List.of(raw(KVGrpc.getRangeMethod()),
                        raw(KVGrpc.getPutMethod()), raw(KVGrpc.getDeleteRangeMethod()), raw(KVGrpc.getTxnMethod()));
                List<byte[]> seeds = seeds();
                Map<Status.Code, AtomicInteger> codes = new EnumMap<>(Status.Code.class);
                Map<Integer, AtomicInteger> httpCodes = new ConcurrentHashMap<>();
                Semaphore inFlight = new Semaphore(16);
                AtomicLong unanswered = new AtomicLong();
                List<CompletableFuture<Void>> all = new ArrayList<>();
                for (int n = 0; n < REQUESTS; n++) {
                    inFlight.acquire();
                    CompletableFuture<Void> done = new CompletableFuture<>();
                    done.whenComplete((v, e) -> inFlight.release());
                    all.add(done);
                    if (n % 5 == 4) { // a fifth through the gateway
                        String path = List.of("/v3/kv/range", "/v3/kv/put", "/v3/kv/deleterange", "/v3/kv/txn")
                                .get(rnd.nextInt(4));
                        http.sendAsync(HttpRequest.newBuilder(URI.create(server.url() + path))
                                        .timeout(Duration.ofSeconds(30))
                                        .POST(HttpRequest.BodyPublishers.ofString(json(rnd, seeds)))
                                        .header("Content-Type", "application/json").build(),
                                HttpResponse.BodyHandlers.discarding())
                                .whenComplete((r, e) -> {
                                    if (e != null) {
                                        unanswered.incrementAndGet();
                                    } else {
                                        httpCodes.computeIfAbsent(r.statusCode(), c -> new AtomicInteger())
                                                .incrementAndGet();
                                    }
                                    done.complete(null);
                                });
                        continue;
                    }
                    byte[] body = mutate(rnd, seeds);
                    MethodDescriptor<byte[], byte[]> m = methods.get(rnd.nextInt(methods.size()));
                    var call = ch.newCall(m, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS));
                    ClientCalls.asyncUnaryCall(call, body, new io.grpc.stub.StreamObserver<>() {
                        @Override
                        public void onNext(byte[] value) {
                        }

                        @Override
                        public void onError(Throwable t) {
                            Status s = Status.fromThrowable(t);
                            synchronized (codes) {
                                codes.computeIfAbsent(s.getCode(), c -> new AtomicInteger()).incrementAndGet();
                            }
                            if (s.getCode() == Status.Code.DEADLINE_EXCEEDED || s.getCode() == Status.Code.CANCELLED) {
                                unanswered.incrementAndGet();
                            }
                            done.complete(null);
                        }

                        @Override
                        public void onCompleted() {
                            synchronized (codes) {
                                codes.computeIfAbsent(Status.Code.OK, c -> new AtomicInteger()).incrementAndGet();
                            }
                            done.complete(null);
                        }
                    });
                }
                CompletableFuture.allOf(all.toArray(new CompletableFuture[0]))
                        .get(Math.max(5, REQUESTS / 2_000), TimeUnit.MINUTES);
                System.out.printf("fuzz: seed %d, %d requests, gRPC %s, HTTP %s, unanswered %d%n", SEED, REQUESTS,
                        codes, httpCodes, unanswered.get());
                assertEquals(0, unanswered.get(), "requests without an answer (seed " + SEED + ")");
                assertTrue(server.isAlive(), "the member exited (seed " + SEED + ")\n" + server.logTail());

                // still serving, live, and nothing written before is lost
                kv = KVGrpc.newBlockingStub(ch).withDeadlineAfter(20, TimeUnit.SECONDS);
                kv.put(PutRequest.newBuilder().setKey(bs("after")).setValue(bs("v")).build());
                RangeResponse canaries = kv.range(RangeRequest.newBuilder().setKey(bs("canary/"))
                        .setRangeEnd(bs("canary0")).setRevision(before).build());
                assertEquals(50, canaries.getCount(), "seed " + SEED);
                for (var e : canaries.getKvsList()) {
                    assertEquals("v" + e.getKey().toStringUtf8().substring("canary/".length()),
                            e.getValue().toStringUtf8());
                }
                for (String p : List.of("/livez", "/readyz", "/q/health/live")) {
                    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(server.url() + p)).build(),
                            HttpResponse.BodyHandlers.ofString());
                    assertEquals(200, r.statusCode(), p + ": " + r.body());
                }
            } finally {
                ch.shutdownNow();
            }
        }
    }

    static MethodDescriptor<byte[], byte[]> raw(MethodDescriptor<?, ?> m) {
        MethodDescriptor.Marshaller<byte[]> bytes = RawBytes.MARSHALLER;
        return m.toBuilder(bytes, bytes).build();
    }

    /** Valid requests to mutate: the shapes that reach the validator and the applier. */
    static List<byte[]> seeds() {
        ByteString zero = ByteString.copyFrom(new byte[]{0});
        List<Message> m = new ArrayList<>();
        m.add(PutRequest.newBuilder().setKey(bs("fuzz/a")).setValue(bs("1")).setPrevKv(true).build());
        m.add(PutRequest.newBuilder().setKey(bs("fuzz/b")).setIgnoreValue(true).build());
        m.add(RangeRequest.newBuilder().setKey(bs("fuzz/")).setRangeEnd(zero).setLimit(3)
                .setSortOrder(RangeRequest.SortOrder.DESCEND).build());
        m.add(DeleteRangeRequest.newBuilder().setKey(bs("fuzz/")).setRangeEnd(bs("fuzz0")).setPrevKv(true).build());
        m.add(TxnRequest.newBuilder()
                .addCompare(Compare.newBuilder().setKey(bs("fuzz/a")).setTarget(Compare.CompareTarget.VERSION)
                        .setResult(Compare.CompareResult.GREATER).setVersion(0))
                .addSuccess(RequestOp.newBuilder().setRequestDeleteRange(DeleteRangeRequest.newBuilder()
                        .setKey(bs("fuzz/a")).setRangeEnd(zero)))
                .addSuccess(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(bs("fuzz/c"))
                        .setIgnoreLease(true)))
                .addFailure(RequestOp.newBuilder().setRequestTxn(TxnRequest.newBuilder()
                        .addSuccess(RequestOp.newBuilder().setRequestRange(RangeRequest.newBuilder()
                                .setKey(bs("fuzz/")).setRangeEnd(zero)))))
                .build());
        List<byte[]> out = new ArrayList<>();
        for (Message x : m) {
            out.add(x.toByteArray());
        }
        return out;
    }

    /** A mutated request: bytes flipped, inserted, removed, truncated, two seeds spliced, or noise. */
    static byte[] mutate(Random rnd, List<byte[]> seeds) {
        byte[] b = seeds.get(rnd.nextInt(seeds.size())).clone();
        switch (rnd.nextInt(6)) {
            case 0 -> {
                for (int i = 0, n = 1 + rnd.nextInt(4); i < n && b.length > 0; i++) {
                    b[rnd.nextInt(b.length)] ^= (byte) (1 << rnd.nextInt(8));
                }
            }
            case 1 -> b = java.util.Arrays.copyOf(b, rnd.nextInt(b.length + 1));
            case 2 -> {
                int at = rnd.nextInt(b.length + 1);
                byte[] ins = new byte[1 + rnd.nextInt(8)];
                rnd.nextBytes(ins);
                byte[] o = new byte[b.length + ins.length];
                System.arraycopy(b, 0, o, 0, at);
                System.arraycopy(ins, 0, o, at, ins.length);
                System.arraycopy(b, at, o, at + ins.length, b.length - at);
                b = o;
            }
            case 3 -> {
                byte[] other = seeds.get(rnd.nextInt(seeds.size()));
                int cut = rnd.nextInt(b.length + 1);
                int from = rnd.nextInt(other.length + 1);
                byte[] o = new byte[cut + other.length - from];
                System.arraycopy(b, 0, o, 0, cut);
                System.arraycopy(other, from, o, cut, other.length - from);
                b = o;
            }
            case 4 -> {
                b = new byte[rnd.nextInt(64)];
                rnd.nextBytes(b);
            }
            default -> {
                if (b.length > 0) {
                    b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
                }
            }
        }
        return b;
    }

    /** A gateway body: a seed as JSON with characters mutated, or noise. */
    static String json(Random rnd, List<byte[]> seeds) {
        String[] shapes = {
            "{\"key\":\"ZnV6ei9h\",\"value\":\"MQ==\"}",
            "{\"key\":\"ZnV6ei8=\",\"range_end\":\"AA==\",\"limit\":\"3\",\"sort_order\":\"DESCEND\"}",
            "{\"success\":[{\"request_delete_range\":{\"key\":\"YQ==\",\"range_end\":\"AA==\"}},"
                + "{\"request_put\":{\"key\":\"Yg==\",\"ignore_value\":true}}]}",
            "{\"compare\":[{\"key\":\"ZnV6ei9h\",\"target\":\"VERSION\",\"result\":\"GREATER\"}],\"success\":[]}",
        };
        StringBuilder s = new StringBuilder(shapes[rnd.nextInt(shapes.length)]);
        if (rnd.nextInt(8) == 0) {
            return Base64.getEncoder().encodeToString(mutate(rnd, seeds));
        }
        for (int i = 0, n = rnd.nextInt(4); i < n && s.length() > 0; i++) {
            int at = rnd.nextInt(s.length());
            switch (rnd.nextInt(3)) {
                case 0 -> s.deleteCharAt(at);
                case 1 -> s.insert(at, "{}[]\":,0aZ-\\".charAt(rnd.nextInt(12)));
                default -> s.setCharAt(at, (char) (32 + rnd.nextInt(95)));
            }
        }
        return s.toString();
    }
}
