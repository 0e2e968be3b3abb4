package dev.keel.server;

import dev.keel.mvcc.MvccStore;
import dev.keel.mvcc.Revision;
import dev.keel.proto.mvccpb.KeyValue;
import dev.keel.snapshot.bbolt.BoltException;
import dev.keel.snapshot.bbolt.BoltReader;
import dev.keel.storage.Storage;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * {@code keel snapshot restore|status}: the analogue of {@code etcdutl snapshot restore|status} for Keel's
 * snapshot files ({@link SnapshotFormat}, as saved by {@code etcdctl snapshot save} from a Keel member).
 *
 * <p>Restore verifies the SHA-256 trailer, then writes a new data dir: the snapshot's records into a fresh
 * RocksDB ({@code member/kv}) without the applied Raft index, a member identity derived from the flags (new
 * member and cluster ids, as etcd derives them), and no Raft log, so the member starts a new log at index 0 with
 * the snapshot's keys, revisions, compaction and leases.
 */
public final class SnapshotRestore {

    /** Exit codes: etcd's cobrautl ExitError (1) and ExitBadArgs (2 here, as for the server's flags). */
    static final int EXIT_ERROR = 1;
    static final int EXIT_BAD_ARGS = 2;

    private static final String USAGE = """
            Usage:
              keel snapshot restore <filename> [--data-dir <dir>] [--name <name>] [--initial-cluster <name=url,...>]
                                    [--initial-cluster-token <token>] [--initial-advertise-peer-urls <urls>]
                                    [--skip-hash-check]
              keel snapshot status <filename> [-w simple|table|json]
            """;

    /** A usage problem; the message is what the user sees. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }

    /** A failed restore or status; the message is what the user sees. */
    static final class SnapshotException extends RuntimeException {
        SnapshotException(String message) {
            super(message);
        }
    }

    private SnapshotRestore() {
    }

    /** Runs {@code snapshot <args>}; returns the process exit code. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        try {
            if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
                (args.length == 0 ? err : out).print(USAGE);
                return args.length == 0 ? EXIT_BAD_ARGS : 0;
            }
            String[] rest = Arrays.copyOfRange(args, 1, args.length);
            switch (args[0]) {
                case "restore" -> restore(RestoreOptions.parse(rest), err);
                case "status" -> status(StatusOptions.parse(rest), out);
                case "save" -> throw new UsageException("snapshot save is a client command: use "
                        + "'etcdctl --endpoints=<member> snapshot save <filename>'");
                default -> throw new UsageException("unknown command \"" + args[0] + "\" for \"keel snapshot\"");
            }
            return 0;
        } catch (UsageException e) {
            err.println("Error: " + e.getMessage());
            err.print(USAGE);
            return EXIT_BAD_ARGS;
        } catch (SnapshotException | EtcdConfig.ConfigException e) {
            err.println("Error: " + e.getMessage());
            return EXIT_ERROR;
        }
    }

    // ---- flags -------------------------------------------------------------------------------------------

    /** Flags of {@code snapshot restore}, with etcdutl's defaults. */
    record RestoreOptions(Path file, String name, Path dataDir, String initialCluster, String initialClusterToken,
                          String initialAdvertisePeerUrls, boolean skipHashCheck) {

        static RestoreOptions parse(String[] args) {
            Map<String, String> v = parseFlags(args, Set.of("name", "data-dir", "initial-cluster",
                    "initial-cluster-token", "initial-advertise-peer-urls"), Set.of("skip-hash-check"),
                    Map.of("wal-dir", "Keel keeps its Raft log in the data dir: --wal-dir is not supported",
                            "bump-revision", "--bump-revision is not supported by Keel yet",
                            "mark-compacted", "--mark-compacted is not supported by Keel yet",
                            "initial-memory-map-size", "--initial-memory-map-size is bbolt's; Keel has no "
                                    + "memory map to size"));
            List<String> positional = positional(v);
            if (positional.size() != 1) {
                throw new UsageException("snapshot restore requires exactly one argument");
            }
            String name = v.getOrDefault("name", "default");
            String dataDir = v.getOrDefault("data-dir", "");
            return new RestoreOptions(Path.of(positional.get(0)), name,
                    Path.of(dataDir.isEmpty() ? name + ".etcd" : dataDir),
                    // etcdutl's default names the member "default" whatever --name says
                    v.getOrDefault("initial-cluster", "default=http://localhost:2380"),
                    v.getOrDefault("initial-cluster-token", "etcd-cluster"),
                    v.getOrDefault("initial-advertise-peer-urls", "http://localhost:2380"),
                    Boolean.parseBoolean(v.getOrDefault("skip-hash-check", "false")));
        }
    }

    /** Flags of {@code snapshot status}. */
    record StatusOptions(Path file, String writeOut) {
        static StatusOptions parse(String[] args) {
            Map<String, String> v = parseFlags(args, Set.of("write-out", "w"), Set.of(), Map.of());
            List<String> positional = positional(v);
            if (positional.size() != 1) {
                throw new UsageException("snapshot status requires exactly one argument");
            }
            String w = v.getOrDefault("write-out", v.getOrDefault("w", "simple"));
            if (!List.of("simple", "table", "json").contains(w)) {
                throw new UsageException("unsupported output format \"" + w + "\" (simple, table or json)");
            }
            return new StatusOptions(Path.of(positional.get(0)), w);
        }
    }

    private static final String POSITIONAL = "\0positional";

    /**
     * Parses "--flag=value", "--flag value", "-f value" and booleans without a value; positional arguments are
     * collected under a reserved key, separated by "\0".
     */
    private static Map<String, String> parseFlags(String[] args, Set<String> valued, Set<String> booleans,
                                                  Map<String, String> unsupported) {
        Map<String, String> out = new LinkedHashMap<>();
        List<String> positional = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("-") || a.equals("-")) {
                positional.add(a);
                continue;
            }
            String body = a.startsWith("--") ? a.substring(2) : a.substring(1);
            String name = body;
            String value = null;
            int eq = body.indexOf('=');
            if (eq >= 0) {
                name = body.substring(0, eq);
                value = body.substring(eq + 1);
            }
            if (unsupported.containsKey(name)) {
                throw new UsageException(unsupported.get(name));
            }
            if (booleans.contains(name)) {
                String b = value == null ? "true" : value.toLowerCase(Locale.ROOT);
                if (!b.equals("true") && !b.equals("false")) {
                    throw new UsageException("invalid boolean value \"" + value + "\" for flag --" + name);
                }
                out.put(name, b);
            } else if (valued.contains(name)) {
                if (value == null) {
                    if (i + 1 >= args.length) {
                        throw new UsageException("flag needs an argument: --" + name);
                    }
                    value = args[++i];
                }
                out.put(name, value);
            } else {
                throw new UsageException("unknown flag: --" + name);
            }
        }
        out.put(POSITIONAL, String.join("\0", positional));
        return out;
    }

    private static List<String> positional(Map<String, String> v) {
        String p = v.remove(POSITIONAL);
        return p.isEmpty() ? List.of() : List.of(p.split("\0"));
    }

    // ---- restore -------------------------------------------------------------------------------------------

    /** Writes a new data dir from the snapshot; refuses an existing non-empty data dir and a corrupt file. */
    static void restore(RestoreOptions o, PrintStream log) {
        EtcdConfig cfg = EtcdConfig.parse(new String[]{
                "--name=" + o.name(),
                "--data-dir=" + o.dataDir(),
                "--initial-cluster=" + o.initialCluster(),
                "--initial-cluster-token=" + o.initialClusterToken(),
                "--initial-advertise-peer-urls=" + o.initialAdvertisePeerUrls()}, Map.of());
        checkAdvertiseMatchesCluster(cfg);
        Path dir = o.dataDir();
        boolean existed = Files.exists(dir);
        if (existed && !isEmptyDir(dir)) {
            throw new SnapshotException("data-dir \"" + dir + "\" not empty or could not be read");
        }
        long body = verifyHash(o.file(), o.skipHashCheck());
        log.printf("restoring snapshot %s into data dir %s%n", o.file(), dir);
        Set<String> known = new HashSet<>(EtcdServer.storageColumns());
        boolean ok = false;
        try {
            boolean bolt = isBolt(o.file());
            long revision;
            long compactRevision;
            long[] kept = {0};
            try (Storage storage = Storage.open(dir.resolve("member").resolve("kv"), EtcdServer.storageColumns());
                 RestoreBatch batch = new RestoreBatch(storage)) {
                if (bolt) {
                    EtcdSnapshotImport.Contents contents = EtcdSnapshotImport.read(o.file(), (column, key, value) -> {
                        batch.put(column, key, value);
                        kept[0]++;
                    });
                    revision = contents.revision();
                    compactRevision = contents.compactRevision();
                } else {
                    SnapshotFormat.Contents contents;
                    try (InputStream in = new BufferedInputStream(Files.newInputStream(o.file()), 1 << 16)) {
                        contents = SnapshotFormat.read(in, body, (column, key, value) -> {
                            if (!known.contains(column)) {
                                throw new SnapshotFormat.FormatException("snapshot has column \"" + column
                                        + "\", which this Keel does not know");
                            }
                            if (SnapshotStream.excluded(column, key)) {
                                return; // a snapshot from a raw data dir copy may still hold it
                            }
                            batch.put(column, key, value);
                            kept[0]++;
                        });
                    }
                    revision = contents.header().revision();
                    compactRevision = contents.header().compactRevision();
                }
                batch.flush();
                // no Raft log will replay these writes: make them durable before the data dir counts as restored
                storage.flush();
            } catch (SnapshotFormat.FormatException | BoltException e) {
                throw new SnapshotException(e.getMessage());
            } catch (IOException e) {
                throw new SnapshotException("cannot read snapshot " + o.file() + ": " + e.getMessage());
            }
            MemberIdentity id = MemberIdentity.loadOrCreate(cfg);
            ok = true;
            log.printf("restored snapshot %s into data dir %s: revision %d, compact revision %d, %d records; "
                            + "member %s of cluster %s%n", o.file(), dir, revision, compactRevision, kept[0],
                    ClusterIds.hex(id.memberId()), ClusterIds.hex(id.clusterId()));
        } finally {
            if (!ok) {
                deleteQuietly(dir, existed);
            }
        }
    }

    /** Whether {@code file} is a bbolt database (etcd's snapshot format) rather than Keel's own format. */
    static boolean isBolt(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return BoltReader.looksLikeBolt(in.readNBytes(24));
        } catch (IOException e) {
            throw new SnapshotException("cannot read snapshot " + file + ": " + e.getMessage());
        }
    }

    /** Writes rows into a fresh store in batches of about 4 MiB. */
    private static final class RestoreBatch implements AutoCloseable {
        private final Storage storage;
        private Storage.Batch batch;
        private long bytes;

        RestoreBatch(Storage storage) {
            this.storage = storage;
            this.batch = storage.newBatch();
        }

        void put(String column, byte[] key, byte[] value) {
            batch.put(storage.column(column), key, value);
            bytes += key.length + value.length;
            if (bytes >= (4 << 20)) {
                flush();
            }
        }

        void flush() {
            storage.write(batch);
            batch.close();
            batch = storage.newBatch();
            bytes = 0;
        }

        @Override
        public void close() {
            batch.close();
        }
    }

    /** etcd's VerifyBootstrap: this member's URLs in --initial-cluster are its --initial-advertise-peer-urls. */
    private static void checkAdvertiseMatchesCluster(EtcdConfig cfg) {
        List<String> inCluster = cfg.initialCluster().get(cfg.name()).stream().map(URI::toString).sorted().toList();
        List<String> advertised = cfg.initialAdvertisePeerUrls().stream().map(URI::toString).sorted().toList();
        if (!inCluster.equals(advertised)) {
            throw new SnapshotException("--initial-cluster has " + cfg.name() + "=" + String.join(",", inCluster)
                    + " but missing from --initial-advertise-peer-urls=" + String.join(",", advertised));
        }
    }

    /**
     * Checks the SHA-256 trailer as etcdutl does and returns the length of the body before it: a file without
     * the trailer (its size is not 512·n + 32) is refused unless {@code skip}; with {@code skip} the trailer is
     * left unchecked.
     */
    static long verifyHash(Path file, boolean skip) {
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            throw new SnapshotException("cannot read snapshot " + file + ": " + e.getMessage());
        }
        boolean hasHash = size % SnapshotFormat.ALIGN == SnapshotFormat.SHA_SIZE;
        if (!hasHash) {
            if (!skip) {
                throw new SnapshotException("snapshot missing hash but --skip-hash-check=false");
            }
            return size;
        }
        long body = size - SnapshotFormat.SHA_SIZE;
        if (skip) {
            return body;
        }
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            long left = body;
            while (left > 0) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                if (n < 0) {
                    throw new IOException("file shrank while reading");
                }
                sha.update(buf, 0, n);
                left -= n;
            }
            byte[] expected = in.readNBytes(SnapshotFormat.SHA_SIZE);
            byte[] got = sha.digest();
            if (!Arrays.equals(expected, got)) {
                throw new SnapshotException("expected sha256 " + goBytes(expected) + ", got " + goBytes(got)
                        + " (the snapshot file is corrupt; --skip-hash-check restores it anyway)");
            }
        } catch (IOException e) {
            throw new SnapshotException("cannot read snapshot " + file + ": " + e.getMessage());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        return body;
    }

    /** A byte array as Go's %v prints it (etcdutl's message): [1 2 3]. */
    private static String goBytes(byte[] b) {
        StringBuilder s = new StringBuilder("[");
        for (int i = 0; i < b.length; i++) {
            s.append(i == 0 ? "" : " ").append(b[i] & 0xff);
        }
        return s.append(']').toString();
    }

    private static boolean isEmptyDir(Path dir) {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            return false;
        }
    }

    /** Removes what a failed restore wrote: the whole dir if it created it, else only its contents. */
    private static void deleteQuietly(Path dir, boolean keepDir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                if (!(keepDir && p.equals(dir))) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            // best effort: the error that made the restore fail is the one to report
        }
    }

    // ---- status ----------------------------------------------------------------------------------------

    /** etcdutl's snapshot.Status for a Keel file. */
    record Status(long hash, long revision, long totalKey, long totalSize, String version) {
    }

    /**
     * Reads a snapshot like etcdutl's status: hash = CRC-32C (Castagnoli) over every column name followed by its
     * keys and values in order, revision, live keys at that revision, body size, storage version. The SHA-256
     * trailer is not checked (as etcdutl does not); the format's own checks apply.
     */
    static Status status(Path file) {
        if (isBolt(file)) {
            return boltStatus(file);
        }
        try {
            long size = Files.size(file);
            long body = size % SnapshotFormat.ALIGN == SnapshotFormat.SHA_SIZE ? size - SnapshotFormat.SHA_SIZE
                    : size;
            CRC32C crc = new CRC32C();
            Map<ByteBuffer, Boolean> live = new java.util.HashMap<>();
            String[] lastColumn = {null};
            SnapshotFormat.Contents c;
            try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
                c = SnapshotFormat.read(in, body, (column, key, value) -> {
                    if (!column.equals(lastColumn[0])) {
                        crc.update(column.getBytes(StandardCharsets.UTF_8));
                        lastColumn[0] = column;
                    }
                    crc.update(key);
                    crc.update(value);
                    if (column.equals(MvccStore.KV_COLUMN)) {
                        ByteBuffer k = ByteBuffer.wrap(KeyValue.parseFrom(value).getKey().toByteArray());
                        if (Revision.isTombstone(key)) {
                            live.remove(k);
                        } else {
                            live.put(k, Boolean.TRUE);
                        }
                    }
                });
            }
            return new Status(crc.getValue(), c.header().revision(), live.size(), body, c.header().storageVersion());
        } catch (SnapshotFormat.FormatException e) {
            throw new SnapshotException(e.getMessage());
        } catch (IOException e) {
            throw new SnapshotException("cannot read snapshot " + file + ": " + e.getMessage());
        }
    }

    /**
     * etcdutl's snapshot.Status of a bbolt file: hash = CRC-32C over every top-level bucket's name followed by its
     * keys and values in order, revision = main revision of the last record in {@code key}, total keys = keys live
     * after replaying {@code key}, total size = the database's pages, version = meta's {@code storageVersion}
     * (empty before etcd 3.6).
     */
    static Status boltStatus(Path file) {
        CRC32C crc = new CRC32C();
        Map<ByteBuffer, Boolean> live = new java.util.HashMap<>();
        long[] revision = {0};
        String[] version = {""};
        try (BoltReader r = BoltReader.open(file)) {
            r.forEach(new BoltReader.Visitor() {
                @Override
                public void bucket(List<byte[]> path) {
                    if (path.size() <= 2) {
                        crc.update(path.get(path.size() - 1)); // a nested bucket counts as a key with no value
                    }
                }

                @Override
                public void entry(List<byte[]> path, byte[] key, byte[] value) throws IOException {
                    if (path.size() != 1) {
                        return;
                    }
                    crc.update(key);
                    crc.update(value);
                    String bucket = new String(path.get(0), StandardCharsets.UTF_8);
                    if (bucket.equals(EtcdBackendLayout.KEY)) {
                        try {
                            revision[0] = EtcdBackendLayout.revMain(key);
                        } catch (IllegalArgumentException e) {
                            throw new BoltException("cannot parse revision key: " + e.getMessage());
                        }
                        ByteBuffer k = ByteBuffer.wrap(KeyValue.parseFrom(value).getKey().toByteArray());
                        if (Revision.isTombstone(key)) {
                            live.remove(k);
                        } else {
                            live.put(k, Boolean.TRUE);
                        }
                    } else if (bucket.equals(EtcdBackendLayout.META)
                            && Arrays.equals(key, EtcdBackendLayout.utf8(EtcdBackendLayout.META_STORAGE_VERSION))) {
                        version[0] = new String(value, StandardCharsets.UTF_8);
                    }
                }
            });
            return new Status(crc.getValue(), revision[0], live.size(), r.size(), version[0]);
        } catch (BoltException e) {
            throw new SnapshotException(e.getMessage());
        } catch (IOException e) {
            throw new SnapshotException("cannot read snapshot " + file + ": " + e.getMessage());
        }
    }

    private static void status(StatusOptions o, PrintStream out) {
        Status s = status(o.file());
        List<String> hdr = List.of("hash", "revision", "total keys", "total size", "version");
        List<String> row = List.of(Long.toHexString(s.hash()), Long.toString(s.revision()),
                Long.toString(s.totalKey()), humanizeBytes(s.totalSize()), s.version());
        switch (o.writeOut()) {
            case "json" -> out.printf("{\"hash\":%d,\"revision\":%d,\"totalKey\":%d,\"totalSize\":%d,"
                    + "\"version\":\"%s\"}%n", s.hash(), s.revision(), s.totalKey(), s.totalSize(), s.version());
            case "table" -> out.print(table(hdr, row));
            default -> out.println(String.join(", ", row));
        }
    }

    /** etcdutl's table: upper-case centred headers, right-aligned cells. */
    static String table(List<String> hdr, List<String> row) {
        int[] w = new int[hdr.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = Math.max(hdr.get(i).length(), row.get(i).length());
        }
        StringBuilder line = new StringBuilder("+");
        for (int x : w) {
            line.append("-".repeat(x + 2)).append('+');
        }
        line.append('\n');
        StringBuilder s = new StringBuilder(line).append('|');
        for (int i = 0; i < w.length; i++) {
            String h = hdr.get(i).toUpperCase(Locale.ROOT);
            int left = (w[i] - h.length()) / 2;
            s.append(' ').append(" ".repeat(left)).append(h).append(" ".repeat(w[i] - h.length() - left))
                    .append(" |");
        }
        s.append('\n').append(line).append('|');
        for (int i = 0; i < w.length; i++) {
            s.append(' ').append(" ".repeat(w[i] - row.get(i).length())).append(row.get(i)).append(" |");
        }
        return s.append('\n').append(line).toString();
    }

    /** go-humanize's Bytes (SI units), as etcdutl prints sizes: "82 B", "1.5 kB", "25 kB", "3.4 MB". */
    static String humanizeBytes(long s) {
        if (s < 10) {
            return s + " B";
        }
        String[] units = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
        int e = (int) Math.floor(Math.log(s) / Math.log(1000));
        double val = Math.floor(s / Math.pow(1000, e) * 10 + 0.5) / 10;
        return String.format(Locale.ROOT, val < 10 ? "%.1f %s" : "%.0f %s", val, units[e]);
    }
}
