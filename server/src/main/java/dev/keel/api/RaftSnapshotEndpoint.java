package dev.keel.api;

import dev.keel.Main;
import dev.keel.server.SnapshotInstaller;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.jboss.logging.Logger;

import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Keel's internal endpoint {@code GET /keel/internal/v1/raft-snapshot} ({@link SnapshotInstaller#PATH}) on the
 * client port: the snapshot a lagging member installs when the leader's log no longer has the entries it needs.
 * Served only against a ticket this member issued to a Raft member ({@code Keel-Snapshot-Ticket}; 403 otherwise).
 * The answer is {@code application/octet-stream} with a {@code Content-Length}: a {@code SnapshotFormat} body of
 * every column (the applied Raft position included), then its SHA-256. It is produced on a thread of its own (the
 * first pass over the database measures it) and written only as fast as the client reads (the response's write
 * queue), so memory stays bounded whatever the database size. A failure after the headers resets the connection,
 * so the client sees a short body.
 */
@ApplicationScoped
public class RaftSnapshotEndpoint {

    private static final Logger LOG = Logger.getLogger(RaftSnapshotEndpoint.class);
    static final int CHUNK = 64 * 1024;

    void routes(@Observes Router router) {
        install(router, ticket -> Main.server().openRaftSnapshot(ticket));
    }

    /** Serves the snapshots {@code open} produces at {@link SnapshotInstaller#PATH}. */
    public static void install(Router router, Function<String, SnapshotInstaller.Source> open) {
        router.route(SnapshotInstaller.PATH).handler(ctx -> serve(ctx, open));
    }

    private static void serve(RoutingContext ctx, Function<String, SnapshotInstaller.Source> open) {
        HttpServerResponse r = ctx.response();
        if (ctx.request().method() != HttpMethod.GET) {
            Http.methodNotAllowed(r);
            return;
        }
        String peer = String.valueOf(ctx.request().remoteAddress());
        Object pump = new Object();
        boolean[] gone = {false};
        Runnable wake = () -> {
            synchronized (pump) {
                pump.notifyAll();
            }
        };
        r.closeHandler(v -> {
            synchronized (pump) {
                gone[0] = true;
                pump.notifyAll();
            }
        });
        r.drainHandler(v -> wake.run());
        r.exceptionHandler(e -> LOG.debug("raft snapshot response failed", e));
        String ticket = ctx.request().getHeader(SnapshotInstaller.TICKET_HEADER);
        Thread sender = new Thread(() -> send(r, () -> open.apply(ticket), pump, gone, peer), "raft-snapshot-sender");
        sender.setDaemon(true);
        sender.start();
    }

    private static void send(HttpServerResponse r, Supplier<SnapshotInstaller.Source> open, Object pump,
                             boolean[] gone, String peer) {
        SnapshotInstaller.Source src;
        try {
            src = open.get();
        } catch (dev.keel.errors.EtcdException e) {
            LOG.warnf("refused a raft snapshot to %s: %s", peer, e.getMessage());
            Http.error(r, 403, e.getMessage());
            return;
        } catch (RuntimeException e) {
            LOG.warnf("cannot serve a raft snapshot to %s: %s", peer, e.getMessage());
            Http.error(r, 503, "cannot serve a snapshot: " + e.getMessage());
            return;
        }
        long started = System.nanoTime();
        long sent = 0;
        try (src) {
            LOG.infof("sending a raft snapshot to %s: applied index %d (term %d), revision %d, %d bytes", peer,
                    src.appliedIndex(), src.appliedTerm(), src.revision(), src.length());
            Http.cors(r).setStatusCode(200)
                    .putHeader("Content-Type", "application/octet-stream")
                    .putHeader("Content-Length", Long.toString(src.length()))
                    .putHeader(SnapshotInstaller.HEADER_INDEX, Long.toString(src.appliedIndex()))
                    .putHeader(SnapshotInstaller.HEADER_TERM, Long.toString(src.appliedTerm()))
                    .putHeader(SnapshotInstaller.HEADER_REVISION, Long.toString(src.revision()));
            byte[] buf = new byte[CHUNK];
            while (true) {
                synchronized (pump) {
                    while (!gone[0] && r.writeQueueFull()) {
                        pump.wait(100);
                    }
                    if (gone[0] || r.closed()) {
                        LOG.infof("raft snapshot receiver %s went away after %d of %d bytes", peer, sent,
                                src.length());
                        return;
                    }
                }
                int n = src.readNBytes(buf, 0, buf.length);
                if (n <= 0) {
                    break;
                }
                r.write(Buffer.buffer(n == buf.length ? buf.clone() : java.util.Arrays.copyOf(buf, n)));
                sent += n;
            }
            if (sent != src.length()) {
                throw new IllegalStateException("snapshot ended after " + sent + " of " + src.length() + " bytes");
            }
            r.end();
            LOG.infof("sent a raft snapshot to %s: %d bytes in %d ms", peer, sent,
                    (System.nanoTime() - started) / 1_000_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            r.reset();
        } catch (Exception e) {
            LOG.errorf(e, "sending a raft snapshot to %s failed after %d bytes", peer, sent);
            if (!r.headWritten()) {
                Http.error(r, 500, "snapshot failed: " + e.getMessage());
            } else {
                r.reset(); // the client sees a body shorter than its Content-Length
            }
        }
    }
}
