package dev.keel.server;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.keel.errors.EtcdError;
import dev.keel.mvcc.MvccStore;
import dev.keel.proto.etcdserverpb.DowngradeInfo;
import dev.keel.proto.internal.DowngradeInfoSet;
import dev.keel.storage.Storage;
import org.jboss.logging.Logger;

import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * The cluster's downgrade job (etcd's DowngradeInfo): whether a downgrade is enabled and to which version.
 * Changed only by applied log entries, persisted in the {@code meta} column. The validation rules are etcd 3.6's
 * (server/etcdserver/version): the only allowed target is one minor version below the cluster version.
 *
 * <p>The cluster version follows the job as etcd 3.6's version monitor moves it: while a downgrade is enabled the
 * cluster (and storage) version is its target, once it is cancelled it is this build's again. etcd's leader makes
 * that change a few seconds after the job changes, through the log; Keel derives it from the job itself, so every
 * member reports it from the entry that enabled or cancelled the downgrade on. (etcd also ends the job once every
 * member runs the target version; Keel's members all run this build, so the job lasts until it is cancelled.)
 */
public final class DowngradeState {

    private static final Logger LOG = Logger.getLogger(DowngradeState.class);
    private static final byte[] KEY = "cluster/downgrade".getBytes(StandardCharsets.UTF_8);
    /** go-semver's identifier rule for pre-release and build metadata. */
    /** Go's strconv.ParseInt in base 10: an optional sign, then ASCII digits. */
    private static final Pattern NUMBER = Pattern.compile("[+-]?[0-9]+");
    private static final Pattern IDENTIFIER = Pattern.compile("[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*");

    /** A major.minor version (what the cluster version keeps). */
    record MajorMinor(long major, long minor) {
        /** As go-semver prints it: "3.5.0". */
        String semver() {
            return major + "." + minor + ".0";
        }

        /** As etcd's version.Cluster prints a cluster version: "3.5". */
        String cluster() {
            return major + "." + minor;
        }
    }

    private final Storage.Column meta;
    private volatile DowngradeInfo info;
    private byte[] staged;

    private final Storage storage;

    DowngradeState(Storage storage) {
        this.storage = storage;
        this.meta = storage.column(MvccStore.META_COLUMN);
        load();
    }

    /** Replaces the downgrade job with the one in storage now (a snapshot installed from the leader). */
    void reload() {
        staged = null;
        load();
    }

    private void load() {
        DowngradeInfo restored = DowngradeInfo.getDefaultInstance();
        byte[] b = storage.get(meta, KEY);
        if (b != null) {
            try {
                restored = DowngradeInfo.parseFrom(b);
            } catch (InvalidProtocolBufferException e) {
                LOG.warn("ignoring an unreadable downgrade record");
            }
        }
        info = restored;
        publish();
    }

    /** etcd_cluster_version{cluster_version}: the cluster version now, as etcd's membership metric carries it. */
    private void publish() {
        dev.keel.metrics.Metrics.REGISTRY.info("etcd_cluster_version",
                "Which version is running. 1 for 'cluster_version' label with current cluster version",
                "cluster_version", currentClusterVersion().cluster());
    }

    /**
     * The cluster version now: the downgrade's target while one is enabled (etcd 3.6's version monitor lowers
     * the cluster version to it), otherwise this build's.
     */
    MajorMinor currentClusterVersion() {
        DowngradeInfo i = info;
        if (i.getEnabled()) {
            MajorMinor target = parseSemver(i.getTargetVersion());
            if (target != null) {
                return target;
            }
        }
        return clusterVersion();
    }

    /** The current downgrade job (enabled false and no target when there is none). */
    public DowngradeInfo info() {
        return info;
    }

    /** Applies a DowngradeInfoSet from the log (etcd's applierMembership.DowngradeInfoSet). */
    void apply(DowngradeInfoSet r) {
        DowngradeInfo next = r.getEnabled()
                ? DowngradeInfo.newBuilder().setEnabled(true).setTargetVersion(r.getVer()).build()
                : DowngradeInfo.getDefaultInstance();
        info = next;
        staged = next.toByteArray();
        publish();
        LOG.infof("downgrade %s", next.getEnabled() ? "enabled, target version " + next.getTargetVersion()
                : "cancelled");
    }

    void commit(Storage.Batch batch) {
        if (staged != null) {
            batch.put(meta, KEY, staged);
            staged = null;
        }
    }

    /**
     * etcd's convertToClusterVersion: a semantic version, or "major.minor", reduced to major.minor; anything
     * else is "wrong downgrade target version format".
     */
    static MajorMinor parseTarget(String v) {
        MajorMinor m = parseSemver(v);
        if (m == null) {
            m = parseSemver(v + ".0");
        }
        if (m == null) {
            throw EtcdError.WRONG_DOWNGRADE_VERSION_FORMAT.exception();
        }
        return m;
    }

    /** coreos/go-semver's NewVersion, keeping major and minor; null where it fails. */
    private static MajorMinor parseSemver(String v) {
        String rest = v;
        String metadata = "";
        int plus = rest.indexOf('+');
        if (plus >= 0) {
            metadata = rest.substring(plus + 1);
            rest = rest.substring(0, plus);
        }
        String pre = "";
        int dash = rest.indexOf('-');
        if (dash >= 0) {
            pre = rest.substring(dash + 1);
            rest = rest.substring(0, dash);
        }
        String[] parts = rest.split("\\.", 3);
        if (parts.length != 3) {
            return null;
        }
        if (!pre.isEmpty() && !IDENTIFIER.matcher(pre).matches()) {
            return null;
        }
        if (!metadata.isEmpty() && !IDENTIFIER.matcher(metadata).matches()) {
            return null;
        }
        long[] n = new long[3];
        for (int i = 0; i < 3; i++) {
            if (!NUMBER.matcher(parts[i]).matches()) {
                return null;
            }
            try {
                n[i] = Long.parseLong(parts[i]);
            } catch (NumberFormatException e) {
                return null; // out of range, as strconv.ParseInt
            }
        }
        return new MajorMinor(n[0], n[1]);
    }

    /** This build's cluster version as major.minor. */
    static MajorMinor clusterVersion() {
        MajorMinor cv = parseSemver(Version.CLUSTER);
        if (cv == null) {
            throw EtcdError.CLUSTER_VERSION_UNAVAILABLE.exception();
        }
        return cv;
    }

    /**
     * etcd's DowngradeValidate after its linearizable read: the target must be one minor version below the
     * cluster version (lowered already while a downgrade is enabled), and no downgrade may be enabled already.
     */
    void validate(MajorMinor target) {
        MajorMinor cv = currentClusterVersion();
        MajorMinor allowed = new MajorMinor(cv.major(), cv.minor() - 1);
        if (!target.equals(allowed)) {
            throw EtcdError.INVALID_DOWNGRADE_TARGET_VERSION.exception();
        }
        if (info.getEnabled()) {
            throw EtcdError.DOWNGRADE_IN_PROCESS.exception();
        }
    }
}
