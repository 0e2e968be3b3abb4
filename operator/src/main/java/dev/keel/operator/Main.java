package dev.keel.operator;

import dev.keel.operator.backup.BackupCommand;
import dev.keel.operator.backup.BackupController;
import dev.keel.operator.backup.ScheduleController;
import dev.keel.operator.etcd.GrpcClusterApi;
import dev.keel.operator.core.ClusterApi;
import dev.keel.operator.k8s.ClusterController;
import dev.keel.operator.k8s.EventRecorder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.ControllerConfigurationOverrider;

import java.time.Clock;
import java.time.Duration;

/**
 * {@code java -jar keel-operator.jar}: runs the operator (KVCluster, KVBackup, KVBackupSchedule) against the
 * cluster it runs in. {@code java -jar keel-operator.jar backup ...}: the backup Job's command.
 *
 * <p>Environment: {@code KEEL_OPERATOR_IMAGE} (the image backup Jobs run, default
 * {@code keel/keel-operator:0.1.0}), {@code KEEL_CLUSTER_DOMAIN_SUFFIX} (how member DNS names end after the
 * namespace, default {@code svc}), {@code WATCH_NAMESPACE} (watch one namespace; default all).
 */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("backup")) {
            System.exit(BackupCommand.main(args));
        }
        String image = env("KEEL_OPERATOR_IMAGE", "keel/keel-operator:0.1.0");
        String domain = env("KEEL_CLUSTER_DOMAIN_SUFFIX", "svc");
        String watch = System.getenv("WATCH_NAMESPACE");
        KubernetesClient client = new KubernetesClientBuilder().build();
        GrpcClusterApi api = new GrpcClusterApi(Duration.ofSeconds(5));
        Clock clock = Clock.systemUTC();
        Operator operator = new Operator(o -> o.withKubernetesClient(client).withCloseClientOnStop(true));
        register(operator, client, api, clock, image, domain, watch);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            operator.stop();
            api.close();
        }));
        operator.start();
    }

    /**
     * The three reconcilers, each with {@link Reconcilers#retry()} (never gives up) and, when {@code watch} is set,
     * limited to those namespaces (comma-separated).
     */
    public static void register(Operator operator, KubernetesClient client, ClusterApi api, Clock clock,
                                String backupImage, String domain, String watch) {
        EventRecorder events = new EventRecorder(client, clock);
        operator.register(new Reconcilers.Cluster(new ClusterController(client, api, clock, domain), events, clock),
                c -> configure(c, watch));
        operator.register(new Reconcilers.Backup(new BackupController(client, clock, backupImage, domain), events,
                clock), c -> configure(c, watch));
        operator.register(new Reconcilers.Schedule(new ScheduleController(client, clock), events, clock),
                c -> configure(c, watch));
    }

    private static void configure(ControllerConfigurationOverrider<?> c, String watch) {
        c.withRetry(Reconcilers.retry());
        if (watch != null && !watch.isBlank()) {
            c.settingNamespaces(watch.split(","));
        }
    }

    private static String env(String name, String def) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? def : v;
    }
}
