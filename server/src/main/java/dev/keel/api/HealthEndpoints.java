package dev.keel.api;

import com.google.protobuf.ByteString;
import dev.keel.Main;
import dev.keel.errors.EtcdError;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.server.EtcdServer;
import dev.keel.server.Version;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * etcd 3.6's HTTP endpoints on the client port (server/etcdserver/api/etcdhttp): {@code /health},
 * {@code /livez}, {@code /readyz} (and one path per check below them) and {@code /version}. Texts, statuses and
 * content types are etcd's.
 */
@ApplicationScoped
public class HealthEndpoints {

    /** The key the health reads look at; only the read matters, not what it finds. */
    private static final ByteString HEALTH_KEY = ByteString.copyFromUtf8("health");

    /** A check: a failed future's error is the reason. */
    private interface Check extends Function<EtcdServer, CompletableFuture<Void>> {
    }

    /** A check's own failure, reported with its text as it is. */
    private static final class CheckFailed extends RuntimeException {
        CheckFailed(String message) {
            super(message, null, false, false);
        }
    }

    /** /livez: the process can serve local reads. */
    private static final Map<String, Check> LIVEZ = new LinkedHashMap<>();
    /** /readyz: the member can serve the cluster's clients. */
    private static final Map<String, Check> READYZ = new LinkedHashMap<>();

    static {
        LIVEZ.put("serializable_read", s -> read(s, true));
        READYZ.put("data_corruption", s -> s.maintenance().alarms().stream()
                .anyMatch(a -> a.getAlarm() == dev.keel.proto.etcdserverpb.AlarmType.CORRUPT)
                ? CompletableFuture.failedFuture(new CheckFailed("alarm activated: CORRUPT"))
                : CompletableFuture.completedFuture(null));
        READYZ.put("serializable_read", s -> read(s, true));
        READYZ.put("linearizable_read", s -> read(s, false));
        READYZ.put("non_learner", s -> s.status().getIsLearner()
                ? CompletableFuture.failedFuture(new CheckFailed("not supported for learner"))
                : CompletableFuture.completedFuture(null));
    }

    void routes(@Observes Router router) {
        router.route("/health").handler(this::health);
        router.route("/version").handler(this::version);
        install(router, "/livez", LIVEZ);
        install(router, "/readyz", READYZ);
    }

    private void install(Router router, String root, Map<String, Check> checks) {
        router.route(root).handler(ctx -> {
            Set<String> excluded = new HashSet<>();
            for (String e : ctx.queryParam("exclude")) {
                if (!e.isEmpty()) {
                    excluded.add(e);
                }
            }
            List<String> run = new ArrayList<>();
            for (String name : checks.keySet()) {
                if (!excluded.contains(name)) { // excluding an unknown check is no error, as in etcd
                    run.add(name);
                }
            }
            runChecks(ctx, checks, run);
        });
        for (String name : checks.keySet()) {
            router.route(root + "/" + name).handler(ctx -> runChecks(ctx, checks, List.of(name)));
        }
    }

    // ---- /health ---------------------------------------------------------------------------------------------

    /**
     * {@code {"health":"true","reason":""}}, or 503 with "false" and why: an active alarm not named by
     * {@code ?exclude=NOSPACE} (etcd's "ALARM NOSPACE", "ALARM CORRUPT"), no leader (unless
     * {@code ?serializable=true}), or the read failed. The read is linearizable unless {@code ?serializable=true}.
     */
    private void health(RoutingContext ctx) {
        HttpServerResponse r = ctx.response();
        if (ctx.request().method() != HttpMethod.GET) {
            Http.methodNotAllowed(r);
            return;
        }
        boolean serializable = "true".equals(first(ctx, "serializable"));
        EtcdServer s = Main.server();
        // etcd checks the cluster's alarms first, except those named by ?exclude=
        List<String> excluded = ctx.queryParam("exclude");
        for (dev.keel.proto.etcdserverpb.AlarmMember a : s.maintenance().alarms()) {
            if (excluded.contains(a.getAlarm().name())) {
                continue;
            }
            healthAnswer(r, false, switch (a.getAlarm()) {
                case NOSPACE -> "ALARM NOSPACE";
                case CORRUPT -> "ALARM CORRUPT";
                default -> "ALARM UNKNOWN";
            });
            return;
        }
        if (!serializable && s.status().getLeader() == 0) {
            healthAnswer(r, false, "RAFT NO LEADER");
            return;
        }
        read(s, serializable).whenComplete((v, err) -> {
            if (err != null) {
                healthAnswer(r, false, "RANGE ERROR:" + reason(err));
            } else {
                healthAnswer(r, true, "");
            }
        });
    }

    private static void healthAnswer(HttpServerResponse r, boolean healthy, String reason) {
        (healthy ? dev.keel.metrics.Metrics.HEALTH_SUCCESS : dev.keel.metrics.Metrics.HEALTH_FAILURES).inc();
        String json = "{\"health\":" + Http.goQuote(Boolean.toString(healthy)) + ",\"reason\":" + Http.goQuote(reason)
                + "}";
        if (!healthy) {
            Http.error(r, 503, json);
            return;
        }
        if (r.ended() || r.closed()) {
            return;
        }
        // etcd writes no content type here; Go sniffs JSON as text
        Http.cors(r).setStatusCode(200).putHeader("Content-Type", Http.TEXT_PLAIN).end(json);
    }

    // ---- /livez, /readyz ---------------------------------------------------------------------------------

    /**
     * Runs the checks one after another. All passed: 200 and "ok" (after one line per check with
     * {@code ?verbose}); any failed: 503 and one line per check, "[+]name ok" or "[-]name failed: reason".
     */
    private static void runChecks(RoutingContext ctx, Map<String, Check> checks, List<String> names) {
        HttpServerResponse r = ctx.response();
        if (ctx.request().method() != HttpMethod.GET) {
            Http.methodNotAllowed(r);
            return;
        }
        boolean verbose = ctx.queryParams().contains("verbose");
        EtcdServer s = Main.server();
        StringBuilder out = new StringBuilder();
        boolean[] failed = {false};
        CompletableFuture<Void> chain = CompletableFuture.completedFuture(null);
        for (String name : names) {
            chain = chain.thenCompose(v -> {
                CompletableFuture<Void> c;
                try {
                    c = checks.get(name).apply(s);
                } catch (RuntimeException e) {
                    c = CompletableFuture.failedFuture(e);
                }
                return c.handle((ok, err) -> {
                    synchronized (out) {
                        if (err != null) {
                            failed[0] = true;
                            out.append("[-]").append(name).append(" failed: ").append(reason(err)).append('\n');
                        } else {
                            out.append("[+]").append(name).append(" ok\n");
                        }
                    }
                    return null;
                });
            });
        }
        chain.whenComplete((v, err) -> {
            String reason;
            synchronized (out) {
                reason = out.toString();
            }
            if (failed[0]) {
                Http.error(r, 503, reason);
                return;
            }
            if (r.ended() || r.closed()) {
                return;
            }
            Http.cors(r).setStatusCode(200)
                    .putHeader("Content-Type", Http.TEXT_PLAIN)
                    .putHeader("X-Content-Type-Options", "nosniff")
                    .end((verbose ? reason : "") + "ok\n");
        });
    }

    // ---- /version --------------------------------------------------------------------------------------------

    private void version(RoutingContext ctx) {
        HttpServerResponse r = ctx.response();
        if (ctx.request().method() != HttpMethod.GET) {
            Http.methodNotAllowed(r);
            return;
        }
        // the cluster and storage versions follow a downgrade, as etcd's version monitor moves them
        String cluster = Main.server().clusterVersion();
        Http.cors(r).setStatusCode(200).putHeader("Content-Type", Http.JSON)
                .end("{\"etcdserver\":" + Http.goQuote(Version.SERVER)
                        + ",\"etcdcluster\":" + Http.goQuote(cluster)
                        + ",\"storage\":" + Http.goQuote(cluster) + "}");
    }

    // ---- helpers -------------------------------------------------------------------------------------------

    /**
     * etcd's health read: one key, keys only, serializable or linearizable, bounded by etcd's request timeout
     * (5 s plus two election timeouts).
     */
    private static CompletableFuture<Void> read(EtcdServer s, boolean serializable) {
        String failure = s.failure();
        if (failure != null) {
            // a member whose state machine stopped still has its data, but it no longer follows the log
            return CompletableFuture.failedFuture(new CheckFailed(EtcdError.STOPPED.message()));
        }
        long timeoutMs = 5000 + 2 * s.config().electionTimeoutMs();
        return s.range(RangeRequest.newBuilder().setKey(HEALTH_KEY).setKeysOnly(true).setLimit(1)
                        .setSerializable(serializable).build())
                .orTimeout(timeoutMs, TimeUnit.MILLISECONDS)
                .thenApply(resp -> null);
    }

    /** A failure as etcd prints it: its error text. */
    private static String reason(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof TimeoutException) {
            return EtcdError.TIMEOUT.message();
        }
        if (t instanceof CheckFailed) {
            return t.getMessage();
        }
        String d = GrpcErrors.toStatus(t).getStatus().getDescription();
        return d == null ? String.valueOf(t) : d;
    }

    private static String first(RoutingContext ctx, String param) {
        List<String> v = ctx.queryParam(param);
        return v.isEmpty() ? null : v.get(0);
    }
}
