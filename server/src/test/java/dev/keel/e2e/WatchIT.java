package dev.keel.e2e;

import com.google.protobuf.ByteString;
import dev.keel.proto.etcdserverpb.CompactionRequest;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.ResponseHeader;
import dev.keel.proto.etcdserverpb.StatusRequest;
import dev.keel.proto.etcdserverpb.StatusResponse;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.etcdserverpb.WatchCancelRequest;
import dev.keel.proto.etcdserverpb.WatchCreateRequest;
import dev.keel.proto.etcdserverpb.WatchCreateRequest.FilterType;
import dev.keel.proto.etcdserverpb.WatchGrpc;
import dev.keel.proto.etcdserverpb.WatchProgressRequest;
import dev.keel.proto.etcdserverpb.WatchRequest;
import dev.keel.proto.etcdserverpb.WatchResponse;
import dev.keel.proto.mvccpb.Event;
import dev.keel.proto.mvccpb.KeyValue;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.common.exception.CompactedException;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The Watch service end to end, as etcd clients see it: etcdctl 3.4 (output compared with what etcd 3.4.23
 * printed for the same session), jetcd 0.8.5, and etcd's own wire messages on a raw bidirectional
 * {@code Watch/Watch} stream where exact responses matter (watch ids, created/canceled responses, fragments,
 * progress notifications, flow control). Every expectation is etcd's behaviour; run with
 * {@code -Dkeel.e2e.impl=etcd} to check them against a real etcd (3.4 differs from 3.6 in the few places
 * noted, which are skipped there).
 *
 * <p>Two members: {@link #server} with {@code --experimental-watch-progress-notify-interval=500ms}, and
 * {@link #small} with {@code --max-request-bytes=102400} for fragmentation. Tests run one at a time on their
 * own key prefixes and take revisions from responses, so they do not depend on each other.
 */
class WatchIT {

    private static final long TIMEOUT_S = 15;
    /** etcd lets watch responses grow this much past --max-request-bytes before fragmenting them. */
    private static final long GRPC_OVERHEAD_BYTES = 512 * 1024;
    private static final long SMALL_MAX_REQUEST_BYTES = 102_400;

    @TempDir
    static Path tmp;

    static ServerProcess server;
    static ServerProcess small;
    static Client client;
    static KV kv;
    static Watch watchClient;
    static ManagedChannel channel;
    static ManagedChannel smallChannel;
    static Member main;
    static Member smallMember;
    static Etcdctl ctl;
    static EtcdctlTranscript transcript;

    /** The ids a member stamps on its headers. */
    record Member(long clusterId, long memberId) {
    }

    @BeforeAll
    static void start() throws Exception {
        CompletableFuture<ServerProcess> s2 = CompletableFuture.supplyAsync(() -> {
            try {
                return ServerProcess.start(tmp.resolve("watch-small"),
                        "--max-request-bytes=" + SMALL_MAX_REQUEST_BYTES);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        server = ServerProcess.start(tmp.resolve("watch"), "--experimental-watch-progress-notify-interval=500ms");
        small = s2.get(120, TimeUnit.SECONDS);
        client = Client.builder().endpoints(server.url()).build();
        kv = client.getKVClient();
        watchClient = client.getWatchClient();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort()).usePlaintext().build();
        smallChannel = NettyChannelBuilder.forAddress("127.0.0.1", small.clientPort()).usePlaintext().build();
        main = member(channel);
        smallMember = member(smallChannel);
        ctl = new Etcdctl(server.endpoint());
        transcript = new EtcdctlTranscript(ctl, Long.toUnsignedString(main.clusterId()),
                Long.toUnsignedString(main.memberId()));
    }

    private static Member member(ManagedChannel ch) {
        StatusResponse st = MaintenanceGrpc.newBlockingStub(ch).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance());
        assertNotEquals(0, st.getHeader().getClusterId(), "cluster_id");
        assertNotEquals(0, st.getHeader().getMemberId(), "member_id");
        return new Member(st.getHeader().getClusterId(), st.getHeader().getMemberId());
    }

    @AfterAll
    static void stop() throws Exception {
        if (client != null) {
            client.close();
        }
        for (ManagedChannel c : new ManagedChannel[]{channel, smallChannel}) {
            if (c != null) {
                c.shutdownNow();
                c.awaitTermination(5, TimeUnit.SECONDS);
            }
        }
        for (ServerProcess s : new ServerProcess[]{server, small}) {
            if (s != null) {
                s.close();
            }
        }
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    static ByteString b(String s) {
        return ByteString.copyFrom(s, StandardCharsets.ISO_8859_1);
    }

    static String s(ByteString b) {
        return b.toString(StandardCharsets.ISO_8859_1);
    }

    static ByteSequence bs(String s) {
        return ByteSequence.from(s.getBytes(StandardCharsets.ISO_8859_1));
    }

    static String s(ByteSequence b) {
        return b.toString(StandardCharsets.ISO_8859_1);
    }

    static KVGrpc.KVBlockingStub kvStub(ManagedChannel ch) {
        return KVGrpc.newBlockingStub(ch).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS);
    }

    static long rev() {
        return kvStub(channel).range(RangeRequest.newBuilder().setKey(b("keel-e2e-no-such-key")).build())
                .getHeader().getRevision();
    }

    static long put(String key, String value) {
        return put(channel, key, value);
    }

    static long put(ManagedChannel ch, String key, String value) {
        return kvStub(ch).put(PutRequest.newBuilder().setKey(b(key)).setValue(b(value)).build())
                .getHeader().getRevision();
    }

    static long del(String key) {
        return kvStub(channel).deleteRange(DeleteRangeRequest.newBuilder().setKey(b(key)).build())
                .getHeader().getRevision();
    }

    static long del(ManagedChannel ch, String key, String end) {
        return kvStub(ch).deleteRange(DeleteRangeRequest.newBuilder().setKey(b(key)).setRangeEnd(b(end)).build())
                .getHeader().getRevision();
    }

    static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(TIMEOUT_S, TimeUnit.SECONDS);
    }

    /** Polls until the condition holds; fails after the timeout. */
    static void poll(String what, long timeoutMs, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    static WatchCreateRequest.Builder key(String key) {
        return WatchCreateRequest.newBuilder().setKey(b(key));
    }

    static WatchCreateRequest.Builder prefix(String p) {
        char[] c = p.toCharArray();
        c[c.length - 1]++;
        return WatchCreateRequest.newBuilder().setKey(b(p)).setRangeEnd(b(new String(c)));
    }

    /** One key-value as "key=value@mod/cCREATE/vVERSION" (plus "/lLEASE" if it has one). */
    static String kv(KeyValue kv) {
        return s(kv.getKey()) + "=" + s(kv.getValue()) + "@" + kv.getModRevision() + "/c" + kv.getCreateRevision()
                + "/v" + kv.getVersion() + (kv.getLease() != 0 ? "/l" + kv.getLease() : "");
    }

    /** One event as "PUT key=value@mod/cCREATE/vVERSION" plus " prev ..." when it carries prev_kv. */
    static String ev(Event e) {
        return e.getType() + " " + kv(e.getKv()) + (e.hasPrevKv() ? " prev " + kv(e.getPrevKv()) : "");
    }

    static List<String> evs(List<Event> events) {
        return events.stream().map(WatchIT::ev).toList();
    }

    static String put(String key, String value, long mod, long create, long version) {
        return "PUT " + key + "=" + value + "@" + mod + "/c" + create + "/v" + version;
    }

    /** A DELETE event carries only the key and the deletion's revision. */
    static String delete(String key, long mod) {
        return "DELETE " + key + "=@" + mod + "/c0/v0";
    }

    static String prev(String event, String key, String value, long mod, long create, long version) {
        return event + " prev " + key + "=" + value + "@" + mod + "/c" + create + "/v" + version;
    }

    static String jetcdEv(WatchEvent e) {
        io.etcd.jetcd.KeyValue k = e.getKeyValue();
        String t = e.getEventType() == WatchEvent.EventType.PUT ? "PUT" : e.getEventType().toString();
        String out = t + " " + s(k.getKey()) + "=" + s(k.getValue()) + "@" + k.getModRevision() + "/c"
                + k.getCreateRevision() + "/v" + k.getVersion();
        io.etcd.jetcd.KeyValue p = e.getPrevKV();
        if (p != null && p.getModRevision() != 0) {
            out += " prev " + s(p.getKey()) + "=" + s(p.getValue()) + "@" + p.getModRevision() + "/c"
                    + p.getCreateRevision() + "/v" + p.getVersion();
        }
        return out;
    }

    /** A response of the given member with everything but header, watch_id and the given fields empty. */
    static WatchResponse.Builder resp(Member m, long watchId, long headerRev) {
        return WatchResponse.newBuilder().setWatchId(watchId).setHeader(ResponseHeader.newBuilder()
                .setClusterId(m.clusterId()).setMemberId(m.memberId()).setRevision(headerRev));
    }

    static WatchResponse created(long watchId, long headerRev) {
        return resp(main, watchId, headerRev).setCreated(true).build();
    }

    static WatchResponse rejected(long headerRev, String reason) {
        return resp(main, -1, headerRev).setCreated(true).setCanceled(true).setCancelReason(reason).build();
    }

    static WatchResponse canceled(long watchId, long headerRev) {
        return resp(main, watchId, headerRev).setCanceled(true).build();
    }

    /** The response with its raft term (checked to be at least 1) zeroed, for exact comparisons. */
    static WatchResponse noTerm(WatchResponse r) {
        assertTrue(r.getHeader().getRaftTerm() >= 1, "raft_term in " + r);
        return r.toBuilder().setHeader(r.getHeader().toBuilder().setRaftTerm(0)).build();
    }

    static void assertResp(WatchResponse expected, WatchResponse actual) {
        assertEquals(expected, noTerm(actual));
    }

    /** Asserts an events response exactly: watch id, header revision, nothing else set, and the events. */
    static void assertEvents(WatchResponse actual, Member m, long watchId, long headerRev, String... events) {
        assertEquals(resp(m, watchId, headerRev).build(), noTerm(actual).toBuilder().clearEvents().build(),
                "response fields of " + actual);
        assertEquals(List.of(events), evs(actual.getEventsList()));
    }

    /** A raw Watch/Watch stream: requests go out as given, responses are queued in arrival order. */
    static final class RawStream implements AutoCloseable {
        private final BlockingQueue<WatchResponse> in = new LinkedBlockingQueue<>();
        private final AtomicReference<Throwable> error = new AtomicReference<>();
        private final StreamObserver<WatchRequest> out;
        private volatile ClientCallStreamObserver<WatchRequest> call;

        /** With {@code manualFlow}, the client takes one response and then only what {@link #request} allows. */
        RawStream(ManagedChannel ch, boolean manualFlow) {
            out = WatchGrpc.newStub(ch).watch(new ClientResponseObserver<WatchRequest, WatchResponse>() {
                @Override
                public void beforeStart(ClientCallStreamObserver<WatchRequest> s) {
                    call = s;
                    if (manualFlow) {
                        s.disableAutoRequestWithInitial(1);
                    }
                }

                @Override
                public void onNext(WatchResponse r) {
                    in.add(r);
                }

                @Override
                public void onError(Throwable t) {
                    error.set(t);
                }

                @Override
                public void onCompleted() {
                    error.compareAndSet(null, new IllegalStateException("stream completed by the server"));
                }
            });
        }

        RawStream(ManagedChannel ch) {
            this(ch, false);
        }

        synchronized void send(WatchRequest r) {
            out.onNext(r);
        }

        void create(WatchCreateRequest.Builder c) {
            send(WatchRequest.newBuilder().setCreateRequest(c).build());
        }

        void cancel(long id) {
            send(WatchRequest.newBuilder().setCancelRequest(WatchCancelRequest.newBuilder().setWatchId(id)).build());
        }

        void progress() {
            send(WatchRequest.newBuilder().setProgressRequest(WatchProgressRequest.getDefaultInstance()).build());
        }

        void request(int n) {
            call.request(n);
        }

        /** The next response; fails if none arrives in time or the stream failed. */
        WatchResponse next() throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_S);
            while (true) {
                WatchResponse r = in.poll(50, TimeUnit.MILLISECONDS);
                if (r != null) {
                    return r;
                }
                if (error.get() != null) {
                    fail("watch stream failed: " + error.get());
                }
                if (System.nanoTime() > deadline) {
                    fail("no watch response within " + TIMEOUT_S + " s");
                }
            }
        }

        /** The next response if one arrives within {@code ms}, else null. */
        WatchResponse next(long ms) throws InterruptedException {
            return in.poll(ms, TimeUnit.MILLISECONDS);
        }

        Throwable error() {
            return error.get();
        }

        @Override
        public void close() {
            try {
                call.cancel("test done", null);
            } catch (RuntimeException ignored) {
                // already closed
            }
        }
    }

    // ---- etcdctl 3.4 -----------------------------------------------------------------------------------------

    /** An {@code etcdctl watch} running in the background; its output goes to files read while it runs. */
    static final class BackgroundEtcdctl implements AutoCloseable {
        private final Process process;
        private final Path out;
        private final String name;
        private int mark;

        BackgroundEtcdctl(String name, String... args) throws IOException {
            this.name = name;
            this.out = tmp.resolve("etcdctl-" + name + ".out");
            List<String> cmd = new ArrayList<>(List.of(Etcdctl.binary(), "--endpoints=" + server.endpoint()));
            cmd.addAll(List.of(args));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile())
                    .redirectError(tmp.resolve("etcdctl-" + name + ".err").toFile());
            pb.environment().put("ETCDCTL_API", "3");
            process = pb.start();
        }

        String all() {
            try {
                return Files.exists(out) ? new String(Files.readAllBytes(out), StandardCharsets.UTF_8) : "";
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }

        /** What it printed since {@link #mark()}. */
        String output() {
            return all().substring(mark);
        }

        void mark() {
            mark = all().length();
        }

        void await(String what, Predicate<String> cond) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_S);
            while (!cond.test(output())) {
                if (System.nanoTime() > deadline || !process.isAlive()) {
                    fail("etcdctl watch " + name + ": " + what + (process.isAlive() ? "" : " (it exited)")
                            + "; printed:\n" + output());
                }
                Thread.sleep(20);
            }
        }

        /** Waits until it printed exactly {@code expected} (fails with a diff after the timeout). */
        void awaitExactly(String expected) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_S);
            while (!output().equals(expected) && System.nanoTime() < deadline && process.isAlive()) {
                Thread.sleep(20);
            }
            assertEquals(expected, output(), "etcdctl watch " + name);
        }

        /**
         * Waits until the watch is in place: puts {@code key} until the watcher prints it (etcdctl says nothing
         * when its watch is created), deletes it again, waits for that too and marks the output there.
         */
        void awaitWatching(String key) throws Exception {
            for (int i = 1; ; i++) {
                String v = "probe-" + name + "-" + i;
                ctl.ok("put", key, v);
                long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
                while (!all().contains("probe-" + name + "-") && System.nanoTime() < until) {
                    Thread.sleep(10);
                }
                if (all().contains("probe-" + name + "-")) {
                    await("probe " + v, o -> all().contains(v));
                    break;
                }
                if (i == 50) {
                    fail("etcdctl watch " + name + " never saw its probe");
                }
            }
            ctl.ok("del", key);
            await("probe deletion", o -> all().endsWith(key + "\n\n"));
            mark();
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    private static final Pattern COMPACT_REV = Pattern.compile("(\"CompactRevision\":)(\\d+)");

    /** etcdctl's JSON watch output with ids checked and masked and revisions relative to {@code r}. */
    static String normalizeJson(String output, long r) {
        StringBuilder sb = new StringBuilder();
        for (String line : output.lines().toList()) {
            String l = EtcdctlTranscript.relativeRevisions(transcript.normalizeIds(line), r);
            Matcher m = COMPACT_REV.matcher(l);
            StringBuilder c = new StringBuilder();
            while (m.find()) {
                long k = Long.parseLong(m.group(2)) - r;
                m.appendReplacement(c, Matcher.quoteReplacement(m.group(1) + (k == -r ? "0" : "{R+" + k + "}")));
            }
            m.appendTail(c);
            sb.append(c).append('\n');
        }
        return sb.toString();
    }

    /**
     * {@code etcdctl watch} on a key, on a prefix (with --prev-kv), on a range, from a past revision (--rev,
     * history then live events), and in JSON (exact revisions, prev_kv, headers): everything printed is what
     * etcd 3.4.23 printed for the same session.
     */
    @Test
    void etcdctlWatch() throws Exception {
        try (BackgroundEtcdctl onKey = new BackgroundEtcdctl("key", "watch", "w/k");
             BackgroundEtcdctl onRange = new BackgroundEtcdctl("range", "watch", "w/a", "w/c");
             BackgroundEtcdctl onPrefix = new BackgroundEtcdctl("prefix", "watch", "--prefix", "w/", "--prev-kv")) {
            onKey.awaitWatching("w/k");
            onRange.awaitWatching("w/a");
            onPrefix.awaitWatching("w/probe");
            long r = rev();
            assertEquals(r + 1, put("w/k", "v1"));
            assertEquals(r + 2, put("w/k", "v2"));
            try (BackgroundEtcdctl json = new BackgroundEtcdctl("json", "watch", "--prefix", "w/", "-w", "json",
                    "--rev=" + (r + 1), "--prev-kv")) {
                json.await("history", o -> o.contains("\n"));
                assertEquals(r + 3, put("w/other", "x"));
                try (BackgroundEtcdctl fromRev = new BackgroundEtcdctl("rev", "watch", "--rev=" + (r + 2),
                        "--prefix", "w/")) {
                    fromRev.await("history", o -> o.contains("w/other\nx\n"));
                    assertEquals(r + 4, del("w/k"));
                    ctl.ok("del", "w/nothing");
                    assertEquals("SUCCESS\n\nOK\n\nOK\n",
                            ctl.runWithInput("\nput w/k v3\nput w/b \"hello world\"\n\n\n", "txn").stdout());
                    assertEquals(r + 6, put("w/b", "bye"));
                    assertEquals("3\n", ctl.ok("del", "w/", "w/p"));
                    assertEquals(r + 8, put("x/outside", "1"));
                    assertEquals("SUCCESS\n\nOK\n\nOK\n\nOK\n",
                            ctl.runWithInput("\nput w/b end\nput w/k end\nput w/zz end\n\n\n", "txn").stdout());
                    assertEquals(r + 9, rev());

                    onKey.awaitExactly("""
                            PUT
                            w/k
                            v1
                            PUT
                            w/k
                            v2
                            DELETE
                            w/k

                            PUT
                            w/k
                            v3
                            DELETE
                            w/k

                            PUT
                            w/k
                            end
                            """);
                    onRange.awaitExactly("""
                            PUT
                            w/b
                            hello world
                            PUT
                            w/b
                            bye
                            DELETE
                            w/b

                            PUT
                            w/b
                            end
                            """);
                    onPrefix.awaitExactly("""
                            PUT
                            w/k
                            v1
                            PUT
                            w/k
                            v1
                            w/k
                            v2
                            PUT
                            w/other
                            x
                            DELETE
                            w/k
                            v2
                            w/k

                            PUT
                            w/k
                            v3
                            PUT
                            w/b
                            hello world
                            PUT
                            w/b
                            hello world
                            w/b
                            bye
                            DELETE
                            w/b
                            bye
                            w/b

                            DELETE
                            w/k
                            v3
                            w/k

                            DELETE
                            w/other
                            x
                            w/other

                            PUT
                            w/b
                            end
                            PUT
                            w/k
                            end
                            PUT
                            w/zz
                            end
                            """);
                    fromRev.awaitExactly("""
                            PUT
                            w/k
                            v2
                            PUT
                            w/other
                            x
                            DELETE
                            w/k

                            PUT
                            w/k
                            v3
                            PUT
                            w/b
                            hello world
                            PUT
                            w/b
                            bye
                            DELETE
                            w/b

                            DELETE
                            w/k

                            DELETE
                            w/other

                            PUT
                            w/b
                            end
                            PUT
                            w/k
                            end
                            PUT
                            w/zz
                            end
                            """);
                }
                json.await("the last event", o -> o.contains("\"revision\":" + (r + 9) + ","));
                assertEquals(JSON_WATCH, normalizeJson(json.output(), r));
            }
        }
    }

    private static final String JSON_WATCH = """
            {"Header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+2},"raft_term":<TERM>},"Events":[{"kv":{"key":"dy9r","create_revision":{R+1},"mod_revision":{R+1},"version":1,"value":"djE="}},{"kv":{"key":"dy9r","create_revision":{R+1},"mod_revision":{R+2},"version":2,"value":"djI="},"prev_kv":{"key":"dy9r","create_revision":{R+1},"mod_revision":{R+1},"version":1,"value":"djE="}}],"CompactRevision":0,"Canceled":false,"Created":false}
            {"Header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+3},"raft_term":<TERM>},"Events":[{"kv":{"key":"dy9vdGhlcg==","create_revision":{R+3},"mod_revision":{R+3},"version":1,"value":"eA=="}}],"CompactRevision":0,"Canceled":false,"Created":false}
            {"Header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+4},"raft_term":<TERM>},"Events":[{"type":1,"kv":{"key":"dy9r","mod_revision":{R+4}},"prev_kv":{"key":"dy9r","create_revision":{R+1},"mod_revision":{R+2},"version":2,"value":"djI="}}],"CompactRevision":0,"Canceled":false,"Created":false}
            {"Header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+5},"raft_term":<TERM>},"Events":[{"kv":{"key":"dy9r","create_revision":{R+5},"mod_revision":{R+5},"version":1,"value":"djM="}},{"kv":{"key":"dy9i","create_revision":{R+5},"mod_revision":{R+5},"version":1,"value":"aGVsbG8gd29ybGQ="}}],"CompactRevision":0,"Canceled":false,"Created":false}
            {"Header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+6},"raft_term":<TERM>},"Events":[{"kv":{"key":"dy9i","create_revision":{R+5},"mod_revision":{R+6},"version":2,"value":"Ynll"},"prev_kv":{"key":"dy9i","create_revision":{R+5},"mod_revision":{R+5},"version":1,"value":"aGVsbG8gd29ybGQ="}}],"CompactRevision":0,"Canceled":false,"Created":false}
            {"Header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+7},"raft_term":<TERM>},"Events":[{"type":1,"kv":{"key":"dy9i","mod_revision":{R+7}},"prev_kv":{"key":"dy9i","create_revision":{R+5},"mod_revision":{R+6},"version":2,"value":"Ynll"}},{"type":1,"kv":{"key":"dy9r","mod_revision":{R+7}},"prev_kv":{"key":"dy9r","create_revision":{R+5},"mod_revision":{R+5},"version":1,"value":"djM="}},{"type":1,"kv":{"key":"dy9vdGhlcg==","mod_revision":{R+7}},"prev_kv":{"key":"dy9vdGhlcg==","create_revision":{R+3},"mod_revision":{R+3},"version":1,"value":"eA=="}}],"CompactRevision":0,"Canceled":false,"Created":false}
            {"Header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+9},"raft_term":<TERM>},"Events":[{"kv":{"key":"dy9i","create_revision":{R+9},"mod_revision":{R+9},"version":1,"value":"ZW5k"}},{"kv":{"key":"dy9r","create_revision":{R+9},"mod_revision":{R+9},"version":1,"value":"ZW5k"}},{"kv":{"key":"dy96eg==","create_revision":{R+9},"mod_revision":{R+9},"version":1,"value":"ZW5k"}}],"CompactRevision":0,"Canceled":false,"Created":false}
            """;

    /**
     * {@code etcdctl watch --rev} below the compaction revision: etcd cancels the watch with the compaction
     * revision (and a header without revision); etcdctl reports it and exits with 5.
     */
    @Test
    void etcdctlWatchCompactedRevision() throws Exception {
        long r = rev();
        assertEquals(r + 1, put("wc/k", "1"));
        assertEquals(r + 2, put("wc/k", "2"));
        assertEquals("compacted revision " + (r + 2) + "\n", ctl.ok("compact", Long.toString(r + 2)));
        List<String> canceled = List.of(
                "! watch was canceled (etcdserver: mvcc: required revision has been compacted)",
                "! Error: watch is canceled by the server",
                "! exit 5");
        assertEquals(canceled, transcript.normalize(ctl.run("watch", "--rev=" + (r + 1), "wc/k"), r));
        Etcdctl.Result json = ctl.run("watch", "--rev=" + (r + 1), "wc/k", "-w", "json");
        assertEquals("{\"Header\":{\"cluster_id\":<CID>,\"member_id\":<MID>,\"raft_term\":<TERM>},\"Events\":[],"
                        + "\"CompactRevision\":{R+2},\"Canceled\":true,\"Created\":false}\n",
                normalizeJson(json.stdout(), r));
        assertEquals(canceled, transcript.normalize(new Etcdctl.Result(json.exitCode(), "", json.stderr()), r));
    }

    // ---- one stream, many watchers -------------------------------------------------------------------------

    /** Reads the responses one revision produced: one per watcher id, in any order (etcd walks a map). */
    static Map<Long, WatchResponse> byWatcher(RawStream st, int count) throws InterruptedException {
        Map<Long, WatchResponse> got = new TreeMap<>();
        for (int i = 0; i < count; i++) {
            WatchResponse r = st.next();
            assertNull(got.put(r.getWatchId(), r), "two responses for watcher " + r.getWatchId());
        }
        return got;
    }

    @Test
    void manyWatchersOnOneStream() throws Exception {
        try (RawStream st = new RawStream(channel)) {
            long r0 = rev();
            st.create(key("mw/a"));
            assertResp(created(0, r0), st.next());
            st.create(prefix("mw/"));
            assertResp(created(1, r0), st.next());
            st.create(key("mw/b").setWatchId(7)); // client-chosen id
            assertResp(created(7, r0), st.next());
            st.create(key("mw/a"));
            assertResp(created(2, r0), st.next());
            st.create(key("mw/c").setWatchId(7)); // 7 is live
            assertResp(rejected(r0, "mvcc: duplicate watch ID provided on the WatchStream"), st.next());
            st.create(key("mw/c").setWatchId(1)); // so is the automatic 1
            assertResp(rejected(r0, "mvcc: duplicate watch ID provided on the WatchStream"), st.next());
            st.create(key("mw/c").setWatchId(3));
            assertResp(created(3, r0), st.next());
            st.create(prefix("mw/")); // automatic ids skip the taken 3
            assertResp(created(4, r0), st.next());
            st.create(key("mw/z").setRangeEnd(b("mw/a")));
            assertResp(rejected(r0, "mvcc: watcher range is empty"), st.next());
            if (!ServerProcess.isReferenceEtcd()) { // etcd 3.4 does not check this; 3.6 does
                st.create(key("mw/a").setStartRevision(-1));
                assertResp(rejected(r0, "etcdserver: mvcc: required revision has been compacted"), st.next());
            }

            long r1 = put("mw/a", "1");
            Map<Long, WatchResponse> got = byWatcher(st, 4);
            assertEquals(List.of(0L, 1L, 2L, 4L), List.copyOf(got.keySet()));
            got.forEach((id, r) -> assertEvents(r, main, id, r1, put("mw/a", "1", r1, r1, 1)));

            long r2 = put("mw/b", "2");
            got = byWatcher(st, 3);
            assertEquals(List.of(1L, 4L, 7L), List.copyOf(got.keySet()));
            got.forEach((id, r) -> assertEvents(r, main, id, r2, put("mw/b", "2", r2, r2, 1)));

            st.cancel(2);
            assertResp(canceled(2, r2), st.next());
            st.cancel(42); // unknown: etcd answers nothing
            st.cancel(7);
            assertResp(canceled(7, r2), st.next());

            // cancelled watchers get nothing more; every other watcher still gets its events
            long r3 = put("mw/a", "3");
            long r4 = put("mw/b", "4");
            long r5 = put("mw/c", "5");
            got = byWatcher(st, 3);
            assertEquals(List.of(0L, 1L, 4L), List.copyOf(got.keySet()));
            got.forEach((id, r) -> assertEvents(r, main, id, r3, put("mw/a", "3", r3, r1, 2)));
            got = byWatcher(st, 2);
            assertEquals(List.of(1L, 4L), List.copyOf(got.keySet()));
            got.forEach((id, r) -> assertEvents(r, main, id, r4, put("mw/b", "4", r4, r2, 2)));
            got = byWatcher(st, 3);
            assertEquals(List.of(1L, 3L, 4L), List.copyOf(got.keySet()));
            got.forEach((id, r) -> assertEvents(r, main, id, r5, put("mw/c", "5", r5, r5, 1)));

            // a cancelled id may be chosen again; automatic ids go on after the highest handed out
            st.create(key("mw/b").setWatchId(2));
            assertResp(created(2, r5), st.next());
            st.create(key("mw/b"));
            assertResp(created(5, r5), st.next());
            long r6 = put("mw/b", "6");
            got = byWatcher(st, 4);
            assertEquals(List.of(1L, 2L, 4L, 5L), List.copyOf(got.keySet()));
            got.forEach((id, r) -> assertEvents(r, main, id, r6, put("mw/b", "6", r6, r2, 3)));
            assertNull(st.next(200), "nothing else");
        }
    }

    // ---- key, prefix, from-key, filters, prev_kv -----------------------------------------------------------

    @Test
    void keyPrefixFromKeyFiltersAndPrevKv() throws Exception {
        try (RawStream st = new RawStream(channel)) {
            long r0 = rev();
            st.create(key("fk/k"));
            st.create(prefix("fk/").setPrevKv(true));
            st.create(key("fk/m").setRangeEnd(b("\0"))); // from key
            st.create(prefix("fk/").addFilters(FilterType.NOPUT));
            st.create(prefix("fk/").addFilters(FilterType.NODELETE));
            st.create(prefix("fk/").addFilters(FilterType.NOPUT).addFilters(FilterType.NODELETE));
            st.create(WatchCreateRequest.newBuilder().setRangeEnd(b("\0"))); // empty key + "\0": every key
            for (long id = 0; id < 7; id++) {
                assertResp(created(id, r0), st.next());
            }

            long r1 = put("fk/k", "a");
            long r2 = put("fk/k", "b");
            long r3 = put("fk/z", "c");
            long r4 = del("fk/k");
            long r5 = put("fl/x", "d");
            long r6 = del(channel, "fk/", "fk0");
            assertEquals(r0 + 6, r6);

            String p1 = put("fk/k", "a", r1, r1, 1);
            String p2 = put("fk/k", "b", r2, r1, 2);
            String p3 = put("fk/z", "c", r3, r3, 1);
            String d4 = delete("fk/k", r4);
            String p5 = put("fl/x", "d", r5, r5, 1);
            String d6 = delete("fk/z", r6);
            Map<Long, List<String>> expected = Map.of(
                    0L, List.of(p1, p2, d4),
                    1L, List.of(p1, prev(p2, "fk/k", "a", r1, r1, 1), p3, prev(d4, "fk/k", "b", r2, r1, 2),
                            prev(d6, "fk/z", "c", r3, r3, 1)),
                    2L, List.of(p3, p5, d6),
                    3L, List.of(d4, d6),
                    4L, List.of(p1, p2, p3),
                    6L, List.of(p1, p2, p3, d4, p5, d6));
            Map<Long, List<String>> got = new TreeMap<>();
            int total = expected.values().stream().mapToInt(List::size).sum();
            for (int i = 0; i < total; i++) {
                WatchResponse r = st.next();
                assertEquals(1, r.getEventsCount(), "one revision, one event: " + r);
                assertEvents(r, main, r.getWatchId(), r.getEvents(0).getKv().getModRevision(),
                        ev(r.getEvents(0)));
                got.computeIfAbsent(r.getWatchId(), k -> new ArrayList<>()).add(ev(r.getEvents(0)));
            }
            assertEquals(new TreeMap<>(expected), got);
            assertNull(st.next(200), "nothing for the watcher that filters both puts and deletes");
        }
    }

    @Test
    void jetcdPrefixPrevKvAndFilters() throws Exception {
        List<String> all = Collections.synchronizedList(new ArrayList<>());
        List<String> noDelete = Collections.synchronizedList(new ArrayList<>());
        List<String> noPut = Collections.synchronizedList(new ArrayList<>());
        long r0 = rev();
        // from the next revision on, so nothing can be missed while the watches are being created
        try (Watch.Watcher w1 = watchClient.watch(bs("jf/"), WatchOption.builder().isPrefix(true).withPrevKV(true)
                .withRevision(r0 + 1).build(), r -> r.getEvents().forEach(e -> all.add(jetcdEv(e))));
             Watch.Watcher w2 = watchClient.watch(bs("jf/"), WatchOption.builder().isPrefix(true).withNoDelete(true)
                     .withRevision(r0 + 1).build(), r -> r.getEvents().forEach(e -> noDelete.add(jetcdEv(e))));
             Watch.Watcher w3 = watchClient.watch(bs("jf/"), WatchOption.builder().isPrefix(true).withNoPut(true)
                     .withRevision(r0 + 1).build(), r -> r.getEvents().forEach(e -> noPut.add(jetcdEv(e))))) {
            long r1 = await(kv.put(bs("jf/a"), bs("1"))).getHeader().getRevision();
            long r2 = await(kv.put(bs("jf/a"), bs("2"))).getHeader().getRevision();
            long r3 = await(kv.delete(bs("jf/a"))).getHeader().getRevision();
            await(kv.put(bs("jg/outside"), bs("x")));
            List<String> expAll = List.of(put("jf/a", "1", r1, r1, 1), prev(put("jf/a", "2", r2, r1, 2), "jf/a", "1",
                    r1, r1, 1), prev(delete("jf/a", r3), "jf/a", "2", r2, r1, 2));
            poll("jetcd events", TIMEOUT_S * 1000, () -> all.size() >= 3 && noDelete.size() >= 2 && noPut.size() >= 1);
            assertEquals(expAll, all);
            assertEquals(List.of(put("jf/a", "1", r1, r1, 1), put("jf/a", "2", r2, r1, 2)), noDelete);
            assertEquals(List.of(delete("jf/a", r3)), noPut);
        }
    }

    // ---- history ----------------------------------------------------------------------------------------------

    /**
     * A watch from a past revision while writes go on: it replays history and then follows live events, every
     * revision exactly once, in order.
     */
    @Test
    void historyThenLiveWithoutGapOrDuplicate() throws Exception {
        Map<Long, String> written = new ConcurrentHashMap<>();
        for (int i = 0; i < 200; i++) {
            String k = "h/" + (i % 17);
            written.put(put(k, "v" + i), k + "=v" + i);
        }
        long from = Collections.min(written.keySet()) + 100;
        // more writes, 8 at a time (so several may share a Raft entry), while the watch catches up
        Semaphore inFlight = new Semaphore(8);
        List<CompletableFuture<?>> puts = new ArrayList<>();
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            for (int i = 200; i < 400; i++) {
                String k = "h/" + (i % 17);
                String v = "v" + i;
                inFlight.acquireUninterruptibly();
                puts.add(kv.put(bs(k), bs(v)).whenComplete((r, t) -> {
                    inFlight.release();
                    if (r != null) {
                        written.put(r.getHeader().getRevision(), k + "=" + v);
                    }
                }));
            }
        });
        try (RawStream st = new RawStream(channel)) {
            poll("some concurrent writes", TIMEOUT_S * 1000, () -> written.size() > 220);
            st.create(prefix("h/").setStartRevision(from));
            WatchResponse c = st.next();
            assertTrue(c.getCreated() && c.getWatchId() == 0 && !c.getCanceled(), c.toString());
            await(writer);
            for (CompletableFuture<?> f : puts) {
                await(f);
            }
            assertEquals(400, written.size());
            long last = Collections.max(written.keySet());
            assertEquals(last, rev());
            List<Long> revs = new ArrayList<>();
            List<String> kvs = new ArrayList<>();
            while (revs.isEmpty() || revs.get(revs.size() - 1) < last) {
                WatchResponse r = st.next();
                assertEquals(0, r.getWatchId());
                assertFalse(r.getCreated() || r.getCanceled() || r.getFragment(), r.toString());
                assertTrue(r.getEventsCount() > 0, "no progress notifications were asked for: " + r);
                long lastEv = r.getEvents(r.getEventsCount() - 1).getKv().getModRevision();
                assertTrue(r.getHeader().getRevision() >= lastEv, "header revision below its events: " + r);
                for (Event e : r.getEventsList()) {
                    assertEquals(Event.EventType.PUT, e.getType());
                    revs.add(e.getKv().getModRevision());
                    kvs.add(s(e.getKv().getKey()) + "=" + s(e.getKv().getValue()));
                }
            }
            List<Long> expectedRevs = new ArrayList<>();
            List<String> expectedKvs = new ArrayList<>();
            for (long rv = from; rv <= last; rv++) {
                expectedRevs.add(rv);
                expectedKvs.add(written.get(rv));
            }
            assertEquals(expectedRevs, revs);
            assertEquals(expectedKvs, kvs);
            assertNull(st.next(200), "nothing after the last write");
        }
    }

    /**
     * A watcher that is up to date gets one response per revision with that revision in the header, as etcd
     * sends them, also while concurrent writes (which Keel may put into one Raft entry) come in.
     */
    @Test
    void liveEventsOneResponsePerRevision() throws Exception {
        int n = 300;
        try (RawStream st = new RawStream(channel)) {
            long r0 = rev();
            st.create(prefix("lv/"));
            assertResp(created(0, r0), st.next());
            Map<Long, String> written = new ConcurrentHashMap<>();
            Semaphore inFlight = new Semaphore(16);
            List<CompletableFuture<?>> puts = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String k = "lv/" + (i % 7);
                String v = "v" + i;
                inFlight.acquire();
                puts.add(kv.put(bs(k), bs(v)).whenComplete((r, t) -> {
                    inFlight.release();
                    if (r != null) {
                        written.put(r.getHeader().getRevision(), k + "=" + v);
                    }
                }));
            }
            for (CompletableFuture<?> f : puts) {
                await(f);
            }
            assertEquals(n, written.size());
            for (long rv = r0 + 1; rv <= r0 + n; rv++) {
                WatchResponse r = st.next();
                assertEquals(1, r.getEventsCount(), "one revision per response: " + r);
                Event e = r.getEvents(0);
                assertEquals(rv, e.getKv().getModRevision());
                assertEquals(written.get(rv), s(e.getKv().getKey()) + "=" + s(e.getKv().getValue()));
                assertEvents(r, main, 0, rv, ev(e));
            }
            assertNull(st.next(200));
        }
    }

    /**
     * A start revision below the compaction revision: created, then cancelled with compact_revision (etcd's
     * header on that response has no revision). From the compaction revision itself the history is still there.
     */
    @Test
    void startRevisionBelowCompaction() throws Exception {
        long r1 = put("cp/k", "1");
        long r2 = put("cp/k", "2");
        long r3 = put("cp/k", "3");
        kvStub(channel).compact(CompactionRequest.newBuilder().setRevision(r2).setPhysical(true).build());
        try (RawStream st = new RawStream(channel)) {
            st.create(key("cp/k").setStartRevision(r1));
            assertResp(created(0, r3), st.next());
            assertResp(resp(main, 0, 0).setCanceled(true).setCompactRevision(r2).build(), st.next());

            st.create(key("cp/k").setStartRevision(r2));
            assertResp(created(1, r3), st.next());
            assertEvents(st.next(), main, 1, r3, put("cp/k", "2", r2, r1, 2), put("cp/k", "3", r3, r1, 3));
            assertNull(st.next(200));
        }
        // jetcd reports it as a CompactedException carrying the compaction revision
        CompletableFuture<Throwable> error = new CompletableFuture<>();
        try (Watch.Watcher w = watchClient.watch(bs("cp/k"), WatchOption.builder().withRevision(r1).build(),
                Watch.listener(r -> error.completeExceptionally(new AssertionError("unexpected " + r)),
                        error::complete))) {
            Throwable t = await(error);
            assertTrue(t instanceof CompactedException, t.toString());
            assertEquals(r2, ((CompactedException) t).getCompactedRevision());
        }
    }

    /** A start revision in the future: only events from that revision on. */
    @Test
    void startRevisionInTheFuture() throws Exception {
        long r0 = rev();
        List<String> viaJetcd = Collections.synchronizedList(new ArrayList<>());
        try (RawStream st = new RawStream(channel);
             Watch.Watcher w = watchClient.watch(bs("fu/"), WatchOption.builder().isPrefix(true)
                     .withRevision(r0 + 4).build(), r -> r.getEvents().forEach(e -> viaJetcd.add(jetcdEv(e))))) {
            st.create(prefix("fu/").setStartRevision(r0 + 4));
            assertResp(created(0, r0), st.next());
            for (int i = 1; i <= 6; i++) {
                assertEquals(r0 + i, put("fu/" + i, "v" + i));
            }
            for (int i = 4; i <= 6; i++) {
                assertEvents(st.next(), main, 0, r0 + i, put("fu/" + i, "v" + i, r0 + i, r0 + i, 1));
            }
            assertNull(st.next(200));
            poll("jetcd events", TIMEOUT_S * 1000, () -> viaJetcd.size() >= 3);
            assertEquals(List.of(put("fu/4", "v4", r0 + 4, r0 + 4, 1), put("fu/5", "v5", r0 + 5, r0 + 5, 1),
                    put("fu/6", "v6", r0 + 6, r0 + 6, 1)), viaJetcd);
        }
    }

    // ---- atomicity ---------------------------------------------------------------------------------------------

    /** All changes of one Txn arrive in one response, in the order of the operations, with one revision. */
    @Test
    void txnEventsArriveTogether() throws Exception {
        long r0 = put("tx/old", "0");
        List<io.etcd.jetcd.watch.WatchResponse> viaJetcd = Collections.synchronizedList(new ArrayList<>());
        try (RawStream st = new RawStream(channel);
             Watch.Watcher w = watchClient.watch(bs("tx/"), WatchOption.builder().isPrefix(true)
                     .withRevision(r0 + 1).build(), viaJetcd::add)) {
            st.create(prefix("tx/").setPrevKv(true));
            assertResp(created(0, r0), st.next());
            TxnRequest txn = TxnRequest.newBuilder()
                    .addSuccess(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder()
                            .setKey(b("tx/a")).setValue(b("1"))))
                    .addSuccess(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder()
                            .setKey(b("tx/b")).setValue(b("2"))))
                    .addSuccess(RequestOp.newBuilder().setRequestDeleteRange(DeleteRangeRequest.newBuilder()
                            .setKey(b("tx/old"))))
                    .addSuccess(RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder()
                            .setKey(b("tx/c")).setValue(b("3"))))
                    .build();
            long r1 = kvStub(channel).txn(txn).getHeader().getRevision();
            assertEquals(r0 + 1, r1);
            String[] expected = {put("tx/a", "1", r1, r1, 1), put("tx/b", "2", r1, r1, 1),
                    prev(delete("tx/old", r1), "tx/old", "0", r0, r0, 1), put("tx/c", "3", r1, r1, 1)};
            assertEvents(st.next(), main, 0, r1, expected);
            assertNull(st.next(200));
            poll("jetcd response", TIMEOUT_S * 1000, () -> !viaJetcd.isEmpty());
            assertEquals(1, viaJetcd.size());
            assertEquals(List.of(put("tx/a", "1", r1, r1, 1), put("tx/b", "2", r1, r1, 1), delete("tx/old", r1),
                    put("tx/c", "3", r1, r1, 1)), viaJetcd.get(0).getEvents().stream().map(WatchIT::jetcdEv).toList());
        }
    }

    // ---- fragments -----------------------------------------------------------------------------------------------

    /** etcd's sendFragments (v3rpc/watch.go), to compute the exact responses expected. */
    static List<WatchResponse> etcdFragments(WatchResponse whole, long maxBytes) {
        if (whole.getSerializedSize() < maxBytes || whole.getEventsCount() < 2) {
            return List.of(whole);
        }
        List<WatchResponse> out = new ArrayList<>();
        int idx = 0;
        while (true) {
            WatchResponse.Builder cur = whole.toBuilder().clearEvents().setFragment(true);
            for (Event e : whole.getEventsList().subList(idx, whole.getEventsCount())) {
                cur.addEvents(e);
                if (cur.getEventsCount() > 1 && cur.build().getSerializedSize() >= maxBytes) {
                    cur.removeEvents(cur.getEventsCount() - 1);
                    break;
                }
                idx++;
            }
            if (idx == whole.getEventsCount()) {
                cur.setFragment(false);
            }
            out.add(cur.build());
            if (!cur.getFragment()) {
                return out;
            }
        }
    }

    static List<String> summary(List<WatchResponse> parts) {
        return parts.stream().map(r -> r.getEventsCount() + " events" + (r.getFragment() ? ", fragment" : ""))
                .toList();
    }

    /**
     * One revision whose events exceed --max-request-bytes plus etcd's 512 KiB gRPC allowance: a watcher that
     * asked for fragments gets it split as etcd splits it (every part but the last marked fragment), one that
     * did not gets one response.
     */
    @Test
    void largeRevisionIsFragmentedOnlyWhenAsked() throws Exception {
        String big = "x".repeat(100_000);
        for (int i = 0; i < 10; i++) {
            put(smallChannel, "fr/" + i, big);
        }
        long r0 = kvStub(smallChannel).range(RangeRequest.newBuilder().setKey(b("fr/none")).build())
                .getHeader().getRevision();
        try (RawStream st = new RawStream(smallChannel)) {
            st.create(prefix("fr/").setPrevKv(true).setFragment(true));
            st.create(prefix("fr/").setPrevKv(true));
            st.create(prefix("fr/").setFragment(true)); // small events: nothing to split
            for (long id = 0; id < 3; id++) {
                assertResp(resp(smallMember, id, r0).setCreated(true).build(), st.next());
            }
            long r1 = del(smallChannel, "fr/", "fr0");
            assertEquals(r0 + 1, r1);

            List<WatchResponse> fragments = new ArrayList<>();
            WatchResponse whole = null;
            WatchResponse noPrev = null;
            List<Long> order = new ArrayList<>();
            while (whole == null || noPrev == null || fragments.isEmpty()
                    || fragments.get(fragments.size() - 1).getFragment()) {
                WatchResponse r = st.next();
                order.add(r.getWatchId());
                switch ((int) r.getWatchId()) {
                    case 0 -> fragments.add(r);
                    case 1 -> {
                        assertNull(whole, "second response for the watcher without fragment");
                        whole = r;
                    }
                    case 2 -> noPrev = r;
                    default -> fail("unexpected " + r);
                }
            }
            assertNull(st.next(200));

            List<String> expectedEvents = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                expectedEvents.add("DELETE fr/" + i + "=@" + r1 + "/c0/v0 prev fr/" + i + "=" + big + "@" + (r0 - 9 + i)
                        + "/c" + (r0 - 9 + i) + "/v1");
            }
            assertEquals(resp(smallMember, 1, r1).build(), noTerm(whole).toBuilder().clearEvents().build());
            assertEquals(expectedEvents, evs(whole.getEventsList()));
            assertTrue(whole.getSerializedSize() > SMALL_MAX_REQUEST_BYTES + GRPC_OVERHEAD_BYTES);

            List<WatchResponse> expected = etcdFragments(whole.toBuilder().setWatchId(0).build(),
                    SMALL_MAX_REQUEST_BYTES + GRPC_OVERHEAD_BYTES);
            assertEquals(List.of("6 events, fragment", "4 events"), summary(expected));
            assertEquals(summary(expected), summary(fragments));
            assertTrue(expected.equals(fragments), "fragments differ from etcd's split of the whole response");
            // the parts of one response go out back to back
            int first = order.indexOf(0L);
            assertEquals(Collections.nCopies(expected.size(), 0L), order.subList(first, first + expected.size()));

            List<String> withoutPrev = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                withoutPrev.add(delete("fr/" + i, r1));
            }
            assertEvents(noPrev, smallMember, 2, r1, withoutPrev.toArray(String[]::new));
        }
    }

    // ---- progress --------------------------------------------------------------------------------------------------

    /**
     * progress_notify (the member runs with a 500 ms interval): an idle watcher gets empty responses with the
     * current revision; a watcher that did not ask gets none.
     */
    @Test
    void progressNotifyOnIdleWatcher() throws Exception {
        try (RawStream st = new RawStream(channel)) {
            long r0 = rev();
            st.create(key("pn/quiet"));
            assertResp(created(0, r0), st.next());
            st.create(key("pn/k").setProgressNotify(true));
            assertResp(created(1, r0), st.next());
            long t0 = System.nanoTime();
            assertResp(resp(main, 1, r0).build(), st.next());
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms < 2000, "first progress notification after " + ms + " ms");

            long r1 = put("pn/other", "x");
            // notifications keep coming, and soon carry the new revision
            WatchResponse r;
            do {
                r = st.next();
                assertEquals(1, r.getWatchId(), "only the watcher that asked gets notifications: " + r);
                assertEquals(0, r.getEventsCount(), r.toString());
                assertTrue(r.getHeader().getRevision() == r0 || r.getHeader().getRevision() == r1, r.toString());
            } while (r.getHeader().getRevision() != r1);
            assertResp(resp(main, 1, r1).build(), r);

            long r2 = put("pn/k", "v");
            do {
                r = st.next();
                assertEquals(1, r.getWatchId(), r.toString());
            } while (r.getEventsCount() == 0);
            assertEvents(r, main, 1, r2, put("pn/k", "v", r2, r2, 1));
            st.cancel(1);
            do {
                r = st.next();
            } while (!r.getCanceled());
            assertResp(canceled(1, r2), r);
            assertNull(st.next(1000), "no notifications once cancelled, none for watcher 0");
        }
    }

    /** WatchProgressRequest: answered at once with watch_id -1 and the current revision. */
    @Test
    void progressRequestIsAnsweredPromptly() throws Exception {
        try (RawStream st = new RawStream(channel)) {
            long r0 = rev();
            st.create(key("pr/k"));
            assertResp(created(0, r0), st.next());
            long r1 = put("pr/other", "x");
            long t0 = System.nanoTime();
            st.progress();
            assertResp(resp(main, -1, r1).build(), st.next());
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms < 1000, "progress answered after " + ms + " ms");
            long r2 = put("pr/k", "v");
            assertEvents(st.next(), main, 0, r2, put("pr/k", "v", r2, r2, 1));
            st.progress();
            assertResp(resp(main, -1, r2).build(), st.next());
            assertNull(st.next(200));
        }
        // jetcd delivers it to its listener as a progress notification
        BlockingQueue<io.etcd.jetcd.watch.WatchResponse> got = new LinkedBlockingQueue<>();
        long r0 = rev();
        try (Watch.Watcher w = watchClient.watch(bs("pr/j"), WatchOption.builder().withRevision(r0 + 1).build(),
                got::add)) {
            long r1 = put("pr/j", "1");
            io.etcd.jetcd.watch.WatchResponse first = got.poll(TIMEOUT_S, TimeUnit.SECONDS);
            assertEquals(List.of(put("pr/j", "1", r1, r1, 1)), first.getEvents().stream().map(WatchIT::jetcdEv).toList());
            long r2 = put("pr/other", "y");
            w.requestProgress();
            io.etcd.jetcd.watch.WatchResponse p = got.poll(TIMEOUT_S, TimeUnit.SECONDS);
            assertTrue(p != null && p.isProgressNotify(), String.valueOf(p));
            assertEquals(r2, p.getHeader().getRevision());
        }
    }

    // ---- slow consumers ---------------------------------------------------------------------------------------------

    /**
     * A client that stops reading its stream holds up neither writes nor other watchers; once it reads again it
     * gets every event, in order, without a gap, in responses a default gRPC client accepts (4 MiB).
     */
    @Test
    void slowConsumerDoesNotBlockWritesOrOtherWatchers() throws Exception {
        int n = 3500;
        String pad = "s".repeat(3000);
        ManagedChannel slowChannel = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort())
                .usePlaintext().flowControlWindow(64 * 1024).build();
        List<Long> fastRevs = Collections.synchronizedList(new ArrayList<>());
        try (RawStream slow = new RawStream(slowChannel, true)) {
            long r0 = rev();
            slow.create(prefix("sc/"));
            assertResp(created(0, r0), slow.next()); // the one response it asked for; now it reads nothing
            try (Watch.Watcher fast = watchClient.watch(bs("sc/"), WatchOption.builder().isPrefix(true)
                    .withRevision(r0 + 1).build(), r -> r.getEvents().forEach(e -> {
                        assertEquals(pad, s(e.getKeyValue().getValue()).substring(7));
                        fastRevs.add(e.getKeyValue().getModRevision());
                    }))) {
                Map<Long, Integer> written = new ConcurrentHashMap<>();
                Semaphore inFlight = new Semaphore(16);
                List<CompletableFuture<?>> puts = new ArrayList<>();
                long t0 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    int idx = i;
                    inFlight.acquire();
                    puts.add(kv.put(bs("sc/" + (i % 50)), bs(String.format("%06d:", i) + pad)).whenComplete((r, t) -> {
                        inFlight.release();
                        if (r != null) {
                            written.put(r.getHeader().getRevision(), idx);
                        }
                    }));
                }
                for (CompletableFuture<?> f : puts) {
                    await(f);
                }
                long writeMs = (System.nanoTime() - t0) / 1_000_000;
                assertTrue(writeMs < 30_000, n + " puts took " + writeMs + " ms while a watcher was stalled");
                assertEquals(n, written.size());
                assertEquals(r0 + n, rev());
                poll("the fast watcher's events", 30_000, () -> fastRevs.size() >= n);
                List<Long> all = new ArrayList<>();
                for (long rv = r0 + 1; rv <= r0 + n; rv++) {
                    all.add(rv);
                }
                assertEquals(all, fastRevs);
                assertNull(slow.next(100), "the stalled client has taken nothing");

                // it reads again: everything, in order, in whole revisions
                slow.request(Integer.MAX_VALUE);
                List<Long> revs = new ArrayList<>();
                List<Integer> order = new ArrayList<>();
                while (revs.size() < n) {
                    WatchResponse r = slow.next();
                    // catch-up responses hold at most 1000 revisions (etcd's watchBatchMaxRevs)
                    assertTrue(r.getEventsList().stream().map(e -> e.getKv().getModRevision()).distinct().count()
                            <= 1000, "revisions in one response");
                    assertEquals(0, r.getWatchId(), r.getEventsCount() == 0 ? r.toString() : "watch id");
                    assertFalse(r.getCreated() || r.getCanceled() || r.getFragment());
                    assertTrue(r.getEventsCount() > 0, "no progress notifications were asked for");
                    for (Event e : r.getEventsList()) {
                        revs.add(e.getKv().getModRevision());
                        String v = s(e.getKv().getValue());
                        assertEquals(pad, v.substring(7));
                        order.add(Integer.parseInt(v.substring(0, 6)));
                    }
                }
                assertEquals(all, revs);
                List<Integer> expectedOrder = new ArrayList<>();
                for (long rv = r0 + 1; rv <= r0 + n; rv++) {
                    expectedOrder.add(written.get(rv));
                }
                assertEquals(expectedOrder, order);
                assertNull(slow.next(200));
                assertNull(slow.error());
            }
        } finally {
            slowChannel.shutdownNow();
        }
    }

}
