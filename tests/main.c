/* main.c - runs every test table; prints one line per case and the closing
 * "N passed, N failed, N skipped" line; exit 1 on any failure. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TABLE(name) extern const lc_test_case name[];
#include "tables.h"
#undef TABLE

static const lc_test_case *const all_tables[] = {
#define TABLE(name) name,
#include "tables.h"
#undef TABLE
};

const char *t_shared(const char *rel) {
    static char buf[8][4096];
    static int slot;
    const char *root = getenv("LC_SHARED");
    if (!root || !*root) root = "../shared";
    char *b = buf[slot++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", root, rel);
    if (access(b, R_OK) != 0) return NULL;
    return b;
}

const char *t_data(const char *rel) {
    static char buf[8][4096];
    static int slot;
    char *b = buf[slot++ & 7];
    snprintf(b, sizeof buf[0], "tests/data/%s", rel);
    return b;
}

static char tmpdir[256];

const char *t_tmpdir(void) {
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/llamac-test-XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return tmpdir;
}

int t_run_llamac(const char *args, char **out) {
    const char *bin = getenv("LLAMAC_BIN");
    if (!bin || !*bin) bin = "./llamac";
    char *cmd = NULL;
    if (asprintf(&cmd, "%s %s 2>&1", bin, args) < 0) return -1;
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p) return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (cap - n < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
    }
    if (buf) buf[n] = 0;
    int st = pclose(p);
    if (out) *out = buf;
    else free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int t_run(char **out, const char *fmt, ...) {
    char args[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    *out = NULL;
    int rc = t_run_llamac(args, out);
    if (!*out) *out = strdup("");
    return rc;
}

void *t_slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    *n = 0;
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[len] = 0, *n = len;
    return buf;
}

int t_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) || w != n ? -1 : 0;
}

static void cleanup(void) {
    if (tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

int main(int argc, char **argv) {
    atexit(cleanup);
    setvbuf(stdout, NULL, _IONBF, 0);
    int pass = 0, fail = 0, skip = 0;
    for (size_t t = 0; t < sizeof all_tables / sizeof all_tables[0]; t++) {
        for (const lc_test_case *c = all_tables[t]; c->name; c++) {
            if (argc > 1 && !strstr(c->name, argv[1])) continue;
            int r = c->fn();
            const char *tag = r == T_PASS ? "ok  " : r == T_SKIP ? "skip" : "FAIL";
            printf("%s %s\n", tag, c->name);
            if (r == T_PASS) pass++;
            else if (r == T_SKIP) skip++;
            else fail++;
        }
    }
    printf("%d passed, %d failed, %d skipped\n", pass, fail, skip);
    return fail ? 1 : 0;
}
