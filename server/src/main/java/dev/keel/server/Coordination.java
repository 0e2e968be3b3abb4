package dev.keel.server;

import com.google.protobuf.ByteString;
import dev.keel.mvcc.WatchHub;
import dev.keel.proto.etcdserverpb.Compare;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.DeleteRangeResponse;
import dev.keel.proto.etcdserverpb.LeaseGrantRequest;
import dev.keel.proto.etcdserverpb.LeaseGrantResponse;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RangeResponse;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.ResponseHeader;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.etcdserverpb.TxnResponse;
import dev.keel.proto.mvccpb.Event;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Executor;
import java.util.function.Consumer;

/**
 * The key-ordering recipes behind etcd's Lock and Election services (etcd runs its client "concurrency" package
 * inside the server; this is the same algorithm over our own server calls): a contender writes a key under the
 * prefix, attached to its lease; contenders are ordered by create revision; each waits until every key created
 * before its own has been deleted.
 */
final class Coordination {

    private final EtcdServer server;

    Coordination(EtcdServer server) {
        this.server = server;
    }

    /** etcd's prefix range end: the prefix with its last byte below 0xff incremented ("\0" if none). */
    static ByteString prefixEnd(ByteString prefix) {
        byte[] end = prefix.toByteArray();
        for (int i = end.length - 1; i >= 0; i--) {
            if (end[i] != (byte) 0xff) {
                end[i]++;
                return ByteString.copyFrom(end, 0, i + 1);
            }
        }
        return ByteString.copyFrom(new byte[]{0});
    }

    /** The contender key of a lease under a prefix: prefix + lease id in lower-case hex. */
    static ByteString contenderKey(ByteString prefix, long lease) {
        return prefix.concat(ByteString.copyFromUtf8(Long.toHexString(lease)));
    }

    static Compare createRevisionEquals(ByteString key, long rev) {
        return Compare.newBuilder().setKey(key).setTarget(Compare.CompareTarget.CREATE)
                .setResult(Compare.CompareResult.EQUAL).setCreateRevision(rev).build();
    }

    static RequestOp get(ByteString key) {
        return RequestOp.newBuilder().setRequestRange(RangeRequest.newBuilder().setKey(key)).build();
    }

    static RequestOp put(ByteString key, ByteString value, long lease) {
        return RequestOp.newBuilder().setRequestPut(PutRequest.newBuilder().setKey(key).setValue(value)
                .setLease(lease)).build();
    }

    static RequestOp delete(ByteString key) {
        return RequestOp.newBuilder().setRequestDeleteRange(DeleteRangeRequest.newBuilder().setKey(key)).build();
    }

    /** The oldest (first created) key under the prefix, as a range op. */
    static RequestOp firstCreated(ByteString prefix) {
        return RequestOp.newBuilder().setRequestRange(firstCreatedRequest(prefix)).build();
    }

    static RangeRequest firstCreatedRequest(ByteString prefix) {
        return RangeRequest.newBuilder().setKey(prefix).setRangeEnd(prefixEnd(prefix)).setLimit(1)
                .setSortTarget(RangeRequest.SortTarget.CREATE).setSortOrder(RangeRequest.SortOrder.ASCEND).build();
    }

    /**
     * Writes the contender key if this lease has none yet and reads the current owner. Result: the txn response
     * and the contender's create revision.
     */
    record Attempt(TxnResponse txn, long myRev) {
    }

    CompletableFuture<Attempt> enter(ByteString prefix, ByteString key, ByteString value, long lease,
                                     boolean withOwner) {
        TxnRequest.Builder t = TxnRequest.newBuilder().addCompare(createRevisionEquals(key, 0))
                .addSuccess(put(key, value, lease)).addFailure(get(key));
        if (withOwner) {
            t.addSuccess(firstCreated(prefix)).addFailure(firstCreated(prefix));
        }
        return server.txn(t.build()).thenApply(resp -> new Attempt(resp, resp.getSucceeded()
                ? resp.getHeader().getRevision()
                : resp.getResponses(0).getResponseRange().getKvs(0).getCreateRevision()));
    }

    /**
     * Completes once every key under {@code prefix} created at or before {@code maxCreateRev} is gone (etcd's
     * waitDeletes), with the header of the final check. Fails with {@link CancellationException} if
     * {@code cancelled} completes first.
     */
    CompletableFuture<ResponseHeader> waitDeletes(ByteString prefix, long maxCreateRev,
                                                  CompletableFuture<Void> cancelled) {
        RangeRequest newestBefore = RangeRequest.newBuilder().setKey(prefix).setRangeEnd(prefixEnd(prefix))
                .setLimit(1).setSortTarget(RangeRequest.SortTarget.CREATE)
                .setSortOrder(RangeRequest.SortOrder.DESCEND).setMaxCreateRevision(maxCreateRev).build();
        return server.range(newestBefore).thenCompose(resp -> {
            if (cancelled.isDone()) {
                return CompletableFuture.failedFuture(new CancellationException("cancelled"));
            }
            if (resp.getKvsCount() == 0) {
                return CompletableFuture.completedFuture(resp.getHeader());
            }
            return waitDelete(resp.getKvs(0).getKey(), resp.getHeader().getRevision(), cancelled)
                    .thenCompose(v -> waitDeletes(prefix, maxCreateRev, cancelled));
        });
    }

    /** Completes when {@code key} is deleted at or after revision {@code fromRev}. */
    CompletableFuture<Void> waitDelete(ByteString key, long fromRev, CompletableFuture<Void> cancelled) {
        CompletableFuture<Void> deleted = new CompletableFuture<>();
        WatchHub hub = server.watchHub();
        WatchHub.Watcher w = hub.watch(key.toByteArray(), null, fromRev, sink(events -> {
            for (Event e : events) {
                if (e.getType() == Event.EventType.DELETE) {
                    deleted.complete(null);
                }
            }
        }, () -> deleted.complete(null))); // history gone: re-check from the current state instead
        cancelled.whenComplete((v, e) -> deleted.completeExceptionally(new CancellationException("cancelled")));
        deleted.whenComplete((v, e) -> hub.cancel(w));
        return deleted;
    }

    /**
     * A watch sink whose callbacks run on the server's background pool, one after another, never on the apply
     * thread that delivers the events: what they start (the next range, a gRPC send) must not hold up applies.
     */
    WatchHub.Sink sink(Consumer<List<Event>> onEvents, Runnable onCompacted) {
        Executor background = server.background();
        Object lock = new Object();
        @SuppressWarnings("unchecked")
        CompletableFuture<Void>[] tail = new CompletableFuture[]{CompletableFuture.completedFuture(null)};
        Consumer<Runnable> inOrder = task -> {
            synchronized (lock) {
                tail[0] = tail[0].exceptionally(e -> null).thenRunAsync(task, background);
            }
        };
        return new WatchHub.Sink() {
            @Override
            public void created(long rev) {
            }

            @Override
            public boolean offer(List<Event> events, long rev) {
                inOrder.accept(() -> onEvents.accept(events));
                return true;
            }

            @Override
            public void compacted(long compactRev) {
                inOrder.accept(onCompacted);
            }
        };
    }

    /** Deletes a key, ignoring the outcome (clean-up after an abandoned wait). */
    void deleteQuietly(ByteString key) {
        server.deleteRange(DeleteRangeRequest.newBuilder().setKey(key).build());
    }

    /** etcd's concurrency.Session default TTL, used when Lock/Campaign come without a lease. */
    static final long SESSION_TTL_SECONDS = 60;

    /** The lease a contender holds its key with: the caller's, or (lease 0) a new one with the session TTL. */
    CompletableFuture<Long> sessionLease(long lease) {
        if (lease != 0) {
            return CompletableFuture.completedFuture(lease);
        }
        return server.leaseGrant(LeaseGrantRequest.newBuilder().setTTL(SESSION_TTL_SECONDS).build())
                .thenApply(LeaseGrantResponse::getID);
    }

    CompletableFuture<DeleteRangeResponse> delete(DeleteRangeRequest r) {
        return server.deleteRange(r);
    }

    CompletableFuture<RangeResponse> range(RangeRequest r) {
        return server.range(r);
    }

    CompletableFuture<TxnResponse> txn(TxnRequest r) {
        return server.txn(r);
    }
}
