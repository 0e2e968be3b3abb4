package dev.keel.server;

import dev.keel.proto.etcdserverpb.Member;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** etcd's --strict-reconfig-check quorum guards: a member counts as started once it has published its name. */
class StrictReconfigCheckTest {

    private static Member voter(long id, boolean started) {
        return Member.newBuilder().setID(id).setName(started ? "m" + id : "").build();
    }

    private static Member learner(long id) {
        return Member.newBuilder().setID(id).setName("l" + id).setIsLearner(true).build();
    }

    @Test
    void addingAVoterNeedsAQuorumOfStartedVotersAfterwards() {
        assertTrue(Membership.readyToAddVoter(List.of(voter(1, true))), "a single member may add its second");
        assertTrue(Membership.readyToAddVoter(List.of(voter(1, true), voter(2, true))), "2 of 3 started");
        assertFalse(Membership.readyToAddVoter(List.of(voter(1, true), voter(2, false))), "1 of 3 started");
        assertFalse(Membership.readyToAddVoter(List.of(voter(1, true), voter(2, true), voter(3, false))),
                "2 of 4 started, quorum 3");
        assertTrue(Membership.readyToAddVoter(List.of(voter(1, true), voter(2, true), voter(3, true), learner(9))),
                "learners do not count");
    }

    @Test
    void removingKeepsAQuorumOfStartedVotersAmongTheRest() {
        List<Member> three = List.of(voter(1, true), voter(2, true), voter(3, false));
        assertTrue(Membership.readyToRemove(three, 3), "the unstarted one may go: 2 of 2 started");
        assertFalse(Membership.readyToRemove(three, 2), "1 of the remaining 2 started, quorum 2");
        List<Member> withLearner = List.of(voter(1, true), voter(2, false), learner(9));
        assertTrue(Membership.readyToRemove(withLearner, 9), "a learner may always be removed");
        assertFalse(Membership.readyToRemove(withLearner, 1));
    }

    @Test
    void promotingCountsTheLearnerAsStarted() {
        assertTrue(Membership.readyToPromote(List.of(voter(1, true), learner(9))), "2 of 2 started");
        assertTrue(Membership.readyToPromote(List.of(voter(1, true), voter(2, false), learner(9))), "2 of 3");
        assertFalse(Membership.readyToPromote(List.of(voter(1, true), voter(2, false), voter(3, false), learner(9))),
                "2 of 4 started, quorum 3");
    }

    private static String hex(long id) {
        return ClusterIds.hex(id);
    }

    @Test
    void addingNeedsEveryVoterConnectedToTheLeader() {
        List<Member> three = List.of(voter(1, true), voter(2, true), voter(3, true), learner(9));
        assertTrue(Membership.allVotersConnected(three, Map.of(hex(2), 100L, hex(3), 4999L), hex(1)),
                "the leader itself counts; learners are not asked");
        assertFalse(Membership.allVotersConnected(three, Map.of(hex(2), 100L, hex(3), 5001L), hex(1)),
                "member 3 silent for more than 5 s");
        assertFalse(Membership.allVotersConnected(three, Map.of(hex(2), 100L), hex(1)), "member 3 unknown");
    }

    @Test
    void removingKeepsAConnectedQuorumUnlessTheMemberIsDown() {
        List<Member> three = List.of(voter(1, true), voter(2, true), voter(3, true), learner(9));
        Map<String, Long> allUp = Map.of(hex(2), 10L, hex(3), 10L);
        assertTrue(Membership.quorumConnectedAfterRemoval(three, 3, allUp, hex(1)), "2 of the remaining 2");
        Map<String, Long> threeDown = Map.of(hex(2), 10L, hex(3), 60_000L);
        assertTrue(Membership.quorumConnectedAfterRemoval(three, 3, threeDown, hex(1)), "a member that is down");
        assertFalse(Membership.quorumConnectedAfterRemoval(three, 2, threeDown, hex(1)),
                "removing a live member while another is down leaves 1 connected of 2");
        assertFalse(Membership.quorumConnectedAfterRemoval(three, 1, threeDown, hex(1)), "the leader itself");
        assertTrue(Membership.quorumConnectedAfterRemoval(three, 9, Map.of(), hex(1)), "a learner");
        assertTrue(Membership.quorumConnectedAfterRemoval(three, 77, Map.of(), hex(1)), "unknown: not found later");
    }
}
