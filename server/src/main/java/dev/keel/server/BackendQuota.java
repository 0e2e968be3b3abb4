package dev.keel.server;

import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.TxnRequest;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * etcd's backend quota (server/storage/quota.go): a write that can grow the store is admitted only while
 * {@code size + cost < quota}. The cost of a Put is 256 bytes of overhead plus key and value; of a Txn the
 * costlier branch's top-level puts; of a lease grant 64 bytes; anything else costs nothing and always passes.
 * A negative quota disables the check, as in etcd.
 *
 * <p>Measuring the database takes a few RocksDB property reads, so the size is measured at most every
 * {@code refreshNanos}; in between, the costs admitted since the last measurement are added to it, so a burst
 * of writes cannot run far past the quota unnoticed.
 */
final class BackendQuota {

    static final int KV_OVERHEAD = 256;
    static final int LEASE_OVERHEAD = 64;

    private final long quota;
    private final LongSupplier size;
    private final long refreshNanos;
    private final AtomicLong admittedSinceMeasure = new AtomicLong();
    private volatile long measured = -1;
    private volatile long measuredAt;

    BackendQuota(long quota, LongSupplier size, long refreshNanos) {
        this.quota = quota;
        this.size = size;
        this.refreshNanos = refreshNanos;
    }

    static int cost(PutRequest r) {
        return KV_OVERHEAD + r.getKey().size() + r.getValue().size();
    }

    static int cost(TxnRequest r) {
        int success = 0;
        for (RequestOp op : r.getSuccessList()) {
            success += op.hasRequestPut() ? cost(op.getRequestPut()) : 0;
        }
        int failure = 0;
        for (RequestOp op : r.getFailureList()) {
            failure += op.hasRequestPut() ? cost(op.getRequestPut()) : 0;
        }
        return Math.max(success, failure);
    }

    /** Whether a request of this cost fits; if it does, it is counted until the next measurement. */
    boolean admit(int cost) {
        if (cost == 0 || quota < 0) {
            return true;
        }
        long now = System.nanoTime();
        if (measured < 0 || now - measuredAt >= refreshNanos) {
            measured = size.getAsLong();
            measuredAt = now;
            admittedSinceMeasure.set(0);
        }
        if (measured + admittedSinceMeasure.get() + cost >= quota) {
            return false;
        }
        admittedSinceMeasure.addAndGet(cost);
        return true;
    }

    /** Forgets the last measurement (after a defragmentation changed the size). */
    void invalidate() {
        measured = -1;
    }
}
