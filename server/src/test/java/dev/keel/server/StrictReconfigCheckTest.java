package dev.keel.server;

import dev.keel.proto.etcdserverpb.Member;
import org.junit.jupiter.api.Test;

import java.util.List;

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
}
