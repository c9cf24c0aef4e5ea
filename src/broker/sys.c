/*
 * sys — the $SYS/broker topic tree, Mosquitto's names and payloads.
 *
 * Every sys_interval seconds (the MQ__TIMER_SYS timer in the broker's heap,
 * first at cfg.start_time) the broker publishes its counters as retained
 * QoS 0 messages through mq__route, so subscriptions (and any ACL applied
 * there) work as for every other message; `#` and `+` never match them
 * (MQTT-4.7.2-1). As in Mosquitto, a value goes out only when it changed
 * since the last update (all of them on the first), uptime every time, and
 * $SYS/broker/version once. Unlike Mosquitto the retained values carry no
 * Message Expiry: an unchanged value is not re-sent, so an expiring one
 * would leave a late subscriber without it.
 *
 * Payloads (mosquitto(8), BROKER STATUS): decimal counters, "N seconds" for
 * uptime, "%.2f" for the load averages. A load average is an exponential
 * moving average of a rate in events per minute, as Mosquitto computes it:
 * with dt the seconds since the last update and r the events per minute
 * over dt, load = r + exp(-dt / T) * (load - r) for T = 60, 300, 900 s.
 *
 * Owns: its state in the broker (mq__sys_t). Never: a system call; exp()
 * is computed here, so the core needs no libm. Cost: nothing on the hot
 * path (it reads counters the hot path keeps); per update, one message per
 * changed value.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "musqratt/error.h"

#define SYS_PREFIX "$SYS/broker/"

/* exp(x) for x <= 0, to about 1e-12: halve x until it is small, sum the
 * Taylor series, square back. */
static double sys_exp_neg(double x)
{
    unsigned halvings = 0;
    if (x < -700.0)
        return 0.0;
    while (x < -0.5) {
        x /= 2.0;
        halvings++;
    }
    double term = 1.0, sum = 1.0;
    for (int i = 1; i < 14; i++) {
        term *= x / i;
        sum += term;
    }
    while (halvings--)
        sum *= sum;
    return sum;
}

static void sys_publish(mq_broker_t *b, const char *name, const char *payload)
{
    char topic[96];
    int tl = snprintf(topic, sizeof(topic), SYS_PREFIX "%s", name);
    if (tl <= 0 || (size_t)tl >= sizeof(topic))
        return;
    mq_msg_t *m = mq_msg_new(&b->mem, (const uint8_t *)topic, (uint16_t)tl,
                             (const uint8_t *)payload, (uint32_t)strlen(payload), NULL, 0, 0,
                             true, 0);
    if (!m) {
        mq__log(b, MQ_LOG_WARNING, "$SYS: no memory for %s", topic);
        return;
    }
    mq__retain_store(b, m);
    mq__route(b, m, NULL);
    mq_msg_unref(&b->mem, m);
}

static void sys_publish_u64(mq_broker_t *b, const char *name, uint64_t v)
{
    char p[24];
    snprintf(p, sizeof(p), "%llu", (unsigned long long)v);
    sys_publish(b, name, p);
}

/* The counters and gauges, in the order Mosquitto sends them. Deprecated
 * Mosquitto names (clients/active, clients/inactive, messages/stored) are
 * published too: existing dashboards read them. */
enum {
    V_CLIENTS_TOTAL, V_CLIENTS_DISCONNECTED, V_CLIENTS_CONNECTED, V_CLIENTS_EXPIRED,
    V_CLIENTS_MAXIMUM, V_STORE_COUNT, V_STORE_BYTES, V_MSGS_RX, V_MSGS_TX, V_SUBS, V_RETAINED,
    V_HEAP_CUR, V_HEAP_MAX, V_PUB_DROPPED, V_PUB_RX, V_PUB_TX, V_PUB_BYTES_RX, V_PUB_BYTES_TX,
    V_BYTES_RX, V_BYTES_TX, V_SHARED_SUBS, V_COUNT
};
_Static_assert(V_COUNT <= MQ__SYS_VALUES, "mq__sys_t.shown is too small");

static const struct {
    uint8_t value;
    const char *name;
} sys_topics[] = {
    {V_CLIENTS_TOTAL, "clients/total"},
    {V_CLIENTS_DISCONNECTED, "clients/inactive"},
    {V_CLIENTS_DISCONNECTED, "clients/disconnected"},
    {V_CLIENTS_CONNECTED, "clients/active"},
    {V_CLIENTS_CONNECTED, "clients/connected"},
    {V_CLIENTS_EXPIRED, "clients/expired"},
    {V_CLIENTS_MAXIMUM, "clients/maximum"},
    {V_STORE_COUNT, "messages/stored"},
    {V_MSGS_RX, "messages/received"},
    {V_MSGS_TX, "messages/sent"},
    {V_STORE_COUNT, "store/messages/count"},
    {V_STORE_BYTES, "store/messages/bytes"},
    {V_SUBS, "subscriptions/count"},
    {V_SHARED_SUBS, "shared_subscriptions/count"},
    {V_RETAINED, "retained messages/count"},
    {V_HEAP_CUR, "heap/current"},
    {V_HEAP_MAX, "heap/maximum"},
    {V_PUB_DROPPED, "publish/messages/dropped"},
    {V_PUB_RX, "publish/messages/received"},
    {V_PUB_TX, "publish/messages/sent"},
    {V_PUB_BYTES_RX, "publish/bytes/received"},
    {V_PUB_BYTES_TX, "publish/bytes/sent"},
    {V_BYTES_RX, "bytes/received"},
    {V_BYTES_TX, "bytes/sent"},
};

static const char *const load_names[MQ__LOAD_COUNT] = {
    "load/messages/received", "load/messages/sent", "load/publish/dropped",
    "load/publish/received", "load/publish/sent",  "load/bytes/received",
    "load/bytes/sent",       "load/sockets",       "load/connections",
};
static const char *const load_windows[3] = {"1min", "5min", "15min"};
static const double load_seconds[3] = {60.0, 300.0, 900.0};

static void sys_values(const mq_broker_stats_t *st, uint64_t v[V_COUNT])
{
    v[V_CLIENTS_TOTAL] = st->sessions;
    v[V_CLIENTS_CONNECTED] = st->clients_connected;
    v[V_CLIENTS_DISCONNECTED] =
        st->sessions > st->clients_connected ? st->sessions - st->clients_connected : 0;
    v[V_CLIENTS_EXPIRED] = st->clients_expired;
    v[V_CLIENTS_MAXIMUM] = st->clients_maximum;
    v[V_STORE_COUNT] = st->stored_msgs;
    v[V_STORE_BYTES] = st->stored_bytes;
    v[V_MSGS_RX] = st->packets_received;
    v[V_MSGS_TX] = st->packets_sent;
    v[V_SUBS] = st->subscriptions;
    v[V_RETAINED] = st->retained;
    v[V_HEAP_CUR] = st->memory_used;
    v[V_HEAP_MAX] = st->memory_peak;
    v[V_PUB_DROPPED] = st->msgs_dropped;
    v[V_PUB_RX] = st->msgs_received;
    v[V_PUB_TX] = st->msgs_sent;
    v[V_PUB_BYTES_RX] = st->pub_bytes_received;
    v[V_PUB_BYTES_TX] = st->pub_bytes_sent;
    v[V_BYTES_RX] = st->bytes_received;
    v[V_BYTES_TX] = st->bytes_sent;
    v[V_SHARED_SUBS] = st->shared_subscriptions;
}

static void sys_load_counters(const mq_broker_stats_t *st, uint64_t c[MQ__LOAD_COUNT])
{
    c[MQ__LOAD_MSGS_RX] = st->packets_received;
    c[MQ__LOAD_MSGS_TX] = st->packets_sent;
    c[MQ__LOAD_PUB_DROPPED] = st->msgs_dropped;
    c[MQ__LOAD_PUB_RX] = st->msgs_received;
    c[MQ__LOAD_PUB_TX] = st->msgs_sent;
    c[MQ__LOAD_BYTES_RX] = st->bytes_received;
    c[MQ__LOAD_BYTES_TX] = st->bytes_sent;
    c[MQ__LOAD_SOCKETS] = st->sockets;
    c[MQ__LOAD_CONNECTIONS] = st->connects;
}

void mq__sys_init(mq_broker_t *b)
{
    mq_timer_init(&b->sys.timer, MQ__TIMER_SYS);
    if (b->cfg.sys_interval &&
        mq_timer_set(&b->timers, &b->sys.timer, b->cfg.start_time) != MQ_OK)
        mq__log(b, MQ_LOG_WARNING, "$SYS: no memory for its timer; no $SYS updates");
}

static void sys_loads(mq_broker_t *b, const uint64_t cnt[MQ__LOAD_COUNT], mq_time_t now,
                      bool first)
{
    mq__sys_t *sy = &b->sys;
    double dt = first ? 0.0 : (double)(now - sy->last) / 1000.0;
    for (int i = 0; i < MQ__LOAD_COUNT; i++) {
        if (dt > 0.0) {
            double per_min = (double)(cnt[i] - sy->prev[i]) * 60.0 / dt;
            for (int w = 0; w < 3; w++)
                sy->load[i][w] =
                    per_min + sys_exp_neg(-dt / load_seconds[w]) * (sy->load[i][w] - per_min);
        }
        sy->prev[i] = cnt[i];
        for (int w = 0; w < 3; w++) {
            uint64_t hundredths = (uint64_t)(sy->load[i][w] * 100.0 + 0.5);
            if (!first && hundredths == sy->load_shown[i][w])
                continue;
            sy->load_shown[i][w] = hundredths;
            char name[64], payload[32];
            snprintf(name, sizeof(name), "%s/%s", load_names[i], load_windows[w]);
            snprintf(payload, sizeof(payload), "%llu.%02llu",
                     (unsigned long long)(hundredths / 100), (unsigned long long)(hundredths % 100));
            sys_publish(b, name, payload);
        }
    }
}

void mq__sys_update(mq_broker_t *b, mq_time_t now)
{
    mq__sys_t *sy = &b->sys;
    bool first = !sy->started;
    mq_time_t interval = (mq_time_t)b->cfg.sys_interval * 1000u;
    mq_time_t next = sy->timer.at + interval;
    b->now = now;
    /* One snapshot, before anything goes out: the messages published below
     * move the counters, and those moves show in the next update. */
    mq_broker_stats_t st;
    mq_broker_stats(b, &st);
    if (next <= now)
        next = now + interval;
    if (mq_timer_set(&b->timers, &sy->timer, next) != MQ_OK) {
        mq_timer_cancel(&b->timers, &sy->timer);
        mq__log(b, MQ_LOG_WARNING, "$SYS: no memory for its timer; updates stop");
    }

    if (first)
        sys_publish(b, "version", b->cfg.version ? b->cfg.version : "musqratt");
    char up[32];
    mq_time_t since = now > b->cfg.start_time ? now - b->cfg.start_time : 0;
    snprintf(up, sizeof(up), "%llu seconds", (unsigned long long)(since / 1000u));
    sys_publish(b, "uptime", up);

    uint64_t cnt[MQ__LOAD_COUNT];
    sys_load_counters(&st, cnt);
    sys_loads(b, cnt, now, first);

    uint64_t v[V_COUNT];
    sys_values(&st, v);
    bool changed[V_COUNT];
    for (int i = 0; i < V_COUNT; i++) {
        changed[i] = first || v[i] != sy->shown[i];
        sy->shown[i] = v[i];
    }
    for (size_t i = 0; i < sizeof(sys_topics) / sizeof(sys_topics[0]); i++)
        if (changed[sys_topics[i].value])
            sys_publish_u64(b, sys_topics[i].name, v[sys_topics[i].value]);
    sy->last = now;
    sy->started = true;
}
