package dev.keel.operator.k8s;

import dev.keel.operator.crd.KVCluster;

import java.util.LinkedHashMap;
import java.util.Map;

/** Labels on everything the operator creates for a cluster. */
public final class Labels {

    public static final String NAME = "app.kubernetes.io/name";
    public static final String INSTANCE = "app.kubernetes.io/instance";
    public static final String MANAGED_BY = "app.kubernetes.io/managed-by";
    public static final String COMPONENT = "app.kubernetes.io/component";
    public static final String ORDINAL = KVCluster.GROUP + "/ordinal";
    public static final String VERSION = KVCluster.GROUP + "/version";
    public static final String ROLE = KVCluster.GROUP + "/role";
    public static final String SCHEDULE = KVCluster.GROUP + "/schedule";
    public static final String BACKUP = KVCluster.GROUP + "/backup";
    public static final String OPERATOR = "keel-operator";

    private Labels() {
    }

    public static Map<String, String> cluster(String cluster) {
        Map<String, String> l = new LinkedHashMap<>();
        l.put(NAME, "keel");
        l.put(INSTANCE, cluster);
        l.put(MANAGED_BY, OPERATOR);
        return l;
    }

    /** Selects every member Pod of a cluster (the client Service, the PDB, status.selector). */
    public static Map<String, String> members(String cluster) {
        Map<String, String> l = new LinkedHashMap<>();
        l.put(NAME, "keel");
        l.put(INSTANCE, cluster);
        l.put(COMPONENT, "member");
        return l;
    }

    public static String selector(String cluster) {
        StringBuilder b = new StringBuilder();
        members(cluster).forEach((k, v) -> b.append(b.length() == 0 ? "" : ",").append(k).append('=').append(v));
        return b.toString();
    }

    public static Map<String, String> member(String cluster, int ordinal, String version, boolean learner) {
        Map<String, String> l = cluster(cluster);
        l.put(COMPONENT, "member");
        l.put(ORDINAL, Integer.toString(ordinal));
        l.put(VERSION, version);
        l.put(ROLE, learner ? "learner" : "voter");
        return l;
    }
}
