/*
 * test_config — the mosquitto.conf parser (src/config/config.c).
 *
 * Every directive, every kind of error with the line it is reported on,
 * warnings for Mosquitto directives musqratt does not implement, comments and
 * blanks, and the listener limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "musqratt/config.h"
#include "musqratt/error.h"

#define MAX_DIAGS 64

typedef struct diag {
    char file[64];
    unsigned line;
    bool is_error;
    char msg[256];
} diag_t;

typedef struct diags {
    diag_t d[MAX_DIAGS];
    size_t n;
} diags_t;

static diags_t g_diags;
static mq_config_t g_cfg;

static void collect(void *ctx, const char *file, unsigned line, bool is_error, const char *msg)
{
    diags_t *ds = ctx;

    assert_true(ds->n < MAX_DIAGS);
    snprintf(ds->d[ds->n].file, sizeof ds->d[ds->n].file, "%s", file);
    ds->d[ds->n].line = line;
    ds->d[ds->n].is_error = is_error;
    snprintf(ds->d[ds->n].msg, sizeof ds->d[ds->n].msg, "%s", msg);
    ds->n++;
}

/* Parses text into a fresh g_cfg, collecting diagnostics in g_diags. */
static int parse(const char *text)
{
    memset(&g_diags, 0, sizeof g_diags);
    mq_config_init(&g_cfg);
    return mq_config_parse(&g_cfg, text, strlen(text), "test.conf", collect, &g_diags);
}

/* Asserts that text gives exactly one error, on line, whose message
 * contains needle. */
static void expect_error(const char *text, unsigned line, const char *needle)
{
    int rc = parse(text);

    if (g_diags.n != 1 || !g_diags.d[0].is_error || g_diags.d[0].line != line ||
        !strstr(g_diags.d[0].msg, needle)) {
        print_error("input: %s\n", text);
        for (size_t i = 0; i < g_diags.n; i++)
            print_error("got %s:%u %s: %s\n", g_diags.d[i].file, g_diags.d[i].line,
                        g_diags.d[i].is_error ? "error" : "warning", g_diags.d[i].msg);
        fail_msg("expected one error on line %u containing '%s'", line, needle);
    }
    assert_int_equal(rc, MQ_ECONFIG);
    assert_string_equal(g_diags.d[0].file, "test.conf");
}

static void expect_ok(const char *text)
{
    int rc = parse(text);

    for (size_t i = 0; i < g_diags.n; i++)
        print_error("unexpected %u: %s\n", g_diags.d[i].line, g_diags.d[i].msg);
    assert_int_equal(g_diags.n, 0);
    assert_int_equal(rc, MQ_OK);
}

/* ---- defaults and syntax ---------------------------------------------- */

static void test_init_gives_broker_defaults_and_no_listener(void **state)
{
    mq_broker_config_t defaults;

    memset(&defaults, 0, sizeof defaults);
    mq_broker_config_defaults(&defaults);
    memset(&g_cfg, 0x5a, sizeof g_cfg);
    mq_config_init(&g_cfg);
    assert_memory_equal(&g_cfg.broker, &defaults, sizeof defaults);
    assert_int_equal(g_cfg.n_listeners, 0);
    assert_int_equal(g_cfg.log_types, MQ_LOG_TYPE_DEFAULT);
    assert_int_equal(g_cfg.log_dest, MQ_LOG_DEST_STDERR);
    assert_true(g_cfg.log_timestamp);
    assert_true(g_cfg.broker.connection_messages);
    /* Mosquitto 2 with no password_file still needs allow_anonymous, but
     * musqratt's documented default is to allow anonymous clients. */
    assert_true(g_cfg.broker.allow_anonymous);
}

static void test_empty_text_is_valid(void **state)
{
    mq_broker_config_t before;

    expect_ok("");
    mq_broker_config_defaults(&before);
    assert_memory_equal(&g_cfg.broker, &before, sizeof before);
    assert_int_equal(g_cfg.n_listeners, 0);
}

static void test_comments_blank_lines_and_whitespace(void **state)
{
    expect_ok("# a comment\n"
              "\n"
              "   \t  \n"
              "   # an indented comment with listener 1 words\n"
              "#listener 1234\n"
              "  \t max_keepalive \t  77  \t\n"
              "\r\n"
              "max_sessions 5\r\n"
              "max_topic_nodes 9"); /* no final newline */
    assert_int_equal(g_cfg.broker.max_keepalive, 77);
    assert_int_equal(g_cfg.broker.max_sessions, 5);
    assert_int_equal(g_cfg.broker.max_topic_nodes, 9);
    assert_int_equal(g_cfg.n_listeners, 0);
}

static void test_hash_after_a_directive_is_not_a_comment(void **state)
{
    /* Mosquitto only knows whole-line comments; musqratt says so. */
    expect_error("max_keepalive 10 # seconds\n", 1, "too many arguments");
}

static void test_max_topic_alias(void **state)
{
    expect_ok("max_topic_alias 3\n");
    assert_int_equal(g_cfg.broker.max_topic_alias, 3);
    expect_ok("max_topic_alias 0\n"); /* MQTT 5 clients may not use aliases */
    assert_int_equal(g_cfg.broker.max_topic_alias, 0);
    expect_error("max_topic_alias 65536\n", 1, "65535");
}

static void test_shared_subscription_strategy(void **state)
{
    expect_ok("shared_subscription_strategy random\n");
    assert_int_equal(g_cfg.broker.shared_strategy, MQ_SHARE_RANDOM);
    expect_ok("shared_subscription_strategy round_robin\n");
    assert_int_equal(g_cfg.broker.shared_strategy, MQ_SHARE_ROUND_ROBIN);
    expect_error("shared_subscription_strategy fastest\n", 1, "round_robin or random");
}

static void test_response_information(void **state)
{
    expect_ok("response_information replies/ for  you\n");
    assert_string_equal(g_cfg.response_information, "replies/ for  you");
    assert_ptr_equal(g_cfg.broker.response_information, g_cfg.response_information);
    expect_error("response_information\n", 1, "missing argument");
}

static void test_later_value_wins(void **state)
{
    expect_ok("max_keepalive 10\nmax_keepalive 20\n");
    assert_int_equal(g_cfg.broker.max_keepalive, 20);
}

static void test_parse_adds_to_existing_config(void **state)
{
    mq_config_init(&g_cfg);
    assert_int_equal(mq_config_add_listener(&g_cfg, "127.0.0.1", 1), MQ_OK);
    assert_int_equal(mq_config_parse(&g_cfg, "listener 2\n", 11, "a.conf", NULL, NULL), MQ_OK);
    assert_int_equal(mq_config_parse(&g_cfg, "max_sessions 3\n", 15, "b.conf", NULL, NULL),
                     MQ_OK);
    assert_int_equal(g_cfg.n_listeners, 2);
    assert_int_equal(g_cfg.listeners[0].port, 1);
    assert_int_equal(g_cfg.listeners[1].port, 2);
    assert_int_equal(g_cfg.broker.max_sessions, 3);
}

static void test_null_diag_still_returns_error(void **state)
{
    const char *text = "bogus 1\nmax_sessions 4\n";

    mq_config_init(&g_cfg);
    assert_int_equal(mq_config_parse(&g_cfg, text, strlen(text), "x", NULL, NULL), MQ_ECONFIG);
    assert_int_equal(g_cfg.broker.max_sessions, 4);
}

static void test_len_bounds_the_text(void **state)
{
    /* Only "max_sessions 1" is inside len; the rest must not be read. */
    const char text[] = "max_sessions 12345";

    mq_config_init(&g_cfg);
    assert_int_equal(mq_config_parse(&g_cfg, text, 14, "x", NULL, NULL), MQ_OK);
    assert_int_equal(g_cfg.broker.max_sessions, 1);
}

/* ---- listeners --------------------------------------------------------- */

static void test_listener_port_only_binds_all_addresses(void **state)
{
    expect_ok("listener 1883\n");
    assert_int_equal(g_cfg.n_listeners, 1);
    assert_int_equal(g_cfg.listeners[0].port, 1883);
    assert_string_equal(g_cfg.listeners[0].address, "");
}

static void test_listener_with_addresses(void **state)
{
    expect_ok("listener 1884 127.0.0.1\nlistener 0 ::1\nlistener 65535 localhost\n");
    assert_int_equal(g_cfg.n_listeners, 3);
    assert_int_equal(g_cfg.listeners[0].port, 1884);
    assert_string_equal(g_cfg.listeners[0].address, "127.0.0.1");
    assert_int_equal(g_cfg.listeners[1].port, 0);
    assert_string_equal(g_cfg.listeners[1].address, "::1");
    assert_int_equal(g_cfg.listeners[2].port, 65535);
    assert_string_equal(g_cfg.listeners[2].address, "localhost");
}

static void test_listener_errors(void **state)
{
    expect_error("listener\n", 1, "missing argument");
    expect_error("\nlistener 1 a b\n", 2, "too many arguments");
    expect_error("listener 65536\n", 1, "out of range");
    expect_error("listener -1\n", 1, "negative");
    expect_error("listener 18x3\n", 1, "not a number");
    assert_int_equal(g_cfg.n_listeners, 0);

    char text[300];
    memset(text, 0, sizeof text);
    strcpy(text, "listener 1 ");
    memset(text + strlen(text), 'a', MQ_CONFIG_ADDR_MAX);
    expect_error(text, 1, "address is longer");
    assert_int_equal(g_cfg.n_listeners, 0);
}

static void test_listener_address_at_the_size_limit(void **state)
{
    char text[300];

    memset(text, 0, sizeof text);
    strcpy(text, "listener 1 ");
    memset(text + strlen(text), 'b', MQ_CONFIG_ADDR_MAX - 1);
    expect_ok(text);
    assert_int_equal(strlen(g_cfg.listeners[0].address), MQ_CONFIG_ADDR_MAX - 1);
}

static void test_listener_limit(void **state)
{
    char text[2048];
    size_t off = 0;

    for (unsigned i = 0; i < MQ_CONFIG_MAX_LISTENERS + 2; i++)
        off += (size_t)snprintf(text + off, sizeof text - off, "listener %u\n", 1000 + i);
    assert_int_equal(parse(text), MQ_ECONFIG);
    assert_int_equal(g_cfg.n_listeners, MQ_CONFIG_MAX_LISTENERS);
    assert_int_equal(g_diags.n, 2);
    assert_true(g_diags.d[0].is_error);
    assert_int_equal(g_diags.d[0].line, MQ_CONFIG_MAX_LISTENERS + 1);
    assert_non_null(strstr(g_diags.d[0].msg, "too many listeners"));
    assert_int_equal(g_diags.d[1].line, MQ_CONFIG_MAX_LISTENERS + 2);
    assert_int_equal(g_cfg.listeners[MQ_CONFIG_MAX_LISTENERS - 1].port,
                     1000 + MQ_CONFIG_MAX_LISTENERS - 1);
}

static void test_add_listener(void **state)
{
    char longaddr[MQ_CONFIG_ADDR_MAX + 1];

    mq_config_init(&g_cfg);
    assert_int_equal(mq_config_add_listener(&g_cfg, NULL, 0), MQ_OK);
    assert_string_equal(g_cfg.listeners[0].address, "");
    assert_int_equal(g_cfg.listeners[0].port, 0);
    assert_int_equal(mq_config_add_listener(&g_cfg, "127.0.0.1", 1883), MQ_OK);
    assert_string_equal(g_cfg.listeners[1].address, "127.0.0.1");
    assert_int_equal(g_cfg.listeners[1].port, 1883);

    memset(longaddr, 'x', MQ_CONFIG_ADDR_MAX);
    longaddr[MQ_CONFIG_ADDR_MAX] = '\0';
    assert_int_equal(mq_config_add_listener(&g_cfg, longaddr, 1), MQ_EINVAL);
    assert_int_equal(g_cfg.n_listeners, 2);

    while (g_cfg.n_listeners < MQ_CONFIG_MAX_LISTENERS)
        assert_int_equal(mq_config_add_listener(&g_cfg, "", 1), MQ_OK);
    assert_int_equal(mq_config_add_listener(&g_cfg, "", 1), MQ_ELIMIT);
    assert_int_equal(g_cfg.n_listeners, MQ_CONFIG_MAX_LISTENERS);
}

static void test_port_makes_the_default_listener(void **state)
{
    expect_ok("port 1999\n");
    assert_int_equal(g_cfg.n_listeners, 1);
    assert_int_equal(g_cfg.listeners[0].port, 1999);
    assert_string_equal(g_cfg.listeners[0].address, "");
}

static void test_bind_address_alone_uses_port_1883(void **state)
{
    expect_ok("bind_address 127.0.0.1\n");
    assert_int_equal(g_cfg.n_listeners, 1);
    assert_int_equal(g_cfg.listeners[0].port, 1883);
    assert_string_equal(g_cfg.listeners[0].address, "127.0.0.1");
}

static void test_port_and_bind_address_share_one_listener(void **state)
{
    expect_ok("bind_address ::1\nlistener 2000\nport 2001\nport 2002\n");
    assert_int_equal(g_cfg.n_listeners, 2);
    assert_int_equal(g_cfg.listeners[0].port, 2002);
    assert_string_equal(g_cfg.listeners[0].address, "::1");
    assert_int_equal(g_cfg.listeners[1].port, 2000);
}

static void test_port_and_bind_address_errors(void **state)
{
    expect_error("port\n", 1, "missing argument");
    expect_error("port 1 2\n", 1, "too many arguments");
    expect_error("port 99999\n", 1, "out of range");
    expect_error("bind_address\n", 1, "missing argument");
    expect_error("bind_address a b\n", 1, "too many arguments");
    assert_int_equal(g_cfg.n_listeners, 0);
}

/* ---- booleans ---------------------------------------------------------- */

static void test_booleans(void **state)
{
    expect_ok("allow_anonymous false\nretain_available false\nqueue_qos0_messages true\n"
              "allow_zero_length_clientid false\nset_tcp_nodelay true\n");
    assert_false(g_cfg.broker.allow_anonymous);
    assert_false(g_cfg.broker.retain_available);
    assert_true(g_cfg.broker.queue_qos0_messages);
    assert_false(g_cfg.broker.allow_zero_length_clientid);

    /* Mosquitto's parser also takes 1 and 0. */
    expect_ok("allow_anonymous 0\nretain_available 1\nqueue_qos0_messages 0\n"
              "allow_zero_length_clientid 1\nset_tcp_nodelay false\n");
    assert_false(g_cfg.broker.allow_anonymous);
    assert_true(g_cfg.broker.retain_available);
    assert_false(g_cfg.broker.queue_qos0_messages);
    assert_true(g_cfg.broker.allow_zero_length_clientid);
}

static void test_bad_booleans(void **state)
{
    expect_error("allow_anonymous yes\n", 1, "expected true or false");
    expect_error("\n\nretain_available TRUE\n", 3, "expected true or false");
    expect_error("queue_qos0_messages 2\n", 1, "expected true or false");
    expect_error("allow_zero_length_clientid\n", 1, "missing argument");
    expect_error("set_tcp_nodelay maybe\n", 1, "expected true or false");
    expect_error("allow_anonymous true false\n", 1, "too many arguments");
    /* A bad value leaves the default in place. */
    assert_true(g_cfg.broker.allow_anonymous);
}

/* ---- numbers ----------------------------------------------------------- */

static void test_numeric_directives(void **state)
{
    expect_ok("max_keepalive 65535\n"
              "max_connections 100\n"
              "max_inflight_messages 5\n"
              "max_queued_messages 1000\n"
              "max_queued_bytes 18446744073709551615\n"
              "message_size_limit 268435455\n"
              "max_packet_size 268435460\n"
              "max_memory 1073741824\n"
              "max_sessions 4294967295\n"
              "max_subscriptions_per_client 50\n"
              "max_topic_nodes 123456\n");
    assert_int_equal(g_cfg.broker.max_keepalive, 65535);
    assert_int_equal(g_cfg.broker.max_connections, 100);
    assert_int_equal(g_cfg.broker.max_inflight, 5);
    assert_int_equal(g_cfg.broker.max_queued_messages, 1000);
    assert_true(g_cfg.broker.max_queued_bytes == UINT64_MAX);
    assert_int_equal(g_cfg.broker.message_size_limit, 268435455u);
    assert_int_equal(g_cfg.broker.max_packet_size, 268435460u);
    assert_true(g_cfg.broker.max_memory == 1073741824u);
    assert_int_equal(g_cfg.broker.max_sessions, UINT32_MAX);
    assert_int_equal(g_cfg.broker.max_subscriptions_per_client, 50);
    assert_int_equal(g_cfg.broker.max_topic_nodes, 123456);
}

static void test_zero_means_unlimited(void **state)
{
    expect_ok("max_keepalive 0\nmax_connections 0\nmax_queued_messages 0\n"
              "max_queued_bytes 0\nmessage_size_limit 0\nmax_packet_size 0\n"
              "max_memory 0\nmax_sessions 0\nmax_subscriptions_per_client 0\n"
              "max_topic_nodes 0\n");
    assert_int_equal(g_cfg.broker.max_keepalive, 0);
    assert_int_equal(g_cfg.broker.max_connections, 0);
    assert_int_equal(g_cfg.broker.max_queued_messages, 0);
    assert_true(g_cfg.broker.max_queued_bytes == 0);
    assert_int_equal(g_cfg.broker.message_size_limit, 0);
    assert_int_equal(g_cfg.broker.max_packet_size, 0);
    assert_true(g_cfg.broker.max_memory == 0);
    assert_int_equal(g_cfg.broker.max_sessions, 0);
    assert_int_equal(g_cfg.broker.max_subscriptions_per_client, 0);
    assert_int_equal(g_cfg.broker.max_topic_nodes, 0);
}

static void test_max_connections_minus_one_is_unlimited(void **state)
{
    expect_ok("max_connections 10\nmax_connections -1\n");
    assert_int_equal(g_cfg.broker.max_connections, 0);
    expect_error("max_connections -2\n", 1, "-1 (unlimited)");
    expect_error("max_connections 4294967296\n", 1, "out of range");
}

static void test_max_inflight_zero_is_no_maximum(void **state)
{
    expect_ok("max_inflight_messages 0\n");
    assert_int_equal(g_cfg.broker.max_inflight, UINT16_MAX);
    expect_ok("max_inflight_messages 65535\n");
    assert_int_equal(g_cfg.broker.max_inflight, 65535);
    expect_error("max_inflight_messages 65536\n", 1, "out of range");
}

static void test_max_packet_size_below_20_is_refused(void **state)
{
    expect_ok("max_packet_size 20\n");
    assert_int_equal(g_cfg.broker.max_packet_size, 20);
    expect_error("max_packet_size 19\n", 1, "out of range (0 or 20..");
    expect_error("max_packet_size 268435461\n", 1, "out of range");
}

static void test_bad_numbers(void **state)
{
    expect_error("max_keepalive 65536\n", 1, "out of range (0..65535)");
    expect_error("max_keepalive -1\n", 1, "must not be negative");
    expect_error("max_keepalive 10s\n", 1, "not a number");
    expect_error("max_keepalive 0x10\n", 1, "not a number");
    expect_error("max_keepalive +5\n", 1, "not a number");
    expect_error("max_sessions 4294967296\n", 1, "out of range");
    expect_error("max_memory 18446744073709551616\n", 1, "out of range");
    expect_error("max_memory 99999999999999999999999x\n", 1, "not a number");
    expect_error("message_size_limit 268435456\n", 1, "out of range");
    expect_error("max_queued_messages 1.5\n", 1, "not a number");
    expect_error("max_queued_bytes -0\n", 1, "negative");
    expect_error("max_subscriptions_per_client\n", 1, "missing argument");
    expect_error("max_topic_nodes 1 2\n", 1, "too many arguments");
    /* A bad value leaves the previous one in place. */
    expect_ok("max_keepalive 9");
    assert_int_equal(mq_config_parse(&g_cfg, "max_keepalive 99999", 19, "y", NULL, NULL),
                     MQ_ECONFIG);
    assert_int_equal(g_cfg.broker.max_keepalive, 9);
}

/* ---- durations --------------------------------------------------------- */

static void test_persistent_client_expiration_units(void **state)
{
    static const struct {
        const char *text;
        uint32_t seconds;
    } cases[] = {
        {"persistent_client_expiration 2h\n", 2 * 3600},
        {"persistent_client_expiration 1d\n", 86400},
        {"persistent_client_expiration 2w\n", 14 * 86400},
        {"persistent_client_expiration 1m\n", 30 * 86400},
        {"persistent_client_expiration 1y\n", 365 * 86400},
        {"persistent_client_expiration 0d\n", 0},
        {"persistent_client_expiration 136y\n", 136u * 365 * 86400},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_ok(cases[i].text);
        assert_int_equal(g_cfg.broker.persistent_client_expiration, cases[i].seconds);
    }
}

static void test_bad_durations(void **state)
{
    expect_error("persistent_client_expiration 10\n", 1, "not a duration");
    expect_error("persistent_client_expiration 10s\n", 1, "not a duration");
    expect_error("persistent_client_expiration d\n", 1, "not a duration");
    expect_error("persistent_client_expiration 1.5d\n", 1, "not a duration");
    expect_error("persistent_client_expiration -1d\n", 1, "not a duration");
    expect_error("persistent_client_expiration 137y\n", 1, "out of range");
    expect_error("persistent_client_expiration 99999999999999999999999h\n", 1, "out of range");
    expect_error("persistent_client_expiration\n", 1, "missing argument");
    expect_error("persistent_client_expiration 1d 2d\n", 1, "too many arguments");
}

/* ---- log_type ---------------------------------------------------------- */

static void test_log_type(void **state)
{
    expect_ok("log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
              "log_type subscribe\nlog_type unsubscribe\nlog_type websockets\n");
    assert_int_equal(g_cfg.log_types, MQ_LOG_TYPE_ERROR | MQ_LOG_TYPE_WARNING |
                                          MQ_LOG_TYPE_NOTICE | MQ_LOG_TYPE_INFORMATION |
                                          MQ_LOG_TYPE_SUBSCRIBE | MQ_LOG_TYPE_UNSUBSCRIBE |
                                          MQ_LOG_TYPE_WEBSOCKETS);
    /* The first log_type replaces the default set, later ones add. */
    expect_ok("log_type error\n");
    assert_int_equal(g_cfg.log_types, MQ_LOG_TYPE_ERROR);
    expect_ok("log_type warning\nlog_type debug\n");
    assert_int_equal(g_cfg.log_types, MQ_LOG_TYPE_WARNING | MQ_LOG_TYPE_DEBUG);
    expect_ok("log_type all\n");
    assert_int_equal(g_cfg.log_types, MQ_LOG_TYPE_ALL);
    expect_ok("log_type all\nlog_type none\n");
    assert_int_equal(g_cfg.log_types, 0);
    expect_ok("log_type none\nlog_type error\n");
    assert_int_equal(g_cfg.log_types, MQ_LOG_TYPE_ERROR);
    expect_error("log_type chatty\n", 1, "unknown log type 'chatty'");
    expect_error("log_type\n", 1, "missing argument");
}

/* Parses text; warnings are fine, errors are not. */
static void expect_ok_or_warnings(const char *text)
{
    int rc = parse(text);

    for (size_t i = 0; i < g_diags.n; i++) {
        if (g_diags.d[i].is_error)
            print_error("unexpected error %u: %s\n", g_diags.d[i].line, g_diags.d[i].msg);
        assert_false(g_diags.d[i].is_error);
    }
    assert_int_equal(rc, MQ_OK);
}

/* ---- ops (issue 6): listeners, logging, process, include_dir ----------- */

static void test_unix_socket_listener(void **state)
{
    expect_ok("listener 0 /run/musqratt.sock\nlistener 0 ./rel.sock\nlistener 0 127.0.0.1\n");
    assert_int_equal(g_cfg.n_listeners, 3);
    assert_string_equal(g_cfg.listeners[0].socket_path, "/run/musqratt.sock");
    assert_string_equal(g_cfg.listeners[0].address, "");
    assert_int_equal(g_cfg.listeners[0].port, 0);
    assert_string_equal(g_cfg.listeners[1].socket_path, "./rel.sock");
    /* Port 0 with an address that is not a path: an ephemeral TCP port. */
    assert_string_equal(g_cfg.listeners[2].socket_path, "");
    assert_string_equal(g_cfg.listeners[2].address, "127.0.0.1");
    /* A path on a real port is an address (getaddrinfo will refuse it). */
    expect_ok("listener 1883 /x\n");
    assert_string_equal(g_cfg.listeners[0].address, "/x");
    assert_string_equal(g_cfg.listeners[0].socket_path, "");
}

static void test_unix_socket_path_too_long(void **state)
{
    char text[300];
    char path[MQ_CONFIG_SOCKET_PATH_MAX + 1];

    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    snprintf(text, sizeof text, "\nlistener 0 %s\n", path);
    expect_error(text, 2, "unix socket path is longer than 107 bytes");
    path[sizeof path - 2] = '\0'; /* 107 bytes: fits */
    snprintf(text, sizeof text, "listener 0 %s\n", path);
    expect_ok(text);
    assert_string_equal(g_cfg.listeners[0].socket_path, path);
}

static void test_socket_domain(void **state)
{
    expect_ok("listener 1883\nsocket_domain ipv4\nlistener 1884\nsocket_domain ipv6\n"
              "listener 1885\n");
    assert_int_equal(g_cfg.listeners[0].domain, MQ_DOMAIN_IPV4);
    assert_int_equal(g_cfg.listeners[1].domain, MQ_DOMAIN_IPV6);
    assert_int_equal(g_cfg.listeners[2].domain, MQ_DOMAIN_ANY);
    /* Before any listener: Mosquitto's default listener (port 1883). */
    expect_ok("socket_domain ipv6\n");
    assert_int_equal(g_cfg.n_listeners, 1);
    assert_int_equal(g_cfg.listeners[0].port, 1883);
    assert_int_equal(g_cfg.listeners[0].domain, MQ_DOMAIN_IPV6);
    expect_ok("port 1999\nsocket_domain ipv4\n");
    assert_int_equal(g_cfg.n_listeners, 1);
    assert_int_equal(g_cfg.listeners[0].port, 1999);
    assert_int_equal(g_cfg.listeners[0].domain, MQ_DOMAIN_IPV4);
    expect_error("listener 1\nsocket_domain ipv5\n", 2, "'ipv5' is not ipv4 or ipv6");
    expect_error("socket_domain\n", 1, "missing argument");
}

static void test_bind_interface(void **state)
{
    expect_ok("listener 1883\nbind_interface eth0\nlistener 1884\n");
    assert_string_equal(g_cfg.listeners[0].bind_interface, "eth0");
    assert_string_equal(g_cfg.listeners[1].bind_interface, "");
    expect_ok("listener 1883\nbind_interface 123456789012345\n");
    assert_string_equal(g_cfg.listeners[0].bind_interface, "123456789012345");
    expect_error("listener 1883\nbind_interface 1234567890123456\n", 2,
                 "interface name is longer than 15 bytes");
    expect_error("bind_interface a b\n", 1, "too many arguments");
}

static void test_max_connections_per_listener(void **state)
{
    /* Before any listener: all connections; after one: that listener. */
    expect_ok("max_connections 50\nlistener 1883\nmax_connections 5\nlistener 1884\n"
              "listener 1885\nmax_connections -1\n");
    assert_int_equal(g_cfg.broker.max_connections, 50);
    assert_int_equal(g_cfg.listeners[0].max_connections, 5);
    assert_int_equal(g_cfg.listeners[1].max_connections, 0);
    assert_int_equal(g_cfg.listeners[2].max_connections, 0);
    /* port/bind_address do not make a "current" listener. */
    expect_ok("port 1999\nmax_connections 7\n");
    assert_int_equal(g_cfg.broker.max_connections, 7);
    assert_int_equal(g_cfg.listeners[0].max_connections, 0);
    expect_ok("listener 1\nport 2\nmax_connections 3\n");
    assert_int_equal(g_cfg.listeners[0].max_connections, 3);
    assert_int_equal(g_cfg.listeners[1].max_connections, 0);
    expect_error("listener 1\nmax_connections -5\n", 2, "-1 (unlimited)");
    expect_error("listener 1\nmax_connections x\n", 2, "not a number");
}

static void test_per_listener_settings(void **state)
{
    expect_ok("");
    assert_false(g_cfg.per_listener_settings);
    expect_ok("per_listener_settings true\n");
    assert_true(g_cfg.per_listener_settings);
    expect_error("per_listener_settings maybe\n", 1, "expected true or false");
}

static void test_log_dest(void **state)
{
    expect_ok("log_dest stdout\n");
    assert_int_equal(g_cfg.log_dest, MQ_LOG_DEST_STDOUT);
    expect_ok("log_dest syslog\nlog_dest stderr\nlog_dest file /var/log/m q.log\n");
    assert_int_equal(g_cfg.log_dest,
                     MQ_LOG_DEST_SYSLOG | MQ_LOG_DEST_STDERR | MQ_LOG_DEST_FILE);
    /* The rest of the line is the path, inner blanks kept. */
    assert_string_equal(g_cfg.log_file, "/var/log/m q.log");
    expect_ok("log_dest stderr\nlog_dest none\n");
    assert_int_equal(g_cfg.log_dest, 0);
    expect_ok("log_dest none\nlog_dest syslog\n");
    assert_int_equal(g_cfg.log_dest, MQ_LOG_DEST_SYSLOG);
    expect_error("log_dest file\n", 1, "file needs a path");
    expect_error("log_dest stderr x\n", 1, "too many arguments for stderr");
    expect_error("log_dest printer\n", 1, "unknown destination 'printer'");
    expect_error("log_dest\n", 1, "missing argument");
}

static void test_log_dest_topic_warns(void **state)
{
    int rc = parse("log_dest topic\nlog_dest stdout\n");

    assert_int_equal(rc, MQ_OK);
    assert_int_equal(g_diags.n, 1);
    assert_false(g_diags.d[0].is_error);
    assert_non_null(strstr(g_diags.d[0].msg, "log_dest topic is not supported"));
    assert_int_equal(g_cfg.log_dest, MQ_LOG_DEST_STDOUT);
}

static void test_log_file_path_too_long(void **state)
{
    char text[600];
    char path[MQ_CONFIG_PATH_MAX + 1];

    memset(path, 'p', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    snprintf(text, sizeof text, "log_dest file %s\n", path);
    expect_error(text, 1, "longer than 511 bytes");
}

static void test_log_timestamp_and_format(void **state)
{
    expect_ok("log_timestamp false\n");
    assert_false(g_cfg.log_timestamp);
    expect_ok("log_timestamp_format %Y-%m-%d %H:%M:%S\n");
    assert_string_equal(g_cfg.log_timestamp_format, "%Y-%m-%d %H:%M:%S");
    expect_error("log_timestamp sometimes\n", 1, "expected true or false");
    expect_error("log_timestamp_format\n", 1, "missing argument");
}

static void test_log_facility(void **state)
{
    expect_ok("");
    assert_int_equal(g_cfg.log_facility, 255);
    expect_ok("log_facility 5\n");
    assert_int_equal(g_cfg.log_facility, 5);
    expect_error("log_facility 8\n", 1, "out of range (0..7)");
}

static void test_connection_messages(void **state)
{
    expect_ok("connection_messages false\n");
    assert_false(g_cfg.broker.connection_messages);
    expect_ok("connection_messages true\n");
    assert_true(g_cfg.broker.connection_messages);
    expect_error("connection_messages loud\n", 1, "expected true or false");
}

static void test_pid_file_and_user(void **state)
{
    expect_ok("pid_file /run/mosquitto/mosquitto.pid\nuser mosquitto\n");
    assert_string_equal(g_cfg.pid_file, "/run/mosquitto/mosquitto.pid");
    assert_string_equal(g_cfg.user, "mosquitto");
    expect_ok("pid_file /tmp/a b.pid\n");
    assert_string_equal(g_cfg.pid_file, "/tmp/a b.pid");
    expect_error("user a b\n", 1, "too many arguments");
    expect_error("pid_file\n", 1, "missing argument");
    {
        char text[200];
        char name[MQ_CONFIG_NAME_MAX + 1];

        memset(name, 'u', sizeof name - 1);
        name[sizeof name - 1] = '\0';
        snprintf(text, sizeof text, "user %s\n", name);
        expect_error(text, 1, "user: longer than 63 bytes");
    }
}

/* include_dir: an in-memory directory read by a fake platform. */
typedef struct fake_dir {
    const char *dir;
    const char *names[4]; /* in readdir order */
    const char *texts[4];
    unsigned calls;
    char got_dir[64];
    char got_file[64];
    unsigned got_line;
} fake_dir_t;

static int fake_include(const mq_config_io_t *io, mq_config_t *cfg, const char *dir,
                        const char *file, unsigned line)
{
    fake_dir_t *fd = io->include_ctx;
    char *names[4];
    size_t n = 0;
    int rc = MQ_OK;

    fd->calls++;
    snprintf(fd->got_dir, sizeof fd->got_dir, "%s", dir);
    snprintf(fd->got_file, sizeof fd->got_file, "%s", file);
    fd->got_line = line;
    if (strcmp(dir, fd->dir) != 0) {
        io->diag(io->diag_ctx, file, line, true, "include_dir: cannot open");
        return MQ_ECONFIG;
    }
    for (size_t i = 0; i < 4 && fd->names[i]; i++)
        if (mq_config_include_name(fd->names[i]))
            names[n++] = (char *)fd->names[i];
    mq_config_include_sort(names, n);
    for (size_t i = 0; i < n; i++) {
        const char *text = NULL;

        for (size_t j = 0; j < 4; j++)
            if (fd->names[j] == names[i])
                text = fd->texts[j];
        if (mq_config_parse_include(cfg, text, strlen(text), names[i], io) != MQ_OK)
            rc = MQ_ECONFIG;
    }
    return rc;
}

static int parse_io(const char *text, fake_dir_t *fd)
{
    mq_config_io_t io;

    memset(&g_diags, 0, sizeof g_diags);
    memset(&io, 0, sizeof io);
    io.diag = collect;
    io.diag_ctx = &g_diags;
    io.include = fake_include;
    io.include_ctx = fd;
    mq_config_init(&g_cfg);
    return mq_config_parse_io(&g_cfg, text, strlen(text), "main.conf", &io);
}

static void test_include_name_and_sort(void **state)
{
    char *names[] = {"b.conf", "a.conf", "B.conf", "10.conf", "9.conf", "a_b.conf", "ab.conf"};
    static const char *const want[] = {"10.conf", "9.conf",   "B.conf", "a.conf",
                                       "a_b.conf", "ab.conf", "b.conf"};

    assert_true(mq_config_include_name("x.conf"));
    assert_true(mq_config_include_name("..conf"));
    assert_false(mq_config_include_name(".conf"));
    assert_false(mq_config_include_name("x.conf~"));
    assert_false(mq_config_include_name("x.CONF"));
    assert_false(mq_config_include_name("README"));
    assert_false(mq_config_include_name("conf"));
    mq_config_include_sort(names, sizeof names / sizeof names[0]);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(names[i], want[i]);
    mq_config_include_sort(names, 0); /* nothing to do, no crash */
}

static void test_include_dir_files_in_order(void **state)
{
    fake_dir_t fd = {
        .dir = "/etc/musqratt/conf.d",
        .names = {"z.conf", "README", "a.conf", "B.conf"},
        /* Later files win: order decides max_keepalive. */
        .texts = {"max_keepalive 30\n", "not a config\n", "max_keepalive 20\nlistener 1884\n",
                  "max_keepalive 10\n"},
    };
    int rc = parse_io("listener 1883\nmax_connections 4\ninclude_dir /etc/musqratt/conf.d\n"
                      "max_sessions 9\n",
                      &fd);

    assert_int_equal(rc, MQ_OK);
    assert_int_equal(g_diags.n, 0);
    assert_int_equal(fd.calls, 1);
    assert_string_equal(fd.got_file, "main.conf");
    assert_int_equal(fd.got_line, 3);
    assert_int_equal(g_cfg.broker.max_keepalive, 30); /* B, a, z */
    assert_int_equal(g_cfg.n_listeners, 2);
    assert_int_equal(g_cfg.listeners[0].max_connections, 4);
    assert_int_equal(g_cfg.broker.max_sessions, 9);
}

static void test_include_dir_errors_name_the_included_file(void **state)
{
    fake_dir_t fd = {
        .dir = "d",
        .names = {"b.conf", "a.conf"},
        .texts = {"\nmax_keepalive x\n", "bogus 1\n"},
    };
    int rc = parse_io("include_dir d\nmax_sessions 3\n", &fd);

    assert_int_equal(rc, MQ_ECONFIG);
    assert_int_equal(g_diags.n, 2);
    assert_string_equal(g_diags.d[0].file, "a.conf");
    assert_int_equal(g_diags.d[0].line, 1);
    assert_non_null(strstr(g_diags.d[0].msg, "unknown directive 'bogus'"));
    assert_string_equal(g_diags.d[1].file, "b.conf");
    assert_int_equal(g_diags.d[1].line, 2);
    assert_non_null(strstr(g_diags.d[1].msg, "not a number"));
    /* The main file goes on after the include. */
    assert_int_equal(g_cfg.broker.max_sessions, 3);
}

static void test_include_dir_unreadable(void **state)
{
    fake_dir_t fd = {.dir = "d"};
    int rc = parse_io("\ninclude_dir /nope\n", &fd);

    assert_int_equal(rc, MQ_ECONFIG);
    assert_int_equal(g_diags.n, 1);
    assert_string_equal(g_diags.d[0].file, "main.conf");
    assert_int_equal(g_diags.d[0].line, 2);
    assert_string_equal(fd.got_dir, "/nope");
}

static void test_include_dir_not_nested(void **state)
{
    fake_dir_t fd = {
        .dir = "d",
        .names = {"a.conf"},
        .texts = {"include_dir d\n"},
    };
    int rc = parse_io("include_dir d\n", &fd);

    assert_int_equal(rc, MQ_ECONFIG);
    assert_int_equal(fd.calls, 1); /* the nested one never reaches the platform */
    assert_int_equal(g_diags.n, 1);
    assert_string_equal(g_diags.d[0].file, "a.conf");
    assert_non_null(strstr(g_diags.d[0].msg, "only allowed in the main configuration file"));
}

static void test_include_dir_without_reader(void **state)
{
    expect_error("include_dir /etc/x\n", 1, "include_dir: no directory reader");
    expect_error("include_dir\n", 1, "missing argument");
}

static void test_include_dir_keeps_path_blanks(void **state)
{
    fake_dir_t fd = {.dir = "/my dir"};
    int rc = parse_io("include_dir /my dir\n", &fd);

    assert_int_equal(rc, MQ_OK);
    assert_string_equal(fd.got_dir, "/my dir");
}

static void test_debian_mosquitto_conf(void **state)
{
    /* Debian's /etc/mosquitto/mosquitto.conf (mosquitto 2.0.11), include_dir
     * aside (read by the platform; see tests/system/test_ops.py). */
    expect_ok_or_warnings("pid_file /run/mosquitto/mosquitto.pid\n\n"
                          "persistence true\npersistence_location /var/lib/mosquitto/\n\n"
                          "log_dest file /var/log/mosquitto/mosquitto.log\n");
    assert_string_equal(g_cfg.pid_file, "/run/mosquitto/mosquitto.pid");
    assert_int_equal(g_cfg.log_dest, MQ_LOG_DEST_FILE);
    assert_string_equal(g_cfg.log_file, "/var/log/mosquitto/mosquitto.log");
}

/* ---- unknown and unsupported directives -------------------------------- */

static void test_unknown_directive_is_an_error(void **state)
{
    expect_error("# header\n\nmax_keepalives 10\n", 3, "unknown directive 'max_keepalives'");
    expect_error("Port 1883\n", 1, "unknown directive 'Port'");
}

static void test_unsupported_mosquitto_directives_warn(void **state)
{
    static const char *const names[] = {
        "dhparamfile x", "tls_engine e", "persistence true", "persistence_location /var",
        "persistence_file a.db", "autosave_interval 1800", "mount_point a/", "http_dir /www",
        "max_qos 1", "log_dest topic", "websockets_headers_size 4096", "psk_hint h",
        "psk_file f", "clientid_prefixes x", "upgrade_outgoing_qos false",
        "max_inflight_bytes 0", "check_retain_source true", "memory_limit 0",
        "auth_plugin /x.so", "plugin /x.so", "plugin_opt_db x", "auth_opt_db y",
        "connection br", "address 10.0.0.1:1883", "topic # both 0",
        "bridge_protocol_version mqttv311", "bridge_insecure false",
    };
    char text[256];

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char name[64];
        int rc;

        snprintf(text, sizeof text, "\n%s\nmax_sessions 7\n", names[i]);
        sscanf(names[i], "%63s", name);
        rc = parse(text);
        assert_int_equal(rc, MQ_OK);
        assert_int_equal(g_diags.n, 1);
        assert_false(g_diags.d[0].is_error);
        assert_int_equal(g_diags.d[0].line, 2);
        if (!strstr(g_diags.d[0].msg, name))
            fail_msg("warning '%s' does not name '%s'", g_diags.d[0].msg, name);
        assert_int_equal(g_cfg.broker.max_sessions, 7);
    }
}

/* ---- listener transports: TLS and WebSockets ---------------------------- */

static void test_transport_directives_apply_to_the_last_listener(void **state)
{
    expect_ok("listener 1883\n"
              "listener 8883 127.0.0.1\n"
              "cafile /etc/ca.crt\ncapath /etc/cas\ncertfile /etc/s.crt\nkeyfile /etc/s.key\n"
              "crlfile /etc/crl.pem\nrequire_certificate true\nuse_identity_as_username 1\n"
              "use_subject_as_username false\ntls_version tlsv1.3\nciphers HIGH\n"
              "ciphers_tls1.3 TLS_AES_256_GCM_SHA384\n"
              "listener 8080\nprotocol websockets\nwebsockets_path /mqtt\n"
              "websockets_log_level 255\n");
    assert_int_equal(g_cfg.n_listeners, 3);
    const mq_listener_config_t *plain = &g_cfg.listeners[0], *tls = &g_cfg.listeners[1],
                               *ws = &g_cfg.listeners[2];
    assert_string_equal(plain->certfile, "");
    assert_int_equal(plain->protocol, MQ_LISTENER_MQTT);
    assert_string_equal(tls->cafile, "/etc/ca.crt");
    assert_string_equal(tls->capath, "/etc/cas");
    assert_string_equal(tls->certfile, "/etc/s.crt");
    assert_string_equal(tls->keyfile, "/etc/s.key");
    assert_string_equal(tls->crlfile, "/etc/crl.pem");
    assert_true(tls->require_certificate);
    assert_true(tls->use_identity_as_username);
    assert_false(tls->use_subject_as_username);
    assert_int_equal(tls->tls_version, MQ_TLS_V1_3);
    assert_string_equal(tls->ciphers, "HIGH");
    assert_string_equal(tls->ciphers_tls13, "TLS_AES_256_GCM_SHA384");
    assert_int_equal(tls->protocol, MQ_LISTENER_MQTT);
    assert_int_equal(ws->protocol, MQ_LISTENER_WEBSOCKETS);
    assert_string_equal(ws->websockets_path, "/mqtt");
    assert_string_equal(ws->certfile, "");
}

static void test_transport_directives_before_a_listener_make_the_default_one(void **state)
{
    /* Mosquitto: settings before any `listener` belong to the default
     * listener, which `port` also edits. */
    expect_ok("certfile /s.crt\nport 8883\nlistener 1884\n");
    assert_int_equal(g_cfg.n_listeners, 2);
    assert_int_equal(g_cfg.listeners[0].port, 8883);
    assert_string_equal(g_cfg.listeners[0].certfile, "/s.crt");
    assert_string_equal(g_cfg.listeners[1].certfile, "");
}

static void test_transport_directive_errors(void **state)
{
    char text[700];

    expect_error("listener 1\nprotocol http\n", 2, "not mqtt or websockets");
    expect_error("listener 1\ntls_version sslv3\n", 2, "not tlsv1.3, tlsv1.2 or tlsv1.1");
    expect_error("listener 1\nrequire_certificate yes\n", 2, "expected true or false");
    expect_error("listener 1\nwebsockets_log_level x\n", 2, "not a number");
    expect_error("listener 1\ncafile\n", 2, "missing argument");
    snprintf(text, sizeof text, "listener 1\ncertfile /%0600d\n", 0);
    expect_error(text, 2, "longer than 511 bytes");
    parse("listener 1\ntls_version tlsv1.1\n");
    assert_int_equal(g_cfg.listeners[0].tls_version, MQ_TLS_V1_1);
}

static void test_prefixes_alone_are_unknown(void **state)
{
    /* "bridge_" is a family, not a directive. */
    expect_error("bridge_\n", 1, "unknown directive");
    expect_error("plugin_opt_\n", 1, "unknown directive");
}

/* ---- authentication and access control ---------------------------------- */

static void expect_security(size_t i, const char *pw, const char *acl, bool anon)
{
    mq_security_config_t sec;

    mq_config_security(&g_cfg, i, &sec);
    assert_string_equal(sec.password_file, pw);
    assert_string_equal(sec.acl_file, acl);
    assert_true(sec.allow_anonymous_set);
    assert_int_equal(sec.allow_anonymous, anon);
}

static void test_security_directives_global(void **state)
{
    /* Paths are the rest of the line; the last word of the directive is
     * not special. allow_anonymous without a value given: Mosquitto 2.0's
     * default, false once the file defines a listener. */
    expect_ok("password_file /etc/my pw\nlistener 1883\nacl_file /etc/acl\n");
    expect_security(0, "/etc/my pw", "/etc/acl", false);
    assert_false(g_cfg.broker.allow_anonymous);
    assert_false(g_cfg.per_listener_settings);
    expect_ok("port 1884\n");
    expect_security(0, "", "", false);
    assert_false(g_cfg.broker.allow_anonymous);
    /* No listener in the file: anonymous clients stay allowed. */
    expect_ok("password_file /p\n");
    expect_security(0, "/p", "", true);
    assert_true(g_cfg.broker.allow_anonymous);
    expect_ok("listener 1883\nallow_anonymous true\n");
    expect_security(0, "", "", true);
    assert_true(g_cfg.broker.allow_anonymous);
    /* One of each for the whole broker (Mosquitto: "Duplicate"). */
    expect_error("password_file /a\nlistener 1\npassword_file /b\n", 3, "given twice");
    expect_error("acl_file /a\nacl_file /a\n", 2, "given twice");
    expect_error("acl_file\n", 1, "missing argument");
    char text[700] = "acl_file /";
    memset(text + 10, 'x', 600);
    expect_error(text, 1, "path longer");
}

static void test_security_directives_per_listener(void **state)
{
    expect_ok("per_listener_settings true\n"
              "password_file /default\n"   /* before any listener: the default one */
              "allow_anonymous true\n"
              "listener 1883\n"
              "password_file /one\n"
              "acl_file /acl-one\n"
              "listener 1884\n"
              "allow_anonymous true\n"
              "listener 1885\n"
              "password_file /three\n"
              "port 1886\n");
    assert_true(g_cfg.per_listener_settings);
    assert_int_equal(g_cfg.n_listeners, 4);
    expect_security(0, "/one", "/acl-one", false);
    expect_security(1, "", "", true);
    expect_security(2, "/three", "", false);
    expect_security(3, "/default", "", true); /* `port`: the default listener */
    /* The same file twice is fine on different listeners, not on one. */
    expect_error("per_listener_settings true\nlistener 1\npassword_file /a\n"
                 "listener 2\npassword_file /a\npassword_file /b\n", 6, "given twice");
    /* A listener added from the command line is the default listener. */
    expect_ok("per_listener_settings true\nacl_file /d\n");
    assert_int_equal(mq_config_add_listener(&g_cfg, "127.0.0.1", 0), MQ_OK);
    expect_security(0, "", "/d", true);
    expect_error("per_listener_settings maybe\n", 1, "expected true or false");
}

/* ---- several problems -------------------------------------------------- */

static void test_parsing_goes_on_after_errors(void **state)
{
    const char *text = "max_keepalive 70000\n"   /* 1: error */
                       "allow_anonymous false\n" /* 2 */
                       "psk_file /x\n"           /* 3: warning */
                       "nonsense\n"              /* 4: error */
                       "listener 1884\n"         /* 5 */
                       "listener\n"              /* 6: error */
                       "max_sessions 11\n";      /* 7 */

    assert_int_equal(parse(text), MQ_ECONFIG);
    assert_int_equal(g_diags.n, 4);
    assert_true(g_diags.d[0].is_error);
    assert_int_equal(g_diags.d[0].line, 1);
    assert_false(g_diags.d[1].is_error);
    assert_int_equal(g_diags.d[1].line, 3);
    assert_true(g_diags.d[2].is_error);
    assert_int_equal(g_diags.d[2].line, 4);
    assert_true(g_diags.d[3].is_error);
    assert_int_equal(g_diags.d[3].line, 6);
    for (size_t i = 0; i < g_diags.n; i++)
        assert_string_equal(g_diags.d[i].file, "test.conf");
    assert_false(g_cfg.broker.allow_anonymous);
    assert_int_equal(g_cfg.n_listeners, 1);
    assert_int_equal(g_cfg.listeners[0].port, 1884);
    assert_int_equal(g_cfg.broker.max_sessions, 11);
}

static void test_long_tokens_are_quoted_briefly(void **state)
{
    char text[2048];

    memset(text, 0, sizeof text);
    memcpy(text, "max_keepalive ", 14);
    memset(text + 14, '7', 1500);
    expect_error(text, 1, "out of range");
    assert_true(strlen(g_diags.d[0].msg) < 200);
}

static void test_many_arguments_are_counted(void **state)
{
    expect_error("listener 1 2 3 4 5 6 7 8 9 10 11 12\n", 1, "got 12");
}

static void test_crlf_line_numbers(void **state)
{
    expect_error("# x\r\n\r\nmax_keepalive x\r\n", 3, "not a number");
}

static void test_nul_byte_in_text(void **state)
{
    const char text[] = "max_sessions 1\nport\0x 1\nmax_topic_nodes 2\n";

    memset(&g_diags, 0, sizeof g_diags);
    mq_config_init(&g_cfg);
    assert_int_equal(mq_config_parse(&g_cfg, text, sizeof text - 1, "test.conf", collect,
                                     &g_diags),
                     MQ_ECONFIG);
    assert_int_equal(g_diags.n, 1);
    assert_int_equal(g_diags.d[0].line, 2);
    assert_int_equal(g_cfg.broker.max_sessions, 1);
    assert_int_equal(g_cfg.broker.max_topic_nodes, 2);
}

/* ---- observability and overload protection ---------------------------- */

static void test_sys_interval(void **state)
{
    parse("");
    assert_int_equal(g_cfg.broker.sys_interval, 10); /* Mosquitto's default */
    expect_ok("sys_interval 0\n");                    /* no $SYS tree */
    assert_int_equal(g_cfg.broker.sys_interval, 0);
    expect_ok("sys_interval 65535\n");
    assert_int_equal(g_cfg.broker.sys_interval, 65535);
    expect_error("\nsys_interval 65536\n", 2, "out of range (0..65535)");
    expect_error("sys_interval -1\n", 1, "must not be negative");
    expect_error("sys_interval 10s\n", 1, "not a number");
    expect_error("sys_interval\n", 1, "missing argument");
}

static void test_max_queued_memory(void **state)
{
    parse("");
    assert_int_equal(g_cfg.broker.max_queued_memory, 0); /* unlimited */
    expect_ok("max_queued_memory 1048576\n");
    assert_int_equal(g_cfg.broker.max_queued_memory, 1048576);
    expect_ok("max_queued_memory 18446744073709551615\n");
    assert_true(g_cfg.broker.max_queued_memory == UINT64_MAX);
    expect_error("max_queued_memory 18446744073709551616\n", 1, "out of range");
    expect_error("max_queued_memory 1M\n", 1, "not a number");
}

static void test_max_connection_rate_global_and_per_listener(void **state)
{
    expect_ok("max_connection_rate 50\n"
              "listener 1883\n"
              "listener 1884\n"
              "max_connection_rate 5\n"
              "listener 1885\n"
              "max_connection_rate 0\n");
    assert_int_equal(g_cfg.max_connection_rate, 50);
    assert_int_equal(g_cfg.n_listeners, 3);
    assert_false(g_cfg.listeners[0].connection_rate_set);
    assert_true(g_cfg.listeners[1].connection_rate_set);
    assert_int_equal(g_cfg.listeners[1].max_connection_rate, 5);
    assert_true(g_cfg.listeners[2].connection_rate_set);
    assert_int_equal(g_cfg.listeners[2].max_connection_rate, 0);
    parse("");
    assert_int_equal(g_cfg.max_connection_rate, 0);
    expect_error("listener 1883\n\nmax_connection_rate 1000001\n", 3,
                 "out of range (0..1000000)");
    expect_error("max_connection_rate fast\n", 1, "not a number");
    expect_error("max_connection_rate 1 2\n", 1, "too many arguments");
}

static void test_metrics_listener(void **state)
{
    parse("");
    assert_false(g_cfg.metrics_enabled);
    expect_ok("metrics_listener 9100\n");
    assert_true(g_cfg.metrics_enabled);
    assert_int_equal(g_cfg.metrics_port, 9100);
    assert_string_equal(g_cfg.metrics_address, "127.0.0.1"); /* local by default */
    expect_ok("metrics_listener 0 ::1\n");
    assert_int_equal(g_cfg.metrics_port, 0);
    assert_string_equal(g_cfg.metrics_address, "::1");
    assert_int_equal(g_cfg.n_listeners, 0); /* not an MQTT listener */
    expect_error("metrics_listener 65536\n", 1, "out of range");
    expect_error("metrics_listener\n", 1, "missing argument");
    expect_error("metrics_listener 9100 127.0.0.1 x\n", 1, "too many arguments");
    expect_error("metrics_listener 9100\nmetrics_listener 9101\n", 2, "given twice");
    assert_int_equal(g_cfg.metrics_port, 9100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_gives_broker_defaults_and_no_listener),
        cmocka_unit_test(test_sys_interval),
        cmocka_unit_test(test_max_queued_memory),
        cmocka_unit_test(test_max_connection_rate_global_and_per_listener),
        cmocka_unit_test(test_metrics_listener),
        cmocka_unit_test(test_empty_text_is_valid),
        cmocka_unit_test(test_comments_blank_lines_and_whitespace),
        cmocka_unit_test(test_hash_after_a_directive_is_not_a_comment),
        cmocka_unit_test(test_max_topic_alias),
        cmocka_unit_test(test_shared_subscription_strategy),
        cmocka_unit_test(test_response_information),
        cmocka_unit_test(test_later_value_wins),
        cmocka_unit_test(test_parse_adds_to_existing_config),
        cmocka_unit_test(test_null_diag_still_returns_error),
        cmocka_unit_test(test_len_bounds_the_text),
        cmocka_unit_test(test_listener_port_only_binds_all_addresses),
        cmocka_unit_test(test_listener_with_addresses),
        cmocka_unit_test(test_listener_errors),
        cmocka_unit_test(test_listener_address_at_the_size_limit),
        cmocka_unit_test(test_listener_limit),
        cmocka_unit_test(test_add_listener),
        cmocka_unit_test(test_port_makes_the_default_listener),
        cmocka_unit_test(test_bind_address_alone_uses_port_1883),
        cmocka_unit_test(test_port_and_bind_address_share_one_listener),
        cmocka_unit_test(test_port_and_bind_address_errors),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_bad_booleans),
        cmocka_unit_test(test_numeric_directives),
        cmocka_unit_test(test_zero_means_unlimited),
        cmocka_unit_test(test_max_connections_minus_one_is_unlimited),
        cmocka_unit_test(test_max_inflight_zero_is_no_maximum),
        cmocka_unit_test(test_max_packet_size_below_20_is_refused),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_persistent_client_expiration_units),
        cmocka_unit_test(test_bad_durations),
        cmocka_unit_test(test_log_type),
        cmocka_unit_test(test_unix_socket_listener),
        cmocka_unit_test(test_unix_socket_path_too_long),
        cmocka_unit_test(test_socket_domain),
        cmocka_unit_test(test_bind_interface),
        cmocka_unit_test(test_max_connections_per_listener),
        cmocka_unit_test(test_per_listener_settings),
        cmocka_unit_test(test_log_dest),
        cmocka_unit_test(test_log_dest_topic_warns),
        cmocka_unit_test(test_log_file_path_too_long),
        cmocka_unit_test(test_log_timestamp_and_format),
        cmocka_unit_test(test_log_facility),
        cmocka_unit_test(test_connection_messages),
        cmocka_unit_test(test_pid_file_and_user),
        cmocka_unit_test(test_include_name_and_sort),
        cmocka_unit_test(test_include_dir_files_in_order),
        cmocka_unit_test(test_include_dir_errors_name_the_included_file),
        cmocka_unit_test(test_include_dir_unreadable),
        cmocka_unit_test(test_include_dir_not_nested),
        cmocka_unit_test(test_include_dir_without_reader),
        cmocka_unit_test(test_include_dir_keeps_path_blanks),
        cmocka_unit_test(test_debian_mosquitto_conf),
        cmocka_unit_test(test_unknown_directive_is_an_error),
        cmocka_unit_test(test_unsupported_mosquitto_directives_warn),
        cmocka_unit_test(test_security_directives_global),
        cmocka_unit_test(test_security_directives_per_listener),
        cmocka_unit_test(test_prefixes_alone_are_unknown),
        cmocka_unit_test(test_transport_directives_apply_to_the_last_listener),
        cmocka_unit_test(test_transport_directives_before_a_listener_make_the_default_one),
        cmocka_unit_test(test_transport_directive_errors),
        cmocka_unit_test(test_parsing_goes_on_after_errors),
        cmocka_unit_test(test_long_tokens_are_quoted_briefly),
        cmocka_unit_test(test_many_arguments_are_counted),
        cmocka_unit_test(test_crlf_line_numbers),
        cmocka_unit_test(test_nul_byte_in_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
