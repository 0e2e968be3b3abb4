package dev.keel.operator.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.model.annotation.SpecReplicas;

@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "has(self.bootstrap) == has(oldSelf.bootstrap)"
        + " && (!has(self.bootstrap) || self.bootstrap == oldSelf.bootstrap)",
        message = "bootstrap is immutable: it can be neither added, changed nor removed after creation")
public class KVClusterSpec {

    /** A positive storage quantity (Kubernetes' quantity syntax without sign or milli: 512Mi, 10Gi, 1e9, 1.5G). */
    public static final String SIZE = "^([0-9]+(\\.[0-9]+)?|\\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|[eE][0-9]+)?$";

    @SpecReplicas
    @Min(1)
    @Max(7)
    @Default("3")
    @JsonPropertyDescription("Voting members, 1 to 7 (etcd's advice: more members slow every write). Odd numbers"
            + " tolerate as many failures as the even number above them.")
    public Integer replicas = 3;

    @Required
    @Pattern("^v?[0-9]+\\.[0-9]+(\\.[0-9]+)?$")
    @JsonPropertyDescription("Server version (the image tag); changing it rolls the members one at a time.")
    public String version;

    public Image image = new Image();
    public Storage storage = new Storage();
    public ResourceRequirements resources;
    public ServiceSpec service = new ServiceSpec();
    public Options options = new Options();
    public UpdateStrategy updateStrategy = new UpdateStrategy();
    public Scaling scaling = new Scaling();
    public MemberRecovery memberRecovery = new MemberRecovery();
    public PodDisruptionBudgetSpec podDisruptionBudget = new PodDisruptionBudgetSpec();

    @JsonPropertyDescription("How the cluster starts; read only until it has a cluster id. Immutable (CEL on spec).")
    public Bootstrap bootstrap;

    @JsonPropertyDescription("Stop reconciling (emergency brake).")
    public Boolean paused = false;

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Image {
        @Default("keel/keel-server")
        public String repository = "keel/keel-server";
        @Default("IfNotPresent")
        @Pattern("^(Always|IfNotPresent|Never)$")
        public String pullPolicy = "IfNotPresent";
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Storage {
        @Default("1Gi")
        @Pattern(SIZE)
        @JsonPropertyDescription("Each member's PVC request, a quantity such as 10Gi.")
        public String size = "1Gi";
        public String storageClassName;
        @Pattern("^(Delete|Retain)$")
        @Default("Delete")
        @JsonPropertyDescription("What happens to a member's PVC when the cluster scales down: Delete or Retain.")
        public String pvcRetentionOnScaleDown = "Delete";
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class ServiceSpec {
        @Default("ClusterIP")
        @JsonPropertyDescription("The client Service's type: ClusterIP, NodePort or LoadBalancer.")
        public ServiceType type = ServiceType.ClusterIP;
    }

    public enum ServiceType { ClusterIP, NodePort, LoadBalancer }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Options {
        @JsonPropertyDescription("--quota-backend-bytes")
        public Long quotaBackendBytes;
        @JsonPropertyDescription("--snapshot-count")
        public Long snapshotCount;
        @JsonPropertyDescription("--heartbeat-interval (ms)")
        public Integer heartbeatIntervalMs;
        @JsonPropertyDescription("--election-timeout (ms)")
        public Integer electionTimeoutMs;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class UpdateStrategy {
        @JsonPropertyDescription("Must be true to go one minor version down (etcd's Downgrade API).")
        public Boolean allowDowngrade = false;
        public HealthGate healthGate = new HealthGate();
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class HealthGate {
        @Default("10")
        public Integer minReadySeconds = 10;
        @Default("1000")
        public Long maxIndexLag = 1000L;
        @Default("600")
        public Integer timeoutSeconds = 600;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Scaling {
        public LearnerPromotion learnerPromotion = new LearnerPromotion();
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class LearnerPromotion {
        @Default("1000")
        @JsonPropertyDescription("Promote once leader commit index minus learner applied index is at most this.")
        public Long maxIndexLag = 1000L;
        @Default("10")
        public Integer stableForSeconds = 10;
        @Default("900")
        @JsonPropertyDescription("A learner not caught up by then is removed (LearnerStuck) and retried later.")
        public Integer timeoutSeconds = 900;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class MemberRecovery {
        @Default("true")
        public Boolean autoReplace = true;
        @Default("300")
        public Integer unhealthyAfterSeconds = 300;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class PodDisruptionBudgetSpec {
        @Default("true")
        public Boolean enabled = true;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Bootstrap {
        public Restore restore;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Restore {
        @Required
        @JsonPropertyDescription("A Completed KVBackup in this namespace; its PVC is mounted read-only by the seed.")
        public BackupRef backupRef;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class BackupRef {
        @Required
        public String name;
    }
}
