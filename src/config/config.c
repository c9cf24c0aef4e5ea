/*
 * config — the mosquitto.conf parser.
 *
 * Owns: nothing. It writes into the caller's mq_config_t and reports problems
 * through the caller's callback.
 * Never: a system call, an allocation, global state, reading a file (the
 * platform reads the file and hands over its text).
 * Hot paths: none; it runs once at startup.
 *
 * Syntax (Mosquitto's): one directive per line, arguments separated by
 * blanks, a line whose first non-blank character is '#' is a comment.
 * As in Mosquitto, '#' after a directive does NOT start a comment; unlike
 * Mosquitto (which silently ignores extra tokens) such a line is reported as
 * having too many arguments, so that a typo never goes unnoticed.
 *
 * Every directive is one row of mq__directives[]: its name, how many arguments
 * it takes, the handler that parses them and, for the generic handlers, the
 * field of mq_config_t it sets and its range. Directives Mosquitto knows but
 * musqratt does not implement are listed in mq__unsupported[] and only warned
 * about, so that an existing mosquitto.conf keeps working.
 */
#include "musqratt/config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "musqratt/codec.h"
#include "musqratt/error.h"

/* A token: a view into the caller's text, never NUL-terminated. */
typedef struct mq__tok {
    const char *p;
    size_t len;
} mq__tok_t;

/* Tokens kept per line (directive + arguments); further ones are only
 * counted, to report "too many arguments". */
#define MQ__MAX_TOKENS 8
/* How much of a token is quoted back in a diagnostic. */
#define MQ__QUOTE_MAX 64
#define MQ__DIAG_MAX 256

/* Mosquitto's limit for max_packet_size: the largest packet the wire allows. */
#define MQ__MAX_PACKET (MQ_MAX_REMAINING_LENGTH + 5u)

typedef struct mq__parser {
    mq_config_t *cfg;
    const char *file;
    unsigned line;
    mq_config_diag_fn diag;
    void *diag_ctx;
    unsigned errors;
    /* The listener made by the legacy `port` / `bind_address` directives
     * (Mosquitto's "default listener"); -1 until one of them is seen. */
    int default_listener;
    /* The listener of the last `listener` line (listener-scoped directives
     * such as max_connection_rate); -1 before the first. */
    int last_listener;
} mq__parser_t;

struct mq__directive;
typedef void (*mq__handler_fn)(mq__parser_t *p, const struct mq__directive *d,
                               const mq__tok_t *args, size_t nargs);

typedef struct mq__directive {
    const char *name;
    uint8_t min_args;
    uint8_t max_args;
    mq__handler_fn handler;
    /* For the generic handlers: the field set, its size and its range. */
    size_t offset;
    uint8_t width;
    uint64_t min;
    uint64_t max;
    bool zero_ok;   /* 0 ("no limit") accepted even when below min */
} mq__directive_t;

#if defined(__GNUC__)
#define MQ__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MQ__PRINTF(a, b)
#endif

static void mq__report(mq__parser_t *p, bool is_error, const char *fmt, ...) MQ__PRINTF(3, 4);

static void mq__report(mq__parser_t *p, bool is_error, const char *fmt, ...)
{
    char msg[MQ__DIAG_MAX];
    va_list ap;

    if (is_error)
        p->errors++;
    if (!p->diag)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->diag(p->diag_ctx, p->file, p->line, is_error, msg);
}

/* printf arguments quoting a token: "%.*s" */
#define MQ__Q(t) (int)((t).len < MQ__QUOTE_MAX ? (t).len : MQ__QUOTE_MAX), (t).p

static bool mq__tok_is(mq__tok_t t, const char *s)
{
    size_t n = strlen(s);

    return t.len == n && memcmp(t.p, s, n) == 0;
}

static bool mq__tok_has_prefix(mq__tok_t t, const char *prefix)
{
    size_t n = strlen(prefix);

    return t.len > n && memcmp(t.p, prefix, n) == 0;
}

/*
 * Decimal digits only: no sign, no blanks, no base prefix, no suffix.
 * Returns false for an empty token, any other character, or a value above
 * UINT64_MAX; *overflow tells the last case apart.
 */
static bool mq__parse_u64(mq__tok_t t, uint64_t *out, bool *overflow)
{
    uint64_t v = 0;

    *overflow = false;
    if (t.len == 0)
        return false;
    for (size_t i = 0; i < t.len; i++) {
        unsigned d = (unsigned char)t.p[i] - '0';

        if (d > 9)
            return false;
        if (v > (UINT64_MAX - d) / 10) {
            /* Keep scanning so that "99999999999999999999x" is called
             * garbage, not out of range. */
            for (size_t j = i; j < t.len; j++)
                if ((unsigned char)t.p[j] - '0' > 9)
                    return false;
            *overflow = true;
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Parses a number for directive d, reporting the problem if there is one. */
static bool mq__number(mq__parser_t *p, const mq__directive_t *d, mq__tok_t t, uint64_t min,
                       uint64_t max, bool zero_ok, uint64_t *out)
{
    uint64_t v;
    bool overflow;

    if (t.len > 0 && t.p[0] == '-') {
        mq__report(p, true, "%s: '%.*s' must not be negative", d->name, MQ__Q(t));
        return false;
    }
    if (!mq__parse_u64(t, &v, &overflow)) {
        if (overflow)
            mq__report(p, true, "%s: '%.*s' is out of range (%llu..%llu)", d->name, MQ__Q(t),
                       (unsigned long long)min, (unsigned long long)max);
        else
            mq__report(p, true, "%s: '%.*s' is not a number", d->name, MQ__Q(t));
        return false;
    }
    if ((v < min && !(zero_ok && v == 0)) || v > max) {
        if (zero_ok)
            mq__report(p, true, "%s: '%.*s' is out of range (0 or %llu..%llu)", d->name,
                       MQ__Q(t), (unsigned long long)min, (unsigned long long)max);
        else
            mq__report(p, true, "%s: '%.*s' is out of range (%llu..%llu)", d->name, MQ__Q(t),
                       (unsigned long long)min, (unsigned long long)max);
        return false;
    }
    *out = v;
    return true;
}

static void mq__store_uint(mq__parser_t *p, const mq__directive_t *d, uint64_t v)
{
    unsigned char *field = (unsigned char *)p->cfg + d->offset;

    switch (d->width) {
    case sizeof(uint16_t): {
        uint16_t x = (uint16_t)v;
        memcpy(field, &x, sizeof x);
        break;
    }
    case sizeof(uint32_t): {
        uint32_t x = (uint32_t)v;
        memcpy(field, &x, sizeof x);
        break;
    }
    default: {
        uint64_t x = v;
        memcpy(field, &x, sizeof x);
        break;
    }
    }
}

/* ---- handlers ---------------------------------------------------------- */

static void mq__dir_uint(mq__parser_t *p, const mq__directive_t *d, const mq__tok_t *args,
                         size_t nargs)
{
    uint64_t v;

    if (mq__number(p, d, args[0], d->min, d->max, d->zero_ok, &v))
        mq__store_uint(p, d, v);
}

/* Mosquitto's conf__parse_bool accepts true/false and 1/0. */
static void mq__dir_bool(mq__parser_t *p, const mq__directive_t *d, const mq__tok_t *args,
                         size_t nargs)
{
    bool v;

    if (mq__tok_is(args[0], "true") || mq__tok_is(args[0], "1")) {
        v = true;
    } else if (mq__tok_is(args[0], "false") || mq__tok_is(args[0], "0")) {
        v = false;
    } else {
        mq__report(p, true, "%s: expected true or false, got '%.*s'", d->name, MQ__Q(args[0]));
        return;
    }
    memcpy((unsigned char *)p->cfg + d->offset, &v, sizeof v);
}

/* Parses and checks a bool without storing it (set_tcp_nodelay). */
static void mq__dir_bool_ignored(mq__parser_t *p, const mq__directive_t *d,
                                 const mq__tok_t *args, size_t nargs)
{
    if (!mq__tok_is(args[0], "true") && !mq__tok_is(args[0], "1") &&
        !mq__tok_is(args[0], "false") && !mq__tok_is(args[0], "0"))
        mq__report(p, true, "%s: expected true or false, got '%.*s'", d->name, MQ__Q(args[0]));
    /* Accepted for compatibility: musqratt always sets TCP_NODELAY, since
     * publish-to-deliver latency is its first goal. */
}

static bool mq__port(mq__parser_t *p, const mq__directive_t *d, mq__tok_t t, uint16_t *port)
{
    uint64_t v;

    /* 0 asks the system for an ephemeral port (useful for tests). */
    if (!mq__number(p, d, t, 0, 65535, false, &v))
        return false;
    *port = (uint16_t)v;
    return true;
}

static bool mq__address(mq__parser_t *p, const mq__directive_t *d, mq__tok_t t,
                        char out[MQ_CONFIG_ADDR_MAX])
{
    if (t.len >= MQ_CONFIG_ADDR_MAX) {
        mq__report(p, true, "%s: address is longer than %d bytes", d->name,
                   MQ_CONFIG_ADDR_MAX - 1);
        return false;
    }
    memcpy(out, t.p, t.len);
    out[t.len] = '\0';
    return true;
}

static mq_listener_config_t *mq__new_listener(mq__parser_t *p, const mq__directive_t *d)
{
    mq_config_t *cfg = p->cfg;
    mq_listener_config_t *l;

    if (cfg->n_listeners >= MQ_CONFIG_MAX_LISTENERS) {
        mq__report(p, true, "%s: too many listeners (at most %d)", d->name,
                   MQ_CONFIG_MAX_LISTENERS);
        return NULL;
    }
    l = &cfg->listeners[cfg->n_listeners++];
    memset(l, 0, sizeof *l);
    l->port = 1883;
    return l;
}

/* listener PORT [ADDRESS] */
static void mq__dir_listener(mq__parser_t *p, const mq__directive_t *d, const mq__tok_t *args,
                             size_t nargs)
{
    mq_listener_config_t tmp;
    mq_listener_config_t *l;

    memset(&tmp, 0, sizeof tmp);
    if (!mq__port(p, d, args[0], &tmp.port))
        return;
    if (nargs > 1 && !mq__address(p, d, args[1], tmp.address))
        return;
    l = mq__new_listener(p, d);
    if (l) {
        *l = tmp;
        p->last_listener = (int)(l - p->cfg->listeners);
    }
}

/* Mosquitto's legacy default listener: `port` and `bind_address` both edit
 * the same listener, made on first use with port 1883 on all addresses. */
static mq_listener_config_t *mq__default_listener(mq__parser_t *p, const mq__directive_t *d)
{
    mq_listener_config_t *l;

    if (p->default_listener >= 0)
        return &p->cfg->listeners[p->default_listener];
    l = mq__new_listener(p, d);
    if (l)
        p->default_listener = (int)(l - p->cfg->listeners);
    return l;
}

static void mq__dir_port(mq__parser_t *p, const mq__directive_t *d, const mq__tok_t *args,
                         size_t nargs)
{
    uint16_t port;
    mq_listener_config_t *l;

    if (!mq__port(p, d, args[0], &port))
        return;
    l = mq__default_listener(p, d);
    if (l)
        l->port = port;
}

static void mq__dir_bind_address(mq__parser_t *p, const mq__directive_t *d,
                                 const mq__tok_t *args, size_t nargs)
{
    char addr[MQ_CONFIG_ADDR_MAX];
    mq_listener_config_t *l;

    if (!mq__address(p, d, args[0], addr))
        return;
    l = mq__default_listener(p, d);
    if (l)
        memcpy(l->address, addr, sizeof addr);
}

/* Mosquitto: -1 (its default) means unlimited; so does 0 for the core. */
static void mq__dir_max_connections(mq__parser_t *p, const mq__directive_t *d,
                                    const mq__tok_t *args, size_t nargs)
{
    uint64_t v;

    if (mq__tok_is(args[0], "-1")) {
        p->cfg->broker.max_connections = 0;
        return;
    }
    if (args[0].len > 0 && args[0].p[0] == '-') {
        mq__report(p, true, "%s: '%.*s' must be -1 (unlimited) or a count", d->name,
                   MQ__Q(args[0]));
        return;
    }
    if (mq__number(p, d, args[0], 0, UINT32_MAX, false, &v))
        p->cfg->broker.max_connections = (uint32_t)v;
}

/* Mosquitto: 0 means "no maximum"; the core reads 0 as "default (20)", so
 * 0 becomes the largest window packet identifiers allow. */
static void mq__dir_max_inflight(mq__parser_t *p, const mq__directive_t *d,
                                 const mq__tok_t *args, size_t nargs)
{
    uint64_t v;

    if (!mq__number(p, d, args[0], 0, UINT16_MAX, false, &v))
        return;
    p->cfg->broker.max_inflight = v == 0 ? UINT16_MAX : (uint16_t)v;
}

/* Mosquitto's duration: a count followed by one unit, h d w m y; a month is
 * 30 days and a year 365, as in Mosquitto. */
static void mq__dir_duration(mq__parser_t *p, const mq__directive_t *d, const mq__tok_t *args,
                             size_t nargs)
{
    mq__tok_t t = args[0];
    mq__tok_t digits;
    uint64_t unit, v;
    bool overflow;

    switch (t.len ? t.p[t.len - 1] : '\0') {
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    case 'm': unit = 30 * 86400; break;
    case 'y': unit = 365 * 86400; break;
    default:
        mq__report(p, true, "%s: '%.*s' is not a duration (a number followed by h, d, w, m or y)",
                   d->name, MQ__Q(t));
        return;
    }
    digits.p = t.p;
    digits.len = t.len - 1;
    if (!mq__parse_u64(digits, &v, &overflow)) {
        if (overflow)
            mq__report(p, true, "%s: '%.*s' is out of range", d->name, MQ__Q(t));
        else
            mq__report(p, true,
                       "%s: '%.*s' is not a duration (a number followed by h, d, w, m or y)",
                       d->name, MQ__Q(t));
        return;
    }
    if (v > UINT32_MAX / unit) {
        mq__report(p, true, "%s: '%.*s' is out of range (at most %lu seconds)", d->name,
                   MQ__Q(t), (unsigned long)UINT32_MAX);
        return;
    }
    p->cfg->broker.persistent_client_expiration = (uint32_t)(v * unit);
}

/* log_type may be given many times, as in Mosquitto; only all/debug change
 * what musqratt logs (debug lines), none turns them off again. */
static void mq__dir_log_type(mq__parser_t *p, const mq__directive_t *d, const mq__tok_t *args,
                             size_t nargs)
{
    static const char *const quiet[] = {"error",     "warning",     "notice",
                                        "information", "subscribe", "unsubscribe",
                                        "websockets"};
    mq__tok_t t = args[0];

    if (mq__tok_is(t, "all") || mq__tok_is(t, "debug")) {
        p->cfg->verbose = true;
        return;
    }
    if (mq__tok_is(t, "none")) {
        p->cfg->verbose = false;
        return;
    }
    for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++)
        if (mq__tok_is(t, quiet[i]))
            return;
    mq__report(p, true, "%s: unknown log type '%.*s'", d->name, MQ__Q(t));
}

static void mq__dir_shared_strategy(mq__parser_t *p, const mq__directive_t *d,
                                    const mq__tok_t *args, size_t nargs)
{
    if (mq__tok_is(args[0], "round_robin"))
        p->cfg->broker.shared_strategy = MQ_SHARE_ROUND_ROBIN;
    else if (mq__tok_is(args[0], "random"))
        p->cfg->broker.shared_strategy = MQ_SHARE_RANDOM;
    else
        mq__report(p, true, "%s: '%.*s' is not round_robin or random", d->name, MQ__Q(args[0]));
}

static void mq__dir_response_information(mq__parser_t *p, const mq__directive_t *d,
                                         const mq__tok_t *args, size_t nargs)
{
    /* The text is the rest of the line: one or more words. */
    const char *start = args[0].p;
    const char *end = args[nargs - 1].p + args[nargs - 1].len;
    size_t n = (size_t)(end - start);
    if (n >= sizeof(p->cfg->response_information)) {
        mq__report(p, true, "%s: longer than %zu bytes", d->name,
                   sizeof(p->cfg->response_information) - 1);
        return;
    }
    if (!mq_utf8_valid((const uint8_t *)start, n)) {
        mq__report(p, true, "%s: not valid UTF-8", d->name);
        return;
    }
    memcpy(p->cfg->response_information, start, n);
    p->cfg->response_information[n] = '\0';
    p->cfg->broker.response_information = p->cfg->response_information;
}

/* ---- observability and overload protection ------------------------------ */

/* The listener the last `listener` line made, or NULL (global scope). */
static mq_listener_config_t *mq__current_listener(mq__parser_t *p)
{
    return p->last_listener >= 0 ? &p->cfg->listeners[p->last_listener] : NULL;
}

/* max_connection_rate N: connections accepted per second per listener. */
static void mq__dir_connection_rate(mq__parser_t *p, const mq__directive_t *d,
                                    const mq__tok_t *args, size_t nargs)
{
    uint64_t v;
    mq_listener_config_t *l;

    if (!mq__number(p, d, args[0], 0, 1000000, false, &v))
        return;
    l = mq__current_listener(p);
    if (l) {
        l->connection_rate_set = true;
        l->max_connection_rate = (uint32_t)v;
    } else {
        p->cfg->max_connection_rate = (uint32_t)v;
    }
}

/* metrics_listener PORT [ADDRESS] */
static void mq__dir_metrics_listener(mq__parser_t *p, const mq__directive_t *d,
                                     const mq__tok_t *args, size_t nargs)
{
    uint16_t port;
    char addr[MQ_CONFIG_ADDR_MAX] = "127.0.0.1";

    if (p->cfg->metrics_enabled) {
        mq__report(p, true, "%s: given twice (one metrics endpoint)", d->name);
        return;
    }
    if (!mq__port(p, d, args[0], &port))
        return;
    if (nargs > 1 && !mq__address(p, d, args[1], addr))
        return;
    p->cfg->metrics_enabled = true;
    p->cfg->metrics_port = port;
    memcpy(p->cfg->metrics_address, addr, sizeof addr);
}

/* ---- the tables -------------------------------------------------------- */

#define MQ__FIELD(f) offsetof(mq_config_t, f), (uint8_t)sizeof(((mq_config_t *)0)->f)
#define MQ__BOOL(n, f) {n, 1, 1, mq__dir_bool, MQ__FIELD(f), 0, 1, false}
#define MQ__UINT(n, f, lo, hi) {n, 1, 1, mq__dir_uint, MQ__FIELD(f), lo, hi, false}
#define MQ__UINT_Z(n, f, lo, hi) {n, 1, 1, mq__dir_uint, MQ__FIELD(f), lo, hi, true}
#define MQ__CUSTOM(n, lo, hi, fn) {n, lo, hi, fn, 0, 0, 0, 0, false}

static const mq__directive_t mq__directives[] = {
    MQ__CUSTOM("listener", 1, 2, mq__dir_listener),
    MQ__CUSTOM("port", 1, 1, mq__dir_port),
    MQ__CUSTOM("bind_address", 1, 1, mq__dir_bind_address),
    MQ__BOOL("allow_anonymous", broker.allow_anonymous),
    MQ__UINT("max_keepalive", broker.max_keepalive, 0, UINT16_MAX),
    MQ__CUSTOM("max_connections", 1, 1, mq__dir_max_connections),
    MQ__CUSTOM("max_inflight_messages", 1, 1, mq__dir_max_inflight),
    MQ__UINT("max_queued_messages", broker.max_queued_messages, 0, UINT32_MAX),
    MQ__UINT("max_queued_bytes", broker.max_queued_bytes, 0, UINT64_MAX),
    MQ__BOOL("queue_qos0_messages", broker.queue_qos0_messages),
    MQ__UINT("message_size_limit", broker.message_size_limit, 0, MQ_MAX_REMAINING_LENGTH),
    /* Below 20 bytes not even a CONNECT with a client id fits. */
    MQ__UINT_Z("max_packet_size", broker.max_packet_size, 20, MQ__MAX_PACKET),
    MQ__BOOL("retain_available", broker.retain_available),
    MQ__CUSTOM("persistent_client_expiration", 1, 1, mq__dir_duration),
    MQ__CUSTOM("set_tcp_nodelay", 1, 1, mq__dir_bool_ignored),
    MQ__BOOL("allow_zero_length_clientid", broker.allow_zero_length_clientid),
    MQ__CUSTOM("log_type", 1, 1, mq__dir_log_type),
    MQ__UINT("max_topic_alias", broker.max_topic_alias, 0, UINT16_MAX),
    /* musqratt's own */
    MQ__UINT("max_memory", broker.max_memory, 0, UINT64_MAX),
    MQ__UINT("max_sessions", broker.max_sessions, 0, UINT32_MAX),
    MQ__UINT("max_subscriptions_per_client", broker.max_subscriptions_per_client, 0,
             UINT32_MAX),
    MQ__UINT("max_topic_nodes", broker.max_topic_nodes, 0, UINT32_MAX),
    MQ__CUSTOM("shared_subscription_strategy", 1, 1, mq__dir_shared_strategy),
    MQ__CUSTOM("response_information", 1, MQ__MAX_TOKENS - 1, mq__dir_response_information),
    /* ---- observability and overload protection ---- */
    /* Mosquitto's, same range: seconds between $SYS updates, 0 = none. */
    MQ__UINT("sys_interval", broker.sys_interval, 0, 65535),
    /* musqratt's own (docs/CONFIG.md) */
    MQ__UINT("max_queued_memory", broker.max_queued_memory, 0, UINT64_MAX),
    MQ__CUSTOM("max_connection_rate", 1, 1, mq__dir_connection_rate),
    MQ__CUSTOM("metrics_listener", 1, 2, mq__dir_metrics_listener),
};

/* Mosquitto directives (2.0) that musqratt does not implement yet. */
static const char *const mq__unsupported[] = {
    /* security */
    "password_file", "acl_file", "psk_file", "psk_hint", "auth_plugin", "plugin",
    "global_plugin", "auth_plugin_deny_special_chars", "clientid_prefixes", "auto_id_prefix",
    "use_identity_as_username", "use_subject_as_username", "use_username_as_clientid",
    "per_listener_settings",
    /* TLS */
    "cafile", "capath", "certfile", "keyfile", "crlfile", "dhparamfile", "require_certificate",
    "tls_version", "ciphers", "ciphers_tls1.3", "tls_engine", "tls_engine_kpass_sha1",
    "tls_keyform",
    /* listeners */
    "protocol", "socket_domain", "bind_interface", "mount_point", "http_dir",
    "websockets_log_level", "websockets_headers_size",
    "accept_protocol_versions", "enable_proxy_protocol",
    /* persistence */
    "persistence", "persistence_location", "persistence_file", "autosave_interval",
    "autosave_on_changes", "retained_persistence",
    /* logging and process */
    "log_dest", "log_facility", "log_timestamp", "log_timestamp_format", "connection_messages",
    "pid_file", "user", "include_dir",
    /* messages and limits */
    "upgrade_outgoing_qos", "max_inflight_bytes", "check_retain_source", "memory_limit",
    "allow_duplicate_messages", "retry_interval", "store_clean_interval",
    "global_max_clients", "global_max_connections",
    /* bridges (plus every bridge_* directive) */
    "connection", "address", "addresses", "topic", "cleansession", "local_cleansession",
    "clientid", "idle_timeout", "keepalive_interval", "local_clientid", "local_password",
    "local_username", "notifications", "notifications_local_only", "notification_topic",
    "remote_clientid", "remote_password", "remote_username", "restart_timeout", "round_robin",
    "start_type", "threshold", "try_private", "username", "password",
};

/* Families of Mosquitto directives, matched by prefix. */
static const char *const mq__unsupported_prefixes[] = {
    "bridge_", "plugin_opt_", "auth_opt_",
};

#define MQ__COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const mq__directive_t *mq__find(mq__tok_t name)
{
    for (size_t i = 0; i < MQ__COUNT(mq__directives); i++)
        if (mq__tok_is(name, mq__directives[i].name))
            return &mq__directives[i];
    return NULL;
}

static bool mq__is_unsupported(mq__tok_t name)
{
    for (size_t i = 0; i < MQ__COUNT(mq__unsupported); i++)
        if (mq__tok_is(name, mq__unsupported[i]))
            return true;
    for (size_t i = 0; i < MQ__COUNT(mq__unsupported_prefixes); i++)
        if (mq__tok_has_prefix(name, mq__unsupported_prefixes[i]))
            return true;
    return false;
}

/* ---- lines ------------------------------------------------------------- */

static bool mq__blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Splits line[0..len) into tokens; returns how many there are (even beyond
 * MQ__MAX_TOKENS, of which only the first ones are stored). */
static size_t mq__split(const char *line, size_t len, mq__tok_t *toks)
{
    size_t n = 0, i = 0;

    for (;;) {
        size_t start;

        while (i < len && mq__blank(line[i]))
            i++;
        if (i == len)
            return n;
        start = i;
        while (i < len && !mq__blank(line[i]))
            i++;
        if (n < MQ__MAX_TOKENS) {
            toks[n].p = line + start;
            toks[n].len = i - start;
        }
        n++;
    }
}

static void mq__line(mq__parser_t *p, const char *line, size_t len)
{
    mq__tok_t toks[MQ__MAX_TOKENS];
    size_t ntok = mq__split(line, len, toks);
    size_t nargs;
    const mq__directive_t *d;

    if (ntok == 0 || toks[0].p[0] == '#')
        return;
    d = mq__find(toks[0]);
    if (!d) {
        if (mq__is_unsupported(toks[0]))
            mq__report(p, false, "'%.*s' is not supported by musqratt yet; ignored",
                       MQ__Q(toks[0]));
        else
            mq__report(p, true, "unknown directive '%.*s'", MQ__Q(toks[0]));
        return;
    }
    nargs = ntok - 1;
    if (nargs < d->min_args || nargs > d->max_args) {
        const char *what = nargs < d->min_args ? "missing argument" : "too many arguments";

        if (d->min_args == d->max_args)
            mq__report(p, true, "%s: %s (takes %u, got %zu)", d->name, what, d->min_args,
                       nargs);
        else
            mq__report(p, true, "%s: %s (takes %u to %u, got %zu)", d->name, what,
                       d->min_args, d->max_args, nargs);
        return;
    }
    d->handler(p, d, toks + 1, nargs);
}

/* ---- API --------------------------------------------------------------- */

void mq_config_init(mq_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    mq_broker_config_defaults(&cfg->broker);
}

int mq_config_parse(mq_config_t *cfg, const char *text, size_t len, const char *filename,
                    mq_config_diag_fn diag, void *diag_ctx)
{
    mq__parser_t p;
    size_t pos = 0;

    memset(&p, 0, sizeof p);
    p.cfg = cfg;
    p.file = filename ? filename : "(config)";
    p.diag = diag;
    p.diag_ctx = diag_ctx;
    p.default_listener = -1;
    p.last_listener = -1;

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;

        p.line++;
        mq__line(&p, text + pos, end - pos);
        pos = end + 1;
    }
    return p.errors ? MQ_ECONFIG : MQ_OK;
}

int mq_config_add_listener(mq_config_t *cfg, const char *address, uint16_t port)
{
    mq_listener_config_t *l;
    size_t alen = address ? strlen(address) : 0;

    if (alen >= MQ_CONFIG_ADDR_MAX)
        return MQ_EINVAL;
    if (cfg->n_listeners >= MQ_CONFIG_MAX_LISTENERS)
        return MQ_ELIMIT;
    l = &cfg->listeners[cfg->n_listeners++];
    memset(l, 0, sizeof *l);
    if (alen)
        memcpy(l->address, address, alen);
    l->port = port;
    return MQ_OK;
}
