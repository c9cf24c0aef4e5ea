/*
 * musqratt-passwd — maintains password files for musqratt and Mosquitto,
 * with mosquitto_passwd's command line:
 *
 *   musqratt-passwd [-H sha512-pbkdf2|sha512] [-I ITER] [-c | -D] FILE USER
 *   musqratt-passwd [-H sha512-pbkdf2|sha512] [-I ITER] [-c] -b FILE USER PASSWORD
 *   musqratt-passwd [-H ...] [-I ITER] -U FILE
 *
 *   -c  create FILE (overwriting it) with USER only
 *   -b  batch: PASSWORD on the command line
 *   -D  delete USER
 *   -U  convert a plain-text "user:password" file to hashes in place (lines
 *       already hashed are left as they are; mosquitto_passwd would hash
 *       them again, making them unusable)
 *   -H  sha512-pbkdf2 ($7$, the default) or sha512 ($6$, Mosquitto 1.x)
 *   -I  PBKDF2 iterations (default 101, as mosquitto_passwd)
 *
 * Without -b the password is asked twice on the terminal, without echo (or
 * read as two lines from a non-terminal stdin). Salts come from OpenSSL's
 * RAND_bytes. The file is rewritten through a temporary file in the same
 * directory and renamed, so it is never seen half-written; lines it does not
 * change (other users, comments) are kept byte for byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "musqratt/auth.h"
#include "musqratt/codec.h"
#include "musqratt/error.h"

#define PW_MAX 1024        /* longest password read from a terminal */
#define HASH_MAX 256

typedef struct opts {
    bool create, batch, delete, update;
    bool sha512;           /* -H sha512: $6$ */
    uint32_t iterations;
} opts_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: musqratt-passwd [-H sha512-pbkdf2|sha512] [-I ITER] [-c | -D] FILE USER\n"
            "       musqratt-passwd [-H sha512-pbkdf2|sha512] [-I ITER] [-c] -b FILE USER PASSWORD\n"
            "       musqratt-passwd [-H sha512-pbkdf2|sha512] [-I ITER] -U FILE\n"
            " -c  create a new password file (overwrites an existing one)\n"
            " -b  batch mode: the password is on the command line\n"
            " -D  delete the user\n"
            " -U  hash the passwords of a plain-text user:password file in place\n"
            " -H  hash: sha512-pbkdf2 ($7$, default) or sha512 ($6$, Mosquitto 1.x)\n"
            " -I  PBKDF2 iterations (default %d)\n",
            MQ_PASSWD_ITERATIONS);
}

static int hash_field(const opts_t *o, const char *pass, char *out, size_t cap)
{
    if (o->sha512)
        return mq_passwd_hash6((const uint8_t *)pass, strlen(pass), NULL, out, cap);
    return mq_passwd_hash7((const uint8_t *)pass, strlen(pass), o->iterations, NULL, out, cap);
}

static bool valid_user(const char *u)
{
    size_t n = strlen(u);

    if (n == 0 || n > 65535) {
        fprintf(stderr, "musqratt-passwd: error: the username must be 1 to 65535 bytes\n");
        return false;
    }
    if (strchr(u, ':')) {
        fprintf(stderr, "musqratt-passwd: error: the username must not contain ':'\n");
        return false;
    }
    if (!mq_utf8_valid((const uint8_t *)u, n)) {
        fprintf(stderr, "musqratt-passwd: error: the username is not valid UTF-8\n");
        return false;
    }
    return true;
}

/* Reads one line of at most PW_MAX-1 bytes without its newline. */
static bool read_line(const char *prompt, bool tty, char *buf)
{
    struct termios old, quiet;

    if (tty) {
        fputs(prompt, stdout);
        fflush(stdout);
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= (tcflag_t)~ECHO;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        }
    }
    char *got = fgets(buf, PW_MAX, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stdout);
    }
    if (!got)
        return false;
    buf[strcspn(buf, "\r\n")] = '\0';
    return true;
}

static bool ask_password(char *pass)
{
    char again[PW_MAX];
    bool tty = isatty(STDIN_FILENO);

    if (!read_line("Password: ", tty, pass) || !read_line("Reenter password: ", tty, again)) {
        fprintf(stderr, "musqratt-passwd: error: no password given\n");
        return false;
    }
    bool same = strcmp(pass, again) == 0;
    OPENSSL_cleanse(again, sizeof again);
    if (!same) {
        fprintf(stderr, "musqratt-passwd: error: the passwords do not match\n");
        return false;
    }
    return true;
}

/* The file's contents (NUL-terminated), or NULL after a message. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f) {
        fprintf(stderr, "musqratt-passwd: error: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (cap - n < 2) {
            cap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, cap);
            if (!nb) {
                fprintf(stderr, "musqratt-passwd: error: out of memory\n");
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "musqratt-passwd: error: cannot read %s\n", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* An output file in the same directory, renamed over path at the end. */
typedef struct out {
    char tmp[4096];
    FILE *f;
} out_t;

static bool out_open(out_t *o, const char *path)
{
    struct stat st;
    mode_t mode = 0666;
    int n = snprintf(o->tmp, sizeof o->tmp, "%s.tmpXXXXXX", path);

    if (n < 0 || (size_t)n >= sizeof o->tmp) {
        fprintf(stderr, "musqratt-passwd: error: path too long\n");
        return false;
    }
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        fprintf(stderr, "musqratt-passwd: error: cannot create %s: %s\n", o->tmp,
                strerror(errno));
        return false;
    }
    /* Keep an existing file's mode; a new one gets 0666 less the umask,
     * as mosquitto_passwd's files do. */
    if (stat(path, &st) == 0) {
        mode = st.st_mode & 07777;
    } else {
        mode_t um = umask(0);
        umask(um);
        mode &= ~um;
    }
    fchmod(fd, mode);
    o->f = fdopen(fd, "w");
    if (!o->f) {
        close(fd);
        unlink(o->tmp);
        return false;
    }
    return true;
}

static bool out_close(out_t *o, const char *path, bool ok)
{
    if (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0)
        ok = false;
    if (fclose(o->f) != 0)
        ok = false;
    if (ok && rename(o->tmp, path) != 0) {
        fprintf(stderr, "musqratt-passwd: error: cannot replace %s: %s\n", path, strerror(errno));
        ok = false;
    }
    if (!ok)
        unlink(o->tmp);
    return ok;
}

/* The username field of a line (up to ':'), blanks trimmed as the broker does. */
static bool line_user(const char *line, size_t n, const char **u, size_t *ulen)
{
    while (n && (*line == ' ' || *line == '\t')) {
        line++;
        n--;
    }
    if (n == 0 || line[0] == '#')
        return false;
    const char *colon = memchr(line, ':', n);
    size_t k = colon ? (size_t)(colon - line) : n;
    while (k && (line[k - 1] == ' ' || line[k - 1] == '\t' || line[k - 1] == '\r'))
        k--;
    *u = line;
    *ulen = k;
    return k > 0;
}

/* Rewrites path: USER's line replaced by "USER:hash" (or appended), or
 * removed when hash is NULL. */
static int edit_user(const char *path, const char *user, const char *hash)
{
    size_t len, pos = 0, ulen = strlen(user);
    char *text = slurp(path, &len);
    bool found = false;
    out_t o = {.f = NULL};

    if (!text)
        return 1;
    if (!out_open(&o, path)) {
        free(text);
        return 1;
    }
    while (pos < len) {
        char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) + 1 : len;
        const char *u;
        size_t n;

        if (line_user(text + pos, end - pos, &u, &n) && n == ulen && !memcmp(u, user, n)) {
            if (hash && !found)
                fprintf(o.f, "%s:%s\n", user, hash);
            found = true; /* every line of that user goes */
        } else {
            fwrite(text + pos, 1, end - pos, o.f);
            if (!nl)
                fputc('\n', o.f);
        }
        pos = end;
    }
    if (hash && !found)
        fprintf(o.f, "%s:%s\n", user, hash);
    free(text);
    if (!hash && !found)
        fprintf(stderr, "musqratt-passwd: warning: user %s not found in %s\n", user, path);
    return out_close(&o, path, true) ? 0 : 1;
}

static int create_file(const char *path, const char *user, const char *hash)
{
    out_t o = {.f = NULL};

    if (!out_open(&o, path))
        return 1;
    fprintf(o.f, "%s:%s\n", user, hash);
    return out_close(&o, path, true) ? 0 : 1;
}

static int convert_file(const opts_t *op, const char *path)
{
    size_t len, pos = 0;
    char *text = slurp(path, &len);
    out_t o = {.f = NULL};
    bool ok = true;
    unsigned lineno = 0;

    if (!text)
        return 1;
    if (!out_open(&o, path)) {
        free(text);
        return 1;
    }
    while (pos < len && ok) {
        char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        char *line = text + pos;
        size_t n = end - pos;
        const char *u;
        size_t ulen;

        lineno++;
        line[n] = '\0'; /* the newline (or the final NUL) */
        if (n && line[n - 1] == '\r')
            line[--n] = '\0';
        char *colon = strchr(line, ':');
        if (!line_user(line, n, &u, &ulen) || !colon) {
            if (line_user(line, n, &u, &ulen))
                fprintf(stderr, "musqratt-passwd: warning: %s:%u: no password; line kept\n",
                        path, lineno);
            fprintf(o.f, "%s\n", line);
        } else if (!strncmp(colon + 1, "$6$", 3) || !strncmp(colon + 1, "$7$", 3)) {
            fprintf(stderr, "musqratt-passwd: warning: %s:%u: already hashed; line kept\n",
                    path, lineno);
            fprintf(o.f, "%s\n", line);
        } else {
            char hash[HASH_MAX];
            if (hash_field(op, colon + 1, hash, sizeof hash) < 0) {
                fprintf(stderr, "musqratt-passwd: error: %s:%u: hashing failed\n", path, lineno);
                ok = false;
                break;
            }
            fprintf(o.f, "%.*s:%s\n", (int)ulen, u, hash);
            OPENSSL_cleanse(colon + 1, strlen(colon + 1));
        }
        pos = end + 1;
    }
    OPENSSL_cleanse(text, len);
    free(text);
    return out_close(&o, path, ok) ? 0 : 1;
}

int main(int argc, char **argv)
{
    opts_t o = {.iterations = MQ_PASSWD_ITERATIONS};
    int i = 1;

    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "-c")) {
            o.create = true;
        } else if (!strcmp(a, "-b")) {
            o.batch = true;
        } else if (!strcmp(a, "-D")) {
            o.delete = true;
        } else if (!strcmp(a, "-U")) {
            o.update = true;
        } else if (!strcmp(a, "-H") && i + 1 < argc) {
            const char *h = argv[++i];
            if (!strcmp(h, "sha512")) {
                o.sha512 = true;
            } else if (!strcmp(h, "sha512-pbkdf2")) {
                o.sha512 = false;
            } else {
                fprintf(stderr, "musqratt-passwd: error: unknown hash '%s'\n", h);
                return 1;
            }
        } else if (!strcmp(a, "-I") && i + 1 < argc) {
            char *end;
            errno = 0;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (errno || *end || v == 0 || v > INT32_MAX || argv[i][0] == '-') {
                fprintf(stderr, "musqratt-passwd: error: -I needs 1..%d\n", INT32_MAX);
                return 1;
            }
            o.iterations = (uint32_t)v;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "musqratt-passwd: error: unknown option '%s'\n", a);
            usage(stderr);
            return 1;
        }
    }
    int rest = argc - i;
    char **pos = argv + i;
    if ((o.create && o.delete) || (o.update && (o.create || o.delete || o.batch)) ||
        (o.delete && o.batch)) {
        fprintf(stderr, "musqratt-passwd: error: -c, -D, -U and -b do not go together that way\n");
        usage(stderr);
        return 1;
    }
    if (o.update) {
        if (rest != 1) {
            usage(stderr);
            return 1;
        }
        return convert_file(&o, pos[0]);
    }
    if (rest != (o.batch ? 3 : 2)) {
        usage(stderr);
        return 1;
    }
    const char *file = pos[0], *user = pos[1];
    if (!valid_user(user))
        return 1;
    if (o.delete)
        return edit_user(file, user, NULL);

    char pass[PW_MAX];
    if (o.batch) {
        if (strlen(pos[2]) >= PW_MAX) {
            fprintf(stderr, "musqratt-passwd: error: password longer than %d bytes\n", PW_MAX - 1);
            return 1;
        }
        strcpy(pass, pos[2]);
    } else if (!ask_password(pass)) {
        return 1;
    }
    char hash[HASH_MAX];
    int n = hash_field(&o, pass, hash, sizeof hash);
    OPENSSL_cleanse(pass, sizeof pass);
    if (n < 0) {
        fprintf(stderr, "musqratt-passwd: error: hashing failed: %s\n", mq_strerror(n));
        return 1;
    }
    return o.create ? create_file(file, user, hash) : edit_user(file, user, hash);
}
