/* sampler.c - token sampling (penalties, greedy, top-k, temperature, top-p, min-p, seeded
 * draw) and stop-string matching for streamed text. Buffers are allocated once in
 * lc_sampler_new; lc_sampler_sample never allocates and sorts only the candidates it needs. */
#include "internal.h"

#include <math.h>
#include <time.h>
#include <unistd.h>

/* ---- random numbers: xoshiro256** seeded by splitmix64 ------------------ */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t s[4]) {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* uniform in [0, 1) from the top 53 bits */
static double rng_uniform(uint64_t s[4]) { return (double)(xoshiro_next(s) >> 11) * 0x1p-53; }

static void rng_seed(uint64_t s[4], uint64_t seed) {
    if (seed == UINT64_MAX) {   /* random: wall clock, monotonic clock and pid mixed */
        struct timespec ts = { 0 };
        timespec_get(&ts, TIME_UTC);
        uint64_t x = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
        seed = splitmix64(&x) ^ (uint64_t)(lc_time_s() * 1e9) ^ ((uint64_t)getpid() << 32);
    }
    for (int i = 0; i < 4; i++) s[i] = splitmix64(&seed);
}

/* ---- sampler state --------------------------------------------------- */
typedef struct cand {
    float logit;    /* after penalties */
    int32_t id;
} cand;

struct lc_sampler {
    lc_sampler_params p;
    int n_vocab;
    uint64_t rng[4];
    cand *c;             /* [n_vocab] candidates, rebuilt by every sample */
    double *e;           /* [n_vocab] exp((logit - max) / temperature) of c[i], by rank */
    /* penalty window: ids of the last repeat_last_n accepted tokens */
    int32_t *count;      /* [n_vocab] occurrences in the window */
    int32_t *slot;       /* [n_vocab] where an id with count > 0 sits in distinct[] */
    int32_t *distinct;   /* [n_vocab] ids with count > 0 */
    int n_distinct;
    int32_t *ring;       /* [repeat_last_n] window, oldest at ring_head (NULL: unbounded or off) */
    int ring_n, ring_head;
};

void lc_sampler_params_default(lc_sampler_params *p) {
    *p = (lc_sampler_params){
        .temperature = 0.6f,
        .top_k = 0,
        .top_p = 0.9f,
        .min_p = 0.0f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .freq_penalty = 0.0f,
        .presence_penalty = 0.0f,
        .seed = UINT64_MAX,
    };
}

void lc_sampler_free(lc_sampler *s) {
    if (!s) return;
    free(s->c);
    free(s->e);
    free(s->count);
    free(s->slot);
    free(s->distinct);
    free(s->ring);
    free(s);
}

int lc_sampler_new(const lc_sampler_params *p, int n_vocab, lc_sampler **out) {
    *out = NULL;
    lc_sampler_params def;
    if (!p) lc_sampler_params_default(&def), p = &def;
    if (n_vocab <= 0) return lc_fail(LC_ERR_ARG, "sampler: n_vocab %d", n_vocab);
    if (isnan(p->temperature) || isnan(p->top_p) || isnan(p->min_p) || isnan(p->freq_penalty) ||
        isnan(p->presence_penalty))
        return lc_fail(LC_ERR_ARG, "sampler: NaN parameter");
    if (!(p->repeat_penalty > 0) || isinf(p->repeat_penalty))
        return lc_fail(LC_ERR_ARG, "sampler: repeat_penalty must be > 0 (1 = off), got %g",
                       (double)p->repeat_penalty);
    if (p->repeat_last_n < -1)
        return lc_fail(LC_ERR_ARG, "sampler: repeat_last_n must be >= -1, got %d", p->repeat_last_n);
    lc_sampler *s = calloc(1, sizeof *s);
    if (!s) return lc_fail(LC_ERR_NOMEM, "sampler: no memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    size_t nv = (size_t)n_vocab;
    s->c = malloc(nv * sizeof *s->c);
    s->e = malloc(nv * sizeof *s->e);
    s->count = calloc(nv, sizeof *s->count);
    s->slot = malloc(nv * sizeof *s->slot);
    s->distinct = malloc(nv * sizeof *s->distinct);
    if (p->repeat_last_n > 0) s->ring = malloc((size_t)p->repeat_last_n * sizeof *s->ring);
    if (!s->c || !s->e || !s->count || !s->slot || !s->distinct || (p->repeat_last_n > 0 && !s->ring)) {
        lc_sampler_free(s);
        return lc_fail(LC_ERR_NOMEM, "sampler: no memory for %d candidates", n_vocab);
    }
    lc_sampler_reset(s);
    *out = s;
    return LC_OK;
}

void lc_sampler_reset(lc_sampler *s) {
    for (int i = 0; i < s->n_distinct; i++) s->count[s->distinct[i]] = 0;
    s->n_distinct = 0;
    s->ring_n = s->ring_head = 0;
    rng_seed(s->rng, s->p.seed);
}

/* ---- penalties --------------------------------------------------------- */
static void count_add(lc_sampler *s, int32_t id, int delta) {
    int32_t c = s->count[id];
    if (c == 0) {   /* newly present */
        s->slot[id] = s->n_distinct;
        s->distinct[s->n_distinct++] = id;
    }
    c = s->count[id] = c + delta;
    if (c == 0) {   /* gone: move the last distinct id into its slot */
        int32_t last = s->distinct[--s->n_distinct];
        s->distinct[s->slot[id]] = last;
        s->slot[last] = s->slot[id];
    }
}

void lc_sampler_accept(lc_sampler *s, int32_t id) {
    if (!s || id < 0 || id >= s->n_vocab || s->p.repeat_last_n == 0) return;
    if (s->ring) {
        int cap = s->p.repeat_last_n;
        if (s->ring_n == cap) {   /* evict the oldest */
            count_add(s, s->ring[s->ring_head], -1);
            s->ring[s->ring_head] = id;
            s->ring_head = (s->ring_head + 1) % cap;
        } else {
            s->ring[(s->ring_head + s->ring_n++) % cap] = id;
        }
    }
    if (s->count[id] < INT32_MAX) count_add(s, id, +1);
}

static void apply_penalties(lc_sampler *s) {
    const lc_sampler_params *p = &s->p;
    if (p->repeat_penalty == 1.0f && p->freq_penalty == 0.0f && p->presence_penalty == 0.0f) return;
    for (int i = 0; i < s->n_distinct; i++) {
        int32_t id = s->distinct[i], n = s->count[id];
        float l = s->c[id].logit;
        if (p->repeat_penalty != 1.0f) l = l <= 0 ? l * p->repeat_penalty : l / p->repeat_penalty;
        l -= (float)n * p->freq_penalty + p->presence_penalty;
        s->c[id].logit = l;
    }
}

/* ---- candidate ordering: higher logit first, lower id on ties ------------ */
static inline bool better(const cand *a, const cand *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static inline void swap_cand(cand *a, cand *b) {
    cand t = *a;
    *a = *b;
    *b = t;
}

/* min-heap of h[0..k) with the worst candidate at the root: restores from i down */
static void sift_down(cand *h, int k, int i) {
    for (;;) {
        int w = i, l = 2 * i + 1, r = l + 1;
        if (l < k && better(&h[w], &h[l])) w = l;
        if (r < k && better(&h[w], &h[r])) w = r;
        if (w == i) return;
        swap_cand(&h[i], &h[w]);
        i = w;
    }
}

/* best first, in place and without allocating (qsort may call malloc): heapsort */
static void heap_sort(cand *c, int n) {
    for (int i = n / 2 - 1; i >= 0; i--) sift_down(c, n, i);
    for (int end = n - 1; end > 0; end--) {   /* the worst goes last */
        swap_cand(&c[0], &c[end]);
        sift_down(c, end, 0);
    }
}

/* median of c[lo], c[mid], c[hi] moved to c[hi] */
static void pivot_to_hi(cand *c, int lo, int hi) {
    int mid = lo + (hi - lo) / 2;
    if (better(&c[mid], &c[lo])) swap_cand(&c[mid], &c[lo]);
    if (better(&c[hi], &c[lo])) swap_cand(&c[hi], &c[lo]);
    if (better(&c[mid], &c[hi])) swap_cand(&c[mid], &c[hi]);
}

/* c[lo..hi] around the pivot c[hi]: returns its final index, better ones before it */
static int partition(cand *c, int lo, int hi) {
    pivot_to_hi(c, lo, hi);
    cand piv = c[hi];
    int store = lo;
    for (int i = lo; i < hi; i++)
        if (better(&c[i], &piv)) swap_cand(&c[i], &c[store++]);
    swap_cand(&c[store], &c[hi]);
    return store;
}

/* introsort: quicksort, insertion sort for short ranges, heapsort when pivots go bad */
static void sort_cands(cand *c, int n, int depth) {
    while (n > 16) {
        if (depth-- <= 0) {
            heap_sort(c, n);
            return;
        }
        int p = partition(c, 0, n - 1);
        if (p < n - 1 - p) {   /* recurse into the smaller side, loop on the larger */
            sort_cands(c, p, depth);
            c += p + 1, n -= p + 1;
        } else {
            sort_cands(c + p + 1, n - p - 1, depth);
            n = p;
        }
    }
    for (int i = 1; i < n; i++) {
        cand x = c[i];
        int j = i;
        for (; j > 0 && better(&x, &c[j - 1]); j--) c[j] = c[j - 1];
        c[j] = x;
    }
}

/* reorders c[0..n) so that c[0..k) holds the k best (in any order); 0 < k < n.
 * Small k: one pass against a heap of the k best so far (mostly one compare per
 * candidate); large k: quickselect. */
static void select_best(cand *c, int n, int k) {
    if (k <= n / 16) {
        for (int i = k / 2 - 1; i >= 0; i--) sift_down(c, k, i);
        for (int j = k; j < n; j++) {
            if (c[j].logit < c[0].logit || !better(&c[j], &c[0])) continue;
            swap_cand(&c[j], &c[0]);
            sift_down(c, k, 0);
        }
        return;
    }
    int lo = 0, hi = n - 1, rounds = 0;
    while (lo < hi) {
        if (++rounds > 64) {   /* pathological pivots: finish with a sort */
            heap_sort(c + lo, hi - lo + 1);
            return;
        }
        int store = partition(c, lo, hi);
        if (store == k || store == k - 1) return;
        if (store < k) lo = store + 1;
        else hi = store - 1;
    }
}

/* makes c[0..want) the sorted best of c[0..n), given c[0..have) already is */
static int extend_sorted(cand *c, int n, int have, int want) {
    if (want > n) want = n;
    if (want <= have) return have;
    if (want < n) select_best(c + have, n - have, want - have);
    sort_cands(c + have, want - have, 64);
    return want;
}

/* ---- sampling ---------------------------------------------------------- */
/* lowest id among the largest logits (c in id order): the maximum with independent
 * accumulators (no NaN here), then its first occurrence */
static int32_t argmax(const cand *c, int n) {
    float m8[8] = { -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY };
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) m8[j] = c[i + j].logit > m8[j] ? c[i + j].logit : m8[j];
    float m = c[0].logit;
    for (; i < n; i++) m = c[i].logit > m ? c[i].logit : m;
    for (int j = 0; j < 8; j++) m = m8[j] > m ? m8[j] : m;
    i = 0;
    while (i < n - 1 && c[i].logit != m) i++;
    return c[i].id;
}

int32_t lc_sampler_sample(lc_sampler *s, const float *logits) {
    const lc_sampler_params *p = &s->p;
    int n = s->n_vocab;
    cand *c = s->c;
    for (int i = 0; i < n; i++) c[i] = (cand){ .logit = isnan(logits[i]) ? -INFINITY : logits[i], .id = i };
    apply_penalties(s);
    for (int i = 0; i < s->n_distinct; i++)
        if (isnan(c[s->distinct[i]].logit)) c[s->distinct[i]].logit = -INFINITY;

    int32_t top = argmax(c, n);   /* lowest id among the largest */
    float lmax = c[top].logit;
    if (!(p->temperature > 0) || p->top_k == 1 || !isfinite(lmax)) return top;

    /* top-k: c[0..k) sorted; the softmax runs over these k. Unnormalised probabilities
     * e = exp((logit - max) / T) are computed once per rank as the sorted prefix grows. */
    int k = p->top_k > 0 && p->top_k < n ? p->top_k : n, sorted = 0, n_e = 0;
    double temp = p->temperature, z = 0, *e = s->e;
    if (k < n) {
        sorted = extend_sorted(c, n, 0, k);
        for (; n_e < k; n_e++) z += e[n_e] = exp((double)(c[n_e].logit - lmax) / temp);
    } else {
        for (int i = 0; i < n; i++) z += exp((double)(c[i].logit - lmax) / temp);   /* id order */
    }

    /* top-p then min-p, both cut a prefix of the sorted order: find its length */
    bool use_p = p->top_p < 1.0f, use_min = p->min_p > 0.0f;
    int len = k, chunk = 64;
    double zf = z;   /* mass of the kept prefix */
    if (use_p || use_min) {
        double cum = 0, target = (double)p->top_p * z;
        len = 0;
        for (int i = 0; i < k; i++) {
            if (i == sorted) sorted = extend_sorted(c, k, sorted, i + chunk), chunk *= 4;
            if (i == n_e) e[n_e] = exp((double)(c[i].logit - lmax) / temp), n_e++;
            if (use_min && i > 0 && e[i] < (double)p->min_p) break;   /* e = p / p_max */
            cum += e[i];
            len = i + 1;
            if (use_p && cum >= target) break;
        }
        zf = cum;
    }

    /* draw: walk the kept candidates in sorted order */
    double u = rng_uniform(s->rng) * zf, cum = 0;
    for (int i = 0; i < len; i++) {
        if (i == sorted) sorted = extend_sorted(c, k, sorted, i + chunk), chunk *= 4;
        if (i == n_e) e[n_e] = exp((double)(c[i].logit - lmax) / temp), n_e++;
        cum += e[i];
        if (u < cum) return c[i].id;
    }
    /* rounding left u at the very top: the last kept candidate with any mass */
    for (int i = len - 1; i > 0; i--)
        if (e[i] > 0) return c[i].id;
    return c[0].id;
}

/* ---- stop strings ------------------------------------------------------ */
struct lc_stopper {
    char **stops;
    size_t *lens;
    int n;
    char *buf;      /* held bytes (a possible stop prefix) followed by the latest text */
    size_t len, cap, n_held;
    bool done;
};

void lc_stopper_free(lc_stopper *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) free(s->stops[i]);
    free(s->stops);
    free(s->lens);
    free(s->buf);
    free(s);
}

int lc_stopper_new(const char *const *stops, int n, lc_stopper **out) {
    *out = NULL;
    if (n < 0 || (n > 0 && !stops)) return lc_fail(LC_ERR_ARG, "stopper: bad stop list");
    lc_stopper *s = calloc(1, sizeof *s);
    if (!s) return lc_fail(LC_ERR_NOMEM, "stopper: no memory");
    if (n > 0) {
        s->stops = calloc((size_t)n, sizeof *s->stops);
        s->lens = calloc((size_t)n, sizeof *s->lens);
        if (!s->stops || !s->lens) goto nomem;
    }
    for (int i = 0; i < n; i++) {
        if (!stops[i] || !stops[i][0]) continue;   /* empty stop strings are ignored */
        size_t l = strlen(stops[i]);
        if (!(s->stops[s->n] = malloc(l))) goto nomem;
        memcpy(s->stops[s->n], stops[i], l);
        s->lens[s->n++] = l;
    }
    *out = s;
    return LC_OK;
nomem:
    lc_stopper_free(s);
    return lc_fail(LC_ERR_NOMEM, "stopper: no memory");
}

/* longest suffix of b[0..n) that is a proper prefix of some stop string */
static size_t held_suffix(const lc_stopper *s, const char *b, size_t n) {
    size_t best = 0;
    for (int i = 0; i < s->n; i++) {
        size_t k = LC_MIN(s->lens[i] - 1, n);
        for (; k > best; k--)
            if (memcmp(b + n - k, s->stops[i], k) == 0) break;
        if (k > best) best = k;
    }
    return best;
}

/* first occurrence of needle[0..m) in hay[0..n), m > 0 */
static const char *find(const char *hay, size_t n, const char *needle, size_t m) {
    for (size_t i = 0; i + m <= n; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0) return hay + i;
    return NULL;
}

/* drops the bytes emitted by the last call, keeping the held ones in front */
static void drop_emitted(lc_stopper *s) {
    if (s->n_held && s->len > s->n_held) memmove(s->buf, s->buf + s->len - s->n_held, s->n_held);
    s->len = s->n_held;
}

int lc_stopper_push(lc_stopper *s, const char *text, size_t len, const char **emit, size_t *n_emit) {
    *emit = "", *n_emit = 0;
    if (s->done) return 1;
    drop_emitted(s);
    size_t need;
    if (!lc_add_ok(s->len, len, &need)) return lc_fail(LC_ERR_NOMEM, "stopper: text too long");
    if (need > s->cap) {
        size_t cap = LC_MAX(need, s->cap * 2);
        char *nb = realloc(s->buf, LC_MAX(cap, 64));
        if (!nb) return lc_fail(LC_ERR_NOMEM, "stopper: no memory");
        s->buf = nb, s->cap = LC_MAX(cap, 64);
    }
    if (len) memcpy(s->buf + s->len, text, len);
    s->len = need;
    *emit = s->buf ? s->buf : "";

    /* the stop that completes first in the stream (earliest end, then earliest start) */
    size_t best_end = SIZE_MAX, best_start = 0;
    for (int i = 0; i < s->n; i++) {
        const char *m = find(s->buf, s->len, s->stops[i], s->lens[i]);
        if (!m) continue;
        size_t st = (size_t)(m - s->buf), end = st + s->lens[i];
        if (end < best_end || (end == best_end && st < best_start)) best_end = end, best_start = st;
    }
    if (best_end != SIZE_MAX) {
        s->done = true;
        *n_emit = best_start;
        s->n_held = 0;
        s->len = best_start;
        return 1;
    }
    s->n_held = held_suffix(s, s->buf, s->len);
    *n_emit = s->len - s->n_held;
    return 0;
}

void lc_stopper_flush(lc_stopper *s, const char **emit, size_t *n_emit) {
    *emit = "", *n_emit = 0;
    if (s->done || !s->n_held) return;
    drop_emitted(s);
    *emit = s->buf, *n_emit = s->len;
    s->n_held = 0;   /* the next push starts from an empty buffer */
}
