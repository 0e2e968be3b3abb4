package dev.keel.membership;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.keel.errors.EtcdError;
import dev.keel.proto.etcdserverpb.Member;
import dev.keel.proto.internal.MemberBootstrap;
import dev.keel.proto.internal.MemberChange;
import dev.keel.storage.Storage;
import org.jboss.logging.Logger;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The cluster's members as the log has decided them (etcd's membership.RaftCluster): id, name, peer and client
 * URLs, learner or voter, and the ids that were removed (which can never come back). Changed only by applied log
 * entries, so every member holds the same list; persisted in the {@code meta} column under {@code member/}.
 *
 * <p>This is the desired membership. The Raft engine's own configuration follows it: the leader changes the
 * Raft configuration to match after each change (see the server's membership reconciler), so between the two
 * steps the lists may briefly differ.
 *
 * <p>Invariants: a member id appears at most once; no two members share a peer URL; a removed id is never a
 * member again; at most {@code maxLearners} learners.
 *
 * <p>Threads: {@link #bootstrap}, {@link #apply} and {@link #commit} run on the apply thread; {@link #members}
 * and {@link #member} from any thread.
 */
public final class MemberStore {

    private static final Logger LOG = Logger.getLogger(MemberStore.class);
    /** Meta key prefixes; also what a client snapshot leaves out (a restored member starts a new cluster). */
    public static final String MEMBER_PREFIX = "member/";
    public static final String REMOVED_PREFIX = "member_removed/";

    private final Storage storage;
    private final Storage.Column meta;
    private final int maxLearners;
    /** Written only by the apply thread. Sorted by id (unsigned). */
    private final TreeMap<Long, Member> members = new TreeMap<>(Long::compareUnsigned);
    private final Set<Long> removed = new HashSet<>();
    private final Map<String, byte[]> staged = new LinkedHashMap<>();
    private volatile List<Member> snapshot = List.of();

    public MemberStore(Storage storage, String metaColumn, int maxLearners) {
        this.storage = storage;
        this.meta = storage.column(metaColumn);
        this.maxLearners = maxLearners;
        reload();
    }

    /** Re-reads the members from storage (at startup and after the whole state was replaced). */
    public synchronized void reload() {
        members.clear();
        removed.clear();
        staged.clear();
        scan(MEMBER_PREFIX, (k, v) -> {
            try {
                Member m = Member.parseFrom(v);
                members.put(m.getID(), m);
            } catch (InvalidProtocolBufferException e) {
                LOG.warnf("ignoring an unreadable member record %s", new String(k, StandardCharsets.UTF_8));
            }
        });
        scan(REMOVED_PREFIX, (k, v) -> removed.add(Long.parseUnsignedLong(
                new String(k, StandardCharsets.UTF_8).substring(REMOVED_PREFIX.length()), 16)));
        publish();
    }

    private void scan(String prefix, java.util.function.BiConsumer<byte[], byte[]> visitor) {
        byte[] from = prefix.getBytes(StandardCharsets.UTF_8);
        byte[] to = from.clone();
        to[to.length - 1]++;
        storage.scan(meta, from, to, (k, v) -> {
            visitor.accept(k, v);
            return true;
        });
    }

    /** The members now, sorted by id. Empty until the bootstrap entry has been applied. */
    public List<Member> members() {
        return snapshot;
    }

    /** One member, or null. */
    public Member member(long id) {
        for (Member m : snapshot) {
            if (m.getID() == id) {
                return m;
            }
        }
        return null;
    }

    /** Whether {@code id} was a member and has been removed. */
    public synchronized boolean isRemoved(long id) {
        return removed.contains(id);
    }

    /** Applies the bootstrap members if nothing is known yet; a later bootstrap entry changes nothing. */
    public void bootstrap(MemberBootstrap b) {
        synchronized (this) {
            if (!members.isEmpty() || !removed.isEmpty()) {
                return;
            }
            for (Member m : b.getMembersList()) {
                put(m);
            }
        }
        publish();
    }

    /**
     * Validates and applies one change, as etcd's ValidateConfigurationChange + apply; throws etcd's error, before
     * changing anything, for a change that is not allowed.
     *
     * @return the affected member after the change (for REMOVE, as it was)
     */
    public Member apply(MemberChange c) {
        Member out;
        synchronized (this) {
            long id = c.getMemberId();
            Member current = members.get(id);
            switch (c.getAction()) {
                case ADD -> {
                    if (removed.contains(id)) {
                        throw EtcdError.MEMBER_NOT_FOUND.exception(); // etcd: ErrIDRemoved
                    }
                    if (current != null) {
                        throw EtcdError.MEMBER_EXIST.exception();
                    }
                    checkPeerUrlsFree(id, c.getPeerUrlsList());
                    if (c.getIsLearner() && learners() >= maxLearners) {
                        throw EtcdError.TOO_MANY_LEARNERS.exception();
                    }
                    out = Member.newBuilder().setID(id).addAllPeerURLs(c.getPeerUrlsList())
                            .setIsLearner(c.getIsLearner()).build();
                    put(out);
                }
                case REMOVE -> {
                    out = existing(id, current);
                    members.remove(id);
                    removed.add(id);
                    staged.put(MEMBER_PREFIX + hex(id), null);
                    staged.put(REMOVED_PREFIX + hex(id), new byte[0]);
                }
                case UPDATE -> {
                    existing(id, current);
                    checkPeerUrlsFree(id, c.getPeerUrlsList());
                    out = current.toBuilder().clearPeerURLs().addAllPeerURLs(c.getPeerUrlsList()).build();
                    put(out);
                }
                case PROMOTE -> {
                    existing(id, current);
                    if (!current.getIsLearner()) {
                        throw EtcdError.MEMBER_NOT_LEARNER.exception();
                    }
                    out = current.toBuilder().setIsLearner(false).build();
                    put(out);
                }
                case PUBLISH -> {
                    if (current == null) {
                        return null; // removed meanwhile: nothing to record (etcd ignores it too)
                    }
                    out = current.toBuilder().setName(c.getName()).clearClientURLs()
                            .addAllClientURLs(c.getClientUrlsList()).build();
                    put(out);
                }
                default -> throw EtcdError.UNKNOWN_METHOD.exception();
            }
        }
        publish();
        return out;
    }

    private Member existing(long id, Member current) {
        if (current == null) {
            throw EtcdError.MEMBER_NOT_FOUND.exception(); // also for a removed id (etcd: ErrIDRemoved)
        }
        return current;
    }

    private void checkPeerUrlsFree(long id, List<String> urls) {
        for (Member m : members.values()) {
            if (m.getID() == id) {
                continue;
            }
            for (String u : urls) {
                if (m.getPeerURLsList().contains(u)) {
                    throw EtcdError.PEER_URL_EXIST.exception();
                }
            }
        }
    }

    private int learners() {
        int n = 0;
        for (Member m : members.values()) {
            if (m.getIsLearner()) {
                n++;
            }
        }
        return n;
    }

    private void put(Member m) {
        members.put(m.getID(), m);
        staged.put(MEMBER_PREFIX + hex(m.getID()), m.toByteArray());
    }

    /** Adds the staged changes to the entry's batch (apply thread). */
    public synchronized void commit(Storage.Batch batch) {
        for (Map.Entry<String, byte[]> e : staged.entrySet()) {
            byte[] key = e.getKey().getBytes(StandardCharsets.UTF_8);
            if (e.getValue() == null) {
                batch.delete(meta, key);
            } else {
                batch.put(meta, key, e.getValue());
            }
        }
        staged.clear();
    }

    private synchronized void publish() {
        snapshot = List.copyOf(new ArrayList<>(members.values()));
    }

    private static String hex(long id) {
        return String.format("%016x", id);
    }
}
