package dev.keel.auth;

/**
 * Who a request comes from, as a token or a client certificate established it: the user name and the auth store
 * revision the credentials were checked at. {@link #NONE} (empty name, revision 0) is an unauthenticated caller.
 */
public record AuthInfo(String username, long revision) {

    public static final AuthInfo NONE = new AuthInfo("", 0);

    public AuthInfo {
        username = username == null ? "" : username;
    }
}
