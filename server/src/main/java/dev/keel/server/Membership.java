package dev.keel.server;

import dev.keel.errors.EtcdError;
import dev.keel.membership.MemberStore;
import dev.keel.proto.etcdserverpb.Member;
import dev.keel.proto.internal.InternalRequest;
import dev.keel.proto.internal.InternalResponse;
import dev.keel.proto.internal.MemberBootstrap;
import dev.keel.proto.internal.MemberChange;
import dev.keel.proto.internal.MemberChangeResponse;
import dev.keel.raft.RaftMembers;
import dev.keel.raft.RaftNode;
import org.jboss.logging.Logger;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Cluster membership on one member (etcd's Cluster service and the server parts behind it).
 *
 * <p>The member list is decided by the log ({@link MemberStore}); the Raft engine's configuration follows it. Three
 * loops keep things moving, each idempotent and safe to run on any member at any time:
 * <ul>
 *   <li><b>bootstrap</b>: until the log holds a member list, every bootstrap member proposes the one from
 *       --initial-cluster (they are all equal; the first applied wins);</li>
 *   <li><b>publish</b>: a started member records its name and client URLs in the list when they differ
 *       (etcd's publish), so MemberList shows every member's client URLs;</li>
 *   <li><b>reconcile</b> (leader only): changes the Raft configuration towards the list, one step at a time. A new
 *       voter first joins Raft as a learner and becomes a voter once caught up, so adding a member never makes the
 *       quorum wait for a process that has not started yet; a leader that is being removed first hands leadership
 *       to another voter.</li>
 * </ul>
 */
final class Membership implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(Membership.class);
    /** etcd's readyPercentThreshold: a learner is in sync when its log reaches 90% of the leader's. */
    static final double LEARNER_READY_FRACTION = 0.9;
    private static final long LOOP_MILLIS = 250;

    private final EtcdConfig config;
    private final MemberIdentity identity;
    private final MemberStore store;
    private final RaftNode raft;
    private final Function<InternalRequest.Builder, CompletableFuture<InternalResponse>> propose;
    private final Runnable onRemoved;
    private final String self;
    private volatile boolean proposing;
    private volatile boolean reconfiguring;
    private volatile boolean removedHandled;
    private volatile long removedSeenNanos;
    private volatile long lastWarnNanos;
    private ScheduledFuture<?> loop;

    Membership(EtcdConfig config, MemberIdentity identity, MemberStore store, RaftNode raft,
               Function<InternalRequest.Builder, CompletableFuture<InternalResponse>> propose, Runnable onRemoved) {
        this.config = config;
        this.identity = identity;
        this.store = store;
        this.raft = raft;
        this.propose = propose;
        this.onRemoved = onRemoved;
        this.self = ClusterIds.hex(identity.memberId());
    }

    void start(ScheduledExecutorService timer) {
        loop = timer.scheduleWithFixedDelay(this::tick, 0, LOOP_MILLIS, TimeUnit.MILLISECONDS);
    }

    private void tick() {
        try {
            publish();
            reconcile();
        } catch (RuntimeException e) {
            warn("membership upkeep failed: %s", e);
        }
    }

    // ---- reading -------------------------------------------------------------------------------------------------

    /** The members, from the log once the bootstrap entry is applied, from this member's bootstrap view before. */
    List<Member> list() {
        List<Member> ms = store.members();
        List<Member> out = new ArrayList<>();
        for (Member m : ms.isEmpty() ? bootstrapMembers() : ms) {
            // this member's own attributes are known before its publish entry is applied
            out.add(m.getID() == identity.memberId() && m.getClientURLsCount() == 0 ? withOwnAttributes(m) : m);
        }
        return out;
    }

    private Member withOwnAttributes(Member m) {
        Member.Builder b = m.toBuilder().setName(config.name());
        config.advertiseClientUrls().forEach(u -> b.addClientURLs(u.toString()));
        return b.build();
    }

    /** The bootstrap members as this member was started with them (name known for those in --initial-cluster). */
    private List<Member> bootstrapMembers() {
        Map<Long, Member.Builder> out = new TreeMap<>(Long::compareUnsigned);
        identity.peers().forEach((id, url) -> out.put(id, Member.newBuilder().setID(id).addPeerURLs(url.toString())));
        config.initialCluster().forEach((name, urls) -> {
            Member.Builder b = out.get(ClusterIds.memberId(urls, config.initialClusterToken()));
            if (b != null) {
                b.setName(name).clearPeerURLs();
                urls.forEach(u -> b.addPeerURLs(u.toString()));
            }
        });
        List<Member> list = new ArrayList<>();
        out.values().forEach(b -> list.add(b.build()));
        return list;
    }

    /**
     * The client URLs of a member (hex id): as published in the member list; before this member's list has caught up,
     * as learnt when it joined; for this member itself, its own. Empty if unknown.
     */
    List<URI> clientUrls(String memberIdHex) {
        long id = Long.parseUnsignedLong(memberIdHex, 16);
        Member m = store.member(id);
        List<URI> out = new ArrayList<>();
        if (m != null && m.getClientURLsCount() > 0) {
            m.getClientURLsList().forEach(u -> out.add(URI.create(u)));
        } else if (identity.clientUrls().containsKey(id)) {
            out.add(identity.clientUrls().get(id));
        } else if (id == identity.memberId()) {
            out.addAll(config.advertiseClientUrls());
        }
        return out;
    }

    // ---- changes ---------------------------------------------------------------------------------------------------

    CompletableFuture<MemberChangeResponse> add(List<String> peerUrls, boolean learner) {
        List<URI> urls;
        try {
            urls = parsePeerUrls(peerUrls);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        // etcd: a new member's id hashes its peer URLs, the cluster token and the time, so re-adding a removed
        // member at the same URLs gives it a new id
        long id = ClusterIds.memberId(urls, config.initialClusterToken() + (System.currentTimeMillis() / 1000));
        if (config.strictReconfigCheck() && !learner && !readyToAddVoter(store.members())) {
            return CompletableFuture.failedFuture(EtcdError.NOT_ENOUGH_STARTED_MEMBERS.exception());
        }
        if (config.strictReconfigCheck() && !allVotersConnected(store.members(), raft.lastContactMillis(), self)) {
            return CompletableFuture.failedFuture(EtcdError.UNHEALTHY.exception());
        }
        return change(MemberChange.newBuilder().setAction(MemberChange.Action.ADD).setMemberId(id)
                .addAllPeerUrls(peerUrls).setIsLearner(learner));
    }

    CompletableFuture<MemberChangeResponse> remove(long id) {
        if (config.strictReconfigCheck() && !readyToRemove(store.members(), id)) {
            return CompletableFuture.failedFuture(EtcdError.NOT_ENOUGH_STARTED_MEMBERS.exception());
        }
        if (config.strictReconfigCheck() && !quorumConnectedAfterRemoval(store.members(), id,
                raft.lastContactMillis(), self)) {
            return CompletableFuture.failedFuture(EtcdError.UNHEALTHY.exception());
        }
        return change(MemberChange.newBuilder().setAction(MemberChange.Action.REMOVE).setMemberId(id));
    }

    CompletableFuture<MemberChangeResponse> update(long id, List<String> peerUrls) {
        try {
            parsePeerUrls(peerUrls);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        return change(MemberChange.newBuilder().setAction(MemberChange.Action.UPDATE).setMemberId(id)
                .addAllPeerUrls(peerUrls));
    }

    /**
     * Promotes a learner. Only the leader knows how far a learner has come, so a follower answers "not leader" and
     * the API layer forwards the call to the leader, as etcd does.
     */
    CompletableFuture<MemberChangeResponse> promote(long id) {
        if (!raft.status().isLeader()) {
            return CompletableFuture.failedFuture(EtcdError.NOT_LEADER.exception());
        }
        Member m = store.member(id);
        if (m == null) {
            return CompletableFuture.failedFuture(EtcdError.MEMBER_NOT_FOUND.exception());
        }
        if (!m.getIsLearner()) {
            return CompletableFuture.failedFuture(EtcdError.MEMBER_NOT_LEARNER.exception());
        }
        if (config.strictReconfigCheck() && !readyToPromote(store.members())) {
            return CompletableFuture.failedFuture(EtcdError.NOT_ENOUGH_STARTED_MEMBERS.exception());
        }
        if (!caughtUp(ClusterIds.hex(id))) {
            return CompletableFuture.failedFuture(EtcdError.LEARNER_NOT_READY.exception());
        }
        return change(MemberChange.newBuilder().setAction(MemberChange.Action.PROMOTE).setMemberId(id));
    }

    private CompletableFuture<MemberChangeResponse> change(MemberChange.Builder c) {
        return propose.apply(InternalRequest.newBuilder().setMemberChange(c))
                .thenApply(InternalResponse::getMemberChange);
    }

    // ---- --strict-reconfig-check (etcd's quorum guards; a member counts as started once it has published) -------

    /** Adding a voter keeps a quorum of started voters (a one-member cluster may always add its second). */
    static boolean readyToAddVoter(List<Member> members) {
        int voters = 1 + voters(members); // the new one counts
        int started = startedVoters(members);
        return (started == 1 && voters == 2) || started >= voters / 2 + 1;
    }

    private static int voters(List<Member> members) {
        return (int) members.stream().filter(m -> !m.getIsLearner()).count();
    }

    /** Voters that have published their name (etcd's IsStarted). */
    private static int startedVoters(List<Member> members) {
        return (int) members.stream().filter(m -> !m.getIsLearner() && !m.getName().isEmpty()).count();
    }

    /** Removing a member leaves a quorum of started voters among the rest (learners may always go). */
    static boolean readyToRemove(List<Member> members, long id) {
        int voters = 0;
        int started = 0;
        for (Member m : members) {
            if (m.getID() == id && m.getIsLearner()) {
                return true;
            }
            if (!m.getIsLearner() && m.getID() != id) {
                voters++;
                started += m.getName().isEmpty() ? 0 : 1;
            }
        }
        return started >= voters / 2 + 1;
    }

    /** How recently (ms) the leader must have heard from a member for it to count as connected (etcd: 5 s). */
    static final long HEALTH_INTERVAL_MS = 5000;

    /** Leader's view: every voter answered within {@link #HEALTH_INTERVAL_MS} (etcd's isConnectedFullySince). */
    static boolean allVotersConnected(List<Member> members, Map<String, Long> lastContact, String self) {
        for (Member m : members) {
            if (!m.getIsLearner() && !connected(m, lastContact, self)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Leader's view: removing {@code id}, a connected voter, leaves connected voters that still form a quorum
     * (etcd's numConnectedSince check). Removing a learner or a member that is down is always fine.
     */
    static boolean quorumConnectedAfterRemoval(List<Member> members, long id, Map<String, Long> lastContact,
                                               String self) {
        int voters = 0;
        int connected = 0;
        for (Member m : members) {
            if (m.getID() == id && m.getIsLearner()) {
                return true;
            }
            if (!m.getIsLearner()) {
                voters++;
                connected += connected(m, lastContact, self) ? 1 : 0;
            }
        }
        Member removed = members.stream().filter(m -> m.getID() == id).findFirst().orElse(null);
        if (removed == null) {
            return true; // unknown id: the apply answers "member not found"
        }
        if (!ClusterIds.hex(id).equals(self) && !connected(removed, lastContact, self)) {
            return true; // a member that is down is not part of the active quorum
        }
        return connected - 1 >= (voters - 1) / 2 + 1;
    }

    private static boolean connected(Member m, Map<String, Long> lastContact, String self) {
        String hex = ClusterIds.hex(m.getID());
        if (hex.equals(self)) {
            return true;
        }
        Long ms = lastContact.get(hex);
        return ms != null && ms <= HEALTH_INTERVAL_MS;
    }

    /** Promoting a learner (counted as started) keeps a quorum of started voters. */
    static boolean readyToPromote(List<Member> members) {
        int voters = 1 + voters(members);
        int started = 1 + startedVoters(members);
        return started >= voters / 2 + 1;
    }

    /** Whether the member's log has reached {@value #LEARNER_READY_FRACTION} of the leader's (leader only). */
    private boolean caughtUp(String id) {
        Map<String, Long> progress = raft.progress();
        Long match = progress.get(id);
        Long leader = progress.get(self);
        return match != null && leader != null && match > 0 && match >= LEARNER_READY_FRACTION * leader;
    }

    /** etcd's types.NewURLs: at least one, each http(s)://host:port without a path. */
    static List<URI> parsePeerUrls(List<String> raw) {
        if (raw.isEmpty()) {
            throw EtcdError.MEMBER_BAD_URLS.exception();
        }
        List<URI> out = new ArrayList<>();
        for (String s : raw) {
            try {
                URI u = new URI(s.trim());
                boolean okScheme = "http".equals(u.getScheme()) || "https".equals(u.getScheme());
                if (!okScheme || u.getHost() == null || u.getPort() <= 0
                        || (u.getRawPath() != null && !u.getRawPath().isEmpty())) {
                    throw EtcdError.MEMBER_BAD_URLS.exception();
                }
                out.add(u);
            } catch (URISyntaxException e) {
                throw EtcdError.MEMBER_BAD_URLS.exception();
            }
        }
        return out;
    }

    // ---- loops -----------------------------------------------------------------------------------------------------

    private void publish() {
        if (proposing) {
            return;
        }
        List<Member> ms = store.members();
        InternalRequest.Builder req = null;
        if (ms.isEmpty()) {
            if (identity.learners().isEmpty()) { // joined members never bootstrap
                req = InternalRequest.newBuilder().setMemberBootstrap(
                        MemberBootstrap.newBuilder().addAllMembers(bootstrapMembers()));
            }
        } else if (store.isRemoved(identity.memberId())) {
            stopIfGone();
        } else {
            Member me = store.member(identity.memberId());
            List<String> clientUrls = new ArrayList<>();
            config.advertiseClientUrls().forEach(u -> clientUrls.add(u.toString()));
            if (me != null && (!me.getName().equals(config.name()) || !me.getClientURLsList().equals(clientUrls))) {
                req = InternalRequest.newBuilder().setMemberChange(MemberChange.newBuilder()
                        .setAction(MemberChange.Action.PUBLISH).setMemberId(identity.memberId())
                        .setName(config.name()).addAllClientUrls(clientUrls));
            }
        }
        if (req == null || raft.status().leaderId() == null) {
            return;
        }
        proposing = true;
        propose.apply(req).whenComplete((r, err) -> {
            proposing = false;
            if (err != null) {
                warn("publishing this member's attributes failed (will retry): %s", err);
            }
        });
    }

    /**
     * This member was removed: stop once it is out of the Raft configuration, or a few seconds after it learnt of the
     * removal (the leader may commit the new configuration without telling a member it no longer includes). A leader
     * stays until it has handed leadership over.
     */
    private void stopIfGone() {
        if (removedHandled || raft.status().isLeader()) {
            return;
        }
        long now = System.nanoTime();
        if (removedSeenNanos == 0) {
            removedSeenNanos = now;
        }
        RaftMembers conf = raft.members();
        boolean inConf = conf.voters().containsKey(self) || conf.learners().containsKey(self);
        if (!inConf || now - removedSeenNanos > TimeUnit.SECONDS.toNanos(5)) {
            removedHandled = true;
            LOG.errorf("this member (%s) has been permanently removed from the cluster; stopping", self);
            onRemoved.run();
        }
    }

    private void reconcile() {
        if (reconfiguring || !raft.status().isLeader()) {
            return;
        }
        List<Member> ms = store.members();
        if (ms.isEmpty()) {
            return;
        }
        Map<String, String> wantVoters = new TreeMap<>();
        Map<String, String> wantLearners = new TreeMap<>();
        for (Member m : ms) {
            (m.getIsLearner() ? wantLearners : wantVoters).put(ClusterIds.hex(m.getID()),
                    MemberIdentity.hostPort(URI.create(m.getPeerURLs(0))));
        }
        RaftMembers now = raft.members();
        if (now.changing() || (wantVoters.equals(now.voters()) && wantLearners.equals(now.learners()))) {
            return;
        }
        if (!wantVoters.containsKey(self)) {
            handOverLeadership(now, wantVoters);
            return;
        }
        Map<String, String> voters = new TreeMap<>();
        Map<String, String> learners = new TreeMap<>(wantLearners);
        wantVoters.forEach((id, addr) -> {
            boolean voterNow = now.voters().containsKey(id);
            if (voterNow || (now.learners().containsKey(id) && caughtUp(id))) {
                voters.put(id, addr);
            } else {
                learners.put(id, addr); // joins as a learner until caught up
            }
        });
        if (voters.equals(now.voters()) && learners.equals(now.learners())) {
            return;
        }
        LOG.infof("changing the Raft configuration: voters %s -> %s, learners %s -> %s", now.voters().keySet(),
                voters.keySet(), now.learners().keySet(), learners.keySet());
        reconfiguring = true;
        raft.changeMembers(voters, learners).whenComplete((v, err) -> {
            reconfiguring = false;
            if (err != null) {
                warn("Raft configuration change failed (will retry): %s", err);
            }
        });
    }

    /** This leader is no longer wanted as a voter: move leadership to the most advanced remaining voter first. */
    private void handOverLeadership(RaftMembers now, Map<String, String> wantVoters) {
        Map<String, Long> progress = raft.progress();
        String target = null;
        long best = -1;
        for (String id : wantVoters.keySet()) {
            long p = progress.getOrDefault(id, -1L);
            if (now.voters().containsKey(id) && p > best) {
                best = p;
                target = id;
            }
        }
        if (target == null) {
            warn("this leader is being removed but no remaining voter can take over yet%s", "");
            return;
        }
        LOG.infof("this leader is being removed from the cluster; handing leadership to %s", target);
        reconfiguring = true;
        raft.transferLeadership(target, Duration.ofSeconds(5)).whenComplete((v, err) -> {
            reconfiguring = false;
            if (err != null) {
                warn("leadership transfer failed (will retry): %s", err);
            }
        });
    }

    private void warn(String format, Object arg) {
        long now = System.nanoTime();
        if (now - lastWarnNanos > TimeUnit.SECONDS.toNanos(5)) {
            lastWarnNanos = now;
            LOG.warnf(format, arg);
        }
    }

    @Override
    public void close() {
        if (loop != null) {
            loop.cancel(false);
        }
    }
}
