package dev.keel.e2e.linearizability;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hand-written histories: each linearizable one must pass, each broken one must fail (and say why). */
class LinearizabilityCheckerTest {

    private final History h = new History();

    private void op(int client, Op op, long call, long ret, Result r) {
        h.add(client, op, call, ret, r);
    }

    private CheckResult check() {
        return LinearizabilityChecker.check(h.operations());
    }

    private void assertOk() {
        CheckResult r = check();
        assertEquals(CheckResult.Verdict.LINEARIZABLE, r.verdict(), r.report());
    }

    private CheckResult assertViolation(String... expectedInReport) {
        CheckResult r = check();
        assertEquals(CheckResult.Verdict.VIOLATION, r.verdict(), r.report());
        for (String s : expectedInReport) {
            assertTrue(r.report().contains(s), "report should mention '" + s + "':\n" + r.report());
        }
        assertThrows(AssertionError.class, r::assertLinearizable);
        return r;
    }

    // ---- linearizable ----------------------------------------------------------------------------------------

    @Test
    void emptyHistory() {
        assertOk();
    }

    @Test
    void sequential() {
        op(1, Op.get("x"), 0, 1, Result.get(null, 0, 1));
        op(1, Op.put("x", "a"), 2, 3, Result.put(2));
        op(2, Op.get("x"), 4, 5, Result.get("a", 2, 2));
        op(1, Op.cas("x", "a", "b"), 6, 7, Result.cas(true, 3));
        op(2, Op.cas("x", "a", "c"), 8, 9, Result.cas(false, 3));
        op(2, Op.get("x"), 10, 11, Result.get("b", 3, 3));
        op(1, Op.delete("x"), 12, 13, Result.delete(1, 4));
        op(1, Op.delete("x"), 14, 15, Result.delete(0, 4));
        op(2, Op.get("x"), 16, 17, Result.get(null, 0, 4));
        op(2, Op.cas("x", null, "d"), 18, 19, Result.cas(true, 5));
        op(3, Op.put("y", "e"), 20, 21, Result.put(6));
        op(2, Op.get("x"), 22, 23, Result.get("d", 5, 6));
        CheckResult r = check().assertLinearizable();
        assertEquals(12, r.checkedOps());
        assertEquals(2, r.keys());
    }

    @Test
    void concurrentReadsMaySeeOldOrNew() {
        op(1, Op.put("x", "a"), 0, 1, Result.put(2));
        op(1, Op.put("x", "b"), 10, 40, Result.put(3));
        op(2, Op.get("x"), 11, 12, Result.get("a", 2, 2));
        op(3, Op.get("x"), 13, 30, Result.get("b", 3, 3));
        op(2, Op.get("x"), 14, 20, Result.get("a", 2, 2)); // overlaps the read of "b": may come first
        op(2, Op.get("x"), 41, 42, Result.get("b", 3, 3));
        assertOk();
    }

    @Test
    void concurrentWritesTakeEffectInRevisionOrderNotCallOrder() {
        op(1, Op.put("x", "a"), 0, 10, Result.put(3));
        op(2, Op.put("x", "b"), 1, 9, Result.put(2));
        op(3, Op.get("x"), 11, 12, Result.get("a", 3, 3));
        assertOk();
    }

    @Test
    void touchingIntervalsCountAsConcurrent() {
        op(1, Op.put("x", "a"), 0, 5, Result.put(2));
        op(2, Op.get("x"), 5, 6, Result.get(null, 0, 1));
        assertOk();
    }

    @Test
    void unknownWriteThatTookEffect() {
        op(1, Op.put("x", "a"), 0, 1, Result.put(2));
        h.addUnknown(2, Op.put("x", "b"), 2);
        op(3, Op.get("x"), 5, 6, Result.get("b", 3, 3));
        op(3, Op.get("x"), 7, 8, Result.get("b", 3, 3));
        op(1, Op.put("x", "c"), 9, 10, Result.put(4));
        assertOk();
    }

    @Test
    void unknownWriteThatNeverTookEffect() {
        op(1, Op.put("x", "a"), 0, 1, Result.put(2));
        h.addUnknown(2, Op.put("x", "b"), 2);
        h.addUnknown(2, Op.delete("x"), 3);
        h.addUnknown(2, Op.cas("x", "a", "z"), 3);
        op(3, Op.get("x"), 5, 6, Result.get("a", 2, 2));
        op(1, Op.put("x", "c"), 9, 10, Result.put(3));
        op(3, Op.get("x"), 11, 12, Result.get("c", 3, 3));
        assertOk();
    }

    @Test
    void unknownWriteTakesEffectLongAfterItsCall() {
        h.addUnknown(1, Op.cas("x", "a", "b"), 0);
        op(2, Op.put("x", "a"), 10, 11, Result.put(2));
        op(2, Op.get("x"), 12, 13, Result.get("a", 2, 2));
        op(2, Op.get("x"), 100, 101, Result.get("b", 3, 3));
        assertOk();
    }

    @Test
    void unknownDeleteExplainsAbsentRead() {
        op(1, Op.put("x", "a"), 0, 1, Result.put(2));
        h.addUnknown(2, Op.delete("x"), 2);
        op(3, Op.get("x"), 5, 6, Result.get(null, 0, 3));
        assertOk();
    }

    @Test
    void pendingOperationsCountAsUnknown() {
        op(1, Op.put("x", "a"), 0, 1, Result.put(2));
        h.begin(2, Op.put("x", "b")); // never completed
        History.Pending read = h.begin(3, Op.get("x"));
        read.unknown();
        CheckResult r = check().assertLinearizable();
        assertEquals(1, r.unknownOps());
        assertEquals(1, r.droppedUnknownReads());
    }

    @Test
    void failedOperationsAreDropped() {
        History.Pending p = h.begin(1, Op.put("x", "never"));
        p.fail();
        op(2, Op.get("x"), Long.MAX_VALUE / 2, Long.MAX_VALUE / 2 + 1, Result.get(null, 0, 1));
        assertOk();
        assertEquals(1, h.failedCount());
    }

    // ---- not linearizable ------------------------------------------------------------------------------------

    @Test
    void staleReadAfterCompletedWrite() {
        op(1, Op.put("x", "a"), 0, 1, Result.put(2));
        op(1, Op.put("x", "b"), 2, 3, Result.put(3));
        op(2, Op.get("x"), 4, 5, Result.get("a", 2, 0)); // no header revision: the per-key search alone
        assertViolation("key \"x\"", "#2 client 2 get(\"x\")", "read \"a\" but the key holds \"b\" (mod 3)");
    }

    @Test
    void staleReadIsAlsoARevisionViolation() {
        op(1, Op.put("x", "a"), 0, 1, Result.put(2));
        op(1, Op.put("x", "b"), 2, 3, Result.put(3));
        op(2, Op.get("x"), 4, 5, Result.get("a", 2, 2));
        assertViolation("a read saw a revision below one already returned before it was invoked");
    }

    @Test
    void lostAcknowledgedWrite() {
        op(1, Op.put("x", "a"), 0, 1, Result.put(2));
        op(2, Op.get("x"), 2, 3, Result.get(null, 0, 0));
        assertViolation("read <absent> but the key holds \"a\" (mod 2)");
    }

    @Test
    void lostAcknowledgedWriteAfterItWasRead() {
        op(1, Op.put("x", "a"), 0, 1, Result.put(2));
        op(1, Op.put("x", "b"), 2, 3, Result.put(3));
        op(2, Op.get("x"), 4, 5, Result.get("b", 3, 0));
        op(2, Op.get("x"), 6, 7, Result.get("a", 2, 0));
        assertViolation("key \"x\"");
    }

    @Test
    void twoCasSucceedFromTheSameExpectedValue() {
        op(1, Op.put("x", "a"), 0, 1, Result.put(2));
        op(2, Op.cas("x", "a", "b"), 2, 10, Result.cas(true, 0));
        op(3, Op.cas("x", "a", "c"), 3, 11, Result.cas(true, 0));
        assertViolation("succeeded but the key holds");
    }

    @Test
    void twoCreateIfAbsentSucceed() {
        op(2, Op.cas("x", null, "b"), 2, 10, Result.cas(true, 3));
        op(3, Op.cas("x", null, "c"), 3, 11, Result.cas(true, 4));
        assertViolation("succeeded but the key holds");
    }

    @Test
    void readOfAValueNeverWritten() {
        op(1, Op.put("x", "a"), 0, 1, Result.put(2));
        op(2, Op.get("x"), 2, 3, Result.get("ghost", 2, 0));
        assertViolation("read \"ghost\"");
    }

    @Test
    void readOfAValueWrittenToAnotherKey() {
        op(1, Op.put("y", "a"), 0, 1, Result.put(2));
        op(2, Op.get("x"), 2, 3, Result.get("a", 2, 2));
        assertViolation("key \"x\"", "a read returned mod revision 2 with a value that write did not write");
    }

    @Test
    void readWithWrongModRevision() {
        op(1, Op.put("x", "a"), 0, 1, Result.put(2));
        op(2, Op.get("x"), 2, 3, Result.get("a", 7, 0));
        assertViolation("read mod revision 7 but the key holds \"a\" (mod 2)");
    }

    @Test
    void nonMonotonicReadsOfOneKey() {
        op(1, Op.put("x", "a"), 0, 1, Result.put(2));
        op(1, Op.put("x", "b"), 2, 20, Result.put(3));
        op(2, Op.get("x"), 3, 4, Result.get("b", 3, 0));
        op(3, Op.get("x"), 5, 6, Result.get("a", 2, 0));
        assertViolation("key \"x\"");
    }

    @Test
    void nonMonotonicReadsAcrossKeys() {
        // each key on its own is fine; the store revision goes backwards in real time
        op(1, Op.get("c"), 0, 1, Result.get(null, 0, 5));
        op(2, Op.get("d"), 2, 3, Result.get(null, 0, 4));
        assertViolation("a read saw a revision below one already returned before it was invoked (revision 4 after 5)");
    }

    @Test
    void duplicateRevisions() {
        op(1, Op.put("a", "1"), 0, 5, Result.put(2));
        op(2, Op.put("b", "1"), 0, 5, Result.put(2));
        assertViolation("duplicate revision 2");
    }

    @Test
    void writeRevisionsAgainstRealTime() {
        op(1, Op.put("a", "1"), 0, 1, Result.put(5));
        op(2, Op.put("b", "1"), 2, 3, Result.put(4));
        assertViolation("a write got a revision not above one already returned before it was invoked");
    }

    @Test
    void readFromTheFuture() {
        op(1, Op.get("a"), 0, 1, Result.get(null, 0, 5));
        op(2, Op.put("b", "1"), 2, 3, Result.put(5));
        assertViolation("a write got a revision not above one");
    }

    @Test
    void readMissesAWriteBelowItsOwnHeaderRevision() {
        // per key this is fine (the read may come between the two puts); its header says it saw revision 3
        op(1, Op.put("x", "a"), 0, 10, Result.put(2));
        op(2, Op.put("x", "b"), 0, 10, Result.put(3));
        op(3, Op.get("x"), 1, 9, Result.get("a", 2, 3));
        assertViolation("missed a write to its key at revision 3");
    }

    @Test
    void absentReadBelowItsHeaderRevision() {
        op(1, Op.put("x", "a"), 0, 10, Result.put(2));
        op(3, Op.get("x"), 1, 9, Result.get(null, 0, 2));
        assertViolation("found the key absent, but the last write to it at or below that revision is not a delete");
    }

    @Test
    void knownWriteCannotBeSkipped() {
        // an acknowledged write has to take effect even if nothing reads it afterwards
        op(1, Op.cas("x", "a", "b"), 0, 1, Result.cas(true, 2));
        assertViolation("succeeded but the key holds <absent>");
    }

    @Test
    void explanationNamesTheBlockedOperationAndItsNeighbours() {
        op(1, Op.put("k", "v1"), 0, 1, Result.put(2));
        op(2, Op.put("k", "v2"), 2, 3, Result.put(3));
        op(3, Op.put("k", "v3"), 10, 30, Result.put(4));
        op(4, Op.get("k"), 12, 13, Result.get("v1", 2, 0));
        String report = assertViolation().report();
        assertTrue(report.contains("The longest sequence of operations that can take effect in order"), report);
        assertTrue(report.contains("#1 client 2 put(\"k\", \"v2\") -> ok @rev 3"), report);
        assertTrue(report.contains("Then this operation had to take effect before it returned, but cannot:\n"
                + "    #3 client 4 get(\"k\")"), report);
        assertTrue(report.contains("#2 client 3 put(\"k\", \"v3\")"), report); // the concurrent candidate
    }

    @Test
    void searchLimitGivesUnknownNotPass() {
        // concurrent puts without revisions: only the search can order them, and "v0" must come last
        for (int i = 0; i < 10; i++) {
            op(i, Op.put("x", "v" + i), 0, 100, Result.put(0));
        }
        op(99, Op.get("x"), 101, 102, Result.get("v0", 0, 0));
        CheckResult r = LinearizabilityChecker.check(h.operations(),
                LinearizabilityChecker.Options.defaults().withMaxStepsPerKey(50));
        assertEquals(CheckResult.Verdict.UNKNOWN, r.verdict(), r.report());
        assertTrue(r.report().contains("NOT CHECKED"), r.report());
        AssertionError e = assertThrows(AssertionError.class, r::assertLinearizable);
        assertTrue(e.getMessage().startsWith("UNKNOWN"), e.getMessage());
        // with room it is decided
        LinearizabilityChecker.check(h.operations()).assertLinearizable();
    }

    @Test
    void historyRejectsDoubleCompletion() {
        History.Pending p = h.begin(1, Op.put("x", "a"));
        p.ok(Result.put(2));
        assertThrows(IllegalStateException.class, p::unknown);
        List<Operation> ops = h.operations();
        assertEquals(1, ops.size());
        assertTrue(ops.get(0).ret() >= ops.get(0).call());
    }
}
