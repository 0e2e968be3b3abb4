package dev.keel.api;

import dev.keel.Main;
import dev.keel.server.EtcdConfig;
import dev.keel.server.StartupChecks;
import io.quarkus.runtime.StartupEvent;
import io.vertx.core.Vertx;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.ext.web.Router;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;

import java.net.InetAddress;
import java.net.URI;
import java.util.concurrent.TimeUnit;

/**
 * --listen-metrics-urls: one more HTTP listener per URL serving what etcd serves there, {@code /metrics},
 * {@code /health}, {@code /livez} and {@code /readyz} (the client port's handlers). An https:// URL uses the client
 * certificate, CA and --client-cert-auth, as etcd does.
 */
@ApplicationScoped
public class MetricsListener {

    @Inject
    Vertx vertx;
    @Inject
    HealthEndpoints health;
    @Inject
    MetricsEndpoint metrics;

    void start(@Observes StartupEvent ev) throws Exception {
        EtcdConfig cfg = Main.server().config();
        for (URI u : cfg.listenMetricsUrls()) {
            Router router = Router.router(vertx);
            health.routes(router);
            metrics.routes(router);
            HttpServerOptions options = options(cfg, u);
            String host = StartupChecks.listenHost(u);
            HttpServer server = vertx.createHttpServer(options).requestHandler(router);
            try {
                server.listen(u.getPort(), host).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException(StartupChecks.listenError(InetAddress.getByName(host), u.getPort(),
                        e.getCause()), e.getCause());
            }
            org.jboss.logging.Logger.getLogger(MetricsListener.class).infof("serving /metrics and health on %s", u);
        }
    }

    /**
     * Server options for an extra listener on URL u: for https, the client certificate and key (given or generated
     * by --auto-tls, as Main put them in Quarkus' TLS settings), --trusted-ca-file, --client-cert-auth and the TLS
     * versions, with ALPN so that gRPC (HTTP/2) works over it.
     */
    static HttpServerOptions options(EtcdConfig cfg, URI u) {
        HttpServerOptions options = new HttpServerOptions().setReuseAddress(true);
        if ("https".equals(u.getScheme())) {
            EtcdConfig.Tls tls = cfg.clientTls();
            options.setSsl(true).setUseAlpn(true).setKeyCertOptions(new PemKeyCertOptions()
                    .setCertPath(System.getProperty("quarkus.tls.key-store.pem.client.cert"))
                    .setKeyPath(System.getProperty("quarkus.tls.key-store.pem.client.key")));
            if (!tls.trustedCaFile().isEmpty()) {
                options.setTrustOptions(new PemTrustOptions().addCertPath(tls.trustedCaFile()));
            }
            if (tls.clientCertAuth()) {
                options.setClientAuth(ClientAuth.REQUIRED);
            }
            options.setEnabledSecureTransportProtocols(new java.util.LinkedHashSet<>(cfg.tlsProtocols()));
            for (String suite : cfg.cipherSuites()) {
                options.addEnabledCipherSuite(suite);
            }
        }
        return options;
    }
}
