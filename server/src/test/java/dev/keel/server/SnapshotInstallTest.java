package dev.keel.server;

import com.google.protobuf.ByteString;
import dev.keel.api.RaftSnapshotEndpoint;
import dev.keel.lease.Lessor;
import dev.keel.mvcc.KvApplier;
import dev.keel.mvcc.MvccStore;
import dev.keel.mvcc.WatchHub;
import dev.keel.proto.etcdserverpb.AlarmMember;
import dev.keel.proto.etcdserverpb.AlarmRequest;
import dev.keel.proto.etcdserverpb.AlarmType;
import dev.keel.proto.etcdserverpb.CompactionRequest;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.LeaseGrantRequest;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.internal.DowngradeInfoSet;
import dev.keel.proto.internal.InternalBatch;
import dev.keel.proto.internal.InternalBatchResponse;
import dev.keel.proto.internal.InternalRequest;
import dev.keel.proto.internal.InternalResponse;
import dev.keel.proto.mvccpb.Event;
import dev.keel.proto.mvccpb.KeyValue;
import dev.keel.storage.Storage;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Installing a leader's snapshot: member A's state is served over real HTTP by {@link RaftSnapshotEndpoint} (on a
 * plain Vert.x server) and installed into member B, which held a different state, on real RocksDB databases;
 * B must then equal A exactly. Also: watchers on B across the install, a corrupt download (B unchanged), an
 * install interrupted by a crash (B restarts empty, applied index 0, and a later install completes), and 100k keys.
 */
class SnapshotInstallTest {

    private static final String LEADER = "a1";

    @TempDir
    Path dir;
    private Vertx vertx;
    private HttpServer http;
    private final List<Member> members = new ArrayList<>();
    /** What the HTTP server serves at the snapshot path. */
    private volatile Supplier<SnapshotInstaller.Source> served;
    private volatile boolean tamper;

    /** One member's state machine: storage and everything derived from it, as EtcdServer builds it. */
    final class Member implements AutoCloseable {
        final Path path;
        Storage storage;
        MvccStore mvcc;
        Lessor lessor;
        AlarmStore alarms;
        DowngradeState downgrade;
        dev.keel.membership.MemberStore memberStore;
        Applier applier;
        SnapshotInstaller installer;
        final AtomicLong hookRuns = new AtomicLong();
        long index;

        Member(String name) {
            this.path = dir.resolve(name).resolve("member").resolve("kv");
            open();
            members.add(this);
        }

        void open() {
            storage = Storage.open(path, EtcdServer.storageColumns());
            SnapshotInstaller.recoverInterrupted(storage);
            mvcc = new MvccStore(storage);
            lessor = new Lessor(storage, new Lessor.Config(2, 300_000_000_000L, 7_000_000_000L, 1000),
                    System::nanoTime);
            Leases.restoreAttachments(mvcc, lessor);
            alarms = new AlarmStore(storage);
            downgrade = new DowngradeState(storage);
            memberStore = new dev.keel.membership.MemberStore(storage, MvccStore.META_COLUMN, 1);
            applier = new Applier(storage, mvcc, new KvApplier(lessor::exists), lessor, alarms, downgrade,
                    memberStore, new dev.keel.auth.AuthStore(storage, dev.keel.auth.TokenProvider.NONE, 4));
            installer = new SnapshotInstaller(storage, mvcc, lessor, alarms, downgrade, id -> {
                assertEquals(LEADER, id);
                return URI.create("http://127.0.0.1:" + http.actualPort());
            }, () -> {
                hookRuns.incrementAndGet();
                memberStore.reload(); // what EtcdServer's hook does
            });
            applier.snapshotInstaller(installer);
            index = applier.appliedIndex();
        }

        @Override
        public void close() {
            if (storage == null) {
                return;
            }
            installer.close();
            mvcc.close();
            storage.close();
            storage = null;
        }

        void reopen() {
            close();
            open();
        }

        List<InternalResponse> apply(InternalRequest.Builder... reqs) throws Exception {
            InternalBatch.Builder b = InternalBatch.newBuilder();
            for (InternalRequest.Builder r : reqs) {
                b.addRequests(r);
            }
            byte[] out = applier.apply(++index, 3, b.build().toByteArray());
            return InternalBatchResponse.parseFrom(out).getResponsesList();
        }

        void serve() {
            served = () -> SnapshotInstaller.openSource(storage);
        }

        /** Installs the served snapshot as Ratis would ask for it, and waits. */
        void install() throws Exception {
            applier.installSnapshot(LEADER).get(2, TimeUnit.MINUTES);
            index = applier.appliedIndex();
        }

        List<KeyValue> all() {
            return mvcc.range(new byte[]{0}, new byte[0], 0, 0, false).kvs();
        }

        int hash() {
            return storage.hash((c, k) -> false);
        }
    }

    @BeforeEach
    void startHttp() throws Exception {
        vertx = Vertx.vertx();
        Router router = Router.router(vertx);
        // a corrupt download, when asked for: the real snapshot with one bit of the body flipped
        router.route(SnapshotInstaller.PATH).blockingHandler(ctx -> {
            if (!tamper) {
                ctx.next();
                return;
            }
            try (SnapshotInstaller.Source src = served.get()) {
                byte[] all = src.readAllBytes();
                all[100] ^= 1;
                ctx.response().putHeader("Content-Length", Integer.toString(all.length))
                        .end(io.vertx.core.buffer.Buffer.buffer(all));
            } catch (IOException e) {
                ctx.fail(e);
            }
        });
        RaftSnapshotEndpoint.install(router, ticket -> served.get());
        http = vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1")
                .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() throws Exception {
        for (Member m : members) {
            m.close();
        }
        vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    // ---- requests ---------------------------------------------------------------------------------------

    private static ByteString bs(String s) {
        return ByteString.copyFromUtf8(s);
    }

    private static InternalRequest.Builder put(String key, String value, long lease) {
        return InternalRequest.newBuilder().setPut(PutRequest.newBuilder().setKey(bs(key)).setValue(bs(value))
                .setLease(lease));
    }

    private static InternalRequest.Builder delete(String key) {
        return InternalRequest.newBuilder().setDeleteRange(DeleteRangeRequest.newBuilder().setKey(bs(key)));
    }

    private static InternalRequest.Builder grant(long id, long ttl) {
        return InternalRequest.newBuilder().setLeaseGrant(LeaseGrantRequest.newBuilder().setID(id).setTTL(ttl));
    }

    private static InternalRequest.Builder compact(long rev) {
        return InternalRequest.newBuilder().setCompaction(CompactionRequest.newBuilder().setRevision(rev));
    }

    private static InternalRequest.Builder alarm(AlarmType type, long member) {
        return InternalRequest.newBuilder().setAlarm(AlarmRequest.newBuilder()
                .setAction(AlarmRequest.AlarmAction.ACTIVATE).setAlarm(type).setMemberID(member));
    }

    private static InternalRequest.Builder bootstrap(long... ids) {
        dev.keel.proto.internal.MemberBootstrap.Builder b = dev.keel.proto.internal.MemberBootstrap.newBuilder();
        for (long id : ids) {
            b.addMembers(dev.keel.proto.etcdserverpb.Member.newBuilder().setID(id).setName("m" + id)
                    .addPeerURLs("http://127.0.0.1:" + (2000 + id)).addClientURLs("http://127.0.0.1:" + (3000 + id)));
        }
        return InternalRequest.newBuilder().setMemberBootstrap(b);
    }

    /** State A: puts (some on leases), overwrites, deletes, a finished compaction, checkpoint-free leases, an alarm. */
    private Member stateA() throws Exception {
        Member a = new Member("a");
        a.apply(bootstrap(0xa1, 0xa2, 0xa3));
        a.apply(grant(100, 60));
        a.apply(grant(200, 120));
        for (int i = 0; i < 20; i++) {
            a.apply(put("key/" + i, "v" + i, i % 3 == 0 ? 100 : i % 3 == 1 ? 200 : 0));
        }
        a.apply(put("key/1", "v1-again", 0), put("key/2", "v2-again", 100)); // one entry, two revisions
        a.apply(delete("key/4"), delete("key/5"));
        long compactAt = a.mvcc.currentRevision() - 3;
        a.apply(compact(compactAt));
        a.mvcc.physicalCompaction(compactAt).get(30, TimeUnit.SECONDS);
        a.apply(put("after/compaction", "x", 200));
        a.apply(InternalRequest.newBuilder().setDowngradeInfoSet(DowngradeInfoSet.newBuilder().setEnabled(true)
                .setVer("3.5.0")));
        a.apply(alarm(AlarmType.NOSPACE, 0xa1));
        assertEquals(compactAt, a.mvcc.compactRevision());
        return a;
    }

    /** State B: different keys, leases, alarm and revisions (ahead of A's compaction). */
    private Member stateB(int puts) throws Exception {
        Member b = new Member("b");
        b.apply(bootstrap(0xb1));
        b.apply(grant(300, 30));
        b.apply(alarm(AlarmType.CORRUPT, 0xb2));
        for (int i = 0; i < puts; i++) {
            b.apply(put("other/" + i, "b" + i, i % 2 == 0 ? 300 : 0));
        }
        b.apply(delete("other/0"));
        return b;
    }

    private static void assertSameState(Member a, Member b) {
        assertEquals(a.hash(), b.hash(), "Storage.hash over every column (raft/applied included)");
        assertEquals(a.all(), b.all());
        assertEquals(a.mvcc.currentRevision(), b.mvcc.currentRevision());
        assertEquals(a.mvcc.compactRevision(), b.mvcc.compactRevision());
        assertEquals(a.mvcc.liveKeys(), b.mvcc.liveKeys());
        assertEquals(a.lessor.leases(), b.lessor.leases());
        for (long id : a.lessor.leases()) {
            assertEquals(a.lessor.keys(id), b.lessor.keys(id), "keys of lease " + id);
            assertEquals(a.lessor.grantedTtl(id), b.lessor.grantedTtl(id));
        }
        assertEquals(a.alarms.list(), b.alarms.list());
        assertEquals(a.downgrade.info(), b.downgrade.info());
        assertEquals(a.memberStore.members(), b.memberStore.members());
        assertEquals(a.applier.appliedIndex(), b.applier.appliedIndex());
        assertEquals(a.applier.appliedTerm(), b.applier.appliedTerm());
        assertEquals(a.mvcc.hashByRev(0).hash(), b.mvcc.hashByRev(0).hash(), "HashKV");
        assertFalse(SnapshotInstaller.interrupted(b.storage));
    }

    // ---- tests ------------------------------------------------------------------------------------------

    @Test
    void installReplacesEveryPartOfTheState() throws Exception {
        Member a = stateA();
        Member b = stateB(30);
        a.serve();
        assertNotEquals(a.hash(), b.hash());
        long compactAt = a.mvcc.compactRevision();
        // history below A's compaction is gone on A; B must not keep any of its own history either
        List<KeyValue> historic = a.mvcc.range(bs("key/1").toByteArray(), null, compactAt, 0, false).kvs();

        b.install();

        assertSameState(a, b);
        assertEquals(1, b.hookRuns.get(), "the membership reload hook ran once");
        assertEquals(List.of(AlarmMember.newBuilder().setMemberID(0xa1).setAlarmValue(AlarmType.NOSPACE_VALUE)
                .build()), b.alarms.list());
        assertTrue(b.downgrade.info().getEnabled());
        assertEquals(List.of(0xa1L, 0xa2L, 0xa3L), b.memberStore.members().stream()
                .map(dev.keel.proto.etcdserverpb.Member::getID).toList());
        assertEquals(List.of(100L, 200L), b.lessor.leases().stream().sorted().toList());
        assertEquals(historic, b.mvcc.range(bs("key/1").toByteArray(), null, compactAt, 0, false).kvs());
        assertThrows(dev.keel.errors.EtcdException.class,
                () -> b.mvcc.range(bs("key/1").toByteArray(), null, compactAt - 1, 0, false));
        assertEquals(0, b.mvcc.range(bs("other/").toByteArray(), bs("other0").toByteArray(), 0, 0, false).count());

        // both go on from the same position with the same entries (NOSPACE: deletes still work)
        long rev = a.mvcc.currentRevision();
        a.apply(delete("key/7"), compact(rev));
        b.apply(delete("key/7"), compact(rev));
        a.mvcc.physicalCompaction(rev).get(30, TimeUnit.SECONDS);
        b.mvcc.physicalCompaction(rev).get(30, TimeUnit.SECONDS);
        assertSameState(a, b);

        // and the installed state is what B finds after a restart
        b.reopen();
        assertSameState(a, b);
    }

    /** A watcher's view of what it was handed. */
    static final class Sink implements WatchHub.Sink {
        final List<Event> events = new CopyOnWriteArrayList<>();
        final AtomicLong compacted = new AtomicLong(-1);
        final AtomicLong lastRev = new AtomicLong();

        @Override
        public void created(long rev) {
        }

        @Override
        public boolean offer(List<Event> evs, long rev) {
            events.addAll(evs);
            lastRev.set(rev);
            return true;
        }

        @Override
        public void compacted(long compactRev) {
            compacted.set(compactRev);
        }
    }

    private static void await(java.util.function.BooleanSupplier cond, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void syncedWatchersCatchUpFromTheNewStateOrAreCancelledAsCompacted() throws Exception {
        Member a = new Member("a");
        for (int i = 1; i <= 30; i++) {
            a.apply(put("w/" + (i % 7), "a" + i, 0)); // revision i + 1
        }
        a.apply(compact(20));
        a.mvcc.physicalCompaction(20).get(30, TimeUnit.SECONDS);
        a.serve();

        Member b = new Member("b");
        for (int i = 1; i <= 12; i++) {
            b.apply(put("w/x", "b" + i, 0)); // B at revision 13
        }
        WatchHub hub = b.mvcc.watchHub();
        Sink behind = new Sink(); // synced at 13: next needs 14, which A's compaction at 20 removed
        hub.watch(bs("w/").toByteArray(), bs("w0").toByteArray(), 0, behind);
        Sink future = new Sink(); // synced, waiting for revision 25
        hub.watch(bs("w/").toByteArray(), bs("w0").toByteArray(), 25, future);
        Sink singleKey = new Sink(); // synced, one key, from 22
        hub.watch(bs("w/3").toByteArray(), null, 22, singleKey);
        b.apply(put("w/x", "b13", 0)); // revision 14, live
        assertEquals(1, behind.events.size());
        assertEquals(14, b.mvcc.currentRevision());

        b.install();
        assertSameState(a, b);

        // etcd's watchableStore.Restore: synced watchers become unsynced and catch up from the new state; one
        // whose next revision (15) is below the new compaction (20) is cancelled with it
        await(() -> behind.compacted.get() == 20, "compaction cancel");
        List<Event> expected = new ArrayList<>();
        for (int rev = 25; rev <= 31; rev++) {
            KeyValue kv = a.mvcc.range(bs("w/" + ((rev - 1) % 7)).toByteArray(), null, rev, 0, false).kvs().get(0);
            assertEquals(rev, kv.getModRevision());
            expected.add(Event.newBuilder().setType(Event.EventType.PUT).setKv(kv).build());
        }
        await(() -> future.events.size() >= expected.size(), "catch-up");
        assertEquals(expected, future.events);
        List<Event> key3 = new ArrayList<>();
        for (int rev = 22; rev <= 31; rev++) {
            if ((rev - 1) % 7 == 3) {
                KeyValue kv = a.mvcc.range(bs("w/3").toByteArray(), null, rev, 0, false).kvs().get(0);
                key3.add(Event.newBuilder().setType(Event.EventType.PUT).setKv(kv).build());
            }
        }
        assertEquals(1, key3.size());
        await(() -> singleKey.events.size() >= key3.size(), "single-key catch-up");
        assertEquals(key3, singleKey.events);

        // new entries arrive exactly once, whether the watcher is back to synced or still catching up
        b.apply(put("w/3", "live", 0));
        await(() -> future.events.size() == expected.size() + 1, "live event");
        await(() -> singleKey.events.size() == key3.size() + 1, "live event, single key");
        assertEquals(bs("live"), future.events.get(future.events.size() - 1).getKv().getValue());
        assertEquals(32, future.events.get(future.events.size() - 1).getKv().getModRevision());
        Thread.sleep(300); // a few catch-up passes: nothing is handed twice
        assertEquals(expected.size() + 1, future.events.size());
        assertEquals(key3.size() + 1, singleKey.events.size());
        assertEquals(-1, future.compacted.get());
        assertEquals(1, behind.events.size(), "the cancelled watcher got nothing more");
    }

    @Test
    void aCorruptOrRefusedDownloadLeavesTheMemberUnchanged() throws Exception {
        Member a = stateA();
        Member b = stateB(10);
        int before = b.hash();
        List<KeyValue> kvs = b.all();
        long applied = b.applier.appliedIndex();

        // one flipped bit in the body: the SHA-256 trailer no longer matches
        a.serve();
        tamper = true;
        ExecutionException e = assertThrows(ExecutionException.class, () -> b.install());
        assertTrue(e.getCause().getMessage().contains("SHA-256 mismatch"), e.getCause().getMessage());
        assertEquals(before, b.hash());
        assertEquals(kvs, b.all());
        assertEquals(applied, b.applier.appliedIndex());
        assertFalse(SnapshotInstaller.interrupted(b.storage));

        // a member that is itself installing refuses to serve (503), and nothing changes either
        Member c = new Member("c");
        c.apply(put("c", "c", 0));
        try (Storage.Batch batch = c.storage.newBatch()) {
            batch.put(c.storage.column(MvccStore.META_COLUMN), SnapshotInstaller.INSTALLING, new byte[]{1});
            c.storage.write(batch);
        }
        tamper = false;
        served = () -> SnapshotInstaller.openSource(c.storage);
        e = assertThrows(ExecutionException.class, () -> b.install());
        assertTrue(e.getCause().getMessage().contains("503"), e.getCause().getMessage());
        assertEquals(before, b.hash());
        assertEquals(applied, b.applier.appliedIndex());
        try (Stream<Path> files = Files.list(b.path.getParent())) {
            assertEquals(List.of("kv"), files.map(p -> p.getFileName().toString()).toList(), "no download left");
        }

        // only GET is served
        HttpResponse<String> post = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + http.actualPort() + SnapshotInstaller.PATH))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, post.statusCode());
    }

    @Test
    void anInstallInterruptedByACrashIsDiscardedAtRestartAndRedone() throws Exception {
        Member a = stateA();
        Member b = stateB(10);
        a.serve();
        // what an install leaves on disk when the process dies while writing the rows: the marker, everything
        // old deleted, some of the new rows, no applied position
        try (Storage.Batch batch = b.storage.newBatch()) {
            for (String c : b.storage.columnNames()) {
                b.storage.clearColumn(batch, b.storage.column(c));
            }
            batch.put(b.storage.column(MvccStore.META_COLUMN), SnapshotInstaller.INSTALLING,
                    "from leader a1".getBytes(StandardCharsets.UTF_8));
            b.storage.write(batch);
        }
        try (Storage.Batch batch = b.storage.newBatch()) {
            a.storage.scan(a.storage.column(MvccStore.KV_COLUMN), null, null, (k, v) -> {
                batch.put(b.storage.column(MvccStore.KV_COLUMN), k, v);
                return batch.count() < 5;
            });
            b.storage.write(batch);
        }
        Files.writeString(b.path.getParent().resolve("raft-snapshot-123.tmp"), "partial download");
        b.reopen(); // the "crash": nothing in memory survives

        assertTrue(SnapshotInstaller.interrupted(b.storage), "the marker stays until an install completes");
        assertEquals(0, b.applier.appliedIndex(), "nothing counts as applied: the leader must send a snapshot");
        assertEquals(0, b.applier.appliedTerm());
        assertEquals(List.of(), b.all(), "the partial data is not served");
        assertEquals(1, b.mvcc.currentRevision());
        assertEquals(List.of(), b.lessor.leases());
        assertEquals(List.of(), b.alarms.list());
        assertFalse(Files.exists(b.path.getParent().resolve("raft-snapshot-123.tmp")), "leftover download removed");
        assertThrows(IllegalStateException.class, () -> SnapshotInstaller.openSource(b.storage),
                "it does not serve a snapshot to others either");
        assertThrows(dev.keel.errors.EtcdException.class,
                () -> new SnapshotStream(b.storage, rev -> null), "nor Maintenance.Snapshot");
        b.reopen();
        assertEquals(0, b.applier.appliedIndex(), "still so after another restart");

        b.install();
        assertSameState(a, b);
        b.reopen();
        assertSameState(a, b);
    }

    @Test
    void aHundredThousandKeysInstallInBoundedBatches() throws Exception {
        Member a = new Member("a");
        a.apply(grant(7, 600));
        String pad = "v".repeat(100);
        InternalRequest.Builder[] batch = new InternalRequest.Builder[1000];
        for (int e = 0; e < 100; e++) {
            for (int i = 0; i < batch.length; i++) {
                int k = e * batch.length + i;
                batch[i] = put(String.format("big/%06d", k), pad + k, k % 10 == 0 ? 7 : 0);
            }
            a.apply(batch);
        }
        a.apply(delete("big/000000"));
        a.serve();
        Member b = stateB(50);

        AtomicReference<SnapshotInstaller.Result> result = new AtomicReference<>();
        result.set(b.installer.installAsync(LEADER).get(5, TimeUnit.MINUTES));
        SnapshotInstaller.Result r = result.get();

        assertEquals(a.applier.appliedIndex(), r.appliedIndex());
        assertEquals(a.mvcc.currentRevision(), r.revision());
        assertTrue(r.records() > 100_000, "records: " + r.records());
        assertTrue(r.largestBatchBytes() <= SnapshotInstaller.BATCH_BYTES + 4096,
                "largest batch " + r.largestBatchBytes());
        assertEquals(a.hash(), b.hash());
        assertEquals(99_999, b.mvcc.liveKeys());
        assertEquals(99_999, b.mvcc.range(bs("big/").toByteArray(), bs("big0").toByteArray(), 0, 0, true).count());
        assertEquals(9_999, b.lessor.keys(7).size());
        KeyValue last = b.mvcc.range(bs("big/099999").toByteArray(), null, 0, 0, false).kvs().get(0);
        assertArrayEquals((pad + 99999).getBytes(StandardCharsets.UTF_8), last.getValue().toByteArray());
        assertEquals(a.mvcc.hashByRev(0).hash(), b.mvcc.hashByRev(0).hash());
    }
}
