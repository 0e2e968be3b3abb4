package dev.keel.e2e;

import dev.keel.proto.etcdserverpb.WatchCreateRequest;
import dev.keel.proto.etcdserverpb.WatchGrpc;
import dev.keel.proto.etcdserverpb.WatchRequest;
import dev.keel.proto.etcdserverpb.WatchResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Start-up errors say what went wrong on stderr before a non-zero exit, in etcd's words (a port in use names the
 * address; a data dir, certificate or flag value that cannot be used), and flags with effect have it (auto
 * compaction, --log-outputs, --enable-grpc-gateway).
 */
class StartupFlagsIT {

    @TempDir
    Path tmp;

    /** A member's exit status and what it printed on stderr. */
    record Exit(int code, String stderr) {
    }

    /** Runs a member that must fail at start-up; returns its exit status and stderr. */
    private static Exit failingStart(ServerProcess member, String... moreFlags) throws Exception {
        List<String> cmd = new ArrayList<>(member.command());
        cmd.addAll(List.of(moreFlags));
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("member did not exit: " + cmd);
        }
        return new Exit(p.exitValue(), new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    @Test
    void aPortInUseIsNamed() throws Exception {
        ServerProcess member = ServerProcess.prepare(tmp.resolve("m"));
        int metrics = ServerProcess.freePort();
        String metricsFlag = "--listen-metrics-urls=http://127.0.0.1:" + metrics;
        int[] ports = {member.clientPort(), URI.create(member.peerUrl()).getPort(), metrics};
        for (int port : ports) {
            try (ServerSocket taken = new ServerSocket(port, 1, InetAddress.getByName("127.0.0.1"))) {
                Exit e = failingStart(member, metricsFlag);
                assertTrue(e.code() != 0, "exit status");
                assertTrue(e.stderr().contains("listen tcp 127.0.0.1:" + port + ": bind: address already in use"),
                        e.stderr());
            }
        }
    }

    @Test
    void anUnusableDataDirIsExplained() throws Exception {
        Path file = tmp.resolve("not-a-dir");
        Files.writeString(file, "x");
        Exit e = failingStart(ServerProcess.prepare(file));
        assertEquals(1, e.code(), e.stderr());
        assertTrue(e.stderr().contains("cannot access data directory: mkdir " + file + ": not a directory"),
                e.stderr());
        if (!ServerProcess.isReferenceEtcd()) {
            // an etcd member's own data dir (WAL, bbolt snapshots): Keel cannot read it, and says so
            Path etcdDir = tmp.resolve("etcd-data");
            Files.createDirectories(etcdDir.resolve("member").resolve("wal"));
            Files.createDirectories(etcdDir.resolve("member").resolve("snap"));
            Exit foreign = failingStart(ServerProcess.prepare(etcdDir));
            assertEquals(1, foreign.code(), foreign.stderr());
            assertTrue(foreign.stderr().contains("holds an etcd member's data"), foreign.stderr());
        }
    }

    @Test
    void aMissingCertificateIsNamed() throws Exception {
        Path missing = tmp.resolve("pki").resolve("server.crt");
        ServerProcess member = ServerProcess.prepare(tmp.resolve("m"));
        Exit e = failingStart(member, "--cert-file=" + missing, "--key-file=" + tmp.resolve("pki/server.key"),
                "--listen-client-urls=https://127.0.0.1:" + member.clientPort(),
                "--advertise-client-urls=https://127.0.0.1:" + member.clientPort());
        assertTrue(e.code() != 0, "exit status");
        assertTrue(e.stderr().contains("open " + missing + ": no such file or directory"), e.stderr());
    }

    @Test
    void flagValuesThatDoNotParseStopWithGosWords() throws Exception {
        ServerProcess member = ServerProcess.prepare(tmp.resolve("m"));
        Exit bad = failingStart(member, "--snapshot-count=abc");
        assertEquals(2, bad.code(), bad.stderr());
        assertTrue(bad.stderr().contains("invalid value \"abc\" for flag -snapshot-count: parse error"),
                bad.stderr());
        Exit unknown = failingStart(member, "--no-such-flag");
        assertEquals(2, unknown.code(), unknown.stderr());
        assertTrue(unknown.stderr().contains("flag provided but not defined: -no-such-flag"), unknown.stderr());
        Exit mode = failingStart(member, "--auto-compaction-mode=hourly");
        assertEquals(1, mode.code(), mode.stderr());
        assertTrue(mode.stderr().contains("unknown auto-compaction-mode \"hourly\""), mode.stderr());
    }

    @Test
    void periodicAutoCompactionCompactsTheOldRevisions() throws Exception {
        Path logFile = tmp.resolve("keel.log");
        try (ServerProcess m = ServerProcess.start(tmp.resolve("m"), "--auto-compaction-mode=periodic",
                "--auto-compaction-retention=2s", "--enable-grpc-gateway=false",
                ServerProcess.isReferenceEtcd() ? "" : "--enable-v2",
                "--log-outputs=stderr," + logFile)) {
            Etcdctl ctl = new Etcdctl(m.url());
            for (int i = 0; i < 5; i++) {
                ctl.ok("put", "k", "v" + i);
            }
            // etcd's schedule for P = 2 s: samples every 200 ms, first compaction after 2 s to the revision 2 s old
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            Etcdctl.Result r;
            do {
                Thread.sleep(300);
                ctl.ok("put", "tick", "x");
                r = ctl.run("get", "k", "--rev=2");
            } while (r.exitCode() == 0 && System.nanoTime() < deadline);
            assertTrue(r.stderr().contains("required revision has been compacted"), r.toString());
            if (!ServerProcess.isReferenceEtcd()) {
                // --log-outputs: the file gets the log too; --enable-grpc-gateway=false: no /v3/ paths
                String log = Files.readString(logFile);
                assertTrue(log.contains("completed auto periodic compaction"), log);
                assertTrue(log.contains("flag --enable-v2 has no effect in Keel"), log);
            }
            HttpResponse<String> gw = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                            URI.create(m.url() + "/v3/kv/range")).timeout(Duration.ofSeconds(10))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"key\":\"aw==\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(404, gw.statusCode(), gw.body());
        }
    }

    @Test
    void maxConcurrentStreamsLimitsStreamsPerConnection() throws Exception {
        try (ServerProcess m = ServerProcess.start(tmp.resolve("m"), "--max-concurrent-streams=2")) {
            ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", m.clientPort()).usePlaintext().build();
            try {
                // one connection, three Watch streams: the server's SETTINGS allow two, so the third waits
                List<java.util.concurrent.CountDownLatch> created = new ArrayList<>();
                List<StreamObserver<WatchRequest>> streams = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    java.util.concurrent.CountDownLatch latch = new java.util.concurrent.CountDownLatch(1);
                    created.add(latch);
                    StreamObserver<WatchRequest> out = WatchGrpc.newStub(ch).watch(new StreamObserver<>() {
                        @Override
                        public void onNext(WatchResponse r) {
                            if (r.getCreated()) {
                                latch.countDown();
                            }
                        }

                        @Override
                        public void onError(Throwable t) {
                        }

                        @Override
                        public void onCompleted() {
                        }
                    });
                    out.onNext(WatchRequest.newBuilder().setCreateRequest(WatchCreateRequest.newBuilder()
                            .setKey(com.google.protobuf.ByteString.copyFromUtf8("k" + i))).build());
                    streams.add(out);
                }
                assertTrue(created.get(0).await(10, TimeUnit.SECONDS), "first stream");
                assertTrue(created.get(1).await(10, TimeUnit.SECONDS), "second stream");
                assertTrue(!created.get(2).await(2, TimeUnit.SECONDS), "a third stream must wait for a free slot");
                streams.get(0).onCompleted();
                assertTrue(created.get(2).await(10, TimeUnit.SECONDS), "the third stream starts once one ends");
            } finally {
                ch.shutdownNow();
            }
        }
    }
}
