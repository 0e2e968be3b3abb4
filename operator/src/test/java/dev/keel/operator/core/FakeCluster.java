package dev.keel.operator.core;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A simulated etcd cluster and its member workloads, with faults to inject: the etcd API (membership, Status,
 * MoveLeader, Downgrade) and the pods. {@link #tick()} advances the log and the members' applied indexes and holds
 * elections. Every mutating call is recorded in {@link #calls} for ordering assertions.
 */
final class FakeCluster implements ClusterApi, MemberRuntime, MemberAddressing {

    static final class M {
        final long id;
        String name;
        final String peerUrl;
        boolean learner;
        long applied;
        M(long id, String name, String peerUrl, boolean learner) {
            this.id = id;
            this.name = name;
            this.peerUrl = peerUrl;
            this.learner = learner;
        }
    }

    static final class Pod {
        final int ordinal;
        String version;
        boolean crashed;      // the process is down, the pod object stays (not ready)
        boolean terminating;
        Pod(int ordinal, String version) {
            this.ordinal = ordinal;
            this.version = version;
        }
    }

    final String cluster;
    final Map<Long, M> members = new LinkedHashMap<>();
    final Map<Integer, Pod> pods = new TreeMap<>();
    final List<String> calls = new ArrayList<>();
    long commit = 5000;
    long leader;
    long nextId = 0x1000;
    long clusterId;
    Instant now = Instant.parse("2026-01-01T00:00:00Z");

    // faults
    final java.util.Set<String> stuckLearners = new java.util.HashSet<>();
    int promoteRefusals;
    boolean downgradeValidateRefused;
    final java.util.Set<String> brokenVersions = new java.util.HashSet<>(); // pods of these versions never serve
    long learnerCatchUpPerTick = 400;
    final Map<String, Long> staleLeaderView = new java.util.HashMap<>(); // a member still naming an old leader

    FakeCluster(String cluster) {
        this.cluster = cluster;
    }

    Clock clock() {
        return new Clock() {
            @Override
            public ZoneOffset getZone() {
                return ZoneOffset.UTC;
            }

            @Override
            public Clock withZone(java.time.ZoneId zone) {
                return this;
            }

            @Override
            public Instant instant() {
                return now;
            }
        };
    }

    // ------------------------------------------------------------ simulation

    void tick(Duration d) {
        now = now.plus(d);
        commit += 10;
        for (M m : members.values()) {
            if (!serving(m)) {
                continue;
            }
            if (m.learner) {
                if (!stuckLearners.contains(m.name)) {
                    m.applied = Math.min(commit, m.applied + learnerCatchUpPerTick);
                }
            } else {
                m.applied = commit;
            }
        }
        M l = members.get(leader);
        if (l == null || !serving(l)) {
            leader = 0;
            elect();
        }
    }

    void elect() {
        List<M> voters = members.values().stream().filter(m -> !m.learner).toList();
        List<M> up = voters.stream().filter(this::serving).toList();
        if (up.size() >= voters.size() / 2 + 1) {
            leader = up.stream().max(java.util.Comparator.comparingLong(m -> m.applied)).orElseThrow().id;
        }
    }

    boolean serving(M m) {
        int k = ordinal(m.name);
        Pod p = k < 0 ? null : pods.get(k);
        return p != null && !p.crashed && !p.terminating && !brokenVersions.contains(p.version);
    }

    int ordinal(String name) {
        if (name == null || !name.startsWith(cluster + "-")) {
            return -1;
        }
        return Integer.parseInt(name.substring(cluster.length() + 1));
    }

    M byName(String name) {
        return members.values().stream().filter(m -> name.equals(m.name)).findFirst().orElse(null);
    }

    M leaderMember() {
        return members.get(leader);
    }

    void crash(String name) {
        pods.get(ordinal(name)).crashed = true;
        if (byName(name) != null && byName(name).id == leader) {
            leader = 0;
        }
    }

    void recover(String name) {
        pods.get(ordinal(name)).crashed = false;
    }

    List<M> voters() {
        return members.values().stream().filter(m -> !m.learner).toList();
    }

    List<M> learners() {
        return members.values().stream().filter(m -> m.learner).toList();
    }

    private M requireLeader() {
        if (leader == 0) {
            throw new ClusterApiException("etcdserver: no leader");
        }
        return members.get(leader);
    }

    // ------------------------------------------------------------ MemberAddressing

    @Override
    public String peerUrl(String name) {
        return "http://" + name + ".peer:2380";
    }

    @Override
    public String clientUrl(String name) {
        return "http://" + name + ".client:2379";
    }

    private String nameOfUrl(String url) {
        return url.substring("http://".length(), url.indexOf(".client"));
    }

    // ------------------------------------------------------------ ClusterApi

    @Override
    public MemberListing memberList(List<String> urls) {
        for (String u : urls) {
            M m = byName(nameOfUrl(u));
            if (m != null && serving(m)) {
                return new MemberListing(clusterId, members.values().stream()
                        .map(x -> new Member(x.id, x.name, x.peerUrl, x.learner)).toList());
            }
        }
        throw new ClusterApiException("no member answered");
    }

    @Override
    public Member addLearner(List<String> urls, String peerUrl) {
        calls.add("add " + peerUrl);
        requireLeader();
        if (members.values().stream().anyMatch(m -> m.peerUrl.equals(peerUrl))) {
            throw new ClusterApiException("etcdserver: peerURL exists");
        }
        M m = new M(nextId++, "", peerUrl, true);
        members.put(m.id, m);
        return new Member(m.id, "", peerUrl, true);
    }

    @Override
    public void promote(List<String> urls, long id) {
        M m = members.get(id);
        calls.add("promote " + (m == null ? id : m.name));
        requireLeader();
        if (m == null) {
            throw new ClusterApiException("etcdserver: member not found");
        }
        if (!m.learner) {
            throw new ClusterApiException("etcdserver: can only promote a learner member");
        }
        if (promoteRefusals > 0) {
            promoteRefusals--;
            throw new ClusterApiException("etcdserver: can only promote a learner member which is in sync with leader");
        }
        if (commit - m.applied > 1000) {
            throw new ClusterApiException("etcdserver: can only promote a learner member which is in sync with leader");
        }
        m.learner = false;
    }

    @Override
    public void remove(List<String> urls, long id) {
        M m = members.get(id);
        calls.add("remove " + (m == null ? id : m.name));
        requireLeader();
        if (m == null) {
            throw new ClusterApiException("etcdserver: member not found");
        }
        members.remove(id);
        if (leader == id) {
            leader = 0;
            elect();
        }
    }

    @Override
    public MemberHealth status(String url) {
        M m = byName(nameOfUrl(url));
        if (m == null || !serving(m)) {
            return MemberHealth.unreachable("connection refused");
        }
        return new MemberHealth(true, m.id, staleLeaderView.getOrDefault(m.name, leader), commit, m.applied, m.learner, pods.get(ordinal(m.name)).version,
                List.of(), null);
    }

    @Override
    public void moveLeader(String url, long target) {
        M from = byName(nameOfUrl(url));
        M to = members.get(target);
        calls.add("moveLeader " + from.name + "->" + to.name);
        if (from.id != leader) {
            throw new ClusterApiException("etcdserver: not leader");
        }
        if (to.learner || !serving(to)) {
            throw new ClusterApiException("etcdserver: bad leader transferee");
        }
        leader = target;
    }

    @Override
    public void downgrade(List<String> urls, Action.Downgrade.Kind kind, String version) {
        calls.add("downgrade " + kind + (version != null ? " " + version : ""));
        requireLeader();
        if (kind == Action.Downgrade.Kind.VALIDATE && downgradeValidateRefused) {
            throw new ClusterApiException("etcdserver: invalid downgrade target version");
        }
    }

    // ------------------------------------------------------------ MemberRuntime

    @Override
    public Map<Integer, PodState> pods() {
        Map<Integer, PodState> out = new TreeMap<>();
        for (Pod p : pods.values()) {
            M m = members.values().stream().filter(x -> ordinal(x.name) == p.ordinal).findFirst().orElse(null);
            // readiness as /readyz: serving, knows a leader, not a learner
            boolean ready = m != null && serving(m) && leader != 0 && !m.learner;
            out.put(p.ordinal, new PodState(p.ordinal, ready, p.terminating, p.version));
        }
        return out;
    }

    @Override
    public void create(MemberSpec spec) {
        calls.add("create " + spec.name() + " " + spec.version() + (spec.newCluster() ? " new" : " existing"));
        if (pods.containsKey(spec.ordinal())) {
            throw new IllegalStateException("pod " + spec.name() + " exists");
        }
        pods.put(spec.ordinal(), new Pod(spec.ordinal(), spec.version()));
        if (spec.newCluster()) {
            M m = new M(nextId++, spec.name(), peerUrl(spec.name()), false);
            m.applied = commit;
            members.put(m.id, m);
            clusterId = 0xC1;
            leader = m.id;
            return;
        }
        M m = members.values().stream().filter(x -> x.peerUrl.equals(peerUrl(spec.name()))).findFirst().orElse(null);
        if (m == null) {
            // etcd: a member whose peer URL is not in the cluster fails to start
            pods.get(spec.ordinal()).crashed = true;
            return;
        }
        if (!spec.initialCluster().contains(spec.name() + "=" + peerUrl(spec.name()))) {
            throw new IllegalStateException("initial cluster misses the member itself: " + spec.initialCluster());
        }
        m.name = spec.name();
    }

    @Override
    public void delete(int ordinal, boolean deleteData) {
        calls.add("delete " + cluster + "-" + ordinal + (deleteData ? " +data" : ""));
        Pod p = pods.remove(ordinal);
        if (p != null) {
            M m = members.values().stream().filter(x -> ordinal(x.name) == ordinal).findFirst().orElse(null);
            if (m != null && m.id == leader) {
                leader = 0;
            }
        }
    }
}
