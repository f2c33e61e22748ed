/* pyjson.h - a growable byte buffer and a JSON writer that reproduces Python's
 * json.dumps(x, ensure_ascii=False, indent=indent) byte for byte (what the Hugging
 * Face chat templates' `tojson` filter prints). Used by the chat renderer. */
#ifndef LC_PYJSON_H
#define LC_PYJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- growable buffer ------------------------------------------- */
/* zero-initialise; failures are sticky in `oom` (later appends do nothing).
 * p is always NUL-terminated once anything was appended. */
typedef struct lc_buf {
    char *p;
    size_t len, cap;
    bool oom;
} lc_buf;

void lc_buf_put(lc_buf *b, const void *s, size_t n);
void lc_buf_puts(lc_buf *b, const char *s);
void lc_buf_putc(lc_buf *b, char c);
void lc_buf_printf(lc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lc_buf_free(lc_buf *b);

/* ---- Python-compatible JSON ------------------------------------ */
/* appends json.dumps(x, ensure_ascii=False, indent=indent); indent < 0 means None
 * (one line, ", " and ": "). Returns LC_OK or LC_ERR_NOMEM. */
int lc_pyjson_dump(lc_buf *b, const json_t *x, int indent);
/* appends Python's repr(float(v)): shortest round-trip digits, "1.0", "1e-05", "1e+16" */
void lc_pyjson_float(lc_buf *b, double v);
/* appends Python's str() of a scalar as Jinja would print it: strings raw, ints,
 * floats as repr, True/False/None. Arrays/objects are not scalars: returns false. */
bool lc_pyjson_str(lc_buf *b, const json_t *x);

#endif
