package dev.keel.raft;

import org.apache.ratis.client.impl.ClientProtoUtils;
import org.apache.ratis.grpc.GrpcUtil;
import org.apache.ratis.proto.RaftProtos.RaftClientReplyProto;
import org.apache.ratis.proto.RaftProtos.RaftClientRequestProto;
import org.apache.ratis.proto.grpc.RaftClientProtocolServiceGrpc;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.AlreadyClosedException;
import org.apache.ratis.thirdparty.io.grpc.ManagedChannel;
import org.apache.ratis.thirdparty.io.grpc.netty.NegotiationType;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyChannelBuilder;
import org.apache.ratis.thirdparty.io.grpc.stub.StreamObserver;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Sends a follower's proposals and questions to the leader's Ratis client service over one long-lived
 * {@code unordered} gRPC stream per leader, many requests on it at once (as etcd forwards proposals over its
 * existing peer streams, and as Ratis' own async client does). Opening a stream per request cost a stream set-up
 * and tear-down on both members for every forwarded batch.
 *
 * <p>Replies are matched to requests by call id (unique per {@link RatisRaftNode} instance). The request keeps the
 * proposer's client id and call id, so a re-send after a lost reply or a leader change is answered from the
 * leader's retry cache instead of being appended twice.
 *
 * <p>Invariants: every future {@link #send} returns completes — with the reply, with the stream's failure (all
 * requests outstanding on a stream fail together with an {@link IOException}; the caller re-sends them with the
 * same call id on a fresh stream), or with a {@link java.util.concurrent.TimeoutException} after the request
 * timeout. A failed stream is never reused. The channel reconnects by itself.
 */
final class LeaderForwarder implements AutoCloseable {
    private static final int MAX_MESSAGE_BYTES = 64 << 20;

    /** A peer's current Raft address (membership changes add members and may move them). */
    private final Function<RaftPeerId, String> addresses;
    /** Channels by peer, with the address they were made for. */
    private final Map<RaftPeerId, Map.Entry<String, ManagedChannel>> channels = new ConcurrentHashMap<>();
    /** The open stream to each peer, if any. */
    private final Map<RaftPeerId, Stream> streams = new ConcurrentHashMap<>();
    private final long timeoutMillis;
    private volatile boolean closed;

    /** TLS for the channels (peer TLS), or null for plain text. */
    private final org.apache.ratis.thirdparty.io.netty.handler.ssl.SslContext tls;

    LeaderForwarder(Function<RaftPeerId, String> addresses, long timeoutMillis) {
        this(addresses, timeoutMillis, null);
    }

    LeaderForwarder(Function<RaftPeerId, String> addresses, long timeoutMillis, PeerTls peerTls) {
        this.addresses = addresses;
        this.timeoutMillis = timeoutMillis;
        try {
            this.tls = peerTls == null ? null : peerTls.clientContext();
        } catch (IOException | java.security.GeneralSecurityException e) {
            throw new IllegalStateException("peer TLS: " + e.getMessage(), e);
        }
    }

    /** Sends the request to {@code request.getServerId()}; the future carries the reply or the transport error. */
    CompletableFuture<RaftClientReply> send(RaftClientRequest request) {
        final CompletableFuture<RaftClientReply> reply = new CompletableFuture<>();
        final RaftClientRequestProto proto;
        final Stream stream;
        try {
            proto = ClientProtoUtils.toRaftClientRequestProto(request);
            stream = stream(request.getServerId());
        } catch (IOException | RuntimeException e) {
            reply.completeExceptionally(e);
            return reply;
        }
        stream.send(request.getCallId(), proto, reply);
        return reply.orTimeout(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    /** The open stream to {@code peer}, opening one if there is none (or the last one failed). */
    private Stream stream(RaftPeerId peer) throws IOException {
        final ManagedChannel channel = channel(peer);
        final Stream s = streams.compute(peer, (p, old) -> old != null && !old.failed && old.channel == channel
                ? old : new Stream(p, channel));
        if (closed) {
            s.fail(new AlreadyClosedException("forwarder is closed"));
        }
        return s;
    }

    /** One unordered client stream to the leader; replies arrive in any order, matched by call id. */
    private final class Stream implements StreamObserver<RaftClientReplyProto> {
        private final RaftPeerId peer;
        private final ManagedChannel channel;
        private final Map<Long, CompletableFuture<RaftClientReply>> outstanding = new ConcurrentHashMap<>();
        /** Guarded by {@code this} (gRPC's request observer is not thread-safe). */
        private StreamObserver<RaftClientRequestProto> requests;
        private volatile boolean failed;

        Stream(RaftPeerId peer, ManagedChannel channel) {
            this.peer = peer;
            this.channel = channel;
        }

        void send(long callId, RaftClientRequestProto proto, CompletableFuture<RaftClientReply> reply) {
            outstanding.put(callId, reply);
            reply.whenComplete((r, t) -> outstanding.remove(callId, reply));
            try {
                synchronized (this) {
                    if (failed) {
                        throw new IOException("stream to " + peer + " failed");
                    }
                    if (requests == null) {
                        requests = RaftClientProtocolServiceGrpc.newStub(channel)
                                .withMaxOutboundMessageSize(MAX_MESSAGE_BYTES)
                                .withMaxInboundMessageSize(MAX_MESSAGE_BYTES)
                                .unordered(this);
                    }
                    requests.onNext(proto);
                }
            } catch (IOException | RuntimeException e) {
                reply.completeExceptionally(e);
                fail(e);
            }
        }

        @Override
        public void onNext(RaftClientReplyProto proto) {
            final CompletableFuture<RaftClientReply> reply = outstanding.remove(proto.getRpcReply().getCallId());
            if (reply == null) {
                return; // timed out meanwhile
            }
            try {
                reply.complete(ClientProtoUtils.toRaftClientReply(proto));
            } catch (RuntimeException e) {
                reply.completeExceptionally(e);
            }
        }

        @Override
        public void onError(Throwable t) {
            fail(GrpcUtil.unwrapIOException(t));
        }

        @Override
        public void onCompleted() {
            fail(new IOException("stream to " + peer + " completed by the leader"));
        }

        /** Fails every outstanding request; the stream is never used again. */
        void fail(Throwable cause) {
            final StreamObserver<RaftClientRequestProto> r;
            synchronized (this) {
                failed = true;
                r = requests;
                requests = null;
            }
            streams.remove(peer, this);
            if (r != null) {
                try {
                    r.onError(cause);
                } catch (RuntimeException ignored) {
                    // already closed
                }
            }
            for (CompletableFuture<RaftClientReply> f : outstanding.values()) {
                f.completeExceptionally(cause);
            }
        }
    }

    private ManagedChannel channel(RaftPeerId peer) throws IOException {
        if (closed) {
            throw new AlreadyClosedException("forwarder is closed");
        }
        final String address = addresses.apply(peer);
        if (address == null) {
            throw new IOException("unknown peer " + peer);
        }
        final Map.Entry<String, ManagedChannel> entry = channels.compute(peer, (p, old) -> {
            if (old != null && old.getKey().equals(address)) {
                return old;
            }
            if (old != null) {
                old.getValue().shutdown();
            }
            NettyChannelBuilder b = NettyChannelBuilder.forTarget(address).maxInboundMessageSize(MAX_MESSAGE_BYTES);
            if (tls == null) {
                b.negotiationType(NegotiationType.PLAINTEXT);
            } else {
                b.sslContext(tls);
            }
            return Map.entry(address, b.build());
        });
        final ManagedChannel ch = entry.getValue();
        if (closed) {
            ch.shutdownNow();
            throw new AlreadyClosedException("forwarder is closed");
        }
        return ch;
    }

    @Override
    public void close() {
        closed = true;
        for (Stream s : streams.values()) {
            s.fail(new AlreadyClosedException("forwarder is closed"));
        }
        for (Map.Entry<String, ManagedChannel> e : channels.values()) {
            e.getValue().shutdownNow();
        }
        for (Map.Entry<String, ManagedChannel> ch : channels.values()) {
            try {
                ch.getValue().awaitTermination(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        channels.clear();
    }
}
