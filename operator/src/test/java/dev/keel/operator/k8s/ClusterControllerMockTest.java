package dev.keel.operator.k8s;

import dev.keel.operator.crd.KVBackup;
import dev.keel.operator.crd.KVCluster;
import dev.keel.operator.crd.KVClusterSpec;
import dev.keel.operator.crd.KVClusterStatus;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The KVCluster reconciler on Fabric8's mock API server (CRUD mode): what it creates, and the status. */
@EnableKubernetesMockClient(crud = true)
class ClusterControllerMockTest {

    static final String NS = "test";
    KubernetesClient client;
    ScriptedClusterApi api;
    ClusterController controller;

    @BeforeEach
    void setUp() {
        api = new ScriptedClusterApi();
        controller = new ClusterController(client, api, Clock.fixed(Instant.parse("2026-01-01T00:00:00Z"),
                ZoneOffset.UTC), "svc");
    }

    KVCluster cluster(String name, int replicas) {
        KVCluster c = new KVCluster();
        c.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
        KVClusterSpec s = new KVClusterSpec();
        s.replicas = replicas;
        s.version = "3.6.0";
        c.setSpec(s);
        return client.resource(c).create();
    }

    /** Persists the status the way the JOSDK reconciler does, and reads the object back. */
    KVCluster reconcile(KVCluster c) {
        ClusterController.Outcome o = controller.reconcile(c);
        c.setStatus(o.status());
        return client.resource(c).updateStatus();
    }

    static void assertOwnedBy(KVCluster c, io.fabric8.kubernetes.api.model.HasMetadata obj) {
        List<OwnerReference> refs = obj.getMetadata().getOwnerReferences();
        assertEquals(1, refs.size(), obj.getMetadata().getName());
        assertEquals("KVCluster", refs.get(0).getKind());
        assertEquals(c.getMetadata().getName(), refs.get(0).getName());
        assertEquals(c.getMetadata().getUid(), refs.get(0).getUid());
        assertTrue(refs.get(0).getController());
    }

    @Test
    void newClusterGetsServicesPdbAndASeedPodWithItsPvc() {
        KVCluster c = cluster("demo", 3);
        c = reconcile(c);

        Service peer = client.services().inNamespace(NS).withName("demo-peer").get();
        assertEquals("None", peer.getSpec().getClusterIP());
        assertTrue(peer.getSpec().getPublishNotReadyAddresses());
        assertEquals(List.of(2379, 2380), peer.getSpec().getPorts().stream().map(p -> p.getPort()).toList());
        Service clientSvc = client.services().inNamespace(NS).withName("demo-client").get();
        assertEquals("member", clientSvc.getSpec().getSelector().get(Labels.COMPONENT));
        assertEquals("demo", clientSvc.getSpec().getSelector().get(Labels.INSTANCE));
        assertOwnedBy(c, peer);
        assertOwnedBy(c, clientSvc);

        PodDisruptionBudget pdb = client.policy().v1().podDisruptionBudget().inNamespace(NS).withName("demo").get();
        assertEquals(0, pdb.getSpec().getMaxUnavailable().getIntVal(), "no disruption before the cluster is healthy");
        assertOwnedBy(c, pdb);

        List<Pod> pods = client.pods().inNamespace(NS).list().getItems();
        assertEquals(1, pods.size(), "one seed member first");
        Pod seed = pods.get(0);
        assertEquals("demo-0", seed.getMetadata().getName());
        assertOwnedBy(c, seed);
        assertEquals("0", seed.getMetadata().getLabels().get(Labels.ORDINAL));
        assertEquals("3.6.0", seed.getMetadata().getLabels().get(Labels.VERSION));
        assertEquals("demo-0", seed.getSpec().getHostname());
        assertEquals("demo-peer", seed.getSpec().getSubdomain());
        Container k = seed.getSpec().getContainers().get(0);
        assertEquals("keel/keel-server:3.6.0", k.getImage());
        assertTrue(k.getArgs().contains("--name=demo-0"), k.getArgs().toString());
        assertTrue(k.getArgs().contains("--initial-cluster=demo-0=http://demo-0.demo-peer.test.svc:2380"),
                k.getArgs().toString());
        assertTrue(k.getArgs().contains("--initial-cluster-state=new"));
        assertTrue(k.getArgs().contains("--advertise-client-urls=http://demo-0.demo-peer.test.svc:2379"));
        assertTrue(k.getArgs().contains("--listen-client-urls=http://0.0.0.0:2379"));
        assertTrue(k.getArgs().stream().anyMatch(a -> a.startsWith("--initial-cluster-token=demo-")));
        assertEquals("/livez", k.getLivenessProbe().getHttpGet().getPath());
        assertEquals("/readyz", k.getReadinessProbe().getHttpGet().getPath());
        assertEquals(2379, k.getReadinessProbe().getHttpGet().getPort().getIntVal());
        assertEquals("data-demo-0", seed.getSpec().getVolumes().get(0).getPersistentVolumeClaim().getClaimName());

        PersistentVolumeClaim pvc = client.persistentVolumeClaims().inNamespace(NS).withName("data-demo-0").get();
        assertNotNull(pvc);
        assertEquals("1Gi", pvc.getSpec().getResources().getRequests().get("storage").toString());
        assertOwnedBy(c, pvc);

        KVClusterStatus st = c.getStatus();
        assertEquals("Creating", st.phase);
        assertNull(st.clusterID);
        assertEquals("app.kubernetes.io/name=keel,app.kubernetes.io/instance=demo,app.kubernetes.io/component=member",
                st.selector);
        assertEquals("False", cond(st, "Available").getStatus());
        assertEquals("False", cond(st, "Ready").getStatus());
        assertEquals("True", cond(st, "Progressing").getStatus());
        assertEquals("Create", st.operation.type);
        assertTrue(client.v1().events().inNamespace(NS).list().getItems().stream()
                .anyMatch(e -> e.getReason().equals("SeedCreated")), "event for the seed");
    }

    static Condition cond(KVClusterStatus st, String type) {
        return st.conditions.stream().filter(x -> x.getType().equals(type)).findFirst()
                .orElseThrow(() -> new AssertionError("no condition " + type));
    }

    @Test
    void afterBootstrapTheNextMemberJoinsAsALearnerPod() {
        DnsAddressing a = new DnsAddressing("demo", NS);
        KVCluster c = cluster("demo", 3);
        c = reconcile(c);
        var seed = api.addVoter("demo-0", a.peerUrl("demo-0"));
        api.healthy(a.clientUrl("demo-0"), seed.id(), seed.id(), 50);
        c = reconcile(c); // bootstrapped
        assertEquals("abc", c.getStatus().clusterID);
        assertEquals("True", cond(c.getStatus(), "Available").getStatus());
        assertEquals("demo-0", c.getStatus().leader);
        c = reconcile(c); // operation chosen: scale up
        assertEquals("ScaleUp", c.getStatus().operation.type);
        assertEquals("demo-1", c.getStatus().operation.member);
        c = reconcile(c); // MemberAdd as learner
        assertTrue(api.calls.get(0).startsWith("add http://demo-1.demo-peer.test.svc:2380"), api.calls.toString());
        c = reconcile(c); // the learner's pod
        Pod p1 = client.pods().inNamespace(NS).withName("demo-1").get();
        assertNotNull(p1, "learner pod");
        List<String> args = p1.getSpec().getContainers().get(0).getArgs();
        assertTrue(args.contains("--initial-cluster-state=existing"), args.toString());
        assertTrue(args.contains("--initial-cluster=demo-0=http://demo-0.demo-peer.test.svc:2380,"
                + "demo-1=http://demo-1.demo-peer.test.svc:2380"), args.toString());
        assertEquals("learner", p1.getMetadata().getLabels().get(Labels.ROLE));
        assertNotNull(client.persistentVolumeClaims().inNamespace(NS).withName("data-demo-1").get());
        assertEquals("Scaling", c.getStatus().phase);
        assertEquals("CatchUp", c.getStatus().operation.step);
        assertEquals("True", cond(c.getStatus(), "Progressing").getStatus());
        // the recorded operation survives a read from the API server (what a restarted operator sees)
        KVCluster fresh = client.resources(KVCluster.class).inNamespace(NS).withName("demo").get();
        assertEquals("CatchUp", fresh.getStatus().operation.step);
        assertEquals(2, fresh.getStatus().members.size());
        assertEquals("Learner", fresh.getStatus().members.get(1).role);
    }

    @Test
    void healthyThreeMemberClusterIsReadyAndAllowsOneDisruption() {
        DnsAddressing a = new DnsAddressing("demo", NS);
        KVCluster c = cluster("demo", 3);
        c = reconcile(c);
        long leader = 0;
        for (int i = 0; i < 3; i++) {
            var m = api.addVoter("demo-" + i, a.peerUrl("demo-" + i));
            leader = leader == 0 ? m.id() : leader;
        }
        for (var m : api.members.values()) {
            api.healthy(a.clientUrl(m.name()), m.id(), leader, 100);
        }
        for (int i = 1; i < 3; i++) { // pods as the operator would have made them
            client.resource(Resources.pod(c, new dev.keel.operator.core.MemberSpec(i, "demo-" + i, "3.6.0", "x",
                    false, null, null), a, null, false)).create();
        }
        for (Pod p : client.pods().inNamespace(NS).list().getItems()) {
            p.setStatus(new io.fabric8.kubernetes.api.model.PodStatusBuilder().addNewCondition().withType("Ready")
                    .withStatus("True").endCondition().build());
            client.resource(p).updateStatus();
        }
        c = reconcile(c);
        c = reconcile(c);
        KVClusterStatus st = c.getStatus();
        assertEquals("Running", st.phase, st.message);
        assertEquals(3, st.readyMembers);
        assertEquals("3.6.0", st.currentVersion);
        assertEquals("True", cond(st, "Ready").getStatus());
        assertEquals("True", cond(st, "Available").getStatus());
        assertEquals("False", cond(st, "Degraded").getStatus());
        assertEquals("False", cond(st, "Progressing").getStatus());
        assertEquals(1, client.policy().v1().podDisruptionBudget().inNamespace(NS).withName("demo").get().getSpec()
                .getMaxUnavailable().getIntVal());

        // two members stop answering: quorum lost, reported, nothing deleted
        api.health.remove(a.clientUrl("demo-1"));
        api.health.remove(a.clientUrl("demo-2"));
        c = reconcile(c);
        st = c.getStatus();
        assertEquals("QuorumLost", st.phase);
        assertEquals("False", cond(st, "Available").getStatus());
        assertEquals("True", cond(st, "Degraded").getStatus());
        assertEquals("QuorumLost", cond(st, "Degraded").getReason());
        assertEquals(3, client.pods().inNamespace(NS).list().getItems().size());
        assertEquals(0, client.policy().v1().podDisruptionBudget().inNamespace(NS).withName("demo").get().getSpec()
                .getMaxUnavailable().getIntVal());
        assertTrue(client.v1().events().inNamespace(NS).list().getItems().stream()
                .anyMatch(e -> e.getReason().equals("QuorumLost") && e.getType().equals("Warning")));
        assertTrue(api.calls.isEmpty(), api.calls.toString());
    }

    /**
     * The seed cannot be scheduled and its PVC stays unbound: the status says so in Kubernetes' words (not only
     * that the seed's name does not resolve), and the reconciler backs off while nothing changes.
     */
    @Test
    void pendingSeedReportsThePodsAndPvcsOwnReasonsAndBacksOff() {
        KVCluster c = cluster("stuck", 1);
        c = reconcile(c); // seed Pod and PVC created
        Pod seed = client.pods().inNamespace(NS).withName("stuck-0").get();
        seed.setStatus(new io.fabric8.kubernetes.api.model.PodStatusBuilder().withPhase("Pending").addNewCondition()
                .withType("PodScheduled").withStatus("False").withReason("Unschedulable")
                .withMessage("0/3 nodes are available: 3 pod has unbound immediate PersistentVolumeClaims.")
                .endCondition().build());
        client.resource(seed).updateStatus();
        PersistentVolumeClaim pvc = client.persistentVolumeClaims().inNamespace(NS).withName("data-stuck-0").get();
        pvc.setStatus(new io.fabric8.kubernetes.api.model.PersistentVolumeClaimStatusBuilder().withPhase("Pending")
                .build());
        client.resource(pvc).updateStatus();
        client.v1().events().inNamespace(NS).resource(new io.fabric8.kubernetes.api.model.EventBuilder()
                .withNewMetadata().withName("data-stuck-0.1").withNamespace(NS).endMetadata()
                .withNewInvolvedObject().withKind("PersistentVolumeClaim").withName("data-stuck-0").endInvolvedObject()
                .withReason("FailedBinding").withType("Warning").withLastTimestamp("2026-01-01T00:00:00Z")
                .withMessage("no persistent volumes available for this claim and no storage class is set").build())
                .create();

        ClusterController.Outcome o = controller.reconcile(c);
        KVClusterStatus st = o.status();
        assertTrue(st.message.startsWith("Pod stuck-0 Unschedulable: 0/3 nodes are available"), st.message);
        assertTrue(st.message.contains("PVC data-stuck-0 FailedBinding: no persistent volumes available"),
                st.message);
        assertTrue(st.message.contains("waiting for seed member stuck-0"), st.message);
        assertEquals(List.of("Pod/Unschedulable", "PVC/FailedBinding"), st.workloadIssues.stream()
                .map(w -> w.kind + "/" + w.reason).toList());
        assertTrue(cond(st, "Ready").getMessage().contains("Unschedulable"));
        assertTrue(client.v1().events().inNamespace(NS).list().getItems().stream()
                .anyMatch(e -> "Unschedulable".equals(e.getReason()) && "Warning".equals(e.getType())));
        assertEquals(java.time.Duration.ofSeconds(5), o.requeueAfter());
        // nothing changes: the interval doubles, up to two minutes
        List<Long> waits = new java.util.ArrayList<>();
        for (int i = 0; i < 7; i++) {
            waits.add(controller.reconcile(c).requeueAfter().getSeconds());
        }
        assertEquals(List.of(10L, 20L, 40L, 80L, 120L, 120L, 120L), waits);
        // the Pod gets scheduled: back to the normal pace
        seed.setStatus(new io.fabric8.kubernetes.api.model.PodStatusBuilder().withPhase("Running").build());
        client.resource(seed).updateStatus();
        pvc.setStatus(new io.fabric8.kubernetes.api.model.PersistentVolumeClaimStatusBuilder().withPhase("Bound")
                .build());
        client.resource(pvc).updateStatus();
        o = controller.reconcile(c);
        assertEquals(java.time.Duration.ofSeconds(5), o.requeueAfter());
        assertTrue(o.status().workloadIssues.isEmpty());
    }

    /** spec.paused: the emergency brake creates, labels and deletes nothing, and says so. */
    @Test
    void pausedClusterTouchesNothing() {
        KVCluster c = new KVCluster();
        c.setMetadata(new ObjectMetaBuilder().withName("brake").withNamespace(NS).build());
        c.setSpec(new KVClusterSpec());
        c.getSpec().version = "3.6.0";
        c.getSpec().paused = true;
        c = client.resource(c).create();
        c = reconcile(c);
        assertEquals("Paused", c.getStatus().phase);
        assertTrue(client.pods().inNamespace(NS).list().getItems().isEmpty());
        assertTrue(client.services().inNamespace(NS).list().getItems().isEmpty());
        assertNull(client.policy().v1().podDisruptionBudget().inNamespace(NS).withName("brake").get());
        c.getSpec().paused = false;
        c = reconcile(c);
        assertNotNull(client.pods().inNamespace(NS).withName("brake-0").get(), "resumes where it stopped");
    }

    @Test
    void restoredClusterSeedsFromTheBackupPvc() {
        KVBackup b = new KVBackup();
        b.setMetadata(new ObjectMetaBuilder().withName("nightly-1").withNamespace(NS).build());
        b.setSpec(new KVBackup.Spec());
        b = client.resource(b).create();
        b.setStatus(new KVBackup.Status());
        b.getStatus().phase = "Completed";
        b.getStatus().claimName = "backups";
        b.getStatus().path = "demo/nightly-1.snap";
        b.getStatus().checksum = "sha256:00ff";
        client.resource(b).updateStatus();

        KVCluster c = new KVCluster();
        c.setMetadata(new ObjectMetaBuilder().withName("copy").withNamespace(NS).build());
        c.setSpec(new KVClusterSpec());
        c.getSpec().version = "3.6.0";
        c.getSpec().bootstrap = new KVClusterSpec.Bootstrap();
        c.getSpec().bootstrap.restore = new KVClusterSpec.Restore();
        c.getSpec().bootstrap.restore.backupRef = new KVClusterSpec.BackupRef();
        c.getSpec().bootstrap.restore.backupRef.name = "nightly-1";
        c = client.resource(c).create();
        c = reconcile(c);
        assertEquals("Restoring", c.getStatus().phase);
        Pod seed = client.pods().inNamespace(NS).withName("copy-0").get();
        Container init = seed.getSpec().getInitContainers().get(0);
        String script = init.getCommand().get(2);
        assertTrue(script.contains("echo '00ff  /backup/demo/nightly-1.snap' | sha256sum -c -"), script);
        assertTrue(script.contains("exec $KEEL_SERVER 'snapshot' 'restore' '/backup/demo/nightly-1.snap'"), script);
        assertTrue(script.contains("'--initial-cluster=copy-0=http://copy-0.copy-peer.test.svc:2380'"), script);
        assertTrue(script.contains("if [ -e /var/lib/keel/data/member ]"), "restore must not run twice: " + script);
        var backupVol = seed.getSpec().getVolumes().stream().filter(v -> v.getName().equals("backup")).findFirst()
                .orElseThrow();
        assertEquals("backups", backupVol.getPersistentVolumeClaim().getClaimName());
        assertTrue(backupVol.getPersistentVolumeClaim().getReadOnly());
    }

    @Test
    void restoreFromABackupThatIsNotCompletedCreatesNothing() {
        KVCluster c = new KVCluster();
        c.setMetadata(new ObjectMetaBuilder().withName("copy2").withNamespace(NS).build());
        c.setSpec(new KVClusterSpec());
        c.getSpec().version = "3.6.0";
        c.getSpec().bootstrap = new KVClusterSpec.Bootstrap();
        c.getSpec().bootstrap.restore = new KVClusterSpec.Restore();
        c.getSpec().bootstrap.restore.backupRef = new KVClusterSpec.BackupRef();
        c.getSpec().bootstrap.restore.backupRef.name = "missing";
        c = client.resource(c).create();
        c = reconcile(c);
        assertNull(client.pods().inNamespace(NS).withName("copy2-0").get());
        assertTrue(c.getStatus().message.contains("not a Completed KVBackup"), c.getStatus().message);
        assertFalse(c.getStatus().conditions.isEmpty());
    }
}
