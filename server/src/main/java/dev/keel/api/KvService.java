package dev.keel.api;

import dev.keel.Main;
import dev.keel.proto.etcdserverpb.CompactionRequest;
import dev.keel.proto.etcdserverpb.CompactionResponse;
import dev.keel.proto.etcdserverpb.DeleteRangeRequest;
import dev.keel.proto.etcdserverpb.DeleteRangeResponse;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.PutResponse;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RangeResponse;
import dev.keel.proto.etcdserverpb.RangeStreamResponse;
import dev.keel.proto.etcdserverpb.TxnRequest;
import dev.keel.proto.etcdserverpb.TxnResponse;
import com.google.protobuf.Message;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;

/** etcdserverpb.KV over gRPC. */
@GrpcService
public class KvService extends KVGrpc.KVImplBase {

    /**
     * The service with its requests parsed under {@link dev.keel.server.NestingLimits#RECURSION_LIMIT} instead of
     * protobuf's default 100 levels, so a nested Txn the validator accepts also gets through the gRPC edge (etcd,
     * in Go, has no such parse limit).
     */
    @Override
    public ServerServiceDefinition bindService() {
        ServerServiceDefinition def = super.bindService();
        ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(def.getServiceDescriptor().getName());
        for (ServerMethodDefinition<?, ?> m : def.getMethods()) {
            b.addMethod(withRecursionLimit(m));
        }
        return b.build();
    }

    @SuppressWarnings("unchecked")
    private static <Q, R> ServerMethodDefinition<Q, R> withRecursionLimit(ServerMethodDefinition<Q, R> m) {
        MethodDescriptor<Q, R> md = m.getMethodDescriptor();
        if (md.getRequestMarshaller() instanceof MethodDescriptor.PrototypeMarshaller<Q> pm
                && pm.getMessagePrototype() instanceof Message proto) {
            MethodDescriptor.Marshaller<Q> limited = (MethodDescriptor.Marshaller<Q>) (MethodDescriptor.Marshaller<?>) ProtoUtils
                    .marshallerWithRecursionLimit(proto, dev.keel.server.NestingLimits.RECURSION_LIMIT);
            return ServerMethodDefinition.create(md.toBuilder(limited, md.getResponseMarshaller()).build(),
                    m.getServerCallHandler());
        }
        return m;
    }

    @Override
    public void range(RangeRequest request, StreamObserver<RangeResponse> observer) {
        GrpcErrors.reply(() -> Main.server().range(CallerInterceptor.current(), request), observer);
    }

    /** etcd 3.7's streaming range: the whole result in one message (the stream shape is kept for clients). */
    @Override
    public void rangeStream(RangeRequest request, StreamObserver<RangeStreamResponse> observer) {
        GrpcErrors.reply(() -> Main.server().range(CallerInterceptor.current(), request)
                .thenApply(r -> RangeStreamResponse.newBuilder().setRangeResponse(r).build()), observer);
    }

    @Override
    public void put(PutRequest request, StreamObserver<PutResponse> observer) {
        GrpcErrors.reply(() -> Main.server().put(CallerInterceptor.current(), request), observer);
    }

    @Override
    public void deleteRange(DeleteRangeRequest request, StreamObserver<DeleteRangeResponse> observer) {
        GrpcErrors.reply(() -> Main.server().deleteRange(CallerInterceptor.current(), request), observer);
    }

    @Override
    public void txn(TxnRequest request, StreamObserver<TxnResponse> observer) {
        GrpcErrors.reply(() -> Main.server().txn(CallerInterceptor.current(), request), observer);
    }

    @Override
    public void compact(CompactionRequest request, StreamObserver<CompactionResponse> observer) {
        GrpcErrors.reply(() -> Main.server().compact(CallerInterceptor.current(), request), observer);
    }
}
