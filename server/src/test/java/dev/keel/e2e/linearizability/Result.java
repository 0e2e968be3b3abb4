package dev.keel.e2e.linearizability;

/**
 * What a completed operation returned. Revisions are etcd revisions; 0 means "not recorded", and every check that
 * needs a revision skips an operation that has none.
 *
 * @param revision    the response header's revision: for a PUT, a successful CAS and a DELETE that deleted the key,
 *                    the revision that write created; for a GET, a failed CAS and a DELETE of an absent key, the
 *                    store's revision at the moment the request was served (these are reads)
 * @param value       GET only: the value read, null when the key does not exist
 * @param modRevision GET only: the mod revision of the key read (0 when absent or not recorded)
 * @param succeeded   CAS only: whether the compare held (and the write happened)
 * @param deleted     DELETE only: how many keys were deleted (0 or 1)
 */
public record Result(long revision, String value, long modRevision, boolean succeeded, long deleted) {

    /** put → the revision it created. */
    public static Result put(long revision) {
        return new Result(revision, null, revision, true, 0);
    }

    /** get → value (null: absent) and its mod revision; the header revision not recorded. */
    public static Result get(String value, long modRevision) {
        return get(value, modRevision, 0);
    }

    /** get → value (null: absent), its mod revision and the response header's revision. */
    public static Result get(String value, long modRevision, long headerRevision) {
        if (value == null && modRevision != 0) {
            throw new IllegalArgumentException("an absent key has no mod revision");
        }
        return new Result(headerRevision, value, modRevision, true, 0);
    }

    /** delete → number of keys deleted (0 or 1) and the response header's revision (0 if not recorded). */
    public static Result delete(long deleted, long headerRevision) {
        if (deleted != 0 && deleted != 1) {
            throw new IllegalArgumentException("a single-key delete deletes 0 or 1 keys: " + deleted);
        }
        return new Result(headerRevision, null, 0, deleted == 1, deleted);
    }

    /** cas → whether it succeeded and the response header's revision (0 if not recorded). */
    public static Result cas(boolean succeeded, long headerRevision) {
        return new Result(headerRevision, null, 0, succeeded, 0);
    }

    /** For an operation of the given kind: whether this result reports a write that took effect. */
    boolean isEffectiveWrite(Op.Kind kind) {
        return switch (kind) {
            case PUT -> true;
            case CAS -> succeeded;
            case DELETE -> deleted == 1;
            case GET -> false;
        };
    }

    String describe(Op.Kind kind) {
        String rev = revision == 0 ? "" : " @rev " + revision;
        return switch (kind) {
            case PUT -> "ok" + rev;
            case GET -> (value == null ? "<absent>" : Op.q(value) + (modRevision == 0 ? "" : " (mod " + modRevision + ")"))
                    + (revision == 0 ? "" : " [header rev " + revision + "]");
            case DELETE -> "deleted " + deleted + rev;
            case CAS -> (succeeded ? "succeeded" : "failed") + rev;
        };
    }
}
