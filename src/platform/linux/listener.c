/*
 * listener — see listener.h.
 */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "musqratt/error.h"

#define MQ_LINUX_BACKLOG 1024

static void mq_linux_set_port(struct sockaddr *sa, uint16_t port)
{
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)(void *)sa)->sin_port = htons(port);
    else if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons(port);
}

/* "1.2.3.4:PORT" or "[::1]:PORT" */
static void mq_linux_format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(out, cap, "%s:%u", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(out, cap, "[%s]:%u", host, port);
    } else {
        snprintf(out, cap, "?");
    }
}

/* Binds one address; returns the socket or -1 with errno set. */
static int mq_linux_bind_one(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    int one = 1;
    int saved;

    if (fd < 0)
        return -1;
    /* Restarting the broker must not wait for TIME_WAIT sockets. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        goto fail;
    /* "::" and "0.0.0.0" are bound as two sockets (getaddrinfo gives both),
     * so the IPv6 one must not claim IPv4 too. */
    if (ai->ai_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
        goto fail;
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        goto fail;
    if (listen(fd, MQ_LINUX_BACKLOG) < 0)
        goto fail;
    return fd;
fail:
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

/* ---- ops (issue 6): unix domain sockets, bind_interface ---- */

/* listener 0 /path: a stale socket file from an earlier run is removed
 * first (only a socket, never another kind of file). */
static int mq_linux_listen_unix(const mq_listener_config_t *lc, int *fds, size_t max, size_t *n,
                                const mq_linux_log_t *log)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd;

    if (*n >= max) {
        mq_linux_logf(log, MQ_LOG_ERR, "too many listening sockets");
        return MQ_ELIMIT;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", lc->socket_path);
    if (lstat(lc->socket_path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(lc->socket_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(fd, MQ_LINUX_BACKLOG) < 0) {
        mq_linux_logf(log, MQ_LOG_ERR, "cannot listen on unix socket %s: %s", lc->socket_path,
                      strerror(errno));
        if (fd >= 0)
            close(fd);
        return MQ_EIO;
    }
    fds[(*n)++] = fd;
    /* System tests parse this line: keep its format. */
    fprintf(stderr, "musqratt: listening on unix:%s\n", lc->socket_path);
    return MQ_OK;
}

/* bind_interface NAME: the interface's addresses of the listener's
 * domain, as a list getaddrinfo would give (freed with mq_linux_free_ai). */
static int mq_linux_interface_addrs(const mq_listener_config_t *lc, struct addrinfo **out,
                                    const mq_linux_log_t *log)
{
    struct ifaddrs *ifs = NULL;
    struct addrinfo *head = NULL, **tail = &head;

    if (getifaddrs(&ifs) < 0) {
        mq_linux_logf(log, MQ_LOG_ERR, "getifaddrs: %s", strerror(errno));
        return MQ_EIO;
    }
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        struct addrinfo *ai;
        int fam;
        size_t len;

        if (!i->ifa_addr || strcmp(i->ifa_name, lc->bind_interface) != 0)
            continue;
        fam = i->ifa_addr->sa_family;
        if ((fam != AF_INET && fam != AF_INET6) ||
            (lc->domain == MQ_DOMAIN_IPV4 && fam != AF_INET) ||
            (lc->domain == MQ_DOMAIN_IPV6 && fam != AF_INET6))
            continue;
        len = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        ai = calloc(1, sizeof *ai + sizeof(struct sockaddr_storage));
        if (!ai)
            break;
        ai->ai_family = fam;
        ai->ai_socktype = SOCK_STREAM;
        ai->ai_addr = (struct sockaddr *)(ai + 1);
        ai->ai_addrlen = (socklen_t)len;
        memcpy(ai->ai_addr, i->ifa_addr, len);
        *tail = ai;
        tail = &ai->ai_next;
    }
    freeifaddrs(ifs);
    if (!head) {
        mq_linux_logf(log, MQ_LOG_ERR, "bind_interface %s: no such interface with an %s address",
                      lc->bind_interface,
                      lc->domain == MQ_DOMAIN_IPV4   ? "IPv4"
                      : lc->domain == MQ_DOMAIN_IPV6 ? "IPv6"
                                                     : "IP");
        return MQ_EIO;
    }
    *out = head;
    return MQ_OK;
}

static void mq_linux_free_if_addrs(struct addrinfo *ai)
{
    while (ai) {
        struct addrinfo *next = ai->ai_next;

        free(ai);
        ai = next;
    }
}

int mq_linux_listen(const mq_listener_config_t *lc, int *fds, size_t max, size_t *n,
                    const mq_linux_log_t *log)
{
    struct addrinfo hints, *res = NULL;
    char port_str[8];
    size_t first = *n;
    uint16_t port = lc->port;
    const char *node = lc->address[0] ? lc->address : NULL;
    bool from_if = lc->bind_interface[0] != '\0';
    int rc;

    if (lc->socket_path[0])
        return mq_linux_listen_unix(lc, fds, max, n, log);
    if (from_if) {
        /* As in Mosquitto, bind_interface wins over the listener's address. */
        if (mq_linux_interface_addrs(lc, &res, log) != MQ_OK)
            return MQ_EIO;
        node = lc->bind_interface;
    } else {
        memset(&hints, 0, sizeof hints);
        hints.ai_family = lc->domain == MQ_DOMAIN_IPV4   ? AF_INET
                          : lc->domain == MQ_DOMAIN_IPV6 ? AF_INET6
                                                         : AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        snprintf(port_str, sizeof port_str, "%u", (unsigned)lc->port);
        rc = getaddrinfo(node, port_str, &hints, &res);
        if (rc != 0) {
            mq_linux_logf(log, MQ_LOG_ERR, "cannot resolve listener address '%s': %s",
                          lc->address, gai_strerror(rc));
            return MQ_EIO;
        }
    }
    rc = MQ_OK;
    /* IPv4 first, so that the first "listening on" line of a wildcard
     * listener is the address most clients use. */
    for (int pass = 0; pass < 2 && rc == MQ_OK; pass++) {
        for (struct addrinfo *ai = res; ai && rc == MQ_OK; ai = ai->ai_next) {
            struct sockaddr_storage ss;
            socklen_t sslen = sizeof ss;
            char where[INET6_ADDRSTRLEN + 16];
            int fd;

            if ((pass == 0) != (ai->ai_family == AF_INET))
                continue;
            if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
                continue;
            /* An ephemeral port, once chosen, is used for every address. */
            mq_linux_set_port(ai->ai_addr, port);
            mq_linux_format_addr(ai->ai_addr, where, sizeof where);
            if (*n >= max) {
                mq_linux_logf(log, MQ_LOG_ERR, "too many listening sockets");
                rc = MQ_ELIMIT;
                break;
            }
            fd = mq_linux_bind_one(ai);
            if (fd < 0) {
                /* A host without IPv6 still serves the wildcard on IPv4. */
                if ((!node || from_if) && ai->ai_family == AF_INET6 &&
                    (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL) && *n > first)
                    continue;
                mq_linux_logf(log, MQ_LOG_ERR, "cannot listen on %s: %s", where,
                              strerror(errno));
                rc = MQ_EIO;
                break;
            }
            if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
                mq_linux_logf(log, MQ_LOG_ERR, "getsockname on %s: %s", where,
                              strerror(errno));
                close(fd);
                rc = MQ_EIO;
                break;
            }
            mq_linux_format_addr((struct sockaddr *)&ss, where, sizeof where);
            if (port == 0)
                port = ss.ss_family == AF_INET
                           ? ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port)
                           : ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
            fds[(*n)++] = fd;
            /* System tests parse this line: keep its format. */
            fprintf(stderr, "musqratt: listening on %s\n", where);
        }
    }
    if (from_if)
        mq_linux_free_if_addrs(res);
    else
        freeaddrinfo(res);
    if (rc != MQ_OK) {
        while (*n > first)
            close(fds[--*n]);
    }
    return rc;
}
