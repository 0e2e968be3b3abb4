package dev.keel.api;

import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameListener;
import io.netty.handler.codec.http2.Http2FrameListenerDecorator;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2Settings;
import io.quarkus.vertx.http.HttpServerStart;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.impl.HttpServerImpl;
import io.vertx.core.impl.VertxInternal;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.ObservesAsync;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.lang.reflect.Field;

/**
 * Accepts an HTTP/2 {@code :authority} that carries a scheme, as etcd (Go's HTTP/2 server) does.
 *
 * <p>{@code etcdctl endpoint status --cluster} (and {@code endpoint health --cluster}) dial the members' client
 * URLs from MemberList as they are, e.g. {@code http://127.0.0.1:2379}; grpc-go's passthrough resolver then sends
 * that whole string as {@code :authority}. Vert.x's HTTP/2 server parses {@code :authority} as host[:port]
 * ({@code Http2ServerConnection.createStream}, {@code HostAndPort.parseAuthority}); the scheme makes the parse fail,
 * {@code Http2ServerConnection.isMalformedRequest} then holds the request malformed and {@code onHeadersRead}
 * resets the stream with PROTOCOL_ERROR before any handler sees it. Vert.x has no option to relax that check, so
 * this wraps the frame listener of every HTTP/2 connection of the client port and turns {@code scheme://host:port}
 * (any path dropped) into {@code host:port} before Vert.x reads the headers. Any other authority is left as it is.
 *
 * <p>Where: a handler on the listening channel's pipeline adds {@link ConnectionHook} to each accepted connection,
 * ahead of the handlers Vert.x installs; when Vert.x adds its HTTP/2 handler (for gRPC: h2c prior knowledge),
 * that handler writes its SETTINGS preface through the hook, which then wraps the decoder's listener, before any
 * HEADERS frame is decoded. Vert.x does not expose the listening channel, hence one reflective read of the
 * shared server's bind future; if that fails (another Vert.x version) the member serves as before and says so.
 * Quarkus announces a listening server ({@link HttpServerStart}) asynchronously, so a connection accepted in the
 * moment between the bind and that event is not normalised (it is served as before, only a schemed
 * {@code :authority} on it is refused).
 */
@ApplicationScoped
public class AuthorityNormalizer {

    private static final Logger LOG = Logger.getLogger(AuthorityNormalizer.class);

    static final String ACCEPTOR_NAME = "keel-authority-acceptor";
    static final String HOOK_NAME = "keel-authority";

    @Inject
    Vertx vertx;

    /** Quarkus fires this (asynchronously) once an HTTP server of it listens. */
    void onHttpServerStart(@ObservesAsync HttpServerStart event) {
        install();
    }

    /** Installs the acceptor on every listening HTTP server of this Vert.x instance that lacks it. */
    synchronized void install() {
        if (!(vertx instanceof VertxInternal vi)) {
            return;
        }
        for (HttpServerImpl server : vi.sharedHttpServers().values()) {
            try {
                Channel listening = listeningChannel(server);
                if (listening != null && listening.pipeline().get(ACCEPTOR_NAME) == null) {
                    listening.pipeline().addFirst(ACCEPTOR_NAME, Acceptor.INSTANCE);
                    LOG.debugf("HTTP/2 :authority normalisation installed on %s", listening.localAddress());
                }
            } catch (ReflectiveOperationException | RuntimeException e) {
                LOG.warnf("cannot install HTTP/2 :authority normalisation (an :authority with a scheme, as etcdctl"
                        + " --cluster sends, will be refused): %s", e.toString());
            }
        }
    }

    /** The bound server channel of a listening Vert.x server (its private bind future), or null before it binds. */
    private static Channel listeningChannel(Object server) throws ReflectiveOperationException {
        for (Class<?> c = server.getClass(); c != null; c = c.getSuperclass()) {
            Field f;
            try {
                f = c.getDeclaredField("bindFuture");
            } catch (NoSuchFieldException e) {
                continue;
            }
            f.setAccessible(true);
            Object bind = f.get(server);
            if (bind instanceof Future<?> fut && fut.succeeded() && fut.result() instanceof Channel ch) {
                return ch;
            }
            return null;
        }
        throw new NoSuchFieldException(server.getClass().getName() + ".bindFuture");
    }

    /**
     * {@code scheme://host[:port][/...]} → {@code host[:port]}; null when the authority has no scheme (leave it).
     */
    static String withoutScheme(CharSequence authority) {
        String s = authority.toString();
        int sep = s.indexOf("://");
        if (sep <= 0 || !Character.isLetter(s.charAt(0))) {
            return null;
        }
        for (int i = 1; i < sep; i++) {
            char c = s.charAt(i);
            if (!(Character.isLetterOrDigit(c) || c == '+' || c == '-' || c == '.')) {
                return null;
            }
        }
        int start = sep + 3;
        int end = s.length();
        for (int i = start; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '/' || c == '?' || c == '#') {
                end = i;
                break;
            }
        }
        return end > start ? s.substring(start, end) : null;
    }

    static void normalise(Http2Headers headers) {
        CharSequence authority = headers.authority();
        if (authority != null) {
            String fixed = withoutScheme(authority);
            if (fixed != null) {
                headers.authority(fixed);
            }
        }
    }

    /** On the listening channel: gives every accepted connection its own {@link ConnectionHook}, first. */
    @ChannelHandler.Sharable
    static final class Acceptor extends ChannelInboundHandlerAdapter {
        static final Acceptor INSTANCE = new Acceptor();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Channel child) {
                // runs before ServerBootstrapAcceptor adds Vert.x's initializer: the hook precedes all of Vert.x's
                child.pipeline().addLast(HOOK_NAME, new ConnectionHook());
            }
            ctx.fireChannelRead(msg);
        }
    }

    /**
     * On an accepted connection, ahead of Vert.x's handlers: as soon as an HTTP/2 handler is in the pipeline (it
     * writes its preface through here when added), wraps its decoder's frame listener and leaves.
     */
    static final class ConnectionHook extends ChannelDuplexHandler {

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
            patch(ctx);
            ctx.fireChannelRead(msg);
            patch(ctx);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
            ctx.write(msg, promise);
            patch(ctx);
        }

        private void patch(ChannelHandlerContext ctx) {
            if (ctx.isRemoved()) {
                return;
            }
            Http2ConnectionHandler h2 = ctx.pipeline().get(Http2ConnectionHandler.class);
            if (h2 == null) {
                return;
            }
            Listener.wrap(h2.decoder());
            ctx.pipeline().remove(this);
        }
    }

    /**
     * Normalises {@code :authority} before the HEADERS reach Vert.x. Vert.x swaps the decoder's listener when it
     * reads the first SETTINGS frame (its handler hands over to the connection, or a decompressing wrapper of it),
     * possibly in the same read as the first HEADERS: the new listener is wrapped again right after that.
     */
    static final class Listener extends Http2FrameListenerDecorator {
        private final Http2ConnectionDecoder decoder;

        private Listener(Http2FrameListener delegate, Http2ConnectionDecoder decoder) {
            super(delegate);
            this.decoder = decoder;
        }

        /** Wraps the decoder's current listener, unless it is already one of these. */
        static void wrap(Http2ConnectionDecoder decoder) {
            Http2FrameListener current = decoder.frameListener();
            if (current != null && !(current instanceof Listener)) {
                decoder.frameListener(new Listener(current, decoder));
            }
        }

        @Override
        public void onSettingsRead(ChannelHandlerContext ctx, Http2Settings settings) throws Http2Exception {
            super.onSettingsRead(ctx, settings);
            wrap(decoder);
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding,
                boolean endOfStream) throws Http2Exception {
            normalise(headers);
            super.onHeadersRead(ctx, streamId, headers, padding, endOfStream);
        }

        @Override
        public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int streamDependency,
                short weight, boolean exclusive, int padding, boolean endOfStream) throws Http2Exception {
            normalise(headers);
            super.onHeadersRead(ctx, streamId, headers, streamDependency, weight, exclusive, padding, endOfStream);
        }
    }
}
