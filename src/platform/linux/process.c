/*
 * process — see process.h.
 */
#define _GNU_SOURCE /* initgroups */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "musqratt/error.h"
#include "musqratt/platform.h"

int mq_linux_daemonize(int *ready_fd, const mq_linux_log_t *log)
{
    int p[2];
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) < 0) {
        mq_linux_logf(log, MQ_LOG_ERR, "pipe: %s", strerror(errno));
        return MQ_EIO;
    }
    pid = fork();
    if (pid < 0) {
        mq_linux_logf(log, MQ_LOG_ERR, "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return MQ_EIO;
    }
    if (pid > 0) {
        char c = 0;
        ssize_t n;

        close(p[1]);
        do
            n = read(p[0], &c, 1);
        while (n < 0 && errno == EINTR);
        /* _exit: the parent's copy of the broker is the child's business
         * (and no exit handler may flush or check it twice). */
        _exit(n == 1 && c == 'R' ? 0 : 1);
    }
    close(p[0]);
    if (setsid() < 0)
        mq_linux_logf(log, MQ_LOG_WARNING, "setsid: %s", strerror(errno));
    if (chdir("/") < 0)
        mq_linux_logf(log, MQ_LOG_WARNING, "chdir /: %s", strerror(errno));
    *ready_fd = p[1];
    return MQ_OK;
}

void mq_linux_daemon_ready(int ready_fd)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    if (ready_fd >= 0) {
        ssize_t n;

        do
            n = write(ready_fd, "R", 1);
        while (n < 0 && errno == EINTR);
        close(ready_fd);
    }
}

int mq_linux_pid_file_write(const char *path, const mq_linux_log_t *log)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0 || write(fd, buf, (size_t)n) != n) {
        mq_linux_logf(log, MQ_LOG_ERR, "cannot write pid file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return MQ_EIO;
    }
    close(fd);
    return MQ_OK;
}

int mq_linux_drop_privileges(const char *user, const mq_linux_log_t *log)
{
    const char *name = user && user[0] ? user : "mosquitto";
    struct passwd *pw;

    if (geteuid() != 0)
        return MQ_OK;
    if (strcmp(name, "root") == 0) {
        mq_linux_logf(log, MQ_LOG_WARNING, "running as root (user root)");
        return MQ_OK;
    }
    errno = 0;
    pw = getpwnam(name);
    if (!pw && strcmp(name, "mosquitto") == 0) {
        mq_linux_logf(log, MQ_LOG_WARNING,
                      "user 'mosquitto' does not exist: dropping privileges to 'nobody'");
        name = "nobody";
        pw = getpwnam(name);
    }
    if (!pw) {
        mq_linux_logf(log, MQ_LOG_ERR, "cannot drop privileges: user '%s' does not exist", name);
        return MQ_EIO;
    }
    if (initgroups(name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        mq_linux_logf(log, MQ_LOG_ERR, "cannot drop privileges to '%s': %s", name,
                      strerror(errno));
        return MQ_EIO;
    }
    mq_linux_logf(log, MQ_LOG_INFO, "running as user '%s'", name);
    return MQ_OK;
}
