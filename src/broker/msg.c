/* msg — reference-counted application messages. See msg.h. */
#include "msg.h"

#include <string.h>

mq_msg_t *mq_msg_new(mq_mem_t *mem, const uint8_t *topic, uint16_t topic_len,
                     const uint8_t *payload, uint32_t payload_len, const uint8_t *props,
                     uint32_t props_len, uint8_t qos, bool retain, mq_time_t expiry_at)
{
    uint64_t size = (uint64_t)sizeof(mq_msg_t) + 2u + topic_len + payload_len + props_len;
    if (size > UINT32_MAX)
        return NULL;
    mq_msg_t *m = mq_mem_alloc(mem, (size_t)size);
    if (!m)
        return NULL;
    m->refs = 1;
    m->qos = qos;
    m->retain = retain;
    m->topic_len = topic_len;
    m->payload_len = payload_len;
    m->props_len = props_len;
    m->size = (uint32_t)size;
    m->expiry_at = expiry_at;
    m->will_expiry = 0;
    m->held_refs = 0;
    mem->msgs++;
    mem->msg_bytes += payload_len;
    m->data[0] = (uint8_t)(topic_len >> 8);
    m->data[1] = (uint8_t)(topic_len & 0xff);
    memcpy(m->data + 2, topic, topic_len);
    if (payload_len)
        memcpy(m->data + 2 + topic_len, payload, payload_len);
    /* props NULL: the caller writes the block in place (mq_msg_props). */
    if (props_len && props)
        memcpy(m->data + 2 + topic_len + payload_len, props, props_len);
    return m;
}

void mq_msg_unref(mq_mem_t *mem, mq_msg_t *m)
{
    if (!m)
        return;
    if (--m->refs == 0) {
        mem->msgs--;
        mem->msg_bytes -= m->payload_len;
        mq_mem_free(mem, m, m->size);
    }
}
