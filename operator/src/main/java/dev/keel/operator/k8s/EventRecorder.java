package dev.keel.operator.k8s;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/** core/v1 Events on the custom resources; the same reason and message is not repeated within 10 minutes. */
public final class EventRecorder {

    private final KubernetesClient client;
    private final Clock clock;
    private final Map<String, Instant> recent = new ConcurrentHashMap<>();

    public EventRecorder(KubernetesClient client, Clock clock) {
        this.client = client;
        this.clock = clock;
    }

    public void record(HasMetadata on, boolean warning, String reason, String message) {
        Instant now = clock.instant();
        String key = on.getMetadata().getUid() + "/" + reason + "/" + message;
        Instant last = recent.get(key);
        if (last != null && Duration.between(last, now).toMinutes() < 10) {
            return;
        }
        recent.put(key, now);
        try {
            client.v1().events().inNamespace(on.getMetadata().getNamespace()).resource(new EventBuilder()
                    .withNewMetadata().withName(on.getMetadata().getName() + "." + UUID.randomUUID().toString()
                            .substring(0, 8)).withNamespace(on.getMetadata().getNamespace()).endMetadata()
                    .withNewInvolvedObject().withApiVersion(on.getApiVersion()).withKind(on.getKind())
                    .withName(on.getMetadata().getName()).withNamespace(on.getMetadata().getNamespace())
                    .withUid(on.getMetadata().getUid()).endInvolvedObject()
                    .withType(warning ? "Warning" : "Normal").withReason(reason)
                    .withMessage(message.length() > 1000 ? message.substring(0, 1000) : message)
                    .withFirstTimestamp(now.toString()).withLastTimestamp(now.toString()).withCount(1)
                    .withNewSource().withComponent(Labels.OPERATOR).endSource().build()).create();
        } catch (RuntimeException e) {
            // events are best effort
        }
    }
}
