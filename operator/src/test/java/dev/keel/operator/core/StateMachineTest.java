package dev.keel.operator.core;

import dev.keel.operator.core.Decision.Event;
import dev.keel.operator.core.Decision.Phase;
import dev.keel.operator.core.FakeCluster.M;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The reconcile state machine ({@link Engine} + {@link Planner}) against {@link FakeCluster} with faults. */
class StateMachineTest {

    final FakeCluster f = new FakeCluster("demo");
    Policy policy = Policy.defaults("demo", 3, "3.6.0");
    Engine engine = new Engine(f, f, f, f.clock());
    Engine.State state = Engine.State.initial("demo-token");
    final List<Event> events = new ArrayList<>();
    final List<Decision> decisions = new ArrayList<>();
    Engine.Result last;

    Engine.Result pass() {
        f.tick(Duration.ofSeconds(1));
        last = engine.reconcile(policy, state);
        state = last.state();
        events.addAll(last.events());
        decisions.add(last.decision());
        assertTrue(f.learners().size() <= 1, "more than one learner at a time: " + f.calls);
        return last;
    }

    void runUntil(String what, Predicate<StateMachineTest> done, int maxPasses) {
        for (int i = 0; i < maxPasses; i++) {
            pass();
            if (done.test(this)) {
                return;
            }
        }
        fail("not " + what + " after " + maxPasses + " passes; last: " + last.decision().reason() + ": "
                + last.decision().message() + "\ncalls: " + f.calls);
    }

    boolean stable() {
        return last != null && last.decision().reason().equals("Stable") && state.operation() == null;
    }

    void bootstrap(int n) {
        policy = policy.withReplicas(n);
        runUntil("stable with " + n, t -> t.stable() && f.voters().size() == n, 200);
        f.calls.clear();
        events.clear();
    }

    boolean hasEvent(String reason) {
        return events.stream().anyMatch(e -> e.reason().equals(reason));
    }

    int indexOf(String call) {
        int i = f.calls.indexOf(call);
        assertTrue(i >= 0, "no call '" + call + "' in " + f.calls);
        return i;
    }

    @Test
    void createSeedsOneMemberThenJoinsTheOthersAsLearners() {
        bootstrap(3);
        assertEquals(3, f.voters().size());
        assertTrue(f.learners().isEmpty());
        assertEquals(List.of(0, 1, 2), List.copyOf(f.pods.keySet()));
        assertEquals(0xC1, state.clusterId());

        // a fresh cluster's history: seed, then learner add -> pod -> promote, one member at a time
        FakeCluster g = new FakeCluster("demo");
        Engine e = new Engine(g, g, g, g.clock());
        Engine.State s = Engine.State.initial("t");
        for (int i = 0; i < 200 && g.voters().size() < 3; i++) {
            g.tick(Duration.ofSeconds(1));
            s = e.reconcile(policy, s).state();
        }
        List<String> c = g.calls;
        assertEquals("create demo-0 3.6.0 new", c.get(0));
        assertTrue(c.indexOf("add http://demo-1.peer:2380") < c.indexOf("create demo-1 3.6.0 existing"), c.toString());
        assertTrue(c.indexOf("create demo-1 3.6.0 existing") < c.indexOf("promote demo-1"), c.toString());
        assertTrue(c.indexOf("promote demo-1") < c.indexOf("add http://demo-2.peer:2380"), c.toString());
        assertTrue(c.indexOf("add http://demo-2.peer:2380") < c.indexOf("promote demo-2"), c.toString());
    }

    @Test
    void promotionWaitsForCatchUpHeldForStableFor() {
        bootstrap(1);
        f.learnerCatchUpPerTick = 50; // slow learner: 100+ entries behind for a while
        policy = new Policy("demo", 2, "3.6.0", false, false, 20, Duration.ofSeconds(5), Duration.ofMinutes(15),
                Duration.ofSeconds(10), Duration.ofMinutes(10), true, Duration.ofMinutes(5), true,
                Duration.ofMinutes(1), null);
        runUntil("promoted", t -> f.voters().size() == 2, 200);
        // the promote came at least stableFor after the lag first dropped under the threshold
        List<Decision> caughtUp = decisions.stream().filter(d -> d.reason().equals("LearnerCaughtUp")).toList();
        assertTrue(caughtUp.size() >= 5, "promoted before the lag held for 5 s: " + caughtUp.size());
        assertTrue(decisions.stream().anyMatch(d -> d.reason().equals("LearnerCatchingUp")
                && d.message().contains("entries behind")), "never reported the lag");
        assertTrue(hasEvent("MemberPromoted"));
    }

    @Test
    void stuckLearnerIsRolledBackAndRetriedAfterBackoff() {
        bootstrap(1);
        policy = policy.withReplicas(2);
        f.stuckLearners.add("demo-1");
        runUntil("learner removed", t -> hasEvent("LearnerStuck") && f.members.size() == 1
                && !f.pods.containsKey(1), 2000);
        assertTrue(f.calls.contains("remove demo-1"), f.calls.toString());
        assertTrue(f.calls.contains("delete demo-1 +data"), f.calls.toString());
        assertFalse(f.calls.contains("promote demo-1"), "a stuck learner must not be promoted: " + f.calls);
        assertEquals(Phase.Degraded, last.decision().phase());
        // no retry inside the backoff
        int adds = (int) f.calls.stream().filter(c -> c.startsWith("add ")).count();
        for (int i = 0; i < 30; i++) {
            pass();
        }
        assertEquals(adds, f.calls.stream().filter(c -> c.startsWith("add ")).count(), f.calls.toString());
        // the fault clears: the retry succeeds
        f.stuckLearners.clear();
        runUntil("2 voters", t -> t.stable() && f.voters().size() == 2, 500);
    }

    @Test
    void refusedPromotionIsRetriedThenSucceeds() {
        bootstrap(1);
        policy = policy.withReplicas(2);
        f.promoteRefusals = 3;
        runUntil("2 voters", t -> t.stable() && f.voters().size() == 2, 300);
        assertEquals(4, f.calls.stream().filter(c -> c.equals("promote demo-1")).count(), f.calls.toString());
        assertTrue(events.stream().anyMatch(e -> e.reason().equals("ActionFailed") && e.message().contains("in sync")));
        assertEquals(1, f.calls.stream().filter(c -> c.startsWith("add ")).count(), "learner re-added: " + f.calls);
    }

    @Test
    void promotionRefusedUntilTimeoutRollsBack() {
        bootstrap(1);
        policy = policy.withReplicas(2);
        f.promoteRefusals = Integer.MAX_VALUE;
        runUntil("rolled back", t -> hasEvent("LearnerStuck") && f.members.size() == 1, 2000);
        assertTrue(events.stream().anyMatch(e -> e.reason().equals("LearnerStuck")
                && e.message().contains("in sync with leader")), "the stuck event should carry the refusal: " + events);
    }

    @Test
    void scaleDownMovesLeadershipOffTheVictimFirst() {
        bootstrap(3);
        // make the highest ordinal the leader
        f.leader = f.byName("demo-2").id;
        policy = policy.withReplicas(1);
        runUntil("1 voter", t -> t.stable() && f.voters().size() == 1, 300);
        int move = f.calls.indexOf(f.calls.stream().filter(c -> c.startsWith("moveLeader demo-2->")).findFirst()
                .orElseThrow(() -> new AssertionError("no MoveLeader: " + f.calls)));
        assertTrue(move < indexOf("remove demo-2"));
        assertTrue(indexOf("remove demo-2") < indexOf("delete demo-2 +data"));
        assertTrue(indexOf("delete demo-2 +data") < indexOf("remove demo-1"), "one member at a time");
        assertEquals("demo-0", f.voters().get(0).name);
        assertEquals(List.of(0), List.copyOf(f.pods.keySet()));
    }

    @Test
    void scaleDownKeepsVolumesWhenPolicySaysRetain() {
        bootstrap(2);
        policy = new Policy("demo", 1, "3.6.0", false, false, 1000, Duration.ofSeconds(10), Duration.ofMinutes(15),
                Duration.ofSeconds(10), Duration.ofMinutes(10), true, Duration.ofMinutes(5), false,
                Duration.ofMinutes(1), null);
        runUntil("1 voter", t -> t.stable() && f.voters().size() == 1, 300);
        assertTrue(f.calls.contains("delete demo-1"), f.calls.toString());
    }

    @Test
    void quorumLossIsReportedAndNothingIsTouched() {
        bootstrap(3);
        f.crash("demo-1");
        f.crash("demo-2");
        for (int i = 0; i < 400; i++) { // well past unhealthyAfter
            pass();
        }
        assertEquals(Phase.QuorumLost, last.decision().phase());
        assertTrue(hasEvent("QuorumLost"));
        assertTrue(last.decision().message().contains("restore"), last.decision().message());
        assertTrue(f.calls.isEmpty(), "acted while quorum was lost: " + f.calls);
        // members come back: running again, same members
        f.recover("demo-1");
        f.recover("demo-2");
        runUntil("stable", StateMachineTest::stable, 20);
        assertEquals(3, f.voters().size());
        assertTrue(f.calls.isEmpty(), f.calls.toString());
    }

    @Test
    void memberUnhealthyPastThresholdIsReplaced() {
        bootstrap(3);
        long oldId = f.byName("demo-1").id;
        f.crash("demo-1");
        for (int i = 0; i < 200; i++) { // 200 s < unhealthyAfter (5 min): wait
            pass();
        }
        assertTrue(f.calls.isEmpty(), "replaced too early: " + f.calls);
        assertEquals(Phase.Degraded, last.decision().phase());
        runUntil("replaced", t -> t.stable() && f.voters().size() == 3, 500);
        assertNotEquals(oldId, f.byName("demo-1").id);
        assertTrue(hasEvent("ReplacingMember"));
        assertTrue(indexOf("remove demo-1") < indexOf("delete demo-1 +data"));
        assertTrue(indexOf("delete demo-1 +data") < indexOf("add http://demo-1.peer:2380"));
        assertTrue(indexOf("add http://demo-1.peer:2380") < indexOf("promote demo-1"));
    }

    @Test
    void memberWhosePodVanishedIsRecreatedOnItsVolume() {
        bootstrap(3);
        long id = f.byName("demo-1").id;
        f.pods.remove(1); // evicted
        runUntil("stable", t -> t.stable() && f.pods.containsKey(1), 20);
        assertEquals(List.of("create demo-1 3.6.0 existing"), f.calls);
        assertEquals(id, f.byName("demo-1").id, "same member, not a replacement");
        assertTrue(hasEvent("RecreatingPod"));
    }

    @Test
    void replacementWaitsWhenItWouldLoseQuorum() {
        bootstrap(2); // two voters: quorum 2; replacing one needs the other alone to hold quorum of 1
        f.crash("demo-1");
        for (int i = 0; i < 400; i++) {
            pass();
        }
        // quorum (2 of 2) is lost with one crashed: reported, nothing removed
        assertEquals(Phase.QuorumLost, last.decision().phase());
        assertTrue(f.calls.isEmpty(), f.calls.toString());
    }

    @Test
    void rollingUpgradeFollowersFirstLeaderLastAfterMoveLeader() {
        bootstrap(3);
        String leaderName = f.leaderMember().name;
        policy = policy.withVersion("3.6.1");
        runUntil("upgraded", t -> t.stable() && f.pods.values().stream().allMatch(p -> p.version.equals("3.6.1")),
                500);
        List<String> deletes = f.calls.stream().filter(c -> c.startsWith("delete ")).toList();
        assertEquals(3, deletes.size(), f.calls.toString());
        assertEquals("delete " + leaderName, deletes.get(2), "leader last: " + f.calls);
        List<String> followers = new ArrayList<>(List.of("demo-0", "demo-1", "demo-2"));
        followers.remove(leaderName);
        assertEquals("delete " + followers.get(1), deletes.get(0), "highest follower first: " + f.calls);
        int move = f.calls.indexOf(f.calls.stream().filter(c -> c.startsWith("moveLeader " + leaderName))
                .findFirst().orElseThrow(() -> new AssertionError("no MoveLeader " + f.calls)));
        assertTrue(move < indexOf("delete " + leaderName));
        assertTrue(indexOf("create " + followers.get(1) + " 3.6.1 existing") < indexOf("delete " + followers.get(0)),
                "one member at a time");
        assertTrue(hasEvent("UpgradeComplete"));
        assertEquals(3, f.voters().size());
    }

    @Test
    void leaderLostMidUpgradeWaitsThenFinishesWithTheNewLeaderLast() {
        bootstrap(3);
        policy = policy.withVersion("3.6.1");
        runUntil("first follower restarted", t -> f.calls.stream().anyMatch(c -> c.startsWith("create ")), 100);
        String oldLeader = f.leaderMember().name;
        f.crash(oldLeader); // leader lost mid-upgrade
        int before = f.calls.size();
        for (int i = 0; i < 20; i++) {
            pass();
        }
        // the restarted follower and the third member elect a new leader, but the crashed member is unhealthy:
        // no further member is taken down while one is down
        assertEquals(before, f.calls.size(), "rolled another member while one was down: " + f.calls);
        assertEquals(Phase.Upgrading, last.decision().phase());
        f.recover(oldLeader);
        runUntil("upgraded", t -> t.stable() && f.pods.values().stream().allMatch(p -> p.version.equals("3.6.1")),
                500);
        String newLeaderAtEnd = f.calls.stream().filter(c -> c.startsWith("moveLeader ")).reduce((a, b) -> b)
                .orElseThrow(() -> new AssertionError("leader was not moved before its update: " + f.calls));
        String movedFrom = newLeaderAtEnd.substring("moveLeader ".length(), newLeaderAtEnd.indexOf("->"));
        List<String> deletes = f.calls.stream().filter(c -> c.startsWith("delete ")).toList();
        assertEquals("delete " + movedFrom, deletes.get(deletes.size() - 1), f.calls.toString());
    }

    @Test
    void rollWaitsWhileMembersDisagreeOnTheLeader() {
        bootstrap(3);
        M other = f.voters().stream().filter(m -> m.id != f.leader).findFirst().orElseThrow();
        f.staleLeaderView.put(f.leaderMember().name.equals("demo-2") ? "demo-1" : "demo-2", other.id);
        policy = policy.withVersion("3.6.1");
        for (int i = 0; i < 20; i++) {
            pass();
        }
        assertTrue(f.calls.isEmpty(), "rolled while the leader was unclear: " + f.calls);
        assertEquals("WaitingForLeader", last.decision().reason());
        f.staleLeaderView.clear();
        runUntil("upgraded", t -> t.stable() && f.pods.values().stream().allMatch(p -> p.version.equals("3.6.1")),
                500);
    }

    @Test
    void upgradeStopsWhenAMemberFailsTheGateAndIsRevertedBySpec() {
        bootstrap(3);
        f.brokenVersions.add("3.7.0");
        policy = policy.withVersion("3.7.0");
        runUntil("stuck", t -> hasEvent("UpgradeStuck"), 1500);
        assertEquals(1, f.calls.stream().filter(c -> c.startsWith("delete ")).count(), "went on: " + f.calls);
        assertEquals(2, f.pods.values().stream().filter(p -> p.version.equals("3.6.0")).count());
        for (int i = 0; i < 50; i++) {
            pass();
        }
        assertEquals(1, f.calls.stream().filter(c -> c.startsWith("delete ")).count(), "went on: " + f.calls);
        assertEquals(Phase.Degraded, last.decision().phase());
        // the person sets the version back: the broken member is rolled back
        policy = policy.withVersion("3.6.0");
        runUntil("reverted", t -> t.stable() && f.pods.values().stream().allMatch(p -> p.version.equals("3.6.0")),
                500);
    }

    @Test
    void singleMemberRollGoesOnWhileNothingAnswers() {
        bootstrap(1);
        policy = policy.withVersion("3.6.1");
        runUntil("rolled", t -> t.stable() && f.pods.get(0).version.equals("3.6.1"), 100);
        assertEquals(List.of("delete demo-0", "create demo-0 3.6.1 existing"), f.calls);
        assertFalse(hasEvent("QuorumLost"), events.toString());
    }

    @Test
    void invalidUpgradePathIsRefused() {
        bootstrap(1);
        policy = policy.withVersion("3.8.0");
        for (int i = 0; i < 5; i++) {
            pass();
        }
        assertEquals("InvalidUpgradePath", last.decision().reason());
        assertTrue(f.calls.isEmpty());
    }

    @Test
    void downgradeNeedsOptIn() {
        bootstrap(1);
        policy = policy.withVersion("3.5.0");
        for (int i = 0; i < 5; i++) {
            pass();
        }
        assertEquals("DowngradeNotAllowed", last.decision().reason());
        assertTrue(f.calls.isEmpty());
    }

    @Test
    void downgradeValidatesEnablesThenRolls() {
        bootstrap(3);
        policy = policy.withVersion("3.5.2").withAllowDowngrade(true);
        runUntil("downgraded", t -> t.stable() && f.pods.values().stream().allMatch(p -> p.version.equals("3.5.2")),
                500);
        assertTrue(indexOf("downgrade VALIDATE 3.5") < indexOf("downgrade ENABLE 3.5"));
        int firstDelete = f.calls.indexOf(f.calls.stream().filter(c -> c.startsWith("delete ")).findFirst().orElseThrow());
        assertTrue(indexOf("downgrade ENABLE 3.5") < firstDelete);
        assertFalse(f.calls.stream().anyMatch(c -> c.startsWith("downgrade CANCEL")), f.calls.toString());
        assertTrue(hasEvent("DowngradeComplete"));
    }

    @Test
    void downgradeRefusedByValidateStops() {
        bootstrap(1);
        f.downgradeValidateRefused = true;
        policy = policy.withVersion("3.5.0").withAllowDowngrade(true);
        for (int i = 0; i < 10; i++) {
            pass();
        }
        assertEquals(Operation.Step.Failed, state.operation().step());
        assertFalse(f.calls.contains("downgrade ENABLE 3.5"));
        assertFalse(f.calls.stream().anyMatch(c -> c.startsWith("delete ")));
    }

    @Test
    void downgradeGateFailureCancels() {
        bootstrap(3);
        f.brokenVersions.add("3.5.0");
        policy = policy.withVersion("3.5.0").withAllowDowngrade(true);
        runUntil("failed", t -> hasEvent("DowngradeFailed"), 1500);
        assertTrue(f.calls.contains("downgrade CANCEL"), f.calls.toString());
        assertEquals(1, f.calls.stream().filter(c -> c.startsWith("delete ")).count());
    }

    @Test
    void restartedOperatorResumesTheRecordedOperation() {
        bootstrap(1);
        f.learnerCatchUpPerTick = 5;
        policy = policy.withReplicas(2);
        runUntil("learner started", t -> state.operation() != null
                && state.operation().step() == Operation.Step.CatchUp, 50);
        // a new operator process: new engine, state as persisted in status
        engine = new Engine(f, f, f, f.clock());
        f.learnerCatchUpPerTick = 400;
        runUntil("2 voters", t -> t.stable() && f.voters().size() == 2, 300);
        assertEquals(1, f.calls.stream().filter(c -> c.startsWith("add ")).count(), f.calls.toString());
        assertEquals(1, f.calls.stream().filter(c -> c.startsWith("create demo-1")).count(), f.calls.toString());
    }

    @Test
    void learnerAddedButNotRecordedIsAdopted() {
        bootstrap(1);
        // the previous operator died right after MemberAdd, before persisting the operation
        f.addLearner(List.of(), f.peerUrl("demo-1"));
        f.calls.clear();
        policy = policy.withReplicas(2);
        runUntil("2 voters", t -> t.stable() && f.voters().size() == 2, 300);
        assertFalse(f.calls.stream().anyMatch(c -> c.startsWith("add ")), f.calls.toString());
        assertTrue(f.calls.contains("promote demo-1"));
    }

    @Test
    void pausedDoesNothing() {
        bootstrap(1);
        policy = policy.withReplicas(3).withPaused(true);
        for (int i = 0; i < 5; i++) {
            pass();
        }
        assertEquals(Phase.Paused, last.decision().phase());
        assertTrue(f.calls.isEmpty());
        assertNull(state.operation());
    }
}
