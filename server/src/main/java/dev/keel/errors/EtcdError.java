package dev.keel.errors;

/**
 * etcd's client-visible errors: gRPC status code (as its number, so no layer below the API needs gRPC types)
 * and the exact text etcd sends. Clients match on these texts, so they must not change.
 */
public enum EtcdError {
    EMPTY_KEY(Codes.INVALID_ARGUMENT, "etcdserver: key is not provided"),
    KEY_NOT_FOUND(Codes.INVALID_ARGUMENT, "etcdserver: key not found"),
    VALUE_PROVIDED(Codes.INVALID_ARGUMENT, "etcdserver: value is provided"),
    LEASE_PROVIDED(Codes.INVALID_ARGUMENT, "etcdserver: lease is provided"),
    TOO_MANY_OPS(Codes.INVALID_ARGUMENT, "etcdserver: too many operations in txn request"),
    DUPLICATE_KEY(Codes.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request"),
    INVALID_SORT_OPTION(Codes.INVALID_ARGUMENT, "etcdserver: invalid sort option"),
    COMPACTED(Codes.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"),
    FUTURE_REV(Codes.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"),
    NO_SPACE(Codes.RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded"),
    LEASE_NOT_FOUND(Codes.NOT_FOUND, "etcdserver: requested lease not found"),
    LEASE_EXIST(Codes.FAILED_PRECONDITION, "etcdserver: lease already exists"),
    LEASE_TTL_TOO_LARGE(Codes.OUT_OF_RANGE, "etcdserver: too large lease TTL"),
    REQUEST_TOO_LARGE(Codes.INVALID_ARGUMENT, "etcdserver: request is too large"),
    NO_LEADER(Codes.UNAVAILABLE, "etcdserver: no leader"),
    NOT_LEADER(Codes.FAILED_PRECONDITION, "etcdserver: not leader"),
    LEADER_CHANGED(Codes.UNAVAILABLE, "etcdserver: leader changed"),
    TIMEOUT(Codes.UNAVAILABLE, "etcdserver: request timed out"),
    STOPPED(Codes.UNAVAILABLE, "etcdserver: server stopped"),
    NOT_CAPABLE(Codes.FAILED_PRECONDITION, "etcdserver: not capable"),
    MEMBER_NOT_FOUND(Codes.NOT_FOUND, "etcdserver: member not found"),
    MEMBER_EXIST(Codes.FAILED_PRECONDITION, "etcdserver: member ID already exist"),
    PEER_URL_EXIST(Codes.FAILED_PRECONDITION, "etcdserver: Peer URLs already exists"),
    MEMBER_NOT_ENOUGH_STARTED(Codes.FAILED_PRECONDITION,
            "etcdserver: re-configuration failed due to not enough started members"),
    MEMBER_BAD_URLS(Codes.INVALID_ARGUMENT, "etcdserver: given member URLs are invalid"),
    MEMBER_NOT_LEARNER(Codes.FAILED_PRECONDITION, "etcdserver: can only promote a learner member"),
    LEARNER_NOT_READY(Codes.FAILED_PRECONDITION,
            "etcdserver: can only promote a learner member which is in sync with leader"),
    TOO_MANY_LEARNERS(Codes.FAILED_PRECONDITION, "etcdserver: too many learner members in cluster"),
    UNHEALTHY(Codes.UNAVAILABLE, "etcdserver: unhealthy cluster"),
    NOT_ENOUGH_STARTED_MEMBERS(Codes.FAILED_PRECONDITION,
            "etcdserver: re-configuration failed due to not enough started members"),
    NOT_SUPPORTED_FOR_LEARNER(Codes.FAILED_PRECONDITION, "etcdserver: rpc not supported for learner"),
    TIMEOUT_LEADER_TRANSFER(Codes.UNAVAILABLE, "etcdserver: request timed out, leader transfer took too long"),
    BAD_LEADER_TRANSFEREE(Codes.FAILED_PRECONDITION, "etcdserver: bad leader transferee"),
    PERMISSION_DENIED(Codes.PERMISSION_DENIED, "etcdserver: permission denied"),
    CORRUPT(Codes.DATA_LOSS, "etcdserver: corrupt cluster"),
    UNKNOWN_METHOD(Codes.UNKNOWN, "etcdserver: unknown method"),
    WRONG_DOWNGRADE_VERSION_FORMAT(Codes.INVALID_ARGUMENT, "etcdserver: wrong downgrade target version format"),
    INVALID_DOWNGRADE_TARGET_VERSION(Codes.INVALID_ARGUMENT, "etcdserver: invalid downgrade target version"),
    CLUSTER_VERSION_UNAVAILABLE(Codes.FAILED_PRECONDITION, "etcdserver: cluster version not found during downgrade"),
    DOWNGRADE_IN_PROCESS(Codes.FAILED_PRECONDITION, "etcdserver: cluster has a downgrade job in progress"),
    NO_INFLIGHT_DOWNGRADE(Codes.FAILED_PRECONDITION, "etcdserver: no inflight downgrade job"),
    // auth (etcd's api/v3rpc/rpctypes)
    ROOT_USER_NOT_EXIST(Codes.FAILED_PRECONDITION, "etcdserver: root user does not exist"),
    ROOT_ROLE_NOT_EXIST(Codes.FAILED_PRECONDITION, "etcdserver: root user does not have root role"),
    USER_ALREADY_EXIST(Codes.FAILED_PRECONDITION, "etcdserver: user name already exists"),
    USER_EMPTY(Codes.INVALID_ARGUMENT, "etcdserver: user name is empty"),
    USER_NOT_FOUND(Codes.FAILED_PRECONDITION, "etcdserver: user name not found"),
    ROLE_ALREADY_EXIST(Codes.FAILED_PRECONDITION, "etcdserver: role name already exists"),
    ROLE_NOT_FOUND(Codes.FAILED_PRECONDITION, "etcdserver: role name not found"),
    ROLE_EMPTY(Codes.INVALID_ARGUMENT, "etcdserver: role name is empty"),
    AUTH_FAILED(Codes.INVALID_ARGUMENT, "etcdserver: authentication failed, invalid user ID or password"),
    PERMISSION_NOT_GIVEN(Codes.INVALID_ARGUMENT, "etcdserver: permission not given"),
    ROLE_NOT_GRANTED(Codes.FAILED_PRECONDITION, "etcdserver: role is not granted to the user"),
    PERMISSION_NOT_GRANTED(Codes.FAILED_PRECONDITION, "etcdserver: permission is not granted to the role"),
    AUTH_NOT_ENABLED(Codes.FAILED_PRECONDITION, "etcdserver: authentication is not enabled"),
    INVALID_AUTH_TOKEN(Codes.UNAUTHENTICATED, "etcdserver: invalid auth token"),
    INVALID_AUTH_MGMT(Codes.INVALID_ARGUMENT, "etcdserver: invalid auth management"),
    AUTH_OLD_REVISION(Codes.INVALID_ARGUMENT, "etcdserver: revision of auth store is old"),
    /** Not in etcd's table, so its gRPC layer sends the auth package's own text with code Unknown. */
    NO_PASSWORD_USER(Codes.UNKNOWN, "auth: authentication failed, password was given for no password user");

    private final int code;
    private final String message;

    EtcdError(int code, String message) {
        this.code = code;
        this.message = message;
    }

    /** gRPC status code number. */
    public int code() {
        return code;
    }

    public String message() {
        return message;
    }

    public EtcdException exception() {
        return new EtcdException(this);
    }

    /** gRPC status code numbers (io.grpc.Status.Code ordinals). */
    public static final class Codes {
        public static final int OK = 0;
        public static final int CANCELLED = 1;
        public static final int UNKNOWN = 2;
        public static final int INVALID_ARGUMENT = 3;
        public static final int DEADLINE_EXCEEDED = 4;
        public static final int NOT_FOUND = 5;
        public static final int ALREADY_EXISTS = 6;
        public static final int PERMISSION_DENIED = 7;
        public static final int RESOURCE_EXHAUSTED = 8;
        public static final int FAILED_PRECONDITION = 9;
        public static final int ABORTED = 10;
        public static final int OUT_OF_RANGE = 11;
        public static final int UNIMPLEMENTED = 12;
        public static final int INTERNAL = 13;
        public static final int UNAVAILABLE = 14;
        public static final int DATA_LOSS = 15;
        public static final int UNAUTHENTICATED = 16;

        private Codes() {
        }
    }
}
