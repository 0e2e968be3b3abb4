package dev.keel.operator.core;

import dev.keel.operator.core.Decision.Event;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One reconcile pass over a cluster: observe (MemberList, Status on every member, the workloads), ask the
 * {@link Planner}, carry out the one action, and return what to persist. The caller persists {@link Result#state()}
 * (the KVCluster's status in Kubernetes) before the next pass.
 */
public final class Engine {

    /** What the engine keeps between passes (persisted in the KVCluster's status). */
    public record State(Operation operation, long clusterId, Map<String, Instant> unhealthySince,
                        String clusterToken) {
        public static State initial(String token) {
            return new State(null, 0, Map.of(), token);
        }
    }

    public record Result(State state, Decision decision, Observation observation, String actionError,
                         List<Event> events) { }

    private final ClusterApi api;
    private final MemberRuntime runtime;
    private final MemberAddressing addressing;
    private final Planner planner;
    private final Clock clock;

    public Engine(ClusterApi api, MemberRuntime runtime, MemberAddressing addressing, Clock clock) {
        this.api = api;
        this.runtime = runtime;
        this.addressing = addressing;
        this.planner = new Planner(addressing);
        this.clock = clock;
    }

    public Result reconcile(Policy policy, State state) {
        Observation obs = observe(policy, state);
        Map<String, Instant> unhealthy = Planner.trackUnhealthy(state.unhealthySince(), obs);
        obs = new Observation(obs.now(), obs.members(), obs.clusterId(), obs.health(), obs.pods(), unhealthy,
                obs.bootstrapped());
        Decision d = planner.decide(obs, policy, state.operation(), state.clusterToken());
        long clusterId = state.clusterId() != 0 ? state.clusterId()
                : (d.reason().equals("Bootstrapped") ? obs.clusterId() : 0);
        List<Event> events = new ArrayList<>(d.events());
        String error = null;
        Operation next = d.next();
        try {
            execute(d.action(), policy, obs);
        } catch (RuntimeException e) {
            error = e.getMessage() == null ? e.toString() : e.getMessage();
            Operation cur = state.operation();
            next = d.onFailure() != null ? d.onFailure() : cur == null ? null : cur.failedAttempt(error);
            events.clear();
            events.add(Event.warning("ActionFailed", describe(d.action()) + " failed: " + error));
        }
        return new Result(new State(next, clusterId, unhealthy, state.clusterToken()), d, obs, error, events);
    }

    Observation observe(Policy policy, State state) {
        Instant now = clock.instant();
        Map<Integer, PodState> pods = runtime.pods();
        Set<String> urls = new LinkedHashSet<>();
        for (int k : pods.keySet()) {
            urls.add(addressing.clientUrl(policy.memberName(k)));
        }
        List<Member> members = null;
        long clusterId = 0;
        try {
            if (!urls.isEmpty()) {
                ClusterApi.MemberListing listing = api.memberList(List.copyOf(urls));
                members = listing.members();
                clusterId = listing.clusterId();
            }
        } catch (RuntimeException e) {
            members = null;
        }
        Map<String, MemberHealth> health = new HashMap<>();
        Set<String> names = new LinkedHashSet<>();
        for (int k : pods.keySet()) {
            names.add(policy.memberName(k));
        }
        if (members != null) {
            for (Member m : members) {
                if (!m.name().isEmpty()) {
                    names.add(m.name());
                }
            }
        }
        for (String name : names) {
            health.put(name, pods.containsKey(policy.ordinalOf(name)) || policy.ordinalOf(name) < 0
                    ? api.status(addressing.clientUrl(name)) : MemberHealth.unreachable("no pod"));
        }
        boolean bootstrapped = state.clusterId() != 0;
        return new Observation(now, members, clusterId, health, pods, state.unhealthySince(), bootstrapped);
    }

    private void execute(Action action, Policy policy, Observation obs) {
        List<String> healthy = healthyUrls(obs);
        if (action instanceof Action.CreateMember c) {
            runtime.create(c.spec());
        } else if (action instanceof Action.DeletePod d) {
            runtime.delete(d.ordinal(), d.deleteData());
        } else if (action instanceof Action.AddLearner a) {
            api.addLearner(healthy, a.peerUrl());
        } else if (action instanceof Action.Promote p) {
            api.promote(healthy, p.memberId());
        } else if (action instanceof Action.RemoveMember r) {
            api.remove(without(obs, healthy, r.memberId()), r.memberId());
        } else if (action instanceof Action.MoveLeader m) {
            api.moveLeader(urlOf(obs, m.leaderId()), m.targetId());
        } else if (action instanceof Action.Downgrade g) {
            api.downgrade(healthy, g.kind(), g.version());
        }
    }

    private List<String> healthyUrls(Observation obs) {
        List<String> out = new ArrayList<>();
        if (obs.members() != null) {
            Member leader = obs.leader();
            if (leader != null) {
                out.add(addressing.clientUrl(leader.name()));
            }
            for (Member m : obs.members()) {
                if (!m.learner() && obs.healthy(m) && (leader == null || m.id() != leader.id())) {
                    out.add(addressing.clientUrl(m.name()));
                }
            }
        }
        return out;
    }

    /** Membership changes about a member are sent through the others. */
    private List<String> without(Observation obs, List<String> urls, long memberId) {
        List<String> out = new ArrayList<>(urls);
        for (Member m : obs.members()) {
            if (m.id() == memberId && !m.name().isEmpty()) {
                out.remove(addressing.clientUrl(m.name()));
            }
        }
        return out.isEmpty() ? urls : out;
    }

    private String urlOf(Observation obs, long id) {
        for (Member m : obs.members()) {
            if (m.id() == id) {
                return addressing.clientUrl(m.name());
            }
        }
        throw new ClusterApi.ClusterApiException("member " + Long.toHexString(id) + " not in the member list");
    }

    static String describe(Action a) {
        if (a instanceof Action.CreateMember c) {
            return "creating " + c.spec().name();
        } else if (a instanceof Action.DeletePod d) {
            return "deleting member workload " + d.ordinal();
        } else if (a instanceof Action.AddLearner l) {
            return "MemberAdd(learner " + l.peerUrl() + ")";
        } else if (a instanceof Action.Promote p) {
            return "MemberPromote(" + Long.toHexString(p.memberId()) + ")";
        } else if (a instanceof Action.RemoveMember r) {
            return "MemberRemove(" + Long.toHexString(r.memberId()) + ")";
        } else if (a instanceof Action.MoveLeader m) {
            return "MoveLeader(" + Long.toHexString(m.targetId()) + ")";
        } else if (a instanceof Action.Downgrade g) {
            return "Downgrade " + g.kind() + (g.version() != null ? " " + g.version() : "");
        }
        return "nothing";
    }
}
