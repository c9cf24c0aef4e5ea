/*
 * musqratt — error codes.
 *
 * Every function of the library that can fail returns one of these negative
 * codes (MQ_OK, zero, on success). errno is never consulted by the core.
 */
#ifndef MUSQRATT_ERROR_H
#define MUSQRATT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum mq_error {
    MQ_OK = 0,
    MQ_ENOMEM = -1,        /* allocation failed or a memory/pool limit was hit */
    MQ_EAGAIN = -2,        /* more input bytes are needed to finish a packet */
    MQ_EMALFORMED = -3,    /* malformed packet (bad length, flags, encoding) */
    MQ_EPROTO = -4,        /* well-formed but violates the protocol */
    MQ_ETOOBIG = -5,       /* packet larger than the configured maximum */
    MQ_EINVAL = -6,        /* invalid argument */
    MQ_ELIMIT = -7,        /* a configured resource limit was reached */
    MQ_ENOTFOUND = -8,     /* no such entry */
    MQ_EUTF8 = -9,         /* invalid UTF-8 string (MQTT-1.5.3-x) */
    MQ_EPROTOVERSION = -10,/* unsupported protocol level (CONNACK 0x01) */
    MQ_EPROTONAME = -11,   /* wrong protocol name: close without CONNACK */
    MQ_ETOPIC = -12,       /* invalid topic name or topic filter */
    MQ_ECONFIG = -13,      /* configuration error */
    MQ_EIO = -14,          /* I/O error (platform layers only) */
    MQ_ECLOSED = -15       /* the connection is closing / closed */
};

/* Returns a static, human-readable description of an MQ_E* code. */
const char *mq_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
