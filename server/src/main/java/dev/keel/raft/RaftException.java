package dev.keel.raft;

/** Why a proposal or read barrier failed. Subclasses name the cases callers must tell apart. */
public class RaftException extends RuntimeException {
    public RaftException(String message, Throwable cause) {
        super(message, cause);
    }

    public RaftException(String message) {
        super(message);
    }

    /** There is no leader right now (election in progress or no quorum). Retrying later may succeed. */
    public static final class NoLeader extends RaftException {
        public NoLeader(String message) {
            super(message);
        }
    }

    /** The request did not complete within the engine's timeout. Its outcome is unknown. */
    public static final class Timeout extends RaftException {
        public Timeout(String message) {
            super(message);
        }
    }

    /** This member is shutting down or not started. */
    public static final class Stopped extends RaftException {
        public Stopped(String message) {
            super(message);
        }
    }

    /** The operation needs the leader and this member is not it (or stopped being it). */
    public static final class NotLeader extends RaftException {
        public NotLeader(String message) {
            super(message);
        }
    }
}
