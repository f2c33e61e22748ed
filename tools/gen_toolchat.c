/* gen_toolchat.c - the synthetic Llama 3.1 chat + tool-call dataset the default chat model
 * is fine-tuned on: conversations in the OpenAI message format with "tools" (calculator,
 * convert_units, get_weather), tool calls with exact arguments, the tools' real results
 * (computed here) and a final answer, mixed with plain chat. One JSON object per line.
 * --split heldout and --eval-prompts use phrasings and values training never sees. */
#include "internal.h"
#include "pyjson.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>

/* ---- random numbers (splitmix64: same seed, same data on every machine) --- */
typedef struct rng { uint64_t s; } rng;

static uint64_t rnext(rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static int rint_(rng *r, int lo, int hi) { return lo + (int)(rnext(r) % (uint64_t)(hi - lo + 1)); }  /* [lo, hi] */
static double runif(rng *r) { return (double)(rnext(r) >> 11) / 9007199254740992.0; }
static bool rchance(rng *r, double p) { return runif(r) < p; }
#define PICK(r, arr) ((arr)[rnext(r) % LC_ARRAY_LEN(arr)])

/* The phrasing lists below are split: entries before the '|' marker (HELD) are training
 * phrasings, entries after it are only used by --split heldout / --eval-prompts. */
#define HELD "|"

typedef struct plist { const char *const *v; int n; } plist;
#define PLIST(a) ((plist){ (a), (int)LC_ARRAY_LEN(a) })

/* a phrasing from the part of the list that belongs to the split */
static const char *pick_split(rng *r, plist l, bool held) {
    int cut = 0;
    while (cut < l.n && strcmp(l.v[cut], HELD) != 0) cut++;
    int lo = held ? cut + 1 : 0, hi = held ? l.n : cut;
    if (lo >= hi) lo = 0, hi = cut;   /* no held-out phrasings: share */
    return l.v[lo + (int)(rnext(r) % (uint64_t)(hi - lo))];
}

/* ---- the calculator: a small expression evaluator -------------------------- */
typedef struct calc { const char *p; int err; } calc;

static double c_expr(calc *c);

static void c_ws(calc *c) {
    while (*c->p == ' ') c->p++;
}

static double c_primary(calc *c) {
    c_ws(c);
    if (*c->p == '(') {
        c->p++;
        double v = c_expr(c);
        c_ws(c);
        if (*c->p != ')') c->err = 1;
        else c->p++;
        return v;
    }
    if (strncmp(c->p, "sqrt(", 5) == 0) {
        c->p += 5;
        double v = c_expr(c);
        c_ws(c);
        if (*c->p != ')' || v < 0) c->err = 1;
        else c->p++;
        return sqrt(v);
    }
    char *e;
    double v = strtod(c->p, &e);
    if (e == c->p || !(*c->p >= '0' && *c->p <= '9')) c->err = 1;
    c->p = e;
    return v;
}

static double c_unary(calc *c) {
    c_ws(c);
    if (*c->p == '-') {
        c->p++;
        return -c_unary(c);
    }
    return c_primary(c);
}

static double c_power(calc *c) {
    double b = c_unary(c);
    c_ws(c);
    if (*c->p == '^') {
        c->p++;
        return pow(b, c_power(c));
    }
    return b;
}

static double c_term(calc *c) {
    double v = c_power(c);
    for (;;) {
        c_ws(c);
        char op = *c->p;
        if (op != '*' && op != '/') return v;
        c->p++;
        double r = c_power(c);
        if (op == '/' && r == 0) c->err = 1;
        v = op == '*' ? v * r : v / r;
    }
}

static double c_expr(calc *c) {
    double v = c_term(c);
    for (;;) {
        c_ws(c);
        char op = *c->p;
        if (op != '+' && op != '-') return v;
        c->p++;
        double r = c_term(c);
        v = op == '+' ? v + r : v - r;
    }
}

/* evaluates expr; false on a syntax error, division by zero or overflow */
static bool calc_eval(const char *expr, double *out) {
    calc c = { expr, 0 };
    double v = c_expr(&c);
    c_ws(&c);
    if (c.err || *c.p || !isfinite(v)) return false;
    *out = v;
    return true;
}

/* a number as people write it: integers plain, else up to `dec` decimals, zeros trimmed */
static void fmt_num(char *buf, size_t cap, double v, int dec) {
    if (fabs(v - nearbyint(v)) < 1e-9 && fabs(v) < 1e15) {
        snprintf(buf, cap, "%.0f", nearbyint(v) == 0 ? 0.0 : nearbyint(v));
        return;
    }
    snprintf(buf, cap, "%.*f", dec, v);
    char *dot = strchr(buf, '.');
    if (!dot) return;
    char *e = buf + strlen(buf) - 1;
    while (e > dot && *e == '0') *e-- = 0;
    if (e == dot) *e = 0;
    if (strcmp(buf, "-0") == 0) strcpy(buf, "0");
}

/* ---- tools ------------------------------------------------------------------ */
enum { T_CALC, T_UNITS, T_WEATHER, N_TOOLS };
static const char *const tool_names[N_TOOLS] = { "calculator", "convert_units", "get_weather" };

static json_t *prop(const char *type, const char *desc) {
    return json_pack("{s:s, s:s}", "type", type, "description", desc);
}

static json_t *tool_def(int t) {
    json_t *props = NULL, *req = NULL;
    const char *desc = "";
    if (t == T_CALC) {
        desc = "Evaluate an arithmetic expression";
        props = json_pack("{s:o}", "expression", prop("string", "The expression, e.g. 2 * (3 + 4)"));
        req = json_pack("[s]", "expression");
    } else if (t == T_UNITS) {
        desc = "Convert a value from one unit to another";
        props = json_pack("{s:o, s:o, s:o}", "value", prop("number", "The value to convert"), "from_unit",
                          prop("string", "Unit of the value, e.g. km"), "to_unit",
                          prop("string", "Unit to convert to, e.g. mi"));
        req = json_pack("[s, s, s]", "value", "from_unit", "to_unit");
    } else {
        desc = "Get the current weather for a city";
        props = json_pack("{s:o}", "city", prop("string", "City name"));
        req = json_pack("[s]", "city");
    }
    return json_pack("{s:s, s:{s:s, s:s, s:{s:s, s:o, s:o}}}", "type", "function", "function", "name",
                     tool_names[t], "description", desc, "parameters", "type", "object", "properties", props,
                     "required", req);
}

/* ---- shared phrasing pieces ---------------------------------------------------- */
static const char *const prefixes[] = {
    "", "", "", "", "Hi! ", "Hey, ", "Hello. ", "Quick question: ", "Please help. ", "Excuse me, ",
    "Hi there, ", "OK, ", "Hello! ", "Hi, ", "Question: ", "Can you help? ", "Morning! ", "Right, ", "Um, ",
    "Please, ", "Dear assistant, ", "Hey there! ", "One thing: ", "Alright, ", HELD, "", "", "Good day! ", "Yo, ", "Sorry to bother you, ", "Hmm, ",
};
static const char *const suffixes[] = {
    "", "", "", "", " Thanks.", " Thank you!", " Please.", " Thanks in advance.", " Thx.", " Ty!", " Quickly, please.",
    " I'm curious.", " If you can.", " :)", " Thanks a lot!", HELD, "", "", " Cheers!",
    " Much appreciated.",
};

/* prefix + core + suffix; the core's first letter is lowered after "Hey, "-style prefixes */
static void wrap(rng *r, bool held, const char *core, lc_buf *out) {
    const char *pre = pick_split(r, PLIST(prefixes), held), *suf = pick_split(r, PLIST(suffixes), held);
    size_t pl = strlen(pre);
    lc_buf_puts(out, pre);
    if (pl >= 2 && (pre[pl - 2] == ',' || pre[pl - 2] == ':') && core[0] >= 'A' && core[0] <= 'Z' &&
        !(core[1] == ' ' || core[1] == '\'' || (core[1] >= 'A' && core[1] <= 'Z'))) {
        lc_buf_putc(out, (char)(core[0] - 'A' + 'a'));
        lc_buf_puts(out, core + 1);
    } else {
        lc_buf_puts(out, core);
    }
    lc_buf_puts(out, suf);
}

/* replaces each {k} in tpl by vals[k - '0'] */
static void fill(lc_buf *out, const char *tpl, const char *const *vals) {
    for (const char *p = tpl; *p; p++) {
        if (p[0] == '{' && p[1] >= '0' && p[1] <= '9' && p[2] == '}') {
            lc_buf_puts(out, vals[p[1] - '0']);
            p += 2;
        } else {
            lc_buf_putc(out, *p);
        }
    }
}

/* one exchange: a user message, then either a direct answer or a call + result + answer */
typedef struct exch {
    lc_buf user;
    int tool;            /* -1: answered directly */
    json_t *args;        /* tool arguments (object) */
    lc_buf result;       /* what the tool returned */
    lc_buf answer;       /* the assistant's final text */
} exch;

static void exch_free(exch *e) {
    lc_buf_free(&e->user);
    lc_buf_free(&e->result);
    lc_buf_free(&e->answer);
    json_decref(e->args);
    memset(e, 0, sizeof *e);
}

/* ---- calculator requests ----------------------------------------------------- */
static const char *const calc_tpl[] = {
    "What is {0}?", "What's {0}?", "Calculate {0}.", "Compute {0}.", "Can you calculate {0}?", "How much is {0}?",
    "Please work out {0}.", "I need the result of {0}.", "Evaluate {0}.", "Solve {0}.", "What do you get for {0}?",
    "Help me with some math: {0}.", "Quick math: what is {0}?", "Could you tell me what {0} equals?", "{0} = ?",
    "Do the arithmetic: {0}.", "What is the value of {0}?", "Can you do {0} for me?", "Use the calculator for {0}.",
    "How much do you get with {0}?",
    "Work out {0}.", "Find {0}.", "Calculate {0} please.", "What is {0} exactly?", "How much does {0} make?",
    "Could you compute {0}?", "Please calculate {0} for me.", "I want to know what {0} is.", "Math question: {0}?",
    "Run {0} through the calculator.", "Evaluate the expression {0}.", "Can you solve {0}?",
    "Crunch the numbers: {0}.", "Do {0} for me.", "{0} is what?", "What number is {0}?", "Please compute {0}.",
    "I'm stuck on {0}. What is it?", "What's {0} equal to?", "Calculate this: {0}",
    HELD, "What does {0} come to?", "Figure out {0} for me.", "Mind working out {0}?", "I'd like to know {0}.",
    "Tell me the answer to {0}.", "Give me the result of {0}.",
};
static const char *const calc_answer[] = {
    "{0} = {1}.", "The answer is {1}.", "{0} equals {1}.", "That comes to {1}.", "The result is {1}.",
    "It is {1}.", "{0} is {1}.",
};
static const char *const op_sym[] = { "+", "-", "*", "/" };
static const char *const op_word[] = { "plus", "minus", "times", "divided by" };

/* a random operand: mostly small integers, sometimes decimals */
static void operand(rng *r, bool held, char *buf, size_t cap, double *v) {
    int k = rint_(r, 0, 9);
    if (k < 6) *v = rint_(r, 1, held ? 120 : 99);
    else if (k < 8) *v = rint_(r, 100, held ? 2500 : 999);
    else *v = rint_(r, 1, 999) / 10.0 + (rint_(r, 0, 1) ? 0.05 : 0);
    fmt_num(buf, cap, *v, 2);
}

static void gen_calc(rng *r, bool held, exch *e) {
    char a[32], b[32], c[32], expr[128], said[192];
    double va, vb, vc;
    operand(r, held, a, sizeof a, &va);
    operand(r, held, b, sizeof b, &vb);
    operand(r, held, c, sizeof c, &vc);
    int kind = rint_(r, 0, 9), o1 = rint_(r, 0, 3), o2 = rint_(r, 0, 2);
    if (o1 == 3 && kind < 5) {   /* exact divisions mostly */
        double q = rint_(r, 2, 30);
        va = vb * q;
        if (va > 1e6 || vb != floor(vb)) va = vb * 2;
        fmt_num(a, sizeof a, va, 2);
    }
    if (kind < 4) {                      /* a op b, symbols */
        snprintf(expr, sizeof expr, "%s %s %s", a, op_sym[o1], b);
        snprintf(said, sizeof said, "%s", expr);
    } else if (kind < 6) {               /* a op b, words */
        snprintf(expr, sizeof expr, "%s %s %s", a, op_sym[o1], b);
        snprintf(said, sizeof said, "%s %s %s", a, op_word[o1], b);
    } else if (kind == 6) {              /* three operands */
        snprintf(expr, sizeof expr, "%s %s %s %s %s", a, op_sym[o1 == 3 ? 2 : o1], b, op_sym[o2], c);
        snprintf(said, sizeof said, "%s", expr);
    } else if (kind == 7) {              /* parentheses */
        snprintf(expr, sizeof expr, "(%s %s %s) * %s", a, op_sym[o2], b, c);
        snprintf(said, sizeof said, "%s", expr);
    } else if (kind == 8) {              /* percent */
        int pc = PICK(r, ((const int[]){ 5, 10, 15, 20, 25, 30, 40, 50, 75, 12, 18 }));
        snprintf(expr, sizeof expr, "%d / 100 * %s", pc, a);
        snprintf(said, sizeof said, "%d%% of %s", pc, a);
    } else if (rint_(r, 0, 1)) {         /* square root of a perfect square */
        int s = rint_(r, 2, held ? 40 : 30);
        snprintf(expr, sizeof expr, "sqrt(%d)", s * s);
        snprintf(said, sizeof said, "the square root of %d", s * s);
    } else {                             /* a power */
        int base = rint_(r, 2, 12), ex = rint_(r, 2, base < 5 ? 10 : 3);
        snprintf(expr, sizeof expr, "%d ^ %d", base, ex);
        snprintf(said, sizeof said, "%d to the power of %d", base, ex);
    }
    double v;
    if (!calc_eval(expr, &v)) {          /* cannot happen with the shapes above; stay safe */
        snprintf(expr, sizeof expr, "2 + 2");
        snprintf(said, sizeof said, "2 + 2");
        v = 4;
    }
    char res[64];
    fmt_num(res, sizeof res, v, 4);
    lc_buf core = { 0 };
    const char *vals[2] = { said, res };
    fill(&core, pick_split(r, PLIST(calc_tpl), held), vals);
    wrap(r, held, core.p, &e->user);
    lc_buf_free(&core);
    e->tool = T_CALC;
    e->args = json_pack("{s:s}", "expression", expr);
    lc_buf_puts(&e->result, res);
    const char *avals[2] = { expr, res };
    fill(&e->answer, PICK(r, calc_answer), avals);
}

/* ---- unit conversion requests ------------------------------------------------- */
typedef struct unit {
    const char *sym;      /* the argument value */
    int dim;              /* 0 length, 1 mass, 2 volume, 3 temperature */
    double to_base;       /* base: m, g, l (temperature: by formula) */
    const char *one, *many, *alt, *held_alt;   /* names: singular, plural, short, held-out spelling */
} unit;

static const unit units[] = {
    { "km", 0, 1000, "kilometer", "kilometers", "km", "kilometres" },
    { "m", 0, 1, "meter", "meters", "m", "metres" },
    { "cm", 0, 0.01, "centimeter", "centimeters", "cm", "centimetres" },
    { "mi", 0, 1609.344, "mile", "miles", "mi", NULL },
    { "ft", 0, 0.3048, "foot", "feet", "ft", NULL },
    { "in", 0, 0.0254, "inch", "inches", NULL, NULL },
    { "kg", 1, 1000, "kilogram", "kilograms", "kg", "kilos" },
    { "g", 1, 1, "gram", "grams", "g", "grammes" },
    { "lb", 1, 453.59237, "pound", "pounds", "lbs", "lb" },
    { "oz", 1, 28.349523125, "ounce", "ounces", "oz", NULL },
    { "l", 2, 1, "liter", "liters", NULL, "litres" },
    { "ml", 2, 0.001, "milliliter", "milliliters", "ml", "millilitres" },
    { "gal", 2, 3.785411784, "gallon", "gallons", "gal", NULL },
    { "C", 3, 0, "degree Celsius", "degrees Celsius", "Celsius", "C" },
    { "F", 3, 0, "degree Fahrenheit", "degrees Fahrenheit", "Fahrenheit", "F" },
    { "K", 3, 0, "kelvin", "kelvin", "K", NULL },
};

static double convert(double v, const unit *f, const unit *t) {
    if (f->dim != 3) return v * f->to_base / t->to_base;
    double c = f->sym[0] == 'C' ? v : f->sym[0] == 'F' ? (v - 32) * 5 / 9 : v - 273.15;
    return t->sym[0] == 'C' ? c : t->sym[0] == 'F' ? c * 9 / 5 + 32 : c + 273.15;
}

static const char *unit_name(rng *r, bool held, const unit *u, bool plural) {
    if (held && u->held_alt && rchance(r, 0.3)) return u->held_alt;
    if (u->alt && rchance(r, 0.25)) return u->alt;
    return plural ? u->many : u->one;
}

static const char *const units_tpl[] = {
    "Convert {0} {1} to {2}.", "How many {2} is {0} {1}?", "How many {2} are in {0} {1}?", "What is {0} {1} in {2}?",
    "{0} {1} in {2}?", "Can you convert {0} {1} into {2}?", "I have {0} {1}. How much is that in {2}?",
    "Please change {0} {1} to {2}.", "What's {0} {1} in {2}?", "Express {0} {1} in {2}.", "Turn {0} {1} into {2}.",
    "Convert {0} {1} into {2} please.", "How much is {0} {1} in {2}?", "I need to know {0} {1} in {2}.",
    "{0} {1} to {2}?", "How many {2} in {0} {1}?", "Convert {0} {1} in {2}.", "What does {0} {1} equal in {2}?",
    "Could you convert {0} {1} to {2}?", "{0} {1} is how many {2}?", "Please convert {0} {1} to {2}.",
    "Translate {0} {1} into {2}.", "I want {0} {1} in {2}.", "Switch {0} {1} to {2}.",
    "Convert {0} from {1} to {2}.", "My recipe says {0} {1}. What is that in {2}?", "{0} {1} equals how many {2}?",
    "Quick conversion: {0} {1} to {2}.",
    HELD, "How much is {0} {1} when expressed in {2}?", "I need {0} {1} converted to {2}.", "Give me {0} {1} as {2}.",
    "What would {0} {1} be in {2}?", "Change {0} {1} over to {2}.",
};
static const char *const units_answer[] = {
    "{0} {1} is {3} {2}.", "That is about {3} {2}.", "{0} {1} equals {3} {2}.", "It comes to {3} {2}.",
    "{0} {1} is about {3} {2}.",
};

static void gen_units(rng *r, bool held, exch *e) {
    /* sensible pairs (no miles to centimeters), either direction */
    static const char pairs[][2][4] = { { "km", "mi" }, { "m", "ft" }, { "cm", "in" }, { "km", "m" }, { "m", "cm" },
                                        { "mi", "ft" }, { "ft", "in" }, { "kg", "lb" }, { "g", "oz" }, { "kg", "g" },
                                        { "lb", "oz" }, { "l", "gal" }, { "l", "ml" }, { "C", "F" }, { "C", "K" },
                                        { "F", "K" } };
    int pi = (int)(rnext(r) % LC_ARRAY_LEN(pairs)), dir = rint_(r, 0, 1);
    const unit *f = NULL, *t = NULL;
    for (size_t k = 0; k < LC_ARRAY_LEN(units); k++) {
        if (!strcmp(units[k].sym, pairs[pi][dir])) f = &units[k];
        if (!strcmp(units[k].sym, pairs[pi][1 - dir])) t = &units[k];
    }
    double v;
    if (f->dim == 3) v = rint_(r, held ? -30 : -20, held ? 110 : 100);
    else if (rchance(r, 0.7)) v = rint_(r, 1, held ? 900 : 500);
    else v = rint_(r, 1, 999) / 10.0;
    char vs[32], res[32], rs[48];
    fmt_num(vs, sizeof vs, v, 2);
    double out = convert(v, f, t);
    fmt_num(res, sizeof res, out, fabs(out) >= 100 ? 1 : fabs(out) >= 1 ? 2 : 4);
    const char *fname = unit_name(r, held, f, v != 1), *tname = unit_name(r, held, t, true);
    lc_buf core = { 0 };
    const char *vals[4] = { vs, fname, tname, res };
    fill(&core, pick_split(r, PLIST(units_tpl), held), vals);
    wrap(r, held, core.p, &e->user);
    lc_buf_free(&core);
    e->tool = T_UNITS;
    json_t *jv = v == floor(v) ? json_integer((json_int_t)v) : json_real(v);
    e->args = json_pack("{s:o, s:s, s:s}", "value", jv, "from_unit", f->sym, "to_unit", t->sym);
    snprintf(rs, sizeof rs, "%s %s", res, t->sym);
    lc_buf_puts(&e->result, rs);
    fill(&e->answer, PICK(r, units_answer), vals);
}

/* ---- weather requests ----------------------------------------------------------- */
static const char *const cities[] = {
    "Paris", "London", "Berlin", "Madrid", "Rome", "Lisbon", "Vienna", "Prague", "Warsaw", "Budapest", "Athens",
    "Dublin", "Oslo", "Stockholm", "Helsinki", "Copenhagen", "Amsterdam", "Brussels", "Zurich", "Geneva",
    "New York", "Los Angeles", "Chicago", "Houston", "Seattle", "Boston", "Miami", "Denver", "Toronto",
    "Vancouver", "Montreal", "Mexico City", "Lima", "Bogota", "Santiago", "Buenos Aires", "Sao Paulo", "Tokyo",
    "Osaka", "Seoul", "Beijing", "Shanghai", "Hong Kong", "Singapore", "Bangkok", "Hanoi", "Manila", "Jakarta",
    "Delhi", "Mumbai", "Karachi", "Dubai", "Istanbul", "Cairo", "Nairobi", "Lagos", "Cape Town", "Sydney",
    "Melbourne", "Auckland",
    "Barcelona", "Valencia", "Milan", "Naples", "Florence", "Venice", "Hamburg", "Frankfurt", "Cologne",
    "Marseille", "Nice", "Bordeaux", "Manchester", "Liverpool", "Glasgow", "Cardiff", "Belfast", "Bristol",
    "Rotterdam", "Antwerp", "Bern", "Basel", "Salzburg", "Bratislava", "Ljubljana", "Zagreb", "Belgrade",
    "Bucharest", "Sofia", "Kyiv", "Riga", "Tallinn", "Vilnius", "Moscow", "Tbilisi", "Baku", "Yerevan", "Tehran",
    "Riyadh", "Doha", "Tel Aviv", "Amman", "Beirut", "Tunis", "Algiers", "Dakar", "Addis Ababa", "Kampala",
    "Kigali", "Dar es Salaam", "Johannesburg", "Durban", "Luanda", "Harare", "Lusaka", "Abuja", "Marrakesh",
    "Chennai", "Kolkata", "Bangalore", "Hyderabad", "Dhaka", "Colombo", "Lahore", "Islamabad", "Tashkent",
    "Almaty", "Ulaanbaatar", "Taipei", "Busan", "Nagoya", "Sapporo", "Guangzhou", "Shenzhen", "Chengdu",
    "Kuala Lumpur", "Phnom Penh", "Yangon", "Ho Chi Minh City", "Brisbane", "Adelaide", "Hobart",
    "Christchurch", "Honolulu", "Anchorage", "Phoenix", "Dallas", "Atlanta", "Detroit", "Philadelphia",
    "Washington", "San Francisco", "Portland", "Las Vegas", "Nashville", "New Orleans", "Minneapolis",
    "Calgary", "Edmonton", "Ottawa", "Winnipeg", "Havana", "Panama City", "San Jose", "Guatemala City",
    "Caracas", "Quito", "La Paz", "Montevideo", "Rio de Janeiro", "Brasilia", "Recife", "Medellin", "Cusco",
    "Valparaiso", "Cordoba",
    HELD, "Reykjavik", "Edinburgh", "Krakow", "Porto", "Seville", "Munich", "Lyon", "Kyoto", "Perth",
    "San Diego", "Austin", "Quebec City", "Casablanca", "Accra", "Kathmandu", "Wellington",
};
static const char *const conditions[] = { "sunny", "cloudy", "rainy", "windy", "snowy", "foggy", "clear" };
static const char *const weather_tpl[] = {
    "What's the weather in {0}?", "What is the weather like in {0}?", "How is the weather in {0} today?",
    "Weather in {0}?", "Is it raining in {0}?", "Tell me the weather for {0}.", "What's the temperature in {0}?",
    "Do I need an umbrella in {0} today?", "How hot is it in {0}?", "How cold is it in {0} right now?",
    "Give me the current weather for {0}.", "Check the weather in {0}, please.", "What's it like outside in {0}?",
    "Can you look up the weather in {0}?", "Is it warm in {0} now?",
    "What's the forecast for {0}?", "Forecast for {0} today?", "Will it rain in {0} today?",
    "Is it snowing in {0}?", "What temperature is it in {0}?", "How warm is it in {0} today?",
    "Should I bring a jacket in {0}?", "Is it windy in {0}?", "Look up the weather for {0}.",
    "Weather report for {0}, please.", "Tell me how the weather is in {0}.", "Is it cold in {0}?",
    "Is it hot in {0} today?", "I'm in {0}. Is it going to rain?", "Check {0} weather.", "{0} weather?",
    "What's the weather like today in {0}?", "Can you check if it's raining in {0}?", "Get me the weather in {0}.",
    "What is the temperature in {0} right now?", "Do I need a coat in {0}?", "Weather for {0}, please.",
    "Is it nice out in {0}?", "My friend lives in {0}. How is the weather there?",
    HELD, "Any idea what the weather is doing in {0}?", "I'm heading to {0}. What's the weather there?",
    "Current conditions in {0}?", "Is it sunny in {0}?", "How's the weather over in {0}?",
};
static const char *const weather_answer[] = {
    "It is {1} degrees C and {2} in {0}.", "In {0} it is currently {1} degrees C and {2}.",
    "Right now it is {2} in {0}, at {1} degrees C.", "The weather in {0} is {2} with {1} degrees C.",
};

static void gen_weather(rng *r, bool held, exch *e) {
    const char *city = pick_split(r, PLIST(cities), held);
    int temp = rint_(r, -10, 35);
    const char *cond = PICK(r, conditions);
    if (temp < 0 && strcmp(cond, "rainy") == 0) cond = "snowy";
    if (temp > 5 && strcmp(cond, "snowy") == 0) cond = "cloudy";
    const char *tpl = pick_split(r, PLIST(weather_tpl), held);
    lc_buf core = { 0 };
    const char *vals[3] = { city, NULL, NULL };
    fill(&core, tpl, vals);
    wrap(r, held, core.p, &e->user);
    lc_buf_free(&core);
    e->tool = T_WEATHER;
    e->args = json_pack("{s:s}", "city", city);
    lc_buf_printf(&e->result, "{\"temperature_c\": %d, \"condition\": \"%s\"}", temp, cond);
    char ts[16];
    snprintf(ts, sizeof ts, "%d", temp);
    const char *avals[3] = { city, ts, cond };
    if (strstr(tpl, "raining")) lc_buf_puts(&e->answer, strcmp(cond, "rainy") == 0 ? "Yes. " : "No. ");
    else if (strstr(tpl, "sunny")) lc_buf_puts(&e->answer, strcmp(cond, "sunny") == 0 ? "Yes. " : "No. ");
    fill(&e->answer, PICK(r, weather_answer), avals);
}

/* ---- plain chat (no tool) --------------------------------------------------------- */
typedef struct qa { const char *const *q; int nq; const char *const *a; int na; } qa;
#define QA(qs, as) { (qs), (int)LC_ARRAY_LEN(qs), (as), (int)LC_ARRAY_LEN(as) }

static const char *const q_hello[] = { "Hi!", "Hello!", "Hey there.", "Hi", "Hello there!", "Good morning!",
                                       HELD, "Good evening!", "Howdy!", "Greetings!" };
static const char *const a_hello[] = { "Hello! How can I help you today?", "Hi! What can I do for you?",
                                       "Hello! What would you like to know?" };
static const char *const q_how[] = { "How are you?", "How are you doing?", "How's it going?", HELD,
                                     "How have you been?", "Are you doing well?" };
static const char *const a_how[] = { "I'm doing well, thank you! How can I help?",
                                     "Very well, thanks for asking. What can I do for you?" };
static const char *const q_who[] = { "Who are you?", "What are you?", "What is your name?", "Introduce yourself.",
                                     HELD, "Tell me about yourself.", "Who am I talking to?" };
static const char *const a_who[] = {
    "I am a small assistant model trained with llamac. I can do arithmetic, convert units and check the weather.",
    "I'm a tiny Llama-style assistant. Ask me to calculate, convert units or look up the weather.",
};
static const char *const q_can[] = { "What can you do?", "How can you help me?", "What tools do you have?",
                                     "What are you able to do?", HELD, "What are your skills?",
                                     "Which tasks can you handle?" };
static const char *const a_can[] = {
    "I can use a calculator, convert units and look up the weather. Just ask!",
    "I can do math with a calculator, convert between units and tell you the weather in a city.",
};
static const char *const q_thanks[] = { "Thanks!", "Thank you so much.", "Great, thanks.", "Thanks a lot.",
                                        "Perfect, thank you!", HELD, "Cheers, that helps.", "Much obliged!" };
static const char *const a_thanks[] = { "You're welcome!", "Happy to help!", "Glad I could help!",
                                        "Any time!" };
static const char *const q_bye[] = { "Bye!", "See you later.", "Goodbye.", HELD, "Catch you later!",
                                     "Talk to you soon." };
static const char *const a_bye[] = { "Goodbye! Have a nice day.", "See you! Take care." };
static const char *const q_joke[] = { "Tell me a joke.", "Do you know a joke?", "Make me laugh.", HELD,
                                      "Got any jokes?" };
static const char *const a_joke[] = { "Why did the llama cross the road? To get to the other pasture!",
                                      "What do you call a llama with no legs? Anything you like, it can't come when "
                                      "you call." };
static const char *const q_llama[] = { "What is a llama?", "Tell me about llamas.", HELD, "What kind of animal is a llama?" };
static const char *const a_llama[] = { "A llama is a domesticated South American animal related to the camel.",
                                       "Llamas are friendly South American animals, cousins of the camel, used "
                                       "to carry loads in the Andes." };
static const char *const q_week[] = { "How many days are in a week?", "How many days does a week have?", HELD,
                                      "A week has how many days?" };
static const char *const a_week[] = { "There are seven days in a week." };
static const char *const q_sky[] = { "What color is the sky?", "Why is the sky blue?", HELD, "What colour is the sky?" };
static const char *const a_sky[] = { "On a clear day the sky is blue, because air scatters blue light the most." };
static const char *const q_spider[] = { "How many legs does a spider have?", HELD, "How many legs do spiders have?" };
static const char *const a_spider[] = { "A spider has eight legs." };
static const char *const q_poem[] = { "Write a short poem.", "Can you write me a poem?", HELD, "Compose a tiny poem." };
static const char *const a_poem[] = { "Soft rain on the hill,\nthe llama stands calm and still,\nclouds drift as they will.",
                                      "A quiet night sky,\nstars drifting slowly by,\nthe moon says goodbye." };

static const char *const q_fact[] = { "Tell me a fun fact.", "Do you know an interesting fact?", "Teach me something.",
                                     HELD, "Share a fact with me." };
static const char *const a_fact[] = { "Llamas hum to each other, and they can live for about twenty years.",
                                      "Honey never spoils: jars from ancient Egypt were still good to eat." };
static const char *const q_music[] = { "Do you like music?", "Can you sing?", "What is your favourite song?", HELD,
                                       "Do you enjoy music?" };
static const char *const a_music[] = { "I cannot hear music, but I like reading about it. Can I help with something?",
                                       "I do not sing, but I can calculate, convert units or check the weather." };
static const char *const q_help[] = { "I need some help.", "Can you help me?", "Help!", HELD, "Could you assist me?" };
static const char *const a_help[] = { "Of course! What do you need?", "Sure, what can I do for you?" };

static const qa plain_qa[] = {
    QA(q_hello, a_hello), QA(q_how, a_how), QA(q_who, a_who), QA(q_can, a_can), QA(q_thanks, a_thanks),
    QA(q_bye, a_bye), QA(q_joke, a_joke), QA(q_llama, a_llama), QA(q_week, a_week), QA(q_sky, a_sky),
    QA(q_spider, a_spider), QA(q_poem, a_poem),
};
/* more plain requests, in the train split only (their held-out phrasings stay unused, so the
 * held-out prompts are the same as before these were added) */
static const qa plain_qa_more[] = { QA(q_fact, a_fact), QA(q_music, a_music), QA(q_help, a_help) };
enum { QA_THANKS = 4 };

static const char *const countries[][2] = {
    { "France", "Paris" }, { "Germany", "Berlin" }, { "Spain", "Madrid" }, { "Italy", "Rome" },
    { "Portugal", "Lisbon" }, { "Japan", "Tokyo" }, { "Canada", "Ottawa" }, { "Australia", "Canberra" },
    { "Brazil", "Brasilia" }, { "Egypt", "Cairo" }, { "Kenya", "Nairobi" }, { "India", "New Delhi" },
    { "China", "Beijing" }, { "Mexico", "Mexico City" }, { "Norway", "Oslo" }, { "Sweden", "Stockholm" },
    { "Poland", "Warsaw" }, { "Greece", "Athens" }, { "Ireland", "Dublin" }, { "Peru", "Lima" },
    { "Chile", "Santiago" }, { "Argentina", "Buenos Aires" }, { "Thailand", "Bangkok" }, { "Vietnam", "Hanoi" },
    { HELD, NULL }, { "Finland", "Helsinki" }, { "Austria", "Vienna" }, { "Hungary", "Budapest" },
    { "Singapore", "Singapore" }, { "New Zealand", "Wellington" }, { "Nepal", "Kathmandu" },
};
static const char *const q_capital[] = { "What is the capital of {0}?", "What's the capital city of {0}?",
                                         "Which city is the capital of {0}?", HELD, "Name the capital of {0}." };
static const char *const a_capital[] = { "The capital of {0} is {1}.", "{1} is the capital of {0}." };

static void gen_plain(rng *r, bool held, exch *e, bool thanks) {
    e->tool = -1;
    if (thanks) {
        const qa *q = &plain_qa[QA_THANKS];
        lc_buf_puts(&e->user, pick_split(r, (plist){ q->q, q->nq }, held));
        lc_buf_puts(&e->answer, q->a[rnext(r) % (uint64_t)q->na]);
        return;
    }
    if (rchance(r, 0.3)) {
        int n = (int)LC_ARRAY_LEN(countries), cut = 0;
        while (strcmp(countries[cut][0], HELD) != 0) cut++;
        int i = held ? cut + 1 + (int)(rnext(r) % (uint64_t)(n - cut - 1)) : (int)(rnext(r) % (uint64_t)cut);
        lc_buf core = { 0 };
        fill(&core, pick_split(r, PLIST(q_capital), held), countries[i]);
        wrap(r, held, core.p, &e->user);
        lc_buf_free(&core);
        fill(&e->answer, PICK(r, a_capital), countries[i]);
        return;
    }
    const qa *q = !held && rchance(r, 0.25) ? &PICK(r, plain_qa_more) : &PICK(r, plain_qa);
    lc_buf_puts(&e->user, pick_split(r, (plist){ q->q, q->nq }, held));
    lc_buf_puts(&e->answer, q->a[rnext(r) % (uint64_t)q->na]);
}

/* ---- conversations ----------------------------------------------------------- */
#define MAX_EXCH 4

typedef struct conv {
    int n;
    exch ex[MAX_EXCH];
    bool tools[N_TOOLS];  /* tools listed in the request */
    bool any_tools;
    const char *system;   /* NULL: no system message */
} conv;

static const char *const systems[] = { "You are a helpful assistant.", "You are a friendly assistant.",
                                       "You are a concise assistant. Use the tools when they help.",
                                       HELD, "You are an assistant that answers briefly." };

static void gen_tool_exch(rng *r, bool held, int tool, exch *e) {
    if (tool == T_CALC) gen_calc(r, held, e);
    else if (tool == T_UNITS) gen_units(r, held, e);
    else gen_weather(r, held, e);
}

static int pick_tool(rng *r) {
    double u = runif(r);
    return u < 0.4 ? T_CALC : u < 0.7 ? T_UNITS : T_WEATHER;
}

static void gen_conv(rng *r, bool held, conv *c) {
    memset(c, 0, sizeof *c);
    c->system = rchance(r, 0.5) ? pick_split(r, PLIST(systems), held) : NULL;
    double u = runif(r);
    bool first_plain = u < 0.25;
    c->any_tools = !(first_plain && rchance(r, 0.5));     /* about 12% of conversations list no tools */
    double m = runif(r);
    /* held-out prompts: mostly one exchange; training conversations hold more exchanges, so
     * each pass over the (long) tool definitions teaches more calls and answers */
    if (held) c->n = m < 0.75 ? 1 : m < 0.95 ? 2 : 3;
    else c->n = m < 0.2 ? 1 : m < 0.5 ? 2 : m < 0.8 ? 3 : 4;
    int first_tool = first_plain ? -1 : pick_tool(r);
    for (int i = 0; i < c->n; i++) {
        exch *e = &c->ex[i];
        int tool = i == 0 ? first_tool : -1;
        if (i > 0 && c->any_tools && rchance(r, 0.6)) tool = pick_tool(r);
        if (tool >= 0) {
            gen_tool_exch(r, held, tool, e);
            c->tools[tool] = true;
        } else {
            gen_plain(r, held, e, i > 0 && rchance(r, 0.5));
        }
    }
    if (c->any_tools) {
        bool all = rchance(r, 0.6);
        for (int t = 0; t < N_TOOLS; t++)
            if (all || rchance(r, 0.5)) c->tools[t] = true;
        bool some = false;
        for (int t = 0; t < N_TOOLS; t++) some |= c->tools[t];
        if (!some) c->tools[rint_(r, 0, N_TOOLS - 1)] = true;
    }
}

static json_t *msg(const char *role, const char *content) {
    return json_pack("{s:s, s:s}", "role", role, "content", content);
}

/* appends exchange i's messages: user, then the answer or call + tool result + answer */
static void put_exch(json_t *msgs, const exch *e, int call_no, bool with_reply) {
    json_array_append_new(msgs, msg("user", e->user.p));
    if (!with_reply) return;
    if (e->tool >= 0) {
        char id[32];
        snprintf(id, sizeof id, "call_%d", call_no);
        char *args = json_dumps(e->args, JSON_COMPACT | JSON_REAL_PRECISION(12));
        json_array_append_new(msgs, json_pack("{s:s, s:n, s:[{s:s, s:s, s:{s:s, s:s}}]}", "role", "assistant", "content",
                                              "tool_calls", "id", id, "type", "function", "function", "name",
                                              tool_names[e->tool], "arguments", args ? args : "{}"));
        free(args);
        json_array_append_new(msgs, json_pack("{s:s, s:s, s:s}", "role", "tool", "tool_call_id", id, "content",
                                              e->result.p));
    }
    json_array_append_new(msgs, msg("assistant", e->answer.p));
}

/* the request object; with `upto` >= 0 the conversation stops at that exchange's user message */
static json_t *conv_json(const conv *c, int upto) {
    json_t *root = json_object(), *msgs = json_array();
    if (c->system) json_array_append_new(msgs, msg("system", c->system));
    int n = upto >= 0 ? upto + 1 : c->n;
    for (int i = 0; i < n; i++) put_exch(msgs, &c->ex[i], i + 1, i != upto);
    json_object_set_new(root, "messages", msgs);
    if (c->any_tools) {
        json_t *tools = json_array();
        for (int t = 0; t < N_TOOLS; t++)
            if (c->tools[t]) json_array_append_new(tools, tool_def(t));
        json_object_set_new(root, "tools", tools);
    }
    return root;
}

static void conv_free(conv *c) {
    for (int i = 0; i < MAX_EXCH; i++) exch_free(&c->ex[i]);
}

/* the request line -> its chat-template text with the special tokens cut out */
static bool render_text(char **line) {
    lc_chat_opts o;
    lc_chat_opts_default(&o);
    o.add_generation_prompt = 0;
    char *txt;
    if (lc_chat_render_json(*line, strlen(*line), &o, &txt) != LC_OK) return false;
    static const char *const specials[] = { "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                                            "<|eot_id|>", "<|eom_id|>", "<|python_tag|>" };
    char *w = txt;
    for (const char *p = txt; *p;) {
        size_t skip = 0;
        for (size_t k = 0; k < LC_ARRAY_LEN(specials) && !skip; k++)
            if (!strncmp(p, specials[k], strlen(specials[k]))) skip = strlen(specials[k]);
        if (skip) p += skip;
        else *w++ = *p++;
    }
    *w = 0;
    free(*line);
    *line = txt;
    return true;
}

/* ---- main ---------------------------------------------------------------------- */
static void usage(FILE *f) {
    fputs("usage: gen_toolchat --seed S --n N [--split train|heldout] [--eval-prompts] > out.jsonl\n"
          "Writes N synthetic Llama 3.1 chat conversations (OpenAI messages + tools: calculator,\n"
          "convert_units, get_weather), one JSON object per line; the same seed gives the same lines.\n"
          "  --split heldout   phrasings, cities and countries that the train split never uses\n"
          "  --eval-prompts    held-out prompts for the tool-call evaluation: the conversation up to a\n"
          "                    user turn, plus \"expected\": {\"name\", \"arguments\"} or null (no call)\n"
          "  --render          write the conversations as the model sees them (chat template text without\n"
          "                    special tokens), for training a tokenizer that knows the chat format\n", f);
}

static bool parse_u64(const char *s, uint64_t *out) {
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (!*s || *e || errno || s[0] == '-') return false;
    *out = v;
    return true;
}

int main(int argc, char **argv) {
    uint64_t seed = 1, n = 0;
    bool have_n = false, held = false, eval = false, render = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--eval-prompts")) {
            eval = true;
        } else if (!strcmp(a, "--render")) {
            render = true;
        } else if (i + 1 < argc && !strcmp(a, "--seed")) {
            if (!parse_u64(argv[++i], &seed)) {
                fprintf(stderr, "gen_toolchat: --seed needs a non-negative integer, got '%s'\n", argv[i]);
                return 2;
            }
        } else if (i + 1 < argc && !strcmp(a, "--n")) {
            if (!parse_u64(argv[++i], &n) || n > 100000000) {
                fprintf(stderr, "gen_toolchat: --n needs an integer in 0..100000000, got '%s'\n", argv[i]);
                return 2;
            }
            have_n = true;
        } else if (i + 1 < argc && !strcmp(a, "--split")) {
            const char *s = argv[++i];
            if (!strcmp(s, "heldout")) held = true;
            else if (!strcmp(s, "train")) held = false;
            else {
                fprintf(stderr, "gen_toolchat: --split is train or heldout, got '%s'\n", s);
                return 2;
            }
        } else {
            fprintf(stderr, "gen_toolchat: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!have_n) {
        fprintf(stderr, "gen_toolchat: --n is required\n");
        usage(stderr);
        return 2;
    }
    if (eval) held = true;   /* evaluation prompts always come from the held-out side */
    /* separate streams for the splits and the prompt mode, so they never share draws */
    rng r = { seed * 0x9E3779B97F4A7C15ull ^ (held ? 0x5bd1e995u : 0x1b873593u) ^ (eval ? 0xe6546b64ull << 32 : 0) };
    for (int k = 0; k < 4; k++) rnext(&r);
    for (uint64_t i = 0; i < n; i++) {
        conv c;
        gen_conv(&r, held, &c);
        json_t *root;
        if (eval) {
            int last = c.n - 1;
            root = conv_json(&c, last);
            const exch *e = &c.ex[last];
            json_t *exp = e->tool >= 0 ? json_pack("{s:s, s:O}", "name", tool_names[e->tool], "arguments", e->args)
                                       : json_null();
            json_object_set_new(root, "expected", exp);
        } else {
            root = conv_json(&c, -1);
        }
        char *line = root ? json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
        json_decref(root);
        conv_free(&c);
        if (!line) {
            fprintf(stderr, "gen_toolchat: out of memory\n");
            return 1;
        }
        if (render && !render_text(&line)) {
            free(line);
            fprintf(stderr, "gen_toolchat: cannot render a conversation: %s\n", lc_last_error());
            return 1;
        }
        if (fputs(line, stdout) == EOF || fputc('\n', stdout) == EOF) {
            free(line);
            fprintf(stderr, "gen_toolchat: write error\n");
            return 1;
        }
        free(line);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "gen_toolchat: write error\n");
        return 1;
    }
    return 0;
}
