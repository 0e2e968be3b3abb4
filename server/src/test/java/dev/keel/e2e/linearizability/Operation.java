package dev.keel.e2e.linearizability;

/**
 * One recorded operation: who invoked what, when, and what came back.
 *
 * @param id     unique within its history
 * @param client the client (thread/connection) that issued it
 * @param input  the operation
 * @param call   invocation time ({@link System#nanoTime()} in recorded histories; any consistent clock in tests)
 * @param ret    response time, or {@link Long#MAX_VALUE} when the outcome is unknown
 * @param output the result, or null when the outcome is unknown (it may or may not have taken effect, at any
 *               moment after {@code call})
 */
public record Operation(int id, int client, Op input, long call, long ret, Result output) {

    public static final long NEVER = Long.MAX_VALUE;

    public Operation {
        if (input == null) {
            throw new IllegalArgumentException("no input");
        }
        if (output == null && ret != NEVER) {
            throw new IllegalArgumentException("an operation without a result has no return time: " + id);
        }
        if (output != null && (ret == NEVER || ret < call)) {
            throw new IllegalArgumentException("bad interval [" + call + ", " + ret + "] for op " + id);
        }
    }

    /** Whether the outcome is unknown (the op may or may not have taken effect). */
    public boolean unknown() {
        return output == null;
    }

    /** Whether this op is known to have written (PUT, successful CAS, DELETE of a present key). */
    boolean knownWrite() {
        return output != null && output.isEffectiveWrite(input.kind());
    }

    String describe(long base) {
        String times = "[" + ms(call - base) + ", " + (unknown() ? "∞ (outcome unknown)" : ms(ret - base)) + "]";
        return "#" + id + " client " + client + " " + input + " -> "
                + (unknown() ? "?" : output.describe(input.kind())) + " " + times;
    }

    static String ms(long nanos) {
        return String.format(java.util.Locale.ROOT, "+%.3fms", nanos / 1e6);
    }
}
