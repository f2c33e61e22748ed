/* train_io.c - GGUF output of training: model checkpoints (llama.* keys, tokenizer section
 * copied from the source tokenizer, F32/F16 weights, rope_freqs), LoRA adapters, and the
 * optimizer state ("train.*") that makes a resumed run continue the same loss curve. */
#include "train_int.h"

#include <jansson.h>

/* ---- rows -------------------------------------------------------------------------------- */
int64_t lc_tr_perm_row(int64_t r, int hd) {
    int64_t h = r / hd, w = r % hd;
    return h * hd + (w & 1 ? hd / 2 + w / 2 : w / 2);
}

int lc_tr_fill(void *ud, int ti, int64_t row0, int64_t n_rows, void *dst) {
    const lc_tr_wtensor *t = &((const lc_tr_wtensor *)ud)[ti];
    size_t rb;
    if (!lc_type_row_bytes(t->type, t->cols, &rb)) return lc_fail(LC_ERR_FORMAT, "bad row of %lld", (long long)t->cols);
    float *tmp = NULL;
    if (t->src && t->src->type != t->type) {
        if (!(tmp = malloc((size_t)t->cols * sizeof(float)))) return lc_fail(LC_ERR_NOMEM, "no memory");
    }
    for (int64_t i = 0; i < n_rows; i++) {
        int64_t r = row0 + i, sr = t->perm_hd ? lc_tr_perm_row(r, t->perm_hd) : r;
        uint8_t *o = (uint8_t *)dst + (size_t)i * rb;
        if (t->src) {
            size_t sb;
            lc_type_row_bytes(t->src->type, t->cols, &sb);
            const uint8_t *s = (const uint8_t *)t->src->data + (size_t)sr * sb;
            if (t->src->type == t->type) {
                memcpy(o, s, rb);
            } else {
                lc_dequant_row(t->src->type, s, tmp, t->cols);
                lc_quant_row(t->type, tmp, o, t->cols);
            }
        } else {
            lc_quant_row(t->type, t->data + (size_t)sr * (size_t)t->cols, o, t->cols);
        }
    }
    free(tmp);
    return LC_OK;
}

/* ---- keys ----------------------------------------------------------------------------------- */
int lc_tr_write_hparams(lc_gguf_writer *w, const lc_tr_hp *hp, const char *name, int file_type) {
    const char *nm = name ? name : "llamac";
    int rc = lc_gguf_set_str(w, "general.architecture", "llama", 5);
    rc = rc ? rc : lc_gguf_set_str(w, "general.name", nm, strlen(nm));
    rc = rc ? rc : lc_gguf_set_u32(w, "general.file_type", (uint32_t)file_type);
    rc = rc ? rc : lc_gguf_set_u32(w, "llama.context_length", (uint32_t)(hp->n_ctx > 0 ? hp->n_ctx : 2048));
    rc = rc ? rc : lc_gguf_set_u32(w, "llama.embedding_length", (uint32_t)hp->dim);
    rc = rc ? rc : lc_gguf_set_u32(w, "llama.block_count", (uint32_t)hp->n_layers);
    rc = rc ? rc : lc_gguf_set_u32(w, "llama.feed_forward_length", (uint32_t)hp->ffn_dim);
    rc = rc ? rc : lc_gguf_set_u32(w, "llama.attention.head_count", (uint32_t)hp->n_heads);
    rc = rc ? rc : lc_gguf_set_u32(w, "llama.attention.head_count_kv", (uint32_t)hp->n_kv_heads);
    rc = rc ? rc : lc_gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", hp->norm_eps);
    rc = rc ? rc : lc_gguf_set_f32(w, "llama.rope.freq_base", hp->rope_theta);
    rc = rc ? rc : lc_gguf_set_u32(w, "llama.rope.dimension_count", (uint32_t)hp->head_dim);
    rc = rc ? rc : lc_gguf_set_u32(w, "llama.vocab_size", (uint32_t)hp->n_vocab);
    return rc;
}

static bool has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static char *path_join(const char *dir, const char *name) {
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, name) < 0) return NULL;
    return p;
}

/* chat template of a folder: tokenizer_config.json "chat_template" or chat_template.jinja */
static int dir_template(const char *dir, char **out) {
    *out = NULL;
    char *p = path_join(dir, "tokenizer_config.json");
    if (!p) return lc_fail(LC_ERR_NOMEM, "no memory");
    json_error_t je;
    json_t *cfg = lc_file_exists(p) ? json_load_file(p, 0, &je) : NULL;
    free(p);
    const char *t = json_string_value(json_object_get(cfg, "chat_template"));
    if (t && !(*out = strdup(t))) {
        json_decref(cfg);
        return lc_fail(LC_ERR_NOMEM, "no memory");
    }
    json_decref(cfg);
    if (*out) return LC_OK;
    p = path_join(dir, "chat_template.jinja");
    if (!p) return lc_fail(LC_ERR_NOMEM, "no memory");
    int rc = LC_OK;
    if (lc_file_exists(p)) rc = lc_read_file(p, out, NULL, (size_t)1 << 24);
    free(p);
    return rc;
}

static int tok_from_json(lc_gguf_writer *w, const char *path) {
    lc_tok *tk = NULL;
    int rc = lc_tok_load(path, &tk);   /* validates the file and gives the role ids */
    if (rc) return lc_fail_prefix(rc, path);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    lc_str *toks = NULL;
    int32_t *types = NULL;
    lc_str *merges = NULL;
    char **owned = NULL;
    size_t n_owned = 0;
    int64_t n = lc_tok_n_vocab(tk);
    json_t *model = json_object_get(root, "model"), *vocab = json_object_get(model, "vocab");
    json_t *mg = json_object_get(model, "merges"), *added = json_object_get(root, "added_tokens");
    size_t nm = json_array_size(mg);
    if (!root || !json_is_object(vocab) || !json_is_array(mg)) {
        rc = lc_fail(LC_ERR_FORMAT, "%s: no model.vocab / model.merges", path);
        goto done;
    }
    toks = calloc((size_t)n, sizeof *toks);
    types = calloc((size_t)n, sizeof *types);
    merges = calloc(nm + 1, sizeof *merges);
    owned = calloc((size_t)n + nm + 1, sizeof *owned);
    if (!toks || !types || !merges || !owned) {
        rc = lc_fail(LC_ERR_NOMEM, "no memory");
        goto done;
    }
    const char *key;
    json_t *v;
    size_t klen, i;
    json_object_keylen_foreach(vocab, key, klen, v) {
        json_int_t id = json_integer_value(v);
        if (id >= 0 && id < n) {
            toks[id] = (lc_str){ key, klen };
            types[id] = 1;
        }
    }
    json_array_foreach(added, i, v) {
        json_int_t id = json_integer_value(json_object_get(v, "id"));
        json_t *c = json_object_get(v, "content");
        if (id < 0 || id >= n || !json_is_string(c)) continue;
        toks[id] = (lc_str){ json_string_value(c), json_string_length(c) };
        types[id] = json_is_true(json_object_get(v, "special")) ? 3 : 4;
    }
    for (int64_t k = 0; k < n; k++)
        if (!types[k]) { /* an id the file does not name: an inert control token */
            char *s = NULL;
            if (asprintf(&s, "<|unused_id_%lld|>", (long long)k) < 0) {
                rc = lc_fail(LC_ERR_NOMEM, "no memory");
                goto done;
            }
            owned[n_owned++] = s;
            toks[k] = (lc_str){ s, strlen(s) };
            types[k] = 3;
        }
    json_array_foreach(mg, i, v) {
        if (json_is_string(v)) {
            merges[i] = (lc_str){ json_string_value(v), json_string_length(v) };
        } else {
            const char *a = json_string_value(json_array_get(v, 0)), *b = json_string_value(json_array_get(v, 1));
            char *s = NULL;
            if (!a || !b || asprintf(&s, "%s %s", a, b) < 0) {
                rc = lc_fail(LC_ERR_FORMAT, "%s: merge %zu malformed", path, i);
                goto done;
            }
            owned[n_owned++] = s;
            merges[i] = (lc_str){ s, strlen(s) };
        }
    }
    rc = lc_gguf_set_str(w, "tokenizer.ggml.model", "gpt2", 4);
    rc = rc ? rc : lc_gguf_set_str(w, "tokenizer.ggml.pre", "llama-bpe", 9);
    rc = rc ? rc : lc_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)n);
    rc = rc ? rc : lc_gguf_set_arr(w, "tokenizer.ggml.token_type", LC_GGUF_I32, types, (uint64_t)n);
    rc = rc ? rc : lc_gguf_set_arr_str(w, "tokenizer.ggml.merges", merges, nm);
    struct { const char *key; int32_t id; } ids[] = {
        { "tokenizer.ggml.bos_token_id", lc_tok_bos(tk) },
        { "tokenizer.ggml.eos_token_id", lc_tok_eos(tk) },
        { "tokenizer.ggml.eot_token_id", lc_tok_lookup(tk, "<|eot_id|>") },
        { "tokenizer.ggml.eom_token_id", lc_tok_lookup(tk, "<|eom_id|>") },
    };
    for (size_t k = 0; k < LC_ARRAY_LEN(ids) && !rc; k++)
        if (ids[k].id >= 0) rc = lc_gguf_set_u32(w, ids[k].key, (uint32_t)ids[k].id);
done:
    for (size_t k = 0; k < n_owned; k++) free(owned[k]);
    free(owned);
    free(toks);
    free(types);
    free(merges);
    json_decref(root);
    lc_tok_free(tk);
    return rc;
}

int lc_tr_write_tokenizer(lc_gguf_writer *w, const char *src, const char *template_path) {
    if (!src) return LC_OK;
    int rc = LC_OK;
    char *tmpl = NULL;
    bool have_tmpl = false;
    if (template_path) {
        if ((rc = lc_read_file(template_path, &tmpl, NULL, (size_t)1 << 24))) return lc_fail_prefix(rc, template_path);
    }
    if (lc_is_dir(src)) {
        char *p = path_join(src, "tokenizer.json");
        if (!p) rc = lc_fail(LC_ERR_NOMEM, "no memory");
        else if (!lc_file_exists(p)) rc = lc_fail(LC_ERR_UNSUPPORTED, "%s: no tokenizer.json to copy into the checkpoint", src);
        else rc = tok_from_json(w, p);
        free(p);
        if (!rc && !tmpl) rc = dir_template(src, &tmpl);
    } else if (has_suffix(src, ".json")) {
        rc = tok_from_json(w, src);
        if (!rc && !tmpl) {
            char *dir = strdup(src), *sl = dir ? strrchr(dir, '/') : NULL;
            if (!dir) rc = lc_fail(LC_ERR_NOMEM, "no memory");
            else {
                if (sl) *sl = 0;
                rc = dir_template(sl ? dir : ".", &tmpl);
            }
            free(dir);
        }
    } else {
        lc_gguf g;
        if ((rc = lc_gguf_open(src, &g))) {
            free(tmpl);
            return lc_fail_prefix(rc, src);
        }
        for (int64_t i = 0; i < g.n_kv && !rc; i++) {
            const char *k = g.kv[i].key;
            if (strncmp(k, "tokenizer.", 10) != 0) continue;
            if (strcmp(k, "tokenizer.chat_template") == 0) {
                if (tmpl) continue;
                have_tmpl = true;
            }
            rc = lc_gguf_copy_kv(w, &g.kv[i]);
        }
        lc_gguf_close(&g);
    }
    if (!rc && tmpl && !have_tmpl) rc = lc_gguf_set_str(w, "tokenizer.chat_template", tmpl, strlen(tmpl));
    free(tmpl);
    return rc;
}

/* ---- saving a training model -------------------------------------------------------------- */
static bool is_qk_rows(const lc_tr_model *m, const lc_tr_tensor *t) {
    if (!m->hp.neox) return false;
    if (t->lora == 1) return false;                    /* A: rows are the rank */
    int k;
    if (t->lora == 2) k = lc_lora_slot_k(t->lidx % LC_LORA_N);
    else if (t->slot >= 1 && t->slot < LC_TR_SLOT_ONORM(m->hp.n_layers)) k = (t->slot - 1) % LC_TR_K_N;
    else return false;
    return k == LC_TR_K_Q || k == LC_TR_K_K;
}

int lc_tr_save(lc_tr_model *m, const char *path, int f16, const char *tok_src, const char *template_path,
               const char *name, const lc_tr_state *st, uint64_t seed, int total_steps) {
    lc_gguf_writer *w = NULL;
    int rc = lc_gguf_writer_new(&w);
    if (rc) return rc;
    const lc_tr_hp *hp = &m->hp;
    int n_w = m->n_t * 4 + 2;
    lc_tr_wtensor *wt = calloc((size_t)n_w, sizeof *wt);
    int nt = 0;
    if (!wt) {
        lc_gguf_writer_free(w);
        return lc_fail(LC_ERR_NOMEM, "no memory");
    }
    bool lora = m->lora_rank > 0;
    rc = lc_tr_write_hparams(w, hp, name, f16 && !lora ? 1 : 0);
    if (!rc && lora) {
        char tg[64] = "";
        for (int i = 0; i < LC_LORA_N; i++)
            if (m->lora_targets & (1 << i)) {
                size_t u = strlen(tg);
                snprintf(tg + u, sizeof tg - u, "%s%s", u ? "," : "", lc_lora_short_name(i));
            }
        rc = lc_gguf_set_str(w, "adapter.type", "lora", 4);
        rc = rc ? rc : lc_gguf_set_f32(w, "adapter.lora.alpha", m->lora_alpha);
        rc = rc ? rc : lc_gguf_set_u32(w, "adapter.lora.rank", (uint32_t)m->lora_rank);
        rc = rc ? rc : lc_gguf_set_f32(w, "adapter.lora.dropout", m->lora_dropout);
        rc = rc ? rc : lc_gguf_set_str(w, "adapter.lora.targets", tg, strlen(tg));
    }
    if (!rc && !lora) rc = lc_tr_write_tokenizer(w, tok_src, template_path);
    if (!rc && st) {
        /* 64-bit words as pairs of u32 (the reader's integers are signed 64-bit) */
        uint32_t rng[8], h[2] = { (uint32_t)st->hash, (uint32_t)(st->hash >> 32) };
        uint32_t sd[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) };
        for (int i = 0; i < 4; i++) rng[2 * i] = (uint32_t)st->rng.s[i], rng[2 * i + 1] = (uint32_t)(st->rng.s[i] >> 32);
        rc = lc_gguf_set_u32(w, "train.step", (uint32_t)st->step);
        rc = rc ? rc : lc_gguf_set_u32(w, "train.total_steps", (uint32_t)total_steps);
        rc = rc ? rc : lc_gguf_set_arr(w, "train.seed", LC_GGUF_U32, sd, 2);
        rc = rc ? rc : lc_gguf_set_arr(w, "train.rng", LC_GGUF_U32, rng, 8);
        rc = rc ? rc : lc_gguf_set_u64(w, "train.data_epoch", (uint64_t)st->epoch);
        rc = rc ? rc : lc_gguf_set_u64(w, "train.data_cursor", (uint64_t)st->cursor);
        rc = rc ? rc : lc_gguf_set_arr(w, "train.data_hash", LC_GGUF_U32, h, 2);
        rc = rc ? rc : lc_gguf_set_u32(w, "train.lora_rank", (uint32_t)m->lora_rank);
    }
    /* weights */
    for (int i = 0; i < m->n_t && !rc; i++) {
        const lc_tr_tensor *t = &m->t[i];
        lc_tr_wtensor *o = &wt[nt++];
        o->data = m->p + t->off;
        o->rows = t->rows;
        o->cols = t->cols;
        o->type = f16 && !lora && t->rows > 1 ? LC_TYPE_F16 : LC_TYPE_F32;
        o->perm_hd = is_qk_rows(m, t) ? hp->head_dim : 0;
        int64_t ne[2] = { t->cols, t->rows };
        rc = lc_gguf_add_tensor(w, t->name, o->type, t->rows > 1 ? 2 : 1, ne);
    }
    if (!rc && !lora && hp->rope_scaled) {
        lc_tr_wtensor *o = &wt[nt++];
        o->data = hp->rope_div;
        o->rows = 1;
        o->cols = hp->head_dim / 2;
        o->type = LC_TYPE_F32;
        int64_t ne[1] = { o->cols };
        rc = lc_gguf_add_tensor(w, "rope_freqs.weight", LC_TYPE_F32, 1, ne);
    }
    /* optimizer state */
    for (int pass = 0; st && pass < 3 && !rc; pass++) {
        if (pass == 2 && !(f16 && !lora)) break;
        for (int i = 0; i < m->n_t && !rc; i++) {
            const lc_tr_tensor *t = &m->t[i];
            lc_tr_wtensor *o = &wt[nt++];
            o->data = (pass == 0 ? m->m : pass == 1 ? m->v : m->p) + t->off;
            o->rows = t->rows;
            o->cols = t->cols;
            o->type = LC_TYPE_F32;
            o->perm_hd = is_qk_rows(m, t) ? hp->head_dim : 0;
            char nm[160];
            snprintf(nm, sizeof nm, "train.%c.%s", "mvw"[pass], t->name);
            int64_t ne[2] = { t->cols, t->rows };
            rc = lc_gguf_add_tensor(w, nm, LC_TYPE_F32, t->rows > 1 ? 2 : 1, ne);
        }
    }
    if (!rc) rc = lc_gguf_write(w, path, lc_tr_fill, wt, NULL, NULL);
    if (rc) lc_fail_prefix(rc, path);
    free(wt);
    lc_gguf_writer_free(w);
    return rc;
}

/* ---- resuming ---------------------------------------------------------------------------------- */
static int read_tensor(const lc_gguf *g, const char *name, const lc_tr_model *m, const lc_tr_tensor *t, float *dst) {
    const lc_tensor *s = lc_gguf_tensor(g, name);
    if (!s) return lc_fail(LC_ERR_FORMAT, "checkpoint has no tensor '%s'", name);
    if (s->ne[0] != t->cols || (t->rows > 1 && (s->n_dims != 2 || s->ne[1] != t->rows)))
        return lc_fail(LC_ERR_FORMAT, "checkpoint tensor '%s' has the wrong shape", name);
    size_t rb;
    lc_type_row_bytes(s->type, t->cols, &rb);
    bool perm = is_qk_rows(m, t);
    for (int64_t r = 0; r < t->rows; r++) {
        int64_t dr = perm ? lc_tr_perm_row(r, m->hp.head_dim) : r;   /* file row r is model row dr */
        lc_dequant_row(s->type, (const uint8_t *)s->data + (size_t)r * rb, dst + (size_t)(dr * t->cols), t->cols);
    }
    return LC_OK;
}

int lc_tr_load_state(lc_tr_model *m, const char *path, lc_tr_state *st) {
    lc_gguf g;
    int rc = lc_gguf_open(path, &g);
    if (rc) return lc_fail_prefix(rc, path);
    int64_t v, lr = -1;
    int64_t *rng = NULL;
    uint64_t nr = 0;
    if (lc_gguf_get_int(&g, "train.step", &v) != LC_OK) {
        rc = lc_fail(LC_ERR_FORMAT, "%s: not a training checkpoint (no train.step)", path);
        goto done;
    }
    st->step = (int)v;
    lc_gguf_get_int(&g, "train.lora_rank", &lr);
    if (lr != m->lora_rank) {
        rc = lc_fail(LC_ERR_ARG, "%s: checkpoint of a %s run, resumed as %s", path,
                     lr > 0 ? "LoRA" : "full", m->lora_rank ? "LoRA" : "full training");
        goto done;
    }
    if (lc_gguf_get_int_array(&g, "train.rng", &rng, &nr) != LC_OK || nr != 8) {
        rc = lc_fail(LC_ERR_FORMAT, "%s: train.rng missing", path);
        goto done;
    }
    for (int i = 0; i < 4; i++) st->rng.s[i] = (uint64_t)(uint32_t)rng[2 * i] | (uint64_t)(uint32_t)rng[2 * i + 1] << 32;
    free(rng);
    rng = NULL;
    if (lc_gguf_get_int(&g, "train.data_epoch", &st->epoch) || lc_gguf_get_int(&g, "train.data_cursor", &st->cursor) ||
        lc_gguf_get_int_array(&g, "train.data_hash", &rng, &nr) || nr != 2) {
        rc = lc_fail(LC_ERR_FORMAT, "%s: train.data_* missing", path);
        goto done;
    }
    st->hash = (uint64_t)(uint32_t)rng[0] | (uint64_t)(uint32_t)rng[1] << 32;
    char nm[160];
    for (int i = 0; i < m->n_t && !rc; i++) {
        const lc_tr_tensor *t = &m->t[i];
        snprintf(nm, sizeof nm, "train.m.%s", t->name);
        rc = read_tensor(&g, nm, m, t, m->m + t->off);
        snprintf(nm, sizeof nm, "train.v.%s", t->name);
        if (!rc) rc = read_tensor(&g, nm, m, t, m->v + t->off);
        snprintf(nm, sizeof nm, "train.w.%s", t->name);
        if (!rc && (m->lora_rank || lc_gguf_tensor(&g, nm)))
            rc = read_tensor(&g, m->lora_rank ? t->name : nm, m, t, m->p + t->off);
    }
    if (rc) lc_fail_prefix(rc, path);
done:
    free(rng);
    lc_gguf_close(&g);
    return rc;
}

int lc_tr_model_load_adapter(lc_tr_model *m, const char *path) {
    if (!m->lora_rank) return lc_fail(LC_ERR_ARG, "not a LoRA model");
    lc_gguf g;
    int rc = lc_gguf_open(path, &g);
    if (rc) return lc_fail_prefix(rc, path);
    int64_t rk;
    if (lc_gguf_get_int(&g, "adapter.lora.rank", &rk) != LC_OK || rk != m->lora_rank)
        rc = lc_fail(LC_ERR_FORMAT, "adapter rank differs from the model's LoRA rank %d", m->lora_rank);
    for (int i = 0; i < m->n_t && !rc; i++) rc = read_tensor(&g, m->t[i].name, m, &m->t[i], m->p + m->t[i].off);
    if (rc) lc_fail_prefix(rc, path);
    lc_gguf_close(&g);
    return rc;
}
