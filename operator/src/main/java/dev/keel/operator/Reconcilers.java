package dev.keel.operator;

import dev.keel.operator.backup.BackupController;
import dev.keel.operator.backup.ScheduleController;
import dev.keel.operator.crd.KVBackup;
import dev.keel.operator.crd.KVBackupSchedule;
import dev.keel.operator.crd.KVCluster;
import dev.keel.operator.crd.KVClusterStatus;
import dev.keel.operator.k8s.Conditions;
import dev.keel.operator.k8s.EventRecorder;
import dev.keel.operator.k8s.ClusterController;
import dev.keel.operator.k8s.Labels;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.javaoperatorsdk.operator.processing.retry.GenericRetry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The JOSDK entry points: thin wrappers that write the controllers' status (see {@link StatusWriter}) and requeue.
 *
 * <p>A reconcile that throws (a 403 from RBAC or admission, a 422, an unreachable API server) is never given up
 * on: {@link #retry()} retries without limit with exponential back-off, and each failure is reported in the
 * resource's {@code Reconciled} condition (False, with the reason and the API server's message) and in a Warning
 * Event {@code ReconcileFailed}; the next successful reconcile sets {@code Reconciled} back to True.
 */
public final class Reconcilers {

    private static final Logger LOG = LoggerFactory.getLogger(Reconcilers.class);
    public static final String RECONCILED = "Reconciled";

    private Reconcilers() {
    }

    /** Unlimited attempts, 2 s doubling up to 5 minutes: a cluster is never left alone after a failure. */
    public static GenericRetry retry() {
        return GenericRetry.defaultLimitedExponentialRetry().withoutMaxAttempts().setInitialInterval(2_000)
                .setIntervalMultiplier(2).setMaxInterval(300_000);
    }

    // P first: JOSDK reads the primary type from the first type argument
    /** The status, and when to look again (null: only on the next event). */
    record Result<S>(S status, Duration requeueAfter) { }

    abstract static class Base<P extends CustomResource<?, S>, S> implements Reconciler<P> {
        private final EventRecorder events;
        private final Clock clock;
        private final Supplier<S> empty;
        private final Function<S, List<Condition>> conditions;
        private final Class<S> statusClass;

        Base(EventRecorder events, Clock clock, Class<S> statusClass, Supplier<S> empty,
             Function<S, List<Condition>> conditions) {
            this.events = events;
            this.clock = clock;
            this.statusClass = statusClass;
            this.empty = empty;
            this.conditions = conditions;
        }

        abstract Result<S> run(P resource);

        @Override
        public UpdateControl<P> reconcile(P resource, Context<P> context) {
            String before = StatusWriter.json(resource.getStatus());
            Result<S> r = run(resource);
            Conditions.set(list(r.status()), RECONCILED, true, "Succeeded", "",
                    resource.getMetadata().getGeneration(), clock.instant());
            StatusWriter.write(resource, before, r.status(), context);
            UpdateControl<P> u = UpdateControl.noUpdate();
            return r.requeueAfter() == null ? u : u.rescheduleAfter(r.requeueAfter());
        }

        private List<Condition> list(S status) {
            List<Condition> l = conditions.apply(status);
            if (l == null) {
                throw new IllegalStateException("status without a conditions list");
            }
            return l;
        }

        /** Says why in a condition and an event, then lets JOSDK retry with {@link #retry()}'s back-off. */
        @Override
        public ErrorStatusUpdateControl<P> updateErrorStatus(P resource, Context<P> context, Exception e) {
            int attempt = context.getRetryInfo().map(i -> i.getAttemptCount()).orElse(0) + 1;
            String reason = reason(e);
            String message = message(e) + " (attempt " + attempt + "; retrying with back-off)";
            LOG.warn("reconcile of {} {}/{} failed: {}", resource.getKind(), resource.getMetadata().getNamespace(),
                    resource.getMetadata().getName(), message);
            events.record(resource, true, "ReconcileFailed", reason + ": " + message(e));
            try {
                String before = StatusWriter.json(resource.getStatus());
                S st = before == null ? empty.get() : Serialization.unmarshal(before, statusClass);
                Conditions.set(list(st), RECONCILED, false, reason, message, resource.getMetadata().getGeneration(),
                        clock.instant());
                StatusWriter.write(resource, before, st, context);
            } catch (RuntimeException writeFailed) {
                LOG.warn("could not record the failure in the status of {}/{}: {}",
                        resource.getMetadata().getNamespace(), resource.getMetadata().getName(),
                        message(writeFailed));
            }
            return ErrorStatusUpdateControl.defaultErrorProcessing();
        }
    }

    static String reason(Exception e) {
        if (e instanceof KubernetesClientException k) {
            return switch (k.getCode()) {
                case 403 -> "Forbidden";
                case 422 -> "Invalid";
                case 409 -> "Conflict";
                case 404 -> "NotFound";
                default -> "ApiError";
            };
        }
        return "Error";
    }

    static String message(Exception e) {
        Throwable t = e;
        while (t.getCause() != null && !(t instanceof KubernetesClientException)) {
            t = t.getCause();
        }
        String m = t instanceof KubernetesClientException k && k.getStatus() != null
                && k.getStatus().getMessage() != null ? k.getCode() + " " + k.getStatus().getMessage()
                : t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        return m.length() > 800 ? m.substring(0, 800) + "..." : m;
    }

    /**
     * An informer on the objects of {@code type} the operator created (label managed-by=keel-operator) in the
     * controller's namespaces, each mapped to its owner: a change to one wakes the owner's reconciler at once.
     */
    static <R extends HasMetadata, P extends HasMetadata> InformerEventSource<R, P> owned(
            Class<R> type, Class<P> primary, EventSourceContext<P> context) {
        return new InformerEventSource<>(InformerEventSourceConfiguration.from(type, primary)
                .withName(type.getSimpleName().toLowerCase(java.util.Locale.ROOT))
                .withLabelSelector(Labels.MANAGED_BY + "=" + Labels.OPERATOR)
                .withNamespacesInheritedFromController().build(), context);
    }

    @ControllerConfiguration(name = "kvcluster")
    public static final class Cluster extends Base<KVCluster, KVClusterStatus> {
        private final ClusterController controller;

        public Cluster(ClusterController controller, EventRecorder events, Clock clock) {
            super(events, clock, KVClusterStatus.class, KVClusterStatus::new, s -> s.conditions);
            this.controller = controller;
        }

        /** Member Pods and PVCs: a Pod scheduled, Ready or gone, a PVC bound, reconciles without waiting. */
        @Override
        public List<EventSource<?, KVCluster>> prepareEventSources(EventSourceContext<KVCluster> context) {
            return List.of(owned(Pod.class, KVCluster.class, context),
                    owned(PersistentVolumeClaim.class, KVCluster.class, context));
        }

        @Override
        Result<KVClusterStatus> run(KVCluster resource) {
            ClusterController.Outcome o = controller.reconcile(resource);
            return new Result<>(o.status(), o.requeueAfter());
        }
    }

    @ControllerConfiguration(name = "kvbackup")
    public static final class Backup extends Base<KVBackup, KVBackup.Status> {
        private final BackupController controller;

        public Backup(BackupController controller, EventRecorder events, Clock clock) {
            super(events, clock, KVBackup.Status.class, KVBackup.Status::new, s -> s.conditions);
            this.controller = controller;
        }

        /** The backup Job: its completion or failure is seen at once. */
        @Override
        public List<EventSource<?, KVBackup>> prepareEventSources(EventSourceContext<KVBackup> context) {
            return List.of(owned(Job.class, KVBackup.class, context));
        }

        @Override
        Result<KVBackup.Status> run(KVBackup resource) {
            BackupController.Outcome o = controller.reconcile(resource);
            if (o.status().conditions == null) {
                o.status().conditions = new ArrayList<>();
            }
            return new Result<>(o.status(), o.requeueAfter());
        }
    }

    @ControllerConfiguration(name = "kvbackupschedule")
    public static final class Schedule extends Base<KVBackupSchedule, KVBackupSchedule.Status> {
        private final ScheduleController controller;

        public Schedule(ScheduleController controller, EventRecorder events, Clock clock) {
            super(events, clock, KVBackupSchedule.Status.class, KVBackupSchedule.Status::new, s -> s.conditions);
            this.controller = controller;
        }

        @Override
        Result<KVBackupSchedule.Status> run(KVBackupSchedule resource) {
            ScheduleController.Outcome o = controller.reconcile(resource);
            if (o.status().conditions == null) {
                o.status().conditions = new ArrayList<>();
            }
            return new Result<>(o.status(), o.requeueAfter());
        }
    }
}
