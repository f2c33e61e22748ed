/* test.h - the tiny test harness: each tests/test_*.c file exports a table of cases,
 * tests/main.c runs them all (or those whose name contains argv[1]). */
#ifndef LC_TEST_H
#define LC_TEST_H

#include <stdio.h>

enum { T_PASS = 0, T_FAIL = 1, T_SKIP = 2 };

typedef struct lc_test_case {
    const char *name;
    int (*fn)(void);
} lc_test_case;

/* records a failure and returns T_FAIL from the calling test */
#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            return T_FAIL;                                                                \
        }                                                                                 \
    } while (0)
#define CHECKF(cond, ...)                                                                 \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "  %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
            return T_FAIL;                                                                \
        }                                                                                 \
    } while (0)

/* path of ../shared (or $LC_SHARED) + rel, or NULL when the shared material is absent:
 * the test should then return T_SKIP. Returned buffer is static per call slot (8 slots). */
const char *t_shared(const char *rel);
/* path under tests/data */
const char *t_data(const char *rel);
/* a fresh temporary directory for this test run (removed at exit) */
const char *t_tmpdir(void);
/* runs the llamac binary with args (shell syntax), captures stdout+stderr into *out
 * (malloc'd) and returns the exit status (-1 if it did not exit normally) */
int t_run_llamac(const char *args, char **out);
/* the same with printf-style arguments; *out is never NULL (free it) */
int t_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* whole file, NUL-terminated, malloc'd; NULL if unreadable */
void *t_slurp(const char *path, size_t *n);
/* 0 on success */
int t_write_file(const char *path, const void *data, size_t n);

#endif
