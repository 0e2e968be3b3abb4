package dev.keel.operator;

import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.processing.retry.GenericRetryExecution;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class ReconcilersTest {

    @Test
    void retryNeverGivesUpAndBacksOffToFiveMinutes() {
        GenericRetryExecution r = Reconcilers.retry().initExecution();
        assertEquals(2_000, r.nextDelay().orElseThrow());
        long last = 0;
        for (int i = 0; i < 1000; i++) {
            last = r.nextDelay().orElseThrow(() -> new AssertionError("gave up"));
            assertFalse(r.isLastAttempt());
        }
        assertEquals(300_000, last);
    }

    @Test
    void failuresAreNamedAfterTheApiServersAnswer() {
        KubernetesClientException forbidden = new KubernetesClientException(new StatusBuilder().withCode(403)
                .withMessage("pods is forbidden: cannot set blockOwnerDeletion").build());
        assertEquals("Forbidden", Reconcilers.reason(forbidden));
        assertEquals("403 pods is forbidden: cannot set blockOwnerDeletion",
                Reconcilers.message(new RuntimeException("wrapped", forbidden)));
        assertEquals("Error", Reconcilers.reason(new IllegalStateException("x")));
    }
}
