package dev.keel.operator.crd;

import io.fabric8.crdv2.generator.CRDGenerator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Generates the CRD YAML from the annotated classes (Fabric8's CRD generator) and checks that {@code crds/} at the
 * top of the repository holds exactly that. After changing a CRD class, run with {@code -Dkeel.crds.update=true}
 * to rewrite {@code crds/}, and commit the result.
 */
class CrdSyncTest {

    static Path generate() throws IOException {
        Path out = Path.of(System.getProperty("keel.crds.generated", "target/generated-crds"));
        Files.createDirectories(out);
        new CRDGenerator().inOutputDir(out.toFile()).forCRDVersions("v1")
                .customResourceClasses(KVCluster.class, KVBackup.class, KVBackupSchedule.class)
                .withParallelGenerationEnabled(false)
                .generate();
        return out;
    }

    @Test
    void committedCrdsMatchTheClasses() throws IOException {
        Path generated = generate();
        Path committed = Path.of(System.getProperty("keel.crds.committed", "../crds"));
        List<Path> files;
        try (Stream<Path> s = Files.list(generated)) {
            files = s.filter(p -> p.toString().endsWith(".yml")).sorted().toList();
        }
        assertEquals(List.of("kvbackups.kv.keel.dev-v1.yml", "kvbackupschedules.kv.keel.dev-v1.yml",
                "kvclusters.kv.keel.dev-v1.yml"), files.stream().map(p -> p.getFileName().toString()).toList());
        boolean update = Boolean.getBoolean("keel.crds.update");
        for (Path g : files) {
            Path c = committed.resolve(g.getFileName().toString().replace("-v1.yml", ".yaml"));
            String want = Files.readString(g);
            if (update) {
                Files.createDirectories(committed);
                Files.writeString(c, want);
            }
            assertTrue(Files.exists(c), c + " missing: run with -Dkeel.crds.update=true and commit crds/");
            assertEquals(want, Files.readString(c), c + " is out of date with the CRD classes: run the operator"
                    + " tests with -Dkeel.crds.update=true and commit crds/");
        }
        try (Stream<Path> s = Files.list(committed)) {
            assertEquals(files.size(), s.filter(p -> p.toString().endsWith(".yaml")).count(),
                    "crds/ holds a CRD no class generates");
        }
    }

    @Test
    void kvClusterHasScaleAndStatusSubresourcesAndPrinterColumns() throws IOException {
        String yaml = Files.readString(generate().resolve("kvclusters.kv.keel.dev-v1.yml")).replace("\"", "");
        assertTrue(yaml.contains("specReplicasPath: .spec.replicas"), yaml);
        assertTrue(yaml.contains("statusReplicasPath: .status.readyMembers"), yaml);
        assertTrue(yaml.contains("labelSelectorPath: .status.selector"), yaml);
        assertTrue(yaml.contains("status: {}"), yaml);
        for (String col : List.of("Version", "Replicas", "Ready", "Leader", "Phase", "Age")) {
            assertTrue(yaml.contains("name: " + col), "printer column " + col);
        }
        assertTrue(yaml.contains("- kvc"), "short name kvc");
    }
}
