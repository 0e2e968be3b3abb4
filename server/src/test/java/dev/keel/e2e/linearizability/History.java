package dev.keel.e2e.linearizability;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * A thread-safe history recorder. Usage per operation:
 *
 * <pre>{@code
 * History.Pending p = history.begin(clientId, Op.put("k", "v"));   // call time taken now
 * try { long rev = send(...); p.ok(Result.put(rev)); }
 * catch (DefinitelyNotApplied e) { p.fail(); }                      // dropped from the history
 * catch (Exception e) { p.unknown(); }                              // may have taken effect, or not
 * }</pre>
 *
 * An operation that is still pending when {@link #operations()} is called counts as unknown. Histories for
 * tests can also be built with explicit times ({@link #add}, {@link #addUnknown}).
 */
public final class History {

    private final LongSupplier clock;
    private final AtomicInteger ids = new AtomicInteger();
    private final Map<Integer, Operation> done = new ConcurrentHashMap<>();
    private final Map<Integer, Pending> pending = new ConcurrentHashMap<>();
    private final AtomicInteger failed = new AtomicInteger();

    public History() {
        this(System::nanoTime);
    }

    /** A recorder on another clock (tests). */
    public History(LongSupplier clock) {
        this.clock = clock;
    }

    /** Records the invocation of {@code op} by {@code client} now; complete the returned handle exactly once. */
    public Pending begin(int client, Op op) {
        Pending p = new Pending(ids.getAndIncrement(), client, op, clock.getAsLong());
        pending.put(p.id, p);
        return p;
    }

    /** Adds a completed operation with explicit times. */
    public Operation add(int client, Op op, long call, long ret, Result result) {
        Operation o = new Operation(ids.getAndIncrement(), client, op, call, ret, result);
        done.put(o.id(), o);
        return o;
    }

    /** Adds an operation invoked at {@code call} whose outcome is unknown. */
    public Operation addUnknown(int client, Op op, long call) {
        Operation o = new Operation(ids.getAndIncrement(), client, op, call, Operation.NEVER, null);
        done.put(o.id(), o);
        return o;
    }

    /** All operations so far (still-pending ones as unknown), failed ones left out, ordered by id. */
    public List<Operation> operations() {
        // pending first: finish() adds to done before it leaves pending, so no op is missed; one that completes
        // between the two reads is seen twice, and the completed version is kept
        List<Operation> all = new ArrayList<>();
        for (Pending p : pending.values()) {
            all.add(new Operation(p.id, p.client, p.op, p.call, Operation.NEVER, null));
        }
        all.addAll(done.values());
        all.sort(Comparator.comparingInt(Operation::id).thenComparing(o -> o.unknown()));
        List<Operation> out = new ArrayList<>(all.size());
        for (Operation o : all) {
            if (out.isEmpty() || out.get(out.size() - 1).id() != o.id()) {
                out.add(o);
            }
        }
        return out;
    }

    /** How many operations were dropped as definitely failed. */
    public int failedCount() {
        return failed.get();
    }

    /** An invoked operation waiting for its outcome. */
    public final class Pending {
        private final int id;
        private final int client;
        private final Op op;
        private final long call;
        private final AtomicInteger state = new AtomicInteger(); // 0 pending, 1 completed

        private Pending(int id, int client, Op op, long call) {
            this.id = id;
            this.client = client;
            this.op = op;
            this.call = call;
        }

        public Op op() {
            return op;
        }

        /** The operation returned {@code result} (response time taken now). */
        public void ok(Result result) {
            long ret = clock.getAsLong();
            finish(new Operation(id, client, op, call, Math.max(ret, call), result));
        }

        /** The operation definitely did not take effect (e.g. rejected before it was proposed): dropped. */
        public void fail() {
            if (state.compareAndSet(0, 1)) {
                failed.incrementAndGet();
                pending.remove(id);
            } else {
                throw new IllegalStateException("op " + id + " completed twice");
            }
        }

        /** The operation may or may not have taken effect (timeout, connection lost, leader lost...). */
        public void unknown() {
            finish(new Operation(id, client, op, call, Operation.NEVER, null));
        }

        private void finish(Operation o) {
            if (!state.compareAndSet(0, 1)) {
                throw new IllegalStateException("op " + id + " completed twice");
            }
            done.put(id, o);
            pending.remove(id);
        }
    }
}
