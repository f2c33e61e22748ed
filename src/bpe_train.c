/* bpe_train.c - trains a Llama-3-style byte-level BPE tokenizer: the corpus is split by
 * the Llama 3 pre-tokenizer (lc_pretok_split), distinct pieces are counted, and the most
 * frequent adjacent pair is merged again and again, with pair counts updated
 * incrementally (each pair knows the words it occurs in; a lazy max-heap picks the next
 * pair). Writes a Hugging Face tokenizer.json with the 256 Llama 3.1 specials appended. */
#include "internal.h"
#include "bpe_train.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>

static const char LLAMA3_PAT[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* ---- growable arrays ------------------------------------------------ */
/* grows *p (elements of size sz) to hold at least need; false on overflow / no memory */
static bool grow(void **p, size_t *cap, size_t need, size_t sz) {
    if (need <= *cap) return true;
    size_t nc = *cap ? *cap : 16, bytes;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) return false;
        nc *= 2;
    }
    if (!lc_mul_ok(nc, sz, &bytes)) return false;
    void *np = realloc(*p, bytes);
    if (!np) return false;
    *p = np;
    *cap = nc;
    return true;
}
#define GROW(arr, cap, need) grow((void **)&(arr), &(cap), (need), sizeof *(arr))

static uint64_t hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull ^ n;       /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* ---- byte strings -> ids (pieces while counting, tokens while merging) -- */
typedef struct strtab {
    uint8_t *blob;           /* all strings back to back */
    size_t blob_len, blob_cap;
    size_t *off;             /* [n] */
    uint32_t *len;           /* [n] */
    size_t n, cap;
    int32_t *slot;           /* open addressing, -1 empty */
    size_t mask;
} strtab;

static void strtab_free(strtab *s) {
    free(s->blob);
    free(s->off);
    free(s->len);
    free(s->slot);
    memset(s, 0, sizeof *s);
}

static int strtab_rehash(strtab *s, size_t cap) {
    int32_t *ns = malloc(cap * sizeof *ns);
    if (!ns) return lc_fail(LC_ERR_NOMEM, "train-tokenizer: no memory");
    memset(ns, 0xff, cap * sizeof *ns);
    for (size_t i = 0; i < s->n; i++) {
        size_t j = hash_bytes(s->blob + s->off[i], s->len[i]) & (cap - 1);
        while (ns[j] >= 0) j = (j + 1) & (cap - 1);
        ns[j] = (int32_t)i;
    }
    free(s->slot);
    s->slot = ns;
    s->mask = cap - 1;
    return LC_OK;
}

/* id of p[0..n), added when new (*added = 1); -1 with an error set on failure */
static int64_t strtab_get(strtab *s, const uint8_t *p, size_t n, bool add, int *added) {
    if (added) *added = 0;
    if (!s->slot || (s->n + 1) * 2 > s->mask + 1) {
        if (s->n >= (size_t)INT32_MAX / 2) return lc_fail(LC_ERR_NOMEM, "train-tokenizer: too many distinct pieces");
        if (strtab_rehash(s, s->slot ? (s->mask + 1) * 2 : 1024)) return -1;
    }
    size_t j = hash_bytes(p, n) & s->mask;
    for (;;) {
        int32_t id = s->slot[j];
        if (id < 0) break;
        if (s->len[id] == n && memcmp(s->blob + s->off[id], p, n) == 0) return id;
        j = (j + 1) & s->mask;
    }
    if (!add) return -1;
    if (n > UINT32_MAX || !GROW(s->blob, s->blob_cap, s->blob_len + n))
        return lc_fail(LC_ERR_NOMEM, "train-tokenizer: no memory");
    if (s->n == s->cap) {
        size_t c1 = s->cap, c2 = s->cap;
        if (!GROW(s->off, c1, s->n + 1) || !GROW(s->len, c2, c1)) return lc_fail(LC_ERR_NOMEM, "train-tokenizer: no memory");
        s->cap = c1;
    }
    memcpy(s->blob + s->blob_len, p, n);
    s->off[s->n] = s->blob_len;
    s->len[s->n] = (uint32_t)n;
    s->blob_len += n;
    s->slot[j] = (int32_t)s->n;
    if (added) *added = 1;
    return (int64_t)s->n++;
}

/* ---- the trainer's state --------------------------------------------- */
typedef struct ivec { int32_t *v; uint32_t n, cap; } ivec;

typedef struct hent { int64_t cnt; int32_t a, b; } hent;   /* heap entry: a pair and a count */

typedef struct bpe {
    /* counting */
    strtab pieces;
    int64_t *wcnt;            /* [n words] occurrences of each distinct piece */
    size_t wcnt_cap;
    int64_t n_pieces;
    int rc;                   /* first error inside the pre-tokenizer callback */
    /* words as symbol sequences */
    int32_t *sym;             /* all words' symbols */
    size_t *woff;             /* [n words] start in sym */
    uint32_t *wlen;           /* [n words] current symbol count */
    size_t n_words;
    /* pairs */
    int32_t *pslot;           /* pair hash: index into the pair arrays, -1 empty */
    size_t pmask, n_pairs, pair_cap;
    int32_t *pa, *pb;         /* [n_pairs] */
    int64_t *pcnt;            /* [n_pairs] current count (weighted by word counts) */
    ivec *occ;                /* [n_pairs] words that held the pair (may be stale) */
    uint32_t *stamp;          /* [n_pairs] last merge step that touched the pair */
    int32_t *touched;         /* pairs touched in this step */
    size_t n_touched, touched_cap;
    /* lazy max-heap */
    hent *heap;
    size_t n_heap, heap_cap;
    /* tokens */
    strtab toks;
    int32_t *ma, *mb;         /* merges in order */
    size_t n_merges, merge_cap;
} bpe;

static void bpe_free(bpe *b) {
    strtab_free(&b->pieces);
    free(b->wcnt);
    free(b->sym);
    free(b->woff);
    free(b->wlen);
    free(b->pslot);
    free(b->pa);
    free(b->pb);
    free(b->pcnt);
    if (b->occ)
        for (size_t i = 0; i < b->n_pairs; i++) free(b->occ[i].v);
    free(b->occ);
    free(b->stamp);
    free(b->touched);
    free(b->heap);
    strtab_free(&b->toks);
    free(b->ma);
    free(b->mb);
}

/* ---- counting pieces ---------------------------------------------------- */
static void on_piece(void *ud, const char *piece, size_t n) {
    bpe *b = ud;
    if (b->rc) return;
    int added;
    int64_t id = strtab_get(&b->pieces, (const uint8_t *)piece, n, true, &added);
    if (id < 0) {
        b->rc = LC_ERR_NOMEM;
        return;
    }
    if (added) {
        if (!GROW(b->wcnt, b->wcnt_cap, (size_t)id + 1)) {
            b->rc = lc_fail(LC_ERR_NOMEM, "train-tokenizer: no memory");
            return;
        }
        b->wcnt[id] = 0;
    }
    b->wcnt[id]++;
    b->n_pieces++;
}

/* first invalid UTF-8 byte offset, or -1 */
static int64_t bad_utf8(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        int l = lc_utf8_len(p + i, n - i);
        if (!l) return (int64_t)i;
        i += (size_t)l;
    }
    return -1;
}

static int count_file(bpe *b, const char *path, int64_t *n_bytes) {
    lc_map m;
    int rc = lc_map_file(path, &m);
    if (rc) return lc_fail_prefix(rc, path);
    int64_t bad = bad_utf8(m.data, m.size);
    if (bad >= 0) {
        rc = lc_fail(LC_ERR_FORMAT, "%s: not UTF-8 text (invalid byte 0x%02x at byte offset %lld)", path,
                     m.data[bad], (long long)bad);
    } else if (m.size) {
        rc = lc_pretok_split((const char *)m.data, m.size, on_piece, b);
        if (!rc) rc = b->rc;
        *n_bytes += (int64_t)m.size;
    }
    lc_unmap(&m);
    return rc;
}

/* ---- pairs ------------------------------------------------------------- */
static inline uint64_t pkey(int32_t a, int32_t c) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)c; }

static int pairs_rehash(bpe *b, size_t cap) {
    int32_t *ns = malloc(cap * sizeof *ns);
    if (!ns) return lc_fail(LC_ERR_NOMEM, "train-tokenizer: no memory for pairs");
    memset(ns, 0xff, cap * sizeof *ns);
    for (size_t i = 0; i < b->n_pairs; i++) {
        size_t j = hash_u64(pkey(b->pa[i], b->pb[i])) & (cap - 1);
        while (ns[j] >= 0) j = (j + 1) & (cap - 1);
        ns[j] = (int32_t)i;
    }
    free(b->pslot);
    b->pslot = ns;
    b->pmask = cap - 1;
    return LC_OK;
}

/* index of pair (a, c), created with count 0 when new; -1 on failure */
static int64_t pair_idx(bpe *b, int32_t a, int32_t c) {
    if (!b->pslot || (b->n_pairs + 1) * 2 > b->pmask + 1) {
        if (b->n_pairs >= (size_t)INT32_MAX / 2) return lc_fail(LC_ERR_NOMEM, "train-tokenizer: too many pairs");
        if (pairs_rehash(b, b->pslot ? (b->pmask + 1) * 2 : 4096)) return -1;
    }
    uint64_t k = pkey(a, c);
    size_t j = hash_u64(k) & b->pmask;
    for (;;) {
        int32_t i = b->pslot[j];
        if (i < 0) break;
        if (b->pa[i] == a && b->pb[i] == c) return i;
        j = (j + 1) & b->pmask;
    }
    size_t n = b->n_pairs, cap = b->pair_cap;
    if (n + 1 > cap) {
        size_t nc = cap ? cap * 2 : 4096;
        size_t c1 = cap, c2 = cap, c3 = cap, c4 = cap, c5 = cap;
        if (!grow((void **)&b->pa, &c1, nc, sizeof *b->pa) || !grow((void **)&b->pb, &c2, nc, sizeof *b->pb) ||
            !grow((void **)&b->pcnt, &c3, nc, sizeof *b->pcnt) || !grow((void **)&b->occ, &c4, nc, sizeof *b->occ) ||
            !grow((void **)&b->stamp, &c5, nc, sizeof *b->stamp))
            return lc_fail(LC_ERR_NOMEM, "train-tokenizer: no memory for pairs");
        b->pair_cap = nc;
    }
    b->pa[n] = a;
    b->pb[n] = c;
    b->pcnt[n] = 0;
    b->occ[n] = (ivec){ 0 };
    b->stamp[n] = 0;
    b->pslot[j] = (int32_t)n;
    b->n_pairs++;
    return (int64_t)n;
}

/* heap order: higher count first, then the smaller (a, b) */
static inline bool hbefore(const hent *x, const hent *y) {
    if (x->cnt != y->cnt) return x->cnt > y->cnt;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

static int hpush(bpe *b, hent e) {
    if (!GROW(b->heap, b->heap_cap, b->n_heap + 1)) return lc_fail(LC_ERR_NOMEM, "train-tokenizer: no memory");
    size_t i = b->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hbefore(&e, &b->heap[p])) break;
        b->heap[i] = b->heap[p];
        i = p;
    }
    b->heap[i] = e;
    return LC_OK;
}

static hent hpop(bpe *b) {
    hent top = b->heap[0], x = b->heap[--b->n_heap];
    size_t i = 0, n = b->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && hbefore(&b->heap[c + 1], &b->heap[c])) c++;
        if (!hbefore(&b->heap[c], &x)) break;
        b->heap[i] = b->heap[c];
        i = c;
    }
    if (n) b->heap[i] = x;
    return top;
}

/* adds delta to pair (a, c) seen in word w, during merge step `step` */
static int pair_add(bpe *b, int32_t a, int32_t c, int64_t delta, int32_t w, uint32_t step) {
    int64_t i = pair_idx(b, a, c);
    if (i < 0) return LC_ERR_NOMEM;
    b->pcnt[i] += delta;
    if (delta > 0) {
        ivec *o = &b->occ[i];
        if (!o->n || o->v[o->n - 1] != w) {
            if (o->n == o->cap) {
                uint32_t nc = o->cap ? o->cap * 2 : 4;
                if (nc < o->cap) return lc_fail(LC_ERR_NOMEM, "train-tokenizer: pair list too long");
                int32_t *nv = realloc(o->v, (size_t)nc * sizeof *nv);
                if (!nv) return lc_fail(LC_ERR_NOMEM, "train-tokenizer: no memory");
                o->v = nv;
                o->cap = nc;
            }
            o->v[o->n++] = w;
        }
    }
    if (b->stamp[i] != step) {
        b->stamp[i] = step;
        if (!GROW(b->touched, b->touched_cap, b->n_touched + 1))
            return lc_fail(LC_ERR_NOMEM, "train-tokenizer: no memory");
        b->touched[b->n_touched++] = (int32_t)i;
    }
    return LC_OK;
}

/* ---- merging --------------------------------------------------------------- */
static int build_words(bpe *b) {
    b->n_words = b->pieces.n;
    size_t total = b->pieces.blob_len;
    b->sym = malloc((total ? total : 1) * sizeof *b->sym);
    b->woff = malloc((b->n_words ? b->n_words : 1) * sizeof *b->woff);
    b->wlen = malloc((b->n_words ? b->n_words : 1) * sizeof *b->wlen);
    if (!b->sym || !b->woff || !b->wlen) return lc_fail(LC_ERR_NOMEM, "train-tokenizer: no memory for words");
    for (size_t w = 0; w < b->n_words; w++) {
        size_t o = b->pieces.off[w];
        b->woff[w] = o;
        b->wlen[w] = b->pieces.len[w];
        for (uint32_t k = 0; k < b->wlen[w]; k++) b->sym[o + k] = b->pieces.blob[o + k];
    }
    /* initial pair counts, in word order (deterministic) */
    for (size_t w = 0; w < b->n_words; w++) {
        const int32_t *s = b->sym + b->woff[w];
        for (uint32_t k = 0; k + 1 < b->wlen[w]; k++)
            if (pair_add(b, s[k], s[k + 1], b->wcnt[w], (int32_t)w, 0)) return LC_ERR_NOMEM;
    }
    b->n_touched = 0;
    for (size_t i = 0; i < b->n_pairs; i++)
        if (b->pcnt[i] > 0 && hpush(b, (hent){ b->pcnt[i], b->pa[i], b->pb[i] })) return LC_ERR_NOMEM;
    /* the 256 byte tokens */
    for (int c = 0; c < 256; c++) {
        uint8_t byte = (uint8_t)c;
        if (strtab_get(&b->toks, &byte, 1, true, NULL) != c) return LC_ERR_NOMEM;
    }
    return LC_OK;
}

/* replaces every (a, c) in the words that hold it by id nt, updating neighbour pairs */
static int apply_merge(bpe *b, int64_t p, int32_t nt, uint32_t step) {
    int32_t a = b->pa[p], c = b->pb[p];
    ivec words = b->occ[p];   /* detach: pair_add may grow b->occ */
    b->occ[p] = (ivec){ 0 };
    int rc = LC_OK;
    for (uint32_t k = 0; k < words.n && !rc; k++) {
        int32_t w = words.v[k];
        int32_t *s = b->sym + b->woff[w];
        uint32_t n = b->wlen[w];
        int64_t f = b->wcnt[w];
        uint32_t i = 0;
        while (i + 1 < n && !rc) {
            if (s[i] != a || s[i + 1] != c) {
                i++;
                continue;
            }
            if (i > 0) {
                rc = pair_add(b, s[i - 1], a, -f, w, step);
                if (!rc) rc = pair_add(b, s[i - 1], nt, f, w, step);
            }
            if (!rc && i + 2 < n) {
                rc = pair_add(b, c, s[i + 2], -f, w, step);
                if (!rc) rc = pair_add(b, nt, s[i + 2], f, w, step);
            }
            if (!rc) rc = pair_add(b, a, c, -f, w, step);
            s[i] = nt;
            memmove(s + i + 1, s + i + 2, (size_t)(n - i - 2) * sizeof *s);
            n--;
            i++;
        }
        b->wlen[w] = n;
    }
    free(words.v);
    for (size_t t = 0; t < b->n_touched && !rc; t++) {
        int32_t q = b->touched[t];
        if (b->pcnt[q] > 0) rc = hpush(b, (hent){ b->pcnt[q], b->pa[q], b->pb[q] });
    }
    b->n_touched = 0;
    return rc;
}

static int learn(bpe *b, int vocab_size, lc_bpe_progress_fn cb, void *ud) {
    uint32_t step = 0;
    int last_report = -1;
    while ((int)b->toks.n < vocab_size) {
        int64_t p = -1;
        while (b->n_heap) {
            hent e = hpop(b);
            int64_t i = pair_idx(b, e.a, e.b);
            if (i < 0) return LC_ERR_NOMEM;
            if (b->pcnt[i] == e.cnt) {
                p = i;
                break;
            }
        }
        if (p < 0)
            return lc_fail(LC_ERR_ARG, "train-tokenizer: the corpus only allows %zu BPE tokens, fewer than "
                           "--vocab %d; use a smaller vocabulary or more text", b->toks.n, vocab_size);
        int32_t a = b->pa[p], c = b->pb[p];
        size_t la = b->toks.len[a], lb = b->toks.len[c];
        uint8_t small[256], *cat = la + lb <= sizeof small ? small : malloc(la + lb);
        if (!cat) return lc_fail(LC_ERR_NOMEM, "train-tokenizer: no memory");
        memcpy(cat, b->toks.blob + b->toks.off[a], la);
        memcpy(cat + la, b->toks.blob + b->toks.off[c], lb);
        int64_t nt = strtab_get(&b->toks, cat, la + lb, true, NULL);
        if (cat != small) free(cat);
        if (nt < 0) return LC_ERR_NOMEM;
        if (b->n_merges == b->merge_cap) {
            size_t c1 = b->merge_cap, c2 = b->merge_cap;
            if (!GROW(b->ma, c1, b->n_merges + 1) || !GROW(b->mb, c2, c1))
                return lc_fail(LC_ERR_NOMEM, "train-tokenizer: no memory");
            b->merge_cap = c1;
        }
        b->ma[b->n_merges] = a;
        b->mb[b->n_merges] = c;
        b->n_merges++;
        int rc = apply_merge(b, p, (int32_t)nt, ++step);
        if (rc) return rc;
        int done = (int)b->toks.n;
        if (cb && (done - last_report >= 64 || done == vocab_size)) {
            cb(ud, done, vocab_size);
            last_report = done;
        }
    }
    return LC_OK;
}

/* ---- tokenizer.json ---------------------------------------------------- */
void lc_bpe_special_name(int k, char *buf, size_t cap) {
    static const char *const named[11] = {
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
        "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>",
        "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>",
    };
    if (k >= 0 && k < 11) snprintf(buf, cap, "%s", named[k]);
    else snprintf(buf, cap, "<|reserved_special_token_%d|>", k - 8);
}

/* GPT-2 bytes_to_unicode: the code point that stands for byte c. Printable bytes stand
 * for themselves; the 68 others (0x00-0x20, 0x7F-0xA0, 0xAD) get U+0100.. in byte order. */
static uint32_t byte_cp(int c) {
    if ((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE) return (uint32_t)c;
    if (c <= 0x20) return 256u + (uint32_t)c;
    if (c <= 0xA0) return 256u + 33u + (uint32_t)(c - 0x7F);
    return 256u + 67u;   /* 0xAD */
}

/* a token's bytes as a JSON string in byte-level form (no quotes) */
static void put_bytelevel(FILE *f, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = byte_cp(p[i]);
        if (cp == '"' || cp == '\\') {
            fputc('\\', f);
            fputc((int)cp, f);
        } else if (cp < 0x80) {
            fputc((int)cp, f);
        } else {   /* all mapped code points are below 0x800 */
            fputc((int)(0xC0 | (cp >> 6)), f);
            fputc((int)(0x80 | (cp & 0x3F)), f);
        }
    }
}

static void put_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_json(const bpe *b, int vocab_size, const char *path) {
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) return lc_fail(LC_ERR_NOMEM, "train-tokenizer: no memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int rc = lc_fail(LC_ERR_IO, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    char name[64];
    fputs("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [\n", f);
    for (int k = 0; k < LC_BPE_N_SPECIAL; k++) {
        lc_bpe_special_name(k, name, sizeof name);
        fprintf(f, "    {\"id\": %d, \"content\": \"%s\", \"single_word\": false, \"lstrip\": false, "
                   "\"rstrip\": false, \"normalized\": false, \"special\": true}%s\n",
                vocab_size + k, name, k + 1 < LC_BPE_N_SPECIAL ? "," : "");
    }
    fputs("  ],\n  \"normalizer\": null,\n  \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [\n"
          "    {\"type\": \"Split\", \"pattern\": {\"Regex\": ", f);
    put_json_str(f, LLAMA3_PAT);
    fputs("}, \"behavior\": \"Isolated\", \"invert\": false},\n"
          "    {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false}\n"
          "  ]},\n", f);
    fprintf(f, "  \"post_processor\": {\"type\": \"Sequence\", \"processors\": [\n"
               "    {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": false, \"use_regex\": true},\n"
               "    {\"type\": \"TemplateProcessing\",\n"
               "     \"single\": [{\"SpecialToken\": {\"id\": \"<|begin_of_text|>\", \"type_id\": 0}}, "
               "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}],\n"
               "     \"pair\": [{\"SpecialToken\": {\"id\": \"<|begin_of_text|>\", \"type_id\": 0}}, "
               "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, "
               "{\"SpecialToken\": {\"id\": \"<|begin_of_text|>\", \"type_id\": 1}}, "
               "{\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}],\n"
               "     \"special_tokens\": {\"<|begin_of_text|>\": {\"id\": \"<|begin_of_text|>\", \"ids\": [%d], "
               "\"tokens\": [\"<|begin_of_text|>\"]}}}\n"
               "  ]},\n", vocab_size);
    fputs("  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, "
          "\"use_regex\": true},\n"
          "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
          "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n"
          "    \"byte_fallback\": false,\n    \"ignore_merges\": true,\n    \"vocab\": {\n", f);
    for (size_t i = 0; i < b->toks.n; i++) {
        fputs("      \"", f);
        put_bytelevel(f, b->toks.blob + b->toks.off[i], b->toks.len[i]);
        fprintf(f, "\": %zu%s\n", i, i + 1 < b->toks.n ? "," : "");
    }
    fputs("    },\n    \"merges\": [\n", f);
    for (size_t m = 0; m < b->n_merges; m++) {
        fputs("      \"", f);
        put_bytelevel(f, b->toks.blob + b->toks.off[b->ma[m]], b->toks.len[b->ma[m]]);
        fputc(' ', f);
        put_bytelevel(f, b->toks.blob + b->toks.off[b->mb[m]], b->toks.len[b->mb[m]]);
        fprintf(f, "\"%s\n", m + 1 < b->n_merges ? "," : "");
    }
    fputs("    ]\n  }\n}\n", f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    int rc = LC_OK;
    if (bad) rc = lc_fail(LC_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    else if (rename(tmp, path) != 0) rc = lc_fail(LC_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
    if (rc) remove(tmp);
    free(tmp);
    return rc;
}

/* ---- entry point --------------------------------------------------------- */
int lc_bpe_train(const char *const *files, int n_files, int vocab_size, const char *out_json,
                 lc_bpe_progress_fn cb, void *ud, lc_bpe_stats *stats) {
    if (!files || n_files <= 0) return lc_fail(LC_ERR_ARG, "train-tokenizer: no corpus files");
    if (!out_json || !*out_json) return lc_fail(LC_ERR_ARG, "train-tokenizer: no output path");
    for (int i = 0; i < n_files; i++)
        if (!files[i]) return lc_fail(LC_ERR_ARG, "train-tokenizer: corpus file %d is NULL", i);
    if (vocab_size < 256)
        return lc_fail(LC_ERR_ARG, "train-tokenizer: vocabulary size %d is below 256 (the byte tokens)", vocab_size);
    if (vocab_size > LC_BPE_MAX_VOCAB)
        return lc_fail(LC_ERR_ARG, "train-tokenizer: vocabulary size %d is above the limit of %d", vocab_size,
                       LC_BPE_MAX_VOCAB);
    double t0 = lc_time_s();
    bpe b = { 0 };
    int64_t n_bytes = 0;
    int rc = LC_OK;
    for (int i = 0; i < n_files && !rc; i++) rc = count_file(&b, files[i], &n_bytes);
    if (!rc && n_bytes == 0) rc = lc_fail(LC_ERR_FORMAT, "train-tokenizer: the corpus is empty");
    if (!rc) rc = build_words(&b);
    if (!rc) rc = learn(&b, vocab_size, cb, ud);
    if (!rc) rc = write_json(&b, vocab_size, out_json);
    if (!rc && stats) {
        stats->n_bytes = n_bytes;
        stats->n_pieces = b.n_pieces;
        stats->n_words = (int64_t)b.n_words;
        stats->n_merges = (int)b.n_merges;
        stats->seconds = lc_time_s() - t0;
    }
    bpe_free(&b);
    return rc;
}
