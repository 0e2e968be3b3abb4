package dev.keel.server;

import dev.keel.proto.etcdserverpb.Member;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The encodings of etcd's backend values that Keel writes (as etcd's own code and tests write them). */
class EtcdBackendLayoutTest {

    @Test
    void revisionBytesAreMainUnderscoreSub() {
        byte[] b = EtcdBackendLayout.revBytes(0x0102);
        assertArrayEquals(new byte[]{0, 0, 0, 0, 0, 0, 1, 2, '_', 0, 0, 0, 0, 0, 0, 0, 0}, b);
        assertEquals(0x0102, EtcdBackendLayout.revMain(b));
        byte[] tomb = java.util.Arrays.copyOf(b, 18);
        tomb[17] = 't';
        assertEquals(0x0102, EtcdBackendLayout.revMain(tomb));
        assertThrows(IllegalArgumentException.class, () -> EtcdBackendLayout.revMain(new byte[8]));
    }

    @Test
    void confStateAsGoMarshalsRaftpbConfState() {
        // etcd's schema_test: a ConfState with no voters is {"auto_leave":false}
        assertEquals("{\"auto_leave\":false}", EtcdBackendLayout.confStateJson(List.of(), List.of()));
        assertEquals("{\"voters\":[1,18446744073709551615],\"learners\":[3],\"auto_leave\":false}",
                EtcdBackendLayout.confStateJson(List.of(1L, -1L), List.of(3L)));
    }

    @Test
    void memberAsGoMarshalsMembershipMember() {
        Member m = Member.newBuilder().setID(-8_000_000_000_000_000_000L).setName("n<1>")
                .addPeerURLs("http://127.0.0.1:2380").addClientURLs("http://127.0.0.1:2379").build();
        assertEquals("{\"id\":10446744073709551616,\"peerURLs\":[\"http://127.0.0.1:2380\"],"
                + "\"name\":\"n\\u003c1\\u003e\",\"clientURLs\":[\"http://127.0.0.1:2379\"]}",
                EtcdBackendLayout.memberJson(m));
        Member learner = Member.newBuilder().setID(5).addPeerURLs("http://a:2380").setIsLearner(true).build();
        assertEquals("{\"id\":5,\"peerURLs\":[\"http://a:2380\"],\"isLearner\":true}",
                EtcdBackendLayout.memberJson(learner));
        assertEquals("8e9e05c52164694d", EtcdBackendLayout.memberKey(0x8e9e05c52164694dL));
        assertEquals("5", EtcdBackendLayout.memberKey(5));
    }
}
