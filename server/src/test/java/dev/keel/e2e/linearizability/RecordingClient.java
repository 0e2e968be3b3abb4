package dev.keel.e2e.linearizability;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.common.exception.EtcdException;
import io.etcd.jetcd.kv.DeleteResponse;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.PutResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.options.PutOption;
import io.grpc.Status;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * One logical client: wraps a jetcd {@link KV} and records every operation in a {@link History}. Each method
 * blocks until the outcome is known or the timeout passes, and returns the result, or null when the operation
 * failed or its outcome is unknown (the history has it right either way).
 *
 * <p>Classification of errors ({@link #classify}): gRPC codes by which etcd (or the client) rejects a request
 * before it is proposed — INVALID_ARGUMENT (e.g. request too large), FAILED_PRECONDITION, OUT_OF_RANGE, NOT_FOUND,
 * ALREADY_EXISTS, PERMISSION_DENIED, UNAUTHENTICATED, UNIMPLEMENTED, RESOURCE_EXHAUSTED (too many requests, no
 * space: the write is refused, never applied) — drop the operation as definitely not applied. Everything else —
 * our own timeout, DEADLINE_EXCEEDED, UNAVAILABLE ("no leader", "leader changed", "request timed out", connection
 * refused/reset), CANCELLED, UNKNOWN, INTERNAL, ABORTED, any non-gRPC exception — is an unknown outcome. A failed
 * or unknown GET is simply dropped (a read has no effect).
 *
 * <p>jetcd does not retry puts, deletes or txns by itself unless asked to ({@code withAutoRetry}, not used here),
 * so one recorded operation is one request; gets may be retried by jetcd, which is harmless. One instance must not
 * be used by two threads at once (a client issues one operation at a time), but any number of instances may share
 * a History and a jetcd Client.
 */
public final class RecordingClient {

    /** How an error is counted. */
    public enum Outcome { FAILED, UNKNOWN }

    private static final Set<Status.Code> DEFINITE = EnumSet.of(Status.Code.INVALID_ARGUMENT,
            Status.Code.FAILED_PRECONDITION, Status.Code.OUT_OF_RANGE, Status.Code.NOT_FOUND,
            Status.Code.ALREADY_EXISTS, Status.Code.PERMISSION_DENIED, Status.Code.UNAUTHENTICATED,
            Status.Code.UNIMPLEMENTED, Status.Code.RESOURCE_EXHAUSTED);

    private final History history;
    private final int clientId;
    private final KV kv;
    private final Duration timeout;
    private int failed;
    private int unknown;
    private Throwable lastError;

    public RecordingClient(History history, int clientId, KV kv) {
        this(history, clientId, kv, Duration.ofSeconds(5));
    }

    public RecordingClient(History history, int clientId, KV kv, Duration timeout) {
        this.history = history;
        this.clientId = clientId;
        this.kv = kv;
        this.timeout = timeout;
    }

    public int clientId() {
        return clientId;
    }

    /** Operations of this client that definitely failed (dropped from the history). */
    public int failedCount() {
        return failed;
    }

    /** Operations of this client with an unknown outcome. */
    public int unknownCount() {
        return unknown;
    }

    /** The last error seen, for diagnostics. */
    public Throwable lastError() {
        return lastError;
    }

    public Result put(String key, String value) {
        return run(Op.put(key, value), () -> kv.put(bs(key), bs(value)),
                (PutResponse r) -> Result.put(r.getHeader().getRevision()));
    }

    /** A linearizable get (jetcd's default). */
    public Result get(String key) {
        return run(Op.get(key), () -> kv.get(bs(key)), (GetResponse r) -> {
            long header = r.getHeader().getRevision();
            if (r.getKvs().isEmpty()) {
                return Result.get(null, 0, header);
            }
            KeyValue k = r.getKvs().get(0);
            return Result.get(k.getValue().toString(StandardCharsets.UTF_8), k.getModRevision(), header);
        });
    }

    public Result delete(String key) {
        return run(Op.delete(key), () -> kv.delete(bs(key)),
                (DeleteResponse r) -> Result.delete(r.getDeleted(), r.getHeader().getRevision()));
    }

    /** {@code txn(if value(key) == expected then put(key, newValue))}; {@code expected == null}: if key absent. */
    public Result cas(String key, String expected, String newValue) {
        Cmp cmp = expected == null
                ? new Cmp(bs(key), Cmp.Op.EQUAL, CmpTarget.version(0))
                : new Cmp(bs(key), Cmp.Op.EQUAL, CmpTarget.value(bs(expected)));
        return run(Op.cas(key, expected, newValue),
                () -> kv.txn().If(cmp).Then(io.etcd.jetcd.op.Op.put(bs(key), bs(newValue), PutOption.DEFAULT)).commit(),
                (TxnResponse r) -> Result.cas(r.isSucceeded(), r.getHeader().getRevision()));
    }

    private <R> Result run(Op op, java.util.function.Supplier<CompletableFuture<R>> send, Function<R, Result> result) {
        History.Pending p = history.begin(clientId, op);
        CompletableFuture<R> f = null;
        try {
            f = send.get();
            Result r = result.apply(f.get(timeout.toNanos(), TimeUnit.NANOSECONDS));
            p.ok(r);
            return r;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            settle(p, op, e, Outcome.UNKNOWN);
        } catch (TimeoutException e) {
            f.cancel(true);
            settle(p, op, e, Outcome.UNKNOWN);
        } catch (ExecutionException e) {
            settle(p, op, e.getCause(), classify(e.getCause()));
        } catch (RuntimeException e) {
            settle(p, op, e, classify(e));
        }
        return null;
    }

    private void settle(History.Pending p, Op op, Throwable error, Outcome outcome) {
        lastError = error;
        if (outcome == Outcome.FAILED || op.kind() == Op.Kind.GET) {
            failed++;
            p.fail();
        } else {
            unknown++;
            p.unknown();
        }
    }

    /** Whether an error proves the request was not applied (FAILED) or leaves it open (UNKNOWN). */
    public static Outcome classify(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            Status.Code code = null;
            if (t instanceof EtcdException e) {
                code = Status.Code.valueOf(e.getErrorCode().name());
            } else if (t instanceof io.grpc.StatusRuntimeException e) {
                code = e.getStatus().getCode();
            } else if (t instanceof io.grpc.StatusException e) {
                code = e.getStatus().getCode();
            }
            if (code != null) {
                return DEFINITE.contains(code) ? Outcome.FAILED : Outcome.UNKNOWN;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return Outcome.UNKNOWN;
    }

    private static ByteSequence bs(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }
}
