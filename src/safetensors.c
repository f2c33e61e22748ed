/* safetensors.c - Hugging Face folder reader (spec/model.md 4.2): config.json, one or more
 * .safetensors shards (mapped, tensors are views), GGUF-style tensor names, llama3 RoPE
 * divisors, tokenizer path and chat template. Every file is untrusted input. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* asprintf, realpath, strdup */
#endif
#include "internal.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>

#define ST_MAX_HEADER ((uint64_t)100 << 20)     /* same limit as the safetensors library */
#define HF_MAX_JSON ((size_t)64 << 20)

/* ---- RoPE ------------------------------------------------------------- */
void lc_rope_llama3_freqs(float *out, int head_dim, float theta, float factor, float low_ff, float high_ff,
                          int orig_ctx) {
    double lo_wl = (double)orig_ctx / low_ff, hi_wl = (double)orig_ctx / high_ff;
    for (int i = 0; i < head_dim / 2; i++) {
        double inv = pow((double)theta, -2.0 * i / head_dim);
        double wl = 2.0 * 3.14159265358979323846 / inv, d;
        if (wl < hi_wl) d = 1.0;
        else if (wl > lo_wl) d = factor;
        else {
            double smooth = ((double)orig_ctx / wl - low_ff) / ((double)high_ff - low_ff);
            d = 1.0 / ((1.0 - smooth) / factor + smooth);
        }
        out[i] = (float)d;
    }
}

/* ---- one safetensors buffer -------------------------------------------- */
static const struct { const char *name; int type; int size; } dtypes[] = {
    { "F32", LC_TYPE_F32, 4 }, { "F16", LC_TYPE_F16, 2 }, { "BF16", LC_TYPE_BF16, 2 },
    { "F64", 28, 8 },          { "I64", 27, 8 },          { "I32", 26, 4 },
    { "I16", 25, 2 },          { "I8", 24, 1 },           { "U8", -1, 1 },
    { "BOOL", -1, 1 },         { "U16", -1, 2 },          { "U32", -1, 4 },
    { "U64", -1, 8 },          { "F8_E4M3", -1, 1 },      { "F8_E5M2", -1, 1 },
};

static uint64_t rd_le64(const uint8_t *b) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

static bool json_u64(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* fills t (ggml order) from one header entry */
static int st_entry(const char *name, const json_t *e, const uint8_t *base, uint64_t data_size, lc_tensor *t) {
    if (!json_is_object(e)) return lc_fail(LC_ERR_FORMAT, "tensor '%s': entry is not an object", name);
    const json_t *jd = json_object_get(e, "dtype"), *js = json_object_get(e, "shape"),
                 *jo = json_object_get(e, "data_offsets");
    if (!json_is_string(jd)) return lc_fail(LC_ERR_FORMAT, "tensor '%s': missing dtype", name);
    int di = -1;
    for (size_t i = 0; i < LC_ARRAY_LEN(dtypes); i++)
        if (strcmp(json_string_value(jd), dtypes[i].name) == 0) di = (int)i;
    if (di < 0) return lc_fail(LC_ERR_FORMAT, "tensor '%s': unknown dtype '%.32s'", name, json_string_value(jd));
    if (!json_is_array(js)) return lc_fail(LC_ERR_FORMAT, "tensor '%s': missing shape", name);
    size_t nd = json_array_size(js);
    if (nd > 4) return lc_fail(LC_ERR_FORMAT, "tensor '%s' has %zu dimensions (at most 4)", name, nd);
    t->type = dtypes[di].type;
    t->n_dims = nd ? (int)nd : 1;
    for (int d = 0; d < 4; d++) t->ne[d] = 1;
    uint64_t numel = 1;
    for (size_t d = 0; d < nd; d++) {
        uint64_t n;
        if (!json_u64(json_array_get(js, d), &n))
            return lc_fail(LC_ERR_FORMAT, "tensor '%s': shape[%zu] is not a non-negative integer", name, d);
        if (__builtin_mul_overflow(numel, n, &numel) || numel > (uint64_t)INT64_MAX)
            return lc_fail(LC_ERR_FORMAT, "tensor '%s': shape too large", name);
        t->ne[nd - 1 - d] = (int64_t)n;   /* ggml order: ne[0] = last PyTorch dim */
    }
    uint64_t b, en, nbytes;
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_u64(json_array_get(jo, 0), &b) ||
        !json_u64(json_array_get(jo, 1), &en))
        return lc_fail(LC_ERR_FORMAT, "tensor '%s': bad data_offsets", name);
    if (b > en) return lc_fail(LC_ERR_FORMAT, "tensor '%s': data_offsets begin %llu > end %llu", name,
                               (unsigned long long)b, (unsigned long long)en);
    if (en > data_size)
        return lc_fail(LC_ERR_FORMAT, "tensor '%s' data ends past end of file (%llu > %llu)", name,
                       (unsigned long long)en, (unsigned long long)data_size);
    if (__builtin_mul_overflow(numel, (uint64_t)dtypes[di].size, &nbytes) || nbytes != en - b)
        return lc_fail(LC_ERR_FORMAT, "tensor '%s': %llu bytes of data for %llu %s elements", name,
                       (unsigned long long)(en - b), (unsigned long long)numel, dtypes[di].name);
    t->nbytes = (size_t)nbytes;
    t->data = base + b;
    return LC_OK;
}

static int cmp_by_data(const void *a, const void *b) {
    const lc_tensor *x = a, *y = b;
    const uint8_t *p = x->data, *q = y->data;
    if (p != q) return p < q ? -1 : 1;
    return strcmp(x->name, y->name);
}

int lc_safetensors_parse(const uint8_t *data, size_t size, lc_tensor **out, char ***names_out, int64_t *n_out) {
    *out = NULL;
    *names_out = NULL;
    *n_out = 0;
    if (!data || size < 8) return lc_fail(LC_ERR_FORMAT, "file too short for a safetensors header");
    uint64_t hl = rd_le64(data);
    if (hl > size - 8) return lc_fail(LC_ERR_FORMAT, "header length %llu exceeds the file size %zu",
                                      (unsigned long long)hl, size);
    if (hl > ST_MAX_HEADER) return lc_fail(LC_ERR_FORMAT, "header length %llu is too large", (unsigned long long)hl);
    if (hl < 2 || data[8] != '{') return lc_fail(LC_ERR_FORMAT, "header is not a JSON object");
    json_error_t err;
    json_t *root = json_loadb((const char *)data + 8, (size_t)hl, JSON_REJECT_DUPLICATES, &err);
    if (!root) return lc_fail(LC_ERR_FORMAT, "bad JSON header: %s (line %d)", err.text, err.line);
    int rc = LC_OK;
    lc_tensor *ts = NULL;
    char **names = NULL;
    size_t n = 0;
    if (!json_is_object(root)) {
        rc = lc_fail(LC_ERR_FORMAT, "header is not a JSON object");
        goto fail;
    }
    size_t cap = json_object_size(root) + 1;
    ts = calloc(cap, sizeof *ts);
    names = calloc(cap, sizeof *names);
    if (!ts || !names) {
        rc = lc_fail(LC_ERR_NOMEM, "safetensors: no memory");
        goto fail;
    }
    const char *key;
    json_t *val;
    const uint8_t *base = data + 8 + hl;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) continue;
        if (!*key) {
            rc = lc_fail(LC_ERR_FORMAT, "tensor with an empty name");
            goto fail;
        }
        if ((rc = st_entry(key, val, base, size - 8 - hl, &ts[n])) != LC_OK) goto fail;
        if (!(names[n] = strdup(key))) {
            rc = lc_fail(LC_ERR_NOMEM, "safetensors: no memory");
            goto fail;
        }
        ts[n].name = names[n];
        n++;
    }
    json_decref(root);
    root = NULL;
    qsort(ts, n, sizeof *ts, cmp_by_data);   /* file order; names[] follow */
    for (size_t i = 0; i < n; i++) names[i] = (char *)ts[i].name;
    *out = ts;
    *names_out = names;
    *n_out = (int64_t)n;
    return LC_OK;
fail:
    json_decref(root);
    if (names)
        for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(ts);
    return rc;
}

/* ---- names -------------------------------------------------------------- */
static const struct { const char *hf, *gguf; } layer_names[] = {
    { "input_layernorm.weight", "attn_norm.weight" },
    { "self_attn.q_proj.weight", "attn_q.weight" },
    { "self_attn.k_proj.weight", "attn_k.weight" },
    { "self_attn.v_proj.weight", "attn_v.weight" },
    { "self_attn.o_proj.weight", "attn_output.weight" },
    { "post_attention_layernorm.weight", "ffn_norm.weight" },
    { "mlp.gate_proj.weight", "ffn_gate.weight" },
    { "mlp.up_proj.weight", "ffn_up.weight" },
    { "mlp.down_proj.weight", "ffn_down.weight" },
};

/* GGUF name for an HF name (malloc'd); unknown names are copied as they are */
static char *gguf_name(const char *hf) {
    if (strcmp(hf, "model.embed_tokens.weight") == 0) return strdup("token_embd.weight");
    if (strcmp(hf, "model.norm.weight") == 0) return strdup("output_norm.weight");
    if (strcmp(hf, "lm_head.weight") == 0) return strdup("output.weight");
    const char *pre = "model.layers.";
    size_t pl = strlen(pre);
    if (strncmp(hf, pre, pl) == 0) {
        const char *p = hf + pl;
        long layer = 0;
        int nd = 0;
        while (*p >= '0' && *p <= '9' && nd < 6) layer = layer * 10 + (*p++ - '0'), nd++;
        bool canon = nd > 0 && !(nd > 1 && hf[pl] == '0');
        if (canon && *p == '.') {
            for (size_t i = 0; i < LC_ARRAY_LEN(layer_names); i++)
                if (strcmp(p + 1, layer_names[i].hf) == 0) {
                    char buf[96];
                    snprintf(buf, sizeof buf, "blk.%ld.%s", layer, layer_names[i].gguf);
                    return strdup(buf);
                }
        }
    }
    return strdup(hf);
}

/* ---- helpers ------------------------------------------------------------- */
static char *join(const char *dir, const char *name) {
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, name) < 0) return NULL;
    return p;
}

static int read_json(const char *dir, const char *name, json_t **out) {
    *out = NULL;
    char *path = join(dir, name), *buf = NULL;
    size_t len = 0;
    if (!path) return lc_fail(LC_ERR_NOMEM, "no memory");
    int rc = lc_read_file(path, &buf, &len, HF_MAX_JSON);
    free(path);
    if (rc != LC_OK) return lc_fail_prefix(rc, name);
    json_error_t err;
    *out = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
    free(buf);
    if (!*out) return lc_fail(LC_ERR_FORMAT, "%s: bad JSON: %s (line %d)", name, err.text, err.line);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return lc_fail(LC_ERR_FORMAT, "%s: not a JSON object", name);
    }
    return LC_OK;
}

/* integer key; 1 = missing (or null) */
static int cfg_int(const json_t *cfg, const char *key, long long lo, long long hi, int *out) {
    const json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) return 1;
    if (!json_is_integer(v)) return lc_fail(LC_ERR_FORMAT, "config.json: %s must be an integer", key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return lc_fail(LC_ERR_FORMAT, "config.json: %s = %lld is out of range (%lld..%lld)", key, x, lo, hi);
    *out = (int)x;
    return LC_OK;
}

static int cfg_req(const json_t *cfg, const char *key, long long lo, long long hi, int *out) {
    int rc = cfg_int(cfg, key, lo, hi, out);
    return rc == 1 ? lc_fail(LC_ERR_FORMAT, "config.json: missing %s", key) : rc;
}

/* number key (integer or real), must be finite and > 0; 1 = missing */
static int cfg_pos(const json_t *obj, const char *where, const char *key, double *out) {
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return 1;
    if (!json_is_number(v)) return lc_fail(LC_ERR_FORMAT, "config.json: %s%s must be a number", where, key);
    double d = json_number_value(v);
    if (!(d > 0) || !isfinite(d) || d > 3e38)
        return lc_fail(LC_ERR_FORMAT, "config.json: %s%s = %g is out of range", where, key, d);
    *out = d;
    return LC_OK;
}

/* options of LlamaForCausalLM that change the math: refused rather than silently ignored */
static int cfg_math(const json_t *cfg) {
    static const char *const flags[] = { "attention_bias", "mlp_bias" };
    for (size_t i = 0; i < LC_ARRAY_LEN(flags); i++)
        if (json_is_true(json_object_get(cfg, flags[i])))
            return lc_fail(LC_ERR_UNSUPPORTED, "config.json: %s is true; llamac computes Llama without biases", flags[i]);
    const json_t *act = json_object_get(cfg, "hidden_act");
    if (act && !(json_is_string(act) && strcmp(json_string_value(act), "silu") == 0))
        return lc_fail(LC_ERR_UNSUPPORTED, "config.json: hidden_act '%.32s' is not silu",
                       json_is_string(act) ? json_string_value(act) : "?");
    return LC_OK;
}

static int cfg_arch(const json_t *cfg) {
    int rc = cfg_math(cfg);
    if (rc) return rc;
    const json_t *mt = json_object_get(cfg, "model_type"), *ar = json_object_get(cfg, "architectures");
    if (json_is_string(mt) && strcmp(json_string_value(mt), "llama") == 0) return LC_OK;
    size_t i;
    json_t *a;
    if (json_is_array(ar))
        json_array_foreach(ar, i, a) if (json_is_string(a) && strcmp(json_string_value(a), "LlamaForCausalLM") == 0)
            return LC_OK;
    if (json_is_string(mt))
        return lc_fail(LC_ERR_UNSUPPORTED, "config.json: model_type '%.64s' is not llama", json_string_value(mt));
    return lc_fail(LC_ERR_UNSUPPORTED, "config.json: not a LlamaForCausalLM model");
}

static int cfg_rope(const json_t *cfg, lc_hf *h) {
    lc_model_info *hp = &h->hp;
    const json_t *rs = json_object_get(cfg, "rope_scaling");
    const json_t *rp = json_object_get(cfg, "rope_parameters");
    double theta = 10000.0;
    int rc = cfg_pos(cfg, "", "rope_theta", &theta);
    if (rc < 0) return rc;
    if (json_is_object(rp)) {   /* newer transformers: theta and scaling together */
        if ((rc = cfg_pos(rp, "rope_parameters.", "rope_theta", &theta)) < 0) return rc;
        if (!rs || json_is_null(rs)) rs = rp;
    } else if (rp && !json_is_null(rp)) {
        return lc_fail(LC_ERR_FORMAT, "config.json: rope_parameters must be an object");
    }
    hp->rope_theta = (float)theta;
    if (!rs || json_is_null(rs)) return LC_OK;
    if (!json_is_object(rs)) return lc_fail(LC_ERR_FORMAT, "config.json: rope_scaling must be an object or null");
    const json_t *ty = json_object_get(rs, "rope_type");
    if (!ty) ty = json_object_get(rs, "type");
    if (!ty && rs == rp) return LC_OK;   /* rope_parameters with only rope_theta */
    if (!json_is_string(ty)) return lc_fail(LC_ERR_FORMAT, "config.json: rope_scaling has no rope_type");
    const char *t = json_string_value(ty);
    if (strcmp(t, "default") == 0) return LC_OK;
    if (strcmp(t, "llama3") != 0)
        return lc_fail(LC_ERR_UNSUPPORTED, "config.json: rope scaling type '%.32s' is not supported", t);
    double factor, lo = 1.0, hi = 4.0, orig = 8192;
    const char *w = "rope_scaling.";
    if ((rc = cfg_pos(rs, w, "factor", &factor)) != LC_OK)
        return rc == 1 ? lc_fail(LC_ERR_FORMAT, "config.json: rope_scaling has no factor") : rc;
    if ((rc = cfg_pos(rs, w, "low_freq_factor", &lo)) < 0) return rc;
    if ((rc = cfg_pos(rs, w, "high_freq_factor", &hi)) < 0) return rc;
    const json_t *oj = json_object_get(rs, "original_max_position_embeddings");
    if (oj && !json_is_null(oj)) {
        if (!json_is_integer(oj) || json_integer_value(oj) < 1 || json_integer_value(oj) > (1 << 30))
            return lc_fail(LC_ERR_FORMAT, "config.json: rope_scaling.original_max_position_embeddings is bad");
        orig = (double)json_integer_value(oj);
    }
    if (!(hi > lo)) return lc_fail(LC_ERR_FORMAT, "config.json: rope_scaling high_freq_factor must exceed low_freq_factor");
    hp->rope_scaled = 1;
    hp->rope_factor = (float)factor;
    hp->rope_low_freq = (float)lo;
    hp->rope_high_freq = (float)hi;
    hp->rope_orig_ctx = (int)orig;
    return LC_OK;
}

static int cfg_eos(const json_t *cfg, lc_hf *h) {
    const json_t *e = json_object_get(cfg, "eos_token_id");
    int vocab = h->hp.n_vocab;
    h->hp.eos_id = -1;
    if (!e || json_is_null(e)) return LC_OK;
    size_t n = json_is_array(e) ? json_array_size(e) : 1;
    if (!json_is_array(e) && !json_is_integer(e))
        return lc_fail(LC_ERR_FORMAT, "config.json: eos_token_id must be an integer or a list");
    if (n > 1024) return lc_fail(LC_ERR_FORMAT, "config.json: too many eos_token_id values");
    h->eos_ids = malloc((n + 1) * sizeof *h->eos_ids);
    if (!h->eos_ids) return lc_fail(LC_ERR_NOMEM, "no memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_is_array(e) ? json_array_get(e, i) : e;
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= vocab)
            return lc_fail(LC_ERR_FORMAT, "config.json: eos_token_id is not a token id below vocab_size %d", vocab);
        h->eos_ids[h->n_eos++] = (int32_t)json_integer_value(v);
    }
    if (h->n_eos) h->hp.eos_id = h->eos_ids[0];
    return LC_OK;
}

static int parse_config(const json_t *cfg, lc_hf *h) {
    lc_model_info *hp = &h->hp;
    int rc;
    if ((rc = cfg_arch(cfg)) != LC_OK) return rc;
    if ((rc = cfg_req(cfg, "hidden_size", 1, 1 << 20, &hp->dim)) != LC_OK) return rc;
    if ((rc = cfg_req(cfg, "intermediate_size", 1, 1 << 22, &hp->ffn_dim)) != LC_OK) return rc;
    if ((rc = cfg_req(cfg, "num_hidden_layers", 1, 1024, &hp->n_layers)) != LC_OK) return rc;
    if ((rc = cfg_req(cfg, "num_attention_heads", 1, 1024, &hp->n_heads)) != LC_OK) return rc;
    if ((rc = cfg_req(cfg, "vocab_size", 1, 1 << 24, &hp->n_vocab)) != LC_OK) return rc;
    hp->n_kv_heads = hp->n_heads;
    if ((rc = cfg_int(cfg, "num_key_value_heads", 1, hp->n_heads, &hp->n_kv_heads)) < 0) return rc;
    if (hp->n_heads % hp->n_kv_heads != 0)
        return lc_fail(LC_ERR_FORMAT, "config.json: num_attention_heads %d is not a multiple of num_key_value_heads %d",
                       hp->n_heads, hp->n_kv_heads);
    if ((rc = cfg_int(cfg, "head_dim", 2, 1024, &hp->head_dim)) < 0) return rc;
    if (rc == 1) {
        if (hp->dim % hp->n_heads != 0)
            return lc_fail(LC_ERR_FORMAT, "config.json: hidden_size %d is not a multiple of num_attention_heads %d",
                           hp->dim, hp->n_heads);
        hp->head_dim = hp->dim / hp->n_heads;
    }
    if (hp->head_dim < 2 || hp->head_dim % 2 != 0)
        return lc_fail(LC_ERR_FORMAT, "config.json: head_dim %d must be even", hp->head_dim);
    hp->n_ctx_train = 2048;
    if ((rc = cfg_int(cfg, "max_position_embeddings", 1, 1 << 30, &hp->n_ctx_train)) < 0) return rc;
    double eps = 1e-6;
    if ((rc = cfg_pos(cfg, "", "rms_norm_eps", &eps)) < 0) return rc;
    if (eps >= 1) return lc_fail(LC_ERR_FORMAT, "config.json: rms_norm_eps = %g is out of range", eps);
    hp->norm_eps = (float)eps;
    if ((rc = cfg_rope(cfg, h)) != LC_OK) return rc;
    const json_t *tie = json_object_get(cfg, "tie_word_embeddings");
    if (tie && !json_is_null(tie) && !json_is_boolean(tie))
        return lc_fail(LC_ERR_FORMAT, "config.json: tie_word_embeddings must be true or false");
    hp->tied_output = json_is_true(tie);
    hp->bos_id = -1;
    if ((rc = cfg_int(cfg, "bos_token_id", 0, hp->n_vocab - 1, &hp->bos_id)) < 0) return rc;
    if ((rc = cfg_eos(cfg, h)) != LC_OK) return rc;
    snprintf(hp->arch, sizeof hp->arch, "llama");
    snprintf(hp->format, sizeof hp->format, "safetensors");
    hp->rope_neox = 1;
    if (hp->rope_scaled) {
        h->rope_freqs = malloc((size_t)hp->head_dim / 2 * sizeof *h->rope_freqs);
        if (!h->rope_freqs) return lc_fail(LC_ERR_NOMEM, "no memory");
        lc_rope_llama3_freqs(h->rope_freqs, hp->head_dim, hp->rope_theta, hp->rope_factor, hp->rope_low_freq,
                             hp->rope_high_freq, hp->rope_orig_ctx);
    }
    return LC_OK;
}

/* ---- shards ---------------------------------------------------------------- */
/* maps dir/file as h->maps[h->n_maps] and appends its tensors; returns the index of the
 * first appended tensor in *first */
static int add_shard(lc_hf *h, const char *dir, const char *file, int64_t *first) {
    char *path = join(dir, file);
    if (!path) return lc_fail(LC_ERR_NOMEM, "no memory");
    lc_map m;
    int rc = lc_map_file(path, &m);
    free(path);
    if (rc != LC_OK) return lc_fail_prefix(rc, file);
    lc_map *nm = realloc(h->maps, (size_t)(h->n_maps + 1) * sizeof *nm);
    if (!nm) {
        lc_unmap(&m);
        return lc_fail(LC_ERR_NOMEM, "no memory");
    }
    h->maps = nm;
    h->maps[h->n_maps++] = m;
    lc_tensor *ts;
    char **names;
    int64_t n;
    if ((rc = lc_safetensors_parse(m.data, m.size, &ts, &names, &n)) != LC_OK) return lc_fail_prefix(rc, file);
    size_t total = (size_t)(h->n_tensors + n);
    lc_tensor *nt = realloc(h->tensors, (total + 1) * sizeof *nt);
    if (nt) h->tensors = nt;
    char **nn = nt ? realloc(h->names, (total + 1) * sizeof *nn) : NULL;
    if (nn) h->names = nn;
    if (!nt || !nn) {
        for (int64_t i = 0; i < n; i++) free(names[i]);
        free(names);
        free(ts);
        return lc_fail(LC_ERR_NOMEM, "no memory");
    }
    memcpy(h->tensors + h->n_tensors, ts, (size_t)n * sizeof *ts);
    memcpy(h->names + h->n_tensors, names, (size_t)n * sizeof *names);
    *first = h->n_tensors;
    h->n_tensors += n;
    free(ts);
    free(names);
    return LC_OK;
}

static bool safe_file_name(const char *s) {
    return *s && !strchr(s, '/') && !strchr(s, '\\') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int load_sharded(lc_hf *h, const char *dir) {
    const char *iname = "model.safetensors.index.json";
    json_t *idx;
    int rc = read_json(dir, iname, &idx);
    if (rc != LC_OK) return rc;
    const json_t *wm = json_object_get(idx, "weight_map");
    const char **shards = NULL;
    int64_t *starts = NULL;
    size_t n_sh = 0;
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        rc = lc_fail(LC_ERR_FORMAT, "%s: missing weight_map", iname);
        goto out;
    }
    size_t cap = json_object_size(wm);
    shards = calloc(cap, sizeof *shards);
    starts = calloc(cap + 1, sizeof *starts);
    if (!shards || !starts) {
        rc = lc_fail(LC_ERR_NOMEM, "no memory");
        goto out;
    }
    const char *key;
    json_t *v;
    /* every distinct shard, mapped once, in order of first mention */
    json_object_foreach((json_t *)wm, key, v) {
        if (!json_is_string(v) || !safe_file_name(json_string_value(v))) {
            rc = lc_fail(LC_ERR_FORMAT, "%s: bad shard file name for '%.128s'", iname, key);
            goto out;
        }
        const char *f = json_string_value(v);
        size_t s = 0;
        while (s < n_sh && strcmp(shards[s], f) != 0) s++;
        if (s < n_sh) continue;
        shards[n_sh] = f;
        if ((rc = add_shard(h, dir, f, &starts[n_sh])) != LC_OK) goto out;
        n_sh++;
        starts[n_sh] = h->n_tensors;
    }
    /* every weight_map entry must be in the shard it names */
    json_object_foreach((json_t *)wm, key, v) {
        const char *f = json_string_value(v);
        size_t s = 0;
        while (strcmp(shards[s], f) != 0) s++;
        int64_t i = starts[s];
        for (; i < starts[s + 1]; i++)
            if (strcmp(h->names[i], key) == 0) break;
        if (i == starts[s + 1]) {
            rc = lc_fail(LC_ERR_FORMAT, "%s: tensor '%.128s' is not in %.128s", iname, key, f);
            goto out;
        }
    }
out:
    free(shards);
    free(starts);
    json_decref(idx);
    return rc;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* renames every tensor to its GGUF name; rejects duplicates */
static int rename_tensors(lc_hf *h) {
    for (int64_t i = 0; i < h->n_tensors; i++) {
        char *g = gguf_name(h->names[i]);
        if (!g) return lc_fail(LC_ERR_NOMEM, "no memory");
        free(h->names[i]);
        h->names[i] = g;
        h->tensors[i].name = g;
    }
    if (h->n_tensors == 0) return lc_fail(LC_ERR_FORMAT, "no tensors");
    char **sorted = malloc((size_t)h->n_tensors * sizeof *sorted);
    if (!sorted) return lc_fail(LC_ERR_NOMEM, "no memory");
    memcpy(sorted, h->names, (size_t)h->n_tensors * sizeof *sorted);
    qsort(sorted, (size_t)h->n_tensors, sizeof *sorted, cmp_names);
    int rc = LC_OK;
    for (int64_t i = 1; i < h->n_tensors; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            rc = lc_fail(LC_ERR_FORMAT, "duplicate tensor '%.128s'", sorted[i]);
            break;
        }
    free(sorted);
    return rc;
}

/* ---- tokenizer files ---------------------------------------------------------- */
static int load_template(lc_hf *h, const char *dir) {
    const char *tc = "tokenizer_config.json";
    char *path = join(dir, tc);
    if (!path) return lc_fail(LC_ERR_NOMEM, "no memory");
    bool have = lc_file_exists(path);
    free(path);
    if (have) {
        json_t *cfg;
        int rc = read_json(dir, tc, &cfg);
        if (rc != LC_OK) return rc;
        const json_t *t = json_object_get(cfg, "chat_template");
        if (json_is_array(t)) {   /* [{"name": ..., "template": ...}]: take "default" */
            size_t i;
            json_t *e, *pick = NULL;
            json_array_foreach(t, i, e) {
                const json_t *nm = json_object_get(e, "name");
                if (!pick || (json_is_string(nm) && strcmp(json_string_value(nm), "default") == 0))
                    pick = e;
            }
            t = pick ? json_object_get(pick, "template") : NULL;
        }
        if (json_is_string(t) && !(h->chat_template = strdup(json_string_value(t)))) rc = LC_ERR_NOMEM;
        json_decref(cfg);
        if (rc != LC_OK) return lc_fail(rc, "no memory");
    }
    if (!h->chat_template) {   /* newer transformers save it on its own */
        path = join(dir, "chat_template.jinja");
        if (!path) return lc_fail(LC_ERR_NOMEM, "no memory");
        if (lc_file_exists(path)) {
            int rc = lc_read_file(path, &h->chat_template, NULL, HF_MAX_JSON);
            if (rc != LC_OK) {
                free(path);
                return lc_fail_prefix(rc, "chat_template.jinja");
            }
        }
        free(path);
    }
    h->hp.has_chat_template = h->chat_template != NULL;
    const char *toks[] = { "tokenizer.json", "tokenizer.model" };
    for (size_t i = 0; i < LC_ARRAY_LEN(toks) && !h->tokenizer_path; i++) {
        path = join(dir, toks[i]);
        if (!path) return lc_fail(LC_ERR_NOMEM, "no memory");
        if (lc_file_exists(path)) h->tokenizer_path = path;
        else free(path);
    }
    return LC_OK;
}

static void set_name(lc_hf *h, const char *dir) {
    char *rp = realpath(dir, NULL);
    const char *s = rp ? rp : dir;
    size_t n = strlen(s);
    while (n > 1 && s[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && s[b - 1] != '/') b--;
    snprintf(h->hp.name, sizeof h->hp.name, "%.*s", (int)(n - b), s + b);
    free(rp);
}

static bool has_tensor(const lc_hf *h, const char *name) {
    for (int64_t i = 0; i < h->n_tensors; i++)
        if (strcmp(h->names[i], name) == 0) return true;
    return false;
}

/* ---- open / close ------------------------------------------------------------ */
int lc_hf_open(const char *dir, lc_hf *h) {
    memset(h, 0, sizeof *h);
    if (!dir || !lc_is_dir(dir)) return lc_fail(LC_ERR_IO, "not a folder");
    json_t *cfg;
    int rc = read_json(dir, "config.json", &cfg);
    if (rc != LC_OK) return rc;
    rc = parse_config(cfg, h);
    json_decref(cfg);
    if (rc != LC_OK) goto fail;
    set_name(h, dir);
    char *idx = join(dir, "model.safetensors.index.json"), *single = join(dir, "model.safetensors");
    if (!idx || !single) rc = lc_fail(LC_ERR_NOMEM, "no memory");
    else if (lc_file_exists(idx)) rc = load_sharded(h, dir);
    else if (lc_file_exists(single)) {
        int64_t first;
        rc = add_shard(h, dir, "model.safetensors", &first);
    } else rc = lc_fail(LC_ERR_IO, "no model.safetensors or model.safetensors.index.json");
    free(idx);
    free(single);
    if (rc != LC_OK) goto fail;
    if ((rc = rename_tensors(h)) != LC_OK) goto fail;
    if (!has_tensor(h, "output.weight")) h->hp.tied_output = 1;   /* no lm_head: shares token_embd */
    if ((rc = load_template(h, dir)) != LC_OK) goto fail;
    return LC_OK;
fail:
    lc_hf_close(h);
    return rc;
}

void lc_hf_close(lc_hf *h) {
    if (!h) return;
    if (h->names)
        for (int64_t i = 0; i < h->n_tensors; i++) free(h->names[i]);
    free(h->names);
    free(h->tensors);
    for (int i = 0; h->maps && i < h->n_maps; i++) lc_unmap(&h->maps[i]);
    free(h->maps);
    free(h->rope_freqs);
    free(h->tokenizer_path);
    free(h->chat_template);
    free(h->eos_ids);
    memset(h, 0, sizeof *h);
}
