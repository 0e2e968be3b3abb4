package dev.keel.server;

import dev.keel.e2e.ServerProcess;
import dev.keel.lease.Lessor;
import dev.keel.mvcc.KvApplier;
import dev.keel.mvcc.MvccStore;
import dev.keel.proto.mvccpb.KeyValue;
import dev.keel.storage.Storage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * The packaged member serves {@code GET /keel/internal/v1/raft-snapshot} on its client port (Quarkus wiring), and
 * {@link SnapshotInstaller} installs what it serves into a separate member's storage, which then answers as the
 * running member does.
 */
class SnapshotInstallIT {

    @TempDir
    Path dir;

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String post(ServerProcess p, String path, String json) throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(p.url() + path))
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return r.body();
    }

    private static long number(String json, String field) {
        Matcher m = Pattern.compile("\"" + field + "\":\"?(\\d+)").matcher(json);
        assertTrue(m.find(), field + " in " + json);
        return Long.parseLong(m.group(1));
    }

    @Test
    void aRunningMemberServesTheSnapshotAnotherInstalls() throws Exception {
        assumeFalse(ServerProcess.isReferenceEtcd(), "a Keel endpoint");
        try (ServerProcess p = ServerProcess.start(dir.resolve("leader"))) {
            post(p, "/v3/lease/grant", "{\"ID\":\"4242\",\"TTL\":\"600\"}");
            for (int i = 0; i < 300; i++) {
                post(p, "/v3/kv/put", "{\"key\":\"" + b64("k/" + i) + "\",\"value\":\"" + b64("v" + i) + "\""
                        + (i % 10 == 0 ? ",\"lease\":\"4242\"" : "") + "}");
            }
            post(p, "/v3/kv/deleterange", "{\"key\":\"" + b64("k/7") + "\"}");
            post(p, "/v3/kv/compaction", "{\"revision\":\"100\",\"physical\":true}");
            String range = post(p, "/v3/kv/range", "{\"key\":\"" + b64("k/") + "\",\"range_end\":\""
                    + b64("k0") + "\",\"count_only\":true}");
            long revision = number(range, "revision");
            long count = number(range, "count");
            String status = post(p, "/v3/maintenance/status", "{}");

            // only GET
            HttpResponse<String> put = HTTP.send(HttpRequest.newBuilder(URI.create(p.url() + SnapshotInstaller.PATH))
                    .PUT(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(405, put.statusCode());

            Path kv = dir.resolve("follower").resolve("member").resolve("kv");
            try (Storage storage = Storage.open(kv, EtcdServer.storageColumns())) {
                MvccStore mvcc = new MvccStore(storage);
                Lessor lessor = new Lessor(storage, new Lessor.Config(2, 300_000_000_000L, 7_000_000_000L, 1000),
                        System::nanoTime);
                AlarmStore alarms = new AlarmStore(storage);
                DowngradeState downgrade = new DowngradeState(storage);
                dev.keel.membership.MemberStore members =
                        new dev.keel.membership.MemberStore(storage, MvccStore.META_COLUMN, 1);
                Applier applier = new Applier(storage, mvcc, new KvApplier(lessor::exists), lessor, alarms,
                        downgrade, members, new dev.keel.auth.AuthStore(storage, dev.keel.auth.TokenProvider.NONE, 4));
                SnapshotInstaller installer = new SnapshotInstaller(storage, mvcc, lessor, alarms, downgrade,
                        id -> URI.create(p.url()), members::reload);
                applier.snapshotInstaller(installer);
                try {
                    // without a ticket the running member refuses to hand out its state
                    java.util.concurrent.ExecutionException refused = assertThrows(
                            java.util.concurrent.ExecutionException.class,
                            () -> applier.installSnapshot("8e9e05c52164694d").get());
                    assertTrue(refused.getCause().getMessage().contains("answered 403"), refused.toString());
                    assertEquals(0, applier.appliedIndex(), "nothing was replaced");
                    // a Raft member asks for one over the Raft port, as a follower's installer does
                    URI peer = URI.create(p.peerUrl());
                    dev.keel.raft.RatisRaftNode.Discovered d = dev.keel.raft.RatisRaftNode.discover(
                            List.of(peer.getHost() + ":" + peer.getPort()), java.time.Duration.ofSeconds(5),
                            dev.keel.proto.internal.LeaderQuery.newBuilder().setSnapshotTicket(true).build()
                                    .toByteArray());
                    dev.keel.proto.internal.SnapshotTicket ticket =
                            dev.keel.proto.internal.LeaderAnswer.parseFrom(d.answer()).getSnapshotTicket();
                    assertFalse(ticket.getTicket().isEmpty(), "a ticket");
                    installer.tickets(leader -> new SnapshotInstaller.Ticket(leader, ticket.getTicket()));
                    applier.installSnapshot("8e9e05c52164694d").get();

                    assertEquals(revision, mvcc.currentRevision());
                    assertEquals(100, mvcc.compactRevision());
                    List<KeyValue> kvs = mvcc.range("k/".getBytes(), "k0".getBytes(), 0, 0, false).kvs();
                    assertEquals(count, kvs.size());
                    assertEquals(299, kvs.size());
                    assertEquals(List.of(4242L), lessor.leases());
                    assertEquals(30, lessor.keys(4242).size());
                    assertTrue(applier.appliedIndex() > 300, "applied " + applier.appliedIndex());
                    assertTrue(applier.appliedIndex() <= number(status, "raftAppliedIndex"),
                            "applied " + applier.appliedIndex() + ", status " + status);
                    assertTrue(applier.appliedTerm() >= 1);
                    assertEquals(1, members.members().size(), "the member list travels with the state");
                    assertEquals(p.url(), members.members().get(0).getClientURLs(0));
                    // what the running member answers for a key, the installed copy holds
                    String one = post(p, "/v3/kv/range", "{\"key\":\"" + b64("k/123") + "\"}");
                    KeyValue mine = mvcc.range("k/123".getBytes(), null, 0, 0, false).kvs().get(0);
                    assertEquals(number(one, "mod_revision"), mine.getModRevision());
                    assertEquals("v123", mine.getValue().toStringUtf8());
                } finally {
                    installer.close();
                    mvcc.close();
                }
            }
        }
    }
}
