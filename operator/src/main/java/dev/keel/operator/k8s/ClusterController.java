package dev.keel.operator.k8s;

import dev.keel.operator.core.ClusterApi;
import dev.keel.operator.core.Decision;
import dev.keel.operator.core.Engine;
import dev.keel.operator.core.Member;
import dev.keel.operator.core.MemberHealth;
import dev.keel.operator.core.Observation;
import dev.keel.operator.core.Operation;
import dev.keel.operator.core.PodState;
import dev.keel.operator.core.Policy;
import dev.keel.operator.crd.KVBackup;
import dev.keel.operator.crd.KVCluster;
import dev.keel.operator.crd.KVClusterSpec;
import dev.keel.operator.crd.KVClusterStatus;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * One reconcile of a KVCluster: the shared objects (peer and client Services, PDB), then one pass of the
 * {@link Engine} over Pods/PVCs and the members' etcd API, then the status. Returns when to look again.
 */
public final class ClusterController {

    public record Outcome(KVClusterStatus status, Duration requeueAfter) { }

    static final Duration MAX_BACKOFF = Duration.ofMinutes(2);

    /** Consecutive passes that waited on the same workload issues (reset when they change or clear). */
    private record Stall(String key, int passes) { }

    private final Map<String, Stall> stalled = new ConcurrentHashMap<>();

    private final KubernetesClient client;
    private final ClusterApi api;
    private final Clock clock;
    private final EventRecorder events;
    private final String domain;

    public ClusterController(KubernetesClient client, ClusterApi api, Clock clock, String domain) {
        this.client = client;
        this.api = api;
        this.clock = clock;
        this.events = new EventRecorder(client, clock);
        this.domain = domain;
    }

    public Outcome reconcile(KVCluster c) {
        String name = c.getMetadata().getName();
        String ns = c.getMetadata().getNamespace();
        KVClusterStatus old = c.getStatus() == null ? new KVClusterStatus() : c.getStatus();
        DnsAddressing addressing = new DnsAddressing(name, ns, domain);
        K8sMemberRuntime runtime = new K8sMemberRuntime(client, c, addressing);

        boolean paused = Boolean.TRUE.equals(c.getSpec().paused);
        if (!paused) { // spec.paused: observe and report only, touch nothing
            ensure(Resources.peerService(c));
            ensure(Resources.clientService(c));
        }

        String token = old.clusterToken != null ? old.clusterToken
                : name + "-" + (c.getMetadata().getUid() == null ? "0" : c.getMetadata().getUid().substring(0,
                Math.min(8, c.getMetadata().getUid().length())));
        Engine.State state = new Engine.State(fromStatus(old.operation), parseId(old.clusterID),
                unhealthy(old), token);
        Engine engine = new Engine(api, runtime, addressing, clock);
        Engine.Result r = engine.reconcile(policy(c), state);

        for (Decision.Event e : r.events()) {
            events.record(c, e.warning(), e.reason(), e.message());
        }
        List<WorkloadDiagnostics.Issue> issues = runtime.issues();
        KVClusterStatus st = status(c, old, r, issues);
        for (WorkloadDiagnostics.Issue i : issues) {
            events.record(c, true, i.reason(), i.toString());
        }
        if (r.observation().members() != null && !paused) {
            for (Member m : r.observation().members()) {
                int k = policy(c).ordinalOf(m.name());
                if (k >= 0 && r.observation().pods().containsKey(k)) {
                    runtime.labelRole(k, m.learner());
                }
            }
        }
        boolean enabled = c.getSpec().podDisruptionBudget == null
                || !Boolean.FALSE.equals(c.getSpec().podDisruptionBudget.enabled);
        if (enabled && !paused) {
            long voters = st.members.stream().filter(m -> "Voter".equals(m.role)).count();
            boolean calm = st.operation == null && st.members.stream().allMatch(m -> Boolean.TRUE.equals(m.healthy));
            ensure(Resources.pdb(c, calm && voters >= 3 ? 1 : 0));
        }
        return new Outcome(st, requeue(c, st, r, issues));
    }

    /**
     * 5 s while an operation is in flight or the cluster is not Running, 30 s otherwise; but while the cluster
     * waits on Kubernetes (a Pod unschedulable, an image not pulled, a PVC unbound) with nothing changing, the
     * interval doubles up to {@link #MAX_BACKOFF}: the informers on the member Pods and PVCs wake the reconciler
     * as soon as one of them changes.
     */
    Duration requeue(KVCluster c, KVClusterStatus st, Engine.Result r, List<WorkloadDiagnostics.Issue> issues) {
        Duration base = st.operation != null || !"Running".equals(st.phase) ? Duration.ofSeconds(5)
                : Duration.ofSeconds(30);
        String uid = c.getMetadata().getUid() == null ? c.getMetadata().getName() : c.getMetadata().getUid();
        if (issues.isEmpty() || r.actionError() != null) {
            stalled.remove(uid);
            return base;
        }
        String key = r.decision().reason() + issues;
        Stall s = stalled.compute(uid, (k, v) -> v != null && v.key().equals(key) ? new Stall(key, v.passes() + 1)
                : new Stall(key, 0));
        long seconds = base.getSeconds() << Math.min(s.passes(), 10);
        return Duration.ofSeconds(Math.min(seconds, MAX_BACKOFF.getSeconds()));
    }

    /** Creates or updates an owned object (no server-side apply). */
    private void ensure(HasMetadata desired) {
        HasMetadata existing = client.resource(desired).get();
        if (existing == null) {
            client.resource(desired).create();
            return;
        }
        if (desired instanceof PodDisruptionBudget pdb && existing instanceof PodDisruptionBudget cur
                && Objects.equals(pdb.getSpec().getMaxUnavailable(), cur.getSpec().getMaxUnavailable())) {
            return;
        }
        if (!(desired instanceof PodDisruptionBudget)) {
            return; // Services: created once; their spec does not follow later spec changes (type aside)
        }
        desired.getMetadata().setResourceVersion(existing.getMetadata().getResourceVersion());
        client.resource(desired).update();
    }

    public static Policy policy(KVCluster c) {
        KVClusterSpec s = c.getSpec();
        KVClusterSpec.LearnerPromotion lp = s.scaling == null || s.scaling.learnerPromotion == null
                ? new KVClusterSpec.LearnerPromotion() : s.scaling.learnerPromotion;
        KVClusterSpec.HealthGate hg = s.updateStrategy == null || s.updateStrategy.healthGate == null
                ? new KVClusterSpec.HealthGate() : s.updateStrategy.healthGate;
        KVClusterSpec.MemberRecovery mr = s.memberRecovery == null ? new KVClusterSpec.MemberRecovery()
                : s.memberRecovery;
        String restore = s.bootstrap != null && s.bootstrap.restore != null && s.bootstrap.restore.backupRef != null
                ? s.bootstrap.restore.backupRef.name : null;
        return new Policy(c.getMetadata().getName(), s.replicas == null ? 3 : s.replicas, s.version,
                s.updateStrategy != null && Boolean.TRUE.equals(s.updateStrategy.allowDowngrade),
                Boolean.TRUE.equals(s.paused), lp.maxIndexLag, Duration.ofSeconds(lp.stableForSeconds),
                Duration.ofSeconds(lp.timeoutSeconds), Duration.ofSeconds(hg.minReadySeconds),
                Duration.ofSeconds(hg.timeoutSeconds), !Boolean.FALSE.equals(mr.autoReplace),
                Duration.ofSeconds(mr.unhealthyAfterSeconds),
                s.storage == null || !"Retain".equals(s.storage.pvcRetentionOnScaleDown), Duration.ofMinutes(1),
                restore);
    }

    private KVClusterStatus status(KVCluster c, KVClusterStatus old, Engine.Result r,
                                   List<WorkloadDiagnostics.Issue> issues) {
        Instant now = clock.instant();
        Observation obs = r.observation();
        Decision d = r.decision();
        Policy p = policy(c);
        KVClusterStatus st = new KVClusterStatus();
        st.observedGeneration = c.getMetadata().getGeneration();
        st.phase = d.phase().name();
        st.message = r.actionError() != null ? d.message() + " (failed: " + r.actionError() + ")"
                : r.state().operation() != null && r.state().operation().lastError() != null
                && r.state().operation().step() != Operation.Step.Failed
                ? d.message() + " (last error: " + r.state().operation().lastError() + ")" : d.message();
        if (!issues.isEmpty()) {
            // the cause first: the seed's name does not resolve because its Pod is not scheduled, and so on
            st.message = issues.stream().map(Object::toString).collect(Collectors.joining("; "))
                    + " — " + st.message;
            for (WorkloadDiagnostics.Issue i : issues) {
                KVClusterStatus.WorkloadIssue w = new KVClusterStatus.WorkloadIssue();
                w.kind = i.kind();
                w.name = i.name();
                w.reason = i.reason();
                w.message = i.message();
                st.workloadIssues.add(w);
            }
        }
        st.clusterID = r.state().clusterId() == 0 ? null : Long.toHexString(r.state().clusterId());
        st.clusterToken = r.state().clusterToken();
        st.selector = Labels.selector(c.getMetadata().getName());
        st.operation = toStatus(r.state().operation(), p);
        Member leader = obs.leader();
        st.leader = leader == null ? null : leader.name();
        String current = null;
        for (PodState pod : obs.pods().values()) {
            if (pod.version() != null && (current == null || compare(pod.version(), current) < 0)) {
                current = pod.version();
            }
        }
        st.currentVersion = current;
        int ready = 0;
        int voters = 0;
        int healthyVoters = 0;
        if (obs.members() != null) {
            for (Member m : obs.members()) {
                KVClusterStatus.MemberStatus ms = new KVClusterStatus.MemberStatus();
                int k = m.name().isEmpty() ? -1 : p.ordinalOf(m.name());
                ms.name = m.name().isEmpty() ? "(learner not started) " + m.peerUrl() : m.name();
                ms.id = Long.toHexString(m.id());
                ms.role = m.learner() ? "Learner" : "Voter";
                MemberHealth h = obs.healthOf(m.name());
                ms.healthy = h.healthy();
                ms.version = h.reachable() ? h.version() : null;
                ms.raftAppliedIndex = h.reachable() ? h.appliedIndex() : null;
                ms.error = h.error();
                Instant since = r.state().unhealthySince().get(m.name());
                ms.unhealthySince = since == null ? null : since.toString();
                st.members.add(ms);
                if (!m.learner()) {
                    voters++;
                    if (h.healthy()) {
                        healthyVoters++;
                    }
                    PodState pod = k < 0 ? null : obs.pods().get(k);
                    if (pod != null && pod.ready()) {
                        ready++;
                    }
                }
            }
        }
        st.readyMembers = ready;
        st.lastSuccessfulBackup = lastBackup(c);

        List<io.fabric8.kubernetes.api.model.Condition> conds = new ArrayList<>(old.conditions == null ? List.of()
                : old.conditions);
        Long gen = c.getMetadata().getGeneration();
        boolean available = st.clusterID != null && voters > 0 && healthyVoters >= voters / 2 + 1;
        Operation op = r.state().operation();
        boolean progressing = op != null && op.step() != Operation.Step.Failed;
        boolean degraded = d.phase() == Decision.Phase.Degraded || d.phase() == Decision.Phase.QuorumLost;
        boolean readyCond = available && !degraded && !progressing && voters == p.replicas()
                && healthyVoters == voters && d.phase() == Decision.Phase.Running;
        Conditions.set(conds, "Ready", readyCond, readyCond ? "ClusterReady" : d.reason(),
                readyCond ? voters + " of " + p.replicas() + " members healthy" : st.message, gen, now);
        Conditions.set(conds, "Available", available, available ? "QuorumHealthy"
                        : st.clusterID == null ? "NotBootstrapped" : "QuorumLost",
                healthyVoters + " of " + voters + " voting members healthy", gen, now);
        Conditions.set(conds, "Progressing", progressing, progressing ? op.type().name() : d.reason(),
                progressing ? op.type() + " " + op.step() + ": " + d.message() : d.message(), gen, now);
        Conditions.set(conds, "Degraded", degraded, degraded ? d.reason() : "AsExpected",
                degraded ? st.message : "", gen, now);
        st.conditions = conds;
        return st;
    }

    private KVClusterStatus.LastBackup lastBackup(KVCluster c) {
        try {
            return client.resources(KVBackup.class).inNamespace(c.getMetadata().getNamespace()).list().getItems()
                    .stream()
                    .filter(b -> b.getSpec() != null && b.getSpec().clusterRef != null
                            && c.getMetadata().getName().equals(b.getSpec().clusterRef.name))
                    .filter(b -> b.getStatus() != null && "Completed".equals(b.getStatus().phase)
                            && b.getStatus().completedAt != null)
                    .max(Comparator.comparing(b -> b.getStatus().completedAt))
                    .map(b -> {
                        KVClusterStatus.LastBackup lb = new KVClusterStatus.LastBackup();
                        lb.name = b.getMetadata().getName();
                        lb.time = b.getStatus().completedAt;
                        lb.revision = b.getStatus().revision;
                        return lb;
                    }).orElse(null);
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static int compare(String a, String b) {
        try {
            return dev.keel.operator.core.Version.parse(a).compareTo(dev.keel.operator.core.Version.parse(b));
        } catch (IllegalArgumentException e) {
            return a.compareTo(b);
        }
    }

    static long parseId(String hex) {
        return hex == null || hex.isEmpty() ? 0 : Long.parseUnsignedLong(hex, 16);
    }

    private static Map<String, Instant> unhealthy(KVClusterStatus old) {
        Map<String, Instant> m = new LinkedHashMap<>();
        if (old.members != null) {
            for (KVClusterStatus.MemberStatus ms : old.members) {
                if (ms.unhealthySince != null && ms.name != null) {
                    m.put(ms.name, Instant.parse(ms.unhealthySince));
                }
            }
        }
        return m;
    }

    static Operation fromStatus(KVClusterStatus.OperationStatus s) {
        if (s == null || s.type == null) {
            return null;
        }
        return new Operation(Operation.Type.valueOf(s.type), Operation.Step.valueOf(s.step),
                s.ordinal == null ? -1 : s.ordinal, instant(s.startedAt), instant(s.stepSince), instant(s.stableSince),
                s.targetVersion, s.attempts == null ? 0 : s.attempts, s.lastError);
    }

    static KVClusterStatus.OperationStatus toStatus(Operation op, Policy p) {
        if (op == null) {
            return null;
        }
        KVClusterStatus.OperationStatus s = new KVClusterStatus.OperationStatus();
        s.type = op.type().name();
        s.step = op.step().name();
        s.ordinal = op.ordinal();
        s.member = op.ordinal() >= 0 ? p.memberName(op.ordinal()) : null;
        s.startedAt = str(op.startedAt());
        s.stepSince = str(op.stepSince());
        s.stableSince = str(op.stableSince());
        s.targetVersion = op.targetVersion();
        s.attempts = op.attempts();
        s.lastError = op.lastError();
        return s;
    }

    private static Instant instant(String s) {
        return s == null ? null : Instant.parse(s);
    }

    private static String str(Instant i) {
        return i == null ? null : i.toString();
    }
}
