/*
 * fuzz_acl — the ACL-file parser and the access decision.
 *
 * First byte even: the rest is an ACL file. Parsing must never crash, must
 * give MQ_OK or MQ_ECONFIG, and must return every byte when freed; an
 * accepted file is then asked about topics, users and client ids taken from
 * the input (with '+', '#', '/' and '%' in them).
 * First byte odd: differential test of the topic matcher. The rest is
 * "FILTER\nTOPIC": when FILTER is a valid filter and TOPIC a valid topic
 * name, the file "topic read FILTER" must allow READ of TOPIC exactly when
 * the reference matcher below (written from MQTT 3.1.1 section 4.7, with
 * Mosquitto's rules: no access to "$share..." topics) says it matches.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "musqratt/auth.h"
#include "musqratt/codec.h"
#include "musqratt/error.h"

#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "fuzz_acl: check failed at line %d: %s\n", __LINE__, #c); \
            abort();                                                               \
        }                                                                          \
    } while (0)

static size_t g_live;

static void *f_alloc(void *ctx, size_t n)
{
    (void)ctx;
    g_live += n;
    return malloc(n ? n : 1);
}

static void f_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (p)
        g_live -= n;
    free(p);
}

/* Splits s[0..n) into levels at '/'. Returns the count. */
static size_t levels(const char *s, size_t n, const char **lv, size_t *ll, size_t max)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n && k < max; i++) {
        if (i == n || s[i] == '/') {
            lv[k] = s + start;
            ll[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    return k;
}

static bool ref_match(const char *f, size_t fn, const char *t, size_t tn)
{
    static const char *fl[70000], *tl[70000];
    static size_t fll[70000], tll[70000];
    size_t nf = levels(f, fn, fl, fll, 70000), nt = levels(t, tn, tl, tll, 70000);
    /* MQTT-4.7.2-1: wildcards at the start do not match '$' topics. */
    if (tn && t[0] == '$' && (fl[0][0] == '+' || fl[0][0] == '#') && fll[0] == 1)
        return false;
    for (size_t i = 0; i < nf; i++) {
        if (fll[i] == 1 && fl[i][0] == '#')
            return true; /* also the parent level: i == nt */
        if (i >= nt)
            return false;
        if (fll[i] == 1 && fl[i][0] == '+')
            continue;
        if (fll[i] != tll[i] || memcmp(fl[i], tl[i], fll[i]))
            return false;
    }
    return nf == nt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const mq_allocator_t a = {f_alloc, f_free, NULL};
    mq_acl_t *acl = NULL;

    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    g_live = 0;
    if (data[0] & 1) {
        const char *nl = memchr(text, '\n', n);
        if (!nl)
            return 0;
        size_t fn = (size_t)(nl - text);
        const char *t = nl + 1;
        size_t tn = n - fn - 1;
        if (fn == 0 || fn > 60000 || tn == 0 || tn > 60000 || memchr(text, '\0', n) ||
            !mq_topic_filter_valid((const uint8_t *)text, fn) ||
            !mq_topic_name_valid((const uint8_t *)t, tn) || text[0] == ' ')
            return 0;
        /* A filter starting with a space would be trimmed by the grammar. */
        size_t flen = 11 + fn + 1;
        char *file = malloc(flen);
        memcpy(file, "topic read ", 11);
        memcpy(file + 11, text, fn);
        file[11 + fn] = '\n';
        int rc = mq_acl_parse(&a, file, flen, "fuzz", NULL, NULL, &acl);
        free(file);
        if (fn && (text[fn - 1] == ' ' || text[fn - 1] == '\t' || text[fn - 1] == '\r' ||
                   text[fn - 1] == '\v' || text[fn - 1] == '\f')) {
            /* trailing blanks are stripped: another filter; just no crash */
            mq_acl_free(acl);
            CHECK(g_live == 0);
            return 0;
        }
        CHECK(rc == MQ_OK);
        bool want = ref_match(text, fn, t, tn) && !(tn >= 6 && !memcmp(t, "$share", 6));
        CHECK(mq_acl_check(acl, NULL, "id", t, tn, MQ_ACL_READ) == want);
        CHECK(!mq_acl_check(acl, NULL, "id", t, tn, MQ_ACL_WRITE));
        mq_acl_free(acl);
        CHECK(g_live == 0);
        return 0;
    }
    int rc = mq_acl_parse(&a, text, n, "fuzz", NULL, NULL, &acl);
    CHECK(rc == MQ_OK || rc == MQ_ECONFIG);
    CHECK((rc == MQ_OK) == (acl != NULL));
    if (acl) {
        static const char *users[] = {NULL, "alice", "u+x", "a/b", "%u", "bob"};
        static const char *ids[] = {"id", "a#", "c/d", "%c", ""};
        static const char *topics[] = {"a", "a/b", "$SYS/x", "p/alice/x", "c/id", "x//y", "#"};
        for (size_t u = 0; u < 6; u++)
            for (size_t i = 0; i < 5; i++)
                for (size_t t = 0; t < 7; t++)
                    for (int acc = 1; acc <= 4; acc <<= 1)
                        (void)mq_acl_check(acl, users[u], ids[i], topics[t],
                                           strlen(topics[t]), acc);
        /* Lines of the input as topics too. */
        size_t pos = 0;
        while (pos < n) {
            const char *nl = memchr(text + pos, '\n', n - pos);
            size_t end = nl ? (size_t)(nl - text) : n;
            if (end > pos)
                (void)mq_acl_check(acl, "alice", "id", text + pos, end - pos, MQ_ACL_READ);
            pos = end + 1;
        }
        mq_acl_free(acl);
    }
    CHECK(g_live == 0);
    return 0;
}
