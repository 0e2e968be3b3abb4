package dev.keel.server;

import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * etcd's configuration file ({@code --config-file}, embed.ConfigFromFile): a YAML map whose keys are the flag names,
 * except the TLS settings, which sit in {@code client-transport-security} and {@code peer-transport-security} maps
 * (cert-file, key-file, client-cert-auth, trusted-ca-file, auto-tls, ...). Lists (log-outputs, cipher-suites, ...)
 * become the flag's comma-separated value. Keys etcd does not know are ignored, as etcd's YAML decoding does.
 */
final class ConfigFile {

    private ConfigFile() {
    }

    /** The TLS keys of client-transport-security and the flag each sets. */
    private static final Map<String, String> CLIENT_TLS = Map.of(
            "cert-file", "cert-file",
            "key-file", "key-file",
            "client-cert-file", "client-cert-file",
            "client-key-file", "client-key-file",
            "client-cert-auth", "client-cert-auth",
            "trusted-ca-file", "trusted-ca-file",
            "auto-tls", "auto-tls",
            "allowed-hostname", "client-cert-allowed-hostname");

    /** The TLS keys of peer-transport-security and the flag each sets. */
    private static final Map<String, String> PEER_TLS = Map.of(
            "cert-file", "peer-cert-file",
            "key-file", "peer-key-file",
            "client-cert-file", "peer-client-cert-file",
            "client-key-file", "peer-client-key-file",
            "client-cert-auth", "peer-client-cert-auth",
            "trusted-ca-file", "peer-trusted-ca-file",
            "auto-tls", "peer-auto-tls",
            "allowed-cn", "peer-cert-allowed-cn",
            "allowed-hostname", "peer-cert-allowed-hostname",
            "skip-client-san-verification", "peer-skip-client-san-verification");

    /**
     * Reads the file into flag name to value.
     *
     * @throws EtcdConfig.ConfigException when the file cannot be read or is not a YAML map (etcd's texts: "open
     *                                    path: no such file or directory", the YAML error)
     */
    static Map<String, String> read(Path path) {
        String text;
        try {
            text = Files.readString(path);
        } catch (NoSuchFileException e) {
            throw new EtcdConfig.ConfigException("open " + path + ": no such file or directory");
        } catch (IOException e) {
            throw new EtcdConfig.ConfigException("open " + path + ": " + e.getMessage());
        }
        Object doc;
        try {
            doc = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
        } catch (RuntimeException e) {
            throw new EtcdConfig.ConfigException("error converting YAML to JSON: yaml: "
                    + e.getMessage().lines().findFirst().orElse(""));
        }
        Map<String, String> out = new LinkedHashMap<>();
        if (doc == null) {
            return out;
        }
        if (!(doc instanceof Map<?, ?> top)) {
            throw new EtcdConfig.ConfigException("error unmarshaling JSON: while decoding JSON: json: cannot "
                    + "unmarshal " + jsonType(doc) + " into Go value of type embed.configYAML");
        }
        for (Map.Entry<?, ?> e : top.entrySet()) {
            String key = String.valueOf(e.getKey());
            Object v = e.getValue();
            if (key.equals("client-transport-security") || key.equals("peer-transport-security")) {
                if (v == null) {
                    continue;
                }
                if (!(v instanceof Map<?, ?> tls)) {
                    throw new EtcdConfig.ConfigException("invalid " + key);
                }
                Map<String, String> names = key.startsWith("client") ? CLIENT_TLS : PEER_TLS;
                for (Map.Entry<?, ?> t : tls.entrySet()) {
                    String flag = names.get(String.valueOf(t.getKey()));
                    if (flag != null && t.getValue() != null) {
                        out.put(flag, scalar(t.getValue()));
                    }
                }
                continue;
            }
            if (key.equals("experimental-snapshot-catch-up-entries")) {
                key = "experimental-snapshot-catchup-entries"; // etcd maps its misspelt YAML key too
            }
            if (v != null) {
                out.put(key, scalar(v));
            }
        }
        return out;
    }

    private static String scalar(Object v) {
        if (v instanceof List<?> list) {
            List<String> parts = new ArrayList<>();
            for (Object o : list) {
                parts.add(String.valueOf(o));
            }
            return String.join(",", parts);
        }
        return String.valueOf(v);
    }

    private static String jsonType(Object v) {
        if (v instanceof List<?>) {
            return "array";
        }
        if (v instanceof Number) {
            return "number";
        }
        if (v instanceof Boolean) {
            return "bool";
        }
        return "string";
    }
}
