package dev.keel.operator.k8s;

import dev.keel.operator.core.Action;
import dev.keel.operator.core.ClusterApi;
import dev.keel.operator.core.Member;
import dev.keel.operator.core.MemberHealth;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A cluster API whose answers the test sets: members, their health, and a log of the calls. */
public final class ScriptedClusterApi implements ClusterApi {

    final Map<Long, Member> members = new LinkedHashMap<>();
    final Map<String, MemberHealth> health = new LinkedHashMap<>(); // by client URL
    final List<String> calls = new ArrayList<>();
    long clusterId = 0xabc;
    long nextId = 0x10;

    Member addVoter(String name, String peerUrl) {
        Member m = new Member(nextId++, name, peerUrl, false);
        members.put(m.id(), m);
        return m;
    }

    void healthy(String clientUrl, long memberId, long leader, long applied) {
        health.put(clientUrl, new MemberHealth(true, memberId, leader, applied, applied, false, "3.6.0", List.of(),
                null));
    }

    @Override
    public MemberListing memberList(List<String> urls) {
        if (members.isEmpty()) {
            throw new ClusterApiException("connection refused");
        }
        return new MemberListing(clusterId, List.copyOf(members.values()));
    }

    @Override
    public Member addLearner(List<String> urls, String peerUrl) {
        calls.add("add " + peerUrl + " via " + urls);
        Member m = new Member(nextId++, "", peerUrl, true);
        members.put(m.id(), m);
        return m;
    }

    @Override
    public void promote(List<String> urls, long id) {
        calls.add("promote " + id);
        Member m = members.get(id);
        members.put(id, new Member(id, m.name(), m.peerUrl(), false));
    }

    @Override
    public void remove(List<String> urls, long id) {
        calls.add("remove " + id);
        members.remove(id);
    }

    @Override
    public MemberHealth status(String url) {
        return health.getOrDefault(url, MemberHealth.unreachable("connection refused"));
    }

    @Override
    public void moveLeader(String url, long target) {
        calls.add("moveLeader " + target);
    }

    @Override
    public void downgrade(List<String> urls, Action.Downgrade.Kind kind, String version) {
        calls.add("downgrade " + kind);
    }
}
