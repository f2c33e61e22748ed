/* kern_bench.c - kernel speed: matrix x vector GB/s (weight bytes / time, the weights cycled
 * through >= 1 GiB so they come from memory, not cache) with 1 and more threads splitting the
 * rows like model.c (32-row panels, lc_pool), and 512-column gemm GOPS (2*rows*n*cols / time)
 * per weight type, ISA and Llama shape; -membw: a plain streaming read of a large buffer with
 * the same threads, the ceiling for matvec. Every figure is the best of -reps runs.
 * usage: kern_bench [-isa scalar|avx2|avx512]... [-type NAME]... [-shape RxN]... [-t N]...
 *                   [-nc 1] [-cols 512] [-reps 3] [-nogemm] [-exact] [-membw] [-quick] [-hot] [-cpu] [-huge]
 * -hot: one 1 MiB matrix, reused (cache-resident: the kernel's compute ceiling); -cpu: process CPU
 * time instead of wall time (less noise on a shared machine; meaningful with -t 1 only); -huge: the
 * weights and the -membw buffer in 2 MiB pages (default: 4 KiB pages). */
#include "internal.h"
#include "kernels.h"

#include <math.h>
#include <sys/mman.h>
#include <time.h>

static uint64_t rs = 88172645463325252ull;
static uint32_t rnd(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (uint32_t)(rs >> 16);
}
static float nrand(void) { return ((float)rnd() / 4294967296.0f - 0.5f) * 2; }

static const struct { int t; const char *name; } all_types[] = {
    { LC_TYPE_F32, "F32" }, { LC_TYPE_F16, "F16" }, { LC_TYPE_BF16, "BF16" }, { LC_TYPE_Q8_0, "Q8_0" },
    { LC_TYPE_Q4_0, "Q4_0" }, { LC_TYPE_Q4_1, "Q4_1" }, { LC_TYPE_Q4_K, "Q4_K" }, { LC_TYPE_Q6_K, "Q6_K" },
};
static const int all_shapes[][2] = { { 2048, 2048 }, { 8192, 2048 }, { 2048, 8192 }, { 128256, 2048 } };

/* -huge: buffers in transparent huge pages (as model files mapped by llamac usually are),
 * else explicitly small pages */
static bool huge;
static void advise_pages(void *p, size_t bytes) {
#ifdef MADV_HUGEPAGE
    if (madvise(p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0 && huge)
        fprintf(stderr, "kern_bench: no transparent huge pages here; -huge runs on 4 KiB pages\n");
#else
    if (huge) fprintf(stderr, "kern_bench: no transparent huge pages here; -huge runs on 4 KiB pages\n");
    (void)p, (void)bytes;
#endif
}

/* one quantized row template, copied everywhere (quantizing 1 GiB would take long) */
static uint8_t *make_rows(int t, int n, size_t rows, size_t *rb) {
    lc_type_row_bytes(t, n, rb);
    size_t bytes = (*rb * rows + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1);
    uint8_t *w = aligned_alloc((size_t)2 << 20, bytes);
    if (!w) return NULL;
    advise_pages(w, bytes);
    float *x = malloc((size_t)n * sizeof(float));
    enum { TPL = 16 };
    for (int r = 0; r < TPL && (size_t)r < rows; r++) {
        for (int i = 0; i < n; i++) x[i] = nrand();
        lc_quant_row(t, x, w + *rb * r, n);
    }
    for (size_t r = TPL; r < rows; r++) memcpy(w + *rb * r, w + *rb * (r % TPL), *rb);
    free(x);
    return w;
}

static bool use_cpu;
static double now(void) {
    if (!use_cpu) return lc_time_s();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static bool want(char **list, int nlist, const char *s) {
    if (!nlist) return true;
    for (int i = 0; i < nlist; i++)
        if (!strcmp(list[i], s)) return true;
    return false;
}

/* ---- one matvec call split over the pool, rows in 32-row panels as in model.c ---- */
typedef struct {
    const lc_kern *k;
    int t, n, rows, nc;
    bool exact;
    const uint8_t *w;
    size_t ldw, lda;
    const void *a;
    const float *x;
    float *y;
} mv_job;

static void mv_task(void *arg, int ith, int nth) {
    mv_job *j = arg;
    int tiles = (j->rows + LC_KERN_ROW_TILE - 1) / LC_KERN_ROW_TILE, per = (tiles + nth - 1) / nth;
    int r0 = LC_MIN(ith * per * LC_KERN_ROW_TILE, j->rows), r1 = LC_MIN(r0 + per * LC_KERN_ROW_TILE, j->rows);
    if (r0 >= r1) return;
    const uint8_t *wr = j->w + (size_t)r0 * j->ldw;
    if (j->exact)
        j->k->gemm_exact(j->t, j->n, wr, j->ldw, j->x, (size_t)j->n, j->y + r0, (size_t)j->rows, r1 - r0, j->nc);
    else
        j->k->gemm(j->t, j->n, wr, j->ldw, j->a, j->lda, j->y + r0, (size_t)j->rows, r1 - r0, j->nc);
}

/* ---- -membw: sum a large buffer, split in halves like the rows above ---- */
typedef struct {
    const uint64_t *buf;
    size_t n;        /* uint64 words */
    uint64_t out[64];
} bw_job;

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static uint64_t sum_words(const uint64_t *p, size_t n) {
    uint64_t s[8] = { 0 };
    for (size_t i = 0; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) s[l] += p[i + l];
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

static void bw_task(void *arg, int ith, int nth) {
    bw_job *j = arg;
    size_t per = (j->n / 8 + (size_t)nth - 1) / (size_t)nth * 8, i0 = LC_MIN((size_t)ith * per, j->n);
    size_t i1 = LC_MIN(i0 + per, j->n);
    j->out[ith] = sum_words(j->buf + i0, i1 - i0);
}

static int membw(const int *threads, int nth_list, int reps, size_t bytes) {
    bytes = (bytes + ((size_t)2 << 20) - 1) & ~(((size_t)2 << 20) - 1);   /* aligned_alloc: a multiple */
    uint64_t *buf = aligned_alloc((size_t)2 << 20, bytes);
    if (!buf) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    advise_pages(buf, bytes);
    for (size_t i = 0; i < bytes / 8; i++) buf[i] = i;
    for (int q = 0; q < nth_list; q++) {
        lc_pool *pool;
        if (lc_pool_new(threads[q], &pool) != LC_OK) return 1;
        bw_job j = { .buf = buf, .n = bytes / 8 };
        double best = 0;
        uint64_t chk = 0;
        for (int r = 0; r < reps; r++) {
            double t0 = lc_time_s();
            for (int it = 0; it < 2; it++) lc_pool_run(pool, bw_task, &j);
            double gbs = 2.0 * (double)bytes / (lc_time_s() - t0) / 1e9;
            best = LC_MAX(best, gbs);
            for (int i = 0; i < threads[q]; i++) chk += j.out[i];
        }
        printf("membw   %d thread%s %8.2f GB/s   (sum of %zu MiB, best of %d; chk %llu)\n", threads[q],
               threads[q] > 1 ? "s" : " ", best, bytes >> 20, reps, (unsigned long long)(chk & 0xff));
        fflush(stdout);
        lc_pool_free(pool);
    }
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    char *isas[8], *tys[16], *shapes[8];
    int nisa = 0, nty = 0, nsh = 0, cols = 512, nc = 1, reps = 3, threads[8], nthl = 0;
    bool quick = false, gemm = true, exact = false, bw = false, hot = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-isa") && i + 1 < argc && nisa < 8) isas[nisa++] = argv[++i];
        else if (!strcmp(argv[i], "-type") && i + 1 < argc && nty < 16) tys[nty++] = argv[++i];
        else if (!strcmp(argv[i], "-shape") && i + 1 < argc && nsh < 8) shapes[nsh++] = argv[++i];
        else if (!strcmp(argv[i], "-t") && i + 1 < argc && nthl < 8) {
            int v = atoi(argv[++i]);
            threads[nthl++] = LC_MAX(1, LC_MIN(64, v));
        }
        else if (!strcmp(argv[i], "-cols") && i + 1 < argc) cols = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-nc") && i + 1 < argc) nc = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-quick")) quick = true;
        else if (!strcmp(argv[i], "-nogemm")) gemm = false;
        else if (!strcmp(argv[i], "-exact")) exact = true;
        else if (!strcmp(argv[i], "-membw")) bw = true;
        else if (!strcmp(argv[i], "-hot")) hot = true;
        else if (!strcmp(argv[i], "-cpu")) use_cpu = true;
        else if (!strcmp(argv[i], "-huge")) huge = true;
        else {
            fprintf(stderr,
                    "usage: %s [-isa I]... [-type T]... [-shape RxN]... [-t N]... [-nc 1] [-cols C] [-reps R]\n"
                    "          [-nogemm] [-exact] [-membw] [-quick] [-hot] [-cpu] [-huge]\n",
                    argv[0]);
            return 2;
        }
    }
    nc = LC_MAX(1, nc), reps = LC_MAX(1, reps);
    if (!nthl) threads[nthl++] = 1, threads[nthl++] = 2;
    size_t pool_bytes = quick ? (size_t)512 << 20 : (size_t)1 << 30;   /* bytes of weights cycled for matvec */
    if (bw) return membw(threads, nthl, reps, pool_bytes);
    if (!nisa) isas[nisa++] = "avx2", isas[nisa++] = "avx512";
    lc_pool *pools[8];
    for (int q = 0; q < nthl; q++)
        if (lc_pool_new(threads[q], &pools[q]) != LC_OK) return 1;
    printf("%-7s %-5s %-13s", "isa", "type", "rows x n");
    for (int q = 0; q < nthl; q++) printf("  mv%s GB/s %dt", exact ? "x" : "", threads[q]);
    printf(" %10s %10s\n", "mv us 1st", "gemm GOPS");
    for (int q = 0; q < nisa; q++) {
        const lc_kern *k = lc_kern_get(isas[q]);
        if (!k) {
            printf("%-7s (not available on this CPU)\n", isas[q]);
            continue;
        }
        for (size_t ti = 0; ti < LC_ARRAY_LEN(all_types); ti++) {
            int t = all_types[ti].t;
            if (!want(tys, nty, all_types[ti].name)) continue;
            for (size_t si = 0; si < LC_ARRAY_LEN(all_shapes); si++) {
                int M = all_shapes[si][0], n = all_shapes[si][1];
                char sname[32];
                snprintf(sname, sizeof sname, "%dx%d", M, n);
                if (!want(shapes, nsh, sname)) continue;
                size_t rb;
                lc_type_row_bytes(t, n, &rb);
                if (hot) M = (int)LC_MIN((size_t)M, LC_MAX((size_t)64, ((size_t)1 << 20) / rb));
                size_t mat = rb * (size_t)M, copies = hot ? 1 : LC_MAX((size_t)2, (pool_bytes + mat - 1) / mat);
                int C = LC_MAX(cols, nc);
                uint8_t *w = make_rows(t, n, (size_t)M * copies, &rb);
                size_t lda = (k->act_row_bytes(t, n) + 63) & ~(size_t)63;
                float *x = malloc((size_t)n * C * sizeof(float));
                uint8_t *a = aligned_alloc(64, lda * (size_t)C);
                float *y = aligned_alloc(64, (size_t)M * C * sizeof(float));
                if (!w || !x || !a || !y) {
                    fprintf(stderr, "out of memory\n");
                    return 1;
                }
                for (size_t i = 0; i < (size_t)n * C; i++) x[i] = nrand();
                for (int j = 0; j < C; j++) k->quant_act(t, x + (size_t)n * j, a + lda * j, n);
                printf("%-7s %-5s %-13s", k->isa, all_types[ti].name, sname);
                /* matvec: cycle through the copies (>= 2 x the pool in bytes), best of reps */
                size_t calls = LC_MAX(copies, 2 * pool_bytes / mat);
                if (!strcmp(k->isa, "scalar")) calls = copies;
                double us1 = 0;
                for (int p = 0; p < nthl; p++) {
                    mv_job jb = { .k = k, .t = t, .n = n, .rows = M, .nc = nc, .exact = exact, .ldw = rb,
                                  .lda = lda, .a = a, .x = x, .y = y };
                    double best = 0;
                    for (int r = 0; r < reps; r++) {
                        double t0 = now();
                        for (size_t c = 0; c < calls; c++) {
                            jb.w = w + mat * (c % copies);
                            lc_pool_run(pools[p], mv_task, &jb);
                        }
                        double el = now() - t0, gbs = (double)mat * calls / el / 1e9;
                        if (gbs > best) best = gbs, us1 = p == 0 ? el / calls * 1e6 : us1;
                    }
                    printf(" %14.2f", best);
                    fflush(stdout);
                }
                /* gemm: cols columns, one warm-up, then at least 0.5 s or 3 runs */
                double gops = 0;
                if (gemm && (strcmp(k->isa, "scalar") || M * (double)n <= 2048.0 * 2048)) {
                    k->gemm(t, n, w, rb, a, lda, y, (size_t)M, M, LC_MIN(cols, 8));
                    int runs = 0;
                    double t0 = lc_time_s(), el;
                    do {
                        k->gemm(t, n, w, rb, a, lda, y, (size_t)M, M, cols);
                        runs++;
                        el = lc_time_s() - t0;
                    } while (!quick && el < 0.5 && runs < 3);
                    gops = 2.0 * M * n * cols * runs / el / 1e9;
                }
                printf(" %10.1f %10.1f\n", us1, gops);
                fflush(stdout);
                free(w), free(x), free(a), free(y);
            }
        }
    }
    for (int q = 0; q < nthl; q++) lc_pool_free(pools[q]);
    return 0;
}
