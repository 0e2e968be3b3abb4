package dev.keel.operator.k8s;

import dev.keel.operator.core.MemberRuntime;
import dev.keel.operator.core.MemberSpec;
import dev.keel.operator.core.PodState;
import dev.keel.operator.crd.KVBackup;
import dev.keel.operator.crd.KVCluster;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Members as one Pod and one PVC each, owned by the KVCluster. */
public final class K8sMemberRuntime implements MemberRuntime {

    private final KubernetesClient client;
    private final KVCluster cluster;
    private final DnsAddressing addressing;

    public K8sMemberRuntime(KubernetesClient client, KVCluster cluster, DnsAddressing addressing) {
        this.client = client;
        this.cluster = cluster;
        this.addressing = addressing;
    }

    private String ns() {
        return cluster.getMetadata().getNamespace();
    }

    @Override
    public Map<Integer, PodState> pods() {
        Map<Integer, PodState> out = new TreeMap<>();
        for (Pod p : client.pods().inNamespace(ns()).withLabels(Labels.members(cluster.getMetadata().getName()))
                .list().getItems()) {
            String ord = p.getMetadata().getLabels().get(Labels.ORDINAL);
            if (ord == null) {
                continue;
            }
            boolean ready = p.getStatus() != null && p.getStatus().getConditions() != null
                    && p.getStatus().getConditions().stream()
                    .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
            out.put(Integer.parseInt(ord), new PodState(Integer.parseInt(ord), ready,
                    p.getMetadata().getDeletionTimestamp() != null, p.getMetadata().getLabels().get(Labels.VERSION)));
        }
        return out;
    }

    /** Why member Pods or their PVCs are not working (see {@link WorkloadDiagnostics}). */
    public List<WorkloadDiagnostics.Issue> issues() {
        String name = cluster.getMetadata().getName();
        List<Pod> pods = client.pods().inNamespace(ns()).withLabels(Labels.members(name)).list().getItems();
        List<PersistentVolumeClaim> pvcs = client.persistentVolumeClaims().inNamespace(ns())
                .withLabels(Labels.members(name)).list().getItems();
        List<Event> events = List.of();
        if (pvcs.stream().anyMatch(c -> c.getStatus() == null || !"Bound".equals(c.getStatus().getPhase()))) {
            try {
                // only while a PVC is unbound; filtered here (events live an hour, so the list stays short)
                events = client.v1().events().inNamespace(ns()).list().getItems();
            } catch (RuntimeException e) {
                events = List.of(); // the phase alone then
            }
        }
        return WorkloadDiagnostics.of(pods, pvcs, events);
    }

    @Override
    public void create(MemberSpec spec) {
        PersistentVolumeClaim pvc = client.persistentVolumeClaims().inNamespace(ns())
                .withName(Resources.pvcName(cluster, spec.ordinal())).get();
        if (pvc != null && pvc.getMetadata().getDeletionTimestamp() != null) {
            throw new IllegalStateException("PVC " + pvc.getMetadata().getName() + " is still being deleted");
        }
        if (pvc == null) {
            client.resource(Resources.pvc(cluster, spec.ordinal())).create();
        }
        KVBackup restore = null;
        if (spec.restoreFrom() != null) {
            restore = client.resources(KVBackup.class).inNamespace(ns()).withName(spec.restoreFrom()).get();
            if (restore == null || restore.getStatus() == null || !"Completed".equals(restore.getStatus().phase)) {
                throw new IllegalStateException("backup " + spec.restoreFrom() + " is not a Completed KVBackup in "
                        + ns());
            }
        }
        client.resource(Resources.pod(cluster, spec, addressing, restore, !spec.newCluster())).create();
    }

    @Override
    public void delete(int ordinal, boolean deleteData) {
        client.pods().inNamespace(ns()).withName(Resources.podName(cluster, ordinal)).delete();
        if (deleteData) {
            client.persistentVolumeClaims().inNamespace(ns()).withName(Resources.pvcName(cluster, ordinal)).delete();
        }
    }

    /** Keeps the role label in step with the member list (informational; selectors do not use it). */
    public void labelRole(int ordinal, boolean learner) {
        Pod p = client.pods().inNamespace(ns()).withName(Resources.podName(cluster, ordinal)).get();
        String want = learner ? "learner" : "voter";
        if (p != null && !want.equals(p.getMetadata().getLabels().get(Labels.ROLE))) {
            client.pods().inNamespace(ns()).withName(p.getMetadata().getName())
                    .edit(x -> {
                        x.getMetadata().getLabels().put(Labels.ROLE, want);
                        return x;
                    });
        }
    }
}
