/* cli.c - what every llamac subcommand shares: error lines, strict flag and number
 * parsing, common options (-m, --ctx, -t, sampling), file reading, model loading, SIGINT. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- errors and small helpers ------------------------------------- */
int g_bad;               /* a usage error was reported while parsing */
volatile int g_stop;     /* set by SIGINT: stop the current answer */

/* prints "error: ...": one line (newlines in messages become spaces); returns 1 */
int fail(const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    fflush(stdout);
    fprintf(stderr, "error: %s\n", buf);
    return 1;
}

/* "error: what: <library message>", without repeating `what` when the message has it */
int fail_lib(int rc, const char *what) {
    const char *msg = lc_last_error();
    if (!msg || !*msg) msg = lc_strerror(rc);
    if (what && *what && !strstr(msg, what)) return fail("%s: %s", what, msg);
    return fail("%s", msg);
}

int usage_fail(const char *cmd, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_bad = 1;
    return fail("%s: %s (see llamac %s --help)", cmd, buf, cmd);
}

double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* peak resident memory in bytes (VmHWM, else getrusage) */
size_t peak_rss(void) {
    size_t kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "VmHWM:", 6)) {
                kb = strtoull(line + 6, NULL, 10);
                break;
            }
        fclose(f);
    }
    if (!kb) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0) kb = (size_t)ru.ru_maxrss;
    }
    return kb * 1024;
}

const char *human_bytes(double b, char *buf, size_t cap) {
    static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;
    while (b >= 1024 && u < 4) b /= 1024, u++;
    snprintf(buf, cap, u ? "%.2f %s" : "%.0f %s", b, units[u]);
    return buf;
}

/* reads a whole file ("-": stdin) into a NUL-terminated malloc'd buffer */
char *read_all(const char *path, size_t *len) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fail("%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
        if (cap - n < 2) {
            char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int err = ferror(f);
    if (f != stdin) fclose(f);
    if (!buf) {
        fail("%s: out of memory", path);
        return NULL;
    }
    if (err) {
        free(buf);
        fail("%s: read error", path);
        return NULL;
    }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* growable byte buffer */

int sbuf_add(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

/* ---- option parsing -------------------------------------------------- */
/* matches argv[*i] against -s / --long (also --long=VALUE): returns 1 and sets *val when
 * it matched, 0 otherwise. A missing value is a usage error (g_bad set, *val = ""). */
/* the value of a flag given without one: the error is already printed, parsers skip it */
const char MISSING[] = "";

int take(int argc, char **argv, int *i, const char *s, const char *l, const char **val) {
    const char *a = argv[*i];
    size_t ll = l ? strlen(l) : 0;
    if (l && !strncmp(a, l, ll) && a[ll] == '=') {
        *val = a + ll + 1;
        return 1;
    }
    if (!((s && !strcmp(a, s)) || (l && !strcmp(a, l)))) return 0;
    if (*i + 1 >= argc) {
        fail("%s needs a value", a);
        g_bad = 1;
        *val = MISSING;
        return 1;
    }
    *val = argv[++*i];
    return 1;
}

int is_flag(const char *a, const char *s, const char *l) {
    return (s && !strcmp(a, s)) || (l && !strcmp(a, l));
}

int is_help(const char *a) { return is_flag(a, "-h", "--help"); }

/* strict integer: the whole string, in [lo, hi]; errors set g_bad */
int num_int(const char *flag, const char *s, long lo, long hi, int *out) {
    if (s == MISSING) return 1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *s == ' ' || *end || errno || v < lo || v > hi) {
        g_bad = 1;
        return fail("%s: '%s' is not an integer in [%ld, %ld]", flag, s, lo, hi);
    }
    *out = (int)v;
    return 0;
}

int num_float(const char *flag, const char *s, double lo, double hi, float *out) {
    if (s == MISSING) return 1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *s == ' ' || *end || errno || !isfinite(v) || v < lo || v > hi) {
        g_bad = 1;
        return fail("%s: '%s' is not a number in [%g, %g]", flag, s, lo, hi);
    }
    *out = (float)v;
    return 0;
}

int num_u64(const char *flag, const char *s, uint64_t *out) {
    if (s == MISSING) return 1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *s < '0' || *s > '9' || *end || errno) {
        g_bad = 1;
        return fail("%s: '%s' is not a non-negative integer", flag, s);
    }
    *out = (uint64_t)v;
    return 0;
}

/* parses a list of token ids ("1 2 3", "1,2,3", "[1, 2, 3]"); each must be in [0, n_vocab)
 * when n_vocab > 0. *ids malloc'd. Returns 0 or 1 (error printed). */
int parse_ids(const char *what, const char *s, int n_vocab, int32_t **ids, int *n) {
    size_t cap = 16;
    int k = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) return fail("out of memory");
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '[' ||
               *p == ']')
            p++;
        if (!*p) break;
        const char *q = p;
        while (*q && !strchr(" ,\t\n\r[]", *q)) q++;
        char tokbuf[32];
        size_t len = (size_t)(q - p);
        char *end;
        long id = -1;
        int ok = len > 0 && len < sizeof tokbuf;
        if (ok) {
            memcpy(tokbuf, p, len);
            tokbuf[len] = 0;
            errno = 0;
            id = strtol(tokbuf, &end, 10);
            ok = !*end && !errno && tokbuf[0] != '+';
        }
        if (!ok) {
            free(v);
            return fail("%s: '%.*s' is not a token id", what, (int)(len > 40 ? 40 : len), p);
        }
        if (id < 0 || id > INT32_MAX || (n_vocab > 0 && id >= n_vocab)) {
            free(v);
            return fail("%s: token id %ld is out of range (vocabulary of %d)", what, id, n_vocab);
        }
        if ((size_t)k == cap) {
            int32_t *nv = realloc(v, cap * 2 * sizeof *v);
            if (!nv) {
                free(v);
                return fail("out of memory");
            }
            v = nv;
            cap *= 2;
        }
        v[k++] = (int32_t)id;
        p = q;
    }
    *ids = v;
    *n = k;
    return 0;
}

/* options of all commands; each command accepts its own subset */

void opts_init(opts *o, const char *cmd, int n_predict) {
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->n_predict = n_predict;
    o->lora_scale = 1.0f;
    lc_sampler_params_default(&o->sp);
}

/* -m, --ctx, -t, --verbose: 1 if argv[*i] was one of them */
int opt_common(int argc, char **argv, int *i, opts *o) {
    const char *v;
    if (take(argc, argv, i, "-m", "--model", &v)) o->model = v;
    else if (take(argc, argv, i, "-c", "--ctx", &v)) num_int("--ctx", v, 1, 1 << 24, &o->n_ctx);
    else if (take(argc, argv, i, "-t", "--threads", &v)) num_int("--threads", v, 0, 512, &o->n_threads);
    else if (is_flag(argv[*i], NULL, "--verbose")) o->verbose = 1;
    else if (is_flag(argv[*i], NULL, "--exact")) o->exact = 1;
    else if (take(argc, argv, i, NULL, "--lora", &v)) o->lora = v;
    else if (take(argc, argv, i, NULL, "--lora-scale", &v)) num_float("--lora-scale", v, -100, 100, &o->lora_scale);
    else return 0;
    return 1;
}

/* sampling flags, -n, --stop: 1 if argv[*i] was one of them */
int opt_sampling(int argc, char **argv, int *i, opts *o) {
    const char *v;
    lc_sampler_params *sp = &o->sp;
    if (take(argc, argv, i, "-n", "--n-predict", &v)) num_int("-n", v, -1, INT32_MAX, &o->n_predict);
    else if (take(argc, argv, i, NULL, "--temp", &v)) num_float("--temp", v, 0, 100, &sp->temperature);
    else if (take(argc, argv, i, NULL, "--top-k", &v)) num_int("--top-k", v, 0, INT32_MAX, &sp->top_k);
    else if (take(argc, argv, i, NULL, "--top-p", &v)) num_float("--top-p", v, 0, 1, &sp->top_p);
    else if (take(argc, argv, i, NULL, "--min-p", &v)) num_float("--min-p", v, 0, 1, &sp->min_p);
    else if (take(argc, argv, i, NULL, "--repeat-penalty", &v))
        num_float("--repeat-penalty", v, 0, 100, &sp->repeat_penalty);
    else if (take(argc, argv, i, NULL, "--repeat-last-n", &v))
        num_int("--repeat-last-n", v, -1, INT32_MAX, &sp->repeat_last_n);
    else if (take(argc, argv, i, NULL, "--frequency-penalty", &v))
        num_float("--frequency-penalty", v, -100, 100, &sp->freq_penalty);
    else if (take(argc, argv, i, NULL, "--presence-penalty", &v))
        num_float("--presence-penalty", v, -100, 100, &sp->presence_penalty);
    else if (take(argc, argv, i, NULL, "--seed", &v)) {
        num_u64("--seed", v, &sp->seed);
        o->seed_set = 1;
    } else if (take(argc, argv, i, NULL, "--stop", &v)) {
        if (!*v) usage_fail(o->cmd, "--stop needs a non-empty string");
        else if (o->n_stops == MAX_STOPS) usage_fail(o->cmd, "at most %d --stop strings", MAX_STOPS);
        else o->stops[o->n_stops++] = v;
    } else return 0;
    return 1;
}

int unknown_arg(const char *cmd, const char *a) {
    if (a[0] == '-' && a[1]) return usage_fail(cmd, "unknown option '%s'", a);
    return usage_fail(cmd, "unexpected argument '%s'", a);
}

void seed_default(opts *o) {
    if (!o->seed_set) o->sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
}

/* ---- model, context and generation ------------------------------------ */
double g_load_s; /* seconds the last load_model took */

int load_model(const opts *o, lc_model **m) {
    double t0 = now_s();
    lc_model_params mp;
    lc_model_params_default(&mp);
    mp.n_threads = o->n_threads;
    mp.verbose = o->verbose;
    mp.lora = o->lora;
    mp.lora_scale = o->lora_scale;
    int rc = lc_model_load(o->model, &mp, m);
    if (rc != LC_OK) return fail_lib(rc, o->model);
    g_load_s = now_s() - t0;
    return 0;
}


void on_sigint(int sig) {
    (void)sig;
    g_stop = 1;
}

void catch_sigint(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;    /* no SA_RESTART: blocking reads return EINTR */
    sigaction(SIGINT, &sa, NULL);
}

