package dev.keel.server;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.keel.auth.AuthStore;
import dev.keel.lease.Lessor;
import dev.keel.membership.MemberStore;
import dev.keel.mvcc.MvccStore;
import dev.keel.proto.etcdserverpb.Member;
import dev.keel.snapshot.bbolt.BoltWriter;
import dev.keel.storage.Storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static dev.keel.server.EtcdBackendLayout.utf8;

/**
 * Writes a point-in-time view of a Keel member's database as the bbolt database an etcd member of the same
 * data would have ({@link EtcdBackendLayout}): what Maintenance.Snapshot sends, so that {@code etcdctl snapshot
 * status|restore}, etcdutl and a real etcd started on the restored dir accept it with the same keys, revisions,
 * compaction, leases, users and roles, and the same HashKV (the {@code key} bucket holds Keel's {@code kv}
 * column byte for byte).
 */
final class EtcdSnapshotExport {

    /** What was written. */
    record Result(long revision, long compactRevision, long size) {
    }

    private EtcdSnapshotExport() {
    }

    /** Writes the database of {@code view} to {@code out} (from position 0); returns its size and revisions. */
    static Result write(Storage storage, Storage.View view, FileChannel out) throws IOException {
        MvccStore.Revisions revs = MvccStore.revisionsOf(storage, view);
        Map<String, byte[]> meta = new TreeMap<>();
        Storage.View.Cursor mc = view.cursor(MvccStore.META_COLUMN);
        while (mc.next()) {
            meta.put(new String(mc.key(), StandardCharsets.UTF_8), mc.value());
        }
        BoltWriter w = new BoltWriter(out);

        w.beginBucket(utf8(EtcdBackendLayout.ALARM));
        TreeMap<byte[], byte[]> alarms = new TreeMap<>(Arrays::compareUnsigned);
        for (Map.Entry<String, byte[]> e : meta.entrySet()) {
            if (e.getKey().startsWith(EtcdBackendLayout.KEEL_ALARM_PREFIX)) {
                alarms.put(e.getValue(), new byte[0]);
            }
        }
        putAll(w, alarms);
        w.endBucket();

        Storage.Column auth = storage.column(AuthStore.COLUMN);
        w.beginBucket(utf8(EtcdBackendLayout.AUTH));
        byte[] enabled = view.get(auth, utf8(EtcdBackendLayout.KEEL_AUTH_ENABLED));
        byte[] authRev = view.get(auth, utf8(EtcdBackendLayout.KEEL_AUTH_REVISION));
        w.put(utf8(EtcdBackendLayout.AUTH_ENABLED), enabled != null ? enabled : new byte[]{0});
        w.put(utf8(EtcdBackendLayout.AUTH_REVISION), authRev != null ? authRev : EtcdBackendLayout.u64(1));
        w.endBucket();
        copyPrefixed(view, w, EtcdBackendLayout.AUTH_ROLES, EtcdBackendLayout.KEEL_ROLE_PREFIX);
        copyPrefixed(view, w, EtcdBackendLayout.AUTH_USERS, EtcdBackendLayout.KEEL_USER_PREFIX);

        w.beginBucket(utf8(EtcdBackendLayout.CLUSTER));
        w.put(utf8(EtcdBackendLayout.CLUSTER_VERSION), utf8(Version.CLUSTER));
        w.endBucket();

        copyColumn(view, w, EtcdBackendLayout.KEY, MvccStore.KV_COLUMN);
        copyColumn(view, w, EtcdBackendLayout.LEASE, Lessor.COLUMN);

        TreeMap<byte[], byte[]> members = new TreeMap<>(Arrays::compareUnsigned);
        TreeMap<byte[], byte[]> removed = new TreeMap<>(Arrays::compareUnsigned);
        List<Long> voters = new ArrayList<>();
        List<Long> learners = new ArrayList<>();
        for (Map.Entry<String, byte[]> e : meta.entrySet()) {
            if (e.getKey().startsWith(MemberStore.MEMBER_PREFIX)) {
                Member m;
                try {
                    m = Member.parseFrom(e.getValue());
                } catch (InvalidProtocolBufferException ex) {
                    throw new IOException("unreadable member record " + e.getKey(), ex);
                }
                members.put(utf8(EtcdBackendLayout.memberKey(m.getID())), utf8(EtcdBackendLayout.memberJson(m)));
                (m.getIsLearner() ? learners : voters).add(m.getID());
            } else if (e.getKey().startsWith(MemberStore.REMOVED_PREFIX)) {
                long id = Long.parseUnsignedLong(e.getKey().substring(MemberStore.REMOVED_PREFIX.length()), 16);
                removed.put(utf8(EtcdBackendLayout.memberKey(id)), utf8(EtcdBackendLayout.REMOVED));
            }
        }
        w.beginBucket(utf8(EtcdBackendLayout.MEMBERS));
        putAll(w, members);
        w.endBucket();
        w.beginBucket(utf8(EtcdBackendLayout.MEMBERS_REMOVED));
        putAll(w, removed);
        w.endBucket();

        TreeMap<byte[], byte[]> etcdMeta = new TreeMap<>(Arrays::compareUnsigned);
        voters.sort(Long::compareUnsigned);
        learners.sort(Long::compareUnsigned);
        etcdMeta.put(utf8(EtcdBackendLayout.META_CONF_STATE), utf8(EtcdBackendLayout.confStateJson(voters, learners)));
        byte[] applied = meta.get(new String(Applier.APPLIED, StandardCharsets.UTF_8));
        ByteBuffer a = applied != null && applied.length >= 16 ? ByteBuffer.wrap(applied) : ByteBuffer.allocate(16);
        etcdMeta.put(utf8(EtcdBackendLayout.META_CONSISTENT_INDEX), EtcdBackendLayout.u64(a.getLong(0)));
        etcdMeta.put(utf8(EtcdBackendLayout.META_TERM), EtcdBackendLayout.u64(a.getLong(8)));
        if (revs.compacted() >= 0) {
            etcdMeta.put(utf8(EtcdBackendLayout.META_SCHEDULED_COMPACT), EtcdBackendLayout.revBytes(revs.compacted()));
        }
        byte[] finished = meta.get(EtcdBackendLayout.KEEL_COMPACT_FINISHED);
        if (finished != null && finished.length >= 8) {
            etcdMeta.put(utf8(EtcdBackendLayout.META_FINISHED_COMPACT),
                    EtcdBackendLayout.revBytes(EtcdBackendLayout.u64(finished)));
        }
        etcdMeta.put(utf8(EtcdBackendLayout.META_STORAGE_VERSION), utf8(Version.STORAGE));
        w.beginBucket(utf8(EtcdBackendLayout.META));
        putAll(w, etcdMeta);
        w.endBucket();

        long size = w.finish();
        return new Result(revs.current(), revs.compacted(), size);
    }

    private static void putAll(BoltWriter w, Map<byte[], byte[]> entries) throws IOException {
        for (Map.Entry<byte[], byte[]> e : entries.entrySet()) {
            w.put(e.getKey(), e.getValue());
        }
    }

    private static void copyColumn(Storage.View view, BoltWriter w, String bucket, String column)
            throws IOException {
        w.beginBucket(utf8(bucket));
        Storage.View.Cursor c = view.cursor(column);
        while (c.next()) {
            w.put(c.key(), c.value());
        }
        w.endBucket();
    }

    /** The keys of Keel's auth column under {@code prefix}, without it (same order: the prefix is shared). */
    private static void copyPrefixed(Storage.View view, BoltWriter w, String bucket, String prefix)
            throws IOException {
        byte[] p = utf8(prefix);
        w.beginBucket(utf8(bucket));
        Storage.View.Cursor c = view.cursor(AuthStore.COLUMN);
        while (c.next()) {
            byte[] k = c.key();
            if (k.length > p.length && Arrays.equals(k, 0, p.length, p, 0, p.length)) {
                w.put(Arrays.copyOfRange(k, p.length, k.length), c.value());
            }
        }
        w.endBucket();
    }
}
