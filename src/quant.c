/* quant.c - tensor element types: block sizes, the reference (scalar) dequantize routines and
 * the quantize routines for F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K and Q6_K (spec/gguf.md);
 * the K-quant searches use 4-lane GNU C vectors. */
#include "internal.h"

#include <math.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- type table ---------------------------------------------------- */
static const struct { int type; const char *name; int blk, bytes; bool supported; } types[] = {
    { LC_TYPE_F32, "F32", 1, 4, true },     { LC_TYPE_F16, "F16", 1, 2, true },
    { LC_TYPE_Q4_0, "Q4_0", 32, 18, true }, { LC_TYPE_Q4_1, "Q4_1", 32, 20, true },
    { 6, "Q5_0", 32, 22, false },           { 7, "Q5_1", 32, 24, false },
    { LC_TYPE_Q8_0, "Q8_0", 32, 34, true }, { 9, "Q8_1", 32, 36, false },
    { 10, "Q2_K", 256, 84, false },         { 11, "Q3_K", 256, 110, false },
    { LC_TYPE_Q4_K, "Q4_K", 256, 144, true }, { 13, "Q5_K", 256, 176, false },
    { LC_TYPE_Q6_K, "Q6_K", 256, 210, true }, { 15, "Q8_K", 256, 292, false },
    { 24, "I8", 1, 1, false },              { 25, "I16", 1, 2, false },
    { 26, "I32", 1, 4, false },             { 27, "I64", 1, 8, false },
    { 28, "F64", 1, 8, false },             { LC_TYPE_BF16, "BF16", 1, 2, true },
};

static int type_index(int type) {
    for (size_t i = 0; i < LC_ARRAY_LEN(types); i++)
        if (types[i].type == type) return (int)i;
    return -1;
}

const char *lc_type_name(int type) {
    int i = type_index(type);
    return i < 0 ? "?" : types[i].name;
}
int lc_type_block_size(int type) {
    int i = type_index(type);
    return i < 0 ? 0 : types[i].blk;
}
int lc_type_block_bytes(int type) {
    int i = type_index(type);
    return i < 0 ? 0 : types[i].bytes;
}
bool lc_type_supported(int type) {
    int i = type_index(type);
    return i >= 0 && types[i].supported;
}
bool lc_type_row_bytes(int type, int64_t n, size_t *out) {
    int i = type_index(type);
    if (i < 0 || n < 0 || n % types[i].blk) return false;
    return lc_mul_ok((size_t)(n / types[i].blk), (size_t)types[i].bytes, out);
}

/* ---- block layouts (spec/gguf.md §3) --------------------------------- */
/* Blocks sit unaligned in the mapping: every field is bytes, fp16 values are read
 * byte by byte (little endian, whatever the host). */
typedef struct { uint8_t d[2]; int8_t qs[32]; } blk_q8_0;
typedef struct { uint8_t d[2]; uint8_t qs[16]; } blk_q4_0;
typedef struct { uint8_t d[2], m[2]; uint8_t qs[16]; } blk_q4_1;
typedef struct { uint8_t d[2], dmin[2]; uint8_t scales[12]; uint8_t qs[128]; } blk_q4_k;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint8_t d[2]; } blk_q6_k;
_Static_assert(sizeof(blk_q8_0) == 34, "q8_0 layout");
_Static_assert(sizeof(blk_q4_0) == 18, "q4_0 layout");
_Static_assert(sizeof(blk_q4_1) == 20, "q4_1 layout");
_Static_assert(sizeof(blk_q4_k) == 144, "q4_k layout");
_Static_assert(sizeof(blk_q6_k) == 210, "q6_k layout");

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static inline float rd_f16(const uint8_t *p) { return lc_f16_to_f32(rd16(p)); }
/* stores v as fp16 and returns the value that was stored */
static inline float wr_f16(uint8_t *p, float v) {
    uint16_t h = lc_f32_to_f16(v);
    wr16(p, h);
    return lc_f16_to_f32(h);
}

/* (scale, min) pair j of a Q4_K block: 6 bits each, packed in 12 bytes */
static inline void scale_min_k4(const uint8_t *q, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* ---- dequantize ------------------------------------------------------ */
static void dequant_q8_0(const blk_q8_0 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b++, y += 32) {
        float d = rd_f16(b->d);
        for (int j = 0; j < 32; j++) y[j] = d * b->qs[j];
    }
}

static void dequant_q4_0(const blk_q4_0 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b++, y += 32) {
        float d = rd_f16(b->d);
        for (int j = 0; j < 16; j++) {
            y[j] = ((b->qs[j] & 0x0f) - 8) * d;
            y[j + 16] = ((b->qs[j] >> 4) - 8) * d;
        }
    }
}

static void dequant_q4_1(const blk_q4_1 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b++, y += 32) {
        float d = rd_f16(b->d), m = rd_f16(b->m);
        for (int j = 0; j < 16; j++) {
            y[j] = (b->qs[j] & 0x0f) * d + m;
            y[j + 16] = (b->qs[j] >> 4) * d + m;
        }
    }
}

static void dequant_q4_k(const blk_q4_k *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b++, y += 256) {
        float d = rd_f16(b->d), dmin = rd_f16(b->dmin);
        for (int g = 0; g < 4; g++) {
            int sc1, m1, sc2, m2;
            scale_min_k4(b->scales, 2 * g, &sc1, &m1);
            scale_min_k4(b->scales, 2 * g + 1, &sc2, &m2);
            float d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2;
            const uint8_t *q = b->qs + 32 * g;
            for (int l = 0; l < 32; l++) y[64 * g + l] = d1 * (q[l] & 0x0f) - mm1;
            for (int l = 0; l < 32; l++) y[64 * g + 32 + l] = d2 * (q[l] >> 4) - mm2;
        }
    }
}

static void dequant_q6_k(const blk_q6_k *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b++, y += 256) {
        float d = rd_f16(b->d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *L = b->ql + 64 * h, *H = b->qh + 32 * h;
            const int8_t *S = b->scales + 8 * h;
            float *o = y + 128 * h;
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((L[l] & 0xf) | (((H[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((L[l + 32] & 0xf) | (((H[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((L[l] >> 4) | (((H[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4)) - 32;
                o[l + 0] = d * S[is + 0] * q1;
                o[l + 32] = d * S[is + 2] * q2;
                o[l + 64] = d * S[is + 4] * q3;
                o[l + 96] = d * S[is + 6] * q4;
            }
        }
    }
}

void lc_dequant_row(int type, const void *src, float *dst, int64_t n) {
    int bs = lc_type_block_size(type);
    LC_ASSERT(bs > 0 && n >= 0 && n % bs == 0);
    const uint8_t *s = src;
    int64_t nb = n / bs;
    switch (type) {
    case LC_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case LC_TYPE_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = rd_f16(s + 2 * i);
        break;
    case LC_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = lc_bf16_to_f32(rd16(s + 2 * i));
        break;
    case LC_TYPE_Q8_0: dequant_q8_0(src, dst, nb); break;
    case LC_TYPE_Q4_0: dequant_q4_0(src, dst, nb); break;
    case LC_TYPE_Q4_1: dequant_q4_1(src, dst, nb); break;
    case LC_TYPE_Q4_K: dequant_q4_k(src, dst, nb); break;
    case LC_TYPE_Q6_K: dequant_q6_k(src, dst, nb); break;
    default: LC_ASSERT(!"dequant: unsupported type");
    }
}

/* ---- quantize: ggml's reference rules for Q8_0, Q4_0, Q4_1 ------------- */
static void quant_q8_0(const float *x, blk_q8_0 *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b++, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = LC_MAX(amax, fabsf(x[j]));
        float d = amax / 127, id = d != 0 ? 1 / d : 0;
        wr_f16(b->d, d);
        for (int j = 0; j < 32; j++) b->qs[j] = (int8_t)roundf(x[j] * id);
    }
}

static void quant_q4_0(const float *x, blk_q4_0 *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b++, x += 32) {
        float amax = 0, max = 0;   /* max: the value of largest magnitude, sign kept */
        for (int j = 0; j < 32; j++)
            if (amax < fabsf(x[j])) amax = fabsf(x[j]), max = x[j];
        float d = max / -8, id = d != 0 ? 1 / d : 0;
        wr_f16(b->d, d);
        for (int j = 0; j < 16; j++) {
            int q0 = LC_MIN(15, (int)(x[j] * id + 8.5f));
            int q1 = LC_MIN(15, (int)(x[j + 16] * id + 8.5f));
            b->qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void quant_q4_1(const float *x, blk_q4_1 *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b++, x += 32) {
        float min = x[0], max = x[0];
        for (int j = 1; j < 32; j++) min = LC_MIN(min, x[j]), max = LC_MAX(max, x[j]);
        float d = (max - min) / 15, id = d != 0 ? 1 / d : 0;
        wr_f16(b->d, d);
        wr_f16(b->m, min);
        for (int j = 0; j < 16; j++) {
            int q0 = LC_MIN(15, (int)((x[j] - min) * id + 0.5f));
            int q1 = LC_MIN(15, (int)((x[j + 16] - min) * id + 0.5f));
            b->qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

/* ---- quantize: K-quants (our own search) ---------------------------- */
/* Each sub-block (32 weights for Q4_K, 16 for Q6_K) is fitted by trying 12 step sizes
 * around the range-based one, one per vector lane; each candidate rounding gets its
 * least-squares scale (and offset), and its squared error follows in closed form from the
 * same sums, so all candidates cost one pass over the sub-block. Then, with the super-block
 * scale(s) fixed, each sub-block takes the best of the grid points either side of its fitted
 * scale (and min): 2 (Q6_K) or 4 (Q4_K) error passes, the best one's rounding is kept.
 * Inner loops run on 4-lane GNU C vectors (SSE2 on x86-64, the generic lowering elsewhere):
 * no per-element divisions or libm calls, rounding by clamping in float and truncating.
 * About 10 ns per weight on one core, ~17x (Q4_K) and ~40x (Q6_K) faster than the scalar
 * search this replaced (26 / 66 candidates, a refit and an error pass each, lrintf calls),
 * with squared error 0.974x / 0.879x llama.cpp's on the shared test weights (that search:
 * 0.962x / 0.863x). */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f vsplat(float f) { return (v4f){ f, f, f, f }; }
static inline v4f vload(const float *p) {
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline float hsum(v4f v) { return (v[0] + v[2]) + (v[1] + v[3]); }
static inline float hmin(v4f v) { return LC_MIN(LC_MIN(v[0], v[1]), LC_MIN(v[2], v[3])); }
static inline float hmax(v4f v) { return LC_MAX(LC_MAX(v[0], v[1]), LC_MAX(v[2], v[3])); }
#if defined(__SSE2__)
/* lo < v ? v : lo and v < hi ? v : hi: a NaN v becomes the bound */
static inline v4f vmax(v4f v, v4f lo) { return _mm_max_ps(v, lo); }
static inline v4f vmin(v4f v, v4f hi) { return _mm_min_ps(v, hi); }
static inline v4i vtrunc(v4f v) { return (v4i)_mm_cvttps_epi32(v); }
static inline v4f vfloat(v4i v) { return _mm_cvtepi32_ps((__m128i)v); }
#else
static inline v4f vmax(v4f v, v4f lo) {
    v4i m = v > lo;
    return (v4f)((m & (v4i)v) | (~m & (v4i)lo));
}
static inline v4f vmin(v4f v, v4f hi) {
    v4i m = v < hi;
    return (v4f)((m & (v4i)v) | (~m & (v4i)hi));
}
static inline v4i vtrunc(v4f v) { return __builtin_convertvector(v, v4i); }
static inline v4f vfloat(v4i v) { return __builtin_convertvector(v, v4f); }
#endif
/* v clamped to [0, qmax + 0.5] and truncated: with v = y + 0.5, y rounded to nearest
 * (halves up) and clamped to [0, qmax] */
static inline v4i vquant(v4f v, v4f vqmax_half) { return vtrunc(vmin(vmax(v, vsplat(0)), vqmax_half)); }
static inline v4f vsel(v4i m, v4f a, v4f b) { return (v4f)((m & (v4i)a) | (~m & (v4i)b)); }
/* nearest integer to v in [lo, hi], NaN to lo (v is a scale ratio, small) */
static inline int round_clamp(float v, int lo, int hi) {
    if (!(v > lo)) return lo;
    if (!(v < hi)) return hi;
    return (int)floorf(v + 0.5f);
}

/* step-size candidates for a Q4_K sub-block, 4 to a vector: (15 + delta) steps span its
 * range (lo clipped to <= 0) */
enum { Q4K_NC = 3 };
static const v4f q4k_deltas[Q4K_NC] = { { -1.0f, -0.8f, -0.6f, -0.4f },
                                        { -0.2f, 0.0f, 0.2f, 0.4f },
                                        { 0.6f, 0.8f, 1.0f, 1.2f } };

/* best a >= 0, m >= 0 for x[32] ~ a*q - m, q in [0, 15]: one vector lane per candidate */
static void fit_q4k(const float *x, float *a_out, float *m_out) {
    v4f vlo = vload(x), vhi = vlo, vsx = vsplat(0), vsxx = vsplat(0);
    for (int k = 0; k < 8; k++) {
        v4f xv = vload(x + 4 * k);
        vlo = vmin(xv, vlo), vhi = vmax(xv, vhi), vsx += xv, vsxx += xv * xv;
    }
    float lo = LC_MIN(hmin(vlo), 0), hi = hmax(vhi), sx = hsum(vsx), sxx = hsum(vsxx);
    if (!(hi > lo)) {   /* constant (<= 0) or NaN */
        *a_out = 0, *m_out = lo == lo ? -lo : 0;
        return;
    }
    float irange = 1 / (hi - lo);
    const v4f qh = vsplat(15.5f), zero = vsplat(0);
    v4f is[Q4K_NC], off[Q4K_NC], sq[Q4K_NC], sqq[Q4K_NC], sqx[Q4K_NC];
    for (int g = 0; g < Q4K_NC; g++) {
        is[g] = (15 + q4k_deltas[g]) * irange, off[g] = 0.5f - lo * is[g];
        sq[g] = sqq[g] = sqx[g] = zero;
    }
    for (int i = 0; i < 32; i++) {
        v4f xv = vsplat(x[i]);
        for (int g = 0; g < Q4K_NC; g++) {
            v4f q = vfloat(vquant(xv * is[g] + off[g], qh));
            sq[g] += q, sqq[g] += q * q, sqx[g] += q * xv;
        }
    }
    /* least squares a, b for x ~ a q + b (b <= 0), and sum (a q + b - x)^2 from the sums */
    float best_a = (hi - lo) / 15, best_m = -lo, best_e = INFINITY;
    for (int g = 0; g < Q4K_NC; g++) {
        v4f den = 32 * sqq[g] - sq[g] * sq[g];
        v4f a = (32 * sqx[g] - sq[g] * sx) / vmax(den, vsplat(1e-30f)), b = (sx - a * sq[g]) * (1.0f / 32);
        v4i pos = b > zero;
        a = vsel(pos, sqx[g] / vmax(sqq[g], vsplat(1e-30f)), a), b = vsel(pos, zero, b);
        v4f e = a * (a * sqq[g] - 2 * sqx[g]) + b * (32 * b + 2 * (a * sq[g] - sx)) + sxx;
        v4i ok = (den > zero) & (a > zero);
        for (int l = 0; l < 4; l++)
            if (ok[l] && e[l] < best_e) best_e = e[l], best_a = a[l], best_m = -b[l];
    }
    *a_out = best_a, *m_out = best_m;
}

/* squared error of x[32] ~ a*q - m with q = round((x + m) / a) in [0, 15], q stored */
static inline float err_q4k(const float *x, float a, float m, int32_t *qout) {
    float ia = a > 0 ? 1 / a : 0;
    v4f vis = vsplat(ia), voff = vsplat(m * ia + 0.5f), va = vsplat(a), vm = vsplat(m), e = vsplat(0);
    const v4f qh = vsplat(15.5f);
    for (int k = 0; k < 8; k++) {
        v4f xv = vload(x + 4 * k);
        v4i qi = vquant(xv * vis + voff, qh);
        v4f r = va * vfloat(qi) - vm - xv;
        e += r * r;
        memcpy(qout + 4 * k, &qi, sizeof qi);
    }
    return hsum(e);
}

static void quant_q4_k(const float *x, blk_q4_k *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b++, x += 256) {
        float a[8], m[8], amax = 0, mmax = 0;
        for (int j = 0; j < 8; j++) {
            fit_q4k(x + 32 * j, &a[j], &m[j]);
            amax = LC_MAX(amax, a[j]), mmax = LC_MAX(mmax, m[j]);
        }
        float d = wr_f16(b->d, amax / 63), dmin = wr_f16(b->dmin, mmax / 63);
        float id = d > 0 ? 1 / d : 0, idmin = dmin > 0 ? 1 / dmin : 0;
        uint8_t sc[8], mn[8];
        int32_t q[256], qt[4][32];
        for (int j = 0; j < 8; j++) {
            /* the 6-bit scale and min: the best of the grid points either side */
            int s0 = round_clamp(a[j] * id - 0.5f, 0, 62), m0 = round_clamp(m[j] * idmin - 0.5f, 0, 62);
            float e[4];
            for (int k = 0; k < 4; k++)
                e[k] = err_q4k(x + 32 * j, d * (s0 + (k >> 1)), dmin * (m0 + (k & 1)), qt[k]);
            int c = 0;
            for (int k = 1; k < 4; k++)
                if (e[k] < e[c]) c = k;
            sc[j] = (uint8_t)(s0 + (c >> 1)), mn[j] = (uint8_t)(m0 + (c & 1));
            memcpy(q + 32 * j, qt[c], sizeof qt[c]);
        }
        memset(b->scales, 0, sizeof b->scales);
        for (int j = 0; j < 8; j++) {
            if (j < 4) {
                b->scales[j] |= sc[j];
                b->scales[j + 4] |= mn[j];
            } else {
                b->scales[j + 4] = (uint8_t)((sc[j] & 0x0f) | ((mn[j] & 0x0f) << 4));
                b->scales[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
                b->scales[j] |= (uint8_t)((mn[j] >> 4) << 6);
            }
        }
        for (int g = 0; g < 4; g++)
            for (int l = 0; l < 32; l++)
                b->qs[32 * g + l] = (uint8_t)(q[64 * g + l] | (q[64 * g + 32 + l] << 4));
    }
}

/* step-size candidates for a Q6_K sub-block, 4 to a vector: its value of largest
 * magnitude maps to t */
enum { Q6K_NC = 3 };
static const v4f q6k_targets[Q6K_NC] = { { -32.0f, -31.5f, -31.0f, -30.5f },
                                         { -30.0f, -29.0f, -28.0f, 28.0f },
                                         { 29.0f, 30.0f, 31.0f, 31.5f } };

/* best signed s for x[16] ~ s*q, q in [-32, 31]: one vector lane per candidate */
static float fit_q6k(const float *x) {
    v4f vlo = vload(x), vhi = vlo;
    for (int k = 1; k < 4; k++) vlo = vmin(vload(x + 4 * k), vlo), vhi = vmax(vload(x + 4 * k), vhi);
    float lo = hmin(vlo), hi = hmax(vhi), max = -lo > hi ? lo : hi;
    if (!(max != 0)) return 0;   /* all zero, or NaN */
    float imax = 1 / max;
    const v4f qh = vsplat(63.5f), c32 = vsplat(32), c32h = vsplat(32.5f), zero = vsplat(0);
    v4f is[Q6K_NC], sqq[Q6K_NC], sqx[Q6K_NC];
    for (int g = 0; g < Q6K_NC; g++) is[g] = q6k_targets[g] * imax, sqq[g] = sqx[g] = zero;
    for (int i = 0; i < 16; i++) {
        v4f xv = vsplat(x[i]);
        for (int g = 0; g < Q6K_NC; g++) {
            v4f q = vfloat(vquant(xv * is[g] + c32h, qh)) - c32;
            sqq[g] += q * q, sqx[g] += q * xv;
        }
    }
    /* the least-squares s = Sqx / Sqq leaves sum x^2 - Sqx^2 / Sqq: keep the largest Sqx^2 / Sqq */
    float best_s = max / -32, best_r = -1;
    for (int g = 0; g < Q6K_NC; g++) {
        v4f r = sqx[g] * sqx[g] / vmax(sqq[g], vsplat(1e-30f));
        for (int l = 0; l < 4; l++)
            if (sqq[g][l] > 0 && r[l] > best_r) best_r = r[l], best_s = sqx[g][l] / sqq[g][l];
    }
    return best_s;
}

/* squared error of x[16] ~ s*q, q = round(x / s) in [-32, 31], q + 32 stored */
static inline float err_q6k(const float *x, float s, int32_t *qout) {
    float is = s != 0 ? 1 / s : 0;
    v4f vis = vsplat(is), vs = vsplat(s), e = vsplat(0);
    const v4f qh = vsplat(63.5f), c32 = vsplat(32), c32h = vsplat(32.5f);
    for (int k = 0; k < 4; k++) {
        v4f xv = vload(x + 4 * k);
        v4i qi = vquant(xv * vis + c32h, qh);
        v4f r = vs * (vfloat(qi) - c32) - xv;
        e += r * r;
        memcpy(qout + 4 * k, &qi, sizeof qi);
    }
    return hsum(e);
}

static void quant_q6_k(const float *x, blk_q6_k *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b++, x += 256) {
        float s[16], smax = 0;
        for (int j = 0; j < 16; j++) {
            s[j] = fit_q6k(x + 16 * j);
            smax = LC_MAX(smax, fabsf(s[j]));
        }
        float d = wr_f16(b->d, smax / 127), id = d > 0 ? 1 / d : 0;
        int32_t q[256], qt[2][16];
        for (int j = 0; j < 16; j++) {
            /* the 8-bit scale: the better of the grid points either side */
            int s0 = round_clamp(s[j] * id + 127.5f, 0, 254) - 128;
            float e0 = err_q6k(x + 16 * j, d * s0, qt[0]), e1 = err_q6k(x + 16 * j, d * (s0 + 1), qt[1]);
            int c = e1 < e0;
            b->scales[j] = (int8_t)(s0 + c);
            memcpy(q + 16 * j, qt[c], sizeof qt[c]);
        }
        for (int h = 0; h < 2; h++) {
            uint8_t *L = b->ql + 64 * h, *H = b->qh + 32 * h;
            const int32_t *Q = q + 128 * h;
            for (int l = 0; l < 32; l++) {
                int u1 = Q[l], u2 = Q[l + 32], u3 = Q[l + 64], u4 = Q[l + 96];
                L[l] = (uint8_t)((u1 & 0xf) | ((u3 & 0xf) << 4));
                L[l + 32] = (uint8_t)((u2 & 0xf) | ((u4 & 0xf) << 4));
                H[l] = (uint8_t)((u1 >> 4) | ((u2 >> 4) << 2) | ((u3 >> 4) << 4) | ((u4 >> 4) << 6));
            }
        }
    }
}

void lc_quant_row(int type, const float *src, void *dst, int64_t n) {
    int bs = lc_type_block_size(type);
    LC_ASSERT(bs > 0 && n >= 0 && n % bs == 0);
    uint8_t *o = dst;
    int64_t nb = n / bs;
    switch (type) {
    case LC_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case LC_TYPE_F16:
        for (int64_t i = 0; i < n; i++) wr16(o + 2 * i, lc_f32_to_f16(src[i]));
        break;
    case LC_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) wr16(o + 2 * i, lc_f32_to_bf16(src[i]));
        break;
    case LC_TYPE_Q8_0: quant_q8_0(src, dst, nb); break;
    case LC_TYPE_Q4_0: quant_q4_0(src, dst, nb); break;
    case LC_TYPE_Q4_1: quant_q4_1(src, dst, nb); break;
    case LC_TYPE_Q4_K: quant_q4_k(src, dst, nb); break;
    case LC_TYPE_Q6_K: quant_q6_k(src, dst, nb); break;
    default: LC_ASSERT(!"quant: unsupported type");
    }
}
