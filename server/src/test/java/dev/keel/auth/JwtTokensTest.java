package dev.keel.auth;

import dev.keel.TestCerts;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** etcd's JWT tokens: signed claims username and revision, verified with the key, refused when tampered with. */
class JwtTokensTest {

    @TempDir
    Path dir;

    Path[] keys(String alg, String name) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance(alg);
        g.initialize(alg.equals("RSA") ? 2048 : 256);
        KeyPair kp = g.generateKeyPair();
        Path priv = dir.resolve(name + ".pem");
        Path pub = dir.resolve(name + ".pub.pem");
        Files.writeString(priv, pem(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(kp.getPrivate(), null)));
        Files.writeString(pub, pem(kp.getPublic()));
        return new Path[]{priv, pub};
    }

    static String pem(Object o) throws Exception {
        StringWriter w = new StringWriter();
        try (JcaPEMWriter pw = new JcaPEMWriter(w)) {
            pw.writeObject(o);
        }
        return w.toString();
    }

    @Test
    void rs256AndEs256RoundTrip() throws Exception {
        for (String[] m : new String[][]{{"RSA", "RS256"}, {"EC", "ES256"}}) {
            Path[] k = keys(m[0], m[1]);
            JwtTokens t = JwtTokens.fromOptions(Map.of("sign-method", m[1], "priv-key", k[0].toString(),
                    "pub-key", k[1].toString()), Duration.ofMinutes(5));
            String token = t.assign("alice", 7, "", 0);
            AuthInfo ai = t.info(token, 9);
            assertNotNull(ai, m[1]);
            assertEquals("alice", ai.username());
            assertEquals(7, ai.revision(), "the revision the token was issued at, not the current one");
            // another key does not verify it; a changed payload does not verify
            Path[] other = keys(m[0], m[1] + "-other");
            JwtTokens stranger = JwtTokens.fromOptions(Map.of("sign-method", m[1], "priv-key", other[0].toString()),
                    Duration.ofMinutes(5));
            assertNull(stranger.info(token, 9), m[1]);
            String[] parts = token.split("\\.");
            String forged = parts[0] + "." + java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(
                    "{\"username\":\"root\",\"revision\":7}".getBytes()) + "." + parts[2];
            assertNull(t.info(forged, 9), "forged claims");
            // verify-only: a public key checks tokens but cannot issue them
            JwtTokens verifier = JwtTokens.fromOptions(Map.of("sign-method", m[1], "pub-key", k[1].toString()),
                    Duration.ofMinutes(5));
            assertEquals("alice", verifier.info(token, 9).username());
            assertThrows(RuntimeException.class, () -> verifier.assign("alice", 1, "", 0));
        }
    }

    @Test
    void expiredTokensAreRefused() throws Exception {
        Path[] k = keys("EC", "exp");
        JwtTokens t = JwtTokens.fromOptions(Map.of("sign-method", "ES256", "priv-key", k[0].toString()),
                Duration.ofSeconds(-10));
        assertNull(t.info(t.assign("alice", 1, "", 0), 1));
    }

    @Test
    void badOptionsAreRefused() {
        assertThrows(JwtTokens.OptionsException.class, () -> JwtTokens.fromOptions(Map.of(), Duration.ofMinutes(5)));
        assertThrows(JwtTokens.OptionsException.class, () -> JwtTokens.fromOptions(
                Map.of("sign-method", "RS256"), Duration.ofMinutes(5)));
        assertThrows(JwtTokens.OptionsException.class, () -> JwtTokens.fromOptions(
                Map.of("sign-method", "RS256", "priv-key", dir.resolve("missing.pem").toString()), Duration.ofMinutes(5)));
        assertNotNull(TestCerts.class);
    }
}
