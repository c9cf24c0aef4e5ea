/* check_int — musqratt-check's runner state, shared by main.c and client.c. */
#ifndef MQ_CHECK_INT_H
#define MQ_CHECK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "check.h"

typedef struct ck_config {
    const char *host;
    uint16_t port;
    uint8_t only_version;  /* 0 = both */
    const char *only;      /* glob on case ids, NULL = all */
    const char *json;      /* results file, NULL = none */
    const char *prefix;    /* unique prefix of topics and client ids */
    bool verbose;
} ck_config_t;

struct ck_client {
    int fd;
    uint8_t version;
    bool eof;
    size_t len;            /* bytes in `in` */
    size_t consumed;       /* bytes of the packet returned last */
    uint8_t in[1 << 17];
};

struct ck_ctx {
    const ck_config_t *cfg;
    const ck_case_t *kase;
    unsigned seq;          /* the case's number in this run */
    char reason[1024];
    bool has_reason;
    ck_client_t *clients[CK_MAX_CLIENTS];
    size_t nclients;
    char names[16][160];   /* ck_topic / ck_client_id results */
    size_t nnames;
};

#endif
