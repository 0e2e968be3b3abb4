package dev.keel.server;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * etcd's backend layout (server/storage/schema of etcd 3.5/3.6; mvcc/backend of 3.4 has the same buckets and
 * keys, without {@code term}, {@code confState} and {@code storageVersion}) and where each piece lives in Keel.
 *
 * <pre>
 * bucket           etcd key → value                                   Keel column: key → value
 * key              rev main(8 BE) '_' sub(8 BE) ['t'] → mvccpb.KeyValue kv: the same bytes
 * meta             consistent_index, term → u64 BE                    meta raft/applied (index, term; not moved)
 *                  scheduledCompactRev, finishedCompactRev → rev bytes  meta mvcc/compact_scheduled|_finished → u64 BE
 *                  storageVersion → "3.6.0", confState → JSON         (derived)
 * lease            id (8 BE) → leasepb.Lease                          lease: the same bytes (LeaseRecord = leasepb.Lease)
 * auth             authEnabled → {1}|{0}, authRevision → u64 BE        auth enabled, revision: the same values
 * authUsers        name → authpb.User                                 auth user/&lt;name&gt;
 * authRoles        name → authpb.Role                                 auth role/&lt;name&gt;
 * alarm            etcdserverpb.AlarmMember → empty                   meta alarm/&lt;type&gt;/&lt;member hex&gt; → AlarmMember
 * members          id hex → JSON membership.Member                    meta member/&lt;16 hex&gt; → etcdserverpb.Member
 * members_removed  id hex → "removed"                                 meta member_removed/&lt;16 hex&gt; → empty
 * cluster          clusterVersion → "3.6.0"                           (Keel's version constant)
 * </pre>
 */
final class EtcdBackendLayout {

    static final String KEY = "key";
    static final String META = "meta";
    static final String LEASE = "lease";
    static final String ALARM = "alarm";
    static final String CLUSTER = "cluster";
    static final String MEMBERS = "members";
    static final String MEMBERS_REMOVED = "members_removed";
    static final String AUTH = "auth";
    static final String AUTH_USERS = "authUsers";
    static final String AUTH_ROLES = "authRoles";
    /** etcd's AllBuckets in bbolt's (byte) order, the order a database lists them. */
    static final List<String> BUCKETS = List.of(ALARM, AUTH, AUTH_ROLES, AUTH_USERS, CLUSTER, KEY, LEASE, MEMBERS,
            MEMBERS_REMOVED, META);

    static final String META_CONSISTENT_INDEX = "consistent_index";
    static final String META_TERM = "term";
    static final String META_SCHEDULED_COMPACT = "scheduledCompactRev";
    static final String META_FINISHED_COMPACT = "finishedCompactRev";
    static final String META_STORAGE_VERSION = "storageVersion";
    static final String META_CONF_STATE = "confState";
    static final String AUTH_ENABLED = "authEnabled";
    static final String AUTH_REVISION = "authRevision";
    static final String CLUSTER_VERSION = "clusterVersion";
    static final String REMOVED = "removed";

    // Keel's own keys (MvccStore, AuthStore, AlarmStore)
    static final String KEEL_CURRENT_REV = "mvcc/current_rev";
    static final String KEEL_COMPACT_SCHEDULED = "mvcc/compact_scheduled";
    static final String KEEL_COMPACT_FINISHED = "mvcc/compact_finished";
    static final String KEEL_AUTH_ENABLED = "enabled";
    static final String KEEL_AUTH_REVISION = "revision";
    static final String KEEL_USER_PREFIX = "user/";
    static final String KEEL_ROLE_PREFIX = "role/";
    static final String KEEL_ALARM_PREFIX = "alarm/";

    private EtcdBackendLayout() {
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] u64(long v) {
        return ByteBuffer.allocate(8).putLong(v).array();
    }

    /** A big-endian u64 of at least 8 bytes (etcd's consistent index, term, auth revision; Keel's counters). */
    static long u64(byte[] b) {
        return ByteBuffer.wrap(b, 0, 8).getLong();
    }

    /** etcd's revision bytes for a compaction mark: main, '_', sub 0. */
    static byte[] revBytes(long main) {
        return ByteBuffer.allocate(17).putLong(main).put((byte) '_').putLong(0).array();
    }

    /** The main revision of etcd's revision bytes (17 bytes, or 18 with a tombstone mark). */
    static long revMain(byte[] b) {
        if ((b.length != 17 && b.length != 18) || b[8] != '_') {
            throw new IllegalArgumentException("not a revision (" + b.length + " bytes)");
        }
        return ByteBuffer.wrap(b, 0, 8).getLong();
    }

    /** A member id as etcd's types.ID prints it: lower-case hex without padding. */
    static String memberKey(long id) {
        return Long.toHexString(id);
    }

    /** The JSON etcd's membership.Member marshals to: id, peerURLs, isLearner, name, clientURLs. */
    static String memberJson(dev.keel.proto.etcdserverpb.Member m) {
        StringBuilder s = new StringBuilder("{\"id\":").append(Long.toUnsignedString(m.getID()));
        s.append(",\"peerURLs\":").append(jsonStrings(m.getPeerURLsList()));
        if (m.getIsLearner()) {
            s.append(",\"isLearner\":true");
        }
        if (!m.getName().isEmpty()) {
            s.append(",\"name\":").append(jsonString(m.getName()));
        }
        if (m.getClientURLsCount() > 0) {
            s.append(",\"clientURLs\":").append(jsonStrings(m.getClientURLsList()));
        }
        return s.append('}').toString();
    }

    /** etcd's raftpb.ConfState as Go's encoding/json writes it: {"voters":[..],"learners":[..],"auto_leave":false}. */
    static String confStateJson(List<Long> voters, List<Long> learners) {
        StringBuilder s = new StringBuilder("{");
        appendIds(s, "voters", voters);
        appendIds(s, "learners", learners);
        return s.append("\"auto_leave\":false}").toString();
    }

    /** {@code "name":[ids],} unless {@code ids} is empty (the fields are omitempty). */
    private static void appendIds(StringBuilder s, String name, List<Long> ids) {
        if (ids.isEmpty()) {
            return;
        }
        s.append('"').append(name).append("\":[");
        for (int i = 0; i < ids.size(); i++) {
            s.append(i == 0 ? "" : ",").append(Long.toUnsignedString(ids.get(i)));
        }
        s.append("],");
    }

    private static String jsonStrings(List<String> l) {
        StringBuilder s = new StringBuilder("[");
        for (int i = 0; i < l.size(); i++) {
            s.append(i == 0 ? "" : ",").append(jsonString(l.get(i)));
        }
        return s.append(']').toString();
    }

    /** A JSON string as Go's encoding/json writes it (&lt;, &gt; and &amp; escaped too). */
    private static String jsonString(String v) {
        StringBuilder s = new StringBuilder("\"");
        for (char c : v.toCharArray()) {
            switch (c) {
                case '"' -> s.append("\\\"");
                case '\\' -> s.append("\\\\");
                case '\n' -> s.append("\\n");
                case '\r' -> s.append("\\r");
                case '\t' -> s.append("\\t");
                default -> {
                    if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029') {
                        s.append(String.format("\\u%04x", (int) c));
                    } else {
                        s.append(c);
                    }
                }
            }
        }
        return s.append('"').toString();
    }
}
