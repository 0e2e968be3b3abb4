package dev.keel.storage;

/** The local database failed. The member cannot continue safely after a failed write. */
public final class StorageException extends RuntimeException {
    public StorageException(String message, Throwable cause) {
        super(message, cause);
    }
}
