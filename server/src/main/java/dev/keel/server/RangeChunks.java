package dev.keel.server;

import com.google.protobuf.ByteString;
import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.metrics.Metrics;
import dev.keel.mvcc.MvccStore;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RangeResponse;
import dev.keel.proto.etcdserverpb.ResponseHeader;
import dev.keel.proto.mvccpb.KeyValue;

import java.util.Arrays;
import java.util.function.LongFunction;

/**
 * The answer to one {@code KV.RangeStream} (etcd 3.7, {@code EtcdServer.rangeStream}), produced one chunk at a
 * time as the sender asks for it ({@link #next}), so the member holds one chunk of the range, never all of it:
 *
 * <ul>
 *   <li>One revision for the whole stream: the request's, or the store's current revision when the stream starts.
 *       Writes made while it streams are not in it; if a compaction passes that revision before the last chunk,
 *       the next chunk fails with "mvcc: required revision has been compacted".</li>
 *   <li>Chunks in key order, each starting after the previous one's last key. The first holds at most 10 keys;
 *       each next chunk doubles the count while a chunk's encoded size stays under half of
 *       {@code --max-request-bytes} and halves it above twice that (etcd's adjustChunkLimit), never beyond what
 *       is left of the request's {@code limit}.</li>
 *   <li>Only the last chunk carries {@code header} (revision: the store's revision when the stream started),
 *       {@code more} and {@code count} (keys streamed plus, when the limit stopped it, the keys after it), so
 *       merging every chunk gives what Range answers.</li>
 *   <li>{@code count_only}: one chunk with the header and the count.</li>
 * </ul>
 *
 * <p>Not thread-safe: one sender calls {@link #next} at a time.
 */
public final class RangeChunks {

    /** etcd's initialStreamChunkLimit. */
    static final long INITIAL_CHUNK_LIMIT = 10;

    private final MvccStore mvcc;
    private final RangeRequest request;
    private final LongFunction<ResponseHeader> header;
    private final int targetBytes;
    private final byte[] end;
    private final long totalLimit;
    private byte[] nextKey;
    private long pinned;
    private long headerRev;
    private long chunkLimit;
    private long streamed;
    private boolean done;

    RangeChunks(MvccStore mvcc, RangeRequest request, LongFunction<ResponseHeader> header, int targetBytes) {
        this.mvcc = mvcc;
        this.request = request;
        this.header = header;
        this.targetBytes = targetBytes;
        this.end = rangeEnd(request.getRangeEnd());
        this.nextKey = request.getKey().toByteArray();
        this.totalLimit = request.getLimit() > 0 ? request.getLimit() : Long.MAX_VALUE;
        this.chunkLimit = Math.min(INITIAL_CHUNK_LIMIT, totalLimit);
    }

    /**
     * etcd 3.7's checkRangeStreamRequest beyond Range's own checks: results in key order only, no revision
     * filters (both UNIMPLEMENTED, etcd's texts).
     */
    static void checkStreamable(RangeRequest r) {
        boolean defaultOrder = r.getSortOrder() == RangeRequest.SortOrder.NONE
                || (r.getSortTarget() == RangeRequest.SortTarget.KEY
                && r.getSortOrder() == RangeRequest.SortOrder.ASCEND);
        if (!defaultOrder) {
            throw new EtcdException(EtcdError.Codes.UNIMPLEMENTED, "RangeStream does not support custom sort orders");
        }
        if (r.getMinModRevision() != 0 || r.getMaxModRevision() != 0
                || r.getMinCreateRevision() != 0 || r.getMaxCreateRevision() != 0) {
            throw new EtcdException(EtcdError.Codes.UNIMPLEMENTED, "RangeStream does not support revision filters");
        }
    }

    /** The next chunk, or null after the last one. Fails with etcd's errors (future revision, compacted). */
    public RangeResponse next() {
        if (done) {
            return null;
        }
        if (request.getCountOnly()) {
            done = true;
            Metrics.MVCC_RANGE.inc();
            MvccStore.RangeResult rr = mvcc.range(nextKey, end, request.getRevision(), 0, true);
            return RangeResponse.newBuilder().setHeader(header.apply(rr.rev())).setCount(rr.count()).build();
        }
        if (pinned == 0) {
            headerRev = mvcc.currentRevision();
            pinned = request.getRevision() > 0 ? request.getRevision() : headerRev;
        }
        int limit = (int) Math.min(Math.min(chunkLimit, totalLimit - streamed), Integer.MAX_VALUE - 1);
        Metrics.MVCC_RANGE.inc(); // etcd: one txn.Range per chunk
        MvccStore.Page page = mvcc.rangePage(nextKey, end, pinned, limit);
        streamed += page.kvs().size();
        RangeResponse.Builder out = RangeResponse.newBuilder();
        for (KeyValue kv : page.kvs()) {
            out.addKvs(request.getKeysOnly() ? kv.toBuilder().clearValue().build() : kv);
        }
        byte[] after = page.kvs().isEmpty() ? null : successor(page.kvs().get(page.kvs().size() - 1).getKey());
        if (!page.more() || streamed == totalLimit) {
            done = true;
            long count = streamed;
            if (page.more()) {
                Metrics.MVCC_RANGE.inc();
                count += mvcc.range(after, end, pinned, 0, true).count();
            }
            return out.setHeader(header.apply(headerRev)).setMore(page.more()).setCount(count).build();
        }
        nextKey = after;
        RangeResponse chunk = out.build();
        chunkLimit = adjustChunkLimit(chunkLimit, chunk.getSerializedSize(), targetBytes);
        return chunk;
    }

    /**
     * etcd's adjustChunkLimit: double below half the target size, halve above twice the target, otherwise keep;
     * at least 1.
     */
    static long adjustChunkLimit(long lastLimit, long lastSize, long targetSize) {
        if (lastSize < targetSize / 2) {
            lastLimit *= 2;
        } else if (lastSize > targetSize * 2) {
            lastLimit /= 2;
        }
        return Math.max(1, lastLimit);
    }

    /** The smallest key after {@code key}: key + "\0". */
    private static byte[] successor(ByteString key) {
        byte[] k = key.toByteArray();
        return Arrays.copyOf(k, k.length + 1);
    }

    /** A request's range_end as the store takes it: empty = the key alone, "\0" = every key from the key on. */
    private static byte[] rangeEnd(ByteString end) {
        if (end.isEmpty()) {
            return null;
        }
        if (end.size() == 1 && end.byteAt(0) == 0) {
            return new byte[0];
        }
        return end.toByteArray();
    }
}
