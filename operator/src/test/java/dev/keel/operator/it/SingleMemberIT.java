package dev.keel.operator.it;

import dev.keel.operator.backup.BackupCommand;
import dev.keel.operator.core.Policy;
import dev.keel.operator.etcd.SnapshotClient;
import dev.keel.proto.etcdserverpb.RangeResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The operator against real single-member clusters on 127.0.0.1: create (seed), a version roll of the only member
 * on its data (stop, start with the new version label, health gate), a backup with the Job's command (streamed
 * Maintenance.Snapshot, trailer checked, revision/size/checksum reported), and a new cluster restored from it (the
 * seed's init-container command, then the member on the restored data).
 */
class SingleMemberIT {

    static Policy fast(String cluster, String version) {
        return new Policy(cluster, 1, version, false, false, 100, Duration.ofSeconds(1), Duration.ofSeconds(60),
                Duration.ofSeconds(1), Duration.ofSeconds(60), false, Duration.ofMinutes(5), true,
                Duration.ofSeconds(10), null);
    }

    @Test
    void createRollBackupAndRestore(@TempDir Path dir) throws Exception {
        Path backup = dir.resolve("backups/src/b1.snap");
        BackupCommand.Result result;
        long clusterId;
        try (ProcessMembers members = new ProcessMembers(dir.resolve("src"))) {
            Files.createDirectories(dir.resolve("src"));
            Driver d = new Driver(members, fast("src", "3.6.0"));
            d.runUntil("seed serving", x -> x.stable() && x.voters() == 1, Duration.ofSeconds(60));
            assertTrue(d.events.stream().anyMatch(e -> e.reason().equals("Bootstrapped")));
            clusterId = d.state.clusterId();
            assertNotEquals(0, clusterId);
            for (int i = 0; i < 50; i++) {
                d.put("src-0", "app/" + i, "v" + i);
            }

            // version roll of the only member: restarted on its data, gated on health
            d.policy = fast("src", "3.6.1");
            d.runUntil("rolled", x -> x.stable() && "3.6.1".equals(x.last.observation().pods().get(0).version()),
                    Duration.ofSeconds(60));
            assertEquals(java.util.List.of("create src-0 3.6.0 new", "delete src-0", "create src-0 3.6.1 existing"),
                    members.calls);
            assertTrue(d.events.stream().anyMatch(e -> e.reason().equals("UpgradeComplete")));
            assertEquals(clusterId, d.state.clusterId());
            assertEquals(50, d.prefix("src-0", "app/", false).getCount(), "data kept across the roll");
            d.put("src-0", "app/last", "x");
            RangeResponse before = d.prefix("src-0", "app/", false);

            // backup: what the KVBackup Job runs
            result = BackupCommand.run(members.clientUrl("src-0"), backup, 60);
            assertEquals(before.getHeader().getRevision(), result.revision());
            assertEquals(Files.size(backup), result.sizeBytes());
            assertEquals(32, result.sizeBytes() % 512, "etcd's trailer layout");
            assertEquals(SnapshotClient.checksum(backup), result.checksum());
            assertEquals("3.6.0", result.serverVersion());
            assertEquals(result.toJson(), BackupCommand.Result.fromJson(result.toJson()).toJson());
            d.put("src-0", "app/after-backup", "not in the backup");
        }

        // restore: a new cluster whose seed starts from the backup
        try (ProcessMembers members = new ProcessMembers(dir.resolve("dst"))) {
            Files.createDirectories(dir.resolve("dst"));
            Driver d = new Driver(members, fast("dst", "3.6.1").withRestoreFrom(backup.toString()));
            d.runUntil("restored seed serving", x -> x.stable() && x.voters() == 1, Duration.ofSeconds(60));
            assertTrue(d.trace.get(0).contains("] Restoring "), d.trace.toString());
            assertNotEquals(clusterId, d.state.clusterId(), "a restore makes a new cluster");
            RangeResponse r = d.prefix("dst-0", "app/", false);
            assertEquals(51, r.getCount());
            assertEquals(result.revision(), r.getHeader().getRevision(), "the backup's revision");
        }

        // a corrupted backup is refused by the restore (the trailer no longer matches)
        byte[] bytes = Files.readAllBytes(backup);
        bytes[100] ^= 0x5a;
        Path bad = dir.resolve("bad.snap");
        Files.write(bad, bytes);
        try (ProcessMembers members = new ProcessMembers(dir.resolve("bad"))) {
            Files.createDirectories(dir.resolve("bad"));
            Driver d = new Driver(members, fast("bad", "3.6.1").withRestoreFrom(bad.toString()));
            d.pass();
            assertTrue(d.last.actionError() != null && d.last.actionError().contains("snapshot restore failed"),
                    String.valueOf(d.last.actionError()));
            assertTrue(members.pods().isEmpty(), "no member started on a refused backup");
        }
    }

    @Test
    void downgradeThroughTheServersDowngradeApiThenQuorumLossIsOnlyReported(@TempDir Path dir) throws Exception {
        try (ProcessMembers members = new ProcessMembers(dir)) {
            Driver d = new Driver(members, fast("dg", "3.6.0"));
            d.runUntil("seed serving", x -> x.stable() && x.voters() == 1, Duration.ofSeconds(60));

            // one minor down without the opt-in: refused, nothing touched
            d.policy = fast("dg", "3.5.0");
            d.pass();
            assertEquals("DowngradeNotAllowed", d.last.decision().reason());
            assertEquals(java.util.List.of("create dg-0 3.6.0 new"), members.calls);

            // with it: Downgrade VALIDATE and ENABLE answered by the server, then the roll
            d.policy = fast("dg", "3.5.0").withAllowDowngrade(true);
            d.runUntil("downgraded", x -> x.stable() && "3.5.0".equals(x.last.observation().pods().get(0).version()),
                    Duration.ofSeconds(60));
            assertTrue(d.trace.stream().anyMatch(l -> l.contains("DowngradeValidated")), d.trace.toString());
            assertTrue(d.trace.stream().anyMatch(l -> l.contains("DowngradeEnabled")), d.trace.toString());
            assertTrue(d.events.stream().noneMatch(e -> e.reason().equals("ActionFailed")), d.events.toString());
            assertTrue(d.events.stream().anyMatch(e -> e.reason().equals("DowngradeComplete")));

            // the only member dies: reported, never "fixed"
            members.calls.clear();
            members.crash(0);
            for (int i = 0; i < 5; i++) {
                d.pass();
                Thread.sleep(200);
            }
            assertEquals(dev.keel.operator.core.Decision.Phase.QuorumLost, d.last.decision().phase());
            assertTrue(d.events.stream().anyMatch(e -> e.reason().equals("QuorumLost")));
            assertTrue(members.calls.isEmpty(), members.calls.toString());
        }
    }
}
