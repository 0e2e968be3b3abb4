package dev.keel.server;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class EtcdConfigTest {

    @Test
    void defaultsAreEtcds() {
        EtcdConfig c = EtcdConfig.parse(new String[0], Map.of());
        assertEquals("default", c.name());
        assertEquals(Path.of("default.etcd"), c.dataDir());
        assertEquals("http://localhost:2379", c.listenClientUrl().toString());
        assertEquals(1572864, c.maxRequestBytes());
        assertEquals(128, c.maxTxnOps());
        assertEquals(2L << 30, c.quotaBackendBytes());
        assertEquals("new", c.initialClusterState());
        assertEquals("etcd-cluster", c.initialClusterToken());
        assertEquals(1, c.initialCluster().size());
    }

    @Test
    void flagsInBothFormsAndEnvironment() {
        EtcdConfig c = EtcdConfig.parse(new String[]{"--name=n1", "--data-dir", "/tmp/x", "-max-txn-ops=7",
                        "--initial-cluster", "n1=http://127.0.0.1:2480"},
                Map.of("ETCD_MAX_TXN_OPS", "9", "ETCD_MAX_REQUEST_BYTES", "1000"));
        assertEquals("n1", c.name());
        assertEquals(Path.of("/tmp/x"), c.dataDir());
        assertEquals(7, c.maxTxnOps(), "flag wins over environment");
        assertEquals(1000, c.maxRequestBytes());
    }

    @Test
    void dataDirDefaultFollowsName() {
        EtcdConfig c = EtcdConfig.parse(new String[]{"--name", "infra1", "--initial-cluster",
                "infra1=http://localhost:2380"}, Map.of());
        assertEquals(Path.of("infra1.etcd"), c.dataDir());
    }

    @Test
    void badInputIsExplained() {
        var e = assertThrows(EtcdConfig.FlagSyntaxException.class,
                () -> EtcdConfig.parse(new String[]{"--no-such-flag=1"}, Map.of()));
        assertEquals("flag provided but not defined: -no-such-flag", e.getMessage());
        var lots = assertThrows(EtcdConfig.FlagSyntaxException.class,
                () -> EtcdConfig.parse(new String[]{"--max-txn-ops=lots"}, Map.of()));
        assertEquals("invalid value \"lots\" for flag -max-txn-ops: parse error", lots.getMessage());
        assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--name=other", "--initial-cluster=x=http://localhost:2380"}, Map.of()),
                "name missing from initial cluster");
        assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--initial-cluster-state=maybe"}, Map.of()));
        assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--listen-client-urls=localhost"}, Map.of()));
        assertEquals("flag needs an argument: -data-dir", assertThrows(EtcdConfig.FlagSyntaxException.class,
                () -> EtcdConfig.parse(new String[]{"--data-dir"}, Map.of())).getMessage());
    }

    @Test
    void leaseCheckpointFeatureGateAndItsDeprecatedFlags() {
        assertFalse(EtcdConfig.parse(new String[0], Map.of()).leaseCheckpoint(), "off by default, as in etcd 3.6");
        assertTrue(EtcdConfig.parse(new String[]{"--feature-gates=LeaseCheckpoint=true"}, Map.of()).leaseCheckpoint());
        assertTrue(EtcdConfig.parse(new String[]{"--experimental-enable-lease-checkpoint"}, Map.of()).leaseCheckpoint());
        assertTrue(EtcdConfig.parse(new String[0], Map.of("ETCD_FEATURE_GATES", "LeaseCheckpoint=true,"
                + "LeaseCheckpointPersist=true")).leaseCheckpoint());
        assertFalse(EtcdConfig.parse(new String[]{"--experimental-enable-lease-checkpoint=false"}, Map.of())
                .leaseCheckpoint());
        assertEquals(true, EtcdConfig.parse(new String[0], Map.of()).featureGates().get("TxnModeWriteWithSharedBuffer"));

        var both = assertThrows(EtcdConfig.ConfigException.class, () -> EtcdConfig.parse(new String[]{
                "--experimental-enable-lease-checkpoint=true", "--feature-gates=LeaseCheckpoint=false"}, Map.of()));
        assertEquals("cannot specify both flags: --experimental-enable-lease-checkpoint=true and "
                + "--feature-gates=LeaseCheckpoint=false at the same time, please just use "
                + "--feature-gates=LeaseCheckpoint=false", both.getMessage());
        var unknown = assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--feature-gates=NoSuchGate=true"}, Map.of()));
        assertTrue(unknown.getMessage().endsWith("unrecognized feature gate: NoSuchGate"), unknown.getMessage());
        var noValue = assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--feature-gates=LeaseCheckpoint"}, Map.of()));
        assertTrue(noValue.getMessage().endsWith("missing bool value for LeaseCheckpoint"), noValue.getMessage());
        var persist = assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--feature-gates=LeaseCheckpointPersist=true"}, Map.of()));
        assertEquals("enabling feature gate LeaseCheckpointPersist requires enabling feature gate LeaseCheckpoint",
                persist.getMessage());
    }

    @Test
    void leaseTimingsFollowEtcdsFormulas() {
        // minimum TTL = ceil((3 * electionTicks / 2) * heartbeat), election ticks = election timeout / heartbeat
        var dflt = Leases.lessorConfig(EtcdConfig.parse(new String[0], Map.of()));
        assertEquals(2, dflt.minTtlSeconds(), "10 ticks: 1.5 s rounds up to 2 s");
        assertEquals(7_000_000_000L, dflt.expiredRetryNanos(), "etcd's request timeout: 5 s + 2 election timeouts");
        assertEquals(300_000_000_000L, dflt.checkpointInterval());
        assertEquals(1000, Leases.electionTimeoutMs(EtcdConfig.parse(new String[0], Map.of())));
        var fast = EtcdConfig.parse(new String[]{"--heartbeat-interval=100", "--election-timeout=500"}, Map.of());
        assertEquals(1, Leases.lessorConfig(fast).minTtlSeconds(), "5 ticks: 7 ticks of 100 ms round up to 1 s");
        var slow = EtcdConfig.parse(new String[]{"--heartbeat-interval=300", "--election-timeout=3100"}, Map.of());
        assertEquals(5, Leases.lessorConfig(slow).minTtlSeconds(), "10 ticks of 300 ms: 15 * 0.3 = 4.5 s -> 5 s");
        assertEquals(3000, Leases.electionTimeoutMs(slow), "whole ticks only");
    }

    @Test
    void authAndTlsFlags() {
        EtcdConfig d = EtcdConfig.parse(new String[0], Map.of());
        assertEquals("simple", d.authTokenType());
        assertEquals(300, d.authTokenTtlSeconds());
        assertEquals(10, d.bcryptCost());
        assertFalse(d.clientTlsOn());
        assertFalse(d.clientTls().enabled());
        assertEquals(java.util.List.of("TLSv1.2", "TLSv1.3"), d.tlsProtocols());
        assertEquals(10, EtcdConfig.parse(new String[]{"--bcrypt-cost=99"}, Map.of()).bcryptCost(),
                "out of range: etcd's default");

        EtcdConfig jwt = EtcdConfig.parse(new String[]{
                "--auth-token=jwt,pub-key=/k.pub,priv-key=/k,sign-method=RS256,ttl=10m"}, Map.of());
        assertEquals("jwt", jwt.authTokenType());
        assertEquals("RS256", jwt.authTokenOptions().get("sign-method"));
        assertEquals(java.time.Duration.ofMinutes(10), jwt.jwtTtl());
        assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--auth-token=jwt,sign-method"}, Map.of()));
        assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--auth-token=jwt,ttl=1m,ttl=2m"}, Map.of()));
        assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--auth-token=magic"}, Map.of()));

        EtcdConfig tls = EtcdConfig.parse(new String[]{"--listen-client-urls=https://127.0.0.1:2379",
                "--cert-file=/c.pem", "--key-file=/k.pem", "--trusted-ca-file=/ca.pem", "--client-cert-auth",
                "--tls-min-version=TLS1.3"}, Map.of());
        assertTrue(tls.clientTlsOn());
        assertTrue(tls.clientTls().clientCertAuth());
        assertEquals("/ca.pem", tls.clientTls().trustedCaFile());
        assertEquals(java.util.List.of("TLSv1.3"), tls.tlsProtocols());
        assertTrue(EtcdConfig.parse(new String[]{"--listen-client-urls=https://127.0.0.1:2379", "--auto-tls"},
                Map.of()).clientTls().autoTls());

        var noCert = assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--listen-client-urls=https://127.0.0.1:2379"}, Map.of()));
        assertTrue(noCert.getMessage().contains("--cert-file"), noCert.getMessage());
        assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--cert-file=/c.pem"}, Map.of()), "a certificate needs its key");
        assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--tls-min-version=TLS1.1"}, Map.of()));
        assertThrows(EtcdConfig.ConfigException.class, () -> EtcdConfig.parse(new String[]{
                "--tls-min-version=TLS1.3", "--cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, Map.of()));
        assertThrows(EtcdConfig.ConfigException.class, () -> EtcdConfig.parse(new String[]{
                "--tls-min-version=TLS1.3", "--tls-max-version=TLS1.2"}, Map.of()));

        EtcdConfig peer = EtcdConfig.parse(new String[]{"--peer-cert-file=/p.pem", "--peer-key-file=/pk.pem",
                "--peer-client-cert-auth"}, Map.of("ETCD_PEER_TRUSTED_CA_FILE", "/pca.pem"));
        assertTrue(peer.peerTls().enabled());
        assertEquals("/pca.pem", peer.peerTls().trustedCaFile());
        assertTrue(peer.peerTls().clientCertAuth());
        assertTrue(EtcdConfig.parse(new String[]{"--peer-auto-tls"}, Map.of()).peerTls().autoTls());
    }
}
