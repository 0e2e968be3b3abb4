package dev.keel.e2e;

import io.grpc.MethodDescriptor;

/** A gRPC marshaller that sends and receives messages as raw bytes, for malformed and mutated requests. */
final class RawBytes implements MethodDescriptor.Marshaller<byte[]> {
    static final RawBytes MARSHALLER = new RawBytes();

    private RawBytes() {
    }

    @Override
    public java.io.InputStream stream(byte[] value) {
        return new java.io.ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(java.io.InputStream stream) {
        try {
            return stream.readAllBytes();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
