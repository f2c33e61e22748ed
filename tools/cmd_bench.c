/* cmd_bench.c - `llamac bench` (prompt processing and generation speed like llama-bench,
 * the memory bandwidth reached during generation, and a plain streaming-read bandwidth
 * test with the same threads) and `llamac perplexity` (llama.cpp's method: non-overlapping
 * windows of --ctx tokens, each starting with BOS, the second half of each scored). */
#include "cli.h"
#include "kernels.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LC_BENCH_X86 1
#endif

const char USAGE_BENCH[] =
    "usage: llamac bench -m MODEL [-p N] [-n N] [-r N] [-t N] [--json] [--exact] [--membw]\n"
    "       llamac bench --membw [-t N] [--json] [--membw-size SIZE] [--hugepages]\n"
    "Measures, like llama-bench:\n"
    "  ppN  prompt processing: one batch of N tokens (BOS and random token ids) evaluated in\n"
    "       a fresh KV cache, tokens/s = N / time\n"
    "  tgN  generation: N tokens evaluated one at a time (BOS, then the argmax of each step's\n"
    "       logits), tokens/s = N / time; also the bytes read per token (every weight matrix,\n"
    "       the output matrix, one embedding row and the KV cache at the average position)\n"
    "       and the memory bandwidth that gives (bytes per token * tokens/s)\n"
    "Each test runs once to warm up, then -r times; the figure is the mean +- the standard\n"
    "deviation over the repetitions.\n"
    "--membw: a streaming read of a large buffer (written first) by the same number of\n"
    "threads, best of several passes: the bandwidth generation can reach on this machine.\n"
    "With -m as well, it runs first and tg rows show their share of it.\n"
    "\n"
    "  -m, --model MODEL      .gguf file or Hugging Face folder\n"
    "  -p, --n-prompt N[,N]   prompt lengths to test, 0: none (default 512)\n"
    "  -n, --n-gen N[,N]      generation lengths to test, 0: none (default 128)\n"
    "  -r, --repetitions N    measured runs of each test (default 3)\n"
    "  -t, --threads N        worker threads, 0: all cores (default 0)\n"
    "  --exact                reference math (float32 activations, dequantized weights)\n"
    "  --isa NAME             kernel set: scalar, avx2, avx512 (default: $LLAMAC_ISA or the\n"
    "                         best this CPU runs)\n"
    "  --json                 one JSON object per test and line: test, threads, tokens_per_s,\n"
    "                         stddev, samples_ts, and for tg bytes_per_token, gbs and\n"
    "                         huge_pages_pct (share of the model file mapped in 2 MiB pages);\n"
    "                         --membw prints {\"membw_gbs\": X, \"threads\": N, ...}\n"
    "  --membw                measure the streaming read bandwidth\n"
    "  --membw-size SIZE      buffer of the read test, with K, M or G (powers of 1024)\n"
    "                         (default 1G; tests use small ones, which caches may serve)\n"
    "  --hugepages            ask for transparent huge pages for that buffer (default off:\n"
    "                         small pages; the model mapping always asks for huge pages)\n"
    "  --verbose              load progress on stderr\n"
    "  -h, --help             this text\n";

const char USAGE_PERPLEXITY[] =
    "usage: llamac perplexity -m MODEL -f TEXT [options]\n"
    "Perplexity of the model on a text file, by llama.cpp's method: the whole text is\n"
    "tokenized (with BOS), cut into non-overlapping windows of --ctx tokens whose first token\n"
    "is replaced by BOS, each window is evaluated as one batch, and only its second half is\n"
    "scored (the logits at positions ctx/2 .. ctx-2 predicting the next token). Prints the\n"
    "running perplexity after each window ([1]x,[2]y,...) and the final estimate with its\n"
    "uncertainty (from the variance of the per-token negative log-likelihood).\n"
    "Like llama.cpp, the text must have at least 2 * ctx tokens.\n"
    "\n"
    "  -m, --model MODEL      .gguf file or Hugging Face folder (required)\n"
    "  -f, --file TEXT        the text (- for stdin) (required)\n"
    "  --ctx N                window size in tokens (default 512)\n"
    "  --chunks K             score at most K windows (default: all)\n"
    "  -t, --threads N        worker threads, 0: all cores (default 0)\n"
    "  --exact                reference math (float32 activations, dequantized weights)\n"
    "  --isa NAME             kernel set: scalar, avx2, avx512 (default: $LLAMAC_ISA or the best)\n"
    "  --verbose              load progress on stderr\n"
    "  -h, --help             this text\n";

/* ---- small helpers ------------------------------------------------------------- */
static int n_cores(void) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (int)c : 1;
}

static const char *isa_name(const char *isa) {
    if (isa) return isa;
    const lc_kern *k = lc_kern_best();
    return k ? k->isa : "?";
}

/* a JSON string (quotes and escapes) */
static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

/* "512" or "128,512": up to cap values in [0, 1<<20] */
static int parse_list(const char *flag, const char *s, int *vals, int cap, int *n) {
    if (s == MISSING) return 1;
    *n = 0;
    char buf[256];
    if (strlen(s) >= sizeof buf) {
        g_bad = 1;
        return fail("%s: list too long", flag);
    }
    strcpy(buf, s);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (*n == cap) {
            g_bad = 1;
            return fail("%s: at most %d values", flag, cap);
        }
        if (num_int(flag, t, 0, 1 << 20, &vals[*n])) return 1;
        ++*n;
    }
    if (!*n) {
        g_bad = 1;
        return fail("%s: no value", flag);
    }
    return 0;
}

/* "64M", "1G", "4096": bytes */
static int parse_size(const char *flag, const char *s, size_t *out) {
    if (s == MISSING) return 1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long mul = 1;
    if (*end == 'K' || *end == 'k') mul = 1ull << 10, end++;
    else if (*end == 'M' || *end == 'm') mul = 1ull << 20, end++;
    else if (*end == 'G' || *end == 'g') mul = 1ull << 30, end++;
    if (*end == 'i' && mul > 1) end++;
    if (*end == 'B' || *end == 'b') end++;
    if (!*s || *s < '0' || *s > '9' || *end || errno || v == 0 || v > (1ull << 40) / mul) {
        g_bad = 1;
        return fail("%s: '%s' is not a size (like 64M or 1G)", flag, s);
    }
    *out = (size_t)(v * mul);
    return 0;
}

static void mean_sd(const double *x, int n, double *mean, double *sd) {
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    *mean = n ? s / n : 0;
    double v = 0;
    for (int i = 0; i < n; i++) v += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(v / (n - 1)) : 0;
}

/* ---- memory bandwidth ------------------------------------------------------------ */
#ifdef LC_BENCH_X86
__attribute__((target("avx2"))) static uint64_t read_avx2(const uint8_t *p, size_t n) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < n; i += 128) {
        a0 = _mm256_xor_si256(a0, _mm256_load_si256((const __m256i *)(p + i)));
        a1 = _mm256_xor_si256(a1, _mm256_load_si256((const __m256i *)(p + i + 32)));
        a2 = _mm256_xor_si256(a2, _mm256_load_si256((const __m256i *)(p + i + 64)));
        a3 = _mm256_xor_si256(a3, _mm256_load_si256((const __m256i *)(p + i + 96)));
    }
    a0 = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
    uint64_t r[4];
    _mm256_storeu_si256((__m256i *)r, a0);
    return r[0] ^ r[1] ^ r[2] ^ r[3];
}
#endif

/* portable: 64-bit words, independent accumulators */
static uint64_t read_plain(const uint8_t *p, size_t n) {
    const uint64_t *w = (const uint64_t *)(const void *)p;
    uint64_t a[8] = { 0 };
    for (size_t i = 0; i < n / 8; i += 16) {
        for (int k = 0; k < 8; k++) a[k] ^= w[i + k] ^ w[i + 8 + k];
    }
    return a[0] ^ a[1] ^ a[2] ^ a[3] ^ a[4] ^ a[5] ^ a[6] ^ a[7];
}

typedef struct membw_job {
    const uint8_t *buf;
    size_t off, len;            /* slice of this thread, multiple of 128 bytes */
    pthread_barrier_t *start, *end;
    int passes;
    volatile uint64_t sink;
    int avx2;
} membw_job;

static void membw_slice(membw_job *j) {
#ifdef LC_BENCH_X86
    if (j->avx2) {
        j->sink ^= read_avx2(j->buf + j->off, j->len);
        return;
    }
#endif
    j->sink ^= read_plain(j->buf + j->off, j->len);
}

static void *membw_worker(void *arg) {
    membw_job *j = arg;
    for (int p = 0; p < j->passes; p++) {
        pthread_barrier_wait(j->start);
        membw_slice(j);
        pthread_barrier_wait(j->end);
    }
    return NULL;
}

typedef struct membw_result { double gbs; int passes; size_t bytes; } membw_result;

/* best-of-passes streaming read of `bytes` with n threads; 0 or 1 (error printed) */
static int membw_run(size_t bytes, int n, int hugepages, membw_result *res) {
    bytes = bytes / (128 * (size_t)n) * (128 * (size_t)n);
    if (!bytes) return fail("bench: --membw-size too small for %d threads", n);
    uint8_t *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        char b[32];
        return fail("bench: cannot allocate %s for the bandwidth test: %s", human_bytes((double)bytes, b, sizeof b),
                    strerror(errno));
    }
#ifdef MADV_HUGEPAGE
    madvise(buf, bytes, hugepages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
#else
    (void)hugepages;
#endif
    /* touch every page, with data that is not all zeros */
    for (size_t i = 0; i < bytes; i += 8) {
        uint64_t v = (uint64_t)i * 0x9E3779B97F4A7C15ull;
        memcpy(buf + i, &v, 8);
    }
    int avx2 = 0;
#ifdef LC_BENCH_X86
    avx2 = __builtin_cpu_supports("avx2");
#endif
    /* passes: at least 5, more for small buffers, up to ~2 GB... 64 GB read in all */
    int passes = 5;
    while (passes < 50 && (double)bytes * passes < 8e9) passes++;
    membw_job *jobs = calloc((size_t)n, sizeof *jobs);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    pthread_barrier_t start, end;
    if (!jobs || !th) {
        free(jobs);
        free(th);
        munmap(buf, bytes);
        return fail("out of memory");
    }
    pthread_barrier_init(&start, NULL, (unsigned)n);
    pthread_barrier_init(&end, NULL, (unsigned)n);
    size_t slice = bytes / (size_t)n;
    int started = 1;
    for (int t = 0; t < n; t++) {
        jobs[t] = (membw_job){ .buf = buf, .off = slice * (size_t)t, .len = slice, .start = &start, .end = &end,
                               .passes = passes, .avx2 = avx2 };
    }
    for (int t = 1; t < n; t++) {
        /* the workers already started wait at a barrier for n threads: the command fails and
         * the process exits with them */
        if (pthread_create(&th[t], NULL, membw_worker, &jobs[t]) != 0)
            return fail("bench: cannot start thread %d of %d", t + 1, n);
        started++;
    }
    double best = 1e30;
    for (int p = 0; p < passes; p++) {
        pthread_barrier_wait(&start);
        double t0 = now_s();
        membw_slice(&jobs[0]);
        pthread_barrier_wait(&end);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    for (int t = 1; t < started; t++) pthread_join(th[t], NULL);
    pthread_barrier_destroy(&start);
    pthread_barrier_destroy(&end);
    free(jobs);
    free(th);
    munmap(buf, bytes);
    res->gbs = (double)bytes / best / 1e9;
    res->passes = passes;
    res->bytes = bytes;
    return 0;
}

/* ---- model benchmarks ------------------------------------------------------------ */
typedef struct bench_model {
    char label[96];          /* "llama 1B Q4_0" */
    char type[16];           /* "Q4_0", "Q4_K_M" */
    double size, params;
    double weights_per_token; /* bytes of weights one generated token reads */
    double kv_per_cell;       /* KV cache bytes of one position (all layers, K and V) */
} bench_model;

/* sums the tensors a single-token step reads: every matrix and vector once, the output
 * matrix (token_embd when tied), one row of token_embd */
static void describe(const lc_model *m, bench_model *bm) {
    const lc_model_info *mi = lc_model_get_info(m);
    int nt = lc_model_n_tensors(m), has_output = 0;
    for (int i = 0; i < nt; i++) {
        lc_tensor_info ti;
        if (lc_model_tensor(m, i, &ti) == LC_OK && ti.name && !strcmp(ti.name, "output.weight")) has_output = 1;
    }
    double w = 0;
    int n_q4k = 0, n_q6k = 0;
    for (int i = 0; i < nt; i++) {
        lc_tensor_info ti;
        if (lc_model_tensor(m, i, &ti) != LC_OK || !ti.name) continue;
        if (ti.n_dims >= 2) {
            n_q4k += ti.type == LC_TYPE_Q4_K;
            n_q6k += ti.type == LC_TYPE_Q6_K;
        }
        if (!strcmp(ti.name, "token_embd.weight")) {
            double row = ti.ne[1] > 0 ? (double)ti.nbytes / (double)ti.ne[1] : 0;
            w += row + (has_output ? 0 : (double)ti.nbytes);
        } else {
            w += (double)ti.nbytes;
        }
    }
    bm->weights_per_token = w;
    bm->kv_per_cell = (double)lc_model_kv_bytes(m, 1);
    bm->size = (double)mi->weight_bytes;
    bm->params = (double)mi->n_params;
    const char *tn = lc_type_name(mi->file_type);
    if (mi->gguf_ftype == 15 || (mi->gguf_ftype < 0 && mi->file_type == LC_TYPE_Q4_K && n_q6k > 0 && n_q4k > n_q6k))
        tn = "Q4_K_M";
    snprintf(bm->type, sizeof bm->type, "%s", tn);
    char sz[16];
    double p = (double)mi->n_params;
    if (p >= 1e9) snprintf(sz, sizeof sz, "%dB", (int)(p / 1e9));
    else if (p >= 1e6) snprintf(sz, sizeof sz, "%dM", (int)(p / 1e6));
    else snprintf(sz, sizeof sz, "%dK", (int)(p / 1e3));
    snprintf(bm->label, sizeof bm->label, "%s %s %s", mi->arch[0] ? mi->arch : "llama", sz, tn);
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* one prompt-processing run: n tokens (BOS + random ids) in one batch, fresh cache */
static int run_pp(lc_ctx *c, const int32_t *tok, const int32_t *pos, const int32_t *seq, int n, double *secs) {
    lc_ctx_seq_rm(c, -1, 0, -1);
    lc_batch b = { .n_tokens = n, .token = tok, .pos = pos, .seq_id = seq };
    double t0 = now_s();
    int rc = lc_ctx_decode(c, &b);
    *secs = now_s() - t0;
    return rc;
}

/* one generation run: n single-token steps (BOS, then the argmax), fresh cache */
static int run_tg(lc_ctx *c, int32_t bos, int n_vocab, int n, double *secs) {
    lc_ctx_seq_rm(c, -1, 0, -1);
    int32_t tok = bos, pos = 0, seq = 0;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        pos = i;
        lc_batch b = { .n_tokens = 1, .token = &tok, .pos = &pos, .seq_id = &seq };
        int rc = lc_ctx_decode(c, &b);
        if (rc != LC_OK) return rc;
        const float *lg = lc_ctx_logits(c, 0);
        if (!lg) return LC_ERR_ARG;
        int best = 0;
        for (int k = 1; k < n_vocab; k++)
            if (lg[k] > lg[best]) best = k;
        tok = best;
    }
    *secs = now_s() - t0;
    return LC_OK;
}

static void table_head(void) {
    printf("| %-24s | %10s | %8s | %-6s | %7s | %6s | %16s | %7s | %6s |\n", "model", "size", "params", "isa", "threads",
           "test", "t/s", "GB/s", "membw");
    printf("| %.24s | %.9s: | %.7s: | %.6s | %.6s: | %.5s: | %.15s: | %.6s: | %.5s: |\n",
           "------------------------------", "----------", "----------", "------", "--------", "------",
           "----------------", "-------", "------");
    fflush(stdout);
}

int cmd_bench(int argc, char **argv) {
    opts o;
    opts_init(&o, "bench", 0);
    int pp[8] = { 512 }, tg[8] = { 128 }, n_pp = 1, n_tg = 1, reps = 3, json = 0, membw = 0, huge = 0;
    size_t membw_size = (size_t)1 << 30;
    const char *isa = NULL;
    for (int i = 1; i < argc && !g_bad; i++) {
        const char *a = argv[i], *v;
        if (is_help(a)) {
            fputs(USAGE_BENCH, stdout);
            return 0;
        } else if (take(argc, argv, &i, "-p", "--n-prompt", &v)) parse_list("-p", v, pp, 8, &n_pp);
        else if (take(argc, argv, &i, "-n", "--n-gen", &v)) parse_list("-n", v, tg, 8, &n_tg);
        else if (take(argc, argv, &i, "-r", "--repetitions", &v)) num_int("-r", v, 1, 1000, &reps);
        else if (take(argc, argv, &i, NULL, "--isa", &v)) isa = v;
        else if (take(argc, argv, &i, NULL, "--membw-size", &v)) parse_size("--membw-size", v, &membw_size);
        else if (is_flag(a, NULL, "--json")) json = 1;
        else if (is_flag(a, NULL, "--membw")) membw = 1;
        else if (is_flag(a, NULL, "--hugepages")) huge = 1;
        else if (is_flag(a, "-c", "--ctx") || !strncmp(a, "--ctx=", 6))
            usage_fail("bench", "--ctx is not an option of bench: the context is sized to the tests");
        else if (opt_common(argc, argv, &i, &o)) {
        } else unknown_arg("bench", a);
    }
    if (g_bad) return 1;
    if (isa && !lc_kern_get(isa))
        return usage_fail("bench", "--isa '%s' is unknown or this CPU cannot run it (scalar, avx2, avx512)", isa);
    if (!o.model && !membw) return usage_fail("bench", "missing -m MODEL (or --membw)");
    int threads = o.n_threads > 0 ? o.n_threads : n_cores();

    membw_result mb = { 0 };
    if (membw) {
        if (membw_run(membw_size, threads, huge, &mb)) return 1;
        char b[32];
        if (json)
            printf("{\"membw_gbs\": %.3f, \"threads\": %d, \"buffer_bytes\": %zu, \"passes\": %d, \"hugepages\": %s}\n",
                   mb.gbs, threads, mb.bytes, mb.passes, huge ? "true" : "false");
        else
            printf("memory bandwidth: %.2f GB/s (streaming read of %s, %d thread%s, best of %d passes%s)\n", mb.gbs,
                   human_bytes((double)mb.bytes, b, sizeof b), threads, threads == 1 ? "" : "s", mb.passes,
                   huge ? ", huge pages" : "");
        fflush(stdout);
        if (!o.model) return 0;
    }

    int max_pp = 0, max_tg = 0, any = 0;
    for (int k = 0; k < n_pp; k++) max_pp = pp[k] > max_pp ? pp[k] : max_pp, any |= pp[k] > 0;
    for (int k = 0; k < n_tg; k++) max_tg = tg[k] > max_tg ? tg[k] : max_tg, any |= tg[k] > 0;
    if (!any) return usage_fail("bench", "-p 0 and -n 0: nothing to measure");

    lc_model *m = NULL;
    if (load_model(&o, &m)) return 1;
    const lc_model_info *mi = lc_model_get_info(m);
    bench_model bm;
    describe(m, &bm);
    int n_ctx = (max_pp > max_tg ? max_pp : max_tg) + 1;
    if (mi->n_ctx_train > 0 && n_ctx > mi->n_ctx_train) {
        lc_model_free(m);
        return fail("bench: a test of %d tokens does not fit the model's context of %d", n_ctx - 1, mi->n_ctx_train);
    }
    lc_ctx_params cp;
    lc_ctx_params_default(&cp);
    cp.n_ctx = n_ctx;
    cp.n_threads = threads;
    cp.exact = o.exact;
    cp.isa = isa;
    lc_ctx *c = NULL;
    int rc = lc_ctx_new(m, &cp, &c);
    if (rc != LC_OK) {
        lc_model_free(m);
        return fail_lib(rc, "context");
    }
    catch_sigint();
    lc_ctx_set_abort(c, &g_stop);

    int32_t *tok = malloc((size_t)(max_pp + 1) * sizeof *tok), *pos = malloc((size_t)(max_pp + 1) * sizeof *pos),
            *seq = calloc((size_t)(max_pp + 1), sizeof *seq);
    double *t = malloc((size_t)reps * sizeof *t), *ts = malloc((size_t)reps * sizeof *ts);
    int ret = 1;
    if (!tok || !pos || !seq || !t || !ts) {
        fail("out of memory");
        goto done;
    }
    int32_t bos = mi->bos_id >= 0 && mi->bos_id < mi->n_vocab ? mi->bos_id : 0;
    uint64_t rs = 0x243F6A8885A308D3ull;
    for (int i = 0; i <= max_pp; i++) {
        tok[i] = i == 0 ? bos : (int32_t)(rng_next(&rs) % (uint64_t)mi->n_vocab);
        pos[i] = i;
    }
    const char *isa_used = isa_name(isa);
    char sz[32], pr[32];
    human_bytes(bm.size, sz, sizeof sz);
    if (bm.params >= 1e9) snprintf(pr, sizeof pr, "%.2f B", bm.params / 1e9);
    else snprintf(pr, sizeof pr, "%.2f M", bm.params / 1e6);
    if (!json) table_head();

    for (int phase = 0; phase < 2; phase++) {
        int n_list = phase ? n_tg : n_pp;
        for (int k = 0; k < n_list; k++) {
            int n = phase ? tg[k] : pp[k];
            if (n <= 0) continue;
            double dt;
            /* warm-up: a whole run (pp) or a short one (tg), like llama-bench */
            rc = phase ? run_tg(c, bos, mi->n_vocab, n < 8 ? n : 8, &dt) : run_pp(c, tok, pos, seq, n, &dt);
            for (int r = 0; r < reps && rc == LC_OK; r++) {
                rc = phase ? run_tg(c, bos, mi->n_vocab, n, &t[r]) : run_pp(c, tok, pos, seq, n, &t[r]);
                ts[r] = t[r] > 0 ? n / t[r] : 0;
            }
            if (rc == LC_ERR_CANCELLED || g_stop) {
                fail("bench: interrupted");
                goto done;
            }
            if (rc != LC_OK) {
                fail_lib(rc, "decode");
                goto done;
            }
            double mean, sd;
            mean_sd(ts, reps, &mean, &sd);
            char test[32];
            snprintf(test, sizeof test, "%s%d", phase ? "tg" : "pp", n);
            /* a tg step at position i reads i + 1 cells: (n + 1) / 2 on average */
            double bpt = bm.weights_per_token + bm.kv_per_cell * (n + 1) / 2.0;
            double gbs = bpt * mean / 1e9;
            if (json) {
                printf("{\"model\": ");
                json_str(stdout, o.model);
                printf(", \"model_label\": ");
                json_str(stdout, bm.label);
                printf(", \"model_type\": \"%s\", \"model_size\": %.0f, \"model_n_params\": %.0f, \"isa\": ",
                       bm.type, bm.size, bm.params);
                json_str(stdout, isa_used);
                printf(", \"exact\": %s, \"threads\": %d, \"test\": \"%s\", \"n_prompt\": %d, \"n_gen\": %d, "
                       "\"repetitions\": %d, \"tokens_per_s\": %.4f, \"stddev\": %.4f, \"samples_ts\": [",
                       o.exact ? "true" : "false", threads, test, phase ? 0 : n, phase ? n : 0, reps, mean, sd);
                for (int r = 0; r < reps; r++) printf("%s%.4f", r ? ", " : "", ts[r]);
                printf("]");
                if (phase) {
                    printf(", \"bytes_per_token\": %.0f, \"gbs\": %.4f", bpt, gbs);
                    if (membw && mb.gbs > 0)
                        printf(", \"membw_gbs\": %.3f, \"membw_pct\": %.2f", mb.gbs, 100 * gbs / mb.gbs);
                    double hp = lc_model_huge_page_fraction(m);
                    if (hp >= 0) printf(", \"huge_pages_pct\": %.1f", 100 * hp);
                }
                printf("}\n");
            } else {
                char tsb[40], gb[16] = "", pct[16] = "";
                snprintf(tsb, sizeof tsb, "%.2f ± %.2f", mean, sd);
                if (phase) snprintf(gb, sizeof gb, "%.2f", gbs);
                if (phase && membw && mb.gbs > 0) snprintf(pct, sizeof pct, "%.1f%%", 100 * gbs / mb.gbs);
                /* "±" is two bytes but one column: pad by hand */
                printf("| %-24s | %10s | %8s | %-6s | %7d | %6s | %17s | %7s | %6s |\n", bm.label, sz, pr,
                       isa_used, threads, test, tsb, gb, pct);
            }
            fflush(stdout);
        }
    }
    if (!json) {
        double bpt = bm.weights_per_token;
        char b[32];
        printf("\ntg: %s of weights read per token, + %s of KV cache per position\n",
               human_bytes(bpt, b, sizeof b), human_bytes(bm.kv_per_cell, sz, sizeof sz));
        double hp = lc_model_huge_page_fraction(m);
        if (hp >= 0)
            printf("weights mapped with 2 MiB pages: %.0f%%%s\n", 100 * hp,
                   hp < 0.5 ? " (transparent huge pages off, a file system without large page-cache "
                              "folios, or the file sits in the cache in small pages: after it leaves the "
                              "cache, e.g. `dd if=MODEL iflag=nocache count=0`, the next load may map it in "
                              "huge pages)"
                            : "");
    }
    ret = fflush(stdout) ? fail("stdout: write error") : 0;
done:
    signal(SIGINT, SIG_DFL);
    free(tok);
    free(pos);
    free(seq);
    free(t);
    free(ts);
    lc_ctx_free(c);
    lc_model_free(m);
    return ret;
}

/* ---- perplexity -------------------------------------------------------------------- */
int cmd_perplexity(int argc, char **argv) {
    opts o;
    opts_init(&o, "perplexity", 0);
    const char *file = NULL, *isa = NULL;
    int chunks = 0;
    for (int i = 1; i < argc && !g_bad; i++) {
        const char *a = argv[i], *v;
        if (is_help(a)) {
            fputs(USAGE_PERPLEXITY, stdout);
            return 0;
        } else if (take(argc, argv, &i, "-f", "--file", &v)) file = v;
        else if (take(argc, argv, &i, NULL, "--chunks", &v)) num_int("--chunks", v, 1, INT32_MAX, &chunks);
        else if (take(argc, argv, &i, NULL, "--isa", &v)) isa = v;
        else if (opt_common(argc, argv, &i, &o)) {
        } else unknown_arg("perplexity", a);
    }
    if (g_bad) return 1;
    if (!o.model) return usage_fail("perplexity", "missing -m MODEL");
    if (!file) return usage_fail("perplexity", "missing -f TEXT");
    int n_ctx = o.n_ctx > 0 ? o.n_ctx : 512;
    if (n_ctx < 4) return usage_fail("perplexity", "--ctx %d is too small (at least 4)", n_ctx);
    if (isa && !lc_kern_get(isa))
        return usage_fail("perplexity", "--isa '%s' is unknown or this CPU cannot run it (scalar, avx2, avx512)",
                          isa);

    size_t len = 0;
    char *text = read_all(file, &len);
    if (!text) return 1;
    int ret = 1, n_tok = 0;
    int32_t *ids = NULL, *win = NULL, *pos = NULL, *seq = NULL;
    int8_t *want = NULL;
    lc_model *m = NULL;
    lc_ctx *c = NULL;
    if (load_model(&o, &m)) goto done;
    const lc_model_info *mi = lc_model_get_info(m);
    const lc_tok *tk = lc_model_tok(m);
    if (lc_tok_n_vocab(tk) <= 0) {
        fail("%s has no tokenizer", o.model);
        goto done;
    }
    if (mi->n_ctx_train > 0 && n_ctx > mi->n_ctx_train) {
        fail("--ctx %d is larger than the model's context of %d", n_ctx, mi->n_ctx_train);
        goto done;
    }
    if (len > (size_t)INT32_MAX) {
        fail("%s: text too long", file);
        goto done;
    }
    /* every token covers at least one byte: len + 1 ids are enough (checked below) */
    int cap = (int)len + 2;
    if (!(ids = malloc((size_t)cap * sizeof *ids))) {
        fail("out of memory");
        goto done;
    }
    n_tok = lc_tok_encode(tk, text, len, LC_TOK_BOS, ids, cap);
    if (n_tok > cap) { /* not expected from a byte-level tokenizer; handle it anyway */
        int32_t *more = realloc(ids, (size_t)n_tok * sizeof *ids);
        if (!more) {
            fail("out of memory");
            goto done;
        }
        ids = more;
        n_tok = lc_tok_encode(tk, text, len, LC_TOK_BOS, ids, n_tok);
    }
    if (n_tok < 0) {
        fail_lib(n_tok, "tokenize");
        goto done;
    }
    if (n_tok < 2 * n_ctx) {
        fail("%s is %d tokens; perplexity needs at least 2 * ctx = %d tokens (llama.cpp's rule): use a longer "
             "text or a smaller --ctx",
             file, n_tok, 2 * n_ctx);
        goto done;
    }
    int n_chunk = n_tok / n_ctx;
    if (chunks > 0 && chunks < n_chunk) n_chunk = chunks;

    lc_ctx_params cp;
    lc_ctx_params_default(&cp);
    cp.n_ctx = n_ctx;
    cp.n_threads = o.n_threads;
    cp.exact = o.exact;
    cp.isa = isa;
    int rc = lc_ctx_new(m, &cp, &c);
    if (rc != LC_OK) {
        fail_lib(rc, "context");
        goto done;
    }
    catch_sigint();
    lc_ctx_set_abort(c, &g_stop);
    win = malloc((size_t)n_ctx * sizeof *win);
    pos = malloc((size_t)n_ctx * sizeof *pos);
    seq = calloc((size_t)n_ctx, sizeof *seq);
    want = malloc((size_t)n_ctx);
    if (!win || !pos || !seq || !want) {
        fail("out of memory");
        goto done;
    }
    int first = n_ctx / 2;
    for (int j = 0; j < n_ctx; j++) {
        pos[j] = j;
        want[j] = j >= first && j < n_ctx - 1;
    }
    int32_t bos = lc_tok_bos(tk);
    fprintf(stderr, "perplexity: %d tokens, %d window%s of %d, scoring positions %d..%d of each, isa %s%s\n", n_tok,
            n_chunk, n_chunk == 1 ? "" : "s", n_ctx, first, n_ctx - 2, isa_name(isa), o.exact ? " (exact)" : "");
    double nll = 0, nll2 = 0, t_start = now_s();
    long count = 0;
    for (int k = 0; k < n_chunk; k++) {
        const int32_t *src = ids + (size_t)k * (size_t)n_ctx;
        memcpy(win, src, (size_t)n_ctx * sizeof *win);
        if (bos >= 0) win[0] = bos;
        lc_ctx_seq_rm(c, -1, 0, -1);
        lc_batch b = { .n_tokens = n_ctx, .token = win, .pos = pos, .seq_id = seq, .want_logits = want };
        double t0 = now_s();
        rc = lc_ctx_decode(c, &b);
        if (rc == LC_ERR_CANCELLED || g_stop) {
            fputc('\n', stdout);
            fail("perplexity: interrupted");
            goto done;
        }
        if (rc != LC_OK) {
            fail_lib(rc, "decode");
            goto done;
        }
        for (int j = first; j < n_ctx - 1; j++) {
            const float *lg = lc_ctx_logits(c, j);
            if (!lg) {
                fail("decode: no logits for position %d", j);
                goto done;
            }
            double mx = -INFINITY;
            for (int v = 0; v < mi->n_vocab; v++)
                if (lg[v] > mx) mx = lg[v];
            double se = 0;
            for (int v = 0; v < mi->n_vocab; v++) se += exp((double)lg[v] - mx);
            int32_t next = src[j + 1];
            double l = -((double)lg[next] - mx - log(se));
            nll += l;
            nll2 += l * l;
            count++;
        }
        if (k == 0) {
            double per = now_s() - t0;
            fprintf(stderr, "perplexity: %.2f seconds per window, about %.1f s for all\n", per, per * n_chunk);
        }
        printf("[%d]%.4f,", k + 1, exp(nll / (double)count));
        fflush(stdout);
    }
    putchar('\n');
    double mean = nll / (double)count, var = nll2 / (double)count - mean * mean;
    double err = var > 0 && count > 1 ? sqrt(var / (double)(count - 1)) : 0;
    double ppl = exp(mean);
    printf("Final estimate: PPL = %.4f +/- %.5f\n", ppl, ppl * err);
    if (o.verbose)
        fprintf(stderr, "perplexity: %ld tokens scored in %.2f s\n", count, now_s() - t_start);
    ret = fflush(stdout) ? fail("stdout: write error") : 0;
done:
    signal(SIGINT, SIG_DFL);
    free(text);
    free(ids);
    free(win);
    free(pos);
    free(seq);
    free(want);
    lc_ctx_free(c);
    lc_model_free(m);
    return ret;
}
