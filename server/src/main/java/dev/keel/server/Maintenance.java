package dev.keel.server;

import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.mvcc.MvccStore;
import dev.keel.proto.etcdserverpb.AlarmRequest;
import dev.keel.proto.etcdserverpb.AlarmResponse;
import dev.keel.proto.etcdserverpb.AlarmType;
import dev.keel.proto.etcdserverpb.DefragmentResponse;
import dev.keel.proto.etcdserverpb.DowngradeRequest;
import dev.keel.proto.etcdserverpb.DowngradeResponse;
import dev.keel.proto.etcdserverpb.HashKVRequest;
import dev.keel.proto.etcdserverpb.HashKVResponse;
import dev.keel.proto.etcdserverpb.HashResponse;
import dev.keel.proto.etcdserverpb.MoveLeaderRequest;
import dev.keel.proto.etcdserverpb.MoveLeaderResponse;
import dev.keel.proto.internal.DowngradeInfoSet;
import dev.keel.proto.internal.InternalRequest;
import dev.keel.proto.internal.InternalResponse;
import dev.keel.raft.RaftNode;
import dev.keel.raft.RaftStatus;
import dev.keel.storage.Storage;
import org.jboss.logging.Logger;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * The Maintenance service of one member (etcd's v3rpc/maintenance.go with the server parts it calls): Hash,
 * HashKV, Defragment, Alarm, MoveLeader, Downgrade, plus the backend quota on the write path and what Status
 * reports about alarms and downgrades. State changes (alarms, the downgrade job) go through the Raft log.
 */
public final class Maintenance {

    private static final Logger LOG = Logger.getLogger(Maintenance.class);

    /** How often the write path measures the database for the quota (in between it adds up admitted costs). */
    static final long QUOTA_REFRESH_NANOS = 100_000_000L;

    /** Meta keys that differ between members holding the same data: left out of Maintenance.Hash. */
    private static final List<byte[]> HASH_IGNORED = List.of(
            "raft/applied".getBytes(StandardCharsets.UTF_8),            // Applier: applied index and term
            "mvcc/compact_finished".getBytes(StandardCharsets.UTF_8));  // MvccStore: background removal progress

    private final EtcdServer server;
    private final Storage storage;
    private final MvccStore mvcc;
    private final RaftNode raft;
    private final AlarmStore alarms;
    private final DowngradeState downgrade;
    private final BackendQuota quota;
    private final Executor readers;
    private final Function<InternalRequest.Builder, CompletableFuture<InternalResponse>> propose;

    /**
     * @param propose proposes an entry and completes with what its apply produced (failing with the apply's
     *                error, as EtcdServer's own writes do)
     */
    Maintenance(EtcdServer server, Storage storage, MvccStore mvcc, RaftNode raft, AlarmStore alarms,
                DowngradeState downgrade, BackendQuota quota, Executor readers,
                Function<InternalRequest.Builder, CompletableFuture<InternalResponse>> propose) {
        this.server = server;
        this.storage = storage;
        this.mvcc = mvcc;
        this.raft = raft;
        this.alarms = alarms;
        this.downgrade = downgrade;
        this.quota = quota;
        this.readers = readers;
        this.propose = propose;
    }

    // ---- quota -------------------------------------------------------------------------------------------

    /**
     * etcd's quota check on the write path (v3rpc/quota.go), before any validation: null if a request of this
     * cost fits; otherwise the failure to return, once this member's NOSPACE alarm has been raised through the
     * log (as in etcd, the caller learns of the full database only after the alarm is in place).
     */
    <T> CompletableFuture<T> overQuota(int cost) {
        if (quota.admit(cost)) {
            return null;
        }
        CompletableFuture<T> failed = CompletableFuture.failedFuture(EtcdError.NO_SPACE.exception());
        if (alarms.isActive(AlarmType.NOSPACE, server.memberId())) {
            return failed;
        }
        LOG.warnf("database size exceeds the backend quota (%d bytes); raising alarm NOSPACE",
                server.config().quotaBackendBytes());
        AlarmRequest raise = AlarmRequest.newBuilder().setMemberID(server.memberId())
                .setAction(AlarmRequest.AlarmAction.ACTIVATE).setAlarm(AlarmType.NOSPACE).build();
        return propose.apply(InternalRequest.newBuilder().setAlarm(raise))
                .handle((v, err) -> null)
                .thenCompose(v -> failed);
    }

    // ---- Status ------------------------------------------------------------------------------------------

    /** Status.errors: "etcdserver: no leader" without a leader, then every active alarm as etcd prints it. */
    List<String> statusErrors(RaftStatus rs) {
        List<String> out = new ArrayList<>();
        if (rs.leaderId() == null) {
            out.add(EtcdError.NO_LEADER.message());
        }
        alarms.list().forEach(a -> out.add(AlarmStore.format(a)));
        return out;
    }

    /**
     * The cluster version as etcd prints it ("3.6.0"): this build's, or the target of an enabled downgrade. The
     * storage version follows it, as etcd's version monitor keeps them equal.
     */
    public String clusterVersion() {
        return downgrade.currentClusterVersion().semver();
    }

    /** Status.downgradeInfo. */
    dev.keel.proto.etcdserverpb.DowngradeInfo downgradeInfo() {
        return downgrade.info();
    }

    /** The active alarms. */
    public List<dev.keel.proto.etcdserverpb.AlarmMember> alarms() {
        return alarms.list();
    }

    // ---- Hash / HashKV -------------------------------------------------------------------------------------

    /** Maintenance.Hash: a CRC-32C over every column of the backend (not comparable with etcd's value). */
    public CompletableFuture<HashResponse> hash() {
        return CompletableFuture.supplyAsync(() -> {
            long started = System.nanoTime();
            long rev = mvcc.currentRevision();
            int h = storage.hash((column, key) -> column.equals(MvccStore.META_COLUMN)
                    && HASH_IGNORED.stream().anyMatch(k -> Arrays.equals(k, key)));
            dev.keel.metrics.Metrics.HASH_DURATION.observeNanos(System.nanoTime() - started);
            return HashResponse.newBuilder().setHeader(server.header(rev)).setHash(h).build();
        }, readers);
    }

    /** Maintenance.HashKV: etcd's hash of the MVCC history up to a revision (0: the current one). */
    public CompletableFuture<HashKVResponse> hashKv(HashKVRequest r) {
        return CompletableFuture.supplyAsync(() -> {
            long started = System.nanoTime();
            MvccStore.HashKvResult res = mvcc.hashByRev(r.getRevision());
            dev.keel.metrics.Metrics.HASH_REV_DURATION.observeNanos(System.nanoTime() - started);
            return HashKVResponse.newBuilder()
                    .setHeader(server.header(res.currentRevision()))
                    .setHash(res.hash().hash())
                    .setCompactRevision(res.hash().compactRevision())
                    .setHashRevision(res.hash().revision())
                    .build();
        }, readers);
    }

    // ---- Defragment ----------------------------------------------------------------------------------------

    /** Maintenance.Defragment: rewrites the database so the space of removed history is given back. */
    public CompletableFuture<DefragmentResponse> defragment() {
        return CompletableFuture.supplyAsync(() -> {
            long before = storage.sizeOnDisk();
            long started = System.nanoTime();
            dev.keel.metrics.Metrics.DEFRAG_INFLIGHT.inc();
            try {
                storage.defragment();
            } finally {
                dev.keel.metrics.Metrics.DEFRAG_INFLIGHT.dec();
            }
            dev.keel.metrics.Metrics.DEFRAG_DURATION.observeNanos(System.nanoTime() - started);
            quota.invalidate();
            LOG.infof("defragmented: %d -> %d bytes in %d ms", before, storage.sizeOnDisk(),
                    (System.nanoTime() - started) / 1_000_000);
            return DefragmentResponse.getDefaultInstance(); // etcd sends no header
        }, readers);
    }

    // ---- Snapshot ----------------------------------------------------------------------------------------

    /**
     * Maintenance.Snapshot: a stream over a consistent point-in-time view of the whole database. Opening it
     * reads the view once to size it; call from a thread that may block, not from the apply thread.
     */
    public SnapshotStream snapshot() {
        return new SnapshotStream(storage, server::header);
    }

    // ---- Alarm -------------------------------------------------------------------------------------------

    /** Maintenance.Alarm: every action goes through the log (as in etcd), so all members answer alike. */
    public CompletableFuture<AlarmResponse> alarm(AlarmRequest r) {
        return propose.apply(InternalRequest.newBuilder().setAlarm(r))
                .thenApply(resp -> resp.getAlarm().toBuilder().setHeader(server.header(mvcc.currentRevision()))
                        .build());
    }

    // ---- MoveLeader ----------------------------------------------------------------------------------------

    /**
     * Maintenance.MoveLeader: only the leader may transfer leadership, and only to a known member. To the
     * leader itself it succeeds at once, as in etcd (raft ignores the transfer, the leader already is the
     * target).
     */
    public CompletableFuture<MoveLeaderResponse> moveLeader(MoveLeaderRequest r) {
        if (!raft.status().isLeader()) {
            return CompletableFuture.failedFuture(EtcdError.NOT_LEADER.exception());
        }
        boolean known = server.members().stream().anyMatch(m -> m.getID() == r.getTargetID() && !m.getIsLearner());
        if (!known) {
            return CompletableFuture.failedFuture(EtcdError.BAD_LEADER_TRANSFEREE.exception());
        }
        if (r.getTargetID() == server.memberId()) {
            return CompletableFuture.completedFuture(MoveLeaderResponse.getDefaultInstance()); // etcd: no header
        }
        // etcd waits for the transfer up to its request timeout; its answer has no header
        return raft.transferLeadership(ClusterIds.hex(r.getTargetID()), java.time.Duration.ofSeconds(5))
                .handle((v, err) -> {
                    if (err == null) {
                        return MoveLeaderResponse.getDefaultInstance();
                    }
                    EtcdException e = Errors.toEtcd(err);
                    if (e != null && e.getMessage().equals(EtcdError.NOT_LEADER.message())) {
                        throw e;
                    }
                    LOG.warnf("leadership transfer to %s failed: %s", ClusterIds.hex(r.getTargetID()), err);
                    throw EtcdError.TIMEOUT_LEADER_TRANSFER.exception();
                });
    }

    // ---- Downgrade ---------------------------------------------------------------------------------------

    /** Maintenance.Downgrade with etcd 3.6's rules (server/etcdserver/v3_server.go, version/). */
    public CompletableFuture<DowngradeResponse> downgrade(DowngradeRequest r) {
        DowngradeResponse answer;
        DowngradeState.MajorMinor target;
        try {
            target = switch (r.getAction()) {
                case VALIDATE, ENABLE -> DowngradeState.parseTarget(r.getVersion());
                case CANCEL -> null;
                default -> throw EtcdError.UNKNOWN_METHOD.exception();
            };
            answer = DowngradeResponse.newBuilder().setVersion(downgrade.currentClusterVersion().cluster()).build();
        } catch (EtcdException e) {
            return CompletableFuture.failedFuture(e);
        }
        CompletableFuture<DowngradeResponse> out = switch (r.getAction()) {
            case VALIDATE -> raft.readBarrier().thenApply(v -> {
                downgrade.validate(target);
                return answer;
            });
            case ENABLE -> raft.readBarrier().thenCompose(v -> {
                downgrade.validate(target);
                return propose.apply(InternalRequest.newBuilder().setDowngradeInfoSet(
                        DowngradeInfoSet.newBuilder().setEnabled(true).setVer(target.semver())));
            }).thenApply(v -> answer);
            // etcd only logs why a cancel failed (e.g. "no inflight downgrade job") and answers success
            default -> raft.readBarrier().thenCompose(v -> {
                if (!downgrade.info().getEnabled()) {
                    throw EtcdError.NO_INFLIGHT_DOWNGRADE.exception();
                }
                return propose.apply(InternalRequest.newBuilder().setDowngradeInfoSet(
                        DowngradeInfoSet.newBuilder().setEnabled(false)));
            }).handle((v, err) -> {
                if (err != null) {
                    LOG.warnf("failed to cancel downgrade: %s", rootMessage(err));
                }
                return answer;
            });
        };
        return out.thenApply(resp -> resp.toBuilder().setHeader(server.header(mvcc.currentRevision())).build());
    }

    private static String rootMessage(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage();
    }
}
