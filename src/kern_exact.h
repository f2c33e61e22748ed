/* kern_exact.h - the EXACT-mode gemm driver of an ISA file, written once for every vector width
 * (kernels.h: quantized weights dequantized to float32, float32 activations). Included by
 * kern_avx2.c and kern_avx512.c after they define:
 *   KX_NAME          the function to define (gemm_exact_<isa>), KX_ISA its ISA name (a string)
 *   KX_FAST          the ISA's gemm, used for the float types (their widening is exact)
 *   KX_VEC, KX_W     the float vector type and its lane count
 *   KX_ZERO(), KX_LOADU(p), KX_LOAD(p) (aligned), KX_FMA(a, b, c) (a * b + c), KX_HSUM(v)
 * and with JMAX, XCHUNK, XROWS, FOR_JB, UNROLL and
 *   deq_row(JB, t, w, len, y, x, ldx, acc): len elements of one row from w; JB == 0: store them
 *   dequantized to y, else add their products with JB rows of x (ldx apart) into acc[JB].
 * No include guard: one instance per including file. */

static void KX_NAME(int t, int n, const void *w, size_t ldw, const float *x, size_t ldx, float *y, size_t ldy, int nr,
                    int nc) {
    if (t == LC_TYPE_F32 || t == LC_TYPE_F16 || t == LC_TYPE_BF16) {   /* widening is exact */
        KX_FAST(t, n, w, ldw, x, ldx * 4, y, ldy, nr, nc);
        return;
    }
    if (nc <= JMAX) {   /* generation: dequantized weights go straight into the sums */
        /* the same sums in the same order as the chunked path below (one vector per chunk,
         * reduced, added up chunk by chunk), so the result does not depend on nc */
        for (int i0 = 0; i0 < nr; i0 += XROWS) {
            int ib = LC_MIN(XROWS, nr - i0);
            float sum[XROWS][JMAX];
            for (int k0 = 0; k0 < n; k0 += XCHUNK) {
                int len = LC_MIN(XCHUNK, n - k0);
                for (int r = 0; r < ib; r++) {
                    const uint8_t *wr = (const uint8_t *)w + (size_t)(i0 + r) * ldw;
                    size_t off;
                    lc_type_row_bytes(t, k0, &off);
                    KX_VEC acc[JMAX];
                    for (int j = 0; j < JMAX; j++) acc[j] = KX_ZERO();
#define DEQ_T(T)                                                                                              \
    case T: FOR_JB(nc, deq_row(JB, T, wr + off, len, NULL, x + k0, ldx, acc)); break;
                    switch (t) {
                    DEQ_T(LC_TYPE_Q8_0) DEQ_T(LC_TYPE_Q4_0) DEQ_T(LC_TYPE_Q4_1) DEQ_T(LC_TYPE_Q4_K) DEQ_T(LC_TYPE_Q6_K)
                    default: LC_ASSERT(!"kern " KX_ISA ": unsupported weight type");
                    }
#undef DEQ_T
                    for (int j = 0; j < nc; j++) {
                        float s = KX_HSUM(acc[j]);
                        sum[r][j] = k0 ? sum[r][j] + s : s;
                    }
                }
            }
            for (int r = 0; r < ib; r++)
                for (int j = 0; j < nc; j++) y[(size_t)j * ldy + i0 + r] = sum[r][j];
        }
        return;
    }
    size_t rb;
    LC_ASSERT(lc_type_row_bytes(t, XCHUNK, &rb));
    float buf[XROWS][XCHUNK] __attribute__((aligned(64)));
    for (int i0 = 0; i0 < nr; i0 += XROWS) {
        int ib = LC_MIN(XROWS, nr - i0);
        if (ib < XROWS) memset(buf, 0, sizeof buf);
        for (int k0 = 0; k0 < n; k0 += XCHUNK) {
            int len = LC_MIN(XCHUNK, n - k0);   /* a multiple of 32 (block types) */
            UNROLL
            for (int r = 0; r < ib; r++)
                deq_row(0, t, (const uint8_t *)w + (size_t)(i0 + r) * ldw + (size_t)(k0 / XCHUNK) * rb, len, buf[r],
                        NULL, 0, NULL);
            for (int j = 0; j < nc; j++) {
                const float *xj = x + (size_t)j * ldx + k0;
                KX_VEC acc[XROWS];
                UNROLL
                for (int r = 0; r < XROWS; r++) acc[r] = KX_ZERO();
                for (int k = 0; k < len; k += KX_W) {
                    KX_VEC xv = KX_LOADU(xj + k);
                    UNROLL
                    for (int r = 0; r < XROWS; r++) acc[r] = KX_FMA(KX_LOAD(buf[r] + k), xv, acc[r]);
                }
                float *yj = y + (size_t)j * ldy + i0;
                UNROLL
                for (int r = 0; r < ib; r++) {
                    float s = KX_HSUM(acc[r]);
                    yj[r] = k0 ? yj[r] + s : s;
                }
            }
        }
    }
}

#undef KX_NAME
#undef KX_ISA
#undef KX_FAST
#undef KX_VEC
#undef KX_W
#undef KX_ZERO
#undef KX_LOADU
#undef KX_LOAD
#undef KX_FMA
#undef KX_HSUM
