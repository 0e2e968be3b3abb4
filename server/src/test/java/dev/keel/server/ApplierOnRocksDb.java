package dev.keel.server;

import com.google.protobuf.ByteString;
import dev.keel.lease.Lessor;
import dev.keel.mvcc.KvApplier;
import dev.keel.mvcc.MvccStore;
import dev.keel.proto.internal.InternalBatch;
import dev.keel.proto.internal.InternalBatchResponse;
import dev.keel.proto.internal.InternalRequest;
import dev.keel.proto.internal.InternalResponse;
import dev.keel.proto.mvccpb.KeyValue;
import dev.keel.storage.Storage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A member's applier over a real RocksDB in a temp dir, as the applier tests use it: {@link #open()} builds the
 * stores as a member does (and again after {@link #close()}, which is a restart), {@link #applyEntry} applies one
 * Raft entry at the next index.
 */
abstract class ApplierOnRocksDb {

    @TempDir
    Path dir;
    Storage storage;
    MvccStore mvcc;
    Lessor lessor;
    Applier applier;
    long index;

    @BeforeEach
    void open() {
        List<String> columns = new ArrayList<>(MvccStore.COLUMNS);
        columns.addAll(Lessor.COLUMNS);
        columns.addAll(dev.keel.auth.AuthStore.COLUMNS);
        storage = Storage.open(dir, columns);
        mvcc = new MvccStore(storage);
        lessor = new Lessor(storage, new Lessor.Config(2, 300_000_000_000L, 7_000_000_000L, 1000), System::nanoTime);
        Leases.restoreAttachments(mvcc, lessor);
        applier = new Applier(storage, mvcc, new KvApplier(lessor::exists), lessor, new AlarmStore(storage),
                new DowngradeState(storage), new dev.keel.membership.MemberStore(storage, MvccStore.META_COLUMN, 1),
                new dev.keel.auth.AuthStore(storage, dev.keel.auth.TokenProvider.NONE, 4));
        index = applier.appliedIndex();
    }

    @AfterEach
    void close() {
        mvcc.close();
        storage.close();
    }

    static ByteString bs(String s) {
        return ByteString.copyFromUtf8(s);
    }

    /** Applies one entry holding the requests at the next index; returns their responses. */
    List<InternalResponse> applyEntry(List<InternalRequest> reqs) throws Exception {
        byte[] out = applier.apply(++index, 1, InternalBatch.newBuilder().addAllRequests(reqs).build().toByteArray());
        return InternalBatchResponse.parseFrom(out).getResponsesList();
    }

    /** The key's current value, or null. */
    KeyValue get(String key) {
        List<KeyValue> kvs = mvcc.range(key.getBytes(StandardCharsets.UTF_8), null, 0, 0, false).kvs();
        return kvs.isEmpty() ? null : kvs.get(0);
    }
}
