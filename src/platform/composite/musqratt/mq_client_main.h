/*
 * musqratt on Composite — the part the publisher and subscriber components
 * share: a channel in shared pages, attached to the broker, and the
 * environment that wakes the broker's thread.
 */
#ifndef MQ_CLIENT_MAIN_H
#define MQ_CLIENT_MAIN_H

#include <cos_component.h>
#include <llprint.h>
#include <memmgr.h>
#include <sched.h>

#include <mqbroker.h>

#include "chan.h"
#include "mq_cos_glue.h"

#define MQC_CHAN_PAGES 4 /* 16 KiB: two rings of about 8 KiB */

static thdid_t g_broker;

static void mqc_notify(void *ctx, unsigned chan)
{
    (void)ctx;
    (void)chan;
    if (g_broker)
        sched_thd_wakeup(g_broker);
}

static const mq_cos_env_t mqc_env = {
    mq_cos_glue_now, mq_cos_glue_cycles, mq_cos_glue_wait, mqc_notify, mq_cos_glue_console,
    NULL,
};

/* Returns the attached channel (and its index in *index), or NULL. */
static inline mq_cos_chan_t *mqc_attach(const char *who, int *index)
{
    vaddr_t addr = 0;
    cbuf_t id = memmgr_shared_page_allocn(MQC_CHAN_PAGES, &addr);
    mq_cos_chan_t *ch = addr ? mq_cos_chan_init((void *)addr, MQC_CHAN_PAGES * PAGE_SIZE)
                             : NULL;
    if (!ch) {
        printc("%s: no shared pages for the channel\n", who);
        return NULL;
    }
    *index = mqbroker_attach(id);
    if (*index < 0) {
        printc("%s: mqbroker_attach failed (%d)\n", who, *index);
        return NULL;
    }
    while ((g_broker = mqbroker_thdid()) == 0)
        sched_thd_yield();
    return ch;
}

#endif
