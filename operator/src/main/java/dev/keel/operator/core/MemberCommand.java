package dev.keel.operator.core;

import java.util.ArrayList;
import java.util.List;

/**
 * The server's command line for a member, in etcd's flags: one renderer for the Pods and for the processes of the
 * integration tests, so what the tests start is what Kubernetes starts.
 */
public final class MemberCommand {

    /** Server options from the KVCluster's spec (null = the server's default). */
    public record Options(Long quotaBackendBytes, Long snapshotCount, Integer heartbeatIntervalMs,
                          Integer electionTimeoutMs) {
        public static final Options DEFAULTS = new Options(null, null, null, null);
    }

    private MemberCommand() {
    }

    public static List<String> serverFlags(MemberSpec spec, MemberAddressing a, String dataDir, Options o) {
        List<String> f = new ArrayList<>();
        f.add("--name=" + spec.name());
        f.add("--data-dir=" + dataDir);
        f.add("--listen-client-urls=" + a.listenClientUrl(spec.name()));
        f.add("--advertise-client-urls=" + a.clientUrl(spec.name()));
        f.add("--listen-peer-urls=" + a.listenPeerUrl(spec.name()));
        f.add("--initial-advertise-peer-urls=" + a.peerUrl(spec.name()));
        f.add("--initial-cluster=" + spec.initialCluster());
        f.add("--initial-cluster-state=" + (spec.newCluster() ? "new" : "existing"));
        if (spec.clusterToken() != null) {
            f.add("--initial-cluster-token=" + spec.clusterToken());
        }
        if (o.quotaBackendBytes() != null) {
            f.add("--quota-backend-bytes=" + o.quotaBackendBytes());
        }
        if (o.snapshotCount() != null) {
            f.add("--snapshot-count=" + o.snapshotCount());
        }
        if (o.heartbeatIntervalMs() != null) {
            f.add("--heartbeat-interval=" + o.heartbeatIntervalMs());
        }
        if (o.electionTimeoutMs() != null) {
            f.add("--election-timeout=" + o.electionTimeoutMs());
        }
        return f;
    }

    /** {@code snapshot restore} arguments (etcdutl's) that seed an empty data dir from a backup file. */
    public static List<String> restoreArgs(MemberSpec spec, MemberAddressing a, String snapshotFile, String dataDir) {
        List<String> f = new ArrayList<>();
        f.add("snapshot");
        f.add("restore");
        f.add(snapshotFile);
        f.add("--name=" + spec.name());
        f.add("--data-dir=" + dataDir);
        f.add("--initial-cluster=" + spec.initialCluster());
        f.add("--initial-advertise-peer-urls=" + a.peerUrl(spec.name()));
        if (spec.clusterToken() != null) {
            f.add("--initial-cluster-token=" + spec.clusterToken());
        }
        return f;
    }
}
