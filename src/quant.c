/* quant.c - tensor element types: block sizes and the reference (scalar) dequantize and
 * quantize routines for F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K and Q6_K (spec/gguf.md). */
#include "internal.h"

#include <math.h>

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
static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }
static inline int nearest(float v) { return (int)lrintf(v); }

/* squared error of x ~ a*q - m with q = round((x + m) / a) in [0, qmax]; q written if non-NULL */
static float err_affine(const float *x, int n, int qmax, float a, float m, uint8_t *q) {
    float e = 0, ia = a != 0 ? 1 / a : 0;
    for (int i = 0; i < n; i++) {
        int v = clampi(nearest((x[i] + m) * ia), 0, qmax);
        float r = a * v - m - x[i];
        e += r * r;
        if (q) q[i] = (uint8_t)v;
    }
    return e;
}

/* best a >= 0, m >= 0 for x ~ a*q - m, q in [0, qmax]: tries a range of steps, refits
 * (a, m) by least squares for each candidate rounding, keeps the least squared error */
static void fit_affine(const float *x, int n, int qmax, float *a_out, float *m_out) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) lo = LC_MIN(lo, x[i]), hi = LC_MAX(hi, x[i]);
    if (lo > 0) lo = 0;   /* the offset can only lower values */
    if (hi <= lo) {
        *a_out = 0, *m_out = -lo;
        return;
    }
    float best_a = (hi - lo) / qmax, best_m = -lo;
    float best_e = err_affine(x, n, qmax, best_a, best_m, NULL);
    for (int k = -15; k <= 10; k++) {
        float is = (qmax + 0.1f * k) / (hi - lo);
        float sq = 0, sx = 0, sqq = 0, sqx = 0;
        for (int i = 0; i < n; i++) {
            int v = clampi(nearest((x[i] - lo) * is), 0, qmax);
            sq += v, sx += x[i], sqq += (float)v * v, sqx += v * x[i];
        }
        float den = n * sqq - sq * sq;
        if (den <= 0) continue;
        float a = (n * sqx - sq * sx) / den, b = (sx - a * sq) / n;
        if (b > 0) b = 0, a = sqx / sqq;
        if (a <= 0) continue;
        float e = err_affine(x, n, qmax, a, -b, NULL);
        if (e < best_e) best_e = e, best_a = a, best_m = -b;
    }
    *a_out = best_a, *m_out = best_m;
}

static void quant_q4_k(const float *x, blk_q4_k *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b++, x += 256) {
        float a[8], m[8], amax = 0, mmax = 0;
        for (int j = 0; j < 8; j++) {
            fit_affine(x + 32 * j, 32, 15, &a[j], &m[j]);
            amax = LC_MAX(amax, a[j]), mmax = LC_MAX(mmax, m[j]);
        }
        float d = wr_f16(b->d, amax / 63), dmin = wr_f16(b->dmin, mmax / 63);
        float id = d > 0 ? 1 / d : 0, idmin = dmin > 0 ? 1 / dmin : 0;
        uint8_t sc[8], mn[8], q[256];
        for (int j = 0; j < 8; j++) {
            /* round the 6-bit scale and min, then pick the best neighbour pair */
            int s0 = clampi(nearest(a[j] * id), 0, 63), m0 = clampi(nearest(m[j] * idmin), 0, 63);
            float best = INFINITY;
            for (int ds = -1; ds <= 1; ds++) {
                for (int dm = -1; dm <= 1; dm++) {
                    int s = s0 + ds, mm = m0 + dm;
                    if (s < 0 || s > 63 || mm < 0 || mm > 63) continue;
                    float e = err_affine(x + 32 * j, 32, 15, d * s, dmin * mm, NULL);
                    if (e < best) best = e, sc[j] = (uint8_t)s, mn[j] = (uint8_t)mm;
                }
            }
            err_affine(x + 32 * j, 32, 15, d * sc[j], dmin * mn[j], q + 32 * j);
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

/* squared error of x ~ s*q, q = round(x / s) in [-32, 31]; q written if non-NULL */
static float err_sym6(const float *x, int n, float s, int8_t *q) {
    float e = 0, is = s != 0 ? 1 / s : 0;
    for (int i = 0; i < n; i++) {
        int v = clampi(nearest(x[i] * is), -32, 31);
        float r = s * v - x[i];
        e += r * r;
        if (q) q[i] = (int8_t)v;
    }
    return e;
}

/* best signed s for x ~ s*q, q in [-32, 31]: the value of largest magnitude maps to
 * -t or +t for a range of t, each rounding refitted by least squares */
static float fit_sym6(const float *x, int n) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]), max = x[i];
    if (amax == 0) return 0;
    float best_s = max / -32, best_e = err_sym6(x, n, best_s, NULL);
    for (int k = 0; k < 2 * 33; k++) {
        float t = k < 33 ? -(32 - 0.25f * k) : 31.5f - 0.25f * (k - 33);   /* [-32,-24], [23.5,31.5] */
        float is = t / max, sqq = 0, sqx = 0;
        for (int i = 0; i < n; i++) {
            int v = clampi(nearest(x[i] * is), -32, 31);
            sqq += (float)v * v, sqx += v * x[i];
        }
        if (sqq <= 0) continue;
        float s = sqx / sqq, e = err_sym6(x, n, s, NULL);
        if (e < best_e) best_e = e, best_s = s;
    }
    return best_s;
}

static void quant_q6_k(const float *x, blk_q6_k *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, b++, x += 256) {
        float s[16], smax = 0;
        for (int j = 0; j < 16; j++) {
            s[j] = fit_sym6(x + 16 * j, 16);
            smax = LC_MAX(smax, fabsf(s[j]));
        }
        float d = wr_f16(b->d, smax / 127), id = d > 0 ? 1 / d : 0;
        int8_t q[256];
        for (int j = 0; j < 16; j++) {
            int s0 = clampi(nearest(s[j] * id), -128, 127), best_sc = s0;
            float best = INFINITY;
            for (int ds = -1; ds <= 1; ds++) {
                int sc = s0 + ds;
                if (sc < -128 || sc > 127) continue;
                float e = err_sym6(x + 16 * j, 16, d * sc, NULL);
                if (e < best) best = e, best_sc = sc;
            }
            b->scales[j] = (int8_t)best_sc;
            err_sym6(x + 16 * j, 16, d * best_sc, q + 16 * j);
        }
        for (int h = 0; h < 2; h++) {
            uint8_t *L = b->ql + 64 * h, *H = b->qh + 32 * h;
            const int8_t *Q = q + 128 * h;
            for (int l = 0; l < 32; l++) {
                int u1 = Q[l] + 32, u2 = Q[l + 32] + 32, u3 = Q[l + 64] + 32, u4 = Q[l + 96] + 32;
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
