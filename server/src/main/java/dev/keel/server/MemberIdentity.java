package dev.keel.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Who this member is: its id, its cluster's id and the bootstrap members. Derived from the flags on first start
 * and kept in {@code member/identity} so that later starts (like etcd's) ignore the --initial-* flags and keep
 * their ids.
 */
record MemberIdentity(long memberId, long clusterId, Map<Long, URI> peers) {

    static MemberIdentity loadOrCreate(EtcdConfig config) {
        Path file = config.dataDir().resolve("member").resolve("identity");
        try {
            if (Files.exists(file)) {
                return read(file);
            }
            MemberIdentity id = derive(config);
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
        return new MemberIdentity(self, ClusterIds.clusterId(new ArrayList<>(peers.keySet())), peers);
    }

    private static MemberIdentity read(Path file) throws IOException {
        Properties p = new Properties();
        try (var in = Files.newBufferedReader(file)) {
            p.load(in);
        }
        Map<Long, URI> peers = new LinkedHashMap<>();
        for (String part : p.getProperty("peers").split(",")) {
            int eq = part.indexOf('=');
            peers.put(Long.parseUnsignedLong(part.substring(0, eq), 16), URI.create(part.substring(eq + 1)));
        }
        return new MemberIdentity(Long.parseUnsignedLong(p.getProperty("member_id"), 16),
                Long.parseUnsignedLong(p.getProperty("cluster_id"), 16), peers);
    }

    private static void write(Path file, MemberIdentity id) throws IOException {
        Files.createDirectories(file.getParent());
        Properties p = new Properties();
        p.setProperty("member_id", ClusterIds.hex(id.memberId()));
        p.setProperty("cluster_id", ClusterIds.hex(id.clusterId()));
        List<String> peers = new ArrayList<>();
        id.peers().forEach((k, v) -> peers.add(ClusterIds.hex(k) + "=" + v));
        p.setProperty("peers", String.join(",", peers));
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
