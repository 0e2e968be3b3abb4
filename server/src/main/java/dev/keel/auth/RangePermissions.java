package dev.keel.auth;

import dev.keel.proto.authpb.Permission;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * The key ranges one user may read and write, merged over all of the user's roles. A permission is a single key
 * (empty range end), a range [key, range_end), or everything from key on (range end "\0"). A request is allowed
 * when the whole key or range it touches is covered by the union of the user's ranges of the needed kind.
 */
final class RangePermissions {

    /** [begin, end); end == null: unbounded. A single key k is [k, k + "\0"). */
    private record Interval(byte[] begin, byte[] end) {
    }

    private static final Comparator<Interval> BY_BEGIN = (a, b) -> Arrays.compareUnsigned(a.begin, b.begin);

    private final List<Interval> read = new ArrayList<>();
    private final List<Interval> write = new ArrayList<>();

    void add(Permission p) {
        byte[] key = p.getKey().toByteArray();
        byte[] end = p.getRangeEnd().toByteArray();
        Interval ivl;
        if (end.length == 0) {
            ivl = new Interval(key, Arrays.copyOf(key, key.length + 1));
        } else if (isOpenEnded(end)) {
            ivl = new Interval(key, null);
        } else {
            ivl = new Interval(key, end);
        }
        switch (p.getPermType()) {
            case READ -> read.add(ivl);
            case WRITE -> write.add(ivl);
            case READWRITE -> {
                read.add(ivl);
                write.add(ivl);
            }
            default -> {
                // an unknown type grants nothing
            }
        }
    }

    void seal() {
        read.sort(BY_BEGIN);
        write.sort(BY_BEGIN);
    }

    boolean permits(byte[] key, byte[] rangeEnd, boolean forWrite) {
        List<Interval> ivls = forWrite ? write : read;
        if (rangeEnd == null || rangeEnd.length == 0) {
            for (Interval i : ivls) {
                if (Arrays.compareUnsigned(i.begin, key) <= 0
                        && (i.end == null || Arrays.compareUnsigned(key, i.end) < 0)) {
                    return true;
                }
            }
            return false;
        }
        byte[] end = isOpenEnded(rangeEnd) ? null : rangeEnd;
        // sweep over the intervals sorted by start: extend the covered prefix [key, covered) while they touch it
        byte[] covered = key;
        for (Interval i : ivls) {
            if (Arrays.compareUnsigned(i.begin, covered) > 0) {
                break; // a gap
            }
            if (i.end == null) {
                return true;
            }
            if (Arrays.compareUnsigned(i.end, covered) > 0) {
                covered = i.end;
            }
            if (end != null && Arrays.compareUnsigned(covered, end) >= 0) {
                return true;
            }
        }
        return false;
    }

    /** Range end "\0": every key from the start key on. */
    static boolean isOpenEnded(byte[] rangeEnd) {
        return rangeEnd.length == 1 && rangeEnd[0] == 0;
    }

    /** etcd's isValidPermissionRange: a key, and either no end, an end after it, or "\0". */
    static boolean isValidRange(byte[] key, byte[] rangeEnd) {
        if (key.length == 0) {
            return false;
        }
        if (rangeEnd.length == 0) {
            return true;
        }
        return Arrays.compareUnsigned(key, rangeEnd) < 0 || isOpenEnded(rangeEnd);
    }
}
