/*
 * Unit tests of src/auth/passwd.c (Mosquitto password files) and of the
 * connect hook in src/auth/hooks.c, with vectors made by Debian's
 * mosquitto_passwd (2.0.11) both checked in and made at test time.
 */
#include <unistd.h>

#include "auth_helpers.h"

/* Made by `mosquitto_passwd -c -b FILE alice secret`, `-b FILE bob 'p:w d'`,
 * `-U` on "u1:pass1", and `-H sha512 -c -b FILE alice secret`. */
static const char k_mosq_file[] =
    "alice:$7$101$hsM9Xq53nJ/JzN18$TqYIBk0RzGgkIvXkoMCT/JWPfUrqcaeNiiuvVicdG9JeAwQwBzd/"
    "uaxvxhAHGDB6hxass/W+zhvoovMlwz+0Mg==\n"
    "bob:$7$101$dPG8OfQMSytyDwEU$7ZS+E+kudAFeJXik8WRS4uRjXvnvPYY/qe8DyuGhDm/EDUgyQQG8e+ii4m0rzLE1rBdIwM79IUjZRBzbAD04vQ==\n"
    "u1:$7$101$5i/+RQEyngfM+n3t$aq4n9hHvTDjp9umAhWqZQG/puK8DGKQiUmaAKnS//UBlRsjra+MVMfI1M4gtBKnGvFtWxY2kft7m8S/F7zrRtQ==\n"
    "old:$6$mPlvVMPAZCtuTzER$SnsrBaCg9C4iSPvPc8WGPCvTbiaos4RvNM8RQtZX4D+L4ukIOaFb2Rx6KkhT/2LU8f4guan5SQKcVs6Tdw6f5w==\n";

/* Made by Python's hashlib (an independent PBKDF2 / SHA-512), salt 01..0c. */
static const char k_py7[] = "$7$1000$AQIDBAUGBwgJCgsM$2nI5OKeONU6cg4dLECimR3V2A9/"
                            "43CIqijDe8GPOIVEUUTuY0sVS4qcx1yzZCEPfW9mqlTxbD96GJjAARouiuw==";
static const char k_py6[] = "$6$AQIDBAUGBwgJCgsM$BvAI+Qf6pQOLRl808d6QZTT3a6B0xO5zIcHD3JzY0IlwG27y"
                            "GPwEz2wOVlVnzMCgfQVblzctfy3CVaRYU+etmQ==";

static mq_passwd_t *parse_ok(const char *text, diags_t *d)
{
    mq_passwd_t *pw = NULL;
    assert_int_equal(mq_passwd_parse(&g_alloc, text, strlen(text), "pw", collect, d, &pw), MQ_OK);
    assert_non_null(pw);
    return pw;
}

static bool check(const mq_passwd_t *pw, const char *u, const char *p)
{
    return mq_passwd_check(pw, u, strlen(u), (const uint8_t *)p, p ? strlen(p) : 0);
}

static void test_mosquitto_passwd_vectors(void **state)
{
    (void)state;
    g_live = 0;
    diags_t d = {0};
    mq_passwd_t *pw = parse_ok(k_mosq_file, &d);
    assert_int_equal(d.n, 0);
    assert_int_equal(mq_passwd_count(pw), 4);
    assert_true(check(pw, "alice", "secret"));
    assert_false(check(pw, "alice", "Secret"));
    assert_false(check(pw, "alice", "secret "));
    assert_false(check(pw, "alice", ""));
    assert_false(check(pw, "alice", NULL));
    assert_true(check(pw, "bob", "p:w d"));
    assert_true(check(pw, "u1", "pass1"));
    assert_true(check(pw, "old", "secret")); /* the $6$ format */
    assert_false(check(pw, "old", "secreT"));
    assert_false(check(pw, "nobody", "secret"));
    assert_false(check(pw, "Alice", "secret"));
    assert_true(mq_passwd_has_user(pw, "bob", 3));
    assert_false(mq_passwd_has_user(pw, "bo", 2));
    mq_passwd_free(pw);
    assert_int_equal(g_live, 0);
}

/* mosquitto_passwd run now, with a password this run chose. */
static void test_mosquitto_passwd_at_test_time(void **state)
{
    (void)state;
    char dir[] = "/tmp/mq-passwd-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[128], cmd[512], pass[32];
    snprintf(file, sizeof file, "%s/pw", dir);
    snprintf(pass, sizeof pass, "pw-%ld-x", (long)getpid());
    snprintf(cmd, sizeof cmd, "mosquitto_passwd -c -b %s carol '%s' && mosquitto_passwd -H sha512 -b %s dave '%s'", file, pass, file, pass);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(file, "r");
    assert_non_null(f);
    char text[2048];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    unlink(file);
    rmdir(dir);
    diags_t d = {0};
    mq_passwd_t *pw = parse_ok(text, &d);
    assert_int_equal(d.n, 0);
    assert_true(check(pw, "carol", pass));
    assert_true(check(pw, "dave", pass));
    assert_false(check(pw, "carol", "pw"));
    mq_passwd_free(pw);
}

static void test_hashes_match_independent_implementation(void **state)
{
    (void)state;
    uint8_t salt[12];
    for (int i = 0; i < 12; i++)
        salt[i] = (uint8_t)(i + 1);
    char out[256];
    int n = mq_passwd_hash7((const uint8_t *)"hunter2", 7, 1000, salt, out, sizeof out);
    assert_int_equal(n, (int)strlen(k_py7));
    assert_string_equal(out, k_py7);
    n = mq_passwd_hash6((const uint8_t *)"hunter2", 7, salt, out, sizeof out);
    assert_string_equal(out, k_py6);
    /* The mosquitto_passwd vector, recomputed from its salt. */
    uint8_t msalt[12];
    assert_int_equal(mq_base64_decode("hsM9Xq53nJ/JzN18", 16, msalt, sizeof msalt), 12);
    mq_passwd_hash7((const uint8_t *)"secret", 6, 0, msalt, out, sizeof out);
    assert_memory_equal(out, k_mosq_file + 6, strlen(out));
    /* Too small a buffer. */
    assert_int_equal(mq_passwd_hash7((const uint8_t *)"x", 1, 0, salt, out, 50), MQ_ENOMEM);
    /* Fresh salts differ. */
    char a[256], b[256];
    mq_passwd_hash7((const uint8_t *)"x", 1, 0, NULL, a, sizeof a);
    mq_passwd_hash7((const uint8_t *)"x", 1, 0, NULL, b, sizeof b);
    assert_string_not_equal(a, b);
    /* And they verify. */
    char line[300];
    snprintf(line, sizeof line, "z:%s\n", a);
    mq_passwd_t *pw = parse_ok(line, &(diags_t){0});
    assert_true(check(pw, "z", "x"));
    mq_passwd_free(pw);
}

static void test_base64(void **state)
{
    (void)state;
    uint8_t out[16];
    char enc[32];
    assert_int_equal(mq_base64_decode("", 0, out, sizeof out), 0);
    assert_int_equal(mq_base64_decode("Zg==", 4, out, sizeof out), 1);
    assert_int_equal(out[0], 'f');
    assert_int_equal(mq_base64_decode("Zm8=", 4, out, sizeof out), 2);
    assert_int_equal(mq_base64_decode("Zm9v", 4, out, sizeof out), 3);
    assert_memory_equal(out, "foo", 3);
    assert_int_equal(mq_base64_decode("Zm9", 3, out, sizeof out), -1);   /* length */
    assert_int_equal(mq_base64_decode("Zm9*", 4, out, sizeof out), -1);  /* alphabet */
    assert_int_equal(mq_base64_decode("Zh==", 4, out, sizeof out), -1);  /* not canonical */
    assert_int_equal(mq_base64_decode("Z===", 4, out, sizeof out), -1);
    assert_int_equal(mq_base64_decode("Zg==Zg==", 8, out, sizeof out), -1); /* pad inside */
    assert_int_equal(mq_base64_decode("Zm9vYmFy", 8, out, 5), -1);       /* capacity */
    assert_int_equal(mq_base64_encode((const uint8_t *)"fooba", 5, enc, sizeof enc), 8);
    assert_string_equal(enc, "Zm9vYmE=");
    assert_int_equal(mq_base64_encode((const uint8_t *)"fooba", 5, enc, 8), -1);
}

static void test_bad_lines_are_reported_with_line_numbers(void **state)
{
    (void)state;
    g_live = 0;
    const char *text = "# comment\n"
                       "\n"
                       "plain:secret\n"                   /* 3: not hashed */
                       "nohash\n"                         /* 4 */
                       "badsalt:$7$101$x$y\n"             /* 5 */
                       "baditer:$7$0$AQIDBAUGBwgJCgsM$AAAA\n" /* 6 */
                       ":$7$101$AQIDBAUGBwgJCgsM$AAAA\n"  /* 7: no name */
                       "shorthash:$6$AQIDBAUGBwgJCgsM$AAAA\n" /* 8 */
                       "  alice  :  $7$101$hsM9Xq53nJ/JzN18$TqYIBk0RzGgkIvXkoMCT/"
                       "JWPfUrqcaeNiiuvVicdG9JeAwQwBzd/uaxvxhAHGDB6hxass/W+zhvoovMlwz+0Mg==  \r\n"
                       "alice:$7$101$hsM9Xq53nJ/JzN18$TqYIBk0RzGgkIvXkoMCT/"
                       "JWPfUrqcaeNiiuvVicdG9JeAwQwBzd/uaxvxhAHGDB6hxass/W+zhvoovMlwz+0Mg==\n"
                       "plain2:$5$abc$def"; /* 11, no final newline */
    diags_t d = {0};
    mq_passwd_t *pw = parse_ok(text, &d);
    assert_int_equal(d.errors, 0); /* warnings: the file still loads, as in Mosquitto */
    assert_int_equal(d.n, 8);
    unsigned want[] = {3, 4, 5, 6, 7, 8, 10, 11};
    for (int i = 0; i < 8; i++)
        assert_int_equal(d.line[i], want[i]);
    assert_non_null(strstr(d.msg[0], "plain"));
    assert_non_null(strstr(d.msg[6], "listed again"));
    assert_int_equal(mq_passwd_count(pw), 1);
    assert_true(check(pw, "alice", "secret")); /* trimmed, CRLF */
    assert_false(check(pw, "plain", "secret"));
    assert_false(check(pw, "nohash", ""));
    mq_passwd_free(pw);
    assert_int_equal(g_live, 0);

    /* A NUL byte: not a password file at all. */
    mq_passwd_t *bad = NULL;
    diags_t d2 = {0};
    assert_int_equal(mq_passwd_parse(&g_alloc, "a:b\nc\0d\n", 8, "pw", collect, &d2, &bad),
                     MQ_ECONFIG);
    assert_null(bad);
    assert_int_equal(d2.errors, 1);
    assert_int_equal(d2.line[0], 2);
}

static void test_many_users_hash_table(void **state)
{
    (void)state;
    g_live = 0;
    /* 20000 users sharing one hash: the table must find each (and quickly:
     * a linear list would make this test crawl under ASan). */
    const char *h = "$7$101$hsM9Xq53nJ/JzN18$TqYIBk0RzGgkIvXkoMCT/JWPfUrqcaeNiiuvVicdG9JeAwQwBzd/"
                    "uaxvxhAHGDB6hxass/W+zhvoovMlwz+0Mg==";
    size_t cap = 20000 * 140, n = 0;
    char *text = malloc(cap);
    for (int i = 0; i < 20000; i++)
        n += (size_t)snprintf(text + n, cap - n, "user%d:%s\n", i, h);
    mq_passwd_t *pw = NULL;
    assert_int_equal(mq_passwd_parse(&g_alloc, text, n, "pw", NULL, NULL, &pw), MQ_OK);
    free(text);
    assert_int_equal(mq_passwd_count(pw), 20000);
    for (int i = 0; i < 20000; i++) {
        char u[16];
        snprintf(u, sizeof u, "user%d", i);
        assert_true(mq_passwd_has_user(pw, u, strlen(u)));
    }
    assert_false(mq_passwd_has_user(pw, "user20000", 9));
    assert_true(check(pw, "user12345", "secret"));
    mq_passwd_free(pw);
    assert_int_equal(g_live, 0);
}

static int g_budget;

static void *limited_alloc(void *ctx, size_t n)
{
    if (g_budget-- <= 0)
        return NULL;
    return t_alloc(ctx, n);
}

static void test_allocation_failure_is_clean(void **state)
{
    (void)state;
    const mq_allocator_t a = {limited_alloc, t_free, NULL};
    bool succeeded = false;
    /* Every point of failure gives MQ_ENOMEM and frees what it had. */
    for (int k = 0; k < 12 && !succeeded; k++) {
        g_live = 0;
        g_budget = k;
        mq_passwd_t *pw = NULL;
        int rc = mq_passwd_parse(&a, k_mosq_file, strlen(k_mosq_file), "pw", NULL, NULL, &pw);
        if (rc == MQ_OK) {
            succeeded = true;
            assert_true(check(pw, "bob", "p:w d"));
            mq_passwd_free(pw);
        } else {
            assert_int_equal(rc, MQ_ENOMEM);
            assert_null(pw);
        }
        assert_int_equal(g_live, 0);
    }
    assert_true(succeeded);
}

/* ---- the connect hook, through the broker ---------------------------------- */

static void test_connect_hook_rules(void **state)
{
    (void)state;
    g_live = 0;
    mq_passwd_t *pw = parse_ok(k_mosq_file, &(diags_t){0});
    mq_auth_policy_t strict = {pw, NULL, false};
    mq_auth_policy_t open_ = {pw, NULL, true};
    mq_auth_policy_t nofile = {NULL, NULL, false};
    mq_auth_t auth = {.per_listener = true, .n = 3, .policies = {&strict, &open_, &nofile}};
    mq_broker_t *b = hooked_broker(mq_auth_connect_hook, NULL, &auth);
    mq_conn_t *c;

    for (uint8_t level = 4; level <= 5; level++) {
        /* Mosquitto 2.0.11: 5 (MQTT 5: 0x87) for every refusal. */
        uint8_t refused = level == 5 ? MQ_RC_NOT_AUTHORIZED : MQ_CONNACK_NOT_AUTHORIZED;
        assert_int_equal(try_connect(b, 0, level, "a", "alice", "secret", NULL, NULL), 0);
        assert_int_equal(try_connect(b, 0, level, "a", "alice", "wrong", NULL, NULL), refused);
        assert_int_equal(try_connect(b, 0, level, "a", "alice", NULL, NULL, NULL), refused);
        assert_int_equal(try_connect(b, 0, level, "a", "zed", "secret", NULL, NULL), refused);
        assert_int_equal(try_connect(b, 0, level, "a", NULL, NULL, NULL, NULL), refused);
        assert_int_equal(try_connect(b, 0, level, "a", "old", "secret", NULL, NULL), 0);
        /* Listener 1 allows anonymous clients, but not unknown users. */
        assert_int_equal(try_connect(b, 1, level, "a", NULL, NULL, NULL, NULL), 0);
        assert_int_equal(try_connect(b, 1, level, "a", "zed", "x", NULL, NULL), refused);
        /* Listener 2: no password file: any username passes, no anonymous. */
        assert_int_equal(try_connect(b, 2, level, "a", "zed", "x", NULL, NULL), 0);
        assert_int_equal(try_connect(b, 2, level, "a", NULL, NULL, NULL, NULL), refused);
        /* Listener 3 has no policy: refused. */
        assert_int_equal(try_connect(b, 3, level, "a", "alice", "secret", NULL, NULL), refused);
    }
    /* A transport identity (use_identity_as_username) skips the password
     * check and becomes the username. */
    c = mq_broker_conn_open(b, NULL, 0);
    assert_int_equal(mq_conn_set_identity(b, c, "cert-user"), MQ_OK);
    buf_t p, o;
    mq_packet_t pk[4];
    connect_pkt(&p, 4, "id", NULL, NULL, NULL);
    feed(b, c, &p);
    drain(b, c, &o);
    assert_int_equal(parse(&o, 4, pk, 4), 1);
    assert_int_equal(pk[0].u.connack.rc, 0);
    assert_string_equal(mq_conn_username(c), "cert-user");
    mq_broker_conn_lost(b, c, 0);

    mq_broker_free(b);
    mq_passwd_free(pw);
    assert_int_equal(g_live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mosquitto_passwd_vectors),
        cmocka_unit_test(test_mosquitto_passwd_at_test_time),
        cmocka_unit_test(test_hashes_match_independent_implementation),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_bad_lines_are_reported_with_line_numbers),
        cmocka_unit_test(test_many_users_hash_table),
        cmocka_unit_test(test_allocation_failure_is_clean),
        cmocka_unit_test(test_connect_hook_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
