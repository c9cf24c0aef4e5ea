/*
 * musqratt-check — runs the conformance cases against a broker.
 *
 *   musqratt-check --host H --port P [--version 3.1.1|5] [--only GLOB]
 *                  [--json FILE] [-v]
 *
 * Prints one line per case and a summary "N passed, N failed, N skipped";
 * exits 0 only when nothing failed.
 */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_int.h"

extern const ck_area_t ck_area_v3_connect;
extern const ck_area_t ck_area_v3_publish;
extern const ck_area_t ck_area_v5_connect;
extern const ck_area_t ck_area_v5_publish;

static const ck_area_t *const areas[] = {&ck_area_v3_connect, &ck_area_v3_publish,
                                         &ck_area_v5_connect, &ck_area_v5_publish};

/* ---- results ----------------------------------------------------------- */

static ck_status_t reason(ck_ctx_t *x, ck_status_t st, const char *fmt, va_list ap)
{
    if (!x->has_reason) {
        vsnprintf(x->reason, sizeof(x->reason), fmt, ap);
        x->has_reason = true;
    }
    return st;
}

ck_status_t ck_fail(ck_ctx_t *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reason(x, CK_FAIL, fmt, ap);
    va_end(ap);
    return CK_FAIL;
}

ck_status_t ck_skip(ck_ctx_t *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reason(x, CK_SKIP, fmt, ap);
    va_end(ap);
    return CK_SKIP;
}

static void hex(char *out, size_t cap, const uint8_t *p, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o + 4 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%02x", p[i]);
    if (n * 2 + 4 >= cap && o + 4 < cap)
        snprintf(out + o, cap - o, "...");
}

ck_status_t ck_fail_bytes(ck_ctx_t *x, const char *what, const uint8_t *expected, size_t elen,
                          const uint8_t *seen, size_t slen)
{
    char e[200], s[200];
    hex(e, sizeof(e), expected, elen);
    hex(s, sizeof(s), seen, slen);
    if (expected)
        return ck_fail(x, "%s: expected %s, seen %s", what, e, s);
    return ck_fail(x, "expected %s, seen %s", what, s);
}

uint8_t ck_version(const ck_ctx_t *x)
{
    return x->kase->version;
}

static const char *name(ck_ctx_t *x, char sep, const char *suffix)
{
    char *out = x->names[x->nnames++ % 16];
    snprintf(out, sizeof(x->names[0]), "%s%c%u%c%s", x->cfg->prefix, sep, x->seq, sep, suffix);
    return out;
}

const char *ck_topic(ck_ctx_t *x, const char *suffix) { return name(x, '/', suffix); }
const char *ck_client_id(ck_ctx_t *x, const char *suffix) { return name(x, '-', suffix); }

/* ---- running ------------------------------------------------------------ */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: musqratt-check --host HOST --port PORT [--version 3.1.1|5] [--only GLOB]\n"
               "                      [--json FILE] [--list] [-v]\n");
}

int main(int argc, char **argv)
{
    ck_config_t cfg = {.host = "127.0.0.1", .port = 1883};
    bool list = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!a)
            break;
        if (!strcmp(a, "--host") && v) {
            cfg.host = v;
            i++;
        } else if (!strcmp(a, "--port") && v) {
            char *end;
            long port = strtol(v, &end, 10);
            if (*v == '\0' || *end != '\0' || port < 1 || port > 65535) {
                fprintf(stderr, "musqratt-check: bad port '%s'\n", v);
                return 2;
            }
            cfg.port = (uint16_t)port;
            i++;
        } else if (!strcmp(a, "--version") && v) {
            if (!strcmp(v, "3.1.1") || !strcmp(v, "4"))
                cfg.only_version = 4;
            else if (!strcmp(v, "5") || !strcmp(v, "5.0"))
                cfg.only_version = 5;
            else {
                usage(stderr);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--only") && v) {
            cfg.only = v;
            i++;
        } else if (!strcmp(a, "--json") && v) {
            cfg.json = v;
            i++;
        } else if (!strcmp(a, "--list")) {
            list = true;
        } else if (!strcmp(a, "-v")) {
            cfg.verbose = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "mqck%lx%x", (unsigned long)time(NULL) & 0xffffff,
             (unsigned)getpid() & 0xffff);
    cfg.prefix = prefix;

    FILE *json = NULL;
    if (cfg.json && !(json = fopen(cfg.json, "w"))) {
        perror(cfg.json);
        return 2;
    }
    if (json)
        fprintf(json, "{\"host\": \"%s\", \"port\": %u, \"cases\": [\n", cfg.host, cfg.port);

    unsigned passed = 0, failed = 0, skipped = 0, seq = 0;
    static ck_ctx_t x; /* large: not on the stack */
    for (size_t a = 0; a < sizeof(areas) / sizeof(areas[0]); a++) {
        for (size_t i = 0; i < areas[a]->n; i++) {
            const ck_case_t *k = &areas[a]->cases[i];
            if (cfg.only_version && k->version != cfg.only_version &&
                !(cfg.only_version == 4 && k->version == 3))
                continue;
            if (cfg.only && fnmatch(cfg.only, k->id, 0) != 0)
                continue;
            const char *ver = k->version == 5 ? "5.0" : k->version == 3 ? "3.1" : "3.1.1";
            if (list) {
                printf("%-16s %-5s %s\n", k->id, ver, k->title);
                continue;
            }
            memset(&x, 0, sizeof(x));
            x.cfg = &cfg;
            x.kase = k;
            x.seq = ++seq;
            ck_status_t st = k->run(&x);
            for (size_t c = 0; c < x.nclients; c++) {
                ck_close(x.clients[c]);
                free(x.clients[c]);
            }
            if (st == CK_FAIL && !x.has_reason)
                snprintf(x.reason, sizeof(x.reason), "failed");
            const char *word = st == CK_PASS ? "PASS" : st == CK_FAIL ? "FAIL" : "SKIP";
            passed += st == CK_PASS;
            failed += st == CK_FAIL;
            skipped += st == CK_SKIP;
            if (st == CK_PASS && !cfg.verbose)
                printf("%s %-16s %-5s %s\n", word, k->id, ver, k->title);
            else
                printf("%s %-16s %-5s %s: %s\n", word, k->id, ver, k->title,
                       st == CK_PASS ? "ok" : x.reason);
            fflush(stdout);
            if (json) {
                fprintf(json, "%s  {\"id\": ", passed + failed + skipped > 1 ? ",\n" : "");
                json_str(json, k->id);
                fprintf(json, ", \"version\": \"%s\", \"result\": \"%s\", \"title\": ", ver,
                        st == CK_PASS ? "pass" : st == CK_FAIL ? "fail" : "skip");
                json_str(json, k->title);
                fprintf(json, ", \"reason\": ");
                json_str(json, st == CK_PASS ? "" : x.reason);
                fprintf(json, "}");
            }
        }
    }
    if (json) {
        fprintf(json, "\n], \"passed\": %u, \"failed\": %u, \"skipped\": %u}\n", passed, failed,
                skipped);
        fclose(json);
    }
    if (!list)
        printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
