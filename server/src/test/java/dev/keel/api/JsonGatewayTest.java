package dev.keel.api;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.keel.proto.etcdserverpb.RangeRequest;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class JsonGatewayTest {

    @Test
    void httpStatusIsGrpcGatewaysMapping() {
        int[] expected = {200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401};
        for (int code = 0; code < expected.length; code++) {
            assertEquals(expected[code], JsonGateway.httpStatus(code), "gRPC code " + code);
        }
        assertEquals(500, JsonGateway.httpStatus(17));
    }

    @Test
    void decodeErrorsCarryNoJavaClassNames() {
        JsonFormat.Parser parser = JsonFormat.parser().ignoringUnknownFields();
        InvalidProtocolBufferException eof = assertThrows(InvalidProtocolBufferException.class,
                () -> parser.merge("{\"key\":", RangeRequest.newBuilder()));
        assertEquals("unexpected EOF", JsonGateway.decodeError(eof));
        InvalidProtocolBufferException syntax = assertThrows(InvalidProtocolBufferException.class,
                () -> parser.merge("{\"key\" \"x\"}", RangeRequest.newBuilder()));
        String m = JsonGateway.decodeError(syntax);
        assertEquals(-1, m.indexOf("Exception"), m);
        assertEquals(-1, m.indexOf("com.google"), m);
        assertEquals("Expect message object but got: [1]",
                JsonGateway.decodeError(assertThrows(InvalidProtocolBufferException.class,
                        () -> parser.merge("[1]", RangeRequest.newBuilder()))));
    }

    @Test
    void quotingAsGoDoes() {
        assertEquals("\"a\\\"b\\\\c\\n\\u0001\"", Http.protoQuote("a\"b\\c\n\u0001"));
        assertEquals("\"\\u003cx\\u003e \\u0026\"", Http.goQuote("<x> &"));
        assertEquals("\"<x> &\"", Http.protoQuote("<x> &"));
    }
}
