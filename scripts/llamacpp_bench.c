/* llamacpp_bench.c - llama-bench's pp/tg method against an outside llama.cpp build, so that
 * `make bench` can put both engines side by side in one run on one machine. Not part of the
 * library or the tests: scripts/bench.sh compiles it on the fly and runs it against the
 * prebuilt CPU libraries of the npm package @node-llama-cpp/linux-x64 (pinned there), which it
 * fetches into the model cache; nothing of llama.cpp is in this repository.
 *
 *   llamacpp_bench LIBDIR MODEL THREADS PP TG REPS
 *
 * Prints one JSON line per test like `llamac bench --json` ("test", "threads", "tokens_per_s",
 * "stddev", "engine": "llama.cpp"). Like llama-bench: a fresh context per test (n_ctx = PP or
 * TG), one warm-up run, then REPS runs each from an empty KV cache; pp decodes the PP random
 * tokens as one batch, tg decodes TG tokens one at a time.
 *
 * The library is opened with dlopen and only plain functions are called. The parameter structs
 * are returned and passed by value, so their layout matters: the code checks the defaults it
 * knows (n_ctx 512, n_batch 2048, n_ubatch 512, n_threads = n_threads_batch = 4 at words 7 and
 * 8 in the release pinned by bench.sh) and refuses any other layout. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    unsigned char b[1024];   /* larger than either params struct: returned through memory either way */
} params_buf;
typedef struct {
    int32_t n_tokens;
    int32_t *token;
    float *embd;
    int32_t *pos;
    int32_t *n_seq_id;
    int32_t **seq_id;
    int8_t *logits;
} batch_t;

static struct {
    void (*log_set)(void (*)(int, const char *, void *), void *);
    void (*load_all_from_path)(const char *);
    void (*backend_init)(void);
    params_buf (*model_default_params)(void);
    params_buf (*context_default_params)(void);
    void *(*model_load_from_file)(const char *, params_buf);
    void *(*init_from_model)(void *, params_buf);
    void (*free_ctx)(void *);
    void (*model_free)(void *);
    batch_t (*batch_get_one)(int32_t *, int32_t);
    int32_t (*decode)(void *, batch_t);
    void (*synchronize)(void *);
    void *(*get_memory)(void *);
    void (*memory_clear)(void *, bool);
    int32_t (*n_threads)(void *);
    batch_t (*batch_init)(int32_t, int32_t, int32_t);
    void (*batch_free)(batch_t);
    float *(*get_logits_ith)(void *, int32_t);
    const void *(*model_get_vocab)(const void *);
    int32_t (*vocab_n_tokens)(const void *);
} L;

enum { W_N_CTX = 0, W_N_BATCH = 1, W_N_UBATCH = 2, W_N_THREADS = 7, W_N_THREADS_BATCH = 8 };

static void quiet(int level, const char *text, void *ud) {
    (void)ud;
    if (level >= 4 /* GGML_LOG_LEVEL_ERROR */ || getenv("LLAMACPP_BENCH_VERBOSE")) fputs(text, stderr);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int bind(const char *libdir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", libdir, "libllama.v0.5.0.so");
    void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        fprintf(stderr, "llamacpp_bench: %s\n", dlerror());
        return -1;
    }
#define SYM(field, name)                                                                    \
    do {                                                                                    \
        *(void **)&L.field = dlsym(h, name);                                                \
        if (!L.field) {                                                                     \
            fprintf(stderr, "llamacpp_bench: %s: no symbol %s\n", path, name);              \
            return -1;                                                                      \
        }                                                                                   \
    } while (0)
    SYM(log_set, "llama_log_set");
    SYM(load_all_from_path, "ggml_backend_load_all_from_path");
    SYM(backend_init, "llama_backend_init");
    SYM(model_default_params, "llama_model_default_params");
    SYM(context_default_params, "llama_context_default_params");
    SYM(model_load_from_file, "llama_model_load_from_file");
    SYM(init_from_model, "llama_init_from_model");
    SYM(free_ctx, "llama_free");
    SYM(model_free, "llama_model_free");
    SYM(batch_get_one, "llama_batch_get_one");
    SYM(decode, "llama_decode");
    SYM(synchronize, "llama_synchronize");
    SYM(get_memory, "llama_get_memory");
    SYM(memory_clear, "llama_memory_clear");
    SYM(n_threads, "llama_n_threads");
    SYM(batch_init, "llama_batch_init");
    SYM(batch_free, "llama_batch_free");
    SYM(get_logits_ith, "llama_get_logits_ith");
    SYM(model_get_vocab, "llama_model_get_vocab");
    SYM(vocab_n_tokens, "llama_vocab_n_tokens");
#undef SYM
    return 0;
}

/* a context of n_ctx positions, batches up to n_batch tokens, threads threads (0: default) */
static void *new_context(void *model, uint32_t n_ctx, uint32_t n_batch, int threads) {
    params_buf cp = L.context_default_params();
    uint32_t w[9];
    memcpy(w, cp.b, sizeof w);
    if (w[W_N_CTX] != 512 || w[W_N_BATCH] != 2048 || w[W_N_UBATCH] != 512 || w[W_N_THREADS] != 4 ||
        w[W_N_THREADS_BATCH] != 4) {
        fprintf(stderr, "llamacpp_bench: llama_context_params of this libllama have an unknown layout\n");
        return NULL;
    }
    w[W_N_CTX] = n_ctx;
    if (n_batch > w[W_N_BATCH]) w[W_N_BATCH] = n_batch;
    if (threads > 0) w[W_N_THREADS] = w[W_N_THREADS_BATCH] = (uint32_t)threads;
    memcpy(cp.b, w, sizeof w);
    void *ctx = L.init_from_model(model, cp);
    if (!ctx) fprintf(stderr, "llamacpp_bench: llama_init_from_model failed\n");
    return ctx;
}

/* one test (pp when pp > 0, else tg): tokens/s of each repetition into ts[] */
static int run_test(void *model, int threads, int pp, int tg, int reps, double *ts) {
    int n = pp > 0 ? pp : tg;
    void *ctx = new_context(model, (uint32_t)n, (uint32_t)n, threads);
    if (!ctx) return -1;
    if (L.n_threads(ctx) != threads) {
        fprintf(stderr, "llamacpp_bench: the context did not take the thread count\n");
        L.free_ctx(ctx);
        return -1;
    }
    int n_vocab = L.vocab_n_tokens(L.model_get_vocab(model));
    int32_t *tok = malloc(sizeof *tok * (size_t)n);
    if (!tok) {
        L.free_ctx(ctx);
        return -1;
    }
    srand(1);
    for (int i = 0; i < n; i++) tok[i] = rand() % n_vocab;
    int rc = 0;
    for (int r = -1; r < reps && !rc; r++) {   /* r = -1: warm-up */
        L.memory_clear(L.get_memory(ctx), false);
        double t0 = now();
        if (pp > 0) {
            rc = L.decode(ctx, L.batch_get_one(tok, pp)) ? -1 : 0;
        } else {
            for (int i = 0; i < (r < 0 ? 1 : tg) && !rc; i++) rc = L.decode(ctx, L.batch_get_one(tok + i, 1)) ? -1 : 0;
        }
        L.synchronize(ctx);
        if (r >= 0) ts[r] = n / (now() - t0);
    }
    if (rc) fprintf(stderr, "llamacpp_bench: llama_decode failed\n");
    free(tok);
    L.free_ctx(ctx);
    return rc;
}

/* --logits: llama.cpp's logits of the tokens (one sequence from position 0) against those
 * `llamac logits` wrote to ref (n_tokens * n_vocab float32); prints one JSON line */
static int compare_logits(void *model, const char *ids, const char *ref) {
    enum { MAX_TOK = 512 };
    int32_t tok[MAX_TOK];
    int n = 0;
    for (const char *p = ids; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        if (n == MAX_TOK) {
            fprintf(stderr, "llamacpp_bench: more than %d token ids\n", MAX_TOK);
            return -1;
        }
        tok[n++] = (int32_t)v;
        p = end;
    }
    int n_vocab = L.vocab_n_tokens(L.model_get_vocab(model));
    size_t want = sizeof(float) * (size_t)n * (size_t)n_vocab;
    FILE *f = fopen(ref, "rb");
    float *r = malloc(want ? want : 1);
    long size = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) size = ftell(f), rewind(f);
    if (!n || !f || !r || size != (long)want || fread(r, 1, want, f) != want) {
        fprintf(stderr, "llamacpp_bench: %s is not %d x %d float32 logits\n", ref, n, n_vocab);
        if (f) fclose(f);
        free(r);
        return -1;
    }
    fclose(f);
    void *ctx = new_context(model, MAX_TOK, MAX_TOK, 0);
    batch_t b = L.batch_init(n, 0, 1);
    for (int i = 0; i < n; i++) {
        b.token[i] = tok[i], b.pos[i] = i, b.n_seq_id[i] = 1, b.seq_id[i][0] = 0, b.logits[i] = 1;
    }
    b.n_tokens = n;
    int rc = !ctx || L.decode(ctx, b) ? -1 : 0;
    double se = 0, sr = 0, maxd = 0;
    int top_same = 0;
    for (int i = 0; i < n && !rc; i++) {
        const float *a = L.get_logits_ith(ctx, i), *e = r + (size_t)i * n_vocab;
        if (!a) {
            rc = -1;
            break;
        }
        int ta = 0, te = 0;
        for (int k = 0; k < n_vocab; k++) {
            double d = (double)a[k] - e[k];
            se += d * d, sr += (double)e[k] * e[k];
            if (fabs(d) > maxd) maxd = fabs(d);
            if (a[k] > a[ta]) ta = k;
            if (e[k] > e[te]) te = k;
        }
        top_same += ta == te;
    }
    if (!rc)
        printf("{\"tokens\": %d, \"rel_rms\": %.3g, \"max_abs\": %.3g, \"top1_same\": %d}\n", n, sqrt(se / sr), maxd,
               top_same);
    else
        fprintf(stderr, "llamacpp_bench: llama.cpp could not evaluate the tokens\n");
    L.batch_free(b);
    if (ctx) L.free_ctx(ctx);
    free(r);
    return rc;
}

/* the libraries in libdir, their CPU backend, and the model; NULL with a message on failure */
static void *open_model(const char *libdir, const char *path) {
    if (bind(libdir)) return NULL;
    L.log_set(quiet, NULL);
    L.load_all_from_path(libdir);
    L.backend_init();
    void *model = L.model_load_from_file(path, L.model_default_params());
    if (!model) fprintf(stderr, "llamacpp_bench: llama.cpp could not load %s\n", path);
    return model;
}

int main(int argc, char **argv) {
    if (argc == 6 && !strcmp(argv[1], "--logits")) {
        void *model = open_model(argv[2], argv[3]);
        if (!model) return 1;
        int rc = compare_logits(model, argv[4], argv[5]);
        L.model_free(model);
        return rc ? 1 : 0;
    }
    if (argc != 7 || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: llamacpp_bench LIBDIR MODEL THREADS PP TG REPS\n"
                        "       llamacpp_bench --logits LIBDIR MODEL \"ID ...\" LLAMAC_LOGITS.bin\n"
                        "llama-bench's pp and tg tests against the llama.cpp libraries in LIBDIR (see scripts/bench.sh);\n"
                        "--logits: llama.cpp's logits of the tokens against those `llamac logits` wrote\n");
        return argc == 2 ? 0 : 2;
    }
    int threads = atoi(argv[3]), pp = atoi(argv[4]), tg = atoi(argv[5]), reps = atoi(argv[6]);
    if (threads < 1 || pp < 0 || tg < 0 || reps < 1 || reps > 100) {
        fprintf(stderr, "llamacpp_bench: bad THREADS/PP/TG/REPS\n");
        return 2;
    }
    void *model = open_model(argv[1], argv[2]);
    if (!model) return 1;
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++) {
        int n = k == 0 ? pp : tg;
        if (n == 0) continue;
        double ts[100], mean = 0, var = 0;
        rc = run_test(model, threads, k == 0 ? pp : 0, k == 0 ? 0 : tg, reps, ts);
        if (rc) break;
        for (int r = 0; r < reps; r++) mean += ts[r] / reps;
        for (int r = 0; r < reps; r++) var += (ts[r] - mean) * (ts[r] - mean);
        printf("{\"engine\": \"llama.cpp\", \"test\": \"%s%d\", \"threads\": %d, \"tokens_per_s\": %.3f, "
               "\"stddev\": %.3f}\n",
               k == 0 ? "pp" : "tg", n, threads, mean, reps > 1 ? sqrt(var / (reps - 1)) : 0.0);
        fflush(stdout);
    }
    L.model_free(model);
    return rc ? 1 : 0;
}
