/*
 * notify — systemd's readiness protocol (sd_notify), written by hand.
 *
 * Owns: nothing (one datagram socket per message, closed before returning).
 * Never: fails the broker: without NOTIFY_SOCKET, or if the send fails, it
 * does nothing (the failure is logged at debug level).
 * Hot paths: none (startup, reload, shutdown).
 *
 * NOTIFY_SOCKET is an AF_UNIX datagram socket path, or "@name" for the
 * abstract namespace. Messages are newline-separated VAR=VALUE assignments:
 * READY=1 once listening, RELOADING=1 (with MONOTONIC_USEC) then READY=1
 * around a reload, STOPPING=1 at shutdown, MAINPID=pid with READY=1.
 */
#ifndef MQ_PLATFORM_LINUX_NOTIFY_H
#define MQ_PLATFORM_LINUX_NOTIFY_H

#include "log.h"

/* Sends state (e.g. "READY=1") to $NOTIFY_SOCKET. Returns 1 if sent, 0 if
 * NOTIFY_SOCKET is unset, -1 on failure. */
int mq_linux_notify(const mq_linux_log_t *log, const char *state);

/* RELOADING=1 with MONOTONIC_USEC=now, as systemd 253 wants. */
void mq_linux_notify_reloading(const mq_linux_log_t *log);

#endif
