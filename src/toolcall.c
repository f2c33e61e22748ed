/* toolcall.c - tool calls in Llama 3.1 replies: the parser follows Meta's
 * ToolUtils.maybe_extract_custom_tool_call order (function tag, JSON object, Python
 * list, built-in .call), and the evaluation greedy-decodes held-out prompts and counts
 * well-formed calls of the right tool. Model output is untrusted: every scan is bounded. */
#include "internal.h"
#include "toolcall.h"
#include "pyjson.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>

/* ---- small text helpers ------------------------------------------- */
static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static bool is_word(char c) { return isalnum((unsigned char)c) || c == '_'; }

static bool starts(const char *s, size_t n, const char *pre) {
    size_t l = strlen(pre);
    return n >= l && memcmp(s, pre, l) == 0;
}

static bool ends(const char *s, size_t n, const char *suf) {
    size_t l = strlen(suf);
    return n >= l && memcmp(s + n - l, suf, l) == 0;
}

static void trim(const char **s, size_t *n) {
    while (*n && is_ws(**s)) (*s)++, (*n)--;
    while (*n && is_ws((*s)[*n - 1])) (*n)--;
}

static const char *find(const char *s, size_t n, const char *needle) {
    size_t l = strlen(needle);
    if (l > n) return NULL;
    return memmem(s, n, needle, l);
}

/* ---- the result --------------------------------------------------- */
/* takes args (a JSON object reference); 1 on success, 0 if not representable, < 0 error */
static int finish(const char *nm, size_t nlen, json_t *args, char **name, char **args_json) {
    int rc = 0;
    if (!args || !json_is_object(args) || nlen == 0 || memchr(nm, 0, nlen) || !lc_utf8_valid(nm, nlen)) goto done;
    /* custom-format call of a built-in search tool: {"query": first value} (Meta) */
    static const char *const builtin[] = { "brave_search", "wolfram_alpha", "photogen" };
    for (size_t i = 0; i < LC_ARRAY_LEN(builtin); i++) {
        if (nlen == strlen(builtin[i]) && memcmp(nm, builtin[i], nlen) == 0 && json_object_size(args) > 0 &&
            !json_object_get(args, "query")) {
            void *it = json_object_iter(args);
            json_t *q = json_object();
            if (!q || json_object_set(q, "query", json_object_iter_value(it))) {
                json_decref(q);
                rc = lc_fail(LC_ERR_NOMEM, "toolcall: no memory");
                goto done;
            }
            json_decref(args);
            args = q;
        }
    }
    char *a = json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);
    char *n = malloc(nlen + 1);
    if (!a || !n) {
        free(a);
        free(n);
        rc = lc_fail(LC_ERR_NOMEM, "toolcall: no memory");
        goto done;
    }
    memcpy(n, nm, nlen);
    n[nlen] = 0;
    *name = n;
    *args_json = a;
    rc = 1;
done:
    json_decref(args);
    return rc;
}

/* ---- 1. <function=NAME>{json}</function> ---------------------------- */
/* -1: no tag (try the next format); else the result of finish (0 for bad JSON, like Meta) */
static int parse_function_tag(const char *s, size_t n, char **name, char **args_json) {
    const char *tag = find(s, n, "<function=");
    while (tag) {
        const char *p = tag + 10, *end = s + n;
        const char *gt = memchr(p, '>', (size_t)(end - p));
        if (gt && gt > p && !memchr(p, '}', (size_t)(gt - p)) && !memchr(p, '\n', (size_t)(gt - p))) {
            const char *q = gt + 1;
            while (q < end && is_ws(*q)) q++;
            if (q < end && *q == '{') {
                const char *nm = p;
                size_t nl = (size_t)(gt - p);
                trim(&nm, &nl);
                json_error_t err;
                json_t *args = json_loadb(q, (size_t)(end - q), JSON_DISABLE_EOF_CHECK, &err);
                if (!args) {   /* Meta: json.loads(args.replace("'", '"')) */
                    char *cp = malloc((size_t)(end - q));
                    if (!cp) return lc_fail(LC_ERR_NOMEM, "toolcall: no memory");
                    for (size_t i = 0; i < (size_t)(end - q); i++) cp[i] = q[i] == '\'' ? '"' : q[i];
                    args = json_loadb(cp, (size_t)(end - q), JSON_DISABLE_EOF_CHECK, &err);
                    free(cp);
                }
                return finish(nm, nl, args, name, args_json);
            }
        }
        tag = find(tag + 1, (size_t)(end - tag - 1), "<function=");
    }
    return -1;
}

/* ---- 2. a JSON object -------------------------------------------------- */
static int parse_json_obj(const char *s, size_t n, char **name, char **args_json, bool *was_json) {
    *was_json = false;
    if (!n || s[0] != '{') return 0;
    json_error_t err;
    json_t *root = json_loadb(s, n, 0, &err);
    if (!root) return 0;
    *was_json = true;
    int rc = 0;
    json_t *nm = json_object_get(root, "name");   /* "type": "function" needs a name too */
    if (json_is_string(nm)) {
        json_t *args = json_object_get(root, "parameters");
        if (!args) args = json_object_get(root, "arguments");
        if (json_is_string(args)) {
            args = json_loadb(json_string_value(args), json_string_length(args), 0, &err);
        } else if (!args) {
            args = json_object();
            if (!args) rc = lc_fail(LC_ERR_NOMEM, "toolcall: no memory");
        } else {
            json_incref(args);
        }
        if (!rc) rc = finish(json_string_value(nm), json_string_length(nm), args, name, args_json);
    }
    json_decref(root);
    return rc;
}

/* ---- 3. Python list of calls ---------------------------------------- */
typedef struct py { const char *p, *end; } py;

static void py_ws(py *x) {
    while (x->p < x->end && is_ws(*x->p)) x->p++;
}

static bool py_eat(py *x, char c) {
    py_ws(x);
    if (x->p < x->end && *x->p == c) {
        x->p++;
        return true;
    }
    return false;
}

static bool py_ident(py *x, const char **id, size_t *n) {
    py_ws(x);
    const char *a = x->p;
    if (a >= x->end || !(isalpha((unsigned char)*a) || *a == '_')) return false;
    while (x->p < x->end && is_word(*x->p)) x->p++;
    *id = a;
    *n = (size_t)(x->p - a);
    return true;
}

static void put_utf8(lc_buf *b, uint32_t cp) {
    char u[4];
    int n;
    if (cp < 0x80) u[0] = (char)cp, n = 1;
    else if (cp < 0x800) u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    else if (cp < 0x10000)
        u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    else
        u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    lc_buf_put(b, u, (size_t)n);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* a Python string literal ('...' or "...", one line, common escapes) */
static json_t *py_string(py *x) {
    char q = *x->p++;
    lc_buf b = { 0 };
    json_t *out = NULL;
    while (x->p < x->end && *x->p != q && *x->p != '\n') {
        char c = *x->p++;
        if (c != '\\') {
            lc_buf_putc(&b, c);
            continue;
        }
        if (x->p >= x->end) goto done;
        char e = *x->p++;
        int digits = 0;
        switch (e) {
        case 'n': lc_buf_putc(&b, '\n'); break;
        case 't': lc_buf_putc(&b, '\t'); break;
        case 'r': lc_buf_putc(&b, '\r'); break;
        case '0': lc_buf_putc(&b, '\0'); break;
        case '\\': case '\'': case '"': lc_buf_putc(&b, e); break;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        default: lc_buf_putc(&b, '\\'); lc_buf_putc(&b, e); break;   /* Python keeps unknown escapes */
        }
        if (digits) {
            uint32_t cp = 0;
            for (int i = 0; i < digits; i++) {
                int h = x->p < x->end ? hexval(*x->p) : -1;
                if (h < 0) goto done;
                cp = cp << 4 | (uint32_t)h;
                x->p++;
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto done;
            put_utf8(&b, cp);
        }
    }
    if (x->p >= x->end || *x->p != q || b.oom) goto done;
    x->p++;
    out = json_stringn(b.p ? b.p : "", b.len);   /* NULL for invalid UTF-8 */
done:
    lc_buf_free(&b);
    return out;
}

static json_t *py_number(py *x) {
    const char *a = x->p;
    if (x->p < x->end && (*x->p == '-' || *x->p == '+')) x->p++;
    bool real = false, any = false;
    while (x->p < x->end && (isdigit((unsigned char)*x->p) || *x->p == '.' || *x->p == 'e' || *x->p == 'E' ||
                             ((*x->p == '-' || *x->p == '+') && (x->p[-1] == 'e' || x->p[-1] == 'E')))) {
        if (!isdigit((unsigned char)*x->p)) real = true;
        else any = true;
        x->p++;
    }
    size_t n = (size_t)(x->p - a);
    if (!any || n > 64) return NULL;
    char buf[72];
    memcpy(buf, a, n);
    buf[n] = 0;
    char *e;
    errno = 0;
    if (!real) {
        long long v = strtoll(buf, &e, 10);
        if (*e || errno) return NULL;
        return json_integer(v);
    }
    double d = strtod(buf, &e);
    if (*e || errno || d != d) return NULL;
    return json_real(d);
}

static json_t *py_literal(py *x, int depth) {
    py_ws(x);
    if (x->p >= x->end || depth > 16) return NULL;
    char c = *x->p;
    if (c == '\'' || c == '"') return py_string(x);
    if (c == '-' || c == '+' || c == '.' || isdigit((unsigned char)c)) return py_number(x);
    if (c == '[') {
        x->p++;
        json_t *arr = json_array();
        if (!arr) return NULL;
        if (py_eat(x, ']')) return arr;
        for (;;) {
            json_t *v = py_literal(x, depth + 1);
            if (!v || json_array_append_new(arr, v)) break;
            if (py_eat(x, ']')) return arr;
            if (!py_eat(x, ',')) break;
            if (py_eat(x, ']')) return arr;
        }
        json_decref(arr);
        return NULL;
    }
    const char *id;
    size_t n;
    if (!py_ident(x, &id, &n)) return NULL;
    if (n == 4 && !memcmp(id, "True", 4)) return json_true();
    if (n == 5 && !memcmp(id, "False", 5)) return json_false();
    if (n == 4 && !memcmp(id, "None", 4)) return json_null();
    return NULL;
}

/* one call f(k=v, ...) into *args; the name as a view */
static bool py_call(py *x, const char **nm, size_t *nl, json_t **args) {
    *args = NULL;
    if (!py_ident(x, nm, nl) || !py_eat(x, '(')) return false;
    json_t *a = json_object();
    if (!a) return false;
    if (py_eat(x, ')')) {
        *args = a;
        return true;
    }
    for (;;) {
        const char *k;
        size_t kl;
        if (!py_ident(x, &k, &kl) || !py_eat(x, '=')) break;
        json_t *v = py_literal(x, 0);
        if (!v) break;
        char key[128];
        if (kl >= sizeof key) {
            json_decref(v);
            break;
        }
        memcpy(key, k, kl);
        key[kl] = 0;
        if (json_object_set_new(a, key, v)) break;
        if (py_eat(x, ')')) {
            *args = a;
            return true;
        }
        if (!py_eat(x, ',')) break;
        if (py_eat(x, ')')) {
            *args = a;
            return true;
        }
    }
    json_decref(a);
    return false;
}

static int parse_py_list(const char *s, size_t n, char **name, char **args_json) {
    py x = { s, s + n };
    if (!py_eat(&x, '[')) return 0;
    const char *nm0 = NULL;
    size_t nl0 = 0;
    json_t *args0 = NULL;
    for (int i = 0;; i++) {
        const char *nm;
        size_t nl;
        json_t *args;
        if (!py_call(&x, &nm, &nl, &args)) break;
        if (i == 0) nm0 = nm, nl0 = nl, args0 = args;
        else json_decref(args);
        if (py_eat(&x, ']')) {
            py_ws(&x);
            if (x.p != x.end) break;
            return finish(nm0, nl0, args0, name, args_json);
        }
        if (!py_eat(&x, ',')) break;
    }
    json_decref(args0);
    return 0;
}

/* ---- 4. built-in: NAME.call(query="...") ------------------------------- */
static int parse_builtin(const char *s, size_t n, char **name, char **args_json) {
    static const char pat[] = ".call(query=\"";
    const char *end = s + n, *p = s;
    while ((p = find(p, (size_t)(end - p), pat))) {
        const char *a = p;
        while (a > s && is_word(a[-1])) a--;
        const char *v = p + sizeof pat - 1;
        const char *q = memchr(v, '"', (size_t)(end - v));
        if (a < p && q && q + 1 < end && q[1] == ')') {
            json_t *val = json_stringn(v, (size_t)(q - v)), *args = NULL;
            if (!val) return lc_utf8_valid(v, (size_t)(q - v)) ? lc_fail(LC_ERR_NOMEM, "toolcall: no memory") : 0;
            if (!(args = json_object())) json_decref(val);
            if (!args || json_object_set_new(args, "query", val)) {
                json_decref(args);
                return lc_fail(LC_ERR_NOMEM, "toolcall: no memory");
            }
            return finish(a, (size_t)(p - a), args, name, args_json);
        }
        p++;
    }
    return 0;
}

/* ---- entry point ------------------------------------------------------ */
int lc_toolcall_parse(const char *text, size_t len, char **name, char **args_json) {
    if (!name || !args_json) return lc_fail(LC_ERR_ARG, "toolcall: NULL output pointer");
    *name = *args_json = NULL;
    if (!text && len) return lc_fail(LC_ERR_ARG, "toolcall: NULL text");
    if (!text) return 0;
    const char *s = text;
    size_t n = len;
    trim(&s, &n);
    bool ipython = false;
    if (starts(s, n, "<|python_tag|>")) {
        ipython = true;
        s += 14, n -= 14;
    }
    for (bool again = true; again;) {   /* a trailing end-of-turn / end-of-message token */
        again = false;
        trim(&s, &n);
        if (ends(s, n, "<|eot_id|>") || ends(s, n, "<|eom_id|>")) n -= 10, again = true;
    }
    if (!ipython && starts(s, n, "<|python_tag|>")) {   /* the tag after leading space */
        ipython = true;
        s += 14, n -= 14;
        trim(&s, &n);
    }
    if (!n || memchr(s, 0, n)) return 0;   /* NUL bytes: not a call we can hand on as text */
    int rc = parse_function_tag(s, n, name, args_json);
    if (rc != -1) return rc;
    bool was_json;
    rc = parse_json_obj(s, n, name, args_json, &was_json);
    if (rc || was_json) return rc;
    if ((rc = parse_py_list(s, n, name, args_json))) return rc;
    if ((rc = parse_builtin(s, n, name, args_json))) return rc;
    if (ipython) {
        json_t *code = json_stringn(s, n), *args = NULL;
        if (!code) return lc_utf8_valid(s, n) ? lc_fail(LC_ERR_NOMEM, "toolcall: no memory") : 0;
        if (!(args = json_object())) json_decref(code);
        if (!args || json_object_set_new(args, "code", code)) {
            json_decref(args);
            return lc_fail(LC_ERR_NOMEM, "toolcall: no memory");
        }
        return finish("code_interpreter", 16, args, name, args_json);
    }
    return 0;
}

/* ---- evaluation ----------------------------------------------------------- */
#define EVAL_MAX_NEW 64

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* greedy reply to the prompt ids; reply text (special tokens as text) into *out. The cache
 * keeps the previous prompt: only the part after the common prefix (the system and tools
 * text are shared by most prompts) is evaluated again. */
static int generate(lc_ctx *c, const lc_tok *t, const int32_t *ids, int n_ids, int32_t **prev, int *n_prev,
                    lc_buf *out, int64_t *n_gen) {
    int keep = 0;
    while (keep < *n_prev && keep < n_ids - 1 && (*prev)[keep] == ids[keep]) keep++;
    int rc = lc_ctx_seq_rm(c, -1, keep, -1);
    if (rc) return rc;
    *n_prev = 0;
    int32_t *np = realloc(*prev, (size_t)n_ids * sizeof *np);
    int n_new = n_ids - keep;
    int32_t *pos = malloc((size_t)n_new * sizeof *pos), *seq = calloc((size_t)n_new, sizeof *seq);
    if (np) *prev = np;
    if (!np || !pos || !seq) {
        free(pos);
        free(seq);
        lc_ctx_seq_rm(c, -1, 0, -1);
        return lc_fail(LC_ERR_NOMEM, "toolcall eval: no memory");
    }
    for (int i = 0; i < n_new; i++) pos[i] = keep + i;
    lc_batch b = { n_new, ids + keep, pos, seq, NULL };
    rc = lc_ctx_decode(c, &b);
    free(pos);
    free(seq);
    if (rc) {
        lc_ctx_seq_rm(c, -1, 0, -1);
        return rc;
    }
    memcpy(*prev, ids, (size_t)n_ids * sizeof *ids);
    *n_prev = n_ids;
    int n_vocab = lc_tok_n_vocab(t);
    const float *logits = lc_ctx_logits(c, n_new - 1);
    for (int k = 0; k < EVAL_MAX_NEW; k++) {
        if (!logits) return lc_fail(LC_ERR_FORMAT, "toolcall eval: no logits");
        int32_t id = argmax(logits, n_vocab);
        if (lc_tok_is_eog(t, id)) break;
        (*n_gen)++;
        char piece[256];
        int l = lc_tok_piece(t, id, piece, sizeof piece);
        if (l < 0) return l;
        lc_buf_put(out, piece, (size_t)LC_MIN(l, (int)sizeof piece));
        if (k + 1 == EVAL_MAX_NEW) break;
        int32_t p = n_ids + k, s = 0;
        lc_batch nb = { 1, &id, &p, &s, NULL };
        if ((rc = lc_ctx_decode(c, &nb))) return rc;
        logits = lc_ctx_logits(c, 0);
    }
    return out->oom ? lc_fail(LC_ERR_NOMEM, "toolcall eval: no memory") : LC_OK;
}

static void log_miss(FILE *log, int line, const char *why, const json_t *exp, const lc_buf *reply) {
    if (!log) return;
    char *e = exp ? json_dumps(exp, JSON_COMPACT) : NULL;
    fprintf(log, "line %d: %s; expected %s; got: ", line, why, e ? e : "no call");
    for (size_t i = 0; i < reply->len && i < 300;) {
        const uint8_t *u = (const uint8_t *)reply->p + i;
        int l = lc_utf8_len(u, reply->len - i);
        if (*u == '\n') fputs("\\n", log);
        else if (*u < 0x20 || *u == 0x7f || l == 0) fprintf(log, "\\x%02x", *u);
        else fwrite(u, 1, (size_t)l, log);
        i += l ? (size_t)l : 1;
    }
    fputc('\n', log);
    free(e);
}

int lc_toolcall_eval(lc_model *m, const char *prompts_jsonl, int n, FILE *log, lc_toolcall_stats *out) {
    if (!m || !prompts_jsonl || !out) return lc_fail(LC_ERR_ARG, "toolcall eval: NULL argument");
    memset(out, 0, sizeof *out);
    const lc_tok *t = lc_model_tok(m);
    if (!t) return lc_fail(LC_ERR_ARG, "toolcall eval: the model has no tokenizer");
    if (lc_tok_lookup(t, "<|start_header_id|>") < 0 || lc_tok_lookup(t, "<|eot_id|>") < 0)
        return lc_fail(LC_ERR_UNSUPPORTED, "toolcall eval: the model's tokenizer has no Llama 3 chat tokens");
    FILE *f = fopen(prompts_jsonl, "rb");
    if (!f) return lc_fail(LC_ERR_IO, "%s: %s", prompts_jsonl, strerror(errno));
    lc_ctx_params cp;
    lc_ctx_params_default(&cp);
    lc_ctx *c = NULL;
    int rc = lc_ctx_new(m, &cp, &c);
    if (rc) {
        fclose(f);
        return rc;
    }
    int n_ctx = lc_ctx_n_ctx(c);
    double t0 = lc_time_s();
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int32_t *prev = NULL;   /* the prompt whose tokens the cache holds */
    int n_prev = 0;
    int lineno = 0;
    lc_chat_opts o;
    lc_chat_opts_default(&o);
    while ((n <= 0 || out->n_prompts < n) && (got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t ll = (size_t)got;
        while (ll && is_ws(line[ll - 1])) ll--;
        if (!ll) continue;
        out->n_prompts++;
        json_error_t err;
        json_t *req = json_loadb(line, ll, 0, &err);
        json_t *exp = json_object_get(req, "expected");
        if (!json_is_object(req) || (exp && !json_is_null(exp) && !json_is_object(exp))) {
            out->n_errors++;
            if (log) fprintf(log, "line %d: not a prompt object\n", lineno);
            json_decref(req);
            continue;
        }
        if (json_is_null(exp)) exp = NULL;
        const char *ename = json_string_value(json_object_get(exp, "name"));
        if (exp) out->n_call_expected++;
        else out->n_nocall_expected++;
        int32_t *ids = NULL;
        int n_ids = 0;
        lc_buf reply = { 0 };
        rc = lc_chat_tokenize_json(t, line, ll, &o, &ids, &n_ids);
        if (rc == LC_OK && n_ids + EVAL_MAX_NEW > n_ctx)
            rc = lc_fail(LC_ERR_CONTEXT, "prompt of %d tokens does not fit the context of %d", n_ids, n_ctx);
        if (rc == LC_OK) rc = generate(c, t, ids, n_ids, &prev, &n_prev, &reply, &out->n_gen_tokens);
        free(ids);
        if (rc == LC_ERR_NOMEM || rc == LC_ERR_CANCELLED) {
            json_decref(req);
            lc_buf_free(&reply);
            break;
        }
        if (rc) {
            out->n_errors++;
            if (log) fprintf(log, "line %d: %s\n", lineno, lc_last_error());
            rc = LC_OK;
        } else {
            char *name = NULL, *args = NULL;
            int pr = lc_toolcall_parse(reply.p ? reply.p : "", reply.len, &name, &args);
            if (pr < 0) {
                rc = pr;
                json_decref(req);
                lc_buf_free(&reply);
                break;
            }
            if (!exp) {
                if (pr == 0) out->n_nocall_ok++;
                else log_miss(log, lineno, "unexpected call", NULL, &reply);
            } else if (pr == 1) {
                out->n_wellformed++;
                if (ename && strcmp(name, ename) == 0) {
                    out->n_right_tool++;
                    json_t *pa = json_loads(args, 0, &err);
                    if (json_equal(pa, json_object_get(exp, "arguments"))) out->n_exact_args++;
                    else log_miss(log, lineno, "wrong arguments", exp, &reply);
                    json_decref(pa);
                } else {
                    log_miss(log, lineno, "wrong tool", exp, &reply);
                }
            } else {
                log_miss(log, lineno, "no call", exp, &reply);
            }
            free(name);
            free(args);
        }
        lc_buf_free(&reply);
        json_decref(req);
    }
    free(line);
    free(prev);
    fclose(f);
    lc_ctx_free(c);
    out->seconds = lc_time_s() - t0;
    return rc;
}
