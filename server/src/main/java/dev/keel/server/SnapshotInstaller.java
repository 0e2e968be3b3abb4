package dev.keel.server;

import dev.keel.lease.Lessor;
import dev.keel.mvcc.MvccStore;
import dev.keel.storage.Storage;
import org.jboss.logging.Logger;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The state-machine side of Raft's InstallSnapshot: a member too far behind for the leader's log replaces its
 * whole state with a copy of the leader's.
 *
 * <p><b>Sending</b> ({@link #openSource}): the leader's client port serves {@value #PATH}: a {@link SnapshotFormat}
 * body of a point-in-time view of every column, including the applied Raft index and term ({@code raft/applied},
 * which Maintenance.Snapshot leaves out), followed by the SHA-256 of the body, with a {@code Content-Length}.
 *
 * <p><b>Installing</b> ({@link #install}), in order:
 * <ol>
 *   <li>download into a temporary file next to the database (bounded memory; the old state keeps serving
 *       meanwhile), verify the SHA-256 trailer and decode the whole body once (columns known, record count and
 *       padding right, an applied index present). Any failure so far leaves the member untouched.</li>
 *   <li>with reads held off ({@link MvccStore#replaceContents}), in one batch: delete every row of every column
 *       and write the marker {@code meta/raft/installing}; then the snapshot's rows in batches of at most
 *       {@value #BATCH_BYTES} bytes / {@value #BATCH_RECORDS} rows; then one last batch with the snapshot's
 *       {@code raft/applied} that removes the marker; then make it durable.</li>
 *   <li>rebuild everything in memory from storage: the MVCC store (key index, revisions, compaction; synced
 *       watchers catch up from the new history or are cancelled as compacted), the lessor and its key
 *       attachments, alarms, the downgrade job, then the reload hook (membership).</li>
 * </ol>
 *
 * <p><b>Crash safety</b>: while the marker is in storage the data is partial. At startup,
 * {@link #recoverInterrupted} finds it, deletes the partial data (keeping the marker) and the member starts
 * empty with applied index 0, so it needs (and gets) a snapshot from the leader again; it never serves the
 * partial data. The marker goes only with the last batch of a complete install. A failure while installing
 * (after the old data is gone) does the same without a restart.
 */
public final class SnapshotInstaller implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(SnapshotInstaller.class);

    /** The HTTP path on the client port that serves the snapshot to install. */
    public static final String PATH = "/keel/internal/v1/raft-snapshot";
    /** Response headers with the snapshot's position (informational; the body holds it too). */
    public static final String HEADER_INDEX = "X-Keel-Applied-Index";
    public static final String HEADER_TERM = "X-Keel-Applied-Term";
    public static final String HEADER_REVISION = "X-Keel-Revision";
    /** Meta key present while storage holds a partially installed snapshot. */
    static final byte[] INSTALLING = "raft/installing".getBytes(StandardCharsets.UTF_8);
    static final long BATCH_BYTES = 4L << 20;
    static final int BATCH_RECORDS = 10_000;
    private static final String TEMP_PREFIX = "raft-snapshot-";
    private static final String TEMP_SUFFIX = ".tmp";

    /** What an install did. {@code largestBatchBytes}: the biggest write batch (memory bound check). */
    public record Result(long appliedIndex, long appliedTerm, long revision, long records, long bytes,
                         long largestBatchBytes) {
    }

    private final Storage storage;
    private final Storage.Column meta;
    private final MvccStore mvcc;
    private final Lessor lessor;
    private final AlarmStore alarms;
    private final DowngradeState downgrade;
    private final Function<String, URI> leaderClientUrl;
    private final Runnable reloadHook;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "snapshot-installer");
        t.setDaemon(true);
        return t;
    });
    private volatile HttpClient http = httpClient(null);
    /** Where to download from, and the ticket that lets this member (see {@link SnapshotTickets}). */
    private volatile Function<String, Ticket> tickets = leader -> new Ticket(leader, "");

    /** The member that serves the download (hex id) and the ticket it issued; an empty ticket sends none. */
    public record Ticket(String issuerHex, String value) {
    }

    /** The header carrying the ticket. */
    public static final String TICKET_HEADER = "Keel-Snapshot-Ticket";

    /** How the ticket for a download is obtained, given the leader Raft named; set while the member is built. */
    public void tickets(Function<String, Ticket> tickets) {
        this.tickets = tickets;
    }

    /** TLS for https client URLs (the member's client certificate and trusted CAs), or null for the JDK's. */
    public void tls(javax.net.ssl.SSLContext context) {
        this.http = httpClient(context);
    }

    private static HttpClient httpClient(javax.net.ssl.SSLContext tls) {
        HttpClient.Builder b = HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(10))
                .version(HttpClient.Version.HTTP_1_1);
        if (tls != null) {
            b.sslContext(tls);
        }
        return b.build();
    }
    private CompletableFuture<Result> running;
    private volatile boolean closed;

    /**
     * @param leaderClientUrl maps a member id (hex, {@link ClusterIds#hex}) to one of its client URLs
     * @param reloadHook      runs after the built-in state has been reloaded from the new storage contents (with
     *                        reads of the MVCC store still held off): reload further state kept in storage
     */
    public SnapshotInstaller(Storage storage, MvccStore mvcc, Lessor lessor, AlarmStore alarms,
                             DowngradeState downgrade, Function<String, URI> leaderClientUrl, Runnable reloadHook) {
        this.storage = storage;
        this.meta = storage.column(MvccStore.META_COLUMN);
        this.mvcc = mvcc;
        this.lessor = lessor;
        this.alarms = alarms;
        this.downgrade = downgrade;
        this.leaderClientUrl = leaderClientUrl;
        this.reloadHook = reloadHook;
    }

    // ---- startup ------------------------------------------------------------------------------------------

    /** Whether storage holds a partially installed snapshot (an install was interrupted). */
    public static boolean interrupted(Storage storage) {
        return storage.get(storage.column(MvccStore.META_COLUMN), INSTALLING) != null;
    }

    /**
     * Call at startup, before anything reads storage. Removes leftover download files and, if an install was
     * interrupted, deletes the partial data (keeping the marker until a complete install), so the member starts
     * empty with applied index 0. Returns whether an install was interrupted.
     */
    public static boolean recoverInterrupted(Storage storage) {
        deleteTempFiles(storage);
        byte[] marker = storage.get(storage.column(MvccStore.META_COLUMN), INSTALLING);
        if (marker == null) {
            return false;
        }
        LOG.errorf("an install of a snapshot from the leader was interrupted (%s): the database holds partial "
                + "data. Discarding it: this member starts EMPTY with applied index 0 and serves no data until the "
                + "leader has sent it a snapshot again", new String(marker, StandardCharsets.UTF_8));
        clearKeepingMarker(storage, marker);
        storage.flush();
        return true;
    }

    /** Deletes every row of every column and writes the marker, in one batch. */
    private static void clearKeepingMarker(Storage storage, byte[] marker) {
        try (Storage.Batch b = storage.newBatch()) {
            for (String c : storage.columnNames()) {
                storage.clearColumn(b, storage.column(c));
            }
            b.put(storage.column(MvccStore.META_COLUMN), INSTALLING, marker); // after the range deletion
            storage.write(b);
        }
    }

    private static void deleteTempFiles(Storage storage) {
        Path parent = storage.dir().toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            return;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(parent, TEMP_PREFIX + "*" + TEMP_SUFFIX)) {
            for (Path p : ds) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            LOG.warnf("cannot remove leftover snapshot downloads in %s: %s", parent, e.getMessage());
        }
    }

    // ---- sending --------------------------------------------------------------------------------------------

    /**
     * The snapshot to send (body, then its SHA-256) of storage as it is now. Fails if this member is itself in
     * the middle of an install. Close it when done.
     */
    public static Source openSource(Storage storage) {
        return new Source(storage);
    }

    /** A snapshot being sent: read it as a stream of exactly {@link #length()} bytes. Not thread-safe. */
    public static final class Source extends InputStream {
        private final Storage.View view;
        private final SnapshotFormat.Encoder body;
        private final MessageDigest sha;
        private final long bodyLength;
        private final long appliedIndex;
        private final long appliedTerm;
        private final long revision;
        private byte[] trailer;
        private int trailerPos;

        private Source(Storage storage) {
            this.view = storage.openView();
            try {
                Storage.Column metaCol = storage.column(MvccStore.META_COLUMN);
                if (view.get(metaCol, INSTALLING) != null) {
                    throw new IllegalStateException("this member is installing a snapshot itself");
                }
                byte[] applied = view.get(metaCol, Applier.APPLIED);
                ByteBuffer bb = applied == null ? ByteBuffer.allocate(16) : ByteBuffer.wrap(applied);
                this.appliedIndex = bb.getLong();
                this.appliedTerm = bb.getLong();
                MvccStore.Revisions revs = MvccStore.revisionsOf(storage, view);
                this.revision = revs.current();
                SnapshotFormat.Header h = new SnapshotFormat.Header(Version.STORAGE, revs.current(),
                        revs.compacted(), view.columnNames());
                // everything travels, the applied position included; only the install marker never does
                this.body = new SnapshotFormat.Encoder(view, h, (column, key) ->
                        column.equals(MvccStore.META_COLUMN) && Arrays.equals(key, INSTALLING));
                this.bodyLength = body.size();
                this.sha = MessageDigest.getInstance("SHA-256");
            } catch (RuntimeException | NoSuchAlgorithmException e) {
                view.close();
                throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
            }
        }

        /** Body plus the 32-byte SHA-256. */
        public long length() {
            return bodyLength + SnapshotFormat.SHA_SIZE;
        }

        public long appliedIndex() {
            return appliedIndex;
        }

        public long appliedTerm() {
            return appliedTerm;
        }

        public long revision() {
            return revision;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (trailer == null) {
                int n = body.read(b, off, len);
                if (n > 0) {
                    sha.update(b, off, n);
                    return n;
                }
                trailer = sha.digest();
                view.close(); // the body has been read in full
            }
            if (trailerPos == trailer.length) {
                return -1;
            }
            int n = Math.min(len, trailer.length - trailerPos);
            System.arraycopy(trailer, trailerPos, b, off, n);
            trailerPos += n;
            return n;
        }

        @Override
        public void close() {
            view.close();
        }
    }

    // ---- installing -----------------------------------------------------------------------------------------

    /**
     * {@link #install} on the installer's own thread. While one install runs, further calls get its future.
     */
    public synchronized CompletableFuture<Result> installAsync(String leaderMemberIdHex) {
        if (running != null && !running.isDone()) {
            LOG.infof("a snapshot install is already running; not starting another for leader %s",
                    leaderMemberIdHex);
            return running;
        }
        CompletableFuture<Result> f = new CompletableFuture<>();
        try {
            thread.execute(() -> {
                try {
                    f.complete(install(leaderMemberIdHex));
                } catch (Throwable t) {
                    f.completeExceptionally(t);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            f.completeExceptionally(new IllegalStateException("member is closing", e));
        }
        running = f;
        return f;
    }

    /**
     * Downloads the leader's snapshot and replaces this member's state with it (see the class comment). The
     * apply thread must not apply entries while this runs. On failure before the old data was removed, the member
     * is unchanged; after, it is left empty with the marker (as after {@link #recoverInterrupted}).
     */
    public Result install(String leaderMemberIdHex) throws IOException, InterruptedException {
        long started = System.nanoTime();
        Ticket ticket;
        try {
            ticket = tickets.apply(leaderMemberIdHex);
        } catch (RuntimeException e) {
            throw new IOException("cannot get a snapshot ticket from the leader: " + e.getMessage(), e);
        }
        URI base = leaderClientUrl.apply(ticket.issuerHex());
        if (base == null) {
            throw new IOException("no client URL known for leader " + ticket.issuerHex());
        }
        URI uri = base.resolve(PATH);
        Path tmp = Files.createTempFile(storage.dir().toAbsolutePath().getParent(), TEMP_PREFIX, TEMP_SUFFIX);
        try {
            LOG.infof("installing a snapshot from leader %s: downloading %s", leaderMemberIdHex, uri);
            long bodyLength = download(uri, ticket.value(), tmp);
            Checked checked = check(tmp, bodyLength);
            LOG.infof("snapshot from leader %s verified: %d bytes, %d records, revision %d, applied index %d "
                            + "(term %d); replacing this member's state", leaderMemberIdHex, bodyLength,
                    checked.records, checked.header.revision(), checked.index, checked.term);
            long largest = load(tmp, bodyLength, checked, leaderMemberIdHex);
            Result r = new Result(checked.index, checked.term, mvcc.currentRevision(), checked.records, bodyLength,
                    largest);
            LOG.infof("installed the snapshot of leader %s in %d ms: applied index %d (term %d), revision %d, "
                            + "%d records", leaderMemberIdHex, (System.nanoTime() - started) / 1_000_000,
                    r.appliedIndex(), r.appliedTerm(), r.revision(), r.records());
            return r;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Streams the response into {@code file}, checking the SHA-256 trailer; returns the body length. */
    private long download(URI uri, String ticket, Path file) throws IOException, InterruptedException {
        HttpRequest.Builder rb = HttpRequest.newBuilder(uri).GET()
                .timeout(Duration.ofMinutes(5)); // until the headers: the leader measures the body first
        if (!ticket.isEmpty()) {
            rb.header(TICKET_HEADER, ticket);
        }
        HttpRequest req = rb.build();
        HttpResponse<InputStream> resp = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream in = resp.body()) {
            if (resp.statusCode() != 200) {
                String text = new String(in.readNBytes(1024), StandardCharsets.UTF_8).trim();
                throw new IOException("leader answered " + resp.statusCode() + " for " + uri + ": " + text);
            }
            long total = resp.headers().firstValueAsLong("Content-Length").orElse(-1);
            long bodyLength = total - SnapshotFormat.SHA_SIZE;
            if (total < 0 || bodyLength <= 0 || bodyLength % SnapshotFormat.ALIGN != 0) {
                throw new IOException("leader's snapshot has an unexpected length " + total);
            }
            MessageDigest sha = sha256();
            byte[] buf = new byte[64 << 10];
            long copied = 0;
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 64 << 10)) {
                while (copied < bodyLength) {
                    if (closed) {
                        throw new IOException("member closing");
                    }
                    int n = in.read(buf, 0, (int) Math.min(buf.length, bodyLength - copied));
                    if (n < 0) {
                        throw new IOException("snapshot download ended after " + copied + " of " + total + " bytes");
                    }
                    sha.update(buf, 0, n);
                    out.write(buf, 0, n);
                    copied += n;
                }
            }
            byte[] trailer = in.readNBytes(SnapshotFormat.SHA_SIZE);
            if (trailer.length != SnapshotFormat.SHA_SIZE) {
                throw new IOException("snapshot download ended in its SHA-256 trailer");
            }
            if (in.read() != -1) {
                throw new IOException("snapshot download longer than announced");
            }
            byte[] digest = sha.digest();
            if (!MessageDigest.isEqual(digest, trailer)) {
                throw new IOException("snapshot SHA-256 mismatch: computed " + HexFormat.of().formatHex(digest)
                        + ", trailer says " + HexFormat.of().formatHex(trailer));
            }
            return bodyLength;
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final class Checked {
        SnapshotFormat.Header header;
        long records;
        long index;
        long term;
        boolean hasApplied;
    }

    /** Decodes the whole body once without changing anything: format, columns, the applied position. */
    private Checked check(Path file, long bodyLength) throws IOException {
        Set<String> local = new HashSet<>(storage.columnNames());
        Checked c = new Checked();
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 64 << 10)) {
            SnapshotFormat.Contents contents = SnapshotFormat.read(in, bodyLength, (column, key, value) -> {
                if (!local.contains(column)) {
                    throw new IOException("snapshot has column " + column + ", which this member does not have");
                }
                if (column.equals(MvccStore.META_COLUMN) && Arrays.equals(key, Applier.APPLIED)) {
                    if (value.length != 16) {
                        throw new IOException("snapshot has a malformed applied position");
                    }
                    ByteBuffer bb = ByteBuffer.wrap(value);
                    c.index = bb.getLong();
                    c.term = bb.getLong();
                    c.hasApplied = true;
                }
            });
            c.header = contents.header();
            c.records = contents.records();
        }
        if (!c.hasApplied || c.index <= 0) {
            throw new IOException("snapshot carries no applied Raft index");
        }
        return c;
    }

    /** Replaces storage and the in-memory state; returns the largest batch written, bytes. */
    private long load(Path file, long bodyLength, Checked checked, String leader) throws IOException {
        byte[] marker = ("from leader " + leader + " at index " + checked.index + " term " + checked.term)
                .getBytes(StandardCharsets.UTF_8);
        byte[] applied = ByteBuffer.allocate(16).putLong(checked.index).putLong(checked.term).array();
        boolean[] destroyed = {false};
        long[] largest = {0};
        Runnable rewrite = () -> {
            try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 64 << 10)) {
                clearKeepingMarker(storage, marker);
                destroyed[0] = true;
                Storage.Batch[] batch = {storage.newBatch()};
                try {
                    SnapshotFormat.read(in, bodyLength, (column, key, value) -> {
                        if (column.equals(MvccStore.META_COLUMN)
                                && (Arrays.equals(key, Applier.APPLIED) || Arrays.equals(key, INSTALLING))) {
                            return; // the position goes in with the last batch, which removes the marker
                        }
                        batch[0].put(storage.column(column), key, value);
                        if (batch[0].dataSize() >= BATCH_BYTES || batch[0].count() >= BATCH_RECORDS) {
                            if (closed) {
                                throw new IOException("member closing");
                            }
                            largest[0] = Math.max(largest[0], batch[0].dataSize());
                            storage.write(batch[0]);
                            batch[0].close();
                            batch[0] = storage.newBatch();
                        }
                    });
                    batch[0].put(meta, Applier.APPLIED, applied);
                    batch[0].delete(meta, INSTALLING);
                    largest[0] = Math.max(largest[0], batch[0].dataSize());
                    storage.write(batch[0]);
                } finally {
                    batch[0].close();
                }
                storage.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
        try {
            mvcc.replaceContents(rewrite, this::reloadDerivedState);
        } catch (RuntimeException e) {
            LOG.errorf(e, "installing the snapshot from leader %s failed%s", leader, destroyed[0]
                    ? " after the old data was removed; this member is left EMPTY (applied index 0) until the "
                    + "leader sends a snapshot again" : "; this member's state is unchanged");
            try {
                // rebuild the in-memory state from what storage holds: the unchanged old data, or nothing
                mvcc.replaceContents(destroyed[0] ? () -> clearKeepingMarker(storage, marker) : () -> { },
                        this::reloadDerivedState);
            } catch (RuntimeException e2) {
                LOG.fatalf(e2, "cannot rebuild this member's state after a failed snapshot install; stopping so "
                        + "that the restart discards the partial data");
                Runtime.getRuntime().halt(70);
            }
            Throwable cause = e instanceof UncheckedIOException u ? u.getCause() : e;
            throw new IOException("installing the snapshot from leader " + leader + " failed: "
                    + cause.getMessage(), cause);
        }
        return largest[0];
    }

    /** Everything but the MVCC store that lives in storage; runs inside {@link MvccStore#replaceContents}. */
    private void reloadDerivedState() {
        lessor.reload(() -> Leases.restoreAttachments(mvcc, lessor));
        alarms.reload();
        downgrade.reload();
        reloadHook.run();
    }

    /** Stops the installer thread; an install in progress stops at its next batch (the marker then stays). */
    @Override
    public void close() {
        closed = true;
        thread.shutdownNow();
        try {
            if (!thread.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.warn("the snapshot installer did not stop within 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
