package dev.keel.auth;

import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.jcajce.provider.asymmetric.util.EC5Util;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.spec.ECPublicKeySpec;
import java.security.spec.RSAPublicKeySpec;

/** Reads PEM keys (PKCS#8, PKCS#1, SEC1 private keys; SubjectPublicKeyInfo public keys or certificates). */
final class Pem {

    private static final JcaPEMKeyConverter CONVERTER = new JcaPEMKeyConverter();

    private Pem() {
    }

    static PrivateKey privateKey(Path file) throws IOException {
        Object o = read(file);
        if (o instanceof PEMKeyPair kp) {
            return CONVERTER.getPrivateKey(kp.getPrivateKeyInfo());
        }
        if (o instanceof PrivateKeyInfo info) {
            return CONVERTER.getPrivateKey(info);
        }
        throw new IOException("no private key in " + file);
    }

    static PublicKey publicKey(Path file) throws IOException {
        Object o = read(file);
        if (o instanceof SubjectPublicKeyInfo info) {
            return CONVERTER.getPublicKey(info);
        }
        if (o instanceof X509CertificateHolder cert) {
            return CONVERTER.getPublicKey(cert.getSubjectPublicKeyInfo());
        }
        if (o instanceof PEMKeyPair kp) {
            return CONVERTER.getPublicKey(kp.getPublicKeyInfo());
        }
        throw new IOException("no public key in " + file);
    }

    /** The public half of an RSA (CRT) or EC private key. */
    static PublicKey derivePublic(PrivateKey key) throws GeneralSecurityException {
        if (key instanceof RSAPrivateCrtKey rsa) {
            return KeyFactory.getInstance("RSA").generatePublic(
                    new RSAPublicKeySpec(rsa.getModulus(), rsa.getPublicExponent()));
        }
        if (key instanceof ECPrivateKey ec) {
            var spec = EC5Util.convertSpec(ec.getParams());
            var q = spec.getG().multiply(ec.getS()).normalize();
            return KeyFactory.getInstance("EC").generatePublic(
                    new ECPublicKeySpec(EC5Util.convertPoint(q), ec.getParams()));
        }
        throw new GeneralSecurityException("cannot derive the public key of a " + key.getAlgorithm() + " key");
    }

    private static Object read(Path file) throws IOException {
        try (Reader r = Files.newBufferedReader(file); PEMParser p = new PEMParser(r)) {
            Object o = p.readObject();
            if (o == null) {
                throw new IOException("no PEM data in " + file);
            }
            return o;
        }
    }
}
