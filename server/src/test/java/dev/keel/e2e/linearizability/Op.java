package dev.keel.e2e.linearizability;

import java.util.Objects;

/**
 * The input of one single-key KV operation, as a client invoked it. Each operation touches exactly one key, which is
 * what makes checking each key's history on its own (partitioning) sound.
 *
 * @param kind     what the operation does
 * @param key      the one key it touches
 * @param value    PUT: the value written; CAS: the value written when the compare holds; otherwise null
 * @param expected CAS only: the value the key must hold for the write to happen, or null for "the key does not
 *                 exist" (a create-if-absent, etcd's {@code version(key) == 0} compare)
 */
public record Op(Kind kind, String key, String value, String expected) {

    /** The operation kinds of the model. */
    public enum Kind { PUT, GET, DELETE, CAS }

    public Op {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(key, "key");
        if ((kind == Kind.PUT || kind == Kind.CAS) && value == null) {
            throw new IllegalArgumentException(kind + " needs a value");
        }
    }

    /** put(key, value): etcd Put; its result carries the revision it created. */
    public static Op put(String key, String value) {
        return new Op(Kind.PUT, key, value, null);
    }

    /** get(key): a linearizable etcd Range of one key. */
    public static Op get(String key) {
        return new Op(Kind.GET, key, null, null);
    }

    /** delete(key): etcd DeleteRange of one key. */
    public static Op delete(String key) {
        return new Op(Kind.DELETE, key, null, null);
    }

    /**
     * Compare-and-set: {@code txn(if value(key) == expected then put(key, newValue))}, no else branch;
     * {@code expected == null} means "if the key does not exist" (a compare on version 0).
     */
    public static Op cas(String key, String expected, String newValue) {
        return new Op(Kind.CAS, key, newValue, expected);
    }

    /** Whether the operation can change the state (a GET never does). */
    public boolean isWrite() {
        return kind != Kind.GET;
    }

    @Override
    public String toString() {
        return switch (kind) {
            case PUT -> "put(" + q(key) + ", " + q(value) + ")";
            case GET -> "get(" + q(key) + ")";
            case DELETE -> "delete(" + q(key) + ")";
            case CAS -> "cas(" + q(key) + ", " + (expected == null ? "<absent>" : q(expected)) + " -> " + q(value) + ")";
        };
    }

    static String q(String s) {
        return s == null ? "<absent>" : '"' + s + '"';
    }
}
