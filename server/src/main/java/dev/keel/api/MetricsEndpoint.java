package dev.keel.api;

import dev.keel.metrics.Metrics;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/** {@code /metrics}: every metric in Prometheus's text format 0.0.4, written by Micrometer's Prometheus registry,
 * as etcd serves it on the client port
 * (any method, as promhttp's handler does). */
@ApplicationScoped
public class MetricsEndpoint {

    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    void routes(@Observes Router router) {
        router.route("/metrics").handler(this::metrics);
    }

    private void metrics(RoutingContext ctx) {
        // the gauges read storage properties and /proc: off the event loop
        ctx.vertx().<String>executeBlocking(() -> Metrics.REGISTRY.scrape(), false).onComplete(ar -> {
            if (ar.failed()) {
                Http.error(ctx.response(), 500, "An error has occurred while serving metrics:\n\n"
                        + ar.cause().getMessage());
                return;
            }
            if (ctx.response().ended() || ctx.response().closed()) {
                return;
            }
            Http.cors(ctx.response()).setStatusCode(200).putHeader("Content-Type", CONTENT_TYPE)
                    .end(ar.result());
        });
    }
}
