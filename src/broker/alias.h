/*
 * alias — MQTT 5 topic alias tables of one connection.
 *
 * Inbound (client -> broker): alias 1..max maps to a topic the client sent
 * earlier with that alias (MQTT 5 3.3.2.3.4); max is the Topic Alias Maximum
 * the broker announced. Outbound (broker -> client): the broker gives the
 * first MQ_ALIAS_OUT_MAX distinct topics it sends an alias (bounded also by
 * the client's Topic Alias Maximum) and later sends those topics empty.
 * Owns: copies of the topics. No system calls.
 */
#ifndef MQ_BROKER_ALIAS_H
#define MQ_BROKER_ALIAS_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

/* Outbound aliases per connection: a lookup is a scan of this many hashes. */
#define MQ_ALIAS_OUT_MAX 64

typedef struct mq_alias_entry {
    uint8_t *topic;
    uint16_t len;
    uint32_t hash;
} mq_alias_entry_t;

typedef struct mq_alias_table {
    mq_alias_entry_t *v;
    uint16_t cap;   /* slots (aliases 1..cap) */
    uint16_t n;     /* outbound: aliases handed out */
} mq_alias_table_t;

void mq_alias_free(mq_mem_t *mem, mq_alias_table_t *t);

/* Inbound: remembers topic under alias (1..max). MQ_OK / MQ_ENOMEM. */
int mq_alias_in_set(mq_mem_t *mem, mq_alias_table_t *t, uint16_t max, uint16_t alias,
                    const uint8_t *topic, size_t len);
/* Inbound: the topic for alias, or NULL when the client never set it. */
const mq_alias_entry_t *mq_alias_in_get(const mq_alias_table_t *t, uint16_t alias);

/* Outbound: the alias already given to topic (0 if none). */
uint16_t mq_alias_out_find(const mq_alias_table_t *t, const uint8_t *topic, size_t len);
/* Outbound: gives topic the next alias, or returns 0 when max (the client's
 * maximum, capped at MQ_ALIAS_OUT_MAX) is used up or memory is short. */
uint16_t mq_alias_out_add(mq_mem_t *mem, mq_alias_table_t *t, uint16_t max,
                          const uint8_t *topic, size_t len);

#endif
