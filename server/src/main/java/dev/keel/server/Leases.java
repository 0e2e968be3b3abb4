package dev.keel.server;

import dev.keel.metrics.Metrics;
import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.lease.Lessor;
import dev.keel.mvcc.MvccStore;
import dev.keel.proto.etcdserverpb.LeaseCheckpoint;
import dev.keel.proto.etcdserverpb.LeaseCheckpointRequest;
import dev.keel.proto.etcdserverpb.LeaseGrantRequest;
import dev.keel.proto.etcdserverpb.LeaseGrantResponse;
import dev.keel.proto.etcdserverpb.LeaseRevokeRequest;
import dev.keel.proto.etcdserverpb.LeaseRevokeResponse;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveRequest;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveResponse;
import dev.keel.proto.internal.InternalRequest;
import dev.keel.proto.internal.InternalResponse;
import dev.keel.proto.internal.LeaderAnswer;
import dev.keel.proto.internal.LeaderQuery;
import dev.keel.proto.mvccpb.KeyValue;
import dev.keel.raft.RaftNode;
import dev.keel.raft.RaftStatus;
import org.jboss.logging.Logger;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The member's lease service around the {@link Lessor} (etcd's EtcdServer Lease* methods plus the lessor's run
 * loop): chooses ids for grants, proposes grants and revokes, and, while this member leads, renews leases, reports
 * their remaining TTL, revokes expired ones and checkpoints remaining TTLs through the log.
 *
 * <p>Leadership: the lessor becomes primary once this member leads and has applied everything committed before
 * (a read barrier in the new term), which etcd does when it applies the new leader's first (empty) entry; every
 * lease then gets now + remaining TTL + election timeout. When leadership is lost the lessor is demoted. Both are
 * noticed by the loop every 500 ms, and a renewal or TimeToLive on a freshly elected leader promotes at once.
 */
final class Leases implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(Leases.class);
    /** etcd's lessor loop period. */
    static final long LOOP_MS = 500;
    /** Checkpoint interval (etcd: 5 minutes, settable only in tests); a system property for Keel's own tests. */
    static final String CHECKPOINT_INTERVAL_PROPERTY = "keel.lease.checkpointIntervalMs";

    private final Lessor lessor;
    private final RaftNode raft;
    private final Function<InternalRequest.Builder, CompletableFuture<InternalResponse>> propose;
    private final IdGenerator ids;
    private final long extendNanos;
    private final boolean checkpointing;
    private final int revokeRate;
    private final ScheduledExecutorService loop;

    private final Object promotion = new Object();
    /** Term in which the lessor was last promoted, -1 when it is not primary. Guarded by {@link #promotion}. */
    private long promotedTerm = -1;
    private CompletableFuture<Void> promoting;
    private long promotingTerm = -1;

    Leases(EtcdConfig config, Lessor lessor, RaftNode raft,
           Function<InternalRequest.Builder, CompletableFuture<InternalResponse>> propose, long memberId) {
        this.lessor = lessor;
        this.raft = raft;
        this.propose = propose;
        this.ids = new IdGenerator(memberId, System.currentTimeMillis());
        this.extendNanos = TimeUnit.MILLISECONDS.toNanos(electionTimeoutMs(config));
        this.checkpointing = config.leaseCheckpoint();
        this.revokeRate = Lessor.DEFAULT_REVOKE_RATE;
        if (checkpointing) {
            lessor.setCheckpointer(this::proposeCheckpoint);
        }
        this.loop = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "lessor");
            t.setDaemon(true);
            return t;
        });
    }

    /** etcd's ElectionTimeout(): election ticks (election timeout / heartbeat, rounded down) × heartbeat. */
    static long electionTimeoutMs(EtcdConfig c) {
        long tick = c.heartbeatIntervalMs();
        return (c.electionTimeoutMs() / tick) * tick;
    }

    /** The lessor settings etcd derives from the flags. */
    static Lessor.Config lessorConfig(EtcdConfig c) {
        long tick = c.heartbeatIntervalMs();
        long electionTicks = c.electionTimeoutMs() / tick;
        long minTtlMs = ((3 * electionTicks) / 2) * tick;
        long minTtl = (minTtlMs + 999) / 1000; // ceil, in seconds
        long reqTimeoutMs = 5000 + 2 * electionTicks * tick;
        long checkpointMs = Long.getLong(CHECKPOINT_INTERVAL_PROPERTY, TimeUnit.NANOSECONDS.toMillis(
                Lessor.DEFAULT_CHECKPOINT_INTERVAL_NANOS));
        return new Lessor.Config(minTtl, TimeUnit.MILLISECONDS.toNanos(checkpointMs),
                TimeUnit.MILLISECONDS.toNanos(reqTimeoutMs), Lessor.DEFAULT_REVOKE_RATE);
    }

    /** Attaches every live key that carries a lease to it (etcd's mvcc restore), in pages. */
    static void restoreAttachments(MvccStore mvcc, Lessor lessor) {
        final int page = 1000;
        byte[] from = {0};
        long attached = 0;
        while (true) {
            MvccStore.RangeResult rr = mvcc.range(from, new byte[0], 0, page, false);
            for (KeyValue kv : rr.kvs()) {
                if (kv.getLease() != 0) {
                    lessor.restoreKey(kv.getKey(), kv.getLease());
                    attached++;
                }
            }
            if (rr.kvs().size() < page) {
                break;
            }
            byte[] last = rr.kvs().get(rr.kvs().size() - 1).getKey().toByteArray();
            from = java.util.Arrays.copyOf(last, last.length + 1);
        }
        LOG.infof("attached %d keys to their leases", attached);
    }

    void start() {
        loop.scheduleWithFixedDelay(this::tick, LOOP_MS, LOOP_MS, TimeUnit.MILLISECONDS);
    }

    // ---- requests ----------------------------------------------------------------------------------------

    /** Grants through the log; a zero id is replaced by a generated positive one before proposing. */
    CompletableFuture<LeaseGrantResponse> grant(LeaseGrantRequest r) {
        long id = r.getID();
        while (id == 0) {
            id = ids.next() & Long.MAX_VALUE;
        }
        final long chosen = id;
        return promotedIfLeader().thenCompose(v -> propose.apply(
                        InternalRequest.newBuilder().setLeaseGrant(r.toBuilder().setID(chosen))))
                .thenApply(InternalResponse::getLeaseGrant);
    }

    /**
     * On a leader whose lessor is not primary yet (just elected): waits for the promotion, so that a lease granted
     * now starts with its own TTL instead of getting the extension meant for leases that predate the leader (as in
     * etcd, where a leader promotes its lessor before it serves clients). A failed promotion does not stop the grant.
     */
    private CompletableFuture<Void> promotedIfLeader() {
        RaftStatus st = raft.status();
        if (!st.isLeader()) {
            return CompletableFuture.completedFuture(null);
        }
        synchronized (promotion) {
            if (promotedTerm == st.term() && lessor.isPrimary()) {
                return CompletableFuture.completedFuture(null);
            }
            return promote(st.term()).exceptionally(t -> null);
        }
    }

    CompletableFuture<LeaseRevokeResponse> revoke(LeaseRevokeRequest r) {
        return propose.apply(InternalRequest.newBuilder().setLeaseRevoke(r))
                .thenApply(InternalResponse::getLeaseRevoke);
    }

    /** A client's revoke: the header names the client, so the apply checks its write permission on the keys. */
    CompletableFuture<LeaseRevokeResponse> revoke(LeaseRevokeRequest r, dev.keel.proto.internal.RequestHeader header) {
        return propose.apply(InternalRequest.newBuilder().setHeader(header).setLeaseRevoke(r))
                .thenApply(InternalResponse::getLeaseRevoke);
    }

    /**
     * Renews a lease: the granted TTL, or fails (lease not found, leader changed, no leader, timeout). Only the
     * leader's lessor renews; a follower forwards the renewal to the leader, as etcd's does.
     */
    CompletableFuture<Long> renew(long id) {
        if (!raft.status().isLeader()) {
            return askLeader(LeaderQuery.newBuilder().setLeaseRenew(id).build()).thenApply(LeaderAnswer::getLeaseTtl);
        }
        return renewHere(id);
    }

    private CompletableFuture<Long> renewHere(long id) {
        return primaryReady().thenCompose(v -> lessor.renew(id)).exceptionally(Leases::rethrow);
    }

    /**
     * The remaining TTL as the leader sees it; an unknown lease answers TTL -1 (etcd's v3rpc turns "lease not
     * found" into that response). The header is left for the caller to fill.
     */
    CompletableFuture<LeaseTimeToLiveResponse> timeToLive(LeaseTimeToLiveRequest r) {
        if (!raft.status().isLeader()) {
            return askLeader(LeaderQuery.newBuilder().setLeaseTimeToLive(r).build())
                    .thenApply(LeaderAnswer::getTimeToLive);
        }
        return timeToLiveHere(r);
    }

    private CompletableFuture<LeaseTimeToLiveResponse> timeToLiveHere(LeaseTimeToLiveRequest r) {
        return primaryReady().thenApply(v -> {
            Lessor.TimeToLive t = lessor.timeToLive(r.getID(), r.getKeys());
            if (t == null) {
                return LeaseTimeToLiveResponse.newBuilder().setID(r.getID()).setTTL(-1).build();
            }
            return LeaseTimeToLiveResponse.newBuilder().setID(t.id()).setTTL(t.ttl()).setGrantedTTL(t.grantedTtl())
                    .addAllKeys(t.keys()).build();
        }).exceptionally(Leases::rethrow);
    }

    /** All lease ids (etcd's LeaseLeases: served by any member, no barrier). */
    List<Long> leases() {
        return lessor.leases();
    }

    // ---- forwarding between members -------------------------------------------------------------------------

    private CompletableFuture<LeaderAnswer> askLeader(LeaderQuery q) {
        return LeaderQuestions.ask(raft, q, loop);
    }

    /**
     * Answers a follower's forwarded lease question on this member (the leader, or an error saying it is not). Runs
     * on the lessor thread: the question arrives on a Ratis thread, and answering may need a read barrier.
     */
    CompletableFuture<LeaderAnswer> answer(LeaderQuery q) {
        return CompletableFuture.supplyAsync(() -> q, loop).thenCompose(query -> {
            if (!raft.status().isLeader()) {
                return CompletableFuture.<LeaderAnswer>failedFuture(EtcdError.NOT_LEADER.exception());
            }
            return switch (query.getQueryCase()) {
                case LEASE_RENEW -> renewHere(query.getLeaseRenew())
                        .thenApply(ttl -> LeaderAnswer.newBuilder().setLeaseTtl(ttl).build());
                case LEASE_TIME_TO_LIVE -> timeToLiveHere(query.getLeaseTimeToLive())
                        .thenApply(r -> LeaderAnswer.newBuilder().setTimeToLive(r).build());
                default -> CompletableFuture.completedFuture(LeaderQuestions.unsupported(query));
            };
        }).exceptionally(LeaderQuestions::error);
    }

    private static <T> T rethrow(Throwable t) {
        Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        if (c instanceof Lessor.NotPrimaryException) {
            throw EtcdError.LEADER_CHANGED.exception(); // demoted while answering; clients retry
        }
        throw t instanceof CompletionException ce ? ce : new CompletionException(c);
    }

    /**
     * Completes when this member leads, its lessor is primary for the current term, and everything committed
     * before the call has been applied here (etcd: ensureLeadership + waitAppliedIndex). Fails with "not leader"
     * on a follower (which forwards instead, see {@link #askLeader}).
     */
    private CompletableFuture<Void> primaryReady() {
        RaftStatus st = raft.status();
        if (!st.isLeader()) {
            return CompletableFuture.failedFuture(EtcdError.NOT_LEADER.exception());
        }
        synchronized (promotion) {
            if (promotedTerm == st.term() && lessor.isPrimary()) {
                return raft.readBarrier();
            }
            return promote(st.term());
        }
    }

    /** Starts (or joins) the promotion for {@code term}. Caller holds {@link #promotion}. */
    private CompletableFuture<Void> promote(long term) {
        if (promoting != null && promotingTerm == term) {
            return promoting;
        }
        if (lessor.isPrimary()) {
            lessor.demote(); // leadership was lost and regained in between: start over
            promotedTerm = -1;
        }
        CompletableFuture<Void> p = raft.readBarrier().thenRun(() -> {
            synchronized (promotion) {
                RaftStatus now = raft.status();
                if (!now.isLeader() || now.term() != term) {
                    throw new EtcdException(EtcdError.NOT_LEADER);
                }
                if (promotedTerm != term) {
                    lessor.promote(extendNanos);
                    promotedTerm = term;
                    LOG.infof("lessor promoted in term %d: leases expire from now on (extended by %d ms)", term,
                            TimeUnit.NANOSECONDS.toMillis(extendNanos));
                }
            }
        });
        promoting = p;
        promotingTerm = term;
        p.whenComplete((v, e) -> {
            synchronized (promotion) {
                if (promoting == p) {
                    promoting = null;
                }
            }
        });
        return p;
    }

    // ---- the loop ---------------------------------------------------------------------------------------------

    /** One round of etcd's lessor loop: follow leadership, revoke what has expired, checkpoint what is due. */
    void tick() {
        try {
            RaftStatus st = raft.status();
            synchronized (promotion) {
                if (!st.isLeader()) {
                    if (promotedTerm != -1 || lessor.isPrimary()) {
                        lessor.demote();
                        promotedTerm = -1;
                        LOG.infof("lessor demoted: this member no longer leads (term %d)", st.term());
                    }
                    return;
                }
                if (promotedTerm != st.term() || !lessor.isPrimary()) {
                    promote(st.term());
                    return;
                }
            }
            revokeExpired();
            if (checkpointing) {
                checkpointDue();
            }
        } catch (RuntimeException e) {
            LOG.warn("lease loop failed", e);
        }
    }

    private void revokeExpired() {
        List<Long> expired = lessor.expired(revokeRate / 2);
        for (long id : expired) {
            // the leader alone revokes, and only what is still expired right now (a renewal may have won)
            if (!raft.status().isLeader() || !lessor.isExpired(id)) {
                continue;
            }
            propose.apply(InternalRequest.newBuilder().setLeaseRevoke(LeaseRevokeRequest.newBuilder().setID(id)))
                    .whenComplete((r, e) -> {
                        if (e == null) {
                            Metrics.LEASE_EXPIRED.inc();
                        } else if (!isLeaseNotFound(e)) {
                            LOG.warnf("failed to revoke expired lease %016x: %s", id, e.getMessage());
                        }
                    });
        }
    }

    private void checkpointDue() {
        for (int i = 0; i < 1000 / 2; i++) {
            List<LeaseCheckpoint> cps = lessor.dueCheckpoints(Lessor.MAX_CHECKPOINT_BATCH);
            if (cps.isEmpty()) {
                return;
            }
            proposeCheckpoint(LeaseCheckpointRequest.newBuilder().addAllCheckpoints(cps).build())
                    .whenComplete((r, e) -> {
                        if (e != null) {
                            LOG.warnf("failed to checkpoint %d leases: %s", cps.size(), e.getMessage());
                        }
                    });
            if (cps.size() < Lessor.MAX_CHECKPOINT_BATCH) {
                return;
            }
        }
    }

    private CompletableFuture<Void> proposeCheckpoint(LeaseCheckpointRequest r) {
        if (!raft.status().isLeader()) {
            return CompletableFuture.failedFuture(new Lessor.NotPrimaryException());
        }
        return propose.apply(InternalRequest.newBuilder().setLeaseCheckpoint(r)).thenApply(resp -> null);
    }

    private static boolean isLeaseNotFound(Throwable e) {
        Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        return c instanceof EtcdException ee && ee.getMessage().equals(EtcdError.LEASE_NOT_FOUND.message());
    }

    @Override
    public void close() {
        loop.shutdownNow();
        try {
            loop.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
