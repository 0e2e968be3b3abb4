package dev.keel.e2e;

import com.google.protobuf.ByteString;
import dev.keel.proto.etcdserverpb.CompactionRequest;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RangeResponse;
import dev.keel.proto.etcdserverpb.RangeStreamResponse;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.etcdserverpb.TxnResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * KV.RangeStream over gRPC against a real member holding {@code keel.rangestream.keys} keys of 1 KiB (50,000 by
 * default, about 52 MB, to keep the suite fast; {@code -Dkeel.rangestream.keys=200000} or {@code 1000000} with
 * {@code -Dkeel.rangestream.heap=...} for bigger runs): the whole range streams in chunks bounded by
 * --max-request-bytes, at one revision, and the member's live heap, measured by full collections ({@code jcmd
 * GC.run}) every half second while it streams to a client that reads slowly, stays within a few chunks of what it
 * was before. Then etcd 3.7's refusals, and a compaction in the middle of a stream.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RangeStreamIT {

    private static final int KEYS = Integer.getInteger("keel.rangestream.keys", 50_000);
    private static final String HEAP = System.getProperty("keel.rangestream.heap", "512m");
    private static final int VALUE_BYTES = 1024;
    /** A full collection asked for by jcmd, e.g. "Pause Full (Diagnostic Command) 120M->35M(512M)". */
    private static final Pattern FULL_GC = Pattern.compile("Pause Full \\(Diagnostic Command\\) (\\d+)M->(\\d+)M");

    @TempDir
    static Path tmp;
    static ServerProcess server;
    static ManagedChannel channel;
    static Path gcLog;
    static long loadedRevision;

    @BeforeAll
    static void start() throws Exception {
        assumeFalse(ServerProcess.isReferenceEtcd(), "etcd 3.4 has no RangeStream");
        gcLog = tmp.resolve("gc.log");
        server = ServerProcess.startWithJvmArgs(tmp.resolve("m"), List.of("-Xmx" + HEAP, "-Xlog:gc:file=" + gcLog));
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort()).usePlaintext()
                .maxInboundMessageSize(8 << 20).build();
        long t0 = System.nanoTime();
        load();
        System.out.printf("RangeStreamIT: loaded %d keys of %d bytes in %d ms%n", KEYS, VALUE_BYTES,
                (System.nanoTime() - t0) / 1_000_000);
    }

    @AfterAll
    static void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (server != null) {
            server.close();
        }
    }

    private static ByteString key(int i) {
        return ByteString.copyFromUtf8(String.format("rs/%08d", i));
    }

    /** KEYS keys under rs/, 128 puts per Txn (etcd's --max-txn-ops), 16 Txns in flight. */
    private static void load() throws Exception {
        ByteString value = ByteString.copyFrom(new byte[VALUE_BYTES]);
        KVGrpc.KVStub kv = KVGrpc.newStub(channel);
        Semaphore inFlight = new Semaphore(16);
        AtomicReference<Throwable> failed = new AtomicReference<>();
        for (int start = 0; start < KEYS && failed.get() == null; start += 128) {
            TxnRequest.Builder txn = TxnRequest.newBuilder();
            for (int i = start; i < Math.min(KEYS, start + 128); i++) {
                txn.addSuccess(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(key(i))
                        .setValue(value)));
            }
            assertTrue(inFlight.tryAcquire(120, TimeUnit.SECONDS), "a load Txn took over 2 minutes");
            kv.withDeadlineAfter(120, TimeUnit.SECONDS).txn(txn.build(), new StreamObserver<>() {
                @Override
                public void onNext(TxnResponse r) {
                }

                @Override
                public void onError(Throwable t) {
                    failed.compareAndSet(null, t);
                    inFlight.release();
                }

                @Override
                public void onCompleted() {
                    inFlight.release();
                }
            });
        }
        assertTrue(inFlight.tryAcquire(16, 120, TimeUnit.SECONDS));
        if (failed.get() != null) {
            throw new AssertionError("loading failed", failed.get());
        }
        loadedRevision = KVGrpc.newBlockingStub(channel).range(RangeRequest.newBuilder().setKey(key(0)).build())
                .getHeader().getRevision();
    }

    private static RangeRequest all() {
        return RangeRequest.newBuilder().setKey(ByteString.copyFromUtf8("rs/"))
                .setRangeEnd(ByteString.copyFromUtf8("rs0")).build();
    }

    /** The live heap after each jcmd full collection logged from character {@code from} of the GC log, MiB. */
    private static List<Integer> liveAfterFullGc(int from) throws Exception {
        String log = Files.readString(gcLog);
        List<Integer> after = new ArrayList<>();
        Matcher m = FULL_GC.matcher(log.substring(Math.min(from, log.length())));
        while (m.find()) {
            after.add(Integer.parseInt(m.group(2)));
        }
        return after;
    }

    /** A full collection in the member now (jcmd GC.run), logged in its GC log. */
    private static void fullGc() throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                Long.toString(server.pid()), "GC.run").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "jcmd GC.run");
        Thread.sleep(100); // the GC log line is written after the pause
    }

    @Test
    @Order(1)
    void wholeRangeStreamsThroughASmallerHeapAtOneRevision() throws Exception {
        // the live heap before streaming: the key index, the Raft log's cache, the member itself
        int logFrom = Files.readString(gcLog).length();
        fullGc();
        List<Integer> baseline = liveAfterFullGc(logFrom);
        assertEquals(1, baseline.size(), "one full collection logged");
        int before = baseline.get(0);
        logFrom = Files.readString(gcLog).length();
        java.util.concurrent.atomic.AtomicBoolean streaming = new java.util.concurrent.atomic.AtomicBoolean(true);
        Thread sampler = new Thread(() -> {
            try {
                while (streaming.get()) {
                    fullGc();
                    Thread.sleep(500);
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, "heap-sampler");
        sampler.start();
        KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channel).withDeadlineAfter(600, TimeUnit.SECONDS);
        long t0 = System.nanoTime();
        Iterator<RangeStreamResponse> it = kv.rangeStream(all());
        long keys = 0;
        long bytes = 0;
        int chunks = 0;
        int maxChunk = 0;
        ByteString last = ByteString.EMPTY;
        RangeResponse finalChunk = null;
        boolean wroteMidStream = false;
        while (it.hasNext()) {
            RangeResponse c = it.next().getRangeResponse();
            chunks++;
            maxChunk = Math.max(maxChunk, c.getSerializedSize());
            bytes += c.getSerializedSize();
            for (var kvp : c.getKvsList()) {
                assertTrue(ByteString.unsignedLexicographicalComparator().compare(last, kvp.getKey()) < 0,
                        "keys in order, no duplicate");
                assertEquals(key((int) keys), kvp.getKey());
                assertEquals(VALUE_BYTES, kvp.getValue().size());
                last = kvp.getKey();
                keys++;
            }
            if (!wroteMidStream) {
                // changes made while streaming are not in the stream: its revision is the one it started at
                KVGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
                        .put(PutRequest.newBuilder().setKey(key(KEYS)).setValue(ByteString.copyFromUtf8("late"))
                                .build());
                wroteMidStream = true;
            }
            if (c.hasHeader()) {
                finalChunk = c;
            }
            Thread.sleep(50); // a client slower than the member: what it has not taken yet waits in flow control
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        streaming.set(false);
        sampler.join(120_000);
        List<Integer> during = liveAfterFullGc(logFrom);
        int peak = during.stream().mapToInt(Integer::intValue).max().orElse(before);
        System.out.printf("RangeStreamIT: streamed %d keys, %d MB in %d chunks (largest %d bytes) in %d ms, member "
                        + "-Xmx%s; live heap (full GC): %d MiB before, peak %d MiB while streaming (%d samples)%n",
                keys, bytes >> 20, chunks, maxChunk, ms, HEAP, before, peak, during.size());
        assertTrue(during.size() >= 2, "sampled while streaming: " + during);
        assertEquals(KEYS, keys);
        assertTrue(finalChunk != null && finalChunk.getHeader().getRevision() == loadedRevision,
                "the last chunk's header carries the revision the stream started at");
        assertEquals(KEYS, finalChunk.getCount());
        assertFalse(finalChunk.getMore());
        assertTrue(maxChunk < 2 * (1_572_864 + 4096) + 1024, "chunks near --max-request-bytes: " + maxChunk);
        assertTrue(chunks > 20, "streamed in chunks: " + chunks);
        // a few chunks (each under 2 x --max-request-bytes), far from the range's size
        assertTrue(peak - before < 32, "live heap grew by " + (peak - before) + " MiB while streaming " + (bytes >> 20)
                + " MB");
    }

    @Test
    @Order(2)
    void refusesWhatEtcd37Refuses() {
        KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        List<Object[]> cases = List.of(
                new Object[]{all().toBuilder().setSortOrder(RangeRequest.SortOrder.DESCEND).build(),
                        Status.Code.UNIMPLEMENTED, "RangeStream does not support custom sort orders"},
                new Object[]{all().toBuilder().setSortOrder(RangeRequest.SortOrder.ASCEND)
                        .setSortTarget(RangeRequest.SortTarget.VALUE).build(),
                        Status.Code.UNIMPLEMENTED, "RangeStream does not support custom sort orders"},
                new Object[]{all().toBuilder().setMinModRevision(2).build(),
                        Status.Code.UNIMPLEMENTED, "RangeStream does not support revision filters"},
                new Object[]{all().toBuilder().setKey(ByteString.EMPTY).build(),
                        Status.Code.INVALID_ARGUMENT, "etcdserver: key is not provided"},
                new Object[]{all().toBuilder().setRevision(loadedRevision + 1000).build(),
                        Status.Code.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"});
        for (Object[] c : cases) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> kv.rangeStream((RangeRequest) c[0]).forEachRemaining(r -> { }), c[2].toString());
            assertEquals(c[1], e.getStatus().getCode(), c[2].toString());
            assertEquals(c[2], e.getStatus().getDescription());
        }
        // a limit and count_only: the chunks merge into what Range answers
        for (RangeRequest r : List.of(all().toBuilder().setLimit(2500).build(),
                all().toBuilder().setLimit(30).setKeysOnly(true).build(),
                all().toBuilder().setCountOnly(true).build(),
                all().toBuilder().setKey(key(17)).setRangeEnd(ByteString.EMPTY).build())) {
            RangeResponse.Builder merged = RangeResponse.newBuilder();
            kv.rangeStream(r.toBuilder().setRevision(loadedRevision).build())
                    .forEachRemaining(c -> merged.mergeFrom(c.getRangeResponse()));
            RangeResponse range = kv.range(r.toBuilder().setRevision(loadedRevision).build());
            assertEquals(range.getKvsList(), merged.getKvsList(), r.toString());
            assertEquals(range.getCount(), merged.getCount(), r.toString());
            assertEquals(range.getMore(), merged.getMore(), r.toString());
            assertEquals(range.getHeader().getRevision(), merged.getHeader().getRevision(), r.toString());
        }
    }

    @Test
    @Order(3)
    void compactionInTheMiddleOfAStreamEndsItWithCompacted() throws Exception {
        LinkedBlockingQueue<Object> got = new LinkedBlockingQueue<>();
        AtomicReference<ClientCallStreamObserver<RangeRequest>> call = new AtomicReference<>();
        // its own connection: the chunks it leaves unread hold HTTP/2's connection window, which would stall the
        // Compact below on a shared one
        ManagedChannel paused = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort()).usePlaintext()
                .maxInboundMessageSize(8 << 20).build();
        KVGrpc.newStub(paused).withDeadlineAfter(300, TimeUnit.SECONDS).rangeStream(all(),
                new ClientResponseObserver<RangeRequest, RangeStreamResponse>() {
                    @Override
                    public void beforeStart(ClientCallStreamObserver<RangeRequest> requestStream) {
                        call.set(requestStream);
                        requestStream.disableAutoRequestWithInitial(1); // the client takes one chunk for now
                    }

                    @Override
                    public void onNext(RangeStreamResponse r) {
                        got.add(r.getRangeResponse());
                    }

                    @Override
                    public void onError(Throwable t) {
                        got.add(t);
                    }

                    @Override
                    public void onCompleted() {
                        got.add("completed");
                    }
                });
        assertTrue(got.poll(60, TimeUnit.SECONDS) instanceof RangeResponse);
        KVGrpc.KVBlockingStub kv = KVGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
        long rev = kv.put(PutRequest.newBuilder().setKey(ByteString.copyFromUtf8("other"))
                .setValue(ByteString.copyFromUtf8("x")).build()).getHeader().getRevision();
        kv.compact(CompactionRequest.newBuilder().setRevision(rev).build());
        call.get().request(Integer.MAX_VALUE);
        Object end;
        int more = 0;
        while ((end = got.poll(120, TimeUnit.SECONDS)) instanceof RangeResponse) {
            more++; // chunks sent before the compaction
        }
        assertTrue(end instanceof StatusRuntimeException, "ended by an error, not " + end + " after " + more);
        Status s = ((StatusRuntimeException) end).getStatus();
        assertEquals(Status.Code.OUT_OF_RANGE, s.getCode());
        assertEquals("etcdserver: mvcc: required revision has been compacted", s.getDescription());
        assertTrue(more < 20, "the member read ahead only a few chunks: " + more);
        paused.shutdownNow();
    }
}
