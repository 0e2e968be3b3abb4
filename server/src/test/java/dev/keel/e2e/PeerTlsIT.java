package dev.keel.e2e;

import dev.keel.TestCerts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Peer TLS on a three-member cluster with etcd's flags: https:// peer URLs, --peer-cert-file, --peer-key-file,
 * --peer-trusted-ca-file and --peer-client-cert-auth, with certificates of one CA made here. A write on one member
 * is read on the others (linearizably, so through the leader's TLS links). Runs against real etcd with
 * {@code -Dkeel.e2e.impl=etcd}.
 */
class PeerTlsIT {

    @TempDir
    static Path tmp;
    static final List<ServerProcess> members = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        TestCerts.Issued ca = TestCerts.issue("peer-ca", null, true, false);
        Path caFile = TestCerts.write(tmp, "peer-ca", ca)[0];
        Map<String, Path[]> certs = new HashMap<>();
        for (String m : List.of("m1", "m2", "m3")) {
            certs.put(m, TestCerts.write(tmp, "peer-" + m, TestCerts.issue(m, ca, false, true)));
        }
        members.addAll(ServerProcess.startCluster(tmp, 3, m -> List.of(
                "--peer-cert-file=" + certs.get(m)[0], "--peer-key-file=" + certs.get(m)[1],
                "--peer-trusted-ca-file=" + caFile, "--peer-client-cert-auth"), true));
    }

    @AfterAll
    static void stop() throws Exception {
        for (ServerProcess m : members) {
            m.close();
        }
    }

    @Test
    void membersReplicateOverTls() throws Exception {
        assertEquals("OK\n", new Etcdctl(members.get(0).endpoint()).ok("put", "k", "over-tls"));
        for (ServerProcess m : members) {
            assertEquals("k\nover-tls\n", new Etcdctl(m.endpoint()).ok("get", "k"), m.name());
        }
        String list = new Etcdctl(members.get(1).endpoint()).ok("member", "list");
        for (ServerProcess m : members) {
            assertEquals(true, list.contains(m.peerUrl()), "member list shows the https peer URL: " + list);
        }
    }
}
