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

    /** A flag this server understands: its name, default and a one-line description. */
    record Flag(String name, String defaultValue, boolean isBoolean, String help) {
    }

    static final List<Flag> FLAGS = List.of(
            new Flag("name", "default", false, "Human-readable name for this member."),
            new Flag("data-dir", "${name}.etcd", false, "Path to the data directory."),
            new Flag("listen-client-urls", "http://localhost:2379", false,
                    "URL to listen on for client traffic (gRPC and HTTP share it)."),
            new Flag("advertise-client-urls", "http://localhost:2379", false,
                    "Client URLs of this member as advertised to the cluster."),
            new Flag("listen-peer-urls", "http://localhost:2380", false, "URL to listen on for peer (Raft) traffic."),
            new Flag("initial-advertise-peer-urls", "http://localhost:2380", false,
                    "Peer URLs of this member as advertised to the cluster."),
            new Flag("initial-cluster", "${name}=http://localhost:2380", false,
                    "Initial cluster configuration for bootstrapping (name=peerURL,...)."),
            new Flag("initial-cluster-state", "new", false, "Initial cluster state ('new' or 'existing')."),
            new Flag("initial-cluster-token", "etcd-cluster", false, "Initial cluster token for bootstrapping."),
            new Flag("max-request-bytes", "1572864", false, "Maximum client request size in bytes."),
            new Flag("max-txn-ops", "128", false, "Maximum number of operations permitted in a transaction."),
            new Flag("quota-backend-bytes", "0", false,
                    "Raise an alarm when the backend size exceeds this quota (0 = default 2 GiB, negative = none)."),
            new Flag("snapshot-count", "10000", false,
                    "Number of committed entries that trigger a snapshot (and allow Raft log truncation)."),
            new Flag("max-learners", "1", false, "Maximum number of learner members in the cluster."),
            new Flag("strict-reconfig-check", "true", true,
                    "Reject reconfiguration requests that would cause quorum loss."),
            new Flag("heartbeat-interval", "100", false, "Time (in milliseconds) of a heartbeat interval."),
            new Flag("election-timeout", "1000", false, "Time (in milliseconds) for an election to timeout."),
            new Flag("experimental-watch-progress-notify-interval", "10m", false,
                    "Interval of progress notifications to watchers that asked for them (Go duration, e.g. 10m, 5s)."),
            new Flag("watch-progress-notify-interval", "", false,
                    "etcd 3.6 name of --experimental-watch-progress-notify-interval; wins when set."),
            new Flag("feature-gates", "", false,
                    "Comma-separated key=true|false pairs of feature gates, e.g. LeaseCheckpoint=true."),
            new Flag("experimental-enable-lease-checkpoint", "false", true,
                    "Deprecated: use --feature-gates=LeaseCheckpoint=true. Leader checkpoints remaining lease TTLs."),
            new Flag("experimental-enable-lease-checkpoint-persist", "false", true,
                    "Deprecated: use --feature-gates=LeaseCheckpointPersist=true. Checkpoints are always persisted."),
            new Flag("auth-token", "simple", false,
                    "Auth token type: 'simple' or 'jwt,pub-key=<path>,priv-key=<path>,sign-method=<alg>[,ttl=<duration>]'."),
            new Flag("auth-token-ttl", "300", false, "Time (in seconds) a simple token lives after its last use."),
            new Flag("bcrypt-cost", "10", false, "bcrypt cost for hashing auth passwords (4..31)."),
            new Flag("cert-file", "", false, "Path to the client server TLS certificate file."),
            new Flag("key-file", "", false, "Path to the client server TLS key file."),
            new Flag("trusted-ca-file", "", false, "Path to the client server TLS trusted CA certificate file."),
            new Flag("client-cert-auth", "false", true, "Require client certificates signed by the trusted CA."),
            new Flag("auto-tls", "false", true, "Client TLS using a generated self-signed certificate."),
            new Flag("peer-cert-file", "", false, "Path to the peer server TLS certificate file."),
            new Flag("peer-key-file", "", false, "Path to the peer server TLS key file."),
            new Flag("peer-trusted-ca-file", "", false, "Path to the peer server TLS trusted CA file."),
            new Flag("peer-client-cert-auth", "false", true, "Require peer certificates signed by the peer CA."),
            new Flag("peer-auto-tls", "false", true, "Peer TLS using a generated self-signed certificate."),
            new Flag("self-signed-cert-validity", "1", false,
                    "Validity period, in years, of the certificates --auto-tls and --peer-auto-tls generate."),
            new Flag("cipher-suites", "", false,
                    "Comma-separated list of supported TLS cipher suites (empty: the JDK's defaults)."),
            new Flag("tls-min-version", "TLS1.2", false, "Minimum TLS version: TLS1.2 or TLS1.3."),
            new Flag("tls-max-version", "", false, "Maximum TLS version: TLS1.2 or TLS1.3 (empty: the JDK's highest)."),
            new Flag("log-level", "info", false, "Log level: debug, info, warn, error, panic or fatal."),
            new Flag("logger", "zap", false, "Accepted for compatibility; Keel always uses its own logger."),
            new Flag("log-outputs", "default", false, "Accepted for compatibility; logs go to stderr."),
            new Flag("version", "false", true, "Print the version and exit."),
            new Flag("help", "false", true, "Show this help and exit."));

    private final Map<String, String> values;

    private EtcdConfig(Map<String, String> values) {
        this.values = values;
    }

    /** Thrown for bad flags; the message is what the user sees. */
    public static final class ConfigException extends RuntimeException {
        public ConfigException(String message) {
            super(message);
        }
    }

    /** Parses args ("--flag=value", "--flag value", "-flag", booleans without value) over the environment. */
    public static EtcdConfig parse(String[] args, Map<String, String> env) {
        Map<String, Flag> known = new LinkedHashMap<>();
        for (Flag f : FLAGS) {
            known.put(f.name(), f);
        }
        Map<String, String> values = new LinkedHashMap<>();
        for (Flag f : FLAGS) {
            String envName = "ETCD_" + f.name().toUpperCase(Locale.ROOT).replace('-', '_');
            String v = env.get(envName);
            if (v != null) {
                values.put(f.name(), v);
            }
        }
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("-") || a.equals("-") || a.equals("--")) {
                throw new ConfigException("'" + a + "' is not a valid flag");
            }
            String body = a.startsWith("--") ? a.substring(2) : a.substring(1);
            String name = body;
            String value = null;
            int eq = body.indexOf('=');
            if (eq >= 0) {
                name = body.substring(0, eq);
                value = body.substring(eq + 1);
            }
            Flag f = known.get(name);
            if (f == null) {
                throw new ConfigException("unknown flag: --" + name);
            }
            if (value == null) {
                if (f.isBoolean()) {
                    value = "true";
                } else if (i + 1 < args.length) {
                    value = args[++i];
                } else {
                    throw new ConfigException("flag needs an argument: --" + name);
                }
            }
            values.put(name, value);
        }
        EtcdConfig c = new EtcdConfig(values);
        c.validate();
        return c;
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
        for (Flag f : FLAGS) {
            if (f.name().equals(name)) {
                return f.defaultValue().replace("${name}", name());
            }
        }
        throw new IllegalArgumentException(name);
    }

    private long longFlag(String name) {
        try {
            return Long.parseLong(raw(name).trim());
        } catch (NumberFormatException e) {
            throw new ConfigException("invalid value \"" + raw(name) + "\" for flag --" + name + ": parse error");
        }
    }

    private boolean boolFlag(String name) {
        String v = raw(name).trim().toLowerCase(Locale.ROOT);
        return switch (v) {
            case "true", "1", "t" -> true;
            case "false", "0", "f", "" -> false;
            default -> throw new ConfigException("invalid boolean value \"" + v + "\" for flag --" + name);
        };
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
        if (electionTimeoutMs() < 5 * heartbeatIntervalMs()) {
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

    /** Deprecated experimental flags that set a feature gate (those Keel knows so far). */
    private static final Map<String, String> EXPERIMENTAL_FLAG_GATES = Map.of(
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
            Boolean b = switch (v) {
                case "1", "t", "T", "true", "TRUE", "True" -> true;
                case "0", "f", "F", "false", "FALSE", "False" -> false;
                default -> null;
            };
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
        URI u = listenClientUrls().get(0);
        if ("https".equals(u.getScheme())) {
            if (!clientTlsConfigured()) {
                throw new ConfigException("TLS key/cert (--cert-file, --key-file) must be provided for client url "
                        + u + " with HTTPS scheme");
            }
        } else if (!"http".equals(u.getScheme())) {
            throw new ConfigException("--listen-client-urls: URL scheme must be http or https, got " + u);
        }
        return u;
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
        String v = raw("watch-progress-notify-interval").trim();
        String flag = "watch-progress-notify-interval";
        if (v.isEmpty()) {
            v = raw("experimental-watch-progress-notify-interval").trim();
            flag = "experimental-watch-progress-notify-interval";
        }
        long ms = goDurationMs(flag, v);
        if (ms <= 0) {
            throw new ConfigException("--" + flag + " must be positive");
        }
        return ms;
    }

    /** Parses a Go duration such as "10m", "1h30m", "1.5s", "100ms" into milliseconds. */
    static long goDurationMs(String flag, String v) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+(?:\\.\\d+)?)(ns|us|µs|ms|s|m|h)").matcher(v);
        double total = 0;
        int pos = 0;
        while (m.find() && m.start() == pos) {
            double n = Double.parseDouble(m.group(1));
            total += switch (m.group(2)) {
                case "ns" -> n / 1e6;
                case "us", "µs" -> n / 1e3;
                case "ms" -> n;
                case "s" -> n * 1e3;
                case "m" -> n * 60e3;
                default -> n * 3600e3;
            };
            pos = m.end();
        }
        if (pos == 0 || pos != v.length()) {
            throw new ConfigException("invalid value \"" + v + "\" for flag --" + flag + ": invalid duration");
        }
        return (long) total;
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

    /** The usage text for --help. */
    public static String usage() {
        StringBuilder sb = new StringBuilder("Usage:\n\n  keel [flags]\n\nFlags (each also read from ETCD_<NAME> in the environment):\n");
        for (Flag f : FLAGS) {
            sb.append(String.format("  --%-30s %s (default: %s)%n", f.name(), f.help(), f.defaultValue()));
        }
        return sb.toString();
    }
}
