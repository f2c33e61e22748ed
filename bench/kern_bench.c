/* kern_bench.c - single-thread kernel speed: matrix x vector GB/s (weight bytes / time, the
 * weights cycled through >= 1 GiB so they come from memory, not cache) and 512-column gemm
 * GOPS (2*rows*n*cols / time) per weight type, ISA and Llama shape.
 * usage: kern_bench [-isa scalar|avx2|avx512]... [-type NAME]... [-shape RxN]... [-cols 512] [-quick] */
#include "internal.h"
#include "kernels.h"

#include <math.h>

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

/* one quantized row template, copied everywhere (quantizing 1 GiB would take long) */
static uint8_t *make_rows(int t, int n, size_t rows, size_t *rb) {
    lc_type_row_bytes(t, n, rb);
    uint8_t *w = malloc(*rb * rows);
    if (!w) return NULL;
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

static bool want(char **list, int nlist, const char *s) {
    if (!nlist) return true;
    for (int i = 0; i < nlist; i++)
        if (!strcmp(list[i], s)) return true;
    return false;
}

int main(int argc, char **argv) {
    char *isas[8], *tys[16], *shapes[8];
    int nisa = 0, nty = 0, nsh = 0, cols = 512;
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-isa") && i + 1 < argc && nisa < 8) isas[nisa++] = argv[++i];
        else if (!strcmp(argv[i], "-type") && i + 1 < argc && nty < 16) tys[nty++] = argv[++i];
        else if (!strcmp(argv[i], "-shape") && i + 1 < argc && nsh < 8) shapes[nsh++] = argv[++i];
        else if (!strcmp(argv[i], "-cols") && i + 1 < argc) cols = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-quick")) quick = true;
        else {
            fprintf(stderr, "usage: %s [-isa I]... [-type T]... [-shape RxN]... [-cols C] [-quick]\n", argv[0]);
            return 2;
        }
    }
    if (!nisa) isas[nisa++] = "avx2", isas[nisa++] = "avx512";
    size_t pool = quick ? (size_t)256 << 20 : (size_t)1 << 30;   /* bytes of weights cycled for matvec */
    printf("%-7s %-5s %-13s %10s %10s %10s\n", "isa", "type", "rows x n", "mv GB/s", "mv us", "gemm GOPS");
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
                size_t mat = rb * (size_t)M, copies = LC_MAX((size_t)2, (pool + mat - 1) / mat);
                uint8_t *w = make_rows(t, n, (size_t)M * copies, &rb);
                size_t lda = (k->act_row_bytes(t, n) + 63) & ~(size_t)63;
                float *x = malloc((size_t)n * cols * sizeof(float));
                uint8_t *a = aligned_alloc(64, lda * (size_t)cols);
                float *y = aligned_alloc(64, (size_t)M * cols * sizeof(float));
                if (!w || !x || !a || !y) {
                    fprintf(stderr, "out of memory\n");
                    return 1;
                }
                for (size_t i = 0; i < (size_t)n * cols; i++) x[i] = nrand();
                for (int j = 0; j < cols; j++) k->quant_act(t, x + (size_t)n * j, a + lda * j, n);
                /* matvec: cycle through the copies, at least 0.3 s */
                double t0 = lc_time_s(), el;
                size_t calls = 0;
                do {
                    k->gemm(t, n, w + mat * (calls % copies), rb, a, lda, y, (size_t)M, M, 1);
                    calls++;
                    el = lc_time_s() - t0;
                } while (el < (quick ? 0.1 : 0.3) || calls < copies);
                double gbs = (double)mat * calls / el / 1e9, us = el / calls * 1e6;
                /* gemm: cols columns, one warm-up, then at least 0.5 s or 3 runs */
                double gops = 0;
                if (strcmp(k->isa, "scalar") || M * (double)n <= 2048.0 * 2048) {
                    k->gemm(t, n, w, rb, a, lda, y, (size_t)M, M, LC_MIN(cols, 8));
                    int runs = 0;
                    t0 = lc_time_s();
                    do {
                        k->gemm(t, n, w, rb, a, lda, y, (size_t)M, M, cols);
                        runs++;
                        el = lc_time_s() - t0;
                    } while (!quick && el < 0.5 && runs < 3);
                    gops = 2.0 * M * n * cols * runs / el / 1e9;
                }
                printf("%-7s %-5s %-13s %10.2f %10.1f %10.1f\n", k->isa, all_types[ti].name, sname, gbs, us, gops);
                fflush(stdout);
                free(w), free(x), free(a), free(y);
            }
        }
    }
    return 0;
}
