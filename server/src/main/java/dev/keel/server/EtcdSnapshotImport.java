package dev.keel.server;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.keel.auth.AuthStore;
import dev.keel.lease.Lessor;
import dev.keel.mvcc.MvccStore;
import dev.keel.proto.etcdserverpb.AlarmMember;
import dev.keel.proto.internal.LeaseRecord;
import dev.keel.proto.mvccpb.KeyValue;
import dev.keel.snapshot.bbolt.BoltException;
import dev.keel.snapshot.bbolt.BoltReader;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

import static dev.keel.server.EtcdBackendLayout.utf8;

/**
 * Reads an etcd backend database (a bbolt file: {@code etcdctl snapshot save} output of etcd 3.4–3.6, or a
 * member's {@code member/snap/db}) into Keel's columns ({@link EtcdBackendLayout}): revisions and their records
 * byte for byte, the compaction marks, leases, auth state, users, roles and alarms. Membership ({@code members},
 * {@code members_removed}), the Raft position ({@code consistent_index}, {@code term}, {@code confState}) and
 * the cluster bucket stay behind: a restored member starts a new cluster, as etcdutl's restore makes it.
 */
final class EtcdSnapshotImport {

    /** Receives Keel's rows. */
    @FunctionalInterface
    interface Sink {
        void put(String column, byte[] key, byte[] value) throws IOException;
    }

    /** What the database held: revisions as a Keel member opened on it computes them, rows written. */
    record Contents(long revision, long compactRevision, long rows, String storageVersion) {
    }

    private EtcdSnapshotImport() {
    }

    /** Reads {@code file} (bytes after its high-water mark, e.g. the SHA-256 trailer, are ignored). */
    static Contents read(Path file, Sink sink) throws IOException {
        long[] lastMain = {0};
        long[] scheduled = {-1};
        long[] finished = {-1};
        long[] rows = {0};
        String[] storageVersion = {""};
        try (BoltReader r = BoltReader.open(file)) {
            r.forEach((path, key, value) -> {
                if (path.size() != 1) {
                    return; // etcd has no nested buckets
                }
                String bucket = new String(path.get(0), StandardCharsets.UTF_8);
                String name = new String(key, StandardCharsets.UTF_8);
                switch (bucket) {
                    case EtcdBackendLayout.KEY -> {
                        long main;
                        try {
                            main = EtcdBackendLayout.revMain(key);
                            KeyValue.parseFrom(value);
                        } catch (IllegalArgumentException | InvalidProtocolBufferException e) {
                            throw new BoltException("key bucket: bad record " + Arrays.toString(key) + ": "
                                    + e.getMessage());
                        }
                        lastMain[0] = Math.max(lastMain[0], main);
                        put(sink, rows, MvccStore.KV_COLUMN, key, value);
                    }
                    case EtcdBackendLayout.META -> {
                        switch (name) {
                            case EtcdBackendLayout.META_SCHEDULED_COMPACT -> scheduled[0] = rev(bucket, name, value);
                            case EtcdBackendLayout.META_FINISHED_COMPACT -> finished[0] = rev(bucket, name, value);
                            case EtcdBackendLayout.META_STORAGE_VERSION ->
                                    storageVersion[0] = new String(value, StandardCharsets.UTF_8);
                            default -> {
                                // consistent_index, term, confState: the new cluster's Raft log starts afresh
                            }
                        }
                    }
                    case EtcdBackendLayout.LEASE -> {
                        try {
                            LeaseRecord.parseFrom(value);
                        } catch (InvalidProtocolBufferException e) {
                            throw new BoltException("lease bucket: bad lease " + Arrays.toString(key));
                        }
                        if (key.length != 8) {
                            throw new BoltException("lease bucket: bad lease id " + Arrays.toString(key));
                        }
                        put(sink, rows, Lessor.COLUMN, key, value);
                    }
                    case EtcdBackendLayout.AUTH -> {
                        if (name.equals(EtcdBackendLayout.AUTH_ENABLED)) {
                            put(sink, rows, AuthStore.COLUMN, utf8(EtcdBackendLayout.KEEL_AUTH_ENABLED), value);
                        } else if (name.equals(EtcdBackendLayout.AUTH_REVISION)) {
                            put(sink, rows, AuthStore.COLUMN, utf8(EtcdBackendLayout.KEEL_AUTH_REVISION), value);
                        }
                    }
                    case EtcdBackendLayout.AUTH_USERS ->
                            put(sink, rows, AuthStore.COLUMN, utf8(EtcdBackendLayout.KEEL_USER_PREFIX + name), value);
                    case EtcdBackendLayout.AUTH_ROLES ->
                            put(sink, rows, AuthStore.COLUMN, utf8(EtcdBackendLayout.KEEL_ROLE_PREFIX + name), value);
                    case EtcdBackendLayout.ALARM -> {
                        AlarmMember m;
                        try {
                            m = AlarmMember.parseFrom(key);
                        } catch (InvalidProtocolBufferException e) {
                            throw new BoltException("alarm bucket: bad alarm " + Arrays.toString(key));
                        }
                        put(sink, rows, MvccStore.META_COLUMN, utf8(EtcdBackendLayout.KEEL_ALARM_PREFIX
                                + m.getAlarmValue() + "/" + ClusterIds.hex(m.getMemberID())), key);
                    }
                    default -> {
                        // members, members_removed, cluster: the restore's flags make the new cluster
                    }
                }
            });
        }
        long current = Math.max(Math.max(lastMain[0], scheduled[0]), 1);
        if (scheduled[0] >= 0) {
            put(sink, rows, MvccStore.META_COLUMN, utf8(EtcdBackendLayout.KEEL_COMPACT_SCHEDULED),
                    EtcdBackendLayout.u64(scheduled[0]));
        }
        if (finished[0] >= 0) {
            put(sink, rows, MvccStore.META_COLUMN, utf8(EtcdBackendLayout.KEEL_COMPACT_FINISHED),
                    EtcdBackendLayout.u64(finished[0]));
        }
        put(sink, rows, MvccStore.META_COLUMN, utf8(EtcdBackendLayout.KEEL_CURRENT_REV),
                EtcdBackendLayout.u64(current));
        return new Contents(current, scheduled[0], rows[0], storageVersion[0]);
    }

    private static void put(Sink sink, long[] rows, String column, byte[] key, byte[] value) throws IOException {
        sink.put(column, key, value);
        rows[0]++;
    }

    private static long rev(String bucket, String name, byte[] value) throws BoltException {
        try {
            return EtcdBackendLayout.revMain(value);
        } catch (IllegalArgumentException e) {
            throw new BoltException(bucket + " bucket: bad " + name + " (" + value.length + " bytes)");
        }
    }
}
