package dev.keel.api;

import dev.keel.Main;
import dev.keel.proto.etcdserverpb.AlarmMember;
import dev.keel.proto.etcdserverpb.AlarmType;
import dev.keel.server.EtcdServer;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;

/**
 * {@code /q/health/ready} (SmallRye Health), for a Kubernetes readiness probe: the member can serve the cluster's
 * clients, i.e. its Raft engine knows a leader, no NOSPACE or CORRUPT alarm is active in the cluster (etcd's
 * {@code /health} fails on both too), and its data directory takes writes (a probe file written and fsynced).
 * DOWN (503) lists what failed in the check's data.
 */
@Readiness
@ApplicationScoped
public class ReadinessCheck implements HealthCheck {

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder b = HealthCheckResponse.named("keel-member");
        EtcdServer s;
        try {
            s = Main.server();
        } catch (RuntimeException e) {
            return b.down().withData("error", describe(e)).build();
        }
        boolean up = true;
        boolean leader = s.hasLeader();
        b.withData("leader", leader);
        if (!leader) {
            up = false;
            b.withData("error.leader", "etcdserver: no leader");
        }
        List<String> alarms = new ArrayList<>();
        try {
            for (AlarmMember a : s.maintenance().alarms()) {
                if (a.getAlarm() == AlarmType.NOSPACE || a.getAlarm() == AlarmType.CORRUPT) {
                    alarms.add(a.getAlarm().name() + " (member " + Long.toHexString(a.getMemberID()) + ")");
                }
            }
        } catch (RuntimeException e) {
            alarms.add("cannot read alarms: " + describe(e));
        }
        if (!alarms.isEmpty()) {
            up = false;
            b.withData("error.alarms", String.join(", ", alarms));
        }
        try {
            s.checkStorageWritable();
            b.withData("storage_writable", true);
        } catch (Exception e) {
            up = false;
            b.withData("storage_writable", false).withData("error.storage", describe(e));
        }
        return b.status(up).build();
    }

    static String describe(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof TimeoutException) {
            return "timed out";
        }
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }
}
