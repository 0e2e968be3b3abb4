package dev.keel.e2e;

import dev.keel.proto.etcdserverpb.MaintenanceGrpc;
import dev.keel.proto.etcdserverpb.StatusRequest;
import dev.keel.proto.etcdserverpb.StatusResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.keel.e2e.GatewayIT.b64;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The gateway's streaming paths, {@code /v3/watch}, {@code /v3/lease/keepalive} and {@code /v3/election/observe},
 * over a raw HTTP/1.1 connection so the test sees the chunked stream as it arrives and can drop the connection:
 * newline-delimited {@code {"result":...}} objects (grpc-gateway v2's stream format), and a dropped connection
 * cancels the watch.
 */
class GatewayStreamIT {

    @TempDir
    static Path tmp;

    static ServerProcess server;
    static ManagedChannel channel;
    static String clusterId;
    static String memberId;
    static String raftTerm;

    @BeforeAll
    static void start() throws Exception {
        server = ServerProcess.start(tmp.resolve("gwstream"));
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.clientPort()).usePlaintext().build();
        StatusResponse st = MaintenanceGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
                .status(StatusRequest.getDefaultInstance());
        clusterId = Long.toUnsignedString(st.getHeader().getClusterId());
        memberId = Long.toUnsignedString(st.getHeader().getMemberId());
        raftTerm = Long.toUnsignedString(st.getRaftTerm());
    }

    @AfterAll
    static void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow();
            channel.awaitTermination(5, TimeUnit.SECONDS);
        }
        if (server != null) {
            server.close();
        }
    }

    static String hdr(long rev) {
        return "{\"cluster_id\":\"" + clusterId + "\",\"member_id\":\"" + memberId + "\",\"revision\":\"" + rev
                + "\",\"raft_term\":\"" + raftTerm + "\"}";
    }

    /** One HTTP/1.1 exchange on its own connection, read line by line from the chunked body. */
    static final class Exchange implements AutoCloseable {
        final Socket socket;
        final InputStream in;
        final int status;
        final Map<String, String> headers = new LinkedHashMap<>();
        private final ArrayDeque<String> lines = new ArrayDeque<>();
        private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
        private boolean ended;

        Exchange(String method, String path, String body) throws IOException {
            socket = new Socket("127.0.0.1", server.clientPort());
            socket.setSoTimeout(15_000);
            byte[] b = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
            OutputStream out = socket.getOutputStream();
            out.write((method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            out.write(b);
            out.flush();
            in = new BufferedInputStream(socket.getInputStream());
            String statusLine = readLine();
            status = Integer.parseInt(statusLine.split(" ")[1]);
            for (String h = readLine(); !h.isEmpty(); h = readLine()) {
                int colon = h.indexOf(':');
                headers.put(h.substring(0, colon).trim().toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
            }
        }

        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }

        private String readLine() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) != '\n') {
                if (c < 0) {
                    throw new IOException("connection closed");
                }
                if (c != '\r') {
                    b.write(c);
                }
            }
            return b.toString(StandardCharsets.ISO_8859_1);
        }

        /** The next newline-terminated line of the body, or null at its end. */
        String next() throws IOException {
            while (lines.isEmpty()) {
                if (ended) {
                    return null;
                }
                String size = readLine();
                int n = Integer.parseInt(size.split(";")[0].trim(), 16);
                if (n == 0) {
                    readLine(); // the empty trailer
                    ended = true;
                    if (partial.size() > 0) {
                        lines.add(partial.toString(StandardCharsets.UTF_8));
                    }
                    break;
                }
                byte[] chunk = in.readNBytes(n);
                readLine(); // CRLF after the chunk
                for (byte x : chunk) {
                    if (x == '\n') {
                        lines.add(partial.toString(StandardCharsets.UTF_8) + "\n");
                        partial.reset();
                    } else {
                        partial.write(x);
                    }
                }
            }
            return lines.poll();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    static String post(String path, String body) throws Exception {
        try (Exchange e = new Exchange("POST", path, body)) {
            assertEquals(200, e.status);
            String len = e.header("Content-Length");
            byte[] b = e.in.readNBytes(Integer.parseInt(len));
            return new String(b, StandardCharsets.UTF_8);
        }
    }

    static long revision() throws Exception {
        return Long.parseLong(new JsonObject(post("/v3/kv/range", "{\"key\":\"" + b64("x") + "\"}"))
                .getJsonObject("header").getString("revision"));
    }

    static double metric(String name) throws Exception {
        try (Exchange e = new Exchange("GET", "/metrics", null)) {
            String body = new String(e.in.readNBytes(Integer.parseInt(e.header("Content-Length"))),
                    StandardCharsets.UTF_8);
            Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + " (\\S+)$").matcher(body);
            if (!m.find()) {
                fail("no " + name);
            }
            return Double.parseDouble(m.group(1));
        }
    }

    // ---- /v3/watch -------------------------------------------------------------------------------------------

    @Test
    void watchStreamsCreatedThenEventsAndDisconnectCancels() throws Exception {
        double watchers = metric("etcd_debugging_mvcc_watcher_total");
        long rev = revision();
        try (Exchange w = new Exchange("POST", "/v3/watch",
                "{\"create_request\":{\"key\":\"" + b64("ws/") + "\",\"range_end\":\"" + b64("ws0") + "\"}}")) {
            assertEquals(200, w.status);
            assertEquals("application/json", w.header("Content-Type"));
            assertEquals("chunked", w.header("Transfer-Encoding"));
            assertEquals("application/grpc", w.header("Grpc-Metadata-Content-Type"));
            assertNull(w.header("Content-Length"));
            assertEquals("{\"result\":{\"header\":" + hdr(rev) + ",\"created\":true}}\n", w.next());
            assertEquals(watchers + 1, metric("etcd_debugging_mvcc_watcher_total"));

            post("/v3/kv/put", "{\"key\":\"" + b64("ws/a") + "\",\"value\":\"" + b64("1") + "\"}");
            assertEquals("{\"result\":{\"header\":" + hdr(rev + 1) + ",\"events\":[{\"kv\":{\"key\":\"" + b64("ws/a")
                    + "\",\"create_revision\":\"" + (rev + 1) + "\",\"mod_revision\":\"" + (rev + 1)
                    + "\",\"version\":\"1\",\"value\":\"" + b64("1") + "\"}}]}}\n", w.next());
            post("/v3/kv/put", "{\"key\":\"" + b64("other") + "\",\"value\":\"" + b64("x") + "\"}");
            post("/v3/kv/deleterange", "{\"key\":\"" + b64("ws/a") + "\"}");
            assertEquals("{\"result\":{\"header\":" + hdr(rev + 3) + ",\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\""
                    + b64("ws/a") + "\",\"mod_revision\":\"" + (rev + 3) + "\"}}]}}\n", w.next());
        }
        // the client went away: its watcher is removed
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (metric("etcd_debugging_mvcc_watcher_total") != watchers) {
            if (System.nanoTime() > deadline) {
                fail("watcher not cancelled after the client disconnected");
            }
            Thread.sleep(50);
        }
    }

    @Test
    void watchWithTwoRequestsInTheBody() throws Exception {
        long rev = revision();
        try (Exchange w = new Exchange("POST", "/v3/watch",
                "{\"create_request\":{\"key\":\"" + b64("w2/a") + "\",\"watch_id\":\"7\"}}\n"
                        + "{\"create_request\":{\"key\":\"" + b64("w2/b") + "\",\"watch_id\":\"8\"}}")) {
            assertEquals("{\"result\":{\"header\":" + hdr(rev) + ",\"watch_id\":\"7\",\"created\":true}}\n", w.next());
            assertEquals("{\"result\":{\"header\":" + hdr(rev) + ",\"watch_id\":\"8\",\"created\":true}}\n", w.next());
            post("/v3/kv/put", "{\"key\":\"" + b64("w2/b") + "\",\"value\":\"" + b64("v") + "\"}");
            assertEquals("{\"result\":{\"header\":" + hdr(rev + 1) + ",\"watch_id\":\"8\",\"events\":[{\"kv\":{\"key\":\""
                    + b64("w2/b") + "\",\"create_revision\":\"" + (rev + 1) + "\",\"mod_revision\":\"" + (rev + 1)
                    + "\",\"version\":\"1\",\"value\":\"" + b64("v") + "\"}}]}}\n", w.next());
        }
    }

    @Test
    void watchOnlyAnswersPost() throws Exception {
        try (Exchange e = new Exchange("GET", "/v3/watch", null)) {
            assertEquals(501, e.status);
            assertEquals("{\"code\":12,\"message\":\"Method Not Allowed\"}",
                    new String(e.in.readNBytes(Integer.parseInt(e.header("Content-Length"))), StandardCharsets.UTF_8));
        }
    }

    // ---- /v3/lease/keepalive ------------------------------------------------------------------------------

    @Test
    void keepAliveAnswersEachRequestThenEnds() throws Exception {
        JsonObject grant = new JsonObject(post("/v3/lease/grant", "{\"TTL\":\"60\"}"));
        String id = grant.getString("ID");
        long rev = revision();
        try (Exchange k = new Exchange("POST", "/v3/lease/keepalive",
                "{\"ID\":\"" + id + "\"}{\"ID\":\"" + id + "\"} {\"ID\":\"12345\"}")) {
            assertEquals(200, k.status);
            assertEquals("application/json", k.header("Content-Type"));
            String one = "{\"result\":{\"header\":" + hdr(rev) + ",\"ID\":\"" + id + "\",\"TTL\":\"60\"}}\n";
            assertEquals(one, k.next());
            assertEquals(one, k.next());
            assertEquals("{\"result\":{\"header\":" + hdr(rev) + ",\"ID\":\"12345\"}}\n", k.next(), "unknown lease: TTL 0");
            assertNull(k.next(), "the stream ends with the requests");
        }
    }

    @Test
    void keepAliveStopsAtABodyThatIsNotJson() throws Exception {
        JsonObject grant = new JsonObject(post("/v3/lease/grant", "{\"TTL\":\"30\"}"));
        String id = grant.getString("ID");
        long rev = revision();
        try (Exchange k = new Exchange("POST", "/v3/lease/keepalive", "{\"ID\":\"" + id + "\"} nope {\"ID\":\"1\"}")) {
            assertEquals("{\"result\":{\"header\":" + hdr(rev) + ",\"ID\":\"" + id + "\",\"TTL\":\"30\"}}\n", k.next());
            assertNull(k.next());
        }
    }

    // ---- /v3/election/observe -----------------------------------------------------------------------------

    @Test
    void observeStreamsTheLeaderAndItsProclamations() throws Exception {
        JsonObject campaign = new JsonObject(post("/v3/election/campaign",
                "{\"name\":\"" + b64("el") + "\",\"value\":\"" + b64("v1") + "\"}"));
        JsonObject leader = campaign.getJsonObject("leader");
        String key = leader.getString("key");
        long created = Long.parseLong(leader.getString("rev"));
        try (Exchange o = new Exchange("POST", "/v3/election/observe", "{\"name\":\"" + b64("el") + "\"}")) {
            assertEquals(200, o.status);
            JsonObject first = new JsonObject(o.next()).getJsonObject("result");
            assertEquals(key, first.getJsonObject("kv").getString("key"));
            assertEquals(b64("v1"), first.getJsonObject("kv").getString("value"));
            post("/v3/election/proclaim", "{\"leader\":" + leader.encode() + ",\"value\":\"" + b64("v2") + "\"}");
            JsonObject second = new JsonObject(o.next()).getJsonObject("result");
            assertEquals(b64("v2"), second.getJsonObject("kv").getString("value"));
            assertEquals(String.valueOf(created), second.getJsonObject("kv").getString("create_revision"));
        }
    }
}
