package dev.keel.server;

import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.raft.RaftException;

import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** What a failed request tells the client: the server's failures in etcd's terms, for every transport. */
public final class Errors {
    private Errors() {
    }

    /** The etcd error for {@code t} (unwrapping future wrappers), or null if it is not one the client should see. */
    public static EtcdException toEtcd(Throwable t) {
        t = unwrap(t);
        if (t instanceof EtcdException e) {
            return e;
        }
        if (t instanceof RaftException.NoLeader) {
            return EtcdError.NO_LEADER.exception();
        }
        if (t instanceof RaftException.Timeout || t instanceof java.util.concurrent.TimeoutException) {
            return EtcdError.TIMEOUT.exception();
        }
        if (t instanceof RaftException.NotLeader) {
            return EtcdError.NOT_LEADER.exception();
        }
        if (t instanceof RaftException.Stopped) {
            return EtcdError.STOPPED.exception();
        }
        return null;
    }

    /** Strips CompletionException / ExecutionException wrappers. */
    public static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
