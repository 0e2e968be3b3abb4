package dev.keel.api;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.keel.Main;
import dev.keel.errors.EtcdError;
import dev.keel.server.KeepAliveSession;
import dev.keel.proto.etcdserverpb.SnapshotResponse;
import dev.keel.proto.etcdserverpb.LeaseKeepAliveRequest;
import dev.keel.proto.etcdserverpb.LeaseKeepAliveResponse;
import dev.keel.proto.etcdserverpb.WatchRequest;
import dev.keel.proto.etcdserverpb.WatchResponse;
import dev.keel.proto.v3electionpb.LeaderRequest;
import dev.keel.server.WatchSession;
import io.grpc.StatusRuntimeException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import org.jboss.logging.Logger;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The gateway's streaming methods, as grpc-gateway v2 serves them for etcd 3.6: {@code POST /v3/watch} and
 * {@code POST /v3/lease/keepalive} (bidirectional: the body is a sequence of request messages as JSON, each handed
 * to the stream as soon as it has been read) and {@code POST /v3/election/observe} (server streaming: the body is
 * one request). The answer is a chunked stream of newline-delimited JSON objects, {@code {"result":<response>}}
 * for each response message and, if the stream fails, a last {@code {"error":{"code":N,"message":"..."}}} (with
 * the mapped HTTP status if nothing was sent before it).
 *
 * <p>As in grpc-gateway, a body that stops being JSON of the request ends the requests (what came before stays in
 * effect); the end of the body half-closes the stream: a watch goes on until the client disconnects, a keep-alive
 * stream ends once every request is answered. A disconnecting client cancels the stream (and its watchers).
 */
final class GatewayStreams {

    private static final Logger LOG = Logger.getLogger(GatewayStreams.class);

    private GatewayStreams() {
    }

    /** Paths served here (below /v3/). */
    static final java.util.Set<String> PATHS = java.util.Set.of("/v3/watch", "/v3/lease/keepalive",
            "/v3/election/observe", "/v3/maintenance/snapshot");

    static void install(Router router, String prefix, long maxMessage, long maxBody) {
        router.post(prefix + "watch").handler(ctx -> watch(ctx, maxBody));
        router.post(prefix + "lease/keepalive").handler(ctx -> keepAlive(ctx, maxBody));
        router.post(prefix + "maintenance/snapshot").handler(GatewayStreams::snapshot);
        router.post(prefix + "election/observe")
                .handler(BodyHandler.create(false).setBodyLimit(maxBody))
                .handler(ctx -> observe(ctx, maxMessage))
                .failureHandler(ctx -> JsonGateway.failed(ctx, maxMessage));
    }

    // ---- the response stream ----------------------------------------------------------------------------------

    /** One chunked response: headers on the first chunk, then one JSON object and a newline per message. */
    static final class Stream {
        private final HttpServerResponse r;
        private boolean started;
        private volatile boolean closed;

        Stream(HttpServerResponse r, Runnable onClose) {
            this.r = r;
            r.closeHandler(v -> {
                closed = true;
                onClose.run();
            });
            r.exceptionHandler(e -> LOG.debug("gateway stream failed", e));
        }

        /** Whether another chunk can go out without piling up in the write queue. */
        boolean ready() {
            return !closed && !r.closed() && !r.ended() && !r.writeQueueFull();
        }

        boolean closed() {
            return closed || r.closed() || r.ended();
        }

        synchronized void result(Message m) {
            String json;
            try {
                json = JsonGateway.PRINTER.print(m);
            } catch (InvalidProtocolBufferException e) {
                fail(e);
                return;
            }
            write(200, "{\"result\":" + json + "}\n");
        }

        /** grpc-gateway's stream error chunk, then the end of the response. */
        synchronized void fail(Throwable t) {
            StatusRuntimeException s = GrpcErrors.toStatus(t);
            int code = s.getStatus().getCode().value();
            String message = s.getStatus().getDescription();
            StringBuilder b = new StringBuilder("{\"error\":{\"code\":").append(code);
            if (message != null && !message.isEmpty()) {
                b.append(",\"message\":").append(Http.goQuote(message)); // json.Marshal's HTML-safe escapes
            }
            write(JsonGateway.httpStatus(code), b.append("}}\n").toString());
            end();
        }

        synchronized void end() {
            if (closed()) {
                return;
            }
            start(200);
            r.end();
        }

        private void write(int status, String chunk) {
            if (closed()) {
                return;
            }
            start(status);
            r.write(Buffer.buffer(chunk.getBytes(StandardCharsets.UTF_8)));
        }

        private void start(int status) {
            if (started) {
                return;
            }
            started = true;
            Http.cors(r).setStatusCode(status).setChunked(true)
                    .putHeader("Content-Type", Http.JSON)
                    .putHeader("Grpc-Metadata-Content-Type", "application/grpc");
        }

        void onDrain(Runnable drained) {
            r.drainHandler(v -> drained.run());
        }
    }

    // ---- /v3/watch ----------------------------------------------------------------------------------------

    private static void watch(RoutingContext ctx, long maxBody) {
        WatchSession[] session = new WatchSession[1];
        Stream out = new Stream(ctx.response(), () -> {
            if (session[0] != null) {
                session[0].close();
            }
        });
        session[0] = Main.server().newWatchSession(JsonGateway.credentials(ctx), new WatchSession.Output() {
            @Override
            public void send(WatchResponse response) {
                out.result(response);
            }

            @Override
            public boolean isReady() {
                return out.ready();
            }
        });
        if (out.closed()) {
            session[0].close();
            return;
        }
        out.onDrain(session[0]::onReady);
        readRequests(ctx.request(), maxBody, WatchRequest.getDefaultInstance(), session[0]::onRequest, () -> {
            // half-closed: etcd's watch stream goes on until the client goes away
        });
    }

    // ---- /v3/lease/keepalive ------------------------------------------------------------------------------

    private static void keepAlive(RoutingContext ctx, long maxBody) {
        KeepAliveSession[] session = new KeepAliveSession[1];
        Stream out = new Stream(ctx.response(), () -> session[0].cancel());
        session[0] = Main.server().newKeepAliveSession(JsonGateway.credentials(ctx), new KeepAliveSession.Output() {
            @Override
            public void send(LeaseKeepAliveResponse response) {
                out.result(response);
            }

            @Override
            public void fail(Throwable error) {
                out.fail(error);
            }

            @Override
            public void end() {
                // etcd's keep-alive loop returns at the end of the requests, which ends the stream
                out.end();
            }
        });
        readRequests(ctx.request(), maxBody, LeaseKeepAliveRequest.getDefaultInstance(),
                req -> session[0].onRequest(req.getID()), session[0]::onRequestsEnd);
    }

    // ---- /v3/maintenance/snapshot --------------------------------------------------------------------------

    /**
     * Streams the snapshot's messages as {"result":...} lines, read on a thread of its own (not the event loop)
     * and only as fast as the HTTP client takes them.
     */
    private static void snapshot(RoutingContext ctx) {
        dev.keel.server.SnapshotStream snap;
        try {
            Main.server().auth().checkAdmin(JsonGateway.credentials(ctx));
            snap = Main.server().maintenance().snapshot();
        } catch (RuntimeException e) {
            new Stream(ctx.response(), () -> { }).fail(e);
            return;
        }
        Object pump = new Object();
        Stream out = new Stream(ctx.response(), () -> {
            synchronized (pump) {
                pump.notifyAll();
            }
        });
        out.onDrain(() -> {
            synchronized (pump) {
                pump.notifyAll();
            }
        });
        Thread sender = new Thread(() -> {
            try (snap) {
                SnapshotResponse next;
                while (!out.closed() && (next = snap.next()) != null) {
                    synchronized (pump) {
                        while (!out.ready() && !out.closed()) {
                            pump.wait(100);
                        }
                    }
                    out.result(next);
                }
                out.end();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                out.fail(e);
            }
        }, "gateway-snapshot");
        sender.setDaemon(true);
        sender.start();
    }

    // ---- /v3/election/observe -----------------------------------------------------------------------------

    private static void observe(RoutingContext ctx, long maxMessage) {
        LeaderRequest request;
        try {
            request = JsonGateway.parse(ctx.body().buffer(), LeaderRequest.getDefaultInstance());
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            JsonGateway.writeError(ctx.response(), EtcdError.Codes.INVALID_ARGUMENT, JsonGateway.decodeError(e),
                    false);
            return;
        }
        if (request.getSerializedSize() > maxMessage) {
            JsonGateway.writeError(ctx.response(), EtcdError.Codes.RESOURCE_EXHAUSTED,
                    String.format(JsonGateway.TOO_LARGE, request.getSerializedSize(), maxMessage), true);
            return;
        }
        CompletableFuture<Void> cancelled = new CompletableFuture<>();
        Stream out = new Stream(ctx.response(), () -> cancelled.complete(null));
        if (out.closed()) {
            return;
        }
        try {
            Main.server().auth().checkRecipe(JsonGateway.credentials(ctx), request.getName(), false);
            Main.server().elections().observe(request, response -> {
                if (!cancelled.isDone()) {
                    out.result(response);
                }
            }, cancelled);
        } catch (RuntimeException e) {
            out.fail(e);
        }
    }

    // ---- the request stream -------------------------------------------------------------------------------

    /**
     * Reads the body as a sequence of JSON objects (Go's json.Decoder: whitespace between values), handing each
     * parsed request on as soon as it is complete. A value that is not an object of the request ends the
     * requests, as does the end of the body; either way {@code ended} runs once.
     */
    private static <Q extends Message> void readRequests(HttpServerRequest req, long maxBody, Q prototype,
                                                         Consumer<Q> onRequest, Runnable ended) {
        JsonSplitter splitter = new JsonSplitter(maxBody, json -> {
            try {
                onRequest.accept(JsonGateway.parse(Buffer.buffer(json), prototype));
                return true;
            } catch (InvalidProtocolBufferException | RuntimeException e) {
                LOG.debugf("gateway stream: failed to decode request: %s", JsonGateway.decodeError(e));
                return false;
            }
        });
        boolean[] over = {false};
        Runnable finish = () -> {
            if (!over[0]) {
                over[0] = true;
                ended.run();
            }
        };
        req.handler(chunk -> {
            if (!over[0] && !splitter.feed(chunk.getBytes())) {
                finish.run();
            }
        });
        req.endHandler(v -> finish.run());
        req.exceptionHandler(e -> finish.run());
        if (req.isEnded()) {
            finish.run();
        } else {
            req.resume();
        }
    }

    /** Splits a byte stream into top-level JSON objects. */
    static final class JsonSplitter {
        interface Sink {
            /** Takes one complete object; false stops the splitting. */
            boolean accept(byte[] json);
        }

        private final long maxBytes;
        private final Sink sink;
        private final ByteArrayOutputStream current = new ByteArrayOutputStream();
        private int depth;
        private boolean inString;
        private boolean escaped;
        private boolean failed;

        JsonSplitter(long maxBytes, Sink sink) {
            this.maxBytes = maxBytes;
            this.sink = sink;
        }

        /** Feeds bytes; false once the stream is no longer a sequence of objects (or the sink said stop). */
        boolean feed(byte[] bytes) {
            for (byte b : bytes) {
                if (failed) {
                    return false;
                }
                if (depth == 0) {
                    if (b == ' ' || b == '\t' || b == '\r' || b == '\n') {
                        continue;
                    }
                    if (b != '{') {
                        failed = true; // not an object: grpc-gateway's decode fails and sending stops
                        return false;
                    }
                }
                current.write(b);
                if (current.size() > maxBytes) {
                    failed = true;
                    return false;
                }
                if (inString) {
                    if (escaped) {
                        escaped = false;
                    } else if (b == '\\') {
                        escaped = true;
                    } else if (b == '"') {
                        inString = false;
                    }
                    continue;
                }
                if (b == '"') {
                    inString = true;
                } else if (b == '{' || b == '[') {
                    depth++;
                } else if (b == '}' || b == ']') {
                    depth--;
                    if (depth == 0) {
                        byte[] json = current.toByteArray();
                        current.reset();
                        if (!sink.accept(json)) {
                            failed = true;
                            return false;
                        }
                    }
                }
            }
            return !failed;
        }
    }
}
