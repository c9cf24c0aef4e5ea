/*
 * Unit tests for src/platform/linux/tls.c — TLS contexts and their reload.
 * Certificates are made at test time with the openssl command line in a
 * temporary directory (nothing secret is committed); the test links tls.c,
 * log.c and OpenSSL.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "musqratt/error.h"
#include "platform/linux/tls.h"

static char g_dir[64];
static mq_linux_log_t g_log = {false};

static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

/* A self-signed certificate NAME.crt/NAME.key with CN=cn. */
static void make_cert(const char *name, const char *cn)
{
    sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
       "-keyout %s.key -out %s.crt -days 2 -subj /CN=%s 2>/dev/null",
       g_dir, name, name, cn);
}

static void path(char *out, size_t cap, const char *file)
{
    snprintf(out, cap, "%s/%s", g_dir, file);
}

static int setup(void **state)
{
    strcpy(g_dir, "/tmp/musqratt-tls-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    make_cert("one", "one");
    make_cert("two", "two");
    return 0;
}

static int teardown(void **state)
{
    sh("rm -rf %s", g_dir);
    return 0;
}

static void listener(mq_listener_config_t *lc, const char *cert)
{
    char name[64];

    memset(lc, 0, sizeof *lc);
    lc->port = 8883;
    snprintf(name, sizeof name, "%s.crt", cert);
    path(lc->certfile, sizeof lc->certfile, name);
    snprintf(name, sizeof name, "%s.key", cert);
    path(lc->keyfile, sizeof lc->keyfile, name);
}

/* The CN of the certificate a new connection's SSL would present. */
static void served_cn(mq_linux_tls_t *t, char *out, size_t cap)
{
    SSL *ssl = mq_linux_tls_ssl_new(t, -1);
    X509 *cert;

    assert_non_null(ssl);
    cert = SSL_get_certificate(ssl);
    assert_non_null(cert);
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, out, (int)cap);
    SSL_free(ssl);
}

static void test_wanted_only_with_tls_files(void **state)
{
    mq_listener_config_t lc;

    memset(&lc, 0, sizeof lc);
    assert_false(mq_linux_tls_wanted(&lc));
    strcpy(lc.cafile, "/x");
    assert_true(mq_linux_tls_wanted(&lc));
}

static void test_reload_serves_new_certificates_to_new_connections(void **state)
{
    mq_listener_config_t lc;
    mq_linux_tls_t *t;
    SSL *old;
    char cn[64], live[256];

    /* The listener's files are "live.crt/live.key": replaced, then reloaded. */
    sh("cd %s && cp one.crt live.crt && cp one.key live.key", g_dir);
    listener(&lc, "live");
    t = mq_linux_tls_new(&lc, &g_log);
    assert_non_null(t);
    served_cn(t, cn, sizeof cn);
    assert_string_equal(cn, "one");
    old = mq_linux_tls_ssl_new(t, -1); /* an existing connection */
    assert_non_null(old);

    sh("cd %s && cp two.crt live.crt && cp two.key live.key", g_dir);
    served_cn(t, cn, sizeof cn);
    assert_string_equal(cn, "one"); /* nothing changes before the reload */
    assert_int_equal(mq_linux_tls_reload(t), MQ_OK);
    served_cn(t, cn, sizeof cn);
    assert_string_equal(cn, "two");
    /* the existing connection keeps its context and certificate */
    X509_NAME_get_text_by_NID(X509_get_subject_name(SSL_get_certificate(old)), NID_commonName,
                              cn, sizeof cn);
    assert_string_equal(cn, "one");
    SSL_free(old);

    /* a broken file: the reload fails and the old context stays */
    path(live, sizeof live, "live.crt");
    sh("echo garbage > %s", live);
    assert_int_equal(mq_linux_tls_reload(t), MQ_ECONFIG);
    served_cn(t, cn, sizeof cn);
    assert_string_equal(cn, "two");
    mq_linux_tls_free(t);
}

static void test_bad_files_fail_at_startup(void **state)
{
    mq_listener_config_t lc;

    listener(&lc, "one");
    path(lc.keyfile, sizeof lc.keyfile, "two.key"); /* does not match */
    assert_null(mq_linux_tls_new(&lc, &g_log));
    listener(&lc, "one");
    path(lc.certfile, sizeof lc.certfile, "missing.crt");
    assert_null(mq_linux_tls_new(&lc, &g_log));
    listener(&lc, "one");
    lc.require_certificate = true; /* without cafile/capath */
    assert_null(mq_linux_tls_new(&lc, &g_log));
    listener(&lc, "one");
    strcpy(lc.ciphers_tls13, "NO_SUCH_SUITE");
    assert_null(mq_linux_tls_new(&lc, &g_log));
}

static void test_minimum_version_follows_tls_version(void **state)
{
    mq_listener_config_t lc;
    mq_linux_tls_t *t;
    SSL *ssl;

    listener(&lc, "one");
    t = mq_linux_tls_new(&lc, &g_log);
    assert_non_null(t);
    ssl = mq_linux_tls_ssl_new(t, -1);
    assert_int_equal(SSL_get_min_proto_version(ssl), TLS1_2_VERSION);
    assert_true(SSL_get_options(ssl) & SSL_OP_NO_RENEGOTIATION);
    SSL_free(ssl);
    mq_linux_tls_free(t);
    lc.tls_version = MQ_TLS_V1_3;
    t = mq_linux_tls_new(&lc, &g_log);
    assert_non_null(t);
    ssl = mq_linux_tls_ssl_new(t, -1);
    assert_int_equal(SSL_get_min_proto_version(ssl), TLS1_3_VERSION);
    SSL_free(ssl);
    mq_linux_tls_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wanted_only_with_tls_files),
        cmocka_unit_test(test_reload_serves_new_certificates_to_new_connections),
        cmocka_unit_test(test_bad_files_fail_at_startup),
        cmocka_unit_test(test_minimum_version_follows_tls_version),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
