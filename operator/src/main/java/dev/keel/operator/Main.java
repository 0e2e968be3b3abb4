package dev.keel.operator;

import dev.keel.operator.backup.BackupCommand;
import dev.keel.operator.backup.BackupController;
import dev.keel.operator.backup.ScheduleController;
import dev.keel.operator.etcd.GrpcClusterApi;
import dev.keel.operator.k8s.ClusterController;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.javaoperatorsdk.operator.Operator;

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
        Operator operator = new Operator(o -> o.withKubernetesClient(client).withUseSSAToPatchPrimaryResource(false)
                .withCloseClientOnStop(true));
        operator.register(new Reconcilers.Cluster(new ClusterController(client, api, clock, domain)),
                c -> namespaces(c, watch));
        operator.register(new Reconcilers.Backup(new BackupController(client, clock, image, domain)),
                c -> namespaces(c, watch));
        operator.register(new Reconcilers.Schedule(new ScheduleController(client, clock)),
                c -> namespaces(c, watch));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            operator.stop();
            api.close();
        }));
        operator.start();
    }

    private static void namespaces(
            io.javaoperatorsdk.operator.api.config.ControllerConfigurationOverrider<?> c, String watch) {
        if (watch != null && !watch.isBlank()) {
            c.settingNamespaces(watch.split(","));
        }
    }

    private static String env(String name, String def) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? def : v;
    }
}
