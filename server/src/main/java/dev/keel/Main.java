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
        } catch (EtcdConfig.FlagSyntaxException e) {
            // Go's flag package: the error, then the usage line, status 2
            System.err.println(e.getMessage());
            System.err.println("Try 'keel --help' for the list of flags.");
            System.exit(2);
            return;
        } catch (EtcdConfig.ConfigException e) {
            // etcd: "failed to verify flags", status 1
            System.err.println("keel: " + e.getMessage());
            System.exit(1);
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
        logging(cfg);
        org.jboss.logging.Logger log = org.jboss.logging.Logger.getLogger(Main.class);
        cfg.deprecationWarnings().forEach(log::warn);
        cfg.noEffectNotes().forEach(log::info);
        try {
            dev.keel.server.StartupChecks.check(cfg);
        } catch (dev.keel.server.StartupChecks.StartupException | EtcdConfig.ConfigException e) {
            System.err.println("keel: " + e.getMessage());
            System.exit(1);
            return;
        }
        URI client = cfg.listenClientUrl();
        String host = client.getHost();
        System.setProperty("quarkus.http.host", host.equals("localhost") ? "127.0.0.1" : host);
        System.setProperty("quarkus.http.port", Integer.toString(client.getPort()));
        if (cfg.clientTlsOn()) {
            try {
                clientTls(cfg, client);
            } catch (java.io.IOException | RuntimeException e) {
                System.err.println("keel: cannot set up client TLS: " + e.getMessage());
                System.exit(1);
                return;
            }
        }
        System.setProperty("quarkus.grpc.server.max-inbound-message-size",
                Long.toString(cfg.maxRequestBytesWithOverhead()));
        if (cfg.maxConcurrentStreams() < 0xFFFFFFFFL) {
            System.setProperty("quarkus.http.limits.max-concurrent-streams", Long.toString(cfg.maxConcurrentStreams()));
        }
        try {
            server = EtcdServer.start(cfg);
        } catch (Exception e) {
            System.err.println("keel: cannot start member: " + e.getMessage());
            e.printStackTrace();
            System.exit(1);
            return;
        }
        dev.keel.server.AutoCompactor.start(server);
        // The member closes only after Quarkus has stopped the client listener (the exit handler runs after the
        // HTTP server is down), so no request reaches a closed store. Quarkus' own handler then exits (it also
        // copes with a stop that began in a shutdown hook, where System.exit would block).
        Quarkus.run(Main.class, (code, failure) -> {
            closeMember();
            if (failure != null) {
                System.err.println("keel: " + startFailure(failure, client));
            }
            io.quarkus.runtime.ApplicationLifecycleManager.getDefaultExitCodeHandler()
                    .accept(code == 0 && failure != null ? 1 : code, failure);
        }, args);
    }

    private static void closeMember() {
        EtcdServer s = server;
        server = null;
        if (s != null) {
            s.close();
        }
    }

    /** Why Quarkus failed to start, in etcd's words where etcd has them (a port in use). */
    private static String startFailure(Throwable failure, URI client) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof java.net.BindException || (t.getMessage() != null
                    && t.getMessage().contains("Address already in use"))) {
                try {
                    return dev.keel.server.StartupChecks.listenError(
                            java.net.InetAddress.getByName(dev.keel.server.StartupChecks.listenHost(client)),
                            client.getPort(), t instanceof java.net.BindException ? t
                                    : new java.net.BindException("address already in use"));
                } catch (java.io.IOException e) {
                    break;
                }
            }
        }
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return String.valueOf(root.getMessage() != null ? root.getMessage() : root);
    }

    /**
     * --log-level and --log-outputs through Quarkus' logging: "default" and "stderr" write to standard error (as
     * etcd does), "stdout" to standard output, anything else is a file (the first one; Quarkus has one file
     * handler).
     */
    private static void logging(EtcdConfig cfg) {
        System.setProperty("quarkus.log.level", cfg.logLevel());
        boolean console = false;
        boolean stderr = false;
        String file = null;
        for (String o : cfg.logOutputs()) {
            switch (o) {
                case "default", "stderr" -> {
                    console = true;
                    stderr = true;
                }
                case "stdout" -> console = true;
                default -> {
                    if (file == null) {
                        file = o;
                    }
                }
            }
        }
        System.setProperty("quarkus.log.console.enabled", Boolean.toString(console));
        System.setProperty("quarkus.log.console.stderr", Boolean.toString(stderr));
        if (file != null) {
            System.setProperty("quarkus.log.file.enabled", "true");
            System.setProperty("quarkus.log.file.path", file);
            System.setProperty("quarkus.log.file.format", "%d{yyyy-MM-dd'T'HH:mm:ss.SSSZ} %-5p [%c{1.}] %s%e%n");
        }
    }

    /**
     * Client TLS on the shared gRPC/HTTP port (an https:// client URL): the certificate and key of --cert-file and
     * --key-file (or one generated by --auto-tls), --trusted-ca-file, --client-cert-auth (client certificates
     * required), the TLS versions and --cipher-suites; no plain-text listener. Quarkus's TLS registry (default
     * configuration) carries it to the HTTP server.
     */
    private static void clientTls(EtcdConfig cfg, URI client) throws java.io.IOException {
        EtcdConfig.Tls tls = cfg.clientTls();
        String cert = tls.certFile();
        String key = tls.keyFile();
        if (tls.autoTls()) {
            var generated = dev.keel.server.SelfSignedCert.generate(
                    cfg.dataDir().resolve("fixtures").resolve("client"), java.util.List.of(client.getHost()),
                    cfg.selfSignedCertValidityYears());
            cert = generated.cert().toString();
            key = generated.key().toString();
        }
        for (String f : new String[]{cert, key, tls.trustedCaFile()}) {
            if (!f.isEmpty() && !java.nio.file.Files.isReadable(java.nio.file.Path.of(f))) {
                throw new java.io.IOException("open " + f + ": no such file or directory");
            }
        }
        System.setProperty("quarkus.tls.key-store.pem.client.cert", cert);
        System.setProperty("quarkus.tls.key-store.pem.client.key", key);
        if (!tls.trustedCaFile().isEmpty()) {
            System.setProperty("quarkus.tls.trust-store.pem.certs", tls.trustedCaFile());
        }
        System.setProperty("quarkus.tls.protocols", String.join(",", cfg.tlsProtocols()));
        if (!cfg.cipherSuites().isEmpty()) {
            System.setProperty("quarkus.tls.cipher-suites", String.join(",", cfg.cipherSuites()));
        }
        System.setProperty(dev.keel.api.ClientTlsCustomizer.PROPERTY, Boolean.toString(tls.clientCertAuth()));
        System.setProperty("quarkus.http.ssl-port", Integer.toString(client.getPort()));
        System.setProperty("quarkus.http.insecure-requests", "disabled");
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

    /** The process's exit status: 1 once the member has stopped for good (see {@link #watchForFailure}). */
    private static volatile int exitCode;

    @Override
    public int run(String... args) {
        Thread watch = new Thread(Main::watchForFailure, "keel-failure-watch");
        watch.setDaemon(true);
        watch.start();
        Quarkus.waitForExit();
        return exitCode; // the member closes in the exit handler, after the client listener stopped
    }

    /**
     * A member whose Raft server or state machine has stopped for good (an I/O error, a full disk, out of memory)
     * cannot recover in place: it reports the failure on its health endpoints for a grace period
     * ({@code -Dkeel.failure-exit-delay-ms}, 10 s), then exits with status 1 so that a supervisor restarts it, as
     * etcd does (it replays its log on the way up).
     */
    private static void watchForFailure() {
        long delayMs = Long.getLong("keel.failure-exit-delay-ms", 10_000);
        try {
            while (true) {
                Thread.sleep(1000);
                EtcdServer s = server;
                String failure = s == null ? null : s.failure();
                if (failure != null) {
                    org.jboss.logging.Logger.getLogger(Main.class).fatalf("this member has stopped for good (%s); "
                            + "exiting with status 1 in %d ms so that a supervisor restarts it", failure, delayMs);
                    Thread.sleep(delayMs);
                    exitCode = 1;
                    Quarkus.asyncExit(1);
                    return;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
