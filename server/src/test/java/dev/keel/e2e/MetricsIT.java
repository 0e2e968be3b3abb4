package dev.keel.e2e;

import com.google.protobuf.ByteString;
import dev.keel.proto.etcdserverpb.Compare;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.StatusRequest;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.etcdserverpb.WatchCancelRequest;
import dev.keel.proto.etcdserverpb.WatchCreateRequest;
import dev.keel.proto.etcdserverpb.WatchGrpc;
import dev.keel.proto.etcdserverpb.WatchRequest;
import dev.keel.proto.etcdserverpb.WatchResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * {@code /metrics} on the client port: Prometheus text format 0.0.4 under etcd 3.6's names, counters that move by
 * exactly what the requests did, and the histograms the bench script reads. One fresh member, tests in order of
 * their own deltas (each test reads the counters before and after what it does).
 */
@org.junit.jupiter.api.TestMethodOrder(org.junit.jupiter.api.MethodOrderer.OrderAnnotation.class)
class MetricsIT {

    @TempDir
    static Path tmp;

    static ServerProcess server;
    static ManagedChannel channel;
    static HttpClient http;

    @BeforeAll
    static void start() throws Exception {
        assumeFalse(ServerProcess.isReferenceEtcd(), "Keel's own metrics (etcd 3.4's differ)");
        server = ServerProcess.start(tmp.resolve("metrics"));
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort()).usePlaintext().build();
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        MaintenanceGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance());
    }

    @AfterAll
    static void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow();
            channel.awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
    }

    // ---- scraping and parsing --------------------------------------------------------------------------

    private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern SAMPLE = Pattern.compile(
            "([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"(?:\\\\.|[^\"\\\\])*\""
                    + "(?:,[a-zA-Z_][a-zA-Z0-9_]*=\"(?:\\\\.|[^\"\\\\])*\")*),?\\})? (\\S+)");

    /** A scrape: every sample by its name with labels as written (without simpleclient's trailing comma), e.g.
     * {@code x_bucket{le="0.001"}}. */
    record Scrape(String text, Map<String, Double> samples, Map<String, String> types) {
        double get(String series) {
            Double v = samples.get(series);
            assertNotNull(v, () -> "no sample " + series + " in\n" + text);
            return v;
        }
    }

    static String fetch(String path) throws Exception {
        return fetch(server, path);
    }

    static String fetch(ServerProcess from, String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(from.url() + path))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", r.headers().firstValue("Content-Type").orElse(null));
        return r.body();
    }

    /** Scrapes and checks every line against the text format: HELP, then TYPE, then the family's samples. */
    static Scrape scrape() throws Exception {
        return scrape(server);
    }

    static Scrape scrape(ServerProcess from) throws Exception {
        String text = fetch(from, "/metrics");
        assertTrue(text.endsWith("\n"), "ends with a newline");
        Map<String, Double> samples = new LinkedHashMap<>();
        Map<String, String> types = new HashMap<>();
        Set<String> helped = new HashSet<>();
        String family = null;
        for (String line : text.split("\n", -1)) {
            if (line.isEmpty()) {
                continue;
            }
            if (line.startsWith("# HELP ")) {
                String[] p = line.split(" ", 4);
                assertTrue(NAME.matcher(p[2]).matches(), line);
                assertTrue(p.length == 4 && !p[3].isEmpty(), () -> "help text: " + line);
                assertTrue(helped.add(p[2]), "family twice: " + line);
                family = p[2];
                continue;
            }
            if (line.startsWith("# TYPE ")) {
                String[] p = line.split(" ");
                assertEquals(4, p.length, line);
                assertEquals(family, p[2], "TYPE follows its HELP: " + line);
                assertTrue(Set.of("counter", "gauge", "histogram", "summary", "untyped").contains(p[3]), line);
                types.put(p[2], p[3]);
                continue;
            }
            assertTrue(!line.startsWith("#"), () -> "unexpected comment: " + line);
            Matcher m = SAMPLE.matcher(line);
            assertTrue(m.matches(), () -> "not a sample line: " + line);
            String name = m.group(1);
            String base = name.replaceFirst("_(bucket|sum|count)$", "");
            String fam = family;
            // histograms (_bucket, _sum, _count) and summaries (_sum, _count: Micrometer's timers, e.g. GC pauses)
            assertTrue(name.equals(fam) || "histogram".equals(types.get(fam)) && base.equals(fam)
                            || "summary".equals(types.get(fam)) && base.equals(fam) && !name.endsWith("_bucket"),
                    () -> "sample outside its family " + fam + ": " + line);
            double v = switch (m.group(4)) {
                case "+Inf" -> Double.POSITIVE_INFINITY;
                case "-Inf" -> Double.NEGATIVE_INFINITY;
                case "NaN" -> Double.NaN;
                default -> Double.parseDouble(m.group(4));
            };
            // simpleclient (under Micrometer) ends each label set with a comma, {le="0.001",}, which the text
            // format allows; series are keyed without it
            String series = name + (m.group(2) == null ? "" : "{" + m.group(3) + "}");
            assertTrue(samples.put(series, v) == null, () -> "series twice: " + line);
        }
        return new Scrape(text, samples, types);
    }

    // ---- workload helpers ------------------------------------------------------------------------------

    static ByteString bs(String s) {
        return ByteString.copyFromUtf8(s);
    }

    static KVGrpc.KVBlockingStub kv() {
        return KVGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
    }

    static final String PUT_OK = "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Put\","
            + "grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"}";
    static final String PUT_STARTED = "grpc_server_started_total{grpc_method=\"Put\","
            + "grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"}";

    // ---- tests -------------------------------------------------------------------------------------------

    @Test
    void theAuthRevisionGaugeFollowsAuthChanges() throws Exception {
        var auth = dev.keel.proto.etcdserverpb.AuthGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
        long before = auth.authStatus(dev.keel.proto.etcdserverpb.AuthStatusRequest.getDefaultInstance())
                .getAuthRevision();
        assertEquals(before, scrape().get("etcd_debugging_auth_revision"));
        auth.userAdd(dev.keel.proto.etcdserverpb.AuthUserAddRequest.newBuilder().setName("metrics-user")
                .setPassword("pw").build());
        auth.roleAdd(dev.keel.proto.etcdserverpb.AuthRoleAddRequest.newBuilder().setName("metrics-role").build());
        long after = auth.authStatus(dev.keel.proto.etcdserverpb.AuthStatusRequest.getDefaultInstance())
                .getAuthRevision();
        assertEquals(before + 2, after, "a user and a role added");
        assertEquals(after, scrape().get("etcd_debugging_auth_revision"));
        assertEquals("gauge", scrape().types().get("etcd_debugging_auth_revision"));
    }

    @Test
    void countersMoveByWhatTheRequestsDid() throws Exception {
        Scrape before = scrape();
        double putsOk = before.samples().getOrDefault(PUT_OK, 0.0);
        double putsStarted = before.samples().getOrDefault(PUT_STARTED, 0.0);
        double keys = before.get("etcd_debugging_mvcc_keys_total");

        for (int i = 0; i < 5; i++) {
            kv().put(PutRequest.newBuilder().setKey(bs("m/k" + i)).setValue(bs("v" + i)).build());
        }
        for (int i = 0; i < 3; i++) {
            kv().range(RangeRequest.newBuilder().setKey(bs("m/k" + i)).build());
        }
        for (int i = 0; i < 2; i++) {
            // etcd's counting: the compare reads (a range), then a put and a range: 3 operations, one txn
            kv().txn(TxnRequest.newBuilder()
                    .addCompare(Compare.newBuilder().setKey(bs("m/k0")).setTarget(Compare.CompareTarget.VERSION)
                            .setResult(Compare.CompareResult.GREATER).setVersion(0))
                    .addSuccess(RequestOp.newBuilder().setRequestPut(
                            PutRequest.newBuilder().setKey(bs("m/t" + i)).setValue(bs("t"))))
                    .addSuccess(RequestOp.newBuilder().setRequestRange(RangeRequest.newBuilder().setKey(bs("m/k1"))))
                    .build());
        }
        kv().deleteRange(DeleteRangeRequest.newBuilder().setKey(bs("m/k4")).build());

        Scrape after = scrape();
        assertEquals(7, after.get("etcd_mvcc_put_total") - before.get("etcd_mvcc_put_total"), "puts");
        assertEquals(3 + 2 * 2, after.get("etcd_mvcc_range_total") - before.get("etcd_mvcc_range_total"), "ranges");
        assertEquals(1, after.get("etcd_mvcc_delete_total") - before.get("etcd_mvcc_delete_total"), "deletes");
        assertEquals(2, after.get("etcd_mvcc_txn_total") - before.get("etcd_mvcc_txn_total"), "txns");
        assertEquals(keys + 5 + 2 - 1, after.get("etcd_debugging_mvcc_keys_total"), "live keys");
        assertEquals(5, after.get(PUT_OK) - putsOk, "gRPC Put calls handled OK");
        assertEquals(5, after.get(PUT_STARTED) - putsStarted, "gRPC Put calls started");
        assertEquals(3, after.get("grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Range\","
                + "grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"}")
                - before.samples().getOrDefault("grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Range\","
                + "grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"}", 0.0), "gRPC Range calls");
        // 8 writes, one after another: 8 log entries, each proposed, committed and applied once
        assertEquals(8, after.get("etcd_disk_wal_fsync_duration_seconds_count")
                - before.get("etcd_disk_wal_fsync_duration_seconds_count"), "proposal latencies observed");
        assertTrue(after.get("etcd_disk_backend_commit_duration_seconds_count")
                - before.get("etcd_disk_backend_commit_duration_seconds_count") >= 8, "backend commits");
        assertTrue(after.get("etcd_disk_wal_fsync_duration_seconds_sum")
                > before.get("etcd_disk_wal_fsync_duration_seconds_sum"), "fsync time adds up");
        assertEquals(8, after.get("etcd_server_proposals_applied_total")
                - before.get("etcd_server_proposals_applied_total"), "applied index moved by the entries");
        assertEquals(after.get("etcd_server_proposals_applied_total"),
                after.get("etcd_server_proposals_committed_total"), "all committed entries applied");
        assertEquals(0, after.get("etcd_server_proposals_pending"));
        assertEquals(0, after.get("etcd_server_proposals_failed_total"));
    }

    @Test
    void serverGaugesAndInfo() throws Exception {
        var st = MaintenanceGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance());
        Scrape s = scrape();
        assertEquals(1, s.get("etcd_server_has_leader"));
        assertEquals(1, s.get("etcd_server_is_leader"));
        assertEquals(0, s.get("etcd_server_is_learner"));
        assertEquals(1, s.get("etcd_server_leader_changes_seen_total"));
        assertEquals(1, s.get("etcd_server_id{server_id=\"" + Long.toHexString(st.getHeader().getMemberId()) + "\"}"));
        assertEquals(1, s.get("etcd_server_version{server_version=\"3.6.0\"}"));
        assertEquals(1, s.get("etcd_cluster_version{cluster_version=\"3.6\"}"));
        assertEquals("3.6.0", st.getStorageVersion());
        assertEquals(2147483648.0, s.get("etcd_server_quota_backend_bytes"));
        // Micrometer's Prometheus registry (simpleclient) writes Java's Double.toString, not Go's %g
        assertTrue(s.text().contains("\netcd_server_quota_backend_bytes 2.147483648E9\n"), "Java's number format");
        assertTrue(s.get("etcd_mvcc_db_total_size_in_bytes") > 0, "db size");
        assertTrue(s.get("etcd_mvcc_db_total_size_in_use_in_bytes") > 0, "db size in use");
        assertEquals(0, s.get("etcd_server_slow_apply_total"));
        assertTrue(s.get("process_resident_memory_bytes") > 1 << 20, "RSS");
        assertTrue(s.get("process_open_fds") > 3, "open fds");
        assertTrue(s.get("process_cpu_seconds_total") > 0, "CPU time");
        double started = s.get("process_start_time_seconds");
        assertTrue(started > System.currentTimeMillis() / 1000.0 - 600 && started <= System.currentTimeMillis() / 1000.0);
        for (var e : Map.of("etcd_server_has_leader", "gauge", "etcd_server_leader_changes_seen_total", "counter",
                "etcd_server_proposals_committed_total", "gauge", "etcd_mvcc_put_total", "counter",
                "etcd_debugging_mvcc_watcher_total", "gauge", "etcd_disk_wal_fsync_duration_seconds", "histogram",
                "grpc_server_handled_total", "counter", "process_cpu_seconds_total", "counter").entrySet()) {
            assertEquals(e.getValue(), s.types().get(e.getKey()), e.getKey());
        }
        assertTrue(s.text().contains("# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync "
                + "called by WAL.\n# TYPE etcd_disk_wal_fsync_duration_seconds histogram\n"
                + "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\",} "), s.text());
    }

    /**
     * The families etcd's Grafana dashboard and alert rules (contrib/mixin) query that a single member has, plus
     * the other etcd 3.6 families Keel serves, with etcd's types; the request-driven ones move with requests.
     */
    @Test
    @org.junit.jupiter.api.Order(Integer.MAX_VALUE) // last: its Defragment and leases must not disturb the others
    void dashboardAndAlertFamiliesHaveData() throws Exception {
        Scrape before = scrape();
        kv().range(RangeRequest.newBuilder().setKey(bs("m/d")).build());
        HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/health"))
                .timeout(Duration.ofSeconds(20)).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode(), health.body());
        var maint = MaintenanceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
        maint.defragment(dev.keel.proto.etcdserverpb.DefragmentRequest.getDefaultInstance());
        maint.hash(dev.keel.proto.etcdserverpb.HashRequest.getDefaultInstance());
        maint.hashKV(dev.keel.proto.etcdserverpb.HashKVRequest.getDefaultInstance());
        var leases = dev.keel.proto.etcdserverpb.LeaseGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        long lease = leases.leaseGrant(dev.keel.proto.etcdserverpb.LeaseGrantRequest.newBuilder().setTTL(60).build())
                .getID();
        LinkedBlockingQueue<Object> renewed = new LinkedBlockingQueue<>();
        var keepAlive = dev.keel.proto.etcdserverpb.LeaseGrpc.newStub(channel).leaseKeepAlive(new StreamObserver<>() {
            @Override
            public void onNext(dev.keel.proto.etcdserverpb.LeaseKeepAliveResponse r) {
                renewed.add(r);
            }

            @Override
            public void onError(Throwable t) {
                renewed.add(t);
            }

            @Override
            public void onCompleted() {
            }
        });
        keepAlive.onNext(dev.keel.proto.etcdserverpb.LeaseKeepAliveRequest.newBuilder().setID(lease).build());
        assertTrue(renewed.poll(30, TimeUnit.SECONDS) instanceof dev.keel.proto.etcdserverpb.LeaseKeepAliveResponse);
        keepAlive.onCompleted();
        leases.leaseRevoke(dev.keel.proto.etcdserverpb.LeaseRevokeRequest.newBuilder().setID(lease).build());
        Scrape s = scrape();
        for (String c : List.of("etcd_debugging_lease_granted_total", "etcd_debugging_lease_renewed_total",
                "etcd_debugging_lease_revoked_total")) {
            assertEquals(1, s.get(c) - before.get(c), c);
            assertEquals("counter", s.types().get(c), c);
        }
        // every family the mixin's queries name that exists on a single member (peer families need peers)
        for (String f : List.of("etcd_server_has_leader", "etcd_server_leader_changes_seen_total",
                "grpc_server_handled_total", "grpc_server_started_total", "etcd_server_proposals_failed_total",
                "etcd_server_proposals_pending", "etcd_server_proposals_committed_total",
                "etcd_server_proposals_applied_total", "etcd_mvcc_db_total_size_in_bytes",
                "etcd_mvcc_db_total_size_in_use_in_bytes", "etcd_server_quota_backend_bytes",
                "etcd_disk_wal_fsync_duration_seconds", "etcd_disk_backend_commit_duration_seconds",
                "process_resident_memory_bytes", "etcd_network_client_grpc_sent_bytes_total",
                "etcd_network_client_grpc_received_bytes_total")) {
            assertTrue(s.types().containsKey(f), "family " + f);
        }
        // as etcd's, the peer families have no series without peers
        assertFalse(s.types().containsKey("etcd_network_peer_round_trip_time_seconds"));
        for (var e : Map.ofEntries(Map.entry("etcd_network_client_grpc_sent_bytes_total", "counter"),
                Map.entry("etcd_network_client_grpc_received_bytes_total", "counter"),
                Map.entry("etcd_server_range_duration_seconds", "histogram"),
                Map.entry("etcd_server_read_indexes_failed_total", "counter"),
                Map.entry("etcd_server_health_success", "untyped"), Map.entry("etcd_server_health_failures", "untyped"),
                Map.entry("etcd_disk_defrag_inflight", "gauge"),
                Map.entry("etcd_disk_backend_defrag_duration_seconds", "histogram"),
                Map.entry("etcd_mvcc_hash_duration_seconds", "histogram"),
                Map.entry("etcd_mvcc_hash_rev_duration_seconds", "histogram"),
                Map.entry("etcd_server_feature_enabled", "gauge"), Map.entry("os_fd_used", "gauge"),
                Map.entry("os_fd_limit", "gauge")).entrySet()) {
            assertEquals(e.getValue(), s.types().get(e.getKey()), e.getKey());
        }
        assertTrue(s.get("etcd_network_client_grpc_sent_bytes_total")
                > before.get("etcd_network_client_grpc_sent_bytes_total"), "bytes sent to gRPC clients");
        assertTrue(s.get("etcd_network_client_grpc_received_bytes_total")
                >= before.get("etcd_network_client_grpc_received_bytes_total") + "m/d".length() + 2, "bytes received");
        assertTrue(s.get("etcd_server_range_duration_seconds_count{success=\"true\"}")
                > before.samples().getOrDefault("etcd_server_range_duration_seconds_count{success=\"true\"}", 0.0));
        assertEquals(1, s.get("etcd_server_health_success") - before.get("etcd_server_health_success"));
        assertEquals(0, s.get("etcd_disk_defrag_inflight"));
        assertEquals(1, s.get("etcd_disk_backend_defrag_duration_seconds_count")
                - before.get("etcd_disk_backend_defrag_duration_seconds_count"));
        assertEquals(1, s.get("etcd_mvcc_hash_duration_seconds_count")
                - before.get("etcd_mvcc_hash_duration_seconds_count"));
        assertEquals(1, s.get("etcd_mvcc_hash_rev_duration_seconds_count")
                - before.get("etcd_mvcc_hash_rev_duration_seconds_count"));
        assertEquals(0, s.get("etcd_server_feature_enabled{name=\"StopGRPCServiceOnDefrag\",stage=\"ALPHA\"}"));
        assertEquals(0, s.get("etcd_server_read_indexes_failed_total"));
        assertTrue(s.get("os_fd_used") > 3 && s.get("os_fd_limit") >= s.get("os_fd_used"), "fds");
    }

    /**
     * The peer prober on a member whose peer is down, then listening: a failed probe counts as a send failure to
     * that peer; once the peer's Raft port answers, its round trip time is observed and it counts as active.
     */
    @Test
    @org.junit.jupiter.api.Order(Integer.MAX_VALUE)
    void peerProbesFeedThePeerFamilies() throws Exception {
        try (ServerProcess lone = ServerProcess.startWithoutQuorum(tmp.resolve("lone"))) {
            ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", lone.clientPort()).usePlaintext().build();
            dev.keel.proto.etcdserverpb.MemberListResponse list;
            try {
                list = dev.keel.proto.etcdserverpb.ClusterGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
                        .memberList(dev.keel.proto.etcdserverpb.MemberListRequest.getDefaultInstance());
            } finally {
                ch.shutdownNow();
            }
            long self = list.getHeader().getMemberId();
            var down = list.getMembersList().stream().filter(m -> m.getID() != self).findFirst().orElseThrow();
            String to = Long.toHexString(down.getID());
            String local = Long.toHexString(self);
            String failures = "etcd_network_peer_sent_failures_total{To=\"" + to + "\"}";
            Scrape s = awaitScrape(lone, x -> x.samples().getOrDefault(failures, 0.0) >= 1);
            assertEquals("counter", s.types().get("etcd_network_peer_sent_failures_total"));
        assertEquals(1, s.get("etcd_network_known_peers{Local=\"" + local + "\",Remote=\"" + to + "\"}"));
            assertEquals(0, s.get("etcd_network_active_peers{Local=\"" + local + "\",Remote=\"" + to + "\"}"));
            int port = URI.create(down.getPeerURLs(0)).getPort();
            try (java.net.ServerSocket peer = new java.net.ServerSocket(port, 50,
                    java.net.InetAddress.getByName("127.0.0.1"))) {
                String rtt = "etcd_network_peer_round_trip_time_seconds_count{To=\"" + to + "\"}";
                Scrape up = awaitScrape(lone, x -> x.samples().getOrDefault(rtt, 0.0) >= 1);
                assertEquals("histogram", up.types().get("etcd_network_peer_round_trip_time_seconds"));
                assertEquals(1, up.get("etcd_network_active_peers{Local=\"" + local + "\",Remote=\"" + to + "\"}"));
                assertTrue(up.get("etcd_network_peer_round_trip_time_seconds_sum{To=\"" + to + "\"}") < 1,
                        "a loopback round trip");
            }
        }
    }

    private static Scrape awaitScrape(ServerProcess from, java.util.function.Predicate<Scrape> done)
            throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        Scrape s = scrape(from);
        while (!done.test(s)) {
            assertTrue(System.nanoTime() < deadline, () -> "timed out; last scrape:\n" + from.logTail());
            Thread.sleep(200);
            s = scrape(from);
        }
        return s;
    }

    @Test
    void histogramsHaveEtcdsBucketsAndAreCumulative() throws Exception {
        kv().put(PutRequest.newBuilder().setKey(bs("m/h")).setValue(bs("h")).build());
        Scrape s = scrape();
        for (String h : List.of("etcd_disk_wal_fsync_duration_seconds", "etcd_disk_backend_commit_duration_seconds")) {
            double prev = 0;
            double bound = 0.001;
            for (int i = 0; i < 14; i++) {
                String le = i == 13 ? "8.192" : new java.math.BigDecimal(Double.toString(bound)).stripTrailingZeros()
                        .toPlainString();
                double c = s.get(h + "_bucket{le=\"" + le + "\"}");
                assertTrue(c >= prev, h + " cumulative at " + le);
                prev = c;
                bound *= 2;
            }
            double inf = s.get(h + "_bucket{le=\"+Inf\"}");
            assertTrue(inf >= prev);
            assertEquals(inf, s.get(h + "_count"), h + " count is the +Inf bucket");
            assertTrue(inf >= 1, h + " observed");
            assertEquals(16, s.samples().keySet().stream().filter(k -> k.startsWith(h + "_bucket")).count() + 1,
                    h + ": 14 buckets, +Inf");
        }
        // observations land in the bucket of their value: a RocksDB batch write takes far less than half a second
        assertEquals(s.get("etcd_disk_backend_commit_duration_seconds_count"),
                s.get("etcd_disk_backend_commit_duration_seconds_bucket{le=\"0.512\"}"),
                "sub-second backend commits must not all be counted in the 1.024 s bucket");
    }

    @Test
    void smallRyeHealthIsUpWithALeader() throws Exception {
        for (String path : List.of("/q/health/live", "/q/health/ready", "/q/health")) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(server.url() + path))
                    .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), path + ": " + r.body());
            String body = r.body().replaceAll("\\s+", "");
            assertTrue(body.startsWith("{\"status\":\"UP\""), path + ": " + r.body());
            assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), path);
        }
        HttpResponse<String> ready = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/q/health/ready"))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
        String body = ready.body().replaceAll("\\s+", "");
        assertTrue(body.contains("\"name\":\"keel-member\"") && body.contains("\"leader\":true")
                && body.contains("\"storage_writable\":true"), ready.body());
        // etcd's own endpoints stay as they were, next to SmallRye's
        assertEquals("ok\n", http.send(HttpRequest.newBuilder(URI.create(server.url() + "/readyz")).GET().build(),
                HttpResponse.BodyHandlers.ofString()).body());
    }

    /** The awk program of footprint() in shared/bench/bench-etcd.sh, as it reads /metrics. */
    static final String BENCH_AWK = """
            function le(q,   k,c) { for (k=1;k<=nb;k++) if (cnt[k] >= q*total) return bl[k]*1000; return "inf" }
            /^etcd_disk_wal_fsync_duration_seconds_bucket/ {
                match($0, /le="[^"]+"/); b=substr($0, RSTART+4, RLENGTH-5);
                if (b != "+Inf") { nb++; bl[nb]=b; cnt[nb]=$NF } }
            /^etcd_disk_wal_fsync_duration_seconds_sum/   { s=$NF }
            /^etcd_disk_wal_fsync_duration_seconds_count/ { total=$NF }
            /^etcd_disk_backend_commit_duration_seconds_sum/   { bs=$NF }
            /^etcd_disk_backend_commit_duration_seconds_count/ { bc=$NF }
            /^etcd_mvcc_db_total_size_in_bytes / { db=$NF }
            END {
              if (total > 0) printf "%.1f\\t%d\\t%.3f\\t%s\\t%s\\t%s", db/1048576, total, s/total*1000, le(0.5), le(0.99), (bc>0? sprintf("%.3f", bs/bc*1000) : "NA");
              else printf "NA\\tNA\\tNA\\tNA\\tNA\\tNA" }
            """;

    @Test
    void benchScriptFindsTheHistograms() throws Exception {
        kv().put(PutRequest.newBuilder().setKey(bs("m/b")).setValue(bs("b")).build());
        String text = fetch("/metrics");
        Process awk = new ProcessBuilder("awk", BENCH_AWK).redirectErrorStream(true).start();
        awk.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
        awk.getOutputStream().close();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        awk.getInputStream().transferTo(out);
        assertTrue(awk.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, awk.exitValue(), out.toString());
        String[] f = out.toString(StandardCharsets.UTF_8).split("\t");
        assertEquals(6, f.length, out.toString());
        Scrape s = scrape();
        assertTrue(Double.parseDouble(f[0]) >= 0, "db MiB");
        assertTrue(Long.parseLong(f[1]) >= s.get("etcd_disk_wal_fsync_duration_seconds_count") - 1, "fsync count");
        assertTrue(Long.parseLong(f[1]) >= 1, "fsync count");
        assertTrue(Double.parseDouble(f[2]) > 0, "fsync average ms");
        assertTrue(Double.parseDouble(f[3]) >= 1, "p50 bucket bound in ms: " + f[3]);
        assertTrue(Double.parseDouble(f[4]) >= Double.parseDouble(f[3]), "p99 bucket bound in ms: " + f[4]);
        assertTrue(Double.parseDouble(f[5]) >= 0, "backend commit average ms: " + f[5]);
    }

    @Test
    void watchersAndStreamsAreCounted() throws Exception {
        Scrape before = scrape();
        double watchers = before.get("etcd_debugging_mvcc_watcher_total");
        double streams = before.get("etcd_debugging_mvcc_watch_stream_total");
        LinkedBlockingQueue<WatchResponse> got = new LinkedBlockingQueue<>();
        StreamObserver<WatchRequest> requests = WatchGrpc.newStub(channel).watch(new StreamObserver<>() {
            @Override
            public void onNext(WatchResponse r) {
                got.add(r);
            }

            @Override
            public void onError(Throwable t) {
            }

            @Override
            public void onCompleted() {
            }
        });
        requests.onNext(WatchRequest.newBuilder().setCreateRequest(WatchCreateRequest.newBuilder()
                .setKey(bs("m/w"))).build());
        requests.onNext(WatchRequest.newBuilder().setCreateRequest(WatchCreateRequest.newBuilder()
                .setKey(bs("m/x"))).build());
        assertTrue(got.poll(10, TimeUnit.SECONDS).getCreated());
        WatchResponse second = got.poll(10, TimeUnit.SECONDS);
        assertTrue(second.getCreated());
        Scrape during = scrape();
        assertEquals(watchers + 2, during.get("etcd_debugging_mvcc_watcher_total"));
        assertEquals(streams + 1, during.get("etcd_debugging_mvcc_watch_stream_total"));
        assertEquals(2, during.get("grpc_server_msg_received_total{grpc_method=\"Watch\","
                + "grpc_service=\"etcdserverpb.Watch\",grpc_type=\"bidi_stream\"}"));
        assertEquals(1, during.get("grpc_server_started_total{grpc_method=\"Watch\","
                + "grpc_service=\"etcdserverpb.Watch\",grpc_type=\"bidi_stream\"}"));

        requests.onNext(WatchRequest.newBuilder().setCancelRequest(WatchCancelRequest.newBuilder()
                .setWatchId(second.getWatchId())).build());
        assertTrue(got.poll(10, TimeUnit.SECONDS).getCanceled());
        assertEquals(watchers + 1, scrape().get("etcd_debugging_mvcc_watcher_total"));

        requests.onCompleted();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            Scrape s = scrape();
            if (s.get("etcd_debugging_mvcc_watcher_total") == watchers
                    && s.get("etcd_debugging_mvcc_watch_stream_total") == streams) {
                break;
            }
            if (System.nanoTime() > deadline) {
                fail("watchers not removed after the stream ended:\n" + s.text());
            }
            Thread.sleep(50);
        }
    }
}
