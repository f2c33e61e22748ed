/* kern_avx512.c - AVX-512 (F/BW/VL/DQ + VNNI) kernels. Few columns (generation): one weight
 * row at a time, blocks unpacked to u8 and multiplied with vpdpbusd. Many columns (prompt):
 * 32-row panels repacked so that a zmm lane is a weight row (4 bytes of k per lane), then a
 * 32 x 4 register tile with the activation bytes broadcast; float types use the same panel
 * layout in float32 with a 32 x 8 FMA tile. */
#include "internal.h"
#include "kernels.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512DQ__) && \
    defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 16")

/* ---- helpers ----------------------------------------------------------- */
INLINE float f16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}
INLINE int32_t rd32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}
INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
INLINE __m256i lane0(int32_t v) { return _mm256_zextsi128_si256(_mm_cvtsi32_si128(v)); }
INLINE __m256i nib_lo_hi(const uint8_t *p) {   /* 16 bytes -> low nibbles then high nibbles */
    __m128i q = _mm_loadu_si128((const __m128i *)(const void *)p);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(15));
}
INLINE __m256i ld256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
INLINE const float *act_d(const uint8_t *a, int n) { return (const float *)(const void *)(a + n); }

/* ======================= few columns: row-wise kernels ====================== */
#ifndef PF_DIST
#define PF_DIST 1024   /* software prefetch distance in bytes along a weight row */
#endif
/* RM rows x JB columns of 32-block types (RM*JB independent accumulators hide the FMA latency) */
INLINE void row_b32(const int RM, const int JB, int t, int n, const uint8_t *w, size_t ldw, const uint8_t *a,
                    size_t lda, float *out, size_t ldo) {
    __m256 acc[4][4];
    float sacc[4][4] = { { 0 } };
    int nb = n / 32;
    const int bb = t == LC_TYPE_Q8_0 ? 34 : t == LC_TYPE_Q4_0 ? 18 : 20;
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int j = 0; j < JB; j++) acc[r][j] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m256i u[4];
        float dw[4], mw[4] = { 0 };
        UNROLL
        for (int r = 0; r < RM; r++) {
            const uint8_t *blk = w + (size_t)r * ldw + (size_t)bb * b;
            _mm_prefetch((const char *)blk + PF_DIST, _MM_HINT_T0);
            dw[r] = f16(blk);
            if (t == LC_TYPE_Q8_0) u[r] = _mm256_xor_si256(ld256(blk + 2), _mm256_set1_epi8((char)0x80)); /* q+128 */
            else if (t == LC_TYPE_Q4_0) u[r] = nib_lo_hi(blk + 2);
            else mw[r] = f16(blk + 2), u[r] = nib_lo_hi(blk + 4);
        }
        UNROLL
        for (int j = 0; j < JB; j++) {
            const uint8_t *aj = a + (size_t)j * lda;
            const float *da = act_d(aj, n);
            __m256i s = ld256(aj + 32 * (size_t)b);
            __m256i c = t == LC_TYPE_Q4_1 ? _mm256_setzero_si256() : lane0(rd32(da + nb + b)); /* -off*sum(a) */
            UNROLL
            for (int r = 0; r < RM; r++) {
                __m256i p = _mm256_dpbusd_epi32(c, u[r], s);
                if (t == LC_TYPE_Q4_1) sacc[r][j] += mw[r] * da[nb + b];
                acc[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw[r] * da[b]), acc[r][j]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < RM; r++)
        UNROLL
        for (int j = 0; j < JB; j++) out[(size_t)j * ldo + r] = hsum8(acc[r][j]) + sacc[r][j];
}

INLINE void row_q4_k(const int JB, int n, const uint8_t *w, const uint8_t *a, size_t lda, float *out) {
    __m256 acc[4];
    float sacc[4] = { 0 };
    int ns = n / 256;
    UNROLL
    for (int j = 0; j < JB; j++) acc[j] = _mm256_setzero_ps();
    for (int b = 0; b < ns; b++, w += 144) {
        __m256i u[8];
        _mm_prefetch((const char *)w + PF_DIST, _MM_HINT_T0);
        _mm_prefetch((const char *)w + PF_DIST + 64, _MM_HINT_T0);
        _mm_prefetch((const char *)w + PF_DIST + 128, _MM_HINT_T0);
        int sc[8], m[8];
        UNROLL
        for (int g = 0; g < 4; g++) {
            __m256i q = ld256(w + 16 + 32 * g);
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
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(u[s], ld256(qa + 32 * s)),
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

INLINE void unpack_q6_k(const uint8_t *w, __m256i *u) {   /* u[k]: elements 32k..32k+31, 0..63 */
    const __m256i m4 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30);
    for (int h = 0; h < 2; h++) {
        const uint8_t *L = w + 64 * h, *H = w + 128 + 32 * h;
        __m256i l0 = ld256(L), l1 = ld256(L + 32), hh = ld256(H);
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
        for (int o = 0; o < 256; o += 64) _mm_prefetch((const char *)w + PF_DIST + o, _MM_HINT_T0);
        unpack_q6_k(w, u);
        const int8_t *sc = (const int8_t *)(w + 192);
        __m512i sc32 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)sc));
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
            __m512i cs = _mm512_mullo_epi32(sc32, _mm512_loadu_si512(c));
            __m256i sumi = _mm256_add_epi32(_mm512_castsi512_si256(cs), _mm512_extracti64x4_epi64(cs, 1));
            UNROLL
            for (int k = 0; k < 8; k++)
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(u[k], ld256(qa + 32 * k)), scv[k]));
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(d * da[b]), acc[j]);
        }
    }
    UNROLL
    for (int j = 0; j < JB; j++) out[j] = hsum8(acc[j]);
}

INLINE __m512 load16(int t, const uint8_t *w, int k) {
    if (t == LC_TYPE_F32) return _mm512_loadu_ps((const float *)(const void *)w + k);
    __m256i h = ld256(w + 2 * (size_t)k);
    if (t == LC_TYPE_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
INLINE __m512 load16_mask(int t, const uint8_t *w, int k, __mmask16 m) {
    if (t == LC_TYPE_F32) return _mm512_maskz_loadu_ps(m, (const float *)(const void *)w + k);
    __m256i h = _mm256_maskz_loadu_epi16(m, w + 2 * (size_t)k);
    if (t == LC_TYPE_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

INLINE void row_f(const int JB, int t, int n, const uint8_t *w, const float *x, size_t ldx, float *out) {
    __m512 acc[4], acc2[4];
    UNROLL
    for (int j = 0; j < JB; j++) acc[j] = acc2[j] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 32 <= n; k += 32) {
        _mm_prefetch((const char *)w + (size_t)k * (t == LC_TYPE_F32 ? 4 : 2) + PF_DIST, _MM_HINT_T0);
        if (t == LC_TYPE_F32) _mm_prefetch((const char *)w + (size_t)k * 4 + PF_DIST + 64, _MM_HINT_T0);
        __m512 w0 = load16(t, w, k), w1 = load16(t, w, k + 16);
        UNROLL
        for (int j = 0; j < JB; j++) {
            acc[j] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + (size_t)j * ldx + k), acc[j]);
            acc2[j] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + (size_t)j * ldx + k + 16), acc2[j]);
        }
    }
    for (; k < n; k += 16) {
        __mmask16 m = n - k >= 16 ? 0xffff : (__mmask16)((1u << (n - k)) - 1);
        __m512 w0 = load16_mask(t, w, k, m);
        UNROLL
        for (int j = 0; j < JB; j++)
            acc[j] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, x + (size_t)j * ldx + k), acc[j]);
    }
    UNROLL
    for (int j = 0; j < JB; j++) out[j] = _mm512_reduce_add_ps(_mm512_add_ps(acc[j], acc2[j]));
}

#define FOR_JB(JBV, CALL)                                                                   \
    switch (JBV) {                                                                          \
    case 1: { const int JB = 1; CALL; } break;                                             \
    case 2: { const int JB = 2; CALL; } break;                                             \
    case 3: { const int JB = 3; CALL; } break;                                             \
    default: { const int JB = 4; CALL; } break;                                            \
    }

static void gemm_rows(int t, int n, const void *w, size_t ldw, const void *a, size_t lda, float *y, size_t ldy,
                      int nr, int nc) {
    for (int j0 = 0; j0 < nc; j0 += 4) {
        int jb = LC_MIN(4, nc - j0);
        const uint8_t *aj = (const uint8_t *)a + (size_t)j0 * lda;
        const float *xj = (const float *)(const void *)aj;
        float *yj = y + (size_t)j0 * ldy;
        int i = 0;
        if (t == LC_TYPE_Q8_0 || t == LC_TYPE_Q4_0 || t == LC_TYPE_Q4_1) {
            /* 4 rows for one column, 2 rows for two */
            const int rm = jb == 1 ? 4 : jb == 2 ? 2 : 1;
            for (; rm > 1 && i + rm <= nr; i += rm) {
                const uint8_t *wi = (const uint8_t *)w + (size_t)i * ldw;
#define B32(T)                                                                                   \
    if (jb == 1) row_b32(4, 1, T, n, wi, ldw, aj, lda, yj + i, ldy);                            \
    else row_b32(2, 2, T, n, wi, ldw, aj, lda, yj + i, ldy);
                if (t == LC_TYPE_Q8_0) { B32(LC_TYPE_Q8_0) }
                else if (t == LC_TYPE_Q4_0) { B32(LC_TYPE_Q4_0) }
                else { B32(LC_TYPE_Q4_1) }
#undef B32
            }
        }
        for (; i < nr; i++) {
            const uint8_t *wi = (const uint8_t *)w + (size_t)i * ldw;
            float *yo = yj + i;
            float out[4];
            switch (t) {
            case LC_TYPE_Q8_0: FOR_JB(jb, row_b32(1, JB, LC_TYPE_Q8_0, n, wi, ldw, aj, lda, yo, ldy)); continue;
            case LC_TYPE_Q4_0: FOR_JB(jb, row_b32(1, JB, LC_TYPE_Q4_0, n, wi, ldw, aj, lda, yo, ldy)); continue;
            case LC_TYPE_Q4_1: FOR_JB(jb, row_b32(1, JB, LC_TYPE_Q4_1, n, wi, ldw, aj, lda, yo, ldy)); continue;
            case LC_TYPE_Q4_K: FOR_JB(jb, row_q4_k(JB, n, wi, aj, lda, out)); break;
            case LC_TYPE_Q6_K: FOR_JB(jb, row_q6_k(JB, n, wi, aj, lda, out)); break;
            case LC_TYPE_F32: FOR_JB(jb, row_f(JB, LC_TYPE_F32, n, wi, xj, lda / 4, out)); break;
            case LC_TYPE_F16: FOR_JB(jb, row_f(JB, LC_TYPE_F16, n, wi, xj, lda / 4, out)); break;
            case LC_TYPE_BF16: FOR_JB(jb, row_f(JB, LC_TYPE_BF16, n, wi, xj, lda / 4, out)); break;
            default: LC_ASSERT(!"kern avx512: unsupported weight type");
            }
            for (int j = 0; j < jb; j++) yo[(size_t)j * ldy] = out[j];
        }
    }
}

/* ======================= many columns: packed 32-row panels ====================== */
/* Quantized panel of P = 32 rows x kc elements: for sub-block s (S elements) and dword t (4
 * elements), wq[(s*S/4 + t)*2 + v] is a zmm whose lane l holds the 4 unsigned weight bytes of
 * row 16v+l; ws/wm[s*2+v] are per-row float scale / min of the sub-block. A row's dot is
 *   32-blocks:  sum_s  ws*da_s * (sum q*a + c_s)  [+ wm * s_s for Q4_1]
 *   K-quants:   sum_sb da_sb * sum_s (ws * (sum q*a + c_s) [+ wm * bsum_s for Q4_K]) */
enum { P = 32, KCQ = 1024, KCF = 256, RNQ = 4, RNF = 8, NC_PACK = 6 };

typedef struct {
    __m512i wq[KCQ / 4 * 2];
    __m512 ws[KCQ / 16 * 2], wm[KCQ / 32 * 2];
} qpanel;

INLINE int sub_size(int t) { return t == LC_TYPE_Q6_K ? 16 : 32; }

/* the unsigned weights (S bytes), scale and min of sub-block s of a row chunk */
INLINE void sub_unpack(int t, const uint8_t *row, int s, uint8_t *q, float *ws, float *wm) {
    switch (t) {
    case LC_TYPE_Q8_0: {
        const uint8_t *b = row + 34 * (size_t)s;
        _mm256_storeu_si256((__m256i *)(void *)q, _mm256_xor_si256(ld256(b + 2), _mm256_set1_epi8((char)0x80)));
        *ws = f16(b);
        break;
    }
    case LC_TYPE_Q4_0: {
        const uint8_t *b = row + 18 * (size_t)s;
        _mm256_storeu_si256((__m256i *)(void *)q, nib_lo_hi(b + 2));
        *ws = f16(b);
        break;
    }
    case LC_TYPE_Q4_1: {
        const uint8_t *b = row + 20 * (size_t)s;
        _mm256_storeu_si256((__m256i *)(void *)q, nib_lo_hi(b + 4));
        *ws = f16(b), *wm = f16(b + 2);
        break;
    }
    case LC_TYPE_Q4_K: {
        const uint8_t *b = row + 144 * (size_t)(s / 8);
        int j = s % 8, sc, m;
        if (j < 4) sc = b[4 + j] & 63, m = b[8 + j] & 63;
        else sc = (b[8 + j] & 15) | ((b[j] >> 6) << 4), m = (b[8 + j] >> 4) | ((b[4 + j] >> 6) << 4);
        __m256i v = ld256(b + 16 + 32 * (j / 2));
        if (j & 1) v = _mm256_srli_epi16(v, 4);
        _mm256_storeu_si256((__m256i *)(void *)q, _mm256_and_si256(v, _mm256_set1_epi8(15)));
        *ws = f16(b) * (float)sc, *wm = -f16(b + 2) * (float)m;
        break;
    }
    case LC_TYPE_Q6_K: {   /* 16 elements e = 16s'..16s'+15 of super-block s/16 */
        const uint8_t *b = row + 210 * (size_t)(s / 16);
        int e0 = 16 * (s % 16), h = e0 / 128, r = e0 % 128, qd = r / 32, l0 = r % 32;
        const uint8_t *L = b + 64 * h + (qd & 1) * 32 + l0, *H = b + 128 + 32 * h + l0;
        __m128i lo = _mm_loadu_si128((const __m128i *)(const void *)L), hi = _mm_loadu_si128((const __m128i *)(const void *)H);
        if (qd >= 2) lo = _mm_srli_epi16(lo, 4);
        lo = _mm_and_si128(lo, _mm_set1_epi8(15));
        hi = _mm_and_si128(_mm_srl_epi16(hi, _mm_cvtsi32_si128(2 * qd)), _mm_set1_epi8(3));
        _mm_storeu_si128((__m128i *)(void *)q, _mm_or_si128(lo, _mm_slli_epi16(hi, 4)));
        *ws = f16(b + 208) * (float)(int8_t)b[192 + s % 16];
        break;
    }
    }
}

/* pack rows [0, ib) (ib <= P) of the chunk starting at byte offset koff of each row, nsub sub-blocks */
static void pack_q(int t, qpanel *pp, const uint8_t *w, size_t ldw, size_t koff, int ib, int nsub) {
    const int S = sub_size(t), D = S / 4;
    if (ib < P) {
        memset(pp->wq, 0, (size_t)nsub * D * 2 * 64);
        memset(pp->ws, 0, (size_t)nsub * 2 * 64);
        memset(pp->wm, 0, sizeof pp->wm);
    }
    uint8_t *wq = (uint8_t *)pp->wq;
    float *ws = (float *)pp->ws, *wm = (float *)pp->wm;
    UNROLL
    for (int r = 0; r < ib; r++) {
        const uint8_t *row = w + (size_t)r * ldw + koff;
        int v = r >> 4, l = r & 15;
        UNROLL
        for (int s = 0; s < nsub; s++) {
            uint8_t q[32] = { 0 };
            float sw = 0, mw = 0;
            sub_unpack(t, row, s, q, &sw, &mw);
            uint8_t *dst = wq + ((size_t)s * D * 2 + v) * 64 + l * 4;
            UNROLL
            for (int d = 0; d < D; d++) memcpy(dst + (size_t)d * 128, q + 4 * d, 4);
            ws[(s * 2 + v) * 16 + l] = sw;
            if (t == LC_TYPE_Q4_1 || t == LC_TYPE_Q4_K) wm[(s * 2 + v) * 16 + l] = mw;
        }
    }
}

INLINE __mmask16 rowmask(int ib, int v) {
    int k = ib - 16 * v;
    return k >= 16 ? 0xffff : k <= 0 ? 0 : (__mmask16)((1u << k) - 1);
}

/* one RN-column tile over one packed chunk: k0 = element offset of the chunk in the rows */
INLINE void tile_q(const int RN, int t, const qpanel *pp, int nsub, int n, int k0, const uint8_t *a, size_t lda,
                   float *y, size_t ldy, int ib, bool first) {
    const int S = sub_size(t), D = S / 4;
    const bool kq = t == LC_TYPE_Q4_K || t == LC_TYPE_Q6_K;
    const int G = t == LC_TYPE_Q4_K ? 8 : t == LC_TYPE_Q6_K ? 16 : 1;   /* sub-blocks per activation scale */
    const int nd = n / (kq ? 256 : 32);
    const __mmask16 m0 = rowmask(ib, 0), m1 = rowmask(ib, 1);
    __m512 acc[2][RNQ];
    UNROLL
    for (int j = 0; j < RN; j++) {
        float *yj = y + (size_t)j * ldy;
        acc[0][j] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m0, yj);
        acc[1][j] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m1, yj + 16);
    }
    const uint8_t *aq[RNQ];
    const float *ad[RNQ];
    const int32_t *ax[RNQ];
    UNROLL
    for (int j = 0; j < RN; j++) {
        aq[j] = a + (size_t)j * lda + k0;
        ad[j] = act_d(a + (size_t)j * lda, n);
        ax[j] = (const int32_t *)(const void *)(ad[j] + nd);
    }
    for (int g0 = 0; g0 < nsub; g0 += G) {
        __m512 tmp[2][RNQ];
        if (kq)
            UNROLL
            for (int j = 0; j < RN; j++) tmp[0][j] = tmp[1][j] = _mm512_setzero_ps();
        for (int s = g0; s < g0 + G; s++) {
            int gs = k0 / S + s;   /* global sub-block index in the row */
            __m512i ia[2][RNQ];
            UNROLL
            for (int j = 0; j < RN; j++) {
                __m512i c = (t == LC_TYPE_Q4_1 || t == LC_TYPE_Q4_K) ? _mm512_setzero_si512()
                                                                      : _mm512_set1_epi32(ax[j][gs]);
                ia[0][j] = ia[1][j] = c;
            }
            const __m512i *wq = pp->wq + (size_t)s * D * 2;
            UNROLL
            for (int d = 0; d < D; d++) {
                __m512i w0 = _mm512_load_si512(wq + 2 * d), w1 = _mm512_load_si512(wq + 2 * d + 1);
                UNROLL
                for (int j = 0; j < RN; j++) {
                    __m512i ab = _mm512_set1_epi32(rd32(aq[j] + (size_t)s * S + 4 * d));
                    ia[0][j] = _mm512_dpbusd_epi32(ia[0][j], w0, ab);
                    ia[1][j] = _mm512_dpbusd_epi32(ia[1][j], w1, ab);
                }
            }
            __m512 ws0 = pp->ws[2 * s], ws1 = pp->ws[2 * s + 1];
            if (!kq) {
                UNROLL
                for (int j = 0; j < RN; j++) {
                    __m512 dab = _mm512_set1_ps(ad[j][gs]);
                    acc[0][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[0][j]), _mm512_mul_ps(ws0, dab), acc[0][j]);
                    acc[1][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[1][j]), _mm512_mul_ps(ws1, dab), acc[1][j]);
                    if (t == LC_TYPE_Q4_1) {
                        __m512 sb = _mm512_set1_ps(ad[j][nd + gs]);
                        acc[0][j] = _mm512_fmadd_ps(pp->wm[2 * s], sb, acc[0][j]);
                        acc[1][j] = _mm512_fmadd_ps(pp->wm[2 * s + 1], sb, acc[1][j]);
                    }
                }
            } else {
                UNROLL
                for (int j = 0; j < RN; j++) {
                    tmp[0][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[0][j]), ws0, tmp[0][j]);
                    tmp[1][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ia[1][j]), ws1, tmp[1][j]);
                    if (t == LC_TYPE_Q4_K) {
                        __m512 sb = _mm512_set1_ps((float)ax[j][gs]);
                        tmp[0][j] = _mm512_fmadd_ps(pp->wm[2 * s], sb, tmp[0][j]);
                        tmp[1][j] = _mm512_fmadd_ps(pp->wm[2 * s + 1], sb, tmp[1][j]);
                    }
                }
            }
        }
        if (kq) {
            int sb = (k0 + g0 * S) / 256;
            UNROLL
            for (int j = 0; j < RN; j++) {
                __m512 dab = _mm512_set1_ps(ad[j][sb]);
                acc[0][j] = _mm512_fmadd_ps(tmp[0][j], dab, acc[0][j]);
                acc[1][j] = _mm512_fmadd_ps(tmp[1][j], dab, acc[1][j]);
            }
        }
    }
    UNROLL
    for (int j = 0; j < RN; j++) {
        float *yj = y + (size_t)j * ldy;
        _mm512_mask_storeu_ps(yj, m0, acc[0][j]);
        _mm512_mask_storeu_ps(yj + 16, m1, acc[1][j]);
    }
}

#define FOR_RN4(RNV, CALL)                                                                   \
    switch (RNV) {                                                                          \
    case 1: { const int RN = 1; CALL; } break;                                             \
    case 2: { const int RN = 2; CALL; } break;                                             \
    case 3: { const int RN = 3; CALL; } break;                                             \
    default: { const int RN = 4; CALL; } break;                                            \
    }

INLINE void gemm_packed_q(int t, int n, const uint8_t *w, size_t ldw, const uint8_t *a, size_t lda, float *y,
                          size_t ldy, int nr, int nc) {
    qpanel pp __attribute__((aligned(64)));
    const int S = sub_size(t);
    size_t cb;   /* bytes of one chunk of a weight row */
    LC_ASSERT(lc_type_row_bytes(t, KCQ, &cb));
    for (int i0 = 0; i0 < nr; i0 += P) {
        int ib = LC_MIN(P, nr - i0);
        for (int k0 = 0; k0 < n; k0 += KCQ) {
            int kc = LC_MIN(KCQ, n - k0), nsub = kc / S;
            pack_q(t, &pp, w + (size_t)i0 * ldw, ldw, (size_t)(k0 / KCQ) * cb, ib, nsub);
            for (int j0 = 0; j0 < nc; j0 += RNQ) {
                int rn = LC_MIN(RNQ, nc - j0);
                FOR_RN4(rn, tile_q(RN, t, &pp, nsub, n, k0, a + (size_t)j0 * lda, lda, y + (size_t)j0 * ldy + i0, ldy,
                                   ib, k0 == 0));
            }
        }
    }
}

/* float panel: wf[k*2 + v] lane l = weight (row 16v+l, element k0+k) as float32 */
static void pack_f(int t, __m512 *wf, const uint8_t *w, size_t ldw, int k0, int kc, int ib) {
    float *f = (float *)wf;
    if (ib < P) memset(wf, 0, (size_t)kc * 2 * 64);
    UNROLL
    for (int r = 0; r < ib; r++) {
        const uint8_t *row = w + (size_t)r * ldw;
        float *dst = f + (r >> 4) * 16 + (r & 15);
        for (int k = 0; k < kc; k += 16) {
            float tmp[16];
            int len = LC_MIN(16, kc - k);
            _mm512_storeu_ps(tmp, load16_mask(t, row, k0 + k, (__mmask16)((1u << len) - 1)));
            for (int q = 0; q < len; q++) dst[(size_t)(k + q) * 32] = tmp[q];
        }
    }
}

INLINE void tile_f(const int RN, const __m512 *wf, int kc, const float *x, size_t ldx, float *y, size_t ldy, int ib,
                   bool first) {
    const __mmask16 m0 = rowmask(ib, 0), m1 = rowmask(ib, 1);
    __m512 acc[2][RNF];
    UNROLL
    for (int j = 0; j < RN; j++) {
        float *yj = y + (size_t)j * ldy;
        acc[0][j] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m0, yj);
        acc[1][j] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m1, yj + 16);
    }
    for (int k = 0; k < kc; k++) {
        __m512 w0 = _mm512_load_ps(wf + 2 * k), w1 = _mm512_load_ps(wf + 2 * k + 1);
        UNROLL
        for (int j = 0; j < RN; j++) {
            __m512 xb = _mm512_set1_ps(x[(size_t)j * ldx + k]);
            acc[0][j] = _mm512_fmadd_ps(w0, xb, acc[0][j]);
            acc[1][j] = _mm512_fmadd_ps(w1, xb, acc[1][j]);
        }
    }
    UNROLL
    for (int j = 0; j < RN; j++) {
        float *yj = y + (size_t)j * ldy;
        _mm512_mask_storeu_ps(yj, m0, acc[0][j]);
        _mm512_mask_storeu_ps(yj + 16, m1, acc[1][j]);
    }
}

#define FOR_RN8(RNV, CALL)                                                                   \
    switch (RNV) {                                                                          \
    case 1: { const int RN = 1; CALL; } break;                                             \
    case 2: { const int RN = 2; CALL; } break;                                             \
    case 3: { const int RN = 3; CALL; } break;                                             \
    case 4: { const int RN = 4; CALL; } break;                                             \
    case 5: { const int RN = 5; CALL; } break;                                             \
    case 6: { const int RN = 6; CALL; } break;                                             \
    case 7: { const int RN = 7; CALL; } break;                                             \
    default: { const int RN = 8; CALL; } break;                                            \
    }

static void gemm_packed_f(int t, int n, const uint8_t *w, size_t ldw, const float *x, size_t ldx, float *y,
                          size_t ldy, int nr, int nc) {
    __m512 wf[KCF * 2] __attribute__((aligned(64)));
    for (int i0 = 0; i0 < nr; i0 += P) {
        int ib = LC_MIN(P, nr - i0);
        for (int k0 = 0; k0 < n; k0 += KCF) {
            int kc = LC_MIN(KCF, n - k0);
            pack_f(t, wf, w + (size_t)i0 * ldw, ldw, k0, kc, ib);
            for (int j0 = 0; j0 < nc; j0 += RNF) {
                int rn = LC_MIN(RNF, nc - j0);
                FOR_RN8(rn, tile_f(RN, wf, kc, x + (size_t)j0 * ldx + k0, ldx, y + (size_t)j0 * ldy + i0, ldy, ib,
                                   k0 == 0));
            }
        }
    }
}

static void gemm_avx512(int t, int n, const void *w, size_t ldw, const void *a, size_t lda, float *y, size_t ldy,
                        int nr, int nc) {
    if (nc < NC_PACK) {
        gemm_rows(t, n, w, ldw, a, lda, y, ldy, nr, nc);
        return;
    }
    switch (t) {
    case LC_TYPE_Q8_0: gemm_packed_q(LC_TYPE_Q8_0, n, w, ldw, a, lda, y, ldy, nr, nc); break;
    case LC_TYPE_Q4_0: gemm_packed_q(LC_TYPE_Q4_0, n, w, ldw, a, lda, y, ldy, nr, nc); break;
    case LC_TYPE_Q4_1: gemm_packed_q(LC_TYPE_Q4_1, n, w, ldw, a, lda, y, ldy, nr, nc); break;
    case LC_TYPE_Q4_K: gemm_packed_q(LC_TYPE_Q4_K, n, w, ldw, a, lda, y, ldy, nr, nc); break;
    case LC_TYPE_Q6_K: gemm_packed_q(LC_TYPE_Q6_K, n, w, ldw, a, lda, y, ldy, nr, nc); break;
    case LC_TYPE_F32: case LC_TYPE_F16: case LC_TYPE_BF16:
        gemm_packed_f(t, n, w, ldw, a, lda / 4, y, ldy, nr, nc);
        break;
    default: LC_ASSERT(!"kern avx512: unsupported weight type");
    }
}

/* ---- EXACT: dequantize 4 rows by chunks, then float dots against every column -------- */
enum { XCHUNK = 256, XROWS = 4 };

static void gemm_exact_avx512(int t, int n, const void *w, size_t ldw, const float *x, size_t ldx, float *y,
                              size_t ldy, int nr, int nc) {
    if (t == LC_TYPE_F32 || t == LC_TYPE_F16 || t == LC_TYPE_BF16) {   /* widening is exact */
        gemm_avx512(t, n, w, ldw, x, ldx * 4, y, ldy, nr, nc);
        return;
    }
    size_t rb;
    LC_ASSERT(lc_type_row_bytes(t, XCHUNK, &rb));
    float buf[XROWS][XCHUNK] __attribute__((aligned(64)));
    for (int i0 = 0; i0 < nr; i0 += XROWS) {
        int ib = LC_MIN(XROWS, nr - i0);
        for (int k0 = 0; k0 < n; k0 += XCHUNK) {
            int len = LC_MIN(XCHUNK, n - k0);   /* a multiple of 32 */
            UNROLL
            for (int r = 0; r < ib; r++)
                lc_dequant_row(t, (const uint8_t *)w + (size_t)(i0 + r) * ldw + (size_t)(k0 / XCHUNK) * rb,
                               buf[r], len);
            for (int j = 0; j < nc; j++) {
                const float *xj = x + (size_t)j * ldx + k0;
                __m512 acc[XROWS] = { _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                                      _mm512_setzero_ps() };
                for (int k = 0; k < len; k += 16) {
                    __m512 xv = _mm512_loadu_ps(xj + k);
                    UNROLL
                    for (int r = 0; r < XROWS; r++) acc[r] = _mm512_fmadd_ps(_mm512_load_ps(buf[r] + k), xv, acc[r]);
                }
                float *yj = y + (size_t)j * ldy + i0;
                UNROLL
                for (int r = 0; r < ib; r++) {
                    float s = _mm512_reduce_add_ps(acc[r]);
                    yj[r] = k0 ? yj[r] + s : s;
                }
            }
        }
    }
}

/* ---- attention helpers --------------------------------------------------------- */
static float dot_f32_avx512(const float *a, const float *b, int n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    if (i < n) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
        i += 16;
        if (i < n) {
            m = (__mmask16)((1u << (n - i)) - 1);
            s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static void axpy_f32_avx512(float *y, float a, const float *x, int n) {
    __m512 av = _mm512_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

static const lc_kern kern_avx512 = {
    .isa = "avx512",
    .act_row_bytes = lc_kern_act_row_bytes,
    .quant_act = lc_kern_quant_act,
    .gemm = gemm_avx512,
    .gemm_exact = gemm_exact_avx512,
    .dot_f32 = dot_f32_avx512,
    .axpy_f32 = axpy_f32_avx512,
};

const lc_kern *lc_kern_avx512_table(void) { return &kern_avx512; }

#else
const lc_kern *lc_kern_avx512_table(void) { return NULL; }
#endif
