package dev.keel.server;

import com.google.protobuf.ByteString;
import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.mvcc.WatchHub;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.mvccpb.Event;
import dev.keel.proto.mvccpb.KeyValue;
import dev.keel.proto.v3electionpb.CampaignRequest;
import dev.keel.proto.v3electionpb.CampaignResponse;
import dev.keel.proto.v3electionpb.LeaderKey;
import dev.keel.proto.v3electionpb.LeaderRequest;
import dev.keel.proto.v3electionpb.LeaderResponse;
import dev.keel.proto.v3electionpb.ProclaimRequest;
import dev.keel.proto.v3electionpb.ProclaimResponse;
import dev.keel.proto.v3electionpb.ResignRequest;
import dev.keel.proto.v3electionpb.ResignResponse;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * v3electionpb.Election: leader election per name. Candidates hold keys under "name/" attached to their leases;
 * the leader is the candidate with the oldest key, and its key's value is the published leader value.
 */
public final class Elections {

    static final String NOT_LEADER = "election: not leader";
    static final String NO_LEADER = "election: no leader";
    static final String MISSING_LEADER_KEY = "\"leader\" field must be provided";

    private final Coordination c;
    private final EtcdServer server;

    Elections(Coordination c, EtcdServer server) {
        this.c = c;
        this.server = server;
    }

    private static ByteString prefix(ByteString name) {
        return name.concat(ByteString.copyFromUtf8("/"));
    }

    private static EtcdException unknown(String message) {
        return new EtcdException(EtcdError.Codes.UNKNOWN, message);
    }

    /**
     * Campaigns until elected, with the request's lease (or a new session lease if it has none);
     * {@code cancelled} completing abandons the candidacy.
     */
    public CompletableFuture<CampaignResponse> campaign(CampaignRequest r, CompletableFuture<Void> cancelled) {
        return c.sessionLease(r.getLease()).thenCompose(lease -> campaign(r, lease, cancelled));
    }

    private CompletableFuture<CampaignResponse> campaign(CampaignRequest r, long lease,
                                                         CompletableFuture<Void> cancelled) {
        ByteString prefix = prefix(r.getName());
        ByteString key = Coordination.contenderKey(prefix, lease);
        return c.enter(prefix, key, r.getValue(), lease, false).thenCompose(a -> {
            LeaderKey leader = LeaderKey.newBuilder().setName(r.getName()).setKey(key).setRev(a.myRev())
                    .setLease(lease).build();
            CompletableFuture<?> ready = CompletableFuture.completedFuture(null);
            if (!a.txn().getSucceeded()) {
                KeyValue mine = a.txn().getResponses(0).getResponseRange().getKvs(0);
                if (!mine.getValue().equals(r.getValue())) {
                    ready = proclaim(ProclaimRequest.newBuilder().setLeader(leader).setValue(r.getValue()).build());
                }
            }
            CompletableFuture<CampaignResponse> elected = ready
                    .thenCompose(v -> c.waitDeletes(prefix, a.myRev() - 1, cancelled))
                    .thenApply(h -> CampaignResponse.newBuilder().setHeader(a.txn().getHeader())
                            .setLeader(leader).build());
            elected.whenComplete((v, err) -> {
                if (err != null) {
                    resign(ResignRequest.newBuilder().setLeader(leader).build());
                }
            });
            return elected;
        });
    }

    public CompletableFuture<ProclaimResponse> proclaim(ProclaimRequest r) {
        if (!r.hasLeader()) {
            return CompletableFuture.failedFuture(unknown(MISSING_LEADER_KEY));
        }
        LeaderKey l = r.getLeader();
        TxnRequest t = TxnRequest.newBuilder().addCompare(Coordination.createRevisionEquals(l.getKey(), l.getRev()))
                .addSuccess(Coordination.put(l.getKey(), r.getValue(), l.getLease())).build();
        return c.txn(t).thenApply(resp -> {
            if (!resp.getSucceeded()) {
                throw unknown(NOT_LEADER);
            }
            return ProclaimResponse.newBuilder().setHeader(resp.getHeader()).build();
        });
    }

    public CompletableFuture<ResignResponse> resign(ResignRequest r) {
        if (!r.hasLeader()) {
            return CompletableFuture.failedFuture(unknown(MISSING_LEADER_KEY));
        }
        LeaderKey l = r.getLeader();
        TxnRequest t = TxnRequest.newBuilder().addCompare(Coordination.createRevisionEquals(l.getKey(), l.getRev()))
                .addSuccess(Coordination.delete(l.getKey())).build();
        return c.txn(t).thenApply(resp -> ResignResponse.newBuilder().setHeader(resp.getHeader()).build());
    }

    public CompletableFuture<LeaderResponse> leader(LeaderRequest r) {
        return c.range(Coordination.firstCreatedRequest(prefix(r.getName()))).thenApply(resp -> {
            if (resp.getKvsCount() == 0) {
                throw unknown(NO_LEADER);
            }
            return LeaderResponse.newBuilder().setHeader(resp.getHeader()).setKv(resp.getKvs(0)).build();
        });
    }

    /**
     * Streams the leader and every change of it to {@code out} until {@code cancelled} completes: the current
     * leader (waiting for a first candidate if there is none), each new value it proclaims, and on its
     * resignation or expiry the next leader.
     */
    public void observe(LeaderRequest r, Consumer<LeaderResponse> out, CompletableFuture<Void> cancelled) {
        ByteString prefix = prefix(r.getName());
        c.range(Coordination.firstCreatedRequest(prefix)).thenAccept(resp -> {
            if (cancelled.isDone()) {
                return;
            }
            WatchHub hub = server.watchHub();
            if (resp.getKvsCount() == 0) {
                // no leader yet: wait for the first put under the prefix, then start over
                WatchHub.Watcher[] w = new WatchHub.Watcher[1];
                CompletableFuture<Void> appeared = new CompletableFuture<>();
                w[0] = hub.watch(prefix.toByteArray(), Coordination.prefixEnd(prefix).toByteArray(),
                        resp.getHeader().getRevision(), c.sink(events -> {
                            for (Event e : events) {
                                if (e.getType() == Event.EventType.PUT) {
                                    appeared.complete(null);
                                }
                            }
                        }, () -> appeared.complete(null)));
                cancelled.whenComplete((v, e) -> appeared.cancel(false));
                appeared.whenComplete((v, e) -> {
                    hub.cancel(w[0]);
                    if (e == null) {
                        observe(r, out, cancelled);
                    }
                });
                return;
            }
            KeyValue leader = resp.getKvs(0);
            out.accept(LeaderResponse.newBuilder().setHeader(resp.getHeader()).setKv(leader).build());
            CompletableFuture<Void> gone = new CompletableFuture<>();
            WatchHub.Watcher[] w = new WatchHub.Watcher[1];
            w[0] = hub.watch(leader.getKey().toByteArray(), null, resp.getHeader().getRevision() + 1, c.sink(events -> {
                for (Event e : events) {
                    if (gone.isDone()) {
                        return;
                    }
                    if (e.getType() == Event.EventType.DELETE) {
                        gone.complete(null);
                    } else {
                        out.accept(LeaderResponse.newBuilder().setHeader(server.header(e.getKv().getModRevision()))
                                .setKv(e.getKv()).build());
                    }
                }
            }, () -> gone.complete(null)));
            cancelled.whenComplete((v, e) -> gone.cancel(false));
            gone.whenComplete((v, e) -> {
                hub.cancel(w[0]);
                if (e == null) {
                    observe(r, out, cancelled);
                }
            });
        });
    }
}
