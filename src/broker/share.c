/* share — shared subscription groups. See share.h. */
#include "share.h"

#include <string.h>

#include "musqratt/error.h"

void mq_share_set_init(mq_share_set_t *set, mq_mem_t *mem)
{
    set->mem = mem;
    set->head = NULL;
    set->count = 0;
}

void mq_share_set_destroy(mq_share_set_t *set)
{
    while (set->head)
        mq_share_free(set, set->head);
}

mq_share_t *mq_share_find(const mq_share_set_t *set, const uint8_t *name, size_t name_len,
                          const uint8_t *filter, size_t filter_len)
{
    for (mq_share_t *g = set->head; g; g = g->next) {
        if (g->name_len == name_len && g->filter_len == filter_len &&
            memcmp(g->name, name, name_len) == 0 && memcmp(g->filter, filter, filter_len) == 0)
            return g;
    }
    return NULL;
}

mq_share_t *mq_share_create(mq_share_set_t *set, const uint8_t *name, size_t name_len,
                            const uint8_t *filter, size_t filter_len)
{
    mq_share_t *g = mq_mem_calloc(set->mem, sizeof(*g));
    if (!g)
        return NULL;
    g->kind = MQ_SUBSCRIBER_SHARE;
    g->name = mq_mem_strndup(set->mem, name, name_len);
    g->filter = mq_mem_strndup(set->mem, filter, filter_len);
    if (!g->name || !g->filter) {
        mq_mem_free(set->mem, g->name, g->name ? name_len + 1 : 0);
        mq_mem_free(set->mem, g->filter, g->filter ? filter_len + 1 : 0);
        mq_mem_free(set->mem, g, sizeof(*g));
        return NULL;
    }
    g->name_len = (uint16_t)name_len;
    g->filter_len = (uint16_t)filter_len;
    g->next = set->head;
    set->head = g;
    set->count++;
    return g;
}

void mq_share_free(mq_share_set_t *set, mq_share_t *g)
{
    mq_share_t **pp = &set->head;
    while (*pp && *pp != g)
        pp = &(*pp)->next;
    if (*pp)
        *pp = g->next;
    set->count--;
    mq_mem_free(set->mem, g->members, (size_t)g->cap * sizeof(*g->members));
    mq_mem_free(set->mem, g->name, (size_t)g->name_len + 1);
    mq_mem_free(set->mem, g->filter, (size_t)g->filter_len + 1);
    mq_mem_free(set->mem, g, sizeof(*g));
}

int mq_share_join(mq_share_set_t *set, mq_share_t *g, mq_session_t *s, const mq_sub_opts_t *opts)
{
    for (uint32_t i = 0; i < g->n; i++) {
        if (g->members[i].s == s) {
            g->members[i].opts = *opts;
            return 1;
        }
    }
    if (g->n == g->cap) {
        uint32_t cap = g->cap ? g->cap * 2 : 4;
        mq_share_member_t *m = mq_mem_alloc(set->mem, (size_t)cap * sizeof(*m));
        if (!m)
            return MQ_ENOMEM;
        if (g->n)
            memcpy(m, g->members, (size_t)g->n * sizeof(*m));
        mq_mem_free(set->mem, g->members, (size_t)g->cap * sizeof(*m));
        g->members = m;
        g->cap = cap;
    }
    g->members[g->n].s = s;
    g->members[g->n].opts = *opts;
    g->n++;
    return 0;
}

bool mq_share_leave(mq_share_t *g, const mq_session_t *s)
{
    for (uint32_t i = 0; i < g->n; i++) {
        if (g->members[i].s == s) {
            /* Keep the order (round robin stays fair). */
            memmove(&g->members[i], &g->members[i + 1],
                    (size_t)(g->n - i - 1) * sizeof(*g->members));
            g->n--;
            if (g->rr > i)
                g->rr--;
            return true;
        }
    }
    return false;
}

mq_share_member_t *mq_share_pick(mq_share_t *g, bool (*online)(const mq_session_t *s),
                                 const uint32_t *rnd)
{
    if (g->n == 0)
        return NULL;
    if (g->rr >= g->n)
        g->rr = 0;
    if (rnd) {
        uint32_t up = 0;
        for (uint32_t i = 0; i < g->n; i++)
            up += online(g->members[i].s);
        if (up) {
            uint32_t k = *rnd % up;
            for (uint32_t i = 0; i < g->n; i++) {
                if (online(g->members[i].s) && k-- == 0)
                    return &g->members[i];
            }
        }
    }
    for (uint32_t k = 0; k < g->n; k++) {
        uint32_t i = (g->rr + k) % g->n;
        if (online(g->members[i].s)) {
            g->rr = (i + 1) % g->n;
            return &g->members[i];
        }
    }
    /* Nobody online: the next member in turn queues it (if persistent). */
    mq_share_member_t *m = &g->members[g->rr];
    g->rr = (g->rr + 1) % g->n;
    return m;
}
