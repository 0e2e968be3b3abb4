package dev.keel.raft;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * What the engine needs to start one member.
 *
 * @param memberId       this member's id (etcd's member id in hex)
 * @param groupSeed      a stable string identifying the cluster (etcd's cluster id in hex); the Raft group id is
 *                       derived from it
 * @param peers          every voting member at bootstrap: member id to "host:port" of its Raft endpoint
 * @param dataDir        directory for the Raft log and snapshot markers (created if missing)
 * @param requestTimeout how long propose/readBarrier may take before failing with {@link RaftException.Timeout}
 * @param snapshotEveryEntries take a snapshot (and let the log be purged) after this many applied entries
 *                             (etcd's --snapshot-count)
 */
public record RaftConfig(String memberId, String groupSeed, Map<String, String> peers, Path dataDir,
                         Duration requestTimeout, long snapshotEveryEntries) {
}
