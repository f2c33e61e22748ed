/* gguf.c - GGUF v2/v3 reader (spec/gguf.md): header, metadata, tensor table.
 * The file is untrusted: every count, length and offset is checked against the bytes
 * that remain before anything is allocated, so memory stays proportional to the input.
 * Tensor data and metadata values are views into the mapping; keys and names are copies. */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stdint.h>

#define GGUF_MAGIC 0x46554747u     /* "GGUF" little-endian */
#define GGUF_MAX_DEPTH 8           /* nesting of arrays inside arrays */
#define GGUF_MAX_KEY 65535
#define GGUF_MAX_NAME 64
#define GGUF_MAX_ALIGN ((size_t)1 << 30)
/* marker in the spare kv slot kv[n_kv]: the mapping belongs to g (lc_gguf_open) */
#define GGUF_OWNED_MAP 0x4f574e44u

/* ---- byte cursor --------------------------------------------------- */
typedef struct cur {
    const uint8_t *p;
    size_t size, pos;
} cur;

static size_t left(const cur *c) { return c->size - c->pos; }

static uint32_t le32(const uint8_t *b) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static uint64_t le64(const uint8_t *b) { return (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32; }

static bool rd_u32(cur *c, uint32_t *v) {
    if (left(c) < 4) return false;
    *v = le32(c->p + c->pos);
    c->pos += 4;
    return true;
}
static bool rd_u64(cur *c, uint64_t *v) {
    if (left(c) < 8) return false;
    *v = le64(c->p + c->pos);
    c->pos += 8;
    return true;
}
/* string header: length checked against what remains; *s points at the bytes */
static bool rd_str(cur *c, const uint8_t **s, uint64_t *len) {
    uint64_t n;
    size_t at = c->pos;
    if (!rd_u64(c, &n) || n > left(c)) {
        c->pos = at;
        return false;
    }
    *s = c->p + c->pos;
    *len = n;
    c->pos += (size_t)n;
    return true;
}

/* ---- metadata values ---------------------------------------------- */
/* bytes of a fixed-size scalar type, 0 for string/array/unknown */
static size_t scalar_size(uint32_t t) {
    switch (t) {
    case LC_GGUF_U8: case LC_GGUF_I8: case LC_GGUF_BOOL: return 1;
    case LC_GGUF_U16: case LC_GGUF_I16: return 2;
    case LC_GGUF_U32: case LC_GGUF_I32: case LC_GGUF_F32: return 4;
    case LC_GGUF_U64: case LC_GGUF_I64: case LC_GGUF_F64: return 8;
    default: return 0;
    }
}

static const char *type_str(uint32_t t) {
    static const char *const n[] = { "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                     "bool", "string", "array", "uint64", "int64", "float64" };
    return t < LC_ARRAY_LEN(n) ? n[t] : "unknown";
}

/* skips one value of type t; returns LC_OK or an error naming key */
static int skip_value(cur *c, uint32_t t, int depth, const char *key) {
    size_t sz = scalar_size(t);
    if (sz) {
        if (left(c) < sz) return lc_fail(LC_ERR_FORMAT, "truncated metadata value for key '%s'", key);
        if (t == LC_GGUF_BOOL && c->p[c->pos] > 1)
            return lc_fail(LC_ERR_FORMAT, "key '%s': bool value %u is not 0 or 1", key, c->p[c->pos]);
        c->pos += sz;
        return LC_OK;
    }
    if (t == LC_GGUF_STR) {
        const uint8_t *s;
        uint64_t n;
        if (!rd_str(c, &s, &n)) return lc_fail(LC_ERR_FORMAT, "truncated metadata value for key '%s'", key);
        return LC_OK;
    }
    if (t != LC_GGUF_ARR) return lc_fail(LC_ERR_FORMAT, "key '%s' has unknown value type %u", key, t);
    if (depth >= GGUF_MAX_DEPTH)
        return lc_fail(LC_ERR_FORMAT, "key '%s': arrays nested deeper than %d", key, GGUF_MAX_DEPTH);
    uint32_t et;
    uint64_t n;
    if (!rd_u32(c, &et) || !rd_u64(c, &n))
        return lc_fail(LC_ERR_FORMAT, "truncated metadata value for key '%s'", key);
    size_t esz = scalar_size(et);
    if (esz) {
        if (n > left(c) / esz)
            return lc_fail(LC_ERR_FORMAT, "truncated metadata value for key '%s' (%llu %s elements)", key,
                           (unsigned long long)n, type_str(et));
        if (et == LC_GGUF_BOOL) {
            for (uint64_t i = 0; i < n; i++)
                if (c->p[c->pos + i] > 1)
                    return lc_fail(LC_ERR_FORMAT, "key '%s': bool element %llu is not 0 or 1", key,
                                   (unsigned long long)i);
        }
        c->pos += (size_t)(n * esz);
        return LC_OK;
    }
    if (et != LC_GGUF_STR && et != LC_GGUF_ARR)
        return lc_fail(LC_ERR_FORMAT, "key '%s' has unknown array element type %u", key, et);
    /* strings take at least 8 bytes, arrays at least 12: a huge count fails here, fast */
    size_t min = et == LC_GGUF_STR ? 8 : 12;
    if (n > left(c) / min)
        return lc_fail(LC_ERR_FORMAT, "truncated metadata value for key '%s' (%llu %s elements)", key,
                       (unsigned long long)n, type_str(et));
    for (uint64_t i = 0; i < n; i++) {
        int rc = skip_value(c, et, depth + 1, key);
        if (rc != LC_OK) return rc;
    }
    return LC_OK;
}

/* ---- duplicate detection (open addressing over indices) ------------- */
typedef struct nameset {
    uint32_t *slot;   /* index + 1, 0 = empty */
    size_t cap;
} nameset;

static uint64_t hash_bytes(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int nameset_init(nameset *ns, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    ns->slot = calloc(cap, sizeof *ns->slot);
    ns->cap = cap;
    return ns->slot ? LC_OK : lc_fail(LC_ERR_NOMEM, "gguf: no memory");
}

/* returns false if name is already present; names[i] are the names of earlier entries */
static bool nameset_add(nameset *ns, const char *name, uint32_t idx, const char *(*get)(const void *, uint32_t),
                        const void *ctx) {
    size_t m = ns->cap - 1, i = (size_t)hash_bytes(name) & m;
    while (ns->slot[i]) {
        if (strcmp(get(ctx, ns->slot[i] - 1), name) == 0) return false;
        i = (i + 1) & m;
    }
    ns->slot[i] = idx + 1;
    return true;
}

static const char *kv_name(const void *ctx, uint32_t i) { return ((const lc_gguf_kv *)ctx)[i].key; }
static const char *tensor_name(const void *ctx, uint32_t i) { return ((const lc_tensor *)ctx)[i].name; }

/* ---- parse ----------------------------------------------------------- */
static char *dup_bytes(const uint8_t *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static int parse_kvs(cur *c, lc_gguf *g, uint64_t n_kv) {
    /* smallest kv: key length 8 + 1 key byte + type 4 + a 1-byte value */
    if (n_kv > left(c) / 14)
        return lc_fail(LC_ERR_FORMAT, "metadata count %llu is larger than the file allows",
                       (unsigned long long)n_kv);
    g->kv = calloc((size_t)n_kv + 1, sizeof *g->kv);   /* +1: spare slot for the ownership mark */
    if (!g->kv) return lc_fail(LC_ERR_NOMEM, "gguf: no memory for %llu keys", (unsigned long long)n_kv);
    g->n_kv = (int64_t)n_kv;
    nameset ns = { 0 };
    int rc = nameset_init(&ns, (size_t)n_kv);
    if (rc != LC_OK) return rc;
    for (uint64_t i = 0; i < n_kv; i++) {
        lc_gguf_kv *kv = &g->kv[i];
        const uint8_t *ks;
        uint64_t klen;
        if (!rd_str(c, &ks, &klen)) {
            rc = lc_fail(LC_ERR_FORMAT, "truncated metadata key %llu", (unsigned long long)i);
            goto out;
        }
        if (klen == 0 || klen > GGUF_MAX_KEY) {
            rc = lc_fail(LC_ERR_FORMAT, "metadata key %llu has bad length %llu", (unsigned long long)i,
                         (unsigned long long)klen);
            goto out;
        }
        for (size_t j = 0; j < klen; j++)
            if (ks[j] < 0x20 || ks[j] > 0x7e) {
                rc = lc_fail(LC_ERR_FORMAT, "metadata key %llu is not printable ASCII", (unsigned long long)i);
                goto out;
            }
        if (!(kv->key = dup_bytes(ks, (size_t)klen))) {
            rc = lc_fail(LC_ERR_NOMEM, "gguf: no memory");
            goto out;
        }
        if (!nameset_add(&ns, kv->key, (uint32_t)i, kv_name, g->kv)) {
            rc = lc_fail(LC_ERR_FORMAT, "duplicate metadata key '%s'", kv->key);
            goto out;
        }
        if (!rd_u32(c, &kv->type)) {
            rc = lc_fail(LC_ERR_FORMAT, "truncated metadata value for key '%s'", kv->key);
            goto out;
        }
        if (kv->type == LC_GGUF_ARR) {
            /* peek the header so the kv can describe its elements */
            if (left(c) < 12) {
                rc = lc_fail(LC_ERR_FORMAT, "truncated metadata value for key '%s'", kv->key);
                goto out;
            }
            kv->arr_type = le32(c->p + c->pos);
            kv->arr_n = le64(c->p + c->pos + 4);
            size_t start = c->pos;
            if ((rc = skip_value(c, kv->type, 0, kv->key)) != LC_OK) goto out;
            kv->val = c->p + start + 12;
            kv->val_size = c->pos - start - 12;
        } else {
            size_t start = c->pos;
            if ((rc = skip_value(c, kv->type, 0, kv->key)) != LC_OK) goto out;
            kv->val = c->p + start;
            kv->val_size = c->pos - start;
        }
    }
out:
    free(ns.slot);
    return rc;
}

static int parse_alignment(lc_gguf *g) {
    g->alignment = 32;
    const lc_gguf_kv *kv = lc_gguf_find(g, "general.alignment");
    if (!kv) return LC_OK;
    int64_t a;
    if (lc_gguf_get_int(g, "general.alignment", &a) != LC_OK || kv->type == LC_GGUF_BOOL)
        return lc_fail(LC_ERR_FORMAT, "general.alignment is not an integer");
    if (a <= 0 || (uint64_t)a > GGUF_MAX_ALIGN || (a & (a - 1)) != 0)
        return lc_fail(LC_ERR_FORMAT, "general.alignment %lld is not a power of two", (long long)a);
    g->alignment = (size_t)a;
    return LC_OK;
}

static int parse_tensor_infos(cur *c, lc_gguf *g, uint64_t n_t, uint64_t *offsets) {
    nameset ns = { 0 };
    int rc = nameset_init(&ns, (size_t)n_t);
    if (rc != LC_OK) return rc;
    for (uint64_t i = 0; i < n_t; i++) {
        lc_tensor *t = &g->tensors[i];
        const uint8_t *s;
        uint64_t len;
        if (!rd_str(c, &s, &len)) {
            rc = lc_fail(LC_ERR_FORMAT, "truncated tensor info %llu", (unsigned long long)i);
            goto out;
        }
        if (len == 0 || len > GGUF_MAX_NAME || memchr(s, 0, (size_t)len)) {
            rc = lc_fail(LC_ERR_FORMAT, "tensor %llu has a bad name (length %llu)", (unsigned long long)i,
                         (unsigned long long)len);
            goto out;
        }
        char *name = dup_bytes(s, (size_t)len);
        if (!name) {
            rc = lc_fail(LC_ERR_NOMEM, "gguf: no memory");
            goto out;
        }
        t->name = name;
        if (!nameset_add(&ns, name, (uint32_t)i, tensor_name, g->tensors)) {
            rc = lc_fail(LC_ERR_FORMAT, "duplicate tensor name '%s'", name);
            goto out;
        }
        uint32_t nd, type;
        if (!rd_u32(c, &nd)) {
            rc = lc_fail(LC_ERR_FORMAT, "truncated tensor info for '%s'", name);
            goto out;
        }
        if (nd < 1 || nd > 4) {
            rc = lc_fail(LC_ERR_FORMAT, "tensor '%s' has %u dimensions (1..4 allowed)", name, nd);
            goto out;
        }
        t->n_dims = (int)nd;
        int64_t n_el = 1;
        for (int d = 0; d < 4; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t ne;
            if (!rd_u64(c, &ne)) {
                rc = lc_fail(LC_ERR_FORMAT, "truncated tensor info for '%s'", name);
                goto out;
            }
            if (ne == 0 || ne > (uint64_t)INT64_MAX || __builtin_mul_overflow(n_el, (int64_t)ne, &n_el)) {
                rc = lc_fail(LC_ERR_FORMAT, "tensor '%s' has a bad dimension %u = %llu", name, d,
                             (unsigned long long)ne);
                goto out;
            }
            t->ne[d] = (int64_t)ne;
        }
        if (!rd_u32(c, &type) || !rd_u64(c, &offsets[i])) {
            rc = lc_fail(LC_ERR_FORMAT, "truncated tensor info for '%s'", name);
            goto out;
        }
        int blk = lc_type_block_size((int)type);
        if (type > INT32_MAX || blk <= 0) {
            rc = lc_fail(LC_ERR_FORMAT, "tensor '%s' has unknown type %u", name, type);
            goto out;
        }
        t->type = (int)type;
        size_t row;
        if (t->ne[0] % blk != 0 || !lc_type_row_bytes(t->type, t->ne[0], &row)) {
            rc = lc_fail(LC_ERR_FORMAT, "tensor '%s': row length %lld is not a multiple of the %s block (%d)",
                         name, (long long)t->ne[0], lc_type_name(t->type), blk);
            goto out;
        }
        size_t nb = row;
        for (int d = 1; d < 4; d++)
            if (!lc_mul_ok(nb, (size_t)t->ne[d], &nb)) {
                rc = lc_fail(LC_ERR_FORMAT, "tensor '%s' is too large", name);
                goto out;
            }
        t->nbytes = nb;
    }
out:
    free(ns.slot);
    return rc;
}

static int parse(const uint8_t *data, size_t size, lc_gguf *g) {
    cur c = { data, size, 0 };
    uint32_t magic, version;
    uint64_t n_t, n_kv;
    if (!rd_u32(&c, &magic)) return lc_fail(LC_ERR_FORMAT, "file too short for a GGUF header");
    if (magic != GGUF_MAGIC) return lc_fail(LC_ERR_FORMAT, "bad magic (not a GGUF file)");
    if (!rd_u32(&c, &version)) return lc_fail(LC_ERR_FORMAT, "file too short for a GGUF header");
    if (version != 2 && version != 3) return lc_fail(LC_ERR_FORMAT, "unsupported version %u", version);
    g->version = version;
    if (!rd_u64(&c, &n_t) || !rd_u64(&c, &n_kv)) return lc_fail(LC_ERR_FORMAT, "file too short for a GGUF header");
    int rc = parse_kvs(&c, g, n_kv);
    if (rc != LC_OK) return rc;
    if ((rc = parse_alignment(g)) != LC_OK) return rc;

    /* smallest tensor info: name 8+1, n_dims 4, one ne 8, type 4, offset 8 */
    if (n_t > left(&c) / 33)
        return lc_fail(LC_ERR_FORMAT, "tensor count %llu is larger than the file allows", (unsigned long long)n_t);
    g->tensors = calloc((size_t)n_t + 1, sizeof *g->tensors);
    uint64_t *offsets = calloc((size_t)n_t + 1, sizeof *offsets);
    if (!g->tensors || !offsets) {
        free(offsets);
        return lc_fail(LC_ERR_NOMEM, "gguf: no memory for %llu tensors", (unsigned long long)n_t);
    }
    g->n_tensors = (int64_t)n_t;
    if ((rc = parse_tensor_infos(&c, g, n_t, offsets)) != LC_OK) {
        free(offsets);
        return rc;
    }
    size_t a = g->alignment, end = c.pos;
    size_t ds = end + (a - end % a) % a;   /* end < size <= SIZE_MAX - a in practice; checked below */
    if (ds < end) {
        free(offsets);
        return lc_fail(LC_ERR_FORMAT, "data start overflows");
    }
    g->data_start = ds;
    for (uint64_t i = 0; i < n_t; i++) {
        lc_tensor *t = &g->tensors[i];
        uint64_t off = offsets[i];
        size_t s, e;
        if (off % a != 0) {
            rc = lc_fail(LC_ERR_FORMAT, "tensor '%s' offset %llu is not a multiple of the alignment %zu", t->name,
                         (unsigned long long)off, a);
            break;
        }
        if (off > SIZE_MAX || !lc_add_ok(ds, (size_t)off, &s) || !lc_add_ok(s, t->nbytes, &e) || e > size) {
            rc = lc_fail(LC_ERR_FORMAT, "tensor '%s' ends past end of file (offset %llu + %zu > %zu)", t->name,
                         (unsigned long long)off, t->nbytes, size > ds ? size - ds : (size_t)0);
            break;
        }
        t->data = data + s;
    }
    free(offsets);
    return rc;
}

int lc_gguf_parse(const uint8_t *data, size_t size, lc_gguf *g) {
    memset(g, 0, sizeof *g);
    if (!data && size) return lc_fail(LC_ERR_ARG, "gguf: no data");
    g->map.data = data;
    g->map.size = size;
    int rc = parse(data, size, g);
    if (rc != LC_OK) lc_gguf_close(g);
    return rc;
}

int lc_gguf_open(const char *path, lc_gguf *g) {
    lc_map m;
    memset(g, 0, sizeof *g);
    int rc = lc_map_file(path, &m);
    if (rc != LC_OK) return rc;
    if ((rc = lc_gguf_parse(m.data, m.size, g)) != LC_OK) {
        lc_unmap(&m);
        return rc;
    }
    g->kv[g->n_kv].type = GGUF_OWNED_MAP;
    return LC_OK;
}

void lc_gguf_close(lc_gguf *g) {
    if (!g) return;
    bool owned = false;
    if (g->kv) {
        for (int64_t i = 0; i < g->n_kv; i++) free(g->kv[i].key);
        owned = g->kv[g->n_kv].type == GGUF_OWNED_MAP;
        free(g->kv);
    }
    if (g->tensors) {
        for (int64_t i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
        free(g->tensors);
    }
    if (owned) lc_unmap(&g->map);
    memset(g, 0, sizeof *g);
}

/* ---- lookups and getters --------------------------------------------- */
const lc_gguf_kv *lc_gguf_find(const lc_gguf *g, const char *key) {
    if (!g || !g->kv || !key) return NULL;
    for (int64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key && strcmp(g->kv[i].key, key) == 0) return &g->kv[i];
    return NULL;
}

const lc_tensor *lc_gguf_tensor(const lc_gguf *g, const char *name) {
    if (!g || !g->tensors || !name) return NULL;
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].name && strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}

static bool is_int_type(uint32_t t) {
    return t == LC_GGUF_U8 || t == LC_GGUF_I8 || t == LC_GGUF_U16 || t == LC_GGUF_I16 || t == LC_GGUF_U32 ||
           t == LC_GGUF_I32 || t == LC_GGUF_U64 || t == LC_GGUF_I64 || t == LC_GGUF_BOOL;
}

/* decodes one integer; false if a uint64 does not fit int64 */
static bool dec_int(uint32_t t, const uint8_t *b, int64_t *out) {
    switch (t) {
    case LC_GGUF_U8: case LC_GGUF_BOOL: *out = b[0]; return true;
    case LC_GGUF_I8: *out = (int8_t)b[0]; return true;
    case LC_GGUF_U16: *out = (uint16_t)(b[0] | b[1] << 8); return true;
    case LC_GGUF_I16: *out = (int16_t)(uint16_t)(b[0] | b[1] << 8); return true;
    case LC_GGUF_U32: *out = le32(b); return true;
    case LC_GGUF_I32: *out = (int32_t)le32(b); return true;
    case LC_GGUF_I64: *out = (int64_t)le64(b); return true;
    case LC_GGUF_U64: {
        uint64_t v = le64(b);
        if (v > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v;
        return true;
    }
    default: return false;
    }
}

static bool dec_num(uint32_t t, const uint8_t *b, double *out) {
    if (t == LC_GGUF_F32) {
        union { uint32_t u; float f; } v = { .u = le32(b) };
        *out = v.f;
        return true;
    }
    if (t == LC_GGUF_F64) {
        union { uint64_t u; double f; } v = { .u = le64(b) };
        *out = v.f;
        return true;
    }
    if (t == LC_GGUF_U64) {
        *out = (double)le64(b);
        return true;
    }
    int64_t i;
    if (!is_int_type(t) || !dec_int(t, b, &i)) return false;
    *out = (double)i;
    return true;
}

int lc_gguf_get_int(const lc_gguf *g, const char *key, int64_t *out) {
    const lc_gguf_kv *kv = lc_gguf_find(g, key);
    if (!kv) return 1;
    if (!is_int_type(kv->type)) return lc_fail(LC_ERR_FORMAT, "key '%s' is %s, not an integer", key, type_str(kv->type));
    if (!dec_int(kv->type, kv->val, out)) return lc_fail(LC_ERR_FORMAT, "key '%s': value out of range", key);
    return LC_OK;
}

int lc_gguf_get_float(const lc_gguf *g, const char *key, double *out) {
    const lc_gguf_kv *kv = lc_gguf_find(g, key);
    if (!kv) return 1;
    if (!dec_num(kv->type, kv->val, out))
        return lc_fail(LC_ERR_FORMAT, "key '%s' is %s, not a number", key, type_str(kv->type));
    return LC_OK;
}

int lc_gguf_get_str(const lc_gguf *g, const char *key, lc_str *out) {
    const lc_gguf_kv *kv = lc_gguf_find(g, key);
    if (!kv) return 1;
    if (kv->type != LC_GGUF_STR) return lc_fail(LC_ERR_FORMAT, "key '%s' is %s, not a string", key, type_str(kv->type));
    out->len = (size_t)le64(kv->val);
    out->p = (const char *)kv->val + 8;
    return LC_OK;
}

/* finds an array kv; n elements, validated at parse time */
static int get_arr(const lc_gguf *g, const char *key, const lc_gguf_kv **kv) {
    *kv = lc_gguf_find(g, key);
    if (!*kv) return 1;
    if ((*kv)->type != LC_GGUF_ARR)
        return lc_fail(LC_ERR_FORMAT, "key '%s' is %s, not an array", key, type_str((*kv)->type));
    return LC_OK;
}

int lc_gguf_get_str_array(const lc_gguf *g, const char *key, lc_str **out, uint64_t *n) {
    const lc_gguf_kv *kv;
    int rc = get_arr(g, key, &kv);
    *out = NULL;
    *n = 0;
    if (rc != LC_OK) return rc;
    if (kv->arr_type != LC_GGUF_STR) return lc_fail(LC_ERR_FORMAT, "key '%s' is not an array of strings", key);
    lc_str *a = malloc(((size_t)kv->arr_n + 1) * sizeof *a);   /* arr_n <= val_size / 8 */
    if (!a) return lc_fail(LC_ERR_NOMEM, "no memory for '%s'", key);
    const uint8_t *p = kv->val;
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        size_t len = (size_t)le64(p);
        a[i].p = (const char *)p + 8;
        a[i].len = len;
        p += 8 + len;
    }
    *out = a;
    *n = kv->arr_n;
    return LC_OK;
}

int lc_gguf_get_int_array(const lc_gguf *g, const char *key, int64_t **out, uint64_t *n) {
    const lc_gguf_kv *kv;
    int rc = get_arr(g, key, &kv);
    *out = NULL;
    *n = 0;
    if (rc != LC_OK) return rc;
    if (!is_int_type(kv->arr_type)) return lc_fail(LC_ERR_FORMAT, "key '%s' is not an array of integers", key);
    size_t esz = scalar_size(kv->arr_type);
    int64_t *a = malloc(((size_t)kv->arr_n + 1) * sizeof *a);
    if (!a) return lc_fail(LC_ERR_NOMEM, "no memory for '%s'", key);
    for (uint64_t i = 0; i < kv->arr_n; i++)
        if (!dec_int(kv->arr_type, kv->val + i * esz, &a[i])) {
            free(a);
            return lc_fail(LC_ERR_FORMAT, "key '%s': element %llu out of range", key, (unsigned long long)i);
        }
    *out = a;
    *n = kv->arr_n;
    return LC_OK;
}

int lc_gguf_get_float_array(const lc_gguf *g, const char *key, float **out, uint64_t *n) {
    const lc_gguf_kv *kv;
    int rc = get_arr(g, key, &kv);
    *out = NULL;
    *n = 0;
    if (rc != LC_OK) return rc;
    size_t esz = scalar_size(kv->arr_type);
    if (!esz || kv->arr_type == LC_GGUF_BOOL) return lc_fail(LC_ERR_FORMAT, "key '%s' is not an array of numbers", key);
    float *a = malloc(((size_t)kv->arr_n + 1) * sizeof *a);
    if (!a) return lc_fail(LC_ERR_NOMEM, "no memory for '%s'", key);
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        double d = 0;
        dec_num(kv->arr_type, kv->val + i * esz, &d);
        a[i] = d > FLT_MAX ? INFINITY : d < -FLT_MAX ? -INFINITY : (float)d;   /* NaN passes through */
    }
    *out = a;
    *n = kv->arr_n;
    return LC_OK;
}
