package dev.keel.operator.core;

import java.util.List;

/**
 * The members' etcd v3 API as the operator uses it. Membership calls take the client URLs of the members to try
 * (any member forwards to the leader); Status and MoveLeader go to one member. Failures throw
 * {@link ClusterApiException} with etcd's message.
 */
public interface ClusterApi {

    record MemberListing(long clusterId, List<Member> members) { }

    MemberListing memberList(List<String> clientUrls);

    Member addLearner(List<String> clientUrls, String peerUrl);

    void promote(List<String> clientUrls, long memberId);

    void remove(List<String> clientUrls, long memberId);

    /** Never throws: an unreachable member is reported as such. */
    MemberHealth status(String clientUrl);

    void moveLeader(String leaderClientUrl, long targetId);

    void downgrade(List<String> clientUrls, Action.Downgrade.Kind kind, String version);

    class ClusterApiException extends RuntimeException {
        public ClusterApiException(String message, Throwable cause) {
            super(message, cause);
        }

        public ClusterApiException(String message) {
            super(message);
        }
    }
}
