package dev.keel.server;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * Member and cluster ids derived the way etcd derives them, so a cluster bootstrapped with the same flags has the
 * same ids as etcd would give it (the default single member is 8e9e05c52164694d in cluster cdf818194e3a8c32).
 */
public final class ClusterIds {
    private ClusterIds() {
    }

    /** SHA-1 over the sorted, concatenated peer URLs followed by the cluster token; first 8 bytes big-endian. */
    public static long memberId(Collection<URI> peerUrls, String token) {
        List<String> urls = new ArrayList<>();
        for (URI u : peerUrls) {
            urls.add(u.toString());
        }
        urls.sort(null);
        String joined = String.join("", urls) + token;
        return first8(sha1(joined.getBytes(StandardCharsets.UTF_8)));
    }

    /** SHA-1 over the sorted member ids, each 8 bytes big-endian; first 8 bytes big-endian. */
    public static long clusterId(Collection<Long> memberIds) {
        List<Long> ids = new ArrayList<>(memberIds);
        ids.sort(Long::compareUnsigned);
        byte[] b = new byte[8 * ids.size()];
        for (int i = 0; i < ids.size(); i++) {
            long v = ids.get(i);
            for (int j = 7; j >= 0; j--) {
                b[8 * i + j] = (byte) v;
                v >>>= 8;
            }
        }
        return first8(sha1(b));
    }

    public static String hex(long id) {
        return Long.toHexString(id);
    }

    private static byte[] sha1(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-1").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long first8(byte[] h) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (h[i] & 0xFF);
        }
        return v;
    }
}
