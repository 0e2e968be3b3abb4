package dev.keel.auth;

import com.google.protobuf.ByteString;
import dev.keel.errors.EtcdException;
import dev.keel.proto.authpb.Permission;
import dev.keel.proto.etcdserverpb.AuthRoleGrantPermissionRequest;
import dev.keel.proto.etcdserverpb.AuthRoleRevokePermissionRequest;
import dev.keel.proto.etcdserverpb.AuthUserAddRequest;
import dev.keel.proto.etcdserverpb.AuthUserChangePasswordRequest;
import dev.keel.storage.Storage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The auth store on a real RocksDB: etcd's rules for users, roles, ranges, the revision and persistence. */
class AuthStoreTest {

    @TempDir
    Path dir;
    Storage storage;
    AuthStore store;
    final AtomicLong clock = new AtomicLong();
    SimpleTokens tokens;

    @BeforeEach
    void open() {
        storage = Storage.open(dir, AuthStore.COLUMNS);
        tokens = new SimpleTokens(300, clock::get);
        store = new AuthStore(storage, tokens, 4);
    }

    @AfterEach
    void close() {
        storage.close();
    }

    /** What the applier does after each entry: the staged rows in one batch. */
    void commit() {
        try (Storage.Batch b = storage.newBatch()) {
            store.commit(b);
            storage.write(b);
        }
    }

    void reopen() {
        commit();
        storage.close();
        storage = Storage.open(dir, AuthStore.COLUMNS);
        tokens = new SimpleTokens(300, clock::get);
        store = new AuthStore(storage, tokens, 4);
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    void addUser(String name, String password) {
        store.userAdd(AuthUserAddRequest.newBuilder().setName(name).setHashedPassword(store.hash(password)).build());
    }

    void grant(String role, Permission.Type type, String key, String end) {
        store.roleGrantPermission(AuthRoleGrantPermissionRequest.newBuilder().setName(role)
                .setPerm(Permission.newBuilder().setPermType(type).setKey(ByteString.copyFromUtf8(key))
                        .setRangeEnd(ByteString.copyFromUtf8(end))).build());
    }

    void enableWithRoot() {
        addUser("root", "rootpw");
        store.userGrantRole("root", "root");
        store.enable();
    }

    static void fails(String message, Executable e) {
        EtcdException x = assertThrows(EtcdException.class, e);
        assertEquals(message, x.getMessage());
    }

    @Test
    void enableNeedsRootUserWithRootRole() {
        assertEquals(1, store.revision(), "a fresh store is at revision 1");
        fails("etcdserver: root user does not exist", store::enable);
        addUser("root", "pw");
        fails("etcdserver: root user does not have root role", store::enable);
        store.userGrantRole("root", "root");
        long before = store.revision();
        store.enable();
        assertTrue(store.isEnabled());
        assertEquals(before, store.revision(), "enabling does not move the revision");
        fails("etcdserver: invalid auth management", () -> store.userDelete("root"));
        fails("etcdserver: invalid auth management", () -> store.userRevokeRole("root", "root"));
        store.disable();
        assertFalse(store.isEnabled());
        assertEquals(before + 1, store.revision(), "disabling moves it");
    }

    @Test
    void revisionMovesWithEveryChangeButDuplicateGrants() {
        long r0 = store.revision();
        addUser("u", "pw");
        store.roleAdd("r");
        grant("r", Permission.Type.READ, "a", "b");
        store.userGrantRole("u", "r");
        assertEquals(r0 + 4, store.revision());
        store.userGrantRole("u", "r");
        assertEquals(r0 + 4, store.revision(), "a duplicate grant changes nothing");
        grant("r", Permission.Type.WRITE, "a", "b"); // same range: the type is replaced
        assertEquals(List.of(Permission.Type.WRITE),
                store.rolePermissions("r").stream().map(Permission::getPermType).toList());
        assertEquals(r0 + 5, store.revision());
    }

    @Test
    void errorsAreEtcds() {
        fails("etcdserver: user name is empty", () -> addUser("", "x"));
        fails("etcdserver: role name is empty", () -> store.roleAdd(""));
        addUser("u", "pw");
        fails("etcdserver: user name already exists", () -> addUser("u", "pw"));
        store.roleAdd("r");
        fails("etcdserver: role name already exists", () -> store.roleAdd("r"));
        fails("etcdserver: user name not found", () -> store.userDelete("nobody"));
        fails("etcdserver: role name not found", () -> store.userGrantRole("u", "nope"));
        fails("etcdserver: role is not granted to the user", () -> store.userRevokeRole("u", "r"));
        fails("etcdserver: permission not given", () -> store.roleGrantPermission(
                AuthRoleGrantPermissionRequest.newBuilder().setName("r").build()));
        fails("etcdserver: invalid auth management", () -> grant("r", Permission.Type.READ, "b", "a"));
        fails("etcdserver: invalid auth management", () -> grant("r", Permission.Type.READ, "", "a"));
        fails("etcdserver: permission is not granted to the role", () -> store.roleRevokePermission(
                AuthRoleRevokePermissionRequest.newBuilder().setRole("r").setKey(ByteString.copyFromUtf8("x")).build()));
        fails("etcdserver: authentication is not enabled", () -> store.checkPassword("u", "pw"));
    }

    @Test
    void rangePermissionsFollowEtcdsIntervals() {
        enableWithRoot();
        addUser("u", "pw");
        store.roleAdd("r");
        store.userGrantRole("u", "r");
        grant("r", Permission.Type.READ, "a", "c");          // [a, c)
        grant("r", Permission.Type.READ, "c", "e");          // [c, e): adjacent, so [a, e) is covered
        grant("r", Permission.Type.WRITE, "k", "");          // the single key k
        grant("r", Permission.Type.READWRITE, "p/", "p0");   // prefix p/
        grant("r", Permission.Type.READ, "z", "\0");         // everything from z on
        AuthInfo u = new AuthInfo("u", store.revision());

        store.checkRange(u, b("a"), null);
        store.checkRange(u, b("b"), b("d"));
        store.checkRange(u, b("a"), b("e"));
        fails("etcdserver: permission denied", () -> store.checkRange(u, b("a"), b("f")));
        fails("etcdserver: permission denied", () -> store.checkRange(u, b("e"), null));
        store.checkPut(u, b("k"));
        fails("etcdserver: permission denied", () -> store.checkPut(u, b("k0")));
        fails("etcdserver: permission denied", () -> store.checkRange(u, b("k"), null)); // write-only
        store.checkDeleteRange(u, b("k"), b("k\0"));                                     // exactly the key
        store.checkPut(u, b("p/x"));
        store.checkRange(u, b("p/"), b("p0"));
        fails("etcdserver: permission denied", () -> store.checkPut(u, b("p0")));
        store.checkRange(u, b("zz"), b("\0"));
        store.checkRange(u, b("z"), null);
        fails("etcdserver: permission denied", () -> store.checkRange(u, b("y"), b("\0")));
        fails("etcdserver: permission denied", () -> store.checkPut(u, b("zz")));

        AuthInfo root = new AuthInfo("root", store.revision());
        store.checkPut(root, b("anything"));
        store.checkAdmin(root);
        fails("etcdserver: permission denied", () -> store.checkAdmin(u));
        fails("etcdserver: user name is empty", () -> store.checkAdmin(AuthInfo.NONE));
        fails("etcdserver: user name not found", () -> store.checkAdmin(new AuthInfo("ghost", 5)));
        fails("etcdserver: user name is empty", () -> store.checkRange(AuthInfo.NONE, b("a"), null));
        fails("etcdserver: permission denied", () -> store.checkRange(new AuthInfo("ghost", store.revision()),
                b("a"), null));

        // any change makes identities checked at an older revision stale
        store.roleAdd("other");
        fails("etcdserver: revision of auth store is old", () -> store.checkRange(u, b("a"), null));
        // revoking a role takes its ranges away
        store.userRevokeRole("u", "r");
        fails("etcdserver: permission denied",
                () -> store.checkRange(new AuthInfo("u", store.revision()), b("a"), null));
    }

    @Test
    void deletingARoleTakesItFromItsUsers() {
        addUser("u", "pw");
        store.roleAdd("r");
        store.userGrantRole("u", "r");
        store.roleDelete("r");
        assertEquals(List.of(), store.userRoles("u"));
        fails("etcdserver: role name not found", () -> store.rolePermissions("r"));
    }

    @Test
    void passwordsAreBcryptAndTokensDieWithPasswordChanges() {
        enableWithRoot();
        addUser("u", "secret");
        long rev = store.checkPassword("u", "secret");
        assertEquals(store.revision(), rev);
        fails("etcdserver: authentication failed, invalid user ID or password", () -> store.checkPassword("u", "bad"));
        fails("etcdserver: authentication failed, invalid user ID or password",
                () -> store.checkPassword("nobody", "x"));
        store.userAdd(AuthUserAddRequest.newBuilder().setName("np")
                .setOptions(dev.keel.proto.authpb.UserAddOptions.newBuilder().setNoPassword(true)).build());
        fails("auth: authentication failed, password was given for no password user",
                () -> store.checkPassword("np", "x"));

        String token = store.authenticate("u", "abcdefghijklmnop", 42);
        assertEquals("abcdefghijklmnop.42", token);
        AuthInfo ai = tokens.info(token, store.revision());
        assertNotNull(ai);
        assertEquals("u", ai.username());
        store.userChangePassword(AuthUserChangePasswordRequest.newBuilder().setName("u")
                .setHashedPassword(store.hash("new")).build());
        assertNull(tokens.info(token, store.revision()), "a password change voids the user's tokens");
        store.checkPassword("u", "new");

        String t2 = store.authenticate("u", "qqqqqqqqqqqqqqqq", 43);
        clock.addAndGet(301_000_000_000L);
        assertNull(tokens.info(t2, store.revision()), "unused for longer than the TTL");
        String t3 = store.authenticate("u", "rrrrrrrrrrrrrrrr", 44);
        store.disable();
        assertNull(tokens.info(t3, store.revision()), "disabling auth voids every token");
    }

    @Test
    void everythingSurvivesAReopen() {
        enableWithRoot();
        addUser("u", "pw");
        store.roleAdd("r");
        grant("r", Permission.Type.READWRITE, "a", "b");
        store.userGrantRole("u", "r");
        long rev = store.revision();
        reopen();
        assertTrue(store.isEnabled());
        assertEquals(rev, store.revision());
        assertEquals(List.of("r"), store.userRoles("u"));
        assertEquals(List.of("root", "u"), store.userNames());
        assertEquals(List.of("r"), store.roleNames());
        store.checkPut(new AuthInfo("u", rev), b("a1"));
        store.checkPassword("u", "pw");
        fails("etcdserver: permission denied", () -> store.checkPut(new AuthInfo("u", rev), b("b")));
    }

    @Test
    void theRootRoleReportsEverything() {
        store.roleAdd("root");
        Permission p = store.rolePermissions("root").get(0);
        assertEquals(Permission.Type.READWRITE, p.getPermType());
        assertEquals(ByteString.EMPTY, p.getKey());
        assertEquals(ByteString.copyFrom(new byte[]{0}), p.getRangeEnd());
    }
}
