package dev.keel.api;

import io.vertx.core.http.HttpServerResponse;

/** What every plain HTTP answer on the client port shares with etcd's: CORS headers, Go's texts and quoting. */
final class Http {

    static final String TEXT_PLAIN = "text/plain; charset=utf-8";
    static final String JSON = "application/json";

    private Http() {
    }

    /**
     * etcd's default {@code --cors=*}: its access controller adds these to every HTTP answer on the client port
     * (not to gRPC).
     */
    static HttpServerResponse cors(HttpServerResponse r) {
        return r.putHeader("Access-Control-Allow-Methods", "POST, GET, OPTIONS, PUT, DELETE")
                .putHeader("Access-Control-Allow-Origin", "*")
                .putHeader("Access-Control-Allow-Headers", "accept, content-type, authorization");
    }

    /** Go's {@code http.Error}: plain text, nosniff, the text and a newline. */
    static void error(HttpServerResponse r, int status, String text) {
        if (r.ended()) {
            return;
        }
        cors(r).setStatusCode(status)
                .putHeader("Content-Type", TEXT_PLAIN)
                .putHeader("X-Content-Type-Options", "nosniff")
                .end(text + "\n");
    }

    /** Go's handlers answer other methods with 405, {@code Allow: GET} and "Method Not Allowed". */
    static void methodNotAllowed(HttpServerResponse r) {
        r.putHeader("Allow", "GET");
        error(r, 405, "Method Not Allowed");
    }

    /**
     * A JSON string as Go's encoding/json writes it: quotes, backslashes and control characters escaped, and
     * also {@code <}, {@code >}, {@code &}, U+2028 and U+2029 (its HTML-safe default).
     */
    static String goQuote(String s) {
        return quote(s, true);
    }

    /** A JSON string as Go's protojson writes it: like {@link #goQuote} but without the HTML escapes. */
    static String protoQuote(String s) {
        return quote(s, false);
    }

    private static String quote(String s, boolean htmlSafe) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20 || htmlSafe && (c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029')) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
