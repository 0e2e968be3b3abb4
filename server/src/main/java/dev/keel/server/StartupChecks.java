package dev.keel.server;

import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a member checks before it opens anything, so that a start-up that cannot succeed says why on stderr with
 * etcd's wording (Go's error texts) instead of failing deep inside storage, Raft or the HTTP server: the data
 * directory, the certificate files, and that every listen URL can be bound.
 */
public final class StartupChecks {

    private StartupChecks() {
    }

    /** A start-up failure; the message is what the user sees. */
    public static final class StartupException extends RuntimeException {
        public StartupException(String message) {
            super(message, null, false, false);
        }
    }

    /** All checks, in etcd's order: data dir, certificates, then peer, client and metrics listeners. */
    public static void check(EtcdConfig cfg) {
        dataDir(cfg.dataDir());
        certFiles(cfg);
        List<URI> urls = new ArrayList<>();
        urls.add(cfg.listenPeerUrl());
        urls.addAll(cfg.listenClientUrls());
        urls.addAll(cfg.listenMetricsUrls());
        for (URI u : urls) {
            bindable(u);
        }
    }

    /**
     * etcd's fileutil.TouchDirAll: the data dir is created if missing and must be a writable directory ("cannot
     * access data directory: mkdir x: not a directory"), and must not hold an etcd member's own files (WAL and bbolt
     * snapshots), which Keel cannot read.
     */
    static void dataDir(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new StartupException("cannot access data directory: mkdir " + dir + ": " + goError(e));
        }
        Path probe = dir.resolve(".touch");
        try {
            Files.deleteIfExists(probe);
            Files.createFile(probe);
            Files.delete(probe);
        } catch (IOException e) {
            throw new StartupException("cannot access data directory: open " + probe + ": " + goError(e));
        }
        Path member = dir.resolve("member");
        if ((Files.isDirectory(member.resolve("wal")) || Files.isDirectory(member.resolve("snap")))
                && !Files.exists(member.resolve("kv")) && !Files.exists(member.resolve("raft"))) {
            throw new StartupException("data directory " + dir + " holds an etcd member's data (member/wal, "
                    + "member/snap), which Keel cannot read; start from an etcd snapshot instead: "
                    + "'etcdctl snapshot save' on etcd, then 'keel snapshot restore' into a new --data-dir");
        }
    }

    /** Each certificate, key and CA file given must be readable ("open x: no such file or directory"). */
    static void certFiles(EtcdConfig cfg) {
        EtcdConfig.Tls client = cfg.clientTls();
        EtcdConfig.Tls peer = cfg.peerTls();
        List<String> files = new ArrayList<>();
        if (!client.autoTls()) {
            files.add(client.certFile());
            files.add(client.keyFile());
        }
        files.add(client.trustedCaFile());
        if (!peer.autoTls()) {
            files.add(peer.certFile());
            files.add(peer.keyFile());
        }
        files.add(peer.trustedCaFile());
        for (String f : files) {
            if (f.isEmpty()) {
                continue;
            }
            Path p = Path.of(f);
            try {
                if (Files.isDirectory(p)) {
                    throw new StartupException("read " + f + ": is a directory");
                }
                Files.newInputStream(p).close();
            } catch (IOException e) {
                throw new StartupException("open " + f + ": " + goError(e));
            }
        }
    }

    /** Binds and releases the URL's address, failing as Go's net.Listen would. */
    static void bindable(URI u) {
        String host = listenHost(u);
        InetAddress addr;
        try {
            addr = InetAddress.getByName(host);
        } catch (IOException e) {
            throw new StartupException("listen tcp " + host + ":" + u.getPort() + ": lookup " + host
                    + ": no such host");
        }
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(addr, u.getPort()));
        } catch (IOException e) {
            throw new StartupException(listenError(addr, u.getPort(), e));
        }
    }

    /** The host a listener binds for a URL: "localhost" is 127.0.0.1, as in Keel's listeners. */
    public static String listenHost(URI u) {
        String h = u.getHost();
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        return h.equals("localhost") ? "127.0.0.1" : h;
    }

    /** Go's text for a failed listen: "listen tcp 127.0.0.1:2379: bind: address already in use". */
    public static String listenError(InetAddress addr, int port, Throwable e) {
        String ip = addr.getHostAddress();
        if (ip.contains(":")) {
            ip = "[" + ip + "]";
        }
        return "listen tcp " + ip + ":" + port + ": bind: " + goError(e);
    }

    /** A Java I/O error as Go's syscall error text ("address already in use", "no such file or directory"). */
    static String goError(Throwable e) {
        if (e instanceof NoSuchFileException) {
            return "no such file or directory";
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof NotDirectoryException) {
            return "not a directory";
        }
        if (e instanceof java.nio.file.FileAlreadyExistsException && e.getMessage() != null) {
            return "not a directory"; // createDirectories over a regular file
        }
        String m = e instanceof FileSystemException fse && fse.getReason() != null ? fse.getReason() : e.getMessage();
        if (m == null) {
            return e.getClass().getSimpleName();
        }
        if (e instanceof BindException || m.contains("(Bind failed)")) {
            m = m.replace(" (Bind failed)", "");
        }
        m = m.trim();
        return m.isEmpty() ? m : m.substring(0, 1).toLowerCase(Locale.ROOT) + m.substring(1);
    }
}
