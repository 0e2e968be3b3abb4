package dev.keel.metrics;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The member's metrics under etcd 3.6's names, help texts, types and buckets, as static handles the layers record
 * into (each layer imports this package; this package imports none of them). Values that already live elsewhere
 * (Raft indexes, database size, watcher count) are registered as functions by the server and read on scrape.
 */
public final class Metrics {

    private Metrics() {
    }

    /** What {@code GET /metrics} renders: Micrometer meters in a Prometheus registry (see {@link Registry}). */
    public static final Registry REGISTRY = new Registry();

    /** client_golang's ExponentialBuckets(start, factor, count). */
    public static double[] exponentialBuckets(double start, double factor, int count) {
        double[] b = new double[count];
        for (int i = 0; i < count; i++) {
            b[i] = start;
            start *= factor;
        }
        return b;
    }

    // ---- etcd_server -----------------------------------------------------------------------------------------

    public static final Registry.Counter LEADER_CHANGES = REGISTRY.counter("etcd_server_leader_changes_seen_total",
            "The number of leader changes seen.");
    public static final Registry.Gauge PROPOSALS_PENDING = REGISTRY.gauge("etcd_server_proposals_pending",
            "The current number of pending proposals to commit.");
    public static final Registry.Counter PROPOSALS_FAILED = REGISTRY.counter("etcd_server_proposals_failed_total",
            "The total number of failed proposals seen.");
    public static final Registry.Counter SLOW_APPLIES = REGISTRY.counter("etcd_server_slow_apply_total",
            "The total number of slow apply requests (likely overloaded from slow disk).");
    public static final Registry.Counter LEASE_EXPIRED = REGISTRY.counter("etcd_debugging_server_lease_expired_total",
            "The total number of expired leases.");

    public static final Registry.Counter READ_INDEXES_FAILED = REGISTRY.counter(
            "etcd_server_read_indexes_failed_total", "The total number of failed read indexes seen.");
    /** etcd's txn.Range latency, by success (Range requests; a RangeStream counts once per chunk). */
    public static final Registry.Labelled<Registry.Histogram> RANGE_DURATION = REGISTRY.histogram(
            "etcd_server_range_duration_seconds", "The latency distributions of txn.Range",
            exponentialBuckets(0.0001, 2, 20), "success");
    /** The two series of {@link #RANGE_DURATION}, kept so that a range does not look them up. */
    public static final Registry.Histogram RANGE_OK = RANGE_DURATION.labels("true");
    public static final Registry.Histogram RANGE_FAILED = RANGE_DURATION.labels("false");
    /** etcd's names have no _total: written untyped to keep them (see {@link Registry.RawCounter}). */
    public static final Registry.RawCounter HEALTH_SUCCESS = REGISTRY.rawCounter("etcd_server_health_success",
            "The total number of successful health checks");
    public static final Registry.RawCounter HEALTH_FAILURES = REGISTRY.rawCounter("etcd_server_health_failures",
            "The total number of failed health checks");

    public static final Registry.Counter LEASE_GRANTED = REGISTRY.counter("etcd_debugging_lease_granted_total",
            "The total number of granted leases.");
    public static final Registry.Counter LEASE_REVOKED = REGISTRY.counter("etcd_debugging_lease_revoked_total",
            "The total number of revoked leases.");
    public static final Registry.Counter LEASE_RENEWED = REGISTRY.counter("etcd_debugging_lease_renewed_total",
            "The number of renewed leases seen by the leader.");

    /** etcd's warning-apply-duration: an apply slower than this counts in {@link #SLOW_APPLIES}. */
    public static final long SLOW_APPLY_NANOS = 100_000_000L;

    // ---- etcd_mvcc -------------------------------------------------------------------------------------------

    public static final Registry.Counter MVCC_RANGE = REGISTRY.counter("etcd_mvcc_range_total",
            "Total number of ranges seen by this member.");
    public static final Registry.Counter MVCC_PUT = REGISTRY.counter("etcd_mvcc_put_total",
            "Total number of puts seen by this member.");
    public static final Registry.Counter MVCC_DELETE = REGISTRY.counter("etcd_mvcc_delete_total",
            "Total number of deletes seen by this member.");
    public static final Registry.Counter MVCC_TXN = REGISTRY.counter("etcd_mvcc_txn_total",
            "Total number of txns seen by this member.");
    public static final Registry.Gauge WATCH_STREAMS = REGISTRY.gauge("etcd_debugging_mvcc_watch_stream_total",
            "Total number of watch streams.");

    /**
     * What one mvcc transaction did, recorded as etcd's metricsTxnWrite does when it ends: every range, put and
     * delete counts, and the transaction counts as a txn when it did more than one of them.
     */
    public static void mvccTxn(int ranges, int puts, int deletes) {
        if (ranges + puts + deletes > 1) {
            MVCC_TXN.inc();
        }
        if (ranges > 0) {
            MVCC_RANGE.add(ranges);
        }
        if (puts > 0) {
            MVCC_PUT.add(puts);
        }
        if (deletes > 0) {
            MVCC_DELETE.add(deletes);
        }
    }

    /** Maintenance.Hash (etcd: the backend hash). */
    public static final Registry.Histogram HASH_DURATION = REGISTRY.histogram("etcd_mvcc_hash_duration_seconds",
            "The latency distribution of storage hash operation.", exponentialBuckets(.01, 2, 15));
    /** Maintenance.HashKV. */
    public static final Registry.Histogram HASH_REV_DURATION = REGISTRY.histogram(
            "etcd_mvcc_hash_rev_duration_seconds", "The latency distribution of storage hash by revision operation.",
            exponentialBuckets(.01, 2, 15));

    // ---- etcd_disk -------------------------------------------------------------------------------------------

    /** Maintenance.Defragment (here: RocksDB's full compaction). */
    public static final Registry.Histogram DEFRAG_DURATION = REGISTRY.histogram(
            "etcd_disk_backend_defrag_duration_seconds", "The latency distribution of backend defragmentation.",
            exponentialBuckets(.1, 2, 13));
    public static final Registry.Gauge DEFRAG_INFLIGHT = REGISTRY.gauge("etcd_disk_defrag_inflight",
            "Whether or not defrag is active on the member. 1 means active, 0 means not.");

    /** The RocksDB batch write of each applied Raft entry (etcd: the backend's bbolt commit). */
    public static final Registry.Histogram BACKEND_COMMIT = REGISTRY.histogram(
            "etcd_disk_backend_commit_duration_seconds", "The latency distributions of commit called by backend.",
            exponentialBuckets(0.001, 2, 14));

    /**
     * Under etcd's WAL fsync name: the time from handing one proposal entry to the Raft engine until it has been
     * appended and fsynced to the log, committed and applied on this member (Ratis does not expose its fsyncs).
     */
    public static final Registry.Histogram WAL_FSYNC = REGISTRY.histogram(
            "etcd_disk_wal_fsync_duration_seconds", "The latency distributions of fsync called by WAL.",
            exponentialBuckets(0.001, 2, 14));

    // ---- etcd_network ----------------------------------------------------------------------------------------

    /** Every gRPC message's encoded size, as etcd's codec counts them (all services of the client port). */
    public static final Registry.Counter CLIENT_GRPC_SENT_BYTES = REGISTRY.counter(
            "etcd_network_client_grpc_sent_bytes_total", "The total number of bytes sent to grpc clients.");
    public static final Registry.Counter CLIENT_GRPC_RECEIVED_BYTES = REGISTRY.counter(
            "etcd_network_client_grpc_received_bytes_total", "The total number of bytes received from grpc clients.");
    /** The smoothed round trip time to each peer, from the member's own probes (see server/PeerProber). */
    public static final Registry.Labelled<Registry.Histogram> PEER_RTT = REGISTRY.histogram(
            "etcd_network_peer_round_trip_time_seconds", "Round-Trip-Time histogram between peers",
            exponentialBuckets(0.0001, 2, 16), "To");
    /** Probes of a peer that failed (the peer's Raft port refused or did not answer in time). */
    public static final Registry.Labelled<Registry.Counter> PEER_SENT_FAILURES = REGISTRY.counter(
            "etcd_network_peer_sent_failures_total", "The total number of send failures from peers.", "To");

    // ---- grpc (go-grpc-prometheus) ---------------------------------------------------------------------------

    public static final Registry.Labelled<Registry.Counter> GRPC_STARTED = REGISTRY.counter(
            "grpc_server_started_total", "Total number of RPCs started on the server.",
            "grpc_method", "grpc_service", "grpc_type");
    public static final Registry.Labelled<Registry.Counter> GRPC_HANDLED = REGISTRY.counter(
            "grpc_server_handled_total",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            "grpc_code", "grpc_method", "grpc_service", "grpc_type");
    public static final Registry.Labelled<Registry.Counter> GRPC_MSG_RECEIVED = REGISTRY.counter(
            "grpc_server_msg_received_total", "Total number of RPC stream messages received on the server.",
            "grpc_method", "grpc_service", "grpc_type");
    public static final Registry.Labelled<Registry.Counter> GRPC_MSG_SENT = REGISTRY.counter(
            "grpc_server_msg_sent_total", "Total number of gRPC stream messages sent by the server.",
            "grpc_method", "grpc_service", "grpc_type");

    /** gRPC status codes by number, as Go's codes.Code.String() names them. */
    public static final List<String> GRPC_CODES = List.of("OK", "Canceled", "Unknown", "InvalidArgument",
            "DeadlineExceeded", "NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted",
            "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
            "Unauthenticated");

    // ---- process (client_golang's process collector, read from /proc) ------------------------------------------
    // The names client_golang's process collector uses and Micrometer's binders do not produce. The rest
    // (process_start_time_seconds, process_uptime_seconds, process_cpu_usage, process_files_*, jvm_*) comes from
    // the JVM and system binders Quarkus binds to its Prometheus registry, which shares REGISTRY's collectors.

    static {
        REGISTRY.counterFunction("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                () -> {
                    var os = ManagementFactory.getOperatingSystemMXBean();
                    if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
                        long t = sun.getProcessCpuTime();
                        if (t >= 0) {
                            return t / 1e9;
                        }
                    }
                    throw new IllegalStateException("no process CPU time");
                });
        REGISTRY.gaugeFunction("process_open_fds", "Number of open file descriptors.", Metrics::openFds);
        // etcd's own copies of the two (etcdserver/metrics.go)
        REGISTRY.gaugeFunction("os_fd_used", "The number of used file descriptors.", Metrics::openFds);
        REGISTRY.gaugeFunction("os_fd_limit", "The file descriptor limit.", () -> procLimit("Max open files"));
        REGISTRY.gaugeFunction("process_max_fds", "Maximum number of open file descriptors.",
                () -> procLimit("Max open files"));
        REGISTRY.gaugeFunction("process_resident_memory_bytes", "Resident memory size in bytes.",
                () -> procStatusKb("VmRSS:") * 1024);
        REGISTRY.gaugeFunction("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                () -> procStatusKb("VmSize:") * 1024);
    }

    private static double openFds() {
        int n = 0;
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path ignored : fds) {
                n++;
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return n - 1; // the directory stream's own descriptor
    }

    private static double procStatusKb(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field)) {
                    return Double.parseDouble(line.substring(field.length()).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException | NumberFormatException e) {
            throw new IllegalStateException(e);
        }
        throw new IllegalStateException("no " + field);
    }

    private static double procLimit(String name) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (line.startsWith(name)) {
                    String soft = line.substring(name.length()).trim().split("\\s+")[0];
                    return "unlimited".equals(soft) ? Double.POSITIVE_INFINITY : Double.parseDouble(soft);
                }
            }
        } catch (IOException | NumberFormatException e) {
            throw new IllegalStateException(e);
        }
        throw new IllegalStateException("no " + name);
    }
}
