/* test_tokenizer.c - the Llama 3 tokenizer against the shared reference vectors (three
 * loaders: tokenizer.json, tokenizer.model, and a GGUF written here from tokenizer.json),
 * llama.cpp's test pair, round trips, invalid UTF-8, streaming detok and corrupt files. */
#include "internal.h"
#include "test.h"

#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

extern int lc_tok_bpe_heap_min;   /* tokenizer.c: pieces this long use the heap merge */

/* ---- helpers -------------------------------------------------------- */
static lc_tok *tok_json, *tok_model, *tok_gguf;
static json_t *hf_json;
static int gguf_tried, cleanup_set;

static void cleanup(void) {
    lc_tok_free(tok_json);
    lc_tok_free(tok_model);
    lc_tok_free(tok_gguf);
    json_decref(hf_json);
}

static void want_cleanup(void) {
    if (!cleanup_set) atexit(cleanup);
    cleanup_set = 1;
}

static lc_tok *get_model(void) {
    const char *p = t_shared("data/tokenizer/tokenizer.model");
    if (!tok_model && p) {
        want_cleanup();
        if (lc_tok_load(p, &tok_model)) fprintf(stderr, "  load %s: %s\n", p, lc_last_error());
    }
    return tok_model;
}

static json_t *get_hf_json(void) {
    const char *p = t_shared("data/tokenizer/tokenizer.json");
    if (!hf_json && p) {
        want_cleanup();
        json_error_t e;
        hf_json = json_load_file(p, JSON_ALLOW_NUL, &e);
    }
    return hf_json;
}

static lc_tok *get_json(void) {
    const char *p = t_shared("data/tokenizer/tokenizer.json");
    if (!tok_json && p) {
        want_cleanup();
        if (lc_tok_load(p, &tok_json)) fprintf(stderr, "  load %s: %s\n", p, lc_last_error());
    }
    return tok_json;
}

/* encodes and returns a malloc'd id array (n in *n), NULL on error */
static int32_t *enc(const lc_tok *t, const char *s, size_t len, int flags, int *n) {
    *n = lc_tok_encode(t, s, len, flags, NULL, 0);
    if (*n < 0) return NULL;
    int32_t *ids = malloc(((size_t)*n + 1) * sizeof *ids);
    if (!ids) return NULL;
    int m = lc_tok_encode(t, s, len, flags, ids, *n);
    if (m != *n) {
        free(ids);
        return NULL;
    }
    return ids;
}

/* concatenated pieces, malloc'd, NUL-terminated; *len gets the length */
static char *dec(const lc_tok *t, const int32_t *ids, int n, size_t *len) {
    size_t cap = 64, o = 0;
    char *b = malloc(cap);
    for (int i = 0; b && i < n; i++) {
        int l = lc_tok_piece(t, ids[i], NULL, 0);
        if (l < 0) {
            free(b);
            return NULL;
        }
        if (o + (size_t)l + 1 > cap) {
            while (o + (size_t)l + 1 > cap) cap *= 2;
            char *nb = realloc(b, cap);
            if (!nb) {
                free(b);
                return NULL;
            }
            b = nb;
        }
        lc_tok_piece(t, ids[i], b + o, (size_t)l);
        o += (size_t)l;
    }
    if (b) b[o] = 0;
    *len = o;
    return b;
}

static int ids_eq(const int32_t *a, int na, const int32_t *b, int nb) {
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof *a) == 0);
}

static void print_ids(const char *what, const int32_t *a, int n) {
    fprintf(stderr, "    %s:", what);
    for (int i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", (int)a[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

/* checks one text against expected ids; prints both on mismatch */
static int expect(const lc_tok *t, const char *s, size_t len, int flags, const int32_t *want, int n_want) {
    int n;
    int32_t *got = enc(t, s, len, flags, &n);
    int ok = got && ids_eq(got, n, want, n_want);
    if (!ok) {
        fprintf(stderr, "  mismatch for \"%.60s\" (flags %d)\n", s, flags);
        print_ids("want", want, n_want);
        if (got) print_ids("got ", got, n);
    }
    size_t dl = 0;
    char *back = ok ? dec(t, got, n, &dl) : NULL;
    if (ok && (!back || dl != len || memcmp(back, s, len) != 0)) {
        fprintf(stderr, "  decode(encode(\"%.60s\")) differs\n", s);
        ok = 0;
    }
    free(back);
    free(got);
    return ok;
}

static int32_t *json_ids(json_t *arr, int *n) {
    *n = (int)json_array_size(arr);
    int32_t *ids = malloc(((size_t)*n + 1) * sizeof *ids);
    for (int i = 0; ids && i < *n; i++) ids[i] = (int32_t)json_integer_value(json_array_get(arr, (size_t)i));
    return ids;
}

/* every line of vectors.jsonl: ids with LC_TOK_SPECIAL, ids_special_as_text (or ids) without */
static int run_vectors(const lc_tok *t) {
    const char *p = t_shared("data/tokenizer/vectors.jsonl");
    if (!p || !t) return T_SKIP;
    char *buf;
    size_t len;
    CHECK(lc_read_file(p, &buf, &len, 1 << 24) == LC_OK);
    int bad = 0, lines = 0;
    for (char *line = buf; *line;) {
        char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        if (ll) {
            json_error_t e;
            json_t *o = json_loadb(line, ll, JSON_ALLOW_NUL, &e);
            if (!o) {
                fprintf(stderr, "  bad vector line %d\n", lines + 1);
                bad++;
            } else {
                json_t *txt = json_object_get(o, "text");
                json_t *sat = json_object_get(o, "ids_special_as_text");
                int n1, n2;
                int32_t *a = json_ids(json_object_get(o, "ids"), &n1);
                int32_t *b = json_ids(sat ? sat : json_object_get(o, "ids"), &n2);
                const char *s = json_string_value(txt);
                size_t sl = json_string_length(txt);
                if (!expect(t, s, sl, LC_TOK_SPECIAL, a, n1)) bad++;
                if (!expect(t, s, sl, 0, b, n2)) bad++;
                free(a);
                free(b);
                json_decref(o);
            }
            lines++;
        }
        line += ll + (nl ? 1 : 0);
    }
    free(buf);
    CHECKF(bad == 0, "%d mismatches in %d vectors", bad, lines);
    CHECK(lines == 200);
    return T_PASS;
}

/* ---- a minimal GGUF writer (tokenizer keys only) --------------------- */
typedef struct gw { FILE *f; } gw;

static void w_u32(gw *w, uint32_t v) { fwrite(&v, 4, 1, w->f); }
static void w_u64(gw *w, uint64_t v) { fwrite(&v, 8, 1, w->f); }
static void w_str(gw *w, const char *s, size_t n) {
    w_u64(w, n);
    fwrite(s, 1, n, w->f);
}
static void w_key(gw *w, const char *k, uint32_t type) {
    w_str(w, k, strlen(k));
    w_u32(w, type);
}
static void w_kv_str(gw *w, const char *k, const char *v) {
    w_key(w, k, LC_GGUF_STR);
    w_str(w, v, strlen(v));
}
static void w_kv_u32(gw *w, const char *k, uint32_t v) {
    w_key(w, k, LC_GGUF_U32);
    w_u32(w, v);
}
static void w_arr(gw *w, const char *k, uint32_t type, uint64_t n) {
    w_key(w, k, LC_GGUF_ARR);
    w_u32(w, type);
    w_u64(w, n);
}

/* tokens (byte-level strings), token types, merges ("a b") -> a GGUF file at path */
static int write_tok_gguf(const char *path, const char *model, char **toks, const int32_t *types, int n_tok,
                          char **merges, int n_merges, int bos, int eos) {
    gw w = { fopen(path, "wb") };
    if (!w.f) return -1;
    fwrite("GGUF", 1, 4, w.f);
    w_u32(&w, 3);
    w_u64(&w, 0);                     /* tensors */
    w_u64(&w, 5 + (bos >= 0) + (eos >= 0));
    w_kv_str(&w, "tokenizer.ggml.model", model);
    w_kv_str(&w, "tokenizer.ggml.pre", "llama-bpe");
    w_arr(&w, "tokenizer.ggml.tokens", LC_GGUF_STR, (uint64_t)n_tok);
    for (int i = 0; i < n_tok; i++) w_str(&w, toks[i], strlen(toks[i]));
    w_arr(&w, "tokenizer.ggml.token_type", LC_GGUF_I32, (uint64_t)n_tok);
    for (int i = 0; i < n_tok; i++) w_u32(&w, (uint32_t)types[i]);
    w_arr(&w, "tokenizer.ggml.merges", LC_GGUF_STR, (uint64_t)n_merges);
    for (int i = 0; i < n_merges; i++) w_str(&w, merges[i], strlen(merges[i]));
    if (bos >= 0) w_kv_u32(&w, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
    if (eos >= 0) w_kv_u32(&w, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
    return fclose(w.f) == 0 ? 0 : -1;
}

/* the real vocabulary as a GGUF, built from tokenizer.json (eot/eom ids left out on purpose) */
static lc_tok *get_gguf(void) {
    if (tok_gguf || gguf_tried) return tok_gguf;
    gguf_tried = 1;
    json_t *root = get_hf_json();
    if (!root) return NULL;
    json_t *vocab = json_object_get(json_object_get(root, "model"), "vocab");
    json_t *mj = json_object_get(json_object_get(root, "model"), "merges");
    json_t *added = json_object_get(root, "added_tokens");
    int n = (int)(json_object_size(vocab) + json_array_size(added));
    int nm = (int)json_array_size(mj);
    char **toks = calloc((size_t)n, sizeof *toks), **merges = calloc((size_t)nm, sizeof *merges);
    int32_t *types = calloc((size_t)n, sizeof *types);
    const char *key;
    json_t *v;
    size_t i;
    json_object_foreach(vocab, key, v) {
        json_int_t id = json_integer_value(v);
        if (id >= 0 && id < n) toks[id] = (char *)key, types[id] = 1;
    }
    json_array_foreach(added, i, v) {
        json_int_t id = json_integer_value(json_object_get(v, "id"));
        if (id >= 0 && id < n) toks[id] = (char *)json_string_value(json_object_get(v, "content")), types[id] = 3;
    }
    int ok = 1;
    for (int k = 0; k < n; k++) ok &= toks[k] != NULL;
    json_array_foreach(mj, i, v) {
        if (json_is_string(v)) {
            merges[i] = strdup(json_string_value(v));
        } else {
            const char *a = json_string_value(json_array_get(v, 0)), *b = json_string_value(json_array_get(v, 1));
            if (a && b && asprintf(&merges[i], "%s %s", a, b) < 0) merges[i] = NULL;
        }
        ok &= merges[i] != NULL;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/llama3-vocab.gguf", t_tmpdir());
    if (ok && write_tok_gguf(path, "gpt2", toks, types, n, merges, nm, 128000, 128009) == 0) {
        if (lc_tok_load(path, &tok_gguf)) fprintf(stderr, "  load %s: %s\n", path, lc_last_error());
    }
    unlink(path);
    for (int k = 0; k < nm; k++) free(merges[k]);
    free(merges);
    free(toks);
    free(types);
    return tok_gguf;
}

/* ---- tests: reference vectors --------------------------------------- */
static int test_vectors_json(void) { return run_vectors(get_json()); }
static int test_vectors_model(void) { return run_vectors(get_model()); }
static int test_vectors_gguf(void) { return run_vectors(get_gguf()); }

static int test_basic_api(void) {
    lc_tok *t = get_model();
    if (!t) return T_SKIP;
    CHECK(lc_tok_n_vocab(t) == 128256);
    CHECK(lc_tok_bos(t) == 128000);
    CHECK(lc_tok_eos(t) == 128001);
    CHECK(strcmp(lc_tok_kind(t), "llama3-bpe") == 0);
    CHECK(lc_tok_lookup(t, "<|eot_id|>") == 128009);
    CHECK(lc_tok_lookup(t, "<|eom_id|>") == 128008);
    CHECK(lc_tok_lookup(t, "<|python_tag|>") == 128010);
    CHECK(lc_tok_lookup(t, "<|reserved_special_token_247|>") == 128255);
    CHECK(lc_tok_lookup(t, " Hello") == 22691);
    CHECK(lc_tok_lookup(t, "user") == 882);
    CHECK(lc_tok_lookup(t, "no such token at all") == -1);
    CHECK(lc_tok_is_special(t, 128009) && lc_tok_is_special(t, 128000));
    CHECK(!lc_tok_is_special(t, 271) && !lc_tok_is_special(t, -1) && !lc_tok_is_special(t, 128256));
    CHECK(lc_tok_is_eog(t, 128001) && lc_tok_is_eog(t, 128008) && lc_tok_is_eog(t, 128009));
    CHECK(!lc_tok_is_eog(t, 128000) && !lc_tok_is_eog(t, 13) && !lc_tok_is_eog(t, -5));
    char buf[64];
    CHECK(lc_tok_piece(t, 271, buf, sizeof buf) == 2 && memcmp(buf, "\n\n", 2) == 0);
    CHECK(lc_tok_piece(t, 128009, buf, sizeof buf) == 10 && memcmp(buf, "<|eot_id|>", 10) == 0);
    CHECK(lc_tok_piece(t, 128009, buf, 3) == 10 && memcmp(buf, "<|e", 3) == 0);   /* truncated */
    CHECK(lc_tok_piece(t, 128256, buf, sizeof buf) < 0);
    CHECK(lc_tok_piece(t, -1, buf, sizeof buf) < 0);
    return T_PASS;
}

/* the same eog/special/bos facts through every loader, and add_eog */
static int test_roles_all_loaders(void) {
    lc_tok *ts[3] = { get_model(), get_json(), get_gguf() };
    for (int i = 0; i < 3; i++) {
        lc_tok *t = ts[i];
        if (!t) return T_SKIP;
        CHECK(lc_tok_n_vocab(t) == 128256);
        CHECK(lc_tok_bos(t) == 128000);
        CHECK(lc_tok_eos(t) == (i == 2 ? 128009 : 128001));
        CHECK(lc_tok_is_eog(t, 128001) && lc_tok_is_eog(t, 128008) && lc_tok_is_eog(t, 128009));
        CHECK(!lc_tok_is_eog(t, 128006));
        for (int32_t id = 128000; id < 128256; id++) CHECK(lc_tok_is_special(t, id));
        CHECK(!lc_tok_is_special(t, 0) && !lc_tok_is_special(t, 127999));
    }
    /* add_eog on a private copy so the shared tokenizers stay untouched */
    lc_tok *t;
    CHECK(lc_tok_load(t_shared("data/tokenizer/tokenizer.model"), &t) == LC_OK);
    CHECK(!lc_tok_is_eog(t, 128006));
    lc_tok_add_eog(t, 128006);
    lc_tok_add_eog(t, 128006);
    lc_tok_add_eog(t, 999999);   /* out of range: ignored */
    CHECK(lc_tok_is_eog(t, 128006) && lc_tok_is_eog(t, 128009));
    lc_tok_free(t);
    return T_PASS;
}

/* Meta's tokenizer.model carries no special names: ours must equal special_tokens.tsv */
static int test_special_names(void) {
    lc_tok *t = get_model(), *j = get_json();
    const char *p = t_shared("data/tokenizer/special_tokens.tsv");
    if (!t || !j || !p) return T_SKIP;
    FILE *f = fopen(p, "r");
    CHECK(f);
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        int id;
        char name[200];
        if (sscanf(line, "%d\t%199s", &id, name) != 2) continue;
        char a[200], b[200];
        int la = lc_tok_piece(t, id, a, sizeof a), lb = lc_tok_piece(j, id, b, sizeof b);
        CHECKF(la == (int)strlen(name) && memcmp(a, name, (size_t)la) == 0, "id %d: %.*s vs %s", id, la, a, name);
        CHECKF(lb == la && memcmp(a, b, (size_t)la) == 0, "id %d differs between loaders", id);
        CHECK(lc_tok_lookup(t, name) == id);
        n++;
    }
    fclose(f);
    CHECK(n == 256);
    return T_PASS;
}

static int test_spec_examples(void) {
    lc_tok *t = get_model();
    if (!t) return T_SKIP;
    static const struct { const char *text; int32_t ids[12]; int n; } ex[] = {
        { "This is a test sentence.", { 2028, 374, 264, 1296, 11914, 13 }, 6 },
        { "Hello, world!", { 9906, 11, 1917, 0 }, 4 },
        { " Hello", { 22691 }, 1 },
        { "user", { 882 }, 1 },
        { "system", { 9125 }, 1 },
        { "assistant", { 78191 }, 1 },
        { "ipython", { 23799, 4690 }, 2 },
        { "\n\n", { 271 }, 1 },
        { "I'm 12345 years old.", { 40, 2846, 220, 4513, 1774, 1667, 2362, 13 }, 8 },
        { "h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", { 71, 19010, 385, 105180, 102158 }, 5 },
        { "  leading spaces\tand\ttabs\n\n\nend", { 220, 6522, 12908, 53577, 3324, 3518, 1432, 408 }, 8 },
        { "<|eot_id|>", { 27, 91, 68, 354, 851, 91, 29 }, 7 },
    };
    for (size_t i = 0; i < LC_ARRAY_LEN(ex); i++)
        CHECK(expect(t, ex[i].text, strlen(ex[i].text), 0, ex[i].ids, ex[i].n));
    /* <|eot_id|> with special parsing is one id; BOS prepended with LC_TOK_BOS */
    static const int32_t eot[] = { 128009 }, bos_eot[] = { 128000, 128009 };
    CHECK(expect(t, "<|eot_id|>", 10, LC_TOK_SPECIAL, eot, 1));
    int n;
    int32_t *ids = enc(t, "<|eot_id|>", 10, LC_TOK_SPECIAL | LC_TOK_BOS, &n);
    CHECK(ids && ids_eq(ids, n, bos_eot, 2));
    free(ids);
    /* the llama-models dialog test */
    const char *dialog = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nThis is a test sentence."
                         "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nThis is a response.<|eot_id|>"
                         "<|start_header_id|>assistant<|end_header_id|>\n\n";
    static const int32_t want[] = { 128000, 128006, 9125, 128007, 271, 2028, 374, 264, 1296, 11914, 13, 128009, 128006,
                                    882, 128007, 271, 2028, 374, 264, 2077, 13, 128009, 128006, 78191, 128007, 271 };
    CHECK(expect(t, dialog, strlen(dialog), LC_TOK_SPECIAL, want, (int)LC_ARRAY_LEN(want)));
    /* Meta's encode(bos, eos) */
    ids = enc(t, "This is a test sentence.", 24, LC_TOK_BOS, &n);
    CHECK(ids && n == 7 && ids[0] == 128000 && ids[1] == 2028);
    free(ids);
    return T_PASS;
}

/* llama.cpp's ggml-vocab-llama-bpe.gguf.inp/.out: every loader */
static int test_llamacpp(void) {
    const char *pi = t_shared("data/tokenizer/ggml-vocab-llama-bpe.gguf.inp");
    const char *po = t_shared("data/tokenizer/ggml-vocab-llama-bpe.gguf.out");
    lc_tok *ts[3] = { get_model(), get_json(), get_gguf() };
    if (!pi || !po || !ts[0] || !ts[1] || !ts[2]) return T_SKIP;
    char *inp, *out;
    size_t li, lo;
    CHECK(lc_read_file(pi, &inp, &li, 1 << 20) == LC_OK);
    CHECK(lc_read_file(po, &out, &lo, 1 << 20) == LC_OK);
    const char *sep = "\n__ggml_vocab_test__\n";
    char *p = inp, *q = out;
    int cases = 0, bad = 0;
    int32_t want[512];
    while (*p) {
        char *e = strstr(p, sep);
        if (!e) break;
        char *qe = strchr(q, '\n');
        if (!qe) break;
        *qe = 0;
        int n = 0;
        for (char *s = q; *s && n < 512;) {
            char *end;
            long v = strtol(s, &end, 10);
            if (end == s) break;
            want[n++] = (int32_t)v;
            s = end;
        }
        for (int k = 0; k < 3; k++)
            if (!expect(ts[k], p, (size_t)(e - p), 0, want, n)) bad++;
        cases++;
        p = e + strlen(sep);
        q = qe + 1;
    }
    free(inp);
    free(out);
    CHECKF(bad == 0, "%d mismatches", bad);
    CHECK(cases == 44);
    return T_PASS;
}

/* ---- round trips and agreement between loaders ---------------------- */
static int test_corpus(void) {
    const char *names[] = { "data/corpus/sotu.txt", "data/corpus/tinyshakespeare.txt" };
    lc_tok *ts[3] = { get_model(), get_json(), get_gguf() };
    if (!ts[0] || !ts[1] || !ts[2]) return T_SKIP;
    for (size_t f = 0; f < LC_ARRAY_LEN(names); f++) {
        const char *p = t_shared(names[f]);
        if (!p) return T_SKIP;
        char *text;
        size_t len, dl;
        CHECK(lc_read_file(p, &text, &len, 1 << 26) == LC_OK);
        int n0, n1, n2;
        int32_t *a = enc(ts[0], text, len, 0, &n0), *b = enc(ts[1], text, len, 0, &n1), *c = enc(ts[2], text, len, 0, &n2);
        CHECK(a && b && c);
        CHECKF(ids_eq(a, n0, b, n1) && ids_eq(a, n0, c, n2), "%s: loaders disagree", names[f]);
        CHECK(n0 > 100000 && (size_t)n0 < len / 2);
        char *back = dec(ts[0], a, n0, &dl);
        CHECK(back && dl == len && memcmp(back, text, len) == 0);
        free(back);
        free(a);
        free(b);
        free(c);
        free(text);
    }
    return T_PASS;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* random bytes and random mixes of characters from many classes: decode(encode(x)) == x */
static int test_random_roundtrip(void) {
    lc_tok *t = get_model();
    if (!t) return T_SKIP;
    static const char *const bits[] = { "a", "Z", " ", "  ", "\t", "\n", "\r\n", "'s", "'LL", "1", "23", "!", "..",
                                        "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80", "\xe2\x80\x8d", "\xc2\xa0",
                                        "\xe3\x80\x80", "\xcc\x81", "\xd9\xa3", "\xff", "\x80", "\xe2\x82", "\xc0\xaf",
                                        "\xed\xa0\x80", "\xf4\x90\x80\x80", "<|eot_id|>", "<|", "\x00", "\x85" };
    char buf[600];
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = 0;
        if (iter % 2) {
            len = rnd() % 300;
            for (size_t i = 0; i < len; i++) buf[i] = (char)(rnd() & 0xff);
        } else {
            int k = (int)(rnd() % 60);
            for (int i = 0; i < k; i++) {
                const char *b = bits[rnd() % LC_ARRAY_LEN(bits)];
                size_t bl = strlen(b) ? strlen(b) : 1;
                memcpy(buf + len, b, bl);
                len += bl;
            }
        }
        for (int flags = 0; flags <= LC_TOK_SPECIAL; flags += LC_TOK_SPECIAL) {
            int n;
            size_t dl;
            int32_t *ids = enc(t, buf, len, flags, &n);
            CHECK(ids);
            char *back = dec(t, ids, n, &dl);
            CHECKF(back && dl == len && memcmp(back, buf, len) == 0, "round trip failed (iter %d)", iter);
            free(back);
            free(ids);
        }
    }
    return T_PASS;
}

/* the flat-array merge and the heap merge agree (heap forced for every piece) */
static int test_heap_merge(void) {
    lc_tok *t = get_model();
    const char *p = t_shared("data/corpus/sotu.txt");
    if (!t || !p) return T_SKIP;
    char *text;
    size_t len;
    CHECK(lc_read_file(p, &text, &len, 1 << 26) == LC_OK);
    /* add long pieces: runs and unusual words */
    size_t n0 = LC_MIN(len, (size_t)300000);
    char *s = malloc(n0 + 20000);
    CHECK(s);
    memcpy(s, text, n0);
    size_t m = n0;
    for (int r = 0; r < 5; r++) {
        const char *unit[] = { "ab", "x", "  ", "1", "\xe6\x97\xa5" };
        for (int k = 0; k < 1000; k++) {
            memcpy(s + m, unit[r], strlen(unit[r]));
            m += strlen(unit[r]);
        }
        s[m++] = ' ';
    }
    int na, nb;
    int32_t *a = enc(t, s, m, 0, &na);
    int old = lc_tok_bpe_heap_min;
    lc_tok_bpe_heap_min = 2;
    int32_t *b = enc(t, s, m, 0, &nb);
    lc_tok_bpe_heap_min = old;
    int ok = a && b && ids_eq(a, na, b, nb);
    free(a);
    free(b);
    free(s);
    free(text);
    CHECK(ok);
    int rc = run_vectors(t);   /* and the reference vectors through the heap path */
    lc_tok_bpe_heap_min = 2;
    rc = rc == T_PASS ? run_vectors(t) : rc;
    lc_tok_bpe_heap_min = old;
    return rc;
}

static int test_invalid_utf8(void) {
    lc_tok *t = get_model();
    if (!t) return T_SKIP;
    int32_t bff = -1, b80 = -1, be2 = -1, b82 = -1;
    for (int32_t id = 0; id < 128000; id++) {   /* byte tokens */
        char c[4];
        if (lc_tok_piece(t, id, c, 4) != 1) continue;
        uint8_t u = (uint8_t)c[0];
        if (u == 0xff) bff = id;
        if (u == 0x80) b80 = id;
        if (u == 0xe2) be2 = id;
        if (u == 0x82) b82 = id;
    }
    CHECK(bff >= 0 && b80 >= 0 && be2 >= 0 && b82 >= 0);
    int32_t w1[] = { bff };
    CHECK(expect(t, "\xff", 1, 0, w1, 1));
    /* an invalid byte cuts the text: "a" and "b" are pieces of their own ("a"=64, "b"=65) */
    int32_t w2[] = { 64, bff, 65 };
    CHECK(expect(t, "a\xff" "b", 3, 0, w2, 3));
    /* truncated 3-byte sequence at the end: two byte tokens */
    int32_t w3[] = { be2, b82 };
    CHECK(expect(t, "\xe2\x82", 2, 0, w3, 2));
    /* stray continuation byte after a space: the space is not glued to it; "  " before it stays whole */
    int32_t w4[] = { 220, b80 };
    CHECK(expect(t, " \x80", 2, 0, w4, 2));
    int32_t w5[] = { 256, b80, 64 };   /* "  " = 256 (vectors: "  " -> 256) */
    CHECK(expect(t, "  \x80" "a", 4, 0, w5, 3));
    /* overlong / surrogate / > U+10FFFF forms: each byte alone */
    const char *bad[] = { "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80" };
    for (size_t i = 0; i < LC_ARRAY_LEN(bad); i++) {
        int n;
        size_t len = strlen(bad[i]), dl;
        int32_t *ids = enc(t, bad[i], len, 0, &n);
        CHECK(ids && n == (int)len);
        char *back = dec(t, ids, n, &dl);
        CHECK(back && dl == len && memcmp(back, bad[i], len) == 0);
        free(back);
        free(ids);
    }
    /* a valid character right after an invalid byte is still whole */
    int n;
    int32_t *ids = enc(t, "\xff" " Hello", 7, 0, &n);
    CHECK(ids && n == 2 && ids[0] == bff && ids[1] == 22691);
    free(ids);
    return T_PASS;
}

static int test_encode_cap(void) {
    lc_tok *t = get_model();
    if (!t) return T_SKIP;
    const char *s = "Hello, world!";
    CHECK(lc_tok_encode(t, s, strlen(s), 0, NULL, 0) == 4);
    CHECK(lc_tok_encode(t, s, strlen(s), LC_TOK_BOS, NULL, 0) == 5);
    int32_t ids[8] = { -7, -7, -7, -7, -7, -7, -7, -7 };
    CHECK(lc_tok_encode(t, s, strlen(s), LC_TOK_BOS, ids, 2) == 5);
    CHECK(ids[0] == 128000 && ids[1] == 9906 && ids[2] == -7);
    CHECK(lc_tok_encode(t, s, strlen(s), 0, ids, 8) == 4 && ids[3] == 0 && ids[4] == -7);
    CHECK(lc_tok_encode(t, "", 0, 0, ids, 8) == 0);
    CHECK(lc_tok_encode(t, NULL, 0, LC_TOK_BOS, ids, 8) == 1 && ids[0] == 128000);
    CHECK(lc_tok_encode(t, NULL, 3, 0, ids, 8) == LC_ERR_ARG);
    CHECK(lc_tok_encode(t, s, 3, 0, NULL, 4) == LC_ERR_ARG);
    CHECK(lc_tok_encode(t, s, 3, 0, ids, -1) == LC_ERR_ARG);
    CHECK(lc_tok_encode(NULL, s, 3, 0, ids, 8) == LC_ERR_ARG);
    /* text with an embedded NUL is fine (length-delimited) */
    CHECK(lc_tok_encode(t, "a\0b", 3, 0, ids, 8) == 3);
    return T_PASS;
}

static int test_masked(void) {
    lc_tok *t = get_model();
    if (!t) return T_SKIP;
    const char *s = "<|start_header_id|>user<|end_header_id|>\n\nhi <|eot_id|><|eot_id|>";
    size_t len = strlen(s);
    uint8_t *ok = calloc(len, 1);
    CHECK(ok);
    memset(ok, 1, 40);   /* both header tokens; not the user text */
    int32_t ids[64];
    int n = lc_tok_encode_masked(t, s, len, ok, true, ids, 64);
    CHECK(n > 6 && ids[0] == 128000 && ids[1] == 128006 && ids[2] == 882 && ids[3] == 128007 && ids[4] == 271);
    for (int i = 5; i < n; i++) CHECK(ids[i] < 128000);   /* <|eot_id|> here is text */
    /* only the second <|eot_id|> allowed */
    memset(ok + 40, 0, len - 40);
    memset(ok + len - 10, 1, 10);
    n = lc_tok_encode_masked(t, s, len, ok, false, ids, 64);
    CHECK(n > 3 && ids[0] == 128006 && ids[n - 1] == 128009 && ids[n - 2] != 128009);
    /* a special token only partly inside the allowed range is text */
    memset(ok, 0, len);
    memset(ok, 1, 10);
    n = lc_tok_encode_masked(t, s, len, ok, false, ids, 64);
    CHECK(n > 0 && ids[0] != 128006);
    for (int i = 0; i < n; i++) CHECK(ids[i] < 128000);
    /* NULL mask: nothing special; must equal plain encode */
    int32_t a[64];
    n = lc_tok_encode_masked(t, s, len, NULL, false, ids, 64);
    CHECK(n == lc_tok_encode(t, s, len, 0, a, 64) && memcmp(a, ids, (size_t)n * 4) == 0);
    free(ok);
    return T_PASS;
}

/* ---- streaming detokenizer ------------------------------------------ */
static int chunk_ok(const char *b, int n) { return lc_utf8_valid(b, (size_t)n); }

static int test_detok_stream(void) {
    lc_tok *t = get_model();
    if (!t) return T_SKIP;
    const char *texts[] = {
        "h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\xb6\xe2\x80\x8d\xf0\x9f\x8c\xab\xef\xb8\x8f",
        "\xf0\x9f\x87\xba\xf0\x9f\x87\xb8 \xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xd8\xa7\xd9\x84\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\xa9",
        "plain ascii text, numbers 12345 and\nnew lines",
    };
    for (size_t k = 0; k < LC_ARRAY_LEN(texts); k++) {
        int n;
        int32_t *ids = enc(t, texts[k], strlen(texts[k]), 0, &n);
        CHECK(ids);
        lc_detok d = { 0 };
        char all[512], buf[64];
        size_t o = 0;
        for (int i = 0; i < n; i++) {
            int m = lc_detok_push(&d, t, ids[i], buf, sizeof buf);
            CHECK(m >= 0 && chunk_ok(buf, m));
            memcpy(all + o, buf, (size_t)m);
            o += (size_t)m;
        }
        CHECK(lc_detok_flush(&d, buf, sizeof buf) == 0);
        CHECK(o == strlen(texts[k]) && memcmp(all, texts[k], o) == 0);
        free(ids);
    }
    /* a multi-byte character split over byte tokens: nothing comes out until it is complete */
    int32_t b[4];
    for (int i = 0; i < 4; i++) {
        char c[1] = { (char)("\xf0\x9f\x98\x80"[i]) };
        int n = lc_tok_encode(t, c, 1, 0, &b[i], 1);
        CHECK(n == 1);
    }
    lc_detok d = { 0 };
    char buf[64];
    CHECK(lc_detok_push(&d, t, b[0], buf, sizeof buf) == 0);
    CHECK(lc_detok_push(&d, t, b[1], buf, sizeof buf) == 0);
    CHECK(lc_detok_push(&d, t, b[2], buf, sizeof buf) == 0);
    CHECK(lc_detok_push(&d, t, b[3], buf, sizeof buf) == 4 && memcmp(buf, "\xf0\x9f\x98\x80", 4) == 0);
    /* an incomplete character at the end: flush gives one U+FFFD per held byte */
    CHECK(lc_detok_push(&d, t, b[0], buf, sizeof buf) == 0);
    CHECK(lc_detok_push(&d, t, b[1], buf, sizeof buf) == 0);
    CHECK(lc_detok_flush(&d, buf, sizeof buf) == 6 && memcmp(buf, "\xEF\xBF\xBD\xEF\xBF\xBD", 6) == 0);
    CHECK(lc_detok_flush(&d, buf, sizeof buf) == 0);
    /* an incomplete character followed by ASCII: the held bytes become U+FFFD, then the text */
    CHECK(lc_detok_push(&d, t, b[0], buf, sizeof buf) == 0);
    CHECK(lc_detok_push(&d, t, 64, buf, sizeof buf) == 4 && memcmp(buf, "\xEF\xBF\xBD" "a", 4) == 0);
    /* a stray continuation byte is replaced at once */
    CHECK(lc_detok_push(&d, t, b[1], buf, sizeof buf) == 3 && memcmp(buf, "\xEF\xBF\xBD", 3) == 0);
    /* special tokens give their text */
    CHECK(lc_detok_push(&d, t, 128009, buf, sizeof buf) == 10 && memcmp(buf, "<|eot_id|>", 10) == 0);
    /* too small a buffer: error, state kept */
    CHECK(lc_detok_push(&d, t, 128009, buf, 4) < 0);
    CHECK(lc_detok_push(&d, t, 99999999, buf, sizeof buf) < 0);
    return T_PASS;
}

/* random byte-token streams: every chunk is valid UTF-8 and holds what a full decode would */
static int test_detok_random(void) {
    lc_tok *t = get_model();
    if (!t) return T_SKIP;
    for (int iter = 0; iter < 2000; iter++) {
        lc_detok d = { 0 };
        char buf[1024];
        int n = 1 + (int)(rnd() % 20);
        for (int i = 0; i < n; i++) {
            int32_t id = (int32_t)(rnd() % 128256);
            int m = lc_detok_push(&d, t, id, buf, sizeof buf);
            CHECK(m >= 0 && chunk_ok(buf, m));
            CHECK(d.n_held >= 0 && d.n_held <= 3);
        }
        int m = lc_detok_flush(&d, buf, sizeof buf);
        CHECK(m >= 0 && chunk_ok(buf, m));
    }
    return T_PASS;
}

/* ---- small files: tiny GGUF, directory, corrupt inputs --------------- */
static int test_tiny_gguf(void) {
    const char *p = t_shared("vectors/tiny/model-f32.gguf");
    if (!p) return T_SKIP;
    lc_tok *t;
    int rc = lc_tok_load(p, &t);
    CHECKF(rc == LC_OK, "%s", lc_last_error());
    int nv = lc_tok_n_vocab(t);
    CHECK(nv == 512);
    CHECK(lc_tok_bos(t) == nv - 2 && lc_tok_eos(t) == nv - 1);
    CHECK(lc_tok_is_eog(t, nv - 1) && !lc_tok_is_eog(t, nv - 2));
    CHECK(lc_tok_is_special(t, nv - 1) && !lc_tok_is_special(t, 10));
    const char *s = "Hello world! The quick brown fox, 123 jumps.\n\tover the lazy dog ~`@#$%^&*()";
    int n;
    size_t dl;
    int32_t *ids = enc(t, s, strlen(s), LC_TOK_BOS, &n);
    CHECK(ids && n > 1 && ids[0] == nv - 2);
    for (int i = 0; i < n; i++) CHECK(ids[i] >= 0 && ids[i] < nv);
    char *back = dec(t, ids + 1, n - 1, &dl);
    CHECK(back && dl == strlen(s) && memcmp(back, s, dl) == 0);
    CHECK(n - 1 < (int)strlen(s));   /* some merges happened */
    free(back);
    free(ids);
    int32_t one;
    CHECK(lc_tok_encode(t, "<|end_of_text|>", 15, LC_TOK_SPECIAL, &one, 1) == 1 && one == nv - 1);
    lc_tok_free(t);
    return T_PASS;
}

static int test_dir_load(void) {
    const char *p = t_shared("data/tokenizer/tokenizer.model");
    if (!p) return T_SKIP;
    char dir[512], link[600], abs[4096];
    snprintf(dir, sizeof dir, "%s/tokdir", t_tmpdir());
    CHECK(mkdir(dir, 0700) == 0);
    CHECK(realpath(p, abs));
    snprintf(link, sizeof link, "%s/tokenizer.model", dir);
    CHECK(symlink(abs, link) == 0);
    lc_tok *t;
    CHECK(lc_tok_load(dir, &t) == LC_OK);
    CHECK(lc_tok_n_vocab(t) == 128256);
    lc_tok_free(t);
    snprintf(link, sizeof link, "%s/empty", t_tmpdir());
    CHECK(mkdir(link, 0700) == 0);
    CHECK(lc_tok_load(link, &t) == LC_ERR_IO && t == NULL);
    CHECK(lc_tok_load("/nonexistent/tokenizer.json", &t) == LC_ERR_IO && t == NULL);
    return T_PASS;
}

static int write_file(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(d, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* loads `content` written to a temp file; returns the rc (and frees any tokenizer) */
static int load_text(const char *name, const void *content, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", t_tmpdir(), name);
    if (write_file(path, content, n)) return 999;
    lc_tok *t = NULL;
    int rc = lc_tok_load(path, &t);
    if (rc == LC_OK) lc_tok_free(t);
    else if (t) rc = 998;   /* out must stay NULL on error */
    unlink(path);
    return rc;
}

/* a tiny tiktoken file: the 256 bytes, then "ab" (256) and "abc" (257) */
static char *tiny_model(int variant) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t cap = 256 * 16 + 256, o = 0;
    char *s = malloc(cap);
    for (int b = 0; b < 256; b++) {
        int rank = b;
        if (variant == 2 && b == 7) rank = 6;        /* duplicate rank */
        if (variant == 3 && b == 7) rank = 900;      /* out of range */
        o += (size_t)snprintf(s + o, cap - o, "%c%c== %d\n", b64[b >> 2], b64[(b & 3) << 4], rank);
    }
    o += (size_t)snprintf(s + o, cap - o, "%s 256\nYWJj 257\n", variant == 1 ? "Y@I=" : "YWI=");
    return s;
}

static int test_corrupt_model(void) {
    char *s = tiny_model(0);
    CHECK(load_text("ok.model", s, strlen(s)) == LC_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/ok2.model", t_tmpdir());
    CHECK(write_file(path, s, strlen(s)) == 0);
    lc_tok *t;
    CHECK(lc_tok_load(path, &t) == LC_OK);
    CHECK(lc_tok_n_vocab(t) == 258 + 256);
    CHECK(lc_tok_bos(t) == 258 && lc_tok_lookup(t, "<|eot_id|>") == 258 + 9);
    int32_t ids[8];
    /* a b c a b -> ab c a b -> ab c ab -> abc ab ("abcab" itself is no token) */
    CHECK(lc_tok_encode(t, "abcab", 5, 0, ids, 8) == 2 && ids[0] == 257 && ids[1] == 256);
    CHECK(lc_tok_encode(t, "abc", 3, 0, ids, 8) == 1 && ids[0] == 257);
    lc_tok_free(t);
    free(s);
    for (int v = 1; v <= 3; v++) {
        s = tiny_model(v);
        int rc = load_text("bad.model", s, strlen(s));
        CHECKF(rc == LC_ERR_FORMAT, "variant %d: rc %d", v, rc);
        free(s);
    }
    /* a missing rank (one line dropped) and junk lines */
    s = tiny_model(0);
    char *l = strstr(s, "\n") + 1;   /* drop line 0 */
    CHECK(load_text("bad.model", l, strlen(l)) == LC_ERR_FORMAT);
    free(s);
    const char *junk[] = { "QQ==\n", "QQ== x\n", "QQ== 0 1\n", " 0\n", "QQ==  \n", "QQ 0\n", "Q=== 0\n",
                           "\xff\xfe 0\n", "QQ== 99999999999999999999\n" };
    for (size_t i = 0; i < LC_ARRAY_LEN(junk); i++)
        CHECKF(load_text("bad.model", junk[i], strlen(junk[i])) == LC_ERR_FORMAT, "junk %zu", i);
    CHECK(load_text("empty.model", "", 0) == LC_ERR_FORMAT);
    return T_PASS;
}

static int test_corrupt_json(void) {
    const char *p = t_shared("data/tokenizer/tokenizer.json");
    if (p) {   /* truncated halfway and near the end */
        char *s;
        size_t n;
        CHECK(lc_read_file(p, &s, &n, 1 << 26) == LC_OK);
        CHECK(load_text("trunc.json", s, n / 2) == LC_ERR_FORMAT);
        CHECK(load_text("trunc.json", s, n - 3) == LC_ERR_FORMAT);
        free(s);
    }
    /* a small hand-made file: the 256 byte-level symbols, "ab", one special token */
    size_t cap = 1 << 16, o = 0;
    char *f = malloc(cap);
    CHECK(f);
    o += (size_t)snprintf(f + o, cap - o, "{\"model\":{\"type\":\"BPE\",\"vocab\":{");
    for (int b = 0, extra = 0; b < 256; b++) {
        int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        int cp = printable ? b : 256 + extra++;
        if (cp == '"' || cp == '\\') o += (size_t)snprintf(f + o, cap - o, "\"\\%c\":%d,", cp, b);
        else if (cp < 0x80) o += (size_t)snprintf(f + o, cap - o, "\"%c\":%d,", cp, b);
        else o += (size_t)snprintf(f + o, cap - o, "\"%c%c\":%d,", 0xc0 | (cp >> 6), 0x80 | (cp & 0x3f), b);
    }
    o += (size_t)snprintf(f + o, cap - o, "\"ab\":256},\"merges\":[\"a b\"");
    size_t head = o;
    const char *tail = "]},\"added_tokens\":[{\"id\":257,\"content\":\"<|x|>\",\"special\":true}]}";
    static const struct { const char *extra; int rc; } mc[] = {
        { "", LC_OK },
        { ",\"a zz\"", LC_ERR_FORMAT },       /* merge naming an unknown token */
        { ",\"b c\"", LC_ERR_FORMAT },        /* merged token "bc" unknown */
        { ",\"ab\"", LC_ERR_FORMAT },         /* no space */
        { ",[\"a\",\"b\"]", LC_OK },         /* array form is fine */
        { ",[\"a\"]", LC_ERR_FORMAT },
        { ",17", LC_ERR_FORMAT },
    };
    for (size_t i = 0; i < LC_ARRAY_LEN(mc); i++) {
        snprintf(f + head, cap - head, "%s%s", mc[i].extra, tail);
        int rc = load_text("small.json", f, strlen(f));
        CHECKF(rc == mc[i].rc, "merge case %zu: rc %d (%s)", i, rc, lc_last_error());
    }
    /* bad ids, duplicates, holes */
    const char *bad_json[] = {
        "{}", "[]", "{\"model\":{\"vocab\":[],\"merges\":[]}}",
        "{\"model\":{\"vocab\":{\"a\":-1},\"merges\":[]}}",
        "{\"model\":{\"vocab\":{\"a\":99999999999},\"merges\":[]}}",
        "{\"model\":{\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]}}",     /* duplicate id */
        "{\"model\":{\"vocab\":{\"a\":0,\"b\":2},\"merges\":[]}}",     /* missing id 1 */
        "{\"model\":{\"vocab\":{\"a\":\"0\"},\"merges\":[]}}",
        "{\"model\":{\"vocab\":{\"\xe6\x97\xa5\":0},\"merges\":[]}}",  /* not byte-level */
        "{\"model\":{\"vocab\":{\"\":0},\"merges\":[]}}",              /* empty token */
        "{\"model\":{\"vocab\":{\"a\":0},\"merges\":[]}}",             /* no byte tokens */
        "{\"model\":{\"vocab\":{\"\xff\":0},\"merges\":[]}}",          /* not UTF-8 */
        "{\"model\":{\"vocab\":{\"a\":0},\"merges\":[]},\"added_tokens\":[{\"id\":5}]}",
        "{\"model\":{\"vocab\":{\"a\":0},\"merges\":[]},\"added_tokens\":{}}",
    };
    for (size_t i = 0; i < LC_ARRAY_LEN(bad_json); i++) {
        int rc = load_text("bad.json", bad_json[i], strlen(bad_json[i]));
        CHECKF(rc == LC_ERR_FORMAT, "case %zu: rc %d (%s)", i, rc, lc_last_error());
    }
    const char *unsup = "{\"model\":{\"type\":\"Unigram\",\"vocab\":{},\"merges\":[]}}";
    CHECK(load_text("bad.json", unsup, strlen(unsup)) == LC_ERR_UNSUPPORTED);
    free(f);
    return T_PASS;
}

/* small GGUF tokenizers: good one, wrong model, unknown merge, truncated at every offset */
static int test_corrupt_gguf(void) {
    char *toks[260], names[260][8];
    int32_t types[260];
    int n = 0, extra = 0;
    for (int b = 0; b < 256; b++, n++) {
        int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        int cp = printable ? b : 256 + extra++;
        if (cp < 0x80) snprintf(names[n], 8, "%c", cp);
        else snprintf(names[n], 8, "%c%c", 0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
        toks[n] = names[n];
        types[n] = 1;
    }
    toks[n] = "ab", types[n++] = 1;
    toks[n] = "<|begin_of_text|>", types[n++] = 3;
    toks[n] = "<|end_of_text|>", types[n++] = 3;
    char *merges[2] = { "a b", "x y" };
    char path[512];
    snprintf(path, sizeof path, "%s/small.gguf", t_tmpdir());
    lc_tok *t;
    CHECK(write_tok_gguf(path, "gpt2", toks, types, n, merges, 1, 257, 258) == 0);
    int rc = lc_tok_load(path, &t);
    CHECKF(rc == LC_OK, "%s", lc_last_error());
    int32_t ids[8];
    CHECK(lc_tok_encode(t, "abab", 4, 0, ids, 8) == 2 && ids[0] == 256 && ids[1] == 256);
    CHECK(lc_tok_eos(t) == 258 && lc_tok_is_eog(t, 258) && lc_tok_bos(t) == 257);
    lc_tok_free(t);
    CHECK(write_tok_gguf(path, "llama", toks, types, n, merges, 1, 257, 258) == 0);
    CHECK(lc_tok_load(path, &t) == LC_ERR_UNSUPPORTED);
    CHECK(write_tok_gguf(path, "gpt2", toks, types, n, merges, 2, 257, 258) == 0);
    CHECK(lc_tok_load(path, &t) == LC_ERR_FORMAT);
    CHECK(write_tok_gguf(path, "gpt2", toks, types, n, merges, 1, 259, 258) == 0);   /* bos out of range */
    CHECK(lc_tok_load(path, &t) == LC_ERR_FORMAT);
    toks[0] = "\xe6\x97\xa5";   /* normal token that is not byte-level text */
    CHECK(write_tok_gguf(path, "gpt2", toks, types, n, merges, 1, 257, 258) == 0);
    CHECK(lc_tok_load(path, &t) == LC_ERR_FORMAT);
    toks[0] = names[0];
    /* every truncation of the good file fails cleanly */
    CHECK(write_tok_gguf(path, "gpt2", toks, types, n, merges, 1, 257, 258) == 0);
    char *data;
    size_t len;
    CHECK(lc_read_file(path, &data, &len, 1 << 20) == LC_OK);
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 7)) {
        CHECK(write_file(path, data, cut) == 0);
        t = NULL;
        rc = lc_tok_load(path, &t);
        CHECKF(rc < 0 && t == NULL, "cut at %zu: rc %d", cut, rc);
    }
    free(data);
    unlink(path);
    return T_PASS;
}

const lc_test_case tests_tokenizer[] = {
    { "tok_basic_api", test_basic_api },
    { "tok_spec_examples", test_spec_examples },
    { "tok_special_names", test_special_names },
    { "tok_vectors_model", test_vectors_model },
    { "tok_vectors_json", test_vectors_json },
    { "tok_vectors_gguf", test_vectors_gguf },
    { "tok_roles_all_loaders", test_roles_all_loaders },
    { "tok_llamacpp", test_llamacpp },
    { "tok_corpus", test_corpus },
    { "tok_random_roundtrip", test_random_roundtrip },
    { "tok_heap_merge", test_heap_merge },
    { "tok_invalid_utf8", test_invalid_utf8 },
    { "tok_encode_cap", test_encode_cap },
    { "tok_masked", test_masked },
    { "tok_detok_stream", test_detok_stream },
    { "tok_detok_random", test_detok_random },
    { "tok_tiny_gguf", test_tiny_gguf },
    { "tok_dir_load", test_dir_load },
    { "tok_corrupt_model", test_corrupt_model },
    { "tok_corrupt_json", test_corrupt_json },
    { "tok_corrupt_gguf", test_corrupt_gguf },
    { 0 },
};
