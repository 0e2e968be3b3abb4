package dev.keel.server;

import dev.keel.lease.Lessor;
import dev.keel.mvcc.MvccStore;
import dev.keel.proto.etcdserverpb.LeaseCheckpoint;
import dev.keel.proto.etcdserverpb.LeaseCheckpointRequest;
import dev.keel.proto.etcdserverpb.LeaseCheckpointResponse;
import dev.keel.proto.etcdserverpb.LeaseGrantRequest;
import dev.keel.proto.etcdserverpb.LeaseGrantResponse;
import dev.keel.proto.etcdserverpb.LeaseRevokeRequest;
import dev.keel.proto.etcdserverpb.LeaseRevokeResponse;
import dev.keel.proto.etcdserverpb.ResponseHeader;
import dev.keel.proto.mvccpb.Event;

import java.util.List;

/**
 * Applies the lease requests of the log (etcd's applierV3backend LeaseGrant / LeaseRevoke / LeaseCheckpoint) and
 * keeps the lessor's key attachments in step with the key-value changes of every request.
 */
final class LeaseApplier {

    private final Lessor lessor;

    LeaseApplier(Lessor lessor) {
        this.lessor = lessor;
    }

    private static ResponseHeader header(long rev) {
        return ResponseHeader.newBuilder().setRevision(rev).build();
    }

    LeaseGrantResponse grant(MvccStore.WriteTxn txn, LeaseGrantRequest r) {
        Lessor.Granted g = lessor.grant(r.getID(), r.getTTL());
        return LeaseGrantResponse.newBuilder().setHeader(header(txn.revision())).setID(g.id()).setTTL(g.ttl()).build();
    }

    /** Deletes the lease's keys, one DELETE each, all at one revision, then the lease. */
    LeaseRevokeResponse revoke(MvccStore.WriteTxn txn, LeaseRevokeRequest r) {
        lessor.revoke(r.getID(), key -> txn.deleteRange(key.toByteArray(), null));
        return LeaseRevokeResponse.newBuilder().setHeader(header(txn.revision())).build();
    }

    LeaseCheckpointResponse checkpoint(MvccStore.WriteTxn txn, LeaseCheckpointRequest r) {
        for (LeaseCheckpoint c : r.getCheckpointsList()) {
            lessor.checkpoint(c.getID(), c.getRemainingTTL());
        }
        return LeaseCheckpointResponse.newBuilder().setHeader(header(txn.revision())).build();
    }

    /** Attaches and detaches keys for the changes {@code events[from..]} (one request's): puts move, deletes detach. */
    void track(List<Event> events, int from) {
        for (int i = from; i < events.size(); i++) {
            Event e = events.get(i);
            if (e.getType() == Event.EventType.DELETE) {
                lessor.keyDeleted(e.getKv().getKey());
            } else {
                lessor.keyPut(e.getKv().getKey(), e.getKv().getLease());
            }
        }
    }
}
