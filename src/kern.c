/* kern.c - kernel dispatch (CPU detection, LLAMAC_ISA) and the portable scalar kernels,
 * which are the test oracle for every SIMD path. The activation quantizer here defines the
 * 8-bit activations every path sees (kernels.h); SIMD versions must write the same bytes. */
#include "internal.h"
#include "kernels.h"

#include <math.h>
#include <pthread.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define LC_X86 1
#endif

/* ---- block access ---------------------------------------------------- */
static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline float rd_f16(const uint8_t *p) { return lc_f16_to_f32(rd16(p)); }

static void scale_min_k4(const uint8_t *q, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* ---- activation layout (kernels.h) ------------------------------------ */
/* block size of the activation scale d for weight type t (0: plain float activations) */
static int act_block(int t) {
    switch (t) {
    case LC_TYPE_Q8_0: case LC_TYPE_Q4_0: case LC_TYPE_Q4_1: return 32;
    case LC_TYPE_Q4_K: case LC_TYPE_Q6_K: return 256;
    default: return 0;
    }
}

static bool float_type(int t) { return t == LC_TYPE_F32 || t == LC_TYPE_F16 || t == LC_TYPE_BF16; }

size_t lc_kern_act_row_bytes(int wtype, int n) {
    if (n <= 0) return 0;
    if (float_type(wtype)) return (size_t)n * 4;
    int bs = act_block(wtype);
    if (!bs || n % bs) return 0;
    size_t nd = (size_t)(n / bs), naux = wtype == LC_TYPE_Q6_K ? (size_t)n / 16 : (size_t)n / 32;
    return (size_t)n + 4 * nd + 4 * naux;
}

void lc_kern_quant_act(int wtype, const float *x, void *dst, int n) {
    if (float_type(wtype)) {
        memcpy(dst, x, (size_t)n * sizeof(float));
        return;
    }
    int bs = act_block(wtype);
    LC_ASSERT(bs && n % bs == 0);
    int8_t *qs = dst;
    float *d = (float *)((uint8_t *)dst + n);
    int nd = n / bs;
    for (int b = 0; b < nd; b++) {
        const float *xb = x + (size_t)b * bs;
        float amax = 0;
        for (int j = 0; j < bs; j++) amax = LC_MAX(amax, fabsf(xb[j]));
        float dd = amax / 127, id = dd != 0 ? 1 / dd : 0;
        d[b] = dd;
        for (int j = 0; j < bs; j++) qs[b * bs + j] = (int8_t)roundf(xb[j] * id);
    }
    void *aux = d + nd;
    int sub = wtype == LC_TYPE_Q6_K ? 16 : 32;
    for (int s = 0; s < n / sub; s++) {
        int sum = 0;
        for (int j = 0; j < sub; j++) sum += qs[s * sub + j];
        switch (wtype) {
        case LC_TYPE_Q8_0: ((int32_t *)aux)[s] = -128 * sum; break;
        case LC_TYPE_Q4_0: ((int32_t *)aux)[s] = -8 * sum; break;
        case LC_TYPE_Q4_1: ((float *)aux)[s] = d[s] * (float)sum; break;
        case LC_TYPE_Q4_K: ((int32_t *)aux)[s] = sum; break;
        case LC_TYPE_Q6_K: ((int32_t *)aux)[s] = -32 * sum; break;
        }
    }
}

/* ---- scalar FAST dots: one weight row . one activation row ---------- */
static float dot_row_f(int t, const uint8_t *w, const float *x, int n) {
    float s[8] = { 0 };
    for (int i = 0; i < n; i += 8)
        for (int j = 0; j < 8 && i + j < n; j++) {
            float v = t == LC_TYPE_F32 ? ((const float *)(const void *)w)[i + j]
                    : t == LC_TYPE_F16 ? rd_f16(w + 2 * (i + j))
                                       : lc_bf16_to_f32(rd16(w + 2 * (i + j)));
            s[j] += v * x[i + j];
        }
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

static float dot_row_q(int t, const uint8_t *w, const uint8_t *a, int n) {
    const int8_t *qa = (const int8_t *)a;
    const float *da = (const float *)(const void *)(a + n);
    float acc = 0;
    switch (t) {
    case LC_TYPE_Q8_0:
        for (int b = 0; b < n / 32; b++, w += 34, qa += 32) {
            int s = 0;
            for (int j = 0; j < 32; j++) s += (int8_t)w[2 + j] * qa[j];
            acc += rd_f16(w) * da[b] * (float)s;
        }
        break;
    case LC_TYPE_Q4_0:
        for (int b = 0; b < n / 32; b++, w += 18, qa += 32) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += ((w[2 + j] & 15) - 8) * qa[j] + ((w[2 + j] >> 4) - 8) * qa[j + 16];
            acc += rd_f16(w) * da[b] * (float)s;
        }
        break;
    case LC_TYPE_Q4_1: {
        const float *sa = da + n / 32;
        for (int b = 0; b < n / 32; b++, w += 20, qa += 32) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += (w[4 + j] & 15) * qa[j] + (w[4 + j] >> 4) * qa[j + 16];
            acc += rd_f16(w) * da[b] * (float)s + rd_f16(w + 2) * sa[b];
        }
        break;
    }
    case LC_TYPE_Q4_K: {
        const int32_t *bs = (const int32_t *)(const void *)(da + n / 256);
        for (int b = 0; b < n / 256; b++, w += 144, qa += 256, bs += 8) {
            int sumi = 0, msum = 0;
            for (int s = 0; s < 8; s++) {
                int sc, m, is = 0;
                scale_min_k4(w + 4, s, &sc, &m);
                const uint8_t *q = w + 16 + 32 * (s / 2);
                for (int l = 0; l < 32; l++) is += (s & 1 ? q[l] >> 4 : q[l] & 15) * qa[32 * s + l];
                sumi += sc * is;
                msum += m * bs[s];
            }
            acc += da[b] * (rd_f16(w) * (float)sumi - rd_f16(w + 2) * (float)msum);
        }
        break;
    }
    case LC_TYPE_Q6_K:
        for (int b = 0; b < n / 256; b++, w += 210, qa += 256) {
            const uint8_t *ql = w, *qh = w + 128;
            const int8_t *sc = (const int8_t *)(w + 192);
            int sumi = 0;
            for (int s = 0; s < 16; s++) {
                int is = 0;
                for (int e = 16 * s; e < 16 * s + 16; e++) {
                    int h = e / 128, r = e % 128, qd = r / 32, l = r % 32;
                    const uint8_t *L = ql + 64 * h, *H = qh + 32 * h;
                    int lo = qd == 0 ? L[l] & 15 : qd == 1 ? L[l + 32] & 15 : qd == 2 ? L[l] >> 4 : L[l + 32] >> 4;
                    int q = (lo | (((H[l] >> (2 * qd)) & 3) << 4)) - 32;
                    is += q * qa[e];
                }
                sumi += sc[s] * is;
            }
            acc += da[b] * rd_f16(w + 208) * (float)sumi;
        }
        break;
    default: LC_ASSERT(!"kern: unsupported weight type");
    }
    return acc;
}

static void gemm_scalar(int wtype, int n, const void *w, size_t ldw, const void *a, size_t lda, float *y, size_t ldy,
                        int nr, int nc) {
    for (int j = 0; j < nc; j++) {
        const uint8_t *aj = (const uint8_t *)a + (size_t)j * lda;
        for (int i = 0; i < nr; i++) {
            const uint8_t *wi = (const uint8_t *)w + (size_t)i * ldw;
            y[(size_t)j * ldy + i] = float_type(wtype) ? dot_row_f(wtype, wi, (const float *)(const void *)aj, n)
                                                       : dot_row_q(wtype, wi, aj, n);
        }
    }
}

/* EXACT: lc_dequant_row in chunks, then the float dot of model.c (8 strided partial sums) */
enum { EXACT_CHUNK = 256 };
static void gemm_exact_scalar(int wtype, int n, const void *w, size_t ldw, const float *x, size_t ldx, float *y,
                              size_t ldy, int nr, int nc) {
    float buf[EXACT_CHUNK];
    int bs = lc_type_block_size(wtype);
    size_t rb;
    LC_ASSERT(bs > 0 && lc_type_row_bytes(wtype, EXACT_CHUNK, &rb));
    for (int i = 0; i < nr; i++) {
        const uint8_t *wi = (const uint8_t *)w + (size_t)i * ldw;
        for (int j = 0; j < nc; j++) {
            const float *xj = x + (size_t)j * ldx;
            float s[8] = { 0 };
            for (int k0 = 0; k0 < n; k0 += EXACT_CHUNK) {
                int len = LC_MIN(EXACT_CHUNK, n - k0);
                lc_dequant_row(wtype, wi + (size_t)(k0 / EXACT_CHUNK) * rb, buf, len);
                for (int k = 0; k < len; k += 8)
                    for (int l = 0; l < 8 && k + l < len; l++) s[l] += buf[k + l] * xj[k0 + k + l];
            }
            y[(size_t)j * ldy + i] = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
        }
    }
}

static float dot_f32_scalar(const float *a, const float *b, int n) {
    float s[8] = { 0 };
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += a[i + j] * b[i + j];
    float r = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    for (; i < n; i++) r += a[i] * b[i];
    return r;
}

static void axpy_f32_scalar(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

static const lc_kern kern_scalar = {
    .isa = "scalar",
    .act_row_bytes = lc_kern_act_row_bytes,
    .quant_act = lc_kern_quant_act,
    .gemm = gemm_scalar,
    .gemm_exact = gemm_exact_scalar,
    .dot_f32 = dot_f32_scalar,
    .axpy_f32 = axpy_f32_scalar,
};

/* ---- CPU detection -------------------------------------------------- */
enum { CPU_AVX2 = 1, CPU_AVX512 = 2 };

static int cpu_features(void) {
    int f = 0;
#ifdef LC_X86
    unsigned a, b, c, d;
    if (!__get_cpuid_count(1, 0, &a, &b, &c, &d)) return 0;
    bool osxsave = c >> 27 & 1, avx = c >> 28 & 1, fma = c >> 12 & 1, f16c = c >> 29 & 1;
    if (!osxsave || !avx) return 0;
    unsigned xlo, xhi;
    __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    (void)xhi;
    bool ymm_os = (xlo & 6) == 6, zmm_os = (xlo & 0xe6) == 0xe6; /* SSE, AVX; opmask, ZMM_Hi256, Hi16_ZMM */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    bool avx2 = b >> 5 & 1, f512 = b >> 16 & 1, dq = b >> 17 & 1, bw = b >> 30 & 1, vl = b >> 31 & 1;
    bool vnni = c >> 11 & 1;
    if (ymm_os && avx2 && fma && f16c) f |= CPU_AVX2;
    if ((f & CPU_AVX2) && zmm_os && f512 && dq && bw && vl && vnni) f |= CPU_AVX512;
#endif
    return f;
}

const lc_kern *lc_kern_get(const char *isa) {
    if (!isa) return NULL;
    if (!strcmp(isa, "scalar")) return &kern_scalar;
    int f = cpu_features();
    if (!strcmp(isa, "avx2")) return (f & CPU_AVX2) ? lc_kern_avx2_table() : NULL;
    if (!strcmp(isa, "avx512")) return (f & CPU_AVX512) ? lc_kern_avx512_table() : NULL;
    return NULL;
}

static const lc_kern *best;
static pthread_once_t best_once = PTHREAD_ONCE_INIT;

static void choose_best(void) {
    const lc_kern *k = lc_kern_get("avx512");
    if (!k) k = lc_kern_get("avx2");
    if (!k) k = &kern_scalar;
    const char *want = getenv("LLAMAC_ISA");
    if (want && *want) {
        const lc_kern *w = lc_kern_get(want);
        if (w) k = w;
        else fprintf(stderr, "llamac: LLAMAC_ISA=%s is unknown or not supported here; using %s\n", want, k->isa);
    }
    best = k;
}

const lc_kern *lc_kern_best(void) {
    pthread_once(&best_once, choose_best);
    return best;
}
