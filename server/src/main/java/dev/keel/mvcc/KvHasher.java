package dev.keel.mvcc;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.zip.CRC32C;

/**
 * etcd's HashKV digest (server/storage/mvcc/hash.go): CRC-32C over the bucket name {@code "key"}, then the
 * revision key and value bytes of every MVCC record with revision at or below {@code revision}, in revision
 * order, except
 * <ul>
 *   <li>records at or below {@code compactRevision} that are not in {@code keep} (history a compaction removes
 *       or has removed), unless {@code keep} is empty; and</li>
 *   <li>a tombstone whose main revision equals {@code compactRevision} (etcd &gt; 3.5.15 keeps such tombstones
 *       on disk, older versions delete them; the hash must not depend on which).</li>
 * </ul>
 * Records are stored exactly as etcd stores them (17-byte revision keys, a trailing {@code 't'} on tombstones,
 * serialized {@code mvccpb.KeyValue} values), so equal histories give etcd's hash.
 */
public final class KvHasher {

    private static final byte[] BUCKET = "key".getBytes(StandardCharsets.UTF_8);

    private final CRC32C crc = new CRC32C();
    private final long compactRevision;
    private final long revision;
    private final Set<Revision> keep;
    private final boolean keepNonEmpty;

    /**
     * @param compactRevision the compaction below which only {@code keep} counts (-1: none)
     * @param revision        the newest revision hashed
     * @param keep            revisions at or below {@code compactRevision} that stay
     */
    public KvHasher(long compactRevision, long revision, Set<Revision> keep) {
        this(compactRevision, revision, keep, !keep.isEmpty());
    }

    /** As above, with etcd's "is the keep set empty" decided by the caller (see MvccStore's compaction hash). */
    KvHasher(long compactRevision, long revision, Set<Revision> keep, boolean keepNonEmpty) {
        this.compactRevision = compactRevision;
        this.revision = revision;
        this.keep = keep;
        this.keepNonEmpty = keepNonEmpty;
        crc.update(BUCKET);
    }

    /** Offers one record (revision key, stored value); records must come in revision order. */
    public void write(byte[] key, byte[] value) {
        Revision r = Revision.fromBytes(key);
        if (r.main() > revision) {
            return;
        }
        if (r.main() <= compactRevision && keepNonEmpty && !keep.contains(r)) {
            return;
        }
        if (r.main() == compactRevision && Revision.isTombstone(key)) {
            return;
        }
        crc.update(key);
        crc.update(value);
    }

    public KeyValueHash hash() {
        return new KeyValueHash((int) crc.getValue(), compactRevision, revision);
    }

    /**
     * One HashKV result: the CRC (unsigned 32 bits held in an int), the compaction revision it was computed
     * against and the revision it covers.
     */
    public record KeyValueHash(int hash, long compactRevision, long revision) {
        public long unsignedHash() {
            return Integer.toUnsignedLong(hash);
        }
    }

    /**
     * The hashes etcd 3.6 records when a compaction finishes (over the revisions since the previous compaction),
     * newest {@value #MAX} by revision. HashKV at exactly such a revision answers from here.
     */
    static final class Recorded {
        static final int MAX = 10;
        private final List<KeyValueHash> hashes = new ArrayList<>();

        synchronized void store(KeyValueHash h) {
            hashes.add(h);
            hashes.sort(Comparator.comparingLong(KeyValueHash::revision));
            while (hashes.size() > MAX) {
                hashes.remove(0);
            }
        }

        synchronized KeyValueHash find(long revision) {
            for (KeyValueHash h : hashes) {
                if (h.revision() == revision) {
                    return h;
                }
            }
            return null;
        }
    }
}
