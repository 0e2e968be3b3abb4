package dev.keel.api;

import dev.keel.Main;
import dev.keel.proto.v3electionpb.CampaignRequest;
import dev.keel.proto.v3electionpb.CampaignResponse;
import dev.keel.proto.v3electionpb.ElectionGrpc;
import dev.keel.proto.v3electionpb.LeaderRequest;
import dev.keel.proto.v3electionpb.LeaderResponse;
import dev.keel.proto.v3electionpb.ProclaimRequest;
import dev.keel.proto.v3electionpb.ProclaimResponse;
import dev.keel.proto.v3electionpb.ResignRequest;
import dev.keel.proto.v3electionpb.ResignResponse;
import io.grpc.stub.StreamObserver;
import io.quarkus.grpc.GrpcService;

/** v3electionpb.Election over gRPC. */
@GrpcService
public class ElectionService extends ElectionGrpc.ElectionImplBase {

    /** Requests parsed as etcd does (nesting limit, grpc-go's error for a request that does not parse). */
    @Override
    public io.grpc.ServerServiceDefinition bindService() {
        return GrpcRequestParsing.apply(super.bindService());
    }

    @Override
    public void campaign(CampaignRequest request, StreamObserver<CampaignResponse> observer) {
        var cancelled = GrpcErrors.cancellation(observer);
        GrpcErrors.reply(() -> {
            Main.server().auth().checkRecipe(CallerInterceptor.current(), request.getName(), true);
            return Main.server().elections().campaign(request, cancelled);
        }, observer);
    }

    @Override
    public void proclaim(ProclaimRequest request, StreamObserver<ProclaimResponse> observer) {
        GrpcErrors.reply(() -> {
            Main.server().auth().checkRecipeKey(CallerInterceptor.current(), request.getLeader().getKey());
            return Main.server().elections().proclaim(request);
        }, observer);
    }

    @Override
    public void leader(LeaderRequest request, StreamObserver<LeaderResponse> observer) {
        GrpcErrors.reply(() -> {
            Main.server().auth().checkRecipe(CallerInterceptor.current(), request.getName(), false);
            return Main.server().elections().leader(request);
        }, observer);
    }

    @Override
    public void observe(LeaderRequest request, StreamObserver<LeaderResponse> observer) {
        try {
            Main.server().auth().checkRecipe(CallerInterceptor.current(), request.getName(), false);
        } catch (RuntimeException e) {
            observer.onError(GrpcErrors.toStatus(e));
            return;
        }
        var cancelled = GrpcErrors.cancellation(observer);
        Main.server().elections().observe(request, response -> {
            synchronized (observer) {
                if (!cancelled.isDone()) {
                    observer.onNext(response);
                }
            }
        }, cancelled);
    }

    @Override
    public void resign(ResignRequest request, StreamObserver<ResignResponse> observer) {
        GrpcErrors.reply(() -> {
            Main.server().auth().checkRecipeKey(CallerInterceptor.current(), request.getLeader().getKey());
            return Main.server().elections().resign(request);
        }, observer);
    }
}
