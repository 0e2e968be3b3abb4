package dev.keel.e2e.linearizability;

import java.util.Objects;

/**
 * The sequential specification of ONE key of an etcd-like store, for the per-key search. The state is the key's
 * value (absent or a string), the mod revision of that value, and the highest revision of any write to the key
 * applied so far ({@code floor}). A write with a known revision must have a revision above {@code floor} (etcd
 * applies writes in revision order, so the writes to one key are linearized in revision order).
 *
 * <p>A write whose outcome is unknown has no known revision: applying it leaves the mod revision unknown, and the
 * first read that sees its value fixes it (that read's mod revision must then be above {@code floor}).
 */
final class KvModel implements WglSearch.Model<KvModel.State> {

    static final long UNKNOWN_REV = -1;

    /** value null = absent (modRev 0); modRev {@link #UNKNOWN_REV} = written by an unknown-outcome op. */
    record State(String value, long modRev, long floor) {
        @Override
        public String toString() {
            if (value == null) {
                return "<absent>";
            }
            return Op.q(value) + " (mod " + (modRev == UNKNOWN_REV ? "?" : Long.toString(modRev)) + ")";
        }
    }

    static final KvModel INSTANCE = new KvModel();

    private static final State INITIAL = new State(null, 0, 0);

    @Override
    public State init() {
        return INITIAL;
    }

    @Override
    public State step(State s, Operation o) {
        return apply(s, o, null);
    }

    @Override
    public String why(State s, Operation o) {
        StringBuilder why = new StringBuilder();
        State next = apply(s, o, why);
        return next == null ? why.toString() : "could take effect, giving " + next;
    }

    /** The state after {@code o} took effect in state {@code s}, or null (with the reason in {@code why}). */
    private static State apply(State s, Operation o, StringBuilder why) {
        Op in = o.input();
        Result r = o.output();
        switch (in.kind()) {
            case GET -> {
                if (r == null) {
                    return s; // a read with unknown outcome says nothing (the checker drops these anyway)
                }
                if (!Objects.equals(s.value, r.value())) {
                    return reject(why, "read " + Op.q(r.value()) + " but the key holds " + s);
                }
                if (r.value() == null || r.modRevision() == 0) {
                    return s;
                }
                if (s.modRev == UNKNOWN_REV) {
                    if (r.modRevision() <= s.floor) {
                        return reject(why, "read mod revision " + r.modRevision() + " but the key was already written at "
                                + s.floor + " before the write of this value");
                    }
                    return new State(s.value, r.modRevision(), r.modRevision());
                }
                if (s.modRev != r.modRevision()) {
                    return reject(why, "read mod revision " + r.modRevision() + " but the key holds " + s);
                }
                return s;
            }
            case PUT -> {
                return write(s, in.value(), o, why);
            }
            case CAS -> {
                boolean holds = Objects.equals(s.value, in.expected());
                if (r == null) {
                    return holds ? write(s, in.value(), o, why) : s;
                }
                if (r.succeeded() != holds) {
                    return reject(why, (r.succeeded() ? "succeeded" : "failed") + " but the key holds " + s);
                }
                return holds ? write(s, in.value(), o, why) : s;
            }
            case DELETE -> {
                if (r == null) {
                    return s.value == null ? s : new State(null, 0, s.floor);
                }
                if ((r.deleted() == 1) != (s.value != null)) {
                    return reject(why, "deleted " + r.deleted() + " but the key holds " + s);
                }
                if (r.deleted() == 0) {
                    return s;
                }
                long rev = r.revision();
                if (rev != 0 && rev <= s.floor) {
                    return reject(why, "deleted at revision " + rev + " but the key was already written at " + s.floor);
                }
                return new State(null, 0, rev == 0 ? s.floor : rev);
            }
            default -> throw new IllegalStateException();
        }
    }

    private static State write(State s, String value, Operation o, StringBuilder why) {
        long rev = o.output() == null ? 0 : o.output().revision();
        if (rev == 0) {
            return new State(value, UNKNOWN_REV, s.floor);
        }
        if (rev <= s.floor) {
            return reject(why, "wrote at revision " + rev + " but the key was already written at " + s.floor);
        }
        return new State(value, rev, rev);
    }

    private static State reject(StringBuilder why, String reason) {
        if (why != null) {
            why.append(reason);
        }
        return null;
    }
}
