/*
 * Unit tests of src/auth/acl.c (Mosquitto ACL files: grammar and the
 * decision of Mosquitto 2.0.11, each case checked against the real broker
 * when written), of the ACL hook, and of the core's ACL call sites:
 * PUBLISH (WRITE), SUBSCRIBE, delivery and retained messages (READ), wills,
 * offline queues, and mq_broker_recheck_subscriptions() after a reload.
 */
#include "auth_helpers.h"

static mq_acl_t *acl_ok(const char *text)
{
    mq_acl_t *acl = NULL;
    diags_t d = {0};
    assert_int_equal(mq_acl_parse(&g_alloc, text, strlen(text), "acl", collect, &d, &acl), MQ_OK);
    assert_int_equal(d.n, 0);
    assert_non_null(acl);
    return acl;
}

/* Parses a one-line file; returns the number of errors (0: accepted). */
static unsigned one_line(const char *line)
{
    mq_acl_t *acl = NULL;
    diags_t d = {0};
    int rc = mq_acl_parse(&g_alloc, line, strlen(line), "acl", collect, &d, &acl);
    assert_int_equal(rc, d.errors ? MQ_ECONFIG : MQ_OK);
    assert_true((acl == NULL) == (d.errors != 0));
    mq_acl_free(acl);
    return d.errors;
}

static void test_grammar_as_mosquitto(void **state)
{
    (void)state;
    g_live = 0;
    /* What Mosquitto 2.0.11 refuses to start with ... */
    assert_int_equal(one_line("bogus line\n"), 1);
    assert_int_equal(one_line("topic foo bar\n"), 1);   /* invalid access type */
    assert_int_equal(one_line("user\n"), 1);            /* missing username */
    assert_int_equal(one_line("user   \n"), 1);
    assert_int_equal(one_line("topic\n"), 1);           /* empty topic */
    assert_int_equal(one_line("topic read a/+b\n"), 1); /* not a filter */
    assert_int_equal(one_line("topic read a/#/b\n"), 1);
    assert_int_equal(one_line("pattern write a/b#\n"), 1);
    assert_int_equal(one_line("User bob\n"), 1);        /* keywords are case sensitive */
    assert_int_equal(one_line("topicx read a\n"), 1);
    assert_int_equal(one_line("topic\tread\ta\n"), 1);  /* words are separated by spaces */
    /* ... and what it accepts. */
    assert_int_equal(one_line("  topic read a\n"), 0);
    assert_int_equal(one_line("topic read\n"), 0);      /* the topic "read", readwrite */
    assert_int_equal(one_line("pattern a/%u\n"), 0);
    assert_int_equal(one_line("topic read  a b\n"), 0); /* the topic "a b" */
    assert_int_equal(one_line("# topic foo bar\n\n   \n"), 0);
    assert_int_equal(one_line("topic deny a/#\r\n"), 0);
    assert_int_equal(g_live, 0);

    /* Every error is reported with its line; nothing is built. */
    const char *text = "topic read ok\n"
                       "topic bad access a\n"
                       "user alice\n"
                       "topic readwrite a/#\n"
                       "frobnicate\n"
                       "pattern read x/+y\n";
    mq_acl_t *acl = NULL;
    diags_t d = {0};
    assert_int_equal(mq_acl_parse(&g_alloc, text, strlen(text), "acl", collect, &d, &acl),
                     MQ_ECONFIG);
    assert_null(acl);
    assert_int_equal(d.errors, 3);
    assert_int_equal(d.line[0], 2);
    assert_non_null(strstr(d.msg[0], "'bad'"));
    assert_int_equal(d.line[1], 5);
    assert_int_equal(d.line[2], 6);
    assert_int_equal(g_live, 0);
}

#define R MQ_ACL_READ
#define W MQ_ACL_WRITE

static bool ck(const mq_acl_t *a, const char *user, const char *cid, const char *topic, int acc)
{
    return mq_acl_check(a, user, cid, topic, strlen(topic), acc);
}

/* The cases of the comparison against Mosquitto 2.0.11 (tests/system/
 * test_acl.py runs the same file through both brokers). */
static void test_decisions_as_mosquitto(void **state)
{
    (void)state;
    g_live = 0;
    mq_acl_t *a = acl_ok("# anonymous\n"
                         "topic read anon/#\n"
                         "topic write anonw/#\n"
                         "user alice\n"
                         "topic readwrite a/#\n"
                         "topic deny a/secret\n"
                         "topic read ro/#\n"
                         "user carol\n"
                         "topic readwrite q/#\n"
                         "user root\n"
                         "topic readwrite #\n"
                         "topic read $SYS/#\n"
                         "user empty\n"
                         "pattern readwrite p/%u/#\n"
                         "pattern readwrite c/%c/#\n"
                         "pattern deny q/deny/#\n"
                         "pattern readwrite q2/#\n"
                         "pattern deny q2/x\n");
    /* anonymous: the lines before any user line */
    assert_true(ck(a, NULL, "id", "anon/x", R));
    assert_false(ck(a, NULL, "id", "anon/x", W));
    assert_true(ck(a, NULL, "id", "anonw/x", W));
    assert_false(ck(a, NULL, "id", "anonw/x", R));
    assert_false(ck(a, NULL, "id", "a/x", R));
    /* %u never matches an anonymous client; %c does */
    assert_false(ck(a, NULL, "x", "p/x/1", R));
    assert_true(ck(a, NULL, "anonid", "c/anonid/1", W));
    assert_false(ck(a, NULL, "anonid", "c/other/1", W));
    /* a user's section; its deny wins over its grant, in any order */
    assert_true(ck(a, "alice", "id", "a/b", W));
    assert_true(ck(a, "alice", "id", "a", R)); /* a/# covers a */
    assert_false(ck(a, "alice", "id", "a/secret", R));
    assert_false(ck(a, "alice", "id", "a/secret", W));
    assert_true(ck(a, "alice", "id", "a/secret/x", R));
    assert_true(ck(a, "alice", "id", "ro/1", R));
    assert_false(ck(a, "alice", "id", "ro/1", W));
    assert_false(ck(a, "alice", "id", "anon/x", R)); /* not the anonymous section */
    /* the user's own list is searched before the patterns */
    assert_true(ck(a, "carol", "id", "q/deny/1", R));
    assert_false(ck(a, "alice", "id", "q/deny/1", R));
    assert_false(ck(a, "alice", "id", "q2/x", R)); /* pattern deny first */
    assert_true(ck(a, "alice", "id", "q2/y", R));
    /* patterns for users: %u */
    assert_true(ck(a, "alice", "id", "p/alice/1", W));
    assert_false(ck(a, "alice", "id", "p/bob/1", W));
    assert_true(ck(a, "empty", "id", "p/empty", R));
    assert_true(ck(a, "nobody", "id", "p/nobody/x", R)); /* unknown users get patterns */
    assert_false(ck(a, "nobody", "id", "a/x", R));
    /* '/' in a username or client id is allowed by Mosquitto 2.0.11 ... */
    assert_true(ck(a, "u/x", "id", "p/u/x/1", W));
    assert_true(ck(a, "alice", "a/b", "c/a/b/1", W));
    /* ... '+' and '#' stop every pattern (not the user's own list) */
    assert_false(ck(a, "u+x", "id", "p/u+x/1", W));
    assert_false(ck(a, "u#", "id", "q2/y", W));
    assert_false(ck(a, "alice", "a+b", "q2/y", W));
    assert_false(ck(a, "alice", "a#", "c/a#/1", W));
    assert_true(ck(a, "alice", "a+b", "a/1", W));
    /* $ topics: '#' does not cover them; nobody writes $SYS; $share is not a topic */
    assert_false(ck(a, "root", "id", "$SYS/broker/uptime", W));
    assert_true(ck(a, "root", "id", "$SYS/broker/uptime", R));
    assert_false(ck(a, "root", "id", "$other/x", R));
    assert_false(ck(a, "root", "id", "$share/g/x", R));
    assert_true(ck(a, "root", "id", "any/thing", W));
    /* subscription filters are not checked (Mosquitto 2.0.11) */
    assert_true(ck(a, NULL, "id", "#", MQ_ACL_SUBSCRIBE));
    assert_true(ck(a, "alice", "id", "a/secret", MQ_ACL_SUBSCRIBE));
    mq_acl_free(a);

    /* No pattern and no section for this client: denied. */
    a = acl_ok("user alice\ntopic a\n");
    assert_true(ck(a, "alice", "id", "a", W));
    assert_false(ck(a, NULL, "id", "a", R));
    assert_false(ck(a, "bob", "id", "a", R));
    mq_acl_free(a);
    /* An empty file denies everything. */
    a = acl_ok("");
    assert_false(ck(a, "alice", "id", "a", R));
    mq_acl_free(a);
    assert_int_equal(g_live, 0);
}

static void test_wildcard_matching(void **state)
{
    (void)state;
    mq_acl_t *a = acl_ok("topic +/b\ntopic x/+/z\ntopic m/#\ntopic e/+\ntopic read s/ /t\n");
    assert_true(ck(a, NULL, "i", "a/b", R));
    assert_true(ck(a, NULL, "i", "/b", R));
    assert_false(ck(a, NULL, "i", "a/b/c", R));
    assert_true(ck(a, NULL, "i", "x/y/z", R));
    assert_true(ck(a, NULL, "i", "x//z", R));
    assert_false(ck(a, NULL, "i", "x/y", R));
    assert_false(ck(a, NULL, "i", "x/y/z/w", R));
    assert_true(ck(a, NULL, "i", "m", R));
    assert_true(ck(a, NULL, "i", "m/1/2/3", R));
    assert_false(ck(a, NULL, "i", "mm/x", R));
    assert_true(ck(a, NULL, "i", "e/", R));
    assert_false(ck(a, NULL, "i", "e", R));
    assert_false(ck(a, NULL, "i", "$e/x", R));
    assert_true(ck(a, NULL, "i", "s/ /t", R));
    mq_acl_free(a);
    a = acl_ok("topic +\n");
    assert_true(ck(a, NULL, "i", "single", R));
    assert_false(ck(a, NULL, "i", "two/levels", R));
    mq_acl_free(a);

    /* A pattern whose expansion is longer than the stack buffer. */
    char id[700];
    memset(id, 'k', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    char topic[1500];
    size_t n = strlen(id);
    g_live = 0;
    a = acl_ok("pattern c/%c/%c\n");
    memcpy(topic, "c/", 2);
    memcpy(topic + 2, id, n);
    memcpy(topic + 2 + n, "/zz", 4);
    assert_false(ck(a, NULL, id, topic, R));
    topic[2 + n + 1] = '\0';
    strcat(topic, id);
    assert_true(ck(a, NULL, id, topic, R));
    mq_acl_free(a);
    assert_int_equal(g_live, 0);
}

/* ---- through the broker ----------------------------------------------------------- */

static const char k_acl[] = "user pub\n"
                            "topic write w/#\n"
                            "topic readwrite both/#\n"
                            "topic write $SYS/x\n"
                            "user sub\n"
                            "topic read w/ok/#\n"
                            "topic read both/#\n"
                            "topic deny w/ok/hidden\n"
                            "pattern write will/%c\n"
                            "pattern read will/#\n";

typedef struct world {
    mq_acl_t *acl;
    mq_auth_policy_t pol;
    mq_auth_t auth;
    mq_broker_t *b;
} world_t;

static void world_init(world_t *w, const char *acl_text)
{
    g_live = 0;
    memset(w, 0, sizeof *w);
    w->acl = acl_ok(acl_text);
    w->pol = (mq_auth_policy_t){NULL, w->acl, true};
    w->auth.n = 1;
    w->auth.policies[0] = &w->pol;
    w->b = hooked_broker(mq_auth_connect_hook, mq_auth_acl_hook, &w->auth);
}

static void world_free(world_t *w)
{
    mq_broker_free(w->b);
    mq_acl_free(w->acl);
    assert_int_equal(g_live, 0);
}

static mq_conn_t *login(world_t *w, uint8_t level, const char *id, const char *user)
{
    mq_conn_t *c;
    assert_int_equal(try_connect(w->b, 0, level, id, user, user ? "x" : NULL, NULL, &c), 0);
    return c;
}

static void test_publish_denied_dropped_and_acknowledged(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, k_acl);
    mq_conn_t *s = login(&w, 4, "s", "sub");
    assert_int_equal(sub(w.b, s, 4, "#", 2), 2);
    assert_int_equal(sub(w.b, s, 4, "$SYS/#", 2), 2);
    mq_conn_t *p3 = login(&w, 4, "p3", "pub");
    mq_conn_t *p5 = login(&w, 5, "p5", "pub");

    /* Allowed: delivered. */
    assert_int_equal(pub(w.b, p3, 4, "both/1", 1, false), 0);
    assert_int_equal(received(w.b, s, 4, NULL, 0), 1);
    /* Denied: 3.1.1 acknowledges as usual (PUBACK; PUBREC then PUBCOMP),
     * MQTT 5 with 0x87; QoS 0 gets nothing; nobody receives it. */
    assert_int_equal(pub(w.b, p3, 4, "ro/1", 0, false), 0);
    assert_int_equal(pub(w.b, p3, 4, "ro/1", 1, false), 0);
    assert_int_equal(pub(w.b, p3, 4, "ro/1", 2, false), 0);
    assert_int_equal(pub(w.b, p5, 5, "ro/1", 0, false), 0);
    assert_int_equal(pub(w.b, p5, 5, "ro/1", 1, false), MQ_RC_NOT_AUTHORIZED);
    assert_int_equal(pub(w.b, p5, 5, "ro/1", 2, false), MQ_RC_NOT_AUTHORIZED);
    /* Nobody writes $SYS, whatever the file says. */
    assert_int_equal(pub(w.b, p5, 5, "$SYS/x", 1, false), MQ_RC_NOT_AUTHORIZED);
    assert_int_equal(received(w.b, s, 4, NULL, 0), 0);
    /* A denied retained message is not stored either. */
    assert_int_equal(pub(w.b, p5, 5, "ro/ret", 1, true), MQ_RC_NOT_AUTHORIZED);
    mq_conn_t *s2 = login(&w, 4, "s2", "sub");
    assert_int_equal(sub(w.b, s2, 4, "#", 0), 0);
    assert_int_equal(g_sub_publishes, 0);
    /* (the allowed retained message does come) */
    assert_int_equal(pub(w.b, p5, 5, "both/ret", 1, true), 0);
    assert_int_equal(received(w.b, s2, 4, NULL, 0), 1); /* live */
    assert_int_equal(sub(w.b, s2, 4, "#", 0), 0);
    assert_int_equal(g_sub_publishes, 1);
    assert_string_equal(g_sub_first, "both/ret");
    world_free(&w);
}

static void test_read_hides_deliveries_and_retained(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, k_acl);
    mq_conn_t *p = login(&w, 4, "p", "pub");
    /* Retained before the subscriber comes. */
    pub(w.b, p, 4, "w/ok/ret", 1, true);
    pub(w.b, p, 4, "w/no/ret", 1, true);
    pub(w.b, p, 4, "w/ok/hidden", 1, true);
    mq_conn_t *s = login(&w, 5, "s", "sub");
    char first[64];
    /* The filter itself is allowed (Mosquitto does not check filters)... */
    assert_int_equal(sub(w.b, s, 5, "w/#", 0), 0);
    /* ... but only readable retained messages come. */
    assert_int_equal(g_sub_publishes, 1);
    assert_string_equal(g_sub_first, "w/ok/ret");
    pub(w.b, p, 4, "w/no/1", 1, false);
    pub(w.b, p, 4, "w/ok/hidden", 1, false);
    assert_int_equal(received(w.b, s, 5, NULL, 0), 0);
    pub(w.b, p, 4, "w/ok/1", 1, false);
    assert_int_equal(received(w.b, s, 5, first, sizeof first), 1);
    assert_string_equal(first, "w/ok/1");
    world_free(&w);
}

static void test_will_denied_is_dropped(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, k_acl);
    mq_conn_t *s = login(&w, 4, "s", "sub");
    sub(w.b, s, 4, "will/#", 0);
    mq_conn_t *c;
    /* Mosquitto 2.0.11 accepts the CONNECT and drops the will. */
    assert_int_equal(try_connect(w.b, 0, 4, "me", "pub", "x", "will/other", &c), 0);
    mq_broker_conn_lost(w.b, c, 0);
    assert_int_equal(received(w.b, s, 4, NULL, 0), 0);
    assert_int_equal(try_connect(w.b, 0, 5, "me", "pub", "x", "will/other", &c), 0);
    mq_broker_conn_lost(w.b, c, 0);
    assert_int_equal(received(w.b, s, 4, NULL, 0), 0);
    /* Its own will/%c is allowed. */
    char first[64];
    assert_int_equal(try_connect(w.b, 0, 4, "me", "pub", "x", "will/me", &c), 0);
    mq_broker_conn_lost(w.b, c, 0);
    assert_int_equal(received(w.b, s, 4, first, sizeof first), 1);
    assert_string_equal(first, "will/me");
    world_free(&w);
}

/* A reload swaps the ACL between two broker calls; what is delivered
 * follows at once, including what an offline session queued. */
static void test_reload_takes_effect_at_once(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, "user sub\ntopic read t/#\nuser pub\ntopic write t/#\n");
    mq_conn_t *p = login(&w, 4, "p", "pub");
    mq_conn_t *s = login(&w, 4, "s", "sub");
    sub(w.b, s, 4, "t/#", 0);
    pub(w.b, p, 4, "t/1", 0, false);
    assert_int_equal(received(w.b, s, 4, NULL, 0), 1);

    mq_acl_t *next = acl_ok("user sub\ntopic read t/keep/#\nuser pub\ntopic write t/#\n");
    mq_acl_free(w.acl);
    w.acl = next;
    w.pol.acl = next;
    /* The file ACL checks no filter: no subscription is removed ... */
    assert_int_equal(mq_broker_recheck_subscriptions(w.b), 0);
    /* ... but deliveries follow the new file. */
    pub(w.b, p, 4, "t/1", 0, false);
    assert_int_equal(received(w.b, s, 4, NULL, 0), 0);
    pub(w.b, p, 4, "t/keep/1", 0, false);
    assert_int_equal(received(w.b, s, 4, NULL, 0), 1);
    world_free(&w);
}

/* What an offline session queued is checked when it is delivered, with the
 * ACL in force then. */
static void test_offline_queue_checked_on_delivery(void **state)
{
    (void)state;
    world_t w;
    world_init(&w, "user sub\ntopic read d/#\nuser pub\ntopic write d/#\n");
    buf_t p, o;
    mq_packet_t pk[16];
    /* A persistent session (clean session 0) subscribes and goes away. */
    mq_conn_t *s = mq_broker_conn_open(w.b, NULL, 0);
    connect_pkt(&p, 4, "s", "sub", "x", NULL);
    p.b[9] &= (uint8_t)~0x02; /* connect flags: clean session off */
    assert_int_equal(feed(w.b, s, &p), MQ_OK);
    drain(w.b, s, &o);
    assert_int_equal(sub(w.b, s, 4, "d/#", 1), 1);
    mq_broker_conn_lost(w.b, s, 0);
    mq_conn_t *pc = login(&w, 4, "p", "pub");
    assert_int_equal(pub(w.b, pc, 4, "d/a", 1, false), 0);
    assert_int_equal(pub(w.b, pc, 4, "d/b", 1, false), 0);
    /* The ACL changes while the session is offline. */
    mq_acl_t *next = acl_ok("user sub\ntopic read d/b\nuser pub\ntopic write d/#\n");
    mq_acl_free(w.acl);
    w.acl = next;
    w.pol.acl = next;
    s = mq_broker_conn_open(w.b, NULL, 0);
    assert_int_equal(feed(w.b, s, &p), MQ_OK);
    drain(w.b, s, &o);
    size_t n = parse(&o, 4, pk, 16);
    assert_int_equal(pk[0].fh.type, MQ_PKT_CONNACK);
    assert_int_equal(pk[0].u.connack.session_present, 1);
    assert_int_equal(n, 2);
    assert_int_equal(pk[1].fh.type, MQ_PKT_PUBLISH);
    assert_memory_equal(pk[1].u.publish.topic.ptr, "d/b", 3);
    world_free(&w);
}

/* ---- a hook that refuses subscriptions (the core's call sites) --------------------- */

static const char *g_refuse; /* filter prefix the hook refuses to subscribe */

static bool refusing_hook(void *ctx, const mq_conn_t *c, const char *topic, size_t len, int access)
{
    (void)ctx;
    (void)c;
    if (access != MQ_ACL_SUBSCRIBE || !g_refuse)
        return true;
    return !(len >= strlen(g_refuse) && !memcmp(topic, g_refuse, strlen(g_refuse)));
}

static void test_subscribe_refused_codes_and_recheck(void **state)
{
    (void)state;
    g_live = 0;
    g_refuse = "secret/";
    mq_broker_t *b = hooked_broker(NULL, refusing_hook, NULL);
    mq_conn_t *c3, *c5, *p;
    assert_int_equal(try_connect(b, 0, 4, "c3", NULL, NULL, NULL, &c3), 0);
    assert_int_equal(try_connect(b, 0, 5, "c5", NULL, NULL, NULL, &c5), 0);
    assert_int_equal(try_connect(b, 0, 4, "p", NULL, NULL, NULL, &p), 0);
    assert_int_equal(sub(b, c3, 4, "secret/#", 1), MQ_SUBACK_FAILURE);
    assert_int_equal(sub(b, c5, 5, "secret/#", 1), MQ_RC_NOT_AUTHORIZED);
    assert_int_equal(sub(b, c3, 4, "open/#", 1), 1);
    assert_int_equal(sub(b, c5, 5, "open/#", 1), 1);
    assert_int_equal(sub(b, c5, 5, "open2/#", 0), 0);
    pub(b, p, 4, "secret/1", 0, false);
    assert_int_equal(received(b, c3, 4, NULL, 0), 0);
    assert_int_equal(received(b, c5, 5, NULL, 0), 0);
    mq_broker_stats_t st;
    mq_broker_stats(b, &st);
    assert_int_equal(st.subscriptions, 3);

    /* The hook changes its mind: both open/# subscriptions go, open2 stays. */
    g_refuse = "open/";
    assert_int_equal(mq_broker_recheck_subscriptions(b), 2);
    mq_broker_stats(b, &st);
    assert_int_equal(st.subscriptions, 1);
    pub(b, p, 4, "open/1", 0, false);
    assert_int_equal(received(b, c3, 4, NULL, 0), 0);
    assert_int_equal(received(b, c5, 5, NULL, 0), 0);
    pub(b, p, 4, "open2/1", 0, false);
    assert_int_equal(received(b, c5, 5, NULL, 0), 1);
    assert_int_equal(mq_broker_recheck_subscriptions(b), 0);
    g_refuse = NULL;
    mq_broker_free(b);
    assert_int_equal(g_live, 0);
}

static void test_no_hook_recheck_is_a_no_op(void **state)
{
    (void)state;
    g_live = 0;
    mq_broker_t *b = hooked_broker(NULL, NULL, NULL);
    mq_conn_t *c;
    assert_int_equal(try_connect(b, 0, 4, "c", NULL, NULL, NULL, &c), 0);
    sub(b, c, 4, "a/#", 0);
    assert_int_equal(mq_broker_recheck_subscriptions(b), 0);
    mq_broker_free(b);
    assert_int_equal(g_live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grammar_as_mosquitto),
        cmocka_unit_test(test_decisions_as_mosquitto),
        cmocka_unit_test(test_wildcard_matching),
        cmocka_unit_test(test_publish_denied_dropped_and_acknowledged),
        cmocka_unit_test(test_read_hides_deliveries_and_retained),
        cmocka_unit_test(test_will_denied_is_dropped),
        cmocka_unit_test(test_reload_takes_effect_at_once),
        cmocka_unit_test(test_offline_queue_checked_on_delivery),
        cmocka_unit_test(test_subscribe_refused_codes_and_recheck),
        cmocka_unit_test(test_no_hook_recheck_is_a_no_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
