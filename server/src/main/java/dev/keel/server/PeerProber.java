package dev.keel.server;

import dev.keel.metrics.Metrics;
import dev.keel.proto.etcdserverpb.Member;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * etcd's peer prober (rafthttp/probing_status.go) for the metrics dashboards and alert rules read: every 4 s each
 * other member's first peer URL is probed, here by opening a TCP connection to its Raft port (one network round
 * trip; etcd sends an HTTP GET to {@code /raft/probing}). The round trip is smoothed as etcd's prober does
 * (srtt = 7/8 srtt + 1/8 rtt) and observed into {@code etcd_network_peer_round_trip_time_seconds{To}} every 30 s
 * while the peer answers, every 5 s while it does not. A probe that fails counts in
 * {@code etcd_network_peer_sent_failures_total{To}} (etcd counts failed Raft message sends there, which a down
 * peer causes just as steadily). {@code etcd_network_known_peers} and {@code etcd_network_active_peers}
 * ({Local, Remote}) are 1 for each member in the member list, and each that answered its last probe.
 */
final class PeerProber implements AutoCloseable {

    static final long PROBE_INTERVAL_MS = 4_000;
    private static final long HEALTHY_OBSERVE_MS = 30_000;
    private static final long UNHEALTHY_OBSERVE_MS = 5_000;
    private static final int CONNECT_TIMEOUT_MS = 4_000;

    /** What is known about one peer. Written by the prober thread only. */
    private static final class Peer {
        volatile boolean known = true;
        volatile boolean healthy;
        long srttNanos;
        boolean measured;
        long nextObserve;
    }

    private final Supplier<List<Member>> members;
    private final long self;
    private final Map<Long, Peer> peers = new ConcurrentHashMap<>();
    private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "peer-prober");
        t.setDaemon(true);
        return t;
    });

    PeerProber(Supplier<List<Member>> members, long self) {
        this.members = members;
        this.self = self;
    }

    void start() {
        thread.scheduleWithFixedDelay(this::probeAll, 0, PROBE_INTERVAL_MS, TimeUnit.MILLISECONDS);
    }

    private void probeAll() {
        try {
            List<Member> now = members.get();
            peers.forEach((id, p) -> p.known = now.stream().anyMatch(m -> m.getID() == id));
            for (Member m : now) {
                if (m.getID() == self || m.getPeerURLsCount() == 0) {
                    continue;
                }
                probe(m.getID(), m.getPeerURLs(0));
            }
        } catch (RuntimeException e) {
            // the member list may be unreadable while a snapshot is installed: try again next round
        }
    }

    private void probe(long id, String peerUrl) {
        String to = ClusterIds.hex(id);
        Peer p = peers.computeIfAbsent(id, k -> register(to));
        long rtt = -1;
        try {
            URI u = URI.create(peerUrl);
            long started = System.nanoTime();
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(u.getHost(), u.getPort()), CONNECT_TIMEOUT_MS);
                rtt = System.nanoTime() - started;
            }
        } catch (IOException | IllegalArgumentException e) {
            Metrics.PEER_SENT_FAILURES.labels(to).inc();
        }
        p.healthy = rtt >= 0;
        if (rtt >= 0) {
            p.srttNanos = p.measured ? (7 * p.srttNanos + rtt) / 8 : rtt;
            p.measured = true;
        }
        long now = System.nanoTime();
        if (p.measured && now - p.nextObserve >= 0) {
            Metrics.PEER_RTT.labels(to).observeNanos(p.srttNanos);
            p.nextObserve = now + TimeUnit.MILLISECONDS.toNanos(p.healthy ? HEALTHY_OBSERVE_MS : UNHEALTHY_OBSERVE_MS);
        }
    }

    private Peer register(String to) {
        Peer p = new Peer();
        p.nextObserve = System.nanoTime();
        String local = ClusterIds.hex(self);
        Metrics.REGISTRY.gaugeFunction("etcd_network_known_peers", "The current number of known peers.",
                () -> p.known ? 1 : 0, "Local", local, "Remote", to);
        Metrics.REGISTRY.gaugeFunction("etcd_network_active_peers", "The current number of active peer connections.",
                () -> p.known && p.healthy ? 1 : 0, "Local", local, "Remote", to);
        return p;
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }
}
