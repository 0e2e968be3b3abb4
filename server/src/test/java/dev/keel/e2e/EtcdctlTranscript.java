package dev.keel.e2e;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs an etcdctl session written as a transcript and compares what etcdctl printed, line by line, with the
 * transcript. The transcripts were recorded from a real etcd 3.4 server on a fresh store.
 *
 * <p>Format, one item per line:
 * <ul>
 *   <li>{@code $ <args>} an etcdctl command (arguments split at blanks; {@code "..."} quotes one argument);</li>
 *   <li>{@code < <text>} (or a lone {@code <}) one line of the command's standard input;</li>
 *   <li>anything else: one expected line of output. Standard error lines follow standard output, prefixed with
 *       {@code "! "}; etcdctl's JSON warning log lines are shown as {@code "! warn: <msg>: <error>"} (the error
 *       carries the gRPC status code and text the client received); a non-zero exit status ends the output
 *       as {@code "! exit <n>"}.</li>
 * </ul>
 *
 * <p>Revisions are relative: {@code {R}} is the store's revision when the transcript starts and {@code {R+n}}
 * the n-th revision after it, so a transcript does not depend on what ran before it. In the output, revision
 * fields (JSON {@code revision}/{@code create_revision}/{@code mod_revision}, the {@code fields} format's
 * revisions, "compacted revision N") are compared in that relative form. Cluster id, member id and raft term
 * are compared as {@code <CID>}, {@code <MID>}, {@code <TERM>} after checking that they are the ids the
 * member reports and a term of at least 1; timings as {@code <T>}.
 */
final class EtcdctlTranscript {

    private static final Pattern CLUSTER_ID = Pattern.compile("(\"cluster_id\":|\"ClusterID\" : )(\\d+)");
    private static final Pattern MEMBER_ID = Pattern.compile("(\"member_id\":|\"MemberID\" : )(\\d+)");
    private static final Pattern TERM = Pattern.compile("(\"raft_term\":|\"RaftTerm\" : )(\\d+)");
    private static final Pattern TOOK = Pattern.compile("took = \\S+");
    private static final Pattern REV_FIELD = Pattern.compile(
            "(\"(?:revision|create_revision|mod_revision)\":|\"(?:Revision|CreateRevision|ModRevision)\" : "
                    + "|compacted revision )(\\d+)");
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{R(?:\\+(\\d+))?}");
    private static final Pattern HEADER_REV = Pattern.compile("\"header\":\\{[^}]*\"revision\":(\\d+)");

    /** Pass as {@code r} to {@link #normalize} to keep revisions absolute. */
    static final long ABSOLUTE = Long.MAX_VALUE / 2;

    private final Etcdctl ctl;
    private final String clusterId;
    private final String memberId;

    /**
     * @param clusterId the member's cluster id (unsigned decimal) every header must carry
     * @param memberId  the member's id (unsigned decimal) every header must carry
     */
    EtcdctlTranscript(Etcdctl ctl, String clusterId, String memberId) {
        this.ctl = ctl;
        this.clusterId = clusterId;
        this.memberId = memberId;
    }

    /** The store's current revision, from the header of a read. */
    static long currentRevision(Etcdctl ctl) throws Exception {
        String out = ctl.ok("get", "keel-e2e-no-such-key", "-w", "json");
        Matcher m = HEADER_REV.matcher(out);
        if (!m.find()) {
            fail("no header revision in: " + out);
        }
        return Long.parseLong(m.group(1));
    }

    private record Step(String command, List<String> stdin, List<String> expected) {
    }

    private static List<Step> parse(String transcript) {
        List<Step> steps = new ArrayList<>();
        Step cur = null;
        for (String line : transcript.lines().toList()) {
            if (line.startsWith("$ ")) {
                cur = new Step(line.substring(2), new ArrayList<>(), new ArrayList<>());
                steps.add(cur);
            } else if (cur == null) {
                if (!line.isBlank()) {
                    throw new IllegalArgumentException("transcript must start with a command: " + line);
                }
            } else if (line.equals("<") || line.startsWith("< ")) {
                cur.stdin().add(line.length() > 2 ? line.substring(2) : "");
            } else {
                cur.expected().add(line);
            }
        }
        return steps;
    }

    /**
     * Runs the transcript and fails on any difference, listing each command whose output differs and then the
     * whole transcript as actually printed (ready to paste once the difference is understood).
     */
    void check(String transcript) throws Exception {
        long r = currentRevision(ctl);
        StringBuilder diffs = new StringBuilder();
        StringBuilder actual = new StringBuilder();
        for (Step step : parse(transcript)) {
            StringBuilder echo = new StringBuilder("$ ").append(step.command()).append('\n');
            for (String in : step.stdin()) {
                echo.append(in.isEmpty() ? "<" : "< " + in).append('\n');
            }
            actual.append(echo);
            String stdin = null;
            if (!step.stdin().isEmpty()) {
                StringBuilder sb = new StringBuilder();
                step.stdin().forEach(l -> sb.append(substitute(l, r)).append('\n'));
                stdin = sb.toString();
            }
            Etcdctl.Result res = ctl.runWithInput(stdin, split(substitute(step.command(), r)).toArray(String[]::new));
            List<String> got = normalize(res, r);
            got.forEach(l -> actual.append(l).append('\n'));
            if (!got.equals(step.expected())) {
                diffs.append(echo).append("  etcd prints:\n");
                step.expected().forEach(l -> diffs.append("    |").append(l).append('\n'));
                diffs.append("  got:\n");
                got.forEach(l -> diffs.append("    |").append(l).append('\n'));
            }
        }
        if (!diffs.isEmpty()) {
            fail("etcdctl output differs from etcd's (R = " + r + "):\n" + diffs
                    + "\nwhole transcript as printed:\n" + actual);
        }
    }

    /** etcdctl's output as the transcript shows it (see the class comment). */
    List<String> normalize(Etcdctl.Result res, long r) {
        List<String> out = new ArrayList<>();
        for (String l : res.stdout().lines().toList()) {
            out.add(relativeRevisions(normalizeIds(l), r));
        }
        for (String l : res.stderr().lines().toList()) {
            if (l.startsWith("{\"level\"")) {
                out.add("! warn: " + jsonString(l, "msg") + ": " + jsonString(l, "error"));
            } else if (!l.isBlank()) {
                out.add("! " + l);
            }
        }
        if (res.exitCode() != 0) {
            out.add("! exit " + res.exitCode());
        }
        return out;
    }

    /** Checks and masks cluster id, member id, raft term and timings. */
    String normalizeIds(String original) {
        String where = ctx(original);
        String line = replaceChecked(original, CLUSTER_ID, "<CID>",
                v -> assertEquals(clusterId, v, "cluster_id in " + where));
        line = replaceChecked(line, MEMBER_ID, "<MID>", v -> assertEquals(memberId, v, "member_id in " + where));
        line = replaceChecked(line, TERM, "<TERM>",
                v -> assertTrue(Long.parseUnsignedLong(v) >= 1, "raft_term must be at least 1: " + where));
        return TOOK.matcher(line).replaceAll("took = <T>");
    }

    private static String ctx(String line) {
        return line.length() > 300 ? line.substring(0, 300) + "..." : line;
    }

    private static String replaceChecked(String line, Pattern p, String mask,
                                         java.util.function.Consumer<String> check) {
        Matcher m = p.matcher(line);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            check.accept(m.group(2));
            m.appendReplacement(sb, Matcher.quoteReplacement(m.group(1) + mask));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    /** Turns revision numbers in [R, R+1000) into {R} / {R+n}. */
    static String relativeRevisions(String line, long r) {
        Matcher m = REV_FIELD.matcher(line);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            long n = Long.parseLong(m.group(2));
            long k = n - r;
            String rel = k < 0 || k >= 1000 ? m.group(2) : k == 0 ? "{R}" : "{R+" + k + "}";
            m.appendReplacement(sb, Matcher.quoteReplacement(m.group(1) + rel));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    static String substitute(String s, long r) {
        Matcher m = PLACEHOLDER.matcher(s);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            long n = r + (m.group(1) == null ? 0 : Long.parseLong(m.group(1)));
            m.appendReplacement(sb, Long.toString(n));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    /** Splits a command line at blanks; "..." makes one argument (possibly empty). */
    static List<String> split(String cmd) {
        List<String> args = new ArrayList<>();
        StringBuilder cur = null;
        boolean quoted = false;
        for (char c : cmd.toCharArray()) {
            if (quoted) {
                if (c == '"') {
                    quoted = false;
                } else {
                    cur.append(c);
                }
            } else if (c == '"') {
                quoted = true;
                if (cur == null) {
                    cur = new StringBuilder();
                }
            } else if (c == ' ') {
                if (cur != null) {
                    args.add(cur.toString());
                    cur = null;
                }
            } else {
                if (cur == null) {
                    cur = new StringBuilder();
                }
                cur.append(c);
            }
        }
        if (cur != null) {
            args.add(cur.toString());
        }
        return args;
    }

    /** The value of a string field in a one-line JSON object (enough for etcdctl's zap log lines). */
    static String jsonString(String json, String field) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(field) + "\":\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(json);
        if (!m.find()) {
            return "";
        }
        String s = m.group(1);
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\' || i + 1 >= s.length()) {
                out.append(c);
                continue;
            }
            char n = s.charAt(++i);
            switch (n) {
                case 'n' -> out.append('\n');
                case 't' -> out.append('\t');
                case 'u' -> {
                    out.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                    i += 4;
                }
                default -> out.append(n);
            }
        }
        return out.toString();
    }
}
