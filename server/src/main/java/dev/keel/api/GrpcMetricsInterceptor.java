package dev.keel.api;

import dev.keel.metrics.Metrics;
import dev.keel.metrics.Registry;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.quarkus.grpc.GlobalInterceptor;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * go-grpc-prometheus's server metrics, as etcd registers them: {@code grpc_server_started_total},
 * {@code grpc_server_handled_total} (by status code), {@code grpc_server_msg_received_total} and
 * {@code grpc_server_msg_sent_total}, labelled by method, service and type; and etcd's codec counters
 * {@code etcd_network_client_grpc_sent_bytes_total} / {@code _received_bytes_total} (encoded message sizes). The counters of a method are looked up
 * once and kept (Micrometer counters), so a call costs a map read and a few adder increments, no registry lookup.
 */
@GlobalInterceptor
@ApplicationScoped
public class GrpcMetricsInterceptor implements ServerInterceptor {

    /** The counters of one method. */
    private static final class MethodCounters {
        final String service;
        final String method;
        final String type;
        final Registry.Counter started;
        final Registry.Counter received;
        final Registry.Counter sent;
        final AtomicReferenceArray<Registry.Counter> handled = new AtomicReferenceArray<>(Metrics.GRPC_CODES.size());

        MethodCounters(MethodDescriptor<?, ?> d) {
            String full = d.getFullMethodName();
            int slash = full.lastIndexOf('/');
            this.service = slash < 0 ? "unknown" : full.substring(0, slash);
            this.method = full.substring(slash + 1);
            this.type = switch (d.getType()) {
                case UNARY -> "unary";
                case CLIENT_STREAMING -> "client_stream";
                case SERVER_STREAMING -> "server_stream";
                case BIDI_STREAMING -> "bidi_stream";
                default -> "unknown";
            };
            this.started = Metrics.GRPC_STARTED.labels(method, service, type);
            this.received = Metrics.GRPC_MSG_RECEIVED.labels(method, service, type);
            this.sent = Metrics.GRPC_MSG_SENT.labels(method, service, type);
        }

        void handled(Status.Code code) {
            int c = code.value();
            Registry.Counter counter = handled.get(c);
            if (counter == null) {
                counter = Metrics.GRPC_HANDLED.labels(Metrics.GRPC_CODES.get(c), method, service, type);
                handled.set(c, counter);
            }
            counter.inc();
        }
    }

    private final ConcurrentHashMap<String, MethodCounters> methods = new ConcurrentHashMap<>();

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                       ServerCallHandler<Q, R> next) {
        MethodDescriptor<Q, R> d = call.getMethodDescriptor();
        MethodCounters m = methods.get(d.getFullMethodName());
        if (m == null) {
            m = methods.computeIfAbsent(d.getFullMethodName(), k -> new MethodCounters(d));
        }
        MethodCounters counters = m;
        counters.started.inc();
        ServerCall<Q, R> counted = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void sendMessage(R message) {
                if (message instanceof com.google.protobuf.MessageLite m) {
                    Metrics.CLIENT_GRPC_SENT_BYTES.add(m.getSerializedSize()); // memoized: the marshaller reuses it
                }
                super.sendMessage(message);
                counters.sent.inc();
            }

            @Override
            public void close(Status status, Metadata trailers) {
                counters.handled(status.getCode());
                super.close(status, trailers);
            }
        };
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(counted, headers)) {
            @Override
            public void onMessage(Q message) {
                counters.received.inc();
                if (message instanceof com.google.protobuf.MessageLite m) {
                    Metrics.CLIENT_GRPC_RECEIVED_BYTES.add(m.getSerializedSize());
                }
                super.onMessage(message);
            }
        };
    }
}
