/*
 * process — what a Unix daemon does once: -d (daemonize), pid_file, and
 * dropping root privileges (user), each as Mosquitto does it.
 *
 * Owns: the daemon's readiness pipe until mq_linux_daemon_ready().
 * Never: touches sockets or the broker.
 * Hot paths: none (startup and shutdown only).
 */
#ifndef MQ_PLATFORM_LINUX_PROCESS_H
#define MQ_PLATFORM_LINUX_PROCESS_H

#include "log.h"

/*
 * -d: forks; the parent waits until the child calls mq_linux_daemon_ready()
 * (then exits 0) or exits (then exits 1), so startup errors still reach the
 * terminal and the exit status tells whether the broker runs. The child
 * becomes a session leader (setsid) with / as its directory and returns the
 * write end of the readiness pipe in *ready_fd. Returns MQ_OK in the child,
 * MQ_EIO (logged) if fork or pipe failed. Call it before creating threads,
 * epoll instances or signalfds.
 */
int mq_linux_daemonize(int *ready_fd, const mq_linux_log_t *log);

/* In the child, once serving: stdin, stdout and stderr go to /dev/null and
 * the parent is released. */
void mq_linux_daemon_ready(int ready_fd);

/* Writes "PID\n" to path (created 0644, truncated). MQ_OK or MQ_EIO (logged). */
int mq_linux_pid_file_write(const char *path, const mq_linux_log_t *log);

/*
 * Mosquitto's `user`: when running as root, switch to user (its uid, primary
 * group and supplementary groups). An empty user means the default,
 * "mosquitto"; if the default user does not exist, "nobody" is used
 * instead. Any other user that does not exist is an error. "root" keeps
 * root. Not root: nothing happens. Returns MQ_OK or MQ_EIO (logged).
 */
int mq_linux_drop_privileges(const char *user, const mq_linux_log_t *log);

#endif
