package dev.keel.raft;

import org.apache.ratis.client.impl.ClientProtoUtils;
import org.apache.ratis.grpc.GrpcUtil;
import org.apache.ratis.proto.RaftProtos.RaftClientReplyProto;
import org.apache.ratis.proto.RaftProtos.RaftClientRequestProto;
import org.apache.ratis.proto.grpc.RaftClientProtocolServiceGrpc;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.AlreadyClosedException;
import org.apache.ratis.thirdparty.io.grpc.ManagedChannel;
import org.apache.ratis.thirdparty.io.grpc.netty.NegotiationType;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyChannelBuilder;
import org.apache.ratis.thirdparty.io.grpc.stub.StreamObserver;

import java.io.IOException;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Sends a follower's proposals to the leader's Ratis client service, one short gRPC stream per request (like Ratis'
 * own blocking client call, but asynchronous).
 *
 * <p>The request keeps the proposer's client id and call id, so a re-send after a lost reply or a leader change is
 * answered from the leader's retry cache instead of being appended twice. Nothing is shared between requests except
 * the channel, so one failed request never fails others (unlike Ratis' shared async streams), and the channel
 * reconnects by itself.
 *
 * <p>TODO(cluster): TLS for peer traffic.
 */
final class LeaderForwarder implements AutoCloseable {
    private static final int MAX_MESSAGE_BYTES = 64 << 20;

    private final Map<RaftPeerId, String> addresses = new ConcurrentHashMap<>();
    private final Map<RaftPeerId, ManagedChannel> channels = new ConcurrentHashMap<>();
    private final long timeoutMillis;
    private volatile boolean closed;

    /** TLS for the channels (peer TLS), or null for plain text. */
    private final org.apache.ratis.thirdparty.io.netty.handler.ssl.SslContext tls;

    LeaderForwarder(Collection<RaftPeer> peers, long timeoutMillis) {
        this(peers, timeoutMillis, null);
    }

    LeaderForwarder(Collection<RaftPeer> peers, long timeoutMillis, PeerTls peerTls) {
        for (RaftPeer p : peers) {
            addresses.put(p.getId(), p.getAddress());
        }
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
        final ManagedChannel channel;
        try {
            channel = channel(request.getServerId());
        } catch (IOException e) {
            reply.completeExceptionally(e);
            return reply;
        }
        final StreamObserver<RaftClientReplyProto> responses = new StreamObserver<>() {
            @Override
            public void onNext(RaftClientReplyProto proto) {
                try {
                    reply.complete(ClientProtoUtils.toRaftClientReply(proto));
                } catch (RuntimeException e) {
                    reply.completeExceptionally(e);
                }
            }

            @Override
            public void onError(Throwable t) {
                reply.completeExceptionally(GrpcUtil.unwrapIOException(t));
            }

            @Override
            public void onCompleted() {
                if (!reply.isDone()) {
                    reply.completeExceptionally(new IOException("stream to " + request.getServerId()
                            + " completed without a reply"));
                }
            }
        };
        try {
            final RaftClientRequestProto proto = ClientProtoUtils.toRaftClientRequestProto(request);
            final StreamObserver<RaftClientRequestProto> requests = RaftClientProtocolServiceGrpc.newStub(channel)
                    .withDeadlineAfter(timeoutMillis, TimeUnit.MILLISECONDS)
                    .withMaxOutboundMessageSize(MAX_MESSAGE_BYTES)
                    .withMaxInboundMessageSize(MAX_MESSAGE_BYTES)
                    .unordered(responses);
            requests.onNext(proto);
            requests.onCompleted();
        } catch (RuntimeException e) {
            reply.completeExceptionally(e);
        }
        return reply;
    }

    private ManagedChannel channel(RaftPeerId peer) throws IOException {
        if (closed) {
            throw new AlreadyClosedException("forwarder is closed");
        }
        final String address = addresses.get(peer);
        if (address == null) {
            throw new IOException("unknown peer " + peer + " (known: " + addresses.keySet() + ")");
        }
        final ManagedChannel ch = channels.computeIfAbsent(peer, p -> {
            NettyChannelBuilder b = NettyChannelBuilder.forTarget(address).maxInboundMessageSize(MAX_MESSAGE_BYTES);
            if (tls == null) {
                b.negotiationType(NegotiationType.PLAINTEXT);
            } else {
                b.sslContext(tls);
            }
            return b.build();
        });
        if (closed) {
            ch.shutdownNow();
            throw new AlreadyClosedException("forwarder is closed");
        }
        return ch;
    }

    @Override
    public void close() {
        closed = true;
        for (ManagedChannel ch : channels.values()) {
            ch.shutdownNow();
        }
        for (ManagedChannel ch : channels.values()) {
            try {
                ch.awaitTermination(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        channels.clear();
    }
}
