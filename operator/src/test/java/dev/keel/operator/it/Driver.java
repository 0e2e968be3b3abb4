package dev.keel.operator.it;

import com.google.protobuf.ByteString;
import dev.keel.operator.core.Decision;
import dev.keel.operator.core.Engine;
import dev.keel.operator.core.Policy;
import dev.keel.operator.etcd.GrpcClusterApi;
import dev.keel.proto.etcdserverpb.KVGrpc;
import dev.keel.proto.etcdserverpb.PutRequest;
import dev.keel.proto.etcdserverpb.RangeRequest;
import dev.keel.proto.etcdserverpb.RangeResponse;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.fail;

/** Runs the operator's engine against real member processes, one pass every 300 ms, as the reconciler would. */
final class Driver {

    final ProcessMembers members;
    final GrpcClusterApi api = new GrpcClusterApi(Duration.ofSeconds(3));
    final Engine engine;
    Policy policy;
    Engine.State state = Engine.State.initial("it-token");
    Engine.Result last;
    final List<Decision.Event> events = new ArrayList<>();
    final List<String> trace = new ArrayList<>();

    Driver(ProcessMembers members, Policy policy) {
        this.members = members;
        this.policy = policy;
        this.engine = new Engine(api, members, members, Clock.systemUTC());
    }

    void pass() {
        last = engine.reconcile(policy, state);
        state = last.state();
        events.addAll(last.events());
        dev.keel.operator.core.Member l = last.observation().members() == null ? null : last.observation().leader();
        String line = "[leader " + (l == null ? "?" : l.name()) + "] " + last.decision().phase() + " "
                + last.decision().reason() + ": " + last.decision().message()
                + (last.actionError() != null ? " [failed: " + last.actionError() + "]" : "");
        if (trace.isEmpty() || !trace.get(trace.size() - 1).equals(line)) {
            trace.add(line);
        }
    }

    boolean stable() {
        return last != null && last.decision().reason().equals("Stable") && state.operation() == null;
    }

    void runUntil(String what, Predicate<Driver> done, Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            pass();
            if (done.test(this)) {
                return;
            }
            Thread.sleep(300);
        }
        fail("not " + what + " within " + timeout + "\ntrace:\n" + String.join("\n", trace.subList(
                Math.max(0, trace.size() - 25), trace.size())) + "\ncalls: " + members.calls
                + "\nlog of member 0:\n" + members.logTail(0));
    }

    long voters() {
        return last.observation().members() == null ? 0
                : last.observation().members().stream().filter(m -> !m.learner()).count();
    }

    void put(String memberName, String key, String value) {
        KVGrpc.newBlockingStub(api.channel(members.clientUrl(memberName))).withDeadlineAfter(5, TimeUnit.SECONDS)
                .put(PutRequest.newBuilder().setKey(ByteString.copyFromUtf8(key))
                        .setValue(ByteString.copyFromUtf8(value)).build());
    }

    RangeResponse prefix(String memberName, String prefix, boolean serializable) {
        byte[] end = prefix.getBytes();
        end[end.length - 1]++;
        return KVGrpc.newBlockingStub(api.channel(members.clientUrl(memberName))).withDeadlineAfter(5, TimeUnit.SECONDS)
                .range(RangeRequest.newBuilder().setKey(ByteString.copyFromUtf8(prefix))
                        .setRangeEnd(ByteString.copyFrom(end)).setSerializable(serializable).build());
    }
}
