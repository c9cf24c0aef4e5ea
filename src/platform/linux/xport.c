/*
 * xport — see xport.h.
 *
 * Output order on a WebSocket: the WebSocket layer's own bytes (the 101
 * answer, pongs, close) only go out between data frames; a data frame is
 * started with the length of the core iovecs at hand, its header is one more
 * iovec in front of them, and it is finished (header and payload) before
 * anything else is sent, however many partial writes that takes.
 * With TLS the iovecs are copied into the connection's MQ_LINUX_TLS_OUT
 * buffer (SSL_write wants one contiguous buffer), which must be empty before
 * it is filled again; the bytes are consumed from the core as soon as they
 * are copied.
 */
#define _GNU_SOURCE
#include "xport.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "musqratt/error.h"
#include "ws/ws.h"

/* Reads per readable event before other sockets get their turn (loop.c's
 * MQ_LINUX_READS_PER_EVENT for plain TCP). */
#define MQ_LINUX_XPORT_READS 4
/* iovecs per write (header + core iovecs). */
#define MQ_LINUX_XPORT_IOV 64
/* Longest certificate-derived username. */
#define MQ_LINUX_IDENTITY_MAX 1024

struct mq_linux_xport_listener {
    mq_linux_tls_t *tls;        /* NULL: no TLS */
    bool websockets;
    mq_ws_config_t ws;
    char ws_path[MQ_CONFIG_PATH_MAX];
    uint16_t port;
    const mq_linux_log_t *log;
};

struct mq_linux_xport {
    mq_linux_xport_listener_t *xl;
    int fd;
    /* TLS */
    SSL *ssl;                   /* NULL without TLS */
    bool hs_done;               /* handshake finished */
    bool hs_want_write;         /* the handshake waits for the socket to drain */
    bool rd_want_write;         /* SSL_read must write first */
    bool tls_failed;            /* fatal TLS error: no close_notify */
    uint8_t *tls_out;           /* MQ_LINUX_TLS_OUT bytes while output flows, else NULL */
    size_t tls_off, tls_len;    /* bytes [off, len) are not written yet */
    /* WebSocket */
    bool websockets;
    uint8_t *ws_req;            /* upgrade request buffer, until the 101 */
    uint8_t fhdr[10];           /* header of the data frame being sent */
    uint8_t fhdr_len, fhdr_off;
    uint64_t frame_left;        /* its payload bytes not yet sent */
    mq_ws_t ws;
};

/* ---- listeners --------------------------------------------------------- */

/* ctx: the EVP_MD fetched once per listener (an implicit fetch per call
 * would cost a provider lookup per upgrade). */
static void mq_linux_sha1(void *ctx, const uint8_t *data, size_t len, uint8_t out[20])
{
    unsigned int n = 20;

    if (EVP_Digest(data, len, out, &n, ctx, NULL) != 1)
        memset(out, 0, 20); /* cannot happen with the default provider */
}

int mq_linux_xport_listener_new(const mq_listener_config_t *lc, uint32_t max_packet_size,
                                const mq_linux_log_t *log, mq_linux_xport_listener_t **out)
{
    mq_linux_xport_listener_t *xl;

    *out = NULL;
    if (lc->protocol != MQ_LISTENER_WEBSOCKETS && !mq_linux_tls_wanted(lc))
        return MQ_OK; /* plain MQTT over TCP: loop.c's direct path */
    xl = calloc(1, sizeof *xl);
    if (!xl) {
        mq_linux_logf(log, MQ_LOG_ERR, "out of memory");
        return MQ_ENOMEM;
    }
    xl->log = log;
    xl->port = lc->port;
    xl->websockets = lc->protocol == MQ_LISTENER_WEBSOCKETS;
    memcpy(xl->ws_path, lc->websockets_path, sizeof xl->ws_path);
    xl->ws.path = xl->ws_path;
    xl->ws.max_frame = max_packet_size ? max_packet_size : MQ_MAX_REMAINING_LENGTH + 5u;
    xl->ws.sha1 = mq_linux_sha1;
    if (xl->websockets && !(xl->ws.sha1_ctx = EVP_MD_fetch(NULL, "SHA1", NULL))) {
        mq_linux_logf(log, MQ_LOG_ERR, "listener port %u: OpenSSL has no SHA-1",
                      (unsigned)lc->port);
        free(xl);
        return MQ_ECONFIG;
    }
    if (mq_linux_tls_wanted(lc)) {
        xl->tls = mq_linux_tls_new(lc, log);
        if (!xl->tls) {
            mq_linux_xport_listener_free(xl);
            return MQ_ECONFIG;
        }
    }
    *out = xl;
    return MQ_OK;
}

void mq_linux_xport_listener_free(mq_linux_xport_listener_t *xl)
{
    if (!xl)
        return;
    mq_linux_tls_free(xl->tls);
    EVP_MD_free(xl->ws.sha1_ctx);
    free(xl);
}

mq_linux_tls_t *mq_linux_xport_listener_tls(mq_linux_xport_listener_t *xl)
{
    return xl ? xl->tls : NULL;
}

/* ---- connections ------------------------------------------------------- */

mq_linux_xport_t *mq_linux_xport_new(mq_linux_xport_listener_t *xl, int fd)
{
    mq_linux_xport_t *x = calloc(1, sizeof *x);

    if (!x)
        return NULL;
    x->xl = xl;
    x->fd = fd;
    x->hs_done = true;
    if (xl->tls) {
        x->ssl = mq_linux_tls_ssl_new(xl->tls, fd);
        if (!x->ssl)
            goto fail;
        x->hs_done = false;
    }
    if (xl->websockets) {
        /* The request buffer only when a request comes in pieces (feed). */
        x->websockets = true;
        mq_ws_init(&x->ws, &xl->ws, NULL, MQ_LINUX_WS_REQUEST);
    }
    return x;
fail:
    mq_linux_xport_free(x, false);
    return NULL;
}

void mq_linux_xport_free(mq_linux_xport_t *x, bool graceful)
{
    if (!x)
        return;
    if (x->ssl) {
        /* One close_notify, no waiting for the peer's (RFC 8446 6.1 allows
         * closing the read side without it). */
        if (graceful && x->hs_done && !x->tls_failed) {
            ERR_clear_error();
            (void)SSL_shutdown(x->ssl);
        }
        SSL_free(x->ssl);
        ERR_clear_error();
    }
    free(x->tls_out);
    free(x->ws_req);
    free(x);
}

bool mq_linux_xport_has_output(const mq_linux_xport_t *x)
{
    return (x->ssl && !x->hs_done && x->hs_want_write) || x->rd_want_write ||
           x->tls_len > x->tls_off || (x->websockets && x->ws.out_len > 0);
}

bool mq_linux_xport_read_wants_write(const mq_linux_xport_t *x)
{
    return x->rd_want_write;
}

/* ---- TLS --------------------------------------------------------------- */

static void mq_linux_xport_tls_log(const mq_linux_xport_t *x, const char *what, int err)
{
    char buf[256];

    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        mq_linux_logf(x->xl->log, MQ_LOG_DEBUG, "port %u: TLS %s: %s", (unsigned)x->xl->port,
                      what, errno ? strerror(errno) : "connection closed");
        return;
    }
    mq_linux_logf(x->xl->log, MQ_LOG_NOTICE, "port %u: TLS %s failed: %s",
                  (unsigned)x->xl->port, what, mq_linux_tls_error(buf, sizeof buf));
}

/* One handshake step: 1 done, 0 waiting (hs_want_write says for what), -1 failed. */
static int mq_linux_xport_handshake(mq_linux_xport_t *x, mq_broker_t *b, mq_conn_t *c,
                                    const char **why)
{
    char name[MQ_LINUX_IDENTITY_MAX];
    int r, rc;

    ERR_clear_error();
    errno = 0;
    r = SSL_do_handshake(x->ssl);
    if (r != 1) {
        int e = SSL_get_error(x->ssl, r);

        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            x->hs_want_write = e == SSL_ERROR_WANT_WRITE;
            return 0;
        }
        x->tls_failed = true;
        mq_linux_xport_tls_log(x, "handshake", e);
        *why = "TLS handshake failed";
        return -1;
    }
    x->hs_done = true;
    x->hs_want_write = false;
    rc = mq_linux_tls_identity(x->xl->tls, x->ssl, name, sizeof name);
    if (rc < 0) {
        mq_linux_logf(x->xl->log, MQ_LOG_NOTICE,
                      "port %u: client certificate gives no usable username (%s); closing",
                      (unsigned)x->xl->port, mq_strerror(rc));
        *why = "no username from the client certificate";
        return -1;
    }
    if (rc > 0) {
        if (mq_conn_set_identity(b, c, name) != MQ_OK) {
            *why = "out of memory";
            return -1;
        }
        mq_linux_logf(x->xl->log, MQ_LOG_DEBUG, "port %u: TLS client identity '%s'",
                      (unsigned)x->xl->port, name);
    }
    return 1;
}

/* Writes the TLS buffer: 1 all written, 0 blocked, -1 failed. */
static int mq_linux_xport_tls_push(mq_linux_xport_t *x)
{
    while (x->tls_off < x->tls_len) {
        int r, e;

        ERR_clear_error();
        errno = 0;
        r = SSL_write(x->ssl, x->tls_out + x->tls_off, (int)(x->tls_len - x->tls_off));
        if (r > 0) {
            x->tls_off += (size_t)r;
            continue;
        }
        e = SSL_get_error(x->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
            return 0;
        x->tls_failed = true;
        mq_linux_xport_tls_log(x, "write", e);
        return -1;
    }
    x->tls_off = x->tls_len = 0;
    return 1;
}

/* ---- read path --------------------------------------------------------- */

typedef struct mq_linux_feed {
    mq_broker_t *b;
    mq_conn_t *c;
    mq_time_t now;
} mq_linux_feed_t;

/* WebSocket payload -> core. */
static int mq_linux_xport_to_core(void *ctx, const uint8_t *data, size_t len)
{
    mq_linux_feed_t *f = ctx;
    int rc = mq_broker_conn_input(f->b, f->c, data, len, f->now);

    if (rc < 0)
        return rc;
    return mq_conn_closing(f->c) ? MQ_ECLOSED : 0;
}

static int mq_linux_xport_feed(mq_linux_xport_t *x, mq_broker_t *b, mq_conn_t *c,
                               uint8_t *buf, size_t n, mq_time_t now, const char **why)
{
    mq_linux_feed_t f = {b, c, now};
    int rc;

    if (!x->websockets) {
        rc = mq_broker_conn_input(b, c, buf, n, now);
        if (rc < 0)
            *why = mq_strerror(rc);
        return rc;
    }
    if (mq_ws_needs_buffer(&x->ws, buf, n)) {
        x->ws_req = malloc(MQ_LINUX_WS_REQUEST);
        if (!x->ws_req) {
            *why = "out of memory";
            return MQ_ENOMEM;
        }
        mq_ws_set_buffer(&x->ws, x->ws_req);
    }
    rc = mq_ws_input(&x->ws, buf, n, mq_linux_xport_to_core, &f);
    if (x->ws_req && x->ws.state != MQ_WS_HANDSHAKE) {
        free(x->ws_req); /* the request is answered */
        x->ws_req = NULL;
    }
    if (rc == MQ_ECLOSED && !mq_conn_closing(c)) {
        if (!x->ws.upgraded)
            *why = "bad WebSocket upgrade request";
        else if (x->ws.close_code == 0)
            *why = "WebSocket close from the client";
        else
            *why = "WebSocket protocol error";
    } else if (rc < 0) {
        *why = mq_strerror(rc);
    }
    return rc;
}

int mq_linux_xport_read(mq_linux_xport_t *x, mq_broker_t *b, mq_conn_t *c, uint8_t *buf,
                        size_t cap, mq_time_t now, const char **why)
{
    for (int i = 0;; i++) {
        ssize_t n;

        if (x->ssl) {
            int r, e;

            if (!x->hs_done) {
                int h = mq_linux_xport_handshake(x, b, c, why);

                if (h < 0)
                    return MQ_LINUX_XR_ERROR;
                if (h == 0)
                    return MQ_LINUX_XR_OK;
            }
            /* Fairness cap; but decrypted bytes already inside OpenSSL
             * would not wake epoll again, so those are always read. */
            if (i >= MQ_LINUX_XPORT_READS && SSL_pending(x->ssl) == 0)
                return MQ_LINUX_XR_OK;
            ERR_clear_error();
            errno = 0;
            r = SSL_read(x->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
            x->rd_want_write = false;
            if (r <= 0) {
                e = SSL_get_error(x->ssl, r);
                if (e == SSL_ERROR_WANT_READ)
                    return MQ_LINUX_XR_OK;
                if (e == SSL_ERROR_WANT_WRITE) {
                    x->rd_want_write = true;
                    return MQ_LINUX_XR_OK;
                }
                if (e == SSL_ERROR_ZERO_RETURN) {
                    *why = "the client closed the connection";
                    return MQ_LINUX_XR_EOF;
                }
                x->tls_failed = true;
                mq_linux_xport_tls_log(x, "read", e);
                *why = "TLS read error";
                return MQ_LINUX_XR_ERROR;
            }
            n = r;
        } else {
            if (i >= MQ_LINUX_XPORT_READS)
                return MQ_LINUX_XR_OK;
            n = read(x->fd, buf, cap);
            if (n == 0) {
                *why = "the client closed the connection";
                return MQ_LINUX_XR_EOF;
            }
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return MQ_LINUX_XR_OK;
                *why = strerror(errno);
                return MQ_LINUX_XR_ERROR;
            }
        }
        if (mq_linux_xport_feed(x, b, c, buf, (size_t)n, now, why) < 0 || mq_conn_closing(c)) {
            if (mq_conn_closing(c) && !*why)
                *why = "closed by the broker";
            return MQ_LINUX_XR_DONE;
        }
        if (!x->ssl && (size_t)n < cap)
            return MQ_LINUX_XR_OK; /* drained; level triggering reports more */
    }
}

/* ---- write path -------------------------------------------------------- */

/* Copies iov[0..cnt) (as much as fits) into the empty TLS buffer and starts
 * writing it. Returns the bytes taken, or -1 on a TLS failure. */
static ssize_t mq_linux_xport_tls_take(mq_linux_xport_t *x, const struct iovec *iov, size_t cnt)
{
    size_t n = 0;

    if (!x->tls_out && !(x->tls_out = malloc(MQ_LINUX_TLS_OUT)))
        return -1;
    for (size_t i = 0; i < cnt && n < MQ_LINUX_TLS_OUT; i++) {
        size_t k = iov[i].iov_len < MQ_LINUX_TLS_OUT - n ? iov[i].iov_len : MQ_LINUX_TLS_OUT - n;

        memcpy(x->tls_out + n, iov[i].iov_base, k);
        n += k;
    }
    x->tls_off = 0;
    x->tls_len = n;
    if (mq_linux_xport_tls_push(x) < 0)
        return -1;
    return (ssize_t)n;
}

/* Core iovecs into iov[0..max), at most limit bytes (limit 0 = no limit).
 * Returns their count; *bytes their total. */
static size_t mq_linux_xport_core_iov(mq_conn_t *c, struct iovec *iov, size_t max,
                                      uint64_t limit, size_t *bytes)
{
    size_t cnt = mq_conn_out_iov(c, (mq_iov_t *)iov, max);
    size_t total = 0;

    for (size_t i = 0; i < cnt; i++) {
        if (limit && total + iov[i].iov_len >= limit) {
            iov[i].iov_len = (size_t)(limit - total);
            total = (size_t)limit;
            cnt = i + 1;
            break;
        }
        total += iov[i].iov_len;
    }
    *bytes = total;
    return cnt;
}

int mq_linux_xport_flush(mq_linux_xport_t *x, mq_broker_t *b, mq_conn_t *c, bool closing,
                         const char **why)
{
    if (x->ssl && !x->hs_done) {
        int h;

        if (closing)
            return MQ_LINUX_XF_DONE; /* nothing to say to a half-made session */
        h = mq_linux_xport_handshake(x, b, c, why);
        if (h < 0)
            return MQ_LINUX_XF_ERROR;
        if (h == 0)
            return x->hs_want_write ? MQ_LINUX_XF_BLOCKED : MQ_LINUX_XF_WAIT;
    }
    for (;;) {
        struct iovec iov[MQ_LINUX_XPORT_IOV];
        size_t cnt = 0, ctl = 0, hdr = 0, pay = 0, left;
        ssize_t w;

        if (x->ssl && x->tls_off < x->tls_len) {
            int r = mq_linux_xport_tls_push(x);

            if (r < 0) {
                *why = "TLS write error";
                return MQ_LINUX_XF_ERROR;
            }
            if (r == 0)
                return MQ_LINUX_XF_BLOCKED;
        }
        if (!x->websockets) {
            cnt = mq_linux_xport_core_iov(c, iov, MQ_LINUX_XPORT_IOV, 0, &pay);
        } else if (x->frame_left == 0 && x->fhdr_off == x->fhdr_len) {
            /* Between two data frames. */
            const uint8_t *o;

            if (!mq_ws_can_send(&x->ws)) {
                /* No frame may follow a close (or a refused upgrade): what
                 * the core still has is dropped. */
                size_t bytes;

                while (mq_linux_xport_core_iov(c, iov, MQ_LINUX_XPORT_IOV, 0, &bytes) > 0 &&
                       bytes > 0)
                    mq_conn_out_consume(b, c, bytes);
            } else if (closing && mq_conn_out_size(c) == 0) {
                mq_ws_close(&x->ws, MQ_WS_CLOSE_NORMAL);
            }
            o = mq_ws_out(&x->ws, &ctl);
            if (ctl) {
                iov[0].iov_base = (void *)o;
                iov[0].iov_len = ctl;
                cnt = 1;
            } else if (mq_ws_can_send(&x->ws)) {
                cnt = mq_linux_xport_core_iov(c, iov + 1, MQ_LINUX_XPORT_IOV - 1, 0, &pay);
                if (cnt > 0 && pay > 0) {
                    x->fhdr_len = (uint8_t)mq_ws_frame_header(x->fhdr, pay);
                    x->fhdr_off = 0;
                    x->frame_left = pay;
                    iov[0].iov_base = x->fhdr;
                    iov[0].iov_len = hdr = x->fhdr_len;
                    cnt++;
                } else {
                    cnt = 0;
                    pay = 0;
                }
            }
        } else {
            /* Finishing a data frame. */
            if (x->fhdr_off < x->fhdr_len) {
                iov[0].iov_base = x->fhdr + x->fhdr_off;
                iov[0].iov_len = hdr = (size_t)(x->fhdr_len - x->fhdr_off);
                cnt = 1;
            }
            if (x->frame_left > 0)
                cnt += mq_linux_xport_core_iov(c, iov + cnt, MQ_LINUX_XPORT_IOV - cnt,
                                               x->frame_left, &pay);
        }
        if (cnt == 0 || ctl + hdr + pay == 0)
            break;
        if (x->ssl) {
            w = mq_linux_xport_tls_take(x, iov, cnt);
            if (w < 0) {
                *why = x->tls_out ? "TLS write error" : "out of memory";
                return MQ_LINUX_XF_ERROR;
            }
        } else {
            w = writev(x->fd, iov, (int)cnt);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return MQ_LINUX_XF_BLOCKED;
                *why = strerror(errno);
                return MQ_LINUX_XF_ERROR;
            }
        }
        left = (size_t)w;
        if (ctl) {
            size_t k = left < ctl ? left : ctl;

            mq_ws_out_consume(&x->ws, k);
            left -= k;
        }
        if (hdr) {
            size_t k = left < hdr ? left : hdr;

            x->fhdr_off = (uint8_t)(x->fhdr_off + k);
            left -= k;
        }
        if (left) {
            mq_conn_out_consume(b, c, left);
            if (x->websockets)
                x->frame_left -= left;
        }
        if (!x->ssl && (size_t)w < ctl + hdr + pay)
            return MQ_LINUX_XF_BLOCKED; /* socket full: wait for EPOLLOUT */
    }
    if (x->tls_out) {
        /* All written: an idle connection keeps no output buffer. */
        free(x->tls_out);
        x->tls_out = NULL;
    }
    if (x->rd_want_write)
        return MQ_LINUX_XF_BLOCKED; /* the read path runs again on EPOLLOUT */
    return MQ_LINUX_XF_DONE;
}
