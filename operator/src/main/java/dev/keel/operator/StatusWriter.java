package dev.keel.operator;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.PrimaryUpdateAndCacheUtils;

import java.lang.reflect.InvocationTargetException;

/**
 * Writes a custom resource's status so that a real API server accepts it whether or not the object has a status yet
 * (an object created with {@code kubectl apply} has none): a server-side apply of a fresh object that holds only
 * apiVersion, kind, name, namespace and the status (JOSDK's recommended "fully specified intent"), forced, under the
 * operator's field manager, with optimistic locking on the resourceVersion the reconcile read, the result cached so
 * the next reconcile sees it ({@link PrimaryUpdateAndCacheUtils#ssaPatchStatusAndCacheResource}). Fields the
 * operator applied before and now leaves out are removed by the server (SSA field ownership).
 *
 * <p>Not a JSON patch computed against the cached object: that one adds fields under a {@code /status} the
 * server does not have, which the server answers with 422. Nothing is sent when the status did not change.
 */
public final class StatusWriter {

    private StatusWriter() {
    }

    /**
     * Applies {@code status} unless it serialises to {@code before} (the status as read, see {@link #json}); true
     * when a request was sent.
     */
    public static <S, P extends CustomResource<?, S>> boolean write(P primary, String before, S status,
                                                                    Context<P> context) {
        if (before != null && before.equals(json(status))) {
            return false;
        }
        PrimaryUpdateAndCacheUtils.ssaPatchStatusAndCacheResource(primary, fresh(primary, status), context);
        return true;
    }

    /** The status as JSON (null for none), taken before a controller may change the object it was given. */
    public static String json(Object status) {
        return status == null ? null : Serialization.asJson(status);
    }

    /** apiVersion, kind, name, namespace and the status: nothing else is claimed by the operator's field manager. */
    @SuppressWarnings("unchecked")
    public static <S, P extends CustomResource<?, S>> P fresh(P primary, S status) {
        try {
            P p = (P) primary.getClass().getDeclaredConstructor().newInstance();
            p.setMetadata(new ObjectMetaBuilder().withName(primary.getMetadata().getName())
                    .withNamespace(primary.getMetadata().getNamespace()).build());
            p.setSpec(null);
            p.setStatus(status);
            return p;
        } catch (InstantiationException | IllegalAccessException | InvocationTargetException
                 | NoSuchMethodException e) {
            throw new IllegalStateException("cannot instantiate " + primary.getClass(), e);
        }
    }
}
