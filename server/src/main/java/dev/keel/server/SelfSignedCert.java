package dev.keel.server;

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
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * --auto-tls and --peer-auto-tls: a self-signed ECDSA P-256 certificate for the given hosts, written as
 * {@code cert.pem} and {@code key.pem} into a directory of the data dir (etcd's {@code fixtures/client} and
 * {@code fixtures/peer}). Regenerated at every start, as etcd does.
 */
public final class SelfSignedCert {

    /** Where a generated certificate and its key were written. */
    public record Generated(Path cert, Path key) {
    }

    private SelfSignedCert() {
    }

    public static Generated generate(Path dir, Collection<String> hosts, long validityYears) throws IOException {
        try {
            KeyPairGenerator gen = KeyPairGenerator.getInstance("EC");
            gen.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
            KeyPair kp = gen.generateKeyPair();
            Instant now = Instant.now();
            X500Name subject = new X500Name("O=etcd");
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject,
                    new BigInteger(127, new SecureRandom()), Date.from(now.minus(1, ChronoUnit.MINUTES)),
                    Date.from(now.plus(365 * validityYears, ChronoUnit.DAYS)), subject, kp.getPublic());
            b.addExtension(Extension.keyUsage, true,
                    new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
            b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                    new KeyPurposeId[]{KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            Set<String> all = new LinkedHashSet<>(hosts);
            all.add("localhost");
            all.add("127.0.0.1");
            List<GeneralName> names = new ArrayList<>();
            for (String h : all) {
                if (h == null || h.isEmpty()) {
                    continue;
                }
                boolean ip = h.matches("[0-9.]+") || h.contains(":");
                names.add(new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName,
                        ip ? InetAddress.getByName(h).getHostAddress() : h));
            }
            b.addExtension(Extension.subjectAlternativeName, false,
                    new GeneralNames(names.toArray(new GeneralName[0])));
            X509Certificate cert = new JcaX509CertificateConverter().getCertificate(
                    b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())));
            Files.createDirectories(dir);
            Path certFile = dir.resolve("cert.pem");
            Path keyFile = dir.resolve("key.pem");
            Files.writeString(certFile, pem(cert));
            Files.deleteIfExists(keyFile);
            Files.createFile(keyFile);
            try {
                Files.setPosixFilePermissions(keyFile, PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException e) {
                // not a POSIX file system
            }
            Files.writeString(keyFile, pem(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(kp.getPrivate(), null)));
            return new Generated(certFile, keyFile);
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("cannot generate a self-signed certificate: " + e.getMessage(), e);
        }
    }

    private static String pem(Object o) throws IOException {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter pw = new JcaPEMWriter(w)) {
            pw.writeObject(o);
        }
        return w.toString();
    }
}
