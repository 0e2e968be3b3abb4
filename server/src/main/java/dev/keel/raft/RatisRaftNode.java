package dev.keel.raft;

import org.apache.ratis.RaftConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.proto.RaftProtos.CommitInfoProto;
import org.apache.ratis.proto.RaftProtos.RaftConfigurationProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.GroupInfoReply;
import org.apache.ratis.protocol.SetConfigurationRequest;
import org.apache.ratis.protocol.TransferLeadershipRequest;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.server.RaftConfiguration;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.AlreadyClosedException;
import org.apache.ratis.protocol.exceptions.GroupMismatchException;
import org.apache.ratis.protocol.exceptions.LeaderNotReadyException;
import org.apache.ratis.protocol.exceptions.LeaderSteppingDownException;
import org.apache.ratis.protocol.exceptions.NotLeaderException;
import org.apache.ratis.protocol.exceptions.ReadException;
import org.apache.ratis.protocol.exceptions.ReadIndexException;
import org.apache.ratis.protocol.exceptions.ResourceUnavailableException;
import org.apache.ratis.protocol.exceptions.ServerNotReadyException;
import org.apache.ratis.protocol.exceptions.StateMachineException;
import org.apache.ratis.protocol.exceptions.TimeoutIOException;
import org.apache.ratis.rpc.SupportedRpcType;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.TimeDuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link RaftNode} on Apache Ratis (gRPC transport, segmented log on disk).
 *
 * <p><b>Writes.</b> On the leader a proposal is submitted in-process ({@code RaftServer.submitClientRequestAsync});
 * on a follower it is forwarded to the leader through a lazily created Ratis client (unordered, retried with the
 * same call id so the leader's retry cache drops duplicates). While no leader is known, or the leader is not ready
 * yet, the proposal is retried every few milliseconds until the request timeout, then fails with
 * {@link RaftException.NoLeader}. A proposal that was handed to a leader but did not complete in time fails with
 * {@link RaftException.Timeout} (outcome unknown).
 *
 * <p><b>Reads.</b> {@link #readBarrier()} is a Ratis ReadIndex read ({@code raft.server.read.option=LINEARIZABLE})
 * submitted in-process; Ratis obtains the read index from the leader (on a follower too) and completes it once
 * this member has applied up to it. Concurrent barriers are coalesced (see {@link ReadBarrierCoalescer}).
 *
 * <p><b>Threads.</b> Futures returned by {@link #propose} and {@link #readBarrier} are completed on an internal
 * "keel-raft-reply" thread (unless already failed when returned), never on a Ratis thread (in particular not on
 * the apply thread). Callbacks should be short and must not block: two threads deliver all results.
 *
 * <p><b>Durability.</b> The Raft log is fsynced before an entry counts towards a quorum (Ratis groups the fsyncs
 * of concurrent proposals), so an acknowledged write survives kill -9.
 *
 * <p>An instance runs once: {@link #start()} then {@link #close()}; to restart, create a new instance over the same
 * {@link RaftConfig#dataDir()}.
 *
 * <p>The two-argument constructor uses Ratis' 150–300 ms election timeouts, changed with the system properties
 * {@value #ELECTION_TIMEOUT_MIN_PROPERTY} / {@value #ELECTION_TIMEOUT_MAX_PROPERTY} (milliseconds); the member
 * passes etcd's [t, 2t) for --election-timeout t through the four-argument one.
 */
public final class RatisRaftNode implements RaftNode {
    private static final Logger LOG = LoggerFactory.getLogger(RatisRaftNode.class);

    public static final String ELECTION_TIMEOUT_MIN_PROPERTY = "keel.raft.electionTimeoutMinMs";
    public static final String ELECTION_TIMEOUT_MAX_PROPERTY = "keel.raft.electionTimeoutMaxMs";

    private static final long RETRY_DELAY_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final RaftConfig config;
    private final Duration electionTimeoutMin;
    private final Duration electionTimeoutMax;
    private final long timeoutNanos;
    private final RaftGroupId groupId;
    private final RaftPeerId selfId;
    private final RaftPeer selfPeer;
    private final RaftGroup group;
    /**
     * Client id of in-process proposals. Random per instance on purpose: the retry cache (which Ratis also rebuilds
     * while replaying the log) is keyed by (client id, call id), and call ids restart at 1 with every instance.
     */
    private final ClientId clientId = ClientId.randomId();
    private final AtomicLong callIds = new AtomicLong();
    private final KeelStateMachine stateMachine;
    private final ReadBarrierCoalescer barriers;
    private final Set<Op<?>> pending = ConcurrentHashMap.newKeySet();
    private final ScheduledThreadPoolExecutor scheduler;
    private final ExecutorService replyExecutor;

    private final Object lifecycleLock = new Object();
    private boolean started;
    private volatile boolean closed;
    private volatile RaftServer server;
    private volatile RaftServer.Division division;
    private volatile LeaderForwarder forwarder;
    /** TLS between members (--peer-* flags), or null for plain text; set before {@link #start()}. */
    private volatile PeerTls peerTls;

    /** Member-to-member TLS; call before {@link #start()}. */
    public void setPeerTls(PeerTls tls) {
        this.peerTls = tls;
    }

    public RatisRaftNode(RaftConfig config, StateMachineApplier applier) {
        this(config, applier, durationProperty(ELECTION_TIMEOUT_MIN_PROPERTY, 150),
                durationProperty(ELECTION_TIMEOUT_MAX_PROPERTY, 300));
    }

    public RatisRaftNode(RaftConfig config, StateMachineApplier applier, Duration electionTimeoutMin,
                         Duration electionTimeoutMax) {
        this.config = Objects.requireNonNull(config, "config");
        Objects.requireNonNull(applier, "applier");
        Objects.requireNonNull(config.memberId(), "memberId");
        Objects.requireNonNull(config.groupSeed(), "groupSeed");
        Objects.requireNonNull(config.dataDir(), "dataDir");
        if (config.peers() == null || config.learners() == null || config.selfAddress() == null) {
            throw new IllegalArgumentException("peers or learners must contain this member " + config.memberId()
                    + ": " + config.peers() + ", " + config.learners());
        }
        if (config.requestTimeout() == null || config.requestTimeout().isNegative() || config.requestTimeout().isZero()) {
            throw new IllegalArgumentException("requestTimeout must be positive: " + config.requestTimeout());
        }
        if (electionTimeoutMin.isNegative() || electionTimeoutMin.isZero()
                || electionTimeoutMax.compareTo(electionTimeoutMin) <= 0) {
            throw new IllegalArgumentException("need 0 < electionTimeoutMin < electionTimeoutMax: "
                    + electionTimeoutMin + ", " + electionTimeoutMax);
        }
        this.electionTimeoutMin = electionTimeoutMin;
        this.electionTimeoutMax = electionTimeoutMax;
        this.timeoutNanos = config.requestTimeout().toNanos();
        this.groupId = groupIdFor(config.groupSeed());
        this.selfId = RaftPeerId.valueOf(config.memberId());

        final List<RaftPeer> peers = new ArrayList<>(toPeers(config.peers(), RaftPeerRole.FOLLOWER));
        peers.addAll(toPeers(config.learners(), RaftPeerRole.LISTENER));
        this.selfPeer = peers.stream().filter(p -> p.getId().equals(selfId)).findFirst().orElseThrow();
        this.group = RaftGroup.valueOf(groupId, peers);
        this.stateMachine = new KeelStateMachine(applier);
        this.barriers = new ReadBarrierCoalescer(this::issueBarrier, timeoutNanos);

        final int n = INSTANCES.incrementAndGet();
        this.scheduler = new ScheduledThreadPoolExecutor(1, daemonThreads("keel-raft-timer-" + n));
        this.scheduler.setRemoveOnCancelPolicy(true);
        this.replyExecutor = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                daemonThreads("keel-raft-reply-" + n));
    }

    private static List<RaftPeer> toPeers(Map<String, String> members, RaftPeerRole role) {
        final List<RaftPeer> out = new ArrayList<>();
        for (Map.Entry<String, String> e : new TreeMap<>(members).entrySet()) {
            out.add(RaftPeer.newBuilder().setId(e.getKey()).setAddress(e.getValue()).setStartupRole(role).build());
        }
        return out;
    }

    /** Marks group ids that carry an etcd cluster id in their low 64 bits ("keel-grp"). */
    private static final long GROUP_ID_MAGIC = 0x6b65656c2d677270L;

    /**
     * The Raft group id used for a cluster seed (stable across restarts and members). A seed that is an etcd cluster
     * id in hex is kept readable in the group id, so that a member joining an existing cluster learns the cluster id
     * from the group its peers serve (see {@link #discover}).
     */
    static RaftGroupId groupIdFor(String groupSeed) {
        try {
            return RaftGroupId.valueOf(new UUID(GROUP_ID_MAGIC, Long.parseUnsignedLong(groupSeed, 16)));
        } catch (NumberFormatException e) {
            return RaftGroupId.valueOf(UUID.nameUUIDFromBytes(("keel-raft-group:" + groupSeed)
                    .getBytes(StandardCharsets.UTF_8)));
        }
    }

    /** The seed of a group id made by {@link #groupIdFor} from a hex seed, or null. */
    private static String seedOf(RaftGroupId id) {
        final UUID u = id.getUuid();
        return u.getMostSignificantBits() == GROUP_ID_MAGIC ? Long.toHexString(u.getLeastSignificantBits()) : null;
    }

    /** Where Ratis keeps this group's log, metadata and snapshot marker. */
    Path groupDir() {
        return config.dataDir().resolve(groupId.getUuid().toString());
    }

    @Override
    public void start() throws Exception {
        synchronized (lifecycleLock) {
            if (closed) {
                throw new IllegalStateException("closed");
            }
            if (started) {
                throw new IllegalStateException("already started");
            }
            started = true;
            Files.createDirectories(config.dataDir());
            final boolean existing = Files.isDirectory(groupDir());
            final org.apache.ratis.conf.Parameters parameters = new org.apache.ratis.conf.Parameters();
            if (peerTls != null) {
                try {
                    GrpcConfigKeys.TLS.setConf(parameters, peerTls.ratisConfig());
                } catch (java.security.GeneralSecurityException e) {
                    throw new IOException("peer TLS: " + e.getMessage(), e);
                }
            }
            final RaftServer s = RaftServer.newBuilder()
                    .setParameters(parameters)
                    .setServerId(selfId)
                    .setGroup(group)
                    .setStateMachine(stateMachine)
                    .setProperties(serverProperties())
                    .setOption(existing ? RaftStorage.StartupOption.RECOVER : RaftStorage.StartupOption.FORMAT)
                    .build();
            server = s;
            try {
                s.start();
                division = s.getDivision(groupId); // from here on isRunning() and requests are accepted
            } catch (Exception | Error e) {
                server = null;
                try {
                    s.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
            LOG.info("Raft member {} started ({} storage {}, group {}, peers {})", selfId,
                    existing ? "recovered" : "formatted", groupDir(), groupId, config.peers());
        }
    }

    private RaftProperties serverProperties() {
        final RaftProperties p = new RaftProperties();
        RaftConfigKeys.Rpc.setType(p, SupportedRpcType.GRPC);
        RaftServerConfigKeys.setStorageDir(p, List.of(config.dataDir().toFile()));

        final HostPort bind = HostPort.parse(config.bindAddress() != null ? config.bindAddress()
                : selfPeer.getAddress());
        GrpcConfigKeys.Server.setHost(p, bind.host());
        GrpcConfigKeys.Server.setPort(p, bind.port());
        // appendEntries a leader keeps in flight per follower: 8 measured ahead of 2 in every row of the 3-member
        // comparison (and Ratis' default 128 only holds more memory for a slow follower)
        GrpcConfigKeys.Server.setLeaderOutstandingAppendsMax(p, 8);

        // Without this every commit-index move appends an extra (metadata) log entry.
        RaftServerConfigKeys.Log.setLogMetadataEnabled(p, false);

        RaftServerConfigKeys.Read.setOption(p, RaftServerConfigKeys.Read.Option.LINEARIZABLE);
        RaftServerConfigKeys.Read.setTimeout(p, millis(config.requestTimeout()));

        RaftServerConfigKeys.Rpc.setTimeoutMin(p, millis(electionTimeoutMin));
        RaftServerConfigKeys.Rpc.setTimeoutMax(p, millis(electionTimeoutMax));

        // Retry cache entries only need to outlive a forwarded request's retries; the default 60 s holds on to a
        // lot of memory at high proposal rates.
        final long retryCacheMs = Math.max(10_000, 2 * config.requestTimeout().toMillis());
        RaftServerConfigKeys.RetryCache.setExpiryTime(p, TimeDuration.valueOf(retryCacheMs, TimeUnit.MILLISECONDS));

        if (config.snapshotEveryEntries() > 0) {
            RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, true);
            RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(p, config.snapshotEveryEntries());
            // purge the log behind each snapshot (at most etcd's 5000 entries are kept for slow followers)
            RaftServerConfigKeys.Log.setPurgeGap(p, (int) Math.min(5000, config.snapshotEveryEntries()));
        } else {
            RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, false);
        }
        // The applier persists as it applies; a snapshot at stop would only slow close() down.
        RaftServerConfigKeys.Snapshot.setTriggerWhenStopEnabled(p, false);
        // A lagging follower is told to install a snapshot itself (notifyInstallSnapshotFromLeader) instead of the
        // leader streaming snapshot files: our snapshot is a RocksDB checkpoint, not files Ratis knows about.
        RaftServerConfigKeys.Log.Appender.setInstallSnapshotEnabled(p, false);
        // Tuning escape hatch: -Dkeel.ratis.<ratis key>=<value> sets any Ratis server property (e.g.
        // -Dkeel.ratis.raft.server.log.appender.wait-time.min=0ms), overriding the settings above.
        for (String name : System.getProperties().stringPropertyNames()) {
            if (name.startsWith(RATIS_PROPERTY_PREFIX)) {
                p.set(name.substring(RATIS_PROPERTY_PREFIX.length()), System.getProperty(name));
            }
        }
        return p;
    }

    /** System properties with this prefix are passed to Ratis as server properties. */
    public static final String RATIS_PROPERTY_PREFIX = "keel.ratis.";

    // ---------------------------------------------------------------------------------------------------------------
    // propose

    @Override
    public CompletableFuture<byte[]> propose(byte[] command) {
        Objects.requireNonNull(command, "command");
        final Proposal p = new Proposal(ByteString.copyFrom(command), callIds.incrementAndGet());
        final CompletableFuture<byte[]> out = new CompletableFuture<>();
        p.future.whenComplete((r, t) -> deliver(out, r, t));
        p.start();
        return out;
    }

    @Override
    public CompletableFuture<Void> readBarrier() {
        if (!isRunning()) {
            return CompletableFuture.failedFuture(stopped());
        }
        final CompletableFuture<Void> shared = barriers.join();
        final CompletableFuture<Void> out = new CompletableFuture<>();
        shared.whenComplete((r, t) -> deliver(out, r, t));
        return out;
    }

    @Override
    public CompletableFuture<byte[]> askLeader(byte[] query) {
        Objects.requireNonNull(query, "query");
        final Question q = new Question(ByteString.copyFrom(query));
        final CompletableFuture<byte[]> out = new CompletableFuture<>();
        q.future.whenComplete((r, t) -> deliver(out, r, t));
        q.start();
        return out;
    }

    private void issueBarrier(CompletableFuture<Void> barrier, long deadlineNanos) {
        new Barrier(barrier, deadlineNanos).start();
    }

    private static <T> void deliver(CompletableFuture<T> out, T value, Throwable error) {
        if (error != null) {
            out.completeExceptionally(error);
        } else {
            out.complete(value);
        }
    }

    /**
     * Runs {@code task} on the reply executor after a delay (the timer thread itself only hands over). Everything
     * that completes an {@link Op} runs on the reply executor: never on a Ratis thread, where a callback that calls
     * back into Ratis (e.g. the next coalesced read barrier) can deadlock on Ratis' internal locks.
     */
    private ScheduledFuture<?> schedule(Runnable task, long delayNanos) {
        return scheduler.schedule(() -> replyExecutor.execute(task), delayNanos, TimeUnit.NANOSECONDS);
    }

    /**
     * One proposal or barrier: attempts it until it completes, retrying (every few ms, until its deadline) while no
     * leader can take it, and fails it with Timeout at the deadline.
     */
    private abstract class Op<T> {
        final CompletableFuture<T> future;
        final long deadlineNanos;
        /** Set while a request is with Ratis (or the leader); cleared when it came back "not placed". */
        volatile boolean submitted;
        /** Why the last attempt could not be placed with a leader, if that was the reason. */
        volatile String noLeaderReason;
        /**
         * A leader may have appended an earlier attempt (e.g. it answered NotLeader while stepping down, or the
         * reply was lost): the outcome is unknown, so a final failure must be Timeout, never NoLeader.
         */
        volatile boolean maybePlaced;
        private ScheduledFuture<?> timer;

        Op(CompletableFuture<T> future, long deadlineNanos) {
            this.future = future;
            this.deadlineNanos = deadlineNanos;
        }

        final void start() {
            if (!isRunning()) {
                future.completeExceptionally(stopped());
                return;
            }
            pending.add(this);
            future.whenComplete((r, t) -> {
                pending.remove(this);
                final ScheduledFuture<?> tm = timer;
                if (tm != null) {
                    tm.cancel(false);
                }
            });
            final long remaining = deadlineNanos - System.nanoTime();
            if (remaining <= 0) {
                fail(new RaftException.Timeout(what() + " timed out before it could be issued"));
                return;
            }
            try {
                timer = schedule(this::onDeadline, remaining);
            } catch (RejectedExecutionException e) {
                fail(stopped());
                return;
            }
            if (future.isDone()) {
                timer.cancel(false);
                return;
            }
            attempt();
        }

        private void onDeadline() {
            final String reason = noLeaderReason;
            if (!submitted && !maybePlaced && reason != null) {
                fail(new RaftException.NoLeader(what() + " failed: " + reason));
            } else {
                fail(new RaftException.Timeout(what() + " did not complete within "
                        + config.requestTimeout().toMillis() + " ms"));
            }
        }

        final void fail(Throwable t) {
            future.completeExceptionally(t);
        }

        final void attempt() {
            if (future.isDone()) {
                return;
            }
            if (!isRunning()) {
                fail(stopped());
                return;
            }
            try {
                attemptImpl();
            } catch (RuntimeException e) {
                submitted = false;
                fail(isRunning() ? new RaftException(what() + " failed: " + e, e) : stopped());
            }
        }

        abstract String what();

        /** Whether an attempt that may have reached a leader could change the state (proposals, not reads). */
        abstract boolean hasSideEffects();

        /** Sends one attempt; must end in {@link #onReply}, {@link #retryLater} or completing the future. */
        abstract void attemptImpl();

        /** Maps a successful reply to the result. */
        abstract T result(RaftClientReply reply);

        final void retryLater(String noLeader) {
            submitted = false;
            noLeaderReason = noLeader;
            if (deadlineNanos - System.nanoTime() <= RETRY_DELAY_NANOS) {
                onDeadline();
                return;
            }
            try {
                schedule(this::attempt, RETRY_DELAY_NANOS);
            } catch (RejectedExecutionException e) {
                fail(stopped());
            }
        }

        final void submitLocally(RaftClientRequest request) {
            submitted = true;
            CompletableFuture<RaftClientReply> f;
            try {
                f = server.submitClientRequestAsync(request);
            } catch (IOException | RuntimeException e) {
                f = CompletableFuture.failedFuture(e);
            }
            f.whenCompleteAsync((reply, err) -> onReply(reply, err, false), replyExecutor);
        }

        final void onReply(RaftClientReply reply, Throwable err, boolean forwarded) {
            if (future.isDone()) {
                return;
            }
            final Throwable failure = err != null ? unwrap(err) : reply.isSuccess() ? null : reply.getException();
            if (failure == null) {
                future.complete(result(reply));
                return;
            }
            if (!isRunning()) {
                fail(stopped());
            } else if (failure instanceof NotLeaderException || failure instanceof LeaderNotReadyException
                    || failure instanceof LeaderSteppingDownException || failure instanceof ServerNotReadyException
                    || failure instanceof ReadIndexException) {
                // Not taken by a leader: try again (the new leader may be known by now). Entries a stepping-down
                // leader had already appended are deduplicated by the retry cache, as the call id is unchanged.
                if (failure instanceof NotLeaderException && hasSideEffects()) {
                    maybePlaced = true; // also sent for requests pending when a leader steps down
                }
                retryLater(failure.getClass().getSimpleName() + ": " + failure.getMessage());
            } else if (failure instanceof ResourceUnavailableException) {
                retryLater(null); // leader overloaded: back off, Timeout at the deadline
            } else if (failure instanceof TimeoutIOException || failure instanceof TimeoutException
                    || failure instanceof ReadException) {
                fail(new RaftException.Timeout(what() + " timed out: " + failure.getMessage()));
            } else if (failure instanceof StateMachineException) {
                fail(new RaftException(what() + " failed in the state machine: " + failure.getMessage(), failure));
            } else if (failure instanceof GroupMismatchException) {
                fail(new RaftException(what() + " failed, peer does not serve group " + groupId
                        + " (misconfigured peers?): " + failure.getMessage(), failure));
            } else if (forwarded && failure instanceof IOException) {
                // Leader unreachable or shutting down, or the reply was lost: re-send (same call id) until the
                // deadline; the outcome stays unknown, hence Timeout rather than NoLeader in the end.
                maybePlaced = true;
                retryLater(null);
            } else if (failure instanceof AlreadyClosedException) {
                fail(stopped());
            } else if (isTimeout(failure)) {
                // e.g. a read index asked of the leader over Ratis' gRPC that hit DEADLINE_EXCEEDED: etcd answers
                // "request timed out" (UNAVAILABLE), which clients retry
                fail(new RaftException.Timeout(what() + " timed out: " + failure));
            } else {
                fail(new RaftException(what() + " failed" + (forwarded ? " (forwarded)" : "") + ": " + failure,
                        failure));
            }
        }
    }

    private final class Proposal extends Op<byte[]> {
        private final ByteString command;
        private final long callId;

        Proposal(ByteString command, long callId) {
            super(new CompletableFuture<>(), System.nanoTime() + timeoutNanos);
            this.command = command;
            this.callId = callId;
        }

        @Override
        String what() {
            return "proposal #" + callId;
        }

        @Override
        boolean hasSideEffects() {
            return true;
        }

        @Override
        void attemptImpl() {
            final DivisionInfo info = division.getInfo();
            if (info.isLeader()) {
                submitLocally(RaftClientRequest.newBuilder()
                        .setClientId(clientId)
                        .setServerId(selfId)
                        .setGroupId(groupId)
                        .setCallId(callId)
                        .setMessage(Message.valueOf(command))
                        .setType(RaftClientRequest.writeRequestType())
                        .build());
                return;
            }
            final RaftPeerId leader = info.getLeaderId();
            if (leader == null || leader.equals(selfId)) {
                retryLater("no leader (member " + selfId + ", term " + info.getCurrentTerm() + ")");
                return;
            }
            // Forward with our client id and this proposal's call id: a re-send after a lost reply or a leader
            // change is answered from the leader's retry cache instead of being appended twice.
            submitted = true;
            forwarder().send(RaftClientRequest.newBuilder()
                            .setClientId(clientId)
                            .setServerId(leader)
                            .setGroupId(groupId)
                            .setCallId(callId)
                            .setMessage(Message.valueOf(command))
                            .setType(RaftClientRequest.writeRequestType())
                            .build())
                    .whenCompleteAsync((reply, err) -> onReply(reply, err, true), replyExecutor);
        }

        @Override
        byte[] result(RaftClientReply reply) {
            final Message m = reply.getMessage();
            return m == null ? new byte[0] : m.getContent().toByteArray();
        }
    }

    private final class Barrier extends Op<Void> {
        Barrier(CompletableFuture<Void> future, long deadlineNanos) {
            super(future, deadlineNanos);
        }

        @Override
        String what() {
            return "read barrier";
        }

        @Override
        boolean hasSideEffects() {
            return false;
        }

        @Override
        void attemptImpl() {
            final DivisionInfo info = division.getInfo();
            final RaftPeerId leader = info.getLeaderId();
            if (!info.isLeader() && (leader == null || leader.equals(selfId))) {
                retryLater("no leader (member " + selfId + ", term " + info.getCurrentTerm() + ")");
                return;
            }
            // LINEARIZABLE read: the leader confirms its leadership and fixes the read index (a follower asks the
            // leader for it); the reply comes once this member has applied up to the read index.
            submitLocally(RaftClientRequest.newBuilder()
                    .setClientId(clientId)
                    .setServerId(selfId)
                    .setGroupId(groupId)
                    .setCallId(callIds.incrementAndGet())
                    .setMessage(Message.EMPTY)
                    .setType(RaftClientRequest.readRequestType())
                    .build());
        }

        @Override
        Void result(RaftClientReply reply) {
            return null;
        }
    }

    /**
     * A question for the leader's state machine: a read-only request with content, submitted in-process when this
     * member leads and otherwise sent to the leader (as a proposal is). The leader answers once its read index is
     * applied; a follower never answers it from its own state.
     */
    private final class Question extends Op<byte[]> {
        private final ByteString query;

        Question(ByteString query) {
            super(new CompletableFuture<>(), System.nanoTime() + timeoutNanos);
            this.query = query;
        }

        @Override
        String what() {
            return "question to the leader";
        }

        @Override
        boolean hasSideEffects() {
            return false;
        }

        @Override
        void attemptImpl() {
            final DivisionInfo info = division.getInfo();
            final RaftClientRequest.Builder b = RaftClientRequest.newBuilder()
                    .setClientId(clientId)
                    .setGroupId(groupId)
                    .setCallId(callIds.incrementAndGet())
                    .setMessage(Message.valueOf(query))
                    .setType(RaftClientRequest.readRequestType());
            if (info.isLeader()) {
                submitLocally(b.setServerId(selfId).build());
                return;
            }
            final RaftPeerId leader = info.getLeaderId();
            if (leader == null || leader.equals(selfId)) {
                retryLater("no leader (member " + selfId + ", term " + info.getCurrentTerm() + ")");
                return;
            }
            submitted = true;
            forwarder().send(b.setServerId(leader).build())
                    .whenCompleteAsync((reply, err) -> onReply(reply, err, true), replyExecutor);
        }

        @Override
        byte[] result(RaftClientReply reply) {
            final Message m = reply.getMessage();
            return m == null ? new byte[0] : m.getContent().toByteArray();
        }
    }

    private LeaderForwarder forwarder() {
        LeaderForwarder f = forwarder;
        if (f != null) {
            return f;
        }
        synchronized (lifecycleLock) {
            if (closed) {
                throw new IllegalStateException("closed");
            }
            if (forwarder == null) {
                forwarder = new LeaderForwarder(this::addressOf, config.requestTimeout().toMillis(), peerTls);
            }
            return forwarder;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // membership

    /** The current Raft address of a member, from the configuration this member has. */
    private String addressOf(RaftPeerId id) {
        final RaftServer.Division d = division;
        final RaftPeer p = d == null ? group.getPeer(id) : d.getRaftConf().getPeer(id, RaftPeerRole.FOLLOWER,
                RaftPeerRole.LISTENER);
        return p == null ? null : p.getAddress();
    }

    @Override
    public RaftMembers members() {
        final RaftServer.Division d = division;
        if (d == null) {
            return new RaftMembers(config.peers(), config.learners(), false);
        }
        final RaftConfiguration conf = d.getRaftConf();
        final Map<String, String> voters = new TreeMap<>();
        final Map<String, String> learners = new TreeMap<>();
        conf.getCurrentPeers(RaftPeerRole.FOLLOWER).forEach(p -> voters.put(p.getId().toString(), p.getAddress()));
        conf.getCurrentPeers(RaftPeerRole.LISTENER).forEach(p -> learners.put(p.getId().toString(), p.getAddress()));
        final boolean changing = !conf.getPreviousPeers().isEmpty()
                || conf.getLogEntryIndex() > d.getRaftLog().getLastCommittedIndex();
        return new RaftMembers(voters, learners, changing);
    }

    @Override
    public CompletableFuture<Void> changeMembers(Map<String, String> voters, Map<String, String> learners) {
        if (!isRunning()) {
            return CompletableFuture.failedFuture(stopped());
        }
        if (!division.getInfo().isLeader()) {
            return CompletableFuture.failedFuture(new RaftException.NotLeader("member " + selfId + " is not the leader"));
        }
        final SetConfigurationRequest.Arguments args = SetConfigurationRequest.Arguments.newBuilder()
                .setServersInNewConf(toPeers(voters, RaftPeerRole.FOLLOWER))
                .setListenersInNewConf(toPeers(learners, RaftPeerRole.LISTENER))
                .build();
        final SetConfigurationRequest request = new SetConfigurationRequest(clientId, selfId, groupId,
                callIds.incrementAndGet(), args);
        return admin("configuration change", () -> server.setConfigurationAsync(request));
    }

    @Override
    public Map<String, Long> progress() {
        final RaftServer.Division d = division;
        if (d == null || !d.getInfo().isLeader()) {
            return Map.of();
        }
        final Map<String, Long> out = new TreeMap<>();
        for (CommitInfoProto ci : d.getCommitInfos()) {
            out.put(RaftPeerId.valueOf(ci.getServer().getId()).toString(), ci.getCommitIndex());
        }
        out.put(selfId.toString(), d.getRaftLog().getLastCommittedIndex());
        return out;
    }

    @Override
    public Map<String, Long> lastContactMillis() {
        final RaftServer.Division d = division;
        if (d == null || !d.getInfo().isLeader()) {
            return Map.of();
        }
        final org.apache.ratis.proto.RaftProtos.RoleInfoProto role = d.getInfo().getRoleInfoProto();
        if (!role.hasLeaderInfo()) {
            return Map.of();
        }
        final Map<String, Long> out = new TreeMap<>();
        for (org.apache.ratis.proto.RaftProtos.ServerRpcProto f : role.getLeaderInfo().getFollowerInfoList()) {
            out.put(RaftPeerId.valueOf(f.getId().getId()).toString(), f.getLastRpcElapsedTimeMs());
        }
        return out;
    }

    @Override
    public CompletableFuture<Void> transferLeadership(String memberId, Duration timeout) {
        if (!isRunning()) {
            return CompletableFuture.failedFuture(stopped());
        }
        final TransferLeadershipRequest request = new TransferLeadershipRequest(clientId, selfId, groupId,
                callIds.incrementAndGet(), RaftPeerId.valueOf(memberId), timeout.toMillis());
        return admin("leadership transfer to " + memberId, () -> server.transferLeadershipAsync(request));
    }

    /** Calls a Ratis admin operation in-process; the result is delivered on the reply executor. */
    private CompletableFuture<Void> admin(String what, AdminCall call) {
        CompletableFuture<RaftClientReply> f;
        try {
            f = call.call();
        } catch (IOException | RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        return f.handleAsync((reply, err) -> {
            final Throwable failure = err != null ? unwrap(err) : reply.isSuccess() ? null : reply.getException();
            if (failure == null) {
                return null;
            }
            if (failure instanceof NotLeaderException || failure instanceof LeaderNotReadyException
                    || failure instanceof LeaderSteppingDownException) {
                throw new CompletionException(new RaftException.NotLeader(what + " failed: " + failure.getMessage()));
            }
            if (failure instanceof TimeoutIOException || failure instanceof TimeoutException) {
                throw new CompletionException(new RaftException.Timeout(what + " timed out: " + failure.getMessage()));
            }
            throw new CompletionException(new RaftException(what + " failed: " + failure.getMessage(), failure));
        }, replyExecutor);
    }

    @FunctionalInterface
    private interface AdminCall {
        CompletableFuture<RaftClientReply> call() throws IOException;
    }

    /**
     * What a member joining an existing cluster learns from the members it was told about: the cluster's group seed
     * (etcd's cluster id in hex), the current configuration, and the answer of the cluster's applier to
     * {@code query} (a linearizable read, see {@link StateMachineApplier#query}). Tries each address until one
     * answers.
     *
     * @throws IOException if none answers or they serve no Keel group
     */
    public static Discovered discover(List<String> addresses, Duration timeout, byte[] query) throws IOException {
        final RaftProperties p = new RaftProperties();
        RaftConfigKeys.Rpc.setType(p, SupportedRpcType.GRPC);
        RaftClientConfigKeys.Rpc.setRequestTimeout(p, millis(timeout));
        IOException last = null;
        for (String address : addresses) {
            final RaftPeer peer = RaftPeer.newBuilder().setId("discover-" + Math.abs(address.hashCode()))
                    .setAddress(address).build();
            try (RaftClient client = RaftClient.newBuilder().setProperties(p)
                    .setRaftGroup(RaftGroup.valueOf(RaftGroupId.randomId(), peer))
                    .setRetryPolicy(RetryPolicies.noRetry()).build()) {
                for (RaftGroupId gid : client.getGroupManagementApi(peer.getId()).list().getGroupIds()) {
                    final String seed = seedOf(gid);
                    if (seed == null) {
                        continue;
                    }
                    final GroupInfoReply info = client.getGroupManagementApi(peer.getId()).info(gid);
                    final RaftConfigurationProto conf = info.getConf().orElseThrow(
                            () -> new IOException("member at " + address + " did not report its configuration"));
                    final Map<String, String> voters = new TreeMap<>();
                    final Map<String, String> learners = new TreeMap<>();
                    conf.getPeersList().forEach(rp -> voters.put(RaftPeerId.valueOf(rp.getId()).toString(),
                            rp.getAddress()));
                    conf.getListenersList().forEach(rp -> learners.put(RaftPeerId.valueOf(rp.getId()).toString(),
                            rp.getAddress()));
                    final List<RaftPeer> voterPeers = toPeers(voters, RaftPeerRole.FOLLOWER);
                    try (RaftClient groupClient = RaftClient.newBuilder().setProperties(p)
                            .setRaftGroup(RaftGroup.valueOf(gid, voterPeers)).build()) {
                        final RaftClientReply reply = groupClient.io().sendReadOnly(Message.valueOf(
                                ByteString.copyFrom(query)));
                        if (!reply.isSuccess()) {
                            throw new IOException("query failed: " + reply.getException());
                        }
                        return new Discovered(seed, new RaftMembers(voters, learners, false),
                                reply.getMessage().getContent().toByteArray());
                    }
                }
                last = new IOException("member at " + address + " serves no Keel cluster");
            } catch (IOException | RuntimeException e) {
                last = e instanceof IOException io ? io : new IOException(e.toString(), e);
            }
        }
        throw last != null ? last : new IOException("no addresses to ask");
    }

    /** The outcome of {@link #discover}: the group seed, the Raft configuration and the applier's answer. */
    public record Discovered(String groupSeed, RaftMembers members, byte[] answer) {
    }

    // ---------------------------------------------------------------------------------------------------------------
    // status / lifecycle

    @Override
    public RaftStatus status() {
        final RaftServer.Division d = division;
        if (d == null) {
            return new RaftStatus(0, null, false, false, 0, 0);
        }
        final DivisionInfo info = d.getInfo();
        final boolean isLeader = info.isLeader();
        // Right after winning an election the role is LEADER a moment before the leader id is recorded.
        final RaftPeerId leader = isLeader ? selfId : info.getLeaderId();
        return new RaftStatus(info.getCurrentTerm(), leader == null ? null : leader.toString(), isLeader,
                info.isListener(), Math.max(0, d.getRaftLog().getLastCommittedIndex()),
                Math.max(0, info.getLastAppliedIndex()));
    }

    @Override
    public long term() {
        final RaftServer.Division d = division;
        return d == null ? 0 : d.getInfo().getCurrentTerm();
    }

    @Override
    public boolean isLearner() {
        final RaftServer.Division d = division;
        return d != null && d.getInfo().isListener();
    }

    private RaftPeerId currentLeader() {
        final RaftServer.Division d = division;
        return d == null ? null : d.getInfo().getLeaderId();
    }

    private boolean isRunning() {
        final RaftServer.Division d = division;
        return !closed && d != null && d.getInfo().isAlive();
    }

    @Override
    public String failure() {
        if (closed) {
            return null;
        }
        final Throwable applyFailure = stateMachine.applyFailure();
        if (applyFailure != null || (division != null && !division.getInfo().isAlive())) {
            return stopped().getMessage();
        }
        return null;
    }

    /** Whether {@code t} or one of its causes is a timeout (of Ratis' transport: DEADLINE_EXCEEDED). */
    private static boolean isTimeout(Throwable t) {
        for (int i = 0; t != null && i < 10; i++, t = t.getCause()) {
            if (t instanceof TimeoutIOException || t instanceof TimeoutException
                    || t instanceof java.net.SocketTimeoutException
                    || (t.getMessage() != null && t.getMessage().contains("DEADLINE_EXCEEDED"))) {
                return true;
            }
        }
        return false;
    }

    private RaftException.Stopped stopped() {
        if (closed) {
            return new RaftException.Stopped("Raft member " + selfId + " is closed");
        }
        if (division == null) {
            return new RaftException.Stopped("Raft member " + selfId + " is not started");
        }
        final Throwable applyFailure = stateMachine.applyFailure();
        if (applyFailure != null) {
            return new RaftException.Stopped("Raft member " + selfId + " stopped after the state machine failed: "
                    + applyFailure);
        }
        return new RaftException.Stopped("Raft member " + selfId + " is not running");
    }

    @Override
    public void close() throws Exception {
        final RaftServer s;
        final LeaderForwarder c;
        synchronized (lifecycleLock) {
            if (closed) {
                return;
            }
            closed = true;
            s = server;
            c = forwarder;
        }
        Exception failure = null;
        barriers.failQueued(stopped());
        if (c != null) {
            try {
                c.close();
            } catch (Exception e) {
                failure = e;
            }
        }
        if (s != null) {
            try {
                s.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        for (Op<?> op : pending.toArray(new Op<?>[0])) {
            op.fail(stopped());
        }
        scheduler.shutdownNow();
        replyExecutor.shutdown();
        LOG.info("Raft member {} closed", selfId);
        if (failure != null) {
            throw failure;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // helpers

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    private static TimeDuration millis(Duration d) {
        return TimeDuration.valueOf(d.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static Duration durationProperty(String name, long defaultMillis) {
        final String v = System.getProperty(name);
        if (v == null || v.isBlank()) {
            return Duration.ofMillis(defaultMillis);
        }
        try {
            return Duration.ofMillis(Long.parseLong(v.trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("system property " + name + " must be a number of milliseconds: " + v);
        }
    }

    private static ThreadFactory daemonThreads(String prefix) {
        final AtomicInteger count = new AtomicInteger();
        return r -> {
            final Thread t = new Thread(r, prefix + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** "host:port", "[v6]:port". */
    record HostPort(String host, int port) {
        static HostPort parse(String address) {
            final String a = Objects.requireNonNull(address, "address").trim();
            final int colon = a.lastIndexOf(':');
            if (colon <= 0 || colon == a.length() - 1) {
                throw new IllegalArgumentException("peer address must be host:port: " + address);
            }
            String host = a.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            try {
                return new HostPort(host, Integer.parseInt(a.substring(colon + 1)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("peer address must be host:port: " + address, e);
            }
        }
    }
}
