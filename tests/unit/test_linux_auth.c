/*
 * test_linux_auth — src/platform/linux/auth.c: reading the files a
 * configuration names, installing the hooks, and mq_linux_auth_reload()
 * (a file that fails keeps the old one in force; a new ACL applies at once
 * and the subscriptions are checked again). Real files in a temporary
 * directory; the broker is driven through the core API.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "auth_helpers.h"
#include "musqratt/config.h"
#include "platform/linux/auth.h"

static char g_dir[64];

static const char *path_of(const char *name)
{
    static char p[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", g_dir, name);
    return p[i];
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(path_of(name), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/mq-linux-auth-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    const char *names[] = {"pw", "acl", "conf"};
    for (size_t i = 0; i < 3; i++)
        unlink(path_of(names[i]));
    rmdir(g_dir);
    return 0;
}

/* alice / secret, made by mosquitto_passwd. */
static const char k_alice[] = "alice:$7$101$hsM9Xq53nJ/JzN18$TqYIBk0RzGgkIvXkoMCT/"
                              "JWPfUrqcaeNiiuvVicdG9JeAwQwBzd/uaxvxhAHGDB6hxass/W+zhvoovMlwz+0Mg==\n";
/* bob / p:w d */
static const char k_bob[] = "bob:$7$101$dPG8OfQMSytyDwEU$7ZS+E+kudAFeJXik8WRS4uRjXvnvPYY/"
                            "qe8DyuGhDm/EDUgyQQG8e+ii4m0rzLE1rBdIwM79IUjZRBzbAD04vQ==\n";

static void config(mq_config_t *cfg, const char *text)
{
    mq_config_init(cfg);
    assert_int_equal(mq_config_parse(cfg, text, strlen(text), "conf", NULL, NULL), MQ_OK);
}

static mq_broker_t *broker_for(const mq_config_t *cfg)
{
    mq_platform_t p;
    memset(&p, 0, sizeof p);
    p.allocator = g_alloc;
    p.random = t_random;
    mq_broker_t *b = mq_broker_new(&p, &cfg->broker);
    assert_non_null(b);
    return b;
}

static void test_nothing_configured_installs_nothing(void **state)
{
    (void)state;
    mq_config_t cfg;
    mq_linux_log_t log = {false};
    mq_linux_auth_t *a = (mq_linux_auth_t *)&cfg;
    config(&cfg, "listener 1883\n");
    assert_int_equal(mq_linux_auth_new(&cfg, &log, &a), MQ_OK);
    assert_null(a);
    assert_null(cfg.broker.auth);
    assert_null(cfg.broker.acl);
    assert_int_equal(mq_linux_auth_reload(NULL, NULL), MQ_OK);
}

static void test_missing_or_bad_files_fail_at_startup(void **state)
{
    (void)state;
    mq_config_t cfg;
    mq_linux_log_t log = {false};
    mq_linux_auth_t *a = NULL;
    char text[512];
    snprintf(text, sizeof text, "password_file %s\n", path_of("absent"));
    config(&cfg, text);
    assert_int_equal(mq_linux_auth_new(&cfg, &log, &a), MQ_EIO);
    assert_null(a);
    assert_null(cfg.broker.auth);
    write_file("acl", "topic nonsense here\n");
    snprintf(text, sizeof text, "acl_file %s\n", path_of("acl"));
    config(&cfg, text);
    assert_int_equal(mq_linux_auth_new(&cfg, &log, &a), MQ_ECONFIG);
    assert_null(a);
}

static void test_reload_swaps_files_or_keeps_the_old_ones(void **state)
{
    (void)state;
    g_live = 0;
    mq_config_t cfg;
    mq_linux_log_t log = {false};
    mq_linux_auth_t *a = NULL;
    char text[512];
    write_file("pw", k_alice);
    write_file("acl", "user alice\ntopic readwrite t/#\n");
    snprintf(text, sizeof text, "listener 1883\npassword_file %s\nacl_file %s\n", path_of("pw"),
             path_of("acl"));
    config(&cfg, text);
    assert_int_equal(mq_linux_auth_new(&cfg, &log, &a), MQ_OK);
    assert_non_null(a);
    assert_true(cfg.broker.auth == mq_auth_connect_hook);
    assert_true(cfg.broker.acl == mq_auth_acl_hook);
    mq_broker_t *b = broker_for(&cfg);

    mq_conn_t *c, *p;
    assert_int_equal(try_connect(b, 0, 4, "c", "alice", "secret", NULL, &c), 0);
    assert_int_equal(try_connect(b, 0, 4, "p", "alice", "secret", NULL, &p), 0);
    assert_int_equal(try_connect(b, 0, 4, "d", "bob", "p:w d", NULL, NULL), 5);
    assert_int_equal(try_connect(b, 0, 4, "e", NULL, NULL, NULL, NULL), 5);
    assert_int_equal(sub(b, c, 4, "t/#", 0), 0);
    assert_int_equal(pub(b, p, 4, "t/1", 0, false), 0);
    assert_int_equal(received(b, c, 4, NULL, 0), 1);

    /* Broken files: both stay as they were. */
    write_file("pw", "bob\0broken");
    FILE *f = fopen(path_of("pw"), "w");
    fwrite("bob:x\n\0", 1, 7, f);
    fclose(f);
    write_file("acl", "user alice\ntopic bad access x\n");
    assert_int_equal(mq_linux_auth_reload(a, b), MQ_ECONFIG);
    assert_int_equal(try_connect(b, 0, 4, "c2", "alice", "secret", NULL, NULL), 0);
    assert_int_equal(pub(b, p, 4, "t/2", 0, false), 0);
    assert_int_equal(received(b, c, 4, NULL, 0), 1);

    /* Good files: both change at once; the connected client keeps its
     * session but reads what the new ACL says. */
    write_file("pw", k_bob);
    write_file("acl", "user alice\ntopic readwrite t/new/#\ntopic write t/#\n");
    assert_int_equal(mq_linux_auth_reload(a, b), MQ_OK);
    assert_int_equal(try_connect(b, 0, 4, "c3", "alice", "secret", NULL, NULL), 5);
    assert_int_equal(try_connect(b, 0, 4, "d3", "bob", "p:w d", NULL, NULL), 0);
    assert_int_equal(pub(b, p, 4, "t/3", 0, false), 0);
    assert_int_equal(received(b, c, 4, NULL, 0), 0);
    assert_int_equal(pub(b, p, 4, "t/new/3", 0, false), 0);
    assert_int_equal(received(b, c, 4, NULL, 0), 1);

    /* A file that disappeared: kept too. */
    unlink(path_of("acl"));
    assert_int_equal(mq_linux_auth_reload(a, b), MQ_ECONFIG);
    assert_int_equal(pub(b, p, 4, "t/new/4", 0, false), 0);
    assert_int_equal(received(b, c, 4, NULL, 0), 1);

    mq_broker_free(b);
    mq_linux_auth_free(a);
    assert_int_equal(g_live, 0);
}

static void test_per_listener_policies(void **state)
{
    (void)state;
    mq_config_t cfg;
    mq_linux_log_t log = {false};
    mq_linux_auth_t *a = NULL;
    char text[512];
    write_file("pw", k_alice);
    snprintf(text, sizeof text,
             "per_listener_settings true\nlistener 1883\npassword_file %s\n"
             "listener 1884\nallow_anonymous true\n", path_of("pw"));
    config(&cfg, text);
    assert_int_equal(mq_linux_auth_new(&cfg, &log, &a), MQ_OK);
    assert_null(cfg.broker.acl); /* no ACL file: the hot path stays free */
    mq_broker_t *b = broker_for(&cfg);
    assert_int_equal(try_connect(b, 0, 4, "a", "alice", "secret", NULL, NULL), 0);
    assert_int_equal(try_connect(b, 0, 4, "a", NULL, NULL, NULL, NULL), 5);
    assert_int_equal(try_connect(b, 1, 4, "a", NULL, NULL, NULL, NULL), 0);
    assert_int_equal(try_connect(b, 1, 4, "a", "anyone", "x", NULL, NULL), 0);
    assert_int_equal(try_connect(b, 2, 4, "a", NULL, NULL, NULL, NULL), 5); /* no such listener */
    mq_broker_free(b);
    mq_linux_auth_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_configured_installs_nothing),
        cmocka_unit_test(test_missing_or_bad_files_fail_at_startup),
        cmocka_unit_test(test_reload_swaps_files_or_keeps_the_old_ones),
        cmocka_unit_test(test_per_listener_policies),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
