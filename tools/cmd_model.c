/* cmd_model.c - `llamac make-model` (random-weight GGUF files with the real Llama 3.2 / 3.1
 * shapes) and `llamac quantize` (F32/F16/BF16 GGUF or Hugging Face folders to another
 * tensor type). Both stream to FILE.tmp and rename it; a progress bar on stderr when it
 * is a terminal, plain periodic lines otherwise; Ctrl-C cancels and leaves no file. */
#include "cli.h"
#include "convert.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const char USAGE_MAKE_MODEL[] =
    "usage: llamac make-model --shape SHAPE --type TYPE -o FILE.gguf [options]\n"
    "Writes a GGUF with random weights and the exact tensor shapes of a Llama model, with a\n"
    "Llama 3 tokenizer section (from tokenizer.json), for benchmarks and tests without\n"
    "downloads. The file is streamed to FILE.gguf.tmp and renamed at the end: the model is\n"
    "never held in memory, and Ctrl-C leaves nothing behind.\n"
    "\n"
    "  --shape SHAPE          tiny (dim 256, 2 layers), 1b, 3b (Llama 3.2), 8b, 70b (Llama 3.1)\n"
    "  --type TYPE            f16, bf16, q8_0, q4_0, q4_k, q4_k_m, q6_k (also f32, q4_1);\n"
    "                         q4_k and q4_k_m both give llama.cpp's Q4_K_M mix\n"
    "  -o, --output FILE      output file (required)\n"
    "  --seed S               random seed; the same seed gives the same weights in every type\n"
    "                         (default 42)\n"
    "  --tokenizer FILE       tokenizer.json (default: $LC_SHARED/data/tokenizer/tokenizer.json,\n"
    "                         else ../shared/data/tokenizer/tokenizer.json)\n"
    "  --chat-template FILE   Jinja chat template (default: chat_template.jinja or\n"
    "                         tokenizer_config.json next to the tokenizer, if present)\n"
    "  -t, --threads N        quantizing threads, 0: all cores (default 0)\n"
    "  -q, --quiet            no tensor table; progress as plain lines even on a terminal\n"
    "  -h, --help             this text\n"
    "\n"
    "stdout gets the list of tensors and a closing line; stderr the progress: a bar with the\n"
    "percentage, MB written, MB/s and the time left when stderr is a terminal, else one line\n"
    "every 10% (or 30 s).\n";

const char USAGE_QUANTIZE[] =
    "usage: llamac quantize IN OUT TYPE [options]\n"
    "Converts a model to another tensor type, in llama.cpp's GGUF block layouts. IN is a GGUF\n"
    "file with F32/F16/BF16 matrices or a Hugging Face folder (config.json, *.safetensors,\n"
    "tokenizer.json); OUT is the GGUF to write (via OUT.tmp, renamed at the end).\n"
    "TYPE: q8_0, q4_0, q4_1, q4_k (every matrix Q4_K), q4_k_m (llama.cpp's mix: Q6_K for the\n"
    "output and half of attn_v / ffn_down), q6_k, f16, bf16, f32. Norm vectors stay F32; rows\n"
    "whose length is not a multiple of the block size get llama.cpp's fallback type.\n"
    "\n"
    "  --allow-requantize     accept quantized input matrices: they are dequantized and\n"
    "                         quantized again (loses precision; a warning per tensor)\n"
    "  -t, --threads N        quantizing threads, 0: all cores (default 0)\n"
    "  -q, --quiet            no tensor table; progress as plain lines even on a terminal\n"
    "  -h, --help             this text\n"
    "\n"
    "stdout gets one line per tensor (name, shape, type before and after, size) and a closing\n"
    "line; stderr the progress as for make-model. Ctrl-C cancels and leaves no file.\n";

/* ---- progress ------------------------------------------------------------------ */
typedef struct progress {
    char tmp[4096];     /* the file being written: its size is the bytes written so far */
    double t0, last_draw;
    double last_step;   /* fraction of the last plain line */
    int tty;            /* draw a bar with \r */
    int drawn;          /* a bar is on the screen (needs a newline before other output) */
} progress;

static void fmt_time(double s, char *buf, size_t cap) {
    if (!(s >= 0) || s > 359999) {
        snprintf(buf, cap, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

static void progress_init(progress *p, const char *out, int quiet) {
    memset(p, 0, sizeof *p);
    snprintf(p->tmp, sizeof p->tmp, "%s.tmp", out);
    p->t0 = p->last_draw = now_s();
    p->tty = !quiet && isatty(STDERR_FILENO);
}

static void on_progress(void *ud, double f) {
    progress *p = ud;
    double t = now_s(), el = t - p->t0;
    if (f < 0) f = 0;
    if (f > 1) f = 1;
    int final = f >= 1;
    if (p->tty) {
        if (!final && t - p->last_draw < 0.1) return;
    } else if (!final && f - p->last_step < 0.1 && t - p->last_draw < 30) return;
    p->last_draw = t;
    p->last_step = f;
    struct stat st;
    double mb = stat(p->tmp, &st) == 0 ? (double)st.st_size / 1e6 : 0;
    double rate = el > 0 ? mb / el : 0;
    char eta[32];
    fmt_time(f >= 0.01 && el >= 0.5 ? el * (1 - f) / f : -1, eta, sizeof eta);
    if (p->tty) {
        char bar[31];
        int k = (int)(f * 30 + 0.5);
        for (int i = 0; i < 30; i++) bar[i] = i < k ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r[%s] %5.1f%%  %9.1f MB  %7.1f MB/s  ETA %s   ", bar, f * 100, mb, rate, eta);
        p->drawn = 1;
    } else {
        fprintf(stderr, "progress: %5.1f%%  %.1f MB  %.1f MB/s  ETA %s\n", f * 100, mb, rate, eta);
    }
    fflush(stderr);
}

static void progress_end(progress *p) {
    if (p->drawn) fputc('\n', stderr);
    p->drawn = 0;
    fflush(stderr);
}

static int default_threads(int n) {
    if (n > 0) return n;
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (int)c : 2;
}

/* the closing line: size, time, rate */
static void report_written(const char *path, double t0) {
    struct stat st;
    double el = now_s() - t0;
    char b[32];
    if (stat(path, &st) == 0)
        printf("%s: %s in %.1f s (%.1f MB/s)\n", path, human_bytes((double)st.st_size, b, sizeof b), el,
               el > 0 ? (double)st.st_size / 1e6 / el : 0.0);
    else printf("%s: written in %.1f s\n", path, el);
}

/* make-model and quantize: the parameter fields both structs have (threads, progress bar,
 * Ctrl-C flag, tensor table), and the run around the library call */
#define CONVERT_FIELDS(p, pr, threads, quiet)                                                        \
    ((p).n_threads = default_threads(threads), (p).progress = on_progress, (p).progress_ud = (pr), \
     (p).abort = &g_stop, (p).log = (quiet) ? NULL : stdout)

static double convert_begin(progress *pr) {
    catch_sigint();
    return pr->t0 = now_s();
}

static int convert_end(progress *pr, int rc, const char *what, const char *out, double t0) {
    progress_end(pr);
    signal(SIGINT, SIG_DFL);
    if (rc != LC_OK) {
        if (rc == LC_ERR_CANCELLED || g_stop) return fail("%s: cancelled; %s was not written", what, out);
        return fail_lib(rc, what);
    }
    report_written(out, t0);
    return fflush(stdout) ? fail("stdout: write error") : 0;
}

/* ---- make-model ------------------------------------------------------------------ */
int cmd_make_model(int argc, char **argv) {
    lc_make_model_params mp;
    lc_make_model_params_default(&mp);
    const char *shape = NULL, *type = NULL, *out = NULL;
    int threads = 0, quiet = 0;
    for (int i = 1; i < argc && !g_bad; i++) {
        const char *a = argv[i], *v;
        if (is_help(a)) {
            fputs(USAGE_MAKE_MODEL, stdout);
            return 0;
        } else if (take(argc, argv, &i, NULL, "--shape", &v)) shape = v;
        else if (take(argc, argv, &i, NULL, "--type", &v)) type = v;
        else if (take(argc, argv, &i, "-o", "--output", &v)) out = v;
        else if (take(argc, argv, &i, NULL, "--seed", &v)) num_u64("--seed", v, &mp.seed);
        else if (take(argc, argv, &i, NULL, "--tokenizer", &v)) mp.tokenizer = v;
        else if (take(argc, argv, &i, NULL, "--chat-template", &v)) mp.chat_template = v;
        else if (take(argc, argv, &i, "-t", "--threads", &v)) num_int("--threads", v, 0, 512, &threads);
        else if (is_flag(a, "-q", "--quiet")) quiet = 1;
        else unknown_arg("make-model", a);
    }
    if (g_bad) return 1;
    if (!shape) return usage_fail("make-model", "missing --shape tiny|1b|3b|8b|70b");
    if (!type) return usage_fail("make-model", "missing --type f16|bf16|q8_0|q4_0|q4_k|q4_k_m|q6_k");
    if (!out || !*out) return usage_fail("make-model", "missing -o FILE.gguf");
    int ft;
    if (strcasecmp(type, "q4_k") != 0 && lc_ftype_parse(type, &ft) != LC_OK)
        return usage_fail("make-model", "unknown --type '%s' (f16, bf16, q8_0, q4_0, q4_k, q4_k_m, q6_k, f32, q4_1)",
                          type);
    static const char *const shapes[] = { "tiny", "1b", "3b", "8b", "70b" };
    int known = 0;
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) known |= strcasecmp(shape, shapes[k]) == 0;
    if (!known) return usage_fail("make-model", "unknown --shape '%s' (tiny, 1b, 3b, 8b, 70b)", shape);

    progress pr;
    progress_init(&pr, out, quiet);
    mp.shape = shape;
    mp.type = type;
    CONVERT_FIELDS(mp, &pr, threads, quiet);
    double t0 = convert_begin(&pr);
    return convert_end(&pr, lc_make_model(out, &mp), "make-model", out, t0);
}

/* ---- quantize -------------------------------------------------------------------- */
int cmd_quantize(int argc, char **argv) {
    lc_quantize_params qp;
    lc_quantize_params_default(&qp);
    const char *pos[3] = { NULL, NULL, NULL };
    int n_pos = 0, threads = 0, quiet = 0;
    for (int i = 1; i < argc && !g_bad; i++) {
        const char *a = argv[i], *v;
        if (is_help(a)) {
            fputs(USAGE_QUANTIZE, stdout);
            return 0;
        } else if (is_flag(a, NULL, "--allow-requantize")) qp.allow_requantize = 1;
        else if (take(argc, argv, &i, "-t", "--threads", &v)) num_int("--threads", v, 0, 512, &threads);
        else if (is_flag(a, "-q", "--quiet")) quiet = 1;
        else if (a[0] == '-' && a[1]) unknown_arg("quantize", a);
        else if (n_pos < 3) pos[n_pos++] = a;
        else unknown_arg("quantize", a);
    }
    if (g_bad) return 1;
    if (n_pos < 3)
        return usage_fail("quantize", "expected IN OUT TYPE, got %d argument%s", n_pos, n_pos == 1 ? "" : "s");
    const char *in = pos[0], *out = pos[1], *type = pos[2];
    int ft;
    if (lc_ftype_parse(type, &ft) != LC_OK)
        return usage_fail("quantize", "unknown TYPE '%s' (q8_0, q4_0, q4_1, q4_k, q4_k_m, q6_k, f16, bf16, f32)",
                          type);
    struct stat si, so;
    if (stat(in, &si) != 0) return fail("quantize: %s: %s", in, strerror(errno));
    if (stat(out, &so) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
        return fail("quantize: IN and OUT are the same file (%s)", out);

    progress pr;
    progress_init(&pr, out, quiet);
    CONVERT_FIELDS(qp, &pr, threads, quiet);
    double t0 = convert_begin(&pr);
    return convert_end(&pr, lc_quantize(in, out, type, &qp), "quantize", out, t0);
}
