package dev.keel.api;

import dev.keel.server.Credentials;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;

import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;

/**
 * Collects what a gRPC call presents for authentication: the {@code token} metadata (or {@code authorization},
 * as etcd also reads it) and the common name of the client's TLS certificate. The services read them with
 * {@link #current()} and pass them to the server, which decides.
 */
@GlobalInterceptor
@ApplicationScoped
public class CallerInterceptor implements ServerInterceptor {

    private static final Context.Key<Credentials> CREDENTIALS = Context.key("keel-credentials");
    private static final Metadata.Key<String> TOKEN = Metadata.Key.of("token", Metadata.ASCII_STRING_MARSHALLER);
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                      ServerCallHandler<Q, R> next) {
        String token = headers.get(TOKEN);
        if (token == null) {
            token = headers.get(AUTHORIZATION);
        }
        String cn = commonName(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
        Context ctx = Context.current().withValue(CREDENTIALS, new Credentials(token, cn, false));
        return Contexts.interceptCall(ctx, call, headers, next);
    }

    /** The credentials of the call being served (none outside a call). */
    static Credentials current() {
        Credentials c = CREDENTIALS.get();
        return c == null ? Credentials.NONE : c;
    }

    /** The CN of the verified peer certificate of a TLS session, or null. */
    static String commonName(SSLSession session) {
        if (session == null) {
            return null;
        }
        try {
            Certificate[] chain = session.getPeerCertificates();
            if (chain.length == 0 || !(chain[0] instanceof X509Certificate x)) {
                return null;
            }
            for (Rdn rdn : new LdapName(x.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    return String.valueOf(rdn.getValue());
                }
            }
            return null;
        } catch (SSLPeerUnverifiedException | InvalidNameException e) {
            return null;
        }
    }
}
