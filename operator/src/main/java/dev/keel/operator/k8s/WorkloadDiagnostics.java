package dev.keel.operator.k8s;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Why a Pod, PVC or Job the operator created is not doing its work, in Kubernetes' own words: the scheduler's
 * {@code Unschedulable} message, a container's waiting reason ({@code ImagePullBackOff}, {@code CrashLoopBackOff},
 * {@code CreateContainerConfigError}...) or last termination, a PVC's phase with the newest event about it
 * (the binder and provisioners say why only in events), a Job's {@code Failed} condition.
 */
public final class WorkloadDiagnostics {

    /** One object and what is wrong with it. */
    public record Issue(String kind, String name, String reason, String message) {
        @Override
        public String toString() {
            return kind + " " + name + " " + reason + (message == null || message.isEmpty() ? "" : ": " + message);
        }
    }

    /** Waiting reasons that are normal steps of a start, not problems. */
    private static final Set<String> STARTING = Set.of("ContainerCreating", "PodInitializing");

    private WorkloadDiagnostics() {
    }

    /** Null when the Pod is Ready, terminating, or simply starting. */
    public static Issue pod(Pod p) {
        if (p.getMetadata().getDeletionTimestamp() != null || p.getStatus() == null) {
            return null;
        }
        String name = p.getMetadata().getName();
        List<PodCondition> conds = p.getStatus().getConditions() == null ? List.of() : p.getStatus().getConditions();
        if (conds.stream().anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()))) {
            return null;
        }
        for (PodCondition c : conds) {
            if ("PodScheduled".equals(c.getType()) && "False".equals(c.getStatus())) {
                return new Issue("Pod", name, c.getReason() == null ? "NotScheduled" : c.getReason(),
                        c.getMessage());
            }
        }
        List<ContainerStatus> statuses = Stream.concat(
                p.getStatus().getInitContainerStatuses() == null ? Stream.<ContainerStatus>empty()
                        : p.getStatus().getInitContainerStatuses().stream(),
                p.getStatus().getContainerStatuses() == null ? Stream.<ContainerStatus>empty()
                        : p.getStatus().getContainerStatuses().stream()).toList();
        for (ContainerStatus cs : statuses) {
            if (cs.getState() != null && cs.getState().getWaiting() != null
                    && cs.getState().getWaiting().getReason() != null
                    && !STARTING.contains(cs.getState().getWaiting().getReason())) {
                String last = cs.getLastState() != null && cs.getLastState().getTerminated() != null
                        ? " (last exit " + cs.getLastState().getTerminated().getExitCode()
                        + (cs.getLastState().getTerminated().getMessage() == null ? ""
                        : ": " + cs.getLastState().getTerminated().getMessage().strip()) + ")" : "";
                return new Issue("Pod", name, cs.getState().getWaiting().getReason(),
                        "container " + cs.getName() + ": "
                                + Objects.requireNonNullElse(cs.getState().getWaiting().getMessage(), "") + last);
            }
            if (cs.getState() != null && cs.getState().getTerminated() != null
                    && cs.getState().getTerminated().getExitCode() != null
                    && cs.getState().getTerminated().getExitCode() != 0) {
                var t = cs.getState().getTerminated();
                return new Issue("Pod", name, t.getReason() == null ? "Error" : t.getReason(),
                        "container " + cs.getName() + " exited " + t.getExitCode()
                                + (t.getMessage() == null ? "" : ": " + t.getMessage().strip()));
            }
        }
        return null;
    }

    /** Null when bound. {@code events}: any events of the namespace; those about this PVC are used. */
    public static Issue pvc(PersistentVolumeClaim pvc, List<Event> events) {
        String phase = pvc.getStatus() == null || pvc.getStatus().getPhase() == null ? "Pending"
                : pvc.getStatus().getPhase();
        if ("Bound".equals(phase)) {
            return null;
        }
        String name = pvc.getMetadata().getName();
        Event last = events.stream().filter(e -> e.getInvolvedObject() != null
                        && "PersistentVolumeClaim".equals(e.getInvolvedObject().getKind())
                        && name.equals(e.getInvolvedObject().getName()))
                .max(Comparator.comparing(WorkloadDiagnostics::time)).orElse(null);
        return new Issue("PVC", name, last == null || last.getReason() == null ? phase : last.getReason(),
                last == null ? "phase " + phase : last.getMessage());
    }

    /** The Job's Failed condition (BackoffLimitExceeded, DeadlineExceeded...), or null. */
    public static Issue jobFailure(Job job) {
        if (job.getStatus() == null || job.getStatus().getConditions() == null) {
            return null;
        }
        for (JobCondition c : job.getStatus().getConditions()) {
            if ("Failed".equals(c.getType()) && "True".equals(c.getStatus())) {
                return new Issue("Job", job.getMetadata().getName(), c.getReason() == null ? "Failed" : c.getReason(),
                        c.getMessage());
            }
        }
        return null;
    }

    /** All issues of a set of Pods and PVCs, Pods first. */
    public static List<Issue> of(List<Pod> pods, List<PersistentVolumeClaim> pvcs, List<Event> events) {
        List<Issue> out = new ArrayList<>();
        for (Pod p : pods) {
            Issue i = pod(p);
            if (i != null) {
                out.add(i);
            }
        }
        for (PersistentVolumeClaim c : pvcs) {
            Issue i = c.getMetadata().getDeletionTimestamp() == null ? pvc(c, events) : null;
            if (i != null) {
                out.add(i);
            }
        }
        return out;
    }

    private static String time(Event e) {
        String t = e.getLastTimestamp() != null ? e.getLastTimestamp()
                : e.getEventTime() != null && e.getEventTime().getTime() != null ? e.getEventTime().getTime()
                : e.getFirstTimestamp() != null ? e.getFirstTimestamp()
                : e.getMetadata() == null ? null : e.getMetadata().getCreationTimestamp();
        return t == null ? "" : t;
    }
}
