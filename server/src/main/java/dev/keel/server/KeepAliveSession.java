package dev.keel.server;

import dev.keel.proto.etcdserverpb.LeaseKeepAliveResponse;

import java.util.concurrent.CompletableFuture;

/**
 * One client keep-alive stream, independent of the transport (gRPC or the JSON gateway): each request renews one
 * lease and gets one answer, in request order (the next renewal starts when the previous answer is out). A lease
 * that does not exist answers TTL 0; any other failure ends the stream with that error, as etcd does. When the
 * client's requests end, the stream ends after the answers so far.
 */
public final class KeepAliveSession {

    /** Where answers go; never called concurrently. */
    public interface Output {
        void send(LeaseKeepAliveResponse response);

        void fail(Throwable error);

        void end();
    }

    private final EtcdServer server;
    private final Output out;
    private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);
    private boolean done;

    private final Credentials who;

    KeepAliveSession(EtcdServer server, Credentials who, Output out) {
        this.server = server;
        this.who = who;
        this.out = out;
    }

    /** A keep-alive request for lease {@code id}. */
    public synchronized void onRequest(long id) {
        tail = tail.thenCompose(v -> {
            if (isDone()) {
                return CompletableFuture.completedFuture(null);
            }
            CompletableFuture<LeaseKeepAliveResponse> renewal;
            try {
                renewal = server.leaseKeepAlive(who, id);
            } catch (RuntimeException e) {
                renewal = CompletableFuture.failedFuture(e);
            }
            return renewal.handle((resp, err) -> {
                synchronized (this) {
                    if (!done) {
                        if (err != null) {
                            done = true;
                            out.fail(err);
                        } else {
                            out.send(resp);
                        }
                    }
                }
                return null;
            });
        });
    }

    /** The client sent its last request: end the stream once the pending answers are out. */
    public synchronized void onRequestsEnd() {
        tail = tail.thenRun(() -> {
            synchronized (this) {
                if (!done) {
                    done = true;
                    out.end();
                }
            }
        });
    }

    /** The client went away: send nothing more. */
    public synchronized void cancel() {
        done = true;
    }

    private synchronized boolean isDone() {
        return done;
    }
}
