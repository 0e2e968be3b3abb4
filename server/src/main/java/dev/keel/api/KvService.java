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
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;

/** etcdserverpb.KV over gRPC. */
@GrpcService
public class KvService extends KVGrpc.KVImplBase {

    /** Requests parsed as etcd does (nesting limit, grpc-go's error for a request that does not parse). */
    @Override
    public io.grpc.ServerServiceDefinition bindService() {
        return GrpcRequestParsing.apply(super.bindService());
    }

    @Override
    public void range(RangeRequest request, StreamObserver<RangeResponse> observer) {
        GrpcErrors.reply(() -> Main.server().range(CallerInterceptor.current(), request), observer);
    }

    /** etcd 3.7's streaming range: chunks read from the store as the client takes them (see RangeChunks). */
    @Override
    public void rangeStream(RangeRequest request, StreamObserver<RangeStreamResponse> observer) {
        java.util.concurrent.CompletionStage<dev.keel.server.RangeChunks> opened;
        try {
            opened = Main.server().rangeStream(CallerInterceptor.current(), request);
        } catch (RuntimeException e) {
            opened = java.util.concurrent.CompletableFuture.failedFuture(e);
        }
        RangeStreamSender.start((io.grpc.stub.ServerCallStreamObserver<RangeStreamResponse>) observer, opened);
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
