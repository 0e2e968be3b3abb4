package dev.keel.server;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Parser;

/**
 * How deeply requests may nest (Txn inside Txn), the same at every place a request or its result is parsed: the
 * gRPC edge, the JSON gateway, the Raft entry on every member and the applied result on the proposer. A request the
 * edge accepts and {@link RequestValidator} passes can therefore always be parsed, applied and answered; no entry is
 * committed that some member cannot read.
 *
 * <p>etcd's own bound is its op budget (checkTxnRequest): a nested Txn gets what its parent leaves of
 * {@code --max-txn-ops}, so with the default 128 a Txn nests at most 129 deep. Keel applies the same rule and
 * additionally refuses nesting deeper than {@link #MAX_TXN_DEPTH} ("too many operations in txn request"), which
 * only a raised {@code --max-txn-ops} can reach; protobuf's default recursion limit (100 message levels, about 49
 * Txn levels) is raised to {@link #RECURSION_LIMIT} everywhere.
 */
public final class NestingLimits {

    /** The deepest Txn nesting accepted (the outermost Txn is depth 1). */
    public static final int MAX_TXN_DEPTH = 200;

    /**
     * Message nesting protobuf parsers accept: two message levels per Txn level (TxnRequest, RequestOp; TxnResponse,
     * ResponseOp) plus the wrappers around them (InternalBatch, InternalRequest; range results' KeyValue).
     */
    public static final int RECURSION_LIMIT = 2 * MAX_TXN_DEPTH + 32;

    private NestingLimits() {
    }

    /** Parses {@code bytes} with {@link #RECURSION_LIMIT}. */
    public static <T> T parse(Parser<T> parser, byte[] bytes) throws InvalidProtocolBufferException {
        CodedInputStream in = CodedInputStream.newInstance(bytes);
        in.setRecursionLimit(RECURSION_LIMIT);
        return parser.parseFrom(in);
    }
}
