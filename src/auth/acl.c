/*
 * acl — Mosquitto ACL files: parsing and the access decision (see
 * include/musqratt/auth.h for the grammar and the rules).
 *
 * Owns: the anonymous list, the per-user lists (hash table by username) and
 * the pattern list, from the allocator given at parse time.
 * Never: a system call; global state.
 * Hot path: mq_acl_check(), once per delivery (READ) and per PUBLISH
 * (WRITE) when an ACL is configured: one hash lookup, then a walk of the
 * client's list and of the patterns, as Mosquitto does. A pattern is
 * expanded into a stack buffer (allocator only for very long topics).
 *
 * Lists keep Mosquitto's order: deny entries at the front (so a matching
 * deny is seen before any grant of the same list), the others in file order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "musqratt/auth.h"
#include "musqratt/codec.h"
#include "musqratt/error.h"

#define MQ__ACL_DENY 0

typedef struct mq__acl_entry {
    struct mq__acl_entry *next;
    uint8_t access;            /* MQ__ACL_DENY or MQ_ACL_READ|MQ_ACL_WRITE bits */
    uint32_t ucount, ccount;   /* patterns: occurrences of %u and %c */
    size_t len;
    char topic[];              /* len bytes + NUL */
} mq__acl_entry_t;

typedef struct mq__acl_list {
    mq__acl_entry_t *head, *tail;
    bool present;              /* the section exists (even if empty) */
} mq__acl_list_t;

typedef struct mq__acl_user {
    struct mq__acl_user *next; /* bucket chain */
    uint32_t hash;
    mq__acl_list_t list;
    size_t name_len;
    char name[];
} mq__acl_user_t;

struct mq_acl {
    mq_allocator_t a;
    mq__acl_list_t anon;
    mq__acl_list_t patterns;
    mq__acl_user_t **buckets;
    size_t nbuckets;           /* power of two */
    size_t nusers;
};

/* ---- matching ------------------------------------------------------------------ */

/* mosquitto_topic_matches_sub(): does filter sub match topic t? A topic
 * starting with '$' is matched only by a filter starting with '$'. */
static bool mq__match(const char *sub, size_t sl, const char *t, size_t tl)
{
    size_t si = 0, ti = 0;

    if ((sl && sub[0] == '$') != (tl && t[0] == '$'))
        return false;
    for (;;) {
        size_t se = si, te = ti;

        while (se < sl && sub[se] != '/')
            se++;
        if (se - si == 1 && sub[si] == '#')
            return true; /* the rest, and the parent level too */
        while (te < tl && t[te] != '/')
            te++;
        if (!(se - si == 1 && sub[si] == '+') &&
            (se - si != te - ti || memcmp(sub + si, t + ti, se - si) != 0))
            return false;
        bool send = se >= sl, tend = te >= tl;
        if (send || tend) {
            if (send && tend)
                return true;
            if (send)
                return false;
            /* The topic ended: only a final "/#" still matches. */
            return sl - (se + 1) == 1 && sub[se + 1] == '#';
        }
        si = se + 1;
        ti = te + 1;
    }
}

static uint32_t mq__fnv(const char *s, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

static mq__acl_user_t *mq__user_find(const mq_acl_t *acl, const char *name, size_t n, uint32_t h)
{
    if (!acl->nbuckets)
        return NULL;
    for (mq__acl_user_t *u = acl->buckets[h & (acl->nbuckets - 1)]; u; u = u->next)
        if (u->hash == h && u->name_len == n && !memcmp(u->name, name, n))
            return u;
    return NULL;
}

/* One list: -1 denied, 1 allowed, 0 no decision. */
static int mq__walk(const mq__acl_entry_t *e, const char *topic, size_t len, int access)
{
    for (; e; e = e->next) {
        if (!mq__match(e->topic, e->len, topic, len))
            continue;
        if (e->access == MQ__ACL_DENY)
            return -1;
        if (e->access & access)
            return 1;
    }
    return 0;
}

/* Expands %c and %u as Mosquitto does (anywhere in the topic; %u only for
 * a client with a username). Returns the length, or SIZE_MAX if it does not
 * fit in cap. */
static size_t mq__expand(const mq__acl_entry_t *e, const char *user, size_t ulen, const char *cid,
                         size_t clen, char *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < e->len; i++) {
        const char *src = e->topic + i;
        size_t sn = 1;

        if (e->topic[i] == '%' && i + 1 < e->len) {
            if (e->topic[i + 1] == 'c') {
                src = cid;
                sn = clen;
                i++;
            } else if (user && e->topic[i + 1] == 'u') {
                src = user;
                sn = ulen;
                i++;
            }
        }
        if (sn > cap - n)
            return SIZE_MAX;
        memcpy(out + n, src, sn);
        n += sn;
    }
    return n;
}

bool mq_acl_check(const mq_acl_t *acl, const char *username, const char *client_id,
                  const char *topic, size_t len, int access)
{
    /* Mosquitto 2.0.11 checks no subscription filter against the file
     * ("FIXME - implement ACL subscription strings"): deliveries are
     * checked with READ instead. */
    if (access == MQ_ACL_SUBSCRIBE)
        return true;
    /* Mosquitto's acl__check_dollar(): nobody writes $SYS; $share is only
     * for subscriptions. */
    if (len >= 4 && !memcmp(topic, "$SYS", 4) && access == MQ_ACL_WRITE)
        return false;
    if (len >= 6 && !memcmp(topic, "$share", 6))
        return false;

    const mq__acl_list_t *list = NULL;
    size_t ulen = username ? strlen(username) : 0;
    if (username) {
        const mq__acl_user_t *u = mq__user_find(acl, username, ulen, mq__fnv(username, ulen));
        list = u ? &u->list : NULL;
    } else if (acl->anon.present) {
        list = &acl->anon;
    }
    if (!list && !acl->patterns.head)
        return false;
    if (list) {
        int r = mq__walk(list->head, topic, len, access);
        if (r)
            return r > 0;
    }
    if (!acl->patterns.head)
        return false;
    /* A username or client id with a wildcard could widen a pattern. */
    if (username && strpbrk(username, "+#"))
        return false;
    if (!client_id || strpbrk(client_id, "+#"))
        return false;
    size_t clen = strlen(client_id);
    char stack[512];
    for (const mq__acl_entry_t *e = acl->patterns.head; e; e = e->next) {
        if (e->ucount && !username)
            continue;
        size_t cap = e->len + (size_t)e->ucount * ulen + (size_t)e->ccount * clen;
        char *buf = stack;
        if (cap > sizeof stack) {
            buf = acl->a.alloc(acl->a.ctx, cap);
            if (!buf)
                return false; /* fail closed */
        }
        size_t n = mq__expand(e, username, ulen, client_id, clen, buf, cap);
        bool m = n != SIZE_MAX && mq__match(buf, n, topic, len);
        if (buf != stack)
            acl->a.free(acl->a.ctx, buf, cap);
        if (!m)
            continue;
        if (e->access == MQ__ACL_DENY)
            return false;
        if (e->access & access)
            return true;
    }
    return false;
}

/* ---- building -------------------------------------------------------------------- */

static void mq__list_add(mq__acl_list_t *l, mq__acl_entry_t *e)
{
    l->present = true;
    if (e->access == MQ__ACL_DENY) {
        e->next = l->head;
        l->head = e;
        if (!l->tail)
            l->tail = e;
        return;
    }
    e->next = NULL;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
}

static void mq__list_free(const mq_allocator_t *a, mq__acl_list_t *l)
{
    mq__acl_entry_t *e = l->head;

    while (e) {
        mq__acl_entry_t *next = e->next;

        a->free(a->ctx, e, sizeof *e + e->len + 1);
        e = next;
    }
    l->head = l->tail = NULL;
}

static int mq__grow(mq_acl_t *acl)
{
    size_t n = acl->nbuckets ? acl->nbuckets * 2 : 16;
    mq__acl_user_t **nb = acl->a.alloc(acl->a.ctx, n * sizeof *nb);

    if (!nb)
        return MQ_ENOMEM;
    memset(nb, 0, n * sizeof *nb);
    for (size_t i = 0; i < acl->nbuckets; i++) {
        mq__acl_user_t *u = acl->buckets[i];

        while (u) {
            mq__acl_user_t *next = u->next;

            u->next = nb[u->hash & (n - 1)];
            nb[u->hash & (n - 1)] = u;
            u = next;
        }
    }
    if (acl->buckets)
        acl->a.free(acl->a.ctx, acl->buckets, acl->nbuckets * sizeof *acl->buckets);
    acl->buckets = nb;
    acl->nbuckets = n;
    return MQ_OK;
}

static mq__acl_user_t *mq__user_get(mq_acl_t *acl, const char *name, size_t n)
{
    uint32_t h = mq__fnv(name, n);
    mq__acl_user_t *u = mq__user_find(acl, name, n, h);

    if (u)
        return u; /* a second "user X" line adds to the same section */
    if (acl->nusers >= acl->nbuckets && mq__grow(acl) != MQ_OK)
        return NULL;
    u = acl->a.alloc(acl->a.ctx, sizeof *u + n + 1);
    if (!u)
        return NULL;
    memset(u, 0, sizeof *u);
    u->hash = h;
    u->name_len = n;
    memcpy(u->name, name, n);
    u->name[n] = '\0';
    u->list.present = true;
    u->next = acl->buckets[h & (acl->nbuckets - 1)];
    acl->buckets[h & (acl->nbuckets - 1)] = u;
    acl->nusers++;
    return u;
}

void mq_acl_free(mq_acl_t *acl)
{
    if (!acl)
        return;
    mq_allocator_t a = acl->a;
    mq__list_free(&a, &acl->anon);
    mq__list_free(&a, &acl->patterns);
    for (size_t i = 0; i < acl->nbuckets; i++) {
        mq__acl_user_t *u = acl->buckets[i];

        while (u) {
            mq__acl_user_t *next = u->next;

            mq__list_free(&a, &u->list);
            a.free(a.ctx, u, sizeof *u + u->name_len + 1);
            u = next;
        }
    }
    if (acl->buckets)
        a.free(a.ctx, acl->buckets, acl->nbuckets * sizeof *acl->buckets);
    a.free(a.ctx, acl, sizeof *acl);
}

/* ---- parsing ----------------------------------------------------------------------- */

typedef struct mq__acl_parser {
    mq_acl_t *acl;
    const char *file;
    unsigned line;
    mq_auth_diag_fn diag;
    void *diag_ctx;
    unsigned errors;
    mq__acl_list_t *cur;       /* where "topic" lines go */
} mq__acl_parser_t;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void mq__acl_error(mq__acl_parser_t *p, const char *fmt, ...);

static void mq__acl_error(mq__acl_parser_t *p, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    p->errors++;
    if (!p->diag)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->diag(p->diag_ctx, p->file, p->line, true, msg);
}

#define MQ__QLEN(n) (int)((n) < 64 ? (n) : 64)

/* The next space-separated token of s[*i..n), or an empty one. */
static void mq__token(const char *s, size_t n, size_t *i, const char **tok, size_t *tlen)
{
    while (*i < n && s[*i] == ' ')
        (*i)++;
    *tok = s + *i;
    while (*i < n && s[*i] != ' ')
        (*i)++;
    *tlen = (size_t)(s + *i - *tok);
}

static bool mq__is(const char *t, size_t n, const char *word)
{
    return n == strlen(word) && !memcmp(t, word, n);
}

static int mq__rule(mq__acl_parser_t *p, bool pattern, const char *s, size_t n, size_t i)
{
    const char *kw = pattern ? "pattern" : "topic";
    const char *a, *topic;
    size_t alen, tlen;
    uint8_t access = MQ_ACL_READ | MQ_ACL_WRITE;

    mq__token(s, n, &i, &a, &alen);
    while (i < n && s[i] == ' ')
        i++;
    topic = s + i;
    tlen = n - i;
    if (alen == 0) {
        mq__acl_error(p, "%s: empty topic", kw);
        return MQ_OK;
    }
    if (tlen == 0) {
        /* One word: the topic, with read and write access. */
        topic = a;
        tlen = alen;
    } else if (mq__is(a, alen, "read")) {
        access = MQ_ACL_READ;
    } else if (mq__is(a, alen, "write")) {
        access = MQ_ACL_WRITE;
    } else if (mq__is(a, alen, "readwrite")) {
        access = MQ_ACL_READ | MQ_ACL_WRITE;
    } else if (mq__is(a, alen, "deny")) {
        access = MQ__ACL_DENY;
    } else {
        mq__acl_error(p, "%s: invalid access type '%.*s' (read, write, readwrite or deny)", kw,
                      MQ__QLEN(alen), a);
        return MQ_OK;
    }
    if (!mq_topic_filter_valid((const uint8_t *)topic, tlen)) {
        mq__acl_error(p, "%s: invalid topic '%.*s' (an MQTT topic filter is expected)", kw,
                      MQ__QLEN(tlen), topic);
        return MQ_OK;
    }
    mq__acl_entry_t *e = p->acl->a.alloc(p->acl->a.ctx, sizeof *e + tlen + 1);
    if (!e)
        return MQ_ENOMEM;
    memset(e, 0, sizeof *e);
    e->access = access;
    e->len = tlen;
    memcpy(e->topic, topic, tlen);
    e->topic[tlen] = '\0';
    if (pattern) {
        for (size_t k = 0; k + 1 < tlen; k++) {
            if (topic[k] == '%' && topic[k + 1] == 'c') {
                e->ccount++;
                k++;
            } else if (topic[k] == '%' && topic[k + 1] == 'u') {
                e->ucount++;
                k++;
            }
        }
        mq__list_add(&p->acl->patterns, e);
    } else {
        mq__list_add(p->cur, e);
    }
    return MQ_OK;
}

static int mq__acl_line(mq__acl_parser_t *p, const char *s, size_t n)
{
    const char *kw;
    size_t klen, i = 0;

    /* Mosquitto strips trailing white space; words are separated by spaces. */
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\v' ||
                 s[n - 1] == '\f'))
        n--;
    mq__token(s, n, &i, &kw, &klen);
    if (klen == 0 || kw[0] == '#')
        return MQ_OK;
    if (mq__is(kw, klen, "topic"))
        return mq__rule(p, false, s, n, i);
    if (mq__is(kw, klen, "pattern"))
        return mq__rule(p, true, s, n, i);
    if (mq__is(kw, klen, "user")) {
        while (i < n && s[i] == ' ')
            i++;
        if (i == n) {
            mq__acl_error(p, "user: missing username");
            return MQ_OK;
        }
        mq__acl_user_t *u = mq__user_get(p->acl, s + i, n - i);
        if (!u)
            return MQ_ENOMEM;
        p->cur = &u->list;
        return MQ_OK;
    }
    mq__acl_error(p, "invalid line: '%.*s' is not topic, user or pattern", MQ__QLEN(klen), kw);
    return MQ_OK;
}

int mq_acl_parse(const mq_allocator_t *a, const char *text, size_t len, const char *filename,
                 mq_auth_diag_fn diag, void *diag_ctx, mq_acl_t **out)
{
    mq__acl_parser_t p;
    size_t pos = 0;
    int rc = MQ_OK;

    *out = NULL;
    memset(&p, 0, sizeof p);
    p.file = filename ? filename : "(acl file)";
    p.diag = diag;
    p.diag_ctx = diag_ctx;
    mq_acl_t *acl = a->alloc(a->ctx, sizeof *acl);
    if (!acl)
        return MQ_ENOMEM;
    memset(acl, 0, sizeof *acl);
    acl->a = *a;
    p.acl = acl;
    p.cur = &acl->anon;
    while (pos < len && rc == MQ_OK) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;

        p.line++;
        if (memchr(text + pos, '\0', end - pos)) {
            mq__acl_error(&p, "NUL byte: not an ACL file");
            rc = MQ_ECONFIG;
            break;
        }
        rc = mq__acl_line(&p, text + pos, end - pos);
        pos = end + 1;
    }
    if (rc == MQ_OK && p.errors)
        rc = MQ_ECONFIG;
    if (rc != MQ_OK) {
        mq_acl_free(acl);
        return rc;
    }
    *out = acl;
    return MQ_OK;
}
