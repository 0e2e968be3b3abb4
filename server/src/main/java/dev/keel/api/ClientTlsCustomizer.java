package dev.keel.api;

import io.quarkus.vertx.http.HttpServerOptionsCustomizer;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServerOptions;
import jakarta.enterprise.context.ApplicationScoped;

/**
 * --client-cert-auth: the TLS handshake on the client port requires a certificate signed by --trusted-ca-file
 * (Quarkus fixes its own client-auth setting at build time, so the flag is applied to the server options here;
 * {@code Main} sets {@value #PROPERTY}).
 */
@ApplicationScoped
public class ClientTlsCustomizer implements HttpServerOptionsCustomizer {

    public static final String PROPERTY = "keel.client-cert-auth";

    @Override
    public void customizeHttpsServer(HttpServerOptions options) {
        if (Boolean.getBoolean(PROPERTY)) {
            options.setClientAuth(ClientAuth.REQUIRED);
        }
    }
}
