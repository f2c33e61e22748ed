/* test_sampler.c - sampling: greedy, top-k, top-p, min-p and temperature statistics,
 * penalty arithmetic, seeding, agreement with a full-sort reference on large vocabularies,
 * and stop strings split across pushes. */
#include "internal.h"
#include "test.h"

#include <math.h>

/* ---- helpers ------------------------------------------------------------ */
static lc_sampler *mk(float temp, int top_k, float top_p, float min_p, uint64_t seed, int n_vocab) {
    lc_sampler_params p;
    lc_sampler_params_default(&p);
    p.temperature = temp, p.top_k = top_k, p.top_p = top_p, p.min_p = min_p, p.seed = seed;
    lc_sampler *s = NULL;
    if (lc_sampler_new(&p, n_vocab, &s) != LC_OK) return NULL;
    return s;
}

/* test-side copy of the sampler's generator (splitmix64-seeded xoshiro256**): pins the
 * exact random stream, so the same seed gives the same tokens on every platform */
typedef struct { uint64_t s[4]; } ref_rng;
static uint64_t ref_splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static void ref_seed(ref_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = ref_splitmix(&seed);
}
static uint64_t ref_next(ref_rng *r) {
    uint64_t *s = r->s, x = s[1] * 5, res = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return res;
}
static double ref_unif(ref_rng *r) { return (double)(ref_next(r) >> 11) * 0x1p-53; }
static float ref_gauss(ref_rng *r) {
    return (float)(sqrt(-2 * log(1 - ref_unif(r))) * cos(6.283185307179586 * ref_unif(r)));
}

/* counts n draws of s on logits into cnt[n_vocab] */
static void draw_counts(lc_sampler *s, const float *logits, int n_vocab, int n, int *cnt) {
    memset(cnt, 0, (size_t)n_vocab * sizeof *cnt);
    for (int i = 0; i < n; i++) {
        int32_t t = lc_sampler_sample(s, logits);
        if (t >= 0 && t < n_vocab) cnt[t]++;
    }
}

/* |count - n p| within k standard deviations of a binomial */
static bool within_sigma(int count, int n, double p, double k) {
    double sd = sqrt(n * p * (1 - p));
    return fabs(count - n * p) <= k * sd + 1e-9;
}

/* ---- parameters ---------------------------------------------------------- */
static int test_params(void) {
    lc_sampler_params p;
    lc_sampler_params_default(&p);
    CHECK(p.temperature == 0.6f && p.top_k == 0 && p.top_p == 0.9f && p.min_p == 0.0f);
    CHECK(p.repeat_penalty == 1.0f && p.repeat_last_n == 64 && p.freq_penalty == 0 && p.presence_penalty == 0);
    CHECK(p.seed == UINT64_MAX);
    lc_sampler *s = (lc_sampler *)1;
    CHECK(lc_sampler_new(&p, 0, &s) == LC_ERR_ARG && s == NULL);
    p.repeat_penalty = 0;
    CHECK(lc_sampler_new(&p, 10, &s) == LC_ERR_ARG);
    lc_sampler_params_default(&p);
    p.temperature = NAN;
    CHECK(lc_sampler_new(&p, 10, &s) == LC_ERR_ARG);
    lc_sampler_params_default(&p);
    p.repeat_last_n = -2;
    CHECK(lc_sampler_new(&p, 10, &s) == LC_ERR_ARG);
    CHECK(lc_sampler_new(NULL, 10, &s) == LC_OK && s);   /* NULL: defaults */
    lc_sampler_free(s);
    lc_sampler_free(NULL);
    return T_PASS;
}

/* ---- greedy ---------------------------------------------------------------- */
static int test_greedy(void) {
    lc_sampler *s = mk(0.0f, 0, 0.9f, 0, 1, 6);
    CHECK(s);
    CHECK(lc_sampler_sample(s, (const float[]){ 0.1f, 3.0f, -2.0f, 2.9f, 0.0f, 1.0f }) == 1);
    CHECK(lc_sampler_sample(s, (const float[]){ 0.1f, 3.0f, -2.0f, 3.0f, 0.0f, 3.0f }) == 1);   /* tie: lowest id */
    CHECK(lc_sampler_sample(s, (const float[]){ NAN, -1.0f, NAN, -0.5f, -INFINITY, -3.0f }) == 3);
    CHECK(lc_sampler_sample(s, (const float[]){ -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY,
                                                -INFINITY }) == 0);
    CHECK(lc_sampler_sample(s, (const float[]){ 0, 0, INFINITY, 5, INFINITY, 0 }) == 2);
    lc_sampler_free(s);
    /* negative temperature is greedy too; so is any temperature with non-finite maxima */
    s = mk(-1.0f, 0, 1.0f, 0, 1, 3);
    CHECK(s && lc_sampler_sample(s, (const float[]){ 1, 2, 1.5f }) == 1);
    lc_sampler_free(s);
    s = mk(1.0f, 0, 1.0f, 0, 1, 3);
    CHECK(s && lc_sampler_sample(s, (const float[]){ 1, INFINITY, 1.5f }) == 1);
    CHECK(lc_sampler_sample(s, (const float[]){ NAN, NAN, NAN }) == 0);
    lc_sampler_free(s);
    return T_PASS;
}

static int test_top_k1_is_greedy(void) {
    enum { V = 1000 };
    static float l[V];
    ref_rng r;
    ref_seed(&r, 7);
    static const float temps[] = { 0.1f, 1.0f, 5.0f, 100.0f };
    for (size_t t = 0; t < LC_ARRAY_LEN(temps); t++) {
        lc_sampler *s = mk(temps[t], 1, 0.5f, 0.1f, 1234 + t, V), *g = mk(0, 0, 1, 0, 1, V);
        CHECK(s && g);
        for (int it = 0; it < 50; it++) {
            for (int i = 0; i < V; i++) l[i] = ref_gauss(&r);
            if (it % 5 == 0) l[V - 1] = l[it], l[it + 1] = l[it];   /* ties */
            int32_t a = lc_sampler_sample(s, l), b = lc_sampler_sample(g, l);
            CHECKF(a == b, "T %g: %d vs %d", temps[t], a, b);
        }
        lc_sampler_free(s);
        lc_sampler_free(g);
    }
    return T_PASS;
}

/* ---- the truncations, statistically ------------------------------------------ */
static int test_top_p_cuts_tail(void) {
    static const double pr[6] = { 0.5, 0.3, 0.1, 0.05, 0.03, 0.02 };
    float l[6];
    for (int i = 0; i < 6; i++) l[i] = (float)log(pr[i]) + 3.0f;
    lc_sampler *s = mk(1.0f, 0, 0.75f, 0, 99, 6);   /* 0.5 < 0.75 <= 0.8: keeps 2 */
    CHECK(s);
    enum { N = 20000 };
    int cnt[6];
    draw_counts(s, l, 6, N, cnt);
    lc_sampler_free(s);
    int n_kept = 0;
    for (int i = 0; i < 6; i++) n_kept += cnt[i] > 0;
    CHECKF(n_kept == 2 && cnt[0] + cnt[1] == N, "kept %d", n_kept);
    CHECKF(within_sigma(cnt[0], N, 0.625, 3), "cnt0 %d", cnt[0]);
    CHECKF(within_sigma(cnt[1], N, 0.375, 3), "cnt1 %d", cnt[1]);
    /* top_p 0 keeps only the most likely token */
    s = mk(1.0f, 0, 0.0f, 0, 5, 6);
    CHECK(s);
    draw_counts(s, l, 6, 1000, cnt);
    CHECK(cnt[0] == 1000);
    lc_sampler_free(s);
    return T_PASS;
}

static int test_min_p(void) {
    static const double pr[5] = { 0.1, 0.4, 0.3, 0.15, 0.05 };
    float l[5];
    for (int i = 0; i < 5; i++) l[i] = (float)log(pr[i]);
    lc_sampler *s = mk(1.0f, 0, 1.0f, 0.45f, 3, 5);   /* keeps p >= 0.18: ids 1, 2 (0.3/0.4 = .75) */
    CHECK(s);
    enum { N = 20000 };
    int cnt[5];
    draw_counts(s, l, 5, N, cnt);
    lc_sampler_free(s);
    CHECKF(cnt[0] == 0 && cnt[3] == 0 && cnt[4] == 0, "%d %d %d", cnt[0], cnt[3], cnt[4]);
    CHECKF(within_sigma(cnt[1], N, 4.0 / 7, 3) && within_sigma(cnt[2], N, 3.0 / 7, 3), "%d %d", cnt[1], cnt[2]);
    /* min_p = 0.2: keeps 1, 2, 3 (0.15/0.4 = 0.375) and 0 (0.25), not 4 (0.125) */
    s = mk(1.0f, 0, 1.0f, 0.2f, 3, 5);
    CHECK(s);
    draw_counts(s, l, 5, N, cnt);
    lc_sampler_free(s);
    CHECKF(cnt[4] == 0 && cnt[0] > 0 && cnt[3] > 0, "%d %d %d", cnt[0], cnt[3], cnt[4]);
    CHECK(within_sigma(cnt[1], N, 0.4 / 0.95, 3) && within_sigma(cnt[0], N, 0.1 / 0.95, 3));
    /* combined with top_p: top_p keeps {1,2,3} (0.85 >= 0.8), min_p 0.45 then keeps {1,2} */
    s = mk(1.0f, 0, 0.8f, 0.45f, 3, 5);
    CHECK(s);
    draw_counts(s, l, 5, 2000, cnt);
    lc_sampler_free(s);
    CHECK(cnt[1] + cnt[2] == 2000 && cnt[1] > 0 && cnt[2] > 0);
    return T_PASS;
}

static int test_top_k(void) {
    const float l[6] = { 1.0f, 0.5f, 2.0f, 0.5f, -1.0f, 1.5f };
    lc_sampler *s = mk(1.0f, 3, 1.0f, 0, 11, 6);   /* keeps ids 2, 5, 0 */
    CHECK(s);
    enum { N = 30000 };
    int cnt[6];
    draw_counts(s, l, 6, N, cnt);
    lc_sampler_free(s);
    CHECK(cnt[1] == 0 && cnt[3] == 0 && cnt[4] == 0);
    double z = exp(1.0) + exp(2.0) + exp(1.5);
    CHECK(within_sigma(cnt[2], N, exp(2.0) / z, 3) && within_sigma(cnt[0], N, exp(1.0) / z, 3));
    /* top_k = 4 with a tie at the boundary: the lower id (1) is kept, 3 is not */
    s = mk(1.0f, 4, 1.0f, 0, 11, 6);
    CHECK(s);
    draw_counts(s, l, 6, N, cnt);
    lc_sampler_free(s);
    CHECK(cnt[1] > 0 && cnt[3] == 0 && cnt[4] == 0);
    return T_PASS;
}

static int test_temperature(void) {
    enum { V = 8, N = 60000 };
    const float l[V] = { 0.3f, -0.2f, 1.1f, 0.0f, -1.5f, 0.7f, 0.9f, -0.4f };
    static const float temps[] = { 0.7f, 1.0f, 2.0f };
    for (size_t t = 0; t < LC_ARRAY_LEN(temps); t++) {
        lc_sampler *s = mk(temps[t], 0, 1.0f, 0, 100 + t, V);
        CHECK(s);
        int cnt[V];
        draw_counts(s, l, V, N, cnt);
        lc_sampler_free(s);
        double z = 0, p[V], chi2 = 0;
        for (int i = 0; i < V; i++) z += p[i] = exp(l[i] / temps[t]);
        for (int i = 0; i < V; i++) {
            double e = N * p[i] / z;
            chi2 += (cnt[i] - e) * (cnt[i] - e) / e;
        }
        CHECKF(chi2 < 30, "T %g: chi2 %g (7 dof)", temps[t], chi2);   /* p ~ 1e-4 */
    }
    return T_PASS;
}

/* ---- penalties ----------------------------------------------------------- */
/* With greedy sampling, a probe token (higher id) whose logit is `v` wins exactly when
 * v > the penalised logit of token 0: pins the penalised value bit for bit. */
static int penalised_is(lc_sampler *s, float base, float want) {
    float l[4] = { base, -100, -100, want };   /* probe id 3 is never accepted */
    if (lc_sampler_sample(s, l) != 0) return 0;   /* tie -> lower id 0 */
    l[3] = nextafterf(want, INFINITY);
    if (lc_sampler_sample(s, l) != 3) return 0;
    return 1;
}

static int test_penalties(void) {
    lc_sampler_params p;
    lc_sampler_params_default(&p);
    p.temperature = 0, p.repeat_penalty = 1.3f, p.freq_penalty = 0.25f, p.presence_penalty = 0.5f;
    p.repeat_last_n = 4;
    lc_sampler *s;
    CHECK(lc_sampler_new(&p, 4, &s) == LC_OK);
    CHECK(penalised_is(s, 2.0f, 2.0f));   /* no history: unchanged */
    lc_sampler_accept(s, 0);
    lc_sampler_accept(s, 0);
    lc_sampler_accept(s, 2);
    /* count 2: positive logit divided, then 2*0.25 + 0.5 subtracted */
    CHECK(penalised_is(s, 2.0f, 2.0f / 1.3f - (2 * 0.25f + 0.5f)));
    CHECK(penalised_is(s, -0.7f, -0.7f * 1.3f - (2 * 0.25f + 0.5f)));   /* negative: multiplied */
    CHECK(penalised_is(s, 0.0f, 0.0f * 1.3f - (2 * 0.25f + 0.5f)));
    lc_sampler_accept(s, 1);
    lc_sampler_accept(s, 1);   /* window of 4: 0, 2, 1, 1 -> token 0 counted once */
    CHECK(penalised_is(s, 2.0f, 2.0f / 1.3f - (1 * 0.25f + 0.5f)));
    lc_sampler_accept(s, 2);   /* window: 2, 1, 1, 2 */
    CHECK(penalised_is(s, 2.0f, 2.0f));
    lc_sampler_accept(s, 99);   /* out of range ids are ignored */
    lc_sampler_accept(s, -1);
    CHECK(penalised_is(s, 2.0f, 2.0f));
    lc_sampler_reset(s);
    lc_sampler_accept(s, 0);
    CHECK(penalised_is(s, 2.0f, 2.0f / 1.3f - (0.25f + 0.5f)));
    lc_sampler_reset(s);
    CHECK(penalised_is(s, 2.0f, 2.0f));
    lc_sampler_free(s);

    /* -1: the whole history counts */
    p.repeat_last_n = -1, p.repeat_penalty = 1.0f;
    CHECK(lc_sampler_new(&p, 4, &s) == LC_OK);
    for (int i = 0; i < 100; i++) lc_sampler_accept(s, i % 2 ? 1 : 0);
    CHECK(penalised_is(s, 20.0f, 20.0f - (50 * 0.25f + 0.5f)));
    lc_sampler_free(s);
    /* 0: penalties off */
    p.repeat_last_n = 0;
    CHECK(lc_sampler_new(&p, 4, &s) == LC_OK);
    lc_sampler_accept(s, 0);
    CHECK(penalised_is(s, 2.0f, 2.0f));
    lc_sampler_free(s);

    /* the greedy outcome flips once the repeated token is penalised */
    lc_sampler_params_default(&p);
    p.temperature = 0, p.repeat_penalty = 1.5f;
    CHECK(lc_sampler_new(&p, 4, &s) == LC_OK);
    const float l[4] = { 0.5f, 3.0f, 2.5f, -1.0f };
    CHECK(lc_sampler_sample(s, l) == 1);
    lc_sampler_accept(s, 1);
    CHECK(lc_sampler_sample(s, l) == 2);   /* 3 / 1.5 = 2 < 2.5 */
    lc_sampler_accept(s, 2);
    CHECK(lc_sampler_sample(s, l) == 1);   /* 2 > 2.5 / 1.5 */
    lc_sampler_free(s);
    return T_PASS;
}

/* ---- seeds ---------------------------------------------------------------- */
static int test_seeds(void) {
    enum { V = 50, N = 64 };
    float l[V];
    for (int i = 0; i < V; i++) l[i] = (float)sin(i * 0.7) * 2;
    int32_t a[N], b[N], c[N];
    lc_sampler *s = mk(1.0f, 0, 1.0f, 0, 42, V), *t = mk(1.0f, 0, 1.0f, 0, 42, V), *u = mk(1.0f, 0, 1.0f, 0, 43, V);
    CHECK(s && t && u);
    for (int i = 0; i < N; i++) a[i] = lc_sampler_sample(s, l), b[i] = lc_sampler_sample(t, l);
    for (int i = 0; i < N; i++) c[i] = lc_sampler_sample(u, l);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    lc_sampler_reset(s);   /* a fixed seed restarts the same stream */
    for (int i = 0; i < N; i++) b[i] = lc_sampler_sample(s, l);
    CHECK(memcmp(a, b, sizeof a) == 0);
    /* golden: the generator is part of the contract (same tokens on every platform) */
    static const int32_t golden[8] = { 38, 3, 37, 27, 33, 10, 28, 22 };
    if (getenv("LC_TEST_VERBOSE")) {
        for (int i = 0; i < 8; i++) fprintf(stderr, "%d, ", a[i]);
        fprintf(stderr, "\n");
    }
    CHECK(memcmp(a, golden, sizeof golden) == 0);
    lc_sampler_free(s), lc_sampler_free(t), lc_sampler_free(u);
    /* UINT64_MAX: random seeds, two samplers should differ */
    s = mk(1.0f, 0, 1.0f, 0, UINT64_MAX, V);
    t = mk(1.0f, 0, 1.0f, 0, UINT64_MAX, V);
    CHECK(s && t);
    for (int i = 0; i < N; i++) a[i] = lc_sampler_sample(s, l), b[i] = lc_sampler_sample(t, l);
    CHECK(memcmp(a, b, sizeof a) != 0);
    lc_sampler_free(s), lc_sampler_free(t);
    return T_PASS;
}

/* ---- agreement with a full sort ------------------------------------------- */
typedef struct { float l; int32_t id; } ref_cand;
static int ref_cmp(const void *pa, const void *pb) {
    const ref_cand *a = pa, *b = pb;
    if (a->l != b->l) return a->l > b->l ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* the definition: sort everything, top-k, softmax(l/T), top-p prefix, min-p, draw */
static int32_t ref_sample(ref_rng *r, const float *logits, int n, float temp, int top_k, float top_p, float min_p,
                          ref_cand *c, double *e) {
    for (int i = 0; i < n; i++) c[i] = (ref_cand){ logits[i], i };
    qsort(c, (size_t)n, sizeof *c, ref_cmp);
    if (temp <= 0 || top_k == 1) return c[0].id;
    int k = top_k > 0 && top_k < n ? top_k : n;
    double z = 0;
    for (int i = 0; i < k; i++) z += e[i] = exp((double)(c[i].l - c[0].l) / temp);
    int len = k;
    double zf = z;
    if (top_p < 1 || min_p > 0) {
        double cum = 0;
        len = 0;
        for (int i = 0; i < k; i++) {
            if (min_p > 0 && i > 0 && e[i] < min_p) break;
            cum += e[i];
            len = i + 1;
            if (top_p < 1 && cum >= top_p * z) break;
        }
        zf = cum;
    }
    double u = ref_unif(r) * zf, cum = 0;
    for (int i = 0; i < len; i++)
        if (u < (cum += e[i])) return c[i].id;
    return c[len - 1].id;
}

static int test_matches_full_sort(void) {
    static const int sizes[] = { 7, 300, 128256 };
    static const struct { float t; int k; float p, m; } ps[] = {
        { 0.6f, 0, 0.9f, 0 },  { 1.0f, 0, 1.0f, 0 },    { 0.8f, 40, 0.95f, 0.05f }, { 1.5f, 0, 0.5f, 0 },
        { 1.0f, 0, 1.0f, 0.1f }, { 0.7f, 1000, 1.0f, 0 }, { 3.0f, 0, 0.99f, 0.001f }, { 1.0f, 5, 0.3f, 0 },
    };
    ref_cand *c = malloc(128256 * sizeof *c);
    double *e = malloc(128256 * sizeof *e);
    float *l = malloc(128256 * sizeof *l);
    CHECK(c && e && l);
    ref_rng gen;
    ref_seed(&gen, 2024);
    for (size_t si = 0; si < LC_ARRAY_LEN(sizes); si++) {
        int n = sizes[si], n_draws = n > 1000 ? 10 : 60;
        for (size_t pi = 0; pi < LC_ARRAY_LEN(ps); pi++) {
            uint64_t seed = 1000 * si + pi;
            lc_sampler *s = mk(ps[pi].t, ps[pi].k, ps[pi].p, ps[pi].m, seed, n);
            CHECK(s);
            ref_rng r;
            ref_seed(&r, seed);
            for (int d = 0; d < n_draws; d++) {
                /* peaked, flat, heavily tied, ascending (sorted input) and all-equal logits */
                for (int i = 0; i < n; i++) {
                    float g = ref_gauss(&gen);
                    l[i] = d % 5 == 0 ? g * 4 : d % 5 == 1 ? g * 0.3f : d % 5 == 2 ? roundf(g * 2) * 0.5f
                         : d % 5 == 3 ? i * (10.0f / n) : 1.0f;
                }
                int32_t a = lc_sampler_sample(s, l);
                int32_t b = ref_sample(&r, l, n, ps[pi].t, ps[pi].k, ps[pi].p, ps[pi].m, c, e);
                CHECKF(a == b, "n %d params %zu draw %d: %d vs reference %d", n, pi, d, a, b);
            }
            lc_sampler_free(s);
        }
    }
    free(c), free(e), free(l);
    return T_PASS;
}

static int test_large_vocab_speed(void) {
    enum { V = 128256, N = 50 };
    float *l = malloc(V * sizeof *l);
    CHECK(l);
    ref_rng gen;
    ref_seed(&gen, 5);
    for (int i = 0; i < V; i++) l[i] = ref_gauss(&gen) * 1.5f;
    l[1234] = 25, l[99] = 24, l[128000] = 23.5f;   /* a peaked, LLM-like head */
    static const struct { float t; int k; float p; const char *what; } ps[] = {
        { 0.6f, 0, 0.9f, "defaults (peaked)" }, { 1.0f, 40, 1.0f, "top_k 40" }, { 1.0f, 0, 1.0f, "temperature only" },
    };
    for (size_t pi = 0; pi < LC_ARRAY_LEN(ps); pi++) {
        lc_sampler *s = mk(ps[pi].t, ps[pi].k, ps[pi].p, 0, 77, V);
        CHECK(s);
        lc_sampler_accept(s, 5);
        double t0 = lc_time_s();
        for (int i = 0; i < N; i++) {
            int32_t t = lc_sampler_sample(s, l);
            CHECK(t >= 0 && t < V);
        }
        double ms = (lc_time_s() - t0) * 1e3 / N;
        if (getenv("LC_TEST_VERBOSE")) fprintf(stderr, "  %s: %.3f ms/sample\n", ps[pi].what, ms);
        CHECKF(ms < 40, "%s: %.1f ms per sample", ps[pi].what, ms);   /* generous for sanitizers */
        lc_sampler_free(s);
    }
    /* flat logits and top_p 0.9 over the whole vocabulary: most of it must be sorted */
    for (int i = 0; i < V; i++) l[i] = ref_gauss(&gen) * 0.1f;
    lc_sampler *s = mk(1.0f, 0, 0.9f, 0, 78, V);
    CHECK(s);
    double t0 = lc_time_s();
    for (int i = 0; i < 5; i++) CHECK(lc_sampler_sample(s, l) < V);
    double ms = (lc_time_s() - t0) * 1e3 / 5;
    if (getenv("LC_TEST_VERBOSE")) fprintf(stderr, "  flat, top_p 0.9: %.3f ms/sample\n", ms);
    CHECKF(ms < 400, "flat: %.1f ms per sample", ms);
    lc_sampler_free(s);
    free(l);
    return T_PASS;
}

/* ---- stop strings ------------------------------------------------------- */
/* pushes the pieces, collects what is emitted (then the flush unless stopped), and
 * compares with want and with whether a stop was seen */
static int run_stopper(const char *const *stops, int n_stops, const char *const *pieces, int n_pieces,
                       const char *want, int want_stop) {
    lc_stopper *st;
    if (lc_stopper_new(stops, n_stops, &st) != LC_OK) return 0;
    char out[512];
    size_t n_out = 0;
    int stopped = 0;
    for (int i = 0; i < n_pieces && !stopped; i++) {
        const char *em;
        size_t ne;
        int r = lc_stopper_push(st, pieces[i], strlen(pieces[i]), &em, &ne);
        if (r < 0 || n_out + ne > sizeof out) {
            lc_stopper_free(st);
            return 0;
        }
        memcpy(out + n_out, em, ne), n_out += ne;
        stopped = r;
    }
    if (!stopped) {
        const char *em;
        size_t ne;
        lc_stopper_flush(st, &em, &ne);
        memcpy(out + n_out, em, ne), n_out += ne;
    }
    lc_stopper_free(st);
    if (stopped != want_stop || n_out != strlen(want) || memcmp(out, want, n_out) != 0) {
        fprintf(stderr, "  stopper: got '%.*s' (stop %d), want '%s' (stop %d)\n", (int)n_out, out, stopped, want,
                want_stop);
        return 0;
    }
    return 1;
}

#define PIECES(...) (const char *const[]){ __VA_ARGS__ }, (int)LC_ARRAY_LEN(((const char *const[]){ __VA_ARGS__ }))

static int test_stopper(void) {
    const char *const one[] = { "<|eot|>" };
    CHECK(run_stopper(one, 1, PIECES("Hello", " world<|eot|>tail"), "Hello world", 1));
    CHECK(run_stopper(one, 1, PIECES("Hi <", "|e", "o", "t|", ">", "more"), "Hi ", 1));   /* split */
    CHECK(run_stopper(one, 1, PIECES("a <|e", "x> b"), "a <|ex> b", 0));                 /* prefix, then no */
    CHECK(run_stopper(one, 1, PIECES("a <|eot", "|"), "a <|eot|", 0));                   /* flushed at the end */
    CHECK(run_stopper(one, 1, PIECES("<|eot|>"), "", 1));                                /* at the very start */
    CHECK(run_stopper(one, 1, PIECES("<", "|eot|>x"), "", 1));
    CHECK(run_stopper(one, 1, PIECES(""), "", 0));
    /* overlapping candidates: "aab" inside "aaab", one byte at a time */
    const char *const aab[] = { "aab" };
    CHECK(run_stopper(aab, 1, PIECES("a", "a", "a", "b", "c"), "a", 1));
    CHECK(run_stopper(aab, 1, PIECES("xaaaa", "ab"), "xaaa", 1));
    CHECK(run_stopper(aab, 1, PIECES("aa", "aa", "c"), "aaaac", 0));
    /* several stops: the one completed first in the stream wins, regardless of splits */
    const char *const many[] = { "", "abcd", "bc", "\n\nUser:", NULL };
    CHECK(run_stopper(many, 5, PIECES("xabcd"), "xa", 1));
    CHECK(run_stopper(many, 5, PIECES("xa", "b", "cd"), "xa", 1));
    CHECK(run_stopper(many, 5, PIECES("ok\n\nUs", "er: hi"), "ok", 1));
    CHECK(run_stopper(many, 5, PIECES("ok\n", "\nUse", "d"), "ok\n\nUsed", 0));
    const char *const same_end[] = { "bc", "abc" };   /* same end: the earlier start */
    CHECK(run_stopper(same_end, 2, PIECES("xab", "c"), "x", 1));
    /* no stop strings at all: everything passes straight through */
    CHECK(run_stopper(NULL, 0, PIECES("abc", "def"), "abcdef", 0));
    /* UTF-8: multi-byte stops and text; held bytes are whole characters */
    const char *const utf[] = { "—END", "日本" };
    CHECK(run_stopper(utf, 2, PIECES("café ", "—", "EN", "D"), "café ", 1));
    CHECK(run_stopper(utf, 2, PIECES("naïve —", "fin"), "naïve —fin", 0));
    CHECK(run_stopper(utf, 2, PIECES("東京", "日", "本語"), "東京", 1));
    /* held bytes are emitted only once it is clear they are not a stop */
    lc_stopper *st;
    CHECK(lc_stopper_new(one, 1, &st) == LC_OK);
    const char *em;
    size_t ne;
    CHECK(lc_stopper_push(st, "ab<|", 4, &em, &ne) == 0 && ne == 2 && memcmp(em, "ab", 2) == 0);
    CHECK(lc_stopper_push(st, "eo", 2, &em, &ne) == 0 && ne == 0);
    CHECK(lc_stopper_push(st, "X", 1, &em, &ne) == 0 && ne == 5 && memcmp(em, "<|eoX", 5) == 0);
    CHECK(lc_stopper_push(st, "<|eot|>", 7, &em, &ne) == 1 && ne == 0);
    CHECK(lc_stopper_push(st, "more", 4, &em, &ne) == 1 && ne == 0);   /* stays stopped */
    lc_stopper_flush(st, &em, &ne);
    CHECK(ne == 0);
    lc_stopper_free(st);
    lc_stopper_free(NULL);
    CHECK(lc_stopper_new(one, -1, &st) == LC_ERR_ARG);
    return T_PASS;
}

/* random texts and random splits: the output never depends on how text is split */
static int test_stopper_split_invariance(void) {
    const char *const stops[] = { "aba", "bb", "abab" };
    ref_rng r;
    ref_seed(&r, 31);
    for (int it = 0; it < 2000; it++) {
        char text[24];
        int n = 1 + (int)(ref_next(&r) % 20);
        for (int i = 0; i < n; i++) text[i] = "abc"[ref_next(&r) % 3];
        text[n] = 0;
        /* expected: cut before the earliest-ending occurrence (ties: earliest start) */
        int best_end = 1 << 30, best_start = 0;
        for (int k = 0; k < 3; k++) {
            const char *m = strstr(text, stops[k]);
            if (!m) continue;
            int st = (int)(m - text), end = st + (int)strlen(stops[k]);
            if (end < best_end || (end == best_end && st < best_start)) best_end = end, best_start = st;
        }
        char want[24];
        int want_stop = best_end != 1 << 30;
        snprintf(want, sizeof want, "%.*s", want_stop ? best_start : n, text);
        char pieces[24][24];
        const char *pp[24];
        int np = 0;
        for (int i = 0; i < n;) {
            int len = 1 + (int)(ref_next(&r) % 4);
            if (len > n - i) len = n - i;
            snprintf(pieces[np], sizeof pieces[np], "%.*s", len, text + i);
            pp[np] = pieces[np], np++, i += len;
        }
        CHECKF(run_stopper(stops, 3, pp, np, want, want_stop), "text '%s'", text);
    }
    return T_PASS;
}

const lc_test_case tests_sampler[] = {
    { "sampler_params", test_params },
    { "sampler_greedy", test_greedy },
    { "sampler_top_k1_is_greedy", test_top_k1_is_greedy },
    { "sampler_top_p_cuts_tail", test_top_p_cuts_tail },
    { "sampler_min_p", test_min_p },
    { "sampler_top_k", test_top_k },
    { "sampler_temperature", test_temperature },
    { "sampler_penalties", test_penalties },
    { "sampler_seeds", test_seeds },
    { "sampler_matches_full_sort", test_matches_full_sort },
    { "sampler_large_vocab_speed", test_large_vocab_speed },
    { "sampler_stopper", test_stopper },
    { "sampler_stopper_split_invariance", test_stopper_split_invariance },
    { 0 },
};
