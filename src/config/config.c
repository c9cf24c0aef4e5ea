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
 *
 * Per-listener directives (socket_domain, bind_interface, max_connections)
 * apply to the last `listener` line; before any, socket_domain and
 * bind_interface apply to Mosquitto's default listener (port/bind_address)
 * and max_connections limits all connections together. include_dir is read
 * by the platform through a callback (mq_config_io_t), which feeds each file
 * back to the parser; that state (current listener) lives in mq_config_t so
 * that it carries across files as in Mosquitto.
 */
#include "musqratt/config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
    const mq_config_io_t *io; /* include_dir reader and depth */
    unsigned errors;
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
    cfg->cur_listener = (int)(l - cfg->listeners);
    cfg->listeners_in_file = true;
    return l;
}

/* listener PORT [ADDRESS]; listener 0 /PATH is a unix domain socket
 * (Mosquitto 2.0). Port 0 with an address that is not a path (no '/') is
 * musqratt's ephemeral TCP port. */
static void mq__dir_listener(mq__parser_t *p, const mq__directive_t *d, const mq__tok_t *args,
                             size_t nargs)
{
    mq_listener_config_t tmp;
    mq_listener_config_t *l;

    memset(&tmp, 0, sizeof tmp);
    if (!mq__port(p, d, args[0], &tmp.port))
        return;
    if (nargs > 1 && tmp.port == 0 && memchr(args[1].p, '/', args[1].len)) {
        if (args[1].len >= sizeof tmp.socket_path) {
            mq__report(p, true, "%s: unix socket path is longer than %zu bytes", d->name,
                       sizeof tmp.socket_path - 1);
            return;
        }
        memcpy(tmp.socket_path, args[1].p, args[1].len);
    } else if (nargs > 1 && !mq__address(p, d, args[1], tmp.address)) {
        return;
    }
    l = mq__new_listener(p, d);
    if (l) {
        *l = tmp;
        p->cfg->cur_listener = (int)(l - p->cfg->listeners);
    }
}

/* Mosquitto's legacy default listener: `port` and `bind_address` both edit
 * the same listener, made on first use with port 1883 on all addresses. */
static mq_listener_config_t *mq__default_listener(mq__parser_t *p, const mq__directive_t *d)
{
    mq_listener_config_t *l;
    int cur = p->cfg->cur_listener;

    if (p->cfg->default_listener >= 0)
        return &p->cfg->listeners[p->cfg->default_listener];
    l = mq__new_listener(p, d);
    if (l) {
        p->cfg->default_listener = (int)(l - p->cfg->listeners);
        /* Only `listener` changes the listener later per-listener
         * directives apply to. */
        p->cfg->cur_listener = cur;
        l->is_default = true;
    }
    return l;
}

/* The listener a per-listener directive applies to: the last `listener`,
 * else (as in Mosquitto) the default listener. */
static mq_listener_config_t *mq__listener_for(mq__parser_t *p, const mq__directive_t *d)
{
    if (p->cfg->cur_listener >= 0 && (size_t)p->cfg->cur_listener < p->cfg->n_listeners)
        return &p->cfg->listeners[p->cfg->cur_listener];
    return mq__default_listener(p, d);
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

/* Mosquitto: -1 (its default) means unlimited; so does 0 for the core.
 * After a `listener` line it limits that listener (Mosquitto 2's meaning);
 * before any, all connections together (the core's limit). */
static void mq__dir_max_connections(mq__parser_t *p, const mq__directive_t *d,
                                    const mq__tok_t *args, size_t nargs)
{
    uint64_t v = 0;
    int cur = p->cfg->cur_listener;

    if (args[0].len > 0 && args[0].p[0] == '-' && !mq__tok_is(args[0], "-1")) {
        mq__report(p, true, "%s: '%.*s' must be -1 (unlimited) or a count", d->name,
                   MQ__Q(args[0]));
        return;
    }
    if (!mq__tok_is(args[0], "-1") && !mq__number(p, d, args[0], 0, UINT32_MAX, false, &v))
        return;
    if (cur >= 0 && (size_t)cur < p->cfg->n_listeners)
        p->cfg->listeners[cur].max_connections = (uint32_t)v;
    else
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

/* ---- ops (issue 6): logging, process, listener options, include_dir ---- */

/* The rest of the line from args[0] on (blanks inside kept), NUL-terminated
 * into out[cap]. */
static bool mq__rest(mq__parser_t *p, const mq__directive_t *d, const mq__tok_t *args,
                     size_t nargs, char *out, size_t cap)
{
    const char *start = args[0].p;
    size_t n = (size_t)(args[nargs - 1].p + args[nargs - 1].len - start);

    if (n >= cap) {
        mq__report(p, true, "%s: longer than %zu bytes", d->name, cap - 1);
        return false;
    }
    memcpy(out, start, n);
    out[n] = '\0';
    return true;
}

/* pid_file, user: a string field of mq_config_t (d->offset, d->max = size). */
static void mq__dir_string(mq__parser_t *p, const mq__directive_t *d, const mq__tok_t *args,
                           size_t nargs)
{
    mq__rest(p, d, args, nargs, (char *)p->cfg + d->offset, (size_t)d->max);
}

/* log_type may be given many times, as in Mosquitto: the first one
 * replaces the default (error, warning, notice, information), the next ones
 * add to it; none logs nothing, all everything. */
static void mq__dir_log_type(mq__parser_t *p, const mq__directive_t *d, const mq__tok_t *args,
                             size_t nargs)
{
    static const struct {
        const char *name;
        uint32_t bits;
    } types[] = {
        {"error", MQ_LOG_TYPE_ERROR},
        {"warning", MQ_LOG_TYPE_WARNING},
        {"notice", MQ_LOG_TYPE_NOTICE},
        {"information", MQ_LOG_TYPE_INFORMATION},
        {"debug", MQ_LOG_TYPE_DEBUG},
        {"subscribe", MQ_LOG_TYPE_SUBSCRIBE},
        {"unsubscribe", MQ_LOG_TYPE_UNSUBSCRIBE},
        {"websockets", MQ_LOG_TYPE_WEBSOCKETS},
        {"all", MQ_LOG_TYPE_ALL},
        {"none", 0},
    };
    mq__tok_t t = args[0];

    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (!mq__tok_is(t, types[i].name))
            continue;
        if (!p->cfg->log_types_set || types[i].bits == 0)
            p->cfg->log_types = 0;
        p->cfg->log_types_set = true;
        p->cfg->log_types |= types[i].bits;
        return;
    }
    mq__report(p, true, "%s: unknown log type '%.*s'", d->name, MQ__Q(t));
}

/* log_dest stderr|stdout|syslog|none|file PATH; repeatable: the first one
 * replaces the default (stderr), the next ones add destinations. */
static void mq__dir_log_dest(mq__parser_t *p, const mq__directive_t *d, const mq__tok_t *args,
                             size_t nargs)
{
    mq_config_t *cfg = p->cfg;
    mq__tok_t t = args[0];
    uint32_t bit;

    if (mq__tok_is(t, "topic") || mq__tok_is(t, "dlt")) {
        mq__report(p, false, "%s %.*s is not supported by musqratt; ignored", d->name,
                   MQ__Q(t));
        return;
    }
    if (mq__tok_is(t, "file")) {
        if (nargs < 2) {
            mq__report(p, true, "%s: file needs a path", d->name);
            return;
        }
        if (!mq__rest(p, d, args + 1, nargs - 1, cfg->log_file, sizeof cfg->log_file))
            return;
        bit = MQ_LOG_DEST_FILE;
    } else {
        if (nargs > 1) {
            mq__report(p, true, "%s: too many arguments for %.*s", d->name, MQ__Q(t));
            return;
        }
        if (mq__tok_is(t, "stderr"))
            bit = MQ_LOG_DEST_STDERR;
        else if (mq__tok_is(t, "stdout"))
            bit = MQ_LOG_DEST_STDOUT;
        else if (mq__tok_is(t, "syslog"))
            bit = MQ_LOG_DEST_SYSLOG;
        else if (mq__tok_is(t, "none"))
            bit = 0;
        else {
            mq__report(p, true,
                       "%s: unknown destination '%.*s' (stderr, stdout, file, syslog, none)",
                       d->name, MQ__Q(t));
            return;
        }
    }
    if (!cfg->log_dest_set || bit == 0)
        cfg->log_dest = 0;
    cfg->log_dest_set = true;
    cfg->log_dest |= bit;
}

static void mq__dir_log_facility(mq__parser_t *p, const mq__directive_t *d,
                                 const mq__tok_t *args, size_t nargs)
{
    uint64_t v;

    if (mq__number(p, d, args[0], 0, 7, false, &v))
        p->cfg->log_facility = (uint8_t)v;
}

static void mq__dir_log_timestamp_format(mq__parser_t *p, const mq__directive_t *d,
                                         const mq__tok_t *args, size_t nargs)
{
    mq__rest(p, d, args, nargs, p->cfg->log_timestamp_format,
             sizeof p->cfg->log_timestamp_format);
}

/* socket_domain ipv4|ipv6 (current listener) */
static void mq__dir_socket_domain(mq__parser_t *p, const mq__directive_t *d,
                                  const mq__tok_t *args, size_t nargs)
{
    uint8_t dom;
    mq_listener_config_t *l;

    if (mq__tok_is(args[0], "ipv4"))
        dom = MQ_DOMAIN_IPV4;
    else if (mq__tok_is(args[0], "ipv6"))
        dom = MQ_DOMAIN_IPV6;
    else {
        mq__report(p, true, "%s: '%.*s' is not ipv4 or ipv6", d->name, MQ__Q(args[0]));
        return;
    }
    l = mq__listener_for(p, d);
    if (l)
        l->domain = dom;
}

/* bind_interface NAME (current listener) */
static void mq__dir_bind_interface(mq__parser_t *p, const mq__directive_t *d,
                                   const mq__tok_t *args, size_t nargs)
{
    mq_listener_config_t *l;

    if (args[0].len >= MQ_CONFIG_IFNAME_MAX) {
        mq__report(p, true, "%s: interface name is longer than %d bytes", d->name,
                   MQ_CONFIG_IFNAME_MAX - 1);
        return;
    }
    l = mq__listener_for(p, d);
    if (!l)
        return;
    memcpy(l->bind_interface, args[0].p, args[0].len);
    l->bind_interface[args[0].len] = '\0';
}

/* include_dir DIR: read by the platform through io->include. */
static void mq__dir_include_dir(mq__parser_t *p, const mq__directive_t *d,
                                const mq__tok_t *args, size_t nargs)
{
    char dir[MQ_CONFIG_PATH_MAX];

    if (p->io->depth > 0) {
        mq__report(p, true, "%s: only allowed in the main configuration file (as in Mosquitto)",
                   d->name);
        return;
    }
    if (!p->io->include) {
        mq__report(p, true, "%s: no directory reader here", d->name);
        return;
    }
    if (!mq__rest(p, d, args, nargs, dir, sizeof dir))
        return;
    if (p->io->include(p->io, p->cfg, dir, p->file, p->line) != MQ_OK)
        p->errors++; /* already reported, with the included file's name */
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

/* ---- authentication and access control -----------------------------------
 * password_file, acl_file, allow_anonymous: each occurrence goes into
 * cfg->security (what applies with per_listener_settings false) and into
 * the current listener's settings, or security_default before any
 * `listener` line (what applies with per_listener_settings true), so the
 * result does not depend on where per_listener_settings is. As in Mosquitto,
 * a second password_file / acl_file for the same scope is an error (the
 * scope being decided by per_listener_settings as seen so far). */

static mq_security_config_t *mq__security_here(mq__parser_t *p)
{
    return p->cfg->cur_listener >= 0 ? &p->cfg->listeners[p->cfg->cur_listener].security
                                : &p->cfg->security_default;
}

static void mq__dir_path(mq__parser_t *p, const mq__directive_t *d, const mq__tok_t *args,
                         size_t nargs)
{
    /* A path is the rest of the line (it may hold blanks). */
    const char *start = args[0].p;
    size_t n = (size_t)(args[nargs - 1].p + args[nargs - 1].len - start);
    bool acl = d->name[0] == 'a';

    if (n >= MQ_CONFIG_PATH_MAX) {
        mq__report(p, true, "%s: path longer than %d bytes", d->name, MQ_CONFIG_PATH_MAX - 1);
        return;
    }
    char *a = acl ? p->cfg->security.acl_file : p->cfg->security.password_file;
    char *b = acl ? mq__security_here(p)->acl_file : mq__security_here(p)->password_file;
    /* Mosquitto 2.0: one file per scope ("Duplicate password_file value"). */
    if ((p->cfg->per_listener_settings ? b : a)[0]) {
        mq__report(p, true, "%s: given twice for the same %s", d->name,
                   p->cfg->per_listener_settings ? "listener" : "broker");
        return;
    }
    memcpy(a, start, n);
    a[n] = '\0';
    memcpy(b, start, n);
    b[n] = '\0';
}

static void mq__dir_allow_anonymous(mq__parser_t *p, const mq__directive_t *d,
                                    const mq__tok_t *args, size_t nargs)
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
    p->cfg->security.allow_anonymous_set = mq__security_here(p)->allow_anonymous_set = true;
    p->cfg->security.allow_anonymous = mq__security_here(p)->allow_anonymous = v;
    p->cfg->broker.allow_anonymous = v; /* the core's rule when no hook is installed */
}

void mq_config_security(const mq_config_t *cfg, size_t i, mq_security_config_t *out)
{
    if (!cfg->per_listener_settings)
        *out = cfg->security;
    else if (i < cfg->n_listeners && !cfg->listeners[i].is_default)
        *out = cfg->listeners[i].security;
    else
        *out = cfg->security_default;
    if (!out->allow_anonymous_set) {
        /* Mosquitto 2.0: false once the file defines a listener. */
        out->allow_anonymous = !cfg->listeners_in_file;
        out->allow_anonymous_set = true;
    }
}

/* ---- listener transports: TLS and WebSockets ----------------------------
 * Mosquitto's per-listener directives. Each applies to the last `listener`
 * (or, before any, to the default listener, as in Mosquitto). The strings
 * (file names, cipher lists) are only stored here; the platform checks and
 * loads them at startup and names the file in its error. */

/* A string field of the current listener: d->offset into mq_listener_config_t,
 * d->max its capacity (with the NUL). */
static void mq__dir_listener_str(mq__parser_t *p, const mq__directive_t *d,
                                 const mq__tok_t *args, size_t nargs)
{
    mq_listener_config_t *l;

    if (args[0].len >= d->max) {
        mq__report(p, true, "%s: longer than %llu bytes", d->name,
                   (unsigned long long)d->max - 1);
        return;
    }
    l = mq__listener_for(p, d);
    if (!l)
        return;
    memcpy((char *)l + d->offset, args[0].p, args[0].len);
    ((char *)l + d->offset)[args[0].len] = '\0';
}

static void mq__dir_listener_bool(mq__parser_t *p, const mq__directive_t *d,
                                  const mq__tok_t *args, size_t nargs)
{
    mq_listener_config_t *l;
    bool v;

    if (mq__tok_is(args[0], "true") || mq__tok_is(args[0], "1")) {
        v = true;
    } else if (mq__tok_is(args[0], "false") || mq__tok_is(args[0], "0")) {
        v = false;
    } else {
        mq__report(p, true, "%s: expected true or false, got '%.*s'", d->name, MQ__Q(args[0]));
        return;
    }
    l = mq__listener_for(p, d);
    if (l)
        memcpy((unsigned char *)l + d->offset, &v, sizeof v);
}

/* protocol mqtt|websockets */
static void mq__dir_protocol(mq__parser_t *p, const mq__directive_t *d, const mq__tok_t *args,
                             size_t nargs)
{
    mq_listener_config_t *l;
    uint8_t v;

    if (mq__tok_is(args[0], "mqtt")) {
        v = MQ_LISTENER_MQTT;
    } else if (mq__tok_is(args[0], "websockets")) {
        v = MQ_LISTENER_WEBSOCKETS;
    } else {
        mq__report(p, true, "%s: '%.*s' is not mqtt or websockets", d->name, MQ__Q(args[0]));
        return;
    }
    l = mq__listener_for(p, d);
    if (l)
        l->protocol = v;
}

/* tls_version tlsv1.3|tlsv1.2|tlsv1.1: the minimum version, as in Mosquitto 2. */
static void mq__dir_tls_version(mq__parser_t *p, const mq__directive_t *d,
                                const mq__tok_t *args, size_t nargs)
{
    mq_listener_config_t *l;
    uint8_t v;

    if (mq__tok_is(args[0], "tlsv1.3")) {
        v = MQ_TLS_V1_3;
    } else if (mq__tok_is(args[0], "tlsv1.2")) {
        v = MQ_TLS_V1_2;
    } else if (mq__tok_is(args[0], "tlsv1.1")) {
        v = MQ_TLS_V1_1;
    } else {
        mq__report(p, true, "%s: '%.*s' is not tlsv1.3, tlsv1.2 or tlsv1.1", d->name,
                   MQ__Q(args[0]));
        return;
    }
    l = mq__listener_for(p, d);
    if (l)
        l->tls_version = v;
}

/* websockets_log_level N: libwebsockets' log mask in Mosquitto; musqratt's
 * WebSocket layer logs through the normal log, so only the number is checked. */
static void mq__dir_ws_log_level(mq__parser_t *p, const mq__directive_t *d,
                                 const mq__tok_t *args, size_t nargs)
{
    uint64_t v;

    (void)mq__number(p, d, args[0], 0, INT32_MAX, false, &v);
}

#define MQ__LFIELD(f) offsetof(mq_listener_config_t, f), 0, 0, sizeof(((mq_listener_config_t *)0)->f)
#define MQ__LSTR(n, f) {n, 1, 1, mq__dir_listener_str, MQ__LFIELD(f), false}
#define MQ__LBOOL(n, f) {n, 1, 1, mq__dir_listener_bool, MQ__LFIELD(f), false}

/* ---- end of listener transports ---- */

/* ---- observability and overload protection ------------------------------ */

/* The listener the last `listener` line made, or NULL (global scope). */
static mq_listener_config_t *mq__current_listener(mq__parser_t *p)
{
    return p->cfg->cur_listener >= 0 ? &p->cfg->listeners[p->cfg->cur_listener] : NULL;
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
#define MQ__STRING(n, f, lo, hi) \
    {n, lo, hi, mq__dir_string, offsetof(mq_config_t, f), 0, 0, sizeof(((mq_config_t *)0)->f), false}
#define MQ__REST (MQ__MAX_TOKENS - 1)

static const mq__directive_t mq__directives[] = {
    MQ__CUSTOM("listener", 1, 2, mq__dir_listener),
    MQ__CUSTOM("port", 1, 1, mq__dir_port),
    MQ__CUSTOM("bind_address", 1, 1, mq__dir_bind_address),
    /* authentication and access control (see above) */
    MQ__CUSTOM("allow_anonymous", 1, 1, mq__dir_allow_anonymous),
    MQ__CUSTOM("password_file", 1, MQ__MAX_TOKENS - 1, mq__dir_path),
    MQ__CUSTOM("acl_file", 1, MQ__MAX_TOKENS - 1, mq__dir_path),
    MQ__BOOL("per_listener_settings", per_listener_settings),
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
    /* ---- ops (issue 6) ---- */
    MQ__CUSTOM("log_type", 1, 1, mq__dir_log_type),
    MQ__CUSTOM("log_dest", 1, MQ__REST, mq__dir_log_dest),
    MQ__CUSTOM("log_facility", 1, 1, mq__dir_log_facility),
    MQ__BOOL("log_timestamp", log_timestamp),
    MQ__CUSTOM("log_timestamp_format", 1, MQ__REST, mq__dir_log_timestamp_format),
    MQ__BOOL("connection_messages", broker.connection_messages),
    MQ__STRING("pid_file", pid_file, 1, MQ__REST),
    MQ__STRING("user", user, 1, 1),
    MQ__BOOL("per_listener_settings", per_listener_settings),
    MQ__CUSTOM("socket_domain", 1, 1, mq__dir_socket_domain),
    MQ__CUSTOM("bind_interface", 1, 1, mq__dir_bind_interface),
    MQ__CUSTOM("include_dir", 1, MQ__REST, mq__dir_include_dir),
    MQ__UINT("max_topic_alias", broker.max_topic_alias, 0, UINT16_MAX),
    /* musqratt's own */
    MQ__UINT("max_memory", broker.max_memory, 0, UINT64_MAX),
    MQ__UINT("max_sessions", broker.max_sessions, 0, UINT32_MAX),
    MQ__UINT("max_subscriptions_per_client", broker.max_subscriptions_per_client, 0,
             UINT32_MAX),
    MQ__UINT("max_topic_nodes", broker.max_topic_nodes, 0, UINT32_MAX),
    MQ__CUSTOM("shared_subscription_strategy", 1, 1, mq__dir_shared_strategy),
    MQ__CUSTOM("response_information", 1, MQ__MAX_TOKENS - 1, mq__dir_response_information),
    /* ---- listener transports: TLS and WebSockets (per listener) ---- */
    MQ__CUSTOM("protocol", 1, 1, mq__dir_protocol),
    MQ__LSTR("cafile", cafile),
    MQ__LSTR("capath", capath),
    MQ__LSTR("certfile", certfile),
    MQ__LSTR("keyfile", keyfile),
    MQ__LSTR("crlfile", crlfile),
    MQ__LSTR("ciphers", ciphers),
    MQ__LSTR("ciphers_tls1.3", ciphers_tls13),
    MQ__LBOOL("require_certificate", require_certificate),
    MQ__LBOOL("use_identity_as_username", use_identity_as_username),
    MQ__LBOOL("use_subject_as_username", use_subject_as_username),
    MQ__CUSTOM("tls_version", 1, 1, mq__dir_tls_version),
    MQ__CUSTOM("websockets_log_level", 1, 1, mq__dir_ws_log_level),
    MQ__LSTR("websockets_path", websockets_path), /* musqratt's own */
    /* ---- end of listener transports ---- */
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
    "psk_file", "psk_hint", "auth_plugin", "plugin",
    "global_plugin", "auth_plugin_deny_special_chars", "clientid_prefixes", "auto_id_prefix",
    "use_username_as_clientid",
    /* TLS */
    "dhparamfile",     "tls_engine", "tls_engine_kpass_sha1",
    "tls_keyform",
    /* listeners */
    "mount_point", "http_dir",
    "websockets_headers_size",
    "accept_protocol_versions", "enable_proxy_protocol",
    /* persistence */
    "persistence", "persistence_location", "persistence_file", "autosave_interval",
    "autosave_on_changes", "retained_persistence",
    /* messages and limits */
    "upgrade_outgoing_qos", "max_inflight_bytes", "check_retain_source", "memory_limit",
    "allow_duplicate_messages", "retry_interval", "store_clean_interval",
    "global_max_clients", "global_max_connections", "max_qos",
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
    cfg->log_dest = MQ_LOG_DEST_STDERR;
    cfg->log_types = MQ_LOG_TYPE_DEFAULT;
    cfg->log_facility = 255; /* LOG_DAEMON */
    cfg->log_timestamp = true;
    cfg->cur_listener = -1;
    cfg->default_listener = -1;
}

static int mq__parse(mq_config_t *cfg, const char *text, size_t len, const char *filename,
                     const mq_config_io_t *io)
{
    mq__parser_t p;
    size_t pos = 0;

    memset(&p, 0, sizeof p);
    p.cfg = cfg;
    p.file = filename ? filename : "(config)";
    p.diag = io->diag;
    p.diag_ctx = io->diag_ctx;
    p.io = io;

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;

        p.line++;
        mq__line(&p, text + pos, end - pos);
        pos = end + 1;
    }
    /* Mosquitto 2.0: allow_anonymous defaults to false once the file
     * defines a listener (the core's rule when no auth hook is installed). */
    if (cfg->listeners_in_file && !cfg->security.allow_anonymous_set)
        cfg->broker.allow_anonymous = false;
    return p.errors ? MQ_ECONFIG : MQ_OK;
}

int mq_config_parse(mq_config_t *cfg, const char *text, size_t len, const char *filename,
                    mq_config_diag_fn diag, void *diag_ctx)
{
    mq_config_io_t io;

    memset(&io, 0, sizeof io);
    io.diag = diag;
    io.diag_ctx = diag_ctx;
    return mq__parse(cfg, text, len, filename, &io);
}

int mq_config_parse_io(mq_config_t *cfg, const char *text, size_t len, const char *filename,
                       const mq_config_io_t *io)
{
    mq_config_io_t main_io = *io;

    main_io.depth = 0;
    return mq__parse(cfg, text, len, filename, &main_io);
}

int mq_config_parse_include(mq_config_t *cfg, const char *text, size_t len,
                            const char *filename, const mq_config_io_t *io)
{
    mq_config_io_t inc = *io;

    inc.depth = io->depth + 1;
    return mq__parse(cfg, text, len, filename, &inc);
}

bool mq_config_include_name(const char *name)
{
    size_t n = strlen(name);

    return n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

static int mq__cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void mq_config_include_sort(char **names, size_t n)
{
    if (n > 1)
        qsort(names, n, sizeof names[0], mq__cmp_names);
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
    l->is_default = true; /* command line: the default listener's settings */
    if (alen)
        memcpy(l->address, address, alen);
    l->port = port;
    return MQ_OK;
}
