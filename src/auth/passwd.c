/*
 * passwd — Mosquitto password files: parsing into a hash table, and
 * verification with libcrypto (see include/musqratt/auth.h).
 *
 * Owns: the table of users (one allocation per user, plus the bucket array),
 * from the allocator given at parse time.
 * Never: a system call (the platform reads the file); libcrypto is used
 * only for hashing, comparing and random salts.
 * Hot path: mq_passwd_check(), once per CONNECT with a username: one hash
 * lookup, then PBKDF2 (101 iterations by default) or one SHA-512.
 *
 * Formats (Mosquitto's src/password_mosq.c, written from its documented
 * output, checked against files made by Debian's mosquitto_passwd):
 *   $7$ITER$SALT$HASH  PBKDF2-HMAC-SHA512(password, salt, ITER) -> 64 bytes
 *   $6$SALT$HASH       SHA-512(password || salt) -> 64 bytes
 * with SALT and HASH in standard base64 (mosquitto_passwd: 12-byte salts).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "musqratt/auth.h"
#include "musqratt/base64.h"
#include "musqratt/error.h"

enum { MQ__PW_SHA512 = 6, MQ__PW_PBKDF2 = 7 };

typedef struct mq__pw_user {
    struct mq__pw_user *next;  /* bucket chain */
    uint32_t hash;
    uint8_t type;              /* MQ__PW_SHA512 or MQ__PW_PBKDF2 */
    uint8_t salt_len;
    uint32_t iterations;
    uint8_t salt[MQ_PASSWD_MAX_SALT];
    uint8_t digest[MQ_PASSWD_HASH_LEN];
    size_t name_len;
    char name[];               /* name_len bytes + NUL */
} mq__pw_user_t;

struct mq_passwd {
    mq_allocator_t a;
    mq__pw_user_t **buckets;
    size_t nbuckets;           /* power of two */
    size_t count;
};


/* ---- hashing ---------------------------------------------------------------- */

static bool mq__digest(const mq__pw_user_t *u, const uint8_t *pass, size_t plen,
                       uint8_t out[MQ_PASSWD_HASH_LEN])
{
    if (u->type == MQ__PW_PBKDF2) {
        if (plen > INT32_MAX)
            return false;
        return PKCS5_PBKDF2_HMAC((const char *)pass, (int)plen, u->salt, u->salt_len,
                                 (int)u->iterations, EVP_sha512(), MQ_PASSWD_HASH_LEN,
                                 out) == 1;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, pass, plen) == 1 &&
              EVP_DigestUpdate(ctx, u->salt, u->salt_len) == 1 &&
              EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == MQ_PASSWD_HASH_LEN;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static int mq__format(char *out, size_t cap, uint32_t iterations, const uint8_t *salt,
                      const uint8_t *digest)
{
    char s64[MQ_PASSWD_SALT_LEN * 2], d64[MQ_PASSWD_HASH_LEN * 2];
    int n;

    if (mq_base64_encode(salt, MQ_PASSWD_SALT_LEN, s64, sizeof s64) < 0 ||
        mq_base64_encode(digest, MQ_PASSWD_HASH_LEN, d64, sizeof d64) < 0)
        return MQ_EINVAL;
    if (iterations)
        n = snprintf(out, cap, "$7$%u$%s$%s", (unsigned)iterations, s64, d64);
    else
        n = snprintf(out, cap, "$6$%s$%s", s64, d64);
    if (n < 0 || (size_t)n >= cap)
        return MQ_ENOMEM;
    return n;
}

static int mq__hash(const uint8_t *pass, size_t plen, uint32_t iterations, const uint8_t *salt,
                    char *out, size_t cap)
{
    mq__pw_user_t u;
    uint8_t digest[MQ_PASSWD_HASH_LEN];

    memset(&u, 0, sizeof u);
    u.type = iterations ? MQ__PW_PBKDF2 : MQ__PW_SHA512;
    u.iterations = iterations;
    u.salt_len = MQ_PASSWD_SALT_LEN;
    if (salt)
        memcpy(u.salt, salt, MQ_PASSWD_SALT_LEN);
    else if (RAND_bytes(u.salt, MQ_PASSWD_SALT_LEN) != 1)
        return MQ_EIO;
    if (!mq__digest(&u, pass, plen, digest))
        return MQ_EIO;
    return mq__format(out, cap, iterations, u.salt, digest);
}

int mq_passwd_hash7(const uint8_t *pass, size_t plen, uint32_t iterations, const uint8_t *salt,
                    char *out, size_t cap)
{
    if (iterations == 0)
        iterations = MQ_PASSWD_ITERATIONS;
    if (iterations > INT32_MAX)
        return MQ_EINVAL;
    return mq__hash(pass, plen, iterations, salt, out, cap);
}

int mq_passwd_hash6(const uint8_t *pass, size_t plen, const uint8_t *salt, char *out, size_t cap)
{
    return mq__hash(pass, plen, 0, salt, out, cap);
}

/* ---- the table ------------------------------------------------------------- */

static uint32_t mq__fnv(const char *s, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

static mq__pw_user_t **mq__slot(const mq_passwd_t *pw, const char *user, size_t ulen,
                                uint32_t h)
{
    mq__pw_user_t **p = &pw->buckets[h & (pw->nbuckets - 1)];

    while (*p && !((*p)->hash == h && (*p)->name_len == ulen && !memcmp((*p)->name, user, ulen)))
        p = &(*p)->next;
    return p;
}

static size_t mq__user_size(size_t name_len)
{
    return sizeof(mq__pw_user_t) + name_len + 1;
}

static int mq__grow(mq_passwd_t *pw)
{
    size_t n = pw->nbuckets ? pw->nbuckets * 2 : 64;
    mq__pw_user_t **nb = pw->a.alloc(pw->a.ctx, n * sizeof *nb);

    if (!nb)
        return MQ_ENOMEM;
    memset(nb, 0, n * sizeof *nb);
    for (size_t i = 0; i < pw->nbuckets; i++) {
        mq__pw_user_t *u = pw->buckets[i];

        while (u) {
            mq__pw_user_t *next = u->next;

            u->next = nb[u->hash & (n - 1)];
            nb[u->hash & (n - 1)] = u;
            u = next;
        }
    }
    pw->a.free(pw->a.ctx, pw->buckets, pw->nbuckets * sizeof *pw->buckets);
    pw->buckets = nb;
    pw->nbuckets = n;
    return MQ_OK;
}

typedef struct mq__pw_parser {
    const char *file;
    unsigned line;
    mq_auth_diag_fn diag;
    void *diag_ctx;
} mq__pw_parser_t;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void mq__pw_report(mq__pw_parser_t *p, bool is_error, const char *fmt, ...);

static void mq__pw_report(mq__pw_parser_t *p, bool is_error, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    if (!p->diag)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->diag(p->diag_ctx, p->file, p->line, is_error, msg);
}

static bool mq__blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void mq__trim(const char **s, size_t *n)
{
    while (*n && mq__blank(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && mq__blank((*s)[*n - 1]))
        (*n)--;
}

/* Parses "$7$ITER$SALT$HASH" or "$6$SALT$HASH" into u. Returns NULL or why not. */
static const char *mq__parse_hash(const char *h, size_t n, mq__pw_user_t *u)
{
    const char *end = h + n;
    const char *f[4];
    size_t flen[4];
    size_t nf = 0;

    if (n < 3 || h[0] != '$' || (h[1] != '6' && h[1] != '7') || h[2] != '$')
        return "not a $6$ or $7$ password hash (plain-text file? convert it with musqratt-passwd -U)";
    u->type = h[1] == '6' ? MQ__PW_SHA512 : MQ__PW_PBKDF2;
    for (const char *p = h + 3; nf < 4;) {
        const char *d = memchr(p, '$', (size_t)(end - p));

        f[nf] = p;
        flen[nf] = (size_t)((d ? d : end) - p);
        nf++;
        if (!d)
            break;
        p = d + 1;
    }
    size_t want = u->type == MQ__PW_PBKDF2 ? 3 : 2;
    if (nf != want || f[nf - 1] + flen[nf - 1] != end)
        return u->type == MQ__PW_PBKDF2 ? "a $7$ hash has the form $7$ITERATIONS$SALT$HASH"
                                        : "a $6$ hash has the form $6$SALT$HASH";
    size_t i = 0;
    if (u->type == MQ__PW_PBKDF2) {
        uint64_t it = 0;

        if (flen[0] == 0 || flen[0] > 10)
            return "bad iteration count";
        for (size_t k = 0; k < flen[0]; k++) {
            if (f[0][k] < '0' || f[0][k] > '9')
                return "bad iteration count";
            it = it * 10 + (uint64_t)(f[0][k] - '0');
        }
        if (it == 0 || it > INT32_MAX)
            return "iteration count out of range";
        u->iterations = (uint32_t)it;
        i = 1;
    }
    int sl = mq_base64_decode(f[i], flen[i], u->salt, sizeof u->salt);
    if (sl <= 0)
        return "cannot decode the salt (base64)";
    u->salt_len = (uint8_t)sl;
    int dl = mq_base64_decode(f[i + 1], flen[i + 1], u->digest, sizeof u->digest);
    if (dl != MQ_PASSWD_HASH_LEN)
        return "cannot decode the hash (64 bytes of base64)";
    return NULL;
}

static int mq__pw_line(mq_passwd_t *pw, mq__pw_parser_t *p, const char *s, size_t n)
{
    mq__trim(&s, &n);
    if (n == 0 || s[0] == '#')
        return MQ_OK;
    const char *colon = memchr(s, ':', n);
    const char *name = s;
    size_t name_len = colon ? (size_t)(colon - s) : n;
    const char *h = colon ? colon + 1 : s + n;
    size_t hlen = colon ? n - name_len - 1 : 0;

    mq__trim(&name, &name_len);
    mq__trim(&h, &hlen);
    if (name_len == 0) {
        mq__pw_report(p, false, "empty username; line ignored");
        return MQ_OK;
    }
    if (name_len > 65535) {
        mq__pw_report(p, false, "username longer than 65535 bytes; line ignored");
        return MQ_OK;
    }
    mq__pw_user_t tmp;
    const char *why = hlen ? mq__parse_hash(h, hlen, &tmp) : "no password hash";
    uint32_t hv = mq__fnv(name, name_len);
    mq__pw_user_t **slot = mq__slot(pw, name, name_len, hv);
    if (*slot) {
        mq__pw_report(p, false, "user '%.*s' listed again; the later line wins",
                      (int)(name_len < 64 ? name_len : 64), name);
        mq__pw_user_t *old = *slot;
        *slot = old->next;
        pw->a.free(pw->a.ctx, old, mq__user_size(old->name_len));
        pw->count--;
    }
    if (why) {
        /* Mosquitto 2.0: "Invalid password hash for user X, removing entry". */
        mq__pw_report(p, false, "user '%.*s': %s; this user cannot log in",
                      (int)(name_len < 64 ? name_len : 64), name, why);
        return MQ_OK;
    }
    if (pw->count >= pw->nbuckets && mq__grow(pw) != MQ_OK)
        return MQ_ENOMEM;
    mq__pw_user_t *u = pw->a.alloc(pw->a.ctx, mq__user_size(name_len));
    if (!u)
        return MQ_ENOMEM;
    memcpy(u, &tmp, sizeof tmp);
    u->hash = hv;
    u->name_len = name_len;
    memcpy(u->name, name, name_len);
    u->name[name_len] = '\0';
    slot = &pw->buckets[hv & (pw->nbuckets - 1)];
    u->next = *slot;
    *slot = u;
    pw->count++;
    return MQ_OK;
}

int mq_passwd_parse(const mq_allocator_t *a, const char *text, size_t len, const char *filename,
                    mq_auth_diag_fn diag, void *diag_ctx, mq_passwd_t **out)
{
    mq__pw_parser_t p = {filename ? filename : "(password file)", 0, diag, diag_ctx};
    size_t pos = 0;
    int rc = MQ_OK;

    *out = NULL;
    if (memchr(text, '\0', len)) {
        p.line = 1;
        for (size_t i = 0; text[i]; i++)
            p.line += text[i] == '\n';
        mq__pw_report(&p, true, "NUL byte: not a password file");
        return MQ_ECONFIG;
    }
    mq_passwd_t *pw = a->alloc(a->ctx, sizeof *pw);
    if (!pw)
        return MQ_ENOMEM;
    memset(pw, 0, sizeof *pw);
    pw->a = *a;
    if (mq__grow(pw) != MQ_OK) {
        mq_passwd_free(pw);
        return MQ_ENOMEM;
    }
    while (pos < len && rc == MQ_OK) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;

        p.line++;
        if (end - pos > MQ_PASSWD_MAX_LINE) {
            mq__pw_report(&p, true, "line longer than %u bytes", MQ_PASSWD_MAX_LINE);
            rc = MQ_ECONFIG;
            break;
        }
        rc = mq__pw_line(pw, &p, text + pos, end - pos);
        pos = end + 1;
    }
    if (rc != MQ_OK) {
        mq_passwd_free(pw);
        return rc;
    }
    *out = pw;
    return MQ_OK;
}

void mq_passwd_free(mq_passwd_t *pw)
{
    if (!pw)
        return;
    for (size_t i = 0; i < pw->nbuckets; i++) {
        mq__pw_user_t *u = pw->buckets[i];

        while (u) {
            mq__pw_user_t *next = u->next;

            pw->a.free(pw->a.ctx, u, mq__user_size(u->name_len));
            u = next;
        }
    }
    pw->a.free(pw->a.ctx, pw->buckets, pw->nbuckets * sizeof *pw->buckets);
    mq_allocator_t a = pw->a;
    a.free(a.ctx, pw, sizeof *pw);
}

size_t mq_passwd_count(const mq_passwd_t *pw)
{
    return pw ? pw->count : 0;
}

bool mq_passwd_has_user(const mq_passwd_t *pw, const char *user, size_t ulen)
{
    return pw && *mq__slot(pw, user, ulen, mq__fnv(user, ulen)) != NULL;
}

bool mq_passwd_check(const mq_passwd_t *pw, const char *user, size_t ulen, const uint8_t *pass,
                     size_t plen)
{
    /* An unknown user is hashed against a dummy entry so that the answer
     * takes as long as for a known one (no user enumeration by timing). */
    static const mq__pw_user_t dummy = {.type = MQ__PW_PBKDF2,
                                        .iterations = MQ_PASSWD_ITERATIONS,
                                        .salt_len = MQ_PASSWD_SALT_LEN};
    const mq__pw_user_t *u = pw ? *mq__slot(pw, user, ulen, mq__fnv(user, ulen)) : NULL;
    const mq__pw_user_t *h = u ? u : &dummy;
    uint8_t digest[MQ_PASSWD_HASH_LEN];

    if (!mq__digest(h, pass ? pass : (const uint8_t *)"", pass ? plen : 0, digest))
        return false;
    bool same = CRYPTO_memcmp(digest, h->digest, MQ_PASSWD_HASH_LEN) == 0;
    OPENSSL_cleanse(digest, sizeof digest);
    return u != NULL && pass != NULL && same;
}
