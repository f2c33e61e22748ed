/* llamac.c - the llamac program: raw completion (run), multi-turn chat, chat-prompt
 * rendering, tokenizer tools, logits dumps and model info. Uses only the public API
 * (llamac.h), libc and libedit. Every failure is one "error: ..." line on stderr and
 * exit status 1; usage errors exit 1 as well. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <editline/readline.h>


/* ---- usage texts ------------------------------------------------- */
static const char USAGE_HEAD[] =
    "usage: llamac COMMAND [options]     (llamac COMMAND --help for its options)\n"
    "\n"
    "commands:\n";
static const char USAGE_TAIL[] =
    "\n"
    "  -h, --help     this text\n"
    "  --version      print the version\n"
    "\n"
    "MODEL is a .gguf file or a Hugging Face folder (config.json, *.safetensors, tokenizer.json).\n";

static const char USAGE_RUN[] =
    "usage: llamac run -m MODEL (-p PROMPT | -f PROMPTFILE | --tokens \"ID ...\") [options]\n"
    "Raw completion: the prompt is tokenized (with BOS), evaluated, and the continuation is\n"
    "streamed to stdout until an end-of-generation token, -n tokens, a stop string or the\n"
    "end of the context.\n"
    "\n"
    "  -p, --prompt PROMPT    prompt text\n"
    "  -f, --file PROMPTFILE  read the prompt from a file (- for stdin)\n"
    "  --tokens \"ID ...\"      prompt as token ids (spaces or commas between them; no BOS added)\n"
    "  -n, --n-predict N      tokens to generate, -1: until end of generation or context (default 256)\n"
    "  --special              parse special-token text (<|eot_id|> ...) in the prompt and\n"
    "                         print special tokens the model generates\n"
    "  --no-bos               do not prepend the BOS token\n"
    "  --echo                 print the prompt text before the continuation\n"
    "  --print-ids            print the generated token ids (space separated) instead of text\n"
    SAMPLING_HELP
    COMMON_HELP
    "\n"
    "With --verbose the stop reason is printed as \"stop: eot|eom|end_of_text|eos|length|\n"
    "stop_string|context|interrupted\", followed by timings, peak memory and KV cache size.\n";

static const char USAGE_CHAT[] =
    "usage: llamac chat -m MODEL [options]\n"
    "Multi-turn chat in the Llama 3.1 instruct format. On a terminal: line editing and\n"
    "history, Ctrl-C stops the current answer (or clears the input line), Ctrl-D or /exit\n"
    "quits, /reset forgets the conversation, /help lists the commands. From a pipe: each\n"
    "input line is one user turn and each answer is printed followed by a newline.\n"
    "When the conversation no longer fits the context, the oldest turns are dropped\n"
    "(the system message is kept) and a note is printed on stderr.\n"
    "\n"
    "  --system TEXT          system message\n"
    "  --date DATE            \"Today Date\" of the system header (default \"26 Jul 2024\")\n"
    "  -n, --n-predict N      most tokens per answer, -1: no limit (default -1)\n"
    SAMPLING_HELP
    COMMON_HELP;

static const char USAGE_PROMPT[] =
    "usage: llamac prompt [-m MODEL] -f REQUEST.json [options]\n"
    "Prints the exact prompt text (special tokens as text, no newline added) for an\n"
    "OpenAI-style chat request body: \"messages\", optional \"tools\" and \"builtin_tools\".\n"
    "The format is always Llama 3.1 (HF template semantics); a model's own Jinja template\n"
    "is not run, so -m is accepted but does not change the output.\n"
    "\n"
    "  -f, --file FILE          the request JSON (- for stdin)\n"
    "  -m, --model MODEL        accepted for symmetry; ignored\n"
    "  --date DATE              \"Today Date\" of the system header (default \"26 Jul 2024\")\n"
    "  --no-generation-prompt   do not append the assistant header\n"
    "  --tools-in-system        put custom tool definitions in the system message\n"
    "                           (default: in the first user message, as HF does)\n"
    "  -h, --help               this text\n";

static const char USAGE_TOKENIZE[] =
    "usage: llamac tokenize -m MODEL|TOKENIZER [options] [-f FILE | TEXT...]\n"
    "Prints the token ids of the text on one line, separated by spaces. TEXT arguments are\n"
    "joined with single spaces; without TEXT or -f the text is read from stdin.\n"
    "MODEL may be a .gguf (only its tokenizer is read), a tokenizer.json, a tokenizer.model\n"
    "or a Hugging Face folder.\n"
    "\n"
    "  -m, --model PATH       model or tokenizer (required)\n"
    "  -f, --file FILE        read the text from a file (- for stdin)\n"
    "  --bos                  prepend the BOS token\n"
    "  --special              parse special-token text (<|eot_id|> ...) into ids\n"
    "  --pieces               print one token per line: id, a tab, and its text (escaped)\n"
    "  -h, --help             this text\n";

static const char USAGE_DETOKENIZE[] =
    "usage: llamac detokenize -m MODEL|TOKENIZER IDS...\n"
    "Prints the text of the token ids (special tokens as their text). Ids may be given as\n"
    "separate arguments or in one quoted list separated by spaces or commas.\n"
    "\n"
    "  -m, --model PATH       model or tokenizer (required)\n"
    "  -h, --help             this text\n";

static const char USAGE_LOGITS[] =
    "usage: llamac logits -m MODEL --tokens \"ID ID ...\" -o OUT [options]\n"
    "Evaluates the tokens as one sequence from position 0 and writes the logits of every\n"
    "token: n_tokens * n_vocab little-endian float32 values, token-major.\n"
    "\n"
    "  --tokens \"ID ...\"      token ids, separated by spaces or commas (required)\n"
    "  -o, --output OUT       output file (required)\n"
    "  -m, --model MODEL      .gguf file or Hugging Face folder (required)\n"
    "  --ctx N                context size (default: the model's, at most 8192)\n"
    "  -t, --threads N        worker threads, 0: all cores (default 0)\n"
    "  --verbose              load progress on stderr\n"
    "  --exact                reference math (float32 activations, dequantized weights)\n"
    "  -h, --help             this text\n";

static const char USAGE_INFO[] =
    "usage: llamac info -m MODEL [options]\n"
    "Describes a model: architecture, shapes, parameter count, tensor types, rope and norm\n"
    "settings, tokenizer and special tokens, chat template, and the memory needed to run it.\n"
    "\n"
    "  -m, --model MODEL      .gguf file or Hugging Face folder (required)\n"
    "  --ctx N                context size for the memory estimate (default: the model's,\n"
    "                         at most 8192)\n"
    "  -t, --threads N        threads for the compute-buffer estimate, 0: all cores\n"
    "  --tensors              also list every tensor: name, type, shape, bytes\n"
    "  --verbose              load progress on stderr\n"
    "  -h, --help             this text\n";

/* the evaluation state of one sequence (seq 0) and what its KV cache holds */
typedef struct gen {
    lc_ctx *ctx;
    const lc_tok *tok;
    lc_sampler *smp;
    int n_vocab, n_ctx, n_batch;
    int32_t *hist;      /* [n_ctx] ids in the KV cache, position i = hist[i] */
    int n_hist;
    int last;           /* batch index of the newest logits, -1: none */
    int32_t *pos, *seq; /* [n_batch] scratch */
} gen;

static int gen_init(gen *g, lc_model *m, const opts *o) {
    memset(g, 0, sizeof *g);
    g->last = -1;
    g->tok = lc_model_tok(m);
    g->n_vocab = lc_model_get_info(m)->n_vocab;   /* logits per token */
    lc_ctx_params cp;
    lc_ctx_params_default(&cp);
    if (o->n_ctx > 0) cp.n_ctx = o->n_ctx;
    cp.n_threads = o->n_threads;
    cp.exact = o->exact;
    int rc = lc_ctx_new(m, &cp, &g->ctx);
    if (rc != LC_OK) return fail_lib(rc, "context");
    g->n_ctx = lc_ctx_n_ctx(g->ctx);
    g->n_batch = cp.n_batch > 0 ? cp.n_batch : 512;
    g->hist = malloc((size_t)g->n_ctx * sizeof *g->hist);
    g->pos = malloc((size_t)g->n_batch * sizeof *g->pos);
    g->seq = calloc((size_t)g->n_batch, sizeof *g->seq);
    if (!g->hist || !g->pos || !g->seq) return fail("out of memory");
    return 0;
}

static void gen_free(gen *g) {
    lc_sampler_free(g->smp);
    lc_ctx_free(g->ctx);
    free(g->hist);
    free(g->pos);
    free(g->seq);
    memset(g, 0, sizeof *g);
}

/* forgets the cache from position k on */
static void gen_rewind(gen *g, int k) {
    if (k < g->n_hist) lc_ctx_seq_rm(g->ctx, 0, k, -1);
    g->n_hist = k;
    g->last = -1;
}

/* evaluates ids at the next positions in chunks of n_batch; on failure the cache is put
 * back to what hist records. Returns LC_OK or the library's code. */
static int gen_feed(gen *g, const int32_t *ids, int n) {
    if (n > g->n_ctx - g->n_hist) return LC_ERR_CONTEXT;
    for (int off = 0; off < n; off += g->n_batch) {
        int k = n - off < g->n_batch ? n - off : g->n_batch;
        for (int j = 0; j < k; j++) g->pos[j] = g->n_hist + j;
        lc_batch b = { .n_tokens = k, .token = ids + off, .pos = g->pos, .seq_id = g->seq };
        int rc = lc_ctx_decode(g->ctx, &b);
        if (rc != LC_OK) {
            lc_ctx_seq_rm(g->ctx, 0, g->n_hist, -1);
            g->last = -1;
            return rc;
        }
        memcpy(g->hist + g->n_hist, ids + off, (size_t)k * sizeof *ids);
        g->n_hist += k;
        g->last = k - 1;
    }
    return LC_OK;
}

/* where generated tokens go: stdout (text or ids), an optional collected copy */
typedef struct sink {
    lc_detok dt;
    lc_stopper *stop;    /* NULL: no stop strings */
    int print_ids, show_special;
    int n_ids;           /* ids printed so far */
    sbuf *collect;       /* NULL: do not keep the text */
    size_t n_out;        /* text bytes shown */
} sink;

/* set when stdout cannot be written (a full disk, a closed pipe): generation stops */
static int g_write_err;

static void sink_out(sink *s, const char *p, size_t n) {
    if (!n) return;
    if (!s->print_ids && (fwrite(p, 1, n, stdout) != n || fflush(stdout) != 0)) g_write_err = 1;
    if (s->collect) sbuf_add(s->collect, p, n);
    s->n_out += n;
}

/* text through the stop strings; 1 when a stop string completed */
static int sink_text(sink *s, const char *p, size_t n) {
    if (!s->stop) {
        sink_out(s, p, n);
        return 0;
    }
    const char *e;
    size_t ne;
    int hit = lc_stopper_push(s->stop, p, n, &e, &ne);
    sink_out(s, e, ne);
    return hit == 1;
}

static int sink_token(sink *s, const lc_tok *t, int32_t id) {
    if (s->print_ids) {
        if (printf("%s%d", s->n_ids ? " " : "", (int)id) < 0 || fflush(stdout) != 0) g_write_err = 1;
        s->n_ids++;
    }
    if (g_write_err) return 1;
    if (lc_tok_is_special(t, id) && !s->show_special) return 0;
    char buf[4096];
    int n = lc_detok_push(&s->dt, t, id, buf, sizeof buf);
    if (n <= 0) return 0;
    return sink_text(s, buf, (size_t)n > sizeof buf ? sizeof buf : (size_t)n);
}

/* the end of an answer: held UTF-8 bytes and held stop-string prefixes */
static void sink_end(sink *s, int stopped) {
    if (!stopped) {
        char buf[64];
        int n = lc_detok_flush(&s->dt, buf, sizeof buf);
        if (n > 0 && sink_text(s, buf, (size_t)n > sizeof buf ? sizeof buf : (size_t)n)) stopped = 1;
    }
    if (!stopped && s->stop) {
        const char *e;
        size_t ne;
        lc_stopper_flush(s->stop, &e, &ne);
        sink_out(s, e, ne);
    }
    s->dt.n_held = 0;
    if (s->print_ids && s->n_ids) {
        putchar('\n');
        fflush(stdout);
    }
}

static const char *eog_name(const lc_tok *t, int32_t id) {
    if (id == lc_tok_lookup(t, "<|eot_id|>")) return "eot";
    if (id == lc_tok_lookup(t, "<|eom_id|>")) return "eom";
    if (id == lc_tok_lookup(t, "<|end_of_text|>")) return "end_of_text";
    return "eos";
}

/* samples and streams tokens until end of generation, n_predict tokens (< 0: no limit),
 * a stop string, a full context or g_stop. The logits of g->last must be ready.
 * Returns LC_OK (with *reason) or a library error code. */
static int generate(gen *g, sink *s, int n_predict, const char **reason, int *n_gen) {
    *reason = "length";
    *n_gen = 0;
    int stopped = 0, rc = LC_OK;
    while (n_predict < 0 || *n_gen < n_predict) {
        if (g_stop) {
            *reason = "interrupted";
            break;
        }
        const float *lg = g->last >= 0 ? lc_ctx_logits(g->ctx, g->last) : NULL;
        if (!lg) {
            rc = LC_ERR_ARG;
            fail("no logits to sample from");
            break;
        }
        int32_t id = lc_sampler_sample(g->smp, lg);
        if (id < 0 || id >= g->n_vocab) {
            rc = id < 0 ? id : LC_ERR_ARG;
            fail_lib(rc, "sampler");
            break;
        }
        lc_sampler_accept(g->smp, id);
        if (lc_tok_is_eog(g->tok, id)) {
            *reason = eog_name(g->tok, id);
            break;
        }
        ++*n_gen;
        if (sink_token(s, g->tok, id)) {
            *reason = g_write_err ? "write_error" : "stop_string";
            stopped = 1;
            break;
        }
        if (n_predict >= 0 && *n_gen >= n_predict) break;
        if (g->n_hist >= g->n_ctx) {
            *reason = "context";
            break;
        }
        rc = gen_feed(g, &id, 1);
        if (rc == LC_ERR_CONTEXT) {
            *reason = "context";
            rc = LC_OK;
            break;
        }
        if (rc == LC_ERR_CANCELLED) {
            *reason = "interrupted";
            rc = LC_OK;
            break;
        }
        if (rc != LC_OK) {
            fail_lib(rc, "decode");
            break;
        }
    }
    sink_end(s, stopped);
    return rc;
}

static int new_sampler(gen *g, const opts *o) {
    int rc = lc_sampler_new(&o->sp, g->n_vocab, &g->smp);
    if (rc != LC_OK) return fail_lib(rc, "sampler");
    return 0;
}

static int new_stopper(const opts *o, lc_stopper **st) {
    *st = NULL;
    if (!o->n_stops) return 0;
    int rc = lc_stopper_new(o->stops, o->n_stops, st);
    if (rc != LC_OK) return fail_lib(rc, "--stop");
    return 0;
}

/* ---- run ----------------------------------------------------------------- */
static int cmd_run(int argc, char **argv) {
    opts o;
    opts_init(&o, "run", 256);
    const char *prompt = NULL, *prompt_file = NULL, *tokens = NULL;
    int special = 0, no_bos = 0, echo = 0, print_ids = 0;
    for (int i = 1; i < argc && !g_bad; i++) {
        const char *a = argv[i], *v;
        if (is_help(a)) {
            fputs(USAGE_RUN, stdout);
            return 0;
        } else if (opt_common(argc, argv, &i, &o) || opt_sampling(argc, argv, &i, &o)) {
        } else if (take(argc, argv, &i, "-p", "--prompt", &v)) prompt = v;
        else if (take(argc, argv, &i, "-f", "--file", &v)) prompt_file = v;
        else if (take(argc, argv, &i, NULL, "--tokens", &v)) tokens = v;
        else if (is_flag(a, NULL, "--special")) special = 1;
        else if (is_flag(a, NULL, "--no-bos")) no_bos = 1;
        else if (is_flag(a, NULL, "--echo")) echo = 1;
        else if (is_flag(a, NULL, "--print-ids")) print_ids = 1;
        else unknown_arg("run", a);
    }
    if (g_bad) return 1;
    if (!o.model) return usage_fail("run", "missing -m MODEL");
    if (!!prompt + !!prompt_file + !!tokens != 1)
        return usage_fail("run", "give exactly one of -p PROMPT, -f PROMPTFILE, --tokens IDS");
    seed_default(&o);

    int ret = 1, rc;
    char *text = NULL;
    size_t text_len = 0;
    int32_t *ids = NULL;
    int n_ids = 0;
    lc_model *m = NULL;
    lc_stopper *stop = NULL;
    gen g;
    memset(&g, 0, sizeof g);

    if (prompt_file) {
        if (!(text = read_all(prompt_file, &text_len))) goto done;
    } else if (prompt) {
        if (!(text = strdup(prompt))) goto done;
        text_len = strlen(text);
    }
    double t0 = now_s();
    if (load_model(&o, &m)) goto done;
    double t_load = now_s() - t0;
    if (gen_init(&g, m, &o)) goto done;
    if (lc_tok_n_vocab(g.tok) <= 0) {
        if (!tokens) {
            fail("%s: the model has no tokenizer (give the prompt with --tokens)", o.model);
            goto done;
        }
        print_ids = 1;
    }

    if (tokens) {
        if (parse_ids("--tokens", tokens, g.n_vocab, &ids, &n_ids)) goto done;
    } else {
        int flags = (no_bos ? 0 : LC_TOK_BOS) | (special ? LC_TOK_SPECIAL : 0);
        int cap = (int)(text_len < 1000000 ? text_len : 1000000) + 16;
        for (;;) {
            free(ids);
            if (!(ids = malloc((size_t)cap * sizeof *ids))) {
                fail("out of memory");
                goto done;
            }
            n_ids = lc_tok_encode(g.tok, text, text_len, flags, ids, cap);
            if (n_ids < 0) {
                fail_lib(n_ids, "tokenize");
                goto done;
            }
            if (n_ids <= cap) break;
            cap = n_ids;
        }
    }
    if (n_ids == 0) {
        fail("the prompt is empty (no tokens)");
        goto done;
    }
    if (n_ids > g.n_ctx) {
        fail("prompt is %d tokens, context is %d (use --ctx)", n_ids, g.n_ctx);
        goto done;
    }
    if (new_sampler(&g, &o) || new_stopper(&o, &stop)) goto done;
    for (int i = 0; i < n_ids; i++) lc_sampler_accept(g.smp, ids[i]);

    catch_sigint();
    lc_ctx_set_abort(g.ctx, &g_stop);
    double t1 = now_s();
    rc = gen_feed(&g, ids, n_ids);
    if (rc == LC_ERR_CANCELLED) {
        fail("interrupted");
        goto done;
    }
    if (rc != LC_OK) {
        fail_lib(rc, "decode");
        goto done;
    }
    double t_prompt = now_s() - t1;
    if (echo && !print_ids) {
        if (text) fwrite(text, 1, text_len, stdout);
        else {
            lc_detok dt = { .n_held = 0 };
            char buf[4096];
            for (int i = 0; i < n_ids; i++) {
                int n = lc_detok_push(&dt, g.tok, ids[i], buf, sizeof buf);
                if (n > 0) fwrite(buf, 1, (size_t)n, stdout);
            }
            int n = lc_detok_flush(&dt, buf, sizeof buf);
            if (n > 0) fwrite(buf, 1, (size_t)n, stdout);
        }
        fflush(stdout);
    }

    sink s = { .stop = stop, .print_ids = print_ids, .show_special = special };
    const char *reason;
    int n_gen;
    double t2 = now_s();
    rc = generate(&g, &s, o.n_predict, &reason, &n_gen);
    double t_gen = now_s() - t2;
    if (rc != LC_OK) goto done;
    if (!print_ids && s.n_out && isatty(STDOUT_FILENO)) putchar('\n');
    if (fflush(stdout) != 0 || ferror(stdout)) g_write_err = 1;
    if (g_write_err) {
        fail("stdout: write error");
        rc = LC_ERR_IO;
        goto done;
    }
    if (o.verbose) {
        char b1[32], b2[32];
        fprintf(stderr, "stop: %s\n", reason);
        fprintf(stderr, "seed: %llu\n", (unsigned long long)o.sp.seed);
        fprintf(stderr, "load: %.2f s\n", t_load);
        fprintf(stderr, "prompt: %d tokens, %.2f s, %.1f tokens/s\n", n_ids, t_prompt,
                t_prompt > 0 ? n_ids / t_prompt : 0.0);
        fprintf(stderr, "generated: %d tokens, %.2f s, %.1f tokens/s\n", n_gen, t_gen,
                t_gen > 0 ? n_gen / t_gen : 0.0);
        fprintf(stderr, "peak memory: %s, KV cache: %s (%d cells)\n",
                human_bytes((double)peak_rss(), b1, sizeof b1),
                human_bytes((double)lc_ctx_kv_bytes(g.ctx), b2, sizeof b2), g.n_ctx);
    }
    ret = 0;
done:
    lc_stopper_free(stop);
    gen_free(&g);
    lc_model_free(m);
    free(ids);
    free(text);
    return ret;
}

/* ---- chat ------------------------------------------------------------------ */
typedef struct chat {
    gen g;
    opts o;
    lc_chat_opts co;
    lc_stopper *stop;
    lc_chat_msg *msg;    /* role is a literal, content malloc'd */
    int n_msg, cap_msg;
    int n_fixed;         /* leading messages never dropped (the system message) */
    int plain;           /* tokenizer lacks the chat tokens: encode the rendered text */
    int tty;
} chat;

static int chat_push(chat *c, const char *role, const char *content, size_t len) {
    if (c->n_msg == c->cap_msg) {
        int cap = c->cap_msg ? c->cap_msg * 2 : 16;
        lc_chat_msg *nm = realloc(c->msg, (size_t)cap * sizeof *nm);
        if (!nm) return -1;
        c->msg = nm;
        c->cap_msg = cap;
    }
    char *s = malloc(len + 1);
    if (!s) return -1;
    memcpy(s, content, len);
    s[len] = 0;
    c->msg[c->n_msg].role = role;
    c->msg[c->n_msg].content = s;
    c->n_msg++;
    return 0;
}

static void chat_drop(chat *c, int from, int n) {
    if (n <= 0) return;
    for (int i = from; i < from + n; i++) free((char *)c->msg[i].content);
    memmove(c->msg + from, c->msg + from + n, (size_t)(c->n_msg - from - n) * sizeof *c->msg);
    c->n_msg -= n;
}

static void chat_reset(chat *c) {
    chat_drop(c, c->n_fixed, c->n_msg - c->n_fixed);
    gen_rewind(&c->g, 0);
    lc_ctx_seq_rm(c->g.ctx, -1, 0, -1);
    lc_sampler_reset(c->g.smp);
}

/* the whole conversation as ids, with the generation prompt */
static int chat_ids(chat *c, int32_t **ids, int *n_ids) {
    if (!c->plain) return lc_chat_tokenize(c->g.tok, c->msg, c->n_msg, &c->co, ids, n_ids);
    char *text = NULL;
    int rc = lc_chat_render(c->msg, c->n_msg, &c->co, &text);
    if (rc != LC_OK) return rc;
    size_t len = strlen(text);
    int cap = (int)(len < 1000000 ? len : 1000000) + 16;
    int32_t *v = NULL;
    for (;;) {
        free(v);
        if (!(v = malloc((size_t)cap * sizeof *v))) {
            free(text);
            return LC_ERR_NOMEM;
        }
        int n = lc_tok_encode(c->g.tok, text, len, 0, v, cap);
        if (n < 0) {
            free(v);
            free(text);
            return n;
        }
        if (n <= cap) {
            *ids = v;
            *n_ids = n;
            free(text);
            return LC_OK;
        }
        cap = n;
    }
}

/* one user turn: prompt, reuse of the cached prefix, streamed answer. 0 or 1 (error shown) */
static int chat_turn(chat *c, const char *line, size_t len) {
    gen *g = &c->g;
    int32_t *ids = NULL;
    int n_ids = 0, rc;
    if (chat_push(c, "user", line, len)) return fail("out of memory");
    int reserve = c->o.n_predict >= 0 ? c->o.n_predict + 1 : g->n_ctx / 4;
    if (reserve > g->n_ctx / 2) reserve = g->n_ctx / 2;
    for (;;) {
        free(ids);
        ids = NULL;
        rc = chat_ids(c, &ids, &n_ids);
        if (rc != LC_OK) {
            chat_drop(c, c->n_msg - 1, 1);
            return fail_lib(rc, "chat");
        }
        if (n_ids + reserve <= g->n_ctx) break;
        /* drop the oldest turn: its user message and the replies up to the next user message */
        int first = c->n_fixed, end = first + 1;
        while (end < c->n_msg && strcmp(c->msg[end].role, "user")) end++;
        if (end < c->n_msg) {
            fprintf(stderr, "note: the conversation no longer fits the context (%d tokens); dropping the oldest turn\n",
                    g->n_ctx);
            chat_drop(c, first, end - first);
            continue;
        }
        if (n_ids < g->n_ctx) break;
        free(ids);
        chat_drop(c, c->n_msg - 1, 1);
        return fail("message is too long: the prompt is %d tokens, context is %d (use --ctx)", n_ids,
                    g->n_ctx);
    }

    /* keep the cached prefix that matches; at least one token is evaluated for logits */
    int k = 0;
    while (k < g->n_hist && k < n_ids && g->hist[k] == ids[k]) k++;
    if (k >= n_ids) k = n_ids - 1;
    gen_rewind(g, k);
    g_stop = 0;
    double t0 = now_s();
    rc = gen_feed(g, ids + k, n_ids - k);
    double t_prompt = now_s() - t0;
    free(ids);
    if (rc == LC_ERR_CANCELLED) {
        chat_drop(c, c->n_msg - 1, 1);
        fputc('\n', stderr);
        return 0;
    }
    if (rc != LC_OK) {
        chat_drop(c, c->n_msg - 1, 1);
        return fail_lib(rc, "decode");
    }

    sbuf answer = { 0 };
    sink s = { .stop = c->stop, .collect = &answer };
    const char *reason;
    int n_gen;
    t0 = now_s();
    rc = generate(g, &s, c->o.n_predict, &reason, &n_gen);
    double t_gen = now_s() - t0;
    putchar('\n');
    fflush(stdout);
    if (rc != LC_OK) {
        free(answer.p);
        chat_drop(c, c->n_msg - 1, 1);
        return 1;
    }
    if (!strcmp(reason, "context"))
        fprintf(stderr, "note: the context is full (%d tokens); the oldest turns will be dropped\n",
                g->n_ctx);
    if (!strcmp(reason, "interrupted") && !answer.n) chat_drop(c, c->n_msg - 1, 1);
    else if (chat_push(c, "assistant", answer.p ? answer.p : "", answer.n)) {
        free(answer.p);
        return fail("out of memory");
    }
    free(answer.p);
    if (c->o.verbose)
        fprintf(stderr, "stop: %s | prompt %d tokens (%d new, %.1f tokens/s) | %d tokens, %.1f tokens/s\n",
                reason, n_ids, n_ids - k, t_prompt > 0 ? (n_ids - k) / t_prompt : 0.0, n_gen,
                t_gen > 0 ? n_gen / t_gen : 0.0);
    return 0;
}

static const char CHAT_HELP[] =
    "commands:\n"
    "  /reset   forget the conversation (keeps the system message)\n"
    "  /exit    quit (Ctrl-D does too)\n"
    "  /help    this text\n"
    "Ctrl-C stops an answer, or clears the input line.\n";

/* a command line (/exit, /reset, /help): 1 handled, 2 quit, 0 not a command */
static int chat_command(chat *c, const char *line) {
    if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) return 2;
    if (!strcmp(line, "/reset")) {
        chat_reset(c);
        fprintf(stderr, "(conversation cleared)\n");
        return 1;
    }
    if (!strcmp(line, "/help")) {
        fputs(CHAT_HELP, c->tty ? stdout : stderr);
        return 1;
    }
    return 0;
}

/* reads one character for libedit; a Ctrl-C (g_stop) ends the line with EOF */
static int chat_getc(FILE *f) {
    for (;;) {
        unsigned char ch;
        ssize_t r = read(fileno(f), &ch, 1);
        if (r == 1) return ch;
        if (r < 0 && errno == EINTR) {
            if (g_stop) return EOF;
            continue;
        }
        return EOF;
    }
}

static int chat_loop_tty(chat *c) {
    int ret = 0;
    rl_getc_function = chat_getc;
    for (;;) {
        g_stop = 0;
        char *line = readline("> ");
        if (g_stop) {   /* Ctrl-C at the prompt: drop the line, ask again */
            free(line);
            fputc('\n', stdout);
            continue;
        }
        if (!line) {
            fputc('\n', stdout);
            break;
        }
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len) {
            free(line);
            continue;
        }
        add_history(line);
        int cmd = chat_command(c, line);
        if (cmd == 2) {
            free(line);
            break;
        }
        if (!cmd) ret |= chat_turn(c, line, len);
        free(line);
        if (g_write_err) return 1;
    }
    return ret;
}

static int chat_loop_pipe(chat *c) {
    int ret = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (!g_stop && (len = getline(&line, &cap, stdin)) >= 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len) continue;
        int cmd = chat_command(c, line);
        if (cmd == 2) break;
        if (!cmd) ret |= chat_turn(c, line, (size_t)len);
        if (g_write_err) {
            ret = 1;
            break;
        }
    }
    free(line);
    return ret;
}

static int cmd_chat(int argc, char **argv) {
    chat c;
    memset(&c, 0, sizeof c);
    opts_init(&c.o, "chat", -1);
    lc_chat_opts_default(&c.co);
    c.co.add_generation_prompt = 1;
    const char *system = NULL;
    for (int i = 1; i < argc && !g_bad; i++) {
        const char *a = argv[i], *v;
        if (is_help(a)) {
            fputs(USAGE_CHAT, stdout);
            return 0;
        } else if (opt_common(argc, argv, &i, &c.o) || opt_sampling(argc, argv, &i, &c.o)) {
        } else if (take(argc, argv, &i, NULL, "--system", &v)) system = v;
        else if (take(argc, argv, &i, NULL, "--date", &v)) c.co.date = v;
        else unknown_arg("chat", a);
    }
    if (g_bad) return 1;
    if (!c.o.model) return usage_fail("chat", "missing -m MODEL");
    seed_default(&c.o);
    c.tty = isatty(STDIN_FILENO);

    int ret = 1;
    lc_model *m = NULL;
    if (load_model(&c.o, &m)) goto done;
    if (gen_init(&c.g, m, &c.o) || new_sampler(&c.g, &c.o) || new_stopper(&c.o, &c.stop)) goto done;
    if (lc_tok_n_vocab(c.g.tok) <= 0) {
        fail("%s: the model has no tokenizer", c.o.model);
        goto done;
    }
    if (lc_tok_lookup(c.g.tok, "<|start_header_id|>") < 0) {
        c.plain = 1;
        fprintf(stderr, "warning: the tokenizer has no <|start_header_id|>: not an instruct "
                        "model; the chat format is encoded as plain text\n");
    }
    if (system) {
        if (chat_push(&c, "system", system, strlen(system))) {
            fail("out of memory");
            goto done;
        }
        c.n_fixed = 1;
    }
    catch_sigint();
    lc_ctx_set_abort(c.g.ctx, &g_stop);
    if (c.tty) {
        const lc_model_info *mi = lc_model_get_info(m);
        fprintf(stderr, "llamac %s chat: %s, context %d tokens. /help for commands, Ctrl-D to quit.\n",
                LC_VERSION, mi && mi->name[0] ? mi->name : c.o.model, c.g.n_ctx);
        ret = chat_loop_tty(&c);
    } else {
        ret = chat_loop_pipe(&c);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) g_write_err = 1;
    if (g_write_err) {
        fail("stdout: write error");
        ret = 1;
    }
    if (c.o.verbose) {
        char b1[32], b2[32];
        fprintf(stderr, "load: %.2f s\n", g_load_s);
        fprintf(stderr, "peak memory: %s, KV cache: %s (%d cells)\n", human_bytes((double)peak_rss(), b1, sizeof b1),
                human_bytes((double)lc_ctx_kv_bytes(c.g.ctx), b2, sizeof b2), c.g.n_ctx);
    }
done:
    chat_drop(&c, 0, c.n_msg);
    free(c.msg);
    lc_stopper_free(c.stop);
    gen_free(&c.g);
    lc_model_free(m);
    return ret;
}

/* ---- prompt ---------------------------------------------------------------- */
static int cmd_prompt(int argc, char **argv) {
    const char *file = NULL, *model = NULL;
    lc_chat_opts co;
    lc_chat_opts_default(&co);
    co.add_generation_prompt = 1;
    for (int i = 1; i < argc && !g_bad; i++) {
        const char *a = argv[i], *v;
        if (is_help(a)) {
            fputs(USAGE_PROMPT, stdout);
            return 0;
        } else if (take(argc, argv, &i, "-f", "--file", &v)) file = v;
        else if (take(argc, argv, &i, "-m", "--model", &v)) model = v;
        else if (take(argc, argv, &i, NULL, "--date", &v)) co.date = v;
        else if (is_flag(a, NULL, "--no-generation-prompt")) co.add_generation_prompt = 0;
        else if (is_flag(a, NULL, "--tools-in-system")) co.tools_in_user_message = 0;
        else unknown_arg("prompt", a);
    }
    if (g_bad) return 1;
    if (!file) return usage_fail("prompt", "missing -f REQUEST.json");
    if (model) { /* the format is Llama 3.1's either way; the model must still exist and be readable */
        lc_tok *t = NULL;
        int trc = lc_tok_load(model, &t);
        lc_tok_free(t);
        if (trc != LC_OK) return fail_lib(trc, model);
    }
    size_t len;
    char *json = read_all(file, &len);
    if (!json) return 1;
    char *out = NULL;
    int rc = lc_chat_render_json(json, len, &co, &out);
    free(json);
    if (rc != LC_OK) return fail_lib(rc, strcmp(file, "-") ? file : "stdin");
    fputs(out, stdout);
    free(out);
    return fflush(stdout) ? fail("stdout: write error") : 0;
}

/* ---- tokenize / detokenize -------------------------------------------------- */
static int load_tok(const char *path, lc_tok **t) {
    int rc = lc_tok_load(path, t);
    if (rc != LC_OK) return fail_lib(rc, path);
    return 0;
}

/* length of the valid UTF-8 character at p (n bytes left), 0 if invalid or cut */
static int utf8_len(const unsigned char *p, int n) {
    int len = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] < 0xe0 ? 2 : p[0] >= 0xe0 && p[0] < 0xf0 ? 3
            : p[0] >= 0xf0 && p[0] < 0xf5 ? 4 : 0;
    if (!len || len > n) return 0;
    for (int i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if (len == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0))) return 0;
    if (len == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))) return 0;
    return len;
}

/* prints bytes with C-style escapes for control characters, backslashes and bytes that
 * are not part of a complete UTF-8 character */
static void put_escaped(const char *s, int n) {
    const unsigned char *p = (const unsigned char *)s;
    for (int i = 0; i < n;) {
        unsigned char ch = p[i];
        int len = utf8_len(p + i, n - i);
        if (len > 1) {
            fwrite(p + i, 1, (size_t)len, stdout);
            i += len;
            continue;
        }
        if (ch == '\n') fputs("\\n", stdout);
        else if (ch == '\t') fputs("\\t", stdout);
        else if (ch == '\r') fputs("\\r", stdout);
        else if (ch == '\\') fputs("\\\\", stdout);
        else if (ch < 0x20 || ch >= 0x7f) printf("\\x%02x", ch);
        else putchar(ch);
        i++;
    }
}

static int cmd_tokenize(int argc, char **argv) {
    const char *path = NULL, *file = NULL;
    int flags = 0, pieces = 0, dashdash = 0;
    sbuf text = { 0 };
    int n_words = 0;
    for (int i = 1; i < argc && !g_bad; i++) {
        const char *a = argv[i], *v;
        if (dashdash || a[0] != '-' || !a[1]) {
            if ((n_words++ && sbuf_add(&text, " ", 1)) || sbuf_add(&text, a, strlen(a))) {
                free(text.p);
                return fail("out of memory");
            }
        } else if (is_help(a)) {
            free(text.p);
            fputs(USAGE_TOKENIZE, stdout);
            return 0;
        } else if (!strcmp(a, "--")) dashdash = 1;
        else if (take(argc, argv, &i, "-m", "--model", &v)) path = v;
        else if (take(argc, argv, &i, "-f", "--file", &v)) file = v;
        else if (is_flag(a, NULL, "--bos")) flags |= LC_TOK_BOS;
        else if (is_flag(a, NULL, "--special")) flags |= LC_TOK_SPECIAL;
        else if (is_flag(a, NULL, "--pieces")) pieces = 1;
        else unknown_arg("tokenize", a);
    }
    int ret = 1;
    char *in = NULL;
    int32_t *ids = NULL;
    lc_tok *t = NULL;
    if (g_bad) goto done;
    if (!path) {
        usage_fail("tokenize", "missing -m MODEL|TOKENIZER");
        goto done;
    }
    if (file && n_words) {
        usage_fail("tokenize", "give either -f FILE or TEXT, not both");
        goto done;
    }
    size_t len = 0;
    if (file || !n_words) {
        if (!file && isatty(STDIN_FILENO)) {
            usage_fail("tokenize", "no text (give TEXT, -f FILE, or pipe it in)");
            goto done;
        }
        if (!(in = read_all(file ? file : "-", &len))) goto done;
    } else {
        in = text.p;
        len = text.n;
        text.p = NULL;
        if (!in) in = strdup("");
        if (!in) goto done;
    }
    if (load_tok(path, &t)) goto done;
    int cap = (int)(len < 100000000 ? len : 100000000) + 16, n;
    for (;;) {
        free(ids);
        if (!(ids = malloc((size_t)cap * sizeof *ids))) {
            fail("out of memory");
            goto done;
        }
        n = lc_tok_encode(t, in, len, flags, ids, cap);
        if (n < 0) {
            fail_lib(n, "tokenize");
            goto done;
        }
        if (n <= cap) break;
        cap = n;
    }
    if (pieces) {
        char buf[1024];
        for (int i = 0; i < n; i++) {
            int k = lc_tok_piece(t, ids[i], buf, sizeof buf);
            printf("%d\t", (int)ids[i]);
            if (k > 0) put_escaped(buf, k < (int)sizeof buf ? k : (int)sizeof buf - 1);
            putchar('\n');
        }
    } else {
        for (int i = 0; i < n; i++) printf("%s%d", i ? " " : "", (int)ids[i]);
        putchar('\n');
    }
    ret = fflush(stdout) ? fail("stdout: write error") : 0;
done:
    lc_tok_free(t);
    free(ids);
    free(in);
    free(text.p);
    return ret;
}

static int cmd_detokenize(int argc, char **argv) {
    const char *path = NULL;
    sbuf list = { 0 };
    for (int i = 1; i < argc && !g_bad; i++) {
        const char *a = argv[i], *v;
        if (is_help(a)) {
            free(list.p);
            fputs(USAGE_DETOKENIZE, stdout);
            return 0;
        } else if (take(argc, argv, &i, "-m", "--model", &v)) path = v;
        else if (a[0] == '-' && !(a[1] >= '0' && a[1] <= '9')) unknown_arg("detokenize", a);
        else if (sbuf_add(&list, " ", 1) || sbuf_add(&list, a, strlen(a))) {
            free(list.p);
            return fail("out of memory");
        }
    }
    int ret = 1;
    lc_tok *t = NULL;
    int32_t *ids = NULL;
    int n = 0;
    if (g_bad) goto done;
    if (!path) {
        usage_fail("detokenize", "missing -m MODEL|TOKENIZER");
        goto done;
    }
    if (!list.n) {
        usage_fail("detokenize", "no token ids");
        goto done;
    }
    if (load_tok(path, &t)) goto done;
    if (parse_ids("detokenize", list.p, lc_tok_n_vocab(t), &ids, &n)) goto done;
    /* the raw bytes of the tokens, so decode(encode(x)) == x even for invalid UTF-8 */
    char buf[4096];
    for (int i = 0; i < n; i++) {
        int k = lc_tok_piece(t, ids[i], buf, sizeof buf);
        if (k < 0) {
            fail_lib(k, "detokenize");
            goto done;
        }
        fwrite(buf, 1, (size_t)k < sizeof buf ? (size_t)k : sizeof buf, stdout);
    }
    if (isatty(STDOUT_FILENO)) putchar('\n');
    ret = fflush(stdout) ? fail("stdout: write error") : 0;
done:
    lc_tok_free(t);
    free(ids);
    free(list.p);
    return ret;
}

/* ---- logits ------------------------------------------------------------------- */
static int write_f32_le(FILE *f, const float *x, size_t n) {
    unsigned char buf[4096];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        buf[k++] = (unsigned char)u;
        buf[k++] = (unsigned char)(u >> 8);
        buf[k++] = (unsigned char)(u >> 16);
        buf[k++] = (unsigned char)(u >> 24);
        if (k == sizeof buf || i + 1 == n) {
            if (fwrite(buf, 1, k, f) != k) return -1;
            k = 0;
        }
    }
    return 0;
}

static int cmd_logits(int argc, char **argv) {
    opts o;
    opts_init(&o, "logits", 0);
    const char *tokens = NULL, *out = NULL;
    for (int i = 1; i < argc && !g_bad; i++) {
        const char *a = argv[i], *v;
        if (is_help(a)) {
            fputs(USAGE_LOGITS, stdout);
            return 0;
        } else if (opt_common(argc, argv, &i, &o)) {
        } else if (take(argc, argv, &i, NULL, "--tokens", &v)) tokens = v;
        else if (take(argc, argv, &i, "-o", "--output", &v)) out = v;
        else unknown_arg("logits", a);
    }
    if (g_bad) return 1;
    if (!o.model) return usage_fail("logits", "missing -m MODEL");
    if (!tokens) return usage_fail("logits", "missing --tokens \"ID ...\"");
    if (!out) return usage_fail("logits", "missing -o OUT");

    int ret = 1, n = 0;
    int32_t *ids = NULL;
    int8_t *want = NULL;
    lc_model *m = NULL;
    FILE *f = NULL;
    gen g;
    memset(&g, 0, sizeof g);
    if (parse_ids("--tokens", tokens, 0, &ids, &n)) goto done;
    if (!n) {
        fail("--tokens: no token ids");
        goto done;
    }
    if (load_model(&o, &m) || gen_init(&g, m, &o)) goto done;
    for (int i = 0; i < n; i++)
        if (ids[i] >= g.n_vocab) {
            fail("--tokens: token id %d is out of range (vocabulary of %d)", (int)ids[i], g.n_vocab);
            goto done;
        }
    if (n > g.n_ctx) {
        fail("%d tokens, context is %d (use --ctx)", n, g.n_ctx);
        goto done;
    }
    if (!(want = malloc((size_t)g.n_batch))) {
        fail("out of memory");
        goto done;
    }
    memset(want, 1, (size_t)g.n_batch);
    if (!(f = fopen(out, "wb"))) {
        fail("%s: %s", out, strerror(errno));
        goto done;
    }
    for (int off = 0; off < n; off += g.n_batch) {
        int k = n - off < g.n_batch ? n - off : g.n_batch;
        for (int j = 0; j < k; j++) g.pos[j] = off + j;
        lc_batch b = { .n_tokens = k, .token = ids + off, .pos = g.pos, .seq_id = g.seq,
                       .want_logits = want };
        int rc = lc_ctx_decode(g.ctx, &b);
        if (rc != LC_OK) {
            fail_lib(rc, "decode");
            goto done;
        }
        for (int j = 0; j < k; j++) {
            const float *lg = lc_ctx_logits(g.ctx, j);
            if (!lg) {
                fail("decode: no logits for token %d", off + j);
                goto done;
            }
            if (write_f32_le(f, lg, (size_t)g.n_vocab)) {
                fail("%s: %s", out, strerror(errno));
                goto done;
            }
        }
    }
    if (fclose(f)) {
        f = NULL;
        fail("%s: %s", out, strerror(errno));
        goto done;
    }
    f = NULL;
    if (o.verbose) fprintf(stderr, "wrote %d x %d logits to %s\n", n, g.n_vocab, out);
    ret = 0;
done:
    if (f) {
        fclose(f);
        remove(out);
    }
    gen_free(&g);
    lc_model_free(m);
    free(want);
    free(ids);
    return ret;
}

/* ---- info ------------------------------------------------------------------------ */
static const char *human_count(int64_t n, char *buf, size_t cap) {
    double v = (double)n;
    if (v >= 1e9) snprintf(buf, cap, "%.2f B", v / 1e9);
    else if (v >= 1e6) snprintf(buf, cap, "%.2f M", v / 1e6);
    else if (v >= 1e3) snprintf(buf, cap, "%.2f K", v / 1e3);
    else snprintf(buf, cap, "%lld", (long long)n);
    return buf;
}

#define KV(key, ...) (printf("%-18s", key ":"), printf(__VA_ARGS__), putchar('\n'))

static int cmd_info(int argc, char **argv) {
    opts o;
    opts_init(&o, "info", 0);
    int tensors = 0;
    for (int i = 1; i < argc && !g_bad; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            fputs(USAGE_INFO, stdout);
            return 0;
        } else if (opt_common(argc, argv, &i, &o)) {
        } else if (is_flag(a, NULL, "--tensors")) tensors = 1;
        else unknown_arg("info", a);
    }
    if (g_bad) return 1;
    if (!o.model) return usage_fail("info", "missing -m MODEL");

    lc_model *m = NULL;
    if (load_model(&o, &m)) return 1;
    const lc_model_info *mi = lc_model_get_info(m);
    const lc_tok *t = lc_model_tok(m);
    char b1[32], b2[32], b3[32], b4[32];

    KV("file", "%s", o.model);
    KV("name", "%s", mi->name);
    KV("architecture", "%s", mi->arch);
    KV("format", "%s, mostly %s", mi->format, lc_type_name(mi->file_type));
    KV("parameters", "%s (%lld)", human_count(mi->n_params, b1, sizeof b1), (long long)mi->n_params);
    KV("weight bytes", "%zu (%s)", mi->weight_bytes, human_bytes((double)mi->weight_bytes, b1, sizeof b1));
    KV("dim", "%d", mi->dim);
    KV("layers", "%d", mi->n_layers);
    KV("heads", "%d (kv heads %d, head_dim %d)", mi->n_heads, mi->n_kv_heads, mi->head_dim);
    KV("ffn", "%d", mi->ffn_dim);
    KV("vocab", "%d", mi->n_vocab);
    KV("context length", "%d", mi->n_ctx_train);
    KV("rope theta", "%g", (double)mi->rope_theta);
    if (mi->rope_scaled && mi->rope_orig_ctx <= 0 && mi->rope_factor > 0)
        KV("rope scaling", "llama3 (factor %g, frequencies from the rope_freqs tensor)",
           (double)mi->rope_factor);
    else if (mi->rope_scaled && mi->rope_orig_ctx <= 0)
        KV("rope scaling", "llama3 (frequencies from the rope_freqs tensor)");
    else if (mi->rope_scaled)
        KV("rope scaling", "llama3 (factor %g, low_freq %g, high_freq %g, original ctx %d)",
           (double)mi->rope_factor, (double)mi->rope_low_freq, (double)mi->rope_high_freq,
           mi->rope_orig_ctx);
    else KV("rope scaling", "none");
    KV("rope layout", "%s", mi->rope_neox ? "neox (rotate halves, HF)" : "interleaved (adjacent pairs, Meta/GGUF)");
    KV("norm eps", "%g", (double)mi->norm_eps);
    KV("tied output", "%s", mi->tied_output ? "yes" : "no");
    if (lc_tok_n_vocab(t) > 0) KV("tokenizer", "%s, %d tokens", lc_tok_kind(t), lc_tok_n_vocab(t));
    else KV("tokenizer", "none");
    KV("bos / eos", "%d / %d", (int)lc_tok_bos(t), (int)lc_tok_eos(t));
    static const char *const specials[] = {
        "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
        "<|eot_id|>", "<|eom_id|>", "<|python_tag|>", "<|finetune_right_pad_id|>",
    };
    printf("%-18s", "special tokens:");
    int any = 0;
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        int32_t id = lc_tok_lookup(t, specials[i]);
        if (id >= 0) printf("%s%s %d", any++ ? ", " : "", specials[i], (int)id);
    }
    printf("%s\n", any ? "" : "none");
    KV("chat template", "%s", lc_model_chat_template(m) ? "present (the built-in Llama 3.1 format is used)" : "none");

    /* tensor types */
    int nt = lc_model_n_tensors(m);
    KV("tensors", "%d", nt);
    struct { int type, count; size_t bytes; } types[32];
    int n_types = 0;
    for (int i = 0; i < nt; i++) {
        lc_tensor_info ti;
        if (lc_model_tensor(m, i, &ti) != LC_OK) continue;
        int k = 0;
        while (k < n_types && types[k].type != ti.type) k++;
        if (k == n_types) {
            if (n_types == 32) continue;
            types[n_types].type = ti.type;
            types[n_types].count = 0;
            types[n_types].bytes = 0;
            n_types++;
        }
        types[k].count++;
        types[k].bytes += ti.nbytes;
    }
    printf("  %-8s %7s %16s\n", "type", "count", "bytes");
    for (int k = 0; k < n_types; k++)
        printf("  %-8s %7d %16zu  (%s)\n", lc_type_name(types[k].type), types[k].count, types[k].bytes,
               human_bytes((double)types[k].bytes, b1, sizeof b1));
    if (tensors) {
        printf("  %-40s %-6s %-24s %s\n", "name", "type", "shape (ggml order)", "bytes");
        for (int i = 0; i < nt; i++) {
            lc_tensor_info ti;
            if (lc_model_tensor(m, i, &ti) != LC_OK) continue;
            char shape[96];
            int p = 0;
            for (int d = 0; d < ti.n_dims && d < 4 && p < (int)sizeof shape; d++)
                p += snprintf(shape + p, sizeof shape - (size_t)p, "%s%lld", d ? " x " : "",
                              (long long)ti.ne[d]);
            if (!ti.n_dims) snprintf(shape, sizeof shape, "scalar");
            printf("  %-40s %-6s %-24s %zu\n", ti.name ? ti.name : "?", lc_type_name(ti.type), shape,
                   ti.nbytes);
        }
    }

    /* memory: weights + KV cache + a compute-buffer estimate */
    int n_ctx = o.n_ctx > 0 ? o.n_ctx : (mi->n_ctx_train > 0 && mi->n_ctx_train < 8192 ? mi->n_ctx_train : 8192);
    size_t kv = lc_model_kv_bytes(m, n_ctx);
    int n_threads = o.n_threads > 0 ? o.n_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_threads < 1) n_threads = 1;
    double n_batch = 512, kv_dim = (double)mi->n_kv_heads * mi->head_dim;
    double q_dim = (double)mi->n_heads * mi->head_dim;
    /* per batch token: residual, norms, q/k/v, attention out, two ffn buffers; logits of
     * the batch; attention scores per thread */
    double compute = 4.0 * (n_batch * (3.0 * mi->dim + q_dim + 2 * kv_dim + 2.0 * mi->ffn_dim) +
                            n_batch * mi->n_vocab + (double)n_threads * mi->n_heads * n_ctx);
    double total = (double)mi->weight_bytes + (double)kv + compute;
    KV("memory", "%s at context %d = weights %s + KV cache %s + compute ~%s",
       human_bytes(total, b1, sizeof b1), n_ctx, human_bytes((double)mi->weight_bytes, b2, sizeof b2),
       human_bytes((double)kv, b3, sizeof b3), human_bytes(compute, b4, sizeof b4));
    KV("kv cache bytes", "%zu", kv);
    lc_model_free(m);
    return fflush(stdout) ? fail("stdout: write error") : 0;
}

/* ---- main ------------------------------------------------------------------------ */
static const lc_cli_cmd cmds[] = {
    { "run", cmd_run, USAGE_RUN, "raw text completion from a prompt" },
    { "chat", cmd_chat, USAGE_CHAT, "multi-turn chat with an instruct model (interactive or from a pipe)" },
    { "prompt", cmd_prompt, USAGE_PROMPT, "render an OpenAI-style chat request (JSON) to the Llama 3.1 prompt text" },
    { "tokenize", cmd_tokenize, USAGE_TOKENIZE, "print the token ids of a text" },
    { "detokenize", cmd_detokenize, USAGE_DETOKENIZE, "print the text of token ids" },
    { "logits", cmd_logits, USAGE_LOGITS, "evaluate token ids and write all their logits (float32) to a file" },
    { "info", cmd_info, USAGE_INFO, "describe a model: shapes, tensors, tokenizer, memory needs" },
    { "perplexity", cmd_perplexity, USAGE_PERPLEXITY, "perplexity of a model on a text file (llama.cpp's method)" },
    { "bench", cmd_bench, USAGE_BENCH, "prompt processing and generation speed, memory bandwidth" },
    { "make-model", cmd_make_model, USAGE_MAKE_MODEL, "write a random-weight GGUF with real Llama 3.x shapes" },
    { "quantize", cmd_quantize, USAGE_QUANTIZE, "convert a GGUF or Hugging Face model to another tensor type" },
    { "train-tokenizer", cmd_train_tokenizer, USAGE_TRAIN_TOKENIZER, "learn a Llama-3-style BPE tokenizer from text" },
    { "train", cmd_train, USAGE_TRAIN, "pretrain a model from text (or continue a checkpoint)" },
    { "finetune", cmd_finetune, USAGE_FINETUNE, "full or LoRA fine-tuning on chat conversations (JSONL)" },
    { "merge-lora", cmd_merge_lora, USAGE_MERGE_LORA, "merge a LoRA adapter into a model" },
    { "eval-tools", cmd_eval_tools, USAGE_EVAL_TOOLS, "tool-call accuracy of a chat model on held-out prompts" },
};
#define N_CMDS (sizeof cmds / sizeof cmds[0])

static void usage(FILE *f) {
    fputs(USAGE_HEAD, f);
    for (size_t i = 0; i < N_CMDS; i++) fprintf(f, "  %-16s %s\n", cmds[i].name, cmds[i].summary);
    fputs(USAGE_TAIL, f);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    const char *a = argv[1];
    if (is_help(a) || !strcmp(a, "help")) {
        if (argc > 2)
            for (size_t i = 0; i < N_CMDS; i++)
                if (!strcmp(argv[2], cmds[i].name)) {
                    fputs(cmds[i].usage, stdout);
                    return 0;
                }
        usage(stdout);
        return 0;
    }
    if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
        printf("llamac %s\n", LC_VERSION);
        return 0;
    }
    for (size_t i = 0; i < N_CMDS; i++)
        if (!strcmp(a, cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    return fail("unknown command '%s' (see llamac --help)", a);
}
