package dev.keel.operator.crd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import dev.keel.operator.backup.Cron;
import dev.keel.operator.core.Policy;
import dev.keel.operator.k8s.ClusterController;
import dev.keel.operator.k8s.PodSecurityRestricted;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.Serialization;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** manifests/: parses, the RBAC grants what the operator calls (and no wildcard), the samples are valid. */
class ManifestsTest {

    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    static List<JsonNode> docs() throws IOException {
        Path dir = Path.of(System.getProperty("keel.manifests", "../manifests"));
        List<JsonNode> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
                try (YAMLParser p = new YAMLFactory().createParser(f.toFile())) {
                    for (JsonNode n : YAML.readValues(p, JsonNode.class).readAll()) {
                        if (n != null && !n.isEmpty()) {
                            assertTrue(n.hasNonNull("apiVersion") && n.hasNonNull("kind")
                                    && n.path("metadata").hasNonNull("name"), f + ": " + n);
                            out.add(n);
                        }
                    }
                }
            }
        }
        return out;
    }

    static JsonNode one(List<JsonNode> docs, String kind) {
        List<JsonNode> l = docs.stream().filter(d -> d.get("kind").asText().equals(kind)).toList();
        assertEquals(1, l.size(), kind);
        return l.get(0);
    }

    /** Every (group, resource, verb) the operator's code uses. */
    static final List<String> USED = List.of(
            "kv.keel.dev/kvclusters/get", "kv.keel.dev/kvclusters/list", "kv.keel.dev/kvclusters/watch",
            "kv.keel.dev/kvclusters/status/patch", "kv.keel.dev/kvbackups/list", "kv.keel.dev/kvbackups/watch",
            "kv.keel.dev/kvbackups/get", "kv.keel.dev/kvbackups/create", "kv.keel.dev/kvbackups/delete",
            "kv.keel.dev/kvbackups/status/patch", "kv.keel.dev/kvbackupschedules/list",
            "kv.keel.dev/kvbackupschedules/watch", "kv.keel.dev/kvbackupschedules/status/patch",
            "/pods/list", "/pods/get", "/pods/create", "/pods/delete", "/pods/patch",
            "/persistentvolumeclaims/get", "/persistentvolumeclaims/create", "/persistentvolumeclaims/delete",
            "/services/get", "/services/create", "policy/poddisruptionbudgets/get",
            "policy/poddisruptionbudgets/create", "policy/poddisruptionbudgets/update",
            "batch/jobs/get", "batch/jobs/create", "batch/jobs/delete", "batch/jobs/list", "batch/jobs/watch",
            "/pods/watch", "/persistentvolumeclaims/list", "/persistentvolumeclaims/watch",
            "/events/create", "/events/list",
            // ownerReferences with blockOwnerDeletion under OwnerReferencesPermissionEnforcement
            "kv.keel.dev/kvclusters/finalizers/update", "kv.keel.dev/kvbackups/finalizers/update",
            "kv.keel.dev/kvbackupschedules/finalizers/update");

    @Test
    void rbacGrantsWhatTheOperatorUsesAndNoWildcards() throws IOException {
        JsonNode role = one(docs(), "ClusterRole");
        Set<String> granted = new HashSet<>();
        for (JsonNode rule : role.get("rules")) {
            for (JsonNode g : rule.get("apiGroups")) {
                for (JsonNode r : rule.get("resources")) {
                    for (JsonNode v : rule.get("verbs")) {
                        assertFalse(g.asText().equals("*") || r.asText().equals("*") || v.asText().equals("*"),
                                "wildcard in " + rule);
                        granted.add(g.asText() + "/" + r.asText() + "/" + v.asText());
                    }
                }
            }
        }
        for (String u : USED) {
            assertTrue(granted.contains(u), "RBAC misses " + u);
        }
        assertFalse(granted.contains("/secrets/get"), "no secrets");
        JsonNode deploy = one(docs(), "Deployment");
        assertEquals(one(docs(), "ServiceAccount").at("/metadata/name").asText(),
                deploy.at("/spec/template/spec/serviceAccountName").asText());
        assertEquals(one(docs(), "ClusterRoleBinding").at("/subjects/0/name").asText(),
                deploy.at("/spec/template/spec/serviceAccountName").asText());
    }

    @Test
    void operatorDeploymentPassesPodSecurityRestricted() throws IOException {
        Deployment d = Serialization.unmarshal(YAML.writeValueAsString(one(docs(), "Deployment")), Deployment.class);
        assertEquals(List.of(), PodSecurityRestricted.violations(d.getSpec().getTemplate().getSpec()));
        for (JsonNode ns : docs().stream().filter(x -> x.get("kind").asText().equals("Namespace")).toList()) {
            assertEquals("restricted", ns.at("/metadata/labels").path("pod-security.kubernetes.io/enforce").asText(),
                    ns.toString());
        }
    }

    @Test
    void samplesAreValid() throws IOException {
        List<JsonNode> docs = docs();
        KVCluster c = Serialization.unmarshal(YAML.writeValueAsString(one(docs, "KVCluster")), KVCluster.class);
        Policy p = ClusterController.policy(c);
        assertEquals(3, p.replicas());
        assertEquals("3.6.0", p.version());
        dev.keel.operator.core.Version.parse(c.getSpec().version);
        KVBackupSchedule s = Serialization.unmarshal(YAML.writeValueAsString(one(docs, "KVBackupSchedule")),
                KVBackupSchedule.class);
        Cron.parse(s.getSpec().schedule);
        assertEquals(c.getMetadata().getName(), s.getSpec().clusterRef.name);
        assertEquals(one(docs, "PersistentVolumeClaim").at("/metadata/name").asText(),
                s.getSpec().destination.pvc.claimName);
    }
}
