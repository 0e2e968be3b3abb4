package dev.keel.mvcc;

import dev.keel.storage.Storage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

/** A fresh MVCC store on a real RocksDB in a temporary directory, opened before and closed after each test. */
abstract class MvccStoreFixture {

    @TempDir
    Path dir;
    Storage storage;
    MvccStore store;

    @BeforeEach
    void open() {
        storage = Storage.open(dir, MvccStore.COLUMNS);
        store = new MvccStore(storage);
    }

    @AfterEach
    void close() {
        store.close();
        storage.close();
    }

    /** Closes and reopens the store on the same directory (a restart). */
    void reopen() {
        close();
        open();
    }
}
