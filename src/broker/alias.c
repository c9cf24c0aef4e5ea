/* alias — MQTT 5 topic alias tables. See alias.h. */
#include "alias.h"

#include <string.h>

#include "musqratt/error.h"

static uint32_t hash_topic(const uint8_t *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= s[i];
        h *= 16777619u;
    }
    return h;
}

static int ensure(mq_mem_t *mem, mq_alias_table_t *t, uint16_t cap)
{
    if (t->v)
        return MQ_OK;
    t->v = mq_mem_calloc(mem, (size_t)cap * sizeof(*t->v));
    if (!t->v)
        return MQ_ENOMEM;
    t->cap = cap;
    return MQ_OK;
}

void mq_alias_free(mq_mem_t *mem, mq_alias_table_t *t)
{
    if (!t->v)
        return;
    for (uint16_t i = 0; i < t->cap; i++)
        mq_mem_free(mem, t->v[i].topic, t->v[i].len);
    mq_mem_free(mem, t->v, (size_t)t->cap * sizeof(*t->v));
    t->v = NULL;
    t->cap = t->n = 0;
}

static int store(mq_mem_t *mem, mq_alias_entry_t *e, const uint8_t *topic, size_t len)
{
    uint8_t *copy = mq_mem_alloc(mem, len);
    if (!copy)
        return MQ_ENOMEM;
    memcpy(copy, topic, len);
    mq_mem_free(mem, e->topic, e->len);
    e->topic = copy;
    e->len = (uint16_t)len;
    e->hash = hash_topic(topic, len);
    return MQ_OK;
}

int mq_alias_in_set(mq_mem_t *mem, mq_alias_table_t *t, uint16_t max, uint16_t alias,
                    const uint8_t *topic, size_t len)
{
    if (alias == 0 || alias > max)
        return MQ_EINVAL;
    int rc = ensure(mem, t, max);
    if (rc < 0)
        return rc;
    return store(mem, &t->v[alias - 1], topic, len);
}

const mq_alias_entry_t *mq_alias_in_get(const mq_alias_table_t *t, uint16_t alias)
{
    if (!t->v || alias == 0 || alias > t->cap || !t->v[alias - 1].topic)
        return NULL;
    return &t->v[alias - 1];
}

uint16_t mq_alias_out_find(const mq_alias_table_t *t, const uint8_t *topic, size_t len)
{
    if (!t->n)
        return 0;
    uint32_t h = hash_topic(topic, len);
    for (uint16_t i = 0; i < t->n; i++) {
        const mq_alias_entry_t *e = &t->v[i];
        if (e->hash == h && e->len == len && memcmp(e->topic, topic, len) == 0)
            return (uint16_t)(i + 1);
    }
    return 0;
}

uint16_t mq_alias_out_add(mq_mem_t *mem, mq_alias_table_t *t, uint16_t max,
                          const uint8_t *topic, size_t len)
{
    if (max > MQ_ALIAS_OUT_MAX)
        max = MQ_ALIAS_OUT_MAX;
    if (max == 0 || t->n >= max || len == 0)
        return 0;
    if (ensure(mem, t, max) < 0 || store(mem, &t->v[t->n], topic, len) < 0)
        return 0;
    return ++t->n;
}
