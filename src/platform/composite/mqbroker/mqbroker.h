/*
 * musqratt on Composite — the broker component's interface (goes to a
 * Composite tree's src/components/interface/mqbroker/, see
 * docs/COMPOSITE.md).
 *
 * A client component allocates shared pages (memmgr_shared_page_allocn),
 * lays a channel out in them (mq_cos_chan_init, src/platform/composite/
 * chan.h) and hands their id to the broker:
 *
 *   mqbroker_attach(id)  the broker maps the pages, checks the channel and
 *                        records the calling thread as the one to wake;
 *                        returns the channel's index (>= 0), or -1 (cannot
 *                        map), -2 (not a channel), -3 (all channels used)
 *   mqbroker_thdid()     the broker thread the client wakes after writing
 *                        (0 until the broker's main thread runs)
 */
#ifndef MQBROKER_H
#define MQBROKER_H

#include <cos_component.h>

int     mqbroker_attach(cbuf_t shmid);
int     COS_STUB_DECL(mqbroker_attach)(cbuf_t shmid);
thdid_t mqbroker_thdid(void);
thdid_t COS_STUB_DECL(mqbroker_thdid)(void);

#endif
