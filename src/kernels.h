/* kernels.h - matrix kernels behind one table per ISA (scalar, avx2, avx512): weight row
 * x activation dot products for every supported weight type, in two modes. FAST mode
 * rounds activations to 8-bit blocks for the quantized types (like ggml); EXACT mode
 * dequantizes the weights to float32 and keeps the activations exact. */
#ifndef LC_KERNELS_H
#define LC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Activation rows in FAST mode (quant_act output), n elements, row of act_row_bytes(wtype, n):
 *   F32, F16, BF16 : float x[n]                       (fp16/bf16 weights are widened, exact)
 *   Q8_0, Q4_0     : int8 qs[n]; float d[n/32]; int32 c[n/32]
 *                    d = amax/127, qs = roundf(x/d) (x * (1/d), like ggml), c = -off * sum(qs)
 *                    with off = 128 for Q8_0 and 8 for Q4_0 (the unsigned offset of the weights)
 *   Q4_1           : int8 qs[n]; float d[n/32]; float s[n/32] = d * sum(qs)   (Q8_1-like)
 *   Q4_K           : int8 qs[n]; float d[n/256]; int32 bsum[n/32] = sum(qs) per 32   (Q8_K-like)
 *   Q6_K           : int8 qs[n]; float d[n/256]; int32 c[n/16] = -32 * sum(qs) per 16 (Q8_K-like)
 *                    for the K types d = amax/127 over 256 values, qs = roundf(x/d)
 * The parts follow each other without padding (qs at 0, d at n, the third array at n+4*nd).
 * Rows may be lda bytes apart (lda >= act_row_bytes, any multiple of 4; 64 is best). */
enum { LC_KERN_MAX_ISA_NAME = 16 };

typedef struct lc_kern {
    const char *isa;                               /* "scalar", "avx2", "avx512" */
    size_t (*act_row_bytes)(int wtype, int n);     /* 0 if wtype unsupported or n not a block multiple */
    void (*quant_act)(int wtype, const float *x, void *dst, int n);
    /* y[j*ldy + i] = dot(W row i, A row j), 0 <= i < nr, 0 <= j < nc; W rows ldw bytes apart, A rows
     * lda bytes apart (FAST mode: A rows made by quant_act for wtype). */
    void (*gemm)(int wtype, int n, const void *w, size_t ldw, const void *a, size_t lda, float *y, size_t ldy,
                 int nr, int nc);
    /* EXACT mode: W row dequantized in float32 (lc_dequant_row's math) . float32 x rows (ldx floats
     * apart), same y layout */
    void (*gemm_exact)(int wtype, int n, const void *w, size_t ldw, const float *x, size_t ldx, float *y,
                       size_t ldy, int nr, int nc);
    float (*dot_f32)(const float *a, const float *b, int n);   /* for attention */
    void (*axpy_f32)(float *y, float a, const float *x, int n); /* y += a*x */
} lc_kern;

/* chosen once: the best ISA this CPU and OS can run, or LLAMAC_ISA=scalar|avx2|avx512 from the
 * environment (an unknown or unavailable value falls back to the best, with one warning on stderr) */
const lc_kern *lc_kern_best(void);
/* the table of one ISA; NULL if unknown or this CPU/OS cannot run it */
const lc_kern *lc_kern_get(const char *isa);

/* Work split guidance for callers: rows of one gemm call are handled in panels of
 * LC_KERN_ROW_TILE rows (avx512 packed path: 32, avx2: 4); splitting the rows across threads in
 * multiples of it keeps every panel full. */
enum { LC_KERN_ROW_TILE = 32 };

/* ---- internal: the per-ISA tables (kern_avx2.c, kern_avx512.c); NULL when not compiled in ---- */
const lc_kern *lc_kern_avx2_table(void);
const lc_kern *lc_kern_avx512_table(void);
/* kern.c: the activation layout and the portable quantizer (the reference: an ISA may use a faster
 * quantizer of its own that writes the same bytes, as avx512 does) */
size_t lc_kern_act_row_bytes(int wtype, int n);
void lc_kern_quant_act(int wtype, const float *x, void *dst, int n);

#endif
