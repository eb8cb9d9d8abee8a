/*
 * risk-model: scores a loan applicant from a file the host mounts at
 * /inputs, against a threshold the host passes in RISK_THRESHOLD, with a base
 * rate from the vendor's API when the host grants that host.
 *
 * One source, two releases: the default build is 1.4.2; -DRISK_MODEL_V2
 * builds 1.5.0, which also reads keys and a cache, asks a language model for
 * an explanation and bills through Stripe. The manifests say so, and
 * `perch wasm diff risk-model-1.4.2.wasm risk-model-1.5.0.wasm` shows it.
 *
 * Input: argv[1] or /inputs/applicant.txt, lines "key = value" with integer
 * income, debt, late_payments and years_employed.
 * Output: "risk-model VERSION: score N/100 (approve|review)".
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <perch/manifest.h>

/* List entries are written sorted, as perch itself writes them. */
#ifdef RISK_MODEL_V2
#define RISK_VERSION "1.5.0"
PERCH_MANIFEST(
    PERCH_NAME("risk-model"),
    PERCH_VERSION(RISK_VERSION),
    PERCH_NEEDS_READ("/etc/keys", "/inputs", "/tmp/cache"),
    PERCH_NEEDS_NET("api.openai.com:443", "risk-api.vendor.com:443"),
    PERCH_NEEDS_ENV("RISK_THRESHOLD", "STRIPE_SECRET_KEY"),
    PERCH_MEMORY_MAX(PERCH_MIB(256)));
#else
#define RISK_VERSION "1.4.2"
PERCH_MANIFEST(
    PERCH_NAME("risk-model"),
    PERCH_VERSION(RISK_VERSION),
    PERCH_NEEDS_READ("/inputs"),
    PERCH_NEEDS_NET("legacy.vendor.com:443", "risk-api.vendor.com:443"),
    PERCH_NEEDS_ENV("RISK_THRESHOLD"),
    PERCH_MEMORY_MAX(PERCH_MIB(256)));
#endif

/* The perch host module (same names and ABI as perch's Go SDK). */
#define PERCH_IMPORT(fn) __attribute__((import_module("perch"), import_name(fn)))
PERCH_IMPORT("http_get") int32_t perch_http_get(const char *url, size_t len);
PERCH_IMPORT("http_status") int32_t perch_http_status(int32_t h);
PERCH_IMPORT("http_read_body") int32_t perch_http_read_body(int32_t h, char *dst, size_t cap);
PERCH_IMPORT("http_close") int32_t perch_http_close(int32_t h);

#define MAX_INPUT 65536

/* Reads a whole small file into buf (NUL-terminated); false if it cannot. */
static int read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n;
    if (!f)
        return 0;
    n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return 1;
}

/* GETs url into buf; false when the host refuses or the status is not 200. */
static int http_get(const char *url, char *buf, size_t cap)
{
    int32_t h = perch_http_get(url, strlen(url));
    int32_t n, got = 0;
    if (h < 0)
        return 0;
    if (perch_http_status(h) != 200) {
        perch_http_close(h);
        return 0;
    }
    while ((size_t)got < cap - 1 &&
           (n = perch_http_read_body(h, buf + got, cap - 1 - (size_t)got)) > 0)
        got += n;
    buf[got] = '\0';
    perch_http_close(h);
    return 1;
}

/* The integer after "key =" at the start of a line of text, or fallback. */
static long field(const char *text, const char *key, long fallback)
{
    size_t klen = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n')) {
        while (*line == '\n' || *line == ' ')
            line++;
        if (strncmp(line, key, klen) == 0) {
            const char *p = line + klen;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == '=' || *p == ':')
                return strtol(p + 1, NULL, 10);
        }
    }
    return fallback;
}

static long clamp(long v, long lo, long hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

int main(int argc, char **argv)
{
    static char input[MAX_INPUT], rates[4096];
    const char *path = argc > 1 ? argv[1] : "/inputs/applicant.txt";
    const char *env = getenv("RISK_THRESHOLD");
    long threshold = env ? clamp(strtol(env, NULL, 10), 0, 100) : 50;
    long base = 20, income, debt, late, years, score;

    if (!read_file(path, input, sizeof input)) {
        fprintf(stderr, "risk-model: cannot read %s\n", path);
        return 1;
    }
#ifdef RISK_MODEL_V2
    if (read_file("/tmp/cache/rates.txt", rates, sizeof rates) ||
        http_get("https://risk-api.vendor.com/v2/rates", rates, sizeof rates))
        base = field(rates, "base", base);
#else
    if (http_get("https://risk-api.vendor.com/v1/rates", rates, sizeof rates) ||
        http_get("https://legacy.vendor.com/rates", rates, sizeof rates))
        base = field(rates, "base", base);
#endif

    income = field(input, "income", 0);
    debt = field(input, "debt", 0);
    late = field(input, "late_payments", 0);
    years = field(input, "years_employed", 0);
    score = base + (income > 0 ? debt * 50 / income : 50) + late * 10 - years * 2;
    score = clamp(score, 0, 100);

#ifdef RISK_MODEL_V2
    {
        static char key[256], note[1024];
        const char *stripe = getenv("STRIPE_SECRET_KEY");
        if (read_file("/etc/keys/openai.key", key, sizeof key) &&
            http_get("https://api.openai.com/v1/explain", note, sizeof note))
            printf("explanation: %s\n", note);
        if (stripe && isalnum((unsigned char)stripe[0]))
            printf("billing: one scored applicant\n");
    }
#endif
    printf("risk-model " RISK_VERSION ": score %ld/100 (%s)\n", score,
           score <= threshold ? "approve" : "review");
    return 0;
}
