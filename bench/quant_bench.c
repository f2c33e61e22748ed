/* quant_bench.c - quantizer speed: ns per element of lc_quant_row for each element type on one
 * thread (thread CPU time, best of -reps runs) over Gaussian rows of 4096, with the relative
 * RMS error; with a GGUF argument (e.g. ../shared/vectors/quant/model-f32.gguf) also over
 * that file's 2-D F32 tensors. Numbers only; nothing is asserted.
 * usage: quant_bench [-n ELEMENTS] [-reps 3] [-type NAME]... [model-f32.gguf] */
#include "internal.h"

#include <math.h>
#include <time.h>

/* thread CPU seconds: steadier than wall time on a shared machine */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rs = 88172645463325252ull;
static double unif(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return ((rs >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static float gauss(void) { return (float)(sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif())); }

static const struct { int t; const char *name; } all_types[] = {
    { LC_TYPE_F16, "F16" },   { LC_TYPE_BF16, "BF16" }, { LC_TYPE_Q8_0, "Q8_0" }, { LC_TYPE_Q4_0, "Q4_0" },
    { LC_TYPE_Q4_1, "Q4_1" }, { LC_TYPE_Q4_K, "Q4_K" }, { LC_TYPE_Q6_K, "Q6_K" },
};

/* best-of-reps ns/element and relative RMS error of quantizing x[n] (rows of `row`) to type t */
static void run(int t, const float *x, int64_t n, int64_t row, int reps, double *ns, double *rms) {
    size_t rb = 0;
    lc_type_row_bytes(t, row, &rb);
    uint8_t *q = malloc(rb * (size_t)(n / row));
    float *y = malloc((size_t)row * sizeof *y);
    if (!q || !y) abort();
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = cpu_s();
        for (int64_t i = 0; i < n / row; i++) lc_quant_row(t, x + i * row, q + rb * (size_t)i, row);
        best = LC_MIN(best, cpu_s() - t0);
    }
    double se = 0, sx = 0;
    for (int64_t i = 0; i < n / row; i++) {
        lc_dequant_row(t, q + rb * (size_t)i, y, row);
        for (int64_t j = 0; j < row; j++) {
            double e = (double)x[i * row + j] - y[j];
            se += e * e, sx += (double)x[i * row + j] * x[i * row + j];
        }
    }
    *ns = best * 1e9 / (double)n, *rms = sqrt(se / sx);
    free(q), free(y);
}

int main(int argc, char **argv) {
    int64_t n = 1 << 20;
    int reps = 3, sel[16], nsel = 0;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) n = atoll(argv[++i]);
        else if (!strcmp(argv[i], "-reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-type") && i + 1 < argc && nsel < 16) {
            const char *nm = argv[++i];
            for (size_t k = 0; k < LC_ARRAY_LEN(all_types); k++)
                if (!strcasecmp(nm, all_types[k].name)) sel[nsel++] = (int)k;
        } else if (argv[i][0] != '-') file = argv[i];
        else {
            fprintf(stderr, "usage: %s [-n ELEMENTS] [-reps N] [-type NAME]... [model-f32.gguf]\n", argv[0]);
            return 2;
        }
    }
    if (!nsel)
        for (size_t k = 0; k < LC_ARRAY_LEN(all_types); k++) sel[nsel++] = (int)k;
    n = LC_MAX(4096, n / 4096 * 4096);
    float *x = malloc((size_t)n * sizeof *x);
    if (!x) return 1;
    for (int64_t i = 0; i < n; i++) x[i] = gauss() * 0.02f;
    printf("gaussian, %lld elements in rows of 4096, 1 thread, best of %d\n", (long long)n, reps);
    for (int k = 0; k < nsel; k++) {
        double ns, rms;
        run(all_types[sel[k]].t, x, n, 4096, reps, &ns, &rms);
        printf("  %-5s %9.2f ns/elem  rel rms %.5f\n", all_types[sel[k]].name, ns, rms);
    }
    free(x);
    if (file) {
        lc_gguf g;
        if (lc_gguf_open(file, &g) != LC_OK) {
            fprintf(stderr, "%s: %s\n", file, lc_last_error());
            return 1;
        }
        printf("%s: 2-D F32 tensors, 1 thread, best of %d\n", file, reps);
        for (int k = 0; k < nsel; k++) {
            double t_ns = 0;
            int64_t total = 0;
            for (int64_t i = 0; i < g.n_tensors; i++) {
                const lc_tensor *t = &g.tensors[i];
                if (t->n_dims < 2 || t->type != LC_TYPE_F32) continue;
                int64_t m = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
                if (t->ne[0] % lc_type_block_size(all_types[sel[k]].t)) continue;
                double ns, rms;
                run(all_types[sel[k]].t, (const float *)t->data, m, t->ne[0], reps, &ns, &rms);
                t_ns += ns * (double)m, total += m;
            }
            if (total)
                printf("  %-5s %9.2f ns/elem  (%lld elements)\n", all_types[sel[k]].name, t_ns / (double)total,
                       (long long)total);
        }
        lc_gguf_close(&g);
    }
    return 0;
}
