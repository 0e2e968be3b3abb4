package dev.keel.auth;

import at.favre.lib.crypto.bcrypt.BCrypt;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.keel.errors.EtcdError;
import dev.keel.errors.EtcdException;
import dev.keel.proto.authpb.Permission;
import dev.keel.proto.authpb.Role;
import dev.keel.proto.authpb.User;
import dev.keel.proto.authpb.UserAddOptions;
import dev.keel.proto.etcdserverpb.AuthRoleGrantPermissionRequest;
import dev.keel.proto.etcdserverpb.AuthRoleRevokePermissionRequest;
import dev.keel.proto.etcdserverpb.AuthUserAddRequest;
import dev.keel.proto.etcdserverpb.AuthUserChangePasswordRequest;
import dev.keel.storage.Storage;
import org.jboss.logging.Logger;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * etcd's auth store: users, roles, their key-range permissions, whether auth is enabled and the auth revision.
 * Changed only by applied log entries (so every member agrees), in log order, on the apply thread; each change is
 * staged and goes to the {@code auth} column in the same batch as the rest of its entry ({@link #commit}). Reads
 * (permission checks, gets, lists) see an immutable snapshot of the state and run on any thread.
 *
 * <p>The auth revision starts at 1 and moves with every change except enabling (etcd's rule); a token or
 * certificate checked at an older revision is refused with "revision of auth store is old" at apply time.
 */
public final class AuthStore {

    private static final Logger LOG = Logger.getLogger(AuthStore.class);

    public static final String COLUMN = "auth";
    public static final List<String> COLUMNS = List.of(COLUMN);

    public static final String ROOT_USER = "root";
    public static final String ROOT_ROLE = "root";

    private static final byte[] ENABLED = "enabled".getBytes(StandardCharsets.UTF_8);
    private static final byte[] REVISION = "revision".getBytes(StandardCharsets.UTF_8);
    private static final String USER_PREFIX = "user/";
    private static final String ROLE_PREFIX = "role/";

    /** What a role named root reports in RoleGet: read and write on every key. */
    private static final Permission ROOT_PERMISSION = Permission.newBuilder()
            .setPermType(Permission.Type.READWRITE).setKey(ByteString.EMPTY)
            .setRangeEnd(ByteString.copyFrom(new byte[]{0})).build();

    /** Immutable view of the store; replaced as a whole on each change. */
    private record State(boolean enabled, long revision, Map<String, User> users, Map<String, Role> roles,
                         Map<String, RangePermissions> perms) {
    }

    private final Storage storage;
    private final Storage.Column column;
    private final TokenProvider tokens;
    private final int bcryptCost;
    /** Changes not yet in a batch: key → value, or null for a deletion. */
    private final Map<String, byte[]> staged = new LinkedHashMap<>();
    private volatile State state;

    public AuthStore(Storage storage, TokenProvider tokens, int bcryptCost) {
        this.storage = storage;
        this.column = storage.column(COLUMN);
        this.tokens = tokens;
        this.bcryptCost = bcryptCost;
        this.state = load();
        if (state.enabled) {
            tokens.enable();
        }
    }

    /** The state as stored in the auth column. */
    private State load() {
        boolean enabled = false;
        long revision = 1; // etcd commits revision 1 when it creates the store
        Map<String, User> users = new TreeMap<>();
        Map<String, Role> roles = new TreeMap<>();
        byte[] e = storage.get(column, ENABLED);
        if (e != null && e.length == 1 && e[0] == 1) {
            enabled = true;
        }
        byte[] r = storage.get(column, REVISION);
        if (r != null && r.length == 8) {
            revision = ByteBuffer.wrap(r).getLong();
        }
        storage.scan(column, null, null, (k, v) -> {
            String key = new String(k, StandardCharsets.UTF_8);
            try {
                if (key.startsWith(USER_PREFIX)) {
                    users.put(key.substring(USER_PREFIX.length()), User.parseFrom(v));
                } else if (key.startsWith(ROLE_PREFIX)) {
                    roles.put(key.substring(ROLE_PREFIX.length()), Role.parseFrom(v));
                }
            } catch (InvalidProtocolBufferException ex) {
                LOG.warnf("ignoring an unreadable auth record %s", key);
            }
            return true;
        });
        return new State(enabled, revision, users, roles, mergePermissions(users, roles));
    }

    /**
     * Re-reads the store after the storage contents were replaced (a snapshot installed from the leader, on the
     * apply thread). Tokens issued by the entries the snapshot replaced are not known here; with auth off after
     * the install, none is valid.
     */
    public void reload() {
        staged.clear();
        State s = load();
        state = s;
        if (s.enabled) {
            tokens.enable();
        } else {
            tokens.disable();
        }
    }

    /** The bcrypt cost used to hash passwords before they are proposed (etcd's --bcrypt-cost). */
    public int bcryptCost() {
        return bcryptCost;
    }

    /** The bcrypt hash of {@code password}, base64-encoded as etcd carries it in hashedPassword. */
    public String hash(String password) {
        byte[] h = BCrypt.with(BCrypt.Version.VERSION_2A).hash(bcryptCost, password.getBytes(StandardCharsets.UTF_8));
        return Base64.getEncoder().encodeToString(h);
    }

    public TokenProvider tokens() {
        return tokens;
    }

    public boolean isEnabled() {
        return state.enabled;
    }

    public long revision() {
        return state.revision;
    }

    // ---- reads -------------------------------------------------------------------------------------------

    /**
     * Checks a user's password (etcd's CheckPassword). Returns the auth revision it was checked at.
     */
    public long checkPassword(String name, String password) {
        State s = state;
        if (!s.enabled) {
            throw EtcdError.AUTH_NOT_ENABLED.exception();
        }
        User u = s.users.get(name);
        if (u == null) {
            throw EtcdError.AUTH_FAILED.exception();
        }
        if (u.getOptions().getNoPassword()) {
            throw EtcdError.NO_PASSWORD_USER.exception();
        }
        byte[] hash = u.getPassword().toByteArray();
        boolean ok;
        try {
            ok = hash.length > 0 && BCrypt.verifyer().verify(password.getBytes(StandardCharsets.UTF_8), hash).verified;
        } catch (RuntimeException e) {
            ok = false;
        }
        if (!ok) {
            LOG.infof("invalid password for user %s", name);
            throw EtcdError.AUTH_FAILED.exception();
        }
        return s.revision;
    }

    public List<String> userRoles(String name) {
        User u = state.users.get(name);
        if (u == null) {
            throw EtcdError.USER_NOT_FOUND.exception();
        }
        return List.copyOf(u.getRolesList());
    }

    public List<String> userNames() {
        return List.copyOf(state.users.keySet());
    }

    public List<Permission> rolePermissions(String role) {
        Role r = state.roles.get(role);
        if (r == null) {
            throw EtcdError.ROLE_NOT_FOUND.exception();
        }
        if (ROOT_ROLE.equals(role)) {
            return List.of(ROOT_PERMISSION);
        }
        return List.copyOf(r.getKeyPermissionList());
    }

    public List<String> roleNames() {
        return List.copyOf(state.roles.keySet());
    }

    public boolean hasRole(String user, String role) {
        User u = state.users.get(user);
        return u != null && u.getRolesList().contains(role);
    }

    // ---- permission checks (etcd's authStore.Is*Permitted) -------------------------------------------------

    public void checkPut(AuthInfo ai, byte[] key) {
        checkOp(ai, key, null, true);
    }

    public void checkRange(AuthInfo ai, byte[] key, byte[] rangeEnd) {
        checkOp(ai, key, rangeEnd, false);
    }

    public void checkDeleteRange(AuthInfo ai, byte[] key, byte[] rangeEnd) {
        checkOp(ai, key, rangeEnd, true);
    }

    private void checkOp(AuthInfo ai, byte[] key, byte[] rangeEnd, boolean write) {
        State s = state;
        if (!s.enabled) {
            return;
        }
        if (ai == null || ai.revision() == 0) {
            throw EtcdError.USER_EMPTY.exception();
        }
        if (ai.revision() < s.revision) {
            throw EtcdError.AUTH_OLD_REVISION.exception();
        }
        User u = s.users.get(ai.username());
        if (u == null) {
            throw EtcdError.PERMISSION_DENIED.exception();
        }
        if (u.getRolesList().contains(ROOT_ROLE)) {
            return;
        }
        RangePermissions p = s.perms.get(ai.username());
        if (p != null && p.permits(key, rangeEnd, write)) {
            return;
        }
        throw EtcdError.PERMISSION_DENIED.exception();
    }

    /** Only users with the root role (etcd's IsAdminPermitted); everyone while auth is disabled. */
    public void checkAdmin(AuthInfo ai) {
        State s = state;
        if (!s.enabled) {
            return;
        }
        if (ai == null || ai.username().isEmpty()) {
            throw EtcdError.USER_EMPTY.exception();
        }
        User u = s.users.get(ai.username());
        if (u == null) {
            throw EtcdError.USER_NOT_FOUND.exception();
        }
        if (!u.getRolesList().contains(ROOT_ROLE)) {
            throw EtcdError.PERMISSION_DENIED.exception();
        }
    }

    public boolean isAdmin(AuthInfo ai) {
        try {
            checkAdmin(ai);
            return true;
        } catch (EtcdException e) {
            return false;
        }
    }

    // ---- changes (apply thread only) -----------------------------------------------------------------------

    public void enable() {
        State s = state;
        if (s.enabled) {
            LOG.info("authentication is already enabled; ignored auth enable request");
            return;
        }
        User root = s.users.get(ROOT_USER);
        if (root == null) {
            throw EtcdError.ROOT_USER_NOT_EXIST.exception();
        }
        if (!root.getRolesList().contains(ROOT_ROLE)) {
            throw EtcdError.ROOT_ROLE_NOT_EXIST.exception();
        }
        staged.put(new String(ENABLED, StandardCharsets.UTF_8), new byte[]{1});
        state = new State(true, s.revision, s.users, s.roles, s.perms);
        tokens.enable();
        LOG.info("enabled authentication");
    }

    public void disable() {
        State s = state;
        if (!s.enabled) {
            return;
        }
        staged.put(new String(ENABLED, StandardCharsets.UTF_8), new byte[]{0});
        publish(false, s.users, s.roles, true);
        tokens.disable();
        LOG.info("disabled authentication");
    }

    /**
     * Issues a token for an authenticated user (the apply of etcd's InternalAuthenticateRequest): the password was
     * checked before proposing; this only makes sure the user still exists and auth is still on.
     */
    public String authenticate(String name, String simpleTokenPrefix, long index) {
        State s = state;
        if (!s.enabled) {
            throw EtcdError.AUTH_NOT_ENABLED.exception();
        }
        User u = s.users.get(name);
        if (u == null || u.getOptions().getNoPassword()) {
            throw EtcdError.AUTH_FAILED.exception();
        }
        return tokens.assign(name, s.revision, simpleTokenPrefix, index);
    }

    public void userAdd(AuthUserAddRequest r) {
        if (r.getName().isEmpty()) {
            throw EtcdError.USER_EMPTY.exception();
        }
        State s = state;
        if (s.users.containsKey(r.getName())) {
            throw EtcdError.USER_ALREADY_EXIST.exception();
        }
        UserAddOptions options = r.hasOptions() ? r.getOptions() : UserAddOptions.getDefaultInstance();
        User.Builder u = User.newBuilder().setName(ByteString.copyFromUtf8(r.getName())).setOptions(options);
        if (!options.getNoPassword()) {
            u.setPassword(selectPassword(r.getPassword(), r.getHashedPassword()));
        }
        Map<String, User> users = new TreeMap<>(s.users);
        users.put(r.getName(), u.build());
        stageUser(u.build());
        publish(s.enabled, users, s.roles, true);
        LOG.infof("added a user %s", r.getName());
    }

    /** The hash to store: a plain password is hashed here only if no hash came with it (etcd's selectPassword). */
    private ByteString selectPassword(String password, String hashedPassword) {
        if (!password.isEmpty() && hashedPassword.isEmpty()) {
            return ByteString.copyFrom(Base64.getDecoder().decode(hash(password)));
        }
        try {
            return ByteString.copyFrom(Base64.getDecoder().decode(hashedPassword));
        } catch (IllegalArgumentException e) {
            throw EtcdError.NO_PASSWORD_USER.exception();
        }
    }

    public void userDelete(String name) {
        State s = state;
        if (s.enabled && ROOT_USER.equals(name)) {
            throw EtcdError.INVALID_AUTH_MGMT.exception();
        }
        if (!s.users.containsKey(name)) {
            throw EtcdError.USER_NOT_FOUND.exception();
        }
        Map<String, User> users = new TreeMap<>(s.users);
        users.remove(name);
        staged.put(USER_PREFIX + name, null);
        publish(s.enabled, users, s.roles, true);
        tokens.invalidateUser(name);
        LOG.infof("deleted a user %s", name);
    }

    public void userChangePassword(AuthUserChangePasswordRequest r) {
        State s = state;
        User u = s.users.get(r.getName());
        if (u == null) {
            throw EtcdError.USER_NOT_FOUND.exception();
        }
        User.Builder b = u.toBuilder();
        if (!u.getOptions().getNoPassword()) {
            b.setPassword(selectPassword(r.getPassword(), r.getHashedPassword()));
        } else {
            b.clearPassword();
        }
        putUser(s, b.build());
        tokens.invalidateUser(r.getName());
        LOG.infof("changed the password of user %s", r.getName());
    }

    public void userGrantRole(String user, String role) {
        State s = state;
        User u = s.users.get(user);
        if (u == null) {
            throw EtcdError.USER_NOT_FOUND.exception();
        }
        if (!ROOT_ROLE.equals(role) && !s.roles.containsKey(role)) {
            throw EtcdError.ROLE_NOT_FOUND.exception();
        }
        if (u.getRolesList().contains(role)) {
            return; // etcd ignores a duplicate grant (no revision change)
        }
        List<String> roles = new ArrayList<>(u.getRolesList());
        roles.add(role);
        Collections.sort(roles);
        putUser(s, u.toBuilder().clearRoles().addAllRoles(roles).build());
        LOG.infof("granted role %s to user %s", role, user);
    }

    public void userRevokeRole(String user, String role) {
        State s = state;
        if (s.enabled && ROOT_USER.equals(user) && ROOT_ROLE.equals(role)) {
            throw EtcdError.INVALID_AUTH_MGMT.exception();
        }
        User u = s.users.get(user);
        if (u == null) {
            throw EtcdError.USER_NOT_FOUND.exception();
        }
        List<String> roles = new ArrayList<>(u.getRolesList());
        if (!roles.removeIf(role::equals)) {
            throw EtcdError.ROLE_NOT_GRANTED.exception();
        }
        putUser(s, u.toBuilder().clearRoles().addAllRoles(roles).build());
        LOG.infof("revoked role %s from user %s", role, user);
    }

    private void putUser(State s, User u) {
        Map<String, User> users = new TreeMap<>(s.users);
        users.put(u.getName().toStringUtf8(), u);
        stageUser(u);
        publish(s.enabled, users, s.roles, true);
    }

    private void stageUser(User u) {
        staged.put(USER_PREFIX + u.getName().toStringUtf8(), u.toByteArray());
    }

    public void roleAdd(String name) {
        if (name.isEmpty()) {
            throw EtcdError.ROLE_EMPTY.exception();
        }
        State s = state;
        if (s.roles.containsKey(name)) {
            throw EtcdError.ROLE_ALREADY_EXIST.exception();
        }
        Role r = Role.newBuilder().setName(ByteString.copyFromUtf8(name)).build();
        Map<String, Role> roles = new TreeMap<>(s.roles);
        roles.put(name, r);
        staged.put(ROLE_PREFIX + name, r.toByteArray());
        publish(s.enabled, s.users, roles, true);
        LOG.infof("created a role %s", name);
    }

    public void roleDelete(String name) {
        State s = state;
        if (s.enabled && ROOT_ROLE.equals(name)) {
            throw EtcdError.INVALID_AUTH_MGMT.exception();
        }
        if (!s.roles.containsKey(name)) {
            throw EtcdError.ROLE_NOT_FOUND.exception();
        }
        Map<String, Role> roles = new TreeMap<>(s.roles);
        roles.remove(name);
        staged.put(ROLE_PREFIX + name, null);
        Map<String, User> users = new TreeMap<>(s.users);
        for (User u : s.users.values()) {
            if (u.getRolesList().contains(name)) {
                List<String> left = new ArrayList<>(u.getRolesList());
                left.removeIf(name::equals);
                User nu = u.toBuilder().clearRoles().addAllRoles(left).build();
                users.put(nu.getName().toStringUtf8(), nu);
                stageUser(nu);
            }
        }
        publish(s.enabled, users, roles, true);
        LOG.infof("deleted a role %s", name);
    }

    public void roleGrantPermission(AuthRoleGrantPermissionRequest r) {
        if (!r.hasPerm()) {
            throw EtcdError.PERMISSION_NOT_GIVEN.exception();
        }
        Permission perm = r.getPerm();
        if (!RangePermissions.isValidRange(perm.getKey().toByteArray(), perm.getRangeEnd().toByteArray())) {
            throw EtcdError.INVALID_AUTH_MGMT.exception();
        }
        State s = state;
        Role role = s.roles.get(r.getName());
        if (role == null) {
            throw EtcdError.ROLE_NOT_FOUND.exception();
        }
        List<Permission> perms = new ArrayList<>(role.getKeyPermissionList());
        boolean updated = false;
        for (int i = 0; i < perms.size(); i++) {
            Permission p = perms.get(i);
            if (p.getKey().equals(perm.getKey()) && p.getRangeEnd().equals(perm.getRangeEnd())) {
                perms.set(i, p.toBuilder().setPermType(perm.getPermType()).build());
                updated = true;
                break;
            }
        }
        if (!updated) {
            perms.add(Permission.newBuilder().setKey(perm.getKey()).setRangeEnd(perm.getRangeEnd())
                    .setPermType(perm.getPermType()).build());
            perms.sort((a, b) -> ByteString.unsignedLexicographicalComparator().compare(a.getKey(), b.getKey()));
        }
        putRole(s, role.toBuilder().clearKeyPermission().addAllKeyPermission(perms).build());
        LOG.infof("granted %s on [%s, %s) to role %s", perm.getPermType(), perm.getKey().toStringUtf8(),
                perm.getRangeEnd().toStringUtf8(), r.getName());
    }

    public void roleRevokePermission(AuthRoleRevokePermissionRequest r) {
        State s = state;
        Role role = s.roles.get(r.getRole());
        if (role == null) {
            throw EtcdError.ROLE_NOT_FOUND.exception();
        }
        List<Permission> perms = new ArrayList<>(role.getKeyPermissionList());
        if (!perms.removeIf(p -> p.getKey().equals(r.getKey()) && p.getRangeEnd().equals(r.getRangeEnd()))) {
            throw EtcdError.PERMISSION_NOT_GRANTED.exception();
        }
        putRole(s, role.toBuilder().clearKeyPermission().addAllKeyPermission(perms).build());
        LOG.infof("revoked a permission on [%s, %s) from role %s", r.getKey().toStringUtf8(),
                r.getRangeEnd().toStringUtf8(), r.getRole());
    }

    private void putRole(State s, Role r) {
        Map<String, Role> roles = new TreeMap<>(s.roles);
        roles.put(r.getName().toStringUtf8(), r);
        staged.put(ROLE_PREFIX + r.getName().toStringUtf8(), r.toByteArray());
        publish(s.enabled, s.users, roles, true);
    }

    /** Installs the new state; {@code bump}: the change moves the auth revision. */
    private void publish(boolean enabled, Map<String, User> users, Map<String, Role> roles, boolean bump) {
        long rev = state.revision + (bump ? 1 : 0);
        if (bump) {
            staged.put(new String(REVISION, StandardCharsets.UTF_8), ByteBuffer.allocate(8).putLong(rev).array());
        }
        state = new State(enabled, rev, Collections.unmodifiableMap(users), Collections.unmodifiableMap(roles),
                mergePermissions(users, roles));
    }

    private static Map<String, RangePermissions> mergePermissions(Map<String, User> users, Map<String, Role> roles) {
        Map<String, RangePermissions> out = new HashMap<>();
        for (Map.Entry<String, User> e : users.entrySet()) {
            RangePermissions p = new RangePermissions();
            for (String roleName : e.getValue().getRolesList()) {
                Role role = roles.get(roleName);
                if (role != null) {
                    role.getKeyPermissionList().forEach(p::add);
                }
            }
            p.seal();
            out.put(e.getKey(), p);
        }
        return out;
    }

    /** Adds the changes of the entries applied since the last call to {@code batch}. */
    public void commit(Storage.Batch batch) {
        for (Map.Entry<String, byte[]> e : staged.entrySet()) {
            byte[] k = e.getKey().getBytes(StandardCharsets.UTF_8);
            if (e.getValue() == null) {
                batch.delete(column, k);
            } else {
                batch.put(column, k, e.getValue());
            }
        }
        staged.clear();
    }
}
