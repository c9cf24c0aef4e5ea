/*
 * musqratt on Composite — the broker component (musqratt.broker).
 *
 * Its main thread runs the sans-I/O core through mq_cos_broker_run()
 * (src/platform/composite/bcomp.c). Clients attach their channels with the
 * mqbroker_attach() invocation, which runs on the client's thread inside
 * this component: it maps the pages and publishes the channel, and the main
 * thread adopts it on its next pass (only that thread touches the broker).
 */
#include <cos_component.h>
#include <llprint.h>
#include <memmgr.h>
#include <sched.h>

#include <mqbroker.h>

#include "bcomp.h"
#include "musqratt/error.h"
#include "mq_cos_glue.h"

#define MQB_ARENA_PAGES 1024 /* 4 MiB: the broker's whole memory */

static mq_cos_broker_t g_bc;
static mq_cos_chan_t *g_attached[MQ_COS_MAX_CHANS];
static thdid_t g_client_thd[MQ_COS_MAX_CHANS];
static unsigned g_nattached;  /* slots claimed by attach */
static unsigned g_published;  /* bitmask: attach finished with slot i */
static thdid_t g_broker_thd;
static unsigned g_adopted;            /* main thread only */

static void mqb_notify(void *ctx, unsigned chan)
{
    (void)ctx;
    thdid_t t = chan < MQ_COS_MAX_CHANS ? __atomic_load_n(&g_client_thd[chan], __ATOMIC_ACQUIRE) : 0;
    if (t)
        sched_thd_wakeup(t);
}

static const mq_cos_env_t g_env = {
    mq_cos_glue_now, mq_cos_glue_cycles, mq_cos_glue_wait, mqb_notify, mq_cos_glue_console,
    NULL,
};

int mqbroker_attach(cbuf_t shmid)
{
    vaddr_t addr = 0;
    unsigned long npages = memmgr_shared_page_map(shmid, &addr);
    if (npages == 0 || addr == 0)
        return -1;
    mq_cos_chan_t *ch = mq_cos_chan_attach((void *)addr, npages * PAGE_SIZE);
    if (!ch)
        return -2;
    unsigned i = __atomic_fetch_add(&g_nattached, 1, __ATOMIC_ACQ_REL);
    if (i >= MQ_COS_MAX_CHANS)
        return -3;
    g_attached[i] = ch;
    __atomic_store_n(&g_client_thd[i], cos_thdid(), __ATOMIC_RELEASE);
    __atomic_fetch_or(&g_published, 1u << i, __ATOMIC_RELEASE);
    thdid_t b = __atomic_load_n(&g_broker_thd, __ATOMIC_ACQUIRE);
    if (b)
        sched_thd_wakeup(b);
    return (int)i;
}

thdid_t mqbroker_thdid(void)
{
    return __atomic_load_n(&g_broker_thd, __ATOMIC_ACQUIRE);
}

/* Channels attached since the last pass join the broker, in index order
 * (so the broker's slot i is attach's index i). */
static void mqb_adopt(void)
{
    unsigned ready = __atomic_load_n(&g_published, __ATOMIC_ACQUIRE);
    while (g_adopted < MQ_COS_MAX_CHANS && (ready & (1u << g_adopted))) {
        if (mq_cos_broker_add_chan(&g_bc, g_attached[g_adopted]) < 0)
            break;
        printc("musqratt: client channel %u attached\n", g_adopted);
        g_adopted++;
    }
}

void cos_init(void)
{
    void *arena = (void *)memmgr_heap_page_allocn(MQB_ARENA_PAGES);
    mq_broker_config_t cfg;
    mq_broker_config_defaults(&cfg);
    cfg.max_connections = MQ_COS_MAX_CHANS;
    if (!arena || mq_cos_broker_init(&g_bc, &g_env, &cfg, arena,
                                     MQB_ARENA_PAGES * PAGE_SIZE, NULL, 0) != MQ_OK) {
        printc("musqratt: broker init failed\n");
        return;
    }
    printc("musqratt: broker component up, %u KiB arena\n",
           (unsigned)(MQB_ARENA_PAGES * PAGE_SIZE / 1024));
}

int main(void)
{
    __atomic_store_n(&g_broker_thd, cos_thdid(), __ATOMIC_RELEASE);
    for (;;) {
        mqb_adopt();
        uint64_t deadline = mq_cos_broker_step(&g_bc);
        mq_cos_glue_wait(NULL, deadline);
    }
    return 0;
}
