/* test_bpe_train.c - tokenizer training: the learned tokenizer loads with lc_tok_load,
 * round-trips its corpus exactly and compresses it; training is deterministic; the
 * special tokens follow the learned vocabulary; bad corpora and sizes are clear errors. */
#include "internal.h"
#include "bpe_train.h"
#include "pyjson.h"
#include "test.h"

static char *read_all(const char *path, size_t *n) {
    char *buf = NULL;
    if (lc_read_file(path, &buf, n, (size_t)1 << 30) != LC_OK) return NULL;
    return buf;
}

static int write_all(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* first max bytes of a shared corpus into tmp/name; NULL if absent */
static const char *corpus_head(const char *rel, size_t max, const char *name) {
    static char out[4096];
    const char *src = t_shared(rel);
    if (!src) return NULL;
    size_t n;
    char *buf = read_all(src, &n);
    if (!buf) return NULL;
    snprintf(out, sizeof out, "%s/%s", t_tmpdir(), name);
    int rc = write_all(out, buf, LC_MIN(n, max));
    free(buf);
    return rc ? NULL : out;
}

/* encodes text, decodes the ids back, compares; returns the id count or -1 */
static int roundtrip(const lc_tok *t, const char *text, size_t n) {
    int need = lc_tok_encode(t, text, n, 0, NULL, 0);
    if (need < 0) return -1;
    int32_t *ids = malloc(((size_t)need + 1) * sizeof *ids);
    char *back = malloc(n + 1);
    int ok = ids && back && lc_tok_encode(t, text, n, 0, ids, need) == need;
    size_t o = 0;
    for (int i = 0; ok && i < need; i++) {
        int l = lc_tok_piece(t, ids[i], back + o, n - o);
        if (l < 0 || (size_t)l > n - o || lc_tok_is_special(t, ids[i])) ok = 0;
        else o += (size_t)l;
    }
    ok = ok && o == n && memcmp(back, text, n) == 0;
    free(ids);
    free(back);
    return ok ? need : -1;
}

static int test_shakespeare(void) {
    const char *corpus = corpus_head("data/corpus/tinyshakespeare.txt", 1000000, "shake1m.txt");
    if (!corpus) return T_SKIP;
    char out[4096];
    snprintf(out, sizeof out, "%s/shake.json", t_tmpdir());
    lc_bpe_stats st;
    int rc = lc_bpe_train(&corpus, 1, 1024, out, NULL, NULL, &st);
    CHECKF(rc == LC_OK, "%s", lc_last_error());
    CHECK(st.n_bytes == 1000000 && st.n_merges >= 1024 - 256);
    lc_tok *t;
    CHECKF(lc_tok_load(out, &t) == LC_OK, "%s", lc_last_error());
    CHECK(lc_tok_n_vocab(t) == 1024 + 256);
    size_t n;
    char *text = read_all(corpus, &n);
    CHECK(text && n == 1000000);
    int n_ids = roundtrip(t, text, n);
    CHECKF(n_ids > 0 && n_ids < (int)(n / 2), "%d ids for %zu bytes", n_ids, n);
    /* text the corpus never had: other scripts, digits, control bytes */
    static const char odd[] = "héllo 日本語 \t\r\n 12345678 ünïcödé 🦙🦙 <|eot_id|> x\x01y\x7f";
    CHECK(roundtrip(t, odd, sizeof odd - 1) > 0);
    free(text);
    lc_tok_free(t);
    return T_PASS;
}

static int test_deterministic(void) {
    const char *corpus = corpus_head("data/corpus/sotu.txt", 300000, "sotu300k.txt");
    if (!corpus) return T_SKIP;
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/det_a.json", t_tmpdir());
    snprintf(b, sizeof b, "%s/det_b.json", t_tmpdir());
    CHECK(lc_bpe_train(&corpus, 1, 700, a, NULL, NULL, NULL) == LC_OK);
    CHECK(lc_bpe_train(&corpus, 1, 700, b, NULL, NULL, NULL) == LC_OK);
    size_t na, nb;
    char *x = read_all(a, &na), *y = read_all(b, &nb);
    CHECK(x && y && na == nb && memcmp(x, y, na) == 0);
    free(x);
    free(y);
    return T_PASS;
}

/* an in-repo corpus, so these run without ../shared */
static const char *make_corpus(const char *name, uint64_t seed, size_t n_words) {
    static char out[8][4096];
    static int slot;
    char *path = out[slot++ & 7];
    snprintf(path, sizeof out[0], "%s/%s", t_tmpdir(), name);
    static const char *const words[] = { "the", "cat", "sat", "on", "a", "mat", "and", "then", "ran",
                                         "über", "naïve", "日本", "42", "1999", "it's", "don't", "!!",
                                         "...", "(ok)", "llama", "llamas", "ab", "aba", "abab" };
    lc_buf b = { 0 };
    uint64_t s = seed;
    for (size_t i = 0; i < n_words; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const char *w = words[(s >> 33) % LC_ARRAY_LEN(words)];
        if (i) lc_buf_putc(&b, (s >> 20) % 11 == 0 ? '\n' : ' ');
        lc_buf_puts(&b, w);
    }
    int rc = b.oom ? -1 : write_all(path, b.p, b.len);
    lc_buf_free(&b);
    return rc ? NULL : path;
}

static int test_specials(void) {
    const char *corpus = make_corpus("words.txt", 1, 20000);
    CHECK(corpus);
    char out[4096];
    snprintf(out, sizeof out, "%s/words.json", t_tmpdir());
    const int V = 300;
    CHECKF(lc_bpe_train(&corpus, 1, V, out, NULL, NULL, NULL) == LC_OK, "%s", lc_last_error());
    lc_tok *t;
    CHECKF(lc_tok_load(out, &t) == LC_OK, "%s", lc_last_error());
    CHECK(lc_tok_n_vocab(t) == V + 256);
    CHECK(lc_tok_bos(t) == V && lc_tok_eos(t) == V + 1);
    char name[64];
    for (int k = 0; k < 256; k++) {
        lc_bpe_special_name(k, name, sizeof name);
        CHECKF(lc_tok_lookup(t, name) == V + k && lc_tok_is_special(t, V + k), "%s", name);
    }
    CHECK(lc_tok_lookup(t, "<|eot_id|>") == V + 9 && lc_tok_lookup(t, "<|python_tag|>") == V + 10);
    CHECK(lc_tok_lookup(t, "<|reserved_special_token_247|>") == V + 255);
    int32_t ids[8];
    CHECK(lc_tok_encode(t, "<|eot_id|>", 10, LC_TOK_SPECIAL, ids, 8) == 1 && ids[0] == V + 9);
    CHECK(lc_tok_is_eog(t, V + 9) && lc_tok_is_eog(t, V + 8));
    CHECK(lc_tok_encode(t, "<|eot_id|>", 10, 0, ids, 8) > 1);    /* as plain text: not special */
    for (int i = 0; i < 256; i++) CHECK(!lc_tok_is_special(t, i));
    size_t n;
    char *text = read_all(corpus, &n);
    CHECK(text && roundtrip(t, text, n) > 0);
    free(text);
    lc_tok_free(t);
    return T_PASS;
}

/* two letters and spaces: long runs of merges of merges; the file must stay loadable
 * and exact */
static int test_small_alphabet(void) {
    lc_buf b = { 0 };
    uint64_t s = 7;
    for (int i = 0; i < 30000; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        lc_buf_putc(&b, "ab"[(s >> 40) & 1]);
        if ((s >> 50) % 9 == 0) lc_buf_putc(&b, ' ');
    }
    char path[4096], out[4096];
    snprintf(path, sizeof path, "%s/ab.txt", t_tmpdir());
    snprintf(out, sizeof out, "%s/ab.json", t_tmpdir());
    CHECK(!b.oom && write_all(path, b.p, b.len) == 0);
    const char *files[] = { path };
    lc_bpe_stats st;
    CHECKF(lc_bpe_train(files, 1, 600, out, NULL, NULL, &st) == LC_OK, "%s", lc_last_error());
    lc_tok *t;
    CHECKF(lc_tok_load(out, &t) == LC_OK, "%s", lc_last_error());
    CHECK(lc_tok_n_vocab(t) == 600 + 256);
    CHECK(roundtrip(t, b.p, b.len) > 0);
    lc_tok_free(t);
    lc_buf_free(&b);
    return T_PASS;
}

/* vocab 256: only the byte tokens, no merges; still a valid tokenizer */
static int test_bytes_only(void) {
    const char *corpus = make_corpus("w256.txt", 3, 500);
    CHECK(corpus);
    char out[4096];
    snprintf(out, sizeof out, "%s/b256.json", t_tmpdir());
    lc_bpe_stats st;
    CHECK(lc_bpe_train(&corpus, 1, 256, out, NULL, NULL, &st) == LC_OK && st.n_merges == 0);
    lc_tok *t;
    CHECKF(lc_tok_load(out, &t) == LC_OK, "%s", lc_last_error());
    CHECK(lc_tok_n_vocab(t) == 512);
    static const char txt[] = "any bytes \xff\xfe at all";
    CHECK(roundtrip(t, txt, sizeof txt - 1) == (int)sizeof txt - 1);
    lc_tok_free(t);
    return T_PASS;
}

static void count_progress(void *ud, int done, int total) {
    int *calls = ud;
    if (done <= total) (*calls)++;
}

static int test_bad_input(void) {
    char empty[4096], bad[4096], out[4096], tiny[4096];
    snprintf(empty, sizeof empty, "%s/empty.txt", t_tmpdir());
    snprintf(bad, sizeof bad, "%s/latin1.txt", t_tmpdir());
    snprintf(tiny, sizeof tiny, "%s/tiny.txt", t_tmpdir());
    snprintf(out, sizeof out, "%s/bad.json", t_tmpdir());
    CHECK(write_all(empty, "", 0) == 0);
    CHECK(write_all(bad, "caf\xe9 ok", 7) == 0);
    CHECK(write_all(tiny, "abc abc", 7) == 0);
    const char *f1[] = { empty };
    CHECK(lc_bpe_train(f1, 1, 300, out, NULL, NULL, NULL) == LC_ERR_FORMAT);
    CHECK(strstr(lc_last_error(), "empty"));
    const char *f2[] = { bad };
    CHECK(lc_bpe_train(f2, 1, 300, out, NULL, NULL, NULL) == LC_ERR_FORMAT);
    CHECKF(strstr(lc_last_error(), "byte offset 3") && strstr(lc_last_error(), "UTF-8"), "%s", lc_last_error());
    const char *f3[] = { tiny };
    CHECK(lc_bpe_train(f3, 1, 255, out, NULL, NULL, NULL) == LC_ERR_ARG);
    CHECK(lc_bpe_train(f3, 1, LC_BPE_MAX_VOCAB + 1, out, NULL, NULL, NULL) == LC_ERR_ARG);
    CHECK(lc_bpe_train(f3, 1, -5, out, NULL, NULL, NULL) == LC_ERR_ARG);
    CHECK(lc_bpe_train(f3, 1, 1000, out, NULL, NULL, NULL) == LC_ERR_ARG);   /* corpus too small */
    CHECKF(strstr(lc_last_error(), "only allows"), "%s", lc_last_error());
    int calls = 0;
    CHECK(lc_bpe_train(f3, 1, 259, out, count_progress, &calls, NULL) == LC_OK && calls >= 1);
    const char *f4[] = { "/nonexistent/corpus.txt" };
    CHECK(lc_bpe_train(f4, 1, 300, out, NULL, NULL, NULL) == LC_ERR_IO);
    CHECK(strstr(lc_last_error(), "/nonexistent/corpus.txt"));
    CHECK(lc_bpe_train(NULL, 0, 300, out, NULL, NULL, NULL) == LC_ERR_ARG);
    CHECK(lc_bpe_train(f3, 1, 300, NULL, NULL, NULL, NULL) == LC_ERR_ARG);
    /* an empty file next to a real one is fine */
    const char *f5[] = { empty, tiny };
    CHECK(lc_bpe_train(f5, 2, 258, out, NULL, NULL, NULL) == LC_OK);
    /* output folder that does not exist */
    CHECK(lc_bpe_train(f3, 1, 258, "/nonexistent/dir/tok.json", NULL, NULL, NULL) == LC_ERR_IO);
    return T_PASS;
}

const lc_test_case tests_bpe_train[] = {
    { "bpe_train_shakespeare", test_shakespeare },
    { "bpe_train_deterministic", test_deterministic },
    { "bpe_train_specials", test_specials },
    { "bpe_train_small_alphabet", test_small_alphabet },
    { "bpe_train_bytes_only", test_bytes_only },
    { "bpe_train_bad_input", test_bad_input },
    { NULL, NULL },
};
