package dev.keel.operator.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.model.annotation.LabelSelector;
import io.fabric8.kubernetes.model.annotation.StatusReplicas;

import java.util.ArrayList;
import java.util.List;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class KVClusterStatus {

    public Long observedGeneration;
    /** Creating, Restoring, Running, Scaling, Upgrading, Downgrading, Replacing, Degraded, QuorumLost, Paused. */
    public String phase;
    /** A person-readable summary of what the operator is doing or waiting for. */
    public String message;
    /** Hex, as etcdctl prints it (a uint64 is not a safe JSON number). */
    public String clusterID;
    public String clusterToken;
    @StatusReplicas
    public Integer readyMembers;
    @LabelSelector
    public String selector;
    public String currentVersion;
    public String leader;
    public List<MemberStatus> members = new ArrayList<>();
    /** The membership or version change in flight; a restarted operator resumes it. */
    public OperationStatus operation;
    public LastBackup lastSuccessfulBackup;
    /**
     * Member Pods and PVCs that are not doing their work, in Kubernetes' own words: unschedulable, image pull or
     * crash loop, PVC not bound (with the newest event about it). Empty when all is well.
     */
    public List<WorkloadIssue> workloadIssues = new ArrayList<>();
    public List<Condition> conditions = new ArrayList<>();

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class WorkloadIssue {
        /** Pod or PVC. */
        public String kind;
        public String name;
        public String reason;
        public String message;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class MemberStatus {
        public String name;
        public String id;
        /** Voter or Learner. */
        public String role;
        public Boolean healthy;
        public String version;
        public Long raftAppliedIndex;
        public String unhealthySince;
        public String error;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class OperationStatus {
        public String type;
        public String step;
        public Integer ordinal;
        public String member;
        public String startedAt;
        public String stepSince;
        public String stableSince;
        public String targetVersion;
        public Integer attempts;
        public String lastError;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class LastBackup {
        public String name;
        public String time;
        public Long revision;
    }
}
