package dev.keel.operator;

import dev.keel.operator.backup.BackupController;
import dev.keel.operator.backup.ScheduleController;
import dev.keel.operator.crd.KVBackup;
import dev.keel.operator.crd.KVBackupSchedule;
import dev.keel.operator.crd.KVCluster;
import dev.keel.operator.k8s.ClusterController;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;

/** The JOSDK entry points: thin wrappers that persist the controllers' status and requeue. */
public final class Reconcilers {

    private Reconcilers() {
    }

    @ControllerConfiguration(name = "kvcluster")
    public static final class Cluster implements Reconciler<KVCluster> {
        private final ClusterController controller;

        public Cluster(ClusterController controller) {
            this.controller = controller;
        }

        @Override
        public UpdateControl<KVCluster> reconcile(KVCluster resource, Context<KVCluster> context) {
            ClusterController.Outcome o = controller.reconcile(resource);
            resource.setStatus(o.status());
            return UpdateControl.patchStatus(resource).rescheduleAfter(o.requeueAfter());
        }
    }

    @ControllerConfiguration(name = "kvbackup")
    public static final class Backup implements Reconciler<KVBackup> {
        private final BackupController controller;

        public Backup(BackupController controller) {
            this.controller = controller;
        }

        @Override
        public UpdateControl<KVBackup> reconcile(KVBackup resource, Context<KVBackup> context) {
            BackupController.Outcome o = controller.reconcile(resource);
            resource.setStatus(o.status());
            UpdateControl<KVBackup> u = UpdateControl.patchStatus(resource);
            return o.requeueAfter() == null ? u : u.rescheduleAfter(o.requeueAfter());
        }
    }

    @ControllerConfiguration(name = "kvbackupschedule")
    public static final class Schedule implements Reconciler<KVBackupSchedule> {
        private final ScheduleController controller;

        public Schedule(ScheduleController controller) {
            this.controller = controller;
        }

        @Override
        public UpdateControl<KVBackupSchedule> reconcile(KVBackupSchedule resource,
                                                         Context<KVBackupSchedule> context) {
            ScheduleController.Outcome o = controller.reconcile(resource);
            resource.setStatus(o.status());
            UpdateControl<KVBackupSchedule> u = UpdateControl.patchStatus(resource);
            return o.requeueAfter() == null ? u : u.rescheduleAfter(o.requeueAfter());
        }
    }
}
