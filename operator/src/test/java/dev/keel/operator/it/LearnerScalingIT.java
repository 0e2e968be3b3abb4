package dev.keel.operator.it;

import dev.keel.operator.core.Member;
import dev.keel.operator.core.Policy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The operator's engine against real Keel server processes on 127.0.0.1: create (seed), scale up learner-first
 * (MemberAdd as learner, catch-up measured by Status, MemberPromote), a rolling restart to a new version label
 * (followers first, MoveLeader, leader last), replacement of a crashed member, and scale down (MoveLeader off the
 * victim, MemberRemove, stop).
 */
class LearnerScalingIT {

    static Policy fast(String cluster, int replicas) {
        return new Policy(cluster, replicas, "3.6.0", false, false, 100, Duration.ofSeconds(2), Duration.ofSeconds(90),
                Duration.ofSeconds(1), Duration.ofSeconds(90), false, Duration.ofMinutes(5), true,
                Duration.ofSeconds(10), null);
    }

    @Test
    void createScaleUpRollAndScaleDown(@TempDir Path dir) throws Exception {
        try (ProcessMembers members = new ProcessMembers(dir)) {
            Driver d = new Driver(members, fast("kc", 1));
            d.runUntil("seed serving", x -> x.stable() && x.voters() == 1, Duration.ofSeconds(60));
            for (int i = 0; i < 300; i++) { // history for the learners to catch up on
                d.put("kc-0", "k/" + i, "v" + i);
            }

            d.policy = fast("kc", 3);
            d.runUntil("3 voters", x -> x.stable() && x.voters() == 3, Duration.ofSeconds(120));
            List<String> c = d.trace;
            assertTrue(c.stream().anyMatch(l -> l.contains("AddingLearner")), String.join("\n", c));
            assertTrue(c.stream().anyMatch(l -> l.contains("LearnerCaughtUp")), String.join("\n", c));
            assertEquals(2, d.events.stream().filter(e -> e.reason().equals("MemberPromoted")).count());
            // every member has every key
            for (String m : List.of("kc-0", "kc-1", "kc-2")) {
                assertEquals(300, d.prefix(m, "k/", true).getCount(), m);
            }

            // rolling update: followers first, leader last after MoveLeader
            members.calls.clear();
            d.policy = new Policy("kc", 3, "3.6.1", false, false, 100, Duration.ofSeconds(2), Duration.ofSeconds(90),
                    Duration.ofSeconds(1), Duration.ofSeconds(90), false, Duration.ofMinutes(5), true,
                    Duration.ofSeconds(10), null);
            d.runUntil("rolled", x -> x.stable() && x.last.observation().pods().values().stream()
                    .allMatch(p -> p.version().equals("3.6.1")), Duration.ofSeconds(150));
            List<String> deletes = members.calls.stream().filter(s -> s.startsWith("delete ")).toList();
            assertEquals(3, deletes.size(), members.calls.toString());
            // no member was restarted while the members agreed it was the leader
            for (String line : d.trace) {
                int i = line.indexOf("RestartingMember: restarting ");
                if (i >= 0) {
                    String member = line.substring(i + "RestartingMember: restarting ".length()).split(" ")[0];
                    assertFalse(line.startsWith("[leader " + member + "]"), line);
                    assertFalse(line.startsWith("[leader ?]"), line);
                }
            }
            d.put(d.last.observation().leader().name(), "after-roll", "x");

            // a member crashes and stays down: replaced (removed, data deleted, a new learner caught up, promoted)
            long oldId = d.last.observation().members().stream().filter(m -> m.name().equals("kc-1")).findFirst()
                    .orElseThrow().id();
            d.policy = new Policy("kc", 3, "3.6.1", false, false, 100, Duration.ofSeconds(2), Duration.ofSeconds(90),
                    Duration.ofSeconds(1), Duration.ofSeconds(90), true, Duration.ofSeconds(3), true,
                    Duration.ofSeconds(10), null);
            members.calls.clear();
            members.crash(1);
            d.runUntil("kc-1 replaced", x -> x.stable() && x.voters() == 3 && x.last.observation().members().stream()
                    .anyMatch(m -> m.name().equals("kc-1") && m.id() != oldId), Duration.ofSeconds(90));
            assertTrue(d.events.stream().anyMatch(e -> e.reason().equals("ReplacingMember")), d.events.toString());
            assertEquals(List.of("delete kc-1 +data", "create kc-1 3.6.1 existing"), members.calls);
            assertEquals(300, d.prefix("kc-1", "k/", true).getCount(), "the replacement has the data");

            // make the highest ordinal the leader: scaling down must move leadership off it before removing it
            long kc2 = d.last.observation().members().stream().filter(m -> m.name().equals("kc-2")).findFirst()
                    .orElseThrow().id();
            d.pass();
            d.api.moveLeader(members.clientUrl(d.last.observation().leader().name()), kc2);
            d.runUntil("kc-2 leads", x -> x.last.observation().leader() != null
                    && x.last.observation().leader().id() == kc2 && x.stable(), Duration.ofSeconds(30));

            // scale down to one member
            d.policy = new Policy("kc", 1, "3.6.1", false, false, 100, Duration.ofSeconds(2), Duration.ofSeconds(90),
                    Duration.ofSeconds(1), Duration.ofSeconds(90), false, Duration.ofMinutes(5), true,
                    Duration.ofSeconds(10), null);
            d.runUntil("1 voter", x -> x.stable() && x.voters() == 1, Duration.ofSeconds(90));
            assertTrue(d.events.stream().anyMatch(e -> e.reason().equals("LeaderMoved")
                    && e.message().startsWith("moved leadership from kc-2")), d.events.toString());
            List<Member> left = d.last.observation().members();
            assertEquals(1, left.size());
            String survivor = left.get(0).name();
            assertEquals(1, members.pods().size());
            assertEquals(300, d.prefix(survivor, "k/", false).getCount());
            assertEquals(1, d.prefix(survivor, "after-roll", false).getCount());
        }
    }
}
