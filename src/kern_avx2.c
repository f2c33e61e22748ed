/* kern_avx2.c - AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c). One weight
 * row at a time against up to 5 activation columns, each weight block unpacked once and used
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
INLINE const float *act_d(const uint8_t *a, int n) { return (const float *)(const void *)(a + n); }

/* ---- row kernels: one weight row . JB activation rows (generation: JB = nc <= 5) ---------
 * The fp16 scales of 8 blocks are gathered with blends (the scale of block i is word i of the
 * 16 bytes loaded at i * (block bytes - 2)) and converted at once; the scale of each block is
 * then one vpermps. Nibbles are unpacked from one broadcast load with a variable shift. */
#ifndef PF_DIST
#define PF_DIST 8192   /* prefetch distance along the weight rows (see kern_avx512.c): on the AVX2
                          path 1B Q4_0 generation went from 24.2 (768 B) to 32.2 tokens/s */
#endif
enum { JMAX = 5 };

INLINE __m256i ld256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
INLINE __m128i ld128(const void *p) { return _mm_loadu_si128((const __m128i *)p); }
INLINE void pf(const uint8_t *p, int bytes) {
    for (int o = 0; o < bytes; o += 64) _mm_prefetch((const char *)p + PF_DIST + o, _MM_HINT_T2);
}
INLINE int32_t rd32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* fp16 at byte step*i + 2i (i < 8) from p, as 8 floats (reads p .. p + 7 step + 16) */
INLINE __m256 f16x8(const uint8_t *p, int step) {
    __m128i a = _mm_blend_epi16(ld128(p), ld128(p + step), 0x02);
    __m128i b = _mm_blend_epi16(ld128(p + 2 * step), ld128(p + 3 * step), 0x08);
    __m128i c = _mm_blend_epi16(ld128(p + 4 * step), ld128(p + 5 * step), 0x20);
    __m128i d = _mm_blend_epi16(ld128(p + 6 * step), ld128(p + 7 * step), 0x80);
    return _mm256_cvtph_ps(_mm_blend_epi32(_mm_blend_epi32(a, b, 0x2), _mm_blend_epi32(c, d, 0x8), 0xc));
}
/* 16 bytes -> 32 nibbles (low nibbles, then high), from one broadcast load */
INLINE __m256i nib32(const uint8_t *p) {
    __m256i q = _mm256_broadcastsi128_si256(ld128(p));
    return _mm256_and_si256(_mm256_srlv_epi32(q, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(15));
}
INLINE __m256 lane_bcast(__m256 v, int i) { return _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(i)); }

/* ---- 32-blocks: Q8_0, Q4_0, Q4_1, 8 blocks per step ----------------------------- */
INLINE void mv_b32(const int JB, int t, int n, const uint8_t *w, const uint8_t *a, size_t lda, float *out) {
    const int bb = t == LC_TYPE_Q8_0 ? 34 : t == LC_TYPE_Q4_0 ? 18 : 20, qo = t == LC_TYPE_Q4_1 ? 4 : 2;
    const int nb = n / 32, ng = nb / 8, NA = JB == 1 ? 2 : 1;
    __m256 acc[JMAX][2];
    const int8_t *qa[JMAX];
    const float *da[JMAX], *ax[JMAX];
    UNROLL
    for (int j = 0; j < JB; j++) {
        acc[j][0] = acc[j][1] = _mm256_setzero_ps();
        qa[j] = (const int8_t *)(a + (size_t)j * lda);
        da[j] = act_d(a + (size_t)j * lda, n);
        ax[j] = da[j] + nb;   /* int32 c (Q4_0; Q8_0 uses signed products instead) or float s (Q4_1) */
    }
    for (int g = 0; g < ng; g++) {
        const uint8_t *p = w + (size_t)bb * 8 * g;
        pf(p, bb * 8);
        __m256 dw = f16x8(p, bb - 2);
        __m256 s8[JMAX];
        UNROLL
        for (int j = 0; j < JB; j++) {
            s8[j] = _mm256_mul_ps(dw, _mm256_loadu_ps(da[j] + 8 * g));
            if (t == LC_TYPE_Q4_0) acc[j][0] = _mm256_fmadd_ps(s8[j], _mm256_cvtepi32_ps(ld256(ax[j] + 8 * g)), acc[j][0]);
            if (t == LC_TYPE_Q4_1)
                acc[j][0] = _mm256_fmadd_ps(f16x8(p + 2, 18), _mm256_loadu_ps(ax[j] + 8 * g), acc[j][0]);
        }
        UNROLL
        for (int i = 0; i < 8; i++) {
            const uint8_t *blk = p + bb * i;
            __m256i u, sg = _mm256_setzero_si256();
            if (t == LC_TYPE_Q8_0) sg = ld256(blk + 2), u = _mm256_sign_epi8(sg, sg);
            else u = nib32(blk + qo);
            UNROLL
            for (int j = 0; j < JB; j++) {
                __m256i s = ld256(qa[j] + 256 * (size_t)g + 32 * i);
                if (t == LC_TYPE_Q8_0) s = _mm256_sign_epi8(s, sg);
                __m256i pr = dot_us(u, s);
                acc[j][i % NA] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(pr), lane_bcast(s8[j], i), acc[j][i % NA]);
            }
        }
    }
    for (int b = 8 * ng; b < nb; b++) {   /* tail blocks */
        const uint8_t *blk = w + (size_t)bb * b;
        float dw = f16(blk), mw = t == LC_TYPE_Q4_1 ? f16(blk + 2) : 0;
        __m256i u, sg = _mm256_setzero_si256();
        if (t == LC_TYPE_Q8_0) sg = ld256(blk + 2), u = _mm256_sign_epi8(sg, sg);
        else u = nib32(blk + qo);
        UNROLL
        for (int j = 0; j < JB; j++) {
            __m256i s = ld256(qa[j] + 32 * (size_t)b);
            if (t == LC_TYPE_Q8_0) s = _mm256_sign_epi8(s, sg);
            __m256i pr = dot_us(u, s);
            if (t == LC_TYPE_Q4_0) pr = _mm256_add_epi32(pr, lane0(rd32(ax[j] + b)));
            acc[j][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(pr), _mm256_set1_ps(dw * da[j][b]), acc[j][0]);
            if (t == LC_TYPE_Q4_1)
                acc[j][0] = _mm256_add_ps(acc[j][0], _mm256_setr_ps(mw * ax[j][b], 0, 0, 0, 0, 0, 0, 0));
        }
    }
    UNROLL
    for (int j = 0; j < JB; j++) out[j] = hsum8(_mm256_add_ps(acc[j][0], acc[j][1]));
}

/* ---- Q4_K ------------------------------------------------------------------ */
/* the 6-bit scales and mins of a Q4_K super-block (12 bytes at s, 16 read) as bytes sc[0..7], m[0..7] */
INLINE __m128i q4k_scales(const uint8_t *s) {
    __m128i v = ld128(s);
    __m128i x = _mm_shuffle_epi8(v, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
    __m128i hb = _mm_shuffle_epi8(v, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
    x = _mm_and_si128(_mm_srlv_epi32(x, _mm_setr_epi32(0, 0, 0, 4)),
                      _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    return _mm_or_si128(x, _mm_and_si128(_mm_srli_epi16(hb, 2), _mm_set1_epi8(0x30)));
}

INLINE void mv_q4_k(const int JB, int n, const uint8_t *w, const uint8_t *a, size_t lda, float *out) {
    __m256 acc[JMAX];
    const int ns = n / 256;
    const int8_t *qa[JMAX];
    const float *da[JMAX];
    const int32_t *bs[JMAX];
    UNROLL
    for (int j = 0; j < JB; j++) {
        acc[j] = _mm256_setzero_ps();
        qa[j] = (const int8_t *)(a + (size_t)j * lda);
        da[j] = act_d(a + (size_t)j * lda, n);
        bs[j] = (const int32_t *)(const void *)(da[j] + ns);
    }
    for (int b = 0; b < ns; b++, w += 144) {
        pf(w, 192);
        __m128i scm = q4k_scales(w + 4);
        __m256i sc32 = _mm256_cvtepu8_epi32(scm);
        sc32 = _mm256_or_si256(sc32, _mm256_slli_epi32(sc32, 16));   /* dword s: sc[s] in both words */
        __m256 mn = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(scm, 8)));
        __m128 dm = _mm_cvtph_ps(_mm_cvtsi32_si128(rd32(w)));   /* d, dmin */
        __m256 mnd = _mm256_mul_ps(mn, _mm256_broadcastss_ps(_mm_movehdup_ps(dm)));
        __m256 dv = _mm256_broadcastss_ps(dm);
        __m256i u[8];
        UNROLL
        for (int g = 0; g < 4; g++) {
            __m256i q = ld256(w + 16 + 32 * g);
            u[2 * g] = _mm256_and_si256(q, _mm256_set1_epi8(15));
            u[2 * g + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), _mm256_set1_epi8(15));
        }
        UNROLL
        for (int j = 0; j < JB; j++) {
            const int8_t *q = qa[j] + 256 * (size_t)b;
            __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
            UNROLL
            for (int s = 0; s < 8; s += 2) {
                __m256i p0 = _mm256_maddubs_epi16(u[s], ld256(q + 32 * s));
                __m256i p1 = _mm256_maddubs_epi16(u[s + 1], ld256(q + 32 * s + 32));
                s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, _mm256_permutevar8x32_epi32(sc32, _mm256_set1_epi32(s))));
                s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, _mm256_permutevar8x32_epi32(sc32, _mm256_set1_epi32(s + 1))));
            }
            __m256 dd = _mm256_mul_ps(dv, _mm256_set1_ps(da[j][b]));
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), dd, acc[j]);
            acc[j] = _mm256_fnmadd_ps(_mm256_mul_ps(mnd, _mm256_set1_ps(da[j][b])), _mm256_cvtepi32_ps(ld256(bs[j] + 8 * b)),
                                      acc[j]);
        }
    }
    UNROLL
    for (int j = 0; j < JB; j++) out[j] = hsum8(acc[j]);
}

/* ---- Q6_K ------------------------------------------------------------------ */
/* 256 weights as u8 0..63 in element order: u[k] holds elements 32k..32k+31 */
INLINE void unpack_q6_k(const uint8_t *w, __m256i *u) {
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

INLINE void mv_q6_k(const int JB, int n, const uint8_t *w, const uint8_t *a, size_t lda, float *out) {
    __m256 acc[JMAX];
    const int ns = n / 256;
    const int8_t *qa[JMAX];
    const float *da[JMAX];
    const int32_t *cs[JMAX];
    UNROLL
    for (int j = 0; j < JB; j++) {
        acc[j] = _mm256_setzero_ps();
        qa[j] = (const int8_t *)(a + (size_t)j * lda);
        da[j] = act_d(a + (size_t)j * lda, n);
        cs[j] = (const int32_t *)(const void *)(da[j] + ns);
    }
    for (int b = 0; b < ns; b++, w += 210) {
        pf(w, 256);
        __m256i u[8];
        unpack_q6_k(w, u);
        __m128i sc8 = ld128(w + 192);
        __m256i sc32a = _mm256_cvtepi8_epi32(sc8), sc32b = _mm256_cvtepi8_epi32(_mm_srli_si128(sc8, 8));
        /* dwords = scale in both 16-bit halves: sub-blocks 0..3, 8..11 in lo; 4..7, 12..15 in hi */
        __m256i sw = _mm256_cvtepi8_epi16(sc8);
        __m256i lo = _mm256_unpacklo_epi16(sw, sw), hi = _mm256_unpackhi_epi16(sw, sw);
        float d = f16(w + 208);
        UNROLL
        for (int j = 0; j < JB; j++) {
            const int8_t *q = qa[j] + 256 * (size_t)b;
            const int32_t *c = cs[j] + 16 * b;
            __m256i s0 = _mm256_add_epi32(_mm256_mullo_epi32(sc32a, ld256(c)), _mm256_mullo_epi32(sc32b, ld256(c + 8)));
            __m256i s1 = _mm256_setzero_si256();
            UNROLL
            for (int k = 0; k < 8; k++) {   /* sub-blocks 2k (lanes 0..3), 2k+1 (lanes 4..7) */
                __m256i src = ((k >> 1) & 1) ? hi : lo;
                const int o = (k >= 4 ? 4 : 0) + ((k & 1) ? 2 : 0);
                __m256i scv = _mm256_permutevar8x32_epi32(src, _mm256_setr_epi32(o, o, o, o, o + 1, o + 1, o + 1, o + 1));
                __m256i pr = _mm256_madd_epi16(_mm256_maddubs_epi16(u[k], ld256(q + 32 * k)), scv);
                if (k & 1) s1 = _mm256_add_epi32(s1, pr);
                else s0 = _mm256_add_epi32(s0, pr);
            }
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), _mm256_set1_ps(d * da[j][b]), acc[j]);
        }
    }
    UNROLL
    for (int j = 0; j < JB; j++) out[j] = hsum8(acc[j]);
}

/* ---- float weights (F32, F16, BF16) . float activations --------------------- */
INLINE __m256 load8(int t, const uint8_t *w, int k) {
    if (t == LC_TYPE_F32) return _mm256_loadu_ps((const float *)(const void *)w + k);
    __m128i h = ld128(w + 2 * (size_t)k);
    if (t == LC_TYPE_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
INLINE float load1(int t, const uint8_t *w, int k) {
    if (t == LC_TYPE_F32) return ((const float *)(const void *)w)[k];
    uint16_t h;
    memcpy(&h, w + 2 * (size_t)k, 2);
    return t == LC_TYPE_F16 ? _cvtsh_ss(h) : lc_bf16_to_f32(h);
}

/* 32 elements per step in 4 vectors; NA independent sums per column hide the FMA latency */
INLINE void mv_f(const int JB, int t, int n, const uint8_t *w, const float *x, size_t ldx, float *out) {
    const int NA = JB == 1 ? 4 : JB == 2 ? 2 : 1, es = t == LC_TYPE_F32 ? 4 : 2;
    __m256 acc[JMAX][4];
    UNROLL
    for (int j = 0; j < JB; j++)
        UNROLL
        for (int v = 0; v < 4; v++) acc[j][v] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 32 <= n; k += 32) {
        pf(w + (size_t)k * es, 32 * es);
        UNROLL
        for (int v = 0; v < 4; v++) {
            __m256 wv = load8(t, w, k + 8 * v);
            UNROLL
            for (int j = 0; j < JB; j++)
                acc[j][v % NA] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + (size_t)j * ldx + k + 8 * v), acc[j][v % NA]);
        }
    }
    for (; k + 8 <= n; k += 8) {
        __m256 wv = load8(t, w, k);
        UNROLL
        for (int j = 0; j < JB; j++) acc[j][0] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + (size_t)j * ldx + k), acc[j][0]);
    }
    UNROLL
    for (int j = 0; j < JB; j++) {
        float s = hsum8(_mm256_add_ps(_mm256_add_ps(acc[j][0], acc[j][1]), _mm256_add_ps(acc[j][2], acc[j][3])));
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
    case 4: { const int JB = 4; CALL; } break;                                             \
    default: { const int JB = 5; CALL; } break;                                            \
    }

#define ROWS(CALL)                                                                          \
    for (int i = 0; i < nr; i++) {                                                          \
        const uint8_t *wi = (const uint8_t *)w + (size_t)i * ldw;                           \
        float out[JMAX];                                                                    \
        CALL;                                                                               \
        for (int j = 0; j < jb; j++) yj[(size_t)j * ldy + i] = out[j];                      \
    }

static void gemm_avx2(int t, int n, const void *w, size_t ldw, const void *a, size_t lda, float *y, size_t ldy,
                      int nr, int nc) {
    for (int j0 = 0; j0 < nc; j0 += JMAX) {
        int jb = LC_MIN(JMAX, nc - j0);
        const uint8_t *aj = (const uint8_t *)a + (size_t)j0 * lda;
        const float *xj = (const float *)(const void *)aj;
        float *yj = y + (size_t)j0 * ldy;
        switch (t) {
        case LC_TYPE_Q8_0: FOR_JB(jb, ROWS(mv_b32(JB, LC_TYPE_Q8_0, n, wi, aj, lda, out))); break;
        case LC_TYPE_Q4_0: FOR_JB(jb, ROWS(mv_b32(JB, LC_TYPE_Q4_0, n, wi, aj, lda, out))); break;
        case LC_TYPE_Q4_1: FOR_JB(jb, ROWS(mv_b32(JB, LC_TYPE_Q4_1, n, wi, aj, lda, out))); break;
        case LC_TYPE_Q4_K: FOR_JB(jb, ROWS(mv_q4_k(JB, n, wi, aj, lda, out))); break;
        case LC_TYPE_Q6_K: FOR_JB(jb, ROWS(mv_q6_k(JB, n, wi, aj, lda, out))); break;
        case LC_TYPE_F32: FOR_JB(jb, ROWS(mv_f(JB, LC_TYPE_F32, n, wi, xj, lda / 4, out))); break;
        case LC_TYPE_F16: FOR_JB(jb, ROWS(mv_f(JB, LC_TYPE_F16, n, wi, xj, lda / 4, out))); break;
        case LC_TYPE_BF16: FOR_JB(jb, ROWS(mv_f(JB, LC_TYPE_BF16, n, wi, xj, lda / 4, out))); break;
        default: LC_ASSERT(!"kern avx2: unsupported weight type");
        }
    }
}

/* ---- EXACT: lc_dequant_row's arithmetic, vectorised; generation (nc <= JMAX) multiplies the
 * dequantized weights straight into the sums, more columns go through a 4-row chunk buffer -- */
enum { XCHUNK = 256, XROWS = 4 };

INLINE __m256i u8x8(const uint8_t *p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p)); }

/* 8 dequantized weights at element o: stored to y (JB = 0) or multiplied into JB sums */
INLINE void emit(const int JB, __m256 v, float *y, int o, const float *x, size_t ldx, __m256 *acc) {
    if (!JB) _mm256_storeu_ps(y + o, v);
    UNROLL
    for (int j = 0; j < JB; j++) acc[j] = _mm256_fmadd_ps(v, _mm256_loadu_ps(x + (size_t)j * ldx + o), acc[j]);
}

INLINE void deq_row(const int JB, int t, const uint8_t *w, int len, float *y, const float *x, size_t ldx,
                    __m256 *acc) {
    const __m256i m4 = _mm256_set1_epi32(15);
    int o = 0;
    switch (t) {
    case LC_TYPE_Q8_0:
        for (int b = 0; b < len / 32; b++, w += 34, o += 32) {
            if (JB) pf(w, 34);
            __m256 d = _mm256_set1_ps(f16(w));
            UNROLL
            for (int h = 0; h < 4; h++)
                emit(JB, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(w + 2 + 8 * h))))),
                     y, o + 8 * h, x, ldx, acc);
        }
        break;
    case LC_TYPE_Q4_0: case LC_TYPE_Q4_1: {
        const int bb = t == LC_TYPE_Q4_0 ? 18 : 20;
        const __m256i off = _mm256_set1_epi32(t == LC_TYPE_Q4_0 ? 8 : 0);
        for (int b = 0; b < len / 32; b++, w += bb, o += 32) {
            if (JB) pf(w, bb);
            __m256 d = _mm256_set1_ps(f16(w)), m = _mm256_set1_ps(t == LC_TYPE_Q4_1 ? f16(w + 2) : 0);
            UNROLL
            for (int h = 0; h < 2; h++) {
                __m256i q = u8x8(w + bb - 16 + 8 * h);
                __m256 lo = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(q, m4), off));
                __m256 hi = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(q, 4), off));
                if (t == LC_TYPE_Q4_0) {
                    emit(JB, _mm256_mul_ps(lo, d), y, o + 8 * h, x, ldx, acc);
                    emit(JB, _mm256_mul_ps(hi, d), y, o + 16 + 8 * h, x, ldx, acc);
                } else {
                    emit(JB, _mm256_add_ps(_mm256_mul_ps(lo, d), m), y, o + 8 * h, x, ldx, acc);
                    emit(JB, _mm256_add_ps(_mm256_mul_ps(hi, d), m), y, o + 16 + 8 * h, x, ldx, acc);
                }
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
                __m256 d1 = _mm256_set1_ps(d * sm[2 * g]), m1 = _mm256_set1_ps(dmin * sm[8 + 2 * g]);
                __m256 d2 = _mm256_set1_ps(d * sm[2 * g + 1]), m2 = _mm256_set1_ps(dmin * sm[9 + 2 * g]);
                UNROLL
                for (int h = 0; h < 4; h++) {
                    __m256i q = u8x8(w + 16 + 32 * g + 8 * h);
                    emit(JB, _mm256_sub_ps(_mm256_mul_ps(d1, _mm256_cvtepi32_ps(_mm256_and_si256(q, m4))), m1), y,
                         o + 64 * g + 8 * h, x, ldx, acc);
                    emit(JB, _mm256_sub_ps(_mm256_mul_ps(d2, _mm256_cvtepi32_ps(_mm256_srli_epi32(q, 4))), m2), y,
                         o + 64 * g + 32 + 8 * h, x, ldx, acc);
                }
            }
        }
        break;
    case LC_TYPE_Q6_K: {
        const __m256i m3 = _mm256_set1_epi32(3), c32 = _mm256_set1_epi32(32);
        for (int b = 0; b < len / 256; b++, w += 210, o += 256) {
            if (JB) pf(w, 210);
            float d = f16(w + 208);
            const int8_t *S = (const int8_t *)(w + 192);
            for (int h = 0; h < 2; h++)
                UNROLL
                for (int l = 0; l < 32; l += 8) {
                    const uint8_t *L = w + 64 * h + l, *H = w + 128 + 32 * h + l;
                    const int8_t *s = S + 8 * h + l / 16;
                    __m256i l0 = u8x8(L), l1 = u8x8(L + 32), hh = u8x8(H);
                    __m256i q1 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi32(_mm256_and_si256(hh, m3), 4));
                    __m256i q2 = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                                 _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(hh, 2), m3), 4));
                    __m256i q3 = _mm256_or_si256(_mm256_srli_epi32(l0, 4),
                                                 _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(hh, 4), m3), 4));
                    __m256i q4 = _mm256_or_si256(_mm256_srli_epi32(l1, 4), _mm256_slli_epi32(_mm256_srli_epi32(hh, 6), 4));
                    int e = o + 128 * h + l;
                    emit(JB, _mm256_mul_ps(_mm256_set1_ps(d * s[0]), _mm256_cvtepi32_ps(_mm256_sub_epi32(q1, c32))), y, e, x,
                         ldx, acc);
                    emit(JB, _mm256_mul_ps(_mm256_set1_ps(d * s[2]), _mm256_cvtepi32_ps(_mm256_sub_epi32(q2, c32))), y,
                         e + 32, x, ldx, acc);
                    emit(JB, _mm256_mul_ps(_mm256_set1_ps(d * s[4]), _mm256_cvtepi32_ps(_mm256_sub_epi32(q3, c32))), y,
                         e + 64, x, ldx, acc);
                    emit(JB, _mm256_mul_ps(_mm256_set1_ps(d * s[6]), _mm256_cvtepi32_ps(_mm256_sub_epi32(q4, c32))), y,
                         e + 96, x, ldx, acc);
                }
        }
        break;
    }
    default: LC_ASSERT(!"kern avx2: unsupported weight type");
    }
}

#define KX_NAME gemm_exact_avx2
#define KX_ISA "avx2"
#define KX_FAST gemm_avx2
#define KX_VEC __m256
#define KX_W 8
#define KX_ZERO() _mm256_setzero_ps()
#define KX_LOADU(p) _mm256_loadu_ps(p)
#define KX_LOAD(p) _mm256_load_ps(p)
#define KX_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define KX_HSUM(v) hsum8(v)
#include "kern_exact.h"

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
