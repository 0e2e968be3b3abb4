package dev.keel.server;

import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A member's configuration, from etcd's command-line flags and ETCD_* environment variables (flags win), with
 * etcd's defaults. See README's configuration reference; keep the two in step.
 */
public final class EtcdConfig {

    /** How a flag's value is parsed (Go's flag types, for etcd's error texts). */
    enum Kind { STRING, BOOL, INT, UINT, DURATION }

    /**
     * A flag etcd 3.6 accepts: its name, etcd's default, its kind, etcd's meaning and, for a flag without effect
     * in Keel, why (logged once at start-up when the flag is given, and listed in README's configuration
     * reference); {@code noEffect} is null for a flag Keel honours.
     */
    record Flag(String name, String defaultValue, Kind kind, String help, String noEffect) {
        boolean isBoolean() {
            return kind == Kind.BOOL;
        }
    }

    private static Flag f(String name, String dflt, Kind kind, String help) {
        return new Flag(name, dflt, kind, help, null);
    }

    /** A flag accepted for compatibility that changes nothing in Keel, and why. */
    private static Flag none(String name, String dflt, Kind kind, String help, String why) {
        return new Flag(name, dflt, kind, help, why);
    }

    private static final Kind S = Kind.STRING;
    private static final Kind B = Kind.BOOL;
    private static final Kind I = Kind.INT;
    private static final Kind U = Kind.UINT;
    private static final Kind D = Kind.DURATION;

    private static final String NO_V2 = "Keel serves only the v3 API (etcd 3.6 has no v2 either)";
    private static final String NO_DISCOVERY = "Keel bootstraps from --initial-cluster only (no discovery service)";
    private static final String NO_TRACING = "Keel has no OpenTelemetry tracing";
    private static final String NO_BBOLT = "Keel's backend is RocksDB, not bbolt";
    private static final String NO_WAL = "Keel's Raft log (Apache Ratis) lives under --data-dir/member/raft and "
            + "manages its own segments";
    private static final String NO_KEEPALIVE = "not yet: Keel's gRPC shares Vert.x's HTTP/2 server, which answers "
            + "every ping and sends none of its own (values are checked)";
    private static final String NO_LOG_FORMAT = "Keel logs one text line per event through its own logger";

    /** Every flag of etcd 3.6's {@code etcd --help} (server/etcdmain/help.go, config.go, embed/config.go). */
    static final List<Flag> FLAGS = List.of(
            // ---- member
            f("name", "default", S, "Human-readable name for this member."),
            f("data-dir", "${name}.etcd", S, "Path to the data directory."),
            none("wal-dir", "", S, "Path to the dedicated wal directory.", NO_WAL),
            f("snapshot-count", "10000", U, "Number of committed transactions to trigger a snapshot."),
            f("heartbeat-interval", "100", U, "Time (in milliseconds) of a heartbeat interval."),
            f("election-timeout", "1000", U, "Time (in milliseconds) for an election to timeout."),
            none("initial-election-tick-advance", "true", B,
                    "Whether to fast-forward initial election ticks on boot for faster election.",
                    "Ratis starts its election timer on boot; there are no ticks to advance"),
            f("listen-peer-urls", "http://localhost:2380", S, "List of URLs to listen on for peer traffic."),
            f("listen-client-urls", "http://localhost:2379", S,
                    "List of URLs to listen on for client grpc traffic and http as long as --listen-client-http-urls "
                            + "is not specified."),
            none("listen-client-http-urls", "", S,
                    "List of URLs to listen on for http only client traffic. Enabling this flag removes http "
                            + "services from --listen-client-urls.",
                    "Keel serves gRPC and HTTP together on --listen-client-urls"),
            none("max-snapshots", "5", U, "Maximum number of snapshot files to retain (0 is unlimited). Deprecated "
                    + "in v3.6 and will be decommissioned in v3.8.", "Keel keeps one Raft snapshot (RocksDB checkpoint)"),
            none("max-wals", "5", U, "Maximum number of wal files to retain (0 is unlimited).", NO_WAL),
            none("memory-mlock", "false", B, "Enable to enforce etcd pages (in particular bbolt) to stay in RAM.",
                    NO_BBOLT),
            f("quota-backend-bytes", "0", I, "Sets the maximum size (in bytes) that the etcd backend database may "
                    + "consume. Exceeding this triggers an alarm and puts etcd in read-only mode. Set to 0 to use the "
                    + "default 2GiB limit."),
            none("backend-bbolt-freelist-type", "map", S, "BackendFreelistType specifies the type of freelist that "
                    + "boltdb backend uses(array and map are supported types).", NO_BBOLT),
            none("backend-batch-interval", "0s", D,
                    "BackendBatchInterval is the maximum time before commit the backend transaction.",
                    "Keel commits each applied entry to RocksDB in one write batch"),
            none("backend-batch-limit", "0", I,
                    "BackendBatchLimit is the maximum operations before commit the backend transaction.",
                    "Keel commits each applied entry to RocksDB in one write batch"),
            f("max-txn-ops", "128", U, "Maximum number of operations permitted in a transaction."),
            f("max-request-bytes", "1572864", U, "Maximum client request size in bytes the server will accept."),
            f("max-concurrent-streams", "4294967295", U,
                    "Maximum concurrent streams that each client can open at a time."),
            none("grpc-keepalive-min-time", "5s", D,
                    "Minimum duration interval that a client should wait before pinging server.", NO_KEEPALIVE),
            none("grpc-keepalive-interval", "2h", D, "Frequency duration of server-to-client ping to check if a "
                    + "connection is alive (0 to disable).", NO_KEEPALIVE),
            none("grpc-keepalive-timeout", "20s", D,
                    "Additional duration of wait before closing a non-responsive connection (0 to disable).",
                    NO_KEEPALIVE),
            none("socket-reuse-port", "false", B, "Enable to set socket option SO_REUSEPORT on listeners allowing "
                    + "rebinding of a port already in use.", "Keel's listeners never share a port"),
            none("socket-reuse-address", "false", B, "Enable to set socket option SO_REUSEADDR on listeners "
                    + "allowing binding to an address in TIME_WAIT state.",
                    "Keel's listeners (Vert.x, Ratis' gRPC) always set SO_REUSEADDR"),
            f("enable-grpc-gateway", "true", B, "Enable GRPC gateway."),
            none("raft-read-timeout", "5s", D, "Read timeout set on each rafthttp connection",
                    "Keel's peers talk over Ratis' gRPC, not rafthttp"),
            none("raft-write-timeout", "5s", D, "Write timeout set on each rafthttp connection",
                    "Keel's peers talk over Ratis' gRPC, not rafthttp"),
            f("feature-gates", "", S, "A set of key=value pairs that describe server level feature gates for "
                    + "alpha/experimental features. Options are: CompactHashCheck, InitialCorruptCheck, "
                    + "LeaseCheckpoint, LeaseCheckpointPersist, SetMemberLocalAddr, StopGRPCServiceOnDefrag, "
                    + "TxnModeWriteWithSharedBuffer."),
            // ---- clustering
            f("initial-advertise-peer-urls", "http://localhost:2380", S,
                    "List of this member's peer URLs to advertise to the rest of the cluster."),
            f("initial-cluster", "${name}=http://localhost:2380", S, "Initial cluster configuration for bootstrapping."),
            f("initial-cluster-state", "new", S, "Initial cluster state ('new' when bootstrapping a new cluster or "
                    + "'existing' when adding new members to an existing cluster)."),
            f("initial-cluster-token", "etcd-cluster", S, "Initial cluster token for the etcd cluster during bootstrap."),
            f("advertise-client-urls", "http://localhost:2379", S,
                    "List of this member's client URLs to advertise to the public."),
            none("discovery", "", S, "Discovery URL used to bootstrap the cluster for v2 discovery.", NO_DISCOVERY),
            none("discovery-token", "", S, "V3 discovery: discovery token for the etcd cluster to be bootstrapped.",
                    NO_DISCOVERY),
            none("discovery-endpoints", "", S, "V3 discovery: List of gRPC endpoints of the discovery service.",
                    NO_DISCOVERY),
            none("discovery-dial-timeout", "2s", D, "V3 discovery: dial timeout for client connections.", NO_DISCOVERY),
            none("discovery-request-timeout", "5s", D,
                    "V3 discovery: timeout for discovery requests (excluding dial timeout).", NO_DISCOVERY),
            none("discovery-keepalive-time", "2s", D, "V3 discovery: keepalive time for client connections.",
                    NO_DISCOVERY),
            none("discovery-keepalive-timeout", "6s", D, "V3 discovery: keepalive timeout for client connections.",
                    NO_DISCOVERY),
            none("discovery-insecure-transport", "true", B,
                    "V3 discovery: disable transport security for client connections.", NO_DISCOVERY),
            none("discovery-insecure-skip-tls-verify", "false", B,
                    "V3 discovery: skip server certificate verification.", NO_DISCOVERY),
            none("discovery-cert", "", S, "V3 discovery: identify secure client using this TLS certificate file.",
                    NO_DISCOVERY),
            none("discovery-key", "", S, "V3 discovery: identify secure client using this TLS key file.",
                    NO_DISCOVERY),
            none("discovery-cacert", "", S,
                    "V3 discovery: verify certificates of TLS-enabled secure servers using this CA bundle.",
                    NO_DISCOVERY),
            none("discovery-user", "", S, "V3 discovery: username[:password] for authentication.", NO_DISCOVERY),
            none("discovery-password", "", S, "V3 discovery: password for authentication.", NO_DISCOVERY),
            none("discovery-fallback", "exit", S,
                    "Expected behavior ('exit') when discovery services fails. Note that v2 proxy is removed.",
                    NO_DISCOVERY),
            none("discovery-proxy", "", S, "HTTP proxy to use for traffic to discovery service.", NO_DISCOVERY),
            none("discovery-srv", "", S, "DNS srv domain used to bootstrap the cluster.", NO_DISCOVERY),
            none("discovery-srv-name", "", S, "Suffix to the dns srv name queried when bootstrapping.", NO_DISCOVERY),
            f("strict-reconfig-check", "true", B, "Reject reconfiguration requests that would cause quorum loss."),
            none("pre-vote", "true", B, "Enable the raft Pre-Vote algorithm to prevent disruption when a node that "
                    + "has been partitioned away rejoins the cluster.", "Ratis always runs pre-vote"),
            f("auto-compaction-retention", "0", S,
                    "Auto compaction retention length. 0 means disable auto compaction."),
            f("auto-compaction-mode", "periodic", S, "Interpret 'auto-compaction-retention' one of: "
                    + "periodic|revision. 'periodic' for duration based retention, defaulting to hours if no time "
                    + "unit is provided (e.g. '5m'). 'revision' for revision number based retention."),
            none("v2-deprecation", "write-only", S, "Phase of v2store deprecation. Deprecated and scheduled for "
                    + "removal in v3.8. The default value is enforced, ignoring user input.", NO_V2),
            // ---- security
            f("cert-file", "", S, "Path to the client server TLS cert file."),
            f("key-file", "", S, "Path to the client server TLS key file."),
            f("client-cert-auth", "false", B, "Enable client cert authentication."),
            none("client-cert-file", "", S, "Path to an explicit peer client TLS cert file otherwise cert file will "
                    + "be used when client auth is required.",
                    "Keel makes no client connections of its own with the client certificate"),
            none("client-key-file", "", S, "Path to an explicit peer client TLS key file otherwise key file will be "
                    + "used when client auth is required.",
                    "Keel makes no client connections of its own with the client certificate"),
            none("client-crl-file", "", S, "Path to the client certificate revocation list file.",
                    "Keel does not check certificate revocation lists yet"),
            none("client-cert-allowed-hostname", "", S,
                    "Comma-separated list of SAN hostnames for client cert authentication.",
                    "Keel does not restrict client certificates by SAN yet"),
            f("trusted-ca-file", "", S, "Path to the client server TLS trusted CA cert file."),
            f("auto-tls", "false", B, "Client TLS using generated certificates."),
            f("peer-cert-file", "", S, "Path to the peer server TLS cert file."),
            f("peer-key-file", "", S, "Path to the peer server TLS key file."),
            f("peer-client-cert-auth", "false", B, "Enable peer client cert authentication."),
            none("peer-client-cert-file", "", S, "Path to an explicit peer client TLS cert file otherwise peer cert "
                    + "file will be used when client auth is required.",
                    "Keel's peer connections present --peer-cert-file"),
            none("peer-client-key-file", "", S, "Path to an explicit peer client TLS key file otherwise peer key "
                    + "file will be used when client auth is required.",
                    "Keel's peer connections present --peer-key-file"),
            f("peer-trusted-ca-file", "", S, "Path to the peer server TLS trusted CA file."),
            none("peer-cert-allowed-cn", "", S, "Comma-separated list of allowed CNs for inter-peer TLS "
                    + "authentication.", "Keel does not restrict peer certificates by CN yet"),
            none("peer-cert-allowed-hostname", "", S, "Comma-separated list of allowed SAN hostnames for inter-peer "
                    + "TLS authentication.", "Keel does not restrict peer certificates by SAN yet"),
            f("peer-auto-tls", "false", B, "Peer TLS using self-generated certificates if --peer-key-file and "
                    + "--peer-cert-file are not provided."),
            f("self-signed-cert-validity", "1", U, "The validity period of the client and peer certificates that "
                    + "are automatically generated by etcd when you specify ClientAutoTLS and PeerAutoTLS, the unit "
                    + "is year, and the default is 1."),
            none("peer-crl-file", "", S, "Path to the peer certificate revocation list file.",
                    "Keel does not check certificate revocation lists yet"),
            f("cipher-suites", "", S, "Comma-separated list of supported TLS cipher suites between client/server and "
                    + "peers (empty will be auto-populated by Go)."),
            none("cors", "*", S, "Comma-separated whitelist of origins for CORS, or cross-origin resource sharing, "
                    + "(empty or * means allow all).", "Keel always answers with etcd's default, allow all (*)"),
            none("host-whitelist", "*", S, "Acceptable hostnames from HTTP client requests, if server is not secure "
                    + "(empty or * means allow all).", "Keel accepts every Host header, etcd's default (*)"),
            f("tls-min-version", "TLS1.2", S, "Minimum TLS version supported by etcd. Possible values: TLS1.2, TLS1.3."),
            f("tls-max-version", "", S, "Maximum TLS version supported by etcd. Possible values: TLS1.2, TLS1.3 "
                    + "(empty will be auto-populated by Go)."),
            // ---- auth
            f("auth-token", "simple", S, "Specify a v3 authentication token type and its options ('simple' or 'jwt')."),
            f("bcrypt-cost", "10", U, "Specify the cost / strength of the bcrypt algorithm for hashing auth "
                    + "passwords. Valid values are between 4 and 31."),
            f("auth-token-ttl", "300", U, "Time (in seconds) of the auth-token-ttl."),
            // ---- profiling and monitoring
            none("enable-pprof", "false", B, "Enable runtime profiling data via HTTP server. Address is at client "
                    + "URL + \"/debug/pprof/\"", "Keel runs on the JVM: use JFR or a Java profiler instead of pprof"),
            none("metrics", "basic", S, "Set level of detail for exported metrics, specify 'extensive' to include "
                    + "server side grpc histogram metrics.", "Keel exports the same metrics at every level"),
            f("listen-metrics-urls", "", S, "List of URLs to listen on for the /metrics and /health endpoints. For "
                    + "https, the client URL TLS info is used."),
            // ---- logging
            f("logger", "zap", S, "Currently only supports 'zap' for structured logging."),
            f("log-outputs", "default", S, "Specify 'stdout' or 'stderr' to skip journald logging even when running "
                    + "under systemd, or list of comma separated output targets."),
            f("log-level", "info", S, "Configures log level. Only supports debug, info, warn, error, panic, or fatal."),
            none("log-format", "json", S, "Configures log format. Only supports json, console.", NO_LOG_FORMAT),
            none("enable-log-rotation", "false", B, "Enable log rotation of a single log-outputs file target.",
                    "Keel does not rotate its log file"),
            none("log-rotation-config-json", "{\"maxsize\": 100, \"maxage\": 0, \"maxbackups\": 0, "
                    + "\"localtime\": false, \"compress\": false}", S,
                    "Configures log rotation if enabled with a JSON logger config.", "Keel does not rotate its log file"),
            none("warning-unary-request-duration", "300ms", D, "Set time duration after which a warning is logged "
                    + "if a unary request takes more than this duration.", "Keel logs no slow-request warnings"),
            none("experimental-warning-unary-request-duration", "0s", D, "Deprecated: use "
                    + "--warning-unary-request-duration.", "Keel logs no slow-request warnings"),
            // ---- distributed tracing
            none("enable-distributed-tracing", "false", B, "Enable distributed tracing.", NO_TRACING),
            none("distributed-tracing-address", "localhost:4317", S, "Distributed tracing collector address.",
                    NO_TRACING),
            none("distributed-tracing-service-name", "etcd", S, "Distributed tracing service name, must be same "
                    + "across all etcd instances.", NO_TRACING),
            none("distributed-tracing-instance-id", "", S, "Distributed tracing instance ID, must be unique per each "
                    + "etcd instance.", NO_TRACING),
            none("distributed-tracing-sampling-rate", "0", I,
                    "Number of samples to collect per million spans for distributed tracing.", NO_TRACING),
            none("experimental-enable-distributed-tracing", "false", B, "Deprecated: use "
                    + "--enable-distributed-tracing.", NO_TRACING),
            none("experimental-distributed-tracing-address", "localhost:4317", S, "Deprecated: use "
                    + "--distributed-tracing-address.", NO_TRACING),
            none("experimental-distributed-tracing-service-name", "etcd", S, "Deprecated: use "
                    + "--distributed-tracing-service-name.", NO_TRACING),
            none("experimental-distributed-tracing-instance-id", "", S, "Deprecated: use "
                    + "--distributed-tracing-instance-id.", NO_TRACING),
            none("experimental-distributed-tracing-sampling-rate", "0", I, "Deprecated: use "
                    + "--distributed-tracing-sampling-rate.", NO_TRACING),
            // ---- experimental features and their 3.6 successors
            none("experimental-initial-corrupt-check", "false", B, "Enable to check data corruption before serving "
                    + "any client/peer traffic. Deprecated: use --feature-gates=InitialCorruptCheck=true.",
                    "sets feature gate InitialCorruptCheck, which Keel does not act on yet (no corruption check)"),
            none("corrupt-check-time", "0s", D, "Duration of time between cluster corruption check passes.",
                    "Keel has no periodic corruption check yet"),
            none("experimental-corrupt-check-time", "0s", D, "Deprecated: use --corrupt-check-time.",
                    "Keel has no periodic corruption check yet"),
            none("experimental-compact-hash-check-enabled", "false", B, "Enable leader to periodically check "
                    + "followers compaction hashes. Deprecated: use --feature-gates=CompactHashCheck=true.",
                    "sets feature gate CompactHashCheck, which Keel does not act on yet"),
            none("compact-hash-check-time", "1m", D,
                    "Duration of time between leader checks followers compaction hashes.",
                    "Keel has no compaction hash check yet"),
            none("experimental-compact-hash-check-time", "1m", D, "Deprecated: use --compact-hash-check-time.",
                    "Keel has no compaction hash check yet"),
            f("experimental-enable-lease-checkpoint", "false", B,
                    "Deprecated: use --feature-gates=LeaseCheckpoint=true. Leader checkpoints remaining lease TTLs."),
            f("experimental-enable-lease-checkpoint-persist", "false", B, "Deprecated: use "
                    + "--feature-gates=LeaseCheckpointPersist=true. Checkpoints are always persisted."),
            none("compaction-batch-limit", "1000", I,
                    "CompactionBatchLimit sets the maximum revisions deleted in each compaction batch.",
                    "Keel compacts in RocksDB write batches of its own size"),
            none("experimental-compaction-batch-limit", "1000", I, "Deprecated: use --compaction-batch-limit.",
                    "Keel compacts in RocksDB write batches of its own size"),
            none("compaction-sleep-interval", "0s", D, "Sets the sleep interval between each compaction batch.",
                    "Keel compacts in RocksDB write batches of its own size"),
            none("experimental-compaction-sleep-interval", "0s", D, "Deprecated: use --compaction-sleep-interval.",
                    "Keel compacts in RocksDB write batches of its own size"),
            none("peer-skip-client-san-verification", "false", B,
                    "Skip verification of SAN field in client certificate for peer connections.",
                    "Keel does not verify the SAN of peer client certificates"),
            none("experimental-peer-skip-client-san-verification", "false", B,
                    "Deprecated: use --peer-skip-client-san-verification.",
                    "Keel does not verify the SAN of peer client certificates"),
            f("watch-progress-notify-interval", "10m", D, "Duration of periodical watch progress notification."),
            f("experimental-watch-progress-notify-interval", "10m", D,
                    "Deprecated: use --watch-progress-notify-interval."),
            none("warning-apply-duration", "100ms", D,
                    "Warning is generated if requests take more than this duration.", "Keel logs no slow-apply warnings"),
            none("experimental-warning-apply-duration", "100ms", D, "Deprecated: use --warning-apply-duration.",
                    "Keel logs no slow-apply warnings"),
            none("experimental-txn-mode-write-with-shared-buffer", "true", B, "Deprecated: use "
                    + "--feature-gates=TxnModeWriteWithSharedBuffer=true.",
                    "sets feature gate TxnModeWriteWithSharedBuffer, a bbolt buffer detail with no Keel equivalent"),
            none("bootstrap-defrag-threshold-megabytes", "0", U, "Enable the defrag during etcd server bootstrap on "
                    + "condition that it will free at least the provided threshold of disk space.",
                    "RocksDB compacts its files in the background"),
            none("experimental-bootstrap-defrag-threshold-megabytes", "0", U,
                    "Deprecated: use --bootstrap-defrag-threshold-megabytes.",
                    "RocksDB compacts its files in the background"),
            f("max-learners", "1", I, "Set the max number of learner members allowed in the cluster membership."),
            none("experimental-memory-mlock", "false", B, "Deprecated: use --memory-mlock.", NO_BBOLT),
            none("snapshot-catchup-entries", "5000", U, "Number of entries for a slow follower to catch up after "
                    + "compacting the raft storage entries.", "Ratis decides how much log to keep for slow followers"),
            none("experimental-snapshot-catchup-entries", "5000", U, "Deprecated: use --snapshot-catchup-entries.",
                    "Ratis decides how much log to keep for slow followers"),
            none("downgrade-check-time", "5s", D, "Duration of time between two downgrade status checks.",
                    "Keel checks downgrades when members change"),
            none("experimental-downgrade-check-time", "5s", D, "Deprecated: use --downgrade-check-time.",
                    "Keel checks downgrades when members change"),
            none("experimental-stop-grpc-service-on-defrag", "false", B, "Deprecated: use "
                    + "--feature-gates=StopGRPCServiceOnDefrag=true.",
                    "sets feature gate StopGRPCServiceOnDefrag; Keel keeps serving during defragmentation"),
            // ---- unsafe
            none("force-new-cluster", "false", B, "Force to create a new one-member cluster.",
                    "not supported: restore a snapshot into a new one-member cluster instead (keel snapshot restore)"),
            none("unsafe-no-fsync", "false", B, "Disables fsync, unsafe, will cause data loss.",
                    "Keel always syncs its Raft log"),
            // ---- the command line itself
            f("config-file", "", S, "Path to the server configuration file. Note that if a configuration file is "
                    + "provided, other command line flags and environment variables will be ignored."),
            f("version", "false", B, "Print the version and exit."),
            f("help", "false", B, "Show this help and exit."),
            // ---- etcd 3.4/3.5 flags that etcd 3.6 removed; test harnesses still pass them
            none("enable-v2", "false", B, "etcd 3.4/3.5: accept etcd V2 client requests (removed in 3.6).", NO_V2),
            none("experimental-enable-v2v3", "", S, "etcd 3.4/3.5: v3 prefix for serving emulated v2 state "
                    + "(removed in 3.6).", NO_V2),
            none("proxy", "off", S, "etcd 3.4/3.5: v2 proxy mode (removed in 3.6).", NO_V2),
            none("proxy-failure-wait", "5000", U, "etcd 3.4/3.5: v2 proxy (removed in 3.6).", NO_V2),
            none("proxy-refresh-interval", "30000", U, "etcd 3.4/3.5: v2 proxy (removed in 3.6).", NO_V2),
            none("proxy-dial-timeout", "1000", U, "etcd 3.4/3.5: v2 proxy (removed in 3.6).", NO_V2),
            none("proxy-write-timeout", "5000", U, "etcd 3.4/3.5: v2 proxy (removed in 3.6).", NO_V2),
            none("proxy-read-timeout", "0", U, "etcd 3.4/3.5: v2 proxy (removed in 3.6).", NO_V2),
            none("debug", "false", B, "etcd 3.4: enable debug-level logging (removed in 3.5).",
                    "use --log-level=debug"),
            none("log-package-levels", "", S, "etcd 3.4: per-package capnslog levels (removed in 3.5).",
                    "use --log-level"),
            none("log-output", "default", S, "etcd 3.4: log output (removed in 3.5).", "use --log-outputs"),
            none("experimental-backend-bbolt-freelist-type", "array", S,
                    "etcd 3.4: bbolt freelist type (removed in 3.5).", NO_BBOLT));

    /**
     * Flags etcd 3.6 registers but ignores (etcdmain's "ignored" list: v0.4-era flags); they take no value, as
     * etcd's IgnoredFlag is a boolean flag.
     */
    static final List<String> IGNORED = List.of("cluster-active-size", "cluster-remove-delay",
            "cluster-sync-interval", "config", "force", "max-result-buffer", "max-retry-attempts",
            "peer-heartbeat-interval", "peer-election-timeout", "retry-interval", "snapshot", "v", "vv");

    /** etcd 3.6's experimentalFlagMigrationMap: a deprecated flag and the 3.6 flag that takes its value. */
    static final Map<String, String> EXPERIMENTAL_SUCCESSORS = orderedMap(
            "experimental-compact-hash-check-time", "compact-hash-check-time",
            "experimental-corrupt-check-time", "corrupt-check-time",
            "experimental-compaction-batch-limit", "compaction-batch-limit",
            "experimental-watch-progress-notify-interval", "watch-progress-notify-interval",
            "experimental-warning-apply-duration", "warning-apply-duration",
            "experimental-bootstrap-defrag-threshold-megabytes", "bootstrap-defrag-threshold-megabytes",
            "experimental-memory-mlock", "memory-mlock",
            "experimental-snapshot-catchup-entries", "snapshot-catchup-entries",
            "experimental-compaction-sleep-interval", "compaction-sleep-interval",
            "experimental-downgrade-check-time", "downgrade-check-time",
            "experimental-peer-skip-client-san-verification", "peer-skip-client-san-verification",
            "experimental-enable-distributed-tracing", "enable-distributed-tracing",
            "experimental-distributed-tracing-address", "distributed-tracing-address",
            "experimental-distributed-tracing-service-name", "distributed-tracing-service-name",
            "experimental-distributed-tracing-instance-id", "distributed-tracing-instance-id",
            "experimental-distributed-tracing-sampling-rate", "distributed-tracing-sampling-rate");

    private static Map<String, String> orderedMap(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return java.util.Collections.unmodifiableMap(m);
    }

    private static final Map<String, Flag> BY_NAME = new LinkedHashMap<>();

    static {
        for (Flag fl : FLAGS) {
            if (BY_NAME.put(fl.name(), fl) != null) {
                throw new IllegalStateException("flag listed twice: " + fl.name());
            }
        }
    }

    private final Map<String, String> values;

    private EtcdConfig(Map<String, String> values) {
        this.values = values;
    }

    /** Thrown for bad flags; the message is what the user sees. */
    public static class ConfigException extends RuntimeException {
        public ConfigException(String message) {
            super(message);
        }
    }

    /** Thrown for command-line syntax errors (Go's flag package: etcd exits with status 2 on these). */
    public static final class FlagSyntaxException extends ConfigException {
        public FlagSyntaxException(String message) {
            super(message);
        }
    }

    /**
     * Parses args as Go's flag package does ("--flag=value", "--flag value", "-flag", booleans without value),
     * then, unless --config-file (or ETCD_CONFIG_FILE) names a configuration file, fills the flags not given from
     * ETCD_* variables (empty ones are ignored, as in etcd). With a configuration file, only the file counts, as in
     * etcd. Deprecated --experimental-* flags then pass their value to their etcd 3.6 successor.
     *
     * @throws FlagSyntaxException for what Go's flag package refuses (unknown flag, missing or unparsable value)
     * @throws ConfigException for a valid command line whose configuration etcd refuses
     */
    public static EtcdConfig parse(String[] args, Map<String, String> env) {
        Map<String, String> values = new LinkedHashMap<>();
        boolean help = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--")) {
                if (i + 1 < args.length) {
                    throw new ConfigException("\"" + args[i + 1] + "\" is not a valid flag");
                }
                break;
            }
            if (!a.startsWith("-") || a.equals("-")) {
                throw new ConfigException("\"" + a + "\" is not a valid flag");
            }
            String body = a.startsWith("--") ? a.substring(2) : a.substring(1);
            if (body.isEmpty() || body.startsWith("-") || body.startsWith("=")) {
                throw new FlagSyntaxException("bad flag syntax: " + a);
            }
            String name = body;
            String value = null;
            int eq = body.indexOf('=');
            if (eq >= 0) {
                name = body.substring(0, eq);
                value = body.substring(eq + 1);
            }
            if (name.equals("h") || (name.equals("help") && value == null)) {
                help = true;
                continue;
            }
            if (IGNORED.contains(name)) {
                values.put(name, value == null ? "true" : value);
                continue;
            }
            Flag f = BY_NAME.get(name);
            if (f == null) {
                throw new FlagSyntaxException("flag provided but not defined: -" + name);
            }
            if (value == null) {
                if (f.isBoolean()) {
                    value = "true";
                } else if (i + 1 < args.length) {
                    value = args[++i];
                } else {
                    throw new FlagSyntaxException("flag needs an argument: -" + name);
                }
            }
            checkKind(f, value, null);
            values.put(name, value);
        }
        if (help) {
            values.put("help", "true");
        }
        String configFile = values.getOrDefault("config-file", "");
        if (configFile.isEmpty()) {
            configFile = env.getOrDefault("ETCD_CONFIG_FILE", "");
        }
        if (!configFile.isEmpty() && !help && !values.containsKey("version")) {
            Map<String, String> fromFile = ConfigFile.read(Path.of(configFile));
            for (Map.Entry<String, String> e : fromFile.entrySet()) {
                Flag f = BY_NAME.get(e.getKey());
                if (f != null) {
                    checkKind(f, e.getValue(), "config file " + configFile + ": " + e.getKey());
                }
            }
            values = new LinkedHashMap<>(fromFile);
            values.put("config-file", configFile);
        } else {
            for (Flag f : FLAGS) {
                String envName = envName(f.name());
                String v = env.get(envName);
                if (v != null && !v.isEmpty() && !values.containsKey(f.name())) {
                    checkKind(f, v, envName);
                    values.put(f.name(), v);
                }
            }
        }
        for (Map.Entry<String, String> e : EXPERIMENTAL_SUCCESSORS.entrySet()) {
            if (values.containsKey(e.getKey()) && values.containsKey(e.getValue())) {
                throw new ConfigException("cannot set --" + e.getKey() + " and --" + e.getValue()
                        + " at the same time, please use --" + e.getValue() + " only");
            }
        }
        if (values.containsKey("experimental-warning-unary-request-duration")
                && values.containsKey("warning-unary-request-duration")) {
            throw new ConfigException("both --experimental-warning-unary-request-duration and "
                    + "--warning-unary-request-duration flags are set. Use only --warning-unary-request-duration");
        }
        for (Map.Entry<String, String> e : EXPERIMENTAL_SUCCESSORS.entrySet()) {
            String v = values.get(e.getKey());
            if (v != null) {
                values.put(e.getValue(), v);
            }
        }
        EtcdConfig c = new EtcdConfig(values);
        c.validate();
        return c;
    }

    /** ETCD_ and the flag's name in capitals, dashes as underscores (etcd's flags.FlagToEnv). */
    static String envName(String flag) {
        return "ETCD_" + flag.toUpperCase(Locale.ROOT).replace('-', '_');
    }

    /**
     * Refuses a value Go's flag type would refuse, with Go's text: for a command-line flag (where == null)
     * "invalid value ... for flag -name: parse error", for a variable "invalid value ... for ETCD_NAME: parse
     * error", as etcd's SetFlagsFromEnv says.
     */
    private static void checkKind(Flag f, String value, String where) {
        String err = kindError(f, value);
        if (err == null) {
            return;
        }
        if (where != null) {
            throw new FlagSyntaxException("invalid value \"" + value + "\" for " + where + ": " + err);
        }
        if (f.kind() == Kind.BOOL) {
            throw new FlagSyntaxException("invalid boolean value \"" + value + "\" for -" + f.name() + ": " + err);
        }
        throw new FlagSyntaxException("invalid value \"" + value + "\" for flag -" + f.name() + ": " + err);
    }

    /** Go's error for a value its flag type refuses, or null. */
    private static String kindError(Flag f, String v) {
        switch (f.kind()) {
            case BOOL:
                return goBool(v) == null ? "parse error" : null;
            case INT:
                try {
                    Long.parseLong(v);
                    return null;
                } catch (NumberFormatException e) {
                    return v.matches("[+-]?\\d+") ? "value out of range" : "parse error";
                }
            case UINT:
                if (f.name().equals("max-concurrent-streams")) {
                    // etcd's own Uint32Value: strconv's error as it is
                    try {
                        if (!v.matches("\\d+")) {
                            throw new NumberFormatException();
                        }
                        if (Long.parseLong(v) > 0xFFFFFFFFL) {
                            return "strconv.ParseUint: parsing \"" + v + "\": value out of range";
                        }
                        return null;
                    } catch (NumberFormatException e) {
                        return v.matches("\\d+") ? "strconv.ParseUint: parsing \"" + v + "\": value out of range"
                                : "strconv.ParseUint: parsing \"" + v + "\": invalid syntax";
                    }
                }
                if (!v.matches("\\+?\\d+")) {
                    return "parse error";
                }
                try {
                    Long.parseUnsignedLong(v.startsWith("+") ? v.substring(1) : v);
                    return null;
                } catch (NumberFormatException e) {
                    return "value out of range";
                }
            case DURATION:
                try {
                    goDurationNanos(v);
                    return null;
                } catch (IllegalArgumentException e) {
                    return "parse error";
                }
            default:
                return null;
        }
    }

    /** Go's strconv.ParseBool, or null when it refuses the text. */
    static Boolean goBool(String v) {
        return switch (v) {
            case "1", "t", "T", "true", "TRUE", "True" -> true;
            case "0", "f", "F", "false", "FALSE", "False" -> false;
            default -> null;
        };
    }

    /**
     * The flags given that have no effect in Keel, each with the INFO line Main logs for it:
     * "flag --x has no effect in Keel: why".
     */
    public List<String> noEffectNotes() {
        List<String> out = new ArrayList<>();
        for (String name : values.keySet()) {
            Flag fl = BY_NAME.get(name);
            if (IGNORED.contains(name)) {
                out.add("flag --" + name + " has no effect in Keel: etcd 3.6 ignores it too (a v0.4-era flag)");
            } else if (fl != null && fl.noEffect() != null) {
                out.add("flag --" + name + " has no effect in Keel: " + fl.noEffect());
            }
        }
        return out;
    }

    /** etcd 3.6's warnings for the deprecated flags given (logged at WARN, as etcd does). */
    public List<String> deprecationWarnings() {
        List<String> out = new ArrayList<>();
        for (String name : values.keySet()) {
            String successor = EXPERIMENTAL_SUCCESSORS.get(name);
            String gate = EXPERIMENTAL_FLAG_GATES.get(name);
            if (successor != null) {
                out.add("--" + name + " is deprecated in v3.6 and will be decommissioned in v3.7. Use '--"
                        + successor + "' instead.");
            } else if (gate != null) {
                out.add("--" + name + " is deprecated in v3.6 and will be decommissioned in v3.7. Use "
                        + "'--feature-gates=" + gate + "=true' instead.");
            } else if (name.equals("max-snapshots")) {
                out.add("--max-snapshots is deprecated in 3.6 and will be decommissioned in 3.8.");
            } else if (name.equals("v2-deprecation")) {
                out.add("--v2-deprecation is deprecated and scheduled for removal in v3.8. The default value is "
                        + "enforced, ignoring user input.");
            }
        }
        return out;
    }

    /** Whether the flag was given (on the command line or as an ETCD_* variable) rather than defaulted. */
    public boolean isSet(String name) {
        return values.containsKey(name);
    }

    private String raw(String name) {
        String v = values.get(name);
        if (v != null) {
            return v;
        }
        Flag f = BY_NAME.get(name);
        if (f == null) {
            throw new IllegalArgumentException(name);
        }
        return f.defaultValue().replace("${name}", name());
    }

    private long longFlag(String name) {
        try {
            return Long.parseLong(raw(name).trim());
        } catch (NumberFormatException e) {
            throw new ConfigException("invalid value \"" + raw(name) + "\" for flag -" + name + ": parse error");
        }
    }

    private boolean boolFlag(String name) {
        String v = raw(name).trim();
        Boolean b = v.isEmpty() ? Boolean.FALSE : goBool(v);
        if (b == null) {
            throw new ConfigException("invalid boolean value \"" + v + "\" for -" + name + ": parse error");
        }
        return b;
    }

    private void validate() {
        boolFlag("strict-reconfig-check");
        if (maxLearners() < 0) {
            throw new ConfigException("--max-learners must not be negative");
        }
        for (String f : List.of("max-request-bytes", "max-txn-ops", "quota-backend-bytes", "snapshot-count",
                "heartbeat-interval", "election-timeout")) {
            longFlag(f);
        }
        boolFlag("version");
        boolFlag("help");
        listenClientUrl();
        listenPeerUrl();
        initialCluster();
        String state = initialClusterState();
        if (!state.equals("new") && !state.equals("existing")) {
            throw new ConfigException("invalid value \"" + state + "\" for flag --initial-cluster-state: "
                    + "valid values are \"new\" or \"existing\"");
        }
        if (!initialCluster().containsKey(name())) {
            throw new ConfigException("couldn't find local name \"" + name() + "\" in the initial cluster configuration");
        }
        logLevel();
        watchProgressNotifyIntervalMs();
        if (maxTxnOps() <= 0) {
            throw new ConfigException("--max-txn-ops must be positive");
        }
        if (maxRequestBytes() <= 0) {
            throw new ConfigException("--max-request-bytes must be positive");
        }
        if (electionTimeoutMs() < 5 * heartbeatIntervalMs() && heartbeatIntervalMs() > 0) {
            throw new ConfigException("--election-timeout[" + electionTimeoutMs()
                    + "ms] should be at least as 5 times as --heartbeat-interval[" + heartbeatIntervalMs() + "ms]");
        }
        featureGates();
        longFlag("auth-token-ttl");
        longFlag("bcrypt-cost");
        longFlag("self-signed-cert-validity");
        authTokenType();
        for (String f : List.of("client-cert-auth", "auto-tls", "peer-client-cert-auth", "peer-auto-tls")) {
            boolFlag(f);
        }
        tlsVersions();
        clientTls();
        maxConcurrentStreams();
        grpcKeepaliveMinTimeMs();
        grpcKeepaliveIntervalMs();
        grpcKeepaliveTimeoutMs();
        autoCompaction();
        listenMetricsUrls();
        logOutputs();
        String logger = raw("logger").trim();
        if (logger.equals("capnslog")) {
            throw new ConfigException("--logger=capnslog is removed in v3.5");
        }
        if (!logger.equals("zap")) {
            throw new ConfigException("unknown logger option \"" + logger + "\"");
        }
        String format = raw("log-format").trim();
        if (!format.isEmpty() && !format.equals("json") && !format.equals("console")) {
            throw new ConfigException("unknown log format: " + format + ", supported values json, console");
        }
        String fallback = raw("discovery-fallback").trim();
        if (fallback.equals("proxy")) {
            throw new ConfigException("v2 proxy is deprecated, and --discovery-fallback can't be configured as \"proxy\"");
        }
        if (!fallback.equals("exit")) {
            throw new ConfigException("invalid value \"" + fallback + "\" for flag -discovery-fallback: valid values are "
                    + "\"exit\" or \"proxy\"");
        }
        if (heartbeatIntervalMs() == 0) {
            throw new ConfigException("--heartbeat-interval must be >0 (set to 0ms)");
        }
        if (electionTimeoutMs() == 0) {
            throw new ConfigException("--election-timeout must be >0 (set to 0ms)");
        }
        if (electionTimeoutMs() > 50000) {
            throw new ConfigException("--election-timeout[" + electionTimeoutMs()
                    + "ms] is too long, and should be set less than 50000ms");
        }
    }

    // ---- auth ------------------------------------------------------------------------------------------

    /** The token type of --auth-token ("simple", "jwt" or "" for none). */
    public String authTokenType() {
        String type = raw("auth-token").split(",", -1)[0].trim();
        if (!type.equals("simple") && !type.equals("jwt") && !type.isEmpty()) {
            throw new ConfigException("invalid value \"" + raw("auth-token") + "\" for flag --auth-token: "
                    + "auth: invalid auth options");
        }
        authTokenOptions();
        return type;
    }

    /** The key=value options after the type in --auth-token (etcd refuses malformed and repeated ones). */
    public Map<String, String> authTokenOptions() {
        String[] parts = raw("auth-token").split(",", -1);
        Map<String, String> opts = new LinkedHashMap<>();
        for (int i = 1; i < parts.length; i++) {
            String[] kv = parts[i].split("=", -1);
            if (kv.length != 2 || opts.containsKey(kv[0])) {
                throw new ConfigException("invalid value \"" + raw("auth-token") + "\" for flag --auth-token: "
                        + "auth: invalid auth options");
            }
            opts.put(kv[0], kv[1]);
        }
        return opts;
    }

    /** JWT lifetime: the ttl option of --auth-token (a Go duration), 5 minutes by default as in etcd. */
    public java.time.Duration jwtTtl() {
        String ttl = authTokenOptions().get("ttl");
        return ttl == null ? java.time.Duration.ofMinutes(5) : java.time.Duration.ofMillis(goDurationMs("auth-token", ttl));
    }

    public long authTokenTtlSeconds() {
        return longFlag("auth-token-ttl");
    }

    /** --bcrypt-cost; like etcd, an out-of-range cost (outside 4..31) falls back to the default 10. */
    public int bcryptCost() {
        long c = longFlag("bcrypt-cost");
        return c < 4 || c > 31 ? 10 : (int) c;
    }

    // ---- TLS -------------------------------------------------------------------------------------------

    /** Client-side TLS settings, as the flags give them. */
    public record Tls(String certFile, String keyFile, String trustedCaFile, boolean clientCertAuth, boolean autoTls) {
        /** Whether a certificate is configured or generated. */
        public boolean enabled() {
            return autoTls || !certFile.isEmpty();
        }
    }

    public Tls clientTls() {
        Tls t = new Tls(raw("cert-file").trim(), raw("key-file").trim(), raw("trusted-ca-file").trim(),
                boolFlag("client-cert-auth"), boolFlag("auto-tls") && raw("cert-file").trim().isEmpty());
        checkTls(t, "");
        return t;
    }

    public Tls peerTls() {
        Tls t = new Tls(raw("peer-cert-file").trim(), raw("peer-key-file").trim(), raw("peer-trusted-ca-file").trim(),
                boolFlag("peer-client-cert-auth"),
                boolFlag("peer-auto-tls") && raw("peer-cert-file").trim().isEmpty());
        checkTls(t, "peer-");
        return t;
    }

    private static void checkTls(Tls t, String prefix) {
        if (t.certFile().isEmpty() != t.keyFile().isEmpty()) {
            throw new ConfigException("--" + prefix + "cert-file and --" + prefix + "key-file must be given together");
        }
    }

    /** Years of validity of generated certificates. */
    public long selfSignedCertValidityYears() {
        long y = longFlag("self-signed-cert-validity");
        if (y <= 0) {
            throw new ConfigException("--self-signed-cert-validity must be positive");
        }
        return y;
    }

    /** The JDK protocol names of the allowed TLS versions, from --tls-min-version and --tls-max-version. */
    public List<String> tlsProtocols() {
        return tlsVersions();
    }

    private List<String> tlsVersions() {
        int min = tlsVersion("tls-min-version", raw("tls-min-version").trim());
        String maxRaw = raw("tls-max-version").trim();
        int max = maxRaw.isEmpty() ? 3 : tlsVersion("tls-max-version", maxRaw);
        if (max < min) {
            throw new ConfigException("min version (" + raw("tls-min-version").trim() + ") is greater than max version ("
                    + maxRaw + ")");
        }
        if (min == 3 && !cipherSuites().isEmpty()) {
            throw new ConfigException("cipher suites cannot be configured when only TLS1.3 is enabled");
        }
        List<String> out = new ArrayList<>();
        for (int v = min; v <= max; v++) {
            out.add("TLSv1." + v);
        }
        return out;
    }

    private static int tlsVersion(String flag, String v) {
        return switch (v) {
            case "", "TLS1.2" -> 2;
            case "TLS1.3" -> 3;
            default -> throw new ConfigException("unexpected TLS version \"" + v + "\" (must be one of: TLS1.2, TLS1.3)"
                    + " for flag --" + flag);
        };
    }

    /** --cipher-suites: Go's IANA names (e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), which are also the JDK's. */
    public List<String> cipherSuites() {
        List<String> out = new ArrayList<>();
        for (String s : raw("cipher-suites").split(",")) {
            if (!s.isBlank()) {
                out.add(s.trim());
            }
        }
        return out;
    }

    /** etcd 3.6's server feature gates and their defaults. */
    private static final Map<String, Boolean> FEATURE_GATE_DEFAULTS = Map.of(
            "StopGRPCServiceOnDefrag", false,
            "InitialCorruptCheck", false,
            "CompactHashCheck", false,
            "TxnModeWriteWithSharedBuffer", true,
            "LeaseCheckpoint", false,
            "LeaseCheckpointPersist", false,
            "SetMemberLocalAddr", false);

    /** etcd 3.6's ExperimentalFlagToFeatureMap: deprecated experimental flags that set a feature gate. */
    static final Map<String, String> EXPERIMENTAL_FLAG_GATES = orderedMap(
            "experimental-stop-grpc-service-on-defrag", "StopGRPCServiceOnDefrag",
            "experimental-initial-corrupt-check", "InitialCorruptCheck",
            "experimental-compact-hash-check-enabled", "CompactHashCheck",
            "experimental-txn-mode-write-with-shared-buffer", "TxnModeWriteWithSharedBuffer",
            "experimental-enable-lease-checkpoint", "LeaseCheckpoint",
            "experimental-enable-lease-checkpoint-persist", "LeaseCheckpointPersist");

    /**
     * The feature gates as etcd 3.6 resolves them: defaults, then --feature-gates, then the deprecated experimental
     * flags (an experimental flag and the gate it maps to may not both be given).
     */
    public Map<String, Boolean> featureGates() {
        Map<String, Boolean> gates = new LinkedHashMap<>(FEATURE_GATE_DEFAULTS);
        String spec = raw("feature-gates");
        for (String part : spec.split(",")) {
            String p = part.trim();
            if (p.isEmpty()) {
                continue;
            }
            int eq = p.indexOf('=');
            if (eq < 0) {
                throw new ConfigException("invalid value \"" + spec + "\" for flag --feature-gates: missing bool value for "
                        + p);
            }
            String k = p.substring(0, eq).trim();
            String v = p.substring(eq + 1).trim();
            if (!gates.containsKey(k)) {
                throw new ConfigException("invalid value \"" + spec + "\" for flag --feature-gates: unrecognized feature "
                        + "gate: " + k);
            }
            Boolean b = goBool(v);
            if (b == null) {
                throw new ConfigException("invalid value \"" + spec + "\" for flag --feature-gates: invalid value of "
                        + k + "=" + v);
            }
            gates.put(k, b);
        }
        for (Map.Entry<String, String> e : EXPERIMENTAL_FLAG_GATES.entrySet()) {
            if (!values.containsKey(e.getKey())) {
                continue;
            }
            boolean on = boolFlag(e.getKey());
            if (spec.contains(e.getValue())) {
                throw new ConfigException("cannot specify both flags: --" + e.getKey() + "=" + on + " and --feature-gates="
                        + e.getValue() + "=" + gates.get(e.getValue()) + " at the same time, please just use "
                        + "--feature-gates=" + e.getValue() + "=" + gates.get(e.getValue()));
            }
            gates.put(e.getValue(), on);
        }
        if (gates.get("LeaseCheckpointPersist") && !gates.get("LeaseCheckpoint")) {
            throw new ConfigException("enabling feature gate LeaseCheckpointPersist requires enabling feature gate "
                    + "LeaseCheckpoint");
        }
        return gates;
    }

    /** Whether the leader checkpoints remaining lease TTLs through the log (feature gate LeaseCheckpoint). */
    public boolean leaseCheckpoint() {
        return featureGates().get("LeaseCheckpoint");
    }

    public String name() {
        String v = values.get("name");
        return v == null ? "default" : v;
    }

    public Path dataDir() {
        return Path.of(raw("data-dir"));
    }

    public List<URI> listenClientUrls() {
        return urls("listen-client-urls");
    }

    /**
     * The URL the client server binds (the first of --listen-client-urls). https:// needs a certificate
     * (--cert-file/--key-file or --auto-tls), as in etcd.
     */
    public URI listenClientUrl() {
        for (URI u : listenClientUrls()) {
            if ("https".equals(u.getScheme())) {
                if (!clientTlsConfigured()) {
                    throw new ConfigException("TLS key/cert (--cert-file, --key-file) must be provided for client url "
                            + u + " with HTTPS scheme");
                }
            } else if (!"http".equals(u.getScheme())) {
                throw new ConfigException("--listen-client-urls: URL scheme must be http or https, got " + u);
            }
        }
        return listenClientUrls().get(0);
    }

    private boolean clientTlsConfigured() {
        return !raw("cert-file").trim().isEmpty() || boolFlag("auto-tls");
    }

    /** Whether clients connect with TLS (an https:// client URL). */
    public boolean clientTlsOn() {
        return "https".equals(listenClientUrl().getScheme());
    }

    public List<URI> advertiseClientUrls() {
        return urls("advertise-client-urls");
    }

    public URI listenPeerUrl() {
        return urls("listen-peer-urls").get(0);
    }

    public List<URI> initialAdvertisePeerUrls() {
        return urls("initial-advertise-peer-urls");
    }

    /** Member name to its peer URLs, in flag order. */
    public Map<String, List<URI>> initialCluster() {
        Map<String, List<URI>> out = new LinkedHashMap<>();
        for (String part : raw("initial-cluster").split(",")) {
            String p = part.trim();
            if (p.isEmpty()) {
                continue;
            }
            int eq = p.indexOf('=');
            if (eq <= 0) {
                throw new ConfigException("--initial-cluster: expected name=url, got \"" + p + "\"");
            }
            out.computeIfAbsent(p.substring(0, eq), k -> new ArrayList<>()).add(url("initial-cluster", p.substring(eq + 1)));
        }
        if (out.isEmpty()) {
            throw new ConfigException("--initial-cluster is empty");
        }
        return out;
    }

    public String initialClusterState() {
        return raw("initial-cluster-state").trim();
    }

    public String initialClusterToken() {
        return raw("initial-cluster-token");
    }

    public long maxRequestBytes() {
        return longFlag("max-request-bytes");
    }

    /** gRPC allows this much beyond --max-request-bytes for framing and headers, as etcd does. */
    public static final long GRPC_OVERHEAD_BYTES = 512 * 1024;

    /**
     * etcd's MaxRequestBytesWithOverhead: the largest gRPC message accepted, and the size above which a watch
     * response is split into fragments (for watchers that asked for them).
     */
    public long maxRequestBytesWithOverhead() {
        return maxRequestBytes() + GRPC_OVERHEAD_BYTES;
    }

    public int maxLearners() {
        return (int) longFlag("max-learners");
    }

    public boolean strictReconfigCheck() {
        return boolFlag("strict-reconfig-check");
    }

    /** Whether this member joins a running cluster (--initial-cluster-state=existing). */
    public boolean joinsExistingCluster() {
        return initialClusterState().equals("existing");
    }

    public int maxTxnOps() {
        return (int) longFlag("max-txn-ops");
    }

    /** Backend quota in bytes: etcd treats 0 as the 2 GiB default and a negative value as "no quota". */
    public long quotaBackendBytes() {
        long q = longFlag("quota-backend-bytes");
        return q == 0 ? 2L * 1024 * 1024 * 1024 : q;
    }

    public long snapshotCount() {
        return longFlag("snapshot-count");
    }

    public long heartbeatIntervalMs() {
        return longFlag("heartbeat-interval");
    }

    public long electionTimeoutMs() {
        return longFlag("election-timeout");
    }

    /** Watch progress notification interval in milliseconds. */
    public long watchProgressNotifyIntervalMs() {
        // an --experimental-watch-progress-notify-interval given was copied here by parse, as etcd 3.6 does
        String flag = "watch-progress-notify-interval";
        long ms = goDurationMs(flag, raw(flag).trim());
        if (ms <= 0) {
            throw new ConfigException("--" + flag + " must be positive");
        }
        return ms;
    }

    /** Parses a Go duration such as "10m", "1h30m", "1.5s", "100ms" into milliseconds. */
    static long goDurationMs(String flag, String v) {
        try {
            return goDurationNanos(v) / 1_000_000;
        } catch (IllegalArgumentException e) {
            throw new ConfigException("invalid value \"" + v + "\" for flag -" + flag + ": parse error");
        }
    }

    /** Go's time.ParseDuration: an optional sign, then number-unit pairs, or a bare "0". */
    static long goDurationNanos(String v) {
        String s = v;
        boolean negative = false;
        if (s.startsWith("-") || s.startsWith("+")) {
            negative = s.startsWith("-");
            s = s.substring(1);
        }
        if (s.equals("0")) {
            return 0;
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d*(?:\\.\\d*)?)(ns|us|µs|μs|ms|s|m|h)")
                .matcher(s);
        double total = 0;
        int pos = 0;
        while (pos < s.length() && m.find(pos) && m.start() == pos) {
            String num = m.group(1);
            if (num.isEmpty() || num.equals(".")) {
                throw new IllegalArgumentException("time: invalid duration \"" + v + "\"");
            }
            double n = Double.parseDouble(num);
            total += switch (m.group(2)) {
                case "ns" -> n;
                case "us", "µs", "μs" -> n * 1e3;
                case "ms" -> n * 1e6;
                case "s" -> n * 1e9;
                case "m" -> n * 60e9;
                default -> n * 3600e9;
            };
            pos = m.end();
        }
        if (pos == 0 || pos != s.length()) {
            throw new IllegalArgumentException("time: invalid duration \"" + v + "\"");
        }
        return (long) (negative ? -total : total);
    }

    // ---- gRPC server limits ----------------------------------------------------------------------------

    /** --max-concurrent-streams: HTTP/2 streams a client may open on one connection (etcd: math.MaxUint32). */
    public long maxConcurrentStreams() {
        return Long.parseLong(raw("max-concurrent-streams").trim());
    }

    /** --grpc-keepalive-min-time in milliseconds: clients pinging more often are sent away (too_many_pings). */
    public long grpcKeepaliveMinTimeMs() {
        return goDurationMs("grpc-keepalive-min-time", raw("grpc-keepalive-min-time").trim());
    }

    /** --grpc-keepalive-interval in milliseconds (0: the server does not ping idle clients). */
    public long grpcKeepaliveIntervalMs() {
        return goDurationMs("grpc-keepalive-interval", raw("grpc-keepalive-interval").trim());
    }

    /** --grpc-keepalive-timeout in milliseconds (0: no wait for the ping's answer). */
    public long grpcKeepaliveTimeoutMs() {
        return goDurationMs("grpc-keepalive-timeout", raw("grpc-keepalive-timeout").trim());
    }

    /** --enable-grpc-gateway: whether the JSON gateway (/v3/...) is served (etcd's default: true). */
    public boolean enableGrpcGateway() {
        return boolFlag("enable-grpc-gateway");
    }

    // ---- auto compaction -------------------------------------------------------------------------------

    /**
     * --auto-compaction-mode and --auto-compaction-retention as etcd 3.6 reads them (embed's
     * parseCompactionRetention): "periodic" takes a Go duration or a whole number of hours, "revision" a number
     * of revisions; retention 0 turns auto compaction off.
     *
     * @param periodic   periodic (true) or revision (false) mode
     * @param retention  nanoseconds (periodic) or revisions (revision)
     */
    public record AutoCompaction(boolean periodic, long retention) {
        public boolean enabled() {
            return retention != 0;
        }
    }

    public AutoCompaction autoCompaction() {
        String mode = raw("auto-compaction-mode").trim();
        String ret = raw("auto-compaction-retention").trim();
        if (mode.isEmpty()) {
            throw new ConfigException("undefined auto-compaction-mode");
        }
        if (!mode.equals("periodic") && !mode.equals("revision")) {
            throw new ConfigException("unknown auto-compaction-mode \"" + mode + "\"");
        }
        boolean periodic = mode.equals("periodic");
        long n;
        try {
            n = Long.parseLong(ret);
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n >= 0) {
            return new AutoCompaction(periodic, periodic ? n * 3_600_000_000_000L : n);
        }
        try {
            // as in etcd, a duration also counts in revision mode, as that many revisions (its nanoseconds)
            return new AutoCompaction(periodic, goDurationNanos(ret));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("error parsing CompactionRetention: " + e.getMessage());
        }
    }

    // ---- metrics listener, logging -------------------------------------------------------------------------

    /** --listen-metrics-urls: extra http(s) listeners for /metrics and the health endpoints (none by default). */
    public List<URI> listenMetricsUrls() {
        List<URI> out = new ArrayList<>();
        for (String s : raw("listen-metrics-urls").split(",")) {
            if (s.isBlank()) {
                continue;
            }
            URI u = url("listen-metrics-urls", s.trim());
            if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme())) {
                throw new ConfigException("--listen-metrics-urls: URL scheme must be http or https, got " + u);
            }
            if ("https".equals(u.getScheme()) && !clientTlsConfigured()) {
                throw new ConfigException("TLS key/cert (--cert-file, --key-file) must be provided for metrics url "
                        + u + " with HTTPS scheme");
            }
            out.add(u);
        }
        return out;
    }

    /**
     * --log-outputs: "default" and "stderr" (standard error), "stdout", or file paths; "default" cannot be one of
     * several, as in etcd.
     */
    public List<String> logOutputs() {
        List<String> out = new ArrayList<>();
        for (String s : raw("log-outputs").split(",")) {
            if (!s.isBlank() && !out.contains(s.trim())) {
                out.add(s.trim());
            }
        }
        if (out.isEmpty()) {
            out.add("default");
        }
        if (out.size() > 1 && out.contains("default")) {
            throw new ConfigException("multi logoutput for \"default\" is not supported yet");
        }
        return out;
    }

    /** The Quarkus/JBoss log level for etcd's --log-level. */
    public String logLevel() {
        String l = raw("log-level").trim().toLowerCase(Locale.ROOT);
        return switch (l) {
            case "debug" -> "DEBUG";
            case "info" -> "INFO";
            case "warn" -> "WARN";
            case "error", "dpanic", "panic", "fatal" -> "ERROR";
            default -> throw new ConfigException("invalid value \"" + l + "\" for flag --log-level");
        };
    }

    public boolean versionRequested() {
        return boolFlag("version");
    }

    public boolean helpRequested() {
        return boolFlag("help");
    }

    private List<URI> urls(String flag) {
        List<URI> out = new ArrayList<>();
        for (String s : raw(flag).split(",")) {
            if (!s.isBlank()) {
                out.add(url(flag, s.trim()));
            }
        }
        if (out.isEmpty()) {
            throw new ConfigException("--" + flag + " is empty");
        }
        return out;
    }

    private static URI url(String flag, String s) {
        try {
            URI u = new URI(s);
            if (u.getScheme() == null || u.getHost() == null || u.getPort() < 0) {
                throw new ConfigException("--" + flag + ": URL must have a scheme, host and port: \"" + s + "\"");
            }
            return u;
        } catch (java.net.URISyntaxException e) {
            throw new ConfigException("--" + flag + ": invalid URL \"" + s + "\"");
        }
    }

    /** The usage text for --help: etcd's layout (flag, default, meaning), with what Keel does not do. */
    public static String usage() {
        StringBuilder sb = new StringBuilder("Usage:\n\n  keel [flags]\n    Start a Keel member (etcd's flags).\n\n"
                + "  keel --version\n    Show the version of Keel.\n\n  keel -h | --help\n    Show this help.\n\n"
                + "  keel snapshot restore|status <file> [flags]\n    The offline snapshot tool (etcdutl's).\n\n"
                + "Flags (each also read from ETCD_<NAME> in the environment):\n");
        for (Flag f : FLAGS) {
            sb.append("  --").append(f.name());
            if (!f.isBoolean() || !f.defaultValue().equals("false")) {
                sb.append(" '").append(f.defaultValue()).append('\'');
            }
            sb.append("\n    ").append(f.help()).append('\n');
            if (f.noEffect() != null) {
                sb.append("    Keel: no effect (").append(f.noEffect()).append(").\n");
            }
        }
        return sb.toString();
    }

    /**
     * README's configuration reference: one Markdown table row per flag (flag and variable, default, etcd's
     * meaning, Keel's status). ConfigReferenceTest checks README holds every row.
     */
    static String referenceTable() {
        StringBuilder sb = new StringBuilder("| Flag (variable) | Default | etcd's meaning | Keel |\n|---|---|---|---|\n");
        for (Flag f : FLAGS) {
            sb.append(referenceRow(f)).append('\n');
        }
        return sb.toString();
    }

    static String referenceRow(Flag f) {
        String dflt = f.defaultValue().isEmpty() ? "" : "`" + f.defaultValue() + "`";
        String status = f.noEffect() == null ? KEEL_NOTES.getOrDefault(f.name(), "honoured")
                : "accepted, no effect: " + f.noEffect();
        return "| `--" + f.name() + "` (`" + envName(f.name()) + "`) | " + dflt.replace("|", "\\|") + " | "
                + f.help().replace("|", "\\|") + " | " + status.replace("|", "\\|") + " |";
    }

    /** What Keel does for a flag it honours, where that needs saying. */
    private static final Map<String, String> KEEL_NOTES = orderedMap(
            "data-dir", "honoured: member/kv (RocksDB) and member/raft (Ratis log) below it",
            "snapshot-count", "honoured: entries between Raft snapshots (RocksDB checkpoints); the log is "
                    + "truncated behind them",
            "heartbeat-interval", "honoured for lease timing; Ratis derives its heartbeats from the election "
                    + "timeout",
            "election-timeout", "honoured: Ratis' election timeout is [t, 2t) when given (default 150-300 ms)",
            "listen-client-urls", "honoured (the first URL): gRPC and HTTP on one port",
            "listen-peer-urls", "honoured (the first URL): Ratis' gRPC",
            "max-concurrent-streams", "honoured: HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS of the client listener",
            "enable-grpc-gateway", "honoured: false turns off the JSON gateway (/v3/...)",
            "feature-gates", "honoured: LeaseCheckpoint, LeaseCheckpointPersist; the others are accepted",
            "auto-compaction-retention", "honoured: periodic and revision modes as etcd 3.6 schedules them",
            "auto-compaction-mode", "honoured",
            "experimental-enable-lease-checkpoint", "honoured: sets feature gate LeaseCheckpoint",
            "experimental-enable-lease-checkpoint-persist", "honoured: sets feature gate LeaseCheckpointPersist "
                    + "(checkpoints are always persisted)",
            "experimental-watch-progress-notify-interval", "honoured: sets --watch-progress-notify-interval",
            "listen-metrics-urls", "honoured: /metrics, /health, /livez, /readyz (https with the client "
                    + "certificate)",
            "logger", "honoured: only zap is accepted, as in etcd; Keel logs text lines",
            "log-outputs", "honoured: default/stderr, stdout or a file",
            "log-level", "honoured",
            "config-file", "honoured: etcd's YAML keys",
            "cipher-suites", "honoured (IANA names, as Go's)");
}
