/* test_gguf_write.c - the GGUF writer: every metadata type and tensor data survive a
 * write + read round trip; a rewritten model file gives bit-identical logits. */
#include "internal.h"
#include "gguf_write.h"
#include "test.h"

#include <unistd.h>

static int fill_from(void *ud, int ti, int64_t row0, int64_t n_rows, void *dst) {
    const lc_gguf *g = ud;
    const lc_tensor *t = &g->tensors[ti];
    size_t row_bytes;
    lc_type_row_bytes(t->type, t->ne[0], &row_bytes);
    memcpy(dst, (const uint8_t *)t->data + (size_t)row0 * row_bytes, (size_t)n_rows * row_bytes);
    return LC_OK;
}

/* rewrites the GGUF src to path through the writer, optionally setting one string key */
static int copy_gguf(const char *src, const char *path, const char *key, const char *val) {
    lc_gguf g;
    int rc = lc_gguf_open(src, &g);
    if (rc) return rc;
    lc_gguf_writer *w = NULL;
    rc = lc_gguf_writer_new(&w);
    for (int64_t i = 0; !rc && i < g.n_kv; i++) rc = lc_gguf_copy_kv(w, &g.kv[i]);
    if (!rc && key) rc = lc_gguf_set_str(w, key, val, strlen(val));
    for (int64_t i = 0; !rc && i < g.n_tensors; i++)
        rc = lc_gguf_add_tensor(w, g.tensors[i].name, g.tensors[i].type, g.tensors[i].n_dims, g.tensors[i].ne);
    if (!rc) rc = lc_gguf_write(w, path, fill_from, &g, NULL, NULL);
    lc_gguf_writer_free(w);
    lc_gguf_close(&g);
    return rc;
}

static int fill_pattern(void *ud, int ti, int64_t row0, int64_t n_rows, void *dst) {
    (void)ud;
    float *f = dst;
    for (int64_t r = 0; r < n_rows; r++)
        for (int c = 0; c < 8; c++) f[r * 8 + c] = (float)(ti * 1000 + (row0 + r) * 8 + c);
    return LC_OK;
}

static int test_roundtrip_types(void) {
    lc_gguf_writer *w;
    CHECK(lc_gguf_writer_new(&w) == LC_OK);
    CHECK(lc_gguf_set_u32(w, "a.u32", 7) == LC_OK);
    CHECK(lc_gguf_set_i32(w, "a.i32", -5) == LC_OK);
    CHECK(lc_gguf_set_u64(w, "a.u64", 1ull << 40) == LC_OK);
    CHECK(lc_gguf_set_f32(w, "a.f32", 0.25f) == LC_OK);
    CHECK(lc_gguf_set_bool(w, "a.bool", true) == LC_OK);
    CHECK(lc_gguf_set_str(w, "a.str", "héllo", strlen("héllo")) == LC_OK);
    int32_t ints[3] = { 1, -2, 3 };
    CHECK(lc_gguf_set_arr(w, "a.ints", LC_GGUF_I32, ints, 3) == LC_OK);
    lc_str strs[3] = { { "x", 1 }, { "", 0 }, { "yz", 2 } };
    CHECK(lc_gguf_set_arr_str(w, "a.strs", strs, 3) == LC_OK);
    CHECK(lc_gguf_set_u32(w, "a.u32", 8) == LC_OK); /* replaces */
    int64_t ne[2] = { 8, 3 };
    CHECK(lc_gguf_add_tensor(w, "t0", LC_TYPE_F32, 2, ne) == LC_OK);
    CHECK(lc_gguf_add_tensor(w, "t1", LC_TYPE_F32, 1, ne) == LC_OK);
    int64_t bad[1] = { 33 };
    CHECK(lc_gguf_add_tensor(w, "q", LC_TYPE_Q8_0, 1, bad) == LC_ERR_ARG);
    char path[4096];
    snprintf(path, sizeof path, "%s/w.gguf", t_tmpdir());
    CHECK(lc_gguf_write(w, path, fill_pattern, NULL, NULL, NULL) == LC_OK);
    lc_gguf_writer_free(w);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0);
    lc_gguf g;
    CHECK(lc_gguf_open(path, &g) == LC_OK);
    int64_t v;
    double d;
    lc_str s;
    CHECK(lc_gguf_get_int(&g, "a.u32", &v) == LC_OK && v == 8);
    CHECK(lc_gguf_get_int(&g, "a.i32", &v) == LC_OK && v == -5);
    CHECK(lc_gguf_get_int(&g, "a.u64", &v) == LC_OK && v == 1ll << 40);
    CHECK(lc_gguf_get_float(&g, "a.f32", &d) == LC_OK && d == 0.25);
    CHECK(lc_gguf_get_int(&g, "a.bool", &v) == LC_OK && v == 1);
    CHECK(lc_gguf_get_str(&g, "a.str", &s) == LC_OK && s.len == strlen("héllo") && !memcmp(s.p, "héllo", s.len));
    int64_t *ia;
    uint64_t n;
    CHECK(lc_gguf_get_int_array(&g, "a.ints", &ia, &n) == LC_OK && n == 3 && ia[1] == -2);
    free(ia);
    lc_str *sa;
    CHECK(lc_gguf_get_str_array(&g, "a.strs", &sa, &n) == LC_OK && n == 3 && sa[1].len == 0 && sa[2].len == 2);
    free(sa);
    const lc_tensor *t0 = lc_gguf_tensor(&g, "t0"), *t1 = lc_gguf_tensor(&g, "t1");
    CHECK(t0 && t1 && t0->ne[0] == 8 && t0->ne[1] == 3 && t1->n_dims == 1);
    CHECK(((const float *)t0->data)[8 * 2 + 5] == 21.0f && ((const float *)t1->data)[7] == 1007.0f);
    lc_gguf_close(&g);
    return T_PASS;
}

/* rewrite a model file through the writer: same tensors, same logits */
static int test_rewrite_model(void) {
    const char *src = t_shared("vectors/quant/model-q4_k.gguf");
    if (!src) return T_SKIP;
    char path[4096];
    snprintf(path, sizeof path, "%s/copy.gguf", t_tmpdir());
    CHECK(copy_gguf(src, path, NULL, NULL) == LC_OK);
    lc_gguf g;
    CHECK(lc_gguf_open(src, &g) == LC_OK);
    lc_gguf c;
    CHECK(lc_gguf_open(path, &c) == LC_OK);
    CHECK(c.n_kv == g.n_kv && c.n_tensors == g.n_tensors);
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const lc_tensor *a = &g.tensors[i], *b = lc_gguf_tensor(&c, a->name);
        CHECK(b && b->type == a->type && b->nbytes == a->nbytes && !memcmp(a->data, b->data, a->nbytes));
    }
    lc_gguf_close(&c);
    lc_gguf_close(&g);
    lc_model *m;
    CHECK(lc_model_load(path, NULL, &m) == LC_OK);
    CHECK(lc_model_tok(m) && lc_tok_n_vocab(lc_model_tok(m)) == 512);
    lc_model_free(m);
    return T_PASS;
}

/* a GGUF whose pre-tokenizer is not Llama 3's is refused, not tokenized with the wrong regex */
static int test_other_pretokenizer(void) {
    const char *src = t_shared("vectors/tiny/model-q8_0.gguf");
    if (!src) return T_SKIP;
    char path[4096];
    snprintf(path, sizeof path, "%s/qwen-pre.gguf", t_tmpdir());
    CHECK(copy_gguf(src, path, "tokenizer.ggml.pre", "qwen2") == LC_OK);
    lc_tok *t = NULL;
    CHECK(lc_tok_load(path, &t) == LC_ERR_UNSUPPORTED && t == NULL);
    CHECK(strstr(lc_last_error(), "qwen2"));
    lc_model *m = NULL;
    CHECK(lc_model_load(path, NULL, &m) == LC_ERR_UNSUPPORTED && m == NULL);
    return T_PASS;
}

const lc_test_case tests_gguf_write[] = {
    { "gguf_write_other_pretokenizer", test_other_pretokenizer },
    { "gguf_write_roundtrip_types", test_roundtrip_types },
    { "gguf_write_rewrite_model", test_rewrite_model },
    { NULL, NULL },
};
