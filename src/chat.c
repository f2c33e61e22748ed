/* chat.c - the Llama 3.1 instruct chat format: renders a conversation exactly as the
 * Hugging Face chat_template.jinja does (jinja2, trim_blocks/lstrip_blocks, tojson =
 * json.dumps(ensure_ascii=False)), and tokenizes it with special tokens recognised
 * only in the bytes the template wrote, never in message content. */
#include "internal.h"
#include "pyjson.h"

#include <jansson.h>

/* Deliberate differences from the raw template, all taken from what OpenAI-style
 * servers (vLLM, HF) do to a request before rendering:
 *  - content given as a list of parts [{"type":"text","text":...}] in system/user/
 *    assistant messages is joined with "\n" (the template would print its repr);
 *  - null or missing content in those messages is "" (the template prints "None"
 *    for null);
 *  - tool-call "arguments" given as a JSON string is parsed first;
 *  - "tool_calls": null, "tools": null and "builtin_tools": null mean absent.
 * Inputs on which the template raises (or Python would raise a TypeError) are
 * LC_ERR_FORMAT: no messages, tools without a first message, several tool calls,
 * non-string builtin-call arguments, a tool message without content, ... So are
 * unknown roles, and object/list content where the template would print a Python
 * repr (a non-part list, or any object/list in a tool message that lands in the
 * tools prompt's first-user-message slot). Tool message content keeps the template
 * quirk: strings, lists and objects are tojson'd, so a string result is quoted.
 * Strings may not contain U+0000 (jansson rejects it; the result is a C string). */

#define DEFAULT_DATE "26 Jul 2024"

/* ---- output with a per-byte "template wrote this" mask ------------- */
typedef struct rnd {
    lc_buf text;
    lc_buf mask;       /* one byte per text byte: 1 = template, specials allowed */
    bool want_mask;
} rnd;

static void mark(rnd *r, char v) {
    if (!r->want_mask) return;
    while (r->mask.len < r->text.len && !r->mask.oom) lc_buf_putc(&r->mask, v);
}

/* template text: special tokens here become ids */
static void tpl(rnd *r, const char *s) {
    lc_buf_puts(&r->text, s);
    mark(r, 1);
}

/* message / tool / caller text: never parsed for special tokens */
static void txt(rnd *r, const char *s, size_t n) {
    lc_buf_put(&r->text, s, n);
    mark(r, 0);
}

static void txts(rnd *r, const char *s) { txt(r, s, strlen(s)); }

/* ---- Python str.strip() ------------------------------------------ */
static bool py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

/* code point at s (valid UTF-8 from jansson); *n = its length */
static uint32_t cp_at(const unsigned char *s, size_t avail, size_t *n) {
    int l = lc_utf8_len(s, avail);
    if (l <= 1) {
        *n = 1;
        return s[0];
    }
    *n = (size_t)l;
    uint32_t c = s[0] & (0x7f >> l);
    for (int i = 1; i < l; i++) c = (c << 6) | (s[i] & 0x3f);
    return c;
}

static void py_strip(const char *s, size_t n, const char **out, size_t *out_n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t a = 0, b = n, l;
    while (a < b && py_space(cp_at(u + a, b - a, &l))) a += l;
    while (b > a) {
        size_t st = b - 1;
        while (st > a && (u[st] & 0xc0) == 0x80) st--;
        if (!py_space(cp_at(u + st, b - st, &l)) || st + l != b) break;
        b = st;
    }
    *out = s + a;
    *out_n = b - a;
}

/* ---- request access ---------------------------------------------- */
static json_t *get(const json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_null(v) ? NULL : v;
}

/* message content as the string `message['content'] | trim` sees (before trimming),
 * appended to tmp */
static int content_str(const json_t *msg, int idx, lc_buf *tmp) {
    const json_t *c = json_object_get(msg, "content");
    const char *role = json_string_value(json_object_get(msg, "role"));
    bool is_tool = strcmp(role, "tool") == 0 || strcmp(role, "ipython") == 0;
    /* null is "" except in tool messages (which reach here only in the first-user-
     * message slot of the tools prompt), where the template's "None" is kept */
    if (!c || (json_is_null(c) && !is_tool)) return LC_OK;
    if (json_is_array(c) && !is_tool) {
        for (size_t i = 0; i < json_array_size(c); i++) {
            const json_t *part = json_array_get(c, i);
            const json_t *type = json_object_get(part, "type");
            const json_t *text = json_object_get(part, "text");
            if (!json_is_object(part) || !json_is_string(type) ||
                strcmp(json_string_value(type), "text") != 0 || !json_is_string(text))
                return lc_fail(LC_ERR_FORMAT,
                               "chat: message %d: content part %zu is not {\"type\": \"text\", "
                               "\"text\": string}", idx, i);
            if (i) lc_buf_putc(tmp, '\n');
            lc_buf_put(tmp, json_string_value(text), json_string_length(text));
        }
        return LC_OK;
    }
    if (!lc_pyjson_str(tmp, c))
        return lc_fail(LC_ERR_FORMAT, "chat: message %d: content must be a string or a list "
                       "of text parts", idx);
    return LC_OK;
}

/* writes content|trim as message text */
static int put_trimmed(rnd *r, const json_t *msg, int idx) {
    lc_buf tmp = {0};
    int rc = content_str(msg, idx, &tmp);
    if (rc == LC_OK && tmp.oom) rc = lc_fail(LC_ERR_NOMEM, "chat: out of memory");
    if (rc == LC_OK && tmp.len) {
        const char *s;
        size_t n;
        py_strip(tmp.p, tmp.len, &s, &n);
        txt(r, s, n);
    }
    lc_buf_free(&tmp);
    return rc;
}

/* t | tojson(indent) as message text */
static int put_json(rnd *r, const json_t *x, int indent) {
    int rc = lc_pyjson_dump(&r->text, x, indent);
    mark(r, 0);
    return rc;
}

static const char *const roles[] = { "system", "user", "assistant", "tool", "ipython" };

static int check_request(const json_t *req, const json_t **msgs, const json_t **tools,
                         const json_t **builtin) {
    if (!json_is_object(req)) return lc_fail(LC_ERR_FORMAT, "chat: request is not a JSON object");
    *msgs = json_object_get(req, "messages");
    if (!*msgs) return lc_fail(LC_ERR_FORMAT, "chat: request has no \"messages\"");
    if (!json_is_array(*msgs)) return lc_fail(LC_ERR_FORMAT, "chat: \"messages\" is not a list");
    if (json_array_size(*msgs) == 0) return lc_fail(LC_ERR_FORMAT, "chat: \"messages\" is empty");
    for (size_t i = 0; i < json_array_size(*msgs); i++) {
        const json_t *m = json_array_get(*msgs, i);
        if (!json_is_object(m)) return lc_fail(LC_ERR_FORMAT, "chat: message %zu is not an object", i);
        const json_t *role = json_object_get(m, "role");
        if (!role) return lc_fail(LC_ERR_FORMAT, "chat: message %zu has no \"role\"", i);
        if (!json_is_string(role))
            return lc_fail(LC_ERR_FORMAT, "chat: message %zu: \"role\" is not a string", i);
        bool known = false;
        for (size_t k = 0; k < LC_ARRAY_LEN(roles); k++)
            known |= strcmp(json_string_value(role), roles[k]) == 0;
        if (!known || strlen(json_string_value(role)) != json_string_length(role))
            return lc_fail(LC_ERR_FORMAT, "chat: message %zu: unknown role \"%.40s\"", i,
                           json_string_value(role));
    }
    *tools = get(req, "tools");
    if (*tools && !json_is_array(*tools)) return lc_fail(LC_ERR_FORMAT, "chat: \"tools\" is not a list");
    *builtin = get(req, "builtin_tools");
    if (*builtin) {
        if (!json_is_array(*builtin)) return lc_fail(LC_ERR_FORMAT, "chat: \"builtin_tools\" is not a list");
        for (size_t i = 0; i < json_array_size(*builtin); i++)
            if (!json_is_string(json_array_get(*builtin, i)))
                return lc_fail(LC_ERR_FORMAT, "chat: builtin_tools[%zu] is not a string", i);
    }
    return LC_OK;
}

static bool str_in(const json_t *list, const char *s) {
    for (size_t i = 0; i < json_array_size(list); i++)
        if (strcmp(json_string_value(json_array_get(list, i)), s) == 0) return true;
    return false;
}

static const char *role_of(const json_t *m) { return json_string_value(json_object_get(m, "role")); }

/* ---- the template ------------------------------------------------- */
static int render_tool_call(rnd *r, const json_t *m, int idx, const json_t *builtin) {
    const json_t *calls = get(m, "tool_calls");
    if (!json_is_array(calls))
        return lc_fail(LC_ERR_FORMAT, "chat: message %d: \"tool_calls\" is not a list", idx);
    if (json_array_size(calls) != 1)
        return lc_fail(LC_ERR_FORMAT, "chat: message %d: this model only supports single "
                       "tool-calls at once (got %zu)", idx, json_array_size(calls));
    const json_t *fn = json_object_get(json_array_get(calls, 0), "function");
    const json_t *name = json_object_get(fn, "name");
    if (!json_is_object(fn) || !json_is_string(name))
        return lc_fail(LC_ERR_FORMAT, "chat: message %d: tool call needs \"function\": "
                       "{\"name\": string, \"arguments\": ...}", idx);
    const char *nm = json_string_value(name);
    json_t *args = json_object_get(fn, "arguments"), *parsed = NULL;
    if (json_is_string(args)) {
        json_error_t err;
        parsed = json_loadb(json_string_value(args), json_string_length(args), JSON_DECODE_ANY, &err);
        if (!parsed)
            return lc_fail(LC_ERR_FORMAT, "chat: message %d: tool call arguments are not valid "
                           "JSON: %s", idx, err.text);
        args = parsed;
    }
    int rc = LC_OK;
    tpl(r, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    if (builtin && str_in(builtin, nm)) {
        /* <|python_tag|>name.call(k="v", ...): the template concatenates strings */
        tpl(r, "<|python_tag|>");
        txts(r, nm);
        tpl(r, ".call(");
        if (args && !json_is_object(args)) {
            rc = lc_fail(LC_ERR_FORMAT, "chat: message %d: builtin tool call arguments are "
                         "not an object", idx);
            goto done;
        }
        const char *k;
        json_t *v;
        bool first = true;
        json_object_foreach(args, k, v) {
            if (!json_is_string(v)) {
                rc = lc_fail(LC_ERR_FORMAT, "chat: message %d: builtin tool call argument "
                             "\"%.40s\" is not a string", idx, k);
                goto done;
            }
            if (!first) tpl(r, ", ");
            first = false;
            txts(r, k);
            tpl(r, "=\"");
            txt(r, json_string_value(v), json_string_length(v));
            tpl(r, "\"");
        }
        tpl(r, ")");
    } else {
        if (!args) {
            rc = lc_fail(LC_ERR_FORMAT, "chat: message %d: tool call has no \"arguments\"", idx);
            goto done;
        }
        tpl(r, "{\"name\": \"");
        txts(r, nm);
        tpl(r, "\", \"parameters\": ");
        if ((rc = put_json(r, args, -1)) != LC_OK) goto done;
        tpl(r, "}");
    }
    tpl(r, builtin ? "<|eom_id|>" : "<|eot_id|>");
done:
    json_decref(parsed);
    return rc;
}

static int render(const json_t *req, const lc_chat_opts *o, rnd *r) {
    const json_t *msgs = NULL, *tools = NULL, *builtin = NULL;
    int rc = check_request(req, &msgs, &tools, &builtin);
    if (rc != LC_OK) return rc;
    lc_chat_opts def;
    if (!o) {
        lc_chat_opts_default(&def);
        o = &def;
    }
    size_t n = json_array_size(msgs), i = 0;

    tpl(r, "<|begin_of_text|>");
    const json_t *sys = NULL;
    if (strcmp(role_of(json_array_get(msgs, 0)), "system") == 0) sys = json_array_get(msgs, i++);

    tpl(r, "<|start_header_id|>system<|end_header_id|>\n\n");
    if (builtin || tools) tpl(r, "Environment: ipython\n");
    if (builtin) {
        tpl(r, "Tools: ");
        bool first = true;
        for (size_t k = 0; k < json_array_size(builtin); k++) {
            const char *b = json_string_value(json_array_get(builtin, k));
            if (strcmp(b, "code_interpreter") == 0) continue;
            if (!first) tpl(r, ", ");
            first = false;
            txts(r, b);
        }
        tpl(r, "\n\n");
    }
    tpl(r, "Cutting Knowledge Date: December 2023\nToday Date: ");
    txts(r, o->date ? o->date : DEFAULT_DATE);
    tpl(r, "\n\n");
    static const char respond[] =
        "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument "
        "name and its value}.Do not use variables.\n\n";
    if (tools && !o->tools_in_user_message) {
        tpl(r, "You have access to the following functions. To call a function, please respond "
               "with JSON for a function call.");
        tpl(r, respond);
        for (size_t k = 0; k < json_array_size(tools); k++) {
            if ((rc = put_json(r, json_array_get(tools, k), 4)) != LC_OK) return rc;
            tpl(r, "\n\n");
        }
    }
    if (sys && (rc = put_trimmed(r, sys, 0)) != LC_OK) return rc;
    tpl(r, "<|eot_id|>");

    if (o->tools_in_user_message && tools) {
        if (i >= n)
            return lc_fail(LC_ERR_FORMAT, "chat: cannot put tools in the first user message "
                           "when there's no first user message");
        tpl(r, "<|start_header_id|>user<|end_header_id|>\n\n");
        tpl(r, "Given the following functions, please respond with a JSON for a function call "
               "with its proper arguments that best answers the given prompt.\n\n");
        tpl(r, respond);
        for (size_t k = 0; k < json_array_size(tools); k++) {
            if ((rc = put_json(r, json_array_get(tools, k), 4)) != LC_OK) return rc;
            tpl(r, "\n\n");
        }
        /* messages[0] whatever its role, as the template does */
        if ((rc = put_trimmed(r, json_array_get(msgs, i), (int)i)) != LC_OK) return rc;
        i++;
        tpl(r, "<|eot_id|>");
    }

    for (; i < n; i++) {
        const json_t *m = json_array_get(msgs, i);
        const char *role = role_of(m);
        bool is_tool = strcmp(role, "tool") == 0 || strcmp(role, "ipython") == 0;
        if (get(m, "tool_calls")) {
            if ((rc = render_tool_call(r, m, (int)i, builtin)) != LC_OK) return rc;
        } else if (is_tool) {
            tpl(r, "<|start_header_id|>ipython<|end_header_id|>\n\n");
            const json_t *c = json_object_get(m, "content");
            if (!c)
                return lc_fail(LC_ERR_FORMAT, "chat: message %zu: tool message has no "
                               "\"content\"", i);
            /* strings, lists and mappings are all iterable: tojson'd */
            if (json_is_string(c) || json_is_array(c) || json_is_object(c)) {
                if ((rc = put_json(r, c, -1)) != LC_OK) return rc;
            } else {
                lc_pyjson_str(&r->text, c);
                mark(r, 0);
            }
            tpl(r, "<|eot_id|>");
        } else {
            tpl(r, "<|start_header_id|>");
            tpl(r, role);
            tpl(r, "<|end_header_id|>\n\n");
            if ((rc = put_trimmed(r, m, (int)i)) != LC_OK) return rc;
            tpl(r, "<|eot_id|>");
        }
    }
    if (o->add_generation_prompt) tpl(r, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    if (r->text.oom || r->mask.oom) return lc_fail(LC_ERR_NOMEM, "chat: out of memory");
    return LC_OK;
}

/* ---- entry points ------------------------------------------------- */
void lc_chat_opts_default(lc_chat_opts *o) {
    memset(o, 0, sizeof *o);
    o->date = NULL;
    o->add_generation_prompt = 1;
    o->tools_in_user_message = 1;
}

static int parse_request(const char *json, size_t len, json_t **out) {
    if (!json) return lc_fail(LC_ERR_ARG, "chat: no request");
    json_error_t err;
    *out = json_loadb(json, len, 0, &err);
    if (!*out)
        return lc_fail(LC_ERR_FORMAT, "chat: bad JSON at line %d column %d: %s", err.line,
                       err.column, err.text);
    return LC_OK;
}

/* the struct form as the same request object {"messages": [{role, content}...]} */
static int build_request(const lc_chat_msg *msgs, int n, json_t **out) {
    *out = NULL;
    if (n < 0 || (n > 0 && !msgs)) return lc_fail(LC_ERR_ARG, "chat: bad message array");
    json_t *req = json_object(), *arr = json_array();
    if (!req || !arr || json_object_set_new(req, "messages", arr) != 0) {
        json_decref(req);
        return lc_fail(LC_ERR_NOMEM, "chat: out of memory");
    }
    for (int i = 0; i < n; i++) {
        if (!msgs[i].role) {
            json_decref(req);
            return lc_fail(LC_ERR_ARG, "chat: message %d has no role", i);
        }
        json_t *m = json_object(), *role = json_string(msgs[i].role);
        json_t *content = msgs[i].content ? json_string(msgs[i].content) : json_null();
        int bad = !m || !role || !content;
        if (bad) {             /* json_string() is NULL for invalid UTF-8 */
            json_decref(m);
            json_decref(role);
            json_decref(content);
        } else {               /* the *_new calls take the references, also on failure */
            bad = json_object_set_new(m, "role", role) | json_object_set_new(m, "content", content);
            if (bad) json_decref(m);
            else bad = json_array_append_new(arr, m);
        }
        if (bad) {
            json_decref(req);
            return lc_fail(LC_ERR_FORMAT, "chat: message %d: role or content is not valid "
                           "UTF-8 (or out of memory)", i);
        }
    }
    *out = req;
    return LC_OK;
}

static int finish_text(rnd *r, int rc, char **out) {
    lc_buf_free(&r->mask);
    if (rc != LC_OK) {
        lc_buf_free(&r->text);
        return rc;
    }
    if (!r->text.p) lc_buf_put(&r->text, "", 0);
    if (r->text.oom) {
        lc_buf_free(&r->text);
        return lc_fail(LC_ERR_NOMEM, "chat: out of memory");
    }
    *out = r->text.p;
    return LC_OK;
}

static int tokenize(const lc_tok *t, const json_t *req, const lc_chat_opts *o, int32_t **ids,
                    int *n_ids) {
    rnd r = { .want_mask = true };
    int rc = render(req, o, &r);
    int32_t *buf = NULL;
    if (rc != LC_OK) goto done;
    if (r.text.len > INT32_MAX - 16) {
        rc = lc_fail(LC_ERR_NOMEM, "chat: prompt too long");
        goto done;
    }
    LC_ASSERT(r.mask.len == r.text.len);
    int cap = (int)r.text.len + 16;    /* a token is at least one byte */
    for (int tries = 0; tries < 2; tries++) {
        free(buf);
        buf = malloc((size_t)cap * sizeof *buf);
        if (!buf) {
            rc = lc_fail(LC_ERR_NOMEM, "chat: out of memory");
            goto done;
        }
        int got = lc_tok_encode_masked(t, r.text.p, r.text.len, (const uint8_t *)r.mask.p, false,
                                       buf, cap);
        if (got < 0) {
            rc = got;
            goto done;
        }
        if (got <= cap) {
            *ids = buf;
            *n_ids = got;
            buf = NULL;
            goto done;
        }
        cap = got;
    }
    rc = lc_fail(LC_ERR_FORMAT, "chat: tokenizer gave inconsistent lengths");
done:
    free(buf);
    lc_buf_free(&r.text);
    lc_buf_free(&r.mask);
    return rc;
}

int lc_chat_render_json(const char *json, size_t len, const lc_chat_opts *o, char **out) {
    if (!out) return lc_fail(LC_ERR_ARG, "chat: no output pointer");
    *out = NULL;
    json_t *req;
    int rc = parse_request(json, len, &req);
    if (rc != LC_OK) return rc;
    rnd r = {0};
    rc = render(req, o, &r);
    json_decref(req);
    return finish_text(&r, rc, out);
}

int lc_chat_tokenize_json(const lc_tok *t, const char *json, size_t len, const lc_chat_opts *o,
                          int32_t **ids, int *n_ids) {
    if (!t || !ids || !n_ids) return lc_fail(LC_ERR_ARG, "chat: bad arguments");
    *ids = NULL;
    *n_ids = 0;
    json_t *req;
    int rc = parse_request(json, len, &req);
    if (rc != LC_OK) return rc;
    rc = tokenize(t, req, o, ids, n_ids);
    json_decref(req);
    return rc;
}

int lc_chat_render(const lc_chat_msg *msgs, int n, const lc_chat_opts *o, char **out) {
    if (!out) return lc_fail(LC_ERR_ARG, "chat: no output pointer");
    *out = NULL;
    json_t *req;
    int rc = build_request(msgs, n, &req);
    if (rc != LC_OK) return rc;
    rnd r = {0};
    rc = render(req, o, &r);
    json_decref(req);
    return finish_text(&r, rc, out);
}

int lc_chat_tokenize(const lc_tok *t, const lc_chat_msg *msgs, int n, const lc_chat_opts *o,
                     int32_t **ids, int *n_ids) {
    if (!t || !ids || !n_ids) return lc_fail(LC_ERR_ARG, "chat: bad arguments");
    *ids = NULL;
    *n_ids = 0;
    json_t *req;
    int rc = build_request(msgs, n, &req);
    if (rc != LC_OK) return rc;
    rc = tokenize(t, req, o, ids, n_ids);
    json_decref(req);
    return rc;
}
