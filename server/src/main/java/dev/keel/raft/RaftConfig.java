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
 * @param peers          the voting members this member starts with: member id to "host:port" of its Raft endpoint.
 *                       Only used when the member has no Raft state yet; afterwards the log's configuration rules.
 * @param learners       non-voting members this member starts with (same form); a member joining an existing
 *                       cluster lists itself here and the current voters in {@code peers}
 * @param bindAddress    "host:port" the Raft endpoint listens on (etcd's --listen-peer-urls); null: this member's
 *                       own address in {@code peers} / {@code learners}
 * @param dataDir        directory for the Raft log and snapshot markers (created if missing)
 * @param requestTimeout how long propose/readBarrier may take before failing with {@link RaftException.Timeout}
 * @param snapshotEveryEntries take a snapshot (and let the log be purged) after this many applied entries
 *                             (etcd's --snapshot-count)
 */
public record RaftConfig(String memberId, String groupSeed, Map<String, String> peers, Map<String, String> learners,
                         String bindAddress, Path dataDir, Duration requestTimeout, long snapshotEveryEntries) {

    /** A member of a cluster bootstrapped with {@code peers}, listening on its own address. */
    public RaftConfig(String memberId, String groupSeed, Map<String, String> peers, Path dataDir,
                      Duration requestTimeout, long snapshotEveryEntries) {
        this(memberId, groupSeed, peers, Map.of(), null, dataDir, requestTimeout, snapshotEveryEntries);
    }

    /** This member's own Raft address as the others reach it. */
    String selfAddress() {
        String a = peers.get(memberId);
        return a != null ? a : learners.get(memberId);
    }
}
