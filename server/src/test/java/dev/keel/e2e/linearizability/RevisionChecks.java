package dev.keel.e2e.linearizability;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The cross-key checks on etcd's global revision (see {@link LinearizabilityChecker} for what each one claims).
 * Only operations with a known outcome and a recorded revision take part. O(n log n).
 */
final class RevisionChecks {

    private static final int MAX_REPORTED_PER_RULE = 10;

    private RevisionChecks() {
    }

    static List<String> check(List<Operation> ops, long base) {
        List<String> out = new ArrayList<>();
        List<Operation> withRev = new ArrayList<>();
        for (Operation o : ops) {
            if (!o.unknown() && o.output().revision() > 0) {
                withRev.add(o);
            }
        }
        uniqueWriteRevisions(withRev, base, out);
        realTimeOrder(withRev, base, out);
        readsAreSnapshots(ops, withRev, base, out);
        return out;
    }

    /** R1: no two writes report the same revision. */
    private static void uniqueWriteRevisions(List<Operation> ops, long base, List<String> out) {
        Map<Long, Operation> byRev = new HashMap<>();
        int n = 0;
        for (Operation o : ops) {
            if (o.knownWrite()) {
                Operation other = byRev.putIfAbsent(o.output().revision(), o);
                if (other != null && n++ < MAX_REPORTED_PER_RULE) {
                    out.add("duplicate revision " + o.output().revision() + ": two writes both report it:\n    "
                            + other.describe(base) + "\n    " + o.describe(base));
                }
            }
        }
    }

    /**
     * R2: A returned before B was invoked ⇒ rev(A) &lt; rev(B) when B is a write, rev(A) ≤ rev(B) otherwise.
     * For every B, compares against the largest revision among the ops that returned before B's call.
     */
    private static void realTimeOrder(List<Operation> ops, long base, List<String> out) {
        Operation[] byRet = ops.toArray(new Operation[0]);
        Arrays.sort(byRet, Comparator.comparingLong(Operation::ret));
        long[] rets = new long[byRet.length];
        Operation[] maxUpTo = new Operation[byRet.length]; // op with the largest revision among byRet[0..i]
        for (int i = 0; i < byRet.length; i++) {
            rets[i] = byRet[i].ret();
            Operation best = i == 0 ? null : maxUpTo[i - 1];
            maxUpTo[i] = best == null || byRet[i].output().revision() > best.output().revision() ? byRet[i] : best;
        }
        int n = 0;
        for (Operation b : ops) {
            int k = firstIndexAtOrAfter(rets, b.call()); // byRet[0..k-1] returned strictly before b's call
            if (k == 0) {
                continue;
            }
            Operation a = maxUpTo[k - 1];
            long ra = a.output().revision();
            long rb = b.output().revision();
            boolean bad = b.knownWrite() ? ra >= rb : ra > rb;
            if (bad && n++ < MAX_REPORTED_PER_RULE) {
                out.add((b.knownWrite() ? "a write got a revision not above one" : "a read saw a revision below one")
                        + " already returned before it was invoked (revision " + rb + " after " + ra + "):\n    "
                        + a.describe(base) + "\n    then " + b.describe(base));
            }
        }
    }

    private static int firstIndexAtOrAfter(long[] sorted, long t) {
        int lo = 0;
        int hi = sorted.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] < t) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /**
     * R3: a get served at header revision H returning mod revision m: m ≤ H, and no known write to the key has a
     * revision in (m, H]; an absent result needs the last known write to the key at or below H to be a delete
     * (not checked for a key that has deletes of unknown outcome). R4: if a known write has revision m, it is a
     * put/cas of the same key with the value read.
     */
    private static void readsAreSnapshots(List<Operation> all, List<Operation> ops, long base, List<String> out) {
        Map<String, List<Operation>> writesByKey = new HashMap<>();
        Map<Long, Operation> writeByRev = new HashMap<>();
        Set<String> unknownDeletes = new HashSet<>();
        for (Operation o : all) {
            if (o.unknown() && o.input().kind() == Op.Kind.DELETE) {
                unknownDeletes.add(o.input().key());
            }
        }
        for (Operation o : ops) {
            if (o.knownWrite()) {
                writesByKey.computeIfAbsent(o.input().key(), k -> new ArrayList<>()).add(o);
                writeByRev.putIfAbsent(o.output().revision(), o);
            }
        }
        writesByKey.values().forEach(l -> l.sort(Comparator.comparingLong(o -> o.output().revision())));
        int n = 0;
        for (Operation r : ops) {
            if (r.input().kind() != Op.Kind.GET || n >= MAX_REPORTED_PER_RULE) {
                continue;
            }
            long h = r.output().revision();
            long m = r.output().modRevision();
            String v = r.output().value();
            List<Operation> writes = writesByKey.getOrDefault(r.input().key(), List.of());
            if (m > h) {
                n++;
                out.add("a read returned a mod revision above its own header revision:\n    " + r.describe(base));
                continue;
            }
            if (v != null && m > 0) {
                Operation w = writeByRev.get(m);
                if (w != null && (!w.input().key().equals(r.input().key()) || w.input().kind() == Op.Kind.DELETE
                        || !w.input().value().equals(v))) {
                    n++;
                    out.add("a read returned mod revision " + m + " with a value that write did not write:\n    "
                            + w.describe(base) + "\n    " + r.describe(base));
                    continue;
                }
                Operation later = firstAbove(writes, m);
                if (later != null && later.output().revision() <= h) {
                    n++;
                    out.add("a read at header revision " + h + " missed a write to its key at revision "
                            + later.output().revision() + " (it returned mod revision " + m + "):\n    "
                            + later.describe(base) + "\n    " + r.describe(base));
                }
            } else if (v == null && !unknownDeletes.contains(r.input().key())) {
                Operation last = lastAtOrBelow(writes, h);
                if (last != null && last.input().kind() != Op.Kind.DELETE) {
                    n++;
                    out.add("a read at header revision " + h + " found the key absent, but the last write to it at or"
                            + " below that revision is not a delete:\n    " + last.describe(base) + "\n    "
                            + r.describe(base));
                }
            }
        }
    }

    private static Operation firstAbove(List<Operation> sortedByRev, long rev) {
        int lo = 0;
        int hi = sortedByRev.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sortedByRev.get(mid).output().revision() <= rev) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo < sortedByRev.size() ? sortedByRev.get(lo) : null;
    }

    private static Operation lastAtOrBelow(List<Operation> sortedByRev, long rev) {
        int lo = 0;
        int hi = sortedByRev.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sortedByRev.get(mid).output().revision() <= rev) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo > 0 ? sortedByRev.get(lo - 1) : null;
    }
}
