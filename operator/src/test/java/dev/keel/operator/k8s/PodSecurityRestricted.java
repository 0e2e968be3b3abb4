package dev.keel.operator.k8s;

import io.fabric8.kubernetes.api.model.Capabilities;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.SeccompProfile;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Volume;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The checks of the Pod Security Standards' {@code restricted} profile (latest, which includes {@code baseline}), as
 * the PodSecurity admission controller applies them to a Pod spec: each violated rule, named as kube-apiserver's
 * warning names it. Empty means the Pod is admitted in a namespace labelled
 * {@code pod-security.kubernetes.io/enforce: restricted}.
 */
public final class PodSecurityRestricted {

    static final Set<String> VOLUME_TYPES = Set.of("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
            "persistentVolumeClaim", "projected", "secret");
    static final Set<String> SAFE_SYSCTLS = Set.of("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
            "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
            "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes");

    private PodSecurityRestricted() {
    }

    public static List<String> violations(PodSpec spec) {
        List<String> v = new ArrayList<>();
        PodSecurityContext pod = spec.getSecurityContext() == null ? new PodSecurityContext()
                : spec.getSecurityContext();
        // baseline
        if (Boolean.TRUE.equals(spec.getHostNetwork()) || Boolean.TRUE.equals(spec.getHostPID())
                || Boolean.TRUE.equals(spec.getHostIPC())) {
            v.add("host namespaces");
        }
        if (pod.getSysctls() != null && pod.getSysctls().stream().anyMatch(s -> !SAFE_SYSCTLS.contains(s.getName()))) {
            v.add("forbidden sysctls");
        }
        if (pod.getSeLinuxOptions() != null && (pod.getSeLinuxOptions().getUser() != null
                || pod.getSeLinuxOptions().getRole() != null)) {
            v.add("seLinuxOptions");
        }
        // restricted: volumes
        for (Volume vol : spec.getVolumes() == null ? List.<Volume>of() : spec.getVolumes()) {
            String type = vol.getConfigMap() != null ? "configMap" : vol.getCsi() != null ? "csi"
                    : vol.getDownwardAPI() != null ? "downwardAPI" : vol.getEmptyDir() != null ? "emptyDir"
                    : vol.getEphemeral() != null ? "ephemeral"
                    : vol.getPersistentVolumeClaim() != null ? "persistentVolumeClaim"
                    : vol.getProjected() != null ? "projected" : vol.getSecret() != null ? "secret" : "other";
            if (!VOLUME_TYPES.contains(type)) {
                v.add("restricted volume types (" + vol.getName() + ")");
            }
        }
        if (pod.getRunAsUser() != null && pod.getRunAsUser() == 0) {
            v.add("runAsUser=0");
        }
        if (unconfined(pod.getSeccompProfile())) {
            v.add("seccompProfile (pod)");
        }
        List<Container> all = Stream.concat(spec.getInitContainers() == null ? Stream.<Container>empty()
                : spec.getInitContainers().stream(), spec.getContainers().stream()).toList();
        for (Container c : all) {
            SecurityContext sc = c.getSecurityContext() == null ? new SecurityContext() : c.getSecurityContext();
            String n = " (container \"" + c.getName() + "\")";
            if (Boolean.TRUE.equals(sc.getPrivileged())) {
                v.add("privileged" + n);
            }
            for (ContainerPort p : c.getPorts() == null ? List.<ContainerPort>of() : c.getPorts()) {
                if (p.getHostPort() != null && p.getHostPort() != 0) {
                    v.add("hostPort" + n);
                }
            }
            if (sc.getProcMount() != null && !"Default".equals(sc.getProcMount())) {
                v.add("procMount" + n);
            }
            if (!Boolean.FALSE.equals(sc.getAllowPrivilegeEscalation())) {
                v.add("allowPrivilegeEscalation != false" + n);
            }
            Capabilities caps = sc.getCapabilities();
            if (caps == null || caps.getDrop() == null || !caps.getDrop().contains("ALL")) {
                v.add("unrestricted capabilities: must drop ALL" + n);
            }
            if (caps != null && caps.getAdd() != null && caps.getAdd().stream()
                    .anyMatch(a -> !a.equals("NET_BIND_SERVICE"))) {
                v.add("unrestricted capabilities: adds " + caps.getAdd() + n);
            }
            Boolean nonRoot = sc.getRunAsNonRoot() != null ? sc.getRunAsNonRoot() : pod.getRunAsNonRoot();
            if (!Boolean.TRUE.equals(nonRoot) || Boolean.FALSE.equals(sc.getRunAsNonRoot())) {
                v.add("runAsNonRoot != true" + n);
            }
            if (sc.getRunAsUser() != null && sc.getRunAsUser() == 0) {
                v.add("runAsUser=0" + n);
            }
            SeccompProfile sp = sc.getSeccompProfile() != null ? sc.getSeccompProfile() : pod.getSeccompProfile();
            if (sp == null || unconfined(sp)) {
                v.add("seccompProfile must be RuntimeDefault or Localhost" + n);
            }
            if (sc.getSeLinuxOptions() != null && (sc.getSeLinuxOptions().getUser() != null
                    || sc.getSeLinuxOptions().getRole() != null)) {
                v.add("seLinuxOptions" + n);
            }
        }
        return v;
    }

    private static boolean unconfined(SeccompProfile p) {
        return p != null && !"RuntimeDefault".equals(p.getType()) && !"Localhost".equals(p.getType());
    }
}
