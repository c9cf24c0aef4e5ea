/*
 * musqratt — authentication and access control compatible with Mosquitto's
 * password_file and acl_file (library src/auth/, "musqratt_auth").
 *
 * Three parts:
 *   - mq_passwd_*: a password file ("user:$7$iter$salt$hash" PBKDF2-SHA512,
 *     Mosquitto 2.0's default, or "user:$6$salt$hash", one SHA-512 of
 *     password||salt, the older format) parsed into a hash table;
 *   - mq_acl_*: an ACL file in Mosquitto's grammar (topic / user / pattern
 *     lines) and the check Mosquitto 2.0.11 makes;
 *   - mq_auth_*: the broker hooks (mq_auth_fn, mq_acl_fn) over a set of
 *     policies, one for all listeners or one per listener
 *     (per_listener_settings).
 *
 * Parsing makes no system call: the platform reads a file and passes its
 * text. Hashing uses OpenSSL's libcrypto (PBKDF2, SHA-512, CRYPTO_memcmp,
 * RAND_bytes), which is why this library is not part of musqratt_core.
 * Memory comes from the mq_allocator_t given at parse time (borrowed; it
 * must outlive the object). Each mq_passwd_t / mq_acl_t is owned by the
 * caller and freed with its _free function; the hooks only borrow them.
 */
#ifndef MUSQRATT_AUTH_H
#define MUSQRATT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base64.h"
#include "broker.h"
#include "platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called once per problem found, with the file name and 1-based line.
 * is_error false means a warning (the line was skipped, as Mosquitto does). */
typedef void (*mq_auth_diag_fn)(void *ctx, const char *file, unsigned line, bool is_error,
                                const char *msg);

/* ---- password files --------------------------------------------------- */

#define MQ_PASSWD_SALT_LEN 12         /* what mosquitto_passwd writes */
#define MQ_PASSWD_HASH_LEN 64         /* SHA-512 */
#define MQ_PASSWD_ITERATIONS 101      /* mosquitto_passwd's default for $7$ */
#define MQ_PASSWD_MAX_SALT 64         /* longest salt accepted in a file */
#define MQ_PASSWD_MAX_LINE 65536      /* longest line accepted in a file */

typedef struct mq_passwd mq_passwd_t;

/*
 * Parses a password file's text. Lines: "username:hash", blank lines and
 * lines starting with '#' are ignored, blanks around both fields are
 * trimmed. A line whose hash is not a valid $6$ or $7$ hash (or has none)
 * is reported as a warning with file:line and its user removed (Mosquitto
 * 2.0 does the same: such a user can never log in); a user listed twice is
 * a warning too (the later line wins).
 * Returns MQ_OK (*out set, possibly with no users), MQ_ENOMEM, or
 * MQ_ECONFIG for a file that cannot be a password file at all (a NUL byte,
 * a line longer than MQ_PASSWD_MAX_LINE), reported as an error.
 */
int mq_passwd_parse(const mq_allocator_t *a, const char *text, size_t len, const char *filename,
                    mq_auth_diag_fn diag, void *diag_ctx, mq_passwd_t **out);
void mq_passwd_free(mq_passwd_t *pw);
size_t mq_passwd_count(const mq_passwd_t *pw);
bool mq_passwd_has_user(const mq_passwd_t *pw, const char *user, size_t ulen);

/*
 * True when user is in the file and pass hashes to its hash (constant time
 * comparison; an unknown user costs the same hashing as a known one).
 */
bool mq_passwd_check(const mq_passwd_t *pw, const char *user, size_t ulen, const uint8_t *pass,
                     size_t plen);

/*
 * Writes the "$7$iterations$salt$hash" field for pass (NUL-terminated) into
 * out (cap bytes). salt is MQ_PASSWD_SALT_LEN bytes, or NULL for fresh ones
 * from RAND_bytes. iterations 0 means MQ_PASSWD_ITERATIONS.
 * Returns the length written, or MQ_EINVAL / MQ_ENOMEM (cap too small) /
 * MQ_EIO (libcrypto failed).
 */
int mq_passwd_hash7(const uint8_t *pass, size_t plen, uint32_t iterations, const uint8_t *salt,
                    char *out, size_t cap);
/* The same for the old "$6$salt$hash" format (one SHA-512 of pass||salt). */
int mq_passwd_hash6(const uint8_t *pass, size_t plen, const uint8_t *salt, char *out, size_t cap);

/* base64: include/musqratt/base64.h (part of the core). */

/* ---- ACL files ---------------------------------------------------------- */

typedef struct mq_acl mq_acl_t;

/*
 * Parses an ACL file (Mosquitto 2.0.11's grammar, tokens separated by
 * spaces):
 *   # comment
 *   topic [read|write|readwrite|deny] TOPIC   (no user line yet: anonymous
 *                                             clients; after "user NAME":
 *                                             that user; TOPIC is the rest
 *                                             of the line, default readwrite)
 *   user NAME
 *   pattern [read|write|readwrite|deny] TOPIC  (every client; %u username,
 *                                             %c client id)
 * TOPIC may hold MQTT wildcards and must be a valid topic filter. Every bad
 * line is an error with file:line. Returns MQ_OK (*out set), MQ_ENOMEM, or
 * MQ_ECONFIG (nothing is built: the caller keeps what it had).
 */
int mq_acl_parse(const mq_allocator_t *a, const char *text, size_t len, const char *filename,
                 mq_auth_diag_fn diag, void *diag_ctx, mq_acl_t **out);
void mq_acl_free(mq_acl_t *acl);

/*
 * Mosquitto 2.0.11's decision (src/security_default.c) for a client with
 * this username (NULL: anonymous) and client id:
 *   - SUBSCRIBE is always allowed (Mosquitto does not check subscription
 *     filters against the file; what a subscriber receives is checked by
 *     READ at each delivery);
 *   - WRITE to "$SYS..." and READ/WRITE of "$share..." topics are denied;
 *   - the client's own list (its user section, or the anonymous section)
 *     is searched, deny entries first: a matching deny refuses, a matching
 *     entry with the access allows;
 *   - then the patterns, deny entries first, with %u and %c substituted; a
 *     client whose username or client id contains '+' or '#' matches no
 *     pattern, and a pattern with %u never matches an anonymous client;
 *   - nothing matched: denied.
 * topic[0..len) is a topic name (no wildcards).
 */
bool mq_acl_check(const mq_acl_t *acl, const char *username, const char *client_id,
                  const char *topic, size_t len, int access);

/* ---- broker hooks --------------------------------------------------------- */

/* One set of security settings: what applies to a listener (or to all). */
typedef struct mq_auth_policy {
    const mq_passwd_t *passwd;   /* NULL: no password file */
    const mq_acl_t *acl;         /* NULL: no ACL file (everything allowed) */
    bool allow_anonymous;
} mq_auth_policy_t;

#define MQ_AUTH_MAX_POLICIES 64

/*
 * The hooks' context. per_listener false: policies[0] applies to every
 * connection; true: policies[mq_conn_listener(c)] (a connection on a
 * listener without a policy is refused, as Mosquitto does). The policies
 * are borrowed: swapping a pointer between two broker calls is how a
 * reload takes effect (the broker is single-threaded).
 */
typedef struct mq_auth {
    bool per_listener;
    size_t n;
    const mq_auth_policy_t *policies[MQ_AUTH_MAX_POLICIES];
} mq_auth_t;

/*
 * mq_auth_fn for mq_broker_config_t.auth (ctx: mq_auth_t). Mosquitto 2.0's
 * rules: a connection whose transport set an identity
 * (use_identity_as_username) is accepted without a password check; no
 * username: allow_anonymous decides; a username with a password file: it
 * must be listed and the password must match; a username without a password
 * file is accepted. Refusals are MQ_CONNACK_NOT_AUTHORIZED (5; MQTT 5:
 * 0x87), which is what Mosquitto 2.0.11 sends for all of them.
 */
int mq_auth_connect_hook(void *ctx, const mq_conn_t *c, const mq_connect_t *connect);

/* mq_acl_fn for mq_broker_config_t.acl (ctx: mq_auth_t): mq_acl_check()
 * with the connection's username and client id; a policy without an ACL
 * allows everything. */
bool mq_auth_acl_hook(void *ctx, const mq_conn_t *c, const char *topic, size_t len, int access);

/* True when any policy has an ACL (only then is the ACL hook worth installing). */
bool mq_auth_has_acl(const mq_auth_t *auth);

#ifdef __cplusplus
}
#endif
#endif
