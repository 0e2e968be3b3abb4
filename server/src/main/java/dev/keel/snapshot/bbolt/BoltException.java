package dev.keel.snapshot.bbolt;

import java.io.IOException;

/** A file that is not a valid bbolt database, or input the format cannot hold; the message says why. */
public final class BoltException extends IOException {
    public BoltException(String message) {
        super(message);
    }
}
