package dev.keel.server;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.proto.internal.LeaderAnswer;
import dev.keel.proto.internal.LeaderQuery;
import dev.keel.raft.RaftNode;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * What a member asks the leader outside the log ({@link RaftNode#askLeader}: over the Raft connection, so peer TLS
 * applies): lease renewals and TimeToLive, promotions, snapshot tickets. The asking member has already checked its
 * client's permissions; the leader answers with a result or with the client's error.
 */
final class LeaderQuestions {
    /** How long one question is asked again while leadership moves (etcd: the request timeout). */
    static final long PATIENCE_MS = 5000;
    private static final long RETRY_MS = 50;

    private LeaderQuestions() {
    }

    /**
     * Asks the leader; an error answer becomes the client's {@link EtcdException}. When the member asked no longer
     * leads ("not leader", "leader changed") the question is asked again, until {@link #PATIENCE_MS}.
     */
    static CompletableFuture<LeaderAnswer> ask(RaftNode raft, LeaderQuery q, Executor retries) {
        return ask(raft, q, retries, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(PATIENCE_MS));
    }

    private static CompletableFuture<LeaderAnswer> ask(RaftNode raft, LeaderQuery q, Executor retries,
                                                       long deadlineNanos) {
        return raft.askLeader(q.toByteArray()).thenCompose(bytes -> {
            final LeaderAnswer a;
            try {
                a = LeaderAnswer.parseFrom(bytes);
            } catch (InvalidProtocolBufferException e) {
                throw new CompletionException(new EtcdException(EtcdError.Codes.INTERNAL,
                        "keel: malformed answer from the leader: " + e.getMessage()));
            }
            if (a.getErrorCode() == 0) {
                return CompletableFuture.completedFuture(a);
            }
            final boolean moved = a.getErrorMessage().equals(EtcdError.NOT_LEADER.message())
                    || a.getErrorMessage().equals(EtcdError.LEADER_CHANGED.message());
            if (moved && System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RETRY_MS) < deadlineNanos) {
                return CompletableFuture.supplyAsync(() -> null,
                                CompletableFuture.delayedExecutor(RETRY_MS, TimeUnit.MILLISECONDS, retries))
                        .thenCompose(v -> ask(raft, q, retries, deadlineNanos));
            }
            throw new CompletionException(new EtcdException((int) a.getErrorCode(), a.getErrorMessage()));
        });
    }

    /** An answer carrying the client's error (anything that is not an etcd error answers "unknown"). */
    static LeaderAnswer error(Throwable t) {
        EtcdException e = Errors.toEtcd(t);
        if (e == null) {
            e = new EtcdException(EtcdError.Codes.UNKNOWN, String.valueOf(Errors.unwrap(t).getMessage()));
        }
        return LeaderAnswer.newBuilder().setErrorCode(e.code()).setErrorMessage(e.getMessage()).build();
    }

    /** An answer for a question this member does not take. */
    static LeaderAnswer unsupported(LeaderQuery q) {
        return error(new EtcdException(EtcdError.Codes.UNIMPLEMENTED, "keel: unsupported question "
                + q.getQueryCase()));
    }
}
