package dev.keel.server;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.keel.errors.EtcdError;
import dev.keel.mvcc.MvccStore;
import dev.keel.proto.etcdserverpb.AlarmMember;
import dev.keel.proto.etcdserverpb.AlarmRequest;
import dev.keel.proto.etcdserverpb.AlarmResponse;
import dev.keel.proto.etcdserverpb.AlarmType;
import dev.keel.proto.internal.InternalRequest;
import dev.keel.storage.Storage;
import org.jboss.logging.Logger;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The cluster's active alarms (etcd's v3alarm.AlarmStore), changed only by applied log entries so every member
 * agrees, persisted in the {@code meta} column and restored at startup.
 *
 * <p>While an alarm is active the applier refuses some requests, as etcd's capped and corrupt appliers do:
 * CORRUPT refuses Put, DeleteRange, Txn, Compaction and lease grant/revoke ("etcdserver: corrupt cluster");
 * NOSPACE refuses Put, a Txn with a put in either branch, and lease grant ("etcdserver: mvcc: database space
 * exceeded"). Reads, deletions and compaction still work under NOSPACE.
 *
 * <p>Threads: {@link #apply} and {@link #commit} run on the apply thread; the read methods from any thread.
 */
public final class AlarmStore {

    private static final Logger LOG = Logger.getLogger(AlarmStore.class);
    private static final String PREFIX = "alarm/";

    private record Id(int type, long member) {
    }

    private static final Comparator<Id> ORDER = Comparator.comparingInt(Id::type)
            .thenComparing(Id::member, Long::compareUnsigned);

    private final Storage storage;
    private final Storage.Column meta;
    /** Written only by the apply thread; readers use {@link #active}. */
    private final TreeMap<Id, AlarmMember> alarms = new TreeMap<>(ORDER);
    /** Changes not yet in a batch: key → value, or null for a deletion. */
    private final Map<String, byte[]> staged = new LinkedHashMap<>();
    private volatile List<AlarmMember> active = List.of();

    AlarmStore(Storage storage) {
        this.storage = storage;
        this.meta = storage.column(MvccStore.META_COLUMN);
        load();
    }

    /** Replaces the alarms with those in storage now (a snapshot installed from the leader). */
    void reload() {
        alarms.clear();
        staged.clear();
        load();
    }

    private void load() {
        byte[] from = PREFIX.getBytes(StandardCharsets.UTF_8);
        byte[] to = "alarm0".getBytes(StandardCharsets.UTF_8); // '0' follows '/'
        storage.scan(meta, from, to, (k, v) -> {
            try {
                AlarmMember m = AlarmMember.parseFrom(v);
                alarms.put(new Id(m.getAlarmValue(), m.getMemberID()), m);
            } catch (InvalidProtocolBufferException e) {
                LOG.warnf("ignoring an unreadable alarm record %s", new String(k, StandardCharsets.UTF_8));
            }
            return true;
        });
        publish();
        if (!active.isEmpty()) {
            LOG.warnf("active alarms: %s", describe(active));
        }
    }

    private static String key(Id id) {
        return PREFIX + id.type() + "/" + ClusterIds.hex(id.member());
    }

    /** Applies an Alarm request from the log (etcd's applierV3backend.Alarm). */
    AlarmResponse apply(AlarmRequest r) {
        AlarmResponse.Builder resp = AlarmResponse.newBuilder();
        switch (r.getAction()) {
            case GET -> resp.addAllAlarms(get(r.getAlarmValue()));
            case ACTIVATE -> {
                if (r.getAlarmValue() == AlarmType.NONE_VALUE) {
                    break;
                }
                Id id = new Id(r.getAlarmValue(), r.getMemberID());
                AlarmMember m = alarms.get(id);
                if (m == null) {
                    m = AlarmMember.newBuilder().setMemberID(r.getMemberID()).setAlarmValue(r.getAlarmValue()).build();
                    alarms.put(id, m);
                    staged.put(key(id), m.toByteArray());
                    publish();
                    LOG.warnf("alarm raised: %s", describe(List.of(m)));
                }
                resp.addAlarms(m);
            }
            case DEACTIVATE -> {
                Id id = new Id(r.getAlarmValue(), r.getMemberID());
                AlarmMember m = alarms.remove(id);
                if (m != null) {
                    staged.put(key(id), null);
                    publish();
                    LOG.infof("alarm cleared: %s", describe(List.of(m)));
                    resp.addAlarms(m);
                }
            }
            default -> {
                // an action this version does not know: etcd answers with nothing
            }
        }
        return resp.build();
    }

    /** Adds the changes of the entries applied since the last call to {@code batch}. */
    void commit(Storage.Batch batch) {
        for (Map.Entry<String, byte[]> e : staged.entrySet()) {
            byte[] k = e.getKey().getBytes(StandardCharsets.UTF_8);
            if (e.getValue() == null) {
                batch.delete(meta, k);
            } else {
                batch.put(meta, k, e.getValue());
            }
        }
        staged.clear();
    }

    private void publish() {
        active = List.copyOf(alarms.values());
    }

    /** Active alarms of one type, or all of them for NONE (ordered by type, then member). */
    public List<AlarmMember> get(int type) {
        List<AlarmMember> out = new ArrayList<>();
        for (AlarmMember m : active) {
            if (type == AlarmType.NONE_VALUE || m.getAlarmValue() == type) {
                out.add(m);
            }
        }
        return out;
    }

    /** Every active alarm. */
    public List<AlarmMember> list() {
        return active;
    }

    public boolean isActive(AlarmType type) {
        for (AlarmMember m : active) {
            if (m.getAlarmValue() == type.getNumber()) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code member} has an active alarm of {@code type}. */
    public boolean isActive(AlarmType type, long member) {
        for (AlarmMember m : active) {
            if (m.getAlarmValue() == type.getNumber() && m.getMemberID() == member) {
                return true;
            }
        }
        return false;
    }

    /**
     * Refuses, before anything changes, a request the active alarms forbid (etcd's corrupt applier wraps the
     * capped one, so CORRUPT wins).
     */
    void checkApply(InternalRequest req) {
        List<AlarmMember> now = active;
        if (now.isEmpty()) {
            return;
        }
        if (isActive(AlarmType.CORRUPT)) {
            switch (req.getRequestCase()) {
                case RANGE, PUT, DELETE_RANGE, TXN, COMPACTION, LEASE_GRANT, LEASE_REVOKE ->
                        throw EtcdError.CORRUPT.exception();
                default -> {
                }
            }
        }
        if (isActive(AlarmType.NOSPACE)) {
            switch (req.getRequestCase()) {
                case PUT, LEASE_GRANT -> throw EtcdError.NO_SPACE.exception();
                case TXN -> {
                    if (BackendQuota.cost(req.getTxn()) > 0) {
                        throw EtcdError.NO_SPACE.exception();
                    }
                }
                default -> {
                }
            }
        }
    }

    /** etcd's text form of an alarm (gogo-protobuf's compact text), as Status lists it: "memberID:1 alarm:NOSPACE ". */
    static String format(AlarmMember m) {
        StringBuilder sb = new StringBuilder();
        if (m.getMemberID() != 0) {
            sb.append("memberID:").append(Long.toUnsignedString(m.getMemberID())).append(' ');
        }
        if (m.getAlarmValue() != 0) {
            AlarmType t = AlarmType.forNumber(m.getAlarmValue());
            sb.append("alarm:").append(t == null ? Integer.toString(m.getAlarmValue()) : t.name()).append(' ');
        }
        return sb.toString();
    }

    private static String describe(List<AlarmMember> ms) {
        StringBuilder sb = new StringBuilder();
        for (AlarmMember m : ms) {
            sb.append('[').append(format(m).trim()).append(']');
        }
        return sb.toString();
    }
}
