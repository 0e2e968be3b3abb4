package dev.keel.server;

import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.lease.Lessor;
import dev.keel.proto.etcdserverpb.LeaseGrantRequest;
import dev.keel.proto.etcdserverpb.LeaseGrantResponse;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveRequest;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveResponse;
import dev.keel.proto.internal.InternalRequest;
import dev.keel.proto.internal.InternalResponse;
import dev.keel.raft.RaftNode;
import dev.keel.raft.RaftStatus;
import dev.keel.storage.Storage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The leader-side lease machinery against a scripted Raft member: promotion only after a read barrier in the new
 * term, demotion when leadership is lost, revokes proposed only by the leader and only for expired leases.
 */
class LeasesTest {

    private static final long S = 1_000_000_000L;

    /** A Raft member whose role, term and read barriers the test controls. */
    static final class ScriptedRaft implements RaftNode {
        volatile RaftStatus status = new RaftStatus(1, null, false, false, 0, 0);
        final List<CompletableFuture<Void>> barriers = new ArrayList<>();

        void lead(long term) {
            status = new RaftStatus(term, "1", true, false, 0, 0);
        }

        void follow(long term) {
            status = new RaftStatus(term, "2", false, false, 0, 0);
        }

        @Override
        public void start() {
        }

        @Override
        public CompletableFuture<byte[]> propose(byte[] command) {
            throw new UnsupportedOperationException();
        }

        @Override
        public synchronized CompletableFuture<Void> readBarrier() {
            CompletableFuture<Void> f = new CompletableFuture<>();
            barriers.add(f);
            return f;
        }

        synchronized void releaseBarriers() {
            barriers.forEach(f -> f.complete(null));
            barriers.clear();
        }

        @Override
        public RaftStatus status() {
            return status;
        }

        @Override
        public dev.keel.raft.RaftMembers members() {
            return new dev.keel.raft.RaftMembers(java.util.Map.of("1", "127.0.0.1:1"), java.util.Map.of(), false);
        }

        @Override
        public CompletableFuture<Void> changeMembers(java.util.Map<String, String> voters,
                                                     java.util.Map<String, String> learners) {
            throw new UnsupportedOperationException();
        }

        @Override
        public java.util.Map<String, Long> progress() {
            return java.util.Map.of();
        }

        @Override
        public CompletableFuture<Void> transferLeadership(String memberId, java.time.Duration timeout) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void close() {
        }
    }

    @TempDir
    Path dir;
    Storage storage;
    Lessor lessor;
    ScriptedRaft raft;
    Leases leases;
    long clock;
    final List<InternalRequest> proposed = new ArrayList<>();

    @BeforeEach
    void open() {
        storage = Storage.open(dir, Lessor.COLUMNS);
        EtcdConfig config = EtcdConfig.parse(new String[]{"--heartbeat-interval=100", "--election-timeout=500"},
                Map.of());
        lessor = new Lessor(storage, Leases.lessorConfig(config), () -> clock);
        raft = new ScriptedRaft();
        leases = new Leases(config, lessor, raft, req -> {
            InternalRequest r = req.build();
            synchronized (proposed) {
                proposed.add(r);
            }
            return CompletableFuture.completedFuture(r.hasLeaseGrant()
                    ? InternalResponse.newBuilder().setLeaseGrant(LeaseGrantResponse.newBuilder()
                            .setID(r.getLeaseGrant().getID()).setTTL(r.getLeaseGrant().getTTL())).build()
                    : InternalResponse.getDefaultInstance());
        }, 0xbdae9bbc11dd390dL);
    }

    @AfterEach
    void close() {
        leases.close();
        storage.close();
    }

    private static Throwable failure(CompletableFuture<?> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(1, TimeUnit.SECONDS));
        return e.getCause();
    }

    private List<InternalRequest> takeProposed() {
        synchronized (proposed) {
            List<InternalRequest> out = new ArrayList<>(proposed);
            proposed.clear();
            return out;
        }
    }

    @Test
    void onlyAPromotedLeaderExpiresAndRenewsLeases() throws Exception {
        lessor.grant(1, 2);
        lessor.grant(2, 60);

        raft.follow(1);
        leases.tick();
        assertFalse(lessor.isPrimary());
        Throwable notLeader = failure(leases.renew(2));
        assertEquals(EtcdError.NOT_LEADER.message(), notLeader.getMessage());
        clock += 100 * S;
        leases.tick();
        assertEquals(List.of(), takeProposed(), "followers never expire leases");

        raft.lead(2);
        leases.tick();
        assertFalse(lessor.isPrimary(), "not before everything of the earlier terms is applied");
        CompletableFuture<Long> renewal = leases.renew(2); // joins the pending promotion
        assertFalse(renewal.isDone());
        raft.releaseBarriers();
        assertTrue(lessor.isPrimary());
        assertEquals(60L, renewal.get(1, TimeUnit.SECONDS));
        leases.tick();
        assertEquals(List.of(), takeProposed());

        CompletableFuture<LeaseTimeToLiveResponse> ttl =
                leases.timeToLive(LeaseTimeToLiveRequest.newBuilder().setID(1).build());
        assertFalse(ttl.isDone(), "answers after a read barrier");
        raft.releaseBarriers();
        assertEquals(2, ttl.get(1, TimeUnit.SECONDS).getTTL(), "2 s + 0.5 s extension, truncated");
        CompletableFuture<LeaseTimeToLiveResponse> unknown =
                leases.timeToLive(LeaseTimeToLiveRequest.newBuilder().setID(77).build());
        raft.releaseBarriers();
        assertEquals(-1, unknown.get(1, TimeUnit.SECONDS).getTTL());

        clock += 2 * S + S / 2; // lease 1: 2 s + 0.5 s extension
        leases.tick();
        List<InternalRequest> revokes = takeProposed();
        assertEquals(1, revokes.size());
        assertEquals(1, revokes.get(0).getLeaseRevoke().getID());
        leases.tick();
        assertEquals(List.of(), takeProposed(), "not again before the retry interval");

        raft.follow(3);
        leases.tick();
        assertFalse(lessor.isPrimary(), "demoted when leadership is lost");
        clock += 1000 * S;
        leases.tick();
        assertEquals(List.of(), takeProposed());

        raft.lead(5);
        leases.tick();
        raft.releaseBarriers();
        assertTrue(lessor.isPrimary());
        clock += 2 * S + S / 2 - 1;
        leases.tick();
        assertEquals(List.of(), takeProposed(), "a new leader counts full TTLs again");
        clock += 1;
        leases.tick();
        assertEquals(1, takeProposed().get(0).getLeaseRevoke().getID());
    }

    @Test
    void aPromotionForATermThatWasLostMeanwhileDoesNotHappen() {
        raft.lead(2);
        leases.tick();
        raft.follow(3);
        raft.releaseBarriers();
        assertFalse(lessor.isPrimary());
        raft.lead(4);
        CompletableFuture<Long> renewal = leases.renew(9);
        raft.releaseBarriers();
        assertTrue(lessor.isPrimary());
        Throwable t = failure(renewal);
        assertInstanceOf(EtcdException.class, t);
        assertEquals(EtcdError.LEASE_NOT_FOUND.message(), t.getMessage());
    }

    @Test
    void grantsGetAPositiveGeneratedIdUnlessTheClientChoseOne() throws Exception {
        LeaseGrantResponse r = leases.grant(LeaseGrantRequest.newBuilder().setTTL(5).build()).get();
        long id = r.getID();
        assertTrue(id > 0);
        assertEquals(0x390dL, id >>> 48, "the member's low 16 bits lead the id, as in etcd");
        assertEquals(id, takeProposed().get(0).getLeaseGrant().getID(), "chosen before proposing");
        assertEquals(42, leases.grant(LeaseGrantRequest.newBuilder().setID(42).setTTL(5).build()).get().getID());
    }
}
