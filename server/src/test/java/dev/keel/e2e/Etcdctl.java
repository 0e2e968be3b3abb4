package dev.keel.e2e;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Runs the real etcdctl (Debian's etcd-client) against an endpoint, API v3. */
public final class Etcdctl {

    /** What one etcdctl run printed and returned. */
    public record Result(int exitCode, String stdout, String stderr) {
        public String out() {
            return stdout;
        }

        @Override
        public String toString() {
            return "exit " + exitCode + "\nstdout:\n" + stdout + "stderr:\n" + stderr;
        }
    }

    private final String endpoint;

    public Etcdctl(String endpoint) {
        this.endpoint = endpoint;
    }

    public static String binary() {
        return System.getProperty("keel.etcdctl", "etcdctl");
    }

    public Result run(String... args) throws IOException, InterruptedException {
        return runWithInput(null, args);
    }

    public Result runWithInput(String stdin, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(binary());
        cmd.add("--endpoints=" + endpoint);
        cmd.add("--command-timeout=10s");
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("ETCDCTL_API", "3");
        Process p = pb.start();
        // drain stderr concurrently: a chatty stderr must not block etcdctl while stdout is being read
        CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> {
            try {
                return p.getErrorStream().readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        if (stdin != null) {
            p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("etcdctl hung: " + cmd);
        }
        byte[] errBytes;
        try {
            errBytes = err.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("reading etcdctl's stderr failed", e);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8),
                new String(errBytes, StandardCharsets.UTF_8));
    }

    /** Runs and insists on exit code 0; returns stdout. */
    public String ok(String... args) throws IOException, InterruptedException {
        Result r = run(args);
        if (r.exitCode() != 0) {
            throw new AssertionError("etcdctl " + String.join(" ", args) + " failed: " + r);
        }
        return r.stdout();
    }
}
