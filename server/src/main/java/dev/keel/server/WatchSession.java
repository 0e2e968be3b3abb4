package dev.keel.server;

import com.google.protobuf.CodedOutputStream;
import dev.keel.metrics.Metrics;
import dev.keel.mvcc.WatchHub;
import dev.keel.proto.etcdserverpb.WatchCreateRequest;
import dev.keel.proto.etcdserverpb.WatchRequest;
import dev.keel.proto.etcdserverpb.WatchResponse;
import dev.keel.proto.mvccpb.Event;
import dev.keel.proto.mvccpb.KeyValue;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One client watch stream (etcd's serverWatchStream), independent of the transport: many watchers, each with its
 * own id and options, responses in one ordered queue. The transport drains the queue as fast as the client
 * reads; when a stream falls {@value #MAX_QUEUED} responses behind, its watchers stop receiving live events and
 * catch up from history once it drains (see {@link WatchHub}), so a slow client never holds up writes.
 */
public final class WatchSession implements AutoCloseable {

    /** Where responses go. {@link #send} is never called concurrently. */
    public interface Output {
        void send(WatchResponse response);

        /** Whether the transport can take another response without buffering. */
        boolean isReady();
    }

    static final long INVALID_WATCH_ID = -1;
    static final int MAX_QUEUED = 1024;
    private static final Logger LOG = Logger.getLogger(WatchSession.class);

    /** A queued response: either complete, or events still to be dressed (prev_kv, fragmenting) on sending. */
    private record Pending(WatchResponse ready, Entry entry, List<Event> events, long rev) {
    }

    private final class Entry implements WatchHub.Sink {
        final long id;
        final boolean prevKv;
        final boolean fragment;
        final boolean progressNotify;
        final boolean noPut;
        final boolean noDelete;
        volatile boolean sentSinceTick;
        /** Set on the stream's thread right after registration; read by the timer's progress tasks. */
        volatile WatchHub.Watcher watcher;

        Entry(long id, WatchCreateRequest c) {
            this.id = id;
            this.prevKv = c.getPrevKv();
            this.fragment = c.getFragment();
            this.progressNotify = c.getProgressNotify();
            this.noPut = c.getFiltersList().contains(WatchCreateRequest.FilterType.NOPUT);
            this.noDelete = c.getFiltersList().contains(WatchCreateRequest.FilterType.NODELETE);
        }

        @Override
        public void created(long rev) {
            enqueue(new Pending(WatchResponse.newBuilder().setHeader(server.header(rev)).setWatchId(id)
                    .setCreated(true).build(), null, null, rev), true);
        }

        @Override
        public boolean offer(List<Event> events, long rev) {
            List<Event> kept = events;
            if ((noPut || noDelete) && !events.isEmpty()) {
                kept = new ArrayList<>(events.size());
                for (Event e : events) {
                    boolean put = e.getType() == Event.EventType.PUT;
                    if (put ? !noPut : !noDelete) {
                        kept.add(e);
                    }
                }
                if (kept.isEmpty()) {
                    return true; // everything filtered out: nothing to send
                }
            }
            if (!kept.isEmpty()) {
                sentSinceTick = true;
            }
            return enqueue(new Pending(null, this, kept, rev), false);
        }

        @Override
        public boolean wantsMore() {
            return queued.get() < MAX_QUEUED / 2;
        }

        @Override
        public void compacted(long compactRev) {
            watchers.remove(id, this);
            // etcd's header on this response has revision 0 (its mvcc layer sends it without a revision)
            enqueue(new Pending(WatchResponse.newBuilder().setHeader(server.header(0)).setWatchId(id)
                    .setCanceled(true).setCompactRevision(compactRev).build(), null, null, 0), true);
        }
    }

    private final EtcdServer server;
    private final WatchHub hub;
    private final Output out;
    private final Executor sender;
    /** Above this size a response for a watcher that asked for fragments is split (etcd: max request + 512 KiB). */
    private final long maxResponseBytes;
    private final Map<Long, Entry> watchers = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicBoolean draining = new AtomicBoolean();
    private final ScheduledFuture<?> ticker;
    private final ScheduledExecutorService timer;
    private long nextId;
    private volatile boolean closed;
    /** Why a watcher may not be created (its cancel reason), or null when it may. */
    private final java.util.function.Function<WatchCreateRequest, String> permission;

    WatchSession(EtcdServer server, WatchHub hub, Output out, Executor sender, ScheduledExecutorService timer,
                 long progressIntervalMs, long maxResponseBytes,
                 java.util.function.Function<WatchCreateRequest, String> permission) {
        this.server = server;
        this.permission = permission;
        this.hub = hub;
        this.out = out;
        this.sender = sender;
        this.timer = timer;
        this.maxResponseBytes = maxResponseBytes;
        this.ticker = timer.scheduleAtFixedRate(this::progressTick, progressIntervalMs, progressIntervalMs,
                TimeUnit.MILLISECONDS);
        Metrics.WATCH_STREAMS.inc();
    }

    /** Handles one request from the client. */
    public void onRequest(WatchRequest r) {
        if (closed) {
            return;
        }
        switch (r.getRequestUnionCase()) {
            case CREATE_REQUEST -> create(r.getCreateRequest());
            case CANCEL_REQUEST -> cancel(r.getCancelRequest().getWatchId());
            case PROGRESS_REQUEST -> progressAll(0);
            default -> LOG.debugf("ignoring empty watch request");
        }
    }

    private void create(WatchCreateRequest c) {
        String denied = permission.apply(c);
        if (denied != null) {
            reject(denied);
            return;
        }
        byte[] key = c.getKey().isEmpty() ? new byte[]{0} : c.getKey().toByteArray();
        if (c.getStartRevision() < 0) {
            reject("etcdserver: mvcc: required revision has been compacted");
            return;
        }
        byte[] end = c.getRangeEnd().isEmpty() ? null
                : c.getRangeEnd().size() == 1 && c.getRangeEnd().byteAt(0) == 0 ? new byte[0]
                : c.getRangeEnd().toByteArray();
        if (end != null && end.length > 0 && Arrays.compareUnsigned(key, end) >= 0) {
            reject("mvcc: watcher range is empty");
            return;
        }
        Entry entry;
        synchronized (this) {
            long id;
            if (c.getWatchId() == 0) {
                while (watchers.containsKey(nextId)) {
                    nextId++;
                }
                id = nextId++;
            } else if (watchers.containsKey(c.getWatchId())) {
                reject("mvcc: duplicate watch ID provided on the WatchStream");
                return;
            } else {
                id = c.getWatchId();
            }
            entry = new Entry(id, c);
            watchers.put(id, entry);
        }
        entry.watcher = hub.watch(key, end, c.getStartRevision(), entry);
        if (closed) {
            hub.cancel(entry.watcher);
        }
    }

    private void reject(String reason) {
        enqueue(new Pending(WatchResponse.newBuilder().setHeader(server.header(hub.revision()))
                .setWatchId(INVALID_WATCH_ID).setCreated(true).setCanceled(true).setCancelReason(reason).build(),
                null, null, 0), true);
    }

    private void cancel(long id) {
        Entry e = watchers.remove(id);
        if (e == null) {
            return; // etcd answers nothing for an unknown id
        }
        hub.cancel(e.watcher);
        enqueue(new Pending(WatchResponse.newBuilder().setHeader(server.header(hub.revision())).setWatchId(id)
                .setCanceled(true).build(), null, null, 0), true);
    }

    /** Answers a progress request once every watcher of the stream is synced (retrying for a while). */
    private void progressAll(int attempt) {
        if (closed) {
            return;
        }
        List<WatchHub.Watcher> all = new ArrayList<>();
        boolean creating = false;
        for (Entry e : watchers.values()) {
            if (e.watcher == null) {
                creating = true; // registered by the stream's thread but not yet in the hub: not synced yet
                break;
            }
            all.add(e.watcher);
        }
        WatchHub.Sink stream = new WatchHub.Sink() {
            @Override
            public void created(long rev) {
            }

            @Override
            public boolean offer(List<Event> events, long rev) {
                return enqueue(new Pending(WatchResponse.newBuilder().setHeader(server.header(rev))
                        .setWatchId(INVALID_WATCH_ID).build(), null, null, rev), true);
            }

            @Override
            public void compacted(long compactRev) {
            }
        };
        if ((creating || !hub.progress(all, stream)) && attempt < 100) {
            timer.schedule(() -> progressAll(attempt + 1), 100, TimeUnit.MILLISECONDS);
        }
    }

    /** etcd's progress_notify: watchers idle for a whole interval get an empty response with the revision. */
    private void progressTick() {
        for (Entry e : watchers.values()) {
            if (!e.progressNotify) {
                continue;
            }
            if (!e.sentSinceTick && e.watcher != null) {
                hub.progress(List.of(e.watcher), e);
            }
            e.sentSinceTick = false;
        }
    }

    private boolean enqueue(Pending p, boolean force) {
        if (closed) {
            return true;
        }
        if (!force && queued.get() >= MAX_QUEUED) {
            return false;
        }
        queued.incrementAndGet();
        queue.add(p);
        onReady();
        return true;
    }

    /** The transport can take more: drain (on the sender executor, one drainer at a time). */
    public void onReady() {
        if (queue.isEmpty() || closed || !draining.compareAndSet(false, true)) {
            return;
        }
        sender.execute(this::drain);
    }

    private void drain() {
        try {
            while (!closed && out.isReady()) {
                Pending p = queue.poll();
                if (p == null) {
                    break;
                }
                queued.decrementAndGet();
                if (p.ready() != null) {
                    out.send(p.ready());
                } else {
                    send(p);
                }
            }
        } catch (RuntimeException e) {
            LOG.debug("watch stream send failed; closing", e);
            close();
        } finally {
            draining.set(false);
        }
        if (!queue.isEmpty() && !closed && out.isReady()) {
            onReady();
        }
    }

    private void send(Pending p) {
        Entry e = p.entry();
        if (!watchers.containsKey(e.id) || watchers.get(e.id) != e) {
            return; // cancelled meanwhile
        }
        List<Event> events = p.events();
        if (e.prevKv) {
            List<Event> dressed = new ArrayList<>(events.size());
            for (Event ev : events) {
                KeyValue kv = ev.getKv();
                boolean create = ev.getType() == Event.EventType.PUT && kv.getCreateRevision() == kv.getModRevision();
                KeyValue prev = create ? null : server.previous(kv.getKey().toByteArray(), kv.getModRevision() - 1);
                dressed.add(prev == null ? ev : ev.toBuilder().setPrevKv(prev).build());
            }
            events = dressed;
        }
        WatchResponse whole = WatchResponse.newBuilder().setHeader(server.header(p.rev())).setWatchId(e.id)
                .addAllEvents(events).build();
        if (!e.fragment || events.size() < 2 || whole.getSerializedSize() < maxResponseBytes) {
            out.send(whole);
            return;
        }
        // etcd's sendFragments: each part takes events while its encoded size (marked fragment) stays below the
        // limit, at least one; every part but the last is marked fragment
        WatchResponse empty = whole.toBuilder().clearEvents().setFragment(true).build();
        long base = empty.getSerializedSize();
        int idx = 0;
        while (idx < events.size()) {
            int start = idx;
            long size = base;
            while (idx < events.size()) {
                long evSize = CodedOutputStream.computeMessageSize(WatchResponse.EVENTS_FIELD_NUMBER, events.get(idx));
                if (idx > start && size + evSize >= maxResponseBytes) {
                    break;
                }
                size += evSize;
                idx++;
            }
            out.send(empty.toBuilder().addAllEvents(events.subList(start, idx)).setFragment(idx < events.size())
                    .build());
        }
    }

    /** The client went away: remove every watcher. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        Metrics.WATCH_STREAMS.dec();
        ticker.cancel(false);
        for (Entry e : watchers.values()) {
            if (e.watcher != null) {
                hub.cancel(e.watcher);
            }
        }
        watchers.clear();
        queue.clear();
    }
}
