package dev.keel.errors;

/**
 * An error to report to the client as etcd would: a gRPC status code number and etcd's text. Thrown by any layer;
 * the API layer turns it into a gRPC status or a gateway JSON error.
 */
public final class EtcdException extends RuntimeException {
    private final int code;

    public EtcdException(EtcdError error) {
        this(error.code(), error.message());
    }

    public EtcdException(int code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    public int code() {
        return code;
    }
}
