/* train_lora.c - LoRA adapters at inference: loading an adapter GGUF (checked against the
 * base model's shape), merging it into one weight tensor (W' = W + scale * B.A, exact in
 * float32), and `llamac merge-lora`: base GGUF + adapter -> merged GGUF. */
#include "train_int.h"

#include <cblas.h>

typedef struct lora_pair {
    char name[96];            /* base tensor, "blk.3.attn_q.weight" */
    const lc_tensor *a, *b;   /* a: ne [in, r], b: ne [r, out] */
    int qk;                   /* attn_q / attn_k: B rows follow the RoPE layout */
} lora_pair;

struct lc_lora {
    lc_gguf g;
    float alpha;
    int rank;
    int head_dim;             /* of the base (for the q/k row layout) */
    lora_pair *p;
    int n;
};

void lc_lora_free(lc_lora *a) {
    if (!a) return;
    lc_gguf_close(&a->g);
    free(a->p);
    free(a);
}

float lc_lora_alpha(const lc_lora *a) { return a->alpha; }
int lc_lora_rank(const lc_lora *a) { return a->rank; }

static const lora_pair *find_pair(const lc_lora *a, const char *name) {
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->p[i].name, name) == 0) return &a->p[i];
    return NULL;
}

int lc_lora_has(const lc_lora *a, const char *name) { return a && find_pair(a, name) != NULL; }

static int check_shape(const lc_gguf *g, const lc_model_info *b) {
    struct { const char *key; int want; const char *what; } k[] = {
        { "llama.embedding_length", b->dim, "dim" },
        { "llama.block_count", b->n_layers, "layers" },
        { "llama.attention.head_count", b->n_heads, "heads" },
        { "llama.attention.head_count_kv", b->n_kv_heads, "kv heads" },
        { "llama.rope.dimension_count", b->head_dim, "head dim" },
        { "llama.feed_forward_length", b->ffn_dim, "ffn" },
        { "llama.vocab_size", b->n_vocab, "vocab" },
    };
    for (size_t i = 0; i < LC_ARRAY_LEN(k); i++) {
        int64_t v;
        if (lc_gguf_get_int(g, k[i].key, &v) != LC_OK)
            return lc_fail(LC_ERR_FORMAT, "adapter has no %s", k[i].key);
        if (v != k[i].want)
            return lc_fail(LC_ERR_FORMAT, "adapter was trained for a model with %s %lld, this model has %d "
                           "(a LoRA for a different model)", k[i].what, (long long)v, k[i].want);
    }
    return LC_OK;
}

int lc_lora_load(const char *path, const lc_model_info *base, lc_lora **out) {
    *out = NULL;
    lc_lora *a = calloc(1, sizeof *a);
    if (!a) return lc_fail(LC_ERR_NOMEM, "no memory");
    int rc = lc_gguf_open(path, &a->g);
    if (rc) {
        free(a);
        return lc_fail_prefix(rc, path);
    }
    lc_str ty;
    double al;
    int64_t rk;
    if (lc_gguf_get_str(&a->g, "adapter.type", &ty) != LC_OK || ty.len != 4 || memcmp(ty.p, "lora", 4) != 0) {
        rc = lc_fail(LC_ERR_FORMAT, "not a LoRA adapter (adapter.type is not \"lora\")");
        goto fail;
    }
    if (lc_gguf_get_float(&a->g, "adapter.lora.alpha", &al) != LC_OK || !(al > 0) || al > 1e6 ||
        lc_gguf_get_int(&a->g, "adapter.lora.rank", &rk) != LC_OK || rk < 1 || rk > 65536) {
        rc = lc_fail(LC_ERR_FORMAT, "adapter.lora.alpha / adapter.lora.rank missing or out of range");
        goto fail;
    }
    a->alpha = (float)al;
    a->rank = (int)rk;
    a->head_dim = base->head_dim;
    if ((rc = check_shape(&a->g, base))) goto fail;
    lc_tr_hp hp = { .dim = base->dim, .n_layers = base->n_layers, .n_heads = base->n_heads,
                    .n_kv_heads = base->n_kv_heads, .head_dim = base->head_dim, .ffn_dim = base->ffn_dim,
                    .n_vocab = base->n_vocab };
    if (!(a->p = calloc((size_t)a->g.n_tensors + 1, sizeof *a->p))) {
        rc = lc_fail(LC_ERR_NOMEM, "no memory");
        goto fail;
    }
    for (int64_t i = 0; i < a->g.n_tensors; i++) {
        const lc_tensor *ta = &a->g.tensors[i];
        size_t ln = strlen(ta->name);
        if (ln < 8 || strcmp(ta->name + ln - 7, ".lora_a") != 0) continue;
        lora_pair *pr = &a->p[a->n];
        if (ln - 7 >= sizeof pr->name) {
            rc = lc_fail(LC_ERR_FORMAT, "adapter tensor name too long");
            goto fail;
        }
        memcpy(pr->name, ta->name, ln - 7);
        pr->name[ln - 7] = 0;
        char bn[128];
        snprintf(bn, sizeof bn, "%s.lora_b", pr->name);
        pr->a = ta;
        pr->b = lc_gguf_tensor(&a->g, bn);
        int l = -1, k = -1, used = 0;
        char kind[32];
        if (sscanf(pr->name, "blk.%d.%31[a-z_].weight%n", &l, kind, &used) == 2 && (size_t)used == strlen(pr->name))
            for (int mm = 0; mm < LC_LORA_N; mm++)
                if (strcmp(kind, lc_tr_slot_gguf_name(lc_lora_slot_k(mm))) == 0) k = lc_lora_slot_k(mm);
        if (!pr->b || l < 0 || l >= base->n_layers || k < 0) {
            rc = lc_fail(LC_ERR_FORMAT, "adapter tensor '%s' has no partner or names no layer matrix", ta->name);
            goto fail;
        }
        int64_t rows, cols;
        lc_tr_slot_shape(&hp, LC_TR_SLOT(l, k), &rows, &cols);
        const lc_tensor *tb = pr->b;
        if (ta->n_dims != 2 || tb->n_dims != 2 || ta->ne[0] != cols || ta->ne[1] != rk || tb->ne[0] != rk ||
            tb->ne[1] != rows) {
            rc = lc_fail(LC_ERR_FORMAT, "adapter tensors of '%s' have the wrong shape for this model", pr->name);
            goto fail;
        }
        if (lc_type_block_size(ta->type) != 1 || lc_type_block_size(tb->type) != 1) {
            rc = lc_fail(LC_ERR_UNSUPPORTED, "adapter tensors of '%s' are not F32/F16/BF16", pr->name);
            goto fail;
        }
        pr->qk = k == LC_TR_K_Q || k == LC_TR_K_K;
        a->n++;
    }
    if (!a->n) {
        rc = lc_fail(LC_ERR_FORMAT, "adapter holds no lora_a/lora_b tensors");
        goto fail;
    }
    *out = a;
    return LC_OK;
fail:
    lc_fail_prefix(rc, path);
    lc_lora_free(a);
    return rc;
}

int lc_lora_merge_tensor(const lc_lora *a, const char *name, int type, const void *data, int64_t ne0, int64_t ne1,
                         int neox, float user_scale, float *out) {
    size_t rb;
    if (!lc_type_row_bytes(type, ne0, &rb)) return lc_fail(LC_ERR_FORMAT, "'%s': bad row length", name);
    for (int64_t r = 0; r < ne1; r++) lc_dequant_row(type, (const uint8_t *)data + (size_t)r * rb, out + r * ne0, ne0);
    const lora_pair *p = a ? find_pair(a, name) : NULL;
    if (!p) return LC_OK;
    if (p->a->ne[0] != ne0 || p->b->ne[1] != ne1)
        return lc_fail(LC_ERR_FORMAT, "adapter for '%s' does not fit its shape", name);
    int r = a->rank;
    float *A = malloc((size_t)(r * ne0) * sizeof(float)), *B = malloc((size_t)(ne1 * r) * sizeof(float));
    if (!A || !B) {
        free(A);
        free(B);
        return lc_fail(LC_ERR_NOMEM, "no memory to merge '%s'", name);
    }
    lc_dequant_row(p->a->type, p->a->data, A, r * ne0);
    if (neox && p->qk) { /* file rows are in GGUF order: model row perm(gr) = file row gr */
        float *tmp = malloc((size_t)(ne1 * r) * sizeof(float));
        if (!tmp) {
            free(A);
            free(B);
            return lc_fail(LC_ERR_NOMEM, "no memory");
        }
        lc_dequant_row(p->b->type, p->b->data, tmp, ne1 * r);
        int head_dim = a->head_dim;
        for (int64_t gr = 0; gr < ne1; gr++)
            memcpy(B + lc_tr_perm_row(gr, head_dim) * r, tmp + gr * r, (size_t)r * sizeof(float));
        free(tmp);
    } else {
        lc_dequant_row(p->b->type, p->b->data, B, ne1 * r);
    }
    float scale = a->alpha / (float)r * user_scale;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)ne1, (int)ne0, r, scale, B, r, A, (int)ne0, 1.0f, out,
                (int)ne0);
    free(A);
    free(B);
    return LC_OK;
}

/* ---- merge-lora ---------------------------------------------------------------------------- */
typedef struct {
    lc_tr_wtensor *wt;        /* per output tensor */
    const lc_tensor **merge;  /* base tensor to merge, NULL: copy */
    const lc_lora *lora;
    float scale;
    float *buf;               /* the merged tensor being written */
    int cur;
} merge_job;

static int merge_fill(void *ud, int ti, int64_t row0, int64_t n_rows, void *dst) {
    merge_job *j = ud;
    const lc_tensor *t = j->merge[ti];
    if (t && j->cur != ti) {
        size_t n = (size_t)(t->ne[0] * t->ne[1]);
        float *nb = realloc(j->buf, n * sizeof(float));
        if (!nb) return lc_fail(LC_ERR_NOMEM, "no memory to merge '%s'", t->name);
        j->buf = nb;
        int rc = lc_lora_merge_tensor(j->lora, t->name, t->type, t->data, t->ne[0], t->ne[1], 0, j->scale, j->buf);
        if (rc) return rc;
        j->cur = ti;
        j->wt[ti].data = j->buf;
    }
    return lc_tr_fill(j->wt, ti, row0, n_rows, dst);
}

int lc_lora_merge(const char *base_path, const char *adapter_path, float user_scale, int out_type, const char *out_path) {
    lc_model *bm = NULL;
    lc_model_params mp;
    lc_model_params_default(&mp);
    mp.n_threads = 1;
    int rc = lc_model_load(base_path, &mp, &bm);
    if (rc) return lc_fail_prefix(rc, base_path);
    lc_model_info info = *lc_model_get_info(bm);
    lc_model_free(bm);
    if (info.rope_neox || lc_is_dir(base_path))
        return lc_fail(LC_ERR_UNSUPPORTED, "merge-lora: the base must be a GGUF file (convert %s first)", base_path);
    if (out_type != -1 && out_type != LC_TYPE_F32 && out_type != LC_TYPE_F16)
        return lc_fail(LC_ERR_ARG, "merge-lora: output type must be F32, F16 or the base type");
    lc_lora *lo = NULL;
    if ((rc = lc_lora_load(adapter_path, &info, &lo))) return rc;
    lc_gguf g;
    if ((rc = lc_gguf_open(base_path, &g))) {
        lc_lora_free(lo);
        return lc_fail_prefix(rc, base_path);
    }
    lc_gguf_writer *w = NULL;
    merge_job j = { .lora = lo, .scale = user_scale, .cur = -1 };
    j.wt = calloc((size_t)g.n_tensors + 1, sizeof *j.wt);
    j.merge = calloc((size_t)g.n_tensors + 1, sizeof *j.merge);
    if (!j.wt || !j.merge) rc = lc_fail(LC_ERR_NOMEM, "no memory");
    if (!rc) rc = lc_gguf_writer_new(&w);
    for (int64_t i = 0; i < g.n_kv && !rc; i++) rc = lc_gguf_copy_kv(w, &g.kv[i]);
    int n_merged = 0;
    for (int64_t i = 0; i < g.n_tensors && !rc; i++) {
        const lc_tensor *t = &g.tensors[i];
        lc_tr_wtensor *o = &j.wt[i];
        o->cols = t->ne[0];
        o->rows = 1;
        for (int d = 1; d < t->n_dims; d++) o->rows *= t->ne[d];
        if (lc_lora_has(lo, t->name)) {
            j.merge[i] = t;
            o->type = out_type == -1 ? t->type : out_type;
            if (out_type == -1 && !lc_type_supported(t->type)) o->type = LC_TYPE_F32;
            n_merged++;
        } else {
            o->src = t;
            o->type = t->type;
        }
        rc = lc_gguf_add_tensor(w, t->name, o->type, t->n_dims, t->ne);
    }
    if (!rc && n_merged != lo->n)
        rc = lc_fail(LC_ERR_FORMAT, "merge-lora: %d adapter tensors but only %d found in the base", lo->n, n_merged);
    if (!rc) rc = lc_gguf_write(w, out_path, merge_fill, &j, NULL, NULL);
    if (rc) lc_fail_prefix(rc, "merge-lora");
    free(j.buf);
    free(j.wt);
    free(j.merge);
    lc_gguf_writer_free(w);
    lc_gguf_close(&g);
    lc_lora_free(lo);
    return rc;
}
