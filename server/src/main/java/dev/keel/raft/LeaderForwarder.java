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

    /** A peer's current Raft address (membership changes add members and may move them). */
    private final Function<RaftPeerId, String> addresses;
    /** Channels by peer, with the address they were made for. */
    private final Map<RaftPeerId, Map.Entry<String, ManagedChannel>> channels = new ConcurrentHashMap<>();
    private final long timeoutMillis;
    private volatile boolean closed;

    LeaderForwarder(Function<RaftPeerId, String> addresses, long timeoutMillis) {
        this.addresses = addresses;
        this.timeoutMillis = timeoutMillis;
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
            return Map.entry(address, NettyChannelBuilder.forTarget(address)
                    .negotiationType(NegotiationType.PLAINTEXT)
                    .maxInboundMessageSize(MAX_MESSAGE_BYTES)
                    .build());
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
