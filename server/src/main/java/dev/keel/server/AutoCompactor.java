package dev.keel.server;

import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.proto.etcdserverpb.CompactionRequest;
import dev.keel.proto.etcdserverpb.StatusResponse;
import org.jboss.logging.Logger;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * --auto-compaction-mode/--auto-compaction-retention, scheduled as etcd 3.6's v3compactor does, and only on the
 * leader (etcd pauses the compactor on followers):
 * <ul>
 *   <li><b>periodic</b> (retention a duration P): every min(P, 1 h)/10 the current revision is sampled; once P has
 *       passed since the start (then min(P, 1 h) since the last compaction) the member compacts to the revision
 *       sampled P ago, unless that is the revision it compacted last.</li>
 *   <li><b>revision</b> (retention N): every 5 minutes the member compacts to current revision − N, when that is
 *       positive and new.</li>
 * </ul>
 * A compaction that finds its revision already compacted counts as done, as in etcd.
 */
public final class AutoCompactor {

    private static final Logger LOG = Logger.getLogger(AutoCompactor.class);

    /** etcd's revInterval; a test may shorten it with this system property (milliseconds). */
    static final String REVISION_INTERVAL_PROPERTY = "keel.auto-compaction.revision-interval-ms";

    private final EtcdServer server;
    private final EtcdConfig.AutoCompaction mode;
    private final ScheduledExecutorService timer;
    // periodic state (touched by the timer thread only)
    private final Deque<Long> revs = new ArrayDeque<>();
    private long lastRevision;
    private long lastSuccessNanos = System.nanoTime();
    private long baseIntervalNanos;

    private AutoCompactor(EtcdServer server, EtcdConfig.AutoCompaction mode) {
        this.server = server;
        this.mode = mode;
        this.baseIntervalNanos = mode.retention();
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "auto-compactor");
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts the compactor the flags ask for; nothing when auto compaction is off (retention 0). */
    public static void start(EtcdServer server) {
        EtcdConfig.AutoCompaction mode = server.config().autoCompaction();
        if (!mode.enabled() || mode.retention() < 0) {
            return;
        }
        AutoCompactor c = new AutoCompactor(server, mode);
        if (mode.periodic()) {
            long retry = Math.max(1, retryIntervalNanos(mode.retention()));
            c.revs.add(c.currentRevision());
            c.timer.scheduleWithFixedDelay(c::periodicTick, retry, retry, TimeUnit.NANOSECONDS);
            LOG.infof("auto periodic compaction enabled (retention %d ms, sampled every %d ms)",
                    mode.retention() / 1_000_000, retry / 1_000_000);
        } else {
            long every = Long.getLong(REVISION_INTERVAL_PROPERTY, TimeUnit.MINUTES.toMillis(5));
            c.timer.scheduleWithFixedDelay(c::revisionTick, every, every, TimeUnit.MILLISECONDS);
            LOG.infof("auto revision compaction enabled (retention %d revisions, every %d ms)", mode.retention(),
                    every);
        }
    }

    /** etcd's getCompactInterval: the period, at most an hour. */
    static long compactIntervalNanos(long periodNanos) {
        return Math.min(periodNanos, TimeUnit.HOURS.toNanos(1));
    }

    /** etcd's getRetryInterval: a tenth of the compaction interval. */
    static long retryIntervalNanos(long periodNanos) {
        return compactIntervalNanos(periodNanos) / 10;
    }

    /** etcd's getRetentions: how many samples cover one period. */
    static int retentions(long periodNanos) {
        return (int) (periodNanos / Math.max(1, retryIntervalNanos(periodNanos))) + 1;
    }

    private void periodicTick() {
        try {
            // etcd samples at the top of its loop, then waits; this tick comes after the wait
            StatusResponse s = server.status();
            if (!isLeader(s)) {
                revs.add(s.getHeader().getRevision());
                trim();
                return;
            }
            long rev = revs.peekFirst();
            boolean due = System.nanoTime() - lastSuccessNanos >= baseIntervalNanos && rev != lastRevision;
            if (due) {
                if (baseIntervalNanos == mode.retention()) {
                    baseIntervalNanos = compactIntervalNanos(mode.retention());
                }
                if (compact(rev, "periodic")) {
                    lastRevision = rev;
                    lastSuccessNanos = System.nanoTime();
                }
            }
            revs.add(currentRevision());
            trim();
        } catch (RuntimeException e) {
            LOG.warnf("auto periodic compaction: %s", e.getMessage());
        }
    }

    private void trim() {
        while (revs.size() > retentions(mode.retention())) {
            revs.removeFirst();
        }
    }

    private long prevRevisionTarget;

    private void revisionTick() {
        try {
            StatusResponse s = server.status();
            if (!isLeader(s)) {
                return;
            }
            long rev = s.getHeader().getRevision() - mode.retention();
            if (rev <= 0 || rev == prevRevisionTarget) {
                return;
            }
            if (compact(rev, "revision")) {
                prevRevisionTarget = rev;
            }
        } catch (RuntimeException e) {
            LOG.warnf("auto revision compaction: %s", e.getMessage());
        }
    }

    private boolean isLeader(StatusResponse s) {
        return s.getLeader() != 0 && s.getLeader() == s.getHeader().getMemberId();
    }

    private long currentRevision() {
        return server.status().getHeader().getRevision();
    }

    /** Compacts to rev; true when done (or already compacted), false to retry later. */
    private boolean compact(long rev, String kind) {
        LOG.infof("starting auto %s compaction (revision %d)", kind, rev);
        long start = System.nanoTime();
        try {
            server.compact(CompactionRequest.newBuilder().setRevision(rev).build()).get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (ExecutionException | CompletionException | TimeoutException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            if (cause instanceof EtcdException && EtcdError.COMPACTED.message().equals(cause.getMessage())) {
                return true;
            }
            LOG.warnf("failed auto %s compaction (revision %d): %s", kind, rev, cause.getMessage());
            return false;
        }
        LOG.infof("completed auto %s compaction (revision %d, took %d ms)", kind, rev,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
        return true;
    }
}
