package dev.keel.operator.k8s;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;

import java.time.Instant;
import java.util.List;

/** metav1.Condition bookkeeping: lastTransitionTime changes only when the status does. */
public final class Conditions {

    private Conditions() {
    }

    public static void set(List<Condition> conditions, String type, boolean status, String reason, String message,
                           Long generation, Instant now) {
        String s = status ? "True" : "False";
        Condition old = conditions.stream().filter(c -> type.equals(c.getType())).findFirst().orElse(null);
        String since = old != null && s.equals(old.getStatus()) ? old.getLastTransitionTime() : now.toString();
        conditions.removeIf(c -> type.equals(c.getType()));
        conditions.add(new ConditionBuilder().withType(type).withStatus(s).withReason(reason)
                .withMessage(message == null ? "" : message).withObservedGeneration(generation)
                .withLastTransitionTime(since).build());
    }

    public static Condition get(List<Condition> conditions, String type) {
        return conditions == null ? null
                : conditions.stream().filter(c -> type.equals(c.getType())).findFirst().orElse(null);
    }
}
