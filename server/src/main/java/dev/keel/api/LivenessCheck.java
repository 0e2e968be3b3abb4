package dev.keel.api;

import com.google.protobuf.ByteString;
import dev.keel.Main;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.server.EtcdServer;
import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Liveness;

import java.util.concurrent.TimeUnit;

/**
 * {@code /q/health/live} (SmallRye Health), for a Kubernetes liveness probe: the member is up and its storage
 * answers a local read (serializable, as etcd's {@code /livez}), so it needs no leader and no quorum. DOWN only
 * when the process is stuck or its storage fails, i.e. when a restart may help.
 */
@Liveness
@ApplicationScoped
public class LivenessCheck implements HealthCheck {

    static final ByteString HEALTH_KEY = ByteString.copyFromUtf8("health");
    /** How long the local read may take before the member counts as stuck. */
    static final long READ_TIMEOUT_MS = 5000;

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder b = HealthCheckResponse.named("keel-storage-read");
        try {
            EtcdServer s = Main.server();
            String failure = s.failure();
            if (failure != null) {
                return b.down().withData("error", failure).build();
            }
            s.range(RangeRequest.newBuilder().setKey(HEALTH_KEY).setKeysOnly(true).setLimit(1)
                    .setSerializable(true).build()).get(READ_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            return b.up().build();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return b.down().withData("error", "interrupted").build();
        } catch (Exception e) {
            return b.down().withData("error", ReadinessCheck.describe(e)).build();
        }
    }
}
