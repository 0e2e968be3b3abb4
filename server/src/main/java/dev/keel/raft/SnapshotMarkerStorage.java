package dev.keel.raft;

import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotInfo;
import org.apache.ratis.statemachine.SnapshotRetentionPolicy;
import org.apache.ratis.statemachine.StateMachineStorage;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32;

/**
 * The Ratis {@link StateMachineStorage} for Keel. The real state lives in the {@link StateMachineApplier} (RocksDB),
 * so a "snapshot" here is only a small marker file saying up to which Raft position the applier's state was made
 * durable; Ratis may purge the log up to that position.
 *
 * <p>The marker is one line of text, {@code keel-snapshot-marker/1 <term> <index> <applierIndex> <crc32>}, written
 * atomically (temp file, fsync, rename, fsync of the directory) into the group's state machine directory.
 * {@code term}/{@code index} is the Raft position covered (it can be above {@code applierIndex} when the last entries
 * were Ratis' own configuration or no-op entries, which the applier never sees); {@code applierIndex} is what
 * {@link StateMachineApplier#persist()} returned and what the applier must still have on restart.
 *
 * <p>{@link #getLatestSnapshot()} reports the position Ratis should treat as "already in the state machine"; at
 * start it is the later of the marker and the applier's persisted position (see {@link KeelStateMachine}).
 */
final class SnapshotMarkerStorage implements StateMachineStorage {
    static final String MARKER_FILE = "keel-snapshot-marker";
    private static final String MAGIC = "keel-snapshot-marker/1";

    /** What the marker file records. */
    record Marker(long term, long index, long applierIndex) {
        TermIndex termIndex() {
            return TermIndex.valueOf(term, index);
        }
    }

    /** A snapshot that is only a position: no files are shipped (snapshot transfer is not implemented yet). */
    static final class PositionSnapshotInfo implements SnapshotInfo {
        private final TermIndex termIndex;

        PositionSnapshotInfo(TermIndex termIndex) {
            this.termIndex = Objects.requireNonNull(termIndex, "termIndex");
        }

        @Override
        public TermIndex getTermIndex() {
            return termIndex;
        }

        @Override
        public List<FileInfo> getFiles() {
            return List.of();
        }

        @Override
        public String toString() {
            return "KeelSnapshot" + termIndex;
        }
    }

    private volatile Path dir;
    private final AtomicReference<SnapshotInfo> latest = new AtomicReference<>();

    @Override
    public void init(RaftStorage raftStorage) throws IOException {
        File smDir = raftStorage.getStorageDir().getStateMachineDir();
        Files.createDirectories(smDir.toPath());
        this.dir = smDir.toPath();
    }

    Path markerPath() {
        return Objects.requireNonNull(dir, "storage not initialized").resolve(MARKER_FILE);
    }

    /** Reads the marker, or returns null if there is none. A corrupt marker is an error, not "no marker". */
    Marker readMarker() throws IOException {
        final Path path = markerPath();
        final String text;
        try {
            text = Files.readString(path, StandardCharsets.US_ASCII).trim();
        } catch (NoSuchFileException e) {
            return null;
        }
        final String[] parts = text.split(" ");
        if (parts.length != 5 || !MAGIC.equals(parts[0])) {
            throw new IOException("Corrupt snapshot marker " + path + ": '" + text + "'");
        }
        final String body = parts[0] + " " + parts[1] + " " + parts[2] + " " + parts[3];
        final long crc;
        final Marker marker;
        try {
            marker = new Marker(Long.parseLong(parts[1]), Long.parseLong(parts[2]), Long.parseLong(parts[3]));
            crc = Long.parseLong(parts[4], 16);
        } catch (NumberFormatException e) {
            throw new IOException("Corrupt snapshot marker " + path + ": '" + text + "'", e);
        }
        if (crc != crc32(body)) {
            throw new IOException("Snapshot marker " + path + " fails its checksum: '" + text + "'");
        }
        return marker;
    }

    /** Writes the marker atomically and durably, then makes it the latest snapshot. */
    void writeMarker(Marker marker) throws IOException {
        final Path path = markerPath();
        final Path tmp = path.resolveSibling(MARKER_FILE + ".tmp");
        final String body = MAGIC + " " + marker.term() + " " + marker.index() + " " + marker.applierIndex();
        final String line = body + " " + Long.toHexString(crc32(body)) + "\n";
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            final ByteBuffer buf = ByteBuffer.wrap(line.getBytes(StandardCharsets.US_ASCII));
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
        try {
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING);
        }
        fsyncDirectory(path.getParent());
        setLatest(marker.termIndex());
    }

    private static void fsyncDirectory(Path d) {
        try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException ignored) {
            // Some platforms/filesystems cannot open or fsync a directory; the rename itself is still atomic.
        }
    }

    private static long crc32(String s) {
        final CRC32 crc = new CRC32();
        crc.update(s.getBytes(StandardCharsets.US_ASCII));
        return crc.getValue();
    }

    /** Sets (or clears, with null) the snapshot position reported to Ratis. */
    void setLatest(TermIndex position) {
        latest.set(position == null ? null : new PositionSnapshotInfo(position));
    }

    @Override
    public SnapshotInfo getLatestSnapshot() {
        return latest.get();
    }

    @Override
    public void format() {
        // nothing to format: the marker is created by the first snapshot
    }

    @Override
    public void cleanupOldSnapshots(SnapshotRetentionPolicy snapshotRetentionPolicy) {
        // a single marker file is overwritten in place; nothing to clean up
    }
}
