package dev.keel.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The flag table against etcd 3.6: every flag etcd 3.6 registers (server/etcdmain/config.go, embed/config.go,
 * help.go of release-3.6, listed here independently of {@link EtcdConfig#FLAGS}) parses, on the command line and
 * as an ETCD_* variable; values Go's flag package refuses fail with its texts; the experimental flags map to their
 * 3.6 successors; the flags with effect reach their accessors; README's reference has a row for each flag.
 */
class EtcdFlagsTest {

    /** etcd 3.6's flags (v3.6.9), without its ignored v0.4-era ones. */
    static final List<String> ETCD_36_FLAGS = List.of(
            "advertise-client-urls", "auth-token", "auth-token-ttl", "auto-compaction-mode",
            "auto-compaction-retention", "auto-tls", "backend-batch-interval", "backend-batch-limit",
            "backend-bbolt-freelist-type", "bcrypt-cost", "bootstrap-defrag-threshold-megabytes", "cert-file",
            "cipher-suites", "client-cert-allowed-hostname", "client-cert-auth", "client-cert-file",
            "client-crl-file", "client-key-file", "compact-hash-check-time", "compaction-batch-limit",
            "compaction-sleep-interval", "config-file", "corrupt-check-time", "cors", "data-dir", "discovery",
            "discovery-cacert", "discovery-cert", "discovery-dial-timeout", "discovery-endpoints",
            "discovery-fallback", "discovery-insecure-skip-tls-verify", "discovery-insecure-transport",
            "discovery-keepalive-time", "discovery-keepalive-timeout", "discovery-key", "discovery-password",
            "discovery-proxy", "discovery-request-timeout", "discovery-srv", "discovery-srv-name",
            "discovery-token", "discovery-user", "distributed-tracing-address",
            "distributed-tracing-instance-id", "distributed-tracing-sampling-rate",
            "distributed-tracing-service-name", "downgrade-check-time", "election-timeout",
            "enable-distributed-tracing", "enable-grpc-gateway", "enable-log-rotation", "enable-pprof",
            "experimental-bootstrap-defrag-threshold-megabytes", "experimental-compact-hash-check-enabled",
            "experimental-compact-hash-check-time", "experimental-compaction-batch-limit",
            "experimental-compaction-sleep-interval", "experimental-corrupt-check-time",
            "experimental-distributed-tracing-address", "experimental-distributed-tracing-instance-id",
            "experimental-distributed-tracing-sampling-rate", "experimental-distributed-tracing-service-name",
            "experimental-downgrade-check-time", "experimental-enable-distributed-tracing",
            "experimental-enable-lease-checkpoint", "experimental-enable-lease-checkpoint-persist",
            "experimental-initial-corrupt-check", "experimental-memory-mlock",
            "experimental-peer-skip-client-san-verification", "experimental-snapshot-catchup-entries",
            "experimental-stop-grpc-service-on-defrag", "experimental-txn-mode-write-with-shared-buffer",
            "experimental-warning-apply-duration", "experimental-warning-unary-request-duration",
            "experimental-watch-progress-notify-interval", "feature-gates", "force-new-cluster",
            "grpc-keepalive-interval", "grpc-keepalive-min-time", "grpc-keepalive-timeout",
            "heartbeat-interval", "host-whitelist", "initial-advertise-peer-urls", "initial-cluster",
            "initial-cluster-state", "initial-cluster-token", "initial-election-tick-advance", "key-file",
            "listen-client-http-urls", "listen-client-urls", "listen-metrics-urls", "listen-peer-urls",
            "log-format", "log-level", "log-outputs", "log-rotation-config-json", "logger",
            "max-concurrent-streams", "max-learners", "max-request-bytes", "max-snapshots", "max-txn-ops",
            "max-wals", "memory-mlock", "metrics", "name", "peer-auto-tls", "peer-cert-allowed-cn",
            "peer-cert-allowed-hostname", "peer-cert-file", "peer-client-cert-auth", "peer-client-cert-file",
            "peer-client-key-file", "peer-crl-file", "peer-key-file", "peer-skip-client-san-verification",
            "peer-trusted-ca-file", "pre-vote", "quota-backend-bytes", "raft-read-timeout",
            "raft-write-timeout", "self-signed-cert-validity", "snapshot-catchup-entries", "snapshot-count",
            "socket-reuse-address", "socket-reuse-port", "strict-reconfig-check", "tls-max-version",
            "tls-min-version", "trusted-ca-file", "unsafe-no-fsync", "v2-deprecation", "version", "wal-dir",
            "warning-apply-duration", "warning-unary-request-duration", "watch-progress-notify-interval");

    private static EtcdConfig parse(String... args) {
        return EtcdConfig.parse(args, Map.of());
    }

    /** A value of the flag's kind that etcd would accept and that keeps the configuration valid. */
    private static String sample(EtcdConfig.Flag f) {
        return switch (f.name()) {
            case "name" -> "default";
            case "data-dir" -> "default.etcd";
            case "initial-cluster" -> "default=http://localhost:2380";
            case "discovery-fallback" -> "exit";
            case "initial-cluster-state" -> "new";
            case "auto-compaction-retention" -> "1h";
            case "feature-gates" -> "StopGRPCServiceOnDefrag=true";
            case "config-file" -> "";
            case "help", "version" -> "false";
            default -> f.defaultValue().isEmpty() && f.kind() == EtcdConfig.Kind.STRING ? "" : f.defaultValue();
        };
    }

    @Test
    void everyEtcd36FlagIsAccepted() {
        Map<String, EtcdConfig.Flag> table = new HashMap<>();
        EtcdConfig.FLAGS.forEach(f -> table.put(f.name(), f));
        for (String name : ETCD_36_FLAGS) {
            EtcdConfig.Flag f = table.get(name);
            assertTrue(f != null, "etcd 3.6 flag missing from Keel's table: --" + name);
            String v = sample(f);
            EtcdConfig.parse(new String[]{"--" + name + "=" + v}, Map.of());
            // Go's other spellings: one dash, and the value as the next argument (not for booleans)
            EtcdConfig.parse(f.isBoolean() ? new String[]{"-" + name + "=" + v} : new String[]{"-" + name, v},
                    Map.of());
            if (!v.isEmpty() && !name.equals("config-file")) {
                EtcdConfig c = EtcdConfig.parse(new String[0], Map.of(EtcdConfig.envName(name), v));
                assertTrue(c.isSet(name), name + " from " + EtcdConfig.envName(name));
            }
        }
        // etcd's ignored v0.4 flags, and 3.4/3.5 flags test harnesses pass
        for (String old : List.of("--snapshot", "--v", "--peer-election-timeout=1", "--enable-v2",
                "--enable-v2=true", "--experimental-enable-v2v3=/v2", "--proxy=off", "--debug", "--log-output=stderr")) {
            EtcdConfig c = parse(old);
            assertFalse(c.noEffectNotes().isEmpty(), old);
        }
    }

    @Test
    void eachFlagHasEtcdsDefault() {
        EtcdConfig c = parse();
        assertEquals(4294967295L, c.maxConcurrentStreams());
        assertEquals(5000, c.grpcKeepaliveMinTimeMs());
        assertEquals(7_200_000, c.grpcKeepaliveIntervalMs());
        assertEquals(20_000, c.grpcKeepaliveTimeoutMs());
        assertEquals(600_000, c.watchProgressNotifyIntervalMs());
        assertFalse(c.autoCompaction().enabled());
        assertTrue(c.autoCompaction().periodic());
        assertEquals(List.of("default"), c.logOutputs());
        assertTrue(c.listenMetricsUrls().isEmpty());
        assertTrue(c.enableGrpcGateway());
        assertTrue(c.noEffectNotes().isEmpty(), "defaults say nothing");
        assertEquals(false, c.featureGates().get("InitialCorruptCheck"));
    }

    @Test
    void goFlagErrorTexts() {
        assertEquals("flag provided but not defined: -no-such-flag",
                assertThrows(EtcdConfig.FlagSyntaxException.class, () -> parse("--no-such-flag")).getMessage());
        assertEquals("invalid value \"abc\" for flag -snapshot-count: parse error",
                assertThrows(EtcdConfig.FlagSyntaxException.class, () -> parse("--snapshot-count=abc")).getMessage());
        assertEquals("invalid value \"-1\" for flag -snapshot-count: parse error",
                assertThrows(EtcdConfig.FlagSyntaxException.class, () -> parse("--snapshot-count=-1")).getMessage());
        assertEquals("invalid boolean value \"yes\" for -client-cert-auth: parse error",
                assertThrows(EtcdConfig.FlagSyntaxException.class, () -> parse("--client-cert-auth=yes")).getMessage());
        assertEquals("invalid value \"5 seconds\" for flag -grpc-keepalive-min-time: parse error",
                assertThrows(EtcdConfig.FlagSyntaxException.class,
                        () -> parse("--grpc-keepalive-min-time", "5 seconds")).getMessage());
        assertEquals("invalid value \"x\" for flag -max-concurrent-streams: strconv.ParseUint: parsing \"x\": "
                        + "invalid syntax",
                assertThrows(EtcdConfig.FlagSyntaxException.class, () -> parse("--max-concurrent-streams=x"))
                        .getMessage());
        assertEquals("invalid value \"abc\" for ETCD_SNAPSHOT_COUNT: parse error",
                assertThrows(EtcdConfig.FlagSyntaxException.class,
                        () -> EtcdConfig.parse(new String[0], Map.of("ETCD_SNAPSHOT_COUNT", "abc"))).getMessage());
        assertEquals("\"extra\" is not a valid flag",
                assertThrows(EtcdConfig.ConfigException.class, () -> parse("--name=a", "extra")).getMessage());
        // empty variables are ignored, as etcd's SetFlagsFromEnv does; flags win over variables
        assertEquals(10000, EtcdConfig.parse(new String[0], Map.of("ETCD_SNAPSHOT_COUNT", "")).snapshotCount());
        assertEquals(5, EtcdConfig.parse(new String[]{"--snapshot-count=5"}, Map.of("ETCD_SNAPSHOT_COUNT", "7"))
                .snapshotCount());
        // etcd's validation texts
        assertEquals("unknown logger option \"capn\"",
                assertThrows(EtcdConfig.ConfigException.class, () -> parse("--logger=capn")).getMessage());
        assertEquals("multi logoutput for \"default\" is not supported yet",
                assertThrows(EtcdConfig.ConfigException.class, () -> parse("--log-outputs=default,stdout"))
                        .getMessage());
        assertEquals("unknown auto-compaction-mode \"hourly\"",
                assertThrows(EtcdConfig.ConfigException.class, () -> parse("--auto-compaction-mode=hourly"))
                        .getMessage());
        assertEquals("v2 proxy is deprecated, and --discovery-fallback can't be configured as \"proxy\"",
                assertThrows(EtcdConfig.ConfigException.class, () -> parse("--discovery-fallback=proxy"))
                        .getMessage());
    }

    @Test
    void experimentalFlagsMapToTheirSuccessorsAsEtcd36Does() {
        assertEquals(5000, parse("--experimental-watch-progress-notify-interval=5s").watchProgressNotifyIntervalMs());
        assertEquals(5000, parse("--watch-progress-notify-interval=5s").watchProgressNotifyIntervalMs());
        assertEquals("cannot set --experimental-watch-progress-notify-interval and --watch-progress-notify-interval "
                        + "at the same time, please use --watch-progress-notify-interval only",
                assertThrows(EtcdConfig.ConfigException.class, () -> parse(
                        "--experimental-watch-progress-notify-interval=5s", "--watch-progress-notify-interval=6s"))
                        .getMessage());
        EtcdConfig corrupt = parse("--experimental-initial-corrupt-check=true");
        assertEquals(true, corrupt.featureGates().get("InitialCorruptCheck"));
        assertTrue(corrupt.noEffectNotes().get(0).startsWith(
                "flag --experimental-initial-corrupt-check has no effect in Keel: "), corrupt.noEffectNotes().toString());
        assertTrue(corrupt.deprecationWarnings().get(0).contains("Use '--feature-gates=InitialCorruptCheck=true'"));
        assertEquals("cannot specify both flags: --experimental-initial-corrupt-check=true and "
                        + "--feature-gates=InitialCorruptCheck=true at the same time, please just use "
                        + "--feature-gates=InitialCorruptCheck=true",
                assertThrows(EtcdConfig.ConfigException.class, () -> parse("--experimental-initial-corrupt-check=true",
                        "--feature-gates=InitialCorruptCheck=true")).getMessage());
        assertEquals(false, parse("--experimental-txn-mode-write-with-shared-buffer=false").featureGates()
                .get("TxnModeWriteWithSharedBuffer"));
        assertEquals(true, parse("--experimental-stop-grpc-service-on-defrag").featureGates()
                .get("StopGRPCServiceOnDefrag"));
        assertEquals(true, parse("--experimental-compact-hash-check-enabled").featureGates().get("CompactHashCheck"));
        for (Map.Entry<String, String> e : EtcdConfig.EXPERIMENTAL_SUCCESSORS.entrySet()) {
            EtcdConfig.Flag f = EtcdConfig.FLAGS.stream().filter(x -> x.name().equals(e.getKey())).findFirst()
                    .orElseThrow();
            EtcdConfig c = parse("--" + e.getKey() + "=" + sample(f));
            assertTrue(c.isSet(e.getValue()), e.getKey() + " sets " + e.getValue());
        }
    }

    @Test
    void flagsWithEffectReachTheirAccessors() {
        EtcdConfig c = parse("--max-concurrent-streams=100", "--grpc-keepalive-min-time=1s",
                "--grpc-keepalive-interval=1m30s", "--grpc-keepalive-timeout=0", "--log-outputs=stdout,/tmp/x.log",
                "--listen-metrics-urls=http://127.0.0.1:2381,http://localhost:2382", "--enable-grpc-gateway=false",
                "--log-level=debug");
        assertEquals(100, c.maxConcurrentStreams());
        assertEquals(1000, c.grpcKeepaliveMinTimeMs());
        assertEquals(90_000, c.grpcKeepaliveIntervalMs());
        assertEquals(0, c.grpcKeepaliveTimeoutMs());
        assertEquals(List.of("stdout", "/tmp/x.log"), c.logOutputs());
        assertEquals(2, c.listenMetricsUrls().size());
        assertFalse(c.enableGrpcGateway());
        assertEquals("DEBUG", c.logLevel());
        assertThrows(EtcdConfig.ConfigException.class, () -> parse("--listen-metrics-urls=https://127.0.0.1:2381"),
                "https metrics need the client certificate");
    }

    @Test
    void autoCompactionRetentionAsEtcd36ParsesIt() {
        assertEquals(new EtcdConfig.AutoCompaction(true, 3_600_000_000_000L),
                parse("--auto-compaction-retention=1").autoCompaction(), "periodic: whole hours");
        assertEquals(new EtcdConfig.AutoCompaction(true, 300_000_000_000L),
                parse("--auto-compaction-retention=5m").autoCompaction());
        assertEquals(new EtcdConfig.AutoCompaction(false, 1000),
                parse("--auto-compaction-mode=revision", "--auto-compaction-retention=1000").autoCompaction());
        assertEquals("error parsing CompactionRetention: time: invalid duration \"soon\"",
                assertThrows(EtcdConfig.ConfigException.class, () -> parse("--auto-compaction-retention=soon"))
                        .getMessage());
        // etcd's periodic schedule: samples every min(P,1h)/10, a window of P
        assertEquals(360_000_000_000L, AutoCompactor.retryIntervalNanos(3_600_000_000_000L));
        assertEquals(360_000_000_000L, AutoCompactor.retryIntervalNanos(24 * 3_600_000_000_000L));
        assertEquals(241, AutoCompactor.retentions(24 * 3_600_000_000_000L));
        assertEquals(11, AutoCompactor.retentions(300_000_000_000L));
        assertEquals(30_000_000_000L, AutoCompactor.retryIntervalNanos(300_000_000_000L));
    }

    @Test
    void configFileWithEtcdsYamlKeys(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("etcd.yaml");
        Files.writeString(file, """
                # etcd's sample configuration file keys
                name: 'infra1'
                data-dir: /var/lib/etcd
                snapshot-count: 5000
                heartbeat-interval: 100
                election-timeout: 1000
                quota-backend-bytes: 8589934592
                listen-peer-urls: http://127.0.0.1:2380
                listen-client-urls: http://127.0.0.1:2379
                listen-metrics-urls: http://127.0.0.1:2381
                initial-advertise-peer-urls: http://127.0.0.1:2380
                advertise-client-urls: http://127.0.0.1:2379
                initial-cluster: infra1=http://127.0.0.1:2380
                initial-cluster-token: 'etcd-cluster-1'
                initial-cluster-state: 'new'
                strict-reconfig-check: false
                enable-pprof: true
                client-transport-security:
                  cert-file: /etc/cert.pem
                  key-file: /etc/key.pem
                  client-cert-auth: true
                  trusted-ca-file: /etc/ca.pem
                  auto-tls: false
                peer-transport-security:
                  cert-file: /etc/peer.pem
                  key-file: /etc/peer-key.pem
                  client-cert-auth: true
                  trusted-ca-file: /etc/peer-ca.pem
                log-outputs: [stderr]
                log-level: warn
                cipher-suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]
                auto-compaction-mode: revision
                auto-compaction-retention: "100"
                experimental-watch-progress-notify-interval: 5s
                feature-gates: LeaseCheckpoint=true
                no-such-key: ignored, as etcd ignores it
                """);
        // with a configuration file, flags and variables are ignored, as in etcd
        EtcdConfig c = EtcdConfig.parse(new String[]{"--config-file=" + file, "--snapshot-count=1"},
                Map.of("ETCD_MAX_TXN_OPS", "7"));
        assertEquals("infra1", c.name());
        assertEquals(Path.of("/var/lib/etcd"), c.dataDir());
        assertEquals(5000, c.snapshotCount());
        assertEquals(128, c.maxTxnOps());
        assertEquals(8589934592L, c.quotaBackendBytes());
        assertEquals("etcd-cluster-1", c.initialClusterToken());
        assertFalse(c.strictReconfigCheck());
        assertEquals("/etc/cert.pem", c.clientTls().certFile());
        assertTrue(c.clientTls().clientCertAuth());
        assertEquals("/etc/peer-ca.pem", c.peerTls().trustedCaFile());
        assertTrue(c.peerTls().clientCertAuth());
        assertEquals(List.of("stderr"), c.logOutputs());
        assertEquals("WARN", c.logLevel());
        assertEquals(2, c.cipherSuites().size());
        assertEquals(new EtcdConfig.AutoCompaction(false, 100), c.autoCompaction());
        assertEquals(5000, c.watchProgressNotifyIntervalMs());
        assertTrue(c.leaseCheckpoint());
        assertEquals(1, c.listenMetricsUrls().size());
        assertTrue(c.noEffectNotes().contains(
                "flag --enable-pprof has no effect in Keel: Keel runs on the JVM: use JFR or a Java profiler "
                        + "instead of pprof"), c.noEffectNotes().toString());
        // ETCD_CONFIG_FILE works too
        assertEquals("infra1", EtcdConfig.parse(new String[0], Map.of("ETCD_CONFIG_FILE", file.toString())).name());
        assertEquals("open " + tmp.resolve("missing.yaml") + ": no such file or directory",
                assertThrows(EtcdConfig.ConfigException.class,
                        () -> parse("--config-file=" + tmp.resolve("missing.yaml"))).getMessage());
        Files.writeString(file, "snapshot-count: lots\n");
        assertThrows(RuntimeException.class, () -> parse("--config-file=" + file));
    }

    @Test
    void readmeConfigurationReferenceHasEveryFlag() throws Exception {
        String text = Files.readString(Path.of("../README.md"));
        List<String> missing = new ArrayList<>();
        for (EtcdConfig.Flag f : EtcdConfig.FLAGS) {
            String prefix = "| `--" + f.name() + "` (`" + EtcdConfig.envName(f.name()) + "`) |";
            int at = text.indexOf(prefix);
            String row = at < 0 ? "" : text.substring(at, text.indexOf('\n', at));
            if (at < 0 || (f.noEffect() != null && !row.contains("accepted, no effect: " + f.noEffect()))) {
                missing.add(f.name());
            }
        }
        assertTrue(missing.isEmpty(), "README's configuration reference lacks (or has stale) rows for " + missing
                + "; EtcdConfig.referenceTable() prints them");
    }
}
