package dev.keel.operator.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
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

/** Creates a KVBackup on a cron schedule and keeps the last N. */
@Group(KVCluster.GROUP)
@Version("v1alpha1")
@Kind("KVBackupSchedule")
@Plural("kvbackupschedules")
@ShortNames("kvbs")
@AdditionalPrinterColumn(name = "Cluster", jsonPath = ".spec.clusterRef.name", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Schedule", jsonPath = ".spec.schedule", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Last", jsonPath = ".status.lastScheduleTime", type = AdditionalPrinterColumn.Type.DATE)
@AdditionalPrinterColumn(name = "LastSuccessful", jsonPath = ".status.lastSuccessfulBackup", type = AdditionalPrinterColumn.Type.STRING)
public class KVBackupSchedule extends CustomResource<KVBackupSchedule.Spec, KVBackupSchedule.Status>
        implements Namespaced {

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Spec {
        @Required
        public KVBackup.ClusterRef clusterRef;
        @Required
        @JsonPropertyDescription("Five-field cron (minute hour day-of-month month day-of-week), in UTC.")
        public String schedule;
        public Boolean suspend = false;
        @Required
        public KVBackup.Destination destination;
        public Retention retention = new Retention();
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Retention {
        @Min(1)
        @JsonPropertyDescription("Completed backups of this schedule to keep; older ones are deleted.")
        public Integer keepLast = 7;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public static class Status {
        public String lastScheduleTime;
        public String lastBackup;
        public String lastSuccessfulBackup;
        public String message;
        public List<Condition> conditions = new ArrayList<>();
    }
}
