package dev.keel.e2e;

import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.StatusRequest;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real Keel member as a separate process ({@code java -jar target/quarkus-app/quarkus-run.jar}), on free
 * 127.0.0.1 ports, with its own data dir. It dies with the test JVM (the server watches its parent's pid).
 *
 * <p>Reference mode: with {@code -Dkeel.e2e.impl=etcd} the same flags start a real etcd binary instead
 * ({@code -Dkeel.etcd=/path/to/etcd}, default {@code etcd} on the PATH), so the end-to-end suites can be run
 * against etcd itself to confirm that what they expect is what etcd does.
 */
public final class ServerProcess implements AutoCloseable {

    /** What runs behind the endpoint. */
    public enum Impl { KEEL, ETCD }

    private static final List<Process> STARTED = new java.util.concurrent.CopyOnWriteArrayList<>();

    static {
        // etcd does not watch its parent: never leave one behind when the test JVM exits
        Runtime.getRuntime().addShutdownHook(new Thread(() -> STARTED.forEach(Process::destroyForcibly)));
    }

    private final Path dataDir;
    private final Path log;
    private final String name;
    private final int clientPort;
    private final int peerPort;
    private final List<String> extraFlags;
    private boolean awaitLeader = true;
    private String clientScheme = "http";
    private String peerScheme = "http";
    /** --initial-cluster and --initial-cluster-state; null: a single-member cluster of this member. */
    private String initialCluster;
    private String initialClusterState = "new";
    private Process process;
    /** The JVM's options (Keel only). */
    private List<String> jvmArgs = List.of("-Xmx512m");
    /** Extra environment variables of the process (e.g. fault injection hooks). */
    private java.util.Map<String, String> env = java.util.Map.of();

    private ServerProcess(Path dataDir, String name, List<String> extraFlags) throws IOException {
        this.dataDir = dataDir;
        this.name = name;
        this.clientPort = freePort();
        this.peerPort = freePort();
        this.extraFlags = extraFlags;
        // beside the data dir, not in it: a member may start on a data dir made by a snapshot restore
        this.log = dataDir.resolveSibling(dataDir.getFileName() + ".log");
    }

    /** Starts a single-member cluster in {@code dataDir} and waits until it serves. */
    public static ServerProcess start(Path dataDir, String... extraFlags) throws Exception {
        ServerProcess p = new ServerProcess(dataDir, "m1", List.of(extraFlags));
        p.launch();
        return p;
    }

    /** As {@link #start}, with these JVM options instead of the default {@code -Xmx512m} (Keel only). */
    public static ServerProcess startWithJvmArgs(Path dataDir, List<String> jvmArgs, String... extraFlags)
            throws Exception {
        ServerProcess p = new ServerProcess(dataDir, "m1", List.of(extraFlags));
        p.jvmArgs = List.copyOf(jvmArgs);
        p.launch();
        return p;
    }

    /** As {@link #start(Path, String...)} with extra environment variables for the process. */
    public static ServerProcess startWithEnv(Path dataDir, java.util.Map<String, String> env, String... extraFlags)
            throws Exception {
        ServerProcess p = new ServerProcess(dataDir, "m1", List.of(extraFlags));
        p.env = env;
        p.launch();
        return p;
    }

    /**
     * A single member whose client URL is https:// (TLS flags in {@code extraFlags}); ready once it says so and
     * listens (no plain-text leader probe).
     */
    public static ServerProcess startHttps(Path dataDir, String... extraFlags) throws Exception {
        ServerProcess p = new ServerProcess(dataDir, "m1", List.of(extraFlags));
        p.clientScheme = "https";
        p.awaitLeader = false;
        p.launch();
        return p;
    }

    /**
     * A single-member cluster in {@code dataDir} with its ports chosen but not started yet, e.g. to restore a
     * snapshot into its data dir first (with {@link #peerUrl()} in the restore's --initial-cluster); start it
     * with {@link #launchPrepared()}. An existing data dir keeps its identity, as in etcd.
     */
    public static ServerProcess prepare(Path dataDir, String... extraFlags) throws IOException {
        return new ServerProcess(dataDir, "m1", List.of(extraFlags));
    }

    /** Starts a member made by {@link #prepare} and waits until it serves. */
    public void launchPrepared() throws Exception {
        if (process != null) {
            throw new IllegalStateException("already started");
        }
        launch();
    }

    /**
     * Starts a member of a two-member cluster whose other member never comes up, and waits until it listens: it
     * serves, but never has a leader (no quorum).
     */
    public static ServerProcess startWithoutQuorum(Path dataDir) throws Exception {
        List<String> flags = new ArrayList<>();
        ServerProcess p = new ServerProcess(dataDir, "m1", flags);
        flags.add("--initial-cluster=m1=" + p.peerUrl() + ",m2=http://127.0.0.1:" + freePort());
        p.awaitLeader = false;
        p.launch();
        return p;
    }

    /**
     * Starts an {@code n}-member cluster (members m1..mn, data dirs under {@code baseDir}) and waits until every
     * member serves and knows a leader.
     */
    public static List<ServerProcess> startCluster(Path baseDir, int n, String... extraFlags) throws Exception {
        return startCluster(baseDir, n, m -> List.of(extraFlags), false);
    }

    /**
     * As {@link #startCluster(Path, int, String...)}, with flags per member name and, with {@code httpsPeers},
     * https:// peer URLs (peer TLS flags among the member's flags).
     */
    public static List<ServerProcess> startCluster(Path baseDir, int n,
                                                   java.util.function.Function<String, List<String>> flags,
                                                   boolean httpsPeers) throws Exception {
        List<ServerProcess> members = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            ServerProcess m = new ServerProcess(baseDir.resolve("m" + i), "m" + i, flags.apply("m" + i));
            if (httpsPeers) {
                m.peerScheme = "https";
            }
            members.add(m);
        }
        StringBuilder ic = new StringBuilder();
        for (ServerProcess m : members) {
            ic.append(ic.length() == 0 ? "" : ",").append(m.name).append('=').append(m.peerUrl());
        }
        for (ServerProcess m : members) {
            m.initialCluster = ic.toString();
            m.spawn();
        }
        for (ServerProcess m : members) {
            m.awaitReady(Duration.ofSeconds(90), 0);
        }
        return members;
    }

    /**
     * A member that will join the running cluster of {@code existing} (--initial-cluster-state=existing), with its
     * ports chosen but not started: add it with MemberAdd using {@link #peerUrl()}, then {@link #launchPrepared()}.
     */
    public static ServerProcess prepareJoiner(Path dataDir, String name, List<ServerProcess> existing,
                                              String... extraFlags) throws IOException {
        ServerProcess p = new ServerProcess(dataDir, name, List.of(extraFlags));
        StringBuilder ic = new StringBuilder();
        for (ServerProcess m : existing) {
            ic.append(m.name).append('=').append(m.peerUrl()).append(',');
        }
        p.initialCluster = ic + name + "=" + p.peerUrl();
        p.initialClusterState = "existing";
        return p;
    }

    /** Ports already handed out by {@link #freePort()} in this JVM (a member's client and peer port must differ). */
    private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * A free 127.0.0.1 port, never one this JVM handed out before: the kernel may offer the port it just released
     * again, which gave a member the same client and peer port (seen as "bind: address already in use").
     */
    public static int freePort() throws IOException {
        for (int attempt = 0; attempt < 100; attempt++) {
            try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
                s.setReuseAddress(true);
                if (HANDED_OUT.add(s.getLocalPort())) {
                    return s.getLocalPort();
                }
            }
        }
        throw new IOException("no fresh free port in 100 attempts");
    }

    /** The implementation the suites run against ({@code -Dkeel.e2e.impl=keel|etcd}, default keel). */
    public static Impl impl() {
        return "etcd".equalsIgnoreCase(System.getProperty("keel.e2e.impl", "keel")) ? Impl.ETCD : Impl.KEEL;
    }

    /** True when the suites run against a real etcd (reference mode). */
    public static boolean isReferenceEtcd() {
        return impl() == Impl.ETCD;
    }

    static String jar() {
        String jar = System.getProperty("keel.server.jar", "target/quarkus-app/quarkus-run.jar");
        if (!Files.exists(Path.of(jar))) {
            throw new IllegalStateException("server jar not built: " + jar + " (run mvn package first)");
        }
        return jar;
    }

    /** The command line used to start the member (flags as etcd takes them). */
    public List<String> command() {
        String peer = peerScheme + "://127.0.0.1:" + peerPort;
        String client = clientScheme + "://127.0.0.1:" + clientPort;
        List<String> cmd = new ArrayList<>();
        if (isReferenceEtcd()) {
            cmd.add(System.getProperty("keel.etcd", "etcd"));
        } else {
            cmd.add(javaBin());
            cmd.addAll(jvmArgs);
            cmd.addAll(List.of("-Dkeel.exit-with-parent=" + ProcessHandle.current().pid(), "-jar", jar()));
        }
        cmd.addAll(List.of(
                "--name=" + name,
                "--data-dir=" + dataDir,
                "--listen-client-urls=" + client,
                "--advertise-client-urls=" + client,
                "--listen-peer-urls=" + peer,
                "--initial-advertise-peer-urls=" + peer,
                "--initial-cluster=" + (initialCluster != null ? initialCluster : name + "=" + peer),
                "--initial-cluster-state=" + initialClusterState));
        cmd.addAll(extraFlags);
        cmd.removeIf(String::isEmpty);
        return cmd;
    }

    private static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private void launch() throws Exception {
        int logStart = spawn();
        awaitReady(Duration.ofSeconds(60), logStart);
    }

    /** Starts the process; returns where this run's output starts in the log. */
    private int spawn() throws IOException {
        int logStart = logText().length(); // a restart appends: only this run's lines count for readiness
        ProcessBuilder pb = new ProcessBuilder(command()).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().putAll(env);
        process = pb.start();
        STARTED.add(process);
        return logStart;
    }

    /** The member's process id (e.g. for jcmd). */
    public long pid() {
        return process.pid();
    }

    /** SIGSTOP: the process stops answering (a hung or partitioned member) until {@link #resume()}. */
    public void pause() throws Exception {
        signal("STOP");
    }

    /** SIGCONT after {@link #pause()}. */
    public void resume() throws Exception {
        signal("CONT");
    }

    private void signal(String sig) throws Exception {
        Process k = new ProcessBuilder("kill", "-" + sig, Long.toString(process.pid())).inheritIO().start();
        if (k.waitFor() != 0) {
            throw new IllegalStateException("kill -" + sig + " failed");
        }
    }

    /** Whether the server process is running. */
    public boolean isAlive() {
        return process != null && process.isAlive();
    }

    /** The exit status of the last run (143 after a SIGTERM it handled, 137 after SIGKILL). */
    public int exitValue() {
        return process.exitValue();
    }

    /** Waits for the process to exit by itself; returns whether it did. */
    public boolean awaitExit(Duration timeout) throws InterruptedException {
        return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void awaitReady(Duration timeout, int logStart) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("server exited with " + process.exitValue() + ":\n" + logTail());
            }
            String ready = isReferenceEtcd() ? "ready to serve client requests" : "started in";
            String text = logText();
            if (text.length() > logStart && text.substring(logStart).contains(ready) && portOpen()
                    && (!awaitLeader || hasLeader())) {
                return;
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("server not ready within " + timeout + ":\n" + logTail());
    }

    /**
     * Whether the member knows a leader (Maintenance.Status). etcd only says it is ready once it has one; a Keel
     * member may listen before its first election ends, and a write then would fail with "no leader".
     */
    private boolean hasLeader() {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", clientPort).usePlaintext().build();
        try {
            return MaintenanceGrpc.newBlockingStub(ch).withDeadlineAfter(2, TimeUnit.SECONDS)
                    .status(StatusRequest.getDefaultInstance()).getLeader() != 0;
        } catch (StatusRuntimeException e) {
            // with auth enabled (a restart), Status needs a user: the member answers, which is all we can tell
            return "etcdserver: user name is empty".equals(e.getStatus().getDescription());
        } finally {
            ch.shutdownNow();
        }
    }

    /** Whether this member is the leader now (false when it does not answer: down, paused or starting). */
    public boolean isLeader() {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", clientPort).usePlaintext().build();
        try {
            var s = MaintenanceGrpc.newBlockingStub(ch).withDeadlineAfter(1, TimeUnit.SECONDS)
                    .status(StatusRequest.getDefaultInstance());
            return s.getLeader() == s.getHeader().getMemberId();
        } catch (StatusRuntimeException e) {
            return false;
        } finally {
            ch.shutdownNow();
        }
    }

    /** Waits up to 30 s until one of {@code members} is the leader and returns it. */
    public static ServerProcess awaitLeader(List<ServerProcess> members) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            for (ServerProcess m : members) {
                if (m.isLeader()) {
                    return m;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no leader among " + members.stream().map(ServerProcess::name).toList());
    }

    private boolean portOpen() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", clientPort), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private String logText() throws IOException {
        // lenient decoding: a stray non-UTF-8 byte in the log must not break readiness polling
        return Files.exists(log) ? new String(Files.readAllBytes(log), StandardCharsets.UTF_8) : "";
    }

    /** The last lines of the server's output, for failure messages. */
    public String logTail() {
        try {
            String t = logText();
            return t.length() > 4000 ? t.substring(t.length() - 4000) : t;
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** host:port for clients. */
    public String endpoint() {
        return "127.0.0.1:" + clientPort;
    }

    public String url() {
        return clientScheme + "://" + endpoint();
    }

    /** This member's peer URL (as in --initial-advertise-peer-urls). */
    public String peerUrl() {
        return peerScheme + "://127.0.0.1:" + peerPort;
    }

    public int clientPort() {
        return clientPort;
    }

    /** The member's --name. */
    public String name() {
        return name;
    }

    public Path dataDir() {
        return dataDir;
    }

    /** SIGKILL: no shutdown hooks, no flushing. */
    public void kill9() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** Starts the member again on the same ports and data dir. */
    public void restart() throws Exception {
        if (process != null && process.isAlive()) {
            stop();
        }
        launch();
    }

    /** Starts the member again without waiting until it knows a leader (e.g. while its cluster has no quorum). */
    public void restartNoWait() throws Exception {
        if (process != null && process.isAlive()) {
            stop();
        }
        boolean before = awaitLeader;
        awaitLeader = false;
        try {
            launch();
        } finally {
            awaitLeader = before;
        }
    }

    /** SIGTERM and wait. */
    public void stop() throws InterruptedException {
        if (process == null) {
            return;
        }
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
