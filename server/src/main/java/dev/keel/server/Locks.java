package dev.keel.server;

import com.google.protobuf.ByteString;
import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.mvccpb.KeyValue;
import dev.keel.proto.v3lockpb.LockRequest;
import dev.keel.proto.v3lockpb.LockResponse;
import dev.keel.proto.v3lockpb.UnlockRequest;
import dev.keel.proto.v3lockpb.UnlockResponse;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * v3lockpb.Lock: a distributed mutex per name. The holder is the contender with the oldest key under
 * "name/"; others wait for every older key to be deleted. The key is attached to the caller's lease, so a lock
 * dies with its holder's lease.
 */
public final class Locks {

    private final Coordination c;

    Locks(Coordination c) {
        this.c = c;
    }

    /**
     * Acquires the lock, holding it with the request's lease (or a new session lease if it has none);
     * {@code cancelled} completing (the caller went away) abandons the wait.
     */
    public CompletableFuture<LockResponse> lock(LockRequest r, CompletableFuture<Void> cancelled) {
        return c.sessionLease(r.getLease()).thenCompose(lease -> lock(r, lease, cancelled));
    }

    private CompletableFuture<LockResponse> lock(LockRequest r, long lease, CompletableFuture<Void> cancelled) {
        ByteString prefix = r.getName().concat(ByteString.copyFromUtf8("/"));
        ByteString key = Coordination.contenderKey(prefix, lease);
        return c.enter(prefix, key, ByteString.EMPTY, lease, true).thenCompose(a -> {
            List<KeyValue> owner = a.txn().getResponses(1).getResponseRange().getKvsList();
            if (owner.isEmpty() || owner.get(0).getCreateRevision() == a.myRev()) {
                return CompletableFuture.completedFuture(
                        LockResponse.newBuilder().setHeader(a.txn().getHeader()).setKey(key).build());
            }
            CompletableFuture<LockResponse> acquired = c.waitDeletes(prefix, a.myRev() - 1, cancelled)
                    .thenCompose(h -> c.range(RangeRequest.newBuilder().setKey(key).build()))
                    .thenApply(got -> {
                        if (got.getKvsCount() == 0) {
                            // our key vanished while we waited: the lease expired
                            throw new EtcdException(EtcdError.Codes.UNKNOWN, "mutex: session is expired");
                        }
                        return LockResponse.newBuilder().setHeader(got.getHeader()).setKey(key).build();
                    });
            acquired.whenComplete((v, err) -> {
                if (err != null) {
                    c.deleteQuietly(key);
                }
            });
            return acquired;
        });
    }

    public CompletableFuture<UnlockResponse> unlock(UnlockRequest r) {
        return c.delete(DeleteRangeRequest.newBuilder().setKey(r.getKey()).build())
                .thenApply(d -> UnlockResponse.newBuilder().setHeader(d.getHeader()).build());
    }
}
