package dev.keel.api;

import dev.keel.proto.etcdserverpb.RangeResponse;
import dev.keel.proto.etcdserverpb.RangeStreamResponse;
import dev.keel.server.RangeChunks;
import io.grpc.stub.ServerCallStreamObserver;

import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Sends a {@code KV.RangeStream}'s chunks as fast as the client takes them: a chunk is read from the store only
 * while the call is ready for it (gRPC flow control), on a sender thread, so a slow reader holds the member to
 * about one chunk in memory and never blocks the transport or the store.
 */
final class RangeStreamSender {

    private static final ExecutorService SENDERS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "range-stream-sender");
        t.setDaemon(true);
        return t;
    });

    private final ServerCallStreamObserver<RangeStreamResponse> call;
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private RangeChunks chunks;    // guarded by this; null until the read barrier has passed
    private boolean done;          // guarded by this
    private volatile boolean cancelled;

    private RangeStreamSender(ServerCallStreamObserver<RangeStreamResponse> call) {
        this.call = call;
    }

    /** Starts answering {@code call} with the chunks {@code opened} completes with (or its error). */
    static void start(ServerCallStreamObserver<RangeStreamResponse> call, CompletionStage<RangeChunks> opened) {
        RangeStreamSender s = new RangeStreamSender(call);
        // handlers must be set before the service method returns
        call.setOnCancelHandler(() -> s.cancelled = true);
        call.setOnReadyHandler(s::schedule);
        opened.whenComplete((chunks, err) -> {
            synchronized (s) {
                if (err != null) {
                    s.done = true;
                    if (!s.cancelled) {
                        call.onError(GrpcErrors.toStatus(err));
                    }
                    return;
                }
                s.chunks = chunks;
            }
            s.schedule();
        });
    }

    private void schedule() {
        if (scheduled.compareAndSet(false, true)) {
            SENDERS.execute(this::drain);
        }
    }

    private void drain() {
        synchronized (this) {
            try {
                while (chunks != null && !done && !cancelled && call.isReady()) {
                    RangeResponse next = chunks.next();
                    if (next == null) {
                        done = true;
                        call.onCompleted();
                        break;
                    }
                    call.onNext(RangeStreamResponse.newBuilder().setRangeResponse(next).build());
                }
                if (cancelled) {
                    done = true;
                }
            } catch (RuntimeException e) {
                if (!done && !cancelled) {
                    call.onError(GrpcErrors.toStatus(e));
                }
                done = true;
            }
        }
        scheduled.set(false);
        // the call may have become ready between the last isReady() and the reset: do not miss it
        synchronized (this) {
            if (chunks != null && !done && !cancelled && call.isReady()) {
                schedule();
            }
        }
    }
}
