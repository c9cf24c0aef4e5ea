/* musqratt on Composite — the subscriber component (musqratt.sub): the
 * subscriber of src/platform/composite/pubsub.c in a Composite thread. */
#include "mq_client_main.h"
#include "pubsub.h"

#define MQS_MESSAGES 30

static mq_cos_sub_t g_sub;

void cos_init(void)
{
}

int main(void)
{
    int index;
    mq_cos_chan_t *ch = mqc_attach("sub", &index);
    if (!ch)
        return -1;
    mq_cos_sub_init(&g_sub, ch, (unsigned)index, &mqc_env, MQS_MESSAGES);
    while (!mq_cos_sub_step(&g_sub))
        mq_cos_glue_wait(NULL, MQ_COS_NEVER);
    printc("sub: done: %s\n", mq_cos_sub_passed(&g_sub) ? "transcript complete" : "FAILED");
    for (;;)
        sched_thd_block(0);
    return 0;
}
