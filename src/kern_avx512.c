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
/* Generation (nc = 1..5): one pass over the weight rows, all columns at once. A zmm holds 64
 * weights: two 32-blocks, or two 32-sub-blocks of a K-quant super-block. The 4-bit types keep
 * the high nibbles in place (16x the value, the and-mask is the whole unpack) and a per-lane
 * float scale vector undoes the 16 (exact: a power of two). The fp16 block scales of 8 blocks
 * are gathered with one vpermt2w from the bytes around them; int32 block dots are converted
 * and multiplied by the per-lane scale (vpermps of the 8 or 16 scales). */
/* Software prefetch 12 KiB ahead along the weight rows (into L2): far enough to cover the
 * memory latency at full streaming speed and to run across the 4 KiB boundaries where the
 * hardware prefetcher stops. Measured, generation with 2 threads, tokens/s: 1B Q4_0 with
 * 768 B ahead (L1) 26.4, 1.5 KiB 30.6, 4 KiB 33.8, 8 KiB 34.1, none 21.6; 8 KiB vs 12 KiB
 * vs 16 KiB: 1B Q4_0 34.7 / 34.6 / 34.6, 8B Q4_0 5.67 / 6.05 / 5.94, 1B Q8_0 19.4 / 20.2. */
#ifndef PF_DIST
#define PF_DIST 12288
#endif
enum { JMAX = 5 };     /* columns per pass: gemm_rows handles nc < NC_PACK in one pass */

INLINE __m512i ld512(const void *p) { return _mm512_loadu_si512(p); }
INLINE void pf(const uint8_t *p, int bytes) {
    for (int o = 0; o < bytes; o += 64) _mm_prefetch((const char *)p + PF_DIST + o, _MM_HINT_T2);
}
INLINE float hsum16(__m512 v) { return _mm512_reduce_add_ps(v); }
INLINE __m512i dpz(__m512i w, __m512i a) { return _mm512_dpbusd_epi32(_mm512_setzero_si512(), w, a); }
/* lanes 0..7 = x[i], lanes 8..15 = x[j] (a 16-float source) */
INLINE __m512i ix2(int i, int j) {
    return _mm512_setr_epi32(i, i, i, i, i, i, i, i, j, j, j, j, j, j, j, j);
}

/* 16-bit permute indexes: lanes 0..15 (the upper 16 unused) */
INLINE __m512i w16(short a0, short a1, short a2, short a3, short a4, short a5, short a6, short a7, short a8, short a9,
                   short a10, short a11, short a12, short a13, short a14, short a15) {
    return _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, a15, a14, a13, a12, a11, a10, a9, a8, a7,
                            a6, a5, a4, a3, a2, a1, a0);
}

/* fp16 words of 8 consecutive blocks of bb bytes at p as floats: lanes 0..7 the scale d at
 * byte 0 of each block; Q4_1 also the min m at byte 2 in lanes 8..15 */
INLINE __m512 scales8(int t, const uint8_t *p) {
    __m512i h;
    if (t == LC_TYPE_Q4_0) {   /* 144 bytes: words 9i all in bytes [0, 128) */
        const __m512i ix = w16(0, 9, 18, 27, 36, 45, 54, 63, 0, 0, 0, 0, 0, 0, 0, 0);
        h = _mm512_permutex2var_epi16(ld512(p), ix, ld512(p + 64));
    } else if (t == LC_TYPE_Q4_1) {   /* 160 bytes: d words 10i, m 10i+1; i = 7 from bytes [96, 160) */
        const __m512i ix = w16(0, 10, 20, 30, 40, 50, 60, 0, 1, 11, 21, 31, 41, 51, 61, 0);
        const __m512i i7 = w16(0, 0, 0, 0, 0, 0, 0, 22, 0, 0, 0, 0, 0, 0, 0, 23);
        h = _mm512_permutex2var_epi16(ld512(p), ix, ld512(p + 64));
        h = _mm512_mask_permutexvar_epi16(h, 0x8080, i7, ld512(p + 96));
    } else {   /* Q8_0, 272 bytes: words 17i, i < 4 from [0, 128), i >= 4 from [136, 264) */
        const __m512i ia = w16(0, 17, 34, 51, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        const __m512i ib = w16(0, 0, 0, 0, 0, 17, 34, 51, 0, 0, 0, 0, 0, 0, 0, 0);
        h = _mm512_permutex2var_epi16(ld512(p), ia, ld512(p + 64));
        h = _mm512_mask_mov_epi16(h, 0xf0, _mm512_permutex2var_epi16(ld512(p + 136), ib, ld512(p + 200)));
    }
    return _mm512_cvtph_ps(_mm512_castsi512_si256(h));
}

/* Q8_0, Q4_0, Q4_1: R weight rows (w, w + ldw) . JB activation rows; out[r * JMAX + j].
 * Two rows at a time share the activation loads and the block-scale work per column and
 * give the core two independent streams of loads and accumulators. */
INLINE void mv_b32(const int R, const int JB, int t, int n, const uint8_t *w, size_t ldw, const uint8_t *a,
                   size_t lda, float *out) {
    const int bb = t == LC_TYPE_Q8_0 ? 34 : t == LC_TYPE_Q4_0 ? 18 : 20, qo = t == LC_TYPE_Q4_1 ? 4 : 2;
    const int nb = n / 32, ng = nb / 8;
    const __m512i nib = _mm512_set1_epi8(0x0f),
                  mhi = _mm512_maskz_mov_epi8(0xffff0000ffff0000ull, _mm512_set1_epi8((char)0xf0));
    const __m512i mask4 = _mm512_or_si512(_mm512_maskz_mov_epi8(0x0000ffff0000ffffull, nib), mhi);
    __m512 acc[2][JMAX][2];
    __m256 acc2[2][JMAX];
    const int8_t *qa[JMAX];
    const float *da[JMAX], *ax[JMAX];
    UNROLL
    for (int j = 0; j < JB; j++) {
        UNROLL
        for (int r = 0; r < R; r++) {
            acc[r][j][0] = acc[r][j][1] = _mm512_setzero_ps();
            acc2[r][j] = _mm256_setzero_ps();
        }
        qa[j] = (const int8_t *)(a + (size_t)j * lda);
        da[j] = act_d(a + (size_t)j * lda, n);
        ax[j] = da[j] + nb;   /* int32 c (Q8_0, Q4_0) or float s (Q4_1) per block */
    }
    for (int g = 0; g < ng; g++) {
        __m256 dw[2], mw[2];
        __m512i W[2][4];
        UNROLL
        for (int r = 0; r < R; r++) {
            const uint8_t *p = w + (size_t)r * ldw + (size_t)bb * 8 * g;
            pf(p, bb * 8);
            __m512 sm = scales8(t, p);
            dw[r] = _mm512_castps512_ps256(sm), mw[r] = _mm512_extractf32x8_ps(sm, 1);
            UNROLL
            for (int k = 0; k < 4; k++) {
                const uint8_t *b0 = p + bb * 2 * k + qo, *b1 = b0 + bb;
                if (t == LC_TYPE_Q8_0) {
                    W[r][k] = _mm512_inserti64x4(_mm512_castsi256_si512(ld256(b0)), ld256(b1), 1);
                    W[r][k] = _mm512_xor_si512(W[r][k], _mm512_set1_epi8((char)0x80));   /* q + 128 */
                } else {
                    __m512i z = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)b0));
                    z = _mm512_mask_broadcast_i32x4(z, 0xff00, _mm_loadu_si128((const __m128i *)(const void *)b1));
                    W[r][k] = _mm512_and_si512(z, mask4);   /* [lo b0, 16 hi b0, lo b1, 16 hi b1] */
                }
            }
        }
        UNROLL
        for (int j = 0; j < JB; j++) {
            const __m256 daj = _mm256_loadu_ps(da[j] + 8 * g);
            const int8_t *q = qa[j] + 256 * (size_t)g;
            __m512i A[4];
            UNROLL
            for (int k = 0; k < 4; k++) A[k] = ld512(q + 64 * k);
            UNROLL
            for (int r = 0; r < R; r++) {
                __m256 s8 = _mm256_mul_ps(dw[r], daj);
                __m512 S = t == LC_TYPE_Q8_0 ? _mm512_castps256_ps512(s8)
                                             : _mm512_insertf32x8(_mm512_castps256_ps512(s8),
                                                                  _mm256_mul_ps(s8, _mm256_set1_ps(1.0f / 16)), 1);
                UNROLL
                for (int k = 0; k < 4; k++) {
                    __m512i ix = t == LC_TYPE_Q8_0 ? ix2(2 * k, 2 * k + 1)
                                                   : _mm512_setr_epi32(2 * k, 2 * k, 2 * k, 2 * k, 2 * k + 8, 2 * k + 8,
                                                                       2 * k + 8, 2 * k + 8, 2 * k + 1, 2 * k + 1,
                                                                       2 * k + 1, 2 * k + 1, 2 * k + 9, 2 * k + 9,
                                                                       2 * k + 9, 2 * k + 9);
                    acc[r][j][k & 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dpz(W[r][k], A[k])),
                                                       _mm512_permutexvar_ps(ix, S), acc[r][j][k & 1]);
                }
                if (t == LC_TYPE_Q4_1) acc2[r][j] = _mm256_fmadd_ps(mw[r], _mm256_loadu_ps(ax[j] + 8 * g), acc2[r][j]);
                else acc2[r][j] = _mm256_fmadd_ps(s8, _mm256_cvtepi32_ps(ld256(ax[j] + 8 * g)), acc2[r][j]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < R; r++) {
        const uint8_t *wr = w + (size_t)r * ldw;
        for (int b = 8 * ng; b < nb; b++) {   /* tail blocks, one ymm each */
            const uint8_t *blk = wr + (size_t)bb * b;
            float dwb = f16(blk), mwb = t == LC_TYPE_Q4_1 ? f16(blk + 2) : 0;
            __m256i u = t == LC_TYPE_Q8_0 ? _mm256_xor_si256(ld256(blk + 2), _mm256_set1_epi8((char)0x80))
                                          : nib_lo_hi(blk + qo);
            UNROLL
            for (int j = 0; j < JB; j++) {
                __m256i c = t == LC_TYPE_Q4_1 ? _mm256_setzero_si256() : lane0(rd32(ax[j] + b));
                __m256i p = _mm256_dpbusd_epi32(c, u, ld256(qa[j] + 32 * (size_t)b));
                acc2[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dwb * da[j][b]), acc2[r][j]);
                if (t == LC_TYPE_Q4_1)
                    acc2[r][j] = _mm256_fmadd_ps(_mm256_set1_ps(mwb), _mm256_setr_ps(ax[j][b], 0, 0, 0, 0, 0, 0, 0),
                                                 acc2[r][j]);
            }
        }
        UNROLL
        for (int j = 0; j < JB; j++)
            out[r * JMAX + j] = hsum16(_mm512_add_ps(acc[r][j][0], acc[r][j][1])) + hsum8(acc2[r][j]);
    }
}

/* the 6-bit scales and mins of a Q4_K super-block (12 bytes at s, 16 read) as bytes sc[0..7], m[0..7]:
 * sc[j<4] = s[j] & 63, sc[j>=4] = (s[j+4] & 15) | (s[j-4] >> 6) << 4, m likewise from s[j+4], s[j+4] >> 4 */
INLINE __m128i q4k_scales(const uint8_t *s) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i x = _mm_shuffle_epi8(v, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
    __m128i hb = _mm_shuffle_epi8(v, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
    x = _mm_srlv_epi32(x, _mm_setr_epi32(0, 0, 0, 4));
    hb = _mm_and_si128(_mm_srli_epi16(hb, 2), _mm_set1_epi8(0x30));   /* top 2 bits -> bits 4, 5 */
    return _mm_ternarylogic_epi32(x, _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f), hb, 0xea);
}

INLINE void mv_q4_k(const int R, const int JB, int n, const uint8_t *w, size_t ldw, const uint8_t *a, size_t lda,
                    float *out) {
    const int ns = n / 256;
    const __m512i mask4 = _mm512_inserti64x4(_mm512_set1_epi8(0x0f), _mm256_set1_epi8((char)0xf0), 1);
    const __m512 c16 = _mm512_insertf32x8(_mm512_set1_ps(1), _mm256_set1_ps(1.0f / 16), 1);
    __m512 acc[2][JMAX][2];
    __m256 accm[2][JMAX];
    const int8_t *qa[JMAX];
    const float *da[JMAX];
    const int32_t *bs[JMAX];
    UNROLL
    for (int j = 0; j < JB; j++) {
        UNROLL
        for (int r = 0; r < R; r++) {
            acc[r][j][0] = acc[r][j][1] = _mm512_setzero_ps();
            accm[r][j] = _mm256_setzero_ps();
        }
        qa[j] = (const int8_t *)(a + (size_t)j * lda);
        da[j] = act_d(a + (size_t)j * lda, n);
        bs[j] = (const int32_t *)(const void *)(da[j] + ns);
    }
    for (int b = 0; b < ns; b++) {
        __m512 scd[2];
        __m256 mnd[2];
        __m512i W[2][4];
        UNROLL
        for (int r = 0; r < R; r++) {
            const uint8_t *wb = w + (size_t)r * ldw + 144 * (size_t)b;
            pf(wb, 192);
            __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q4k_scales(wb + 4)));   /* sc[8], m[8] */
            __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128(rd32(wb)));                      /* d, dmin */
            scd[r] = _mm512_mul_ps(_mm512_shuffle_f32x4(f, f, 0x44), _mm512_mul_ps(c16, _mm512_broadcastss_ps(dm)));
            mnd[r] = _mm256_mul_ps(_mm512_extractf32x8_ps(f, 1), _mm256_broadcastss_ps(_mm_movehdup_ps(dm)));
            UNROLL
            for (int k = 0; k < 4; k++)   /* [sub-block 2k, 16 x sub-block 2k+1] */
                W[r][k] = _mm512_and_si512(_mm512_broadcast_i64x4(ld256(wb + 16 + 32 * k)), mask4);
        }
        UNROLL
        for (int j = 0; j < JB; j++) {
            const __m512 dab = _mm512_set1_ps(da[j][b]);
            const int8_t *q = qa[j] + 256 * (size_t)b;
            __m512i A[4];
            UNROLL
            for (int k = 0; k < 4; k++) A[k] = ld512(q + 64 * k);
            const __m256 bsum = _mm256_cvtepi32_ps(ld256(bs[j] + 8 * b));
            UNROLL
            for (int r = 0; r < R; r++) {
                __m512 S = _mm512_mul_ps(scd[r], dab);   /* d sc da, d sc da / 16 */
                UNROLL
                for (int k = 0; k < 4; k++)
                    acc[r][j][k & 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dpz(W[r][k], A[k])),
                                                       _mm512_permutexvar_ps(ix2(2 * k, 2 * k + 9), S),
                                                       acc[r][j][k & 1]);
                accm[r][j] = _mm256_fmadd_ps(_mm256_mul_ps(mnd[r], _mm512_castps512_ps256(dab)), bsum, accm[r][j]);
            }
        }
    }
    UNROLL
    for (int r = 0; r < R; r++)
        UNROLL
        for (int j = 0; j < JB; j++)
            out[r * JMAX + j] = hsum16(_mm512_add_ps(acc[r][j][0], acc[r][j][1])) - hsum8(accm[r][j]);
}

INLINE void mv_q6_k(const int R, const int JB, int n, const uint8_t *w, size_t ldw, const uint8_t *a, size_t lda,
                    float *out) {
    const int ns = n / 256;
    const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
    const __m512i sh0 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i sh1 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    __m512 acc[2][JMAX][2], accc[2][JMAX];
    const int8_t *qa[JMAX];
    const float *da[JMAX];
    const int32_t *cs[JMAX];
    UNROLL
    for (int j = 0; j < JB; j++) {
        UNROLL
        for (int r = 0; r < R; r++) acc[r][j][0] = acc[r][j][1] = accc[r][j] = _mm512_setzero_ps();
        qa[j] = (const int8_t *)(a + (size_t)j * lda);
        da[j] = act_d(a + (size_t)j * lda, n);
        cs[j] = (const int32_t *)(const void *)(da[j] + ns);
    }
    for (int b = 0; b < ns; b++) {
        __m512i W[2][4];
        __m512 sc[2];
        float d[2];
        UNROLL
        for (int r = 0; r < R; r++) {
            const uint8_t *wb = w + (size_t)r * ldw + 210 * (size_t)b;
            pf(wb, 256);
            UNROLL
            for (int h = 0; h < 2; h++) {   /* elements 128h + [0, 64) and 128h + [64, 128), as 0..63 */
                __m512i L = ld512(wb + 64 * h), H = _mm512_broadcast_i64x4(ld256(wb + 128 + 32 * h));
                __m512i h0 = _mm512_and_si512(_mm512_sllv_epi16(H, sh0), m30);
                __m512i h1 = _mm512_and_si512(_mm512_srlv_epi16(H, sh1), m30);
                W[r][2 * h] = _mm512_ternarylogic_epi32(L, h0, m4, 0xec);                          /* (L & 15) | h0 */
                W[r][2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(L, 4), h1, m4, 0xec);
            }
            sc[r] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(wb + 192))));
            d[r] = f16(wb + 208);
        }
        UNROLL
        for (int j = 0; j < JB; j++) {
            const int8_t *q = qa[j] + 256 * (size_t)b;
            __m512i A[4];
            UNROLL
            for (int k = 0; k < 4; k++) A[k] = ld512(q + 64 * k);
            const __m512 csum = _mm512_cvtepi32_ps(ld512(cs[j] + 16 * b));
            UNROLL
            for (int r = 0; r < R; r++) {
                __m512 S = _mm512_mul_ps(sc[r], _mm512_set1_ps(d[r] * da[j][b]));
                UNROLL
                for (int k = 0; k < 4; k++) {
                    const __m512i ix = _mm512_setr_epi32(4 * k, 4 * k, 4 * k, 4 * k, 4 * k + 1, 4 * k + 1, 4 * k + 1,
                                                         4 * k + 1, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2,
                                                         4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3);
                    acc[r][j][k & 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dpz(W[r][k], A[k])),
                                                       _mm512_permutexvar_ps(ix, S), acc[r][j][k & 1]);
                }
                accc[r][j] = _mm512_fmadd_ps(S, csum, accc[r][j]);   /* -32 sum a */
            }
        }
    }
    UNROLL
    for (int r = 0; r < R; r++)
        UNROLL
        for (int j = 0; j < JB; j++)
            out[r * JMAX + j] = hsum16(_mm512_add_ps(_mm512_add_ps(acc[r][j][0], acc[r][j][1]), accc[r][j]));
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

INLINE void mv_f(const int JB, int t, int n, const uint8_t *w, const float *x, size_t ldx, float *out) {
    __m512 acc[JMAX][2];
    const int es = t == LC_TYPE_F32 ? 4 : 2;
    UNROLL
    for (int j = 0; j < JB; j++) acc[j][0] = acc[j][1] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 32 <= n; k += 32) {
        pf(w + (size_t)k * es, 32 * es);
        __m512 w0 = load16(t, w, k), w1 = load16(t, w, k + 16);
        UNROLL
        for (int j = 0; j < JB; j++) {
            acc[j][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + (size_t)j * ldx + k), acc[j][0]);
            acc[j][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + (size_t)j * ldx + k + 16), acc[j][1]);
        }
    }
    for (; k < n; k += 16) {
        __mmask16 m = n - k >= 16 ? 0xffff : (__mmask16)((1u << (n - k)) - 1);
        __m512 w0 = load16_mask(t, w, k, m);
        UNROLL
        for (int j = 0; j < JB; j++)
            acc[j][0] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, x + (size_t)j * ldx + k), acc[j][0]);
    }
    UNROLL
    for (int j = 0; j < JB; j++) out[j] = hsum16(_mm512_add_ps(acc[j][0], acc[j][1]));
}

#define FOR_JB(JBV, CALL)                                                                   \
    switch (JBV) {                                                                          \
    case 1: { const int JB = 1; CALL; } break;                                             \
    case 2: { const int JB = 2; CALL; } break;                                             \
    case 3: { const int JB = 3; CALL; } break;                                             \
    case 4: { const int JB = 4; CALL; } break;                                             \
    default: { const int JB = 5; CALL; } break;                                            \
    }

/* one weight row type at a time, so each loop below is one specialised kernel */
#define ROWS(CALL)                                                                          \
    for (int i = 0; i < nr; i++) {                                                          \
        const uint8_t *wi = (const uint8_t *)w + (size_t)i * ldw;                           \
        float out[JMAX];                                                                    \
        CALL;                                                                               \
        for (int j = 0; j < jb; j++) yj[(size_t)j * ldy + i] = out[j];                      \
    }
/* two rows per call while there are two and few columns (KERN(R, ...) computes R rows into
 * out[r * JMAX + j]) */
#define ROWS2(KERN)                                                                         \
    FOR_JB(jb, {                                                                            \
        int i = 0;                                                                          \
        float out[2 * JMAX];                                                                \
        if (JB <= 2)                                                                        \
            for (; i + 2 <= nr; i += 2) {                                                   \
                const uint8_t *wi = (const uint8_t *)w + (size_t)i * ldw;                   \
                KERN(2);                                                                    \
                for (int j = 0; j < jb; j++) {                                              \
                    yj[(size_t)j * ldy + i] = out[j];                                       \
                    yj[(size_t)j * ldy + i + 1] = out[JMAX + j];                            \
                }                                                                           \
            }                                                                               \
        for (; i < nr; i++) {                                                               \
            const uint8_t *wi = (const uint8_t *)w + (size_t)i * ldw;                       \
            KERN(1);                                                                        \
            for (int j = 0; j < jb; j++) yj[(size_t)j * ldy + i] = out[j];                  \
        }                                                                                   \
    })
#define K_Q8_0(R) mv_b32(R, JB, LC_TYPE_Q8_0, n, wi, ldw, aj, lda, out)
#define K_Q4_0(R) mv_b32(R, JB, LC_TYPE_Q4_0, n, wi, ldw, aj, lda, out)
#define K_Q4_1(R) mv_b32(R, JB, LC_TYPE_Q4_1, n, wi, ldw, aj, lda, out)
#define K_Q4_K(R) mv_q4_k(R, JB, n, wi, ldw, aj, lda, out)
#define K_Q6_K(R) mv_q6_k(R, JB, n, wi, ldw, aj, lda, out)

static void gemm_rows(int t, int n, const void *w, size_t ldw, const void *a, size_t lda, float *y, size_t ldy,
                      int nr, int nc) {
    for (int j0 = 0; j0 < nc; j0 += JMAX) {
        int jb = LC_MIN(JMAX, nc - j0);
        const uint8_t *aj = (const uint8_t *)a + (size_t)j0 * lda;
        const float *xj = (const float *)(const void *)aj;
        float *yj = y + (size_t)j0 * ldy;
        switch (t) {
        case LC_TYPE_Q8_0: ROWS2(K_Q8_0); break;
        case LC_TYPE_Q4_0: ROWS2(K_Q4_0); break;
        case LC_TYPE_Q4_1: ROWS2(K_Q4_1); break;
        case LC_TYPE_Q4_K: ROWS2(K_Q4_K); break;
        case LC_TYPE_Q6_K: ROWS2(K_Q6_K); break;
        case LC_TYPE_F32: FOR_JB(jb, ROWS(mv_f(JB, LC_TYPE_F32, n, wi, xj, lda / 4, out))); break;
        case LC_TYPE_F16: FOR_JB(jb, ROWS(mv_f(JB, LC_TYPE_F16, n, wi, xj, lda / 4, out))); break;
        case LC_TYPE_BF16: FOR_JB(jb, ROWS(mv_f(JB, LC_TYPE_BF16, n, wi, xj, lda / 4, out))); break;
        default: LC_ASSERT(!"kern avx512: unsupported weight type");
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

/* ---- EXACT: dequantize 4 rows by chunks (lc_dequant_row's arithmetic, vectorised), then
 * float dots against every column ---------------------------------------------------- */
enum { XCHUNK = 256, XROWS = 4 };

INLINE __m512i u8x16(const uint8_t *p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)p)); }

/* 16 dequantized weights at element o of the row: stored to y (JB = 0) or multiplied into the
 * sums of JB activation rows x (ldx floats apart), two sums per row */
INLINE void emit(const int JB, __m512 v, float *y, int o, const float *x, size_t ldx, __m512 *acc) {
    if (!JB) _mm512_storeu_ps(y + o, v);
    UNROLL
    for (int j = 0; j < JB; j++) acc[j] = _mm512_fmadd_ps(v, _mm512_loadu_ps(x + (size_t)j * ldx + o), acc[j]);
}

/* len elements (a multiple of the block size) of one weight row, as lc_dequant_row computes them */
INLINE void deq_row(const int JB, int t, const uint8_t *w, int len, float *y, const float *x, size_t ldx,
                    __m512 *acc) {
    int o = 0;
    const __m512i m4 = _mm512_set1_epi32(15);
    switch (t) {
    case LC_TYPE_Q8_0:
        for (int b = 0; b < len / 32; b++, w += 34, o += 32) {
            if (JB) pf(w, 34);
            __m512 d = _mm512_set1_ps(f16(w));
            UNROLL
            for (int h = 0; h < 2; h++)
                emit(JB, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
                                              _mm_loadu_si128((const __m128i *)(const void *)(w + 2 + 16 * h))))),
                     y, o + 16 * h, x, ldx, acc);
        }
        break;
    case LC_TYPE_Q4_0: case LC_TYPE_Q4_1: {
        const int bb = t == LC_TYPE_Q4_0 ? 18 : 20;
        const __m512i off = _mm512_set1_epi32(t == LC_TYPE_Q4_0 ? 8 : 0);
        for (int b = 0; b < len / 32; b++, w += bb, o += 32) {
            if (JB) pf(w, bb);
            __m512 d = _mm512_set1_ps(f16(w));
            __m512i q = u8x16(w + bb - 16);
            __m512 lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(q, m4), off));
            __m512 hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(q, 4), off));
            if (t == LC_TYPE_Q4_0) {
                emit(JB, _mm512_mul_ps(lo, d), y, o, x, ldx, acc);
                emit(JB, _mm512_mul_ps(hi, d), y, o + 16, x, ldx, acc);
            } else {
                __m512 m = _mm512_set1_ps(f16(w + 2));
                emit(JB, _mm512_add_ps(_mm512_mul_ps(lo, d), m), y, o, x, ldx, acc);
                emit(JB, _mm512_add_ps(_mm512_mul_ps(hi, d), m), y, o + 16, x, ldx, acc);
            }
        }
        break;
    }
    case LC_TYPE_Q4_K:
        for (int b = 0; b < len / 256; b++, w += 144, o += 256) {
            if (JB) pf(w, 144);
            float d = f16(w), dmin = f16(w + 2);
            uint8_t sm[16];
            _mm_storeu_si128((__m128i *)(void *)sm, q4k_scales(w + 4));
            for (int g = 0; g < 4; g++) {
                __m512 d1 = _mm512_set1_ps(d * sm[2 * g]), m1 = _mm512_set1_ps(dmin * sm[8 + 2 * g]);
                __m512 d2 = _mm512_set1_ps(d * sm[2 * g + 1]), m2 = _mm512_set1_ps(dmin * sm[9 + 2 * g]);
                for (int h = 0; h < 2; h++) {
                    __m512i q = u8x16(w + 16 + 32 * g + 16 * h);
                    emit(JB, _mm512_sub_ps(_mm512_mul_ps(d1, _mm512_cvtepi32_ps(_mm512_and_si512(q, m4))), m1), y,
                         o + 64 * g + 16 * h, x, ldx, acc);
                    emit(JB, _mm512_sub_ps(_mm512_mul_ps(d2, _mm512_cvtepi32_ps(_mm512_srli_epi32(q, 4))), m2), y,
                         o + 64 * g + 32 + 16 * h, x, ldx, acc);
                }
            }
        }
        break;
    case LC_TYPE_Q6_K: {
        const __m512i m3 = _mm512_set1_epi32(3), c32 = _mm512_set1_epi32(32);
        for (int b = 0; b < len / 256; b++, w += 210, o += 256) {
            if (JB) pf(w, 210);
            float d = f16(w + 208);
            const int8_t *S = (const int8_t *)(w + 192);
            for (int h = 0; h < 2; h++)
                for (int l = 0; l < 32; l += 16) {
                    const uint8_t *L = w + 64 * h + l, *H = w + 128 + 32 * h + l;
                    const int8_t *s = S + 8 * h + l / 16;
                    __m512i l0 = u8x16(L), l1 = u8x16(L + 32), hh = u8x16(H);
                    __m512i q1 = _mm512_or_si512(_mm512_and_si512(l0, m4), _mm512_slli_epi32(_mm512_and_si512(hh, m3), 4));
                    __m512i q2 = _mm512_or_si512(_mm512_and_si512(l1, m4),
                                                 _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hh, 2), m3), 4));
                    __m512i q3 = _mm512_or_si512(_mm512_srli_epi32(l0, 4),
                                                 _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hh, 4), m3), 4));
                    __m512i q4 = _mm512_or_si512(_mm512_srli_epi32(l1, 4), _mm512_slli_epi32(_mm512_srli_epi32(hh, 6), 4));
                    int e = o + 128 * h + l;
                    emit(JB, _mm512_mul_ps(_mm512_set1_ps(d * s[0]), _mm512_cvtepi32_ps(_mm512_sub_epi32(q1, c32))), y, e, x,
                         ldx, acc);
                    emit(JB, _mm512_mul_ps(_mm512_set1_ps(d * s[2]), _mm512_cvtepi32_ps(_mm512_sub_epi32(q2, c32))), y,
                         e + 32, x, ldx, acc);
                    emit(JB, _mm512_mul_ps(_mm512_set1_ps(d * s[4]), _mm512_cvtepi32_ps(_mm512_sub_epi32(q3, c32))), y,
                         e + 64, x, ldx, acc);
                    emit(JB, _mm512_mul_ps(_mm512_set1_ps(d * s[6]), _mm512_cvtepi32_ps(_mm512_sub_epi32(q4, c32))), y,
                         e + 96, x, ldx, acc);
                }
        }
        break;
    }
    default: LC_ASSERT(!"kern avx512: unsupported weight type");
    }
}

#define KX_NAME gemm_exact_avx512
#define KX_ISA "avx512"
#define KX_FAST gemm_avx512
#define KX_VEC __m512
#define KX_W 16
#define KX_ZERO() _mm512_setzero_ps()
#define KX_LOADU(p) _mm512_loadu_ps(p)
#define KX_LOAD(p) _mm512_load_ps(p)
#define KX_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define KX_HSUM(v) _mm512_reduce_add_ps(v)
#include "kern_exact.h"

/* ---- activation quantizer: the layout and the numbers of lc_kern_quant_act (kernels.h),
 * bit for bit on finite input. roundf is round-half-away-from-zero: truncate, then step away from zero
 * where the dropped fraction is >= 0.5 (x - trunc(x) is exact at these magnitudes). ---- */
INLINE __m512 round_away(__m512 v) {
    __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_mask_add_ps(t, up, t, _mm512_or_ps(one, _mm512_and_ps(v, _mm512_set1_ps(-0.0f))));
}

static void quant_act_avx512(int wtype, const float *x, void *dst, int n) {
    int bs = wtype == LC_TYPE_Q4_K || wtype == LC_TYPE_Q6_K ? 256 : 32;
    if ((wtype != LC_TYPE_Q8_0 && wtype != LC_TYPE_Q4_0 && wtype != LC_TYPE_Q4_1 && bs != 256) || n % bs) {
        lc_kern_quant_act(wtype, x, dst, n);   /* float types: a copy */
        return;
    }
    int8_t *qs = dst;
    int nd = n / bs, sub = wtype == LC_TYPE_Q6_K ? 16 : 32;
    float *d = (float *)(void *)((uint8_t *)dst + n);
    uint8_t *aux = (uint8_t *)(d + nd);
    for (int b = 0; b < nd; b++) {
        const float *xb = x + (size_t)b * bs;
        __m512 mx = _mm512_setzero_ps();
        for (int j = 0; j < bs; j += 16) mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(xb + j)));
        float amax = _mm512_reduce_max_ps(mx);
        float dd = amax / 127, id = dd != 0 ? 1 / dd : 0;
        d[b] = dd;
        const __m512 vid = _mm512_set1_ps(id);
        for (int j = 0; j < bs; j += sub) {
            /* the sums add the stored int8 values (as the scalar code does), so even a row with
             * non-finite values cannot overflow them */
            __m128i b0 = _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(round_away(_mm512_mul_ps(_mm512_loadu_ps(xb + j), vid))));
            __m512i sum = _mm512_cvtepi8_epi32(b0);
            _mm_storeu_si128((__m128i *)(void *)(qs + (size_t)b * bs + j), b0);
            if (sub == 32) {
                __m128i b1 = _mm512_cvtepi32_epi8(
                    _mm512_cvttps_epi32(round_away(_mm512_mul_ps(_mm512_loadu_ps(xb + j + 16), vid))));
                _mm_storeu_si128((__m128i *)(void *)(qs + (size_t)b * bs + j + 16), b1);
                sum = _mm512_add_epi32(sum, _mm512_cvtepi8_epi32(b1));
            }
            int si = (b * bs + j) / sub, tot = _mm512_reduce_add_epi32(sum);
            switch (wtype) {
            case LC_TYPE_Q8_0: ((int32_t *)(void *)aux)[si] = -128 * tot; break;
            case LC_TYPE_Q4_0: ((int32_t *)(void *)aux)[si] = -8 * tot; break;
            case LC_TYPE_Q4_1: ((float *)(void *)aux)[si] = dd * (float)tot; break;
            case LC_TYPE_Q4_K: ((int32_t *)(void *)aux)[si] = tot; break;
            case LC_TYPE_Q6_K: ((int32_t *)(void *)aux)[si] = -32 * tot; break;
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
    .quant_act = quant_act_avx512,
    .gemm = gemm_avx512,
    .gemm_exact = gemm_exact_avx512,
    .dot_f32 = dot_f32_avx512,
    .axpy_f32 = axpy_f32_avx512,
};

const lc_kern *lc_kern_avx512_table(void) { return &kern_avx512; }

#else
const lc_kern *lc_kern_avx512_table(void) { return NULL; }
#endif
