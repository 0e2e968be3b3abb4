package dev.keel.raft;

import dev.keel.metrics.Metrics;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.raftlog.RaftLog;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotInfo;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.apache.ratis.util.LifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Adapts a {@link StateMachineApplier} to Ratis' {@code StateMachine}.
 *
 * <ul>
 *   <li>Only {@code StateMachineLogEntry} entries reach the applier; Ratis' own configuration and no-op entries only
 *       advance the last-applied position (Ratis calls {@code notifyTermIndexUpdated} for them).</li>
 *   <li>On start the position Ratis replays from is the later of the snapshot marker and the applier's persisted
 *       {@code (appliedTerm, appliedIndex)}, so entries the applier already has are not even read back; entries at or
 *       below {@link StateMachineApplier#appliedIndex()} are skipped in {@link #applyTransaction} as well.</li>
 *   <li>{@link #takeSnapshot()} calls {@link StateMachineApplier#persist()} and writes the marker, after which Ratis
 *       may purge the log.</li>
 *   <li>An exception thrown by the applier is fatal: a member that cannot apply a committed entry must not go on
 *       applying later ones. The exception propagates into Ratis' apply loop, which closes the server (fail-stop).</li>
 * </ul>
 *
 * <p>A follower too far behind installs a copy of the leader's state (see {@link #notifyInstallSnapshotFromLeader}).
 */
final class KeelStateMachine extends BaseStateMachine {
    private static final Logger LOG = LoggerFactory.getLogger(KeelStateMachine.class);
    private static final long INSTALL_ERROR_LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final StateMachineApplier applier;
    private final SnapshotMarkerStorage storage = new SnapshotMarkerStorage();
    private final AtomicLong lastInstallErrorLog = new AtomicLong(System.nanoTime() - INSTALL_ERROR_LOG_INTERVAL_NANOS);
    private volatile Throwable applyFailure;

    KeelStateMachine(StateMachineApplier applier) {
        this.applier = Objects.requireNonNull(applier, "applier");
    }

    /** The last leader reported by Ratis, for etcd_server_leader_changes_seen_total. */
    private RaftPeerId lastLeader;

    /** etcd counts a leader change whenever a leader is known and differs from the one before. */
    @Override
    public synchronized void notifyLeaderChanged(RaftGroupMemberId groupMemberId, RaftPeerId newLeaderId) {
        if (newLeaderId != null && !newLeaderId.equals(lastLeader)) {
            Metrics.LEADER_CHANGES.inc();
        }
        if (newLeaderId != null) {
            lastLeader = newLeaderId;
        }
    }

    /** The applier exception that stopped this member, or null. */
    Throwable applyFailure() {
        return applyFailure;
    }

    @Override
    public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage) throws IOException {
        getLifeCycle().startAndTransition(() -> {
            super.initialize(server, groupId, raftStorage);
            storage.init(raftStorage);
            restorePosition("initialize");
        }, IOException.class);
    }

    /**
     * Tells Ratis where the durable state stands: the later of the snapshot marker and the applier's persisted
     * position. Fails if the applier has lost state that the marker says was durable (the log before the marker may
     * be purged, so those entries cannot be replayed).
     */
    private void restorePosition(String when) throws IOException {
        final SnapshotMarkerStorage.Marker marker = storage.readMarker();
        final long appliedIndex = applier.appliedIndex();
        final long appliedTerm = applier.appliedTerm();
        if (marker != null && appliedIndex < marker.applierIndex()) {
            throw new IOException("State machine data is behind the Raft snapshot marker: the applier reports "
                    + "appliedIndex=" + appliedIndex + " but " + storage.markerPath() + " records that index "
                    + marker.applierIndex() + " was made durable, and the Raft log before it may have been purged. "
                    + "The state machine data was lost or replaced; restore it or wipe this member's Raft directory.");
        }
        TermIndex position = marker == null ? null : marker.termIndex();
        if (appliedIndex > 0 && (position == null || appliedIndex > position.getIndex())) {
            position = TermIndex.valueOf(appliedTerm, appliedIndex);
        }
        storage.setLatest(position);
        setLastAppliedTermIndex(position == null ? TermIndex.INITIAL_VALUE : position);
        LOG.info("{}: {}: marker={}, applier at (term={}, index={}); Raft resumes after {}", getId(), when, marker,
                appliedTerm, appliedIndex, position);
    }

    @Override
    public StateMachineStorage getStateMachineStorage() {
        return storage;
    }

    @Override
    public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
        final LogEntryProto entry = trx.getLogEntry();
        final long index = entry.getIndex();
        final long term = entry.getTerm();
        byte[] result = null;
        if (index > applier.appliedIndex()) {
            final byte[] command = entry.getStateMachineLogEntry().getLogData().toByteArray();
            try {
                result = applier.apply(index, term, command);
            } catch (Throwable t) {
                applyFailure = t;
                LOG.error("{}: FATAL: the state machine failed to apply committed entry (term={}, index={}); this "
                        + "member stops so that it does not diverge from the others", getId(), term, index, t);
                throw new IllegalStateException("apply failed at index " + index, t);
            }
        }
        updateLastAppliedTermIndex(term, index);
        return CompletableFuture.completedFuture(
                result == null ? Message.EMPTY : Message.valueOf(UnsafeByteOperations.unsafeWrap(result)));
    }

    /**
     * Read barriers carry no query: reaching this point means the read index has been applied. A non-empty query
     * (a joining member's, see {@link RatisRaftNode#discover}) is answered by the applier.
     */
    @Override
    public CompletableFuture<Message> query(Message request) {
        if (request.getContent().isEmpty()) {
            return CompletableFuture.completedFuture(Message.EMPTY);
        }
        try {
            final byte[] out = applier.query(request.getContent().toByteArray());
            return CompletableFuture.completedFuture(Message.valueOf(UnsafeByteOperations.unsafeWrap(out)));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public long takeSnapshot() throws IOException {
        final long applierIndexBefore = applier.appliedIndex();
        final long persisted = applier.persist();
        final TermIndex last = getLastAppliedTermIndex();
        if (last == null || last.getIndex() <= 0) {
            return RaftLog.INVALID_LOG_INDEX;
        }
        final TermIndex covered;
        if (persisted >= applierIndexBefore) {
            // Everything applied so far is durable; entries after the applier's last one are Ratis-internal.
            covered = last;
        } else {
            covered = termIndexInLog(persisted);
            if (covered == null) {
                LOG.warn("{}: applier persisted up to {} (< applied {}), whose term is no longer in the log; "
                        + "skipping this snapshot", getId(), persisted, applierIndexBefore);
                return RaftLog.INVALID_LOG_INDEX;
            }
        }
        final SnapshotInfo previous = storage.getLatestSnapshot();
        if (previous != null && covered.getIndex() <= previous.getIndex()) {
            return RaftLog.INVALID_LOG_INDEX; // nothing new is covered
        }
        storage.writeMarker(new SnapshotMarkerStorage.Marker(covered.getTerm(), covered.getIndex(), persisted));
        LOG.info("{}: snapshot marker written at {} (applier persisted {})", getId(), covered, persisted);
        return covered.getIndex();
    }

    private TermIndex termIndexInLog(long index) {
        if (index <= 0) {
            return null;
        }
        try {
            return getServer().join().getDivision(getGroupId()).getRaftLog().getTermIndex(index);
        } catch (IOException | RuntimeException e) {
            LOG.warn("{}: cannot look up the term of index {}", getId(), index, e);
            return null;
        }
    }

    @Override
    public void pause() {
        final LifeCycle lc = getLifeCycle();
        if (lc.getCurrentState() == LifeCycle.State.RUNNING) {
            lc.transition(LifeCycle.State.PAUSING);
            lc.transition(LifeCycle.State.PAUSED);
        }
    }

    @Override
    public void reinitialize() throws IOException {
        restorePosition("reinitialize");
        final LifeCycle lc = getLifeCycle();
        if (lc.getCurrentState() == LifeCycle.State.PAUSED) {
            lc.transition(LifeCycle.State.STARTING);
            lc.transition(LifeCycle.State.RUNNING);
        }
    }

    /**
     * The leader has purged the log entries this follower still needs and asks it to install a snapshot: the
     * applier copies the leader's state ({@link StateMachineApplier#installSnapshot}) and Ratis resumes the log
     * after the copy's position (it then pauses and {@link #reinitialize reinitializes} this state machine, which
     * picks the position up from the applier). A failure is logged (at most every 10 s) and the leader asks again.
     */
    @Override
    public CompletableFuture<TermIndex> notifyInstallSnapshotFromLeader(RoleInfoProto roleInfoProto,
                                                                        TermIndex firstTermIndexInLog) {
        final String leader = roleInfoProto.hasFollowerInfo()
                ? RaftPeerId.valueOf(roleInfoProto.getFollowerInfo().getLeaderInfo().getId().getId()).toString()
                : null;
        if (leader == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("no leader to install a snapshot from"));
        }
        LOG.info("{}: the leader {} no longer has the entries this member needs (its log starts at {}, this member "
                + "applied {}); installing a copy of the leader's state", getId(), leader, firstTermIndexInLog,
                getLastAppliedTermIndex());
        return applier.installSnapshot(leader).handle((v, err) -> {
            if (err != null) {
                final long now = System.nanoTime();
                final long last = lastInstallErrorLog.get();
                if (now - last >= INSTALL_ERROR_LOG_INTERVAL_NANOS && lastInstallErrorLog.compareAndSet(last, now)) {
                    LOG.error("{}: installing the leader's state failed; the leader will ask again", getId(), err);
                }
                throw err instanceof java.util.concurrent.CompletionException ce ? ce
                        : new java.util.concurrent.CompletionException(err);
            }
            final TermIndex installed = TermIndex.valueOf(applier.appliedTerm(), applier.appliedIndex());
            LOG.info("{}: installed the leader's state at {}", getId(), installed);
            return installed;
        });
    }
}
