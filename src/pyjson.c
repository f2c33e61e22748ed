/* pyjson.c - growable buffer plus a JSON writer byte-identical to Python's
 * json.dumps(x, ensure_ascii=False, indent=indent): key order as inserted, floats
 * as repr(float), control characters as \u00xx, everything else raw UTF-8. */
#include "pyjson.h"
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>

/* ---- buffer ------------------------------------------------------ */
static bool buf_reserve(lc_buf *b, size_t extra) {
    if (b->oom) return false;
    size_t need;
    if (!lc_add_ok(b->len, extra, &need) || !lc_add_ok(need, 1, &need)) {
        b->oom = true;
        return false;
    }
    if (need <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (!lc_mul_ok(cap, 2, &cap)) {
            b->oom = true;
            return false;
        }
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void lc_buf_put(lc_buf *b, const void *s, size_t n) {
    if (!buf_reserve(b, n)) return;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void lc_buf_puts(lc_buf *b, const char *s) { lc_buf_put(b, s, strlen(s)); }

void lc_buf_putc(lc_buf *b, char c) { lc_buf_put(b, &c, 1); }

void lc_buf_printf(lc_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        lc_buf_put(b, small, (size_t)n);
        return;
    }
    if (!buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void lc_buf_free(lc_buf *b) {
    if (!b) return;
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- floats ------------------------------------------------------ */
/* Python's float_repr_style 'short': the shortest digit string that reads back as
 * the same double (we take the correctly rounded %.{p}e for p = 1..17 and keep the
 * first that round-trips), then fixed notation when -4 <= exponent < 16, else
 * d.ddde+XX with at least two exponent digits. */
void lc_pyjson_float(lc_buf *b, double v) {
    if (isnan(v)) {
        lc_buf_puts(b, "nan");
        return;
    }
    if (isinf(v)) {
        lc_buf_puts(b, v < 0 ? "-inf" : "inf");
        return;
    }
    if (v == 0) {
        lc_buf_puts(b, signbit(v) ? "-0.0" : "0.0");
        return;
    }
    char tmp[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, v);
        if (strtod(tmp, NULL) == v) break;
    }
    /* tmp = [-]d[.ddd]e[+-]XX */
    char digits[32];
    int nd = 0, exp10 = 0;
    const char *s = tmp;
    bool neg = false;
    if (*s == '-') {
        neg = true;
        s++;
    }
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && nd < (int)sizeof digits - 1) digits[nd++] = *s;
    if (*s == 'e') exp10 = atoi(s + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    if (neg) lc_buf_putc(b, '-');
    if (exp10 < -4 || exp10 >= 16) {
        lc_buf_putc(b, digits[0]);
        if (nd > 1) {
            lc_buf_putc(b, '.');
            lc_buf_put(b, digits + 1, (size_t)nd - 1);
        }
        lc_buf_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
        return;
    }
    int decpt = exp10 + 1;     /* digits before the decimal point */
    if (decpt <= 0) {
        lc_buf_puts(b, "0.");
        for (int i = 0; i < -decpt; i++) lc_buf_putc(b, '0');
        lc_buf_put(b, digits, (size_t)nd);
    } else if (decpt >= nd) {
        lc_buf_put(b, digits, (size_t)nd);
        for (int i = nd; i < decpt; i++) lc_buf_putc(b, '0');
        lc_buf_puts(b, ".0");
    } else {
        lc_buf_put(b, digits, (size_t)decpt);
        lc_buf_putc(b, '.');
        lc_buf_put(b, digits + decpt, (size_t)(nd - decpt));
    }
}

/* ---- strings ----------------------------------------------------- */
static void put_string(lc_buf *b, const char *s, size_t n) {
    lc_buf_putc(b, '"');
    size_t run = 0;            /* start of the pending unescaped run */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (c >= 0x20) continue;
        }
        lc_buf_put(b, s + run, i - run);
        if (esc) lc_buf_puts(b, esc);
        else lc_buf_printf(b, "\\u%04x", c);
        run = i + 1;
    }
    lc_buf_put(b, s + run, n - run);
    lc_buf_putc(b, '"');
}

/* ---- values ------------------------------------------------------ */
static void newline(lc_buf *b, int indent, int level) {
    lc_buf_putc(b, '\n');
    for (long i = 0; i < (long)indent * level; i++) lc_buf_putc(b, ' ');
}

static void dump(lc_buf *b, const json_t *x, int indent, int level) {
    if (b->oom) return;
    switch (json_typeof(x)) {
    case JSON_OBJECT: {
        if (json_object_size(x) == 0) {
            lc_buf_puts(b, "{}");
            return;
        }
        lc_buf_putc(b, '{');
        const char *key;
        json_t *val;
        bool first = true;
        /* jansson keeps insertion order; sort_keys=False in the template's tojson */
        json_object_foreach((json_t *)x, key, val) {
            if (!first) lc_buf_puts(b, indent < 0 ? ", " : ",");
            first = false;
            if (indent >= 0) newline(b, indent, level + 1);
            put_string(b, key, strlen(key));
            lc_buf_puts(b, ": ");
            dump(b, val, indent, level + 1);
        }
        if (indent >= 0) newline(b, indent, level);
        lc_buf_putc(b, '}');
        return;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(x);
        if (n == 0) {
            lc_buf_puts(b, "[]");
            return;
        }
        lc_buf_putc(b, '[');
        for (size_t i = 0; i < n; i++) {
            if (i) lc_buf_puts(b, indent < 0 ? ", " : ",");
            if (indent >= 0) newline(b, indent, level + 1);
            dump(b, json_array_get(x, i), indent, level + 1);
        }
        if (indent >= 0) newline(b, indent, level);
        lc_buf_putc(b, ']');
        return;
    }
    case JSON_STRING:
        put_string(b, json_string_value(x), json_string_length(x));
        return;
    case JSON_INTEGER:
        lc_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(x));
        return;
    case JSON_REAL: {
        double v = json_real_value(x);
        /* json.dumps spells the non-finite values like JavaScript */
        if (isnan(v)) lc_buf_puts(b, "NaN");
        else if (isinf(v)) lc_buf_puts(b, v < 0 ? "-Infinity" : "Infinity");
        else lc_pyjson_float(b, v);
        return;
    }
    case JSON_TRUE: lc_buf_puts(b, "true"); return;
    case JSON_FALSE: lc_buf_puts(b, "false"); return;
    case JSON_NULL: lc_buf_puts(b, "null"); return;
    }
}

int lc_pyjson_dump(lc_buf *b, const json_t *x, int indent) {
    dump(b, x, indent, 0);
    return b->oom ? lc_fail(LC_ERR_NOMEM, "json: out of memory") : LC_OK;
}

bool lc_pyjson_str(lc_buf *b, const json_t *x) {
    switch (json_typeof(x)) {
    case JSON_STRING: lc_buf_put(b, json_string_value(x), json_string_length(x)); return true;
    case JSON_INTEGER: lc_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(x)); return true;
    case JSON_REAL: lc_pyjson_float(b, json_real_value(x)); return true;
    case JSON_TRUE: lc_buf_puts(b, "True"); return true;
    case JSON_FALSE: lc_buf_puts(b, "False"); return true;
    case JSON_NULL: lc_buf_puts(b, "None"); return true;
    default: return false;
    }
}
