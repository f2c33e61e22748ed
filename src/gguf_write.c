/* gguf_write.c - GGUF v3 writer: metadata of every type, a tensor table, and tensor data
 * streamed row chunks at a time from a callback, so a 70B-shaped file never has to fit in
 * memory. Files are written to "<path>.tmp" and renamed, so a crash leaves no broken file. */
#include "internal.h"

#include "gguf_write.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

typedef struct wkv {
    char *key;
    uint32_t type, arr_type;
    uint64_t arr_n;
    uint8_t *val; /* encoded value bytes (for arrays: the elements) */
    size_t len;
} wkv;

typedef struct wtensor {
    char *name;
    int type, n_dims;
    int64_t ne[4];
    size_t nbytes, offset;
} wtensor;

struct lc_gguf_writer {
    wkv *kv;
    int n_kv, cap_kv;
    wtensor *t;
    int n_t, cap_t;
    size_t alignment;
};

int lc_gguf_writer_new(lc_gguf_writer **out) {
    *out = calloc(1, sizeof **out);
    if (!*out) return lc_fail(LC_ERR_NOMEM, "no memory");
    (*out)->alignment = 32;
    return LC_OK;
}

void lc_gguf_writer_free(lc_gguf_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n_kv; i++) free(w->kv[i].key), free(w->kv[i].val);
    for (int i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

/* adds or replaces a key; takes ownership of val */
static int put_kv(lc_gguf_writer *w, const char *key, uint32_t type, uint32_t arr_type, uint64_t arr_n, uint8_t *val,
                  size_t len) {
    for (int i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) {
            free(w->kv[i].val);
            w->kv[i] = (wkv){ w->kv[i].key, type, arr_type, arr_n, val, len };
            return LC_OK;
        }
    if (w->n_kv == w->cap_kv) {
        int cap = w->cap_kv ? w->cap_kv * 2 : 32;
        wkv *nk = realloc(w->kv, (size_t)cap * sizeof *nk);
        if (!nk) return free(val), lc_fail(LC_ERR_NOMEM, "no memory");
        w->kv = nk;
        w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k) return free(val), lc_fail(LC_ERR_NOMEM, "no memory");
    w->kv[w->n_kv++] = (wkv){ k, type, arr_type, arr_n, val, len };
    return LC_OK;
}

static int put_scalar(lc_gguf_writer *w, const char *key, uint32_t type, const void *v, size_t n) {
    uint8_t *b = malloc(n);
    if (!b) return lc_fail(LC_ERR_NOMEM, "no memory");
    memcpy(b, v, n); /* little-endian hosts only (x86-64, aarch64) */
    return put_kv(w, key, type, 0, 0, b, n);
}

int lc_gguf_set_u32(lc_gguf_writer *w, const char *key, uint32_t v) { return put_scalar(w, key, LC_GGUF_U32, &v, 4); }
int lc_gguf_set_i32(lc_gguf_writer *w, const char *key, int32_t v) { return put_scalar(w, key, LC_GGUF_I32, &v, 4); }
int lc_gguf_set_u64(lc_gguf_writer *w, const char *key, uint64_t v) { return put_scalar(w, key, LC_GGUF_U64, &v, 8); }
int lc_gguf_set_f32(lc_gguf_writer *w, const char *key, float v) { return put_scalar(w, key, LC_GGUF_F32, &v, 4); }
int lc_gguf_set_bool(lc_gguf_writer *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    return put_scalar(w, key, LC_GGUF_BOOL, &b, 1);
}

int lc_gguf_set_str(lc_gguf_writer *w, const char *key, const char *s, size_t len) {
    uint8_t *b = malloc(8 + len);
    if (!b) return lc_fail(LC_ERR_NOMEM, "no memory");
    uint64_t n = len;
    memcpy(b, &n, 8);
    memcpy(b + 8, s, len);
    return put_kv(w, key, LC_GGUF_STR, 0, 0, b, 8 + len);
}

int lc_gguf_set_arr(lc_gguf_writer *w, const char *key, uint32_t elem_type, const void *elems, uint64_t n) {
    size_t es = elem_type == LC_GGUF_U8 || elem_type == LC_GGUF_I8 || elem_type == LC_GGUF_BOOL ? 1
                : elem_type == LC_GGUF_U16 || elem_type == LC_GGUF_I16                         ? 2
                : elem_type == LC_GGUF_U32 || elem_type == LC_GGUF_I32 || elem_type == LC_GGUF_F32 ? 4
                : elem_type == LC_GGUF_U64 || elem_type == LC_GGUF_I64 || elem_type == LC_GGUF_F64 ? 8
                                                                                                 : 0;
    if (!es) return lc_fail(LC_ERR_ARG, "gguf writer: array element type %u needs lc_gguf_set_arr_str", elem_type);
    size_t bytes;
    if (!lc_mul_ok(es, n, &bytes)) return lc_fail(LC_ERR_NOMEM, "array too large");
    uint8_t *b = malloc(bytes ? bytes : 1);
    if (!b) return lc_fail(LC_ERR_NOMEM, "no memory");
    if (bytes) memcpy(b, elems, bytes);
    return put_kv(w, key, LC_GGUF_ARR, elem_type, n, b, bytes);
}

int lc_gguf_set_arr_str(lc_gguf_writer *w, const char *key, const lc_str *s, uint64_t n) {
    size_t bytes = 0;
    for (uint64_t i = 0; i < n; i++)
        if (!lc_add_ok(bytes, 8 + s[i].len, &bytes)) return lc_fail(LC_ERR_NOMEM, "array too large");
    uint8_t *b = malloc(bytes ? bytes : 1), *p = b;
    if (!b) return lc_fail(LC_ERR_NOMEM, "no memory");
    for (uint64_t i = 0; i < n; i++) {
        uint64_t l = s[i].len;
        memcpy(p, &l, 8);
        if (l) memcpy(p + 8, s[i].p, l);
        p += 8 + l;
    }
    return put_kv(w, key, LC_GGUF_ARR, LC_GGUF_STR, n, b, bytes);
}

int lc_gguf_add_tensor(lc_gguf_writer *w, const char *name, int type, int n_dims, const int64_t *ne) {
    if (n_dims < 1 || n_dims > 4) return lc_fail(LC_ERR_ARG, "tensor '%s': %d dims", name, n_dims);
    if (strlen(name) > 255) return lc_fail(LC_ERR_ARG, "tensor name too long");
    int64_t n = 1;
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] < 1 || __builtin_mul_overflow(n, ne[d], &n)) return lc_fail(LC_ERR_ARG, "tensor '%s': bad shape", name);
    }
    size_t nbytes;
    if (!lc_type_row_bytes(type, n, &nbytes) || ne[0] % lc_type_block_size(type))
        return lc_fail(LC_ERR_ARG, "tensor '%s': %lld elements do not fit type %s", name, (long long)ne[0],
                       lc_type_name(type));
    if (w->n_t == w->cap_t) {
        int cap = w->cap_t ? w->cap_t * 2 : 64;
        wtensor *nt = realloc(w->t, (size_t)cap * sizeof *nt);
        if (!nt) return lc_fail(LC_ERR_NOMEM, "no memory");
        w->t = nt;
        w->cap_t = cap;
    }
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return lc_fail(LC_ERR_NOMEM, "no memory");
    t->type = type;
    t->n_dims = n_dims;
    for (int d = 0; d < 4; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    t->nbytes = nbytes;
    w->n_t++;
    return LC_OK;
}

/* ---- output --------------------------------------------------------- */
static int wr(FILE *f, const void *p, size_t n) { return fwrite(p, 1, n, f) == n ? 0 : -1; }
static int wr_u32(FILE *f, uint32_t v) { return wr(f, &v, 4); }
static int wr_u64(FILE *f, uint64_t v) { return wr(f, &v, 8); }
static int wr_str(FILE *f, const char *s) { return wr_u64(f, strlen(s)) || wr(f, s, strlen(s)); }

static int pad_to(FILE *f, size_t pos, size_t align, size_t *out) {
    static const uint8_t zeros[256];
    size_t target = (pos + align - 1) / align * align;
    if (target > pos && wr(f, zeros, target - pos)) return -1;
    *out = target;
    return 0;
}

int lc_gguf_write(lc_gguf_writer *w, const char *path, lc_gguf_fill_fn fill, void *ud, lc_progress_fn progress,
                  void *pud) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return lc_fail(LC_ERR_ARG, "path too long");
    FILE *f = fopen(tmp, "wb");
    if (!f) return lc_fail(LC_ERR_IO, "%s: %s", tmp, strerror(errno));
    int rc = LC_OK;
    size_t pos = 0, total = 0;
    /* offsets */
    for (int i = 0; i < w->n_t; i++) {
        w->t[i].offset = pos;
        pos = (pos + w->t[i].nbytes + w->alignment - 1) / w->alignment * w->alignment;
        total += w->t[i].nbytes;
    }
    bool bad = wr(f, "GGUF", 4) || wr_u32(f, 3) || wr_u64(f, (uint64_t)w->n_t) || wr_u64(f, (uint64_t)w->n_kv);
    for (int i = 0; !bad && i < w->n_kv; i++) {
        const wkv *k = &w->kv[i];
        bad = wr_str(f, k->key) || wr_u32(f, k->type);
        if (!bad && k->type == LC_GGUF_ARR) bad = wr_u32(f, k->arr_type) || wr_u64(f, k->arr_n);
        if (!bad) bad = wr(f, k->val, k->len);
    }
    for (int i = 0; !bad && i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        bad = wr_str(f, t->name) || wr_u32(f, (uint32_t)t->n_dims);
        for (int d = 0; !bad && d < t->n_dims; d++) bad = wr_u64(f, (uint64_t)t->ne[d]);
        if (!bad) bad = wr_u32(f, (uint32_t)t->type) || wr_u64(f, t->offset);
    }
    long hdr = bad ? -1 : ftell(f);
    size_t data_start = 0;
    if (!bad && hdr >= 0) bad = pad_to(f, (size_t)hdr, w->alignment, &data_start) != 0;
    /* data, in chunks of rows */
    size_t chunk_cap = (size_t)64 << 20, done = 0;
    uint8_t *chunk = NULL;
    if (!bad && w->n_t && !(chunk = malloc(chunk_cap))) rc = lc_fail(LC_ERR_NOMEM, "no memory");
    for (int i = 0; !bad && rc == LC_OK && i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        int64_t rows = t->nbytes ? 1 : 0;
        for (int d = 1; d < t->n_dims; d++) rows *= t->ne[d];
        size_t row_bytes = t->nbytes / (size_t)rows;
        int64_t per = (int64_t)LC_MAX((size_t)1, chunk_cap / row_bytes);
        if ((size_t)per * row_bytes > chunk_cap) { /* one row larger than the chunk */
            uint8_t *nc = realloc(chunk, row_bytes);
            if (!nc) {
                rc = lc_fail(LC_ERR_NOMEM, "no memory");
                break;
            }
            chunk = nc;
            chunk_cap = row_bytes;
        }
        for (int64_t r = 0; r < rows && rc == LC_OK && !bad; r += per) {
            int64_t nr = LC_MIN(per, rows - r);
            if ((rc = fill(ud, i, r, nr, chunk))) break;
            bad = wr(f, chunk, (size_t)nr * row_bytes);
            done += (size_t)nr * row_bytes;
            if (progress) progress(pud, (double)done / (double)(total ? total : 1));
        }
        size_t p;
        if (rc == LC_OK && !bad) bad = pad_to(f, data_start + t->offset + t->nbytes, w->alignment, &p) != 0;
    }
    free(chunk);
    /* durable before the rename (a crash leaves the old file or the whole new one); a large
     * model then leaves the page cache, so its first load reads it back in 2 MiB pages */
    if (!bad && rc == LC_OK && (fflush(f) != 0 || fdatasync(fileno(f)) != 0)) bad = true;
    if (!bad && rc == LC_OK && done >= ((size_t)64 << 20))
        (void)posix_fadvise(fileno(f), 0, 0, POSIX_FADV_DONTNEED);
    if (fclose(f) != 0) bad = true;
    if (rc == LC_OK && bad) rc = lc_fail(LC_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    if (rc == LC_OK && rename(tmp, path) != 0) rc = lc_fail(LC_ERR_IO, "%s: %s", path, strerror(errno));
    if (rc != LC_OK) unlink(tmp);
    return rc;
}

int lc_gguf_copy_kv(lc_gguf_writer *w, const lc_gguf_kv *kv) {
    uint8_t *b = malloc(kv->val_size ? kv->val_size : 1);
    if (!b) return lc_fail(LC_ERR_NOMEM, "no memory");
    if (kv->val_size) memcpy(b, kv->val, kv->val_size);
    return put_kv(w, kv->key, kv->type, kv->arr_type, kv->arr_n, b, kv->val_size);
}
