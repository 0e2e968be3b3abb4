package dev.keel;

import dev.keel.server.EtcdConfig;
import dev.keel.server.EtcdServer;
import dev.keel.server.SnapshotRestore;
import dev.keel.server.Version;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.QuarkusApplication;
import io.quarkus.runtime.annotations.QuarkusMain;

import java.net.URI;

/**
 * Entry point: {@code java -jar server/target/quarkus-app/quarkus-run.jar [etcd flags]}, or
 * {@code ... snapshot restore|status <file> [flags]} for the offline snapshot tool ({@link SnapshotRestore}). Parses etcd's flags,
 * opens the member (storage, Raft) and only then starts the gRPC/HTTP endpoint, so no request arrives before
 * the member can serve it.
 */
@QuarkusMain
public class Main implements QuarkusApplication {

    private static volatile EtcdServer server;

    public static void main(String... args) {
        if (args.length > 0 && args[0].equals("snapshot")) {
            // offline tool (etcdutl's snapshot restore/status): no member, no Quarkus
            System.exit(SnapshotRestore.run(java.util.Arrays.copyOfRange(args, 1, args.length), System.out,
                    System.err));
            return;
        }
        EtcdConfig cfg;
        try {
            cfg = EtcdConfig.parse(args, System.getenv());
        } catch (EtcdConfig.ConfigException e) {
            System.err.println("keel: " + e.getMessage());
            System.err.println("Try 'keel --help' for the list of flags.");
            System.exit(2);
            return;
        }
        if (cfg.helpRequested()) {
            System.out.print(EtcdConfig.usage());
            return;
        }
        if (cfg.versionRequested()) {
            System.out.println("keel Version: " + Version.KEEL);
            System.out.println("etcd API Version: " + Version.SERVER);
            System.out.println("Java Version: " + System.getProperty("java.version"));
            return;
        }
        exitWithParent();
        URI client = cfg.listenClientUrl();
        String host = client.getHost();
        System.setProperty("quarkus.http.host", host.equals("localhost") ? "127.0.0.1" : host);
        System.setProperty("quarkus.http.port", Integer.toString(client.getPort()));
        System.setProperty("quarkus.grpc.server.max-inbound-message-size",
                Long.toString(cfg.maxRequestBytesWithOverhead()));
        System.setProperty("quarkus.log.level", cfg.logLevel());
        try {
            server = EtcdServer.start(cfg);
        } catch (Exception e) {
            System.err.println("keel: cannot start member: " + e.getMessage());
            e.printStackTrace();
            System.exit(1);
            return;
        }
        Quarkus.run(Main.class, args);
    }

    /**
     * Test harnesses set {@code -Dkeel.exit-with-parent=<pid>} so a member never outlives the process that
     * started it, even when that process is killed.
     */
    private static void exitWithParent() {
        String pid = System.getProperty("keel.exit-with-parent");
        if (pid == null) {
            return;
        }
        ProcessHandle.of(Long.parseLong(pid)).ifPresentOrElse(
                parent -> parent.onExit().thenRun(() -> Runtime.getRuntime().halt(0)),
                () -> Runtime.getRuntime().halt(0));
    }

    /** The running member, for the API beans. */
    public static EtcdServer server() {
        EtcdServer s = server;
        if (s == null) {
            throw new IllegalStateException("member not started");
        }
        return s;
    }

    @Override
    public int run(String... args) {
        Quarkus.waitForExit();
        EtcdServer s = server;
        if (s != null) {
            s.close();
        }
        return 0;
    }
}
