/* train_data.c - training data: text corpora tokenized into one stream with a held-out
 * tail (pretraining), and chat conversations in OpenAI JSONL rendered in the Llama 3.1
 * format with a loss mask covering only the assistant's tokens (fine-tuning). Bad input
 * is an error (corpus) or a counted, skipped line (JSONL). */
#include "train.h"
#include "train_int.h"

#include <jansson.h>

/* ---- assistant-token mask ------------------------------------------------------------- */
/* tokens of `req` with messages[0..n_msg) (all when n_msg < 0) */
static int tok_prefix(const lc_tok *t, json_t *req, int n_msg, int gen_prompt, int32_t **ids, int *n) {
    json_t *msgs = json_object_get(req, "messages");
    json_t *cp = json_copy(req), *arr = json_array();
    int rc = LC_OK;
    char *s = NULL;
    if (!cp || !arr) {
        rc = lc_fail(LC_ERR_NOMEM, "no memory");
        goto done;
    }
    size_t cnt = n_msg < 0 ? json_array_size(msgs) : (size_t)n_msg;
    for (size_t i = 0; i < cnt; i++) json_array_append(arr, json_array_get(msgs, i));
    json_object_set(cp, "messages", arr);
    s = json_dumps(cp, JSON_COMPACT);
    if (!s) {
        rc = lc_fail(LC_ERR_NOMEM, "no memory");
        goto done;
    }
    lc_chat_opts o;
    lc_chat_opts_default(&o);
    o.add_generation_prompt = gen_prompt;
    rc = lc_chat_tokenize_json(t, s, strlen(s), &o, ids, n);
done:
    free(s);
    json_decref(arr);
    json_decref(cp);
    return rc;
}

int lc_chat_tokenize_masked(const lc_tok *t, const char *json, size_t len, int32_t **ids_out, uint8_t **mask_out,
                            int *n_out) {
    *ids_out = NULL;
    *mask_out = NULL;
    *n_out = 0;
    json_error_t je;
    json_t *req = json_loadb(json, len, 0, &je);
    if (!req) return lc_fail(LC_ERR_FORMAT, "bad JSON at column %d: %s", je.column, je.text);
    int rc = LC_OK, n = 0, np = 0, nq = 0, n_asst = 0;
    int32_t *ids = NULL, *pre = NULL, *full = NULL;
    uint8_t *mask = NULL;
    json_t *msgs = json_object_get(req, "messages");
    if (!json_is_object(req) || !json_is_array(msgs) || json_array_size(msgs) == 0) {
        rc = lc_fail(LC_ERR_FORMAT, "not an object with a non-empty \"messages\" list");
        goto done;
    }
    if ((rc = tok_prefix(t, req, -1, 0, &ids, &n))) goto done;
    if (!(mask = calloc((size_t)n + 1, 1))) {
        rc = lc_fail(LC_ERR_NOMEM, "no memory");
        goto done;
    }
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!role || strcmp(role, "assistant") != 0) continue;
        /* [prompt up to the assistant header) .. [end of this message) */
        if ((rc = tok_prefix(t, req, (int)i, 1, &pre, &np))) goto done;
        if ((rc = tok_prefix(t, req, (int)i + 1, 0, &full, &nq))) goto done;
        if (np > nq || nq > n || memcmp(pre, ids, (size_t)np * sizeof *ids) != 0 ||
            memcmp(full, ids, (size_t)nq * sizeof *ids) != 0) {
            rc = lc_fail(LC_ERR_FORMAT, "message %zu does not start on a token boundary", i);
            goto done;
        }
        for (int k = np; k < nq; k++) mask[k] = 1;
        if (nq > np) n_asst++;
        free(pre);
        free(full);
        pre = full = NULL;
    }
    if (!n_asst) {
        rc = lc_fail(LC_ERR_FORMAT, "no assistant message to learn from");
        goto done;
    }
    *ids_out = ids;
    *mask_out = mask;
    *n_out = n;
    ids = NULL;
    mask = NULL;
done:
    free(ids);
    free(mask);
    free(pre);
    free(full);
    json_decref(req);
    return rc;
}

/* ---- loading ---------------------------------------------------------------------------- */
#define MAX_CORPUS ((size_t)4 << 30)
#define SKIP_SHOWN 5

static void hash_tokens(uint64_t *h, const int32_t *t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        *h ^= (uint32_t)t[i];
        *h *= 0x100000001b3ull;
    }
}

static int load_text(lc_tr_data *d, const lc_tok *tok, const char *path) {
    char *buf = NULL;
    size_t len = 0;
    int rc = lc_read_file(path, &buf, &len, MAX_CORPUS);
    if (rc) return lc_fail_prefix(rc, path);
    if (len == 0) {
        free(buf);
        return lc_fail(LC_ERR_FORMAT, "%s: the corpus is empty", path);
    }
    for (size_t i = 0; i < len;) {
        int l = lc_utf8_len((const uint8_t *)buf + i, len - i);
        if (!l) {
            unsigned char bad = (unsigned char)buf[i];
            free(buf);
            return lc_fail(LC_ERR_FORMAT, "%s: not valid UTF-8 (byte 0x%02x at offset %zu)", path, bad, i);
        }
        i += (size_t)l;
    }
    if (len > (size_t)INT32_MAX - 64) {
        free(buf);
        return lc_fail(LC_ERR_UNSUPPORTED, "%s: larger than 2 GiB; split it", path);
    }
    size_t need = (size_t)d->n_tok + len + 2;
    int32_t *nt = realloc(d->tok, need * sizeof *nt);
    if (!nt) {
        free(buf);
        return lc_fail(LC_ERR_NOMEM, "no memory for the tokens of %s", path);
    }
    d->tok = nt;
    int got = lc_tok_encode(tok, buf, len, 0, d->tok + d->n_tok, (int)(len + 1));
    free(buf);
    if (got < 0) return lc_fail_prefix(got, path);
    if (got == 0) return lc_fail(LC_ERR_FORMAT, "%s: no tokens", path);
    d->n_tok += got;
    int32_t eos = lc_tok_eos(tok);
    if (eos >= 0) d->tok[d->n_tok++] = eos;   /* document separator */
    return LC_OK;
}

static int add_example(lc_tr_data *d, int32_t *ids, uint8_t *mask, int n) {
    if (d->n_ex == d->cap_ex) {
        int cap = d->cap_ex ? d->cap_ex * 2 : 256;
        lc_tr_example *ne = realloc(d->ex, (size_t)cap * sizeof *ne);
        if (!ne) return lc_fail(LC_ERR_NOMEM, "no memory");
        d->ex = ne;
        d->cap_ex = cap;
    }
    d->ex[d->n_ex].tok = ids;
    d->ex[d->n_ex].mask = mask;
    d->ex[d->n_ex].n = n;
    d->n_ex++;
    return LC_OK;
}

static void note_skip(lc_tr_data *d, const char *path, long line, const char *why) {
    d->n_skipped++;
    if (d->n_skipped > SKIP_SHOWN) return;
    size_t u = strlen(d->skipped);
    snprintf(d->skipped + u, sizeof d->skipped - u, "%s%s:%ld: %.160s", u ? "; " : "", path, line, why);
}

static int load_jsonl(lc_tr_data *d, const lc_tok *tok, const char *path, int ctx) {
    FILE *f = fopen(path, "rb");
    if (!f) return lc_fail(LC_ERR_IO, "%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    long ln = 0;
    int rc = LC_OK;
    while ((got = getline(&line, &cap, f)) >= 0) {
        ln++;
        size_t len = (size_t)got;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
        size_t sp = 0;
        while (sp < len && (line[sp] == ' ' || line[sp] == '\t')) sp++;
        if (sp == len) continue;   /* blank lines are not data */
        d->n_lines++;
        int32_t *ids;
        uint8_t *mask;
        int n;
        int r = lc_chat_tokenize_masked(tok, line, len, &ids, &mask, &n);
        if (r == LC_ERR_NOMEM) {
            rc = r;
            break;
        }
        if (r) {
            note_skip(d, path, ln, lc_last_error());
            continue;
        }
        if (n - 1 > ctx) { /* keep the first ctx inputs; needs a learnable target inside */
            int any = 0;
            for (int i = 1; i <= ctx; i++) any |= mask[i];
            if (!any) {
                free(ids);
                free(mask);
                note_skip(d, path, ln, "no assistant token within the context length");
                continue;
            }
            n = ctx + 1;
            d->n_truncated++;
        }
        if ((rc = add_example(d, ids, mask, n))) {
            free(ids);
            free(mask);
            break;
        }
    }
    if (rc == LC_OK && ferror(f)) rc = lc_fail(LC_ERR_IO, "%s: read error", path);
    free(line);
    fclose(f);
    return rc;
}

void lc_tr_data_free(lc_tr_data *d) {
    if (!d) return;
    free(d->tok);
    for (int i = 0; i < d->n_ex; i++) free(d->ex[i].tok), free(d->ex[i].mask);
    free(d->ex);
    memset(d, 0, sizeof *d);
}

int lc_tr_data_load(lc_tr_data *d, int mode, const lc_tok *tok, const char *const *paths, int n_paths,
                    float val_frac, int ctx) {
    memset(d, 0, sizeof *d);
    d->mode = mode;
    d->hash = 0xcbf29ce484222325ull;
    if (n_paths < 1) return lc_fail(LC_ERR_ARG, "no training data given");
    if (!(val_frac >= 0 && val_frac < 0.9f)) return lc_fail(LC_ERR_ARG, "validation fraction %g out of range", val_frac);
    int rc = LC_OK;
    if (mode == LC_TRAIN_PRETRAIN) {
        for (int i = 0; i < n_paths && rc == LC_OK; i++) rc = load_text(d, tok, paths[i]);
        if (rc) goto fail;
        int64_t n_val = (int64_t)((double)d->n_tok * val_frac);
        d->n_train = d->n_tok - n_val;
        if (d->n_train < (int64_t)ctx + 1) {
            rc = lc_fail(LC_ERR_FORMAT, "corpus too small: %lld training tokens for a context of %d",
                         (long long)d->n_train, ctx);
            goto fail;
        }
        hash_tokens(&d->hash, d->tok, (size_t)d->n_tok);
    } else {
        for (int i = 0; i < n_paths && rc == LC_OK; i++) rc = load_jsonl(d, tok, paths[i], ctx);
        if (rc) goto fail;
        if (d->n_ex == 0) {
            rc = lc_fail(LC_ERR_FORMAT, "no valid conversation in %d line%s%s%s", d->n_lines,
                         d->n_lines == 1 ? "" : "s", d->skipped[0] ? ": " : "", d->skipped);
            goto fail;
        }
        int n_val = (int)((double)d->n_ex * val_frac);
        if (val_frac > 0 && n_val == 0 && d->n_ex >= 4) n_val = 1;
        d->n_train_ex = d->n_ex - n_val;
        for (int i = 0; i < d->n_ex; i++) {
            hash_tokens(&d->hash, d->ex[i].tok, (size_t)d->ex[i].n);
            for (int k = 0; k < d->ex[i].n; k++) d->hash = (d->hash ^ d->ex[i].mask[k]) * 0x100000001b3ull;
        }
    }
    return LC_OK;
fail:
    lc_tr_data_free(d);
    return rc;
}

/* "skipped 3 of 1000 lines: a.jsonl:17: ...", or "" when nothing was skipped */
void lc_tr_data_skip_report(const lc_tr_data *d, char *buf, size_t cap) {
    if (!d->n_skipped) {
        if (cap) buf[0] = 0;
        return;
    }
    snprintf(buf, cap, "skipped %d of %d lines: %s%s", d->n_skipped, d->n_lines, d->skipped,
             d->n_skipped > SKIP_SHOWN ? "; ..." : "");
}
