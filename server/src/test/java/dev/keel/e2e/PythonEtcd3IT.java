package dev.keel.e2e;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** Debian's python3-etcd3 client, unmodified, against the server: KV, prefix get, lease, txn, watch, status. */
class PythonEtcd3IT {

    @TempDir
    Path tmp;

    private static final String SCRIPT = """
            import sys, etcd3
            c = etcd3.client(host='127.0.0.1', port=int(sys.argv[1]))
            c.put('py/a', '1')
            value, meta = c.get('py/a')
            print('get', value.decode(), meta.version, meta.create_revision)
            lease = c.lease(30)
            c.put('py/l', 'x', lease=lease)
            print('prefix', sorted(m.key.decode() for v, m in c.get_prefix('py/')))
            print('lease', lease.remaining_ttl > 0, [k.decode() for k in lease.keys])
            ok, responses = c.transaction(compare=[c.transactions.value('py/a') == '1'],
                                          success=[c.transactions.put('py/b', '2')], failure=[])
            print('txn', ok, c.get('py/b')[0].decode())
            events, cancel = c.watch('py/w')
            c.put('py/w', 'hello')
            for e in events:
                print('watch', type(e).__name__, e.key.decode(), e.value.decode())
                break
            cancel()
            c.delete('py/a')
            print('deleted', c.get('py/a')[0])
            print('status', c.status().version)
            """;

    @Test
    void pythonEtcd3Works() throws Exception {
        try (ServerProcess server = ServerProcess.start(tmp.resolve("py.etcd"))) {
            String port = server.endpoint().substring(server.endpoint().indexOf(':') + 1);
            String python = System.getProperty("keel.python", "/usr/bin/python3"); // Debian's, with python3-etcd3
            Process p = new ProcessBuilder(python, "-c", SCRIPT, port).redirectErrorStream(true).start();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "python client hung");
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), out);
            assertEquals(List.of(
                    "get 1 1 2",
                    "prefix ['py/a', 'py/l']",
                    "lease True ['py/l']",
                    "txn True 2",
                    "watch PutEvent py/w hello",
                    "deleted None",
                    "status 3.6.0"), out.lines().toList(), out);
        }
    }
}
