package dev.keel.server;

import org.junit.jupiter.api.Test;

import java.net.URI;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ClusterIdsTest {

    @Test
    void defaultMemberMatchesEtcd() {
        // etcd's well-known ids for a default single member (peer http://localhost:2380, token etcd-cluster)
        long member = ClusterIds.memberId(List.of(URI.create("http://localhost:2380")), "etcd-cluster");
        assertEquals("8e9e05c52164694d", ClusterIds.hex(member));
        assertEquals("cdf818194e3a8c32", ClusterIds.hex(ClusterIds.clusterId(List.of(member))));
    }

    @Test
    void idsDependOnUrlsAndTokenNotOrder() {
        long a = ClusterIds.memberId(List.of(URI.create("http://a:1"), URI.create("http://b:1")), "t");
        long b = ClusterIds.memberId(List.of(URI.create("http://b:1"), URI.create("http://a:1")), "t");
        assertEquals(a, b);
        assertNotEquals(a, ClusterIds.memberId(List.of(URI.create("http://a:1"), URI.create("http://b:1")), "u"));
        assertEquals(ClusterIds.clusterId(List.of(1L, 2L)), ClusterIds.clusterId(List.of(2L, 1L)));
    }
}
