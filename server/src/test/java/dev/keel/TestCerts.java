package dev.keel;

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

/** Test certificates made with BouncyCastle: CAs, server certificates (SAN 127.0.0.1, localhost), client ones. */
public final class TestCerts {

    private TestCerts() {
    }

    /** A certificate and its key. */
    public record Issued(X509Certificate cert, KeyPair keys) {
    }

    static KeyPair keys() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(256);
        return g.generateKeyPair();
    }

    public static Issued issue(String cn, Issued issuer, boolean isCa, boolean server) throws Exception {
        KeyPair kp = keys();
        Instant now = Instant.now();
        X500Name subject = new X500Name("CN=" + cn + ",O=keel-test");
        // the issuer's name exactly as encoded in its certificate, or chains do not link
        X500Name issuerName = issuer == null ? subject
                : X500Name.getInstance(issuer.cert().getSubjectX500Principal().getEncoded());
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
    public static Path[] write(Path dir, String name, Issued i) throws Exception {
        Path c = dir.resolve(name + ".pem");
        Path k = dir.resolve(name + "-key.pem");
        Files.writeString(c, pem(i.cert()));
        Files.writeString(k, pem(new JcaPKCS8Generator(i.keys().getPrivate(), null)));
        return new Path[]{c, k};
    }

}
