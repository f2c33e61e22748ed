/* model.c - the Llama 3.x model: hyper-parameters and weights bound from a GGUF file or a
 * Hugging Face folder (views into the mappings), and the forward pass over a batch of
 * tokens of several sequences sharing one KV cache (spec/model.md). */
#include "internal.h"
#include "kernels.h"
#include "train.h"

#include <math.h>

/* ---- the model ------------------------------------------------------ */
typedef struct lc_layer {
    const lc_tensor *wq, *wk, *wv, *wo;     /* (dim -> nh*hd), (dim -> nkv*hd) x2, (nh*hd -> dim) */
    const lc_tensor *gate, *up, *down;      /* (dim -> ffn) x2, (ffn -> dim) */
    float *attn_norm, *ffn_norm;            /* (dim) copies in float32 */
} lc_layer;

struct lc_model {
    lc_model_info info;
    bool is_gguf;
    lc_gguf gguf;
    lc_hf hf;
    const lc_tensor *tensors;  /* of gguf or hf */
    int64_t n_tensors;
    const lc_tensor *tok_embd; /* (vocab, dim) */
    const lc_tensor *output;   /* (vocab, dim); == tok_embd when tied */
    float *output_norm;        /* (dim) */
    lc_layer *layers;          /* (n_layers) */
    double *inv_freq;          /* (head_dim/2) theta^(-2i/hd) / rope_freqs[i] */
    lc_tok *tok;
    char *chat_template;
    int n_threads;
    lc_tensor *merged;         /* (n_merged) F32 copies of matrices with a LoRA adapter merged in */
    float **merged_data;
    int n_merged;
};

void lc_model_params_default(lc_model_params *p) {
    memset(p, 0, sizeof *p);
    p->lora_scale = 1.0f;
}

double lc_model_huge_page_fraction(const lc_model *m) {
    if (!m) return -1;
    if (m->is_gguf) return lc_map_huge_fraction(&m->gguf.map);
    double pmd = 0, all = 0;
    for (int i = 0; i < m->hf.n_maps; i++) {
        double f = lc_map_huge_fraction(&m->hf.maps[i]);
        if (f < 0) return -1;
        pmd += f * (double)m->hf.maps[i].size;
        all += (double)m->hf.maps[i].size;
    }
    return all > 0 ? pmd / all : -1;
}

const lc_model_info *lc_model_get_info(const lc_model *m) { return &m->info; }
const lc_tok *lc_model_tok(const lc_model *m) { return m->tok; }
int lc_model_n_tensors(const lc_model *m) { return (int)m->n_tensors; }
const char *lc_model_chat_template(const lc_model *m) { return m->chat_template; }

int lc_model_tensor(const lc_model *m, int i, lc_tensor_info *out) {
    if (i < 0 || i >= m->n_tensors) return lc_fail(LC_ERR_ARG, "tensor index %d out of range", i);
    const lc_tensor *t = &m->tensors[i];
    out->name = t->name;
    out->type = t->type;
    out->n_dims = t->n_dims;
    for (int d = 0; d < 4; d++) out->ne[d] = d < t->n_dims ? t->ne[d] : 1;
    out->nbytes = t->nbytes;
    return LC_OK;
}

size_t lc_model_kv_bytes(const lc_model *m, int n_ctx) {
    if (!m || n_ctx <= 0) return 0;
    const lc_model_info *h = &m->info;
    return (size_t)2 * h->n_layers * (size_t)n_ctx * h->n_kv_heads * h->head_dim * sizeof(float);
}

void lc_model_free(lc_model *m) {
    if (!m) return;
    if (m->layers) {
        for (int l = 0; l < m->info.n_layers; l++) {
            free(m->layers[l].attn_norm);
            free(m->layers[l].ffn_norm);
        }
    }
    for (int i = 0; i < m->n_merged; i++) free(m->merged_data[i]);
    free(m->merged);
    free(m->merged_data);
    free(m->layers);
    free(m->output_norm);
    free(m->inv_freq);
    lc_tok_free(m->tok);
    free(m->chat_template);
    if (m->is_gguf) lc_gguf_close(&m->gguf);
    else lc_hf_close(&m->hf);
    free(m);
}

/* ---- binding weights -------------------------------------------------- */
static const lc_tensor *find_tensor(const lc_model *m, const char *name) {
    for (int64_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

/* a 2-D weight of ggml shape {ne0, ne1} with a type we compute with */
static int want_matrix(lc_model *m, const char *name, int64_t ne0, int64_t ne1, const lc_tensor **out) {
    const lc_tensor *t = find_tensor(m, name);
    *out = t;
    if (!t) return lc_fail(LC_ERR_FORMAT, "missing tensor '%s'", name);
    if (t->n_dims != 2)
        return lc_fail(LC_ERR_FORMAT, "tensor '%s' has %d dimensions, expected 2", name, t->n_dims);
    if (t->ne[0] != ne0 || t->ne[1] != ne1)
        return lc_fail(LC_ERR_FORMAT, "tensor '%s' has shape [%lld, %lld], expected [%lld, %lld]", name,
                       (long long)t->ne[0], (long long)t->ne[1], (long long)ne0, (long long)ne1);
    if (!lc_type_supported(t->type))
        return lc_fail(LC_ERR_UNSUPPORTED, "tensor '%s' has type %s, which llamac does not support", name,
                       lc_type_name(t->type));
    return LC_OK;
}

/* a 1-D vector of n values, converted to a malloc'd float array */
static int want_vector(lc_model *m, const char *name, int64_t n, float **out) {
    *out = NULL;
    const lc_tensor *t = find_tensor(m, name);
    if (!t) return lc_fail(LC_ERR_FORMAT, "missing tensor '%s'", name);
    if (t->n_dims != 1)
        return lc_fail(LC_ERR_FORMAT, "tensor '%s' has %d dimensions, expected 1", name, t->n_dims);
    if (t->ne[0] != n)
        return lc_fail(LC_ERR_FORMAT, "tensor '%s' has %lld values, expected %lld", name, (long long)t->ne[0],
                       (long long)n);
    if (!lc_type_supported(t->type) || lc_type_block_size(t->type) != 1)
        return lc_fail(LC_ERR_UNSUPPORTED, "tensor '%s' has type %s, expected F32/F16/BF16", name,
                       lc_type_name(t->type));
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return lc_fail(LC_ERR_NOMEM, "no memory for '%s'", name);
    lc_dequant_row(t->type, t->data, v, n);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            free(v);
            return lc_fail(LC_ERR_FORMAT, "tensor '%s' holds a non-finite value", name);
        }
    *out = v;
    return LC_OK;
}

static int gguf_hparams(lc_model *m) {
    const lc_gguf *g = &m->gguf;
    lc_model_info *h = &m->info;
    lc_str s;
    int rc = lc_gguf_get_str(g, "general.architecture", &s);
    if (rc != LC_OK) return lc_fail(LC_ERR_FORMAT, "missing general.architecture");
    if (s.len != 5 || memcmp(s.p, "llama", 5) != 0)
        return lc_fail(LC_ERR_UNSUPPORTED, "architecture '%.*s' is not supported (llama only)",
                       (int)LC_MIN(s.len, 64), s.p);
    snprintf(h->arch, sizeof h->arch, "llama");
    if (lc_gguf_get_str(g, "general.name", &s) == LC_OK)
        snprintf(h->name, sizeof h->name, "%.*s", (int)LC_MIN(s.len, sizeof h->name - 1), s.p);
    snprintf(h->format, sizeof h->format, "gguf");

    struct { const char *key; int *dst; bool required; } ints[] = {
        { "llama.embedding_length", &h->dim, true },   { "llama.block_count", &h->n_layers, true },
        { "llama.feed_forward_length", &h->ffn_dim, true }, { "llama.attention.head_count", &h->n_heads, true },
        { "llama.attention.head_count_kv", &h->n_kv_heads, false }, { "llama.context_length", &h->n_ctx_train, false },
        { "llama.rope.dimension_count", &h->head_dim, false },
    };
    for (size_t i = 0; i < LC_ARRAY_LEN(ints); i++) {
        int64_t v;
        rc = lc_gguf_get_int(g, ints[i].key, &v);
        if (rc == 1) {
            if (ints[i].required) return lc_fail(LC_ERR_FORMAT, "missing %s", ints[i].key);
            continue;
        }
        if (rc != LC_OK) return lc_fail(LC_ERR_FORMAT, "%s is not an integer", ints[i].key);
        if (v < 1 || v > (1 << 24)) return lc_fail(LC_ERR_FORMAT, "%s = %lld is out of range", ints[i].key, (long long)v);
        *ints[i].dst = (int)v;
    }
    if (!h->n_kv_heads) h->n_kv_heads = h->n_heads;
    if (!h->head_dim) h->head_dim = h->dim / h->n_heads;
    int64_t kl;
    if (lc_gguf_get_int(g, "llama.attention.key_length", &kl) == LC_OK && kl != h->head_dim)
        return lc_fail(LC_ERR_UNSUPPORTED, "key_length %lld differs from rope dimension %d", (long long)kl, h->head_dim);
    double d;
    h->norm_eps = 1e-5f;
    if (lc_gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &d) == LC_OK) h->norm_eps = (float)d;
    h->rope_theta = 10000.0f;
    if (lc_gguf_get_float(g, "llama.rope.freq_base", &d) == LC_OK) h->rope_theta = (float)d;
    if (!h->n_ctx_train) h->n_ctx_train = 2048;
    h->rope_neox = 0;
    m->tensors = g->tensors;
    m->n_tensors = g->n_tensors;
    const lc_tensor *emb = find_tensor(m, "token_embd.weight");
    if (!emb || emb->n_dims != 2) return lc_fail(LC_ERR_FORMAT, "missing or malformed tensor 'token_embd.weight'");
    int64_t nv;
    h->n_vocab = (int)LC_MIN(emb->ne[1], (int64_t)1 << 30);
    if (lc_gguf_get_int(g, "llama.vocab_size", &nv) == LC_OK && nv != emb->ne[1])
        return lc_fail(LC_ERR_FORMAT, "llama.vocab_size %lld differs from token_embd rows %lld", (long long)nv,
                       (long long)emb->ne[1]);
    h->gguf_ftype = -1;
    if (lc_gguf_get_int(g, "general.file_type", &kl) == LC_OK && kl >= 0 && kl < 1024) h->gguf_ftype = (int)kl;
    if (lc_gguf_get_float(g, "llama.rope.scaling.factor", &d) == LC_OK) h->rope_factor = (float)d;
    if (lc_gguf_get_int(g, "llama.rope.scaling.original_context_length", &kl) == LC_OK) h->rope_orig_ctx = (int)kl;
    lc_str ct;
    if (lc_gguf_get_str(g, "tokenizer.chat_template", &ct) == LC_OK) {
        m->chat_template = strndup(ct.p, ct.len);
        if (!m->chat_template) return lc_fail(LC_ERR_NOMEM, "no memory");
    }
    return LC_OK;
}

static int check_hparams(const lc_model_info *h) {
    if (h->dim < 1 || h->n_layers < 1 || h->n_layers > 4096 || h->n_heads < 1 || h->n_kv_heads < 1 ||
        h->ffn_dim < 1 || h->head_dim < 2 || h->n_vocab < 1)
        return lc_fail(LC_ERR_FORMAT, "hyper-parameters out of range");
    if (h->head_dim % 2) return lc_fail(LC_ERR_FORMAT, "head dimension %d is odd", h->head_dim);
    if (h->n_heads % h->n_kv_heads)
        return lc_fail(LC_ERR_FORMAT, "%d heads is not a multiple of %d kv heads", h->n_heads, h->n_kv_heads);
    if (!(h->norm_eps > 0 && h->norm_eps < 1)) return lc_fail(LC_ERR_FORMAT, "rms norm epsilon %g out of range", h->norm_eps);
    if (!(h->rope_theta > 1 && isfinite(h->rope_theta))) return lc_fail(LC_ERR_FORMAT, "rope theta %g out of range", h->rope_theta);
    return LC_OK;
}

static int bind_weights(lc_model *m) {
    lc_model_info *h = &m->info;
    int rc;
    int64_t dim = h->dim, q_dim = (int64_t)h->n_heads * h->head_dim, kv_dim = (int64_t)h->n_kv_heads * h->head_dim;
    if ((rc = want_matrix(m, "token_embd.weight", dim, h->n_vocab, &m->tok_embd))) return rc;
    if ((rc = want_vector(m, "output_norm.weight", dim, &m->output_norm))) return rc;
    m->output = find_tensor(m, "output.weight");
    h->tied_output = m->output == NULL;
    if (h->tied_output) m->output = m->tok_embd;
    else if ((rc = want_matrix(m, "output.weight", dim, h->n_vocab, &m->output))) return rc;
    m->layers = calloc((size_t)h->n_layers, sizeof *m->layers);
    if (!m->layers) return lc_fail(LC_ERR_NOMEM, "no memory");
    char name[96];
    for (int l = 0; l < h->n_layers; l++) {
        lc_layer *L = &m->layers[l];
#define MAT(field, nm, a, b)                                                 \
    snprintf(name, sizeof name, "blk.%d." nm ".weight", l);                  \
    if ((rc = want_matrix(m, name, a, b, &L->field))) return rc;
        MAT(wq, "attn_q", dim, q_dim)
        MAT(wk, "attn_k", dim, kv_dim)
        MAT(wv, "attn_v", dim, kv_dim)
        MAT(wo, "attn_output", q_dim, dim)
        MAT(gate, "ffn_gate", dim, h->ffn_dim)
        MAT(up, "ffn_up", dim, h->ffn_dim)
        MAT(down, "ffn_down", h->ffn_dim, dim)
#undef MAT
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", l);
        if ((rc = want_vector(m, name, dim, &L->attn_norm))) return rc;
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
        if ((rc = want_vector(m, name, dim, &L->ffn_norm))) return rc;
    }
    /* RoPE frequencies: theta^(-2i/hd) divided by the llama3 divisors when present */
    int half = h->head_dim / 2;
    m->inv_freq = malloc((size_t)half * sizeof *m->inv_freq);
    if (!m->inv_freq) return lc_fail(LC_ERR_NOMEM, "no memory");
    float *div = NULL;
    if (m->is_gguf) {
        if (find_tensor(m, "rope_freqs.weight")) {
            if ((rc = want_vector(m, "rope_freqs.weight", half, &div))) return rc;
            h->rope_scaled = 1;
        }
    } else if (m->hf.rope_freqs) {
        div = malloc((size_t)half * sizeof *div);
        if (!div) return lc_fail(LC_ERR_NOMEM, "no memory");
        memcpy(div, m->hf.rope_freqs, (size_t)half * sizeof *div);
        h->rope_scaled = 1;
    }
    for (int i = 0; i < half; i++) {
        double f = pow((double)h->rope_theta, -2.0 * i / h->head_dim);
        if (div) {
            if (!(div[i] > 0) || !isfinite(div[i])) {
                double bad = div[i];
                free(div);
                return lc_fail(LC_ERR_FORMAT, "rope_freqs[%d] = %g is not a positive number", i, bad);
            }
            f /= div[i];
        }
        m->inv_freq[i] = f;
    }
    if (div && m->is_gguf && !h->rope_factor) {
        float mx = 1;
        for (int i = 0; i < half; i++) mx = LC_MAX(mx, div[i]);
        h->rope_factor = mx;
    }
    free(div);
    /* a tensor we would silently ignore (biases, unknown layers) means a model we do not compute */
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const char *nm = m->tensors[i].name;
        size_t len = strlen(nm);
        if (len >= 5 && strcmp(nm + len - 5, ".bias") == 0)
            return lc_fail(LC_ERR_UNSUPPORTED, "tensor '%s': biases are not part of the Llama architecture", nm);
        int layer;
        if (sscanf(nm, "blk.%d.", &layer) == 1 && (layer < 0 || layer >= h->n_layers))
            return lc_fail(LC_ERR_FORMAT, "tensor '%s' belongs to layer %d of %d", nm, layer, h->n_layers);
    }
    /* sizes */
    size_t bytes_by_type[64] = { 0 };
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const lc_tensor *t = &m->tensors[i];
        int64_t n = 1;
        for (int d = 0; d < t->n_dims; d++) n *= t->ne[d];
        h->n_params += n;
        h->weight_bytes += t->nbytes;
        if (t->n_dims == 2 && t->type >= 0 && t->type < 64) bytes_by_type[t->type] += t->nbytes;
    }
    int best = 0;
    for (int t = 1; t < 64; t++)
        if (bytes_by_type[t] > bytes_by_type[best]) best = t;
    h->file_type = best;
    return LC_OK;
}

/* LoRA at load time: each targeted layer matrix becomes an owned F32 copy with the adapter
 * merged in (W + scale * alpha/r * B.A), so the forward pass is unchanged and exact. */
static int apply_lora(lc_model *m, const char *path, float scale) {
    lc_lora *lo = NULL;
    int rc = lc_lora_load(path, &m->info, &lo);
    if (rc) return lc_fail_prefix(rc, path);
    int n_max = m->info.n_layers * 7;
    m->merged = calloc((size_t)n_max, sizeof *m->merged);
    m->merged_data = calloc((size_t)n_max, sizeof *m->merged_data);
    if (!m->merged || !m->merged_data) {
        lc_lora_free(lo);
        return lc_fail(LC_ERR_NOMEM, "no memory");
    }
    for (int l = 0; l < m->info.n_layers && rc == LC_OK; l++) {
        const lc_tensor **slots[7] = { &m->layers[l].wq,   &m->layers[l].wk, &m->layers[l].wv,  &m->layers[l].wo,
                                       &m->layers[l].gate, &m->layers[l].up, &m->layers[l].down };
        for (int k = 0; k < 7 && rc == LC_OK; k++) {
            const lc_tensor *t = *slots[k];
            if (!lc_lora_has(lo, t->name)) continue;
            size_t n = (size_t)t->ne[0] * (size_t)t->ne[1];
            float *buf = malloc(n * sizeof *buf);
            if (!buf) {
                rc = lc_fail(LC_ERR_NOMEM, "no memory to merge the adapter into '%s'", t->name);
                break;
            }
            rc = lc_lora_merge_tensor(lo, t->name, t->type, t->data, t->ne[0], t->ne[1], m->info.rope_neox, scale, buf);
            if (rc) {
                free(buf);
                break;
            }
            lc_tensor *mt = &m->merged[m->n_merged];
            *mt = *t;
            mt->type = LC_TYPE_F32;
            mt->data = buf;
            mt->nbytes = n * sizeof(float);
            m->merged_data[m->n_merged++] = buf;
            *slots[k] = mt;
        }
    }
    if (rc == LC_OK && m->n_merged == 0)
        rc = lc_fail(LC_ERR_FORMAT, "%s: the adapter changes no tensor of this model", path);
    lc_lora_free(lo);
    return rc;
}

int lc_model_load(const char *path, const lc_model_params *p, lc_model **out) {
    if (!out) return lc_fail(LC_ERR_ARG, "lc_model_load: out is NULL");
    *out = NULL;
    if (!path || !*path) return lc_fail(LC_ERR_ARG, "no model path given");
    lc_model_params defaults;
    if (!p) {
        lc_model_params_default(&defaults);
        p = &defaults;
    }
    lc_model *m = calloc(1, sizeof *m);
    if (!m) return lc_fail(LC_ERR_NOMEM, "no memory");
    int rc;
    m->n_threads = p->n_threads > 0 ? p->n_threads : lc_n_cores();
    if (lc_is_dir(path)) {
        if ((rc = lc_hf_open(path, &m->hf))) goto fail;
        m->info = m->hf.hp;
        m->info.gguf_ftype = -1;
        m->tensors = m->hf.tensors;
        m->n_tensors = m->hf.n_tensors;
        if (m->hf.chat_template && !(m->chat_template = strdup(m->hf.chat_template))) {
            rc = lc_fail(LC_ERR_NOMEM, "no memory");
            goto fail;
        }
        snprintf(m->info.format, sizeof m->info.format, "safetensors");
        m->info.rope_neox = 1;
    } else {
        m->is_gguf = true;
        if ((rc = lc_gguf_open(path, &m->gguf))) goto fail;
        if ((rc = gguf_hparams(m))) goto fail;
    }
    if ((rc = check_hparams(&m->info))) goto fail;
    if ((rc = bind_weights(m))) goto fail;
    if (p->lora && (rc = apply_lora(m, p->lora, p->lora_scale))) goto fail;
    /* tokenizer */
    if (m->is_gguf) {
        if (lc_gguf_find(&m->gguf, "tokenizer.ggml.model")) {
            if ((rc = lc_tok_from_gguf(&m->gguf, &m->tok))) {
                lc_fail_prefix(rc, "tokenizer");
                goto fail;
            }
        }
    } else if (m->hf.tokenizer_path) {
        if ((rc = lc_tok_load(m->hf.tokenizer_path, &m->tok))) goto fail;
        for (int i = 0; i < m->hf.n_eos; i++) lc_tok_add_eog(m->tok, m->hf.eos_ids[i]);
    }
    if (m->tok) {
        if (lc_tok_n_vocab(m->tok) > m->info.n_vocab) {
            rc = lc_fail(LC_ERR_FORMAT, "tokenizer has %d tokens but the model only %d", lc_tok_n_vocab(m->tok),
                         m->info.n_vocab);
            goto fail;
        }
        m->info.bos_id = lc_tok_bos(m->tok);
        m->info.eos_id = lc_tok_eos(m->tok);
    } else if (!m->is_gguf) {
        m->info.bos_id = m->hf.hp.bos_id; /* from config.json */
        m->info.eos_id = m->hf.hp.eos_id;
    } else {
        m->info.bos_id = m->info.eos_id = -1;
    }
    m->info.has_chat_template = m->chat_template != NULL;
    if (!m->info.name[0]) {
        const char *b = strrchr(path, '/');
        snprintf(m->info.name, sizeof m->info.name, "%s", b && b[1] ? b + 1 : path);
    }
    *out = m;
    return LC_OK;
fail:
    lc_model_free(m);
    return rc;
}

/* ---- context: KV cache ------------------------------------------------ */
struct lc_ctx {
    lc_model *m;
    lc_pool *pool;
    int n_ctx, n_seq, n_batch;
    float *k_cache, *v_cache;     /* (n_layers, n_ctx, n_kv*hd) */
    int32_t *cell_pos;            /* (n_ctx) position held by a cell, -1 free */
    int32_t *cell_seq;            /* (n_ctx) sequence of a cell */
    int32_t **seq_cells;          /* (n_seq)(n_ctx) cells of a sequence, by increasing position */
    int32_t *seq_len;             /* (n_seq) */
    int n_used;
    /* scratch for one micro-batch of n_batch tokens */
    float *x, *xn, *q, *k, *v, *att, *hb, *hb2; /* (B, dim) (B, dim) (B, q) (B, kv) (B, kv) (B, q) (B, ffn) x2 */
    float *rope_cos, *rope_sin;   /* (B, hd/2) */
    float *scratch;               /* per thread: scores (n_ctx) + row (max cols) */
    size_t scratch_per_thread;
    int32_t *ub_cell;             /* (B) */
    /* outputs */
    float *logits;                /* (n_out, vocab) */
    size_t logits_cap;            /* rows */
    int32_t *out_row;             /* (batch tokens) row in logits, -1 none */
    int out_row_cap;
    int n_last;                   /* tokens of the last decoded batch */
    volatile int *abort_flag;
    const lc_kern *kern;          /* kernel table */
    bool exact;
    uint8_t *act;                 /* (B, act row) activations rounded for quantized weights */
};

void lc_ctx_params_default(lc_ctx_params *p) {
    memset(p, 0, sizeof *p);
    p->n_seq_max = 1;
    p->n_batch = 512;
}

int lc_ctx_n_ctx(const lc_ctx *c) { return c->n_ctx; }
size_t lc_ctx_kv_bytes(const lc_ctx *c) { return lc_model_kv_bytes(c->m, c->n_ctx); }
int lc_ctx_n_free(const lc_ctx *c) { return c->n_ctx - c->n_used; }
const char *lc_ctx_isa(const lc_ctx *c) { return c->kern->isa; }
void lc_ctx_set_abort(lc_ctx *c, volatile int *flag) { c->abort_flag = flag; }

void lc_ctx_free(lc_ctx *c) {
    if (!c) return;
    lc_pool_free(c->pool);
    free(c->k_cache);
    free(c->v_cache);
    free(c->cell_pos);
    free(c->cell_seq);
    if (c->seq_cells)
        for (int s = 0; s < c->n_seq; s++) free(c->seq_cells[s]);
    free(c->seq_cells);
    free(c->seq_len);
    free(c->x);
    free(c->xn);
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->att);
    free(c->hb);
    free(c->hb2);
    free(c->rope_cos);
    free(c->rope_sin);
    free(c->scratch);
    free(c->ub_cell);
    free(c->logits);
    free(c->out_row);
    free(c->act);
    free(c);
}

static float *alloc_floats(size_t a, size_t b, bool *ok) {
    size_t n;
    if (!lc_mul_ok(a, b, &n) || !lc_mul_ok(n, sizeof(float), &n)) {
        *ok = false;
        return NULL;
    }
    float *p = malloc(n ? n : 1);
    if (!p) *ok = false;
    return p;
}

int lc_ctx_new(lc_model *m, const lc_ctx_params *p, lc_ctx **out) {
    *out = NULL;
    lc_ctx_params defaults;
    if (!p) {
        lc_ctx_params_default(&defaults);
        p = &defaults;
    }
    const lc_model_info *h = &m->info;
    int n_ctx = p->n_ctx > 0 ? p->n_ctx : LC_MIN(h->n_ctx_train, 8192);
    if (p->n_ctx < 0) return lc_fail(LC_ERR_ARG, "context size %d is negative", p->n_ctx);
    if (n_ctx > h->n_ctx_train)
        return lc_fail(LC_ERR_ARG, "context %d is larger than the model's maximum %d", n_ctx, h->n_ctx_train);
    int n_seq = p->n_seq_max > 0 ? p->n_seq_max : 1;
    if (n_seq > 4096) return lc_fail(LC_ERR_ARG, "too many sequences (%d)", n_seq);
    int n_batch = p->n_batch > 0 ? LC_MIN(p->n_batch, n_ctx) : LC_MIN(512, n_ctx);
    lc_ctx *c = calloc(1, sizeof *c);
    if (!c) return lc_fail(LC_ERR_NOMEM, "no memory");
    c->m = m;
    c->n_ctx = n_ctx;
    c->n_seq = n_seq;
    c->n_batch = n_batch;
    int rc = lc_pool_new(p->n_threads > 0 ? p->n_threads : m->n_threads, &c->pool);
    if (rc) {
        free(c);
        return rc;
    }
    bool ok = true;
    size_t kv_dim = (size_t)h->n_kv_heads * h->head_dim, q_dim = (size_t)h->n_heads * h->head_dim;
    /* refuse up front what the machine cannot hold, rather than being killed later */
    size_t need = lc_model_kv_bytes(m, n_ctx) +
                  (size_t)n_batch * ((size_t)h->dim * 2 + q_dim * 2 + kv_dim * 2 + (size_t)h->ffn_dim * 2) * sizeof(float);
    size_t avail = lc_mem_available_bytes();
    if (avail && need > avail) {
        lc_ctx_free(c);
        return lc_fail(LC_ERR_NOMEM,
                       "a context of %d tokens needs %.1f MiB (KV cache %.1f MiB) but only %.1f MiB of memory is "
                       "available; use a smaller --ctx",
                       n_ctx, need / 1048576.0, lc_model_kv_bytes(m, n_ctx) / 1048576.0, avail / 1048576.0);
    }
    size_t kv_elems;
    if (!lc_mul_ok((size_t)h->n_layers * (size_t)n_ctx, kv_dim, &kv_elems)) ok = false;
    if (ok) {
        c->k_cache = alloc_floats(kv_elems, 1, &ok);
        c->v_cache = alloc_floats(kv_elems, 1, &ok);
    }
    if (!ok) {
        lc_ctx_free(c);
        return lc_fail(LC_ERR_NOMEM, "cannot allocate a KV cache of %.1f MiB for context %d",
                       lc_model_kv_bytes(m, n_ctx) / 1048576.0, n_ctx);
    }
    c->cell_pos = malloc((size_t)n_ctx * sizeof *c->cell_pos);
    c->cell_seq = malloc((size_t)n_ctx * sizeof *c->cell_seq);
    c->seq_cells = calloc((size_t)n_seq, sizeof *c->seq_cells);
    c->seq_len = calloc((size_t)n_seq, sizeof *c->seq_len);
    if (!c->cell_pos || !c->cell_seq || !c->seq_cells || !c->seq_len) ok = false;
    for (int s = 0; ok && s < n_seq; s++)
        if (!(c->seq_cells[s] = malloc((size_t)n_ctx * sizeof(int32_t)))) ok = false;
    if (ok)
        for (int i = 0; i < n_ctx; i++) c->cell_pos[i] = -1, c->cell_seq[i] = -1;
    size_t B = (size_t)n_batch;
    c->x = alloc_floats(B, (size_t)h->dim, &ok);
    c->xn = alloc_floats(B, (size_t)h->dim, &ok);
    c->q = alloc_floats(B, q_dim, &ok);
    c->k = alloc_floats(B, kv_dim, &ok);
    c->v = alloc_floats(B, kv_dim, &ok);
    c->att = alloc_floats(B, q_dim, &ok);
    c->hb = alloc_floats(B, (size_t)h->ffn_dim, &ok);
    c->hb2 = alloc_floats(B, (size_t)h->ffn_dim, &ok);
    c->rope_cos = alloc_floats(B, (size_t)h->head_dim / 2, &ok);
    c->rope_sin = alloc_floats(B, (size_t)h->head_dim / 2, &ok);
    c->scratch_per_thread = (size_t)n_ctx + 16;
    c->scratch = alloc_floats(c->scratch_per_thread, (size_t)lc_pool_n(c->pool), &ok);
    c->ub_cell = malloc(B * sizeof *c->ub_cell);
    if (!c->ub_cell) ok = false;
    c->exact = p->exact != 0;
    c->kern = p->isa ? lc_kern_get(p->isa) : lc_kern_best();
    if (!c->kern) {
        lc_ctx_free(c);
        return lc_fail(LC_ERR_UNSUPPORTED, "kernel set '%s' is unknown or this CPU cannot run it", p->isa);
    }
    size_t act_row = 0;
    const int quant_types[] = { LC_TYPE_Q8_0, LC_TYPE_Q4_0, LC_TYPE_Q4_1, LC_TYPE_Q4_K, LC_TYPE_Q6_K };
    for (size_t i = 0; i < LC_ARRAY_LEN(quant_types); i++) {
        int dims[3] = { h->dim, h->ffn_dim, (int)q_dim };
        for (int d = 0; d < 3; d++) act_row = LC_MAX(act_row, c->kern->act_row_bytes(quant_types[i], dims[d]));
    }
    act_row = (act_row + 63) / 64 * 64;
    if (ok && !(c->act = malloc(act_row * B + 64))) ok = false;
    if (!ok) {
        lc_ctx_free(c);
        return lc_fail(LC_ERR_NOMEM, "cannot allocate the context's buffers");
    }
    *out = c;
    return LC_OK;
}

int lc_ctx_seq_pos_max(const lc_ctx *c, int seq) {
    if (seq < 0 || seq >= c->n_seq || c->seq_len[seq] == 0) return -1;
    return c->cell_pos[c->seq_cells[seq][c->seq_len[seq] - 1]];
}

static void seq_rm_one(lc_ctx *c, int s, int p0, int p1) {
    int32_t *cells = c->seq_cells[s];
    int n = 0;
    for (int i = 0; i < c->seq_len[s]; i++) {
        int cell = cells[i], pos = c->cell_pos[cell];
        if (pos >= p0 && (p1 < 0 || pos < p1)) {
            c->cell_pos[cell] = -1;
            c->cell_seq[cell] = -1;
            c->n_used--;
        } else {
            cells[n++] = cell;
        }
    }
    c->seq_len[s] = n;
}

int lc_ctx_seq_rm(lc_ctx *c, int seq, int p0, int p1) {
    if (seq >= c->n_seq) return lc_fail(LC_ERR_ARG, "sequence %d out of range", seq);
    if (p0 < 0) p0 = 0;
    if (seq < 0) {
        for (int s = 0; s < c->n_seq; s++) seq_rm_one(c, s, p0, p1);
    } else {
        seq_rm_one(c, seq, p0, p1);
    }
    return LC_OK;
}

/* g = silu(g) * u, elementwise, split over the pool (expf is the slow part; each element
 * is computed the same way on any thread, so results do not depend on the thread count) */
static inline float silu_mul(float g, float u) { return g / (1.0f + expf(-g)) * u; }

typedef struct {
    float *g;
    const float *u;
    size_t n;
} swiglu_job;

static void swiglu_task(void *arg, int ith, int nth) {
    swiglu_job *j = arg;
    size_t per = (j->n + (size_t)nth - 1) / (size_t)nth, i0 = LC_MIN(j->n, per * (size_t)ith),
           i1 = LC_MIN(j->n, i0 + per);
    for (size_t i = i0; i < i1; i++) j->g[i] = silu_mul(j->g[i], j->u[i]);
}

/* ---- matrix products through the kernel table ------------------------------ */
/* Up to MM_MAX matrices of one type and row length that read the same input (q/k/v, gate/up)
 * go through the pool as one job: one activation rounding and one wake-up and wait for all of
 * them, and with swiglu set (gate, up) each thread applies silu(g) * u to the rows it has just
 * computed. Generation runs ~115 of these jobs per token on a 1B model; every one ends with the
 * faster thread waiting for the slower and the weight stream stopping meanwhile. */
enum { MM_MAX = 3 };
typedef struct {
    lc_ctx *c;
    int nw;
    const lc_tensor *w[MM_MAX];   /* rows = ne[1], cols = ne[0] */
    float *y[MM_MAX];             /* (n, rows) */
    const float *x;               /* (n, cols) */
    int n;
    bool quantized;               /* FAST mode on a quantized type: x was rounded into c->act */
    bool swiglu;                  /* nw == 2: y[0] = silu(y[0]) * y[1] */
    size_t lda;
} matmul_job;

static void quant_task(void *arg, int ith, int nth) {
    matmul_job *j = arg;
    int cols = (int)j->w[0]->ne[0];
    for (int t = ith; t < j->n; t += nth)
        j->c->kern->quant_act(j->w[0]->type, j->x + (size_t)t * cols, j->c->act + (size_t)t * j->lda, cols);
}

/* Each thread takes one contiguous range of whole kernel tiles of each matrix: one long stream
 * of weights per core, which the prefetchers follow best (smaller chunks taken in turn measured
 * slower). swiglu (elementwise, the same arithmetic on any thread) on the rows just computed. */
static void matmul_task(void *arg, int ith, int nth) {
    matmul_job *j = arg;
    for (int k = 0; k < j->nw; k++) {
        const lc_tensor *w = j->w[k];
        int rows = (int)w->ne[1], cols = (int)w->ne[0];
        size_t ldw;
        lc_type_row_bytes(w->type, cols, &ldw);
        int tiles = (rows + LC_KERN_ROW_TILE - 1) / LC_KERN_ROW_TILE;
        int per = (tiles + nth - 1) / nth;
        int r0 = LC_MIN(ith * per * LC_KERN_ROW_TILE, rows), r1 = LC_MIN(r0 + per * LC_KERN_ROW_TILE, rows);
        if (r0 >= r1) continue;
        const uint8_t *wr = (const uint8_t *)w->data + (size_t)r0 * ldw;
        if (j->quantized)
            j->c->kern->gemm(w->type, cols, wr, ldw, j->c->act, j->lda, j->y[k] + r0, (size_t)rows, r1 - r0, j->n);
        else
            j->c->kern->gemm_exact(w->type, cols, wr, ldw, j->x, (size_t)cols, j->y[k] + r0, (size_t)rows, r1 - r0,
                                   j->n);
        if (j->swiglu && k == 1)
            for (int t = 0; t < j->n; t++) {
                float *g = j->y[0] + (size_t)t * rows;
                const float *u = j->y[1] + (size_t)t * rows;
                for (int i = r0; i < r1; i++) g[i] = silu_mul(g[i], u[i]);
            }
    }
}

static void matmul_run(lc_ctx *c, matmul_job *j) {
    const lc_tensor *w = j->w[0];
    j->quantized = false;
    if (!c->exact && lc_type_block_size(w->type) > 1) {
        j->quantized = true;
        j->lda = (c->kern->act_row_bytes(w->type, (int)w->ne[0]) + 63) / 64 * 64;
        if (j->n == 1) quant_task(j, 0, 1);   /* one row: not worth waking the pool */
        else lc_pool_run(c->pool, quant_task, j);
    }
    lc_pool_run(c->pool, matmul_task, j);
}

/* y (n, rows) = x (n, cols) . W^T */
static void matmul(lc_ctx *c, const lc_tensor *w, const float *x, float *y, int n) {
    matmul_job j = { .c = c, .nw = 1, .w = { w }, .y = { y }, .x = x, .n = n };
    matmul_run(c, &j);
}

/* y_k = x . W_k^T for k < nw, in one pool run where the types and row lengths agree */
static void matmul_same_x(lc_ctx *c, int nw, const lc_tensor *const *w, float *const *y, const float *x, int n) {
    LC_ASSERT(nw > 0 && nw <= MM_MAX);
    matmul_job j = { .c = c, .x = x, .n = n };
    for (int k = 0; k < nw; k++) {
        if (j.nw && (w[k]->type != j.w[0]->type || w[k]->ne[0] != j.w[0]->ne[0])) {
            matmul_run(c, &j);
            j.nw = 0;
        }
        j.w[j.nw] = w[k], j.y[j.nw] = y[k], j.nw++;
    }
    matmul_run(c, &j);
}

/* g = silu(x . Wg^T) * (x . Wu^T), fused into one pool run where gate and up agree in type */
static void matmul_swiglu(lc_ctx *c, const lc_tensor *wg, const lc_tensor *wu, const float *x, float *g, float *u,
                          int n) {
    matmul_job j = { .c = c, .nw = 2, .w = { wg, wu }, .y = { g, u }, .x = x, .n = n, .swiglu = true };
    if (wg->type == wu->type && wg->ne[0] == wu->ne[0] && wg->ne[1] == wu->ne[1]) {
        matmul_run(c, &j);
        return;
    }
    matmul(c, wg, x, g, n);
    matmul(c, wu, x, u, n);
    swiglu_job sj = { .g = g, .u = u, .n = (size_t)n * (size_t)wg->ne[1] };
    lc_pool_run(c->pool, swiglu_task, &sj);
}

static void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0; /* float64 sum keeps the norm exact for long vectors */
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = w[i] * (x[i] * scale);
}

static void rope(float *v, int n_heads, int hd, const float *cs, const float *sn, bool neox) {
    int half = hd / 2;
    for (int h = 0; h < n_heads; h++) {
        float *p = v + (size_t)h * hd;
        for (int i = 0; i < half; i++) {
            int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            float x0 = p[a], x1 = p[b];
            p[a] = x0 * cs[i] - x1 * sn[i];
            p[b] = x0 * sn[i] + x1 * cs[i];
        }
    }
}

typedef struct {
    lc_ctx *c;
    int layer, n_tok;
    const int32_t *pos, *seq;
} attn_job;

static void attn_task(void *arg, int ith, int nth) {
    attn_job *j = arg;
    lc_ctx *c = j->c;
    const lc_model_info *h = &c->m->info;
    int hd = h->head_dim, nh = h->n_heads, nkv = h->n_kv_heads, group = nh / nkv;
    size_t kv_dim = (size_t)nkv * hd, q_dim = (size_t)nh * hd;
    const float *K = c->k_cache + (size_t)j->layer * c->n_ctx * kv_dim;
    const float *V = c->v_cache + (size_t)j->layer * c->n_ctx * kv_dim;
    float *scores = c->scratch + (size_t)ith * c->scratch_per_thread;
    float scale = 1.0f / sqrtf((float)hd);
    int total = j->n_tok * nh, per = (total + nth - 1) / nth, w0 = ith * per, w1 = LC_MIN(w0 + per, total);
    for (int w = w0; w < w1; w++) {
        int t = w / nh, head = w % nh, kvh = head / group;
        int s = j->seq[t], p = j->pos[t];
        const float *q = c->q + (size_t)t * q_dim + (size_t)head * hd;
        const int32_t *cells = c->seq_cells[s];
        int n = 0;
        float mx = -INFINITY;
        for (int i = 0; i < c->seq_len[s]; i++) {
            int cell = cells[i];
            if (c->cell_pos[cell] > p) break; /* sorted by position: the rest are in the future */
            float sc = c->kern->dot_f32(q, K + (size_t)cell * kv_dim + (size_t)kvh * hd, hd) * scale;
            scores[n++] = sc;
            mx = LC_MAX(mx, sc);
        }
        float sum = 0;
        for (int i = 0; i < n; i++) {
            scores[i] = expf(scores[i] - mx);
            sum += scores[i];
        }
        float inv = 1.0f / sum;
        float *o = c->att + (size_t)t * q_dim + (size_t)head * hd;
        memset(o, 0, (size_t)hd * sizeof *o);
        for (int i = 0; i < n; i++)
            c->kern->axpy_f32(o, scores[i] * inv, V + (size_t)cells[i] * kv_dim + (size_t)kvh * hd, hd);
    }
}

/* one micro-batch of n tokens whose cells are already assigned (c->ub_cell) */
static int forward_ubatch(lc_ctx *c, const int32_t *tok, const int32_t *pos, const int32_t *seq, int n,
                          const int32_t *out_rows) {
    lc_model *m = c->m;
    const lc_model_info *h = &m->info;
    int dim = h->dim, hd = h->head_dim, half = hd / 2;
    size_t q_dim = (size_t)h->n_heads * hd, kv_dim = (size_t)h->n_kv_heads * hd;
    size_t emb_row;
    lc_type_row_bytes(m->tok_embd->type, dim, &emb_row);
    for (int t = 0; t < n; t++) {
        lc_dequant_row(m->tok_embd->type, (const uint8_t *)m->tok_embd->data + (size_t)tok[t] * emb_row,
                       c->x + (size_t)t * dim, dim);
        for (int i = 0; i < half; i++) {
            double a = (double)pos[t] * m->inv_freq[i];
            c->rope_cos[(size_t)t * half + i] = (float)cos(a);
            c->rope_sin[(size_t)t * half + i] = (float)sin(a);
        }
    }
    for (int l = 0; l < h->n_layers; l++) {
        if (c->abort_flag && *c->abort_flag) return lc_fail(LC_ERR_CANCELLED, "cancelled");
        const lc_layer *L = &m->layers[l];
        for (int t = 0; t < n; t++)
            rmsnorm(c->xn + (size_t)t * dim, c->x + (size_t)t * dim, L->attn_norm, dim, h->norm_eps);
        const lc_tensor *wqkv[3] = { L->wq, L->wk, L->wv };
        float *const yqkv[3] = { c->q, c->k, c->v };
        matmul_same_x(c, 3, wqkv, yqkv, c->xn, n);
        float *Kc = c->k_cache + (size_t)l * c->n_ctx * kv_dim, *Vc = c->v_cache + (size_t)l * c->n_ctx * kv_dim;
        for (int t = 0; t < n; t++) {
            const float *cs = c->rope_cos + (size_t)t * half, *sn = c->rope_sin + (size_t)t * half;
            rope(c->q + (size_t)t * q_dim, h->n_heads, hd, cs, sn, h->rope_neox);
            rope(c->k + (size_t)t * kv_dim, h->n_kv_heads, hd, cs, sn, h->rope_neox);
            memcpy(Kc + (size_t)c->ub_cell[t] * kv_dim, c->k + (size_t)t * kv_dim, kv_dim * sizeof(float));
            memcpy(Vc + (size_t)c->ub_cell[t] * kv_dim, c->v + (size_t)t * kv_dim, kv_dim * sizeof(float));
        }
        attn_job aj = { .c = c, .layer = l, .n_tok = n, .pos = pos, .seq = seq };
        lc_pool_run(c->pool, attn_task, &aj);
        matmul(c, L->wo, c->att, c->xn, n);
        for (size_t i = 0; i < (size_t)n * dim; i++) c->x[i] += c->xn[i];
        for (int t = 0; t < n; t++)
            rmsnorm(c->xn + (size_t)t * dim, c->x + (size_t)t * dim, L->ffn_norm, dim, h->norm_eps);
        matmul_swiglu(c, L->gate, L->up, c->xn, c->hb, c->hb2, n);
        matmul(c, L->down, c->hb, c->xn, n);
        for (size_t i = 0; i < (size_t)n * dim; i++) c->x[i] += c->xn[i];
    }
    /* final norm + output projection for the tokens that want logits, gathered together */
    int n_out = 0;
    for (int t = 0; t < n; t++) {
        if (out_rows[t] < 0) continue;
        rmsnorm(c->xn + (size_t)n_out * dim, c->x + (size_t)t * dim, m->output_norm, dim, h->norm_eps);
        n_out++;
    }
    if (n_out) {
        int first = -1;
        for (int t = 0; t < n && first < 0; t++)
            if (out_rows[t] >= 0) first = out_rows[t];
        /* rows of one micro-batch are consecutive in the logits buffer */
        matmul(c, m->output, c->xn, c->logits + (size_t)first * h->n_vocab, n_out);
    }
    return LC_OK;
}

int lc_ctx_decode(lc_ctx *c, const lc_batch *b) {
    const lc_model_info *h = &c->m->info;
    if (!b || b->n_tokens <= 0) return lc_fail(LC_ERR_ARG, "empty batch");
    if (!b->token || !b->pos || !b->seq_id) return lc_fail(LC_ERR_ARG, "batch without tokens, positions or sequence ids");
    int n = b->n_tokens;
    /* validate everything before touching the cache */
    if (n > c->n_ctx - c->n_used)
        return lc_fail(LC_ERR_CONTEXT, "context full: %d tokens do not fit (%d of %d cells free)", n,
                       c->n_ctx - c->n_used, c->n_ctx);
    int last_pos_stack[64];
    int *last_pos = c->n_seq <= 64 ? last_pos_stack : malloc((size_t)c->n_seq * sizeof *last_pos);
    if (!last_pos) return lc_fail(LC_ERR_NOMEM, "no memory");
    for (int s = 0; s < c->n_seq; s++) last_pos[s] = lc_ctx_seq_pos_max(c, s);
    int rc = LC_OK;
    for (int i = 0; i < n && rc == LC_OK; i++) {
        int32_t tk = b->token[i], p = b->pos[i], s = b->seq_id[i];
        if (tk < 0 || tk >= h->n_vocab) rc = lc_fail(LC_ERR_ARG, "token %d out of range (vocab %d)", tk, h->n_vocab);
        else if (s < 0 || s >= c->n_seq) rc = lc_fail(LC_ERR_ARG, "sequence %d out of range (%d sequences)", s, c->n_seq);
        else if (p <= last_pos[s])
            rc = lc_fail(LC_ERR_ARG, "position %d of sequence %d does not follow position %d", p, s, last_pos[s]);
        else last_pos[s] = p;
    }
    if (last_pos != last_pos_stack) free(last_pos);
    if (rc) return rc;
    /* output rows */
    int n_out = 0;
    if (c->out_row_cap < n) {
        int32_t *r = realloc(c->out_row, (size_t)n * sizeof *r);
        if (!r) return lc_fail(LC_ERR_NOMEM, "no memory");
        c->out_row = r;
        c->out_row_cap = n;
    }
    for (int i = 0; i < n; i++) {
        bool want = b->want_logits ? b->want_logits[i] != 0 : i == n - 1;
        c->out_row[i] = want ? n_out++ : -1;
    }
    if ((size_t)n_out > c->logits_cap) {
        size_t bytes;
        if (!lc_mul_ok((size_t)n_out * sizeof(float), (size_t)h->n_vocab, &bytes))
            return lc_fail(LC_ERR_NOMEM, "logits too large");
        float *lg = realloc(c->logits, bytes);
        if (!lg) return lc_fail(LC_ERR_NOMEM, "no memory for %d rows of logits", n_out);
        c->logits = lg;
        c->logits_cap = (size_t)n_out;
    }
    /* assign cells, then run micro-batches */
    int next_free = 0, done = 0;
    c->n_last = 0;
    int32_t *assigned = malloc((size_t)n * sizeof *assigned);
    if (!assigned) return lc_fail(LC_ERR_NOMEM, "no memory");
    for (int i = 0; i < n; i++) {
        while (c->cell_pos[next_free] >= 0) next_free++;
        int cell = next_free++;
        int s = b->seq_id[i];
        c->cell_pos[cell] = b->pos[i];
        c->cell_seq[cell] = s;
        c->seq_cells[s][c->seq_len[s]++] = cell;
        c->n_used++;
        assigned[i] = cell;
    }
    while (done < n) {
        int un = LC_MIN(c->n_batch, n - done);
        memcpy(c->ub_cell, assigned + done, (size_t)un * sizeof(int32_t));
        rc = forward_ubatch(c, b->token + done, b->pos + done, b->seq_id + done, un, c->out_row + done);
        if (rc) break;
        done += un;
    }
    if (rc) { /* roll back the cells of this batch so the cache stays consistent */
        for (int i = 0; i < n; i++) {
            int s = b->seq_id[i];
            int cell = assigned[i];
            for (int k = c->seq_len[s] - 1; k >= 0; k--)
                if (c->seq_cells[s][k] == cell) {
                    memmove(&c->seq_cells[s][k], &c->seq_cells[s][k + 1],
                            (size_t)(c->seq_len[s] - k - 1) * sizeof(int32_t));
                    c->seq_len[s]--;
                    break;
                }
            c->cell_pos[cell] = -1;
            c->cell_seq[cell] = -1;
            c->n_used--;
        }
    }
    free(assigned);
    if (rc == LC_OK) c->n_last = n;
    return rc;
}

const float *lc_ctx_logits(const lc_ctx *c, int i) {
    if (i < 0 || i >= c->n_last || !c->out_row || c->out_row[i] < 0) return NULL;
    return c->logits + (size_t)c->out_row[i] * c->m->info.n_vocab;
}
