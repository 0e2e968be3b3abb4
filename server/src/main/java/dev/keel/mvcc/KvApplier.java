package dev.keel.mvcc;

import com.google.protobuf.ByteString;
import dev.keel.errors.EtcdError;
import dev.keel.proto.etcdserverpb.Compare;
import dev.keel.proto.etcdserverpb.CompactionRequest;
import dev.keel.proto.etcdserverpb.CompactionResponse;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.DeleteRangeResponse;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.PutResponse;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RangeResponse;
import dev.keel.proto.etcdserverpb.RequestOp;
import dev.keel.proto.etcdserverpb.ResponseHeader;
import dev.keel.proto.etcdserverpb.ResponseOp;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.etcdserverpb.TxnResponse;
import dev.keel.proto.mvccpb.KeyValue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.LongPredicate;

/**
 * etcd's KV request semantics on top of {@link MvccStore}: what Range, Put, DeleteRange, Txn and Compact mean,
 * field by field. Writes run on the apply thread inside one {@link MvccStore.WriteTxn}; Range also runs on
 * request threads against the store.
 *
 * <p>Every error a write can hit is detected before the first change is made, so a failed request changes
 * nothing (the in-memory index is updated as a transaction proceeds and cannot be rolled back).
 */
public final class KvApplier {

    private final LongPredicate leaseExists;

    /** @param leaseExists whether a lease id is currently granted (Put with a lease needs one) */
    public KvApplier(LongPredicate leaseExists) {
        this.leaseExists = leaseExists;
    }

    /** Maps a request's range_end to the store's range shape: null = single key, empty = to the end. */
    static byte[] rangeEnd(ByteString end) {
        if (end.isEmpty()) {
            return null;
        }
        if (end.size() == 1 && end.byteAt(0) == 0) {
            return new byte[0];
        }
        return end.toByteArray();
    }

    private static ResponseHeader header(long rev) {
        return ResponseHeader.newBuilder().setRevision(rev).build();
    }

    // ---- Range -------------------------------------------------------------------------------------------

    public RangeResponse range(KvReader reader, RangeRequest r) {
        long limit = r.getLimit();
        boolean filtered = r.getMinModRevision() != 0 || r.getMaxModRevision() != 0
                || r.getMinCreateRevision() != 0 || r.getMaxCreateRevision() != 0;
        // With sorting or filtering every key must be fetched before the limit can be applied.
        long fetch = r.getSortOrder() != RangeRequest.SortOrder.NONE || filtered ? 0 : limit > 0 ? limit + 1 : 0;
        MvccStore.RangeResult rr = reader.range(r.getKey().toByteArray(), rangeEnd(r.getRangeEnd()),
                r.getRevision(), fetch, r.getCountOnly());
        List<KeyValue> kvs = rr.kvs();
        if (filtered) {
            kvs = new ArrayList<>(kvs);
            kvs.removeIf(kv -> (r.getMaxModRevision() != 0 && kv.getModRevision() > r.getMaxModRevision())
                    || (r.getMinModRevision() != 0 && kv.getModRevision() < r.getMinModRevision())
                    || (r.getMaxCreateRevision() != 0 && kv.getCreateRevision() > r.getMaxCreateRevision())
                    || (r.getMinCreateRevision() != 0 && kv.getCreateRevision() < r.getMinCreateRevision()));
        }
        RangeRequest.SortOrder order = r.getSortOrder();
        RangeRequest.SortTarget target = r.getSortTarget();
        if (target != RangeRequest.SortTarget.KEY && order == RangeRequest.SortOrder.NONE) {
            order = RangeRequest.SortOrder.ASCEND; // results come in key order; other targets need a sort
        } else if (target == RangeRequest.SortTarget.KEY && order == RangeRequest.SortOrder.ASCEND) {
            order = RangeRequest.SortOrder.NONE; // already in key order
        }
        if (order != RangeRequest.SortOrder.NONE) {
            Comparator<KeyValue> cmp = switch (target) {
                case VERSION -> Comparator.comparingLong(KeyValue::getVersion);
                case CREATE -> Comparator.comparingLong(KeyValue::getCreateRevision);
                case MOD -> Comparator.comparingLong(KeyValue::getModRevision);
                case VALUE -> (a, b) -> ByteString.unsignedLexicographicalComparator().compare(a.getValue(), b.getValue());
                default -> (a, b) -> ByteString.unsignedLexicographicalComparator().compare(a.getKey(), b.getKey());
            };
            if (order == RangeRequest.SortOrder.DESCEND) {
                cmp = cmp.reversed();
            }
            kvs = new ArrayList<>(kvs);
            kvs.sort(cmp);
        }
        RangeResponse.Builder resp = RangeResponse.newBuilder();
        if (limit > 0 && kvs.size() > limit) {
            kvs = kvs.subList(0, (int) limit);
            resp.setMore(true);
        }
        resp.setHeader(header(rr.rev())).setCount(rr.count());
        for (KeyValue kv : kvs) {
            resp.addKvs(r.getKeysOnly() ? kv.toBuilder().clearValue().build() : kv);
        }
        return resp.build();
    }

    // ---- Put / DeleteRange -------------------------------------------------------------------------------

    public PutResponse put(MvccStore.WriteTxn txn, PutRequest r) {
        // A standalone Put looks up the lease before the previous key-value (etcd's Put applier), so a missing
        // lease wins over a missing key; inside a Txn the order is the other way round (see checkPut).
        checkLease(r);
        checkPrevious(txn, r);
        return doPut(txn, r);
    }

    /** etcd's checkRequestPut for a Put inside a Txn: the previous key-value first, then the lease. */
    private void checkPut(MvccStore.WriteTxn txn, PutRequest r) {
        checkPrevious(txn, r);
        checkLease(r);
    }

    private static void checkPrevious(MvccStore.WriteTxn txn, PutRequest r) {
        if (r.getIgnoreValue() || r.getIgnoreLease()) {
            if (txn.get(r.getKey().toByteArray()) == null) {
                throw EtcdError.KEY_NOT_FOUND.exception();
            }
        }
    }

    private void checkLease(PutRequest r) {
        if (r.getLease() != 0 && !leaseExists.test(r.getLease())) {
            throw EtcdError.LEASE_NOT_FOUND.exception();
        }
    }

    private PutResponse doPut(MvccStore.WriteTxn txn, PutRequest r) {
        byte[] key = r.getKey().toByteArray();
        KeyValue prev = r.getPrevKv() || r.getIgnoreValue() || r.getIgnoreLease() ? txn.get(key) : null;
        ByteString value = r.getIgnoreValue() ? prev.getValue() : r.getValue();
        long lease = r.getIgnoreLease() ? prev.getLease() : r.getLease();
        txn.put(key, value, lease);
        PutResponse.Builder resp = PutResponse.newBuilder().setHeader(header(txn.revision()));
        if (r.getPrevKv() && prev != null) {
            resp.setPrevKv(prev);
        }
        return resp.build();
    }

    public DeleteRangeResponse deleteRange(MvccStore.WriteTxn txn, DeleteRangeRequest r) {
        byte[] key = r.getKey().toByteArray();
        byte[] end = rangeEnd(r.getRangeEnd());
        DeleteRangeResponse.Builder resp = DeleteRangeResponse.newBuilder();
        if (r.getPrevKv()) {
            resp.addAllPrevKvs(txn.range(key, end, 0, 0, false).kvs());
        }
        resp.setDeleted(txn.deleteRange(key, end));
        return resp.setHeader(header(txn.revision())).build();
    }

    // ---- Txn ---------------------------------------------------------------------------------------------

    /**
     * Runs a transaction: all compares (of this and every nested Txn on the chosen path) are evaluated against
     * the state before the transaction; then the chosen operations run in order, all at one revision.
     */
    public TxnResponse txn(MvccStore.WriteTxn txn, TxnRequest r) {
        List<Boolean> path = new ArrayList<>();
        choosePath(txn, r, path);
        checkPath(txn, r, path, new int[]{0});
        TxnResponse.Builder resp = execute(txn, r, path, new int[]{0});
        return resp.setHeader(header(txn.revision())).build();
    }

    private void choosePath(KvReader reader, TxnRequest r, List<Boolean> path) {
        boolean ok = true;
        for (Compare c : r.getCompareList()) {
            if (!compare(reader, c)) {
                ok = false;
                break;
            }
        }
        path.add(ok);
        for (RequestOp op : ok ? r.getSuccessList() : r.getFailureList()) {
            if (op.hasRequestTxn()) {
                choosePath(reader, op.getRequestTxn(), path);
            }
        }
    }

    private void checkPath(MvccStore.WriteTxn txn, TxnRequest r, List<Boolean> path, int[] at) {
        boolean ok = path.get(at[0]++);
        for (RequestOp op : ok ? r.getSuccessList() : r.getFailureList()) {
            switch (op.getRequestCase()) {
                case REQUEST_RANGE -> {
                    long rev = op.getRequestRange().getRevision();
                    if (rev != 0) {
                        if (rev > txn.revision()) {
                            throw EtcdError.FUTURE_REV.exception();
                        }
                        if (rev < txn.store().compactRevision()) {
                            throw EtcdError.COMPACTED.exception();
                        }
                    }
                }
                case REQUEST_PUT -> checkPut(txn, op.getRequestPut());
                case REQUEST_TXN -> checkPath(txn, op.getRequestTxn(), path, at);
                default -> {
                }
            }
        }
    }

    private TxnResponse.Builder execute(MvccStore.WriteTxn txn, TxnRequest r, List<Boolean> path, int[] at) {
        boolean ok = path.get(at[0]++);
        TxnResponse.Builder resp = TxnResponse.newBuilder().setSucceeded(ok);
        for (RequestOp op : ok ? r.getSuccessList() : r.getFailureList()) {
            ResponseOp.Builder out = ResponseOp.newBuilder();
            switch (op.getRequestCase()) {
                case REQUEST_RANGE -> out.setResponseRange(range(txn, op.getRequestRange()));
                case REQUEST_PUT -> out.setResponsePut(doPut(txn, op.getRequestPut()));
                case REQUEST_DELETE_RANGE -> out.setResponseDeleteRange(deleteRange(txn, op.getRequestDeleteRange()));
                // etcd leaves a nested transaction's header empty (present, all zero)
                case REQUEST_TXN -> out.setResponseTxn(
                        execute(txn, op.getRequestTxn(), path, at).setHeader(ResponseHeader.getDefaultInstance()));
                default -> {
                    continue; // validated away before proposing; nothing to do for an empty op
                }
            }
            resp.addResponses(out);
        }
        return resp;
    }

    /** etcd's compare: every key in the compared range must satisfy it; a missing key compares as zero values. */
    static boolean compare(KvReader reader, Compare c) {
        List<KeyValue> kvs;
        try {
            kvs = reader.range(c.getKey().toByteArray(), rangeEnd(c.getRangeEnd()), 0, 0, false).kvs();
        } catch (RuntimeException e) {
            return false;
        }
        if (kvs.isEmpty()) {
            // a value compare on a missing key always fails: "" and "absent" are indistinguishable otherwise
            return c.getTarget() != Compare.CompareTarget.VALUE && compareOne(c, KeyValue.getDefaultInstance());
        }
        for (KeyValue kv : kvs) {
            if (!compareOne(c, kv)) {
                return false;
            }
        }
        return true;
    }

    private static boolean compareOne(Compare c, KeyValue kv) {
        int result = switch (c.getTarget()) {
            case VALUE -> ByteString.unsignedLexicographicalComparator().compare(kv.getValue(),
                    c.getTargetUnionCase() == Compare.TargetUnionCase.VALUE ? c.getValue() : ByteString.EMPTY);
            case CREATE -> Long.compare(kv.getCreateRevision(),
                    c.getTargetUnionCase() == Compare.TargetUnionCase.CREATE_REVISION ? c.getCreateRevision() : 0);
            case MOD -> Long.compare(kv.getModRevision(),
                    c.getTargetUnionCase() == Compare.TargetUnionCase.MOD_REVISION ? c.getModRevision() : 0);
            case VERSION -> Long.compare(kv.getVersion(),
                    c.getTargetUnionCase() == Compare.TargetUnionCase.VERSION ? c.getVersion() : 0);
            case LEASE -> Long.compare(kv.getLease(),
                    c.getTargetUnionCase() == Compare.TargetUnionCase.LEASE ? c.getLease() : 0);
            default -> 0;
        };
        return switch (c.getResult()) {
            case EQUAL -> result == 0;
            case NOT_EQUAL -> result != 0;
            case GREATER -> result > 0;
            case LESS -> result < 0;
            default -> true;
        };
    }

    // ---- Compact -----------------------------------------------------------------------------------------

    public CompactionResponse compact(MvccStore.WriteTxn txn, CompactionRequest r) {
        txn.compact(r.getRevision());
        return CompactionResponse.newBuilder().setHeader(header(txn.revision())).build();
    }
}
