package dev.keel.operator.backup;

import dev.keel.operator.crd.KVBackup;
import dev.keel.operator.crd.KVCluster;
import dev.keel.operator.crd.KVClusterStatus;
import dev.keel.operator.k8s.Conditions;
import dev.keel.operator.k8s.DnsAddressing;
import dev.keel.operator.k8s.EventRecorder;
import dev.keel.operator.k8s.Labels;
import dev.keel.operator.k8s.Resources;
import dev.keel.operator.k8s.WorkloadDiagnostics;
import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A KVBackup runs as a Job in the cluster's namespace: the operator image's {@code backup} command streams
 * Maintenance.Snapshot from one member into the destination PVC and leaves its result (revision, size, checksum)
 * in the Pod's termination message, from which the status is filled. The operator process holds no snapshot data.
 */
public final class BackupController {

    public record Outcome(KVBackup.Status status, Duration requeueAfter) { }

    private final KubernetesClient client;
    private final Clock clock;
    private final String operatorImage;
    private final String domain;
    private final EventRecorder events;

    public BackupController(KubernetesClient client, Clock clock, String operatorImage, String domain) {
        this.client = client;
        this.clock = clock;
        this.operatorImage = operatorImage;
        this.domain = domain;
        this.events = new EventRecorder(client, clock);
    }

    public static String jobName(KVBackup b) {
        String n = "kvbackup-" + b.getMetadata().getName();
        return n.length() > 63 ? n.substring(0, 63) : n;
    }

    public Outcome reconcile(KVBackup b) {
        KVBackup.Status st = b.getStatus() == null ? new KVBackup.Status() : b.getStatus();
        if ("Completed".equals(st.phase) || "Failed".equals(st.phase)) {
            return new Outcome(st, null);
        }
        String ns = b.getMetadata().getNamespace();
        if (st.phase == null || "Pending".equals(st.phase)) {
            return start(b, st, ns);
        }
        Job job = client.batch().v1().jobs().inNamespace(ns).withName(jobName(b)).get();
        if (job == null) {
            return fail(b, st, "the backup Job " + jobName(b) + " disappeared");
        }
        String message = terminationMessage(ns, jobName(b));
        if (job.getStatus() != null && job.getStatus().getSucceeded() != null && job.getStatus().getSucceeded() > 0) {
            try {
                BackupCommand.Result r = BackupCommand.Result.fromJson(message);
                st.phase = "Completed";
                st.revision = r.revision();
                st.sizeBytes = r.sizeBytes();
                st.checksum = r.checksum();
                st.serverVersion = r.serverVersion();
                st.completedAt = clock.instant().toString();
                st.message = "snapshot at revision " + r.revision() + ", " + r.sizeBytes() + " bytes, " + r.checksum();
                Conditions.set(st.conditions, "Ready", true, "Completed", st.message, b.getMetadata().getGeneration(),
                        clock.instant());
                events.record(b, false, "BackupCompleted", st.message + " in " + st.claimName + "/" + st.path);
                return new Outcome(st, null);
            } catch (IOException | RuntimeException e) {
                return fail(b, st, "the backup Job succeeded but left no readable result (" + message + ")");
            }
        }
        WorkloadDiagnostics.Issue failed = WorkloadDiagnostics.jobFailure(job);
        WorkloadDiagnostics.Issue pod = podIssue(ns, jobName(b));
        if (failed != null) {
            // the Job's own reason (BackoffLimitExceeded, DeadlineExceeded...), then what its Pod said
            return fail(b, st, failed + (message != null ? "; " + message : pod != null ? "; " + pod : ""));
        }
        Instant deadline = deadline(b, st.startedAt);
        if (clock.instant().isAfter(deadline)) {
            client.resource(job).withPropagationPolicy(DeletionPropagation.BACKGROUND).delete();
            return fail(b, st, "no result by the deadline " + deadline + " (timeoutSeconds + "
                    + GRACE.toSeconds() + " s)" + (pod != null ? "; " + pod : ""));
        }
        st.message = "streaming a snapshot from " + st.member + " to " + st.claimName + "/" + st.path
                + (pod != null ? "; waiting on " + pod : "");
        return new Outcome(st, Duration.ofSeconds(5));
    }

    /** Beyond the Job's own activeDeadlineSeconds (timeout + 60 s): what a backup is given before it fails. */
    static final Duration GRACE = Duration.ofSeconds(120);

    /** When a backup that started (or was created, while Pending) at {@code since} is given up. */
    public static Instant deadline(KVBackup b, String since) {
        String t = since != null ? since : b.getMetadata().getCreationTimestamp();
        Instant from = t == null ? Instant.EPOCH : Instant.parse(t);
        int timeout = b.getSpec() == null || b.getSpec().timeoutSeconds == null ? 600 : b.getSpec().timeoutSeconds;
        return from.plusSeconds(timeout).plus(GRACE);
    }

    private WorkloadDiagnostics.Issue podIssue(String ns, String job) {
        for (Pod p : client.pods().inNamespace(ns).withLabel("job-name", job).list().getItems()) {
            WorkloadDiagnostics.Issue i = WorkloadDiagnostics.pod(p);
            if (i != null) {
                return i;
            }
        }
        return null;
    }

    private Outcome start(KVBackup b, KVBackup.Status st, String ns) {
        KVBackup.Spec spec = b.getSpec();
        KVCluster c = client.resources(KVCluster.class).inNamespace(ns).withName(spec.clusterRef.name).get();
        Instant deadline = deadline(b, null);
        if (clock.instant().isAfter(deadline)) {
            return fail(b, st, "still Pending at the deadline " + deadline + ": " + (st.message == null
                    ? "never started" : st.message));
        }
        if (c == null || c.getStatus() == null || c.getStatus().clusterID == null) {
            st.phase = "Pending";
            st.message = "waiting for KVCluster " + spec.clusterRef.name + " to exist and be bootstrapped";
            return new Outcome(st, Duration.ofSeconds(10));
        }
        String member = pickMember(c.getStatus(), spec.target);
        if (member == null) {
            st.phase = "Pending";
            st.message = "no healthy member of " + spec.clusterRef.name + " to take the snapshot from";
            return new Outcome(st, Duration.ofSeconds(10));
        }
        String sub = spec.destination.pvc.subPath == null || spec.destination.pvc.subPath.isBlank() ? ""
                : spec.destination.pvc.subPath.replaceAll("^/+|/+$", "") + "/";
        st.path = sub + b.getMetadata().getName() + ".snap";
        st.claimName = spec.destination.pvc.claimName;
        st.member = member;
        String endpoint = new DnsAddressing(c.getMetadata().getName(), ns, domain).clientUrl(member);
        int timeout = spec.timeoutSeconds == null ? 600 : spec.timeoutSeconds;
        Job job = new JobBuilder().withNewMetadata().withName(jobName(b)).withNamespace(ns)
                .withLabels(Map.of(Labels.MANAGED_BY, Labels.OPERATOR, Labels.BACKUP, b.getMetadata().getName(),
                        Labels.INSTANCE, c.getMetadata().getName()))
                .withOwnerReferences(Resources.owner(b)).endMetadata()
                .withNewSpec().withBackoffLimit(1).withActiveDeadlineSeconds((long) timeout + 60)
                .withNewTemplate().withNewMetadata().withLabels(Map.of(Labels.BACKUP, b.getMetadata().getName()))
                .endMetadata().withNewSpec().withRestartPolicy("Never")
                .withSecurityContext(Resources.podSecurity())
                .addNewContainer().withName("backup").withImage(operatorImage)
                .withArgs("backup", "--endpoint=" + endpoint, "--out=" + Resources.BACKUP_MOUNT + "/" + st.path,
                        "--timeout=" + timeout, "--result=/dev/termination-log")
                .withTerminationMessagePolicy("File")
                .withSecurityContext(Resources.containerSecurity())
                .addNewVolumeMount().withName("backup").withMountPath(Resources.BACKUP_MOUNT).endVolumeMount()
                .endContainer()
                .addNewVolume().withName("backup").withNewPersistentVolumeClaim()
                .withClaimName(spec.destination.pvc.claimName).endPersistentVolumeClaim().endVolume()
                .endSpec().endTemplate().endSpec().build();
        if (client.resource(job).get() == null) {
            client.resource(job).create();
        }
        st.phase = "Running";
        st.startedAt = clock.instant().toString();
        st.message = "streaming a snapshot from " + member + " to " + st.claimName + "/" + st.path;
        return new Outcome(st, Duration.ofSeconds(5));
    }

    /** PreferFollower: a healthy voter that is not the leader if there is one; Leader; Any: the first healthy. */
    static String pickMember(KVClusterStatus cs, String target) {
        List<KVClusterStatus.MemberStatus> healthy = new ArrayList<>();
        for (KVClusterStatus.MemberStatus m : cs.members) {
            if (Boolean.TRUE.equals(m.healthy) && "Voter".equals(m.role)) {
                healthy.add(m);
            }
        }
        if (healthy.isEmpty()) {
            return null;
        }
        if ("Leader".equals(target)) {
            return healthy.stream().anyMatch(m -> m.name.equals(cs.leader)) ? cs.leader : null;
        }
        if ("Any".equals(target)) {
            return healthy.get(0).name;
        }
        return healthy.stream().filter(m -> !m.name.equals(cs.leader)).findFirst().orElse(healthy.get(0)).name;
    }

    private String terminationMessage(String ns, String job) {
        for (Pod p : client.pods().inNamespace(ns).withLabel("job-name", job).list().getItems()) {
            if (p.getStatus() == null || p.getStatus().getContainerStatuses() == null) {
                continue;
            }
            for (ContainerStatus cs : p.getStatus().getContainerStatuses()) {
                if (cs.getState() != null && cs.getState().getTerminated() != null
                        && cs.getState().getTerminated().getMessage() != null) {
                    return cs.getState().getTerminated().getMessage().strip();
                }
            }
        }
        return null;
    }

    private Outcome fail(KVBackup b, KVBackup.Status st, String why) {
        st.phase = "Failed";
        st.message = why;
        st.completedAt = clock.instant().toString();
        Conditions.set(st.conditions, "Ready", false, "Failed", why, b.getMetadata().getGeneration(),
                clock.instant());
        events.record(b, true, "BackupFailed", why);
        return new Outcome(st, null);
    }
}
