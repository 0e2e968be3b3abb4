package dev.keel.mvcc;

import dev.keel.storage.Storage;

import java.util.function.Consumer;

/** Test helper: runs changes as one applied entry (one request), the way the applier does. */
public final class Writes {
    private Writes() {
    }

    /** Commits the changes to disk, publishes them, and returns the store's revision afterwards. */
    public static long apply(MvccStore store, Storage storage, Consumer<MvccStore.WriteTxn> changes) {
        MvccStore.Writer writer = store.writer();
        MvccStore.WriteTxn txn = writer.begin();
        changes.accept(txn);
        txn.end();
        try (Storage.Batch batch = storage.newBatch()) {
            writer.commit(batch);
            storage.write(batch);
        }
        writer.publish();
        return writer.revision();
    }
}
