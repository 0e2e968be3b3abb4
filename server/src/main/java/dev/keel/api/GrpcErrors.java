package dev.keel.api;

import dev.keel.errors.EtcdException;
import dev.keel.server.Errors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import org.jboss.logging.Logger;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/** Turns the server's outcomes into gRPC replies: values as responses, failures as etcd's status and text. */
final class GrpcErrors {

    private static final Logger LOG = Logger.getLogger(GrpcErrors.class);

    private GrpcErrors() {
    }

    static StatusRuntimeException toStatus(Throwable t) {
        t = Errors.unwrap(t);
        if (t instanceof StatusRuntimeException s) {
            return s;
        }
        if (t instanceof java.util.concurrent.CancellationException) {
            return Status.CANCELLED.withDescription("context canceled").asRuntimeException();
        }
        EtcdException e = Errors.toEtcd(t);
        if (e != null) {
            return Status.fromCodeValue(e.code()).withDescription(e.getMessage()).asRuntimeException();
        }
        Throwable client = ClientErrorFilter.clientCause(t);
        if (client != null) {
            // the client's connection or encoding failed: one rate-limited line, no stack trace
            ClientErrorLog.log("request", "", client.getClass().getSimpleName() + ": " + client.getMessage());
        } else {
            LOG.error("request failed unexpectedly", t);
        }
        return Status.UNKNOWN.withDescription(String.valueOf(t.getMessage())).withCause(t).asRuntimeException();
    }

    /** Completes a unary call from a future: the value, or the failure as a status. */
    static <T> void reply(Supplier<CompletionStage<T>> call, StreamObserver<T> observer) {
        CompletionStage<T> stage;
        try {
            stage = call.get();
        } catch (RuntimeException e) {
            observer.onError(toStatus(e));
            return;
        }
        stage.whenComplete((v, err) -> {
            if (err != null) {
                observer.onError(toStatus(err));
            } else {
                observer.onNext(v);
                observer.onCompleted();
            }
        });
    }

    /** A future that completes when the client cancels the call or its deadline passes. */
    static CompletableFuture<Void> cancellation(StreamObserver<?> observer) {
        CompletableFuture<Void> cancelled = new CompletableFuture<>();
        if (observer instanceof ServerCallStreamObserver<?> call) {
            call.setOnCancelHandler(() -> cancelled.complete(null));
        }
        return cancelled;
    }

    /** Completes a unary call with a value computed now. */
    static <T> void replyNow(Supplier<T> call, StreamObserver<T> observer) {
        T v;
        try {
            v = call.get();
        } catch (RuntimeException e) {
            observer.onError(toStatus(e));
            return;
        }
        observer.onNext(v);
        observer.onCompleted();
    }
}
