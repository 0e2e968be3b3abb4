package dev.keel.operator.core;

import java.util.Map;

/** The members' workloads: Pods and PVCs in Kubernetes, server processes in the integration tests. */
public interface MemberRuntime {

    /** Every member workload of the cluster, by ordinal. */
    Map<Integer, PodState> pods();

    /** Creates the workload (and its volume when missing). */
    void create(MemberSpec spec);

    /** Deletes the workload; with {@code deleteData} its volume too. */
    void delete(int ordinal, boolean deleteData);
}
