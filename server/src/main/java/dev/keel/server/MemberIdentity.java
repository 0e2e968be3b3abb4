package dev.keel.server;

import dev.keel.proto.etcdserverpb.Member;
import dev.keel.proto.internal.MemberChangeResponse;
import dev.keel.raft.RaftMembers;
import dev.keel.raft.RatisRaftNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Who this member is: its id, its cluster's id and the Raft members it first started with. Made on first start
 * and kept in {@code member/identity}, so that later starts (like etcd's) ignore the --initial-* flags and keep
 * their ids.
 *
 * <p>A member of a new cluster derives everything from --initial-cluster and --initial-cluster-token as etcd does.
 * A member joining a running cluster (--initial-cluster-state=existing, after {@code member add}) asks the other
 * members listed in --initial-cluster for the cluster id and the current members, and finds itself among them by
 * its peer URL.
 *
 * @param peers    voters at first start, member id to peer URL
 * @param learners learners at first start (a joining member is one of them; empty for a bootstrap member)
 * @param clientUrls a joining member's view of the others' client URLs at first start, for fetching the leader's
 *                   state before its own member list has caught up (empty for a bootstrap member)
 */
record MemberIdentity(long memberId, long clusterId, Map<Long, URI> peers, Map<Long, URI> learners,
                      Map<Long, URI> clientUrls) {

    static MemberIdentity loadOrCreate(EtcdConfig config) {
        Path file = config.dataDir().resolve("member").resolve("identity");
        try {
            if (Files.exists(file)) {
                return read(file);
            }
            MemberIdentity id = config.joinsExistingCluster() ? join(config) : derive(config);
            write(file, id);
            return id;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or write " + file, e);
        }
    }

    static MemberIdentity derive(EtcdConfig config) {
        Map<Long, URI> peers = new LinkedHashMap<>();
        long self = 0;
        for (Map.Entry<String, List<URI>> e : config.initialCluster().entrySet()) {
            long id = ClusterIds.memberId(e.getValue(), config.initialClusterToken());
            peers.put(id, e.getValue().get(0));
            if (e.getKey().equals(config.name())) {
                self = id;
            }
        }
        return new MemberIdentity(self, ClusterIds.clusterId(new ArrayList<>(peers.keySet())), peers, Map.of(),
                Map.of());
    }

    /** How long a joining member keeps asking (the leader adds it to Raft shortly after {@code member add}). */
    private static final Duration JOIN_PATIENCE = Duration.ofSeconds(15);

    static MemberIdentity join(EtcdConfig config) {
        List<URI> mine = config.initialCluster().get(config.name());
        List<String> others = new ArrayList<>();
        config.initialCluster().forEach((name, urls) -> {
            if (!name.equals(config.name())) {
                urls.forEach(u -> others.add(hostPort(u)));
            }
        });
        if (others.isEmpty()) {
            throw new EtcdConfig.ConfigException("--initial-cluster-state=existing needs the running members in "
                    + "--initial-cluster besides this member");
        }
        long deadline = System.nanoTime() + JOIN_PATIENCE.toNanos();
        String problem;
        while (true) {
            try {
                RatisRaftNode.Discovered d = RatisRaftNode.discover(others, Duration.ofSeconds(3), new byte[]{1});
                RaftMembers m = d.members();
                List<Member> list = MemberChangeResponse.parseFrom(d.answer()).getMembersList();
                Member me = null;
                for (Member x : list) {
                    for (URI u : mine) {
                        if (x.getPeerURLsList().contains(u.toString())) {
                            me = x;
                        }
                    }
                }
                if (me != null) {
                    // start as a learner of the current voters: the leader catches this member up, then makes it
                    // what the member list says (voter or learner)
                    Map<Long, URI> learners = new LinkedHashMap<>(toUris(m.learners()));
                    learners.put(me.getID(), mine.get(0));
                    Map<Long, URI> clientUrls = new LinkedHashMap<>();
                    list.forEach(x -> {
                        if (x.getClientURLsCount() > 0) {
                            clientUrls.put(x.getID(), URI.create(x.getClientURLs(0)));
                        }
                    });
                    return new MemberIdentity(me.getID(), Long.parseUnsignedLong(d.groupSeed(), 16),
                            toUris(m.voters()), learners, clientUrls);
                }
                List<String> known = new ArrayList<>();
                list.forEach(x -> known.add(ClusterIds.hex(x.getID()) + "=" + x.getPeerURLsList()));
                problem = "no member with peer URL " + mine + " in cluster " + d.groupSeed() + " (members "
                        + known + "); add it first with 'etcdctl member add " + config.name() + " --peer-urls=...'";
            } catch (IOException e) {
                problem = "cannot reach the running members " + others + ": " + e.getMessage();
            }
            if (System.nanoTime() > deadline) {
                throw new EtcdConfig.ConfigException("cannot join the existing cluster: " + problem);
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new EtcdConfig.ConfigException("interrupted while joining the cluster");
            }
        }
    }

    private static Map<Long, URI> toUris(Map<String, String> members) {
        Map<Long, URI> out = new LinkedHashMap<>();
        members.forEach((id, addr) -> out.put(Long.parseUnsignedLong(id, 16), URI.create("http://" + addr)));
        return out;
    }

    static String hostPort(URI u) {
        return u.getHost() + ":" + u.getPort();
    }

    private static MemberIdentity read(Path file) throws IOException {
        Properties p = new Properties();
        try (var in = Files.newBufferedReader(file)) {
            p.load(in);
        }
        return new MemberIdentity(Long.parseUnsignedLong(p.getProperty("member_id"), 16),
                Long.parseUnsignedLong(p.getProperty("cluster_id"), 16), parse(p.getProperty("peers", "")),
                parse(p.getProperty("learners", "")), parse(p.getProperty("client_urls", "")));
    }

    private static Map<Long, URI> parse(String list) {
        Map<Long, URI> out = new LinkedHashMap<>();
        for (String part : list.split(",")) {
            int eq = part.indexOf('=');
            if (eq > 0) {
                out.put(Long.parseUnsignedLong(part.substring(0, eq), 16), URI.create(part.substring(eq + 1)));
            }
        }
        return out;
    }

    private static String format(Map<Long, URI> members) {
        List<String> out = new ArrayList<>();
        members.forEach((k, v) -> out.add(ClusterIds.hex(k) + "=" + v));
        return String.join(",", out);
    }

    private static void write(Path file, MemberIdentity id) throws IOException {
        Files.createDirectories(file.getParent());
        Properties p = new Properties();
        p.setProperty("member_id", ClusterIds.hex(id.memberId()));
        p.setProperty("cluster_id", ClusterIds.hex(id.clusterId()));
        p.setProperty("peers", format(id.peers()));
        p.setProperty("learners", format(id.learners()));
        p.setProperty("client_urls", format(id.clientUrls()));
        Path tmp = file.resolveSibling("identity.tmp");
        try (Writer w = Files.newBufferedWriter(tmp)) {
            p.store(w, "member identity; do not edit");
        }
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
    }
}
