package dev.keel.operator.core;

/** The workload of one member (a Pod in Kubernetes, a process in the tests). */
public record PodState(int ordinal, boolean ready, boolean terminating, String version) {
}
