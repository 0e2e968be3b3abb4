package dev.keel.operator.backup;

import dev.keel.operator.crd.KVBackup;
import dev.keel.operator.crd.KVBackupSchedule;
import dev.keel.operator.k8s.EventRecorder;
import dev.keel.operator.k8s.Labels;
import dev.keel.operator.k8s.Resources;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * At each cron tick creates a KVBackup (never two at once: a tick while one runs is skipped), then keeps the
 * newest {@code retention.keepLast} finished backups of the schedule and deletes the older ones.
 */
public final class ScheduleController {

    public record Outcome(KVBackupSchedule.Status status, Duration requeueAfter) { }

    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMddHHmm");

    private final KubernetesClient client;
    private final Clock clock;
    private final EventRecorder events;

    public ScheduleController(KubernetesClient client, Clock clock) {
        this.client = client;
        this.clock = clock;
        this.events = new EventRecorder(client, clock);
    }

    public Outcome reconcile(KVBackupSchedule s) {
        KVBackupSchedule.Status st = s.getStatus() == null ? new KVBackupSchedule.Status() : s.getStatus();
        String ns = s.getMetadata().getNamespace();
        Cron cron;
        try {
            cron = Cron.parse(s.getSpec().schedule);
        } catch (IllegalArgumentException e) {
            st.message = "invalid schedule: " + e.getMessage();
            events.record(s, true, "InvalidSchedule", st.message);
            return new Outcome(st, null);
        }
        ZonedDateTime now = clock.instant().atZone(ZoneOffset.UTC);
        String baseText = st.lastScheduleTime != null ? st.lastScheduleTime
                : s.getMetadata().getCreationTimestamp() != null ? s.getMetadata().getCreationTimestamp()
                : now.toInstant().toString();
        ZonedDateTime due = cron.next(Instant.parse(baseText).atZone(ZoneOffset.UTC));
        List<KVBackup> mine = client.resources(KVBackup.class).inNamespace(ns)
                .withLabel(Labels.SCHEDULE, s.getMetadata().getName()).list().getItems();
        if (!Boolean.TRUE.equals(s.getSpec().suspend) && !due.isAfter(now)) {
            // a backup past its deadline no longer blocks the schedule, even if nothing marked it Failed
            boolean running = mine.stream().anyMatch(b -> (b.getStatus() == null || b.getStatus().phase == null
                    || "Pending".equals(b.getStatus().phase) || "Running".equals(b.getStatus().phase))
                    && !now.toInstant().isAfter(BackupController.deadline(b,
                    b.getStatus() == null ? null : b.getStatus().startedAt)));
            if (running) {
                st.message = "skipped the " + due + " run: the previous backup is still running";
                events.record(s, true, "BackupSkipped", st.message);
            } else {
                KVBackup b = new KVBackup();
                b.setMetadata(new ObjectMetaBuilder().withName(s.getMetadata().getName() + "-" + STAMP.format(due))
                        .withNamespace(ns).withLabels(Map.of(Labels.SCHEDULE, s.getMetadata().getName(),
                                Labels.MANAGED_BY, Labels.OPERATOR))
                        .withOwnerReferences(Resources.owner(s)).build());
                KVBackup.Spec spec = new KVBackup.Spec();
                spec.clusterRef = s.getSpec().clusterRef;
                spec.destination = s.getSpec().destination;
                b.setSpec(spec);
                if (client.resource(b).get() == null) {
                    client.resource(b).create();
                }
                st.lastBackup = b.getMetadata().getName();
                st.message = "created " + b.getMetadata().getName();
            }
            // a missed run is not caught up more than once: the next one is computed from now
            st.lastScheduleTime = (due.isBefore(now.minusMinutes(1)) ? now.withSecond(0).withNano(0) : due)
                    .toInstant().toString();
            due = cron.next(Instant.parse(st.lastScheduleTime).atZone(ZoneOffset.UTC));
        }
        int keep = s.getSpec().retention == null || s.getSpec().retention.keepLast == null ? 7
                : s.getSpec().retention.keepLast;
        List<KVBackup> finished = mine.stream().filter(b -> b.getStatus() != null
                        && ("Completed".equals(b.getStatus().phase) || "Failed".equals(b.getStatus().phase)))
                .sorted(Comparator.comparing((KVBackup b) -> b.getMetadata().getName()).reversed()).toList();
        for (KVBackup old : finished.subList(Math.min(keep, finished.size()), finished.size())) {
            client.resource(old).delete();
        }
        finished.stream().filter(b -> "Completed".equals(b.getStatus().phase)).findFirst()
                .ifPresent(b -> st.lastSuccessfulBackup = b.getMetadata().getName());
        Duration wait = Duration.between(now, due);
        return new Outcome(st, wait.isNegative() ? Duration.ofSeconds(1) : wait.plusSeconds(1));
    }
}
