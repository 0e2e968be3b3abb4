package dev.keel.e2e;

import dev.keel.TestCerts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A member started with exactly the flags kubeadm writes into its etcd static-pod manifest
 * (cmd/kubeadm/app/phases/etcd/local.go: getEtcdCommand), addresses on 127.0.0.1 with free ports instead of the
 * node's IP and 2379/2380/2381: client and peer TLS from generated certificates with client certificates required,
 * two client URLs, a plain-HTTP metrics listener, --experimental-initial-corrupt-check=true,
 * --experimental-watch-progress-notify-interval=5s and --snapshot-count=10000. It must serve etcdctl over TLS on both
 * client URLs, and metrics and health on the metrics URL.
 */
class KubeadmIT {

    @TempDir
    static Path tmp;
    static Process process;
    static Path log;
    static Path ca;
    static Path[] client;
    static int clientPort;
    static int secondClientPort;
    static int metricsPort;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @BeforeAll
    static void start() throws Exception {
        TestCerts.Issued caCert = TestCerts.issue("etcd-ca", null, true, false);
        ca = TestCerts.write(tmp, "ca", caCert)[0];
        Path[] server = TestCerts.write(tmp, "server", TestCerts.issue("node1", caCert, false, true));
        Path[] peer = TestCerts.write(tmp, "peer", TestCerts.issue("node1", caCert, false, true));
        client = TestCerts.write(tmp, "healthcheck-client", TestCerts.issue("kube-etcd-healthcheck-client", caCert,
                false, false));
        clientPort = ServerProcess.freePort();
        secondClientPort = ServerProcess.freePort();
        int peerPort = ServerProcess.freePort();
        metricsPort = ServerProcess.freePort();
        String advertiseClient = "https://127.0.0.1:" + clientPort;
        String peerUrl = "https://127.0.0.1:" + peerPort;
        List<String> cmd = new ArrayList<>();
        if (ServerProcess.isReferenceEtcd()) {
            cmd.add(System.getProperty("keel.etcd", "etcd"));
        } else {
            cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                    "-Dkeel.exit-with-parent=" + ProcessHandle.current().pid(), "-jar", ServerProcess.jar()));
        }
        // kubeadm's flags, in kubeadm's (sorted) order
        cmd.addAll(List.of(
                "--advertise-client-urls=" + advertiseClient,
                "--cert-file=" + server[0],
                "--client-cert-auth=true",
                "--data-dir=" + tmp.resolve("var-lib-etcd"),
                "--experimental-initial-corrupt-check=true",
                "--experimental-watch-progress-notify-interval=5s",
                "--initial-advertise-peer-urls=" + peerUrl,
                "--initial-cluster=node1=" + peerUrl,
                "--key-file=" + server[1],
                "--listen-client-urls=https://127.0.0.1:" + clientPort + ",https://127.0.0.1:" + secondClientPort,
                "--listen-metrics-urls=http://127.0.0.1:" + metricsPort,
                "--listen-peer-urls=" + peerUrl,
                "--name=node1",
                "--peer-cert-file=" + peer[0],
                "--peer-client-cert-auth=true",
                "--peer-key-file=" + peer[1],
                "--peer-trusted-ca-file=" + ca,
                "--snapshot-count=10000",
                "--trusted-ca-file=" + ca));
        log = tmp.resolve("etcd.log");
        process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!healthy()) {
            if (!process.isAlive()) {
                throw new IllegalStateException("member exited with " + process.exitValue() + ":\n" + logText());
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("member not healthy within 60 s:\n" + logText());
            }
            Thread.sleep(200);
        }
        // as kubeadm does, wait until etcdctl's health check passes over TLS (bounded; a loaded machine is slow
        // to complete the first TLS handshakes)
        Etcdctl ctl = new Etcdctl("https://127.0.0.1:" + clientPort);
        Etcdctl.Result r;
        do {
            r = ctl.run(tls("endpoint", "health"));
        } while (r.exitCode() != 0 && System.nanoTime() < deadline);
    }

    @AfterAll
    static void stop() throws Exception {
        if (process != null) {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    private static boolean healthy() {
        try {
            HttpResponse<String> r = get("/health");
            return r.statusCode() == 200 && r.body().contains("\"health\":\"true\"");
        } catch (Exception e) {
            return false;
        }
    }

    private static HttpResponse<String> get(String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + path))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String logText() {
        try {
            return Files.readString(log, StandardCharsets.UTF_8);
        } catch (Exception e) {
            return "(no log: " + e + ")";
        }
    }

    private static String[] tls(String... args) {
        List<String> out = new ArrayList<>(List.of("--cacert=" + ca, "--cert=" + client[0], "--key=" + client[1]));
        out.addAll(List.of(args));
        return out.toArray(new String[0]);
    }

    @Test
    void servesEtcdctlOverTlsOnBothClientUrls() throws Exception {
        Etcdctl first = new Etcdctl("https://127.0.0.1:" + clientPort);
        Etcdctl second = new Etcdctl("https://127.0.0.1:" + secondClientPort);
        assertEquals("OK\n", first.ok(tls("put", "/registry/pods/default/p", "v1")));
        assertEquals("/registry/pods/default/p\nv1\n", second.ok(tls("get", "/registry/pods/default/p")));
        Etcdctl.Result health = first.run(tls("endpoint", "health"));
        assertEquals(0, health.exitCode(), health.toString());
        assertTrue((health.stdout() + health.stderr()).contains("is healthy"), health.toString());
        // client certificates are required, as --client-cert-auth=true says
        Etcdctl.Result noCert = first.run("--cacert=" + ca, "--dial-timeout=2s", "--command-timeout=3s", "get", "x");
        assertTrue(noCert.exitCode() != 0, noCert.toString());
    }

    @Test
    void servesMetricsAndHealthOnTheMetricsUrl() throws Exception {
        HttpResponse<String> metrics = get("/metrics");
        assertEquals(200, metrics.statusCode());
        assertTrue(metrics.body().contains("etcd_server_has_leader 1"), metrics.body());
        assertTrue(metrics.body().contains("etcd_mvcc_db_total_size_in_bytes"), "db size gauge");
        HttpResponse<String> health = get("/health");
        assertEquals(200, health.statusCode());
        assertEquals("{\"health\":\"true\",\"reason\":\"\"}", health.body());
        assertEquals("ok\n", get("/livez").body());
        assertEquals("ok\n", get("/readyz").body());
        HttpResponse<String> verbose = get("/readyz?verbose");
        assertTrue(verbose.body().contains("[+]linearizable_read ok"), verbose.body());
    }

    @Test
    void saysWhatTheFlagsWithoutEffectAreAndWarnsAboutDeprecatedOnes() {
        if (ServerProcess.isReferenceEtcd()) {
            return; // etcd's own log says other things
        }
        String text = logText();
        assertTrue(text.contains("flag --experimental-initial-corrupt-check has no effect in Keel:"), text);
        assertTrue(text.contains("--experimental-watch-progress-notify-interval is deprecated in v3.6"), text);
    }
}
