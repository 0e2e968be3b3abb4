package dev.keel.server;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.lease.Lessor;
import dev.keel.membership.MemberStore;
import dev.keel.metrics.Metrics;
import dev.keel.proto.etcdserverpb.Member;
import dev.keel.proto.internal.MemberChangeResponse;
import dev.keel.mvcc.KvApplier;
import dev.keel.mvcc.MvccStore;
import dev.keel.proto.internal.InternalBatch;
import dev.keel.proto.internal.InternalBatchResponse;
import dev.keel.proto.internal.InternalRequest;
import dev.keel.proto.internal.InternalResponse;
import dev.keel.proto.internal.LeaderAnswer;
import dev.keel.proto.internal.LeaderQuery;
import dev.keel.raft.StateMachineApplier;
import dev.keel.storage.Storage;
import org.jboss.logging.Logger;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * Applies committed log entries to the member's state, deterministically and in log order. Each entry's changes
 * and its (index, term) go to disk in one batch; entries at or below the persisted index are skipped, so a replay
 * after a crash applies each entry exactly once.
 */
final class Applier implements StateMachineApplier {

    private static final Logger LOG = Logger.getLogger(Applier.class);
    /**
     * Test hook (fault injection): a Put of this key fails to apply as if the disk failed. Set only by tests, through
     * the environment variable {@code KEEL_TEST_APPLY_IO_FAULT_KEY}; unset in production.
     */
    private static final com.google.protobuf.ByteString IO_FAULT_KEY =
            System.getenv("KEEL_TEST_APPLY_IO_FAULT_KEY") == null ? null
                    : com.google.protobuf.ByteString.copyFromUtf8(System.getenv("KEEL_TEST_APPLY_IO_FAULT_KEY"));
    /**
     * The answer to a request whose apply failed on a fault (a bug) and was rolled back. The same on every member
     * (the exception's own text may name member-specific details), so every member's response is identical.
     */
    static final String APPLY_FAILED = "etcdserver: request failed to apply and was rolled back (server fault)";
    /** Meta key of the applied (index, term); never part of a snapshot (a restored member starts a new log). */
    static final byte[] APPLIED = "raft/applied".getBytes();

    private final Storage storage;
    private final Storage.Column meta;
    private final MvccStore mvcc;
    private final KvApplier kv;
    private final Lessor lessor;
    private final LeaseApplier leases;
    private final AlarmStore alarms;
    private final DowngradeState downgrade;
    private final dev.keel.auth.AuthStore authStore;
    private final AuthApplier auth;
    private final MemberStore members;
    private volatile long appliedIndex;
    private volatile long appliedTerm;

    Applier(Storage storage, MvccStore mvcc, KvApplier kv, Lessor lessor, AlarmStore alarms,
            DowngradeState downgrade, MemberStore members, dev.keel.auth.AuthStore authStore) {
        this.members = members;
        this.storage = storage;
        this.authStore = authStore;
        this.auth = new AuthApplier(authStore, lessor);
        this.alarms = alarms;
        this.downgrade = downgrade;
        this.meta = storage.column(MvccStore.META_COLUMN);
        this.mvcc = mvcc;
        this.kv = kv;
        this.lessor = lessor;
        this.leases = new LeaseApplier(lessor);
        byte[] b = storage.get(meta, APPLIED);
        if (SnapshotInstaller.interrupted(storage)) {
            // partial data of an interrupted snapshot install (discarded at startup): nothing counts as applied
            LOG.error("a snapshot install from the leader did not complete: applied index 0 until one does");
            b = null;
        }
        if (b != null) {
            ByteBuffer bb = ByteBuffer.wrap(b);
            appliedIndex = bb.getLong();
            appliedTerm = bb.getLong();
        }
    }

    @Override
    public long appliedIndex() {
        return appliedIndex;
    }

    @Override
    public long appliedTerm() {
        return appliedTerm;
    }

    @Override
    public byte[] apply(long index, long term, byte[] command) {
        if (index <= appliedIndex) {
            return null;
        }
        InternalBatch batch;
        try {
            batch = NestingLimits.parse(InternalBatch.parser(), command);
        } catch (InvalidProtocolBufferException e) {
            LOG.errorf("entry %d is not a valid request batch; skipping it", index);
            batch = InternalBatch.getDefaultInstance();
        }
        MvccStore.Writer writer = mvcc.writer();
        InternalBatchResponse.Builder out = InternalBatchResponse.newBuilder();
        for (InternalRequest req : batch.getRequestsList()) {
            out.addResponses(applyOne(index, req, writer));
        }
        try (Storage.Batch rows = storage.newBatch()) {
            writer.commit(rows);
            lessor.commit(rows);
            alarms.commit(rows);
            downgrade.commit(rows);
            authStore.commit(rows);
            members.commit(rows);
            rows.put(meta, APPLIED, ByteBuffer.allocate(16).putLong(index).putLong(term).array());
            long t0 = System.nanoTime();
            storage.write(rows);
            Metrics.BACKEND_COMMIT.observeNanos(System.nanoTime() - t0);
        }
        writer.publish();
        appliedTerm = term;
        appliedIndex = index;
        return out.build().toByteArray();
    }

    private InternalResponse applyOne(long index, InternalRequest req, MvccStore.Writer writer) {
        long t0 = System.nanoTime();
        try {
            return applyOneTimed(index, req, writer);
        } finally {
            if (System.nanoTime() - t0 > Metrics.SLOW_APPLY_NANOS) {
                Metrics.SLOW_APPLIES.inc(); // etcd: "apply request took too long"
            }
        }
    }

    private InternalResponse applyOneTimed(long index, InternalRequest req, MvccStore.Writer writer) {
        MvccStore.WriteTxn txn = writer.begin();
        InternalResponse.Builder resp = InternalResponse.newBuilder();
        int seen = writer.events().size();
        try {
            dispatch(index, req, txn, resp);
            leases.track(writer.events(), seen); // keys written or deleted move to / leave their leases
        } catch (EtcdException e) {
            if (txn.changes() != 0 && !txn.rollback()) {
                // The in-memory index already holds changes that will never reach disk and cannot be taken
                // back; continuing would serve a state no other member has.
                LOG.fatalf(e, "entry %d failed after changing state; stopping to protect consistency", index);
                Runtime.getRuntime().halt(70);
            }
            resp.clear().setErrorCode(e.code()).setErrorMessage(e.getMessage());
        } catch (RuntimeException e) {
            // Isolation boundary: a fault inside applying one request (a bug, deterministic, so every member
            // hits it at the same place) fails that request alone, rolled back, with the same answer everywhere.
            // The environment failing (RocksDB I/O: StorageException; Errors such as OutOfMemoryError are not
            // caught here) is not deterministic: it propagates and stops this member.
            if (e instanceof dev.keel.storage.StorageException || !txn.rollback()) {
                throw e;
            }
            LOG.errorf(e, "entry %d: a %s request failed to apply and was rolled back; the other requests of the "
                    + "entry are applied", index, req.getRequestCase());
            resp.clear().setErrorCode(EtcdError.Codes.INTERNAL).setErrorMessage(APPLY_FAILED);
        } finally {
            txn.end();
        }
        return resp.build();
    }

    private void dispatch(long index, InternalRequest req, MvccStore.WriteTxn txn, InternalResponse.Builder resp) {
        if (IO_FAULT_KEY != null && req.hasPut() && req.getPut().getKey().equals(IO_FAULT_KEY)) {
            throw new dev.keel.storage.StorageException("injected I/O error (KEEL_TEST_APPLY_IO_FAULT_KEY)", null);
        }
        alarms.checkApply(req); // NOSPACE / CORRUPT refuse some requests before they change anything
        auth.check(req); // the proposer's permissions as of this point of the log
        if (auth.apply(index, req, resp, dev.keel.proto.etcdserverpb.ResponseHeader.newBuilder()
                .setRevision(txn.revision()).build())) {
            return;
        }
        switch (req.getRequestCase()) {
            case PUT -> resp.setPut(kv.put(txn, req.getPut()));
            case DELETE_RANGE -> resp.setDeleteRange(kv.deleteRange(txn, req.getDeleteRange()));
            case TXN -> resp.setTxn(kv.txn(txn, req.getTxn()));
            case COMPACTION -> resp.setCompaction(kv.compact(txn, req.getCompaction()));
            case LEASE_GRANT -> resp.setLeaseGrant(leases.grant(txn, req.getLeaseGrant()));
            case LEASE_REVOKE -> resp.setLeaseRevoke(leases.revoke(txn, req.getLeaseRevoke()));
            case LEASE_CHECKPOINT -> resp.setLeaseCheckpoint(leases.checkpoint(txn, req.getLeaseCheckpoint()));
            case ALARM -> resp.setAlarm(alarms.apply(req.getAlarm()));
            case DOWNGRADE_INFO_SET -> downgrade.apply(req.getDowngradeInfoSet());
            case MEMBER_BOOTSTRAP -> members.bootstrap(req.getMemberBootstrap());
            case MEMBER_CHANGE -> {
                Member m = members.apply(req.getMemberChange());
                MemberChangeResponse.Builder b = MemberChangeResponse.newBuilder().addAllMembers(members.members());
                if (m != null) {
                    b.setMember(m);
                }
                resp.setMemberChange(b);
            }
            default -> throw new EtcdException(EtcdError.Codes.UNIMPLEMENTED,
                    "etcdserver: unsupported request " + req.getRequestCase());
        }
    }

    /** Answers the questions other members ask this one outside the log (set once while the member is built). */
    private volatile java.util.function.Function<LeaderQuery, CompletableFuture<LeaderAnswer>> questions;

    void questions(java.util.function.Function<LeaderQuery, CompletableFuture<LeaderAnswer>> answerer) {
        this.questions = answerer;
    }

    /** A question asked outside the log: the member list (a joining member) or one for the leader (see LeaderQuestions). */
    @Override
    public CompletableFuture<byte[]> query(byte[] request) {
        final LeaderQuery q;
        try {
            q = LeaderQuery.parseFrom(request);
        } catch (InvalidProtocolBufferException e) {
            return CompletableFuture.completedFuture(LeaderQuestions.error(new EtcdException(
                    EtcdError.Codes.INVALID_ARGUMENT, "keel: malformed question: " + e.getMessage())).toByteArray());
        }
        if (q.getQueryCase() == LeaderQuery.QueryCase.MEMBER_LIST) {
            return CompletableFuture.completedFuture(LeaderAnswer.newBuilder()
                    .setMembers(MemberChangeResponse.newBuilder().addAllMembers(members.members())).build()
                    .toByteArray());
        }
        final var answerer = questions;
        if (answerer == null || q.getQueryCase() == LeaderQuery.QueryCase.QUERY_NOT_SET) {
            return CompletableFuture.completedFuture(LeaderQuestions.unsupported(q).toByteArray());
        }
        return answerer.apply(q).thenApply(LeaderAnswer::toByteArray);
    }

    @Override
    public long persist() {
        long index = appliedIndex;
        storage.flush();
        return index;
    }

    // ---- snapshot install from the leader (SnapshotInstaller) ---------------------------------------------

    private volatile SnapshotInstaller installer;

    /** Enables {@link #installSnapshot}; set once while the member is built. */
    void snapshotInstaller(SnapshotInstaller installer) {
        this.installer = installer;
    }

    /**
     * Replaces the whole state with the leader's, on the installer's own thread (never the caller's); completes
     * once the state and {@link #appliedIndex()}/{@link #appliedTerm()} are the copy's. If it fails after the old
     * data was removed, the member is empty and reports applied index 0 (term 0).
     */
    @Override
    public java.util.concurrent.CompletableFuture<Void> installSnapshot(String leaderMemberIdHex) {
        SnapshotInstaller i = installer;
        if (i == null) {
            return StateMachineApplier.super.installSnapshot(leaderMemberIdHex);
        }
        return i.installAsync(leaderMemberIdHex).handle((r, err) -> {
            if (err != null) {
                if (SnapshotInstaller.interrupted(storage)) {
                    appliedTerm = 0;
                    appliedIndex = 0;
                }
                throw err instanceof java.util.concurrent.CompletionException ce ? ce
                        : new java.util.concurrent.CompletionException(err);
            }
            appliedTerm = r.appliedTerm();
            appliedIndex = r.appliedIndex();
            return null;
        });
    }
}
