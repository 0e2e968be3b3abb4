package dev.keel.api;

import dev.keel.Main;
import dev.keel.server.EtcdConfig;
import dev.keel.server.StartupChecks;
import io.quarkus.runtime.StartupEvent;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Router;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;

import java.net.InetAddress;
import java.net.URI;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The second and further URLs of --listen-client-urls (kubeadm lists two: 127.0.0.1 and the node's address): each
 * gets a listener serving the client port's router, gRPC included, with the same TLS settings. Quarkus binds the
 * first URL itself.
 */
@ApplicationScoped
public class ClientListeners {

    @Inject
    Vertx vertx;
    @Inject
    AuthorityNormalizer authority;

    private volatile Router router;

    void routes(@Observes Router router) {
        this.router = router;
    }

    void start(@Observes StartupEvent ev) throws Exception {
        EtcdConfig cfg = Main.server().config();
        List<URI> urls = cfg.listenClientUrls();
        for (URI u : urls.subList(1, urls.size())) {
            String host = StartupChecks.listenHost(u);
            try {
                vertx.createHttpServer(MetricsListener.options(cfg, u)).requestHandler(router)
                        .listen(u.getPort(), host).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException(StartupChecks.listenError(InetAddress.getByName(host), u.getPort(),
                        e.getCause()), e.getCause());
            }
            org.jboss.logging.Logger.getLogger(ClientListeners.class).infof("serving clients on %s", u);
        }
        if (urls.size() > 1) {
            authority.install();
        }
    }
}
