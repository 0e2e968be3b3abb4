package dev.keel.e2e;

import com.google.protobuf.ByteString;
import dev.keel.proto.etcdserverpb.AuthGrpc;
import dev.keel.proto.etcdserverpb.AuthRoleGetRequest;
import dev.keel.proto.etcdserverpb.AuthRoleListRequest;
import dev.keel.proto.etcdserverpb.AuthUserGetRequest;
import dev.keel.proto.etcdserverpb.AuthUserListRequest;
import dev.keel.proto.etcdserverpb.HashKVRequest;
import dev.keel.proto.etcdserverpb.HashKVResponse;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.LeaseGrpc;
import dev.keel.proto.etcdserverpb.LeaseLeasesRequest;
import dev.keel.proto.etcdserverpb.LeaseStatus;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveRequest;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveResponse;
import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RangeResponse;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Migration to and from etcd through snapshots in etcd's bbolt format, with real processes (Debian's etcd and
 * etcdctl 3.4): a mixed history in etcd → {@code etcdctl snapshot save} → Keel's {@code snapshot status} and
 * {@code snapshot restore} → a Keel member that answers every range, HashKV, lease and auth read as etcd does;
 * then more writes in Keel → {@code etcdctl snapshot save} from Keel → {@code etcdctl snapshot status} and
 * {@code restore} → a real etcd started on that dir that answers as the Keel member does.
 */
class EtcdSnapshotIT {

    private static final long TIMEOUT_S = 30;
    private static final Path ETCD = Path.of(System.getProperty("keel.etcd", "/usr/bin/etcd"));

    @TempDir
    static Path tmp;

    private static final List<ManagedChannel> CHANNELS = new CopyOnWriteArrayList<>();
    private static final List<AutoCloseable> PROCESSES = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void check() {
        assumeFalse(ServerProcess.isReferenceEtcd(), "Keel's restore tool");
        assumeTrue(Files.isExecutable(ETCD), "needs a real etcd at " + ETCD + " (Debian package etcd-server)");
    }

    @AfterAll
    static void stop() throws Exception {
        for (ManagedChannel c : CHANNELS) {
            c.shutdownNow();
            c.awaitTermination(5, TimeUnit.SECONDS);
        }
        for (AutoCloseable p : PROCESSES) {
            p.close();
        }
    }

    private static <T extends AutoCloseable> T track(T p) {
        PROCESSES.add(p);
        return p;
    }

    private static ManagedChannel channel(String endpoint) {
        String[] hp = endpoint.split(":");
        ManagedChannel c = NettyChannelBuilder.forAddress(hp[0], Integer.parseInt(hp[1])).usePlaintext()
                .maxInboundMessageSize(64 << 20).build();
        CHANNELS.add(c);
        return c;
    }

    private static ByteString bs(String s) {
        return ByteString.copyFromUtf8(s);
    }

    /** What one run of Keel's offline tool printed and returned. */
    record Tool(int exit, String out, String err) {
    }

    private static Tool keelTool(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", ServerProcess.jar(), "snapshot"));
        cmd.addAll(List.of(args));
        Path err = Files.createTempFile(tmp, "tool", ".err");
        Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "tool hung: " + cmd);
        return new Tool(p.exitValue(), new String(out, StandardCharsets.UTF_8), Files.readString(err));
    }

    /** hash, revision, totalSize of {@code etcdctl snapshot status -w json} (3.4 prints these four fields). */
    private static long[] etcdctlStatus(Path file) throws Exception {
        Etcdctl.Result r = new Etcdctl("127.0.0.1:1").run("snapshot", "status", file.toString(), "-w", "json");
        assertEquals(0, r.exitCode(), r.toString());
        Matcher m = Pattern.compile("\\{\"hash\":(\\d+),\"revision\":(\\d+),\"totalKey\":(\\d+),\"totalSize\":(\\d+)}")
                .matcher(r.stdout());
        assertTrue(m.find(), r.stdout());
        return new long[]{Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(4))};
    }

    /** hash, revision, totalKey, totalSize and version of Keel's {@code snapshot status -w json}. */
    private static Matcher keelStatus(Path file) throws Exception {
        Tool st = keelTool("status", file.toString(), "-w", "json");
        assertEquals(0, st.exit(), st.err());
        Matcher m = Pattern.compile("\\{\"hash\":(\\d+),\"revision\":(\\d+),\"totalKey\":(\\d+),\"totalSize\":(\\d+),"
                + "\"version\":\"([0-9.]*)\"}\n").matcher(st.out());
        assertTrue(m.matches(), st.out());
        return m;
    }

    private static RangeResponse all(ManagedChannel c, long rev) {
        return KVGrpc.newBlockingStub(c).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS)
                .range(RangeRequest.newBuilder().setKey(bs("\0")).setRangeEnd(bs("\0")).setRevision(rev).build());
    }

    private static HashKVResponse hashKv(ManagedChannel c, long rev) {
        return MaintenanceGrpc.newBlockingStub(c).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS)
                .hashKV(HashKVRequest.newBuilder().setRevision(rev).build());
    }

    /** Reads that must answer the same on both members: every revision's range, HashKV, leases, auth. */
    private static void assertSameState(ManagedChannel expected, ManagedChannel actual, long compacted, long rev,
                                        String what) {
        assertEquals(rev, all(actual, 0).getHeader().getRevision(), what + ": revision");
        for (long r = compacted; r <= rev; r++) {
            RangeResponse e = all(expected, r);
            RangeResponse a = all(actual, r);
            assertEquals(e.getKvsList(), a.getKvsList(), what + ": range at " + r);
            assertEquals(e.getCount(), a.getCount(), what + ": count at " + r);
            if (r > compacted) { // etcd 3.4 refuses HashKV at exactly the compaction revision
                HashKVResponse he = hashKv(expected, r);
                HashKVResponse ha = hashKv(actual, r);
                assertEquals(he.getHash(), ha.getHash(), what + ": HashKV at " + r);
                assertEquals(he.getCompactRevision(), ha.getCompactRevision(), what + ": compact revision at " + r);
            }
        }
        if (compacted > 1) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> all(actual, compacted - 1));
            assertEquals("etcdserver: mvcc: required revision has been compacted", e.getStatus().getDescription());
        }
        LeaseGrpc.LeaseBlockingStub le = LeaseGrpc.newBlockingStub(expected).withDeadlineAfter(TIMEOUT_S,
                TimeUnit.SECONDS);
        LeaseGrpc.LeaseBlockingStub la = LeaseGrpc.newBlockingStub(actual).withDeadlineAfter(TIMEOUT_S,
                TimeUnit.SECONDS);
        List<Long> ids = le.leaseLeases(LeaseLeasesRequest.getDefaultInstance()).getLeasesList().stream()
                .map(LeaseStatus::getID).sorted().toList();
        assertEquals(ids, la.leaseLeases(LeaseLeasesRequest.getDefaultInstance()).getLeasesList().stream()
                .map(LeaseStatus::getID).sorted().toList(), what + ": leases");
        for (long id : ids) {
            LeaseTimeToLiveRequest req = LeaseTimeToLiveRequest.newBuilder().setID(id).setKeys(true).build();
            LeaseTimeToLiveResponse e = le.leaseTimeToLive(req);
            LeaseTimeToLiveResponse a = la.leaseTimeToLive(req);
            assertEquals(e.getGrantedTTL(), a.getGrantedTTL(), what + ": granted TTL of " + id);
            assertEquals(e.getKeysList().stream().sorted(Comparator.comparing(ByteString::toStringUtf8)).toList(),
                    a.getKeysList().stream().sorted(Comparator.comparing(ByteString::toStringUtf8)).toList(),
                    what + ": keys of lease " + id);
            assertTrue(a.getTTL() > e.getGrantedTTL() - 60 && a.getTTL() <= e.getGrantedTTL(),
                    what + ": TTL " + a.getTTL() + " of " + e.getGrantedTTL());
        }
        AuthGrpc.AuthBlockingStub ae = AuthGrpc.newBlockingStub(expected).withDeadlineAfter(TIMEOUT_S,
                TimeUnit.SECONDS);
        AuthGrpc.AuthBlockingStub aa = AuthGrpc.newBlockingStub(actual).withDeadlineAfter(TIMEOUT_S,
                TimeUnit.SECONDS);
        List<String> users = ae.userList(AuthUserListRequest.getDefaultInstance()).getUsersList();
        assertEquals(users, aa.userList(AuthUserListRequest.getDefaultInstance()).getUsersList(), what + ": users");
        for (String u : users) {
            AuthUserGetRequest req = AuthUserGetRequest.newBuilder().setName(u).build();
            assertEquals(ae.userGet(req).getRolesList(), aa.userGet(req).getRolesList(), what + ": roles of " + u);
        }
        List<String> roles = ae.roleList(AuthRoleListRequest.getDefaultInstance()).getRolesList();
        assertEquals(roles, aa.roleList(AuthRoleListRequest.getDefaultInstance()).getRolesList(), what + ": roles");
        for (String r : roles) {
            AuthRoleGetRequest req = AuthRoleGetRequest.newBuilder().setRole(r).build();
            assertEquals(ae.roleGet(req).getPermList(), aa.roleGet(req).getPermList(), what + ": perms of " + r);
        }
        assertTrue(users.size() >= 2 && roles.size() >= 2, what + ": users " + users + ", roles " + roles);
    }

    @Test
    void etcdToKeelAndBackWithTheSameKeysRevisionsLeasesAuthAndHashKv() throws Exception {
        // 1. a mixed history in a real etcd
        MaintenanceIT.EtcdReference etcd = track(MaintenanceIT.EtcdReference.start(ETCD, tmp.resolve("etcd")));
        Etcdctl e = new Etcdctl(etcd.endpoint());
        e.ok("put", "a", "1");
        e.ok("put", "b", "2");
        e.ok("put", "a", "3");
        e.ok("del", "b");
        e.runWithInput("\nput c 4\nput d 5\ndel a\n\n", "txn");
        String lease = e.ok("lease", "grant", "600").split(" ")[1];
        e.ok("put", "leased/1", "x", "--lease=" + lease);
        e.ok("put", "leased/2", "y", "--lease=" + lease);
        e.ok("lease", "grant", "900"); // no keys
        e.ok("put", "a", "again");
        e.ok("compact", "5", "--physical");
        e.ok("put", "e", "");
        e.ok("del", "d");
        e.ok("put", "f", "6");
        e.ok("user", "add", "root", "--new-user-password=rootpw");
        e.ok("user", "add", "alice", "--new-user-password=alicepw");
        e.ok("role", "add", "reader");
        e.ok("role", "add", "writer");
        e.ok("role", "grant-permission", "reader", "read", "a", "--prefix=true");
        e.ok("role", "grant-permission", "writer", "readwrite", "b", "c");
        e.ok("user", "grant-role", "alice", "reader");
        e.ok("user", "grant-role", "alice", "writer");
        ManagedChannel ec = channel(etcd.endpoint());
        long rev = all(ec, 0).getHeader().getRevision();

        // 2. etcd's snapshot: Keel's status agrees with etcdctl's; Keel restores it
        Path fromEtcd = tmp.resolve("from-etcd.db");
        Etcdctl.Result saved = e.run("snapshot", "save", fromEtcd.toString());
        assertEquals(0, saved.exitCode(), saved.toString());
        long[] es = etcdctlStatus(fromEtcd);
        Matcher ks = keelStatus(fromEtcd);
        assertEquals(es[0], Long.parseLong(ks.group(1)), "hash");
        assertEquals(es[1], Long.parseLong(ks.group(2)), "revision");
        assertEquals(all(ec, 0).getCount(), Long.parseLong(ks.group(3)), "live keys");
        assertEquals(es[2], Long.parseLong(ks.group(4)), "size");
        assertEquals(rev, es[1]);

        ServerProcess keel = track(ServerProcess.prepare(tmp.resolve("keel")));
        Tool r = keelTool("restore", fromEtcd.toString(), "--name", keel.name(), "--data-dir",
                keel.dataDir().toString(), "--initial-cluster", keel.name() + "=" + keel.peerUrl(),
                "--initial-advertise-peer-urls", keel.peerUrl(), "--initial-cluster-token", "from-etcd");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().contains(": revision " + rev + ", compact revision 5, "), r.err());
        keel.launchPrepared();
        ManagedChannel kc = channel(keel.endpoint());
        assertSameState(ec, kc, 5, rev, "etcd -> keel");

        // 3. more history in Keel, then Keel's snapshot into a real etcd
        Etcdctl k = new Etcdctl(keel.endpoint());
        k.ok("put", "g", "7");
        k.ok("del", "a");
        k.ok("put", "leased/3", "z", "--lease=" + lease);
        k.ok("compact", String.valueOf(rev + 1), "--physical");
        k.ok("put", "h", "8");
        k.ok("role", "add", "third");
        long keelRev = all(kc, 0).getHeader().getRevision();
        Path fromKeel = tmp.resolve("from-keel.db");
        Etcdctl.Result ksaved = k.run("snapshot", "save", fromKeel.toString());
        assertEquals(0, ksaved.exitCode(), ksaved.toString());
        assertEquals(32, Files.size(fromKeel) % 512, "etcd's SHA-256 trailer after a 4 KiB-paged database");
        long[] es2 = etcdctlStatus(fromKeel); // bbolt opens it and its tx.Check() finds nothing
        Matcher ks2 = keelStatus(fromKeel);
        assertEquals(es2[0], Long.parseLong(ks2.group(1)), "hash");
        assertEquals(keelRev, es2[1], "revision");
        assertEquals(es2[2], Long.parseLong(ks2.group(4)), "size");
        assertEquals(Files.size(fromKeel) - 32, es2[2]);
        assertEquals(all(kc, 0).getCount(), Long.parseLong(ks2.group(3)), "live keys");
        assertEquals("3.6.0", ks2.group(5));

        int peer = ServerProcess.freePort();
        Path etcd2Dir = tmp.resolve("etcd2");
        Etcdctl.Result restored = new Etcdctl("127.0.0.1:1").run("snapshot", "restore", fromKeel.toString(),
                "--name", "back", "--data-dir", etcd2Dir.toString(), "--initial-cluster",
                "back=http://127.0.0.1:" + peer, "--initial-advertise-peer-urls", "http://127.0.0.1:" + peer);
        assertEquals(0, restored.exitCode(), restored.toString());
        MaintenanceIT.EtcdReference etcd2 = track(MaintenanceIT.EtcdReference.start(ETCD, etcd2Dir, "back", peer));
        ManagedChannel e2c = channel(etcd2.endpoint());
        assertSameState(kc, e2c, rev + 1, keelRev, "keel -> etcd");
        // and etcd goes on from Keel's revision
        new Etcdctl(etcd2.endpoint()).ok("put", "i", "9");
        assertEquals(keelRev + 1, all(e2c, 0).getHeader().getRevision());

        // 4. the online path: etcdctl make-mirror copies etcd's keys into Keel, then follows etcd's watch
        e.ok("put", "mirror/1", "before");
        ProcessBuilder pb = new ProcessBuilder(Etcdctl.binary(), "--endpoints=" + etcd.endpoint(), "make-mirror",
                "--prefix=mirror/", keel.endpoint())
                .redirectErrorStream(true).redirectOutput(tmp.resolve("make-mirror.log").toFile());
        pb.environment().put("ETCDCTL_API", "3");
        Process mirror = pb.start();
        PROCESSES.add(() -> {
            mirror.destroy();
            mirror.waitFor(10, TimeUnit.SECONDS);
        });
        e.ok("put", "mirror/2", "after");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_S);
        List<String> mirrored = List.of();
        while (System.nanoTime() < deadline) {
            mirrored = KVGrpc.newBlockingStub(kc).withDeadlineAfter(TIMEOUT_S, TimeUnit.SECONDS)
                    .range(RangeRequest.newBuilder().setKey(bs("mirror/")).setRangeEnd(bs("mirror0")).build())
                    .getKvsList().stream().map(kv -> kv.getKey().toStringUtf8() + "=" + kv.getValue().toStringUtf8())
                    .toList();
            if (mirrored.size() == 2) {
                break;
            }
            Thread.sleep(100);
        }
        assertEquals(List.of("mirror/1=before", "mirror/2=after"), mirrored, Files.readString(
                tmp.resolve("make-mirror.log")));

        // 5. a stopped etcd member's own database file (no SHA-256 trailer: etcdutl's --skip-hash-check)
        long etcdRev = all(ec, 0).getHeader().getRevision();
        etcd.close();
        Path memberDb = tmp.resolve("etcd").resolve("member").resolve("snap").resolve("db");
        assertEquals(String.valueOf(etcdRev), keelStatus(memberDb).group(2));
        ServerProcess fromDb = ServerProcess.prepare(tmp.resolve("from-member-db"));
        Tool refused = keelTool("restore", memberDb.toString(), "--data-dir", fromDb.dataDir().toString());
        assertEquals(1, refused.exit());
        assertEquals("Error: snapshot missing hash but --skip-hash-check=false\n", refused.err());
        Tool fromMemberDb = keelTool("restore", memberDb.toString(), "--skip-hash-check", "--data-dir",
                fromDb.dataDir().toString());
        assertEquals(0, fromMemberDb.exit(), fromMemberDb.err());
        assertTrue(fromMemberDb.err().contains(": revision " + etcdRev + ", compact revision 5, "),
                fromMemberDb.err());
    }
}
