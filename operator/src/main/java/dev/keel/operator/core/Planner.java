package dev.keel.operator.core;

import dev.keel.operator.core.Action.Downgrade.Kind;
import dev.keel.operator.core.Decision.Event;
import dev.keel.operator.core.Decision.Phase;
import dev.keel.operator.core.Operation.Step;
import dev.keel.operator.core.Operation.Type;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The reconcile state machine as a pure function: given what was observed, the desired state and the operation in
 * flight, the next safe step. No I/O here; {@link Engine} observes and carries the step out.
 *
 * <p>Rules: one membership or version change at a time; every member joins as a learner and is promoted only
 * after it has kept up with the leader (index lag) for a while; a member leaves only after leadership moved off
 * it; nothing is changed while quorum is lost (that is reported, never guessed at); a failed rolling update stops
 * and waits for a person.
 */
public final class Planner {

    private final MemberAddressing addressing;

    public Planner(MemberAddressing addressing) {
        this.addressing = addressing;
    }

    public Decision decide(Observation obs, Policy p, Operation op, String clusterToken) {
        if (p.paused()) {
            return Decision.wait(op, Phase.Paused, "Paused", "reconciliation paused (spec.paused=true)");
        }
        if (!obs.bootstrapped()) {
            return create(obs, p, op, clusterToken);
        }
        if (obs.members() == null) {
            if (op != null && (op.type() == Type.Upgrade || op.type() == Type.Downgrade)
                    && (op.step() == Step.RollCreatePod || op.step() == Step.HealthGate)) {
                // the member being restarted may be the only one (or the one whose absence stops answers):
                // restarting it is how the cluster comes back, so the roll goes on; its gate has a timeout
                return rollUnanswered(obs, p, op);
            }
            return quorumLost(op, "no member answers MemberList");
        }
        Counts c = counts(obs);
        if (op != null) {
            return switch (op.type()) {
                case Create -> Decision.of(Action.NONE, null, Phase.Running, "Created", "cluster bootstrapped");
                case ScaleUp, Replace -> join(obs, p, op, c);
                case ScaleDown -> leave(obs, p, op, c);
                case Upgrade, Downgrade -> roll(obs, p, op, c);
            };
        }
        return idle(obs, p, c, clusterToken);
    }

    // ---------------------------------------------------------------- create

    private Decision create(Observation obs, Policy p, Operation op, String token) {
        Phase phase = p.restoreFrom() != null ? Phase.Restoring : Phase.Creating;
        String seed = p.memberName(0);
        if (!obs.pods().containsKey(0)) {
            Operation next = op != null ? op : Operation.start(Type.Create, Step.SeedStarting, 0, obs.now(), null);
            MemberSpec spec = new MemberSpec(0, seed, p.version(), seed + "=" + addressing.peerUrl(seed), true,
                    token, p.restoreFrom());
            return Decision.of(new Action.CreateMember(spec), next, phase, "SeedCreated",
                    "creating seed member " + seed + (p.restoreFrom() != null ? " from backup " + p.restoreFrom() : ""),
                    Event.normal("SeedCreated", "created seed member " + seed
                            + (p.restoreFrom() != null ? ", restoring " + p.restoreFrom() : "")));
        }
        Operation cur = op != null ? op : Operation.start(Type.Create, Step.SeedStarting, 0, obs.now(), null);
        if (obs.healthOf(seed).healthy() && obs.clusterId() != 0) {
            // bootstrapped: the engine records the cluster id; the next pass scales up to the replicas
            return Decision.of(Action.NONE, null, phase, "Bootstrapped",
                    "seed member " + seed + " is serving; cluster " + Long.toHexString(obs.clusterId()),
                    Event.normal("Bootstrapped", "seed member " + seed + " elected itself leader"));
        }
        return Decision.wait(cur, phase, "WaitingForSeed",
                "waiting for seed member " + seed + " to serve (" + obs.healthOf(seed).error() + ")");
    }

    // ---------------------------------------------------------------- idle: choose the next operation

    private Decision idle(Observation obs, Policy p, Counts c, String token) {
        if (c.quorumLost()) {
            return quorumLost(null, c.healthyVoters + " of " + c.voters.size() + " voting members healthy, "
                    + c.quorum() + " needed");
        }
        // a learner nobody is working on (e.g. the operator stopped between MemberAdd and recording it): finish it
        for (Member m : obs.members()) {
            int k = ordinalOfMember(obs, p, m);
            if (m.learner() && k >= 0) {
                Operation op = Operation.start(Type.ScaleUp, obs.pods().containsKey(k) ? Step.CatchUp : Step.CreatePod,
                        k, obs.now(), null);
                return Decision.wait(op, Phase.Scaling, "LearnerAdopted",
                        "resuming learner " + p.memberName(k) + " found in the member list");
            }
        }
        // a member whose Pod is gone (evicted, deleted by hand) comes back on its volume with its identity
        for (Member m : obs.members()) {
            int k = m.name().isEmpty() ? -1 : p.ordinalOf(m.name());
            if (k >= 0 && !obs.pods().containsKey(k)) {
                String initial = obs.members().stream().map(x -> displayName(p, x) + "=" + x.peerUrl())
                        .collect(Collectors.joining(","));
                MemberSpec spec = new MemberSpec(k, m.name(), versionForNewMember(obs, p), initial, false, null, null);
                return Decision.of(new Action.CreateMember(spec), null, Phase.Degraded, "RecreatingPod",
                        "member " + m.name() + " has no pod; recreating it on its volume",
                        Event.warning("RecreatingPod", "member " + m.name() + " had no pod; recreated it on its"
                                + " volume (same member id)"));
            }
        }
        // a member unhealthy for too long is replaced while the others hold quorum
        if (p.autoReplace()) {
            for (Member m : c.voters) {
                Instant since = obs.unhealthySince().get(m.name());
                if (since != null && !obs.healthy(m)
                        && Duration.between(since, obs.now()).compareTo(p.unhealthyAfter()) >= 0) {
                    int k = p.ordinalOf(m.name());
                    if (k < 0) {
                        continue;
                    }
                    int remaining = c.voters.size() - 1;
                    if (c.healthyVoters < remaining / 2 + 1) {
                        return Decision.wait(null, Phase.Degraded, "ReplaceUnsafe", "member " + m.name()
                                + " unhealthy since " + since + " but replacing it would lose quorum");
                    }
                    Operation op = Operation.start(Type.Replace, Step.RemoveMember, k, obs.now(), null);
                    return Decision.wait(op, Phase.Replacing, "ReplacingMember", "replacing member " + m.name()
                                    + ", unhealthy since " + since,
                            Event.warning("ReplacingMember", "member " + m.name() + " unhealthy since " + since
                                    + " (" + obs.healthOf(m.name()).error() + "); removing it and adding a new learner"));
                }
            }
        }
        // version change
        String current = currentVersion(obs, p);
        if (current != null && !current.equals(p.version())) {
            Version from;
            Version to;
            try {
                from = Version.parse(current);
                to = Version.parse(p.version());
            } catch (IllegalArgumentException e) {
                return Decision.wait(null, Phase.Degraded, "InvalidVersion", e.getMessage());
            }
            switch (Version.classify(from, to)) {
                case INVALID:
                    return Decision.wait(null, Phase.Degraded, "InvalidUpgradePath", "cannot go from " + from + " to "
                            + to + ": only patch changes and one minor up or (with allowDowngrade) down");
                case DOWNGRADE_MINOR:
                    if (!p.allowDowngrade()) {
                        return Decision.wait(null, Phase.Degraded, "DowngradeNotAllowed", "spec.version " + to
                                + " is a minor below " + from + "; set spec.updateStrategy.allowDowngrade=true to downgrade");
                    }
                    if (!allHealthy(obs, c)) {
                        return Decision.wait(null, Phase.Degraded, "WaitingForHealthyMembers",
                                "downgrade to " + to + " waits until every member is healthy");
                    }
                    return Decision.wait(Operation.start(Type.Downgrade, Step.DowngradeValidate, -1, obs.now(),
                            p.version()), Phase.Downgrading, "DowngradeStarted", "downgrading " + from + " -> " + to,
                            Event.normal("DowngradeStarted", "downgrading from " + from + " to " + to));
                default:
                    if (!allHealthy(obs, c)) {
                        return Decision.wait(null, Phase.Degraded, "WaitingForHealthyMembers",
                                "upgrade to " + to + " waits until every member is healthy");
                    }
                    return Decision.wait(Operation.start(Type.Upgrade, Step.NextMember, -1, obs.now(), p.version()),
                            Phase.Upgrading, "UpgradeStarted", "rolling " + from + " -> " + to,
                            Event.normal("UpgradeStarted", "rolling update from " + from + " to " + to));
            }
        }
        // scale
        if (c.voters.size() < p.replicas()) {
            if (!allHealthy(obs, c)) {
                return Decision.wait(null, Phase.Degraded, "WaitingForHealthyMembers",
                        "scale up waits until every member is healthy");
            }
            int k = freeOrdinal(obs, p);
            Operation op = Operation.start(Type.ScaleUp, Step.AddLearner, k, obs.now(), null);
            return Decision.wait(op, Phase.Scaling, "ScalingUp", "adding member " + p.memberName(k) + " ("
                    + c.voters.size() + " -> " + p.replicas() + " voting members)");
        }
        if (c.voters.size() > p.replicas() && p.replicas() >= 1) {
            Member victim = victim(obs, p, c);
            boolean victimHealthy = obs.healthy(victim);
            int remaining = c.voters.size() - 1;
            int healthyAfter = c.healthyVoters - (victimHealthy ? 1 : 0);
            if (healthyAfter < remaining / 2 + 1) {
                return Decision.wait(null, Phase.Degraded, "ScaleDownUnsafe", "removing " + victim.name()
                        + " would leave " + healthyAfter + " healthy of " + remaining + " voting members");
            }
            int k = p.ordinalOf(victim.name());
            Operation op = Operation.start(Type.ScaleDown, Step.MoveLeader, k, obs.now(), null);
            return Decision.wait(op, Phase.Scaling, "ScalingDown", "removing member " + victim.name() + " ("
                    + c.voters.size() + " -> " + p.replicas() + " voting members)");
        }
        // members the operator created but that are not in the member list (removed by hand) keep their pods?
        // No: a workload without a member is cleaned up only by the operation that created it.
        if (!allHealthy(obs, c)) {
            List<String> bad = c.voters.stream().filter(m -> !obs.healthy(m)).map(Member::name).toList();
            return Decision.wait(null, Phase.Degraded, "MemberUnhealthy", "unhealthy: " + bad
                    + (p.autoReplace() ? " (replaced after " + p.unhealthyAfter() + ")" : ""));
        }
        return Decision.wait(null, Phase.Running, "Stable", c.voters.size() + " voting members, all healthy");
    }

    /** A member's ordinal by name, or by peer URL for a learner that has not started (it has no name yet). */
    private int ordinalOfMember(Observation obs, Policy p, Member m) {
        if (!m.name().isEmpty()) {
            return p.ordinalOf(m.name());
        }
        int bound = obs.members().size() + obs.pods().size() + p.replicas() + 8;
        for (int k = 0; k < bound; k++) {
            if (addressing.peerUrl(p.memberName(k)).equals(m.peerUrl())) {
                return k;
            }
        }
        return -1;
    }

    // ---------------------------------------------------------------- learner-first join

    private Decision join(Observation obs, Policy p, Operation op, Counts c) {
        int k = op.ordinal();
        String name = p.memberName(k);
        String peer = addressing.peerUrl(name);
        Member m = byPeer(obs, peer);
        Phase phase = op.type() == Type.Replace ? Phase.Replacing : Phase.Scaling;
        if (c.quorumLost()) {
            return quorumLost(op, "during " + op.type() + " of " + name);
        }
        switch (op.step()) {
            case RemoveMember: { // Replace: the old member goes first
                if (m == null) {
                    return Decision.wait(op.to(Step.DeletePod, obs.now()), phase, "MemberRemoved", name + " removed");
                }
                return Decision.of(new Action.RemoveMember(m.id()), op.to(Step.DeletePod, obs.now()), phase,
                        "RemovingMember", "removing unhealthy member " + name + " (" + Long.toHexString(m.id()) + ")",
                        Event.normal("MemberRemoved", "removed unhealthy member " + name + " from the cluster"));
            }
            case DeletePod: { // Replace: its data is stale, the new member starts empty
                if (obs.pods().containsKey(k)) {
                    return Decision.of(new Action.DeletePod(k, true), op.to(Step.AddLearner, obs.now()), phase,
                            "DeletingPod", "deleting pod and data of " + name);
                }
                return Decision.wait(op.to(Step.AddLearner, obs.now()), phase, "PodDeleted", name + " deleted");
            }
            case AddLearner: {
                if (m != null) {
                    return Decision.wait(op.to(Step.CreatePod, obs.now()), phase, "LearnerAdded",
                            name + " is in the member list");
                }
                if (obs.pods().containsKey(k)) {
                    return Decision.wait(op, phase, "WaitingForOldPod", "waiting for the old pod of " + name
                            + " to go away");
                }
                return Decision.of(new Action.AddLearner(peer), op.to(Step.CreatePod, obs.now()), phase,
                        "AddingLearner", "adding " + name + " as a learner",
                        Event.normal("LearnerAdded", "added " + name + " (" + peer + ") as a learner"));
            }
            case CreatePod: {
                if (m == null) {
                    return Decision.wait(op.to(Step.AddLearner, obs.now()), phase, "LearnerMissing",
                            name + " is not in the member list any more; adding it again");
                }
                if (obs.pods().containsKey(k)) {
                    return Decision.wait(op.to(Step.CatchUp, obs.now()), phase, "LearnerStarting", name + " started");
                }
                String initial = obs.members().stream()
                        .map(x -> (x.id() == m.id() ? name : displayName(p, x)) + "=" + x.peerUrl())
                        .collect(Collectors.joining(","));
                MemberSpec spec = new MemberSpec(k, name, versionForNewMember(obs, p), initial, false, null, null);
                return Decision.of(new Action.CreateMember(spec), op.to(Step.CatchUp, obs.now()), phase,
                        "StartingLearner", "starting learner " + name);
            }
            case CatchUp: {
                if (m == null) {
                    return Decision.wait(op.to(Step.AddLearner, obs.now()), phase, "LearnerMissing",
                            name + " is not in the member list any more; adding it again");
                }
                if (!m.learner()) { // promoted (perhaps by the previous operator instance): done
                    return Decision.of(Action.NONE, null, Phase.Running, "Promoted", name + " is a voting member");
                }
                Duration waited = Duration.between(op.stepSince(), obs.now());
                if (waited.compareTo(p.learnerTimeout()) > 0) {
                    return Decision.wait(op.to(Step.Rollback, obs.now()), Phase.Degraded, "LearnerStuck",
                            "learner " + name + " did not catch up within " + p.learnerTimeout() + "; removing it",
                            Event.warning("LearnerStuck", "learner " + name + " did not catch up within "
                                    + p.learnerTimeout() + (op.lastError() != null ? " (last error: " + op.lastError()
                                    + ")" : "") + "; it is removed and the scale-up retried after "
                                    + p.failureBackoff()));
                }
                Member leader = obs.leader();
                MemberHealth lh = leader == null ? null : obs.healthOf(leader.name());
                MemberHealth h = obs.healthOf(name);
                if (leader == null || !h.reachable()) {
                    return Decision.wait(op.stable(null), phase, "LearnerCatchingUp", "learner " + name
                            + " not answering yet" + (h.error() != null ? " (" + h.error() + ")" : ""));
                }
                long lag = Math.max(0, lh.raftIndex() - h.appliedIndex());
                if (lag > p.maxIndexLag()) {
                    return Decision.wait(op.stable(null), phase, "LearnerCatchingUp", "learner " + name
                            + " is " + lag + " entries behind the leader (max " + p.maxIndexLag() + ")");
                }
                Instant since = op.stableSince() != null ? op.stableSince() : obs.now();
                if (Duration.between(since, obs.now()).compareTo(p.learnerStableFor()) < 0) {
                    return Decision.wait(op.stable(since), phase, "LearnerCaughtUp", "learner " + name + " within "
                            + lag + " entries of the leader since " + since + "; promoting after "
                            + p.learnerStableFor());
                }
                return Decision.of(new Action.Promote(m.id()), null, Phase.Running, "Promoted",
                        "promoted " + name + " to a voting member",
                        Event.normal("MemberPromoted", "promoted learner " + name + " to a voting member"));
            }
            case Rollback: {
                if (m == null) {
                    return Decision.wait(op.to(Step.RollbackDeletePod, obs.now()), Phase.Degraded, "LearnerStuck",
                            "learner " + name + " removed");
                }
                return Decision.of(new Action.RemoveMember(m.id()), op.to(Step.RollbackDeletePod, obs.now()),
                        Phase.Degraded, "LearnerStuck", "removing stuck learner " + name);
            }
            case RollbackDeletePod: {
                Operation done = op.failed("learner " + name + " did not catch up; retrying after "
                        + p.failureBackoff(), obs.now());
                if (obs.pods().containsKey(k)) {
                    return Decision.of(new Action.DeletePod(k, true), done, Phase.Degraded, "LearnerStuck",
                            done.lastError());
                }
                return Decision.wait(done, Phase.Degraded, "LearnerStuck", done.lastError());
            }
            case Failed: {
                if (Duration.between(op.stepSince(), obs.now()).compareTo(p.failureBackoff()) >= 0) {
                    return Decision.wait(null, Phase.Degraded, "RetryingAfterFailure", op.lastError());
                }
                return Decision.wait(op, Phase.Degraded, "LearnerStuck", op.lastError());
            }
            default:
                return Decision.wait(null, Phase.Degraded, "UnknownStep", "dropping unknown step " + op.step());
        }
    }

    // ---------------------------------------------------------------- scale down

    private Decision leave(Observation obs, Policy p, Operation op, Counts c) {
        int k = op.ordinal();
        String name = p.memberName(k);
        Member m = byPeer(obs, addressing.peerUrl(name));
        switch (op.step()) {
            case MoveLeader: {
                if (m == null) {
                    return Decision.wait(op.to(Step.DeletePod, obs.now()), Phase.Scaling, "MemberRemoved",
                            name + " is not in the member list");
                }
                Member leader = obs.leader();
                if (leader == null) {
                    return Decision.wait(op, Phase.Scaling, "WaitingForLeader", "no leader; waiting before removing "
                            + name);
                }
                if (leader.id() != m.id()) {
                    return Decision.wait(op.to(Step.RemoveMember, obs.now()), Phase.Scaling, "LeaderElsewhere",
                            "leader is " + leader.name());
                }
                Optional<Member> target = c.voters.stream().filter(v -> v.id() != m.id() && obs.healthy(v))
                        .max(Comparator.comparingLong(v -> obs.healthOf(v.name()).appliedIndex()));
                if (target.isEmpty()) {
                    return Decision.wait(op, Phase.Degraded, "NoLeaderTransferee",
                            "no healthy voting member to move leadership to from " + name);
                }
                return Decision.of(new Action.MoveLeader(m.id(), target.get().id()), op, Phase.Scaling,
                        "MovingLeader", "moving leadership from " + name + " to " + target.get().name(),
                        Event.normal("LeaderMoved", "moved leadership from " + name + " to " + target.get().name()
                                + " before removing it"));
            }
            case RemoveMember: {
                if (m == null) {
                    return Decision.wait(op.to(Step.DeletePod, obs.now()), Phase.Scaling, "MemberRemoved",
                            name + " removed");
                }
                Member leader = obs.leader();
                if (leader != null && leader.id() == m.id()) { // leadership came back: move it again
                    return Decision.wait(op.to(Step.MoveLeader, obs.now()), Phase.Scaling, "LeaderReturned",
                            name + " became leader again");
                }
                return Decision.of(new Action.RemoveMember(m.id()), op.to(Step.DeletePod, obs.now()), Phase.Scaling,
                        "RemovingMember", "removing " + name,
                        Event.normal("MemberRemoved", "removed " + name + " from the cluster"));
            }
            case DeletePod: {
                if (obs.pods().containsKey(k)) {
                    return Decision.of(new Action.DeletePod(k, p.deletePvcOnScaleDown()), null, Phase.Running,
                            "ScaledDown", "deleted " + name);
                }
                return Decision.of(Action.NONE, null, Phase.Running, "ScaledDown", name + " gone");
            }
            default:
                return Decision.wait(null, Phase.Degraded, "UnknownStep", "dropping unknown step " + op.step());
        }
    }

    // ---------------------------------------------------------------- rolling upgrade / downgrade

    private Decision roll(Observation obs, Policy p, Operation op, Counts c) {
        boolean down = op.type() == Type.Downgrade;
        Phase phase = down ? Phase.Downgrading : Phase.Upgrading;
        String target = op.targetVersion();
        if (op.step() == Step.Failed) {
            if (!target.equals(p.version())) {
                return Decision.wait(null, Phase.Degraded, "UpdateAbandoned", "spec.version changed from " + target
                        + " to " + p.version() + "; the failed update is abandoned");
            }
            return Decision.wait(op, Phase.Degraded, down ? "DowngradeFailed" : "UpgradeStuck", op.lastError());
        }
        if (!target.equals(p.version()) && (op.step() == Step.NextMember || op.step() == Step.DowngradeValidate)) {
            // a new target between two members: stop here (and end a downgrade job), then plan afresh
            if (down && op.step() == Step.NextMember) {
                return Decision.of(new Action.Downgrade(Kind.CANCEL, null), null, Phase.Running, "DowngradeCancelled",
                        "spec.version changed to " + p.version() + "; downgrade to " + target + " cancelled",
                        Event.normal("DowngradeCancelled", "downgrade to " + target + " cancelled by a spec change"));
            }
            return Decision.wait(null, Phase.Running, "UpdateRetargeted", "spec.version changed to " + p.version());
        }
        if (c.quorumLost()) {
            return quorumLost(op, "during the " + (down ? "downgrade" : "upgrade") + " to " + target);
        }
        String minor = Version.parse(target).minorString();
        switch (op.step()) {
            case DowngradeValidate:
                return Decision.of(new Action.Downgrade(Kind.VALIDATE, minor), op.to(Step.DowngradeEnable, obs.now()),
                                phase, "DowngradeValidated", "downgrade to " + minor + " validated")
                        .onFailure(op.failed("Downgrade VALIDATE to " + minor + " refused", obs.now()));
            case DowngradeEnable:
                return Decision.of(new Action.Downgrade(Kind.ENABLE, minor), op.to(Step.NextMember, -1, obs.now()),
                                phase, "DowngradeEnabled", "downgrade to " + minor + " enabled",
                                Event.normal("DowngradeEnabled", "Downgrade ENABLE " + minor + "; rolling members"))
                        .onFailure(op.failed("Downgrade ENABLE to " + minor + " refused", obs.now()));
            case NextMember:
                return nextMember(obs, p, op, c, phase);
            case RollDeletePod: {
                int k = op.ordinal();
                PodState pod = obs.pods().get(k);
                if (pod == null) {
                    return Decision.wait(op.to(Step.RollCreatePod, obs.now()), phase, "PodDeleted",
                            p.memberName(k) + " stopped");
                }
                if (pod.terminating()) {
                    return timeoutOr(obs, p, op, phase, Decision.wait(op, phase, "WaitingForPodDeletion",
                            "waiting for " + p.memberName(k) + " to stop"));
                }
                return Decision.of(new Action.DeletePod(k, false), op.to(Step.RollCreatePod, obs.now()), phase,
                        "RestartingMember", "restarting " + p.memberName(k) + " with version " + target);
            }
            case RollCreatePod: {
                int k = op.ordinal();
                PodState pod = obs.pods().get(k);
                if (pod != null && pod.terminating()) {
                    return timeoutOr(obs, p, op, phase, Decision.wait(op, phase, "WaitingForPodDeletion",
                            "waiting for " + p.memberName(k) + " to stop"));
                }
                if (pod != null) {
                    return Decision.wait(op.to(Step.HealthGate, obs.now()), phase, "MemberRestarted",
                            p.memberName(k) + " restarted");
                }
                String name = p.memberName(k);
                // the data dir exists: the --initial-* flags are ignored, the member keeps its id
                String initial = obs.members().stream().map(x -> displayName(p, x) + "=" + x.peerUrl())
                        .collect(Collectors.joining(","));
                return Decision.of(new Action.CreateMember(new MemberSpec(k, name, target, initial, false, null,
                        null)), op.to(Step.HealthGate, obs.now()), phase, "MemberRestarted",
                        "started " + name + " with version " + target);
            }
            case HealthGate: {
                int k = op.ordinal();
                String name = p.memberName(k);
                PodState pod = obs.pods().get(k);
                Member m = byPeer(obs, addressing.peerUrl(name));
                Member leader = obs.leader();
                MemberHealth h = obs.healthOf(name);
                String blocker = null;
                if (pod == null || !pod.ready()) {
                    blocker = name + " not ready";
                } else if (!target.equals(pod.version())) {
                    blocker = name + " runs " + pod.version();
                } else if (m == null) {
                    blocker = name + " not in the member list";
                } else if (!h.healthy()) {
                    blocker = name + " unhealthy" + (h.error() != null ? " (" + h.error() + ")" : h.leader() == 0
                            ? " (no leader)" : " (alarms " + h.errors() + ")");
                } else if (leader == null) {
                    blocker = "no leader";
                } else {
                    long lag = obs.healthOf(leader.name()).raftIndex() - h.appliedIndex();
                    if (lag > p.maxIndexLag()) {
                        blocker = name + " " + lag + " entries behind the leader";
                    }
                }
                if (blocker != null) {
                    return timeoutOr(obs, p, op, phase, Decision.wait(op.stable(null), phase, "HealthGate",
                            "waiting for " + blocker));
                }
                Instant since = op.stableSince() != null ? op.stableSince() : obs.now();
                if (Duration.between(since, obs.now()).compareTo(p.minReady()) < 0) {
                    return Decision.wait(op.stable(since), phase, "HealthGate", name + " healthy since " + since);
                }
                return Decision.wait(op.to(Step.NextMember, -1, obs.now()), phase, "MemberUpdated",
                        name + " runs " + target,
                        Event.normal("MemberUpdated", name + " runs " + target + " and passed the health gate"));
            }
            default:
                return Decision.wait(null, Phase.Degraded, "UnknownStep", "dropping unknown step " + op.step());
        }
    }

    private Decision nextMember(Observation obs, Policy p, Operation op, Counts c, Phase phase) {
        boolean down = op.type() == Type.Downgrade;
        String target = op.targetVersion();
        List<Member> todo = new ArrayList<>();
        for (Member m : obs.members()) {
            int k = p.ordinalOf(m.name());
            PodState pod = k < 0 ? null : obs.pods().get(k);
            if (pod != null && !target.equals(pod.version())) {
                todo.add(m);
            }
        }
        if (todo.isEmpty()) {
            return Decision.of(Action.NONE, null, Phase.Running, down ? "DowngradeComplete" : "UpgradeComplete",
                    "every member runs " + target,
                    Event.normal(down ? "DowngradeComplete" : "UpgradeComplete", "every member runs " + target));
        }
        if (!allHealthy(obs, c)) {
            return timeoutOr(obs, p, op, phase, Decision.wait(op, phase, "WaitingForHealthyMembers",
                    "the next member is updated once every member is healthy"));
        }
        Member leader = obs.leader();
        if (leader == null) {
            return timeoutOr(obs, p, op, phase, Decision.wait(op, phase, "WaitingForLeader",
                    "the members do not agree on a leader yet; the next member is chosen once they do"));
        }
        // followers first, highest ordinal first; the leader last
        Optional<Member> follower = todo.stream().filter(m -> m.id() != leader.id())
                .max(Comparator.comparingInt(m -> p.ordinalOf(m.name())));
        if (follower.isPresent()) {
            int k = p.ordinalOf(follower.get().name());
            return Decision.wait(op.to(Step.RollDeletePod, k, obs.now()), phase, "UpdatingMember",
                    "updating follower " + follower.get().name() + " to " + target);
        }
        // only the leader is left: hand leadership to an updated healthy voter first (none in a 1-member cluster)
        Optional<Member> updated = c.voters.stream().filter(m -> m.id() != leader.id() && obs.healthy(m))
                .filter(m -> {
                    PodState pod = obs.pods().get(p.ordinalOf(m.name()));
                    return pod != null && target.equals(pod.version());
                }).max(Comparator.comparingLong(m -> obs.healthOf(m.name()).appliedIndex()));
        if (updated.isPresent()) {
            return Decision.of(new Action.MoveLeader(leader.id(), updated.get().id()), op, phase, "MovingLeader",
                    "moving leadership from " + leader.name() + " to " + updated.get().name()
                            + " before updating it",
                    Event.normal("LeaderMoved", "moved leadership from " + leader.name() + " to "
                            + updated.get().name() + " before updating it"));
        }
        if (c.voters.size() > 1) {
            return timeoutOr(obs, p, op, phase, Decision.wait(op, phase, "NoLeaderTransferee",
                    "no updated healthy member to take leadership from " + leader.name()));
        }
        int k = p.ordinalOf(leader.name());
        return Decision.wait(op.to(Step.RollDeletePod, k, obs.now()), phase, "UpdatingMember",
                "updating the only member " + leader.name() + " to " + target);
    }

    private Decision rollUnanswered(Observation obs, Policy p, Operation op) {
        Phase phase = op.type() == Type.Downgrade ? Phase.Downgrading : Phase.Upgrading;
        int k = op.ordinal();
        String name = p.memberName(k);
        PodState pod = obs.pods().get(k);
        if (op.step() == Step.RollCreatePod && pod == null) {
            // the data dir exists, so the --initial-* flags are ignored and the member keeps its identity
            MemberSpec spec = new MemberSpec(k, name, op.targetVersion(), name + "=" + addressing.peerUrl(name),
                    false, null, null);
            return Decision.of(new Action.CreateMember(spec), op.to(Step.HealthGate, obs.now()), phase,
                    "MemberRestarted", "started " + name + " with version " + op.targetVersion());
        }
        Operation next = op.step() == Step.RollCreatePod ? op.to(Step.HealthGate, obs.now()) : op.stable(null);
        return timeoutOr(obs, p, op, phase, Decision.wait(next, phase, "HealthGate", "waiting for " + name
                + " to serve again (no member answers yet)"));
    }

    /** The decision, unless the current step has run past the gate timeout: then the update stops. */
    private Decision timeoutOr(Observation obs, Policy p, Operation op, Phase phase, Decision d) {
        if (Duration.between(op.stepSince(), obs.now()).compareTo(p.gateTimeout()) <= 0) {
            return d;
        }
        boolean down = op.type() == Type.Downgrade;
        String why = (down ? "downgrade" : "upgrade") + " to " + op.targetVersion() + " stopped: " + d.message()
                + " for more than " + p.gateTimeout() + "; members not yet updated are left alone. Fix the member"
                + " or set spec.version back" + (down ? " (Downgrade CANCEL was sent)" : "");
        Operation failed = op.failed(why, obs.now());
        Event e = Event.warning(down ? "DowngradeFailed" : "UpgradeStuck", why);
        if (down) {
            return Decision.of(new Action.Downgrade(Kind.CANCEL, null), failed, Phase.Degraded, "DowngradeFailed",
                    why, e).onFailure(failed);
        }
        return Decision.wait(failed, Phase.Degraded, "UpgradeStuck", why, e);
    }

    // ---------------------------------------------------------------- helpers

    private Decision quorumLost(Operation op, String detail) {
        String msg = "quorum lost: " + detail + ". The operator changes nothing while quorum is lost. Bring the"
                + " failed members back (their data is kept), or create a new KVCluster from a backup"
                + " (spec.bootstrap.restore)";
        return Decision.wait(op, Phase.QuorumLost, "QuorumLost", msg, Event.warning("QuorumLost", msg));
    }

    record Counts(List<Member> voters, int healthyVoters) {
        int quorum() {
            return voters.size() / 2 + 1;
        }

        boolean quorumLost() {
            return healthyVoters < quorum();
        }
    }

    private static Counts counts(Observation obs) {
        List<Member> voters = obs.members().stream().filter(m -> !m.learner()).toList();
        int healthy = (int) voters.stream().filter(obs::healthy).count();
        return new Counts(voters, healthy);
    }

    private static boolean allHealthy(Observation obs, Counts c) {
        return c.healthyVoters == c.voters.size();
    }

    private static Member byPeer(Observation obs, String peerUrl) {
        for (Member m : obs.members()) {
            if (peerUrl.equals(m.peerUrl())) {
                return m;
            }
        }
        return null;
    }

    private String displayName(Policy p, Member m) {
        return m.name().isEmpty() ? "unstarted-" + Long.toHexString(m.id()) : m.name();
    }

    private static int freeOrdinal(Observation obs, Policy p) {
        java.util.Set<Integer> used = new java.util.HashSet<>(obs.pods().keySet());
        for (Member m : obs.members()) {
            used.add(p.ordinalOf(m.name()));
        }
        int k = 0;
        while (used.contains(k)) {
            k++;
        }
        return k;
    }

    /** Unhealthy first, otherwise the highest ordinal. */
    private static Member victim(Observation obs, Policy p, Counts c) {
        return c.voters.stream().max(Comparator.<Member>comparingInt(m -> obs.healthy(m) ? 0 : 1)
                .thenComparingInt(m -> p.ordinalOf(m.name()))).orElseThrow();
    }

    /** The lowest version among the members' workloads (the version new members get outside an update). */
    static String currentVersion(Observation obs, Policy p) {
        Version min = null;
        String text = null;
        for (PodState pod : obs.pods().values()) {
            if (pod.version() == null) {
                continue;
            }
            try {
                Version v = Version.parse(pod.version());
                if (min == null || v.compareTo(min) < 0) {
                    min = v;
                    text = pod.version();
                }
            } catch (IllegalArgumentException e) {
                return pod.version();
            }
        }
        return text;
    }

    private static String versionForNewMember(Observation obs, Policy p) {
        String v = currentVersion(obs, p);
        return v != null ? v : p.version();
    }

    /** Members seen unhealthy, with the time they were first seen so; healthy members drop out. */
    public static Map<String, Instant> trackUnhealthy(Map<String, Instant> previous, Observation obs) {
        Map<String, Instant> next = new java.util.TreeMap<>();
        if (obs.members() == null) {
            return previous == null ? next : new java.util.TreeMap<>(previous);
        }
        for (Member m : obs.members()) {
            if (m.learner() || m.name().isEmpty()) {
                continue;
            }
            if (!obs.healthy(m)) {
                Instant since = previous == null ? null : previous.get(m.name());
                next.put(m.name(), since != null ? since : obs.now());
            }
        }
        return next;
    }
}
