package dev.keel.raft;

import dev.keel.TestCerts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Member-to-member TLS (etcd's --peer-* flags) on real Ratis over 127.0.0.1: three members with certificates of one
 * CA and mutual authentication elect a leader, replicate and forward; members whose certificates no peer trusts
 * never elect one.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PeerTlsTest {

    @TempDir
    Path tmp;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() {
        Collections.reverse(toClose);
        for (AutoCloseable c : toClose) {
            try {
                c.close();
            } catch (Exception ignored) {
                // best effort
            }
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private Map<String, RatisRaftNode> cluster(boolean sameCa) throws Exception {
        Map<String, String> peers = new LinkedHashMap<>();
        for (String id : List.of("t1", "t2", "t3")) {
            peers.put(id, "127.0.0.1:" + freePort());
        }
        TestCerts.Issued ca = TestCerts.issue("peer-ca", null, true, false);
        Path caFile = TestCerts.write(tmp, "ca", ca)[0];
        Map<String, RatisRaftNode> nodes = new LinkedHashMap<>();
        for (String id : peers.keySet()) {
            // with sameCa false every member has a CA of its own, which the others do not trust
            TestCerts.Issued myCa = sameCa ? ca : TestCerts.issue("ca-" + id, null, true, false);
            Path[] cert = TestCerts.write(tmp, id, TestCerts.issue(id, myCa, false, true));
            Path trusted = sameCa ? caFile : TestCerts.write(tmp, "ca-" + id, myCa)[0];
            RatisRaftNode n = new RatisRaftNode(new RaftConfig(id, "cafef00d", peers, tmp.resolve("raft-" + id),
                    Duration.ofSeconds(5), 1000), FileKvApplier.open(tmp.resolve(id + ".state"), true));
            n.setPeerTls(new PeerTls(cert[0], cert[1], trusted, true, false));
            toClose.add(n);
            nodes.put(id, n);
        }
        for (RatisRaftNode n : nodes.values()) {
            n.start();
        }
        return nodes;
    }

    private static RatisRaftNode leader(Map<String, RatisRaftNode> nodes, Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            for (RatisRaftNode n : nodes.values()) {
                if (n.status().isLeader()) {
                    return n;
                }
            }
            Thread.sleep(50);
        }
        return null;
    }

    @Test
    void membersWithCertificatesOfOneCaReplicateAndForward() throws Exception {
        Map<String, RatisRaftNode> nodes = cluster(true);
        RatisRaftNode leader = leader(nodes, Duration.ofSeconds(20));
        assertTrue(leader != null, "a leader is elected over TLS");
        String r1 = new String(leader.propose("put x 1".getBytes(StandardCharsets.UTF_8)).get(10, TimeUnit.SECONDS),
                StandardCharsets.UTF_8);
        assertTrue(r1.startsWith("OK "), r1);
        RatisRaftNode follower = nodes.values().stream().filter(n -> n != leader).findFirst().orElseThrow();
        // a follower forwards to the leader over the TLS channel
        String r2 = new String(follower.propose("put y 2".getBytes(StandardCharsets.UTF_8)).get(10, TimeUnit.SECONDS),
                StandardCharsets.UTF_8);
        assertTrue(r2.startsWith("OK "), r2);
        long idx = Long.parseLong(r2.split(" ")[1]);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (nodes.values().stream().anyMatch(n -> n.status().appliedIndex() < idx) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        for (RatisRaftNode n : nodes.values()) {
            assertTrue(n.status().appliedIndex() >= idx, "every member applied the forwarded entry");
        }
    }

    @Test
    void membersThatDoNotTrustEachOtherNeverElect() throws Exception {
        Map<String, RatisRaftNode> nodes = cluster(false);
        assertEquals(null, leader(nodes, Duration.ofSeconds(6)), "no leader without trusted peers");
    }
}
