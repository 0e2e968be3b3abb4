package dev.keel.e2e;

import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.RangeRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Date;
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

    /** A certificate and its key. */
    record Issued(X509Certificate cert, KeyPair keys) {
    }

    static KeyPair keys() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(256);
        return g.generateKeyPair();
    }

    static Issued issue(String cn, Issued issuer, boolean isCa, boolean server) throws Exception {
        KeyPair kp = keys();
        Instant now = Instant.now();
        X500Name subject = new X500Name("CN=" + cn + ",O=keel-test");
        X500Name issuerName = issuer == null ? subject
                : new X500Name(issuer.cert().getSubjectX500Principal().getName());
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuerName,
                new BigInteger(64, new SecureRandom()), Date.from(now.minus(1, ChronoUnit.HOURS)),
                Date.from(now.plus(1, ChronoUnit.DAYS)), subject, kp.getPublic());
        if (isCa) {
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        } else {
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(server
                    ? new KeyPurposeId[]{KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}
                    : new KeyPurposeId[]{KeyPurposeId.id_kp_clientAuth}));
            if (server) {
                b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[]{
                        new GeneralName(GeneralName.iPAddress, "127.0.0.1"),
                        new GeneralName(GeneralName.dNSName, "localhost")}));
            }
        }
        PrivateKey signer = issuer == null ? kp.getPrivate() : issuer.keys().getPrivate();
        X509Certificate cert = new JcaX509CertificateConverter()
                .getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
        return new Issued(cert, kp);
    }

    static String pem(Object o) throws Exception {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter pw = new JcaPEMWriter(w)) {
            pw.writeObject(o);
        }
        return w.toString();
    }

    /** Writes cert and key; returns {cert, key}. */
    static Path[] write(String name, Issued i) throws Exception {
        Path c = tmp.resolve(name + ".pem");
        Path k = tmp.resolve(name + "-key.pem");
        Files.writeString(c, pem(i.cert()));
        Files.writeString(k, pem(new JcaPKCS8Generator(i.keys().getPrivate(), null)));
        return new Path[]{c, k};
    }

    @BeforeAll
    static void start() throws Exception {
        Issued caCert = issue("keel-test-ca", null, true, false);
        ca = write("ca", caCert)[0];
        Path[] s = write("server", issue("server", caCert, false, true));
        serverCert = s[0];
        serverKey = s[1];
        root = write("root", issue("root", caCert, false, false));
        reader = write("reader", issue("reader", caCert, false, false));
        Issued otherCa = issue("other-ca", null, true, false);
        stranger = write("stranger", issue("root", otherCa, false, false));
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
