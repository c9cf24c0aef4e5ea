/*
 * error — human-readable text for the MQ_E* codes.
 *
 * Owns: a static string table. No allocation, no system calls.
 */
#include "musqratt/error.h"

const char *mq_strerror(int err)
{
    switch (err) {
    case MQ_OK: return "success";
    case MQ_ENOMEM: return "out of memory or memory limit reached";
    case MQ_EAGAIN: return "more input needed";
    case MQ_EMALFORMED: return "malformed packet";
    case MQ_EPROTO: return "protocol violation";
    case MQ_ETOOBIG: return "packet too large";
    case MQ_EINVAL: return "invalid argument";
    case MQ_ELIMIT: return "resource limit reached";
    case MQ_ENOTFOUND: return "not found";
    case MQ_EUTF8: return "invalid UTF-8 string";
    case MQ_EPROTOVERSION: return "unsupported protocol level";
    case MQ_EPROTONAME: return "wrong protocol name";
    case MQ_ETOPIC: return "invalid topic name or topic filter";
    case MQ_ECONFIG: return "configuration error";
    case MQ_EIO: return "I/O error";
    case MQ_ECLOSED: return "connection closed";
    default: return "unknown error";
    }
}
