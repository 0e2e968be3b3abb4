package dev.keel.api;

import dev.keel.metrics.Metrics;
import io.prometheus.client.CollectorRegistry;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/**
 * Hands Quarkus the Prometheus collector registry of {@link Metrics#REGISTRY} (replacing the extension's default
 * one), so the meters of Quarkus's JVM and system binders and Keel's own meters, registered before Quarkus
 * started, are exposed together by {@code /metrics}.
 */
@Singleton
public class MicrometerSetup {

    @Produces
    @Singleton
    CollectorRegistry collectorRegistry() {
        return Metrics.REGISTRY.collectorRegistry();
    }
}
