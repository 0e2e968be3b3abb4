package dev.keel.operator.backup;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.keel.operator.etcd.GrpcClusterApi;
import dev.keel.operator.etcd.SnapshotClient;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code backup --endpoint=http://member:2379 --out=/backup/x.snap [--timeout=600] [--result=/dev/termination-log]}:
 * what a KVBackup's Job runs (the operator image). Streams Maintenance.Snapshot into the file and writes the
 * result (revision, size, checksum) as JSON to stdout and to the result file, where the operator reads it from the
 * Pod's termination message.
 */
public final class BackupCommand {

    public record Result(long revision, long sizeBytes, String checksum, String serverVersion, String memberId,
                         String path) {
        public String toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("revision", revision);
            m.put("sizeBytes", sizeBytes);
            m.put("checksum", checksum);
            m.put("serverVersion", serverVersion);
            m.put("memberId", memberId);
            m.put("path", path);
            try {
                return new ObjectMapper().writeValueAsString(m);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }

        public static Result fromJson(String json) throws IOException {
            Map<?, ?> m = new ObjectMapper().readValue(json, Map.class);
            return new Result(((Number) m.get("revision")).longValue(), ((Number) m.get("sizeBytes")).longValue(),
                    (String) m.get("checksum"), (String) m.get("serverVersion"), (String) m.get("memberId"),
                    (String) m.get("path"));
        }
    }

    private BackupCommand() {
    }

    public static Result run(String endpoint, Path out, long timeoutSeconds) throws IOException {
        try (GrpcClusterApi api = new GrpcClusterApi(Duration.ofSeconds(10))) {
            SnapshotClient.Result r = SnapshotClient.save(api.channel(endpoint), out, timeoutSeconds);
            return new Result(r.revision(), r.sizeBytes(), r.sha256(), r.memberVersion(),
                    Long.toHexString(r.memberId()), out.toString());
        }
    }

    /** Exit code 0 with the JSON result, 1 with the error on stderr (and in the result file). */
    public static int main(String[] args) {
        Map<String, String> flags = new LinkedHashMap<>();
        for (String a : args) {
            if (a.startsWith("--") && a.contains("=")) {
                flags.put(a.substring(2, a.indexOf('=')), a.substring(a.indexOf('=') + 1));
            } else if (!a.equals("backup")) {
                System.err.println("unknown argument " + a);
                return 2;
            }
        }
        String endpoint = flags.get("endpoint");
        String out = flags.get("out");
        if (endpoint == null || out == null) {
            System.err.println("usage: backup --endpoint=http://host:2379 --out=/path/file.snap [--timeout=600]"
                    + " [--result=/dev/termination-log]");
            return 2;
        }
        Path result = flags.containsKey("result") ? Path.of(flags.get("result")) : null;
        try {
            Result r = run(endpoint, Path.of(out), Long.parseLong(flags.getOrDefault("timeout", "600")));
            System.out.println(r.toJson());
            if (result != null) {
                Files.writeString(result, r.toJson());
            }
            return 0;
        } catch (IOException | RuntimeException e) {
            System.err.println("backup failed: " + e.getMessage());
            if (result != null) {
                try {
                    Files.writeString(result, "backup failed: " + e.getMessage());
                } catch (IOException ignored) {
                    // nothing more to say
                }
            }
            return 1;
        }
    }
}
