package dev.keel.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Date;
import java.util.Map;

/**
 * etcd's JWT tokens ({@code --auth-token=jwt,pub-key=<file>,priv-key=<file>,sign-method=<alg>,ttl=<duration>}):
 * signed claims {@code username}, {@code revision} and {@code exp}. Any member with the key checks them without
 * shared state; a token carries the auth revision it was issued at, so any later auth change makes it stale.
 * With only a public key the member verifies but cannot issue tokens. Sign methods: RS256/384/512,
 * PS256/384/512, ES256/384/512 (PEM keys) and HS256/384/512 (priv-key is the shared secret's file).
 */
public final class JwtTokens implements TokenProvider {

    /** Thrown for unusable options; the member does not start (etcd: "auth: invalid auth options"). */
    public static final class OptionsException extends RuntimeException {
        public OptionsException(String message) {
            super(message);
        }
    }

    private final JWSAlgorithm alg;
    private final JWSSigner signer; // null: verify only
    private final JWSVerifier verifier;
    private final Duration ttl;

    private JwtTokens(JWSAlgorithm alg, JWSSigner signer, JWSVerifier verifier, Duration ttl) {
        this.alg = alg;
        this.signer = signer;
        this.verifier = verifier;
        this.ttl = ttl;
    }

    /** Builds the provider from etcd's options (the part of --auth-token after "jwt,"), ttl already parsed. */
    public static JwtTokens fromOptions(Map<String, String> opts, Duration ttl) {
        String method = opts.get("sign-method");
        if (method == null || method.isEmpty()) {
            throw new OptionsException("auth: invalid auth options: sign-method is required");
        }
        JWSAlgorithm alg = JWSAlgorithm.parse(method);
        String pub = opts.get("pub-key");
        String priv = opts.get("priv-key");
        try {
            if (JWSAlgorithm.Family.HMAC_SHA.contains(alg)) {
                if (priv == null) {
                    throw new OptionsException("auth: missing key data");
                }
                byte[] secret = Files.readAllBytes(Path.of(priv));
                return new JwtTokens(alg, new MACSigner(secret), new MACVerifier(secret), ttl);
            }
            if (priv == null && pub == null) {
                throw new OptionsException("auth: missing key data");
            }
            java.security.PrivateKey privateKey = priv == null ? null : Pem.privateKey(Path.of(priv));
            java.security.PublicKey publicKey = pub != null ? Pem.publicKey(Path.of(pub)) : Pem.derivePublic(privateKey);
            if (JWSAlgorithm.Family.RSA.contains(alg)) {
                if (!(publicKey instanceof java.security.interfaces.RSAPublicKey rsaPub)) {
                    throw new OptionsException("auth: invalid auth options: not an RSA key for " + method);
                }
                RSAKey.Builder b = new RSAKey.Builder(rsaPub);
                if (privateKey != null) {
                    b.privateKey(privateKey);
                }
                RSAKey rsa = b.build();
                return new JwtTokens(alg, rsa.isPrivate() ? new RSASSASigner(rsa) : null, new RSASSAVerifier(rsa), ttl);
            }
            if (JWSAlgorithm.Family.EC.contains(alg)) {
                if (!(publicKey instanceof java.security.interfaces.ECPublicKey ecPub)) {
                    throw new OptionsException("auth: invalid auth options: not an EC key for " + method);
                }
                ECKey.Builder b = new ECKey.Builder(com.nimbusds.jose.jwk.Curve.forECParameterSpec(ecPub.getParams()),
                        ecPub);
                if (privateKey != null) {
                    b.privateKey(privateKey);
                }
                ECKey ec = b.build();
                return new JwtTokens(alg, ec.isPrivate() ? new ECDSASigner(ec) : null, new ECDSAVerifier(ec), ttl);
            }
            throw new OptionsException("auth: invalid auth signature method");
        } catch (IOException | java.security.GeneralSecurityException | RuntimeException e) {
            if (e instanceof OptionsException o) {
                throw o;
            }
            throw new OptionsException("auth: cannot read key: " + e.getMessage());
        } catch (JOSEException e) {
            throw new OptionsException("auth: invalid auth options: " + e.getMessage());
        }
    }

    @Override
    public AuthInfo info(String token, long currentRevision) {
        try {
            SignedJWT jwt = SignedJWT.parse(token);
            if (!alg.equals(jwt.getHeader().getAlgorithm()) || !jwt.verify(verifier)) {
                return null;
            }
            JWTClaimsSet claims = jwt.getJWTClaimsSet();
            Date exp = claims.getExpirationTime();
            if (exp != null && exp.getTime() < System.currentTimeMillis()) {
                return null;
            }
            Object user = claims.getClaim("username");
            Object rev = claims.getClaim("revision");
            if (!(user instanceof String u) || !(rev instanceof Number r)) {
                return null;
            }
            return new AuthInfo(u, r.longValue());
        } catch (java.text.ParseException | JOSEException | RuntimeException e) {
            return null;
        }
    }

    @Override
    public String assign(String username, long revision, String prefix, long index) {
        if (signer == null) {
            throw new dev.keel.errors.EtcdException(dev.keel.errors.EtcdError.Codes.UNKNOWN,
                    "auth: token signing attempted with verify-only key");
        }
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .claim("username", username)
                .claim("revision", revision)
                .expirationTime(new Date((System.currentTimeMillis() / 1000 + ttl.toSeconds()) * 1000))
                .build();
        SignedJWT jwt = new SignedJWT(new JWSHeader(alg), claims);
        try {
            jwt.sign(signer);
        } catch (JOSEException e) {
            throw new dev.keel.errors.EtcdException(dev.keel.errors.EtcdError.Codes.UNKNOWN, e.getMessage());
        }
        return jwt.serialize();
    }
}
