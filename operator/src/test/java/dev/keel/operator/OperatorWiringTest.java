package dev.keel.operator;

import dev.keel.operator.backup.BackupController;
import dev.keel.operator.backup.ScheduleController;
import dev.keel.operator.crd.KVCluster;
import dev.keel.operator.crd.KVClusterSpec;
import dev.keel.operator.k8s.ClusterController;
import dev.keel.operator.k8s.DnsAddressing;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.javaoperatorsdk.operator.Operator;
import org.junit.jupiter.api.Test;

import java.time.Clock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The three reconcilers registered with JOSDK as {@link Main} does (status patched without server-side apply),
 * running against the mock API server: a KVCluster applied gets its seed Pod and a status written back.
 */
@EnableKubernetesMockClient(crud = true)
class OperatorWiringTest {

    KubernetesClient client;

    @Test
    void kvClusterIsReconciledAndItsStatusPatched() throws Exception {
        var api = new dev.keel.operator.k8s.ScriptedClusterApi();
        Clock clock = Clock.systemUTC();
        Operator operator = new Operator(o -> o.withKubernetesClient(client).withUseSSAToPatchPrimaryResource(false)
                .withCloseClientOnStop(false));
        operator.register(new Reconcilers.Cluster(new ClusterController(client, api, clock, "svc")));
        operator.register(new Reconcilers.Backup(new BackupController(client, clock, "img", "svc")));
        operator.register(new Reconcilers.Schedule(new ScheduleController(client, clock)));
        operator.start();
        try {
            KVCluster c = new KVCluster();
            c.setMetadata(new ObjectMetaBuilder().withName("wired").withNamespace("ns1").build());
            c.setSpec(new KVClusterSpec());
            c.getSpec().version = "3.6.0";
            client.resource(c).create();
            long end = System.nanoTime() + 20_000_000_000L;
            while (System.nanoTime() < end) {
                KVCluster now = client.resources(KVCluster.class).inNamespace("ns1").withName("wired").get();
                if (now.getStatus() != null && "Creating".equals(now.getStatus().phase)
                        && client.pods().inNamespace("ns1").withName("wired-0").get() != null) {
                    assertEquals(new DnsAddressing("wired", "ns1").peerUrl("wired-0"),
                            "http://wired-0.wired-peer.ns1.svc:2380");
                    return;
                }
                Thread.sleep(200);
            }
            fail("not reconciled: " + client.resources(KVCluster.class).inNamespace("ns1").withName("wired").get()
                    .getStatus());
        } finally {
            operator.stop();
        }
    }
}
