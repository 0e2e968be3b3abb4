package dev.keel.operator.k8s;

import dev.keel.operator.core.MemberSpec;
import dev.keel.operator.crd.KVBackup;
import dev.keel.operator.crd.KVCluster;
import dev.keel.operator.crd.KVClusterSpec;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every member Pod the operator creates passes PodSecurity "restricted" and lets UID 185 write its volume. */
class PodSecurityTest {

    static KVCluster cluster() {
        KVCluster c = new KVCluster();
        c.setMetadata(new ObjectMetaBuilder().withName("demo").withNamespace("db").withUid("u1").build());
        c.setSpec(new KVClusterSpec());
        c.getSpec().version = "3.6.0";
        return c;
    }

    @Test
    void theCheckerRejectsWhatTheOperatorCreatedBefore() {
        // a Pod as the operator made them before: no security context at all
        List<String> v = PodSecurityRestricted.violations(new PodSpecBuilder().addNewContainer().withName("keel")
                .endContainer().build());
        assertTrue(v.contains("allowPrivilegeEscalation != false (container \"keel\")"), v.toString());
        assertTrue(v.contains("unrestricted capabilities: must drop ALL (container \"keel\")"), v.toString());
        assertTrue(v.contains("runAsNonRoot != true (container \"keel\")"), v.toString());
        assertTrue(v.contains("seccompProfile must be RuntimeDefault or Localhost (container \"keel\")"),
                v.toString());
    }

    @Test
    void memberPodsPassRestricted() {
        DnsAddressing a = new DnsAddressing("demo", "db");
        Pod seed = Resources.pod(cluster(), new MemberSpec(0, "demo-0", "3.6.0", "t", true, null, null), a, null,
                false);
        Pod learner = Resources.pod(cluster(), new MemberSpec(1, "demo-1", "3.6.0", "t", false, null, null), a, null,
                true);
        for (Pod p : List.of(seed, learner)) {
            assertEquals(List.of(), PodSecurityRestricted.violations(p.getSpec()), p.getMetadata().getName());
            assertEquals(185L, p.getSpec().getSecurityContext().getFsGroup(), "UID 185's group owns the data volume");
        }
    }

    @Test
    void restoringSeedWithItsInitContainerPassesRestricted() {
        KVBackup b = new KVBackup();
        b.setMetadata(new ObjectMetaBuilder().withName("b").withNamespace("db").build());
        b.setStatus(new KVBackup.Status());
        b.getStatus().phase = "Completed";
        b.getStatus().claimName = "backups";
        b.getStatus().path = "b.snap";
        Pod p = Resources.pod(cluster(), new MemberSpec(0, "demo-0", "3.6.0", "t", true, null, "b"),
                new DnsAddressing("demo", "db"), b, false);
        assertEquals(1, p.getSpec().getInitContainers().size());
        assertEquals(List.of(), PodSecurityRestricted.violations(p.getSpec()));
    }
}
