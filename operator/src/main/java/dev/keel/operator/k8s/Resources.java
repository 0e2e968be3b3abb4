package dev.keel.operator.k8s;

import dev.keel.operator.core.MemberCommand;
import dev.keel.operator.core.MemberSpec;
import dev.keel.operator.crd.KVBackup;
import dev.keel.operator.crd.KVCluster;
import dev.keel.operator.crd.KVClusterSpec;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSecurityContextBuilder;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.SecurityContextBuilder;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ProbeBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudgetBuilder;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** The Kubernetes objects of a cluster, built from its spec. */
public final class Resources {

    public static final String DATA_MOUNT = "/var/lib/keel";
    public static final String DATA_DIR = DATA_MOUNT + "/data";
    public static final String BACKUP_MOUNT = "/backup";
    /**
     * The group of every Pod the operator creates: the server and operator images run as UID 185 (the native server
     * image as 1001), and volumes are made group-writable for this group, so a root-owned PV is writable.
     */
    public static final long FS_GROUP = 185L;

    private Resources() {
    }

    public static OwnerReference owner(HasMetadata owner) {
        return new OwnerReferenceBuilder().withApiVersion(owner.getApiVersion()).withKind(owner.getKind())
                .withName(owner.getMetadata().getName()).withUid(owner.getMetadata().getUid())
                .withController(true).withBlockOwnerDeletion(true).build();
    }

    public static String podName(KVCluster c, int ordinal) {
        return c.getMetadata().getName() + "-" + ordinal;
    }

    public static String pvcName(KVCluster c, int ordinal) {
        return "data-" + podName(c, ordinal);
    }

    public static Service peerService(KVCluster c) {
        String name = c.getMetadata().getName();
        return new ServiceBuilder().withNewMetadata().withName(DnsAddressing.peerService(name))
                .withNamespace(c.getMetadata().getNamespace()).withLabels(Labels.cluster(name))
                .withOwnerReferences(owner(c)).endMetadata()
                .withNewSpec().withClusterIP("None").withPublishNotReadyAddresses(true)
                .withSelector(Labels.members(name))
                .addNewPort().withName("client").withPort(DnsAddressing.CLIENT_PORT).endPort()
                .addNewPort().withName("peer").withPort(DnsAddressing.PEER_PORT).endPort()
                .endSpec().build();
    }

    /** Clients reach ready members only; a learner's /readyz fails, so learners get no client traffic. */
    public static Service clientService(KVCluster c) {
        String name = c.getMetadata().getName();
        return new ServiceBuilder().withNewMetadata().withName(DnsAddressing.clientService(name))
                .withNamespace(c.getMetadata().getNamespace()).withLabels(Labels.cluster(name))
                .withOwnerReferences(owner(c)).endMetadata()
                .withNewSpec().withType(c.getSpec().service == null || c.getSpec().service.type == null ? "ClusterIP"
                        : c.getSpec().service.type.name())
                .withSelector(Labels.members(name))
                .addNewPort().withName("client").withPort(DnsAddressing.CLIENT_PORT)
                .withTargetPort(new IntOrString(DnsAddressing.CLIENT_PORT)).endPort()
                .endSpec().build();
    }

    /**
     * Quorum-aware: one voluntary disruption at a time, and only when at least 3 voters are all healthy and no
     * operation is in flight; otherwise none.
     */
    public static PodDisruptionBudget pdb(KVCluster c, int maxUnavailable) {
        String name = c.getMetadata().getName();
        return new PodDisruptionBudgetBuilder().withNewMetadata().withName(name)
                .withNamespace(c.getMetadata().getNamespace()).withLabels(Labels.cluster(name))
                .withOwnerReferences(owner(c)).endMetadata()
                .withNewSpec().withMaxUnavailable(new IntOrString(maxUnavailable))
                .withNewSelector().withMatchLabels(Labels.members(name)).endSelector()
                .endSpec().build();
    }

    public static PersistentVolumeClaim pvc(KVCluster c, int ordinal) {
        KVClusterSpec.Storage s = c.getSpec().storage == null ? new KVClusterSpec.Storage() : c.getSpec().storage;
        return new PersistentVolumeClaimBuilder().withNewMetadata().withName(pvcName(c, ordinal))
                .withNamespace(c.getMetadata().getNamespace())
                .withLabels(Labels.member(c.getMetadata().getName(), ordinal, c.getSpec().version, false))
                .withOwnerReferences(owner(c)).endMetadata()
                .withNewSpec().withAccessModes("ReadWriteOnce").withStorageClassName(s.storageClassName)
                .withNewResources().withRequests(Map.of("storage", new Quantity(s.size))).endResources()
                .endSpec().build();
    }

    static Probe probe(String path, int period, int failures) {
        return new ProbeBuilder().withNewHttpGet().withPath(path).withPort(new IntOrString(DnsAddressing.CLIENT_PORT))
                .endHttpGet().withPeriodSeconds(period).withFailureThreshold(failures).withTimeoutSeconds(5).build();
    }

    public static String image(KVCluster c, String version) {
        String repo = c.getSpec().image == null ? "keel/keel-server" : c.getSpec().image.repository;
        return repo + ":" + version;
    }

    public static MemberCommand.Options options(KVCluster c) {
        KVClusterSpec.Options o = c.getSpec().options;
        return o == null ? MemberCommand.Options.DEFAULTS
                : new MemberCommand.Options(o.quotaBackendBytes, o.snapshotCount, o.heartbeatIntervalMs,
                o.electionTimeoutMs);
    }

    /**
     * A member's Pod. With a restore source, an init container restores the backup into the empty data dir
     * (checking the file's SHA-256 first) and does nothing on a data dir that already holds a member.
     */
    public static Pod pod(KVCluster c, MemberSpec spec, DnsAddressing addressing, KVBackup restoreFrom,
                          boolean learner) {
        String cluster = c.getMetadata().getName();
        String pull = c.getSpec().image == null ? "IfNotPresent" : c.getSpec().image.pullPolicy;
        Container server = new ContainerBuilder().withName("keel").withImage(image(c, spec.version()))
                .withImagePullPolicy(pull)
                .withArgs(MemberCommand.serverFlags(spec, addressing, DATA_DIR, options(c)))
                .addNewPort().withName("client").withContainerPort(DnsAddressing.CLIENT_PORT).endPort()
                .addNewPort().withName("peer").withContainerPort(DnsAddressing.PEER_PORT).endPort()
                .withStartupProbe(probe("/livez", 5, 60))
                .withLivenessProbe(probe("/livez", 10, 3))
                .withReadinessProbe(probe("/readyz", 5, 2))
                .withResources(c.getSpec().resources)
                .addNewVolumeMount().withName("data").withMountPath(DATA_MOUNT).endVolumeMount()
                .withSecurityContext(containerSecurity())
                .build();
        PodBuilder b = new PodBuilder().withNewMetadata().withName(spec.name())
                .withNamespace(c.getMetadata().getNamespace())
                .withLabels(Labels.member(cluster, spec.ordinal(), spec.version(), learner))
                .withOwnerReferences(owner(c)).endMetadata()
                .withNewSpec().withHostname(spec.name()).withSubdomain(DnsAddressing.peerService(cluster))
                .withSecurityContext(podSecurity())
                .withContainers(server)
                .addNewVolume().withName("data").withNewPersistentVolumeClaim()
                .withClaimName(pvcName(c, spec.ordinal())).endPersistentVolumeClaim().endVolume()
                .endSpec();
        if (restoreFrom != null) {
            String file = BACKUP_MOUNT + "/" + restoreFrom.getStatus().path;
            List<String> args = MemberCommand.restoreArgs(spec, addressing, file, DATA_DIR);
            String checksum = restoreFrom.getStatus().checksum == null ? ""
                    : restoreFrom.getStatus().checksum.replace("sha256:", "");
            String script = "set -e\n"
                    + "if [ -e " + DATA_DIR + "/member ]; then echo 'data dir holds a member; not restoring'; exit 0; fi\n"
                    + (checksum.isEmpty() ? "" : "echo '" + checksum + "  " + file + "' | sha256sum -c -\n")
                    + "exec $KEEL_SERVER " + args.stream().map(a -> "'" + a + "'").collect(Collectors.joining(" "))
                    + "\n";
            b.editSpec().addNewInitContainer().withName("restore").withImage(image(c, spec.version()))
                    .withImagePullPolicy(pull).withCommand("sh", "-c", script)
                    .withSecurityContext(containerSecurity())
                    .addNewVolumeMount().withName("data").withMountPath(DATA_MOUNT).endVolumeMount()
                    .addNewVolumeMount().withName("backup").withMountPath(BACKUP_MOUNT).withReadOnly(true)
                    .endVolumeMount().endInitContainer()
                    .addNewVolume().withName("backup").withNewPersistentVolumeClaim()
                    .withClaimName(restoreFrom.getStatus().claimName).withReadOnly(true).endPersistentVolumeClaim()
                    .endVolume().endSpec();
        }
        return b.build();
    }

    /**
     * PodSecurity "restricted" at Pod level: non-root (the images' own numeric USER), the runtime's default seccomp
     * profile, and {@link #FS_GROUP} owning the volumes (changed only when the volume root does not match, so a
     * large data dir is not walked at every start).
     */
    public static PodSecurityContext podSecurity() {
        return new PodSecurityContextBuilder().withRunAsNonRoot(true).withFsGroup(FS_GROUP)
                .withFsGroupChangePolicy("OnRootMismatch")
                .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile().build();
    }

    /** PodSecurity "restricted" at container level: no privilege escalation, every capability dropped. */
    public static SecurityContext containerSecurity() {
        return new SecurityContextBuilder().withAllowPrivilegeEscalation(false).withRunAsNonRoot(true)
                .withNewCapabilities().withDrop("ALL").endCapabilities()
                .withNewSeccompProfile().withType("RuntimeDefault").endSeccompProfile().build();
    }

    static List<String> quoted(List<String> args) {
        return new ArrayList<>(args);
    }
}
