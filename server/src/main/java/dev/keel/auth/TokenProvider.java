package dev.keel.auth;

/**
 * Issues and checks auth tokens (etcd's TokenProvider): simple tokens kept in memory by every member, or signed
 * JWTs. {@link #info} answers null for a token it does not accept.
 */
public interface TokenProvider {

    /** The user and auth revision a token stands for, or null if it is not valid (any more). */
    AuthInfo info(String token, long currentRevision);

    /**
     * A new token for {@code username}, called on every member when the Authenticate entry at {@code index}
     * applies; {@code prefix} is the random part chosen by the member that proposed it (simple tokens).
     */
    String assign(String username, long revision, String prefix, long index);

    /** A random prefix for a simple token, chosen before proposing; empty for providers that need none. */
    default String newPrefix() {
        return "";
    }

    /** Auth was enabled (nothing to do for providers that keep no state). */
    default void enable() {
    }

    /** Auth was disabled: every token issued so far is void (simple tokens; a JWT stays valid until it expires). */
    default void disable() {
    }

    /** The user was deleted or changed password: that user's tokens are void (simple tokens). */
    default void invalidateUser(String username) {
    }

    /** Nothing is issued: what etcd's "--auth-token=" (empty type) gives. */
    TokenProvider NONE = new TokenProvider() {
        @Override
        public AuthInfo info(String token, long currentRevision) {
            return null;
        }

        @Override
        public String assign(String username, long revision, String prefix, long index) {
            throw new dev.keel.errors.EtcdException(dev.keel.errors.EtcdError.Codes.UNKNOWN,
                    "auth: token provider is not set");
        }
    };
}
