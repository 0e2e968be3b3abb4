package dev.keel.operator.crd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The committed KVCluster CRD's OpenAPI schema refuses what makes no sense, so that {@code kubectl apply} answers at
 * once: each check below is evaluated on the schema as kube-apiserver's structural validation does (type,
 * required, pattern, enum, minimum, maximum), over the sample of {@code manifests/} with one field changed.
 */
class CrdSchemaTest {

    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    static JsonNode specSchema() throws IOException {
        Path crd = Path.of(System.getProperty("keel.crds.committed", "../crds")).resolve("kvclusters.kv.keel.dev.yaml");
        return YAML.readTree(Files.readString(crd)).at("/spec/versions/0/schema/openAPIV3Schema/properties/spec");
    }

    static ObjectNode sampleSpec() throws IOException {
        for (JsonNode d : ManifestsTest.docs()) {
            if (d.get("kind").asText().equals("KVCluster")) {
                return (ObjectNode) d.get("spec").deepCopy();
            }
        }
        throw new AssertionError("no sample KVCluster");
    }

    /** The structural checks kube-apiserver applies (the subset of OpenAPI v3 a CRD schema uses here). */
    static List<String> validate(JsonNode schema, JsonNode value, String path) {
        List<String> errors = new ArrayList<>();
        check(schema, value, path, errors);
        return errors;
    }

    private static void check(JsonNode schema, JsonNode value, String path, List<String> errors) {
        if (value == null || value.isNull() || schema.path("x-kubernetes-int-or-string").asBoolean()) {
            return;
        }
        String type = schema.path("type").asText();
        switch (type) {
            case "object" -> {
                if (!value.isObject()) {
                    errors.add(path + ": must be an object");
                    return;
                }
                for (JsonNode r : schema.path("required")) {
                    if (!value.has(r.asText())) {
                        errors.add(path + "." + r.asText() + ": Required value");
                    }
                }
                JsonNode props = schema.path("properties");
                for (Iterator<Map.Entry<String, JsonNode>> it = value.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> f = it.next();
                    if (props.has(f.getKey())) {
                        check(props.get(f.getKey()), f.getValue(), path + "." + f.getKey(), errors);
                    } else if (schema.has("additionalProperties")) {
                        check(schema.get("additionalProperties"), f.getValue(), path + "." + f.getKey(), errors);
                    }
                }
            }
            case "integer" -> {
                if (!value.isIntegralNumber()) {
                    errors.add(path + ": must be an integer");
                    return;
                }
                if (schema.has("minimum") && value.asDouble() < schema.get("minimum").asDouble()) {
                    errors.add(path + ": should be greater than or equal to " + schema.get("minimum").asInt());
                }
                if (schema.has("maximum") && value.asDouble() > schema.get("maximum").asDouble()) {
                    errors.add(path + ": should be less than or equal to " + schema.get("maximum").asInt());
                }
            }
            case "string" -> {
                if (!value.isTextual()) {
                    errors.add(path + ": must be a string");
                    return;
                }
                if (schema.has("pattern") && !java.util.regex.Pattern.compile(schema.get("pattern").asText())
                        .matcher(value.asText()).find()) {
                    errors.add(path + ": should match '" + schema.get("pattern").asText() + "'");
                }
                if (schema.has("enum")) {
                    boolean ok = false;
                    for (JsonNode e : schema.get("enum")) {
                        ok |= e.asText().equals(value.asText());
                    }
                    if (!ok) {
                        errors.add(path + ": Unsupported value: \"" + value.asText() + "\"");
                    }
                }
            }
            case "array" -> {
                for (int i = 0; i < value.size(); i++) {
                    check(schema.path("items"), value.get(i), path + "[" + i + "]", errors);
                }
            }
            default -> { }
        }
    }

    List<String> with(String pointer, JsonNode v) throws IOException {
        ObjectNode spec = sampleSpec();
        String[] parts = pointer.substring(1).split("/");
        ObjectNode p = spec;
        for (int i = 0; i < parts.length - 1; i++) {
            p = p.has(parts[i]) ? (ObjectNode) p.get(parts[i]) : p.putObject(parts[i]);
        }
        p.set(parts[parts.length - 1], v);
        return validate(specSchema(), spec, "spec");
    }

    @Test
    void theSampleIsValid() throws IOException {
        assertEquals(List.of(), validate(specSchema(), sampleSpec(), "spec"));
    }

    @Test
    void storageSizeMustBeAQuantity() throws IOException {
        for (String ok : List.of("1Gi", "512Mi", "10G", "1.5Ti", "1e9", "100")) {
            assertEquals(List.of(), with("/storage/size", new TextNode(ok)), ok);
        }
        for (String bad : List.of("lots", "", "-1Gi", "10 Gi", "10GB", "1gi")) {
            List<String> e = with("/storage/size", new TextNode(bad));
            assertEquals(1, e.size(), bad + " " + e);
            assertTrue(e.get(0).startsWith("spec.storage.size: should match"), e.toString());
        }
    }

    @Test
    void serviceTypeIsAnEnum() throws IOException {
        for (String ok : List.of("ClusterIP", "NodePort", "LoadBalancer")) {
            assertEquals(List.of(), with("/service/type", new TextNode(ok)));
        }
        assertEquals(List.of("spec.service.type: Unsupported value: \"Bogus\""),
                with("/service/type", new TextNode("Bogus")));
        assertEquals(1, with("/service/type", new TextNode("ExternalName"))
                .size(), "ExternalName has no selector: no use for a client Service");
    }

    @Test
    void replicasBetweenOneAndSeven() throws IOException {
        for (int ok : new int[] {1, 3, 5, 7}) {
            assertEquals(List.of(), with("/replicas", IntNode.valueOf(ok)));
        }
        assertEquals(List.of("spec.replicas: should be greater than or equal to 1"),
                with("/replicas", IntNode.valueOf(0)));
        assertEquals(List.of("spec.replicas: should be greater than or equal to 1"),
                with("/replicas", IntNode.valueOf(-3)));
        assertEquals(List.of("spec.replicas: should be less than or equal to 7"),
                with("/replicas", IntNode.valueOf(9)));
    }

    @Test
    void pullPolicyIsKubernetesOne() throws IOException {
        assertEquals(1, with("/image/pullPolicy", new TextNode("Sometimes"))
                .size());
    }

    /**
     * Immutability needs a rule where both old and new values exist: on spec, so that adding or removing
     * bootstrap is refused as well as changing it (a rule on the optional field itself is skipped when the field is
     * absent on either side).
     */
    @Test
    void bootstrapIsImmutableThroughARuleOnSpec() throws IOException {
        JsonNode rules = specSchema().path("x-kubernetes-validations");
        assertEquals(1, rules.size(), rules.toString());
        String rule = rules.get(0).path("rule").asText();
        assertEquals("has(self.bootstrap) == has(oldSelf.bootstrap) && (!has(self.bootstrap)"
                + " || self.bootstrap == oldSelf.bootstrap)", rule);
        assertTrue(rules.get(0).path("message").asText().startsWith("bootstrap is immutable"));
        assertTrue(specSchema().at("/properties/bootstrap/x-kubernetes-validations").isMissingNode(),
                "no second rule on the field");
    }
}
