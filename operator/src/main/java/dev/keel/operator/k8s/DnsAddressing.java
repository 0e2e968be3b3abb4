package dev.keel.operator.k8s;

import dev.keel.operator.core.MemberAddressing;

/**
 * Members under the cluster's headless peer Service: {@code <member>.<cluster>-peer.<ns>.svc}. The Service publishes
 * not-ready addresses, so learners (which are not ready by design) resolve too. Members bind all interfaces.
 */
public record DnsAddressing(String cluster, String namespace, String domain) implements MemberAddressing {

    public static final int CLIENT_PORT = 2379;
    public static final int PEER_PORT = 2380;

    public DnsAddressing(String cluster, String namespace) {
        this(cluster, namespace, "svc");
    }

    public static String peerService(String cluster) {
        return cluster + "-peer";
    }

    public static String clientService(String cluster) {
        return cluster + "-client";
    }

    private String host(String member) {
        return member + "." + peerService(cluster) + "." + namespace + "." + domain;
    }

    @Override
    public String peerUrl(String memberName) {
        return "http://" + host(memberName) + ":" + PEER_PORT;
    }

    @Override
    public String clientUrl(String memberName) {
        return "http://" + host(memberName) + ":" + CLIENT_PORT;
    }

    @Override
    public String listenPeerUrl(String memberName) {
        return "http://0.0.0.0:" + PEER_PORT;
    }

    @Override
    public String listenClientUrl(String memberName) {
        return "http://0.0.0.0:" + CLIENT_PORT;
    }
}
