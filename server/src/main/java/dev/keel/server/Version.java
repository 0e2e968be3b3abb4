package dev.keel.server;

/** Versions this member reports. Clients such as kube-apiserver gate features on the etcd version. */
public final class Version {
    /** The etcd API version this server implements. */
    public static final String SERVER = "3.6.0";
    /** The cluster-wide version (all members run the same build for now). */
    public static final String CLUSTER = "3.6.0";
    /** Storage format version reported in Status. */
    public static final String STORAGE = "3.6.0";
    /** Keel's own build version. */
    public static final String KEEL = "0.1.0";

    private Version() {
    }
}
