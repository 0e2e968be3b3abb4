package dev.keel.operator.backup;

import dev.keel.operator.crd.KVBackup;
import dev.keel.operator.crd.KVBackupSchedule;
import dev.keel.operator.crd.KVCluster;
import dev.keel.operator.crd.KVClusterSpec;
import dev.keel.operator.crd.KVClusterStatus;
import dev.keel.operator.k8s.Labels;
import dev.keel.operator.k8s.PodSecurityRestricted;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** KVBackup (a Job and its result) and KVBackupSchedule (cron, Forbid, retention) on the mock API server. */
@EnableKubernetesMockClient(crud = true)
class BackupMockTest {

    static final String NS = "db";
    KubernetesClient client;
    Clock clock = Clock.fixed(Instant.parse("2026-01-01T03:00:30Z"), ZoneOffset.UTC);

    void cluster() {
        KVCluster c = new KVCluster();
        c.setMetadata(new ObjectMetaBuilder().withName("demo").withNamespace(NS).build());
        c.setSpec(new KVClusterSpec());
        c.getSpec().version = "3.6.0";
        c = client.resource(c).create();
        KVClusterStatus st = new KVClusterStatus();
        st.clusterID = "abc";
        st.leader = "demo-0";
        for (String n : List.of("demo-0", "demo-1", "demo-2")) {
            KVClusterStatus.MemberStatus m = new KVClusterStatus.MemberStatus();
            m.name = n;
            m.role = "Voter";
            m.healthy = !n.equals("demo-1");
            st.members.add(m);
        }
        c.setStatus(st);
        client.resource(c).updateStatus();
    }

    KVBackup backup(String name) {
        KVBackup b = new KVBackup();
        b.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
        b.setSpec(new KVBackup.Spec());
        b.getSpec().clusterRef = new KVBackup.ClusterRef();
        b.getSpec().clusterRef.name = "demo";
        b.getSpec().destination = new KVBackup.Destination();
        b.getSpec().destination.pvc = new KVBackup.PvcDestination();
        b.getSpec().destination.pvc.claimName = "backups";
        b.getSpec().destination.pvc.subPath = "nightly/";
        return client.resource(b).create();
    }

    void finishJob(String job, boolean ok, String message) {
        Job j = client.batch().v1().jobs().inNamespace(NS).withName(job).get();
        j.setStatus(ok ? new JobStatusBuilder().withSucceeded(1).build()
                : new JobStatusBuilder().withFailed(2).addNewCondition().withType("Failed").withStatus("True")
                .endCondition().build());
        client.resource(j).updateStatus();
        client.resource(new PodBuilder().withNewMetadata().withName(job + "-x").withNamespace(NS)
                .withLabels(Map.of("job-name", job)).endMetadata()
                .withNewStatus().addNewContainerStatus().withName("backup").withNewState().withNewTerminated()
                .withExitCode(ok ? 0 : 1).withMessage(message).endTerminated().endState().endContainerStatus()
                .endStatus().build()).create();
    }

    @Test
    void backupRunsAJobAgainstAHealthyFollowerAndRecordsItsResult() {
        cluster();
        BackupController bc = new BackupController(client, clock, "keel/keel-operator:test", "svc");
        KVBackup b = backup("b1");
        BackupController.Outcome o = bc.reconcile(b);
        assertEquals("Running", o.status().phase, o.status().message);
        assertEquals("demo-2", o.status().member, "a healthy follower, not the leader nor the unhealthy demo-1");
        assertEquals("nightly/b1.snap", o.status().path);
        Job job = client.batch().v1().jobs().inNamespace(NS).withName("kvbackup-b1").get();
        assertNotNull(job);
        assertEquals("KVBackup", job.getMetadata().getOwnerReferences().get(0).getKind());
        var c = job.getSpec().getTemplate().getSpec().getContainers().get(0);
        assertEquals("keel/keel-operator:test", c.getImage());
        assertEquals(List.of("backup", "--endpoint=http://demo-2.demo-peer.db.svc:2379", "--out=/backup/nightly/b1.snap",
                "--timeout=600", "--result=/dev/termination-log"), c.getArgs());
        assertEquals("backups", job.getSpec().getTemplate().getSpec().getVolumes().get(0).getPersistentVolumeClaim()
                .getClaimName());
        assertEquals("Never", job.getSpec().getTemplate().getSpec().getRestartPolicy());
        assertEquals(List.of(), PodSecurityRestricted.violations(job.getSpec().getTemplate().getSpec()),
                "the Job's Pod passes PodSecurity restricted");
        assertEquals(185L, job.getSpec().getTemplate().getSpec().getSecurityContext().getFsGroup(),
                "UID 185 can write the backup PVC");

        b.setStatus(o.status());
        assertEquals(Duration.ofSeconds(5), bc.reconcile(b).requeueAfter(), "still running");
        finishJob("kvbackup-b1", true, new BackupCommand.Result(42, 20512, "sha256:ab", "3.6.0", "1f",
                "/backup/nightly/b1.snap").toJson());
        o = bc.reconcile(b);
        assertEquals("Completed", o.status().phase);
        assertEquals(42L, o.status().revision);
        assertEquals(20512L, o.status().sizeBytes);
        assertEquals("sha256:ab", o.status().checksum);
        assertEquals("True", o.status().conditions.get(0).getStatus());
        assertNull(o.requeueAfter());
        assertTrue(client.v1().events().inNamespace(NS).list().getItems().stream()
                .anyMatch(e -> e.getReason().equals("BackupCompleted")));
    }

    @Test
    void failedJobFailsTheBackupWithItsMessage() {
        cluster();
        BackupController bc = new BackupController(client, clock, "img", "svc");
        KVBackup b = backup("b2");
        b.setStatus(bc.reconcile(b).status());
        finishJob("kvbackup-b2", false, "backup failed: snapshot failed: connection refused");
        BackupController.Outcome o = bc.reconcile(b);
        assertEquals("Failed", o.status().phase);
        assertTrue(o.status().message.contains("connection refused"), o.status().message);
        assertTrue(client.v1().events().inNamespace(NS).list().getItems().stream()
                .anyMatch(e -> e.getReason().equals("BackupFailed") && e.getType().equals("Warning")));
    }

    /** A Job that fails without a word from its Pod (here: its deadline) keeps the Job's own reason. */
    @Test
    void failedJobWithoutAResultKeepsTheJobsReason() {
        cluster();
        BackupController bc = new BackupController(client, clock, "img", "svc");
        KVBackup b = backup("b4");
        b.setStatus(bc.reconcile(b).status());
        Job j = client.batch().v1().jobs().inNamespace(NS).withName("kvbackup-b4").get();
        j.setStatus(new JobStatusBuilder().withFailed(1).addNewCondition().withType("Failed").withStatus("True")
                .withReason("DeadlineExceeded").withMessage("Job was active longer than specified deadline")
                .endCondition().build());
        client.resource(j).updateStatus();
        client.resource(new PodBuilder().withNewMetadata().withName("kvbackup-b4-x").withNamespace(NS)
                .withLabels(Map.of("job-name", "kvbackup-b4")).endMetadata()
                .withNewStatus().withPhase("Pending").addNewCondition().withType("PodScheduled").withStatus("False")
                .withReason("Unschedulable").withMessage("0/3 nodes are available: persistentvolumeclaim"
                        + " \"backups\" not found.").endCondition().endStatus().build()).create();
        BackupController.Outcome o = bc.reconcile(b);
        assertEquals("Failed", o.status().phase);
        assertEquals("Job kvbackup-b4 DeadlineExceeded: Job was active longer than specified deadline; Pod"
                + " kvbackup-b4-x Unschedulable: 0/3 nodes are available: persistentvolumeclaim \"backups\" not"
                + " found.", o.status().message);
        assertEquals("Failed", o.status().conditions.get(0).getReason());
    }

    /** A Running backup whose Job never finishes fails at its deadline, and its Job is deleted. */
    @Test
    void stuckBackupFailsAtItsDeadline() {
        cluster();
        KVBackup b = backup("b5");
        b.setStatus(new BackupController(client, clock, "img", "svc").reconcile(b).status());
        assertEquals("Running", b.getStatus().phase);
        Instant deadline = BackupController.deadline(b, b.getStatus().startedAt);
        assertEquals(Instant.parse(b.getStatus().startedAt).plusSeconds(600 + 120), deadline);
        BackupController before = new BackupController(client, Clock.fixed(deadline, ZoneOffset.UTC), "img", "svc");
        assertEquals("Running", before.reconcile(b).status().phase);
        BackupController after = new BackupController(client, Clock.fixed(deadline.plusSeconds(1), ZoneOffset.UTC),
                "img", "svc");
        BackupController.Outcome o = after.reconcile(b);
        assertEquals("Failed", o.status().phase);
        assertTrue(o.status().message.startsWith("no result by the deadline"), o.status().message);
        assertNull(client.batch().v1().jobs().inNamespace(NS).withName("kvbackup-b5").get());
    }

    @Test
    void pendingBackupFailsAtItsDeadline() {
        KVBackup b = backup("b6"); // no cluster: Pending
        Instant created = Instant.parse(b.getMetadata().getCreationTimestamp());
        BackupController late = new BackupController(client, Clock.fixed(created.plusSeconds(721), ZoneOffset.UTC),
                "img", "svc");
        BackupController.Outcome o = late.reconcile(b);
        assertEquals("Failed", o.status().phase);
        assertTrue(o.status().message.startsWith("still Pending at the deadline"), o.status().message);
    }

    @Test
    void backupWaitsForABootstrappedCluster() {
        BackupController bc = new BackupController(client, clock, "img", "svc");
        BackupController.Outcome o = bc.reconcile(backup("b3"));
        assertEquals("Pending", o.status().phase);
        assertNull(client.batch().v1().jobs().inNamespace(NS).withName("kvbackup-b3").get());
    }

    KVBackupSchedule schedule(int keep) {
        KVBackupSchedule s = new KVBackupSchedule();
        s.setMetadata(new ObjectMetaBuilder().withName("nightly").withNamespace(NS).build());
        s.setSpec(new KVBackupSchedule.Spec());
        s.getSpec().clusterRef = new KVBackup.ClusterRef();
        s.getSpec().clusterRef.name = "demo";
        s.getSpec().schedule = "0 3 * * *";
        s.getSpec().destination = new KVBackup.Destination();
        s.getSpec().destination.pvc = new KVBackup.PvcDestination();
        s.getSpec().destination.pvc.claimName = "backups";
        s.getSpec().retention.keepLast = keep;
        s = client.resource(s).create();
        s.setStatus(new KVBackupSchedule.Status());
        s.getStatus().lastScheduleTime = "2026-01-01T02:00:00Z";
        return s;
    }

    @Test
    void scheduleCreatesOneBackupPerTickAndForbidsOverlap() {
        ScheduleController sc = new ScheduleController(client, clock);
        KVBackupSchedule s = schedule(7);
        ScheduleController.Outcome o = sc.reconcile(s);
        KVBackup b = client.resources(KVBackup.class).inNamespace(NS).withName("nightly-202601010300").get();
        assertNotNull(b, "backup for the 03:00 tick");
        assertEquals("nightly", b.getMetadata().getLabels().get(Labels.SCHEDULE));
        assertEquals("KVBackupSchedule", b.getMetadata().getOwnerReferences().get(0).getKind());
        assertEquals("backups", b.getSpec().destination.pvc.claimName);
        assertEquals("2026-01-01T03:00:00Z", o.status().lastScheduleTime);
        assertEquals(Duration.ofHours(24).minusSeconds(30).plusSeconds(1), o.requeueAfter());
        s.setStatus(o.status());
        sc.reconcile(s);
        assertEquals(1, client.resources(KVBackup.class).inNamespace(NS).list().getItems().size());

        // a tick while that backup still runs, before its deadline: skipped (Forbid)
        s.getSpec().schedule = "*/5 * * * *";
        s.setStatus(o.status());
        ScheduleController soon = new ScheduleController(client, Clock.fixed(Instant.parse("2026-01-01T03:05:10Z"),
                ZoneOffset.UTC));
        o = soon.reconcile(s);
        assertEquals(1, client.resources(KVBackup.class).inNamespace(NS).list().getItems().size());
        assertTrue(o.status().message.contains("still running"), o.status().message);

        // the next day's tick, that backup stuck long past its deadline: it no longer blocks the schedule
        s.getSpec().schedule = "0 3 * * *";
        s.setStatus(o.status());
        s.getStatus().lastScheduleTime = "2026-01-01T03:00:00Z";
        Instant created = Instant.parse(b.getMetadata().getCreationTimestamp()); // the mock's wall clock
        ScheduleController later = new ScheduleController(client, Clock.fixed(created.plusSeconds(600 + 121),
                ZoneOffset.UTC));
        o = later.reconcile(s);
        assertEquals(2, client.resources(KVBackup.class).inNamespace(NS).list().getItems().size());
        assertEquals("created nightly-202601020300", o.status().message);
    }

    @Test
    void retentionKeepsTheNewestFinishedBackups() {
        ScheduleController sc = new ScheduleController(client, clock);
        KVBackupSchedule s = schedule(2);
        for (String day : List.of("01", "02", "03", "04")) {
            KVBackup b = new KVBackup();
            b.setMetadata(new ObjectMetaBuilder().withName("nightly-202512" + day + "0300").withNamespace(NS)
                    .withLabels(Map.of(Labels.SCHEDULE, "nightly")).build());
            b.setSpec(new KVBackup.Spec());
            b = client.resource(b).create();
            b.setStatus(new KVBackup.Status());
            b.getStatus().phase = "Completed";
            client.resource(b).updateStatus();
        }
        s.getSpec().suspend = true;
        ScheduleController.Outcome o = sc.reconcile(s);
        List<String> left = client.resources(KVBackup.class).inNamespace(NS).list().getItems().stream()
                .map(b -> b.getMetadata().getName()).sorted().toList();
        assertEquals(List.of("nightly-202512030300", "nightly-202512040300"), left);
        assertEquals("nightly-202512040300", o.status().lastSuccessfulBackup);
    }
}
