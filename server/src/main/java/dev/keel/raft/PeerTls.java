package dev.keel.raft;

import org.apache.ratis.grpc.GrpcTlsConfig;
import org.apache.ratis.thirdparty.io.grpc.netty.GrpcSslContexts;
import org.apache.ratis.thirdparty.io.netty.handler.ssl.SslContext;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * TLS between members (etcd's --peer-* flags): this member's certificate and key (PEM), the CA peers' certificates
 * must chain to, whether peers must present one (--peer-client-cert-auth), and whether the other side's
 * certificate is not verified at all (--peer-auto-tls, whose certificates are self-signed, as etcd does).
 */
public record PeerTls(Path certFile, Path keyFile, Path trustedCaFile, boolean clientCertAuth, boolean skipVerify) {

    /** The key manager presenting this member's certificate. */
    KeyManager keyManager() throws IOException, GeneralSecurityException {
        List<X509Certificate> chain = certificates(certFile);
        PrivateKey key = privateKey(keyFile);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("member", key, new char[0], chain.toArray(new Certificate[0]));
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, new char[0]);
        return kmf.getKeyManagers()[0];
    }

    /** The trust manager checking the other member's certificate. */
    TrustManager trustManager() throws IOException, GeneralSecurityException {
        if (skipVerify) {
            return TRUST_ALL;
        }
        if (trustedCaFile == null) {
            TrustManagerFactory jdk = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            jdk.init((KeyStore) null); // the JDK's CAs, as etcd uses the system's without --peer-trusted-ca-file
            return jdk.getTrustManagers()[0];
        }
        KeyStore ts = KeyStore.getInstance("PKCS12");
        ts.load(null, null);
        int i = 0;
        for (X509Certificate c : certificates(trustedCaFile)) {
            ts.setCertificateEntry("ca" + i++, c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        return tmf.getTrustManagers()[0];
    }

    /** Ratis's TLS settings for its server, its clients and admin calls. */
    GrpcTlsConfig ratisConfig() throws IOException, GeneralSecurityException {
        return new GrpcTlsConfig(keyManager(), trustManager(), clientCertAuth);
    }

    /**
     * A JDK client context with the same certificate (when there is one) and trust, for HTTPS calls between members
     * (the snapshot download from another member's client URL).
     */
    public javax.net.ssl.SSLContext jdkClientContext() throws IOException, GeneralSecurityException {
        javax.net.ssl.SSLContext c = javax.net.ssl.SSLContext.getInstance("TLS");
        c.init(certFile == null ? null : new KeyManager[]{keyManager()}, new TrustManager[]{trustManager()}, null);
        return c;
    }

    /** A client context for the channels that forward requests to the leader. */
    SslContext clientContext() throws IOException, GeneralSecurityException {
        return GrpcSslContexts.forClient().keyManager(keyManager()).trustManager(trustManager()).build();
    }

    private static List<X509Certificate> certificates(Path pem) throws IOException, GeneralSecurityException {
        try (InputStream in = Files.newInputStream(pem)) {
            Collection<? extends Certificate> cs = CertificateFactory.getInstance("X.509").generateCertificates(in);
            List<X509Certificate> out = new ArrayList<>();
            for (Certificate c : cs) {
                out.add((X509Certificate) c);
            }
            if (out.isEmpty()) {
                throw new IOException("no certificate in " + pem);
            }
            return out;
        }
    }

    private static PrivateKey privateKey(Path pem) throws IOException {
        try (Reader r = Files.newBufferedReader(pem); PEMParser p = new PEMParser(r)) {
            Object o = p.readObject();
            JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
            if (o instanceof PEMKeyPair kp) {
                return conv.getPrivateKey(kp.getPrivateKeyInfo());
            }
            if (o instanceof PrivateKeyInfo info) {
                return conv.getPrivateKey(info);
            }
            throw new IOException("no private key in " + pem);
        }
    }

    /** Accepts any certificate: --peer-auto-tls (self-signed certificates, as etcd's InsecureSkipVerify). */
    private static final X509ExtendedTrustManager TRUST_ALL = new X509ExtendedTrustManager() {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    };
}
