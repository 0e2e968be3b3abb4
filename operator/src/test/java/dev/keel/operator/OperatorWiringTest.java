package dev.keel.operator;

import dev.keel.operator.crd.KVCluster;
import dev.keel.operator.crd.KVClusterSpec;
import dev.keel.operator.crd.KVClusterStatus;
import dev.keel.operator.k8s.ScriptedClusterApi;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.Operator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The three reconcilers registered with JOSDK exactly as {@link Main} does, against the mock API server made
 * strict where kube-apiserver is ({@link StrictApiServer}): a KVCluster created without a status gets one, and a
 * reconcile that the API server refuses is reported and retried, never given up.
 */
class OperatorWiringTest {

    StrictApiServer api;
    KubernetesClient client;
    Operator operator;

    @BeforeEach
    void start() throws Exception {
        api = new StrictApiServer();
        client = api.client;
        operator = new Operator(o -> o.withKubernetesClient(client).withCloseClientOnStop(false));
        Main.register(operator, client, new ScriptedClusterApi(), Clock.systemUTC(), "img", "svc", null);
        operator.start();
    }

    @AfterEach
    void stop() {
        operator.stop();
        api.close();
    }

    KVCluster create(String ns, String name) {
        KVCluster c = new KVCluster();
        c.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(ns).build());
        c.setSpec(new KVClusterSpec());
        c.getSpec().version = "3.6.0";
        return client.resource(c).create();
    }

    KVCluster await(String ns, String name, Predicate<KVCluster> done) throws InterruptedException {
        long end = System.nanoTime() + 20_000_000_000L;
        KVCluster now = null;
        while (System.nanoTime() < end) {
            now = client.resources(KVCluster.class).inNamespace(ns).withName(name).get();
            if (done.test(now)) {
                return now;
            }
            Thread.sleep(100);
        }
        fail("not reached; status " + (now == null ? null : now.getStatus()) + "; status patches "
                + api.patchesTo("/status"));
        return null;
    }

    static Optional<Condition> cond(KVCluster c, String type) {
        return c.getStatus() == null || c.getStatus().conditions == null ? Optional.empty()
                : c.getStatus().conditions.stream().filter(x -> x.getType().equals(type)).findFirst();
    }

    /** What the operator did before: a JSON patch against its copy, which had an empty status the server lacks. */
    @Test
    void jsonPatchUnderAMissingStatusIsRejectedAsByKubeApiserver() {
        KVCluster c = create("ns0", "plain");
        assertNull(c.getStatus(), "the server drops the status of a created object (status subresource)");
        c.setStatus(new KVClusterStatus());
        KubernetesClientException e = assertThrows(KubernetesClientException.class,
                () -> client.resource(c).editStatus(x -> {
                    x.getStatus().phase = "Creating";
                    return x;
                }));
        assertEquals(422, e.getCode(), e.getMessage());
        assertTrue(api.patchesTo("/status").get(0).body().contains("\"path\":\"/status/phase\""),
                api.patches.toString());
    }

    @Test
    void statusOfAKVClusterCreatedWithoutOneIsWrittenByServerSideApply() throws Exception {
        assertNull(create("ns1", "wired").getStatus());
        KVCluster c = await("ns1", "wired", x -> x.getStatus() != null && "Creating".equals(x.getStatus().phase)
                && client.pods().inNamespace("ns1").withName("wired-0").get() != null);
        assertEquals("True", cond(c, Reconcilers.RECONCILED).orElseThrow().getStatus());
        List<StrictApiServer.Patch> writes = api.patchesTo("/kvclusters/wired/status");
        assertFalse(writes.isEmpty());
        for (StrictApiServer.Patch p : writes) {
            assertTrue(p.code() < 300, p.toString());
            assertTrue(p.contentType().startsWith("application/apply-patch+yaml"), p.toString());
            assertTrue(p.path().contains("fieldManager=") && p.path().contains("force=true"), p.path());
            // a fully specified intent: identity and status only, never the spec
            assertFalse(p.body().contains("\"spec\""), p.body());
            assertTrue(p.body().contains("\"kind\":\"KVCluster\"") && p.body().contains("\"name\":\"wired\""),
                    p.body());
        }
        // a status that does not change is not written again
        int n = api.patchesTo("/kvclusters/wired/status").size();
        Thread.sleep(300);
        assertTrue(api.patchesTo("/kvclusters/wired/status").size() <= n + 1);
    }

    /**
     * OwnerReferencesPermissionEnforcement without update on kvclusters/finalizers: the first owned object is
     * refused with 403. The operator says so (condition and Warning event) and keeps retrying with back-off.
     */
    @Test
    void aRefusedReconcileIsReportedAndRetried() throws Exception {
        api.server.expect().post().withPath("/api/v1/namespaces/ns2/services")
                .andReturn(403, new StatusBuilder().withStatus("Failure").withCode(403).withReason("Forbidden")
                        .withMessage("services \"denied-peer\" is forbidden: cannot set blockOwnerDeletion if an"
                                + " ownerReference refers to a resource you can't set finalizers on").build())
                .times(2);
        create("ns2", "denied");
        KVCluster c = await("ns2", "denied", x -> cond(x, Reconcilers.RECONCILED)
                .map(k -> k.getStatus().equals("False")).orElse(false));
        Condition k = cond(c, Reconcilers.RECONCILED).orElseThrow();
        assertEquals("Forbidden", k.getReason());
        assertTrue(k.getMessage().contains("blockOwnerDeletion"), k.getMessage());
        assertTrue(client.v1().events().inNamespace("ns2").list().getItems().stream()
                .anyMatch(e -> e.getReason().equals("ReconcileFailed") && e.getType().equals("Warning")
                        && e.getMessage().contains("blockOwnerDeletion")));
        c = await("ns2", "denied", x -> cond(x, Reconcilers.RECONCILED).map(y -> y.getStatus().equals("True"))
                .orElse(false));
        assertEquals("Creating", c.getStatus().phase);
        assertTrue(client.pods().inNamespace("ns2").withName("denied-0").get() != null);
    }
}
