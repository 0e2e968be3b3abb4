package dev.keel.server;

import dev.keel.proto.internal.SnapshotTicket;

import dev.keel.proto.internal.LeaderQuery;

import dev.keel.proto.internal.LeaderAnswer;

import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.lease.Lessor;
import dev.keel.metrics.Metrics;
import dev.keel.mvcc.KvApplier;
import dev.keel.mvcc.MvccStore;
import dev.keel.proto.etcdserverpb.CompactionRequest;
import dev.keel.proto.etcdserverpb.CompactionResponse;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.DeleteRangeResponse;
import dev.keel.proto.etcdserverpb.LeaseGrantRequest;
import dev.keel.proto.etcdserverpb.LeaseGrantResponse;
import dev.keel.proto.etcdserverpb.LeaseKeepAliveResponse;
import dev.keel.proto.etcdserverpb.LeaseLeasesResponse;
import dev.keel.proto.etcdserverpb.LeaseRevokeRequest;
import dev.keel.proto.etcdserverpb.LeaseRevokeResponse;
import dev.keel.proto.etcdserverpb.LeaseStatus;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveRequest;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveResponse;
import dev.keel.proto.etcdserverpb.Member;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.PutResponse;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RangeResponse;
import dev.keel.proto.etcdserverpb.ResponseHeader;
import dev.keel.proto.etcdserverpb.StatusResponse;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.etcdserverpb.TxnResponse;
import dev.keel.membership.MemberStore;
import dev.keel.proto.internal.InternalRequest;
import dev.keel.proto.internal.MemberChangeResponse;
import dev.keel.proto.mvccpb.KeyValue;
import dev.keel.proto.internal.InternalResponse;
import dev.keel.raft.RaftConfig;
import dev.keel.raft.RaftNode;
import dev.keel.raft.RaftStatus;
import dev.keel.raft.RatisRaftNode;
import dev.keel.storage.Storage;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One member: validates requests, proposes writes through Raft and waits for them to be applied, serves reads
 * (linearizable through a read barrier unless the request is serializable), and stamps every response header.
 * The API layer above is a thin translation to gRPC and HTTP.
 */
public final class EtcdServer implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(EtcdServer.class);

    private final EtcdConfig config;
    private final MemberIdentity identity;
    private final Storage storage;
    private final MvccStore mvcc;
    private final KvApplier kv;
    private final RequestValidator validator;
    private final RaftNode raft;
    private final AtomicLong requestIds = new AtomicLong();
    private final Proposer proposer;
    private final Locks locks;
    private final Elections elections;
    private final ExecutorService readers;
    private final ExecutorService watchSenders;
    private final ScheduledExecutorService timer;
    private final Lessor lessor;
    private final Leases leases;
    private final Maintenance maintenance;
    private final dev.keel.auth.AuthStore authStore;
    private final Auth auth;
    private final MemberStore memberStore;
    private final Membership membership;
    private final SnapshotInstaller snapshotInstaller;
    private final PeerProber peerProber;

    private EtcdServer(EtcdConfig config) {
        this.config = config;
        this.identity = MemberIdentity.loadOrCreate(config);
        this.storage = Storage.open(config.dataDir().resolve("member").resolve("kv"), storageColumns());
        SnapshotInstaller.recoverInterrupted(storage); // before anything reads storage: see SnapshotInstaller
        this.mvcc = new MvccStore(storage);
        this.lessor = new Lessor(storage, Leases.lessorConfig(config), System::nanoTime);
        Leases.restoreAttachments(mvcc, lessor);
        this.kv = new KvApplier(lessor::exists);
        this.validator = new RequestValidator(config.maxTxnOps());
        AlarmStore alarms = new AlarmStore(storage);
        DowngradeState downgrade = new DowngradeState(storage);
        this.authStore = new dev.keel.auth.AuthStore(storage, tokenProvider(config), config.bcryptCost());
        this.memberStore = new MemberStore(storage, MvccStore.META_COLUMN, config.maxLearners());
        Applier applier = new Applier(storage, mvcc, kv, lessor, alarms, downgrade, memberStore, authStore);
        // snapshot install from the leader (see "Snapshot install" below)
        this.snapshotInstaller = new SnapshotInstaller(storage, mvcc, lessor, alarms, downgrade, this::clientUrlOf,
                this::afterSnapshotInstalled);
        applier.snapshotInstaller(snapshotInstaller);
        Map<String, String> peers = new LinkedHashMap<>();
        identity.peers().forEach((id, url) -> peers.put(ClusterIds.hex(id), MemberIdentity.hostPort(url)));
        Map<String, String> learners = new LinkedHashMap<>();
        identity.learners().forEach((id, url) -> learners.put(ClusterIds.hex(id), MemberIdentity.hostPort(url)));
        RaftConfig rc = new RaftConfig(ClusterIds.hex(identity.memberId()), ClusterIds.hex(identity.clusterId()),
                peers, learners, MemberIdentity.hostPort(config.listenPeerUrl()),
                config.dataDir().resolve("member").resolve("raft"), Duration.ofSeconds(7), config.snapshotCount());
        // Raft's randomised election timeout is etcd's: [t, 2t) for --election-timeout t (1 s by default), so members
        // starting on a loaded machine do not churn through elections. A member starting alone (no other voter to
        // disagree with) keeps Ratis' 150-300 ms unless the flag is given, so that it leads at once; tests may
        // change it with the keel.raft.electionTimeout{Min,Max}Ms system properties.
        boolean alone = peers.size() == 1 && learners.isEmpty();
        RatisRaftNode ratis = config.isSet("election-timeout")
                || (!alone && System.getProperty(RatisRaftNode.ELECTION_TIMEOUT_MIN_PROPERTY) == null)
                ? new RatisRaftNode(rc, applier, java.time.Duration.ofMillis(config.electionTimeoutMs()),
                        java.time.Duration.ofMillis(2 * config.electionTimeoutMs()))
                : new RatisRaftNode(rc, applier);
        ratis.setPeerTls(peerTls(config, identity));
        this.raft = ratis;
        this.proposer = new Proposer(raft, this::proposalsInFlight, Math.max(4L << 20, config.maxRequestBytes()));
        this.leases = new Leases(config, lessor, raft, req -> propose(() -> { }, req), identity.memberId());
        applier.questions(this::answer);
        snapshotInstaller.tickets(this::snapshotTicket);
        snapshotInstaller.tls(internalHttpsContext(config));
        int threads = Math.max(2, Runtime.getRuntime().availableProcessors());
        this.readers = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "kv-reader");
            t.setDaemon(true);
            return t;
        });
        this.watchSenders = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "watch-sender");
            t.setDaemon(true);
            return t;
        });
        Coordination coordination = new Coordination(this);
        this.locks = new Locks(coordination);
        this.elections = new Elections(coordination, this);
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "server-timer");
            t.setDaemon(true);
            return t;
        });
        BackendQuota quota = new BackendQuota(config.quotaBackendBytes(), storage::sizeOnDisk,
                Maintenance.QUOTA_REFRESH_NANOS);
        this.maintenance = new Maintenance(this, storage, mvcc, raft, alarms, downgrade, quota, readers,
                req -> propose(() -> { }, req));
        this.auth = new Auth(this, authStore, lessor, config.clientTls().clientCertAuth(),
                req -> propose(() -> { }, req), raft::readBarrier);
        this.membership = new Membership(config, identity, memberStore, raft, req -> propose(() -> { }, req),
                EtcdServer::exitRemoved);
        this.peerProber = new PeerProber(this::members, identity.memberId());
        registerMetrics();
    }

    /** A removed member stops, as etcd's does ("the member has been permanently removed from the cluster"). */
    private static void exitRemoved() {
        Thread t = new Thread(() -> System.exit(0), "removed-member-exit");
        t.setDaemon(true);
        t.start();
    }

    /**
     * Member-to-member TLS from the --peer-* flags, or null: a certificate and key (or, with --peer-auto-tls, a
     * generated self-signed one, whose peers are not verified, as in etcd), the peer CA and
     * --peer-client-cert-auth.
     */
    static dev.keel.raft.PeerTls peerTls(EtcdConfig config, MemberIdentity identity) {
        EtcdConfig.Tls t = config.peerTls();
        if (!t.enabled()) {
            return null;
        }
        if (t.autoTls()) {
            try {
                var generated = SelfSignedCert.generate(config.dataDir().resolve("fixtures").resolve("peer"),
                        List.of(config.listenPeerUrl().getHost()), config.selfSignedCertValidityYears());
                return new dev.keel.raft.PeerTls(generated.cert(), generated.key(), null, false, true);
            } catch (IOException e) {
                throw new IllegalStateException("cannot generate the peer certificate: " + e.getMessage(), e);
            }
        }
        return new dev.keel.raft.PeerTls(Path.of(t.certFile()), Path.of(t.keyFile()),
                t.trustedCaFile().isEmpty() ? null : Path.of(t.trustedCaFile()), t.clientCertAuth(), false);
    }

    /** The token provider --auth-token asks for. */
    static dev.keel.auth.TokenProvider tokenProvider(EtcdConfig config) {
        return switch (config.authTokenType()) {
            case "jwt" -> dev.keel.auth.JwtTokens.fromOptions(config.authTokenOptions(), config.jwtTtl());
            case "simple" -> new dev.keel.auth.SimpleTokens(config.authTokenTtlSeconds(), System::nanoTime);
            default -> dev.keel.auth.TokenProvider.NONE;
        };
    }

    /** Authentication, authorization and the Auth service. */
    public Auth auth() {
        return auth;
    }

    /** The metrics whose values live here, read on each scrape (etcd 3.6's names and help texts). */
    private void registerMetrics() {
        var m = Metrics.REGISTRY;
        m.gaugeFunction("etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.",
                () -> raft.status().leaderId() == null ? 0 : 1);
        m.gaugeFunction("etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.",
                () -> raft.status().isLeader() ? 1 : 0);
        m.gaugeFunction("etcd_server_is_learner", "Whether or not this member is a learner. 1 if is, 0 otherwise.",
                () -> raft.isLearner() ? 1 : 0);
        m.gaugeFunction("etcd_server_proposals_committed_total", "The total number of consensus proposals committed.",
                () -> raft.status().commitIndex());
        m.gaugeFunction("etcd_server_proposals_applied_total", "The total number of consensus proposals applied.",
                () -> raft.status().appliedIndex());
        m.info("etcd_server_id", "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
                "server_id", ClusterIds.hex(identity.memberId()));
        m.info("etcd_server_version", "Which version is running. 1 for 'server_version' label with current version.",
                "server_version", Version.SERVER);
        // etcd_cluster_version is DowngradeState's: it follows the downgrade job
        long quotaBytes = config.quotaBackendBytes();
        m.gaugeFunction("etcd_server_quota_backend_bytes", "Current backend storage quota size in bytes.",
                () -> quotaBytes);
        m.gaugeFunction("etcd_mvcc_db_total_size_in_bytes",
                "Total size of the underlying database physically allocated in bytes.", storage::sizeOnDisk);
        m.gaugeFunction("etcd_mvcc_db_total_size_in_use_in_bytes",
                "Total size of the underlying database logically in use in bytes.", storage::sizeInUse);
        m.gaugeFunction("etcd_debugging_mvcc_keys_total", "Total number of keys.", mvcc::liveKeys);
        m.gaugeFunction("etcd_debugging_mvcc_watcher_total", "Total number of watchers.",
                () -> mvcc.watchHub().watcherCount());
        m.gaugeFunction("etcd_debugging_mvcc_current_revision", "The current revision of store.",
                mvcc::currentRevision);
        m.gaugeFunction("etcd_debugging_mvcc_compact_revision", "The revision of the last compaction in store.",
                () -> Math.max(0, mvcc.compactRevision()));
        m.gaugeFunction("etcd_debugging_auth_revision", "The current revision of auth store.", authStore::revision);
        config.featureGates().forEach((name, on) -> m.gaugeFunction("etcd_server_feature_enabled",
                "Whether or not a feature is enabled. 1 is enabled, 0 is not.", () -> on ? 1 : 0,
                "name", name, "stage", featureGateStage(name)));
    }

    /** A feature gate's stage as etcd labels it (featuregate.PreRelease: "ALPHA", "BETA", "" for GA). */
    private static String featureGateStage(String gate) {
        return switch (gate) {
            case "TxnModeWriteWithSharedBuffer", "FastLeaseKeepAlive" -> "BETA";
            default -> "ALPHA";
        };
    }

    /** The column families of a member's database (also what a snapshot restore creates). */
    static List<String> storageColumns() {
        List<String> columns = new ArrayList<>(MvccStore.COLUMNS);
        columns.addAll(Lessor.COLUMNS);
        columns.addAll(dev.keel.auth.AuthStore.COLUMNS);
        return columns;
    }

    /** Opens storage, replays the log and joins the cluster. */
    public static EtcdServer start(EtcdConfig config) throws Exception {
        EtcdServer s = new EtcdServer(config);
        try {
            s.raft.start();
            s.leases.start();
            s.membership.start(s.timer);
            s.peerProber.start();
        } catch (Exception e) {
            s.close();
            throw e;
        }
        LOG.infof("member %s (%s) of cluster %s started; data dir %s", ClusterIds.hex(s.identity.memberId()),
                config.name(), ClusterIds.hex(s.identity.clusterId()), config.dataDir().toAbsolutePath());
        return s;
    }

    public EtcdConfig config() {
        return config;
    }

    public long memberId() {
        return identity.memberId();
    }

    public long clusterId() {
        return identity.clusterId();
    }

    // ---- headers ---------------------------------------------------------------------------------------

    /** A response header for this member with the given revision. */
    public ResponseHeader header(long revision) {
        return ResponseHeader.newBuilder()
                .setClusterId(identity.clusterId())
                .setMemberId(identity.memberId())
                .setRevision(revision)
                .setRaftTerm(raft.term())
                .build();
    }

    private ResponseHeader stamp(ResponseHeader fromApply) {
        return header(fromApply.getRevision());
    }

    /** A header for a response computed by the apply: this member's ids and term, the apply's revision. */
    ResponseHeader stampHeader(ResponseHeader fromApply) {
        return stamp(fromApply);
    }

    /** A header with the store's current revision. */
    ResponseHeader currentHeader() {
        return header(mvcc.currentRevision());
    }

    // ---- KV ----------------------------------------------------------------------------------------------

    /** A range on the member's own behalf (no permission check). */
    public CompletableFuture<RangeResponse> range(RangeRequest r) {
        return range(null, r);
    }

    /** A client's range: read permission on the range while auth is on (etcd's doSerialize). */
    public CompletableFuture<RangeResponse> range(Credentials who, RangeRequest r) {
        return readyToRead(who, r, () -> { }).thenApplyAsync(v -> {
            Metrics.MVCC_RANGE.inc(); // etcd: a read transaction with one range
            long started = System.nanoTime();
            RangeResponse resp;
            try {
                resp = kv.range(mvcc, r);
            } catch (RuntimeException e) {
                Metrics.RANGE_FAILED.observeNanos(System.nanoTime() - started);
                throw e;
            }
            Metrics.RANGE_OK.observeNanos(System.nanoTime() - started);
            if (who != null) {
                auth.checkStale(who);
            }
            return resp.toBuilder().setHeader(stamp(resp.getHeader())).build();
        }, readers);
    }

    /**
     * A client's KV.RangeStream (etcd 3.7): Range's checks, then etcd 3.7's refusals of sort orders and revision
     * filters (UNIMPLEMENTED), read permission while auth is on, the read barrier unless serializable; completes
     * with the chunks, read from the store as the caller asks for them (see {@link RangeChunks}).
     */
    public CompletableFuture<RangeChunks> rangeStream(Credentials who, RangeRequest r) {
        return readyToRead(who, r, () -> RangeChunks.checkStreamable(r))
                .thenApply(v -> new RangeChunks(mvcc, r, this::header,
                        (int) Math.min(Integer.MAX_VALUE, config.maxRequestBytes())));
    }

    /**
     * What every range goes through before it reads: the request's validity ({@code extraCheck} too), read
     * permission while auth is on, a learner's refusal of linearizable reads, and the read barrier unless the
     * request is serializable. Fails with the client's etcd error.
     */
    private CompletableFuture<Void> readyToRead(Credentials who, RangeRequest r, Runnable extraCheck) {
        try {
            validator.checkRange(r);
            extraCheck.run();
            if (who != null) {
                auth.checkRange(who, r.getKey().toByteArray(), r.getRangeEnd().toByteArray());
            }
        } catch (EtcdException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (!r.getSerializable() && raft.isLearner()) {
            return CompletableFuture.failedFuture(EtcdError.NOT_SUPPORTED_FOR_LEARNER.exception());
        }
        return r.getSerializable() ? CompletableFuture.completedFuture(null)
                : countFailedReadIndex(raft.readBarrier());
    }

    /** etcd_server_read_indexes_failed_total counts read barriers that fail (no leader, timeout). */
    private static CompletableFuture<Void> countFailedReadIndex(CompletableFuture<Void> barrier) {
        return barrier.whenComplete((v, e) -> {
            if (e != null) {
                Metrics.READ_INDEXES_FAILED.inc();
            }
        });
    }

    /** The entry a client's write becomes: with its identity in the header while auth is on. */
    private InternalRequest.Builder entry(Credentials who) {
        InternalRequest.Builder b = InternalRequest.newBuilder();
        if (who != null) {
            b.setHeader(auth.header(who));
        }
        return b;
    }

    public CompletableFuture<PutResponse> put(PutRequest r) {
        return put(null, r);
    }

    public CompletableFuture<PutResponse> put(Credentials who, PutRequest r) {
        CompletableFuture<PutResponse> full = maintenance.overQuota(BackendQuota.cost(r));
        if (full != null) {
            return full;
        }
        return propose(() -> validator.checkPut(r), () -> entry(who).setPut(r))
                .thenApply(resp -> resp.getPut().toBuilder().setHeader(stamp(resp.getPut().getHeader())).build());
    }

    public CompletableFuture<DeleteRangeResponse> deleteRange(DeleteRangeRequest r) {
        return deleteRange(null, r);
    }

    public CompletableFuture<DeleteRangeResponse> deleteRange(Credentials who, DeleteRangeRequest r) {
        return propose(() -> validator.checkDelete(r), () -> entry(who).setDeleteRange(r))
                .thenApply(resp -> resp.getDeleteRange().toBuilder()
                        .setHeader(stamp(resp.getDeleteRange().getHeader())).build());
    }

    public CompletableFuture<TxnResponse> txn(TxnRequest r) {
        return txn(null, r);
    }

    public CompletableFuture<TxnResponse> txn(Credentials who, TxnRequest r) {
        CompletableFuture<TxnResponse> full = maintenance.overQuota(BackendQuota.cost(r));
        if (full != null) {
            return full;
        }
        return propose(() -> validator.checkTxn(r), () -> entry(who).setTxn(r))
                .thenApply(resp -> resp.getTxn().toBuilder().setHeader(stamp(resp.getTxn().getHeader())).build());
    }

    public CompletableFuture<CompactionResponse> compact(CompactionRequest r) {
        return compact(null, r);
    }

    /** etcd 3.6 checks nothing for a compaction beyond a valid token (no permission, not even a user). */
    public CompletableFuture<CompactionResponse> compact(Credentials who, CompactionRequest r) {
        return propose(() -> { }, () -> entry(who).setCompaction(r))
                .thenCompose(resp -> {
                    CompactionResponse out = resp.getCompaction().toBuilder()
                            .setHeader(stamp(resp.getCompaction().getHeader())).build();
                    if (!r.getPhysical()) {
                        return CompletableFuture.completedFuture(out);
                    }
                    return mvcc.physicalCompaction(r.getRevision()).thenApply(v -> out);
                });
    }

    /** Validates, proposes and waits for the entry to be applied here; fails with the apply's error if any. */
    private CompletableFuture<InternalResponse> propose(Runnable validation, InternalRequest.Builder req) {
        return propose(validation, () -> req);
    }

    /**
     * As above, building the entry after validation (building it resolves the caller's token, which can fail
     * with etcd's auth errors).
     */
    private CompletableFuture<InternalResponse> propose(Runnable validation,
                                                        java.util.function.Supplier<InternalRequest.Builder> entry) {
        InternalRequest request;
        int size;
        try {
            if (raft.isLearner()) {
                throw EtcdError.NOT_SUPPORTED_FOR_LEARNER.exception();
            }
            validation.run();
            request = entry.get().setId(requestIds.incrementAndGet()).build();
            size = request.getSerializedSize();
            if (size > config.maxRequestBytes()) {
                throw EtcdError.REQUEST_TOO_LARGE.exception();
            }
        } catch (EtcdException e) {
            return CompletableFuture.failedFuture(e);
        }
        return proposer.submit(request, size).thenApply(EtcdServer::checkError);
    }

    private static InternalResponse checkError(InternalResponse resp) {
        if (resp.getErrorCode() != 0) {
            throw new CompletionException(new EtcdException(resp.getErrorCode(), resp.getErrorMessage()));
        }
        return resp;
    }

    // ---- Lock / Election ---------------------------------------------------------------------------------

    public Locks locks() {
        return locks;
    }

    public Elections elections() {
        return elections;
    }

    /** A pool for work triggered by watch deliveries, which must not run on the apply thread. */
    java.util.concurrent.Executor background() {
        return watchSenders;
    }

    public dev.keel.mvcc.WatchHub watchHub() {
        return mvcc.watchHub();
    }

    // ---- Watch -------------------------------------------------------------------------------------------

    /** Opens a watch stream whose responses go to {@code out}. */
    public WatchSession newWatchSession(WatchSession.Output out) {
        return newWatchSession(null, out);
    }

    /** A client's watch stream: each watcher needs read permission on its range while auth is on. */
    public WatchSession newWatchSession(Credentials who, WatchSession.Output out) {
        return new WatchSession(this, mvcc.watchHub(), out, watchSenders, timer,
                config.watchProgressNotifyIntervalMs(), config.maxRequestBytesWithOverhead(),
                who == null ? c -> null : c -> auth.watchDenial(who, c));
    }

    /** The key's value as of {@code rev}, or null if absent or compacted (for watch events' prev_kv). */
    KeyValue previous(byte[] key, long rev) {
        try {
            Metrics.MVCC_RANGE.inc(); // etcd reads a watch event's prev_kv through the store's Range too
            var kvs = mvcc.range(key, null, rev, 1, false).kvs();
            return kvs.isEmpty() ? null : kvs.get(0);
        } catch (EtcdException e) {
            return null;
        }
    }

    // ---- Lease -------------------------------------------------------------------------------------------

    public CompletableFuture<LeaseGrantResponse> leaseGrant(Credentials who, LeaseGrantRequest r) {
        try {
            auth.require(who);
        } catch (EtcdException e) {
            return CompletableFuture.failedFuture(e);
        }
        return leaseGrant(r);
    }

    public CompletableFuture<LeaseRevokeResponse> leaseRevoke(Credentials who, LeaseRevokeRequest r) {
        try {
            auth.require(who);
        } catch (EtcdException e) {
            return CompletableFuture.failedFuture(e);
        }
        return leases.revoke(r, auth.header(who))
                .thenApply(resp -> resp.toBuilder().setHeader(stamp(resp.getHeader())).build());
    }

    public CompletableFuture<LeaseTimeToLiveResponse> leaseTimeToLive(Credentials who, LeaseTimeToLiveRequest r) {
        try {
            auth.require(who);
            if (r.getKeys()) {
                auth.checkLeaseRead(who, r.getID());
            }
        } catch (EtcdException e) {
            return CompletableFuture.failedFuture(e);
        }
        return leaseTimeToLive(r);
    }

    public LeaseLeasesResponse leaseLeases(Credentials who) {
        auth.checkLeaseList(who);
        return leaseLeases();
    }

    /** A keep-alive for a client: write permission on the lease's keys while auth is on (etcd's checkLeaseRenew). */
    public CompletableFuture<LeaseKeepAliveResponse> leaseKeepAlive(Credentials who, long id) {
        try {
            auth.checkLeaseWrite(who, id);
        } catch (EtcdException e) {
            return CompletableFuture.failedFuture(e);
        }
        return leaseKeepAlive(id);
    }

    public CompletableFuture<LeaseGrantResponse> leaseGrant(LeaseGrantRequest r) {
        CompletableFuture<LeaseGrantResponse> full = maintenance.overQuota(BackendQuota.LEASE_OVERHEAD);
        if (full != null) {
            return full;
        }
        return leases.grant(r).thenApply(resp -> resp.toBuilder().setHeader(stamp(resp.getHeader())).build());
    }

    public CompletableFuture<LeaseRevokeResponse> leaseRevoke(LeaseRevokeRequest r) {
        return leases.revoke(r).thenApply(resp -> resp.toBuilder().setHeader(stamp(resp.getHeader())).build());
    }

    /**
     * One keep-alive: renews the lease on the leader and answers its granted TTL, or TTL 0 if there is no such
     * lease. The header is taken before renewing (as etcd does), so its revision is never past the renewal.
     */
    public CompletableFuture<LeaseKeepAliveResponse> leaseKeepAlive(long id) {
        ResponseHeader h = header(mvcc.currentRevision());
        return leases.renew(id).handle((ttl, err) -> {
            if (err != null) {
                Throwable c = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
                if (!(c instanceof EtcdException e && e.getMessage().equals(EtcdError.LEASE_NOT_FOUND.message()))) {
                    throw err instanceof CompletionException ce ? ce : new CompletionException(c);
                }
                ttl = 0L;
            }
            return LeaseKeepAliveResponse.newBuilder().setHeader(h).setID(id).setTTL(ttl).build();
        });
    }

    /** Opens a keep-alive stream whose answers go to {@code out}. */
    public KeepAliveSession newKeepAliveSession(KeepAliveSession.Output out) {
        return newKeepAliveSession(null, out);
    }

    /** A keep-alive stream of a client ({@code who}: its credentials; null: unchecked). */
    public KeepAliveSession newKeepAliveSession(Credentials who, KeepAliveSession.Output out) {
        return new KeepAliveSession(this, who, out);
    }

    public CompletableFuture<LeaseTimeToLiveResponse> leaseTimeToLive(LeaseTimeToLiveRequest r) {
        return leases.timeToLive(r).thenApply(resp -> resp.toBuilder()
                .setHeader(header(mvcc.currentRevision())).build());
    }

    public LeaseLeasesResponse leaseLeases() {
        LeaseLeasesResponse.Builder b = LeaseLeasesResponse.newBuilder().setHeader(header(mvcc.currentRevision()));
        for (long id : leases.leases()) {
            b.addLeases(LeaseStatus.newBuilder().setID(id));
        }
        return b.build();
    }

    // ---- Maintenance / Cluster -----------------------------------------------------------------------------

    /** Why this member has stopped for good (see {@link RaftNode#failure()}), or null while it runs. */
    public String failure() {
        return raft.failure();
    }

    public StatusResponse status() {
        RaftStatus rs = raft.status();
        return StatusResponse.newBuilder()
                .addAllErrors(maintenance.statusErrors(rs))
                .setHeader(header(mvcc.currentRevision()))
                .setVersion(Version.SERVER)
                .setStorageVersion(maintenance.clusterVersion()) // etcd's monitor keeps it at the cluster version
                .setDbSize(storage.sizeOnDisk())
                .setDbSizeInUse(storage.sizeInUse())
                .setDbSizeQuota(config.quotaBackendBytes())
                .setLeader(rs.leaderId() == null ? 0 : Long.parseUnsignedLong(rs.leaderId(), 16))
                .setRaftIndex(rs.commitIndex())
                .setRaftTerm(rs.term())
                .setRaftAppliedIndex(rs.appliedIndex())
                .setIsLearner(rs.isLearner())
                .setDowngradeInfo(maintenance.downgradeInfo())
                .build();
    }

    /** The cluster version ("3.6.0"; a downgrade's target while one is enabled), for /version. */
    public String clusterVersion() {
        return maintenance.clusterVersion();
    }

    /** Whether the Raft engine knows a leader now (this member or another). */
    public boolean hasLeader() {
        return raft.status().leaderId() != null;
    }

    /**
     * Proves the data directory takes writes: creates, writes, fsyncs and deletes a small probe file next to the
     * member's data (not in the database, whose contents are the replicated state).
     *
     * @throws IOException when the disk refuses (read-only mount, no space, permissions)
     */
    public void checkStorageWritable() throws IOException {
        Path probe = config.dataDir().resolve(".keel-write-probe");
        try (FileChannel ch = FileChannel.open(probe, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(ByteBuffer.wrap(new byte[]{1}));
            ch.force(true);
        } finally {
            Files.deleteIfExists(probe);
        }
    }

    /** Hash, HashKV, Defragment, Alarm, MoveLeader, Downgrade. */
    public Maintenance maintenance() {
        return maintenance;
    }

    /** The members (etcd's MemberList). */
    public List<Member> members() {
        return membership.list();
    }

    /** MemberList with linearizable=true: the list as of a read barrier. */
    public CompletableFuture<List<Member>> membersLinearizable() {
        if (raft.isLearner()) {
            return CompletableFuture.failedFuture(EtcdError.NOT_SUPPORTED_FOR_LEARNER.exception());
        }
        return raft.readBarrier().thenApply(v -> membership.list());
    }

    /** Adds a member; decided on the leader under --strict-reconfig-check (only it knows who is connected). */
    public CompletableFuture<MemberChangeResponse> memberAdd(List<String> peerUrls, boolean learner) {
        return membershipChange(LeaderQuery.newBuilder().setMemberAdd(dev.keel.proto.etcdserverpb.MemberAddRequest
                .newBuilder().addAllPeerURLs(peerUrls).setIsLearner(learner)).build(), config.strictReconfigCheck());
    }

    /** Removes a member; decided on the leader under --strict-reconfig-check, as an add. */
    public CompletableFuture<MemberChangeResponse> memberRemove(long id) {
        return membershipChange(LeaderQuery.newBuilder().setMemberRemove(id).build(), config.strictReconfigCheck());
    }

    public CompletableFuture<MemberChangeResponse> memberUpdate(long id, List<String> peerUrls) {
        return membership.update(id, peerUrls);
    }

    /**
     * Promotes a learner; always decided on the leader, which alone knows whether the learner has caught up (etcd
     * forwards the promotion over its peer API). The caller's permission is checked on this member.
     */
    public CompletableFuture<MemberChangeResponse> memberPromote(long id) {
        return membershipChange(LeaderQuery.newBuilder().setMemberPromote(id).build(), true);
    }

    /**
     * A membership change: made here when this member leads or the change needs no leader's view, otherwise asked
     * of the leader over the Raft connection (see {@link LeaderQuestions}).
     */
    private CompletableFuture<MemberChangeResponse> membershipChange(LeaderQuery q, boolean leaderDecides) {
        if (!leaderDecides || raft.status().isLeader()) {
            return changeMembership(q);
        }
        return LeaderQuestions.ask(raft, q, timer).thenApply(LeaderAnswer::getMembers);
    }

    private CompletableFuture<MemberChangeResponse> changeMembership(LeaderQuery q) {
        return switch (q.getQueryCase()) {
            case MEMBER_ADD -> membership.add(q.getMemberAdd().getPeerURLsList(), q.getMemberAdd().getIsLearner());
            case MEMBER_REMOVE -> membership.remove(q.getMemberRemove());
            case MEMBER_PROMOTE -> membership.promote(q.getMemberPromote());
            default -> throw new IllegalArgumentException("not a membership change: " + q.getQueryCase());
        };
    }

    /** Entries a member keeps in flight: several alone, one in a cluster (see {@link Proposer}). */
    private static final int IN_FLIGHT_SINGLE = Integer.getInteger("keel.proposer.maxInFlight", 4);
    private static final int IN_FLIGHT_CLUSTER = Integer.getInteger("keel.proposer.maxInFlightCluster", 1);
    private volatile long inFlightCheckedAt = System.nanoTime() - 1_000_000_000L;
    private volatile int inFlightLimit = IN_FLIGHT_SINGLE;

    private int proposalsInFlight() {
        long now = System.nanoTime();
        if (now - inFlightCheckedAt > 100_000_000L) { // the configuration changes rarely: look every 100 ms
            try {
                dev.keel.raft.RaftMembers m = raft.members();
                inFlightLimit = m.voters().size() + m.learners().size() > 1 ? IN_FLIGHT_CLUSTER : IN_FLIGHT_SINGLE;
            } catch (RuntimeException e) {
                // not started yet: keep the last answer
            }
            inFlightCheckedAt = now;
        }
        return inFlightLimit;
    }

    // ---- questions other members ask this one outside the log (see LeaderQuestions) ---------------------------

    private final SnapshotTickets snapshotTickets = new SnapshotTickets();

    /** Answers another member's question; arrives on a Ratis thread, so the work moves to this member's pools. */
    private CompletableFuture<LeaderAnswer> answer(LeaderQuery q) {
        return switch (q.getQueryCase()) {
            case LEASE_RENEW, LEASE_TIME_TO_LIVE -> leases.answer(q);
            case MEMBER_PROMOTE, MEMBER_ADD, MEMBER_REMOVE -> CompletableFuture.supplyAsync(() -> q, timer)
                    .thenCompose(x -> raft.status().isLeader() ? changeMembership(x)
                            : CompletableFuture.<MemberChangeResponse>failedFuture(EtcdError.NOT_LEADER.exception()))
                    .thenApply(m -> LeaderAnswer.newBuilder().setMembers(m).build())
                    .exceptionally(LeaderQuestions::error);
            case SNAPSHOT_TICKET -> CompletableFuture.completedFuture(LeaderAnswer.newBuilder()
                    .setSnapshotTicket(SnapshotTicket.newBuilder().setIssuer(identity.memberId())
                            .setTicket(snapshotTickets.issue()))
                    .build());
            default -> CompletableFuture.completedFuture(LeaderQuestions.unsupported(q));
        };
    }

    /** A ticket for downloading the leader's state, from whoever leads now (the installer's thread waits). */
    private SnapshotInstaller.Ticket snapshotTicket(String leaderIdHex) {
        try {
            SnapshotTicket t = LeaderQuestions.ask(raft, LeaderQuery.newBuilder().setSnapshotTicket(true).build(),
                    timer).get(LeaderQuestions.PATIENCE_MS * 2, java.util.concurrent.TimeUnit.MILLISECONDS)
                    .getSnapshotTicket();
            return new SnapshotInstaller.Ticket(ClusterIds.hex(t.getIssuer()), t.getTicket());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while asking for a snapshot ticket", e);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException(String.valueOf(Errors.unwrap(e).getMessage()), e);
        }
    }

    /**
     * TLS for this member's HTTPS calls to another member's client URL: its own certificate (presented when the
     * other side asks for one, --client-cert-auth) and --trusted-ca-file; with --auto-tls the other side's
     * self-signed certificate is not verified, as etcd does. Null when client URLs are plain HTTP.
     */
    static javax.net.ssl.SSLContext internalHttpsContext(EtcdConfig config) {
        EtcdConfig.Tls t = config.clientTls();
        if (!t.enabled()) {
            return null;
        }
        try {
            dev.keel.raft.PeerTls tls = t.autoTls()
                    ? new dev.keel.raft.PeerTls(null, null, null, false, true)
                    : new dev.keel.raft.PeerTls(Path.of(t.certFile()), Path.of(t.keyFile()),
                            t.trustedCaFile().isEmpty() ? null : Path.of(t.trustedCaFile()), false, false);
            return tls.jdkClientContext();
        } catch (IOException | java.security.GeneralSecurityException e) {
            throw new IllegalStateException("client TLS for calls between members: " + e.getMessage(), e);
        }
    }

    // ---- Snapshot install (Raft InstallSnapshot, state-machine side; see SnapshotInstaller) ------------------

    /** The snapshot this member serves at {@link SnapshotInstaller#PATH} to a member installing it. */
    public SnapshotInstaller.Source openRaftSnapshot(String ticket) {
        if (!snapshotTickets.valid(ticket)) {
            throw new EtcdException(EtcdError.Codes.PERMISSION_DENIED,
                    "keel: downloading this member's state needs a ticket it issued to a Raft member");
        }
        return SnapshotInstaller.openSource(storage);
    }

    /**
     * A member's first client URL, by member id in hex (from the member list decided by the log): where the
     * installer downloads the leader's snapshot.
     */
    private URI clientUrlOf(String memberIdHex) {
        List<URI> urls = membership.clientUrls(memberIdHex);
        if (urls.isEmpty()) {
            throw new IllegalStateException("no client URL known for member " + memberIdHex);
        }
        return urls.get(0);
    }

    /**
     * Runs after an installed snapshot has replaced storage and the MVCC store, leases, alarms and downgrade state
     * have been reloaded from it (MVCC reads still held off): reloads the member list from the new contents.
     */
    private void afterSnapshotInstalled() {
        memberStore.reload();
        authStore.reload();
    }

    @Override
    public void close() {
        peerProber.close();
        membership.close();
        leases.close();
        try {
            raft.close();
        } catch (Exception e) {
            LOG.warn("closing raft failed", e);
        }
        snapshotInstaller.close();
        readers.shutdownNow();
        watchSenders.shutdownNow();
        timer.shutdownNow();
        mvcc.close();
        storage.close();
    }
}
