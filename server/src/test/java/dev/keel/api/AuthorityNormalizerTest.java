package dev.keel.api;

import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class AuthorityNormalizerTest {

    @Test
    void schemeIsDropped() {
        assertEquals("127.0.0.1:2379", AuthorityNormalizer.withoutScheme("http://127.0.0.1:2379"));
        assertEquals("127.0.0.1:2379", AuthorityNormalizer.withoutScheme("https://127.0.0.1:2379/"));
        assertEquals("[::1]:2379", AuthorityNormalizer.withoutScheme("http://[::1]:2379/some/path?q"));
        assertEquals("etcd-0.etcd:2379", AuthorityNormalizer.withoutScheme("unix+x://etcd-0.etcd:2379"));
    }

    @Test
    void otherAuthoritiesAreLeftAlone() {
        assertNull(AuthorityNormalizer.withoutScheme("127.0.0.1:2379"));
        assertNull(AuthorityNormalizer.withoutScheme("localhost"));
        assertNull(AuthorityNormalizer.withoutScheme("http://"));
        assertNull(AuthorityNormalizer.withoutScheme("://host:1"));
        assertNull(AuthorityNormalizer.withoutScheme("1http://host:1"));
        assertNull(AuthorityNormalizer.withoutScheme("ht tp://host:1"));
    }

    @Test
    void headersAreRewrittenInPlace() {
        Http2Headers h = new DefaultHttp2Headers().authority("http://127.0.0.1:2379").path("/x");
        AuthorityNormalizer.normalise(h);
        assertEquals("127.0.0.1:2379", h.authority().toString());
        Http2Headers none = new DefaultHttp2Headers().path("/x");
        AuthorityNormalizer.normalise(none);
        assertNull(none.authority());
    }
}
