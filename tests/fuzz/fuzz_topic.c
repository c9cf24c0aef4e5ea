/*
 * fuzz_topic — the subscription tree and the retained store against a
 * naive reference matcher.
 *
 * The input drives a sequence of operations (subscribe, unsubscribe,
 * retain set/clear, topic match, retain match) on valid filters and topic
 * names built from a small alphabet of levels ("", "a", "$", "+", "#", ...)
 * so that collisions, empty levels, '$' topics and wildcards are frequent.
 * A model (plain arrays) records what should be stored; every match is
 * compared with the reference matcher below, written straight from MQTT
 * 3.1.1 section 4.7 and independent of src/broker. Node and memory limits
 * and failing allocations are switched on by the first byte, and every
 * failure must leave memory use and counters as they were. At the end
 * everything is destroyed and mem.used must be 0 and every retained value
 * released exactly as often as it was handed over. Any mismatch aborts.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/mem.h"
#include "broker/retain.h"
#include "broker/topic.h"
#include "musqratt/error.h"

#define CHECK(c)                                                                 \
    do {                                                                         \
        if (!(c)) {                                                              \
            fprintf(stderr, "fuzz_topic: check failed at line %d: %s\n", __LINE__, #c); \
            abort();                                                             \
        }                                                                        \
    } while (0)

#define MAXSTR 2048
#define MAXLV 1100
#define MAXMODEL 128
#define NWHO 12 /* more than 4 on one filter: the hashed subscription table */
#define NVAL 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- input cursor ------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t n;
} in_t;

static uint8_t take(in_t *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* ---- allocator: malloc, optionally failing every k-th call -------------- */

typedef struct {
    uint32_t every; /* 0 = never fail */
    uint32_t calls;
} alloc_ctx_t;

static void *f_alloc(void *ctx, size_t size)
{
    alloc_ctx_t *a = ctx;
    if (a->every && ++a->calls % a->every == 0)
        return NULL;
    return malloc(size);
}

static void f_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

/* ---- string generation ------------------------------------------------ */

/* Short levels collide often; the two long ones reach the 8-byte steps of
 * the level hash. */
static const char *const g_levels[] = {"",  "a",   "b", "ab",       "$",
                                       "$a", "+",  "#", "abcdefgh", "a b/abcdefghijk"};

typedef struct {
    char s[MAXSTR];
    size_t len;
} str_t;

static void gen(in_t *in, str_t *out, bool filter)
{
    uint8_t b = take(in);
    size_t nlev = 1 + b % 5;
    if (b >= 250)
        nlev = 1 + (size_t)take(in) * 2; /* deep: up to 511 levels */
    out->len = 0;
    for (size_t i = 0; i < nlev; i++) {
        uint8_t c = take(in);
        const char *lv = g_levels[c % 10];
        if (!filter && (lv[0] == '+' || lv[0] == '#'))
            lv = c & 16 ? "a" : "";
        if (filter && lv[0] == '#' && i + 1 < nlev)
            lv = "+"; /* MQTT-4.7.1-2: '#' only last */
        size_t l = strlen(lv);
        if (out->len + l + 1 >= MAXSTR)
            break;
        if (i)
            out->s[out->len++] = '/';
        memcpy(out->s + out->len, lv, l);
        out->len += l;
    }
    if (out->len == 0) { /* MQTT-4.7.3-1: at least one character */
        out->s[0] = 'a';
        out->len = 1;
    }
    out->s[out->len] = 0;
}

/* ---- reference matcher ------------------------------------------------- */

typedef struct {
    size_t off[MAXLV];
    size_t len[MAXLV];
    size_t n;
} split_t;

static void split(const char *s, size_t len, split_t *sp)
{
    sp->n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            CHECK(sp->n < MAXLV);
            sp->off[sp->n] = start;
            sp->len[sp->n] = i - start;
            sp->n++;
            start = i + 1;
        }
    }
}

static split_t g_sf, g_st;

static bool ref_match(const char *f, size_t flen, const char *t, size_t tlen)
{
    split(f, flen, &g_sf);
    split(t, tlen, &g_st);
    bool f_wild0 = g_sf.len[0] == 1 && (f[0] == '+' || f[0] == '#');
    if (tlen > 0 && t[0] == '$' && f_wild0)
        return false; /* MQTT-4.7.2-1 */
    for (size_t i = 0; i < g_sf.n; i++) {
        const char *fl = f + g_sf.off[i];
        size_t fll = g_sf.len[i];
        if (fll == 1 && fl[0] == '#')
            return true; /* matches the parent level and all below */
        if (i >= g_st.n)
            return false;
        if (fll == 1 && fl[0] == '+')
            continue;
        if (fll != g_st.len[i] || memcmp(fl, t + g_st.off[i], fll) != 0)
            return false;
    }
    return g_sf.n == g_st.n;
}

/* ---- model ------------------------------------------------------------- */

typedef struct {
    str_t f;
    int who;
    mq_sub_opts_t opts;
} msub_t;

typedef struct {
    str_t t;
    int val;
} mret_t;

static msub_t g_subs[MAXMODEL];
static size_t g_nsubs;
static mret_t g_rets[MAXMODEL];
static size_t g_nrets;
static int g_who[NWHO];
static int g_val[NVAL];
static long g_refs[NVAL]; /* references handed to the store and not yet released */

static void on_release(void *ctx, void *value)
{
    (void)ctx;
    int i = (int)((int *)value - g_val);
    CHECK(i >= 0 && i < NVAL);
    g_refs[i]--;
    CHECK(g_refs[i] >= 0);
}

typedef struct {
    int who;
    uint32_t id;
    uint8_t qos, flags;
} hit_t;

static hit_t g_hits[MAXMODEL * 2], g_want[MAXMODEL * 2];
static size_t g_nhits;

static void on_topic_hit(void *ctx, void *who, const mq_sub_opts_t *o)
{
    (void)ctx;
    CHECK(g_nhits < MAXMODEL * 2);
    int w = (int)((int *)who - g_who);
    CHECK(w >= 0 && w < NWHO);
    g_hits[g_nhits++] = (hit_t){w, o->sub_id, o->qos, o->flags};
}

static long g_val_hits[NVAL];
static size_t g_nval_hits;

static void on_retain_hit(void *ctx, void *value)
{
    (void)ctx;
    int i = (int)((int *)value - g_val);
    CHECK(i >= 0 && i < NVAL);
    g_val_hits[i]++;
    g_nval_hits++;
}

static int cmp_hit(const void *a, const void *b)
{
    const hit_t *x = a, *y = b;
    if (x->who != y->who)
        return x->who - y->who;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    if (x->qos != y->qos)
        return x->qos - y->qos;
    return x->flags - y->flags;
}

static void check_topic_match(mq_topic_tree_t *t, const str_t *topic)
{
    g_nhits = 0;
    mq_topic_match(t, (const uint8_t *)topic->s, topic->len, on_topic_hit, NULL);
    size_t nw = 0;
    for (size_t i = 0; i < g_nsubs; i++)
        if (ref_match(g_subs[i].f.s, g_subs[i].f.len, topic->s, topic->len))
            g_want[nw++] = (hit_t){g_subs[i].who, g_subs[i].opts.sub_id, g_subs[i].opts.qos,
                                   g_subs[i].opts.flags};
    CHECK(nw == g_nhits);
    qsort(g_hits, g_nhits, sizeof(hit_t), cmp_hit);
    qsort(g_want, nw, sizeof(hit_t), cmp_hit);
    for (size_t i = 0; i < nw; i++) /* field by field: hit_t has padding */
        CHECK(cmp_hit(&g_hits[i], &g_want[i]) == 0);
}

static void check_retain_match(mq_retain_store_t *s, const str_t *filter)
{
    memset(g_val_hits, 0, sizeof(g_val_hits));
    g_nval_hits = 0;
    mq_retain_match(s, (const uint8_t *)filter->s, filter->len, on_retain_hit, NULL);
    long want[NVAL] = {0};
    size_t nw = 0;
    for (size_t i = 0; i < g_nrets; i++)
        if (ref_match(filter->s, filter->len, g_rets[i].t.s, g_rets[i].t.len)) {
            want[g_rets[i].val]++;
            nw++;
        }
    CHECK(nw == g_nval_hits);
    CHECK(memcmp(want, g_val_hits, sizeof(want)) == 0);
}

static void check_refs(void)
{
    long want[NVAL] = {0};
    for (size_t i = 0; i < g_nrets; i++)
        want[g_rets[i].val]++;
    CHECK(memcmp(want, g_refs, sizeof(want)) == 0);
}

static bool str_eq(const str_t *a, const str_t *b)
{
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* Turns a filter into a topic that it matches (wildcards become levels). */
static void topic_from_filter(const str_t *f, str_t *t, uint8_t pick)
{
    t->len = 0;
    for (size_t i = 0; i < f->len; i++) {
        char c = f->s[i];
        bool alone_prev = i == 0 || f->s[i - 1] == '/';
        bool alone_next = i + 1 == f->len || f->s[i + 1] == '/';
        if ((c == '+' || c == '#') && alone_prev && alone_next) {
            if (c == '#' && (pick & 1)) {
                /* '#' matching its parent: drop the '/' before it too. */
                if (t->len > 0)
                    t->len--;
                continue;
            }
            t->s[t->len++] = pick & 2 ? 'x' : 'a';
        } else {
            t->s[t->len++] = c;
        }
    }
    if (t->len == 0)
        t->s[t->len++] = 'a';
    t->s[t->len] = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in_t in = {data, size};
    uint8_t cfg = take(&in);
    alloc_ctx_t actx = {0, 0};
    if (cfg & 4)
        actx.every = 2 + take(&in) % 13;
    mq_allocator_t a = {f_alloc, f_free, &actx};
    mq_mem_t mem;
    mq_mem_init(&mem, &a, 0);

    uint32_t max_nodes = cfg & 1 ? 1 + take(&in) % 64 : 0;
    mq_topic_tree_t t;
    mq_retain_store_t s;
    uint32_t saved_every = actx.every;
    actx.every = 0; /* init itself is tested in the unit tests */
    CHECK(mq_topic_tree_init(&t, &mem, max_nodes) == MQ_OK);
    CHECK(mq_retain_init(&s, &mem, max_nodes, on_release, NULL) == MQ_OK);
    actx.every = saved_every;
    if (cfg & 2)
        mem.limit = mem.used + 512 + (uint64_t)take(&in) * 64;

    g_nsubs = 0;
    g_nrets = 0;
    memset(g_refs, 0, sizeof(g_refs));
    uint32_t next_id = 1;
    str_t x, y;

    for (int steps = 0; in.n && steps < 400; steps++) {
        uint8_t op = take(&in);
        switch (op % 7) {
        case 0: { /* subscribe */
            gen(&in, &x, true);
            int who = take(&in) % NWHO;
            mq_sub_opts_t o = {(uint8_t)(op >> 3 & 3), (uint8_t)(op >> 5), next_id++};
            size_t found = g_nsubs;
            for (size_t i = 0; i < g_nsubs; i++)
                if (g_subs[i].who == who && str_eq(&g_subs[i].f, &x))
                    found = i;
            if (found == g_nsubs && g_nsubs == MAXMODEL)
                break;
            uint64_t used = mem.used;
            uint32_t nodes = t.nodes;
            uint64_t nsubs = t.subs;
            int r = mq_topic_subscribe(&t, (const uint8_t *)x.s, x.len, &g_who[who], &o);
            if (found < g_nsubs) {
                CHECK(r == 1); /* MQTT-3.8.4-3: replaced, never fails */
                g_subs[found].opts = o;
                CHECK(mem.used == used && t.nodes == nodes && t.subs == nsubs);
            } else if (r == 0) {
                g_subs[g_nsubs++] = (msub_t){x, who, o};
                CHECK(t.subs == nsubs + 1);
            } else {
                CHECK(r == MQ_ENOMEM || r == MQ_ELIMIT);
                CHECK(r != MQ_ELIMIT || max_nodes);
                CHECK(mem.used == used && t.nodes == nodes && t.subs == nsubs);
            }
            CHECK(!max_nodes || t.nodes <= max_nodes);
            break;
        }
        case 1: { /* unsubscribe: a known filter or a generated one */
            int who = take(&in) % NWHO;
            if ((op & 8) && g_nsubs) {
                size_t i = take(&in) % g_nsubs;
                x = g_subs[i].f;
                who = g_subs[i].who;
            } else {
                gen(&in, &x, true);
            }
            size_t found = g_nsubs;
            for (size_t i = 0; i < g_nsubs; i++)
                if (g_subs[i].who == who && str_eq(&g_subs[i].f, &x))
                    found = i;
            int r = mq_topic_unsubscribe(&t, (const uint8_t *)x.s, x.len, &g_who[who]);
            if (found < g_nsubs) {
                CHECK(r == MQ_OK);
                g_subs[found] = g_subs[--g_nsubs];
            } else {
                CHECK(r == MQ_ENOTFOUND);
            }
            CHECK(t.subs == g_nsubs);
            break;
        }
        case 2: { /* retain set / clear */
            gen(&in, &x, false);
            uint8_t v = take(&in) % (NVAL + 2);
            size_t found = g_nrets;
            for (size_t i = 0; i < g_nrets; i++)
                if (str_eq(&g_rets[i].t, &x))
                    found = i;
            if (v >= NVAL) {
                CHECK(mq_retain_set(&s, (const uint8_t *)x.s, x.len, NULL) == MQ_OK);
                if (found < g_nrets)
                    g_rets[found] = g_rets[--g_nrets];
            } else {
                if (found == g_nrets && g_nrets == MAXMODEL)
                    break;
                uint64_t used = mem.used;
                uint32_t nodes = s.nodes;
                g_refs[v]++; /* the reference we hand over */
                int r = mq_retain_set(&s, (const uint8_t *)x.s, x.len, &g_val[v]);
                if (r == MQ_OK) {
                    if (found < g_nrets)
                        g_rets[found].val = v;
                    else
                        g_rets[g_nrets++] = (mret_t){x, v};
                } else {
                    CHECK(found == g_nrets); /* replacing never allocates */
                    CHECK(r == MQ_ENOMEM || r == MQ_ELIMIT);
                    CHECK(mem.used == used && s.nodes == nodes);
                    g_refs[v]--; /* not taken over: still ours */
                }
            }
            CHECK(s.count == g_nrets);
            CHECK(!max_nodes || s.nodes <= max_nodes);
            check_refs();
            {
                void *want = NULL;
                for (size_t i = 0; i < g_nrets; i++)
                    if (str_eq(&g_rets[i].t, &x))
                        want = &g_val[g_rets[i].val];
                CHECK(mq_retain_get(&s, (const uint8_t *)x.s, x.len) == want);
            }
            break;
        }
        case 3: /* match a generated topic */
            gen(&in, &x, false);
            check_topic_match(&t, &x);
            break;
        case 4: /* retained messages for a generated filter */
            gen(&in, &x, true);
            check_retain_match(&s, &x);
            break;
        case 5: /* match a topic built from a subscribed filter (hits likely) */
            if (g_nsubs) {
                topic_from_filter(&g_subs[take(&in) % g_nsubs].f, &y, take(&in));
                check_topic_match(&t, &y);
                check_retain_match(&s, &g_subs[take(&in) % g_nsubs].f);
            }
            break;
        case 6: /* retained lookups of the known topics */
            for (size_t i = 0; i < g_nrets; i++)
                CHECK(mq_retain_get(&s, (const uint8_t *)g_rets[i].t.s, g_rets[i].t.len) ==
                      &g_val[g_rets[i].val]);
            if (g_nrets) {
                x = g_rets[take(&in) % g_nrets].t;
                check_topic_match(&t, &x);
            }
            break;
        }
    }

    /* Either unsubscribe everything the model knows (the tree must then be
     * empty), or leave it to destroy. */
    while (!(cfg & 8) && g_nsubs) {
        msub_t *m = &g_subs[--g_nsubs];
        CHECK(mq_topic_unsubscribe(&t, (const uint8_t *)m->f.s, m->f.len, &g_who[m->who]) ==
              MQ_OK);
    }
    CHECK(t.subs == g_nsubs && (g_nsubs || t.nodes == 0));
    mq_topic_tree_destroy(&t);
    mq_retain_destroy(&s);
    for (int i = 0; i < NVAL; i++)
        CHECK(g_refs[i] == 0);
    CHECK(mem.used == 0);
    mq_mem_trim(&mem);
    return 0;
}
