package dev.keel.server;

import dev.keel.errors.EtcdError;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.TxnRequest;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** etcd's request checks, made before anything is proposed. */
final class RequestValidator {

    private final int maxTxnOps;

    RequestValidator(int maxTxnOps) {
        this.maxTxnOps = maxTxnOps;
    }

    void checkRange(RangeRequest r) {
        if (r.getKey().isEmpty()) {
            throw EtcdError.EMPTY_KEY.exception();
        }
        if (r.getSortOrder() == RangeRequest.SortOrder.UNRECOGNIZED
                || r.getSortTarget() == RangeRequest.SortTarget.UNRECOGNIZED) {
            throw EtcdError.INVALID_SORT_OPTION.exception();
        }
    }

    void checkPut(PutRequest r) {
        if (r.getKey().isEmpty()) {
            throw EtcdError.EMPTY_KEY.exception();
        }
        if (r.getIgnoreValue() && !r.getValue().isEmpty()) {
            throw EtcdError.VALUE_PROVIDED.exception();
        }
        if (r.getIgnoreLease() && r.getLease() != 0) {
            throw EtcdError.LEASE_PROVIDED.exception();
        }
    }

    void checkDelete(DeleteRangeRequest r) {
        if (r.getKey().isEmpty()) {
            throw EtcdError.EMPTY_KEY.exception();
        }
    }

    void checkTxn(TxnRequest r) {
        checkTxnShape(r, maxTxnOps, 1);
        // overlap checks last: they are the expensive part
        checkIntervals(r.getSuccessList());
        checkIntervals(r.getFailureList());
    }

    /**
     * etcd's checkTxnRequest: a transaction may hold at most {@code maxOps} compares, success ops and failure
     * ops each; a nested transaction gets what its parent leaves ({@code maxOps} minus the parent's largest list).
     */
    private void checkTxnShape(TxnRequest r, int maxOps, int depth) {
        if (depth > NestingLimits.MAX_TXN_DEPTH) {
            throw EtcdError.TOO_MANY_OPS.exception(); // Keel's bound; etcd's default op budget stops at 129
        }
        int ops = Math.max(r.getCompareCount(), Math.max(r.getSuccessCount(), r.getFailureCount()));
        if (ops > maxOps) {
            throw EtcdError.TOO_MANY_OPS.exception();
        }
        for (var c : r.getCompareList()) {
            if (c.getKey().isEmpty()) {
                throw EtcdError.EMPTY_KEY.exception();
            }
        }
        for (RequestOp op : r.getSuccessList()) {
            checkOp(op, maxOps - ops, depth);
        }
        for (RequestOp op : r.getFailureList()) {
            checkOp(op, maxOps - ops, depth);
        }
    }

    private void checkOp(RequestOp op, int maxNestedOps, int depth) {
        switch (op.getRequestCase()) {
            case REQUEST_RANGE -> checkRange(op.getRequestRange());
            case REQUEST_PUT -> checkPut(op.getRequestPut());
            case REQUEST_DELETE_RANGE -> checkDelete(op.getRequestDeleteRange());
            case REQUEST_TXN -> checkTxnShape(op.getRequestTxn(), maxNestedOps, depth + 1);
            default -> throw EtcdError.KEY_NOT_FOUND.exception(); // an empty op, as etcd answers it
        }
    }

    /** A half-open key interval [begin, end); an empty end means "to infinity". */
    private record Interval(byte[] begin, byte[] end) {
        boolean contains(byte[] k) {
            return Arrays.compareUnsigned(begin, k) <= 0 && (end.length == 0 || Arrays.compareUnsigned(k, end) < 0);
        }
    }

    private record Keys(Set<ByteKey> puts, List<Interval> dels) {
        boolean deleted(ByteKey k) {
            for (Interval iv : dels) {
                if (iv.contains(k.bytes())) {
                    return true;
                }
            }
            return false;
        }
    }

    private record ByteKey(byte[] bytes) {
        @Override
        public boolean equals(Object o) {
            return o instanceof ByteKey b && Arrays.equals(bytes, b.bytes);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(bytes);
        }
    }

    /**
     * A key may be written once per branch: no two puts of one key, and no put of a key that a delete in the same
     * branch covers. Nested transactions count with the branch that holds them; their own success and failure
     * lists exclude each other, so a key put in both is fine.
     */
    private Keys checkIntervals(List<RequestOp> ops) {
        List<Interval> dels = new ArrayList<>();
        for (RequestOp op : ops) {
            if (op.hasRequestDeleteRange()) {
                DeleteRangeRequest d = op.getRequestDeleteRange();
                byte[] k = d.getKey().toByteArray();
                byte[] end = d.getRangeEnd().isEmpty() ? pointEnd(k)
                        : isFromKey(d.getRangeEnd().toByteArray()) ? new byte[0] : d.getRangeEnd().toByteArray();
                dels.add(new Interval(k, end));
            }
        }
        Keys level = new Keys(new HashSet<>(), dels);
        for (RequestOp op : ops) {
            if (!op.hasRequestTxn()) {
                continue;
            }
            Keys then = checkIntervals(op.getRequestTxn().getSuccessList());
            Keys otherwise = checkIntervals(op.getRequestTxn().getFailureList());
            for (ByteKey k : then.puts()) {
                if (level.puts().contains(k) || level.deleted(k)) {
                    throw EtcdError.DUPLICATE_KEY.exception();
                }
                level.puts().add(k);
            }
            for (ByteKey k : otherwise.puts()) {
                if ((level.puts().contains(k) && !then.puts().contains(k)) || level.deleted(k)) {
                    throw EtcdError.DUPLICATE_KEY.exception();
                }
                level.puts().add(k);
            }
            dels.addAll(then.dels());
            dels.addAll(otherwise.dels());
        }
        for (RequestOp op : ops) {
            if (!op.hasRequestPut()) {
                continue;
            }
            ByteKey k = new ByteKey(op.getRequestPut().getKey().toByteArray());
            if (level.puts().contains(k) || level.deleted(k)) {
                throw EtcdError.DUPLICATE_KEY.exception();
            }
            level.puts().add(k);
        }
        return level;
    }

    /**
     * A range_end of "\0" means "every key from key on" (etcd's WithFromKey, and WithPrefix on an empty key), not
     * the empty interval [key, "\0"): a put inside such a delete is a duplicate like one inside any other delete.
     * etcd's own checkIntervals misses this (etcd-io/etcd#22445, fixed by #22395); its apply then panics on every
     * member for a put with ignore_value or ignore_lease, so Keel refuses the request instead.
     */
    private static boolean isFromKey(byte[] end) {
        return end.length == 1 && end[0] == 0;
    }

    /** The end of the one-key interval [k, k+"\0"). */
    private static byte[] pointEnd(byte[] k) {
        return Arrays.copyOf(k, k.length + 1);
    }
}
