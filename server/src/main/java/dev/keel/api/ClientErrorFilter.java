package dev.keel.api;

import io.quarkus.logging.LoggingFilter;

import java.util.Set;
import java.util.logging.Filter;
import java.util.logging.LogRecord;

/**
 * Keeps client-caused failures that Vert.x, Netty, gRPC or Quarkus' HTTP layer log with a full stack trace (bad
 * chunked encoding, malformed HTTP/2 frames, connections reset or closed mid-request, TLS handshakes that fail) out
 * of the log; {@link ClientErrorLog} writes one rate-limited line for them instead. Everything else passes.
 * Installed on the console handler by {@code quarkus.log.console.filter=keel-client-errors}.
 */
@LoggingFilter(name = "keel-client-errors")
public final class ClientErrorFilter implements Filter {

    private static final Set<String> CLIENT_CAUSED = Set.of(
            "io.netty.handler.codec.DecoderException",
            "io.netty.handler.codec.TooLongFrameException",
            "io.netty.handler.codec.CorruptedFrameException",
            "io.netty.handler.codec.PrematureChannelClosureException",
            "io.netty.handler.codec.http2.Http2Exception",
            "io.netty.handler.codec.http2.Http2Exception$StreamException",
            "io.netty.handler.codec.http2.Http2Exception$ClosedStreamCreationException",
            "io.netty.channel.StacklessClosedChannelException",
            "io.netty.handler.ssl.NotSslRecordException",
            "javax.net.ssl.SSLHandshakeException",
            "javax.net.ssl.SSLException",
            "java.nio.channels.ClosedChannelException",
            "java.io.IOException",
            "java.net.SocketException",
            "io.vertx.core.VertxException",
            "io.vertx.core.http.HttpClosedException",
            "io.vertx.core.http.StreamResetException",
            "io.vertx.core.json.DecodeException",
            "io.vertx.core.impl.NoStackTraceThrowable",
            "io.vertx.core.impl.NoStackTraceException");

    private static final String[] LAYERS = {"io.vertx.", "io.netty.", "io.quarkus.vertx.", "io.grpc.",
        "io.quarkus.grpc."};

    @Override
    public boolean isLoggable(LogRecord record) {
        Throwable t = record.getThrown();
        if (t == null || !fromLayer(record.getLoggerName())) {
            return true;
        }
        Throwable c = clientCause(t);
        if (c == null) {
            return true;
        }
        ClientErrorLog.log("connection", shortName(record.getLoggerName()), c.getClass().getSimpleName() + ": "
                + c.getMessage());
        return false;
    }

    private static boolean fromLayer(String logger) {
        if (logger == null) {
            return false;
        }
        for (String p : LAYERS) {
            if (logger.startsWith(p)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The client-caused throwable in {@code t}'s cause chain (a known connection/decoding failure, or anything thrown
     * by Netty's protocol decoders, e.g. a NumberFormatException for a bad chunk size), or null if the failure is
     * the server's own.
     */
    static Throwable clientCause(Throwable t) {
        for (int i = 0; t != null && i < 10; i++, t = t.getCause()) {
            if (CLIENT_CAUSED.contains(t.getClass().getName())) {
                return t;
            }
            StackTraceElement[] st = t.getStackTrace();
            if (st.length > 0 && st[0].getClassName().startsWith("io.netty.handler.codec.")) {
                return t;
            }
        }
        return null;
    }

    private static String shortName(String logger) {
        int i = logger.lastIndexOf('.');
        return i < 0 ? logger : logger.substring(i + 1);
    }
}
