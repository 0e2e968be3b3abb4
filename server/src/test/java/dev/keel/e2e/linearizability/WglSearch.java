package dev.keel.e2e.linearizability;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Wing &amp; Gong's linearizability search with Lowe's memoisation, over one partition (one key) of a history.
 *
 * <p>The calls and returns of the operations form one time-ordered, doubly-linked event list (a call sorts before a
 * return at the same instant, so touching intervals count as concurrent: the checker never relies on clock ties).
 * The search walks the list; at a call it tries to let that operation take effect now (the model must accept it);
 * if accepted and the pair (set of operations taken effect, model state) was never reached before, it commits:
 * the operation's call and return leave the list and the walk restarts at the front. Reaching a return means the
 * operation it belongs to had to take effect before that instant and no choice so far allows it, so the search
 * undoes its last commitment and tries the next candidate. Nothing left to undo: no linearization exists.
 *
 * <p>Operations with an unknown outcome return at +infinity, after everything else: they may take effect at any
 * point after their call, or never. The search succeeds once every operation with a known outcome took effect.
 * An unknown operation is never committed when it would leave the state unchanged (committing it is then the
 * same as leaving it out).
 */
final class WglSearch {

    /** A sequential specification. */
    interface Model<S> {
        S init();

        /** The state after {@code op} takes effect in {@code state} returning what it returned, or null if it cannot. */
        S step(S state, Operation op);

        /** Human-readable reason for what {@link #step} says. */
        String why(S state, Operation op);
    }

    enum Verdict { OK, VIOLATION, UNKNOWN }

    /** The outcome for one partition. */
    record Outcome(Verdict verdict, long steps, String explanation) { }

    private static final class Node {
        final Operation op;
        final int index;
        final boolean call;
        Node match;
        Node prev;
        Node next;

        Node(Operation op, int index, boolean call) {
            this.op = op;
            this.index = index;
            this.call = call;
        }
    }

    private record Frame(Node call, Object state) { }

    private record Memo(long[] bits, Object state, int hash) {
        static Memo of(long[] bits, Object state) {
            return new Memo(bits.clone(), state, 31 * Arrays.hashCode(bits) + state.hashCode());
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Memo m && m.hash == hash && Arrays.equals(m.bits, bits) && m.state.equals(state);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    private WglSearch() {
    }

    @SuppressWarnings("unchecked")
    static <S> Outcome check(Model<S> model, List<Operation> ops, String partition, long maxSteps, long deadlineNanos,
                             long timeBase) {
        int n = ops.size();
        List<Node> events = new ArrayList<>(2 * n);
        int known = 0;
        for (int i = 0; i < n; i++) {
            Operation o = ops.get(i);
            Node c = new Node(o, i, true);
            Node r = new Node(o, i, false);
            c.match = r;
            r.match = c;
            events.add(c);
            events.add(r);
            if (!o.unknown()) {
                known++;
            }
        }
        events.sort(Comparator.<Node>comparingLong(e -> e.call ? e.op.call() : e.op.ret())
                .thenComparing(e -> !e.call)
                .thenComparingInt(e -> e.op.id()));
        Node head = new Node(null, -1, true);
        Node prev = head;
        for (Node e : events) {
            prev.next = e;
            e.prev = prev;
            prev = e;
        }

        long[] bits = new long[(n + 63) >>> 6];
        Set<Memo> seen = new HashSet<>();
        ArrayList<Frame> stack = new ArrayList<>();
        S state = model.init();
        int remaining = known;
        long steps = 0;
        // the deepest dead end, for the explanation
        int bestDepth = -1;
        List<Frame> bestPrefix = List.of();
        Node bestBlocked = null;
        Object bestState = null;

        Node entry = head.next;
        while (remaining > 0) {
            steps++;
            if (steps > maxSteps || ((steps & 0x3FF) == 0 && System.nanoTime() > deadlineNanos)) {
                return new Outcome(Verdict.UNKNOWN, steps, "key " + Op.q(partition) + ": search gave up after "
                        + steps + " steps (" + (steps > maxSteps ? "step limit" : "time limit") + "), "
                        + (known - remaining) + "/" + known + " operations linearized at that moment, "
                        + seen.size() + " configurations memoised: NOT CHECKED");
            }
            if (entry.call) {
                Operation o = entry.op;
                S next = model.step(state, o);
                if (next != null && !(o.unknown() && next.equals(state))) {
                    bits[entry.index >>> 6] |= 1L << entry.index;
                    if (seen.add(Memo.of(bits, next))) {
                        stack.add(new Frame(entry, state));
                        state = next;
                        lift(entry);
                        if (!o.unknown()) {
                            remaining--;
                        }
                        entry = head.next;
                        continue;
                    }
                    bits[entry.index >>> 6] &= ~(1L << entry.index);
                }
                entry = entry.next;
            } else {
                if (stack.size() > bestDepth) {
                    bestDepth = stack.size();
                    bestPrefix = new ArrayList<>(stack);
                    bestBlocked = entry;
                    bestState = state;
                }
                if (stack.isEmpty()) {
                    return new Outcome(Verdict.VIOLATION, steps,
                            explain(model, partition, ops.size(), known, bestPrefix, bestBlocked, bestState, timeBase));
                }
                Frame f = stack.remove(stack.size() - 1);
                state = (S) f.state;
                bits[f.call.index >>> 6] &= ~(1L << f.call.index);
                unlift(f.call);
                if (!f.call.op.unknown()) {
                    remaining++;
                }
                entry = f.call.next;
            }
        }
        return new Outcome(Verdict.OK, steps, null);
    }

    private static void lift(Node call) {
        unlink(call);
        unlink(call.match);
    }

    private static void unlink(Node e) {
        e.prev.next = e.next;
        if (e.next != null) {
            e.next.prev = e.prev;
        }
    }

    /** Exact inverse of {@link #lift} (dancing links: undone in reverse order). */
    private static void unlift(Node call) {
        relink(call.match);
        relink(call);
    }

    private static void relink(Node e) {
        e.prev.next = e;
        if (e.next != null) {
            e.next.prev = e;
        }
    }

    @SuppressWarnings("unchecked")
    private static <S> String explain(Model<S> model, String partition, int total, int known, List<Frame> prefix,
                                      Node blocked, Object stateAtBlock, long base) {
        StringBuilder sb = new StringBuilder();
        sb.append("key ").append(Op.q(partition)).append(": NOT LINEARIZABLE (").append(total)
                .append(" operations, ").append(total - known).append(" with unknown outcome)\n");
        sb.append("  The longest sequence of operations that can take effect in order (respecting real time) has ")
                .append(prefix.size()).append(" operations");
        int shown = Math.min(prefix.size(), 8);
        if (shown > 0) {
            sb.append("; its last ").append(shown).append(", oldest first, with the state after each:\n");
            S s = model.init();
            for (int i = 0; i < prefix.size(); i++) {
                s = model.step(s, prefix.get(i).call.op);
                if (i >= prefix.size() - shown) {
                    sb.append("    ").append(prefix.get(i).call.op.describe(base)).append("  => ").append(s).append('\n');
                }
            }
        } else {
            sb.append(" (from the initial state ").append(model.init()).append(")\n");
        }
        S s = (S) stateAtBlock;
        Operation b = blocked.op;
        sb.append("  Then this operation had to take effect before it returned, but cannot:\n    ")
                .append(b.describe(base)).append("\n      in state ").append(s).append(": ")
                .append(model.why(s, b)).append('\n');
        Set<Integer> taken = new HashSet<>();
        prefix.forEach(f -> taken.add(f.call.op.id()));
        List<Operation> others = new ArrayList<>();
        // the list is whole again here (the search undid everything): every call before the blocked return
        for (Node e = blocked.prev; e != null && e.op != null; e = e.prev) {
            if (e.call && e.op != b && !taken.contains(e.op.id())) {
                others.add(e.op);
            }
        }
        if (!others.isEmpty()) {
            others.sort(Comparator.comparingLong(Operation::call));
            int from = Math.max(0, others.size() - 12);
            sb.append("  Other operations invoked before it returned that had not taken effect (")
                    .append(others.size()).append(from > 0 ? ", latest 12" : "").append("), each from that state:\n");
            for (Operation o : others.subList(from, others.size())) {
                sb.append("    ").append(o.describe(base)).append("\n      ").append(model.why(s, o)).append('\n');
            }
        }
        return sb.toString();
    }
}
