package dev.keel.e2e;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code etcdctl endpoint status --cluster} and {@code endpoint health --cluster} against one member. With
 * {@code --cluster}, etcdctl 3.4 dials the client URLs from MemberList as they are ({@code http://127.0.0.1:N}),
 * and grpc-go then sends that whole URL, scheme included, as the HTTP/2 {@code :authority}; etcd accepts it, and
 * so must Keel (Vert.x alone resets such a stream with PROTOCOL_ERROR).
 */
class EndpointClusterIT {

    @TempDir
    static Path tmp;

    static ServerProcess server;
    static Etcdctl etcdctl;

    @BeforeAll
    static void start() throws Exception {
        server = ServerProcess.start(tmp.resolve("m1"));
        etcdctl = new Etcdctl(server.endpoint());
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void endpointStatusCluster() throws Exception {
        Etcdctl.Result r = etcdctl.run("endpoint", "status", "--cluster", "-w", "json");
        assertEquals(0, r.exitCode(), () -> r + "\n" + server.logTail());
        String out = r.stdout();
        // one entry, for the member's advertised client URL, with a status from it
        assertTrue(out.startsWith("[{\"Endpoint\":\"" + server.url() + "\",\"Status\":{"), out);
        assertEquals(1, count(out, "\"Endpoint\":"), out);
        Matcher member = Pattern.compile("\"member_id\":(\\d+)").matcher(out);
        Matcher leader = Pattern.compile("\"leader\":(\\d+)").matcher(out);
        assertTrue(member.find() && leader.find(), out);
        assertEquals(member.group(1), leader.group(1), "a single member leads itself: " + out);
        assertTrue(out.contains("\"version\":\""), out);
    }

    @Test
    void endpointStatusClusterTable() throws Exception {
        Etcdctl.Result r = etcdctl.run("endpoint", "status", "--cluster");
        assertEquals(0, r.exitCode(), () -> r + "\n" + server.logTail());
        assertTrue(r.stdout().startsWith(server.url() + ", "), r.toString());
        assertTrue(r.stdout().contains(", true, false, "), "leader, not learner: " + r);
    }

    @Test
    void endpointHealthCluster() throws Exception {
        Etcdctl.Result r = etcdctl.run("endpoint", "health", "--cluster");
        assertEquals(0, r.exitCode(), () -> r + "\n" + server.logTail());
        String all = r.stdout() + r.stderr();
        assertTrue(all.contains(server.url() + " is healthy: successfully committed proposal"), r.toString());
        assertTrue(!all.contains("unhealthy") && !all.contains("PROTOCOL_ERROR"), r.toString());
    }

    private static int count(String s, String part) {
        int n = 0;
        for (int i = s.indexOf(part); i >= 0; i = s.indexOf(part, i + part.length())) {
            n++;
        }
        return n;
    }
}
