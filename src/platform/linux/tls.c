/*
 * tls — see tls.h.
 *
 * Context settings, and why:
 *   - TLS 1.2 is the default minimum (tls_version raises it or, tlsv1.1,
 *     lowers it), as in Mosquitto 2.
 *   - SSL_OP_NO_RENEGOTIATION: renegotiation (TLS <= 1.2) costs the server
 *     handshakes a client can trigger at will and complicates non-blocking
 *     reads; nothing MQTT needs.
 *   - SSL_MODE_RELEASE_BUFFERS: an idle connection gives its record buffers
 *     back, so per-connection memory is small when nothing flows.
 *   - SSL_MODE_ENABLE_PARTIAL_WRITE | ACCEPT_MOVING_WRITE_BUFFER: xport.c
 *     writes from one bounded buffer and continues where a write stopped.
 *   - The server session cache is off (bounded memory); TLS 1.3 tickets are
 *     stateless and still work.
 *   - Client certificates are requested only with require_certificate, and
 *     then a client without one fails the handshake (Mosquitto's rule).
 */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "musqratt/error.h"

struct mq_linux_tls {
    mq_listener_config_t cfg;
    const mq_linux_log_t *log;
    SSL_CTX *ctx;
};

bool mq_linux_tls_wanted(const mq_listener_config_t *lc)
{
    return lc->certfile[0] || lc->keyfile[0] || lc->cafile[0] || lc->capath[0];
}

const char *mq_linux_tls_error(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    unsigned long next;

    /* The last error is the outermost; the first one the root cause. */
    if (!e) {
        snprintf(buf, cap, "unknown error");
        return buf;
    }
    while ((next = ERR_get_error()) != 0)
        (void)next;
    ERR_error_string_n(e, buf, cap);
    return buf;
}

static void mq_linux_tls_fail(const mq_linux_tls_t *t, const char *what, const char *file)
{
    char err[256];

    if (file)
        mq_linux_logf(t->log, MQ_LOG_ERR, "listener port %u: cannot load %s '%s': %s",
                      (unsigned)t->cfg.port, what, file, mq_linux_tls_error(err, sizeof err));
    else
        mq_linux_logf(t->log, MQ_LOG_ERR, "listener port %u: %s: %s", (unsigned)t->cfg.port,
                      what, mq_linux_tls_error(err, sizeof err));
}

/* Builds a context from t->cfg; NULL after logging. */
static SSL_CTX *mq_linux_tls_ctx(const mq_linux_tls_t *t)
{
    const mq_listener_config_t *lc = &t->cfg;
    SSL_CTX *ctx;
    int min;

    ERR_clear_error();
    if (!lc->certfile[0] || !lc->keyfile[0]) {
        mq_linux_logf(t->log, MQ_LOG_ERR,
                      "listener port %u: TLS needs both certfile and keyfile",
                      (unsigned)lc->port);
        return NULL;
    }
    if ((lc->require_certificate || lc->crlfile[0]) && !lc->cafile[0] && !lc->capath[0]) {
        mq_linux_logf(t->log, MQ_LOG_ERR,
                      "listener port %u: require_certificate and crlfile need cafile or capath",
                      (unsigned)lc->port);
        return NULL;
    }
    ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        mq_linux_tls_fail(t, "SSL_CTX_new", NULL);
        return NULL;
    }
    switch (lc->tls_version) {
    case MQ_TLS_V1_1: min = TLS1_1_VERSION; break;
    case MQ_TLS_V1_3: min = TLS1_3_VERSION; break;
    default: min = TLS1_2_VERSION; break;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, min)) {
        mq_linux_tls_fail(t, "tls_version", NULL);
        goto fail;
    }
    /* IGNORE_UNEXPECTED_EOF: a client that closes its socket without a
     * close_notify is an ordinary disconnect (MQTT delimits its own packets,
     * so no truncation can go unnoticed), not a TLS error. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"musqratt", 8);
    if (lc->ciphers[0] && !SSL_CTX_set_cipher_list(ctx, lc->ciphers)) {
        mq_linux_tls_fail(t, "ciphers", NULL);
        goto fail;
    }
    if (lc->ciphers_tls13[0] && !SSL_CTX_set_ciphersuites(ctx, lc->ciphers_tls13)) {
        mq_linux_tls_fail(t, "ciphers_tls1.3", NULL);
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, lc->certfile) != 1) {
        mq_linux_tls_fail(t, "certfile", lc->certfile);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, lc->keyfile, SSL_FILETYPE_PEM) != 1) {
        mq_linux_tls_fail(t, "keyfile", lc->keyfile);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        mq_linux_tls_fail(t, "keyfile (does not match the certfile)", lc->keyfile);
        goto fail;
    }
    if (lc->cafile[0] && SSL_CTX_load_verify_file(ctx, lc->cafile) != 1) {
        mq_linux_tls_fail(t, "cafile", lc->cafile);
        goto fail;
    }
    if (lc->capath[0] && SSL_CTX_load_verify_dir(ctx, lc->capath) != 1) {
        mq_linux_tls_fail(t, "capath", lc->capath);
        goto fail;
    }
    if (lc->crlfile[0]) {
        X509_STORE *store = SSL_CTX_get_cert_store(ctx);
        X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());

        if (!lookup || X509_load_crl_file(lookup, lc->crlfile, X509_FILETYPE_PEM) < 1) {
            mq_linux_tls_fail(t, "crlfile", lc->crlfile);
            goto fail;
        }
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    }
    if (lc->require_certificate)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    else
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

mq_linux_tls_t *mq_linux_tls_new(const mq_listener_config_t *lc, const mq_linux_log_t *log)
{
    mq_linux_tls_t *t = calloc(1, sizeof *t);

    if (!t) {
        mq_linux_logf(log, MQ_LOG_ERR, "out of memory");
        return NULL;
    }
    t->cfg = *lc;
    t->log = log;
    t->ctx = mq_linux_tls_ctx(t);
    if (!t->ctx) {
        free(t);
        return NULL;
    }
    return t;
}

int mq_linux_tls_reload(mq_linux_tls_t *t)
{
    SSL_CTX *ctx = mq_linux_tls_ctx(t);

    if (!ctx) {
        mq_linux_logf(t->log, MQ_LOG_ERR,
                      "listener port %u: TLS reload failed; keeping the old certificates",
                      (unsigned)t->cfg.port);
        return MQ_ECONFIG;
    }
    /* Connections made from the old context hold their own reference. */
    SSL_CTX_free(t->ctx);
    t->ctx = ctx;
    mq_linux_logf(t->log, MQ_LOG_NOTICE, "listener port %u: TLS certificates reloaded",
                  (unsigned)t->cfg.port);
    return MQ_OK;
}

void mq_linux_tls_free(mq_linux_tls_t *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

SSL *mq_linux_tls_ssl_new(mq_linux_tls_t *t, int fd)
{
    SSL *ssl = SSL_new(t->ctx);

    if (!ssl)
        return NULL;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

/* The first CN of the subject, UTF-8, without embedded NULs. */
static int mq_linux_tls_cn(X509 *cert, char *out, size_t cap)
{
    X509_NAME *name = X509_get_subject_name(cert);
    int idx = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
    X509_NAME_ENTRY *e;
    unsigned char *utf8 = NULL;
    int len;

    if (idx < 0)
        return MQ_ENOTFOUND;
    e = X509_NAME_get_entry(name, idx);
    len = e ? ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e)) : -1;
    if (len < 0)
        return MQ_ENOTFOUND;
    if ((size_t)len >= cap || memchr(utf8, '\0', (size_t)len)) {
        OPENSSL_free(utf8);
        return MQ_EINVAL;
    }
    memcpy(out, utf8, (size_t)len);
    out[len] = '\0';
    OPENSSL_free(utf8);
    return 1;
}

/* The subject as RFC 2253 text (what Mosquitto's use_subject_as_username gives). */
static int mq_linux_tls_subject(X509 *cert, char *out, size_t cap)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    int rc = MQ_ENOMEM;

    if (!bio)
        return MQ_ENOMEM;
    if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        len = BIO_get_mem_data(bio, &data);
        if (len < 0 || (size_t)len >= cap || memchr(data, '\0', (size_t)len)) {
            rc = MQ_EINVAL;
        } else {
            memcpy(out, data, (size_t)len);
            out[len] = '\0';
            rc = 1;
        }
    }
    BIO_free(bio);
    return rc;
}

int mq_linux_tls_identity(const mq_linux_tls_t *t, SSL *ssl, char *out, size_t cap)
{
    X509 *cert;
    int rc;

    if (!t->cfg.use_identity_as_username && !t->cfg.use_subject_as_username)
        return 0;
    cert = SSL_get1_peer_certificate(ssl);
    if (!cert)
        return MQ_ENOTFOUND;
    if (SSL_get_verify_result(ssl) != X509_V_OK) {
        X509_free(cert);
        return MQ_EINVAL;
    }
    /* Mosquitto: use_identity_as_username wins when both are set. */
    if (t->cfg.use_identity_as_username)
        rc = mq_linux_tls_cn(cert, out, cap);
    else
        rc = mq_linux_tls_subject(cert, out, cap);
    X509_free(cert);
    return rc;
}
