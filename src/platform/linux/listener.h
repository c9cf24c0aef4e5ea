/*
 * listener — opens the listening sockets of one configured listener.
 *
 * Owns: nothing after it returns; the sockets go to the caller (the loop).
 * Never: accepts connections (loop.c does) or keeps state.
 * Hot paths: none (startup only).
 */
#ifndef MQ_PLATFORM_LINUX_LISTENER_H
#define MQ_PLATFORM_LINUX_LISTENER_H

#include <stddef.h>

#include "log.h"
#include "musqratt/config.h"

/*
 * Binds every address lc->address resolves to ("" = all IPv4 and IPv6
 * addresses, as Mosquitto does) on lc->port (0 = an ephemeral port, then the
 * same port for every address), with SO_REUSEADDR, non-blocking and
 * close-on-exec, and prints "musqratt: listening on ADDR:PORT" on stderr for
 * each socket with the port actually bound.
 * socket_domain ipv4/ipv6 keeps only that family; bind_interface NAME binds
 * the interface's addresses instead of lc->address (Mosquitto's rule);
 * lc->socket_path makes a unix domain socket instead (a stale socket file
 * is replaced; "musqratt: listening on unix:PATH" is printed).
 * Appends the sockets to fds[*n..max). Returns MQ_OK, or MQ_EIO after logging
 * why (nothing stays open then), or MQ_ELIMIT when fds is full.
 */
int mq_linux_listen(const mq_listener_config_t *lc, int *fds, size_t max, size_t *n,
                    const mq_linux_log_t *log);

#endif
