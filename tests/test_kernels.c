/* test_kernels.c - the kernel tables: activation rounding of the scalar path, every SIMD
 * gemm against the scalar gemm on odd shapes, tails and padded strides, gemm_exact against
 * lc_dequant_row + a double dot, dot_f32/axpy tails, ISA selection. */
#include "internal.h"
#include "kernels.h"
#include "test.h"

#include <math.h>

/* ---- random data --------------------------------------------------------- */
static uint64_t rng_s = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng_s ^= rng_s << 13, rng_s ^= rng_s >> 7, rng_s ^= rng_s << 17;
    return (uint32_t)(rng_s >> 16);
}
static float frand(void) { return (float)rnd() / 4294967296.0f; }            /* [0, 1) */
static float nrand(void) { return (frand() + frand() + frand() + frand() - 2) * 1.7f; }

static const int types[] = { LC_TYPE_F32, LC_TYPE_F16, LC_TYPE_BF16, LC_TYPE_Q8_0,
                             LC_TYPE_Q4_0, LC_TYPE_Q4_1, LC_TYPE_Q4_K, LC_TYPE_Q6_K };

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }

/* a weight row of type t: random bytes with sane fp16 scale fields (every quant value and
 * scale pattern occurs, Q8_0 -128 included), floats for the float types */
static void fill_row(int t, uint8_t *row, int n) {
    size_t rb;
    lc_type_row_bytes(t, n, &rb);
    if (t == LC_TYPE_F32) {
        for (int i = 0; i < n; i++) ((float *)(void *)row)[i] = nrand();
        return;
    }
    if (t == LC_TYPE_F16 || t == LC_TYPE_BF16) {
        for (int i = 0; i < n; i++) put16(row + 2 * i, t == LC_TYPE_F16 ? lc_f32_to_f16(nrand()) : lc_f32_to_bf16(nrand()));
        return;
    }
    for (size_t i = 0; i < rb; i++) row[i] = (uint8_t)rnd();
    int bb = lc_type_block_bytes(t), nb = (int)(rb / (size_t)bb);
    for (int b = 0; b < nb; b++) {
        uint8_t *blk = row + (size_t)b * bb;
        float d = 0.001f + 0.02f * frand();
        switch (t) {
        case LC_TYPE_Q8_0: case LC_TYPE_Q4_0: put16(blk, lc_f32_to_f16(d)); break;
        case LC_TYPE_Q4_1: put16(blk, lc_f32_to_f16(d)), put16(blk + 2, lc_f32_to_f16(nrand() * 0.1f)); break;
        case LC_TYPE_Q4_K: put16(blk, lc_f32_to_f16(d * 0.1f)), put16(blk + 2, lc_f32_to_f16(d * 0.05f)); break;
        case LC_TYPE_Q6_K: put16(blk + 208, lc_f32_to_f16(d * 0.05f)); break;
        }
    }
}

/* activation values: normal, with some all-zero and some large blocks */
static void fill_act(float *x, int n) {
    for (int i = 0; i < n; i++) x[i] = nrand();
    if (n >= 64 && rnd() % 2) memset(x + 32, 0, 32 * sizeof(float));
    if (n >= 96 && rnd() % 2)
        for (int i = 64; i < 96; i++) x[i] *= 1000;
}

/* dequantized activation row (what the FAST kernels multiply with) */
static void deq_act(int t, const uint8_t *a, const float *x, int n, float *out) {
    if (t == LC_TYPE_F32 || t == LC_TYPE_F16 || t == LC_TYPE_BF16) {
        memcpy(out, x, (size_t)n * sizeof(float));
        return;
    }
    int bs = (t == LC_TYPE_Q4_K || t == LC_TYPE_Q6_K) ? 256 : 32;
    const float *d = (const float *)(const void *)(a + n);
    for (int i = 0; i < n; i++) out[i] = d[i / bs] * (int8_t)a[i];
}

/* ---- activation rounding ---------------------------------------------------- */
static int test_quant_act_rounding(void) {
    const lc_kern *k = lc_kern_get("scalar");
    CHECK(k);
    int n = 512;
    float x[512];
    uint8_t a[4096], ref[34 * 16];
    for (size_t ti = 0; ti < LC_ARRAY_LEN(types); ti++) {
        int t = types[ti];
        fill_act(x, n);
        x[5] = 0.5f * (x[0] + x[1]);
        size_t rbytes = k->act_row_bytes(t, n);
        CHECK(rbytes > 0 && rbytes <= sizeof a);
        k->quant_act(t, x, a, n);
        if (t == LC_TYPE_F32 || t == LC_TYPE_F16 || t == LC_TYPE_BF16) {
            CHECK(rbytes == (size_t)n * 4 && !memcmp(a, x, rbytes));
            continue;
        }
        int bs = (t == LC_TYPE_Q4_K || t == LC_TYPE_Q6_K) ? 256 : 32, nd = n / bs;
        const int8_t *qs = (const int8_t *)a;
        const float *d = (const float *)(void *)(a + n);
        for (int b = 0; b < nd; b++) {
            float amax = 0;
            for (int j = 0; j < bs; j++) amax = fmaxf(amax, fabsf(x[b * bs + j]));
            CHECK(d[b] == amax / 127);
            float id = d[b] ? 1 / d[b] : 0;
            for (int j = 0; j < bs; j++) CHECK(qs[b * bs + j] == (int8_t)roundf(x[b * bs + j] * id));
        }
        if (t == LC_TYPE_Q8_0) {   /* the same integers as the Q8_0 reference quantizer */
            lc_quant_row(LC_TYPE_Q8_0, x, ref, n);
            for (int b = 0; b < n / 32; b++) CHECK(!memcmp(ref + 34 * b + 2, qs + 32 * b, 32));
        }
        int sub = t == LC_TYPE_Q6_K ? 16 : 32;
        const void *aux = d + nd;
        for (int s = 0; s < n / sub; s++) {
            int sum = 0;
            for (int j = 0; j < sub; j++) sum += qs[s * sub + j];
            if (t == LC_TYPE_Q8_0) CHECK(((const int32_t *)aux)[s] == -128 * sum);
            if (t == LC_TYPE_Q4_0) CHECK(((const int32_t *)aux)[s] == -8 * sum);
            if (t == LC_TYPE_Q4_1) CHECK(((const float *)aux)[s] == d[s] * (float)sum);
            if (t == LC_TYPE_Q4_K) CHECK(((const int32_t *)aux)[s] == sum);
            if (t == LC_TYPE_Q6_K) CHECK(((const int32_t *)aux)[s] == -32 * sum);
        }
    }
    CHECK(k->act_row_bytes(LC_TYPE_Q4_K, 32) == 0 && k->act_row_bytes(LC_TYPE_Q8_0, 33) == 0);
    CHECK(k->act_row_bytes(LC_TYPE_Q8_0, 64) == 64 + 8 + 8);
    return T_PASS;
}

/* every ISA's activation quantizer writes the scalar one's bytes: random rows, rows whose
 * scaled values land exactly on .5 (round half away from zero), zeros and signed zeros */
static int test_quant_act_isas(void) {
    const lc_kern *ref = lc_kern_get("scalar");
    const char *isas[] = { "avx2", "avx512" };
    static float x[4096];
    static uint8_t a[4 * 4096 + 64], b[4 * 4096 + 64];
    for (size_t q = 0; q < LC_ARRAY_LEN(isas); q++) {
        const lc_kern *k = lc_kern_get(isas[q]);
        if (!k) continue;
        for (size_t ti = 0; ti < LC_ARRAY_LEN(types); ti++) {
            int t = types[ti];
            for (int pass = 0; pass < 4; pass++) {
                int n = pass == 3 ? 4096 : 512 + 256 * pass;
                fill_act(x, n);
                if (pass == 1)   /* amax 127 -> d 1: the halves stay halves */
                    for (int i = 0; i < n; i++) x[i] = i % 32 == 0 ? 127.0f : (float)((i * 37) % 254 - 127) + 0.5f;
                if (pass == 2)
                    for (int i = 0; i < n; i += 3) x[i] = i % 2 ? -0.0f : 0.0f;
                if (pass == 2)
                    for (int i = 0; i < 256; i++) x[i] = 0;   /* an all-zero block */
                size_t rb = ref->act_row_bytes(t, n);
                CHECK(rb > 0 && rb <= sizeof a);
                memset(a, 0x5a, sizeof a);
                memset(b, 0x5a, sizeof b);
                ref->quant_act(t, x, a, n);
                k->quant_act(t, x, b, n);
                CHECKF(!memcmp(a, b, sizeof a), "%s quant_act %s n=%d pass %d differs from scalar", isas[q],
                       lc_type_name(t), n, pass);
            }
        }
    }
    return T_PASS;
}

/* ---- gemm against scalar / exact ---------------------------------------------- */
typedef struct {
    int t, n, nr, nc;
    size_t ldw, lda, ldx, ldy;
    uint8_t *w, *a;
    float *x, *wd, *ad, *y, *yref;
} setup;

static void setup_free(setup *s) {
    free(s->w), free(s->a), free(s->x), free(s->wd), free(s->ad), free(s->y), free(s->yref);
}

static int setup_new(setup *s, int t, int n, int nr, int nc) {
    memset(s, 0, sizeof *s);
    s->t = t, s->n = n, s->nr = nr, s->nc = nc;
    size_t rb;
    if (!lc_type_row_bytes(t, n, &rb)) return -1;
    s->ldw = rb + 4 * (rnd() % 5);
    s->lda = lc_kern_act_row_bytes(t, n) + 4 * (rnd() % 5);
    s->ldx = (size_t)n + rnd() % 3;
    s->ldy = (size_t)nr + rnd() % 4;
    s->w = malloc(s->ldw * nr);
    s->a = malloc(s->lda * nc);
    s->x = malloc(s->ldx * nc * sizeof(float));
    s->wd = malloc((size_t)n * nr * sizeof(float));
    s->ad = malloc((size_t)n * nc * sizeof(float));
    s->y = malloc(s->ldy * nc * sizeof(float));
    s->yref = malloc(s->ldy * nc * sizeof(float));
    if (!s->w || !s->a || !s->x || !s->wd || !s->ad || !s->y || !s->yref) return -1;
    memset(s->w, 0xa5, s->ldw * nr);
    for (int i = 0; i < nr; i++) {
        fill_row(t, s->w + s->ldw * i, n);
        lc_dequant_row(t, s->w + s->ldw * i, s->wd + (size_t)n * i, n);
    }
    for (int j = 0; j < nc; j++) {
        fill_act(s->x + s->ldx * j, n);
        lc_kern_quant_act(t, s->x + s->ldx * j, s->a + s->lda * j, n);
        deq_act(t, s->a + s->lda * j, s->x + s->ldx * j, n, s->ad + (size_t)n * j);
    }
    return 0;
}

/* bound[j][i] = sum |w| |a|: the scale errors are measured against */
static double absdot(const float *a, const float *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += fabs((double)a[i] * b[i]);
    return s;
}

static double worst_fast = 0, worst_exact = 0;

static int check_gemm(const lc_kern *k, const lc_kern *ref, int t, int n, int nr, int nc) {
    setup s;
    if (setup_new(&s, t, n, nr, nc)) {
        setup_free(&s);
        return T_FAIL;
    }
    int rc = T_PASS;
    for (size_t i = 0; i < s.ldy * nc; i++) s.y[i] = s.yref[i] = -12345.0f;
    ref->gemm(t, n, s.w, s.ldw, s.a, s.lda, s.yref, s.ldy, nr, nc);
    k->gemm(t, n, s.w, s.ldw, s.a, s.lda, s.y, s.ldy, nr, nc);
    for (int j = 0; j < nc && rc == T_PASS; j++) {
        for (size_t i = 0; i < s.ldy; i++) {
            float v = s.y[j * s.ldy + i], r = s.yref[j * s.ldy + i];
            if (i >= (size_t)nr) {
                if (v != -12345.0f) {
                    fprintf(stderr, "  %s %s: wrote padding y[%d][%zu]\n", k->isa, lc_type_name(t), j, i);
                    rc = T_FAIL;
                }
                continue;
            }
            double bound = absdot(s.wd + (size_t)n * i, s.ad + (size_t)n * j, n) + 1e-30;
            double e = fabs((double)v - r) / bound;
            if (e > worst_fast) worst_fast = e;
            if (!(e <= 1e-5)) {
                fprintf(stderr, "  %s gemm %s n=%d nr=%d nc=%d: y[%d][%zu] = %.9g, scalar %.9g (rel %.3g)\n", k->isa,
                        lc_type_name(t), n, nr, nc, j, i, v, r, e);
                rc = T_FAIL;
                break;
            }
        }
    }
    /* exact mode against lc_dequant_row + a double dot */
    for (size_t i = 0; i < s.ldy * nc; i++) s.y[i] = -12345.0f;
    k->gemm_exact(t, n, s.w, s.ldw, s.x, s.ldx, s.y, s.ldy, nr, nc);
    for (int j = 0; j < nc && rc == T_PASS; j++) {
        for (size_t i = 0; i < s.ldy; i++) {
            float v = s.y[j * s.ldy + i];
            if (i >= (size_t)nr) {
                if (v != -12345.0f) rc = T_FAIL;
                continue;
            }
            const float *wr = s.wd + (size_t)n * i, *xr = s.x + s.ldx * j;
            double r = 0;
            for (int kk = 0; kk < n; kk++) r += (double)wr[kk] * xr[kk];
            double e = fabs(v - r) / (absdot(wr, xr, n) + 1e-30);
            if (e > worst_exact) worst_exact = e;
            if (!(e <= 1e-5)) {
                fprintf(stderr, "  %s gemm_exact %s n=%d nr=%d nc=%d: y[%d][%zu] = %.9g, want %.9g (rel %.3g)\n",
                        k->isa, lc_type_name(t), n, nr, nc, j, i, v, r, e);
                rc = T_FAIL;
                break;
            }
        }
    }
    setup_free(&s);
    return rc;
}

static int run_isa(const char *isa) {
    const lc_kern *k = lc_kern_get(isa), *ref = lc_kern_get("scalar");
    if (!k) return T_SKIP;
    /* 288, 2336: whole 8-block groups of the row kernels plus a tail of 1 */
    static const int ns[] = { 32, 64, 96, 256, 288, 512, 768, 2336, 4096 };
    static const int nrs[] = { 1, 2, 3, 4, 5, 6, 7, 13 };
    static const int ncs[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 17 };
    worst_fast = worst_exact = 0;
    for (size_t ti = 0; ti < LC_ARRAY_LEN(types); ti++) {
        int t = types[ti];
        for (size_t a = 0; a < LC_ARRAY_LEN(ns); a++) {
            int n = ns[a];
            if (n % lc_type_block_size(t)) continue;
            for (size_t b = 0; b < LC_ARRAY_LEN(nrs); b++)
                for (size_t c = 0; c < LC_ARRAY_LEN(ncs); c++) {
                    if (n >= 2048 && (c % 3 || b % 3)) continue;   /* keep the long rows cheap */
                    if (check_gemm(k, ref, t, n, nrs[b], ncs[c]) != T_PASS) return T_FAIL;
                }
            /* full and ragged row panels, more columns than a register tile */
            if (check_gemm(k, ref, t, n, 37, 13) != T_PASS) return T_FAIL;
            if (n <= 768 && check_gemm(k, ref, t, n, 70, 30) != T_PASS) return T_FAIL;
        }
        /* odd row lengths for the float types (block size 1) */
        if (lc_type_block_size(t) == 1)
            for (int n = 1; n < 40; n += 3)
                if (check_gemm(k, ref, t, n, 5, 6) != T_PASS || check_gemm(k, ref, t, n, 33, 2) != T_PASS)
                    return T_FAIL;
    }
    fprintf(stderr, "  %s: worst relative error gemm %.2g (of sum|w||a|), gemm_exact %.2g\n", isa, worst_fast,
            worst_exact);
    return T_PASS;
}

static int test_scalar(void) {
    /* the scalar path's own exact mode, and FAST vs a double dot of the rounded values */
    const lc_kern *k = lc_kern_get("scalar");
    for (size_t ti = 0; ti < LC_ARRAY_LEN(types); ti++) {
        int t = types[ti], n = 512;
        setup s;
        if (setup_new(&s, t, n, 5, 3)) {
            setup_free(&s);
            return T_FAIL;
        }
        k->gemm(t, n, s.w, s.ldw, s.a, s.lda, s.y, s.ldy, 5, 3);
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 5; i++) {
                const float *wr = s.wd + (size_t)n * i, *ar = s.ad + (size_t)n * j;
                double r = 0;
                for (int kk = 0; kk < n; kk++) r += (double)wr[kk] * ar[kk];
                double e = fabs(s.y[j * s.ldy + i] - r) / (absdot(wr, ar, n) + 1e-30);
                if (!(e <= 1e-5)) {
                    fprintf(stderr, "  scalar %s: %g vs %g\n", lc_type_name(t), s.y[j * s.ldy + i], r);
                    setup_free(&s);
                    return T_FAIL;
                }
            }
        setup_free(&s);
        if (check_gemm(k, k, t, 256, 3, 2) != T_PASS) return T_FAIL;
    }
    return T_PASS;
}

static int test_avx2(void) { return run_isa("avx2"); }
static int test_avx512(void) { return run_isa("avx512"); }

static int test_dot_axpy(void) {
    const char *isas[] = { "scalar", "avx2", "avx512" };
    float a[80], b[80], y[80], yr[80];
    for (size_t q = 0; q < LC_ARRAY_LEN(isas); q++) {
        const lc_kern *k = lc_kern_get(isas[q]);
        if (!k) continue;
        for (int n = 0; n <= 70; n++) {
            double r = 0, ab = 0;
            for (int i = 0; i < n; i++) a[i] = nrand(), b[i] = nrand(), r += (double)a[i] * b[i], ab += fabs(a[i] * b[i]);
            float v = k->dot_f32(a, b, n);
            CHECKF(fabs(v - r) <= 1e-6 * ab + 1e-30, "%s dot n=%d: %g vs %g", isas[q], n, v, r);
            float al = nrand();
            for (int i = 0; i < 80; i++) y[i] = yr[i] = nrand();
            k->axpy_f32(y, al, a, n);
            for (int i = 0; i < n; i++) yr[i] += al * a[i];
            for (int i = 0; i < 80; i++) CHECKF(fabsf(y[i] - yr[i]) <= 1e-6f * (fabsf(yr[i]) + 1), "%s axpy", isas[q]);
        }
    }
    return T_PASS;
}

static int test_select(void) {
    CHECK(lc_kern_get("scalar") && !strcmp(lc_kern_get("scalar")->isa, "scalar"));
    CHECK(!lc_kern_get("nonsense") && !lc_kern_get(NULL));
    const lc_kern *b = lc_kern_best();
    CHECK(b && b == lc_kern_best());
    const char *want = getenv("LLAMAC_ISA");
    if (want && lc_kern_get(want)) CHECK(!strcmp(b->isa, want));
    fprintf(stderr, "  best ISA: %s (avx2 %s, avx512 %s)\n", b->isa, lc_kern_get("avx2") ? "yes" : "no",
            lc_kern_get("avx512") ? "yes" : "no");
    return T_PASS;
}

const lc_test_case tests_kernels[] = {
    { "kernels_select", test_select },
    { "kernels_quant_act", test_quant_act_rounding },
    { "kernels_quant_act_isas", test_quant_act_isas },
    { "kernels_scalar", test_scalar },
    { "kernels_dot_axpy", test_dot_axpy },
    { "kernels_avx2", test_avx2 },
    { "kernels_avx512", test_avx512 },
    { 0 },
};
