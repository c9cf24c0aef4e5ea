/* musqratt on Composite — the publisher component (musqratt.pub): the
 * publisher of src/platform/composite/pubsub.c in a Composite thread. */
#include "mq_client_main.h"
#include "pubsub.h"

#define MQP_MESSAGES 30

static mq_cos_pub_t g_pub;

void cos_init(void)
{
}

int main(void)
{
    int index;
    mq_cos_chan_t *ch = mqc_attach("pub", &index);
    if (!ch)
        return -1;
    mq_cos_pub_init(&g_pub, ch, (unsigned)index, &mqc_env, MQP_MESSAGES);
    while (!mq_cos_pub_step(&g_pub))
        mq_cos_glue_wait(NULL, MQ_COS_NEVER);
    printc("pub: done (%s); cycles are TSC cycles, emulated under QEMU TCG\n",
           g_pub.error ? "FAILED" : "ok");
    for (;;)
        sched_thd_block(0);
    return 0;
}
