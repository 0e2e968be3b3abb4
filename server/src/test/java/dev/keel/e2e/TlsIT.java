package dev.keel.e2e;

import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.RangeRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import dev.keel.TestCerts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Client TLS with etcd's flags: a CA, a server certificate and client certificates made here with BouncyCastle;
 * etcdctl with --cacert/--cert/--key; with --client-cert-auth and auth enabled the certificate's CN is the user;
 * a client certificate from another CA and a plain-text client are refused promptly; --auto-tls starts with a
 * generated certificate. Runs against real etcd with {@code -Dkeel.e2e.impl=etcd}.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TlsIT {

    @TempDir
    static Path tmp;
    static ServerProcess server;
    static Path ca;
    static Path serverCert;
    static Path serverKey;
    static Path[] root;
    static Path[] reader;
    static Path[] stranger;

    @BeforeAll
    static void start() throws Exception {
        TestCerts.Issued caCert = TestCerts.issue("keel-test-ca", null, true, false);
        ca = TestCerts.write(tmp, "ca", caCert)[0];
        Path[] s = TestCerts.write(tmp, "server", TestCerts.issue("server", caCert, false, true));
        serverCert = s[0];
        serverKey = s[1];
        root = TestCerts.write(tmp, "root", TestCerts.issue("root", caCert, false, false));
        reader = TestCerts.write(tmp, "reader", TestCerts.issue("reader", caCert, false, false));
        TestCerts.Issued otherCa = TestCerts.issue("other-ca", null, true, false);
        stranger = TestCerts.write(tmp, "stranger", TestCerts.issue("root", otherCa, false, false));
        server = ServerProcess.startHttps(tmp.resolve("tls"), "--cert-file=" + serverCert, "--key-file=" + serverKey,
                "--trusted-ca-file=" + ca, "--client-cert-auth",
                ServerProcess.isReferenceEtcd() ? "" : "--bcrypt-cost=4");
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    static Etcdctl ctl() {
        return new Etcdctl("https://" + server.endpoint());
    }

    static String[] with(Path[] cert, String... args) {
        String[] out = new String[args.length + 3];
        out[0] = "--cacert=" + ca;
        out[1] = "--cert=" + cert[0];
        out[2] = "--key=" + cert[1];
        System.arraycopy(args, 0, out, 3, args.length);
        return out;
    }

    @Test
    @Order(1)
    void etcdctlWithCaCertAndKey() throws Exception {
        assertEquals("OK\n", ctl().ok(with(root, "put", "a/x", "1")));
        assertEquals("a/x\n1\n", ctl().ok(with(reader, "get", "a/x")));
    }

    @Test
    @Order(2)
    void aClientCertificateFromAnotherCaIsRefused() throws Exception {
        long t0 = System.nanoTime();
        Etcdctl.Result r = ctl().run(with(stranger, "--dial-timeout=2s", "--command-timeout=3s", "get", "a/x"));
        assertNotEquals(0, r.exitCode(), r.toString());
        assertTrue(r.stderr().contains("Error:"), r.toString());
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(15), "refused promptly");
        // and no certificate at all
        Etcdctl.Result none = ctl().run("--cacert=" + ca, "--command-timeout=3s", "get", "a/x");
        assertNotEquals(0, none.exitCode(), none.toString());
    }

    @Test
    @Order(3)
    void aPlainTextClientFailsFast() {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort()).usePlaintext().build();
        long t0 = System.nanoTime();
        try {
            KVGrpc.newBlockingStub(ch).withDeadlineAfter(20, TimeUnit.SECONDS)
                    .range(RangeRequest.newBuilder().setKey(com.google.protobuf.ByteString.copyFromUtf8("a")).build());
            throw new AssertionError("a plain-text call to a TLS port succeeded");
        } catch (StatusRuntimeException e) {
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
        } finally {
            ch.shutdownNow();
        }
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(ms < 5000, "the connection is closed, not left hanging: " + ms + " ms");
    }

    @Test
    @Order(4)
    void theCertificatesCommonNameIsTheUser() throws Exception {
        // users named like the certificates' CNs; passwords are never used
        assertEquals("User root created\n", ctl().ok(with(root, "user", "add", "root:unused")));
        assertEquals("User reader created\n", ctl().ok(with(root, "user", "add", "reader:unused")));
        assertEquals("Role root is granted to user root\n", ctl().ok(with(root, "user", "grant-role", "root", "root")));
        ctl().ok(with(root, "role", "add", "r"));
        ctl().ok(with(root, "role", "grant-permission", "r", "read", "a/", "--prefix=true"));
        ctl().ok(with(root, "user", "grant-role", "reader", "r"));
        assertEquals("Authentication Enabled\n", ctl().ok(with(root, "auth", "enable")));

        assertEquals("OK\n", ctl().ok(with(root, "put", "a/x", "2")), "CN=root has the root role");
        assertEquals("a/x\n2\n", ctl().ok(with(reader, "get", "a/x")), "CN=reader may read a/");
        Etcdctl.Result denied = ctl().run(with(reader, "put", "a/x", "3"));
        assertTrue(denied.stderr().contains("Error: etcdserver: permission denied"), denied.toString());
        Etcdctl.Result other = ctl().run(with(reader, "get", "b/x"));
        assertTrue(other.stderr().contains("Error: etcdserver: permission denied"), other.toString());
        assertEquals("Authentication Disabled\n", ctl().ok(with(root, "auth", "disable")));
    }

    @Test
    @Order(5)
    void autoTlsQuickStart() throws Exception {
        try (ServerProcess auto = ServerProcess.startHttps(tmp.resolve("auto"), "--auto-tls")) {
            Etcdctl c = new Etcdctl("https://" + auto.endpoint());
            // etcdctl 3.4 needs --insecure-transport=false for --insecure-skip-tls-verify to take effect
            assertEquals("OK\n", c.ok("--insecure-skip-tls-verify", "--insecure-transport=false", "put", "k", "v"));
            assertEquals("k\nv\n", c.ok("--insecure-skip-tls-verify", "--insecure-transport=false", "get", "k"));
            Etcdctl.Result verified = c.run("--command-timeout=3s", "--insecure-transport=false", "get", "k");
            assertNotEquals(0, verified.exitCode(), "a self-signed certificate is not trusted: " + verified);
        }
    }
}
