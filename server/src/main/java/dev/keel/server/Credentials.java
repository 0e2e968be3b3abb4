package dev.keel.server;

/**
 * What a request presented: the {@code token} metadata (gRPC) or Authorization header (gateway), and the common
 * name of the verified client certificate, if any. {@code viaGateway}: the request came through the JSON gateway,
 * where etcd ignores the certificate's name. The API layer fills it in; {@link Auth} turns it into a user.
 */
public record Credentials(String token, String certCommonName, boolean viaGateway) {

    /** Nothing presented. */
    public static final Credentials NONE = new Credentials(null, null, false);
}
