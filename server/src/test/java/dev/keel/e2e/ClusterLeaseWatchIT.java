package dev.keel.e2e;

import com.google.protobuf.ByteString;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.LeaseGrantRequest;
import dev.keel.proto.etcdserverpb.LeaseGrpc;
import dev.keel.proto.etcdserverpb.LeaseKeepAliveRequest;
import dev.keel.proto.etcdserverpb.LeaseKeepAliveResponse;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveRequest;
import dev.keel.proto.etcdserverpb.LeaseTimeToLiveResponse;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.WatchCreateRequest;
import dev.keel.proto.etcdserverpb.WatchGrpc;
import dev.keel.proto.etcdserverpb.WatchRequest;
import dev.keel.proto.etcdserverpb.WatchResponse;
import dev.keel.proto.mvccpb.Event;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Leases and watches on followers of a three-member cluster, across a leader change: keep-alives and TimeToLive
 * sent to a follower are answered by the leader (forwarded, as etcd forwards them), so a lease held through a
 * follower outlives its TTL while the leader is killed; a watch on a follower keeps delivering events; and once
 * renewals stop, the new leader revokes the lease and the follower's watcher sees the key deleted.
 */
class ClusterLeaseWatchIT {

    private static final long TTL = 6;

    @TempDir
    Path tmp;

    private final List<ServerProcess> members = new ArrayList<>();
    private final List<ManagedChannel> channels = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        channels.forEach(ManagedChannel::shutdownNow);
        for (ServerProcess m : members) {
            m.close();
        }
    }

    private ManagedChannel channel(ServerProcess m) {
        ManagedChannel c = NettyChannelBuilder.forTarget(m.endpoint()).usePlaintext().build();
        channels.add(c);
        return c;
    }

    private static ByteString bs(String s) {
        return ByteString.copyFrom(s, StandardCharsets.UTF_8);
    }

    /** One keep-alive over a fresh stream (a failed stream does not hide later answers). */
    private static LeaseKeepAliveResponse keepAlive(LeaseGrpc.LeaseStub lease, long id) throws Exception {
        BlockingQueue<Object> answers = new LinkedBlockingQueue<>();
        StreamObserver<LeaseKeepAliveRequest> req = lease.withDeadlineAfter(20, TimeUnit.SECONDS)
                .leaseKeepAlive(new StreamObserver<>() {
                    @Override
                    public void onNext(LeaseKeepAliveResponse r) {
                        answers.add(r);
                    }

                    @Override
                    public void onError(Throwable t) {
                        answers.add(t);
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
        req.onNext(LeaseKeepAliveRequest.newBuilder().setID(id).build());
        Object a = answers.poll(20, TimeUnit.SECONDS);
        req.onCompleted();
        if (a instanceof Throwable t) {
            throw new AssertionError("keep-alive failed: " + t, t);
        }
        assertNotNull(a, "no keep-alive answer within 20 s");
        return (LeaseKeepAliveResponse) a;
    }

    @Test
    void followerLeasesAndWatchesSurviveALeaderChangeAndExpireUnderTheNewLeader() throws Exception {
        members.addAll(ServerProcess.startCluster(tmp, 3));
        ServerProcess leader = ServerProcess.awaitLeader(members);
        List<ServerProcess> followers = new ArrayList<>(members);
        followers.remove(leader);
        ServerProcess f = followers.get(0);
        ServerProcess other = followers.get(1);
        ManagedChannel fc = channel(f);
        // one deadline for the stubs' whole life (withDeadlineAfter on a stub is absolute): the test runs ~30 s with
        // etcd's 1-2 s election timeout
        KVGrpc.KVBlockingStub kvF = KVGrpc.newBlockingStub(fc).withDeadlineAfter(120, TimeUnit.SECONDS);
        KVGrpc.KVBlockingStub kvOther = KVGrpc.newBlockingStub(channel(other)).withDeadlineAfter(120, TimeUnit.SECONDS);
        LeaseGrpc.LeaseBlockingStub leaseF = LeaseGrpc.newBlockingStub(fc).withDeadlineAfter(120, TimeUnit.SECONDS);
        LeaseGrpc.LeaseStub leaseAsyncF = LeaseGrpc.newStub(fc);

        long id = leaseF.leaseGrant(LeaseGrantRequest.newBuilder().setTTL(TTL).build()).getID();
        kvF.put(PutRequest.newBuilder().setKey(bs("lk")).setValue(bs("held")).setLease(id).build());

        // a watch on the follower over [lk, w0): the leased key and everything under w/
        BlockingQueue<Object> events = new LinkedBlockingQueue<>();
        StreamObserver<WatchRequest> watch = WatchGrpc.newStub(fc).watch(new StreamObserver<>() {
            @Override
            public void onNext(WatchResponse r) {
                if (r.getCanceled()) {
                    events.add(new AssertionError("watch cancelled: " + r.getCancelReason()));
                }
                events.addAll(r.getEventsList());
            }

            @Override
            public void onError(Throwable t) {
                events.add(t);
            }

            @Override
            public void onCompleted() {
                events.add(new AssertionError("watch stream ended"));
            }
        });
        long from = kvF.range(RangeRequest.newBuilder().setKey(bs("lk")).build()).getHeader().getRevision() + 1;
        watch.onNext(WatchRequest.newBuilder().setCreateRequest(WatchCreateRequest.newBuilder()
                .setKey(bs("lk")).setRangeEnd(bs("w0")).setStartRevision(from)).build());

        // renewals and TimeToLive on a follower are answered by the leader
        LeaseKeepAliveResponse ka = keepAlive(leaseAsyncF, id);
        assertEquals(id, ka.getID());
        assertEquals(TTL, ka.getTTL());
        long fId = dev.keel.proto.etcdserverpb.MaintenanceGrpc.newBlockingStub(fc).withDeadlineAfter(5, TimeUnit.SECONDS)
                .status(dev.keel.proto.etcdserverpb.StatusRequest.getDefaultInstance()).getHeader().getMemberId();
        assertEquals(fId, ka.getHeader().getMemberId(), "the follower answers its client");
        LeaseTimeToLiveResponse ttl = leaseF.leaseTimeToLive(LeaseTimeToLiveRequest.newBuilder().setID(id)
                .setKeys(true).build());
        assertEquals(TTL, ttl.getGrantedTTL());
        assertTrue(ttl.getTTL() > 0 && ttl.getTTL() <= TTL, "remaining TTL " + ttl.getTTL());
        assertEquals(List.of(bs("lk")), ttl.getKeysList());

        kvOther.put(PutRequest.newBuilder().setKey(bs("w/0")).setValue(bs("before")).build());
        assertEquals("w/0", nextEvent(events).getKv().getKey().toStringUtf8());

        // kill the leader; keep renewing through the follower for twice the TTL
        leader.kill9();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(2 * TTL);
        int renewals = 0;
        while (System.nanoTime() < until) {
            LeaseKeepAliveResponse r;
            try {
                r = keepAlive(leaseAsyncF, id);
            } catch (AssertionError e) {
                throw new AssertionError(e.getMessage() + " (renewal " + renewals + " after the leader was killed)"
                        + "\n--- " + f.name() + " ---\n" + f.logTail() + "\n--- " + other.name() + " ---\n"
                        + other.logTail(), e);
            }
            assertEquals(TTL, r.getTTL(), "renewal " + renewals + " after the leader was killed");
            renewals++;
            Thread.sleep(1000);
        }
        assertTrue(renewals >= 6, "renewals: " + renewals);
        ServerProcess newLeader = ServerProcess.awaitLeader(followers);
        assertEquals(1, kvOther.range(RangeRequest.newBuilder().setKey(bs("lk")).setSerializable(true).build())
                .getCount(), "the lease outlived its TTL because the follower's renewals reached the new leader");
        assertTrue(leaseF.leaseTimeToLive(LeaseTimeToLiveRequest.newBuilder().setID(id).build()).getTTL() > 0);

        // the follower's watcher keeps delivering, in order
        kvOther.put(PutRequest.newBuilder().setKey(bs("w/1")).setValue(bs("after")).build());
        Event after = nextEvent(events);
        assertEquals("w/1", after.getKv().getKey().toStringUtf8());
        assertEquals(Event.EventType.PUT, after.getType());

        // renewals stop: the new leader revokes the lease, the follower's watcher sees the key go
        long stopped = System.nanoTime();
        Event gone = nextEvent(events);
        long waited = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - stopped);
        assertEquals("lk", gone.getKv().getKey().toStringUtf8());
        assertEquals(Event.EventType.DELETE, gone.getType());
        assertTrue(waited <= TTL + 5, "revoked " + waited + " s after the last renewal (TTL " + TTL + " s), "
                + "by " + newLeader.name());
        assertEquals(0, kvF.range(RangeRequest.newBuilder().setKey(bs("lk")).build()).getCount());
        assertEquals(-1, leaseF.leaseTimeToLive(LeaseTimeToLiveRequest.newBuilder().setID(id).build()).getTTL(),
                "a revoked lease is unknown to the leader");
        watch.onCompleted();
    }

    private static Event nextEvent(BlockingQueue<Object> events) throws Exception {
        Object o = events.poll(30, TimeUnit.SECONDS);
        assertNotNull(o, "no watch event within 30 s");
        if (o instanceof Throwable t) {
            throw new AssertionError("watch failed: " + t, t);
        }
        return (Event) o;
    }
}
