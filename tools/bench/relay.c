/*
 * relay — the floor: the least a process can do to carry a message from one
 * socket to another. One thread, one epoll instance, TCP_NODELAY, no parsing.
 *
 * Owns: its listening socket, the accepted sockets, one buffer per direction.
 * Never: looks at the bytes, allocates per message, or makes more than the
 * unavoidable system calls per message (epoll_wait, read, write).
 *
 * Pairing: connections are paired in the order they are accepted (1st with
 * 2nd, 3rd with 4th, ...); every byte read from one end is written to the
 * other. musqratt-bench --relay connects a publisher then its subscriber, so
 * each PUBLISH crosses exactly one middle process, as through a broker, and
 * the subscriber's acks cross back to the publisher. When one end closes, the
 * other is closed too.
 *
 * Hot path: relay_pump (read once, write once; a short write parks the rest
 * and stops reading that side until the peer drains, so memory stays bounded).
 *
 * usage: relay -p PORT   (127.0.0.1 only; PORT 0 prints the port it chose)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_BUF (64u * 1024u)

typedef struct relay_end {
    int fd;
    struct relay_end *peer;
    /* Bytes read from this end that the peer has not taken yet. */
    size_t off, len;
    bool in_paused;
    bool out_wanted;
    unsigned char buf[RELAY_BUF];
} relay_end_t;

static int relay_ep;
static relay_end_t *relay_waiting; /* an accepted end still without its partner */

static void relay_fail(const char *what)
{
    fprintf(stderr, "relay: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void relay_arm(relay_end_t *e)
{
    struct epoll_event ev = {.events = (e->in_paused ? 0u : EPOLLIN) |
                                       (e->out_wanted ? EPOLLOUT : 0u),
                             .data.ptr = e};

    if (epoll_ctl(relay_ep, EPOLL_CTL_MOD, e->fd, &ev) < 0)
        relay_fail("epoll_ctl");
}

static void relay_close(relay_end_t *e)
{
    relay_end_t *p = e->peer;

    close(e->fd);
    free(e);
    if (p) {
        close(p->fd);
        free(p);
    }
}

/* Writes e's pending bytes to its peer; returns false on a dead connection. */
static bool relay_drain(relay_end_t *e)
{
    relay_end_t *p = e->peer;

    while (e->off < e->len) {
        ssize_t w = write(p->fd, e->buf + e->off, e->len - e->off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            if (!e->in_paused || !p->out_wanted) {
                e->in_paused = true;
                p->out_wanted = true;
                relay_arm(e);
                relay_arm(p);
            }
            return true;
        }
        if (w <= 0)
            return false;
        e->off += (size_t)w;
    }
    e->off = e->len = 0;
    if (e->in_paused) {
        e->in_paused = false;
        p->out_wanted = false;
        relay_arm(e);
        relay_arm(p);
    }
    return true;
}

static bool relay_pump(relay_end_t *e)
{
    ssize_t n = read(e->fd, e->buf, RELAY_BUF);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (n <= 0)
        return false;
    e->off = 0;
    e->len = (size_t)n;
    return relay_drain(e);
}

static void relay_accept(int lfd)
{
    int one = 1, fd = accept(lfd, NULL, NULL);
    relay_end_t *e;
    struct epoll_event ev;

    if (fd < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
            return;
        relay_fail("accept");
    }
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        relay_fail("fcntl");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    e = calloc(1, sizeof(*e));
    if (!e)
        relay_fail("calloc");
    e->fd = fd;
    if (relay_waiting) {
        /* The pair is complete: both ends start reading now. Nothing can have
         * been lost before: the first end is not polled until it has a peer. */
        e->peer = relay_waiting;
        relay_waiting->peer = e;
        relay_waiting = NULL;
        ev.events = EPOLLIN;
        ev.data.ptr = e;
        if (epoll_ctl(relay_ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            relay_fail("epoll_ctl");
        ev.data.ptr = e->peer;
        if (epoll_ctl(relay_ep, EPOLL_CTL_ADD, e->peer->fd, &ev) < 0)
            relay_fail("epoll_ctl");
    } else {
        relay_waiting = e;
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int lfd, one = 1;
    long port = -1;
    struct epoll_event lev, evs[64];

    if (argc == 3 && !strcmp(argv[1], "-p")) {
        char *end;

        port = strtol(argv[2], &end, 10);
        if (*end || port < 0 || port > 65535)
            port = -1;
    }
    if (port < 0) {
        fprintf(stderr, "usage: relay -p PORT  (listens on 127.0.0.1; 0 = any free port)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        relay_fail("socket");
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
        relay_fail("listen");
    printf("relay: listening on 127.0.0.1:%u\n", ntohs(sa.sin_port));
    fflush(stdout);
    relay_ep = epoll_create1(EPOLL_CLOEXEC);
    if (relay_ep < 0)
        relay_fail("epoll_create1");
    lev.events = EPOLLIN;
    lev.data.ptr = NULL;
    if (epoll_ctl(relay_ep, EPOLL_CTL_ADD, lfd, &lev) < 0)
        relay_fail("epoll_ctl");
    for (;;) {
        int n = epoll_wait(relay_ep, evs, 64, -1), i;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            relay_fail("epoll_wait");
        for (i = 0; i < n; i++) {
            relay_end_t *e = evs[i].data.ptr;
            bool ok = true;

            if (!e) {
                relay_accept(lfd);
                continue;
            }
            if (evs[i].events & EPOLLOUT)
                ok = relay_drain(e->peer);
            if (ok && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                ok = e->in_paused ? !(evs[i].events & (EPOLLHUP | EPOLLERR)) : relay_pump(e);
            /* A close frees both ends of a pair, and a later event of this batch
             * may name one of them: cut the batch short (level-triggered epoll
             * reports the rest again). */
            if (!ok) {
                relay_close(e);
                break;
            }
        }
    }
}
