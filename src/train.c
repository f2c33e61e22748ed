/* train.c - the training model (parameters, initialisation, loading from any model llamac
 * reads, LoRA adapters), AdamW with warmup + cosine decay, clipping and accumulation, the
 * training loop with validation, progress line, checkpoints and exact resume.
 * Reproducibility: one seed drives initialisation, data order and dropout; with the same
 * thread count a run is bit-identical, and resuming from a checkpoint continues the same
 * loss curve (optimizer moments, step, RNG and data cursor are saved). */
#include "train_int.h"

#include <cblas.h>
#include <math.h>
#include <strings.h>
#include <unistd.h>

/* ---- slots ------------------------------------------------------------------------------ */
static const char *const slot_names[LC_TR_K_N] = { "attn_norm", "attn_q",   "attn_k", "attn_v",  "attn_output",
                                                   "ffn_norm",  "ffn_gate", "ffn_up", "ffn_down" };
static const int lora_k[LC_LORA_N] = { LC_TR_K_Q, LC_TR_K_K, LC_TR_K_V, LC_TR_K_O,
                                       LC_TR_K_GATE, LC_TR_K_UP, LC_TR_K_DOWN };
static const char *const lora_short[LC_LORA_N] = { "q", "k", "v", "o", "gate", "up", "down" };

int lc_lora_slot_k(int mm) { return lora_k[mm]; }
const char *lc_lora_short_name(int mm) { return lora_short[mm]; }
const char *lc_tr_slot_gguf_name(int k) { return slot_names[k]; }

void lc_tr_slot_shape(const lc_tr_hp *hp, int s, int64_t *rows, int64_t *cols) {
    int64_t dim = hp->dim, qd = (int64_t)hp->n_heads * hp->head_dim, kvd = (int64_t)hp->n_kv_heads * hp->head_dim;
    int L = hp->n_layers;
    if (s == LC_TR_SLOT_EMBD || s == LC_TR_SLOT_OUT(L)) {
        *rows = hp->n_vocab;
        *cols = dim;
        return;
    }
    if (s == LC_TR_SLOT_ONORM(L)) {
        *rows = 1;
        *cols = dim;
        return;
    }
    switch ((s - 1) % LC_TR_K_N) {
    case LC_TR_K_Q: *rows = qd, *cols = dim; break;
    case LC_TR_K_K: case LC_TR_K_V: *rows = kvd, *cols = dim; break;
    case LC_TR_K_O: *rows = dim, *cols = qd; break;
    case LC_TR_K_GATE: case LC_TR_K_UP: *rows = hp->ffn_dim, *cols = dim; break;
    case LC_TR_K_DOWN: *rows = dim, *cols = hp->ffn_dim; break;
    default: *rows = 1, *cols = dim; break;
    }
}

void lc_tr_slot_name(const lc_tr_hp *hp, int s, char *buf, size_t cap) {
    int L = hp->n_layers;
    if (s == LC_TR_SLOT_EMBD) snprintf(buf, cap, "token_embd.weight");
    else if (s == LC_TR_SLOT_ONORM(L)) snprintf(buf, cap, "output_norm.weight");
    else if (s == LC_TR_SLOT_OUT(L)) snprintf(buf, cap, "output.weight");
    else snprintf(buf, cap, "blk.%d.%s.weight", (s - 1) / LC_TR_K_N, slot_names[(s - 1) % LC_TR_K_N]);
}

int lc_lora_parse_targets(const char *s) {
    if (!s || !*s) return -1;
    int mask = 0;
    const char *p = s;
    while (*p) {
        size_t n = strcspn(p, ",");
        int hit = 0;
        if (n == 3 && !strncmp(p, "all", 3)) mask |= (1 << LC_LORA_N) - 1, hit = 1;
        else if (n == 4 && !strncmp(p, "attn", 4)) mask |= 0xf, hit = 1;
        else if (n == 3 && !strncmp(p, "mlp", 3)) mask |= 0x70, hit = 1;
        for (int i = 0; i < LC_LORA_N && !hit; i++)
            if (strlen(lora_short[i]) == n && !strncmp(p, lora_short[i], n)) mask |= 1 << i, hit = 1;
        if (!hit) return -1;
        p += n;
        if (*p == ',') p++;
    }
    return mask ? mask : -1;
}

void lc_tr_hp_rope(lc_tr_hp *hp, int scaled, float factor, float low_ff, float high_ff, int orig_ctx) {
    int half = hp->head_dim / 2;
    hp->rope_scaled = scaled;
    if (scaled) lc_rope_llama3_freqs(hp->rope_div, hp->head_dim, hp->rope_theta, factor, low_ff, high_ff, orig_ctx);
    for (int i = 0; i < half; i++) {
        double f = pow((double)hp->rope_theta, -2.0 * i / hp->head_dim);
        if (scaled) f /= hp->rope_div[i];
        hp->inv_freq[i] = f;
    }
}

/* ---- PRNG -------------------------------------------------------------------------------- */
static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void lc_rng_seed(lc_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t lc_rng_next(lc_rng *r) {
    uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

double lc_rng_uniform(lc_rng *r) { return (double)(lc_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

double lc_rng_normal(lc_rng *r) {
    double u = lc_rng_uniform(r), v = lc_rng_uniform(r);
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

static uint64_t mix3(uint64_t a, uint64_t b, uint64_t c) {
    uint64_t x = a ^ (b * 0x9E3779B97F4A7C15ull) ^ (c * 0xC2B2AE3D27D4EB4Full);
    uint64_t r = splitmix(&x);
    return r ? r : 1;
}

/* ---- the model object -------------------------------------------------------------------- */
void lc_tr_model_free(lc_tr_model *m) {
    if (!m) return;
    free(m->p);
    free(m->g);
    free(m->m);
    free(m->v);
    free(m->t);
    free(m->frozen);
    free(m->src_path);
    if (m->src_kind == 1) lc_gguf_close(&m->gguf);
    if (m->src_kind == 2) lc_hf_close(&m->hf);
    free(m->w);
    free(m->wt);
    free(m->gw);
    free(m->la);
    free(m->lb);
    free(m->gla);
    free(m->glb);
    lc_tr_ws_free_f32(m->ws);
    free(m);
}

const lc_tr_hp *lc_tr_model_hp(const lc_tr_model *m) { return &m->hp; }
lc_tr_net_f32 *lc_tr_model_net(lc_tr_model *m) { return &m->net; }
size_t lc_tr_model_n_train(const lc_tr_model *m) { return m->n_train; }
float *lc_tr_model_params(lc_tr_model *m) { return m->p; }
float *lc_tr_model_grads(lc_tr_model *m) { return m->g; }
int lc_tr_model_n_tensors(const lc_tr_model *m) { return m->n_t; }

const char *lc_tr_model_tensor(const lc_tr_model *m, int i, size_t *offset, int64_t *rows, int64_t *cols) {
    if (i < 0 || i >= m->n_t) return NULL;
    if (offset) *offset = m->t[i].off;
    if (rows) *rows = m->t[i].rows;
    if (cols) *cols = m->t[i].cols;
    return m->t[i].name;
}

static int check_hp(const lc_tr_hp *hp) {
    if (hp->dim < 1 || hp->n_layers < 1 || hp->n_heads < 1 || hp->n_kv_heads < 1 || hp->ffn_dim < 1 ||
        hp->n_vocab < 2 || hp->head_dim < 2 || hp->head_dim % 2 || hp->head_dim > 1024 ||
        hp->n_heads % hp->n_kv_heads)
        return lc_fail(LC_ERR_ARG, "train: bad shape (dim %d, layers %d, heads %d/%d, head dim %d, ffn %d, vocab %d)",
                       hp->dim, hp->n_layers, hp->n_heads, hp->n_kv_heads, hp->head_dim, hp->ffn_dim, hp->n_vocab);
    return LC_OK;
}

/* lays out the trainable tensors and allocates p, g, m, v */
int lc_tr_model_alloc(lc_tr_model *m) {
    const lc_tr_hp *hp = &m->hp;
    int L = hp->n_layers, cap = LC_TR_N_SLOTS(L) + 2 * L * LC_LORA_N;
    m->t = calloc((size_t)cap, sizeof *m->t);
    if (!m->t) return lc_fail(LC_ERR_NOMEM, "train: no memory");
    size_t off = 0;
    m->n_params = 0;
    for (int s = 0; s < LC_TR_N_SLOTS(L); s++) {
        if (s == LC_TR_SLOT_OUT(L) && hp->tied) continue;
        int64_t r, c;
        lc_tr_slot_shape(hp, s, &r, &c);
        m->n_params += r * c;
        if (m->lora_rank) continue;
        lc_tr_tensor *t = &m->t[m->n_t++];
        lc_tr_slot_name(hp, s, t->name, sizeof t->name);
        t->off = off;
        t->rows = r;
        t->cols = c;
        t->slot = s;
        t->decay = r > 1 && s != LC_TR_SLOT_EMBD;
        off += (size_t)(r * c);
    }
    if (m->lora_rank) {
        for (int l = 0; l < L; l++)
            for (int mm = 0; mm < LC_LORA_N; mm++) {
                if (!(m->lora_targets & (1 << mm))) continue;
                int64_t r, c;
                lc_tr_slot_shape(hp, LC_TR_SLOT(l, lora_k[mm]), &r, &c);
                for (int ab = 1; ab <= 2; ab++) {
                    lc_tr_tensor *t = &m->t[m->n_t++];
                    snprintf(t->name, sizeof t->name, "blk.%d.%s.weight.lora_%c", l, slot_names[lora_k[mm]],
                             ab == 1 ? 'a' : 'b');
                    t->off = off;
                    t->rows = ab == 1 ? m->lora_rank : r;
                    t->cols = ab == 1 ? c : m->lora_rank;
                    t->slot = -1;
                    t->lora = ab;
                    t->lidx = l * LC_LORA_N + mm;
                    t->decay = 1;
                    off += (size_t)(t->rows * t->cols);
                }
            }
    }
    m->n_train = off;
    size_t bytes;
    if (!lc_mul_ok(off ? off : 1, sizeof(float), &bytes)) return lc_fail(LC_ERR_NOMEM, "train: too many parameters");
    m->p = calloc(1, bytes);
    m->g = calloc(1, bytes);
    m->m = calloc(1, bytes);
    m->v = calloc(1, bytes);
    if (!m->p || !m->g || !m->m || !m->v)
        return lc_fail(LC_ERR_NOMEM, "train: cannot allocate %.1f MiB for %zu parameters and their optimizer state",
                       4.0 * bytes / 1048576.0, off);
    return LC_OK;
}

static const lc_tensor *src_tensor(const lc_tr_model *m, const char *name) {
    if (m->src_kind == 1) return lc_gguf_tensor(&m->gguf, name);
    if (m->src_kind == 2)
        for (int64_t i = 0; i < m->hf.n_tensors; i++)
            if (strcmp(m->hf.tensors[i].name, name) == 0) return &m->hf.tensors[i];
    return NULL;
}

int lc_tr_model_bind(lc_tr_model *m) {
    const lc_tr_hp *hp = &m->hp;
    int L = hp->n_layers, ns = LC_TR_N_SLOTS(L), nl = L * LC_LORA_N;
    m->w = calloc((size_t)ns, sizeof *m->w);
    m->wt = calloc((size_t)ns, sizeof *m->wt);
    m->gw = calloc((size_t)ns, sizeof *m->gw);
    m->la = calloc((size_t)nl, sizeof *m->la);
    m->lb = calloc((size_t)nl, sizeof *m->lb);
    m->gla = calloc((size_t)nl, sizeof *m->gla);
    m->glb = calloc((size_t)nl, sizeof *m->glb);
    if (!m->w || !m->wt || !m->gw || !m->la || !m->lb || !m->gla || !m->glb)
        return lc_fail(LC_ERR_NOMEM, "train: no memory");
    for (int i = 0; i < m->n_t; i++) {
        const lc_tr_tensor *t = &m->t[i];
        if (t->lora == 0) {
            m->w[t->slot] = m->p + t->off;
            m->gw[t->slot] = m->g + t->off;
        } else if (t->lora == 1) {
            m->la[t->lidx] = m->p + t->off;
            m->gla[t->lidx] = m->g + t->off;
        } else {
            m->lb[t->lidx] = m->p + t->off;
            m->glb[t->lidx] = m->g + t->off;
        }
    }
    if (m->lora_rank) { /* frozen base: norms as float copies, matrices from the mapping */
        size_t nf = (size_t)(2 * L + 1) * hp->dim, fo = 0;
        if (!(m->frozen = malloc(nf * sizeof(float)))) return lc_fail(LC_ERR_NOMEM, "train: no memory");
        for (int s = 0; s < ns; s++) {
            if (s == LC_TR_SLOT_OUT(L) && hp->tied) continue;
            char name[96];
            lc_tr_slot_name(hp, s, name, sizeof name);
            const lc_tensor *t = src_tensor(m, name);
            if (!t) return lc_fail(LC_ERR_FORMAT, "train: source has no tensor '%s'", name);
            int64_t r, c;
            lc_tr_slot_shape(hp, s, &r, &c);
            if (r == 1) {
                lc_dequant_row(t->type, t->data, m->frozen + fo, c);
                m->w[s] = m->frozen + fo;
                fo += (size_t)c;
            } else {
                m->wt[s] = t;
            }
        }
    }
    lc_tr_net_f32 *n = &m->net;
    n->hp = &m->hp;
    n->w = m->w;
    n->wt = m->wt;
    n->gw = m->gw;
    n->lora_rank = m->lora_rank;
    n->lora_scale = m->lora_rank ? (double)m->lora_alpha / m->lora_rank : 0;
    n->lora_dropout = m->lora_dropout;
    n->la = m->la;
    n->lb = m->lb;
    n->gla = m->gla;
    n->glb = m->glb;
    return LC_OK;
}

int lc_tr_model_init(const lc_tr_hp *hp, uint64_t seed, lc_tr_model **out) {
    *out = NULL;
    int rc = check_hp(hp);
    if (rc) return rc;
    lc_tr_model *m = calloc(1, sizeof *m);
    if (!m) return lc_fail(LC_ERR_NOMEM, "train: no memory");
    m->hp = *hp;
    if ((rc = lc_tr_model_alloc(m)) || (rc = lc_tr_model_bind(m))) {
        lc_tr_model_free(m);
        return rc;
    }
    lc_rng r;
    lc_rng_seed(&r, seed);
    double resid = 0.02 / sqrt(2.0 * hp->n_layers);
    for (int i = 0; i < m->n_t; i++) {
        const lc_tr_tensor *t = &m->t[i];
        float *p = m->p + t->off;
        size_t n = (size_t)(t->rows * t->cols);
        int k = t->slot >= 1 && t->slot < LC_TR_SLOT_ONORM(hp->n_layers) ? (t->slot - 1) % LC_TR_K_N : -1;
        if (t->rows == 1) {
            for (size_t j = 0; j < n; j++) p[j] = 1.0f;
        } else {
            double sd = (k == LC_TR_K_O || k == LC_TR_K_DOWN) ? resid : 0.02;
            for (size_t j = 0; j < n; j++) p[j] = (float)(sd * lc_rng_normal(&r));
        }
    }
    *out = m;
    return LC_OK;
}

/* hyper-parameters and source tensors of any model file lc_model_load reads */
static int open_source(lc_tr_model *m, const char *path) {
    lc_model *lm = NULL;
    lc_model_params mp;
    lc_model_params_default(&mp);
    mp.n_threads = 1;
    int rc = lc_model_load(path, &mp, &lm);
    if (rc) return lc_fail_prefix(rc, path);
    const lc_model_info *in = lc_model_get_info(lm);
    lc_tr_hp *hp = &m->hp;
    hp->dim = in->dim;
    hp->n_layers = in->n_layers;
    hp->n_heads = in->n_heads;
    hp->n_kv_heads = in->n_kv_heads;
    hp->head_dim = in->head_dim;
    hp->ffn_dim = in->ffn_dim;
    hp->n_vocab = in->n_vocab;
    hp->n_ctx = in->n_ctx_train;
    hp->norm_eps = in->norm_eps;
    hp->rope_theta = in->rope_theta;
    hp->tied = in->tied_output;
    hp->neox = in->rope_neox;
    lc_model_free(lm);
    if (hp->head_dim > 1024) return lc_fail(LC_ERR_UNSUPPORTED, "train: head dimension %d too large", hp->head_dim);
    if (!(m->src_path = strdup(path))) return lc_fail(LC_ERR_NOMEM, "train: no memory");
    int half = hp->head_dim / 2;
    if (lc_is_dir(path)) {
        m->src_kind = 2;
        if ((rc = lc_hf_open(path, &m->hf))) return lc_fail_prefix(rc, path);
        if (m->hf.rope_freqs) {
            hp->rope_scaled = 1;
            memcpy(hp->rope_div, m->hf.rope_freqs, (size_t)half * sizeof(float));
        }
    } else {
        m->src_kind = 1;
        if ((rc = lc_gguf_open(path, &m->gguf))) return lc_fail_prefix(rc, path);
        const lc_tensor *rf = lc_gguf_tensor(&m->gguf, "rope_freqs.weight");
        if (rf) {
            hp->rope_scaled = 1;
            lc_dequant_row(rf->type, rf->data, hp->rope_div, half);
        }
    }
    for (int i = 0; i < half; i++) {
        double f = pow((double)hp->rope_theta, -2.0 * i / hp->head_dim);
        if (hp->rope_scaled) f /= hp->rope_div[i];
        hp->inv_freq[i] = f;
    }
    return check_hp(hp);
}

int lc_tr_model_load(const char *path, int lora_rank, float lora_alpha, float lora_dropout, int lora_targets,
                     uint64_t seed, lc_tr_model **out) {
    *out = NULL;
    if (lora_rank < 0 || lora_rank > 65536) return lc_fail(LC_ERR_ARG, "train: LoRA rank %d out of range", lora_rank);
    if (lora_rank && !(lora_dropout >= 0 && lora_dropout < 1))
        return lc_fail(LC_ERR_ARG, "train: LoRA dropout %g out of range", lora_dropout);
    lc_tr_model *m = calloc(1, sizeof *m);
    if (!m) return lc_fail(LC_ERR_NOMEM, "train: no memory");
    m->lora_rank = lora_rank;
    m->lora_alpha = lora_alpha > 0 ? lora_alpha : 2.0f * lora_rank;
    m->lora_dropout = lora_dropout;
    m->lora_targets = lora_targets ? lora_targets : 0xf;
    int rc;
    if ((rc = open_source(m, path)) || (rc = lc_tr_model_alloc(m)) || (rc = lc_tr_model_bind(m))) goto fail;
    if (!lora_rank) { /* full training: every tensor dequantized to float32 */
        for (int i = 0; i < m->n_t; i++) {
            const lc_tr_tensor *t = &m->t[i];
            const lc_tensor *st = src_tensor(m, t->name);
            if (!st) {
                rc = lc_fail(LC_ERR_FORMAT, "train: %s has no tensor '%s'", path, t->name);
                goto fail;
            }
            size_t rb;
            lc_type_row_bytes(st->type, t->cols, &rb);
            for (int64_t r = 0; r < t->rows; r++)
                lc_dequant_row(st->type, (const uint8_t *)st->data + (size_t)r * rb, m->p + t->off + (size_t)(r * t->cols),
                               t->cols);
        }
        /* nothing of the mapping is used any more */
        if (m->src_kind == 1) lc_gguf_close(&m->gguf);
        if (m->src_kind == 2) lc_hf_close(&m->hf);
        m->src_kind = 0;
    } else { /* A ~ U(+-1/sqrt(in)), B = 0 */
        lc_rng r;
        lc_rng_seed(&r, seed ^ 0x10AA);
        for (int i = 0; i < m->n_t; i++) {
            const lc_tr_tensor *t = &m->t[i];
            if (t->lora != 1) continue;
            double b = 1.0 / sqrt((double)t->cols);
            for (size_t j = 0; j < (size_t)(t->rows * t->cols); j++)
                m->p[t->off + j] = (float)((2 * lc_rng_uniform(&r) - 1) * b);
        }
    }
    *out = m;
    return LC_OK;
fail:
    lc_tr_model_free(m);
    return rc;
}

int lc_tr_model_logits(lc_tr_model *m, const int32_t *tok, int B, int T, int threads, float *logits) {
    lc_tr_ws_f32 *ws;
    openblas_set_num_threads(threads > 0 ? threads : 1);
    int rc = lc_tr_ws_new_f32(&m->net, B, T, threads, &ws);
    if (rc) return rc;
    double ls = 0;
    int64_t nt = 0;
    rc = lc_tr_forward_f32(&m->net, ws, tok, NULL, B, T, 0, 0, 0, &ls, &nt, logits);
    lc_tr_ws_free_f32(ws);
    return rc;
}

/* ---- optimizer ------------------------------------------------------------------------------ */
#define NORM_BLOCK 65536

typedef struct {
    lc_tr_model *m;
    double *part;       /* per block sum of squares */
    size_t n_blocks;
    float lr, b1, b2, eps, wd, gscale;
    double bc1, bc2;
} opt_job;

static void sumsq_task(void *arg, int ith, int nth) {
    opt_job *j = arg;
    for (size_t b = (size_t)ith; b < j->n_blocks; b += (size_t)nth) {
        size_t e0 = b * NORM_BLOCK, e1 = LC_MIN(e0 + NORM_BLOCK, j->m->n_train);
        double s = 0;
        for (size_t e = e0; e < e1; e++) s += (double)j->m->g[e] * j->m->g[e];
        j->part[b] = s;
    }
}

static void adam_task(void *arg, int ith, int nth) {
    opt_job *j = arg;
    lc_tr_model *m = j->m;
    for (int ti = 0; ti < m->n_t; ti++) {
        const lc_tr_tensor *t = &m->t[ti];
        size_t n = (size_t)(t->rows * t->cols), per = (n + (size_t)nth - 1) / (size_t)nth;
        size_t e0 = t->off + LC_MIN(n, per * (size_t)ith), e1 = t->off + LC_MIN(n, per * (size_t)(ith + 1));
        float wd = t->decay ? j->wd : 0.0f;
        for (size_t e = e0; e < e1; e++) {
            float g = m->g[e] * j->gscale;
            m->m[e] = j->b1 * m->m[e] + (1 - j->b1) * g;
            m->v[e] = j->b2 * m->v[e] + (1 - j->b2) * g * g;
            double mh = m->m[e] / j->bc1, vh = m->v[e] / j->bc2;
            m->p[e] -= j->lr * (float)(mh / (sqrt(vh) + j->eps) + wd * m->p[e]);
        }
    }
}

static double lr_at(const lc_train_opts *o, int step) {
    if (step < o->warmup) return (double)o->lr * (step + 1) / o->warmup;
    int span = o->steps - o->warmup;
    double prog = span > 0 ? (double)(step - o->warmup) / span : 1.0;
    if (prog > 1) prog = 1;
    return o->min_lr + 0.5 * (o->lr - o->min_lr) * (1 + cos(M_PI * prog));
}

static double grad_norm(lc_tr_model *m, lc_pool *pool, double *part) {
    opt_job j = { .m = m, .part = part, .n_blocks = (m->n_train + NORM_BLOCK - 1) / NORM_BLOCK };
    lc_pool_run(pool, sumsq_task, &j);
    double ss = 0;
    for (size_t b = 0; b < j.n_blocks; b++) ss += part[b];
    return sqrt(ss);
}

static void adamw(lc_tr_model *m, lc_pool *pool, int step, double lr, float b1, float b2, float eps, float wd,
                  float gscale) {
    opt_job j = { .m = m, .lr = (float)lr, .b1 = b1, .b2 = b2, .eps = eps, .wd = wd, .gscale = gscale };
    j.bc1 = 1 - pow(b1, step + 1);
    j.bc2 = 1 - pow(b2, step + 1);
    lc_pool_run(pool, adam_task, &j);
}

int lc_tr_model_train_batch(lc_tr_model *m, const int32_t *tok, const int32_t *tgt, int B, int T, float lr,
                            int threads, double *loss) {
    int rc = LC_OK;
    if (threads < 1) threads = 1;
    openblas_set_num_threads(threads);
    if (!m->ws || m->ws_B < B || m->ws_T < T) {
        lc_tr_ws_free_f32(m->ws);
        m->ws = NULL;
        if ((rc = lc_tr_ws_new_f32(&m->net, B, T, threads, &m->ws))) return rc;
        m->ws_B = B;
        m->ws_T = T;
    }
    memset(m->g, 0, m->n_train * sizeof(float));
    int64_t n = 0;
    for (int i = 0; i < B * T; i++) n += tgt[i] >= 0;
    double ls = 0;
    int64_t cnt = 0;
    if ((rc = lc_tr_forward_f32(&m->net, m->ws, tok, tgt, B, T, 1, n ? 1.0 / n : 0, 0, &ls, &cnt, NULL))) return rc;
    *loss = cnt ? ls / cnt : 0;
    lc_pool *pool;
    if ((rc = lc_pool_new(threads, &pool))) return rc;
    double *part = calloc(m->n_train / NORM_BLOCK + 2, sizeof *part);
    if (!part) {
        lc_pool_free(pool);
        return lc_fail(LC_ERR_NOMEM, "no memory");
    }
    double gn = grad_norm(m, pool, part);
    adamw(m, pool, m->step++, lr, 0.9f, 0.95f, 1e-8f, 0, gn > 1 ? (float)(1 / gn) : 1.0f);
    free(part);
    lc_pool_free(pool);
    return isfinite(*loss) ? LC_OK : lc_fail(LC_ERR_FORMAT, "train: loss is not finite");
}

/* ---- options ------------------------------------------------------------------------------- */
void lc_train_opts_default(lc_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->dim = 256;
    o->n_layers = 6;
    o->n_heads = 8;
    o->n_kv_heads = 4;
    o->ctx = 256;
    o->rope_theta = 500000.0f;
    o->rope_scaled = 1;
    o->tied = 1;
    o->val_frac = 0.05f;
    o->val_every = 100;
    o->val_batches = 8;
    o->steps = 1000;
    o->batch = 8;
    o->accum = 1;
    o->lr = 1e-3f;
    o->min_lr = 1e-4f;
    o->warmup = 50;
    o->weight_decay = 0.1f;
    o->beta1 = 0.9f;
    o->beta2 = 0.95f;
    o->eps = 1e-8f;
    o->clip = 1.0f;
    o->seed = 1337;
    o->lora_alpha = 0;
    o->lora_targets = 0;
    o->ckpt_every = 0;
    o->log_every = 10;
}


int lc_tr_model_save(lc_tr_model *m, const char *path, int f16, const char *tok_src, const char *template_path) {
    return lc_tr_save(m, path, f16, tok_src, template_path, NULL, NULL, 0, 0);
}

/* ---- batches --------------------------------------------------------------------------------- */
typedef struct {
    int32_t *tok, *tgt;   /* (accum, B, ctx) */
    int *T;               /* per micro-batch */
    int *perm;            /* fine-tuning order of the current epoch */
    int64_t perm_epoch;
} batcher;

static void shuffle_ints(int *v, int n, lc_rng *r) {
    for (int i = n - 1; i > 0; i--) {
        int k = (int)(lc_rng_next(r) % (uint64_t)(i + 1)), t = v[i];
        v[i] = v[k];
        v[k] = t;
    }
}

typedef struct { int n, idx; } len_idx;
static int by_length(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    return x->n != y->n ? (x->n > y->n) - (x->n < y->n) : (x->idx > y->idx) - (x->idx < y->idx);
}

/* The epoch's order: a shuffle, then, within windows of GROUP_BATCHES batches, examples of
 * similar length grouped into the same batch (a batch is padded to its longest example, and
 * attention costs the square of that length) and the window's batches shuffled again. The
 * order depends on the batch size (resuming with another --batch changes it). */
enum { GROUP_BATCHES = 16, GROUP_MAX = 4096 };

static void make_perm(batcher *bt, const lc_tr_data *d, int B, uint64_t seed, int64_t epoch) {
    lc_rng r;
    lc_rng_seed(&r, mix3(seed, 0xE90C, (uint64_t)epoch));
    int n = d->n_train_ex;
    for (int i = 0; i < n; i++) bt->perm[i] = i;
    shuffle_ints(bt->perm, n, &r);
    int win = B * GROUP_BATCHES;
    if (B > 1 && win <= GROUP_MAX) {   /* larger batches: no grouping */
        static _Thread_local len_idx li[GROUP_MAX];
        int order[GROUP_BATCHES], tmp[GROUP_MAX];
        for (int w0 = 0; w0 + win <= n; w0 += win) {
            for (int k = 0; k < win; k++) li[k] = (len_idx){ d->ex[bt->perm[w0 + k]].n, bt->perm[w0 + k] };
            qsort(li, (size_t)win, sizeof *li, by_length);
            for (int k = 0; k < GROUP_BATCHES; k++) order[k] = k;
            shuffle_ints(order, GROUP_BATCHES, &r);
            for (int k = 0; k < GROUP_BATCHES; k++)
                for (int b = 0; b < B; b++) tmp[k * B + b] = li[order[k] * B + b].idx;
            memcpy(bt->perm + w0, tmp, (size_t)win * sizeof(int));
        }
    }
    bt->perm_epoch = epoch;
}

/* one training micro-batch into slot mb; returns the number of targets */
static int64_t next_batch(batcher *bt, int mb, const lc_tr_data *d, lc_tr_state *st, int B, int ctx, int32_t bos,
                          uint64_t seed) {
    int32_t *tok = bt->tok + (size_t)mb * B * ctx, *tgt = bt->tgt + (size_t)mb * B * ctx;
    int64_t n = 0;
    if (d->mode == LC_TRAIN_PRETRAIN) {
        int T = ctx;
        int lead = bos >= 0 ? 1 : 0;
        int64_t span = d->n_train - T - (1 - lead) + 1;
        for (int b = 0; b < B; b++) {
            int64_t s = (int64_t)(lc_rng_next(&st->rng) % (uint64_t)span);
            int32_t *tb = tok + (size_t)b * T, *gb = tgt + (size_t)b * T;
            if (lead) tb[0] = bos;
            for (int i = lead; i < T; i++) tb[i] = d->tok[s + i - lead];
            for (int i = 0; i < T; i++) gb[i] = d->tok[s + i + 1 - lead];
        }
        bt->T[mb] = T;
        return (int64_t)B * T;
    }
    int idx[4096], T = 1;
    /* an epoch is a whole number of batches (the last n % B shuffled examples wait for the
     * next epoch), so batches stay aligned with the length groups of make_perm */
    int n_epoch = d->n_train_ex >= B ? d->n_train_ex - d->n_train_ex % B : d->n_train_ex;
    for (int b = 0; b < B; b++) {
        if (st->cursor >= n_epoch) {
            st->epoch++;
            st->cursor = 0;
        }
        if (bt->perm_epoch != st->epoch) make_perm(bt, d, B, seed, st->epoch);
        idx[b] = bt->perm[st->cursor++];
        T = LC_MAX(T, d->ex[idx[b]].n - 1);
    }
    for (int b = 0; b < B; b++) {
        const lc_tr_example *e = &d->ex[idx[b]];
        int32_t *tb = tok + (size_t)b * T, *gb = tgt + (size_t)b * T;
        for (int i = 0; i < T; i++) {
            bool in = i + 1 < e->n;
            tb[i] = i < e->n ? e->tok[i] : 0;
            gb[i] = in && e->mask[i + 1] ? e->tok[i + 1] : -1;
            n += gb[i] >= 0;
        }
    }
    bt->T[mb] = T;
    return n;
}

static int validate(lc_tr_model *m, lc_tr_ws_f32 *ws, const lc_tr_data *d, int B, int ctx, int max_batches,
                    int32_t bos, int32_t *tok, int32_t *tgt, double *out) {
    double ls = 0;
    int64_t nt = 0;
    int rc = LC_OK;
    if (d->mode == LC_TRAIN_PRETRAIN) {
        int lead = bos >= 0 ? 1 : 0;
        int64_t n_val = d->n_tok - d->n_train;
        int T = (int)LC_MIN((int64_t)ctx, n_val - (1 - lead));
        if (T < 2) return 1;
        int64_t s = d->n_train;
        for (int bi = 0; bi < max_batches && rc == LC_OK; bi++) {
            int b = 0;
            for (; b < B && s + T - lead + 1 <= d->n_tok; b++, s += T - lead) {
                int32_t *tb = tok + (size_t)b * T, *gb = tgt + (size_t)b * T;
                if (lead) tb[0] = bos;
                for (int i = lead; i < T; i++) tb[i] = d->tok[s + i - lead];
                for (int i = 0; i < T; i++) gb[i] = d->tok[s + i + 1 - lead];
            }
            if (!b) break;
            rc = lc_tr_forward_f32(&m->net, ws, tok, tgt, b, T, 0, 0, 0, &ls, &nt, NULL);
        }
    } else {
        int e = d->n_train_ex;
        for (int bi = 0; bi < max_batches && e < d->n_ex && rc == LC_OK; bi++) {
            int b0 = e, nb = LC_MIN(B, d->n_ex - e), T = 1;
            for (int b = 0; b < nb; b++) T = LC_MAX(T, d->ex[b0 + b].n - 1);
            for (int b = 0; b < nb; b++) {
                const lc_tr_example *x = &d->ex[b0 + b];
                for (int i = 0; i < T; i++) {
                    tok[(size_t)b * T + i] = i < x->n ? x->tok[i] : 0;
                    tgt[(size_t)b * T + i] = i + 1 < x->n && x->mask[i + 1] ? x->tok[i + 1] : -1;
                }
            }
            e += nb;
            rc = lc_tr_forward_f32(&m->net, ws, tok, tgt, nb, T, 0, 0, 0, &ls, &nt, NULL);
        }
    }
    if (rc) return rc;
    if (!nt) return 1;
    *out = ls / (double)nt;
    return LC_OK;
}

/* ---- progress ---------------------------------------------------------------------------------- */
static void fmt_time(double s, char *buf, size_t cap) {
    if (s < 0 || !isfinite(s)) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, cap, "%lds", t);
}

/* ---- the run ----------------------------------------------------------------------------------- */
static int check_opts(const lc_train_opts *o) {
    if (o->steps < 1 || o->batch < 1 || o->accum < 1 || o->ctx < 2 || o->ctx > (1 << 20))
        return lc_fail(LC_ERR_ARG, "train: steps, batch, accum must be >= 1 and ctx >= 2");
    if (o->batch > 4096) return lc_fail(LC_ERR_ARG, "train: batch %d too large", o->batch);
    if (!(o->lr > 0) || !(o->min_lr >= 0) || o->warmup < 0 || !(o->weight_decay >= 0) || !(o->clip >= 0))
        return lc_fail(LC_ERR_ARG, "train: bad learning rate, warmup, weight decay or clip");
    if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) || !(o->eps > 0))
        return lc_fail(LC_ERR_ARG, "train: Adam betas must be in [0, 1) and eps > 0");
    if (o->lora_rank && o->mode != LC_TRAIN_FINETUNE)
        return lc_fail(LC_ERR_ARG, "train: LoRA is for fine-tuning (finetune mode)");
    if (o->lora_rank && !o->model_path) return lc_fail(LC_ERR_ARG, "train: LoRA needs a base model");
    if (!o->model_path && !o->resume_path && !o->tokenizer_path)
        return lc_fail(LC_ERR_ARG, "train: a new model needs a tokenizer");
    if (!o->out_path && !o->ckpt_path) return lc_fail(LC_ERR_ARG, "train: no output path");
    return LC_OK;
}

int lc_train_run(lc_train_opts *o) {
    int rc = check_opts(o);
    if (rc) return rc;
    int threads = o->threads > 0 ? o->threads : lc_n_cores();
    openblas_set_num_threads(threads);
    const char *core = openblas_get_corename();
    if (!o->quiet && core && !strcasecmp(core, "Prescott") && __builtin_cpu_supports("avx2") && !getenv("OPENBLAS_CORETYPE"))
        fprintf(stderr, "train: warning: OpenBLAS did not recognise this CPU and uses its slow SSE3 kernels; "
                "run with OPENBLAS_CORETYPE=%s for about 3x the speed\n",
                __builtin_cpu_supports("avx512f") ? "SkylakeX" : "Haswell");
    lc_tr_model *m = NULL;
    lc_tok *tok = NULL;
    lc_tr_data data = { 0 };
    lc_tr_ws_f32 *ws = NULL;
    lc_pool *pool = NULL;
    batcher bt = { 0 };
    double *part = NULL;
    int32_t *vtok = NULL, *vtgt = NULL;
    lc_tr_state st = { 0 };
    const char *tok_src = NULL;
    bool tty = isatty(2);
    /* model */
    if (o->resume_path && !o->lora_rank) {
        rc = lc_tr_model_load(o->resume_path, 0, 0, 0, 0, o->seed, &m);
        tok_src = o->resume_path;
    } else if (o->model_path) {
        rc = lc_tr_model_load(o->model_path, o->lora_rank, o->lora_alpha, o->lora_dropout, o->lora_targets, o->seed, &m);
        tok_src = o->model_path;
    } else {
        lc_tok *t0 = NULL;
        if ((rc = lc_tok_load(o->tokenizer_path, &t0))) {
            lc_fail_prefix(rc, o->tokenizer_path);
            goto done;
        }
        lc_tr_hp hp = { 0 };
        hp.dim = o->dim;
        hp.n_layers = o->n_layers;
        hp.n_heads = o->n_heads;
        hp.n_kv_heads = o->n_kv_heads ? o->n_kv_heads : o->n_heads;
        hp.head_dim = o->n_heads > 0 ? o->dim / o->n_heads : 0;
        hp.ffn_dim = o->ffn_dim ? o->ffn_dim : (8 * o->dim / 3 + 31) / 32 * 32;
        hp.n_vocab = lc_tok_n_vocab(t0);
        hp.n_ctx = o->ctx;
        hp.norm_eps = 1e-5f;
        hp.rope_theta = o->rope_theta > 0 ? o->rope_theta : 500000.0f;
        hp.tied = o->tied;
        lc_tok_free(t0);
        if (o->n_heads <= 0 || o->dim % o->n_heads) {
            rc = lc_fail(LC_ERR_ARG, "train: dim %d is not a multiple of %d heads", o->dim, o->n_heads);
            goto done;
        }
        if (hp.head_dim > 1024 || hp.head_dim < 2) {
            rc = lc_fail(LC_ERR_ARG, "train: head dimension %d out of range", hp.head_dim);
            goto done;
        }
        lc_tr_hp_rope(&hp, o->rope_scaled, 8.0f, 1.0f, 4.0f, 8192);
        rc = lc_tr_model_init(&hp, o->seed, &m);
        tok_src = o->tokenizer_path;
    }
    if (rc) goto done;
    if ((rc = lc_tok_load(tok_src, &tok))) {
        lc_fail_prefix(rc, tok_src);
        goto done;
    }
    if (lc_tok_n_vocab(tok) > m->hp.n_vocab) {
        rc = lc_fail(LC_ERR_FORMAT, "train: tokenizer has %d tokens, the model %d", lc_tok_n_vocab(tok), m->hp.n_vocab);
        goto done;
    }
    /* a model trained on longer sequences than its source records the longer context */
    if (o->ctx > m->hp.n_ctx) m->hp.n_ctx = o->ctx;
    o->n_params = m->n_params;
    o->n_trainable = (int64_t)m->n_train;
    /* data */
    if ((rc = lc_tr_data_load(&data, o->mode, tok, o->data, o->n_data, o->val_frac, o->ctx))) goto done;
    char skip[1400];
    lc_tr_data_skip_report(&data, skip, sizeof skip);
    if (!o->quiet) {
        if (o->mode == LC_TRAIN_PRETRAIN)
            fprintf(stderr, "train: %lld tokens (%lld train, %lld validation); %lld parameters, %zu trained\n",
                    (long long)data.n_tok, (long long)data.n_train, (long long)(data.n_tok - data.n_train),
                    (long long)m->n_params, m->n_train);
        else
            fprintf(stderr, "train: %d conversations (%d train, %d validation, %d truncated to %d tokens); "
                    "%lld parameters, %zu trained\n", data.n_ex, data.n_train_ex, data.n_ex - data.n_train_ex,
                    data.n_truncated, o->ctx, (long long)m->n_params, m->n_train);
        if (skip[0]) fprintf(stderr, "train: %s\n", skip);
    }
    if (o->mode == LC_TRAIN_FINETUNE && data.n_train_ex < 1) {
        rc = lc_fail(LC_ERR_FORMAT, "train: no training conversations left after the validation split");
        goto done;
    }
    /* state */
    lc_rng_seed(&st.rng, mix3(o->seed, 0xDA7A, 0));
    st.hash = data.hash;
    st.epoch = 0;
    st.cursor = 0;
    if (o->resume_path) {
        if ((rc = lc_tr_load_state(m, o->resume_path, &st))) goto done;
        if (st.hash != data.hash && !o->quiet)
            fprintf(stderr, "train: warning: the data differs from the data of the checkpoint\n");
        if (!o->quiet) fprintf(stderr, "train: resuming at step %d\n", st.step);
    }
    /* buffers */
    int B = o->batch, ctx = o->ctx, A = o->accum;
    if ((rc = lc_tr_ws_new_f32(&m->net, B, ctx, threads, &ws))) goto done;
    if ((rc = lc_pool_new(threads, &pool))) goto done;
    size_t per = (size_t)B * ctx;
    bt.tok = malloc(per * A * sizeof(int32_t));
    bt.tgt = malloc(per * A * sizeof(int32_t));
    bt.T = calloc((size_t)A, sizeof(int));
    bt.perm = malloc(((size_t)data.n_ex + 1) * sizeof(int));
    bt.perm_epoch = -1;
    vtok = malloc(per * sizeof(int32_t));
    vtgt = malloc(per * sizeof(int32_t));
    part = calloc(m->n_train / NORM_BLOCK + 2, sizeof *part);
    if (!bt.tok || !bt.tgt || !bt.T || !bt.perm || !vtok || !vtgt || !part) {
        rc = lc_fail(LC_ERR_NOMEM, "train: no memory");
        goto done;
    }
    int32_t bos = lc_tok_bos(tok);
    double t_start = lc_time_s(), tokens = 0, last_val = NAN, loss = NAN;
    int start_step = st.step;
    for (; st.step < o->steps; st.step++) {
        int step = st.step;
        memset(m->g, 0, m->n_train * sizeof(float));
        int64_t n_tgt = 0;
        for (int a = 0; a < A; a++) n_tgt += next_batch(&bt, a, &data, &st, B, ctx, bos, o->seed);
        double ls = 0;
        int64_t cnt = 0;
        for (int a = 0; a < A && rc == LC_OK; a++) {
            int T = bt.T[a];
            uint64_t dseed = o->lora_dropout > 0 ? mix3(o->seed, (uint64_t)step + 1, (uint64_t)a + 1) : 0;
            rc = lc_tr_forward_f32(&m->net, ws, bt.tok + (size_t)a * per, bt.tgt + (size_t)a * per, B, T, 1,
                                   n_tgt ? 1.0 / (double)n_tgt : 0, dseed, &ls, &cnt, NULL);
            tokens += (double)B * T;
        }
        if (rc) goto done;
        loss = cnt ? ls / (double)cnt : 0;
        if (o->debug_nan_step == step + 1) loss = NAN;
        /* global gradient norm (fixed blocks: the same for any thread count) */
        double gnorm = grad_norm(m, pool, part);
        if (!isfinite(loss) || !isfinite(gnorm)) {
            rc = lc_fail(LC_ERR_FORMAT, "train: the %s is %s at step %d; stopping without writing a checkpoint "
                         "(try a lower learning rate)", isfinite(loss) ? "gradient norm" : "loss",
                         isnan(isfinite(loss) ? gnorm : loss) ? "NaN" : "infinite", step + 1);
            goto done;
        }
        double lr = lr_at(o, step);
        adamw(m, pool, step, lr, o->beta1, o->beta2, o->eps, o->weight_decay,
              o->clip > 0 && gnorm > o->clip ? (float)(o->clip / gnorm) : 1.0f);
        if (o->loss_log) o->loss_log[step] = (float)loss;
        bool last = step + 1 == o->steps;
        bool do_val = o->val_frac > 0 && (last || (o->val_every > 0 && (step + 1) % o->val_every == 0));
        if (do_val) {
            double vl;
            int r = validate(m, ws, &data, B, ctx, o->val_batches > 0 ? o->val_batches : 8, bos, vtok, vtgt, &vl);
            if (r < 0) {
                rc = r;
                goto done;
            }
            if (r == LC_OK) last_val = vl;
        }
        double el = lc_time_s() - t_start, tps = el > 0 ? tokens / el : 0;
        int done_steps = step + 1 - start_step;
        double eta = done_steps > 0 ? el / done_steps * (o->steps - step - 1) : 0;
        if (!o->quiet) {
            char e[32], vb[32] = "";
            fmt_time(eta, e, sizeof e);
            if (!isnan(last_val)) snprintf(vb, sizeof vb, " val %.4f", last_val);
            bool line = last || do_val || (o->log_every > 0 && (step + 1) % o->log_every == 0);
            if (tty || line)
                fprintf(stderr, "%sstep %d/%d loss %.4f%s lr %.2e tok/s %.0f eta %s%s", tty ? "\r\033[K" : "", step + 1,
                        o->steps, loss, vb, lr, tps, e, tty && !line ? "" : "\n");
        }
        /* Ctrl-C or --stop-at before the last step: a checkpoint (if asked for), then stop */
        bool cancelled = o->cancel && *o->cancel;
        if (!last && (cancelled || (o->stop_at > 0 && step + 1 == o->stop_at))) {
            st.step = step + 1;
            if (o->ckpt_path && (rc = lc_tr_save(m, o->ckpt_path, o->out_f16, tok_src, o->chat_template_path, o->name,
                                                 &st, o->seed, o->steps)))
                goto done;
            o->final_loss = loss;
            o->final_val_loss = last_val;
            if (cancelled)
                rc = lc_fail(LC_ERR_CANCELLED, "train: interrupted after step %d of %d%s%s", step + 1, o->steps,
                             o->ckpt_path ? "; checkpoint written to " : "; no checkpoint written",
                             o->ckpt_path ? o->ckpt_path : "");
            goto done;
        }
        if (o->ckpt_path && !last && o->ckpt_every > 0 && (step + 1) % o->ckpt_every == 0) {
            lc_tr_state s2 = st;
            s2.step = step + 1;
            if ((rc = lc_tr_save(m, o->ckpt_path, o->out_f16, tok_src, o->chat_template_path, o->name, &s2, o->seed,
                                 o->steps)))
                goto done;
        }
    }
    o->final_loss = loss;
    o->final_val_loss = last_val;
    {
        double el = lc_time_s() - t_start;
        o->tokens_per_s = el > 0 ? tokens / el : 0;
    }
    if (o->ckpt_path && (rc = lc_tr_save(m, o->ckpt_path, o->out_f16, tok_src, o->chat_template_path, o->name, &st,
                                          o->seed, o->steps)))
        goto done;
    if (o->out_path &&
        (rc = lc_tr_save(m, o->out_path, o->out_f16, tok_src, o->chat_template_path, o->name, NULL, o->seed, o->steps)))
        goto done;
    if (!o->quiet && skip[0]) fprintf(stderr, "train: %s\n", skip);
done:
    if (rc && !o->quiet && tty) fputc('\n', stderr);
    free(bt.tok);
    free(bt.tgt);
    free(bt.T);
    free(bt.perm);
    free(vtok);
    free(vtgt);
    free(part);
    lc_pool_free(pool);
    lc_tr_ws_free_f32(ws);
    lc_tr_data_free(&data);
    lc_tok_free(tok);
    lc_tr_model_free(m);
    return rc;
}
