package dev.keel.operator.core;

/** A server version as the operator compares them: {@code major.minor.patch} (a suffix after '-' is ignored). */
public record Version(int major, int minor, int patch) implements Comparable<Version> {

    public static Version parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("empty version");
        }
        String core = text.strip();
        if (core.startsWith("v")) {
            core = core.substring(1);
        }
        int dash = core.indexOf('-');
        if (dash >= 0) {
            core = core.substring(0, dash);
        }
        String[] parts = core.split("\\.");
        if (parts.length < 2 || parts.length > 3) {
            throw new IllegalArgumentException("not a version (major.minor[.patch]): " + text);
        }
        try {
            return new Version(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]),
                    parts.length == 3 ? Integer.parseInt(parts[2]) : 0);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a version (major.minor[.patch]): " + text);
        }
    }

    /** etcd's cluster version form, {@code major.minor}, as Downgrade takes it. */
    public String minorString() {
        return major + "." + minor;
    }

    @Override
    public int compareTo(Version o) {
        if (major != o.major) {
            return Integer.compare(major, o.major);
        }
        if (minor != o.minor) {
            return Integer.compare(minor, o.minor);
        }
        return Integer.compare(patch, o.patch);
    }

    /** How going from {@code from} to {@code to} is carried out. */
    public enum Change { NONE, ROLL, UPGRADE_MINOR, DOWNGRADE_MINOR, INVALID }

    public static Change classify(Version from, Version to) {
        if (from.equals(to)) {
            return Change.NONE;
        }
        if (from.major != to.major) {
            return Change.INVALID;
        }
        if (from.minor == to.minor) {
            return Change.ROLL; // a patch up or down: an ordinary rolling update
        }
        if (to.minor == from.minor + 1) {
            return Change.UPGRADE_MINOR;
        }
        if (to.minor == from.minor - 1) {
            return Change.DOWNGRADE_MINOR;
        }
        return Change.INVALID; // skipping a minor either way
    }

    @Override
    public String toString() {
        return major + "." + minor + "." + patch;
    }
}
