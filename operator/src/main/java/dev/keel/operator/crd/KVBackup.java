package dev.keel.operator.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

import java.util.ArrayList;
import java.util.List;

/** One snapshot (Maintenance.Snapshot) of a KVCluster, streamed into a PVC by a Job. Immutable spec. */
@Group(KVCluster.GROUP)
@Version("v1alpha1")
@Kind("KVBackup")
@Plural("kvbackups")
@ShortNames("kvb")
@AdditionalPrinterColumn(name = "Cluster", jsonPath = ".spec.clusterRef.name", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Phase", jsonPath = ".status.phase", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Revision", jsonPath = ".status.revision", type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "Size", jsonPath = ".status.sizeBytes", type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(name = "Age", jsonPath = ".metadata.creationTimestamp", type = AdditionalPrinterColumn.Type.DATE)
public class KVBackup extends CustomResource<KVBackup.Spec, KVBackup.Status> implements Namespaced {

    @JsonInclude(JsonInclude.Include.NON_NULL)
    @ValidationRule(value = "self == oldSelf", message = "a KVBackup's spec is immutable")
    public static class Spec {
        @Required
        public ClusterRef clusterRef;
        @Required
        public Destination destination;
        @JsonPropertyDescription("PreferFollower (default), Leader or Any: which member streams the snapshot.")
        public String target = "PreferFollower";
        public Integer timeoutSeconds = 600;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class ClusterRef {
        @Required
        public String name;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Destination {
        @Required
        public PvcDestination pvc;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class PvcDestination {
        @Required
        @JsonPropertyDescription("A PVC in this namespace; the snapshot is written as <subPath>/<backup name>.snap.")
        public String claimName;
        public String subPath;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Status {
        /** Pending, Running, Completed, Failed. */
        public String phase;
        public String message;
        public String startedAt;
        public String completedAt;
        public String member;
        public Long revision;
        public Long sizeBytes;
        /** sha256:... of the whole file (etcd's own SHA-256 trailer was verified as well). */
        public String checksum;
        /** Path of the file inside the PVC. */
        public String path;
        public String claimName;
        public String serverVersion;
        public List<Condition> conditions = new ArrayList<>();
    }
}
