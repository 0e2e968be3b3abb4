package dev.keel.operator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.server.mock.crud.KubernetesCrudDispatcherException;
import io.fabric8.kubernetes.client.server.mock.crud.PatchHandler;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.internal.MockDispatcher;
import io.fabric8.mockwebserver.internal.SimpleRequest;
import io.fabric8.zjsonpatch.JsonPatch;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

/**
 * Fabric8's mock API server in CRUD mode with the CRDs of {@code crds/} installed, made to answer PATCH requests as
 * kube-apiserver does where the mock is lenient, and recording them:
 * <ul>
 *   <li>a JSON patch (RFC 6902) is applied strictly: an {@code add} under a parent that does not exist (such as
 *   {@code /status/phase} on an object created without a status) is answered with 422, as kube-apiserver does
 *   ("the server rejected our request due to an error in our request"); the mock itself creates missing
 *   parents;</li>
 *   <li>a server-side apply ({@code application/apply-patch+yaml}) of the status subresource replaces the status
 *   with the applied one, which is what kube-apiserver does for a single field manager that applies the whole
 *   status with force (the operator is the only writer of its resources' status); a resourceVersion in the applied
 *   object must match (409 otherwise). The mock has no server-side apply at all (415).</li>
 * </ul>
 * With the CRDs installed, the mock drops {@code status} from a created custom resource, as kube-apiserver does
 * for a CRD with the status subresource. Expectations ({@code server.expect()}) take precedence over CRUD, as in
 * the mock's own mixed mode.
 */
public final class StrictApiServer implements AutoCloseable {

    /** One PATCH as received. */
    public record Patch(String path, String contentType, String body, int code) { }

    public final KubernetesMockServer server;
    public final KubernetesClient client;
    public final List<Patch> patches = new CopyOnWriteArrayList<>();

    public StrictApiServer() throws IOException {
        Map<ServerRequest, Queue<ServerResponse>> responses = new HashMap<>();
        server = new KubernetesMockServer(new Context(Serialization.jsonMapper()), new MockWebServer(), responses,
                new Strict(responses), false);
        server.init();
        client = server.createClient();
        Path crds = Path.of(System.getProperty("keel.crds.committed", "../crds"));
        try (Stream<Path> s = Files.list(crds)) {
            for (Path f : s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
                client.resource(Serialization.unmarshal(Files.readString(f), CustomResourceDefinition.class))
                        .create();
            }
        }
    }

    /** The PATCH requests sent to a path that ends with {@code suffix} (query string ignored). */
    public List<Patch> patchesTo(String suffix) {
        return patches.stream().filter(p -> p.path().replaceAll("\\?.*", "").endsWith(suffix)).toList();
    }

    @Override
    public void close() {
        client.close();
        server.destroy();
    }

    private final class Strict extends KubernetesCrudDispatcher {
        private final Map<ServerRequest, Queue<ServerResponse>> responses;
        private final MockDispatcher expectations;

        Strict(Map<ServerRequest, Queue<ServerResponse>> responses) {
            this.responses = responses;
            this.expectations = new MockDispatcher(responses);
        }

        @Override
        public MockResponse dispatch(RecordedRequest request) {
            Queue<ServerResponse> q = responses.get(new SimpleRequest(HttpMethod.valueOf(request.getMethod()),
                    request.getPath()));
            if (q != null && !q.isEmpty()) {
                return expectations.dispatch(request);
            }
            return super.dispatch(request);
        }

        @Override
        public synchronized MockResponse handlePatch(RecordedRequest request) {
            String path = request.getPath().replaceAll("\\?.*", "");
            String type = request.getHeader("Content-Type");
            String body = request.getUtf8Body();
            MockResponse r = patch(request, path, type == null ? "" : type, body);
            patches.add(new Patch(request.getPath(), type, body, r.code()));
            return r;
        }

        private MockResponse patch(RecordedRequest request, String path, String type, String body) {
            boolean status = path.endsWith("/status");
            String objectPath = status ? path.substring(0, path.length() - "/status".length()) : path;
            MockResponse got = handleGet(objectPath);
            if (got.code() != 200) {
                return got;
            }
            JsonNode current = Serialization.unmarshal(got.getBody().readUtf8(), JsonNode.class);
            if (type.startsWith("application/json-patch+json")) {
                try {
                    JsonPatch.apply(Serialization.unmarshal(body, JsonNode.class), current);
                } catch (RuntimeException e) {
                    return error(422, "the server rejected our request due to an error in our request: "
                            + e.getMessage());
                }
                return super.handlePatch(request);
            }
            if (type.startsWith("application/apply-patch+yaml")) {
                if (!status) {
                    return error(415, "this fake applies only the status subresource");
                }
                JsonNode applied = Serialization.unmarshal(body, JsonNode.class);
                String rv = applied.path("metadata").path("resourceVersion").asText("");
                if (!rv.isEmpty() && !rv.equals(current.path("metadata").path("resourceVersion").asText())) {
                    return error(409, "Operation cannot be fulfilled: the object has been modified");
                }
                ObjectNode op = JsonNodeFactory.instance.objectNode();
                op.put("op", "add").put("path", "/status").set("value", applied.path("status"));
                try {
                    return new PatchHandler(this).handle(path, "application/json-patch+json",
                            Serialization.asJson(JsonNodeFactory.instance.arrayNode().add(op)));
                } catch (KubernetesCrudDispatcherException e) {
                    return new MockResponse().setResponseCode(e.getCode()).setBody(e.toStatusBody());
                }
            }
            return super.handlePatch(request);
        }

        private MockResponse error(int code, String message) {
            return new MockResponse().setResponseCode(code).setBody(Serialization.asJson(new StatusBuilder()
                    .withStatus("Failure").withCode(code).withMessage(message).build()));
        }
    }
}
