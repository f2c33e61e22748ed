/* kern_avx2.c - AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c). One weight
 * row at a time against up to 4 activation columns, each weight block unpacked once and used
 * for every column; 8-bit dots with maddubs/madd. Compiles to nothing useful elsewhere. */
#include "internal.h"
#include "kernels.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 16")

/* ---- helpers ----------------------------------------------------------- */
INLINE float f16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}
INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
/* u8 x s8, 32 pairs -> 8 int32 lanes (no saturation while |u*s| pairs stay below 32767) */
INLINE __m256i dot_us(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
INLINE __m256i lane0(int32_t v) { return _mm256_zextsi128_si256(_mm_cvtsi32_si128(v)); }
INLINE __m256i nib_lo_hi(const uint8_t *p) {   /* 16 bytes -> low nibbles then high nibbles */
    __m128i q = _mm_loadu_si128((const __m128i *)(const void *)p);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(15));
}
INLINE const float *act_d(const uint8_t *a, int n) { return (const float *)(const void *)(a + n); }

/* ---- 32-blocks: Q8_0, Q4_0, Q4_1 against JB columns ------------------------ */
INLINE void row_b32(const int JB, int t, int n, const uint8_t *w, const uint8_t *a, size_t lda, float *out) {
    __m256 acc[4];
    float sacc[4] = { 0 };
    int nb = n / 32;
    UNROLL
    for (int j = 0; j < JB; j++) acc[j] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m256i u, sg = _mm256_setzero_si256();
        float dw, mw = 0;
        if (t == LC_TYPE_Q8_0) {
            const uint8_t *blk = w + 34 * (size_t)b;
            dw = f16(blk);
            sg = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2));
            u = _mm256_sign_epi8(sg, sg);
        } else if (t == LC_TYPE_Q4_0) {
            const uint8_t *blk = w + 18 * (size_t)b;
            dw = f16(blk);
            u = nib_lo_hi(blk + 2);
        } else {
            const uint8_t *blk = w + 20 * (size_t)b;
            dw = f16(blk), mw = f16(blk + 2);
            u = nib_lo_hi(blk + 4);
        }
        UNROLL
        for (int j = 0; j < JB; j++) {
            const uint8_t *aj = a + (size_t)j * lda;
            __m256i s = _mm256_loadu_si256((const __m256i *)(const void *)(aj + 32 * (size_t)b));
            const float *da = act_d(aj, n);
            __m256i p;
            if (t == LC_TYPE_Q8_0) {
                p = dot_us(u, _mm256_sign_epi8(s, sg));
            } else {
                p = dot_us(u, s);
                if (t == LC_TYPE_Q4_0) p = _mm256_add_epi32(p, lane0(((const int32_t *)(const void *)(da + nb))[b]));
                else sacc[j] += mw * da[nb + b];
            }
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * da[b]), acc[j]);
        }
    }
    UNROLL
    for (int j = 0; j < JB; j++) out[j] = hsum8(acc[j]) + sacc[j];
}

/* ---- Q4_K ------------------------------------------------------------------ */
INLINE void row_q4_k(const int JB, int n, const uint8_t *w, const uint8_t *a, size_t lda, float *out) {
    __m256 acc[4];
    float sacc[4] = { 0 };
    int ns = n / 256;
    UNROLL
    for (int j = 0; j < JB; j++) acc[j] = _mm256_setzero_ps();
    for (int b = 0; b < ns; b++, w += 144) {
        __m256i u[8];
        int sc[8], m[8];
        UNROLL
        for (int g = 0; g < 4; g++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(w + 16 + 32 * g));
            u[2 * g] = _mm256_and_si256(q, _mm256_set1_epi8(15));
            u[2 * g + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), _mm256_set1_epi8(15));
        }
        UNROLL
        for (int s = 0; s < 8; s++) {
            if (s < 4) sc[s] = w[4 + s] & 63, m[s] = w[8 + s] & 63;
            else sc[s] = (w[8 + s] & 15) | ((w[s] >> 6) << 4), m[s] = (w[8 + s] >> 4) | ((w[4 + s] >> 6) << 4);
        }
        float d = f16(w), dmin = f16(w + 2);
        UNROLL
        for (int j = 0; j < JB; j++) {
            const uint8_t *aj = a + (size_t)j * lda;
            const int8_t *qa = (const int8_t *)aj + 256 * (size_t)b;
            const float *da = act_d(aj, n);
            const int32_t *bs = (const int32_t *)(const void *)(da + ns) + 8 * b;
            __m256i sumi = _mm256_setzero_si256();
            int msum = 0;
            UNROLL
            for (int s = 0; s < 8; s++) {
                __m256i as = _mm256_loadu_si256((const __m256i *)(const void *)(qa + 32 * s));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(u[s], as),
                                                                _mm256_set1_epi16((short)sc[s])));
                msum += m[s] * bs[s];
            }
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(d * da[b]), acc[j]);
            sacc[j] -= dmin * da[b] * (float)msum;
        }
    }
    UNROLL
    for (int j = 0; j < JB; j++) out[j] = hsum8(acc[j]) + sacc[j];
}

/* ---- Q6_K ------------------------------------------------------------------ */
/* 256 weights as u8 0..63 in element order: u[k] holds elements 32k..32k+31 */
INLINE void unpack_q6_k(const uint8_t *w, __m256i *u) {
    const __m256i m4 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30);
    for (int h = 0; h < 2; h++) {
        const uint8_t *L = w + 64 * h, *H = w + 128 + 32 * h;
        __m256i l0 = _mm256_loadu_si256((const __m256i *)(const void *)L);
        __m256i l1 = _mm256_loadu_si256((const __m256i *)(const void *)(L + 32));
        __m256i hh = _mm256_loadu_si256((const __m256i *)(const void *)H);
        u[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(hh, 4), m30));
        u[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(hh, 2), m30));
        u[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hh, m30));
        u[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                       _mm256_and_si256(_mm256_srli_epi16(hh, 2), m30));
    }
}

INLINE void row_q6_k(const int JB, int n, const uint8_t *w, const uint8_t *a, size_t lda, float *out) {
    __m256 acc[4];
    int ns = n / 256;
    UNROLL
    for (int j = 0; j < JB; j++) acc[j] = _mm256_setzero_ps();
    for (int b = 0; b < ns; b++, w += 210) {
        __m256i u[8], scv[8];
        unpack_q6_k(w, u);
        const int8_t *sc = (const int8_t *)(w + 192);
        __m128i sc8 = _mm_loadu_si128((const __m128i *)(const void *)sc);
        __m256i sc32a = _mm256_cvtepi8_epi32(sc8), sc32b = _mm256_cvtepi8_epi32(_mm_srli_si128(sc8, 8));
        UNROLL
        for (int k = 0; k < 8; k++)
            scv[k] = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
        float d = f16(w + 208);
        UNROLL
        for (int j = 0; j < JB; j++) {
            const uint8_t *aj = a + (size_t)j * lda;
            const int8_t *qa = (const int8_t *)aj + 256 * (size_t)b;
            const float *da = act_d(aj, n);
            const int32_t *c = (const int32_t *)(const void *)(da + ns) + 16 * b;
            __m256i sumi = _mm256_add_epi32(
                _mm256_mullo_epi32(sc32a, _mm256_loadu_si256((const __m256i *)(const void *)c)),
                _mm256_mullo_epi32(sc32b, _mm256_loadu_si256((const __m256i *)(const void *)(c + 8))));
            UNROLL
            for (int k = 0; k < 8; k++) {
                __m256i as = _mm256_loadu_si256((const __m256i *)(const void *)(qa + 32 * k));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(u[k], as), scv[k]));
            }
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(d * da[b]), acc[j]);
        }
    }
    UNROLL
    for (int j = 0; j < JB; j++) out[j] = hsum8(acc[j]);
}

/* ---- float weights (F32, F16, BF16) . float activations --------------------- */
INLINE __m256 load8(int t, const uint8_t *w, int k) {
    if (t == LC_TYPE_F32) return _mm256_loadu_ps((const float *)(const void *)w + k);
    __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(w + 2 * (size_t)k));
    if (t == LC_TYPE_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
INLINE float load1(int t, const uint8_t *w, int k) {
    if (t == LC_TYPE_F32) return ((const float *)(const void *)w)[k];
    uint16_t h;
    memcpy(&h, w + 2 * (size_t)k, 2);
    return t == LC_TYPE_F16 ? _cvtsh_ss(h) : lc_bf16_to_f32(h);
}

INLINE void row_f(const int JB, int t, int n, const uint8_t *w, const float *x, size_t ldx, float *out) {
    __m256 acc[4];
    UNROLL
    for (int j = 0; j < JB; j++) acc[j] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 wv = load8(t, w, k);
        UNROLL
        for (int j = 0; j < JB; j++) acc[j] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + (size_t)j * ldx + k), acc[j]);
    }
    UNROLL
    for (int j = 0; j < JB; j++) {
        float s = hsum8(acc[j]);
        for (int kk = k; kk < n; kk++) s += load1(t, w, kk) * x[(size_t)j * ldx + kk];
        out[j] = s;
    }
}

/* ---- dispatch over rows and column groups ------------------------------------- */
#define FOR_JB(JBV, CALL)                                                                   \
    switch (JBV) {                                                                          \
    case 1: { const int JB = 1; CALL; } break;                                             \
    case 2: { const int JB = 2; CALL; } break;                                             \
    case 3: { const int JB = 3; CALL; } break;                                             \
    default: { const int JB = 4; CALL; } break;                                            \
    }

static void gemm_avx2(int t, int n, const void *w, size_t ldw, const void *a, size_t lda, float *y, size_t ldy,
                      int nr, int nc) {
    for (int j0 = 0; j0 < nc; j0 += 4) {
        int jb = LC_MIN(4, nc - j0);
        const uint8_t *aj = (const uint8_t *)a + (size_t)j0 * lda;
        for (int i = 0; i < nr; i++) {
            const uint8_t *wi = (const uint8_t *)w + (size_t)i * ldw;
            float out[4];
            switch (t) {
            case LC_TYPE_Q8_0: FOR_JB(jb, row_b32(JB, LC_TYPE_Q8_0, n, wi, aj, lda, out)); break;
            case LC_TYPE_Q4_0: FOR_JB(jb, row_b32(JB, LC_TYPE_Q4_0, n, wi, aj, lda, out)); break;
            case LC_TYPE_Q4_1: FOR_JB(jb, row_b32(JB, LC_TYPE_Q4_1, n, wi, aj, lda, out)); break;
            case LC_TYPE_Q4_K: FOR_JB(jb, row_q4_k(JB, n, wi, aj, lda, out)); break;
            case LC_TYPE_Q6_K: FOR_JB(jb, row_q6_k(JB, n, wi, aj, lda, out)); break;
            case LC_TYPE_F32:
                FOR_JB(jb, row_f(JB, LC_TYPE_F32, n, wi, (const float *)(const void *)aj, lda / 4, out));
                break;
            case LC_TYPE_F16:
                FOR_JB(jb, row_f(JB, LC_TYPE_F16, n, wi, (const float *)(const void *)aj, lda / 4, out));
                break;
            case LC_TYPE_BF16:
                FOR_JB(jb, row_f(JB, LC_TYPE_BF16, n, wi, (const float *)(const void *)aj, lda / 4, out));
                break;
            default: LC_ASSERT(!"kern avx2: unsupported weight type");
            }
            for (int j = 0; j < jb; j++) y[(size_t)(j0 + j) * ldy + i] = out[j];
        }
    }
}

/* ---- EXACT: dequantize 4 rows by chunks, then float dots against every column -------- */
enum { XCHUNK = 256, XROWS = 4 };

static void gemm_exact_avx2(int t, int n, const void *w, size_t ldw, const float *x, size_t ldx, float *y,
                            size_t ldy, int nr, int nc) {
    if (t == LC_TYPE_F32 || t == LC_TYPE_F16 || t == LC_TYPE_BF16) {   /* widening is exact */
        gemm_avx2(t, n, w, ldw, x, ldx * 4, y, ldy, nr, nc);
        return;
    }
    size_t rb;
    LC_ASSERT(lc_type_row_bytes(t, XCHUNK, &rb));
    float buf[XROWS][XCHUNK] __attribute__((aligned(32)));
    for (int i0 = 0; i0 < nr; i0 += XROWS) {
        int ib = LC_MIN(XROWS, nr - i0);
        for (int k0 = 0; k0 < n; k0 += XCHUNK) {
            int len = LC_MIN(XCHUNK, n - k0);   /* a multiple of 32 (block types) */
            UNROLL
            for (int r = 0; r < ib; r++)
                lc_dequant_row(t, (const uint8_t *)w + (size_t)(i0 + r) * ldw + (size_t)(k0 / XCHUNK) * rb,
                               buf[r], len);
            for (int j = 0; j < nc; j++) {
                const float *xj = x + (size_t)j * ldx + k0;
                __m256 acc[XROWS] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                                      _mm256_setzero_ps() };
                for (int k = 0; k < len; k += 8) {
                    __m256 xv = _mm256_loadu_ps(xj + k);
                    UNROLL
                    for (int r = 0; r < XROWS; r++) acc[r] = _mm256_fmadd_ps(_mm256_load_ps(buf[r] + k), xv, acc[r]);
                }
                float *yj = y + (size_t)j * ldy + i0;
                UNROLL
                for (int r = 0; r < ib; r++) yj[r] = k0 ? yj[r] + hsum8(acc[r]) : hsum8(acc[r]);
            }
        }
    }
}

/* ---- attention helpers --------------------------------------------------------- */
static float dot_f32_avx2(const float *a, const float *b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float r = hsum8(_mm256_add_ps(s0, s1));
    for (; i < n; i++) r += a[i] * b[i];
    return r;
}

static void axpy_f32_avx2(float *y, float a, const float *x, int n) {
    __m256 av = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

static const lc_kern kern_avx2 = {
    .isa = "avx2",
    .act_row_bytes = lc_kern_act_row_bytes,
    .quant_act = lc_kern_quant_act,
    .gemm = gemm_avx2,
    .gemm_exact = gemm_exact_avx2,
    .dot_f32 = dot_f32_avx2,
    .axpy_f32 = axpy_f32_avx2,
};

const lc_kern *lc_kern_avx2_table(void) { return &kern_avx2; }

#else
const lc_kern *lc_kern_avx2_table(void) { return NULL; }
#endif
