/*
 * musqratt — configuration in mosquitto.conf syntax.
 *
 * The parser is portable (no system calls): it takes the text of a file that
 * the platform has read. One table of directives (src/config/config.c) says
 * for each directive how it is parsed; directives Mosquitto knows but musqratt
 * does not implement yet are reported as warnings naming them; unknown ones are
 * errors. Every diagnostic carries file:line.
 *
 * Ownership: mq_config_t is plain data owned by the caller; no heap memory.
 */
#ifndef MUSQRATT_CONFIG_H
#define MUSQRATT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MQ_CONFIG_MAX_LISTENERS 16
#define MQ_CONFIG_ADDR_MAX 128
/* File paths kept in the configuration (pid_file, log_dest file, include_dir,
 * password_file, acl_file). */
#define MQ_CONFIG_PATH_MAX 512
/* A unix socket path must fit sockaddr_un.sun_path (108 bytes on Linux). */
#define MQ_CONFIG_SOCKET_PATH_MAX 108
#define MQ_CONFIG_IFNAME_MAX 16 /* IFNAMSIZ */
#define MQ_CONFIG_NAME_MAX 64   /* user */

/* socket_domain */
enum mq_socket_domain { MQ_DOMAIN_ANY = 0, MQ_DOMAIN_IPV4 = 4, MQ_DOMAIN_IPV6 = 6 };

/* ---- authentication and access control ------------------------------------
 * password_file, acl_file and allow_anonymous, global or, with
 * per_listener_settings true, per listener (Mosquitto's rules). The files are
 * read by the platform (src/platform/linux/auth.c) into src/auth's hooks. */

typedef struct mq_security_config {
    char password_file[MQ_CONFIG_PATH_MAX]; /* "" = none */
    char acl_file[MQ_CONFIG_PATH_MAX];      /* "" = none */
    bool allow_anonymous_set;               /* false: Mosquitto's default applies */
    bool allow_anonymous;
} mq_security_config_t;

/* ---- listener transports (TLS, WebSockets) --------------------------------
 * Read by the platform (src/platform/linux/xport.c, tls.c); the core never
 * looks at them. A zeroed listener is plain MQTT over TCP. */
#define MQ_CONFIG_CIPHERS_MAX 512

enum mq_listener_protocol {
    MQ_LISTENER_MQTT = 0,      /* protocol mqtt (default) */
    MQ_LISTENER_WEBSOCKETS = 1 /* protocol websockets: MQTT in WebSocket binary frames */
};

enum mq_tls_version {
    MQ_TLS_DEFAULT = 0,        /* TLS 1.2 or later */
    MQ_TLS_V1_1 = 1,           /* tls_version tlsv1.1 (minimum) */
    MQ_TLS_V1_2 = 2,           /* tls_version tlsv1.2 */
    MQ_TLS_V1_3 = 3            /* tls_version tlsv1.3 */
};
/* ---- end of listener transports ---- */

typedef struct mq_listener_config {
    char address[MQ_CONFIG_ADDR_MAX]; /* "" = all addresses (Mosquitto's rule) */
    uint16_t port;
    /* ---- ops (issue 6): unix sockets, socket_domain, bind_interface,
     * per-listener max_connections ---- */
    /* `listener 0 /path`: a unix domain socket at this path ("" = TCP). */
    char socket_path[MQ_CONFIG_SOCKET_PATH_MAX];
    uint8_t domain;                          /* enum mq_socket_domain */
    char bind_interface[MQ_CONFIG_IFNAME_MAX]; /* "" = none */
    uint32_t max_connections;                /* this listener; 0 = unlimited */
    /* Authentication (per_listener_settings true): what followed this
     * listener's `listener` line. is_default: made by `port`/`bind_address`
     * or by the command line; it uses mq_config_t.security_default. */
    mq_security_config_t security;
    bool is_default;
    /* ---- transport (TLS, WebSockets): Mosquitto's per-listener directives;
     * TLS is on when certfile, keyfile, cafile or capath is set. "" = unset. */
    uint8_t protocol;                 /* enum mq_listener_protocol */
    uint8_t tls_version;              /* enum mq_tls_version: the minimum accepted */
    bool require_certificate;         /* clients must present a certificate the CA signed */
    bool use_identity_as_username;    /* username = CN of the client certificate */
    bool use_subject_as_username;     /* username = its subject, RFC 2253 string */
    char cafile[MQ_CONFIG_PATH_MAX];
    char capath[MQ_CONFIG_PATH_MAX];
    char certfile[MQ_CONFIG_PATH_MAX];
    char keyfile[MQ_CONFIG_PATH_MAX];
    char crlfile[MQ_CONFIG_PATH_MAX];
    char ciphers[MQ_CONFIG_CIPHERS_MAX];       /* TLS <= 1.2 cipher list */
    char ciphers_tls13[MQ_CONFIG_CIPHERS_MAX]; /* TLS 1.3 cipher suites */
    char websockets_path[MQ_CONFIG_PATH_MAX];  /* musqratt's: "" = any path (Mosquitto) */
    /* ---- end of transport ---- */
    /* ---- overload protection: max_connection_rate after this listener ---- */
    bool connection_rate_set;         /* false: mq_config_t.max_connection_rate applies */
    uint32_t max_connection_rate;     /* connections accepted per second; 0 = unlimited */
} mq_listener_config_t;

/* log_dest: where log lines go (several may be set). */
enum mq_log_dest {
    MQ_LOG_DEST_STDERR = 1u << 0,
    MQ_LOG_DEST_STDOUT = 1u << 1,
    MQ_LOG_DEST_FILE = 1u << 2,
    MQ_LOG_DEST_SYSLOG = 1u << 3,
};

/* log_type: which lines are logged; one bit per Mosquitto log type. */
enum mq_log_type {
    MQ_LOG_TYPE_ERROR = 1u << 0,
    MQ_LOG_TYPE_WARNING = 1u << 1,
    MQ_LOG_TYPE_NOTICE = 1u << 2,
    MQ_LOG_TYPE_INFORMATION = 1u << 3,
    MQ_LOG_TYPE_DEBUG = 1u << 4,
    MQ_LOG_TYPE_SUBSCRIBE = 1u << 5,
    MQ_LOG_TYPE_UNSUBSCRIBE = 1u << 6,
    MQ_LOG_TYPE_WEBSOCKETS = 1u << 7,
    MQ_LOG_TYPE_ALL = 0xffu,
    /* Mosquitto's default: error, warning, notice and information. */
    MQ_LOG_TYPE_DEFAULT = 0x0fu,
};

typedef struct mq_config {
    mq_broker_config_t broker;
    mq_listener_config_t listeners[MQ_CONFIG_MAX_LISTENERS];
    size_t n_listeners;
    /* ---- ops (issue 6): logging, process, include_dir ---- */
    uint32_t log_dest;       /* enum mq_log_dest bits; default stderr; 0 = none */
    char log_file[MQ_CONFIG_PATH_MAX]; /* log_dest file PATH */
    uint32_t log_types;      /* enum mq_log_type bits; -v = all */
    uint8_t log_facility;    /* log_facility 0..7 = LOG_LOCAL0..7; 255 = daemon */
    bool log_timestamp;      /* default true */
    char log_timestamp_format[64]; /* strftime format; "" = seconds since the epoch */
    char pid_file[MQ_CONFIG_PATH_MAX]; /* "" = none */
    char user[MQ_CONFIG_NAME_MAX];     /* privileges dropped to it when started as root */
    /* Parser state carried across files (include_dir) and calls: the
     * listener later per-listener directives apply to (-1: none yet, so
     * they apply globally) and the legacy port/bind_address listener. */
    int cur_listener;
    int default_listener;
    /* Set by the log_dest / log_type directives: the first of each in a
     * configuration replaces the default instead of adding to it. */
    bool log_dest_set;
    bool log_types_set;
    /* response_information TEXT (MQTT 5); broker.response_information
     * points here once set, so keep this struct alive with the broker. */
    char response_information[256];
    /* Authentication and access control (see mq_config_security()). */
    bool per_listener_settings;
    bool listeners_in_file;                 /* a `listener` or `port` line was parsed */
    mq_security_config_t security;          /* the broker-wide settings */
    mq_security_config_t security_default;  /* those before any `listener` line */
    /* ---- observability and overload protection ---- */
    /* max_connection_rate N before any listener: each listener's own limit
     * (a token bucket per listener, N per second, bursts of N); 0 = none.
     * Given after a `listener` line it sets that listener's only. */
    uint32_t max_connection_rate;
    /* metrics_listener PORT [ADDRESS]: the Prometheus endpoint (GET /metrics
     * over HTTP/1.x), off unless configured; ADDRESS defaults to 127.0.0.1. */
    bool metrics_enabled;
    uint16_t metrics_port;
    char metrics_address[MQ_CONFIG_ADDR_MAX];
} mq_config_t;

/* Called once per problem found. is_error false means a warning. */
typedef void (*mq_config_diag_fn)(void *ctx, const char *file, unsigned line, bool is_error,
                                  const char *msg);

/*
 * include_dir DIR: the platform reads the directory. Called with DIR
 * (NUL-terminated) and the file:line of the directive; it must feed every
 * file of DIR whose name passes mq_config_include_name() to
 * mq_config_parse_include(), in the order of mq_config_include_sort(), and
 * report its own problems (unreadable directory or file) through io->diag with
 * the file:line given; its own context is io->include_ctx. Returns MQ_OK, or MQ_ECONFIG if it or a file had an
 * error. As in Mosquitto, include_dir is only allowed in the main file, so
 * the recursion is one level deep.
 */
struct mq_config_io;
typedef int (*mq_config_include_fn)(const struct mq_config_io *io, mq_config_t *cfg,
                                    const char *dir, const char *file, unsigned line);

typedef struct mq_config_io {
    mq_config_diag_fn diag;        /* may be NULL */
    void *diag_ctx;
    mq_config_include_fn include;  /* NULL: include_dir is an error */
    void *include_ctx;
    unsigned depth;                /* 0 for the main file */
} mq_config_io_t;

/* Defaults: mq_broker_config_defaults(), no listener, log to stderr with
 * timestamps, Mosquitto's default log types. */
void mq_config_init(mq_config_t *cfg);

/*
 * Parses text[0..len) (the contents of `filename`, used only in diagnostics)
 * into *cfg, on top of what it already holds. Reports every problem through
 * diag (may be NULL) and goes on parsing after an error.
 * Returns MQ_OK, or MQ_ECONFIG if at least one error was reported.
 */
int mq_config_parse(mq_config_t *cfg, const char *text, size_t len, const char *filename,
                    mq_config_diag_fn diag, void *diag_ctx);

/* mq_config_parse() with an include_dir reader: the main file (depth 0). */
int mq_config_parse_io(mq_config_t *cfg, const char *text, size_t len, const char *filename,
                       const mq_config_io_t *io);

/* For the include callback: parses one file of an include_dir with the io
 * the callback got (at depth 1, so a further include_dir is refused). */
int mq_config_parse_include(mq_config_t *cfg, const char *text, size_t len,
                            const char *filename, const mq_config_io_t *io);

/* Whether an include_dir entry is read: a name ending in ".conf" with at
 * least one character before it (Mosquitto's rule). */
bool mq_config_include_name(const char *name);

/* Sorts include_dir file names in Mosquitto's order: byte order (strcmp),
 * so capital letters come first. */
void mq_config_include_sort(char **names, size_t n);
/*
 * The authentication settings for listener i (Mosquitto 2.0's rules):
 * per_listener_settings false: the same for all (wherever the directives
 * are); true: what followed the listener's own `listener` line, or for
 * the default listener (`port`, command line) what came before any
 * `listener` line. allow_anonymous not given: false when the configuration
 * file defined a listener, else true (Mosquitto 2.0's local-only mode).
 * The result has allow_anonymous_set true.
 */
void mq_config_security(const mq_config_t *cfg, size_t i, mq_security_config_t *out);

/* Adds a listener (used by -p PORT). Returns MQ_ELIMIT when full. */
int mq_config_add_listener(mq_config_t *cfg, const char *address, uint16_t port);

#ifdef __cplusplus
}
#endif
#endif
