/* tokenizer.c - Llama 3 byte-level BPE (tiktoken semantics, spec tokenizer.md): loaders for
 * GGUF (tokenizer.ggml.*), Hugging Face tokenizer.json and Meta's tokenizer.model, a
 * hand-written pre-tokenizer for the Llama 3 regex, rank-ordered pair merging, and a
 * streaming detokenizer. Every file is untrusted input.
 *
 * Invalid UTF-8 in the text to encode is not an error. Each byte that does not start a
 * valid UTF-8 sequence (stray continuation bytes, bad lead bytes, overlong forms,
 * surrogates, code points above U+10FFFF, truncated sequences) is cut out as a piece of
 * its own, one byte long, and becomes that byte's token. For the regex it acts like the
 * end of the text: it never joins a neighbouring piece and the whitespace look-ahead
 * `\s+(?!\S)` treats it as "no more text". The valid runs between invalid bytes are
 * pre-tokenized as usual, so concatenating the pieces of the ids gives back the input
 * bytes exactly: decode(encode(x)) == x for any byte string x. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "internal.h"

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <utf8proc.h>

#define TOK_MAX_VOCAB (1 << 24)      /* more ids than this is a hostile file */
#define TOK_MAX_MERGES (1 << 26)
#define TOK_MAX_FILE ((size_t)1 << 30)
#define BPE_SMALL 64                 /* pieces up to this many bytes merge in flat arrays */

/* pieces of at least this many bytes use the heap merge (tests lower it to compare paths) */
int lc_tok_bpe_heap_min = BPE_SMALL + 1;

static const char LLAMA3_PAT[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* ---- the tokenizer object ------------------------------------------ */
enum { TF_SPECIAL = 1, TF_LITERAL = 2, TF_SET = 4 };

typedef struct strmap {     /* byte string -> id, open addressing; keys live in the blob */
    int32_t *slot;          /* -1 = empty */
    uint32_t mask;
} strmap;

typedef struct pair_ent {   /* (left id, right id) -> rank and merged id */
    uint64_t key;
    uint32_t rank;
    int32_t id;             /* -1 = empty */
} pair_ent;

struct lc_tok {
    int n_vocab;
    uint8_t *blob;          /* all token bytes */
    size_t blob_len, blob_cap;
    uint32_t *off, *len;    /* [n_vocab] */
    uint8_t *flags;         /* [n_vocab] TF_* */
    int32_t byte_id[256];   /* token of each single byte */
    strmap vocab;           /* byte-level (mergeable) tokens */
    strmap lit;             /* literal tokens (special / added): split before pre-tokenizing */
    pair_ent *pairs;
    uint32_t pair_mask;
    size_t n_pairs;
    uint32_t max_len;       /* longest byte-level token */
    int n_lit_lens;
    uint32_t lit_lens[64];  /* distinct literal token lengths, longest first */
    uint8_t lit_first[256]; /* 1 if some literal token starts with this byte */
    int32_t bos, eos, eot, eom, eot_text;
    int32_t *eog;
    int n_eog, cap_eog;
};

/* ---- hashing ------------------------------------------------------- */
static inline uint64_t hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)p[i] << (8 * i);
    h = (h ^ w) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

static int strmap_init(strmap *m, size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap *= 2;
    m->slot = malloc(cap * sizeof *m->slot);
    if (!m->slot) return lc_fail(LC_ERR_NOMEM, "tokenizer: no memory");
    memset(m->slot, 0xff, cap * sizeof *m->slot);
    m->mask = (uint32_t)(cap - 1);
    return LC_OK;
}

static inline int32_t strmap_get(const lc_tok *t, const strmap *m, const uint8_t *p, size_t n) {
    if (!m->slot) return -1;
    uint32_t i = (uint32_t)hash_bytes(p, n) & m->mask;
    for (;;) {
        int32_t id = m->slot[i];
        if (id < 0) return -1;
        if (t->len[id] == n && memcmp(t->blob + t->off[id], p, n) == 0) return id;
        i = (i + 1) & m->mask;
    }
}

/* inserts id unless its bytes are already there (the first id wins) */
static void strmap_put(const lc_tok *t, strmap *m, int32_t id) {
    const uint8_t *p = t->blob + t->off[id];
    size_t n = t->len[id];
    uint32_t i = (uint32_t)hash_bytes(p, n) & m->mask;
    for (;;) {
        int32_t o = m->slot[i];
        if (o < 0) {
            m->slot[i] = id;
            return;
        }
        if (t->len[o] == n && memcmp(t->blob + t->off[o], p, n) == 0) return;
        i = (i + 1) & m->mask;
    }
}

static inline uint32_t pair_hash(uint64_t key) {
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32);
}

static int pairs_grow(lc_tok *t) {
    size_t cap = t->pairs ? ((size_t)t->pair_mask + 1) * 2 : 1024;
    if (cap > ((size_t)1 << 31)) return lc_fail(LC_ERR_NOMEM, "tokenizer: too many merges");
    pair_ent *np = malloc(cap * sizeof *np);
    if (!np) return lc_fail(LC_ERR_NOMEM, "tokenizer: no memory for merges");
    for (size_t i = 0; i < cap; i++) np[i].id = -1;
    uint32_t mask = (uint32_t)(cap - 1);
    if (t->pairs) {
        for (size_t i = 0; i <= t->pair_mask; i++) {
            if (t->pairs[i].id < 0) continue;
            uint32_t j = pair_hash(t->pairs[i].key) & mask;
            while (np[j].id >= 0) j = (j + 1) & mask;
            np[j] = t->pairs[i];
        }
        free(t->pairs);
    }
    t->pairs = np;
    t->pair_mask = mask;
    return LC_OK;
}

/* adds (a, b) -> (rank, id) unless the pair is known already (lowest rank wins) */
static int pair_put(lc_tok *t, int32_t a, int32_t b, uint32_t rank, int32_t id) {
    if (!t->pairs || (t->n_pairs + 1) * 2 > (size_t)t->pair_mask + 1) {
        int rc = pairs_grow(t);
        if (rc) return rc;
    }
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t i = pair_hash(key) & t->pair_mask;
    while (t->pairs[i].id >= 0) {
        if (t->pairs[i].key == key) {
            if (rank < t->pairs[i].rank) t->pairs[i].rank = rank, t->pairs[i].id = id;
            return LC_OK;
        }
        i = (i + 1) & t->pair_mask;
    }
    t->pairs[i] = (pair_ent){ key, rank, id };
    t->n_pairs++;
    return LC_OK;
}

static inline uint32_t pair_get(const lc_tok *t, int32_t a, int32_t b, int32_t *res) {
    if (!t->pairs) return UINT32_MAX;
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t i = pair_hash(key) & t->pair_mask;
    for (;;) {
        const pair_ent *e = &t->pairs[i];
        if (e->id < 0) return UINT32_MAX;
        if (e->key == key) {
            *res = e->id;
            return e->rank;
        }
        i = (i + 1) & t->pair_mask;
    }
}

/* ---- building ------------------------------------------------------ */
static int tok_new(int n, lc_tok **out) {
    *out = NULL;
    if (n <= 0 || n > TOK_MAX_VOCAB)
        return lc_fail(LC_ERR_FORMAT, "tokenizer: vocabulary size %d out of range", n);
    lc_tok *t = calloc(1, sizeof *t);
    if (!t) return lc_fail(LC_ERR_NOMEM, "tokenizer: no memory");
    t->n_vocab = n;
    t->off = calloc((size_t)n, sizeof *t->off);
    t->len = calloc((size_t)n, sizeof *t->len);
    t->flags = calloc((size_t)n, 1);
    t->blob_cap = (size_t)n * 8 + 64;
    t->blob = malloc(t->blob_cap);
    t->bos = t->eos = t->eot = t->eom = t->eot_text = -1;
    if (!t->off || !t->len || !t->flags || !t->blob) {
        lc_tok_free(t);
        return lc_fail(LC_ERR_NOMEM, "tokenizer: no memory");
    }
    *out = t;
    return LC_OK;
}

/* records the bytes of token id; a second definition of the same id is an error */
static int tok_set(lc_tok *t, int64_t id, const void *p, size_t n, int flags) {
    if (id < 0 || id >= t->n_vocab)
        return lc_fail(LC_ERR_FORMAT, "token id %lld out of range", (long long)id);
    if (t->flags[id] & TF_SET) return lc_fail(LC_ERR_FORMAT, "token id %lld defined twice", (long long)id);
    if (n == 0) return lc_fail(LC_ERR_FORMAT, "token %lld is empty", (long long)id);
    if (n > UINT32_MAX / 2 || t->blob_len + n > UINT32_MAX)
        return lc_fail(LC_ERR_FORMAT, "token strings too large");
    if (t->blob_len + n > t->blob_cap) {
        size_t cap = t->blob_cap * 2;
        while (cap < t->blob_len + n) cap *= 2;
        uint8_t *nb = realloc(t->blob, cap);
        if (!nb) return lc_fail(LC_ERR_NOMEM, "tokenizer: no memory");
        t->blob = nb;
        t->blob_cap = cap;
    }
    memcpy(t->blob + t->blob_len, p, n);
    t->off[id] = (uint32_t)t->blob_len;
    t->len[id] = (uint32_t)n;
    t->blob_len += n;
    t->flags[id] = (uint8_t)(flags | TF_SET);
    return LC_OK;
}

/* after every id is set: hash maps, byte tokens, literal-token tables */
static int tok_index(lc_tok *t) {
    int rc;
    size_t n_lit = 0;
    for (int i = 0; i < t->n_vocab; i++) {
        if (!(t->flags[i] & TF_SET)) return lc_fail(LC_ERR_FORMAT, "token id %d is missing", i);
        if (t->flags[i] & TF_LITERAL) n_lit++;
    }
    if ((rc = strmap_init(&t->vocab, (size_t)t->n_vocab - n_lit))) return rc;
    if (n_lit && (rc = strmap_init(&t->lit, n_lit))) return rc;
    for (int i = 0; i < t->n_vocab; i++) {
        if (t->flags[i] & TF_LITERAL) {
            strmap_put(t, &t->lit, i);
            uint32_t l = t->len[i];
            t->lit_first[t->blob[t->off[i]]] = 1;
            int k = 0;
            while (k < t->n_lit_lens && t->lit_lens[k] != l) k++;
            if (k == t->n_lit_lens) {
                if (k == (int)LC_ARRAY_LEN(t->lit_lens))
                    return lc_fail(LC_ERR_UNSUPPORTED, "too many distinct special-token lengths");
                t->lit_lens[t->n_lit_lens++] = l;
            }
        } else {
            strmap_put(t, &t->vocab, i);
            if (t->len[i] > t->max_len) t->max_len = t->len[i];
        }
    }
    for (int a = 1; a < t->n_lit_lens; a++) /* longest first */
        for (int b = a; b > 0 && t->lit_lens[b] > t->lit_lens[b - 1]; b--) {
            uint32_t x = t->lit_lens[b];
            t->lit_lens[b] = t->lit_lens[b - 1];
            t->lit_lens[b - 1] = x;
        }
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        t->byte_id[b] = strmap_get(t, &t->vocab, &c, 1);
        if (t->byte_id[b] < 0) return lc_fail(LC_ERR_FORMAT, "no token for byte 0x%02x", b);
    }
    return LC_OK;
}

static int32_t lit_id(const lc_tok *t, const char *s) {
    return strmap_get(t, &t->lit, (const uint8_t *)s, strlen(s));
}

static void eog_add(lc_tok *t, int32_t id) {
    if (id < 0 || id >= t->n_vocab) return;
    for (int i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return;
    if (t->n_eog == t->cap_eog) {
        int cap = t->cap_eog ? t->cap_eog * 2 : 8;
        int32_t *ne = realloc(t->eog, (size_t)cap * sizeof *ne);
        if (!ne) return;
        t->eog = ne;
        t->cap_eog = cap;
    }
    t->eog[t->n_eog++] = id;
}

/* bos/eos/eot/eom: given ids (-1 = unknown) or found by their Llama 3 text */
static int tok_roles(lc_tok *t, int64_t bos, int64_t eos, int64_t eot, int64_t eom) {
    const int64_t v[4] = { bos, eos, eot, eom };
    static const char *const names[4] = { "bos", "eos", "eot", "eom" };
    for (int i = 0; i < 4; i++)
        if (v[i] < -1 || v[i] >= t->n_vocab)
            return lc_fail(LC_ERR_FORMAT, "%s token id %lld out of range", names[i], (long long)v[i]);
    t->bos = bos >= 0 ? (int32_t)bos : lit_id(t, "<|begin_of_text|>");
    t->eos = eos >= 0 ? (int32_t)eos : lit_id(t, "<|end_of_text|>");
    t->eot = eot >= 0 ? (int32_t)eot : lit_id(t, "<|eot_id|>");
    t->eom = eom >= 0 ? (int32_t)eom : lit_id(t, "<|eom_id|>");
    t->eot_text = lit_id(t, "<|end_of_text|>");
    eog_add(t, t->eot_text);
    eog_add(t, t->eot);
    eog_add(t, t->eom);
    eog_add(t, t->eos);
    return LC_OK;
}

/* ---- GPT-2 bytes_to_unicode ------------------------------------------ */
static int16_t cp_to_byte[0x144];   /* code point -> byte, -1 if not a byte-level symbol */
static uint8_t cls_bmp[65536];      /* pre-tokenizer class of every BMP code point */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

enum { C_END = 0, C_L, C_N, C_S, C_NL, C_O, C_BAD };   /* letter, number, space, \r\n, other */

static int cls_of_cp(uint32_t cp) {
    if (cp == '\r' || cp == '\n') return C_NL;
    if ((cp >= 9 && cp <= 13) || cp == 32 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
        (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
        cp == 0x205F || cp == 0x3000)
        return C_S;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        return C_L;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return C_N;
    default:
        return C_O;
    }
}

static void tables_init(void) {
    for (int i = 0; i < 0x144; i++) cp_to_byte[i] = -1;
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        cp_to_byte[printable ? b : 256 + n++] = (int16_t)b;
    }
    for (uint32_t cp = 0; cp < 65536; cp++) cls_bmp[cp] = (uint8_t)cls_of_cp(cp);
}

/* decodes a byte-level token string into raw bytes (out has room for n bytes);
 * returns the byte count or -1 if a character is not a byte-level symbol */
static long unmap_bytes(const char *s, size_t n, uint8_t *out) {
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0, o = 0;
    while (i < n) {
        int l = lc_utf8_len(p + i, n - i);
        if (l == 0 || l > 2) return -1;
        uint32_t cp = l == 1 ? p[i] : ((uint32_t)(p[i] & 0x1f) << 6) | (p[i + 1] & 0x3f);
        if (cp >= 0x144 || cp_to_byte[cp] < 0) return -1;
        out[o++] = (uint8_t)cp_to_byte[cp];
        i += (size_t)l;
    }
    return (long)o;
}

/* ---- merges from "left right" strings (GGUF, tokenizer.json) --------- */
typedef struct merge_ctx {
    lc_tok *t;
    uint8_t *buf;   /* scratch: decoded bytes */
    size_t cap;
} merge_ctx;

static int merge_add(merge_ctx *mc, const char *l, size_t ln, const char *r, size_t rn, uint32_t rank) {
    lc_tok *t = mc->t;
    if (ln + rn > mc->cap) {
        size_t cap = (ln + rn) * 2;
        uint8_t *nb = realloc(mc->buf, cap);
        if (!nb) return lc_fail(LC_ERR_NOMEM, "tokenizer: no memory");
        mc->buf = nb;
        mc->cap = cap;
    }
    long a = unmap_bytes(l, ln, mc->buf), b = a < 0 ? -1 : unmap_bytes(r, rn, mc->buf + a);
    if (a <= 0 || b <= 0)
        return lc_fail(LC_ERR_FORMAT, "merge %u ('%.*s %.*s') is not byte-level text", rank,
                       (int)LC_MIN(ln, 40), l, (int)LC_MIN(rn, 40), r);
    int32_t ia = strmap_get(t, &t->vocab, mc->buf, (size_t)a);
    int32_t ib = strmap_get(t, &t->vocab, mc->buf + a, (size_t)b);
    int32_t im = strmap_get(t, &t->vocab, mc->buf, (size_t)(a + b));
    if (ia < 0 || ib < 0 || im < 0)
        return lc_fail(LC_ERR_FORMAT, "merge %u ('%.*s %.*s') names an unknown token", rank,
                       (int)LC_MIN(ln, 40), l, (int)LC_MIN(rn, 40), r);
    return pair_put(t, ia, ib, rank, im);
}

static int merge_add_str(merge_ctx *mc, const char *s, size_t n, uint32_t rank) {
    const char *sp = memchr(s, ' ', n);
    if (!sp) return lc_fail(LC_ERR_FORMAT, "merge %u has no space", rank);
    return merge_add(mc, s, (size_t)(sp - s), sp + 1, n - (size_t)(sp - s) - 1, rank);
}

/* ---- loader: GGUF ----------------------------------------------------- */
int lc_tok_from_gguf(const lc_gguf *g, lc_tok **out) {
    pthread_once(&tables_once, tables_init);
    *out = NULL;
    lc_tok *t = NULL;
    lc_str model, *toks = NULL, *merges = NULL;
    int64_t *types = NULL;
    uint64_t n_tok = 0, n_types = 0, n_merges = 0;
    uint8_t *buf = NULL;
    merge_ctx mc = { 0 };
    int rc = lc_gguf_get_str(g, "tokenizer.ggml.model", &model);
    if (rc == 1) return lc_fail(LC_ERR_FORMAT, "gguf: no tokenizer (tokenizer.ggml.model missing)");
    if (rc) return lc_fail_prefix(rc, "gguf: tokenizer.ggml.model");
    if (model.len != 4 || memcmp(model.p, "gpt2", 4) != 0)
        return lc_fail(LC_ERR_UNSUPPORTED, "gguf: tokenizer model '%.*s' is not gpt2 (byte-level BPE)",
                       (int)LC_MIN(model.len, 40), model.p);
    /* the pre-tokenizer: only Llama 3's regex is implemented; another one would silently give
     * other ids (absent: older Llama 3 conversions, taken as llama-bpe) */
    lc_str pre;
    rc = lc_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
    if (rc == LC_OK && !((pre.len == 9 && !memcmp(pre.p, "llama-bpe", 9)) || (pre.len == 6 && !memcmp(pre.p, "llama3", 6)) ||
                         (pre.len == 9 && !memcmp(pre.p, "smaug-bpe", 9))))
        return lc_fail(LC_ERR_UNSUPPORTED, "gguf: pre-tokenizer '%.*s' is not supported (llama-bpe only)",
                       (int)LC_MIN(pre.len, 40), pre.p);
    if (rc != LC_OK && rc != 1) return lc_fail_prefix(rc, "gguf: tokenizer.ggml.pre");
    rc = lc_gguf_get_str_array(g, "tokenizer.ggml.tokens", &toks, &n_tok);
    if (rc == 1) rc = lc_fail(LC_ERR_FORMAT, "tokenizer.ggml.tokens missing");
    if (rc) goto fail;
    if (n_tok == 0 || n_tok > TOK_MAX_VOCAB) {
        rc = lc_fail(LC_ERR_FORMAT, "tokenizer.ggml.tokens: %llu tokens", (unsigned long long)n_tok);
        goto fail;
    }
    rc = lc_gguf_get_int_array(g, "tokenizer.ggml.token_type", &types, &n_types);
    if (rc == 1) rc = LC_OK, types = NULL, n_types = 0;
    if (rc) goto fail;
    if (types && n_types != n_tok) {
        rc = lc_fail(LC_ERR_FORMAT, "tokenizer.ggml.token_type has %llu entries for %llu tokens",
                     (unsigned long long)n_types, (unsigned long long)n_tok);
        goto fail;
    }
    rc = lc_gguf_get_str_array(g, "tokenizer.ggml.merges", &merges, &n_merges);
    if (rc == 1) rc = lc_fail(LC_ERR_FORMAT, "tokenizer.ggml.merges missing");
    if (rc) goto fail;
    if (n_merges > TOK_MAX_MERGES) {
        rc = lc_fail(LC_ERR_FORMAT, "tokenizer.ggml.merges: %llu merges", (unsigned long long)n_merges);
        goto fail;
    }
    if ((rc = tok_new((int)n_tok, &t))) goto fail;
    size_t bcap = 256;
    if (!(buf = malloc(bcap))) {
        rc = lc_fail(LC_ERR_NOMEM, "tokenizer: no memory");
        goto fail;
    }
    for (uint64_t i = 0; i < n_tok; i++) {
        int64_t ty = types ? types[i] : 1;
        if (toks[i].len > bcap) {
            bcap = toks[i].len * 2;
            free(buf);
            if (!(buf = malloc(bcap))) {
                rc = lc_fail(LC_ERR_NOMEM, "tokenizer: no memory");
                goto fail;
            }
        }
        long n = -1;
        if (ty != 3 && ty != 4) n = unmap_bytes(toks[i].p, toks[i].len, buf);
        if (n < 0 && ty == 1) {
            rc = lc_fail(LC_ERR_FORMAT, "token %llu ('%.*s') is not byte-level text", (unsigned long long)i,
                         (int)LC_MIN(toks[i].len, 40), toks[i].p);
            goto fail;
        }
        if (n >= 0) rc = tok_set(t, (int64_t)i, buf, (size_t)n, 0);
        else rc = tok_set(t, (int64_t)i, toks[i].p, toks[i].len, TF_LITERAL | (ty == 3 ? TF_SPECIAL : 0));
        if (rc) goto fail;
    }
    if ((rc = tok_index(t))) goto fail;
    mc.t = t;
    for (uint64_t i = 0; i < n_merges; i++)
        if ((rc = merge_add_str(&mc, merges[i].p, merges[i].len, (uint32_t)i))) goto fail;
    int64_t id[4] = { -1, -1, -1, -1 };
    static const char *const keys[4] = { "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                         "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id" };
    for (int k = 0; k < 4; k++) {
        rc = lc_gguf_get_int(g, keys[k], &id[k]);
        if (rc == 1) rc = LC_OK, id[k] = -1;
        else if (rc) {
            lc_fail_prefix(rc, keys[k]);
            goto fail;
        } else if (id[k] < 0 || id[k] >= t->n_vocab) {
            rc = lc_fail(LC_ERR_FORMAT, "%s = %lld out of range", keys[k], (long long)id[k]);
            goto fail;
        }
    }
    if ((rc = tok_roles(t, id[0], id[1], id[2], id[3]))) goto fail;
    free(toks);
    free(merges);
    free(types);
    free(buf);
    free(mc.buf);
    *out = t;
    return LC_OK;
fail:
    lc_fail_prefix(rc, "gguf tokenizer");
    free(toks);
    free(merges);
    free(types);
    free(buf);
    free(mc.buf);
    lc_tok_free(t);
    return rc;
}

/* ---- loader: tokenizer.json ----------------------------------------- */
/* 1 if the Split regex of the pre-tokenizer is found and differs from Llama 3's */
static int other_regex(json_t *pt) {
    if (!json_is_object(pt)) return 0;
    const char *type = json_string_value(json_object_get(pt, "type"));
    if (type && strcmp(type, "Sequence") == 0) {
        json_t *arr = json_object_get(pt, "pretokenizers"), *v;
        size_t i;
        json_array_foreach(arr, i, v) if (other_regex(v)) return 1;
        return 0;
    }
    if (type && strcmp(type, "Split") == 0) {
        json_t *re = json_object_get(json_object_get(pt, "pattern"), "Regex");
        if (json_is_string(re) && strcmp(json_string_value(re), LLAMA3_PAT) != 0) return 1;
    }
    return 0;
}

static int json_id(json_t *v, int64_t *id) {
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    if (x < 0 || x >= TOK_MAX_VOCAB) return -1;
    *id = (int64_t)x;
    return 0;
}

static int load_json(const uint8_t *data, size_t size, lc_tok **out) {
    *out = NULL;
    lc_tok *t = NULL;
    uint8_t *buf = NULL;
    merge_ctx mc = { 0 };
    int rc = LC_OK;
    json_error_t je;
    json_t *root = json_loadb((const char *)data, size, JSON_ALLOW_NUL, &je);
    if (!root)
        return lc_fail(LC_ERR_FORMAT, "tokenizer.json: line %d col %d: %s", je.line, je.column, je.text);
    json_t *model = json_object_get(root, "model");
    json_t *vocab = json_object_get(model, "vocab");
    json_t *merges = json_object_get(model, "merges");
    json_t *added = json_object_get(root, "added_tokens");
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!json_is_object(vocab) || !json_is_array(merges) || (added && !json_is_array(added))) {
        rc = lc_fail(LC_ERR_FORMAT, "model.vocab / model.merges / added_tokens missing or mistyped");
        goto done;
    }
    if (type && strcmp(type, "BPE") != 0) {
        rc = lc_fail(LC_ERR_UNSUPPORTED, "model type '%s' is not BPE", type);
        goto done;
    }
    if (other_regex(json_object_get(root, "pre_tokenizer"))) {
        rc = lc_fail(LC_ERR_UNSUPPORTED, "pre-tokenizer regex is not Llama 3's");
        goto done;
    }
    if (json_array_size(merges) > TOK_MAX_MERGES) {
        rc = lc_fail(LC_ERR_FORMAT, "too many merges");
        goto done;
    }
    int64_t max_id = -1, id = 0;
    const char *key;
    size_t klen, i;
    json_t *v;
    json_object_keylen_foreach(vocab, key, klen, v) {
        if (json_id(v, &id)) {
            rc = lc_fail(LC_ERR_FORMAT, "vocab entry '%.40s' has a bad id", key);
            goto done;
        }
        max_id = LC_MAX(max_id, id);
        (void)klen;
    }
    json_array_foreach(added, i, v) {
        if (json_id(json_object_get(v, "id"), &id) || !json_is_string(json_object_get(v, "content"))) {
            rc = lc_fail(LC_ERR_FORMAT, "added_tokens[%zu] malformed", i);
            goto done;
        }
        max_id = LC_MAX(max_id, id);
    }
    if ((rc = tok_new((int)(max_id + 1), &t))) goto done;
    json_array_foreach(added, i, v) {
        json_t *c = json_object_get(v, "content");
        json_id(json_object_get(v, "id"), &id);
        int fl = TF_LITERAL | (json_is_true(json_object_get(v, "special")) ? TF_SPECIAL : 0);
        if ((rc = tok_set(t, id, json_string_value(c), json_string_length(c), fl))) goto done;
    }
    size_t bcap = 0;
    json_object_keylen_foreach(vocab, key, klen, v) {
        json_id(v, &id);
        if (t->flags[id] & TF_SET && t->flags[id] & TF_LITERAL) continue;   /* added token wins */
        if (klen > bcap) {
            bcap = klen * 2;
            free(buf);
            if (!(buf = malloc(bcap))) {
                rc = lc_fail(LC_ERR_NOMEM, "tokenizer: no memory");
                goto done;
            }
        }
        long n = unmap_bytes(key, klen, buf);
        if (n < 0) {
            rc = lc_fail(LC_ERR_FORMAT, "vocab entry '%.40s' is not byte-level text", key);
            goto done;
        }
        if ((rc = tok_set(t, id, buf, (size_t)n, 0))) goto done;
    }
    if ((rc = tok_index(t))) goto done;
    mc.t = t;
    json_array_foreach(merges, i, v) {
        if (json_is_string(v)) {
            rc = merge_add_str(&mc, json_string_value(v), json_string_length(v), (uint32_t)i);
        } else if (json_is_array(v) && json_array_size(v) == 2 && json_is_string(json_array_get(v, 0)) &&
                   json_is_string(json_array_get(v, 1))) {
            json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
            rc = merge_add(&mc, json_string_value(a), json_string_length(a), json_string_value(b),
                           json_string_length(b), (uint32_t)i);
        } else {
            rc = lc_fail(LC_ERR_FORMAT, "merge %zu is neither \"a b\" nor [a, b]", i);
        }
        if (rc) goto done;
    }
    rc = tok_roles(t, -1, -1, -1, -1);
done:
    if (rc) lc_fail_prefix(rc, "tokenizer.json");
    json_decref(root);
    free(buf);
    free(mc.buf);
    if (rc) {
        lc_tok_free(t);
        return rc;
    }
    *out = t;
    return LC_OK;
}

/* ---- loader: Meta tokenizer.model (tiktoken ranks) ------------------- */
static int b64_val(uint8_t c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* strict base64 with padding; returns the byte count or -1 */
static long b64_decode(const uint8_t *s, size_t n, uint8_t *out) {
    if (n == 0 || n % 4) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad || (v[k] = b64_val(s[i + k])) < 0) return -1;
        }
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (uint8_t)(x >> 16);
        if (pad < 2) out[o++] = (uint8_t)(x >> 8);
        if (pad < 1) out[o++] = (uint8_t)x;
    }
    return (long)o;
}

/* the 256 Llama 3.1 special tokens (Hugging Face names), ids n_ranks + k */
static void special_name(int k, char *buf, size_t cap) {
    static const char *const named[11] = {
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
        "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
        "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>",
    };
    if (k < 11) snprintf(buf, cap, "%s", named[k]);
    else snprintf(buf, cap, "<|reserved_special_token_%d|>", k - 8);
}

static int load_tiktoken(const uint8_t *d, size_t size, lc_tok **out) {
    *out = NULL;
    size_t n_lines = 0;
    for (size_t i = 0; i < size;) {
        const uint8_t *nl = memchr(d + i, '\n', size - i);
        size_t e = nl ? (size_t)(nl - d) : size;
        if (e > i && !(e == i + 1 && d[i] == '\r')) n_lines++;
        i = e + 1;
    }
    if (n_lines == 0) return lc_fail(LC_ERR_FORMAT, "tokenizer.model: no tokens");
    if (n_lines > TOK_MAX_VOCAB - 256) return lc_fail(LC_ERR_FORMAT, "tokenizer.model: too many lines");
    lc_tok *t = NULL;
    uint8_t *buf = NULL;
    int rc = tok_new((int)n_lines + 256, &t);
    if (rc) return rc;
    size_t line = 0;
    for (size_t i = 0; i < size;) {
        const uint8_t *nl = memchr(d + i, '\n', size - i);
        size_t e = nl ? (size_t)(nl - d) : size, b = i;
        i = e + 1;
        line++;
        if (e > b && d[e - 1] == '\r') e--;
        if (e == b) continue;
        const uint8_t *sp = memchr(d + b, ' ', e - b);
        if (!sp || sp == d + b || sp + 1 == d + e) {
            rc = lc_fail(LC_ERR_FORMAT, "line %zu: expected '<base64> <rank>'", line);
            goto fail;
        }
        size_t blen = (size_t)(sp - (d + b));
        int64_t rank = 0;
        for (const uint8_t *p = sp + 1; p < d + e; p++) {
            if (*p < '0' || *p > '9' || rank > (int64_t)n_lines) {
                rc = lc_fail(LC_ERR_FORMAT, "line %zu: bad rank", line);
                goto fail;
            }
            rank = rank * 10 + (*p - '0');
        }
        if (rank >= (int64_t)n_lines) {
            rc = lc_fail(LC_ERR_FORMAT, "line %zu: rank %lld out of range (%zu tokens)", line, (long long)rank, n_lines);
            goto fail;
        }
        free(buf);
        if (!(buf = malloc(blen))) {
            rc = lc_fail(LC_ERR_NOMEM, "tokenizer: no memory");
            goto fail;
        }
        long n = b64_decode(d + b, blen, buf);
        if (n <= 0) {
            rc = lc_fail(LC_ERR_FORMAT, "line %zu: bad base64", line);
            goto fail;
        }
        if (t->flags[rank] & TF_SET) {
            rc = lc_fail(LC_ERR_FORMAT, "line %zu: duplicate rank %lld", line, (long long)rank);
            goto fail;
        }
        if ((rc = tok_set(t, rank, buf, (size_t)n, 0))) goto fail;
    }
    for (int k = 0; k < 256; k++) {
        char name[64];
        special_name(k, name, sizeof name);
        if ((rc = tok_set(t, (int64_t)n_lines + k, name, strlen(name), TF_LITERAL | TF_SPECIAL))) goto fail;
    }
    if ((rc = tok_index(t))) goto fail;
    /* tiktoken: merging two parts is allowed when their concatenation is a token, whose
     * rank is its id; list every split of every token into two tokens */
    for (int id = 0; id < (int)n_lines; id++) {
        const uint8_t *p = t->blob + t->off[id];
        uint32_t n = t->len[id];
        if (strmap_get(t, &t->vocab, p, n) != id) continue;   /* duplicate bytes: first one wins */
        for (uint32_t k = 1; k < n; k++) {
            int32_t a = strmap_get(t, &t->vocab, p, k);
            if (a < 0) continue;
            int32_t b = strmap_get(t, &t->vocab, p + k, n - k);
            if (b < 0) continue;
            if ((rc = pair_put(t, a, b, (uint32_t)id, id))) goto fail;
        }
    }
    if ((rc = tok_roles(t, -1, -1, -1, -1))) goto fail;
    free(buf);
    *out = t;
    return LC_OK;
fail:
    lc_fail_prefix(rc, "tokenizer.model");
    free(buf);
    lc_tok_free(t);
    return rc;
}

/* ---- public: load / free / queries ----------------------------------- */
int lc_tok_load(const char *path, lc_tok **out) {
    pthread_once(&tables_once, tables_init);
    if (!out) return lc_fail(LC_ERR_ARG, "lc_tok_load: out is NULL");
    *out = NULL;
    if (!path) return lc_fail(LC_ERR_ARG, "lc_tok_load: path is NULL");
    if (lc_is_dir(path)) {
        static const char *const names[] = { "tokenizer.json", "tokenizer.model", "original/tokenizer.model" };
        for (size_t i = 0; i < LC_ARRAY_LEN(names); i++) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", path, names[i]);
            if (lc_file_exists(p)) return lc_tok_load(p, out);
        }
        return lc_fail(LC_ERR_IO, "%s: no tokenizer.json or tokenizer.model in this folder", path);
    }
    lc_map m;
    int rc = lc_map_file(path, &m);
    if (rc) return lc_fail_prefix(rc, path);
    if (m.size >= 4 && memcmp(m.data, "GGUF", 4) == 0) {
        lc_unmap(&m);
        lc_gguf g;
        if ((rc = lc_gguf_open(path, &g))) return lc_fail_prefix(rc, path);
        rc = lc_tok_from_gguf(&g, out);
        lc_gguf_close(&g);
        return rc ? lc_fail_prefix(rc, path) : LC_OK;
    }
    size_t i = 0;
    while (i < m.size && (m.data[i] == ' ' || m.data[i] == '\n' || m.data[i] == '\r' || m.data[i] == '\t')) i++;
    if (m.size > TOK_MAX_FILE) rc = lc_fail(LC_ERR_FORMAT, "file too large");
    else if (i < m.size && m.data[i] == '{') rc = load_json(m.data, m.size, out);
    else rc = load_tiktoken(m.data, m.size, out);
    lc_unmap(&m);
    return rc ? lc_fail_prefix(rc, path) : LC_OK;
}

void lc_tok_free(lc_tok *t) {
    if (!t) return;
    free(t->blob);
    free(t->off);
    free(t->len);
    free(t->flags);
    free(t->vocab.slot);
    free(t->lit.slot);
    free(t->pairs);
    free(t->eog);
    free(t);
}

int lc_tok_n_vocab(const lc_tok *t) { return t ? t->n_vocab : 0; }
int32_t lc_tok_bos(const lc_tok *t) { return t ? t->bos : -1; }
int32_t lc_tok_eos(const lc_tok *t) { return t ? t->eos : -1; }
const char *lc_tok_kind(const lc_tok *t) { (void)t; return "llama3-bpe"; }

int lc_tok_is_eog(const lc_tok *t, int32_t id) {
    if (!t || id < 0) return 0;
    for (int i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return 1;
    return 0;
}

void lc_tok_add_eog(lc_tok *t, int32_t id) {
    if (t) eog_add(t, id);
}

int lc_tok_is_special(const lc_tok *t, int32_t id) {
    return t && id >= 0 && id < t->n_vocab && (t->flags[id] & TF_SPECIAL) ? 1 : 0;
}

int32_t lc_tok_lookup(const lc_tok *t, const char *text) {
    if (!t || !text) return -1;
    size_t n = strlen(text);
    int32_t id = strmap_get(t, &t->lit, (const uint8_t *)text, n);
    return id >= 0 ? id : strmap_get(t, &t->vocab, (const uint8_t *)text, n);
}

int lc_tok_piece(const lc_tok *t, int32_t id, char *buf, size_t cap) {
    if (!t || id < 0 || id >= t->n_vocab) return lc_fail(LC_ERR_ARG, "token id %d out of range", (int)id);
    uint32_t n = t->len[id];
    if (buf && cap) memcpy(buf, t->blob + t->off[id], LC_MIN((size_t)n, cap));
    return (int)n;
}

/* ---- pre-tokenizer ------------------------------------------------------ */
static const uint8_t ascii_cls[128] = {
    /* 0x00 */ C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_S, C_NL, C_S, C_S, C_NL, C_O, C_O,
    /* 0x10 */ C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O,
    /* 0x20 */ C_S, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O, C_O,
    /* 0x30 */ C_N, C_N, C_N, C_N, C_N, C_N, C_N, C_N, C_N, C_N, C_O, C_O, C_O, C_O, C_O, C_O,
    /* 0x40 */ C_O, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L,
    /* 0x50 */ C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_O, C_O, C_O, C_O, C_O,
    /* 0x60 */ C_O, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L,
    /* 0x70 */ C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_L, C_O, C_O, C_O, C_O, C_O,
};

static int cls_slow(const uint8_t *s, size_t avail, int *len) {
    int n = lc_utf8_len(s, avail);
    if (n == 0) {
        *len = 1;
        return C_BAD;
    }
    *len = n;
    uint32_t cp;
    if (n == 2) cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
    else if (n == 3) cp = (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
    else cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 | (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
    return cp < 65536 ? cls_bmp[cp] : cls_of_cp(cp);
}

/* class of the character at i (C_END past the end); *len gets its byte length */
static inline int cls_at(const uint8_t *s, size_t i, size_t end, int *len) {
    if (i >= end) {
        *len = 0;
        return C_END;
    }
    if (s[i] < 0x80) {
        *len = 1;
        return ascii_cls[s[i]];
    }
    return cls_slow(s + i, end - i, len);
}

/* end of the piece that starts at i (< end): the Llama 3 regex, alternatives in order */
static size_t next_piece(const uint8_t *s, size_t i, size_t end) {
    int l0, l1, l;
    int c0 = cls_at(s, i, end, &l0);
    if (c0 == C_BAD) return i + 1;
    /* (?i:'s|'t|'re|'ve|'m|'ll|'d) */
    if (s[i] == '\'' && i + 1 < end) {
        uint8_t a = s[i + 1] | 0x20;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if (i + 2 < end) {
            uint8_t b = s[i + 2] | 0x20;
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
        }
    }
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    size_t j;
    if (c0 == C_L || ((c0 == C_S || c0 == C_O) && cls_at(s, i + (size_t)l0, end, &l1) == C_L)) {
        j = i + (size_t)l0;
        while (cls_at(s, j, end, &l) == C_L) j += (size_t)l;
        return j;
    }
    /* \p{N}{1,3} */
    if (c0 == C_N) {
        j = i + (size_t)l0;
        for (int k = 1; k < 3 && cls_at(s, j, end, &l) == C_N; k++) j += (size_t)l;
        return j;
    }
    /* ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
    int c = c0;
    j = i;
    l = l0;
    if (s[i] == ' ') {
        int c1 = cls_at(s, i + 1, end, &l1);
        if (c1 == C_O) j = i + 1, c = c1, l = l1;
    }
    if (c == C_O) {
        while (c == C_O) {
            j += (size_t)l;
            c = cls_at(s, j, end, &l);
        }
        while (c == C_NL) {
            j += (size_t)l;
            c = cls_at(s, j, end, &l);
        }
        return j;
    }
    /* c0 is whitespace: \s*[\r\n]+ | \s+(?!\S) | \s+ */
    size_t nl_end = 0, last = i;
    int n_ws = 0;
    j = i;
    c = c0;
    l = l0;
    while (c == C_S || c == C_NL) {
        if (c == C_NL) nl_end = j + (size_t)l;
        last = j;
        n_ws++;
        j += (size_t)l;
        c = cls_at(s, j, end, &l);
    }
    if (nl_end) return nl_end;
    if (c == C_END || c == C_BAD) return j;   /* an invalid byte ends the text for the look-ahead */
    return n_ws > 1 ? last : j;
}

/* ---- BPE ---------------------------------------------------------------- */
typedef struct enc {
    const lc_tok *t;
    int32_t *ids;
    size_t cap, n;
    int rc;
} enc;

static inline void emit(enc *e, int32_t id) {
    if (e->n < e->cap) e->ids[e->n] = id;
    e->n++;
}

/* heap entry: a pair of adjacent symbols, the left one starting at byte pos. Entries are
 * never removed when merges change their neighbours; a popped entry counts only if the pair
 * now at pos still has that rank (then it is the same merge), else it is dropped. */
typedef struct hent { uint32_t rank, pos; } hent;

static inline bool hless(hent a, hent b) {
    return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

static void hpush(hent *h, size_t *n, hent x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hless(x, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static hent hpop(hent *h, size_t *n) {
    hent top = h[0], x = h[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && hless(h[c + 1], h[c])) c++;
        if (!hless(h[c], x)) break;
        h[i] = h[c];
        i = c;
    }
    if (m) h[i] = x;
    return top;
}

/* long pieces: O(n log n). Symbols are indexed by their first byte; slen = 0 inside a symbol.
 * Memory: 20 bytes per input byte (n - 1 initial pairs + at most 2 per merge). */
static void bpe_heap(enc *e, const uint8_t *p, size_t n) {
    const lc_tok *t = e->t;
    int32_t *id = malloc(n * sizeof *id);
    uint32_t *slen = malloc(n * sizeof *slen);
    uint32_t *prv = malloc(n * sizeof *prv);
    hent *h = malloc(3 * n * sizeof *h);
    if (!id || !slen || !prv || !h) {
        e->rc = lc_fail(LC_ERR_NOMEM, "tokenizer: no memory for a %zu-byte piece", n);
        goto done;
    }
    size_t nh = 0;
    int32_t res = -1;
    for (size_t k = 0; k < n; k++) {
        id[k] = t->byte_id[p[k]];
        slen[k] = 1;
        prv[k] = k ? (uint32_t)k - 1 : UINT32_MAX;
    }
    for (size_t k = 0; k + 1 < n; k++) {
        uint32_t rk = pair_get(t, id[k], id[k + 1], &res);
        if (rk != UINT32_MAX) hpush(h, &nh, (hent){ rk, (uint32_t)k });
    }
    while (nh) {
        hent x = hpop(h, &nh);
        size_t l = x.pos, r = l + slen[l];
        if (!slen[l] || r >= n || pair_get(t, id[l], id[r], &res) != x.rank) continue;   /* stale */
        id[l] = res;
        slen[l] += slen[r];
        slen[r] = 0;
        size_t nr = l + slen[l];
        if (nr < n) prv[nr] = (uint32_t)l;
        uint32_t rk;
        if (prv[l] != UINT32_MAX && (rk = pair_get(t, id[prv[l]], id[l], &res)) != UINT32_MAX)
            hpush(h, &nh, (hent){ rk, prv[l] });
        if (nr < n && (rk = pair_get(t, id[l], id[nr], &res)) != UINT32_MAX) hpush(h, &nh, (hent){ rk, (uint32_t)l });
    }
    for (size_t k = 0; k < n; k += slen[k]) emit(e, id[k]);
done:
    free(id);
    free(slen);
    free(prv);
    free(h);
}

static void bpe_piece(enc *e, const uint8_t *p, size_t n) {
    const lc_tok *t = e->t;
    if (n == 1) {
        emit(e, t->byte_id[p[0]]);
        return;
    }
    if (n <= t->max_len) {
        int32_t id = strmap_get(t, &t->vocab, p, n);
        if (id >= 0) {
            emit(e, id);
            return;
        }
    }
    if (n > BPE_SMALL || (int64_t)n >= lc_tok_bpe_heap_min) {
        bpe_heap(e, p, n);
        return;
    }
    int32_t id[BPE_SMALL], res[BPE_SMALL];
    uint32_t rk[BPE_SMALL];
    int m = (int)n;
    for (int k = 0; k < m; k++) id[k] = t->byte_id[p[k]];
    for (int k = 0; k + 1 < m; k++) rk[k] = pair_get(t, id[k], id[k + 1], &res[k]);
    for (;;) {
        uint32_t best = UINT32_MAX;
        int bk = -1;
        for (int k = 0; k + 1 < m; k++)
            if (rk[k] < best) best = rk[k], bk = k;
        if (bk < 0) break;
        id[bk] = res[bk];
        memmove(id + bk + 1, id + bk + 2, (size_t)(m - bk - 2) * sizeof *id);
        if (m - bk - 3 > 0) {
            memmove(rk + bk + 1, rk + bk + 2, (size_t)(m - bk - 3) * sizeof *rk);
            memmove(res + bk + 1, res + bk + 2, (size_t)(m - bk - 3) * sizeof *res);
        }
        m--;
        if (bk > 0) rk[bk - 1] = pair_get(t, id[bk - 1], id[bk], &res[bk - 1]);
        if (bk + 1 < m) rk[bk] = pair_get(t, id[bk], id[bk + 1], &res[bk]);
    }
    for (int k = 0; k < m; k++) emit(e, id[k]);
}

static void encode_span(enc *e, const uint8_t *s, size_t a, size_t b) {
    while (a < b && !e->rc) {
        size_t j = next_piece(s, a, b);
        bpe_piece(e, s + a, j - a);
        a = j;
    }
}

enum { SP_NONE, SP_ALL, SP_MASK };

static int encode_impl(const lc_tok *t, const char *text, size_t len, int mode, const uint8_t *mask,
                       bool add_bos, int32_t *ids, int cap) {
    if (!t) return lc_fail(LC_ERR_ARG, "encode: tokenizer is NULL");
    if (!text && len) return lc_fail(LC_ERR_ARG, "encode: text is NULL");
    if (cap < 0 || (cap > 0 && !ids)) return lc_fail(LC_ERR_ARG, "encode: bad output buffer");
    if (len > (size_t)INT_MAX - 2) return lc_fail(LC_ERR_ARG, "encode: text too long");
    enc e = { t, ids, (size_t)cap, 0, LC_OK };
    const uint8_t *s = (const uint8_t *)text;
    if (add_bos && t->bos >= 0) emit(&e, t->bos);
    size_t span = 0;
    if (mode != SP_NONE && t->n_lit_lens > 0) {
        for (size_t i = 0; i < len && !e.rc;) {
            if (!t->lit_first[s[i]] || (mode == SP_MASK && !mask[i])) {
                i++;
                continue;
            }
            int32_t id = -1;
            uint32_t l = 0;
            for (int k = 0; k < t->n_lit_lens && id < 0; k++) {
                l = t->lit_lens[k];
                if (l > len - i) continue;
                id = strmap_get(t, &t->lit, s + i, l);
                if (id >= 0 && mode == SP_MASK)
                    for (uint32_t q = 0; q < l; q++)
                        if (!mask[i + q]) {
                            id = -1;
                            break;
                        }
            }
            if (id < 0) {
                i++;
                continue;
            }
            encode_span(&e, s, span, i);
            emit(&e, id);
            i += l;
            span = i;
        }
    }
    encode_span(&e, s, span, len);
    if (e.rc) return e.rc;
    return (int)e.n;
}

int lc_tok_encode(const lc_tok *t, const char *text, size_t len, int flags, int32_t *ids, int cap) {
    return encode_impl(t, text, len, (flags & LC_TOK_SPECIAL) ? SP_ALL : SP_NONE, NULL,
                       (flags & LC_TOK_BOS) != 0, ids, cap);
}

int lc_tok_encode_masked(const lc_tok *t, const char *text, size_t len, const uint8_t *special_ok,
                         bool add_bos, int32_t *ids, int cap) {
    return encode_impl(t, text, len, special_ok ? SP_MASK : SP_NONE, special_ok, add_bos, ids, cap);
}

/* ---- streaming detokenizer --------------------------------------------- */
/* 1 if s[0..n) is the start of a valid sequence that needs more than n bytes */
static int utf8_prefix(const uint8_t *s, size_t n) {
    uint8_t c = s[0];
    size_t need = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!need || n >= need) return 0;
    if (n >= 2) {
        uint8_t lo = 0x80, hi = 0xbf;
        if (c == 0xe0) lo = 0xa0;
        else if (c == 0xed) hi = 0x9f;
        else if (c == 0xf0) lo = 0x90;
        else if (c == 0xf4) hi = 0x8f;
        if (s[1] < lo || s[1] > hi) return 0;
    }
    if (n >= 3 && (s[2] & 0xc0) != 0x80) return 0;
    return 1;
}

/* emits complete characters of b[0..n) (U+FFFD per invalid byte) into out (NULL: count only);
 * returns the output length, *keep = bytes at the end to hold back */
static size_t detok_run(const uint8_t *b, size_t n, char *out, size_t *keep) {
    size_t k = 0, o = 0;
    *keep = 0;
    while (k < n) {
        int l = b[k] < 0x80 ? 1 : lc_utf8_len(b + k, n - k);
        if (l > 0) {
            if (out) memcpy(out + o, b + k, (size_t)l);
            o += (size_t)l;
            k += (size_t)l;
        } else if (utf8_prefix(b + k, n - k)) {
            *keep = n - k;
            break;
        } else {
            if (out) memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            k++;
        }
    }
    return o;
}

int lc_detok_push(lc_detok *d, const lc_tok *t, int32_t id, char *buf, size_t cap) {
    if (!d || !t) return lc_fail(LC_ERR_ARG, "detok: NULL argument");
    if (id < 0 || id >= t->n_vocab) return lc_fail(LC_ERR_ARG, "detok: token id %d out of range", (int)id);
    if (d->n_held < 0 || d->n_held > 3) return lc_fail(LC_ERR_ARG, "detok: corrupt state");
    size_t n = (size_t)d->n_held + t->len[id];
    uint8_t small[256], *b = n <= sizeof small ? small : malloc(n);
    if (!b) return lc_fail(LC_ERR_NOMEM, "detok: no memory");
    memcpy(b, d->held, (size_t)d->n_held);
    memcpy(b + d->n_held, t->blob + t->off[id], t->len[id]);
    size_t keep, need = detok_run(b, n, NULL, &keep);
    int rc;
    if (need > cap || need > INT_MAX || (need && !buf)) {
        rc = lc_fail(LC_ERR_ARG, "detok: output buffer too small (%zu bytes needed)", need);
    } else {
        detok_run(b, n, buf, &keep);
        memcpy(d->held, b + n - keep, keep);
        d->n_held = (int)keep;
        rc = (int)need;
    }
    if (b != small) free(b);
    return rc;
}

int lc_detok_flush(lc_detok *d, char *buf, size_t cap) {
    if (!d) return lc_fail(LC_ERR_ARG, "detok: NULL argument");
    if (d->n_held < 0 || d->n_held > 3) return lc_fail(LC_ERR_ARG, "detok: corrupt state");
    size_t need = (size_t)d->n_held * 3;
    if (need > cap || (need && !buf)) return lc_fail(LC_ERR_ARG, "detok: output buffer too small (%zu bytes needed)", need);
    for (int i = 0; i < d->n_held; i++) memcpy(buf + 3 * i, "\xEF\xBF\xBD", 3);
    d->n_held = 0;
    return (int)need;
}

/* ---- pre-tokenizer on its own (tokenizer training) ---------------------- */
int lc_pretok_split(const char *text, size_t len, void (*cb)(void *ud, const char *piece, size_t n), void *ud) {
    pthread_once(&tables_once, tables_init);
    const uint8_t *s = (const uint8_t *)text;
    size_t a = 0;
    while (a < len) {
        size_t j = next_piece(s, a, len);
        cb(ud, text + a, j - a);
        a = j;
    }
    return LC_OK;
}
