package dev.keel.operator.it;

import dev.keel.operator.core.MemberAddressing;
import dev.keel.operator.core.MemberCommand;
import dev.keel.operator.core.MemberRuntime;
import dev.keel.operator.core.MemberSpec;
import dev.keel.operator.core.PodState;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Members as real server processes ({@code java -jar quarkus-run.jar}) on free 127.0.0.1 ports: the
 * {@link MemberRuntime} and {@link MemberAddressing} (a port map) that stand in for Pods and Pod DNS. The command
 * line is {@link MemberCommand}'s, the one the Pods get. A "version" is a label on the process: both versions run
 * the same build (the server reports 3.6.0 either way), so a roll here is a real rolling restart with leader
 * transfer. Processes die with the test JVM ({@code -Dkeel.exit-with-parent}) and are stopped by {@link #close()}.
 */
final class ProcessMembers implements MemberRuntime, MemberAddressing, AutoCloseable {

    record Proc(Process process, String version, Path log) { }

    private final Path base;
    private final String jar;
    private final Map<String, int[]> ports = new ConcurrentHashMap<>();
    private final Map<Integer, Proc> procs = new TreeMap<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
    final List<String> calls = new ArrayList<>();

    ProcessMembers(Path base) {
        this.base = base;
        this.jar = System.getProperty("keel.server.jar", "../server/target/quarkus-app/quarkus-run.jar");
        if (!Files.exists(Path.of(jar))) {
            throw new IllegalStateException("server jar not built: " + jar
                    + " (mvn -DskipTests package -pl server -am first)");
        }
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private int[] ports(String name) {
        return ports.computeIfAbsent(name, n -> new int[] {freePort(), freePort()});
    }

    @Override
    public String peerUrl(String name) {
        return "http://127.0.0.1:" + ports(name)[1];
    }

    @Override
    public String clientUrl(String name) {
        return "http://127.0.0.1:" + ports(name)[0];
    }

    Path dataDir(String name) {
        return base.resolve(name + ".data");
    }

    private List<String> java(List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:TieredStopAtLevel=1", "-Dkeel.exit-with-parent=" + ProcessHandle.current().pid(),
                "-jar", jar));
        cmd.addAll(args);
        return cmd;
    }

    @Override
    public synchronized Map<Integer, PodState> pods() {
        Map<Integer, PodState> out = new TreeMap<>();
        procs.forEach((k, p) -> out.put(k, new PodState(k, p.process().isAlive() && readyz(k), false, p.version())));
        return out;
    }

    private boolean readyz(int ordinal) {
        String name = nameOf(ordinal);
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(clientUrl(name) + "/readyz"))
                    .timeout(Duration.ofSeconds(2)).GET().build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private final Map<Integer, String> names = new ConcurrentHashMap<>();

    private String nameOf(int ordinal) {
        return names.get(ordinal);
    }

    @Override
    public synchronized void create(MemberSpec spec) {
        calls.add("create " + spec.name() + " " + spec.version() + (spec.newCluster() ? " new" : " existing"));
        names.put(spec.ordinal(), spec.name());
        Path data = dataDir(spec.name());
        Path log = base.resolve(spec.name() + ".log");
        try {
            if (spec.restoreFrom() != null && !Files.exists(data.resolve("member"))) {
                // what the seed Pod's init container does
                List<String> cmd = java(MemberCommand.restoreArgs(spec, this, spec.restoreFrom(), data.toString()));
                Process r = new ProcessBuilder(cmd).redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
                if (!r.waitFor(60, TimeUnit.SECONDS) || r.exitValue() != 0) {
                    throw new IllegalStateException("snapshot restore failed:\n" + Files.readString(log));
                }
            }
            List<String> cmd = java(MemberCommand.serverFlags(spec, this, data.toString(),
                    new MemberCommand.Options(null, null, null, null)));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
            procs.put(spec.ordinal(), new Proc(p, spec.version(), log));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public synchronized void delete(int ordinal, boolean deleteData) {
        calls.add("delete " + nameOf(ordinal) + (deleteData ? " +data" : ""));
        Proc p = procs.remove(ordinal);
        if (p != null) {
            stop(p.process());
        }
        if (deleteData) {
            deleteTree(dataDir(nameOf(ordinal)));
        }
    }

    /** Kills a member's process without the operator knowing (a crash). */
    synchronized void crash(int ordinal) {
        Proc p = procs.get(ordinal);
        p.process().destroyForcibly();
    }

    String logTail(int ordinal) {
        Proc p = procs.get(ordinal);
        try {
            String t = p == null ? "" : Files.readString(p.log());
            return t.length() > 3000 ? t.substring(t.length() - 3000) : t;
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static void stop(Process p) {
        p.destroy();
        try {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public synchronized void close() {
        procs.values().forEach(p -> p.process().destroyForcibly());
        procs.values().forEach(p -> {
            try {
                p.process().waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        procs.clear();
    }
}
