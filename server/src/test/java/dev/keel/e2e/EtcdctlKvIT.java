package dev.keel.e2e;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * etcdctl 3.4 (unmodified, Debian's etcd-client) against one member: every command's output must be what etcd
 * 3.4 prints for the same session. The transcripts below were recorded from etcd 3.4.23; see
 * {@link EtcdctlTranscript} for the format. Only ids, raft term, timings, sizes, raft indexes and the server
 * version are masked.
 *
 * <p>Run against real etcd (to re-check the transcripts): {@code -Dkeel.e2e.impl=etcd}.
 *
 * <p>Each transcript uses its own key prefix and relative revisions, so the tests do not depend on each other;
 * only {@link #freshStoreStartsAtRevisionOne} must run first. Keys: {@code p/} put, {@code g/} get, {@code s/}
 * sort, {@code y/} from-key get, {@code d/} delete, {@code z/} from-key delete (deletes everything it creates),
 * {@code t/} txn, {@code c/} compaction. Nothing may write keys sorting after {@code y/} except the {@code z/}
 * test.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class EtcdctlKvIT {

    @TempDir
    static Path tmp;

    static ServerProcess server;
    static Etcdctl ctl;
    static String clusterId;
    static String memberId;
    static EtcdctlTranscript transcript;

    @BeforeAll
    static void start() throws Exception {
        server = ServerProcess.start(tmp.resolve("etcdctl-kv"));
        ctl = new Etcdctl(server.endpoint());
        String status = ctl.ok("endpoint", "status", "-w", "json");
        clusterId = number(status, "cluster_id");
        memberId = number(status, "member_id");
        assertNotEquals("0", clusterId, "cluster_id");
        assertNotEquals("0", memberId, "member_id");
        transcript = new EtcdctlTranscript(ctl, clusterId, memberId);
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    /** The first number after {@code "field":} in a JSON text. */
    static String number(String json, String field) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(field) + "\":(\\d+)").matcher(json);
        if (!m.find()) {
            fail("no " + field + " in " + json);
        }
        return m.group(1);
    }

    private String hexMemberId() {
        return Long.toHexString(Long.parseUnsignedLong(memberId));
    }

    // ---- the store starts at revision 1; the first write is revision 2 ----------------------------------

    @Test
    @Order(1)
    void freshStoreStartsAtRevisionOne() throws Exception {
        EtcdctlTranscript t = transcript;
        assertEquals(List.of("{\"header\":{\"cluster_id\":<CID>,\"member_id\":<MID>,\"revision\":1,\"raft_term\":<TERM>}}"),
                t.normalize(ctl.run("get", "fresh/k", "-w", "json"), EtcdctlTranscript.ABSOLUTE));
        assertEquals(List.of("{\"header\":{\"cluster_id\":<CID>,\"member_id\":<MID>,\"revision\":2,\"raft_term\":<TERM>}}"),
                t.normalize(ctl.run("put", "fresh/k", "v", "-w", "json"), EtcdctlTranscript.ABSOLUTE));
        assertEquals(List.of("{\"header\":{\"cluster_id\":<CID>,\"member_id\":<MID>,\"revision\":2,\"raft_term\":<TERM>},"
                        + "\"kvs\":[{\"key\":\"ZnJlc2gvaw==\",\"create_revision\":2,\"mod_revision\":2,\"version\":1,"
                        + "\"value\":\"dg==\"}],\"count\":1}"),
                t.normalize(ctl.run("get", "fresh/k", "-w", "json"), EtcdctlTranscript.ABSOLUTE));
        assertEquals(List.of("1"), t.normalize(ctl.run("del", "fresh/k"), EtcdctlTranscript.ABSOLUTE));
        assertEquals(3, EtcdctlTranscript.currentRevision(ctl));
    }

    // ---- KV transcripts ------------------------------------------------------------------------------------

    @Test
    void put() throws Exception {
        transcript.check(PUT);
    }

    @Test
    void get() throws Exception {
        transcript.check(GET);
    }

    @Test
    void getSorted() throws Exception {
        transcript.check(SORT);
    }

    @Test
    void getFromKey() throws Exception {
        transcript.check(FROMKEY);
    }

    @Test
    void del() throws Exception {
        transcript.check(DEL);
    }

    @Test
    void delFromKey() throws Exception {
        transcript.check(DELFROMKEY);
    }

    @Test
    void txn() throws Exception {
        transcript.check(TXN);
    }

    @Test
    void compaction() throws Exception {
        transcript.check(COMPACTION);
    }

    // ---- cluster-level commands ----------------------------------------------------------------------------

    /** The cells of an etcdctl table: header row first; border lines dropped. */
    static List<List<String>> table(String out) {
        List<List<String>> rows = new ArrayList<>();
        for (String l : out.lines().toList()) {
            if (l.startsWith("+")) {
                assertTrue(l.matches("\\+(-+\\+)+"), "table border: " + l);
                continue;
            }
            assertTrue(l.startsWith("|") && l.endsWith("|"), "table row: " + l);
            rows.add(Arrays.stream(l.substring(1, l.length() - 1).split("\\|", -1)).map(String::trim).toList());
        }
        return rows;
    }

    @Test
    void endpointHealth() throws Exception {
        Etcdctl.Result r = ctl.run("endpoint", "health");
        assertEquals(0, r.exitCode(), r.toString());
        // etcdctl 3.4 prints the simple health line on standard error
        assertTrue(r.stderr().matches(Pattern.quote(server.endpoint())
                + " is healthy: successfully committed proposal: took = \\d+(\\.\\d+)?[µm]?s\n"), r.toString());
        assertEquals("", r.stdout());

        r = ctl.run("endpoint", "health", "-w", "json");
        assertEquals(0, r.exitCode(), r.toString());
        assertEquals("[{\"endpoint\":\"" + server.endpoint() + "\",\"health\":true,\"took\":\"<T>\"}]\n",
                r.stdout().replaceAll("\"took\":\"[^\"]+\"", "\"took\":\"<T>\""));

        r = ctl.run("endpoint", "health", "-w", "table");
        assertEquals(0, r.exitCode(), r.toString());
        List<List<String>> t = table(r.stdout());
        assertEquals(List.of(List.of("ENDPOINT", "HEALTH", "TOOK", "ERROR"),
                List.of(server.endpoint(), "true", "<T>", "")),
                List.of(t.get(0), List.of(t.get(1).get(0), t.get(1).get(1), "<T>", t.get(1).get(3))));
        assertEquals(2, t.size());
    }

    @Test
    void endpointStatus() throws Exception {
        long rev = EtcdctlTranscript.currentRevision(ctl);
        String versionRe = "3\\.\\d+\\.\\d+";

        // simple: endpoint, id (hex), version, db size, is leader, is learner, term, index, applied index, errors
        Etcdctl.Result r = ctl.run("endpoint", "status");
        assertEquals(0, r.exitCode(), r.toString());
        Matcher m = Pattern.compile(Pattern.quote(server.endpoint()) + ", " + hexMemberId() + ", (" + versionRe
                + "), (\\d+(?:\\.\\d+)? [kMGT]?B), true, false, (\\d+), (\\d+), (\\d+), \n").matcher(r.stdout());
        assertTrue(m.matches(), r.toString());
        long term = Long.parseLong(m.group(3));
        assertTrue(term >= 1, "raft term " + term);
        assertTrue(Long.parseLong(m.group(4)) >= 1, "raft index");
        assertTrue(Long.parseLong(m.group(5)) <= Long.parseLong(m.group(4)), "applied index above commit index");

        // json: the whole StatusResponse as etcdctl 3.4 knows it
        r = ctl.run("endpoint", "status", "-w", "json");
        assertEquals(0, r.exitCode(), r.toString());
        String json = r.stdout();
        assertEquals(memberId, number(json, "leader"), "leader: " + json);
        assertEquals(Long.toString(rev), number(json, "revision"), "header revision: " + json);
        assertEquals(number(json, "raft_term"), number(json, "raftTerm"), json);
        assertTrue(Long.parseLong(number(json, "dbSize")) > 0, "dbSize: " + json);
        assertTrue(Long.parseLong(number(json, "dbSizeInUse")) > 0, "dbSizeInUse: " + json);
        assertTrue(Long.parseLong(number(json, "raftAppliedIndex")) <= Long.parseLong(number(json, "raftIndex")), json);
        String masked = transcript.normalizeIds(json.strip())
                .replaceAll("\"version\":\"" + versionRe + "\"", "\"version\":\"<VER>\"")
                .replaceAll("\"(dbSize|dbSizeInUse|raftIndex|raftAppliedIndex)\":\\d+", "\"$1\":<N>")
                .replaceAll("\"leader\":\\d+", "\"leader\":<MID>")
                .replaceAll("\"raftTerm\":\\d+", "\"raftTerm\":<TERM>")
                .replaceAll("\"revision\":\\d+", "\"revision\":<REV>");
        assertEquals("[{\"Endpoint\":\"" + server.endpoint() + "\",\"Status\":{\"header\":{\"cluster_id\":<CID>,"
                + "\"member_id\":<MID>,\"revision\":<REV>,\"raft_term\":<TERM>},\"version\":\"<VER>\",\"dbSize\":<N>,"
                + "\"leader\":<MID>,\"raftIndex\":<N>,\"raftTerm\":<TERM>,\"raftAppliedIndex\":<N>,"
                + "\"dbSizeInUse\":<N>}}]", masked);

        r = ctl.run("endpoint", "status", "-w", "table");
        assertEquals(0, r.exitCode(), r.toString());
        List<List<String>> t = table(r.stdout());
        assertEquals(2, t.size(), r.stdout());
        assertEquals(List.of("ENDPOINT", "ID", "VERSION", "DB SIZE", "IS LEADER", "IS LEARNER", "RAFT TERM",
                "RAFT INDEX", "RAFT APPLIED INDEX", "ERRORS"), t.get(0));
        List<String> row = t.get(1);
        assertEquals(List.of(server.endpoint(), hexMemberId(), "true", "false", ""),
                List.of(row.get(0), row.get(1), row.get(4), row.get(5), row.get(9)), r.stdout());
        assertTrue(row.get(2).matches(versionRe), row.get(2));
        assertTrue(row.get(3).matches("\\d+(\\.\\d+)? [kMGT]?B"), row.get(3));
        assertTrue(Long.parseLong(row.get(6)) >= 1 && Long.parseLong(row.get(7)) >= 1
                && Long.parseLong(row.get(8)) <= Long.parseLong(row.get(7)), r.stdout());
    }

    @Test
    void memberList() throws Exception {
        String peer = server.peerUrl();
        String client = server.url();
        Etcdctl.Result r = ctl.run("member", "list");
        assertEquals(0, r.exitCode(), r.toString());
        assertEquals(hexMemberId() + ", started, " + server.name() + ", " + peer + ", " + client + ", false\n",
                r.stdout());

        r = ctl.run("member", "list", "-w", "json");
        assertEquals(0, r.exitCode(), r.toString());
        // etcd's MemberList header carries no revision
        assertEquals("{\"header\":{\"cluster_id\":<CID>,\"member_id\":<MID>,\"raft_term\":<TERM>},"
                        + "\"members\":[{\"ID\":<MID>,\"name\":\"" + server.name() + "\",\"peerURLs\":[\"" + peer
                        + "\"],\"clientURLs\":[\"" + client + "\"]}]}",
                transcript.normalizeIds(r.stdout().strip()).replace("\"ID\":" + memberId + ",", "\"ID\":<MID>,"));

        r = ctl.run("member", "list", "-w", "fields");
        assertEquals(0, r.exitCode(), r.toString());
        assertEquals(List.of("\"ClusterID\" : <CID>", "\"MemberID\" : <MID>", "\"Revision\" : 0",
                        "\"RaftTerm\" : <TERM>", "\"ID\" : " + memberId, "\"Name\" : \"" + server.name() + "\"",
                        "\"PeerURL\" : \"" + peer + "\"", "\"ClientURL\" : \"" + client + "\"",
                        "\"IsLearner\" : false", ""),
                transcript.normalize(r, EtcdctlTranscript.ABSOLUTE));

        r = ctl.run("member", "list", "-w", "table");
        assertEquals(0, r.exitCode(), r.toString());
        assertEquals(List.of(List.of("ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"),
                List.of(hexMemberId(), "started", server.name(), peer, client, "false")), table(r.stdout()));
    }

    // ---- put
    private static final String PUT = """
            $ put p/a 1
            OK
            $ put p/a 2 --prev-kv
            OK
            p/a
            1
            $ put p/b "hello world"
            OK
            $ put p/a 3 --prev-kv -w json
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+4},"raft_term":<TERM>},"prev_kv":{"key":"cC9h","create_revision":{R+1},"mod_revision":{R+2},"version":2,"value":"Mg=="}}
            $ put p/new v --prev-kv -w json
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+5},"raft_term":<TERM>}}
            $ put p/new v -w json
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+6},"raft_term":<TERM>}}
            $ put p/b --ignore-value --prev-kv
            OK
            p/b
            hello world
            $ get p/b -w json
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+7},"raft_term":<TERM>},"kvs":[{"key":"cC9i","create_revision":{R+3},"mod_revision":{R+7},"version":2,"value":"aGVsbG8gd29ybGQ="}],"count":1}
            $ put p/missing --ignore-value
            ! warn: retrying of unary invoker failed: rpc error: code = InvalidArgument desc = etcdserver: key not found
            ! Error: etcdserver: key not found
            ! exit 1
            $ put p/missing v --ignore-lease
            ! warn: retrying of unary invoker failed: rpc error: code = InvalidArgument desc = etcdserver: key not found
            ! Error: etcdserver: key not found
            ! exit 1
            $ put p/x v --lease=1234abcd
            ! warn: retrying of unary invoker failed: rpc error: code = NotFound desc = etcdserver: requested lease not found
            ! Error: etcdserver: requested lease not found
            ! exit 1
            $ put "" v
            ! warn: retrying of unary invoker failed: rpc error: code = InvalidArgument desc = etcdserver: key is not provided
            ! Error: etcdserver: key is not provided
            ! exit 1
            $ put p/a 4 -w fields
            "ClusterID" : <CID>
            "MemberID" : <MID>
            "Revision" : {R+8}
            "RaftTerm" : <TERM>
            $ get p/a -w fields
            "ClusterID" : <CID>
            "MemberID" : <MID>
            "Revision" : {R+8}
            "RaftTerm" : <TERM>
            "Key" : "p/a"
            "CreateRevision" : {R+1}
            "ModRevision" : {R+8}
            "Version" : 4
            "Value" : "4"
            "Lease" : 0
            "More" : false
            "Count" : 1
            $ get p/nokey
            $ get p/nokey -w json
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+8},"raft_term":<TERM>}}
            $ get p/a --hex
            \\x70\\x2f\\x61
            \\x34
            """;

    // ---- get
    private static final String GET = """
            $ put g/a 1
            OK
            $ put g/b 2
            OK
            $ put g/c 3
            OK
            $ put g/d 4
            OK
            $ put g/b 22
            OK
            $ put g/ab 5
            OK
            $ get g/b
            g/b
            22
            $ get g/ --prefix
            g/a
            1
            g/ab
            5
            g/b
            22
            g/c
            3
            g/d
            4
            $ get g/ --prefix --limit=2
            g/a
            1
            g/ab
            5
            $ get g/ --prefix --limit=2 -w json
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+6},"raft_term":<TERM>},"kvs":[{"key":"Zy9h","create_revision":{R+1},"mod_revision":{R+1},"version":1,"value":"MQ=="},{"key":"Zy9hYg==","create_revision":{R+6},"mod_revision":{R+6},"version":1,"value":"NQ=="}],"more":true,"count":5}
            $ get g/a g/c
            g/a
            1
            g/ab
            5
            g/b
            22
            $ get g/a g/c -w json
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+6},"raft_term":<TERM>},"kvs":[{"key":"Zy9h","create_revision":{R+1},"mod_revision":{R+1},"version":1,"value":"MQ=="},{"key":"Zy9hYg==","create_revision":{R+6},"mod_revision":{R+6},"version":1,"value":"NQ=="},{"key":"Zy9i","create_revision":{R+2},"mod_revision":{R+5},"version":2,"value":"MjI="}],"count":3}
            $ get g/ --prefix --keys-only
            g/a

            g/ab

            g/b

            g/c

            g/d

            $ get g/ --prefix --keys-only -w json
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+6},"raft_term":<TERM>},"kvs":[{"key":"Zy9h","create_revision":{R+1},"mod_revision":{R+1},"version":1},{"key":"Zy9hYg==","create_revision":{R+6},"mod_revision":{R+6},"version":1},{"key":"Zy9i","create_revision":{R+2},"mod_revision":{R+5},"version":2},{"key":"Zy9j","create_revision":{R+3},"mod_revision":{R+3},"version":1},{"key":"Zy9k","create_revision":{R+4},"mod_revision":{R+4},"version":1}],"count":5}
            $ get g/ --prefix --print-value-only
            1
            5
            22
            3
            4
            $ get g/b --print-value-only
            22
            $ get g/b --rev={R+2}
            g/b
            2
            $ get g/ --prefix --rev={R+3}
            g/a
            1
            g/b
            2
            g/c
            3
            $ get g/b --rev={R+1}
            $ get g/b --rev={R+1000}
            ! warn: retrying of unary invoker failed: rpc error: code = OutOfRange desc = etcdserver: mvcc: required revision is a future revision
            ! Error: etcdserver: mvcc: required revision is a future revision
            ! exit 1
            $ get g/ --prefix --consistency=s
            g/a
            1
            g/ab
            5
            g/b
            22
            g/c
            3
            g/d
            4
            $ get g/ --prefix --limit=3 -w fields
            "ClusterID" : <CID>
            "MemberID" : <MID>
            "Revision" : {R+6}
            "RaftTerm" : <TERM>
            "Key" : "g/a"
            "CreateRevision" : {R+1}
            "ModRevision" : {R+1}
            "Version" : 1
            "Value" : "1"
            "Lease" : 0
            "Key" : "g/ab"
            "CreateRevision" : {R+6}
            "ModRevision" : {R+6}
            "Version" : 1
            "Value" : "5"
            "Lease" : 0
            "Key" : "g/b"
            "CreateRevision" : {R+2}
            "ModRevision" : {R+5}
            "Version" : 2
            "Value" : "22"
            "Lease" : 0
            "More" : true
            "Count" : 5
            $ get ""
            ! warn: retrying of unary invoker failed: rpc error: code = InvalidArgument desc = etcdserver: key is not provided
            ! Error: etcdserver: key is not provided
            ! exit 1
            """;

    // ---- sort
    private static final String SORT = """
            $ put s/c b
            OK
            $ put s/a c
            OK
            $ put s/b a
            OK
            $ put s/b a2
            OK
            $ put s/c b2
            OK
            $ put s/b a3
            OK
            $ get s/ --prefix --sort-by=KEY --order=DESCEND
            s/c
            b2
            s/b
            a3
            s/a
            c
            $ get s/ --prefix --sort-by=KEY --order=ASCEND
            s/a
            c
            s/b
            a3
            s/c
            b2
            $ get s/ --prefix --sort-by=CREATE
            s/c
            b2
            s/a
            c
            s/b
            a3
            $ get s/ --prefix --sort-by=CREATE --order=DESCEND
            s/b
            a3
            s/a
            c
            s/c
            b2
            $ get s/ --prefix --sort-by=MODIFY
            s/a
            c
            s/c
            b2
            s/b
            a3
            $ get s/ --prefix --sort-by=MODIFY --order=DESCEND
            s/b
            a3
            s/c
            b2
            s/a
            c
            $ get s/ --prefix --sort-by=VERSION --order=ASCEND
            s/a
            c
            s/c
            b2
            s/b
            a3
            $ get s/ --prefix --sort-by=VERSION --order=DESCEND
            s/b
            a3
            s/c
            b2
            s/a
            c
            $ get s/ --prefix --sort-by=VALUE
            s/b
            a3
            s/c
            b2
            s/a
            c
            $ get s/ --prefix --sort-by=VALUE --order=DESCEND
            s/a
            c
            s/c
            b2
            s/b
            a3
            $ get s/ --prefix --order=DESCEND
            s/c
            b2
            s/b
            a3
            s/a
            c
            $ get s/ --prefix --sort-by=MODIFY --order=DESCEND --limit=2 -w json
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+6},"raft_term":<TERM>},"kvs":[{"key":"cy9i","create_revision":{R+3},"mod_revision":{R+6},"version":3,"value":"YTM="},{"key":"cy9j","create_revision":{R+1},"mod_revision":{R+5},"version":2,"value":"YjI="}],"more":true,"count":3}
            $ get s/ --prefix --order=DESCEND --limit=1
            s/c
            b2
            $ get s/ --prefix --sort-by=VERSION --order=DESCEND --limit=1 --keys-only
            s/b

            """;

    // ---- fromKey
    private static final String FROMKEY = """
            $ put y/a 1
            OK
            $ put y/b 2
            OK
            $ put y/c 3
            OK
            $ get y/b --from-key
            y/b
            2
            y/c
            3
            $ get y/b --from-key --limit=1 -w json
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+3},"raft_term":<TERM>},"kvs":[{"key":"eS9i","create_revision":{R+2},"mod_revision":{R+2},"version":1,"value":"Mg=="}],"more":true,"count":2}
            $ get y/b --from-key --keys-only
            y/b

            y/c

            """;

    // ---- del
    private static final String DEL = """
            $ put d/a 1
            OK
            $ put d/b 2
            OK
            $ put d/c 3
            OK
            $ put d/d 4
            OK
            $ put d/e 5
            OK
            $ put d/f 6
            OK
            $ del d/a
            1
            $ del d/a
            0
            $ del d/b --prev-kv
            1
            d/b
            2
            $ del d/c d/e
            2
            $ get d/ --prefix
            d/e
            5
            d/f
            6
            $ del d/ --prefix --prev-kv -w json
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+10},"raft_term":<TERM>},"deleted":2,"prev_kvs":[{"key":"ZC9l","create_revision":{R+5},"mod_revision":{R+5},"version":1,"value":"NQ=="},{"key":"ZC9m","create_revision":{R+6},"mod_revision":{R+6},"version":1,"value":"Ng=="}]}
            $ del d/ --prefix
            0
            $ del d/ --prefix -w json
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+10},"raft_term":<TERM>}}
            $ get d/a --rev={R+1}
            d/a
            1
            $ get d/ --prefix --rev={R+8}
            d/c
            3
            d/d
            4
            d/e
            5
            d/f
            6
            $ del ""
            ! warn: retrying of unary invoker failed: rpc error: code = InvalidArgument desc = etcdserver: key is not provided
            ! Error: etcdserver: key is not provided
            ! exit 1
            """;

    // ---- delFromKey
    private static final String DELFROMKEY = """
            $ put z/a 1
            OK
            $ put z/b 2
            OK
            $ put z/c 3
            OK
            $ del z/b --from-key
            2
            $ get z/ --prefix
            z/a
            1
            $ del z/ --from-key --prev-kv
            1
            z/a
            1
            $ get z/ --from-key
            """;

    // ---- txn
    private static final String TXN = """
            $ put t/a 1
            OK
            $ put t/b 2
            OK
            $ put t/b 3
            OK
            $ txn
            < value("t/a") = "1"
            <
            < put t/c x
            < get t/a
            < del t/nothing
            <
            < put t/f y
            <
            SUCCESS

            OK

            t/a
            1

            0
            $ txn
            < value("t/a") = "nope"
            <
            < put t/c x
            <
            < put t/f y
            < get t/f
            <
            FAILURE

            OK

            t/f
            y
            $ txn
            < version("t/b") = "2"
            < version("t/b") > "1"
            < version("t/b") < "3"
            < version("t/b") != "5"
            <
            < get t/b
            <
            <
            SUCCESS

            t/b
            3
            $ txn
            < version("t/b") = "1"
            <
            < get t/b
            <
            < get t/a
            <
            FAILURE

            t/a
            1
            $ txn
            < create("t/b") = "{R+2}"
            < mod("t/b") = "{R+3}"
            < mod("t/b") > "{R+2}"
            < create("t/a") < "{R+2}"
            <
            < get t/b --keys-only
            <
            <
            SUCCESS

            t/b

            $ txn
            < mod("t/b") < "{R+3}"
            <
            <
            < get t/b --print-value-only
            <
            FAILURE

            t/b
            3
            $ txn
            < create("t/missing") = "0"
            < version("t/missing") = "0"
            < mod("t/missing") = "0"
            <
            < put t/m1 1
            <
            <
            SUCCESS

            OK
            $ txn
            < value("t/missing") = ""
            <
            < put t/m2 1
            <
            < put t/m3 1
            <
            FAILURE

            OK
            $ txn
            < value("t/a") = "1"
            < value("t/a") = "2"
            <
            < put t/m4 1
            <
            < get t/m4
            <
            FAILURE

            $ txn
            < value("t/a") > "0"
            < value("t/a") < "2"
            <
            < put t/j1 a --prev-kv
            < put t/j2 b
            < get t/ --prefix --limit=2
            <
            <
            SUCCESS

            OK

            OK

            t/a
            1
            t/b
            3
            $ get t/j1 -w json
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+8},"raft_term":<TERM>},"kvs":[{"key":"dC9qMQ==","create_revision":{R+8},"mod_revision":{R+8},"version":1,"value":"YQ=="}],"count":1}
            $ get t/j2 -w json
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+8},"raft_term":<TERM>},"kvs":[{"key":"dC9qMg==","create_revision":{R+8},"mod_revision":{R+8},"version":1,"value":"Yg=="}],"count":1}
            $ txn -w json
            < value("t/a") = "1"
            <
            < put t/j1 a2 --prev-kv
            < get t/j1
            < del t/nothing
            <
            <
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+9},"raft_term":<TERM>},"succeeded":true,"responses":[{"Response":{"ResponsePut":{"header":{"revision":{R+9}},"prev_kv":{"key":"dC9qMQ==","create_revision":{R+8},"mod_revision":{R+8},"version":1,"value":"YQ=="}}}},{"Response":{"ResponseRange":{"header":{"revision":{R+9}},"kvs":[{"key":"dC9qMQ==","create_revision":{R+8},"mod_revision":{R+9},"version":2,"value":"YTI="}],"count":1}}},{"Response":{"ResponseDeleteRange":{"header":{"revision":{R+9}}}}}]}
            $ txn -w json
            < value("t/a") = "x"
            <
            < put t/k 1
            <
            < get t/a --keys-only
            <
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+9},"raft_term":<TERM>},"responses":[{"Response":{"ResponseRange":{"header":{"revision":{R+9}},"kvs":[{"key":"dC9h","create_revision":{R+1},"mod_revision":{R+1},"version":1}],"count":1}}}]}
            $ txn
            <
            <
            <
            SUCCESS
            $ txn -w json
            <
            <
            <
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+9},"raft_term":<TERM>},"succeeded":true}
            $ txn
            < value("t/a") = "1"
            <
            < put t/d 1
            < put t/d 2
            <
            <
            ! warn: retrying of unary invoker failed: rpc error: code = InvalidArgument desc = etcdserver: duplicate key given in txn request
            ! Error: etcdserver: duplicate key given in txn request
            ! exit 1
            $ txn
            < value("t/a") = "1"
            <
            < put t/d 1
            < del t/d
            <
            <
            ! warn: retrying of unary invoker failed: rpc error: code = InvalidArgument desc = etcdserver: duplicate key given in txn request
            ! Error: etcdserver: duplicate key given in txn request
            ! exit 1
            $ txn
            <
            < del t/ --prefix --prev-kv
            <
            <
            SUCCESS

            8
            t/a
            1
            t/b
            3
            t/c
            x
            t/f
            y
            t/j1
            a2
            t/j2
            b
            t/m1
            1
            t/m3
            1
            $ get t/ --prefix
            $ get t/a --rev={R+1}
            t/a
            1
            """;

    // ---- compaction
    private static final String COMPACTION = """
            $ put c/k 1
            OK
            $ put c/k 2
            OK
            $ put c/k 3
            OK
            $ put c/j 1
            OK
            $ compaction {R+2}
            compacted revision {R+2}
            $ get c/k --rev={R+1}
            ! warn: retrying of unary invoker failed: rpc error: code = OutOfRange desc = etcdserver: mvcc: required revision has been compacted
            ! Error: etcdserver: mvcc: required revision has been compacted
            ! exit 1
            $ get c/k --rev={R+2}
            c/k
            2
            $ get c/k --rev={R+3}
            c/k
            3
            $ compaction {R+2}
            ! warn: retrying of unary invoker failed: rpc error: code = OutOfRange desc = etcdserver: mvcc: required revision has been compacted
            ! Error: etcdserver: mvcc: required revision has been compacted
            ! exit 1
            $ compaction {R+1}
            ! warn: retrying of unary invoker failed: rpc error: code = OutOfRange desc = etcdserver: mvcc: required revision has been compacted
            ! Error: etcdserver: mvcc: required revision has been compacted
            ! exit 1
            $ compaction {R+3} --physical
            compacted revision {R+3}
            $ get c/k --rev={R+2}
            ! warn: retrying of unary invoker failed: rpc error: code = OutOfRange desc = etcdserver: mvcc: required revision has been compacted
            ! Error: etcdserver: mvcc: required revision has been compacted
            ! exit 1
            $ get c/ --prefix -w json
            {"header":{"cluster_id":<CID>,"member_id":<MID>,"revision":{R+4},"raft_term":<TERM>},"kvs":[{"key":"Yy9q","create_revision":{R+4},"mod_revision":{R+4},"version":1,"value":"MQ=="},{"key":"Yy9r","create_revision":{R+1},"mod_revision":{R+3},"version":3,"value":"Mw=="}],"count":2}
            $ compaction {R+1000}
            ! warn: retrying of unary invoker failed: rpc error: code = OutOfRange desc = etcdserver: mvcc: required revision is a future revision
            ! Error: etcdserver: mvcc: required revision is a future revision
            ! exit 1
            $ compaction {R+4} -w json
            compacted revision {R+4}
            $ get c/ --prefix --rev={R+4}
            c/j
            1
            c/k
            3
            """;

}
