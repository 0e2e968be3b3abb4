package dev.keel.api;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.UnknownFieldSet;
import dev.keel.server.NestingLimits;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.protobuf.ProtoUtils;

import java.io.InputStream;

/**
 * How the gRPC edge parses requests, as etcd (grpc-go) does:
 * <ul>
 *   <li>Nesting up to {@link NestingLimits#RECURSION_LIMIT} message levels (protobuf-java's default is 100; Go has
 *       none), the same limit as everywhere else a request is parsed, so a Txn the validator accepts always gets
 *       through.</li>
 *   <li>A request that does not parse is answered {@code INTERNAL "grpc: error unmarshalling request: ..."} (grpc-go's
 *       text) instead of the {@code "Half-closed without a request"} a throwing marshaller leads to.</li>
 * </ul>
 * A service applies it in its {@code bindService()}: {@code return GrpcRequestParsing.apply(super.bindService());}.
 */
final class GrpcRequestParsing {

    /** The unknown field (the highest field number protobuf allows) that marks a request which did not parse. */
    private static final int MALFORMED_MARK = (1 << 29) - 1;
    private static final String PREFIX = "grpc: error unmarshalling request: ";

    private GrpcRequestParsing() {
    }

    static ServerServiceDefinition apply(ServerServiceDefinition def) {
        ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(def.getServiceDescriptor().getName());
        for (ServerMethodDefinition<?, ?> m : def.getMethods()) {
            b.addMethod(wrap(m));
        }
        return b.build();
    }

    private static <Q, R> ServerMethodDefinition<Q, R> wrap(ServerMethodDefinition<Q, R> m) {
        MethodDescriptor<Q, R> md = m.getMethodDescriptor();
        if (!(md.getRequestMarshaller() instanceof MethodDescriptor.PrototypeMarshaller<Q> pm)
                || !(pm.getMessagePrototype() instanceof Message proto)) {
            return m;
        }
        return ServerMethodDefinition.create(md.toBuilder(new Parsing<>(pm, proto), md.getResponseMarshaller()).build(),
                guard(m.getServerCallHandler()));
    }

    /** Parses with the raised recursion limit; a request that does not parse becomes a marked empty message. */
    private static final class Parsing<Q> implements MethodDescriptor.PrototypeMarshaller<Q> {
        private final MethodDescriptor.PrototypeMarshaller<Q> base;
        private final Message proto;
        private final MethodDescriptor.Marshaller<Message> limited;

        Parsing(MethodDescriptor.PrototypeMarshaller<Q> base, Message proto) {
            this.base = base;
            this.proto = proto;
            this.limited = ProtoUtils.marshallerWithRecursionLimit(proto, NestingLimits.RECURSION_LIMIT);
        }

        @Override
        public InputStream stream(Q value) {
            return base.stream(value);
        }

        @Override
        @SuppressWarnings("unchecked")
        public Q parse(InputStream stream) {
            try {
                return (Q) limited.parse(stream);
            } catch (RuntimeException e) {
                return (Q) proto.newBuilderForType().setUnknownFields(UnknownFieldSet.newBuilder()
                        .addField(MALFORMED_MARK, UnknownFieldSet.Field.newBuilder()
                                .addLengthDelimited(ByteString.copyFromUtf8(describe(e))).build())
                        .build()).build();
            }
        }

        @Override
        public Q getMessagePrototype() {
            return base.getMessagePrototype();
        }

        @Override
        public Class<Q> getMessageClass() {
            return base.getMessageClass();
        }
    }

    /** The parse error as grpc-go's proto codec words the common cases. */
    private static String describe(Throwable e) {
        Throwable c = e;
        while (c.getCause() != null && !(c instanceof InvalidProtocolBufferException)) {
            c = c.getCause();
        }
        String m = c.getMessage() == null ? c.toString() : c.getMessage();
        if (m.contains("truncated")) {
            return "unexpected EOF";
        }
        return "proto: " + m;
    }

    /** The parse error a request carries, or null if it parsed. */
    private static String malformed(Object request) {
        if (request instanceof Message msg) {
            UnknownFieldSet u = msg.getUnknownFields();
            if (u.hasField(MALFORMED_MARK)) {
                var values = u.getField(MALFORMED_MARK).getLengthDelimitedList();
                return values.isEmpty() ? "proto: malformed" : values.get(0).toStringUtf8();
            }
        }
        return null;
    }

    /** Answers a request that did not parse with grpc-go's error; the method never sees it. */
    private static <Q, R> ServerCallHandler<Q, R> guard(ServerCallHandler<Q, R> handler) {
        return (call, headers) -> new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(
                handler.startCall(call, headers)) {
            private boolean refused;

            @Override
            public void onMessage(Q message) {
                if (refused) {
                    return;
                }
                String error = malformed(message);
                if (error != null) {
                    refused = true;
                    ClientErrorLog.log("grpc", call.getMethodDescriptor().getFullMethodName(), PREFIX + error);
                    call.close(Status.INTERNAL.withDescription(PREFIX + error), new Metadata());
                    return;
                }
                super.onMessage(message);
            }

            @Override
            public void onHalfClose() {
                if (!refused) {
                    super.onHalfClose();
                }
            }

            @Override
            public void onReady() {
                if (!refused) {
                    super.onReady();
                }
            }
        };
    }
}
