package dev.keel.raft;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A trivial deterministic applier for tests: a key-value map driven by "put key value" commands, persisted to one
 * file together with the applied index and term.
 *
 * <p>With {@code persistEveryApply} the file is rewritten after every entry (like an applier that writes its state
 * and applied index in one batch); without it, only {@link #persist()} writes it, which simulates an applier whose
 * unsynced writes are lost in a crash. {@link #open} loads the file, as a restarted process would.
 *
 * <p>Result of "put k v": "OK index k previous-value-or-null". "boom" makes apply() throw.
 */
final class FileKvApplier implements StateMachineApplier {
    private final Path file;
    private final boolean persistEveryApply;
    private final TreeMap<String, String> map = new TreeMap<>();
    private long appliedIndex;
    private long appliedTerm;
    private long persistedIndex;
    private int persistCalls;
    /** Index of every entry actually applied by this instance, in call order. */
    private final List<Long> appliedIndexes = new ArrayList<>();
    private final List<String> appliedCommands = new ArrayList<>();
    /** Calls that broke the engine's contract (stale index, out of order, wrong thread...). */
    private final List<String> violations = new ArrayList<>();
    private Thread applyThread;

    private FileKvApplier(Path file, boolean persistEveryApply) {
        this.file = file;
        this.persistEveryApply = persistEveryApply;
    }

    static FileKvApplier open(Path file, boolean persistEveryApply) {
        final FileKvApplier a = new FileKvApplier(file, persistEveryApply);
        if (Files.exists(file)) {
            try {
                final List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
                a.appliedIndex = Long.parseLong(lines.get(0));
                a.appliedTerm = Long.parseLong(lines.get(1));
                for (String line : lines.subList(2, lines.size())) {
                    final int eq = line.indexOf('=');
                    a.map.put(line.substring(0, eq), line.substring(eq + 1));
                }
                a.persistedIndex = a.appliedIndex;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return a;
    }

    @Override
    public synchronized long appliedIndex() {
        return appliedIndex;
    }

    @Override
    public synchronized long appliedTerm() {
        return appliedTerm;
    }

    @Override
    public synchronized byte[] apply(long index, long term, byte[] command) {
        if (applyThread == null) {
            applyThread = Thread.currentThread();
        } else if (applyThread != Thread.currentThread()) {
            violations.add("apply(" + index + ") on thread " + Thread.currentThread().getName() + ", earlier on "
                    + applyThread.getName());
        }
        if (index <= appliedIndex) {
            violations.add("apply(" + index + ") at or below appliedIndex " + appliedIndex);
            return null;
        }
        if (term < appliedTerm) {
            violations.add("apply(" + index + ") with term " + term + " < " + appliedTerm);
        }
        final String cmd = new String(command, StandardCharsets.UTF_8);
        if (cmd.equals("boom")) {
            throw new IllegalStateException("simulated storage failure at index " + index);
        }
        final String[] parts = cmd.split(" ", 3);
        final String result;
        if (parts.length == 3 && parts[0].equals("put")) {
            final String prev = map.put(parts[1], parts[2]);
            result = "OK " + index + " " + parts[1] + " " + prev;
        } else {
            result = "ERR " + index + " bad command";
        }
        appliedIndex = index;
        appliedTerm = term;
        appliedIndexes.add(index);
        appliedCommands.add(cmd);
        if (persistEveryApply) {
            write();
        }
        notifyAll();
        return result.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public synchronized long persist() {
        persistCalls++;
        write();
        return appliedIndex;
    }

    private void write() {
        final StringBuilder sb = new StringBuilder();
        sb.append(appliedIndex).append('\n').append(appliedTerm).append('\n');
        for (Map.Entry<String, String> e : map.entrySet()) {
            sb.append(e.getKey()).append('=').append(e.getValue()).append('\n');
        }
        try {
            final Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, sb, StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        persistedIndex = appliedIndex;
    }

    /** Waits until appliedIndex reaches {@code index}; returns whether it did in time. */
    synchronized boolean awaitApplied(long index, Duration timeout) throws InterruptedException {
        final long deadline = System.nanoTime() + timeout.toNanos();
        while (appliedIndex < index) {
            final long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            wait(Math.max(1, left / 1_000_000));
        }
        return true;
    }

    synchronized Map<String, String> snapshotMap() {
        return new TreeMap<>(map);
    }

    synchronized String get(String key) {
        return map.get(key);
    }

    synchronized List<Long> appliedIndexes() {
        return new ArrayList<>(appliedIndexes);
    }

    synchronized List<String> appliedCommands() {
        return new ArrayList<>(appliedCommands);
    }

    synchronized List<String> violations() {
        return new ArrayList<>(violations);
    }

    synchronized int persistCalls() {
        return persistCalls;
    }

    synchronized long persistedIndex() {
        return persistedIndex;
    }
}
