/* test_quant.c - element types: fp16/bf16 conversion edge cases, hand-built blocks of
 * every supported type checked value by value against spec/gguf.md §3, the ggml
 * reference quantizers bit for bit, round trips, and the shared `quant` GGUF files. */
#include "internal.h"
#include "test.h"

#include <math.h>
#include <stdint.h>

static uint32_t f2u(float f) {
    union { float f; uint32_t u; } v = { .f = f };
    return v.u;
}
static float u2f(uint32_t u) {
    union { uint32_t u; float f; } v = { .u = u };
    return v.f;
}

/* deterministic Gaussian numbers (splitmix64 + Box-Muller) */
static uint64_t rng_state = 0x1234567887654321ull;
static uint64_t rng_next(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rng_unif(void) { return ((rng_next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
static float rng_gauss(void) {
    return (float)(sqrt(-2 * log(rng_unif())) * cos(6.283185307179586 * rng_unif()));
}

/* ---- half floats --------------------------------------------------- */
static int test_f16_to_f32(void) {
    CHECK(lc_f16_to_f32(0x0000) == 0.0f && !signbit(lc_f16_to_f32(0x0000)));
    CHECK(lc_f16_to_f32(0x8000) == 0.0f && signbit(lc_f16_to_f32(0x8000)));
    CHECK(lc_f16_to_f32(0x3c00) == 1.0f);
    CHECK(lc_f16_to_f32(0xc000) == -2.0f);
    CHECK(lc_f16_to_f32(0x3555) == 0.25f * (1 + 341 / 1024.0f));    /* 0.333251953125 */
    CHECK(lc_f16_to_f32(0x0001) == ldexpf(1, -24));                 /* smallest subnormal */
    CHECK(lc_f16_to_f32(0x03ff) == 1023 * ldexpf(1, -24));          /* largest subnormal */
    CHECK(lc_f16_to_f32(0x8200) == -512 * ldexpf(1, -24));
    CHECK(lc_f16_to_f32(0x0400) == ldexpf(1, -14));                 /* smallest normal */
    CHECK(lc_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(lc_f16_to_f32(0xfbff) == -65504.0f);
    CHECK(isinf(lc_f16_to_f32(0x7c00)) && lc_f16_to_f32(0x7c00) > 0);
    CHECK(isinf(lc_f16_to_f32(0xfc00)) && lc_f16_to_f32(0xfc00) < 0);
    CHECK(isnan(lc_f16_to_f32(0x7e00)) && isnan(lc_f16_to_f32(0x7c01)) && isnan(lc_f16_to_f32(0xfe00)));
    return T_PASS;
}

static int test_f32_to_f16(void) {
    CHECK(lc_f32_to_f16(0.0f) == 0x0000);
    CHECK(lc_f32_to_f16(-0.0f) == 0x8000);
    CHECK(lc_f32_to_f16(1.0f) == 0x3c00);
    CHECK(lc_f32_to_f16(-2.0f) == 0xc000);
    CHECK(lc_f32_to_f16(65504.0f) == 0x7bff);
    CHECK(lc_f32_to_f16(65519.0f) == 0x7bff);           /* below the midpoint to 65536 */
    CHECK(lc_f32_to_f16(65520.0f) == 0x7c00);           /* tie rounds to even: infinity */
    CHECK(lc_f32_to_f16(1e6f) == 0x7c00);
    CHECK(lc_f32_to_f16(-1e30f) == 0xfc00);
    CHECK(lc_f32_to_f16(INFINITY) == 0x7c00);
    CHECK(lc_f32_to_f16(-INFINITY) == 0xfc00);
    uint16_t n = lc_f32_to_f16(NAN);
    CHECK((n & 0x7c00) == 0x7c00 && (n & 0x3ff) != 0);
    CHECK(lc_f32_to_f16(u2f(0x7f800001)) & 0x3ff);       /* NaN with low payload stays NaN */
    /* ties to even among normals: 1 + 2^-11 lies between 0x3c00 and 0x3c01 */
    CHECK(lc_f32_to_f16(1.0f + ldexpf(1, -11)) == 0x3c00);
    CHECK(lc_f32_to_f16(1.0f + 3 * ldexpf(1, -11)) == 0x3c02);
    CHECK(lc_f32_to_f16(1.0f + ldexpf(1, -11) + ldexpf(1, -20)) == 0x3c01);
    /* subnormals */
    CHECK(lc_f32_to_f16(ldexpf(1, -24)) == 0x0001);
    CHECK(lc_f32_to_f16(ldexpf(1, -25)) == 0x0000);     /* tie to even: 0 */
    CHECK(lc_f32_to_f16(ldexpf(1.5f, -25)) == 0x0001);
    CHECK(lc_f32_to_f16(ldexpf(3, -25)) == 0x0002);     /* 1.5 ulp: tie to even 2 */
    CHECK(lc_f32_to_f16(ldexpf(5, -25)) == 0x0002);     /* 2.5 ulp: tie to even 2 */
    CHECK(lc_f32_to_f16(ldexpf(1, -30)) == 0x0000);
    CHECK(lc_f32_to_f16(-ldexpf(1, -30)) == 0x8000);
    CHECK(lc_f32_to_f16(ldexpf(1, -14) - ldexpf(1, -25)) == 0x0400);   /* carries into normal */
    CHECK(lc_f32_to_f16(ldexpf(1, -14) - ldexpf(3, -25)) == 0x03fe);   /* 1022.5 ulp: even */
    CHECK(lc_f32_to_f16(ldexpf(4093, -26)) == 0x03ff);                 /* 1023.25 ulp */
    /* every finite half survives the round trip */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        CHECKF(lc_f32_to_f16(lc_f16_to_f32((uint16_t)h)) == h, "half 0x%04x", h);
    }
    return T_PASS;
}

static int test_bf16(void) {
    CHECK(lc_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(lc_bf16_to_f32(0xc040) == -3.0f);
    CHECK(lc_bf16_to_f32(0x0001) == u2f(0x00010000));   /* subnormal */
    CHECK(isinf(lc_bf16_to_f32(0x7f80)) && isnan(lc_bf16_to_f32(0x7fc0)));
    CHECK(lc_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(lc_f32_to_bf16(u2f(0x3f808000)) == 0x3f80);   /* tie, even stays */
    CHECK(lc_f32_to_bf16(u2f(0x3f818000)) == 0x3f82);   /* tie, odd rounds up */
    CHECK(lc_f32_to_bf16(u2f(0x3f808001)) == 0x3f81);
    CHECK(lc_f32_to_bf16(u2f(0x3f807fff)) == 0x3f80);
    CHECK(lc_f32_to_bf16(u2f(0x7f7fffff)) == 0x7f80);   /* max float overflows to inf */
    CHECK(lc_f32_to_bf16(INFINITY) == 0x7f80 && lc_f32_to_bf16(-INFINITY) == 0xff80);
    CHECK(lc_f32_to_bf16(u2f(0x7f800001)) == 0x7fc0);   /* NaN forced quiet: | 64 */
    CHECK(lc_f32_to_bf16(u2f(0xffc12345)) == 0xffc1);
    CHECK(lc_f32_to_bf16(u2f(0x00018000)) == 0x0002);   /* subnormal tie to even */
    CHECK(lc_f32_to_bf16(-0.0f) == 0x8000);
    return T_PASS;
}

/* ---- dequantization of hand-built blocks ---------------------------- */
static int test_dequant_float_types(void) {
    const uint8_t f16[8] = { 0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0xff, 0x7b };   /* 1, -2, 2^-24, 65504 */
    float y[4];
    lc_dequant_row(LC_TYPE_F16, f16, y, 4);
    CHECK(y[0] == 1.0f && y[1] == -2.0f && y[2] == ldexpf(1, -24) && y[3] == 65504.0f);
    const uint8_t bf16[8] = { 0x80, 0x3f, 0x40, 0xc0, 0x80, 0x7f, 0x49, 0x40 };  /* 1, -3, inf, 3.140625 */
    lc_dequant_row(LC_TYPE_BF16, bf16, y, 4);
    CHECK(y[0] == 1.0f && y[1] == -3.0f && isinf(y[2]) && y[3] == 3.140625f);
    const float f32[4] = { 1.5f, -0.25f, 1e30f, 0 };
    lc_dequant_row(LC_TYPE_F32, f32, y, 4);
    CHECK(memcmp(f32, y, sizeof y) == 0);
    /* quant writes the same bytes back */
    uint8_t out[8];
    lc_quant_row(LC_TYPE_F16, (const float[]){ 1.0f, -2.0f, ldexpf(1, -24), 65504.0f }, out, 4);
    CHECK(memcmp(out, f16, 8) == 0);
    lc_quant_row(LC_TYPE_BF16, (const float[]){ 1.0f, -3.0f, INFINITY, 3.140625f }, out, 4);
    CHECK(memcmp(out, bf16, 8) == 0);
    return T_PASS;
}

static int test_dequant_q8_0(void) {
    uint8_t b[2 * 34];
    /* block 0: d = 0.5 (0x3800), qs[j] = j*8 - 128 (as int8); block 1: d = -3, qs = 127 - j */
    b[0] = 0x00, b[1] = 0x38;
    for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)(j * 8 - 128);
    b[34] = 0x00, b[35] = 0xc2;
    for (int j = 0; j < 32; j++) b[36 + j] = (uint8_t)(127 - j);
    float y[64];
    lc_dequant_row(LC_TYPE_Q8_0, b, y, 64);
    for (int j = 0; j < 32; j++) {
        CHECK(y[j] == 0.5f * (j * 8 - 128));
        CHECK(y[32 + j] == -3.0f * (127 - j));
    }
    return T_PASS;
}

static int test_dequant_q4_0(void) {
    uint8_t b[18];
    b[0] = 0x00, b[1] = 0x40;   /* d = 2 */
    for (int j = 0; j < 16; j++) b[2 + j] = (uint8_t)(j | ((15 - j) << 4));
    float y[32];
    lc_dequant_row(LC_TYPE_Q4_0, b, y, 32);
    /* byte j holds element j (low nibble) and element j + 16 (high nibble) */
    for (int j = 0; j < 16; j++) {
        CHECKF(y[j] == (j - 8) * 2.0f, "y[%d] = %g", j, y[j]);
        CHECKF(y[j + 16] == (7 - j) * 2.0f, "y[%d] = %g", j + 16, y[j + 16]);
    }
    CHECK(y[0] == -16 && y[1] == -14 && y[16] == 14 && y[31] == -16);
    return T_PASS;
}

static int test_dequant_q4_1(void) {
    uint8_t b[20];
    b[0] = 0x00, b[1] = 0x34;   /* d = 0.25 */
    b[2] = 0x00, b[3] = 0xc0;   /* m = -2 */
    for (int j = 0; j < 16; j++) b[4 + j] = (uint8_t)((j * 5 % 16) | (j << 4));
    float y[32];
    lc_dequant_row(LC_TYPE_Q4_1, b, y, 32);
    for (int j = 0; j < 16; j++) {
        CHECK(y[j] == (j * 5 % 16) * 0.25f - 2);
        CHECK(y[j + 16] == j * 0.25f - 2);
    }
    return T_PASS;
}

static int test_dequant_q4_k(void) {
    uint8_t b[144];
    b[0] = 0x00, b[1] = 0x3c;   /* d = 1 */
    b[2] = 0x00, b[3] = 0x38;   /* dmin = 0.5 */
    static const uint8_t scales[12] = { 0x41, 0x82, 0xc3, 0x04, 0x45, 0x86,
                                        0x07, 0xc8, 0x21, 0x43, 0x65, 0x87 };
    /* unpacked by hand (get_scale_min_k4):
     * j<4:  sc = q[j]&63, m = q[j+4]&63            -> (1,5) (2,6) (3,7) (4,8)
     * j>=4: sc = (q[j+4]&15) | (q[j-4]>>6)<<4       -> 1|16=17, 3|32=35, 5|48=53, 7|0=7
     *       m  = (q[j+4]>>4) | (q[j]>>6)<<4         -> 2|16=18, 4|32=36, 6|0=6,   8|48=56 */
    static const int sc[8] = { 1, 2, 3, 4, 17, 35, 53, 7 }, mn[8] = { 5, 6, 7, 8, 18, 36, 6, 56 };
    memcpy(b + 4, scales, 12);
    for (int k = 0; k < 128; k++) b[16 + k] = (uint8_t)(k * 7 + 3);
    float y[256];
    lc_dequant_row(LC_TYPE_Q4_K, b, y, 256);
    for (int i = 0; i < 256; i++) {
        /* element i: group g = i/64 uses bytes 32g..32g+31; low nibble for the first 32 */
        int g = i / 64, r = i % 64, byte = b[16 + 32 * g + r % 32];
        int q = r < 32 ? byte & 15 : byte >> 4, sub = i / 32;
        float want = (float)(sc[sub] * q) - 0.5f * mn[sub];
        CHECKF(y[i] == want, "y[%d] = %g, want %g", i, y[i], want);
    }
    return T_PASS;
}

static int test_dequant_q6_k(void) {
    uint8_t b[210];
    for (int k = 0; k < 128; k++) b[k] = (uint8_t)(k * 13 + 1);          /* ql */
    for (int k = 0; k < 64; k++) b[128 + k] = (uint8_t)(k * 29 + 7);     /* qh */
    static const int8_t sc[16] = { -128, 127, -1, 2, 3, -4, 5, 6, -7, 8, 9, 10, -11, 12, 13, 1 };
    memcpy(b + 192, sc, 16);
    b[208] = 0x00, b[209] = 0x34;   /* d = 0.25, stored last */
    float y[256];
    lc_dequant_row(LC_TYPE_Q6_K, b, y, 256);
    for (int i = 0; i < 256; i++) {
        /* element i: half h, quarter k of 32 within the half, lane l */
        int h = i / 128, k = (i % 128) / 32, l = i % 32;
        int lo = (b[64 * h + l + 32 * (k & 1)] >> (4 * (k >> 1))) & 15;
        int hi = (b[128 + 32 * h + l] >> (2 * k)) & 3;
        int q = (lo | (hi << 4)) - 32;
        float want = 0.25f * (float)(sc[i / 16] * q);
        CHECKF(y[i] == want, "y[%d] = %g, want %g", i, y[i], want);
    }
    CHECK(y[0] == 0.25f * -128 * (((1 & 15) | ((7 & 3) << 4)) - 32));
    return T_PASS;
}

/* ---- ggml reference quantizers, bit for bit ------------------------ */
static int test_quant_q8_0_exact(void) {
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = (j - 16) * 0.5f;   /* -8 .. 7.5: amax 8 */
    x[5] = 127.0f / 16 * 0.5f;                             /* lands on q = 63.5 -> 64 */
    uint8_t b[34];
    lc_quant_row(LC_TYPE_Q8_0, x, b, 32);
    float d = 8.0f / 127, id = 1 / d;
    CHECK(b[0] == (lc_f32_to_f16(d) & 0xff) && b[1] == (lc_f32_to_f16(d) >> 8));
    for (int j = 0; j < 32; j++) CHECKF((int8_t)b[2 + j] == (int)roundf(x[j] * id), "j %d", j);
    CHECK((int8_t)b[2] == -127 && (int8_t)b[2 + 16] == 0 && (int8_t)b[2 + 31] == 119);
    /* all zero: d = 0, q = 0 */
    memset(x, 0, sizeof x);
    lc_quant_row(LC_TYPE_Q8_0, x, b, 32);
    for (int j = 0; j < 34; j++) CHECK(b[j] == 0);
    return T_PASS;
}

static int test_quant_q4_0_exact(void) {
    float x[32];
    x[0] = -16;                                  /* max |x| is negative: d = -16 / -8 = 2 */
    for (int j = 1; j < 32; j++) x[j] = j * 0.5f;
    uint8_t b[18];
    lc_quant_row(LC_TYPE_Q4_0, x, b, 32);
    CHECK(b[0] == 0x00 && b[1] == 0x40);         /* fp16 2.0 */
    for (int j = 0; j < 16; j++) {
        int q0 = LC_MIN(15, (int)(x[j] * 0.5f + 8.5f)), q1 = LC_MIN(15, (int)(x[j + 16] * 0.5f + 8.5f));
        CHECKF(b[2 + j] == (q0 | (q1 << 4)), "byte %d: %02x", j, b[2 + j]);
    }
    CHECK((b[2] & 15) == 0 && (b[2] >> 4) == 12);      /* -16 -> 0; 8 -> (int)12.5 = 12 */
    CHECK((b[2 + 15] >> 4) == 15);                     /* 15.5*0.5+8.5 = 16.25 clamps to 15 */
    float y[32];
    lc_dequant_row(LC_TYPE_Q4_0, b, y, 32);
    CHECK(y[0] == -16.0f && y[16] == 8.0f && y[31] == 14.0f);
    /* positive max: d = -max/8 < 0, the max lands on q = 0 */
    for (int j = 0; j < 32; j++) x[j] = j == 7 ? 4.0f : (j - 16) * 0.1f;
    lc_quant_row(LC_TYPE_Q4_0, x, b, 32);
    CHECK(b[0] == 0x00 && b[1] == 0xb8);         /* fp16 -0.5 */
    CHECK((b[2 + 7] & 15) == 0);
    lc_dequant_row(LC_TYPE_Q4_0, b, y, 32);
    CHECK(y[7] == 4.0f);
    return T_PASS;
}

static int test_quant_q4_1_exact(void) {
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = -1.0f + j * (2.5f / 31);
    uint8_t b[20];
    lc_quant_row(LC_TYPE_Q4_1, x, b, 32);
    float min = x[0], d = (x[31] - x[0]) / 15, id = 1 / d;
    CHECK((b[0] | (b[1] << 8)) == lc_f32_to_f16(d));
    CHECK((b[2] | (b[3] << 8)) == lc_f32_to_f16(min) && lc_f32_to_f16(min) == 0xbc00);
    for (int j = 0; j < 16; j++) {
        int q0 = LC_MIN(15, (int)((x[j] - min) * id + 0.5f));
        int q1 = LC_MIN(15, (int)((x[j + 16] - min) * id + 0.5f));
        CHECK(b[4 + j] == (q0 | (q1 << 4)));
    }
    CHECK((b[4] & 15) == 0 && (b[4 + 15] >> 4) == 15);
    return T_PASS;
}

/* ---- round trips --------------------------------------------------- */
/* quantizes x[n] and returns the dequantized copy in y */
static void round_trip(int type, const float *x, float *y, int n) {
    size_t nbytes = 0;
    lc_type_row_bytes(type, n, &nbytes);
    uint8_t *q = malloc(nbytes);
    if (!q) abort();
    lc_quant_row(type, x, q, n);
    lc_dequant_row(type, q, y, n);
    free(q);
}

static double rel_rms(const float *x, const float *y, int n) {
    double se = 0, sx = 0;
    for (int i = 0; i < n; i++) se += (double)(x[i] - y[i]) * (x[i] - y[i]), sx += (double)x[i] * x[i];
    return sx > 0 ? sqrt(se / sx) : sqrt(se);
}

static int test_round_trip_gaussian(void) {
    enum { N = 256 * 64 };
    static float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = rng_gauss() * 0.02f;
    round_trip(LC_TYPE_F32, x, y, N);
    CHECK(memcmp(x, y, sizeof x) == 0);
    round_trip(LC_TYPE_F16, x, y, N);
    for (int i = 0; i < N; i++) CHECK(fabsf(x[i] - y[i]) <= fabsf(x[i]) * 0x1p-11f + 0x1p-25f);
    round_trip(LC_TYPE_BF16, x, y, N);
    for (int i = 0; i < N; i++) CHECK(fabsf(x[i] - y[i]) <= fabsf(x[i]) * 0x1p-8f);
    /* block formats: per-element bounds from the block's range */
    static const int blk_types[] = { LC_TYPE_Q8_0, LC_TYPE_Q4_0, LC_TYPE_Q4_1 };
    for (size_t t = 0; t < LC_ARRAY_LEN(blk_types); t++) {
        int type = blk_types[t];
        round_trip(type, x, y, N);
        for (int b = 0; b < N / 32; b++) {
            const float *xb = x + 32 * b, *yb = y + 32 * b;
            float amax = 0, lo = xb[0], hi = xb[0];
            for (int j = 0; j < 32; j++)
                amax = LC_MAX(amax, fabsf(xb[j])), lo = LC_MIN(lo, xb[j]), hi = LC_MAX(hi, xb[j]);
            float bound = type == LC_TYPE_Q8_0 ? amax * (0.5f / 127 + 1.0f / 1024)
                        : type == LC_TYPE_Q4_0 ? amax * (1.0f / 8 + 1.0f / 1024)
                                               : (hi - lo) * (0.5f / 15 + 1.0f / 512) + fabsf(lo) / 1024;
            for (int j = 0; j < 32; j++)
                CHECKF(fabsf(xb[j] - yb[j]) <= bound, "%s block %d elem %d: %g vs %g (bound %g)",
                       lc_type_name(type), b, j, xb[j], yb[j], bound);
        }
    }
    double r8 = rel_rms(x, (round_trip(LC_TYPE_Q8_0, x, y, N), y), N);
    double r40 = rel_rms(x, (round_trip(LC_TYPE_Q4_0, x, y, N), y), N);
    double r41 = rel_rms(x, (round_trip(LC_TYPE_Q4_1, x, y, N), y), N);
    double r4k = rel_rms(x, (round_trip(LC_TYPE_Q4_K, x, y, N), y), N);
    double r6k = rel_rms(x, (round_trip(LC_TYPE_Q6_K, x, y, N), y), N);
    if (getenv("LC_TEST_VERBOSE"))
        fprintf(stderr, "  rel rms: q8_0 %.4f q4_0 %.4f q4_1 %.4f q4_k %.4f q6_k %.4f\n", r8, r40, r41, r4k,
                r6k);
    /* a 4-bit grid over 32 Gaussian samples cannot do better than ~7% */
    CHECKF(r8 < 0.01, "q8_0 %g", r8);
    CHECKF(r40 < 0.12, "q4_0 %g", r40);
    CHECKF(r41 < 0.10, "q4_1 %g", r41);
    CHECKF(r4k < 0.085 && r4k < r41, "q4_k %g (q4_1 %g)", r4k, r41);
    CHECKF(r6k < 0.02, "q6_k %g", r6k);
    return T_PASS;
}

/* awkward blocks for the K-quant searches: zeros, constants, one sign, mixed ranges */
static int test_round_trip_kquant_edges(void) {
    static float x[256], y[256];
    static const int kt[] = { LC_TYPE_Q4_K, LC_TYPE_Q6_K };
    for (size_t t = 0; t < LC_ARRAY_LEN(kt); t++) {
        int type = kt[t];
        const char *nm = lc_type_name(type);
        memset(x, 0, sizeof x);
        round_trip(type, x, y, 256);
        for (int i = 0; i < 256; i++) CHECKF(y[i] == 0, "%s zeros", nm);
        for (int i = 0; i < 256; i++) x[i] = 0.75f;
        round_trip(type, x, y, 256);
        for (int i = 0; i < 256; i++) CHECKF(fabsf(y[i] - 0.75f) < 0.75f * 0.01f, "%s const: %g", nm, y[i]);
        for (int i = 0; i < 256; i++) x[i] = -0.3f;
        round_trip(type, x, y, 256);
        for (int i = 0; i < 256; i++) CHECKF(fabsf(y[i] + 0.3f) < 0.3f * 0.01f, "%s neg const: %g", nm, y[i]);
        for (int i = 0; i < 256; i++) x[i] = 1.0f + fabsf(rng_gauss());    /* all positive */
        round_trip(type, x, y, 256);
        CHECKF(rel_rms(x, y, 256) < (type == LC_TYPE_Q4_K ? 0.06 : 0.02), "%s positive %g", nm,
               rel_rms(x, y, 256));
        for (int i = 0; i < 256; i++) x[i] = -2.0f - fabsf(rng_gauss());   /* all negative */
        round_trip(type, x, y, 256);
        CHECKF(rel_rms(x, y, 256) < (type == LC_TYPE_Q4_K ? 0.06 : 0.02), "%s negative %g", nm,
               rel_rms(x, y, 256));
        /* sub-blocks of very different magnitude: the small ones must not vanish */
        for (int i = 0; i < 256; i++) x[i] = rng_gauss() * ((i / 32) % 2 ? 1.0f : 0.01f);
        round_trip(type, x, y, 256);
        for (int s = 0; s < 8; s++) {
            double r = rel_rms(x + 32 * s, y + 32 * s, 32);
            double lim = (type == LC_TYPE_Q4_K ? 0.15 : 0.03) * (s % 2 ? 1 : 3);
            CHECKF(r < lim, "%s sub-block %d rel rms %g", nm, s, r);
        }
        /* one huge outlier */
        for (int i = 0; i < 256; i++) x[i] = rng_gauss();
        x[77] = 100;
        round_trip(type, x, y, 256);
        CHECKF(fabsf(y[77] - 100) < 100 * 0.01f, "%s outlier %g", nm, y[77]);
        for (int i = 0; i < 256; i++) CHECK(isfinite(y[i]));
        /* non-finite weights spoil their own super-block only (and run clean under UBSan) */
        static float x2[768], y2[768];
        for (int i = 0; i < 768; i++) x2[i] = rng_gauss();
        x2[3] = NAN, x2[300] = INFINITY, x2[301] = -INFINITY;
        round_trip(type, x2, y2, 768);
        CHECKF(rel_rms(x2 + 512, y2 + 512, 256) < (type == LC_TYPE_Q4_K ? 0.085 : 0.02), "%s after non-finite",
               nm);
    }
    return T_PASS;
}

/* heavy tails (Laplace, with rare outliers) as in real weight matrices: K-quants keep their edge */
static int test_round_trip_kquant_heavy_tails(void) {
    enum { N = 256 * 32 };
    static float x[N], y[N];
    for (int i = 0; i < N; i++) {
        double u = rng_unif() - 0.5;
        x[i] = (float)(u < 0 ? log(1 + 2 * u) : -log(1 - 2 * u)) * 0.01f;
        if (rng_next() % 512 == 0) x[i] *= 12;
    }
    double r41 = rel_rms(x, (round_trip(LC_TYPE_Q4_1, x, y, N), y), N);
    double r4k = rel_rms(x, (round_trip(LC_TYPE_Q4_K, x, y, N), y), N);
    double r6k = rel_rms(x, (round_trip(LC_TYPE_Q6_K, x, y, N), y), N);
    if (getenv("LC_TEST_VERBOSE")) fprintf(stderr, "  rel rms: q4_1 %.4f q4_k %.4f q6_k %.4f\n", r41, r4k, r6k);
    CHECKF(r4k < r41 * 0.95, "q4_k %g (q4_1 %g)", r4k, r41);
    CHECKF(r6k < r4k * 0.3, "q6_k %g (q4_k %g)", r6k, r4k);
    return T_PASS;
}

/* ---- the shared `quant` GGUF files ----------------------------------- */
static int64_t t_numel(const lc_tensor *t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }

/* max |deq - ref| over a block must stay under bound_fraction x the block's max |ref|
 * (per superblock of 256 for K-quants); also reports the tensor's relative RMS */
static int compare_file(const char *file, int type, const lc_gguf *ref, double bound_frac, double rms_lim,
                        double *rms_out) {
    const char *path = t_shared(file);
    if (!path) return T_SKIP;
    lc_gguf g;
    CHECKF(lc_gguf_open(path, &g) == LC_OK, "%s: %s", path, lc_last_error());
    int n_checked = 0;
    double se_all = 0, sx_all = 0;
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const lc_tensor *t = &g.tensors[i], *r = lc_gguf_tensor(ref, t->name);
        CHECKF(r && r->type == LC_TYPE_F32 && t_numel(r) == t_numel(t), "%s: %s", file, t->name);
        if (t->n_dims < 2) {
            CHECKF(t->type == LC_TYPE_F32, "%s: 1-D %s", file, t->name);
            continue;
        }
        CHECKF(t->type == type, "%s: %s has type %s", file, t->name, lc_type_name(t->type));
        int64_t n = t_numel(t), blk = lc_type_block_size(type) == 256 ? 256 : 32;
        float *y = malloc((size_t)n * sizeof *y), *x = malloc((size_t)n * sizeof *x);
        CHECK(x && y);
        memcpy(x, r->data, (size_t)n * sizeof *x);
        /* dequantize row by row, as the model code does */
        size_t row_bytes;
        CHECK(lc_type_row_bytes(type, t->ne[0], &row_bytes));
        for (int64_t row = 0; row < n / t->ne[0]; row++)
            lc_dequant_row(type, (const uint8_t *)t->data + row * row_bytes, y + row * t->ne[0], t->ne[0]);
        double se = 0, sx = 0;
        int bad = -1;
        for (int64_t b = 0; b < n / blk && bad < 0; b++) {
            float amax = 0;
            for (int64_t j = b * blk; j < (b + 1) * blk; j++) amax = LC_MAX(amax, fabsf(x[j]));
            for (int64_t j = b * blk; j < (b + 1) * blk; j++) {
                double e = fabs((double)x[j] - y[j]);
                se += e * e, sx += (double)x[j] * x[j];
                if (e > bound_frac * amax + 1e-30) bad = (int)j;
            }
        }
        CHECKF(bad < 0, "%s: %s elem %d: %g vs %g", file, t->name, bad, x[bad], y[bad]);
        CHECKF(sqrt(se / sx) < rms_lim, "%s: %s rel rms %g", file, t->name, sqrt(se / sx));
        se_all += se, sx_all += sx;
        free(x), free(y);
        n_checked++;
    }
    lc_gguf_close(&g);
    CHECK(n_checked == 16);   /* 2 layers x 7 matrices + token_embd + output */
    if (rms_out) *rms_out = sqrt(se_all / sx_all);
    return T_PASS;
}

static int test_gguf_files(void) {
    const char *p = t_shared("vectors/quant/model-f32.gguf");
    if (!p) return T_SKIP;
    lc_gguf ref;
    CHECKF(lc_gguf_open(p, &ref) == LC_OK, "%s: %s", p, lc_last_error());
    static const struct { const char *file; int type; double frac, rms; } cases[] = {
        { "vectors/quant/model-f16.gguf", LC_TYPE_F16, 1.0 / 2048, 0.0005 },
        { "vectors/quant/model-bf16.gguf", LC_TYPE_BF16, 1.0 / 256, 0.004 },
        { "vectors/quant/model-q8_0.gguf", LC_TYPE_Q8_0, 0.5 / 127 + 1.0 / 1024, 0.01 },
        { "vectors/quant/model-q4_0.gguf", LC_TYPE_Q4_0, 1.0 / 8 + 1.0 / 1024, 0.13 },
        { "vectors/quant/model-q4_1.gguf", LC_TYPE_Q4_1, 1.0 / 15 + 1.0 / 512, 0.11 },
        { "vectors/quant/model-q4_k.gguf", LC_TYPE_Q4_K, 0.10, 0.08 },
        { "vectors/quant/model-q6_k.gguf", LC_TYPE_Q6_K, 0.02, 0.02 },
    };
    int rc = T_PASS;
    for (size_t i = 0; i < LC_ARRAY_LEN(cases) && rc != T_FAIL; i++) {
        double rms = 0;
        int r = compare_file(cases[i].file, cases[i].type, &ref, cases[i].frac, cases[i].rms, &rms);
        if (r == T_FAIL) rc = T_FAIL;
        else if (getenv("LC_TEST_VERBOSE"))
            fprintf(stderr, "  %s: rel rms %.5f\n", cases[i].file, rms);
    }
    lc_gguf_close(&ref);
    return rc;
}

/* our Q8_0/Q4_0/Q4_1 quantizers reproduce the files byte for byte (they were written
 * with ggml's reference rules); our Q4_K/Q6_K are at least as accurate as llama.cpp's */
static int test_gguf_requant(void) {
    const char *p = t_shared("vectors/quant/model-f32.gguf");
    if (!p) return T_SKIP;
    lc_gguf ref;
    CHECKF(lc_gguf_open(p, &ref) == LC_OK, "%s: %s", p, lc_last_error());
    static const struct { const char *file; int type; } cases[] = {
        { "vectors/quant/model-f16.gguf", LC_TYPE_F16 },   { "vectors/quant/model-bf16.gguf", LC_TYPE_BF16 },
        { "vectors/quant/model-q8_0.gguf", LC_TYPE_Q8_0 }, { "vectors/quant/model-q4_0.gguf", LC_TYPE_Q4_0 },
        { "vectors/quant/model-q4_1.gguf", LC_TYPE_Q4_1 }, { "vectors/quant/model-q4_k.gguf", LC_TYPE_Q4_K },
        { "vectors/quant/model-q6_k.gguf", LC_TYPE_Q6_K },
    };
    for (size_t c = 0; c < LC_ARRAY_LEN(cases); c++) {
        const char *path = t_shared(cases[c].file);
        if (!path) continue;
        lc_gguf g;
        CHECKF(lc_gguf_open(path, &g) == LC_OK, "%s: %s", path, lc_last_error());
        int type = cases[c].type;
        bool exact = type != LC_TYPE_Q4_K && type != LC_TYPE_Q6_K;
        double se_ours = 0, se_file = 0;
        for (int64_t i = 0; i < g.n_tensors; i++) {
            const lc_tensor *t = &g.tensors[i], *r = lc_gguf_tensor(&ref, t->name);
            CHECK(r);
            if (t->n_dims < 2) continue;
            int64_t n = t_numel(t);
            size_t nbytes;
            CHECK(lc_type_row_bytes(type, n, &nbytes));
            uint8_t *q = malloc(nbytes);
            float *y = malloc((size_t)n * sizeof *y), *x = malloc((size_t)n * sizeof *x);
            CHECK(q && x && y);
            memcpy(x, r->data, (size_t)n * sizeof *x);
            lc_quant_row(type, x, q, n);
            if (exact) {
                CHECKF(memcmp(q, t->data, nbytes) == 0, "%s: %s differs from our quantizer", cases[c].file,
                       t->name);
            } else {
                lc_dequant_row(type, q, y, n);
                for (int64_t j = 0; j < n; j++) se_ours += (double)(x[j] - y[j]) * (x[j] - y[j]);
                lc_dequant_row(type, t->data, y, n);
                for (int64_t j = 0; j < n; j++) se_file += (double)(x[j] - y[j]) * (x[j] - y[j]);
            }
            free(q), free(x), free(y);
        }
        lc_gguf_close(&g);
        if (!exact) {
            if (getenv("LC_TEST_VERBOSE"))
                fprintf(stderr, "  %s: our sq err / llama.cpp's = %.4f\n", lc_type_name(type), se_ours / se_file);
            CHECKF(se_ours <= se_file * 1.02, "%s: ours %g vs llama.cpp %g", lc_type_name(type), se_ours, se_file);
        }
    }
    lc_gguf_close(&ref);
    return T_PASS;
}

static int test_type_table(void) {
    size_t nb = 0;
    CHECK(lc_type_row_bytes(LC_TYPE_Q4_K, 4096, &nb) && nb == 16 * 144);
    CHECK(lc_type_row_bytes(LC_TYPE_Q6_K, 256, &nb) && nb == 210);
    CHECK(lc_type_row_bytes(LC_TYPE_Q8_0, 64, &nb) && nb == 68);
    CHECK(!lc_type_row_bytes(LC_TYPE_Q4_0, 33, &nb));
    CHECK(!lc_type_row_bytes(LC_TYPE_Q8_0, INT64_MAX - 31, &nb) || nb / 34 == (size_t)(INT64_MAX / 32));
    CHECK(lc_type_supported(LC_TYPE_BF16) && !lc_type_supported(13) && !lc_type_supported(99));
    CHECK(strcmp(lc_type_name(LC_TYPE_Q6_K), "Q6_K") == 0 && strcmp(lc_type_name(99), "?") == 0);
    CHECK(f2u(1.0f) == 0x3f800000);
    return T_PASS;
}

const lc_test_case tests_quant[] = {
    { "quant_type_table", test_type_table },
    { "quant_f16_to_f32", test_f16_to_f32 },
    { "quant_f32_to_f16", test_f32_to_f16 },
    { "quant_bf16", test_bf16 },
    { "quant_dequant_float_types", test_dequant_float_types },
    { "quant_dequant_q8_0", test_dequant_q8_0 },
    { "quant_dequant_q4_0", test_dequant_q4_0 },
    { "quant_dequant_q4_1", test_dequant_q4_1 },
    { "quant_dequant_q4_k", test_dequant_q4_k },
    { "quant_dequant_q6_k", test_dequant_q6_k },
    { "quant_q8_0_exact", test_quant_q8_0_exact },
    { "quant_q4_0_exact", test_quant_q4_0_exact },
    { "quant_q4_1_exact", test_quant_q4_1_exact },
    { "quant_round_trip_gaussian", test_round_trip_gaussian },
    { "quant_round_trip_kquant_edges", test_round_trip_kquant_edges },
    { "quant_round_trip_kquant_heavy_tails", test_round_trip_kquant_heavy_tails },
    { "quant_gguf_files", test_gguf_files },
    { "quant_gguf_requant", test_gguf_requant },
    { 0 },
};
