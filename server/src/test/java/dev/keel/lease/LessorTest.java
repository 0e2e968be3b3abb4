package dev.keel.lease;

import com.google.protobuf.ByteString;
import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.proto.etcdserverpb.LeaseCheckpoint;
import dev.keel.proto.etcdserverpb.LeaseCheckpointRequest;
import dev.keel.storage.Storage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The lessor on a real RocksDB in a temporary directory, with a hand-driven clock. */
class LessorTest {

    private static final long S = 1_000_000_000L;
    private static final long MIN_TTL = 2;
    private static final long EXTEND = S; // etcd's extend on promotion: the election timeout

    @TempDir
    Path dir;
    Storage storage;
    Lessor lessor;
    long clock = 1_000 * S; // arbitrary origin: the lessor only uses differences
    long checkpointInterval = 300 * S;
    int revokeRate = Lessor.DEFAULT_REVOKE_RATE;

    @BeforeEach
    void open() {
        storage = Storage.open(dir, Lessor.COLUMNS);
        lessor = newLessor(MIN_TTL);
    }

    private Lessor newLessor(long minTtl) {
        return new Lessor(storage, new Lessor.Config(minTtl, checkpointInterval, 7 * S, revokeRate), () -> clock);
    }

    @AfterEach
    void close() {
        storage.close();
    }

    /** Writes the lessor's pending rows, as the applier does at the end of an entry. */
    private void commit() {
        try (Storage.Batch b = storage.newBatch()) {
            lessor.commit(b);
            storage.write(b);
        }
    }

    /** Reopens storage and lessor, as a restart does (pending rows are lost). */
    private void restart(long minTtl) {
        storage.close();
        storage = Storage.open(dir, Lessor.COLUMNS);
        lessor = newLessor(minTtl);
    }

    private static ByteString k(String s) {
        return ByteString.copyFromUtf8(s);
    }

    private static void assertEtcdError(EtcdError expected, Executable call) {
        EtcdException e = assertThrows(EtcdException.class, call);
        assertEquals(expected.code(), e.code());
        assertEquals(expected.message(), e.getMessage());
    }

    private static Throwable failure(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(1, TimeUnit.SECONDS));
        return e.getCause();
    }

    @Test
    void grantChecksInEtcdsOrderAndRaisesShortTtls() {
        assertEtcdError(EtcdError.LEASE_NOT_FOUND, () -> lessor.grant(0, 10));
        assertEtcdError(EtcdError.LEASE_TTL_TOO_LARGE, () -> lessor.grant(1, Lessor.MAX_LEASE_TTL + 1));
        assertEquals(new Lessor.Granted(1, Lessor.MAX_LEASE_TTL), lessor.grant(1, Lessor.MAX_LEASE_TTL));
        assertEtcdError(EtcdError.LEASE_EXIST, () -> lessor.grant(1, 10));
        // too large wins over "exists"
        assertEtcdError(EtcdError.LEASE_TTL_TOO_LARGE, () -> lessor.grant(1, Lessor.MAX_LEASE_TTL + 1));
        assertEquals(new Lessor.Granted(2, MIN_TTL), lessor.grant(2, 1));
        assertEquals(new Lessor.Granted(3, MIN_TTL), lessor.grant(3, -5));
        assertEquals(new Lessor.Granted(-4, 10), lessor.grant(-4, 10), "client-chosen negative ids are kept");
        assertTrue(lessor.exists(2));
        assertFalse(lessor.exists(5));
        assertEquals(Lessor.MAX_LEASE_TTL, lessor.grantedTtl(1));
    }

    @Test
    void followerLeasesNeverExpire() {
        lessor.grant(1, 2);
        clock += 1000 * S;
        assertEquals(List.of(), lessor.expired(100));
        assertFalse(lessor.isExpired(1));
        assertInstanceOf(Lessor.NotPrimaryException.class, failure(lessor.renew(1)));
        assertThrows(Lessor.NotPrimaryException.class, () -> lessor.timeToLive(1, false));
    }

    @Test
    void leasesAndTheirCheckpointsPersistOnlyWhenCommitted() {
        lessor.grant(1, 10);
        lessor.grant(2, 20);
        commit();
        lessor.checkpoint(2, 15);
        commit();
        lessor.grant(3, 30); // not committed: lost in the restart
        lessor.checkpoint(1, 4); // not committed either
        restart(MIN_TTL);
        assertEquals(List.of(1L, 2L), lessor.leases());
        assertEquals(10, lessor.grantedTtl(1));
        assertEquals(0, lessor.checkpointedRemainingTtl(1));
        assertEquals(20, lessor.grantedTtl(2));
        assertEquals(15, lessor.checkpointedRemainingTtl(2));
        assertEquals(-1, lessor.grantedTtl(3));

        lessor.revoke(1, key -> fail("no keys attached"));
        commit();
        restart(12);
        assertEquals(List.of(2L), lessor.leases());
        assertEquals(20, lessor.grantedTtl(2));
        restart(25);
        assertEquals(25, lessor.grantedTtl(2), "a stored TTL below a raised minimum is raised when loaded");
    }

    @Test
    void keysFollowPutsAndDeletes() {
        lessor.grant(1, 10);
        lessor.grant(2, 10);
        lessor.keyPut(k("b"), 1);
        lessor.keyPut(k("a"), 1);
        lessor.keyPut(k("c"), 2);
        assertEquals(List.of(k("a"), k("b")), lessor.keys(1));
        lessor.keyPut(k("b"), 2); // re-put with another lease moves it
        lessor.keyPut(k("c"), 0); // re-put without a lease detaches it
        lessor.keyPut(k("a"), 1); // same lease: unchanged
        assertEquals(List.of(k("a")), lessor.keys(1));
        assertEquals(List.of(k("b")), lessor.keys(2));
        assertEquals(0, lessor.leaseOf(k("c")));
        lessor.keyDeleted(k("a"));
        assertEquals(List.of(), lessor.keys(1));
        assertEquals(0, lessor.leaseOf(k("a")));
        lessor.keyPut(k("x"), 99); // unknown lease: not attached (writes check leases before this)
        assertEquals(0, lessor.leaseOf(k("x")));
    }

    @Test
    void revokeDeletesTheKeysInKeyOrderThenTheLease() {
        lessor.grant(7, 10);
        lessor.grant(8, 10);
        for (String key : List.of("zeta", "alpha", "mid", "\u00ff-high")) {
            lessor.keyPut(k(key), 7);
        }
        lessor.keyPut(k("other"), 8);
        commit();
        List<ByteString> deleted = new ArrayList<>();
        lessor.revoke(7, deleted::add);
        assertEquals(List.of(k("alpha"), k("mid"), k("zeta"), k("\u00ff-high")), deleted, "unsigned byte order");
        assertFalse(lessor.exists(7));
        assertEquals(0, lessor.leaseOf(k("alpha")));
        assertEquals(8, lessor.leaseOf(k("other")));
        commit();
        restart(MIN_TTL);
        assertEquals(List.of(8L), lessor.leases());

        List<ByteString> none = new ArrayList<>();
        assertEtcdError(EtcdError.LEASE_NOT_FOUND, () -> lessor.revoke(7, none::add));
        assertEquals(List.of(), none);
    }

    @Test
    void primaryExpiresLeasesInExpiryOrderAndRetriesUnrevokedOnes() {
        lessor.grant(1, 5);
        lessor.grant(2, 3);
        lessor.grant(3, 10);
        lessor.promote(EXTEND);
        assertEquals(List.of(2L, 1L, 3L), lessor.leases(), "soonest expiry first");
        clock += 4 * S - 1; // 3 s + extend 1 s, not quite
        assertEquals(List.of(), lessor.expired(100));
        clock += 1;
        assertEquals(List.of(2L), lessor.expired(100));
        assertEquals(List.of(), lessor.expired(100), "handed out once per retry interval");
        clock += 2 * S; // lease 1 expires at 6 s
        assertEquals(List.of(1L), lessor.expired(100));
        clock += 5 * S; // 11 s: lease 2 handed out 7 s ago is due again, lease 3 expires
        assertEquals(List.of(2L, 3L), lessor.expired(100));
        lessor.revoke(2, key -> { });
        clock += 7 * S;
        assertEquals(List.of(1L), lessor.expired(1), "limit");
        assertEquals(List.of(3L), lessor.expired(1));
        assertTrue(lessor.isExpired(3));
        assertFalse(lessor.isExpired(2));
    }

    @Test
    void renewRestartsTheFullTtlAndTimeToLiveTruncates() throws Exception {
        lessor.promote(EXTEND);
        lessor.grant(1, 10); // granted on the primary: no extension
        lessor.keyPut(k("k2"), 1);
        lessor.keyPut(k("k1"), 1);
        Lessor.TimeToLive t = lessor.timeToLive(1, true);
        assertEquals(new Lessor.TimeToLive(1, 10, 10, List.of(k("k1"), k("k2"))), t);
        clock += 1;
        assertEquals(9, lessor.timeToLive(1, false).ttl(), "9.999999999 s shows as 9");
        assertEquals(List.of(), lessor.timeToLive(1, false).keys());
        clock += 8 * S;
        assertEquals(1, lessor.timeToLive(1, false).ttl());
        assertEquals(10L, lessor.renew(1).get(1, TimeUnit.SECONDS));
        assertEquals(10, lessor.timeToLive(1, false).ttl());
        clock += 10 * S + S / 2; // expired half a second ago, not yet revoked
        assertEquals(0, lessor.timeToLive(1, false).ttl());
        clock += S;
        assertEquals(-1, lessor.timeToLive(1, false).ttl());
        assertNull(lessor.timeToLive(42, false));
        assertEquals(EtcdError.LEASE_NOT_FOUND.message(), failure(lessor.renew(42)).getMessage());
    }

    @Test
    void renewingAnExpiredLeaseWaitsForItsRevokeOrADemotion() {
        lessor.grant(1, 2);
        lessor.grant(2, 2);
        lessor.promote(0);
        clock += 3 * S;
        CompletableFuture<Long> r1 = lessor.renew(1);
        CompletableFuture<Long> r2 = lessor.renew(2);
        assertFalse(r1.isDone());
        lessor.revoke(1, key -> { });
        assertEquals(EtcdError.LEASE_NOT_FOUND.message(), failure(r1).getMessage());
        assertFalse(r2.isDone());
        lessor.demote();
        assertInstanceOf(Lessor.NotPrimaryException.class, failure(r2));
    }

    @Test
    void promotionUsesTheCheckpointedRemainingTtlAndDemotionStopsExpiry() {
        lessor.grant(1, 100);
        lessor.grant(2, 100);
        lessor.checkpoint(2, 30);
        lessor.promote(EXTEND);
        assertEquals(List.of(2L, 1L), lessor.leases());
        assertEquals(31, lessor.timeToLive(2, false).ttl(), "30 s remaining + 1 s extension");
        assertEquals(101, lessor.timeToLive(1, false).ttl());
        lessor.demote();
        assertFalse(lessor.isPrimary());
        clock += 1000 * S;
        assertEquals(List.of(), lessor.expired(10));
        lessor.promote(EXTEND); // a new term: everything starts over
        assertEquals(31, lessor.timeToLive(2, false).ttl());
        assertEquals(List.of(), lessor.expired(10));
    }

    @Test
    void checkpointsRecordRemainingTtlsOfLongLeasesAndSurviveARestart() throws Exception {
        checkpointInterval = 60 * S;
        lessor = newLessor(MIN_TTL);
        List<LeaseCheckpointRequest> proposed = new ArrayList<>();
        lessor.setCheckpointer(req -> {
            proposed.add(req);
            for (LeaseCheckpoint c : req.getCheckpointsList()) {
                lessor.checkpoint(c.getID(), c.getRemainingTTL()); // as if applied through the log
            }
            return CompletableFuture.completedFuture(null);
        });
        lessor.promote(0);
        lessor.grant(1, 300);
        lessor.grant(2, 30); // not longer than the interval: never checkpointed
        assertEquals(List.of(), lessor.dueCheckpoints(10));
        clock += 60 * S - 1;
        assertEquals(List.of(), lessor.dueCheckpoints(10));
        clock += 1;
        List<LeaseCheckpoint> due = lessor.dueCheckpoints(10);
        assertEquals(List.of(LeaseCheckpoint.newBuilder().setID(1).setRemainingTTL(240).build()), due);
        lessor.checkpoint(1, 240); // applied
        clock += S / 2;
        assertEquals(List.of(), lessor.dueCheckpoints(10), "next one an interval later");
        clock += 60 * S;
        assertEquals(180, lessor.dueCheckpoints(10).get(0).getRemainingTTL(), "179.5 s rounds up");
        lessor.checkpoint(1, 180);
        commit();

        // a restart (or a new leader) counts from the checkpoint, not from the full TTL
        restart(MIN_TTL);
        lessor.promote(EXTEND);
        assertEquals(181, lessor.timeToLive(1, false).ttl());

        // a renewal clears the checkpoint through the log first, then grants the full TTL again
        lessor.setCheckpointer(req -> {
            proposed.add(req);
            for (LeaseCheckpoint c : req.getCheckpointsList()) {
                lessor.checkpoint(c.getID(), c.getRemainingTTL());
            }
            return CompletableFuture.completedFuture(null);
        });
        proposed.clear();
        assertEquals(300L, lessor.renew(1).get(1, TimeUnit.SECONDS));
        assertEquals(List.of(LeaseCheckpointRequest.newBuilder()
                .addCheckpoints(LeaseCheckpoint.newBuilder().setID(1).setRemainingTTL(0)).build()), proposed);
        assertEquals(0, lessor.checkpointedRemainingTtl(1));
        assertEquals(300, lessor.timeToLive(1, false).ttl());
        proposed.clear();
        assertEquals(300L, lessor.renew(1).get(1, TimeUnit.SECONDS));
        assertEquals(List.of(), proposed, "nothing to clear the second time");
    }

    @Test
    void withoutACheckpointerNothingIsScheduled() {
        checkpointInterval = 60 * S;
        lessor = newLessor(MIN_TTL);
        lessor.promote(0);
        lessor.grant(1, 300);
        clock += 120 * S;
        assertEquals(List.of(), lessor.dueCheckpoints(10));
    }

    @Test
    void promotionSpreadsPiledUpExpiries() {
        revokeRate = 4; // target: at most 3 expiries per second
        lessor = newLessor(MIN_TTL);
        for (long id = 1; id <= 8; id++) {
            lessor.grant(id, 10);
        }
        lessor.promote(0);
        clock += 10 * S;
        assertEquals(List.of(1L, 2L, 3L), lessor.expired(100));
        List<String> later = new ArrayList<>();
        for (int step = 1; step <= 30; step++) {
            clock += S / 10;
            for (long id : lessor.expired(100)) {
                later.add(id + "@" + step);
            }
        }
        // etcd's delays for the 4th..8th lease: 4/3, 5/3, 6/3, 7/3, 8/3 s after the first three
        assertEquals(List.of("4@14", "5@17", "6@20", "7@24", "8@27"), later);
    }
}
