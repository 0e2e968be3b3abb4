package dev.keel.operator.core;

/**
 * Where a member is reached. In Kubernetes: the Pod's DNS name under the cluster's headless peer Service; in the
 * integration tests: a map of 127.0.0.1 ports. The peer URL is a member's identity in MemberList.
 */
public interface MemberAddressing {

    /** The peer URL the member advertises ({@code --initial-advertise-peer-urls}). */
    String peerUrl(String memberName);

    /** The client URL the member advertises and the operator dials ({@code http://host:port}). */
    String clientUrl(String memberName);

    /** What the member binds for peers ({@code --listen-peer-urls}). */
    default String listenPeerUrl(String memberName) {
        return peerUrl(memberName);
    }

    /** What the member binds for clients ({@code --listen-client-urls}). */
    default String listenClientUrl(String memberName) {
        return clientUrl(memberName);
    }
}
