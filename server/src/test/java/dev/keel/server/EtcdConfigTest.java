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
        var e = assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--no-such-flag=1"}, Map.of()));
        assertTrue(e.getMessage().contains("unknown flag: --no-such-flag"), e.getMessage());
        assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--max-txn-ops=lots"}, Map.of()));
        assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--name=other", "--initial-cluster=x=http://localhost:2380"}, Map.of()),
                "name missing from initial cluster");
        assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--initial-cluster-state=maybe"}, Map.of()));
        assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--listen-client-urls=localhost"}, Map.of()));
        assertThrows(EtcdConfig.ConfigException.class,
                () -> EtcdConfig.parse(new String[]{"--data-dir"}, Map.of()));
    }
}
