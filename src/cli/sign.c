/*
 * sign.c: `perch wasm keygen`, `sign` and `verify`: Ed25519 signatures in
 * the perch.signature section (docs/signing.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "manifest/manifest.h"
#include "trust/trust.h"
#include "wasm/reader.h"

static const char keygen_help[] =
    "usage: perch wasm keygen --signer NAME [-o DIR] [--force]\n"
    "       perch wasm keygen --signer NAME --from KEY.pem [-o DIR] [--force]\n"
    "\n"
    "Make an Ed25519 key pair for signing modules. Writes two files in DIR\n"
    "(default: the current directory):\n"
    "  NAME.key       the secret key, mode 0600: PKCS#8 PEM after a first line\n"
    "                 'perch-signer: NAME' (openssl reads it as it is). Keep it\n"
    "                 secret; perch never prints it.\n"
    "  NAME.pub.json  a keyring with the one public key, for whoever verifies:\n"
    "                 {\"keys\": [{\"signer\": NAME, \"algo\": \"ed25519\", \"pubkey\": B64}]}\n"
    "Existing files are never overwritten unless --force is given.\n"
    "\n"
    "With --from KEY.pem, no key is made: NAME.pub.json is written for an\n"
    "existing key (an Ed25519 secret or public key in PEM, as `openssl genpkey\n"
    "-algorithm ed25519` and `openssl pkey -pubout` write them).\n"
    "\n"
    "NAME is 1 to 128 characters of A-Z a-z 0-9 . _ @ - (not starting with '.').\n"
    "\n"
    "options:\n"
    "  --signer NAME     the signer's name, recorded in every signature\n"
    "  -o, --output DIR  where to write the files (default: .)\n"
    "  --from KEY.pem    only write NAME.pub.json, for this existing key\n"
    "  --force           replace existing files\n"
    "  -h, --help        print this help\n"
    "\n"
    "exit status: 0 the files were written; 2 an error (usage, io).\n";

static const char sign_help[] =
    "usage: perch wasm sign --key KEY MODULE [-o OUT] [--signer NAME] [--allow-no-manifest]\n"
    "\n"
    "Sign MODULE with the Ed25519 secret key in KEY. The signature covers the\n"
    "SHA-256 of every byte of the module except its perch.signature sections:\n"
    "header, code, data, the perch.manifest section and every other custom\n"
    "section. Existing perch.signature sections are removed and the new one is\n"
    "appended at the end, as the JSON object\n"
    "  {\"algo\":\"ed25519\",\"signer\":NAME,\"pubkey\":B64,\"sig\":B64}\n"
    "\n"
    "KEY is a file written by `perch wasm keygen` (which names its signer) or\n"
    "an Ed25519 key made by `openssl genpkey -algorithm ed25519` (then --signer\n"
    "names the signer). The result replaces MODULE (or is written to OUT)\n"
    "atomically.\n"
    "\n"
    "A module without a perch.manifest section is refused (manifest_missing):\n"
    "a signature is a statement about what a module declares. --allow-no-manifest\n"
    "signs it anyway. A malformed manifest is always refused.\n"
    "\n"
    "options:\n"
    "  --key KEY            the secret key file\n"
    "  --signer NAME        the signer's name (required when KEY names none; must\n"
    "                       match when it does)\n"
    "  -o, --output OUT     write the signed module to OUT instead of replacing MODULE\n"
    "  --allow-no-manifest  sign a module that declares nothing\n"
    "  -h, --help           print this help\n"
    "\n"
    "exit status: 0 signed; 2 an error (usage, io, wasm_malformed,\n"
    "manifest_missing, manifest_malformed).\n";

static const char verify_help[] =
    "usage: perch wasm verify --trust-keys KEYRING MODULE [--format json]\n"
    "\n"
    "Check MODULE's signature and print one line per check, each a pass or a\n"
    "precise failure:\n"
    "  section    exactly one perch.signature section\n"
    "  format     its JSON has exactly algo, signer, pubkey and sig; algo is\n"
    "             ed25519; pubkey and sig are canonical base64 of 32 and 64 bytes\n"
    "  signature  the signature is valid over the SHA-256 of the module without\n"
    "             its perch.signature section\n"
    "  manifest   one well-formed perch.manifest section, covered by the signature\n"
    "  signer     the signer is in KEYRING with the same public key\n"
    "  policy     the capabilities are within host policy: not checked, host\n"
    "             policy files are not supported yet\n"
    "\n"
    "KEYRING is JSON: {\"keys\": [{\"signer\": NAME, \"algo\": \"ed25519\", \"pubkey\": B64}]}\n"
    "(`perch wasm keygen` writes one per key; join entries to trust several).\n"
    "\n"
    "options:\n"
    "  --trust-keys KEYRING  the signers to trust\n"
    "  --format FORMAT       text (default) or json\n"
    "  -h, --help            print this help\n"
    "\n"
    "exit status: 0 every check passes; 1 a check fails; 2 an error (usage, io,\n"
    "wasm_malformed, policy_invalid for a malformed keyring).\n";

/* ---- keygen ---------------------------------------------------------------- */

/*
 * Create path with data: O_EXCL so an existing key is never replaced by
 * accident (a lost secret key cannot be recovered), O_NOFOLLOW so a
 * planted symlink cannot redirect the secret elsewhere.
 */
static perch_err_kind write_new(const char *path, const void *data, size_t len, mode_t mode,
                                bool force, perch_err *err)
{
    const uint8_t *p = data;
    int fd;

    if (force && unlink(path) != 0 && errno != ENOENT)
        return pb_fail(err, PERCH_E_IO, "cannot replace %s: %s", path, strerror(errno));
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return pb_fail(err, PERCH_E_IO, "%s already exists; not overwriting it "
                                            "(--force replaces it)", path);
        return pb_fail(err, PERCH_E_IO, "cannot create %s: %s", path, strerror(errno));
    }
    if (fchmod(fd, mode) != 0)
        goto fail;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    return PERCH_OK;
fail:
    pb_fail(err, PERCH_E_IO, "cannot write %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(path);
    return PERCH_E_IO;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int cmd_wasm_keygen(int argc, char **argv)
{
    const char *signer = NULL, *dir = NULL, *from = NULL, *why;
    bool force = false;
    cli_opt opts[] = {
        {"signer", 0, true, &signer, NULL},
        {"output", 'o', true, &dir, NULL},
        {"from", 0, true, &from, NULL},
        {"force", 0, false, NULL, &force},
    };
    cli_args a;
    char key_path[4096], pub_path[4096];
    uint8_t pub[PT_ED25519_PUBLIC_LEN];
    char b64[64];
    pt_key *key = NULL;
    pb_buf secret = {0}, ring = {0}, pem = {0};
    perch_err err;
    int status = CLI_ERROR;

    perch_err_clear(&err);
    if (!cli_parse("wasm keygen", argc, argv, opts, sizeof opts / sizeof opts[0], &a, false))
        goto out;
    if (a.help) {
        fputs(keygen_help, stdout);
        status = CLI_OK;
        goto out;
    }
    if (a.npos != 0) {
        cli_usage("wasm keygen", "unexpected argument '%s'", a.pos[0]);
        goto out;
    }
    if (!signer) {
        cli_usage("wasm keygen", "--signer NAME is required");
        goto out;
    }
    if (!pt_signer_valid(signer, strlen(signer), &why)) {
        cli_usage("wasm keygen", "--signer: %s", why);
        goto out;
    }
    if (!dir)
        dir = ".";
    if ((size_t)snprintf(key_path, sizeof key_path, "%s/%s.key", dir, signer) >= sizeof key_path ||
        (size_t)snprintf(pub_path, sizeof pub_path, "%s/%s.pub.json", dir, signer) >=
            sizeof pub_path) {
        cli_usage("wasm keygen", "the output directory's name is too long");
        goto out;
    }

    if (from) {
        if (pb_file_read(from, &pem, &err) != PERCH_OK ||
            pt_public_from_pem((const char *)pem.data, pem.len, pub, &err) != PERCH_OK) {
            if (err.kind != PERCH_E_IO)
                pb_prefix(&err, "%s", from);
            status = cli_fail(&err, false);
            goto out;
        }
    } else {
        /* check both first: never leave a secret key without its public half */
        if (!force && (exists(key_path) || exists(pub_path))) {
            pb_fail(&err, PERCH_E_IO, "%s already exists; not overwriting it (--force replaces it)",
                    exists(key_path) ? key_path : pub_path);
            status = cli_fail(&err, false);
            goto out;
        }
        if (pt_key_generate(&key, &err) != PERCH_OK ||
            pt_key_write_pem(key, signer, &secret, &err) != PERCH_OK) {
            status = cli_fail(&err, false);
            goto out;
        }
        pt_key_public(key, pub);
    }
    if (pt_keyring_encode_one(signer, pub, &ring, &err) != PERCH_OK) {
        status = cli_fail(&err, false);
        goto out;
    }
    if (!from && write_new(key_path, secret.data, secret.len, 0600, force, &err) != PERCH_OK) {
        status = cli_fail(&err, false);
        goto out;
    }
    if (write_new(pub_path, ring.data, ring.len, 0644, force, &err) != PERCH_OK) {
        if (!from)
            unlink(key_path);
        status = cli_fail(&err, false);
        goto out;
    }
    pt_b64_encode(pub, sizeof pub, b64);
    if (!from) {
        fputs("secret key: ", stdout);
        cli_put_safe(stdout, key_path, strlen(key_path));
        fputs(" (mode 0600; keep it secret)\n", stdout);
    }
    fputs("keyring:    ", stdout);
    cli_put_safe(stdout, pub_path, strlen(pub_path));
    printf("\nsigner:     %s\npublic key: %s\n", signer, b64);
    status = CLI_OK;
out:
    pt_zero(secret.data, secret.cap);
    pb_buf_free(&secret);
    pb_buf_free(&ring);
    pt_zero(pem.data, pem.len);
    pb_buf_free(&pem);
    pt_key_free(key);
    pb_free(a.pos);
    return status;
}

/* ---- sign ------------------------------------------------------------------ */

int cmd_wasm_sign(int argc, char **argv)
{
    const char *key_path = NULL, *out_path = NULL, *signer_opt = NULL, *signer, *why;
    bool allow_no_manifest = false, present = false;
    cli_opt opts[] = {
        {"key", 0, true, &key_path, NULL},
        {"output", 'o', true, &out_path, NULL},
        {"signer", 0, true, &signer_opt, NULL},
        {"allow-no-manifest", 0, false, NULL, &allow_no_manifest},
    };
    cli_args a;
    pb_buf mod = {0}, result = {0};
    pw_layout layout = {0};
    pm_manifest m;
    pt_key *key = NULL;
    char *file_signer = NULL;
    uint8_t digest[PT_SHA256_LEN];
    char hex[2 * PT_SHA256_LEN + 1];
    struct stat st;
    unsigned mode = 0644;
    perch_err err;
    int status = CLI_ERROR;

    perch_err_clear(&err);
    pm_manifest_init(&m);
    if (!cli_parse("wasm sign", argc, argv, opts, sizeof opts / sizeof opts[0], &a, false))
        goto out;
    if (a.help) {
        fputs(sign_help, stdout);
        status = CLI_OK;
        goto out;
    }
    if (a.npos != 1) {
        cli_usage("wasm sign", "expected one MODULE, got %d arguments", a.npos);
        goto out;
    }
    if (!key_path) {
        cli_usage("wasm sign", "--key KEY is required");
        goto out;
    }
    if (signer_opt && !pt_signer_valid(signer_opt, strlen(signer_opt), &why)) {
        cli_usage("wasm sign", "--signer: %s", why);
        goto out;
    }
    if (pb_file_read(a.pos[0], &mod, &err) != PERCH_OK)
        goto fail;
    if (pw_layout_read(mod.data, mod.len, &layout, &err) != PERCH_OK ||
        pm_module_manifest(mod.data, &layout, &m, &present, &err) != PERCH_OK) {
        pb_prefix(&err, "%s", a.pos[0]);
        goto fail;
    }
    if (!present && !allow_no_manifest) {
        pb_fail(&err, PERCH_E_MANIFEST_MISSING,
                "%s has no perch.manifest section; refusing to sign a module that declares "
                "nothing (--allow-no-manifest signs it anyway)", a.pos[0]);
        goto fail;
    }
    if (pt_key_read(key_path, &key, &file_signer, &err) != PERCH_OK)
        goto fail;
    if (stat(key_path, &st) == 0 && (st.st_mode & 077) != 0) {
        fputs("warning: ", stderr);
        cli_put_safe(stderr, key_path, strlen(key_path));
        fprintf(stderr, " is readable by other users (mode %04o); chmod 600 it\n",
                (unsigned)(st.st_mode & 0777));
    }
    if (signer_opt && file_signer && strcmp(signer_opt, file_signer) != 0) {
        pb_fail(&err, PERCH_E_USAGE, "--signer %s does not match the key file's signer %s",
                signer_opt, file_signer);
        goto fail;
    }
    signer = signer_opt ? signer_opt : file_signer;
    if (!signer) {
        pb_fail(&err, PERCH_E_USAGE,
                "%s names no signer (no perch-signer line); give --signer NAME", key_path);
        goto fail;
    }
    if (pt_module_sign(mod.data, mod.len, &layout, key, signer, &result, &err) != PERCH_OK)
        goto fail;
    if (stat(a.pos[0], &st) == 0)
        mode = st.st_mode & 0777u;
    if (pb_file_write_atomic(out_path ? out_path : a.pos[0], result.data, result.len, mode,
                             &err) != PERCH_OK)
        goto fail;
    pw_layout_free(&layout);
    if (pw_layout_read(result.data, result.len, &layout, &err) != PERCH_OK ||
        pt_module_digest(result.data, result.len, &layout, digest, &err) != PERCH_OK)
        goto fail;
    pt_hex(digest, sizeof digest, hex);
    fputs("signed ", stdout);
    cli_put_safe(stdout, out_path ? out_path : a.pos[0], strlen(out_path ? out_path : a.pos[0]));
    printf(" as %s%s\nsha256 of the signed bytes: %s\n", signer,
           present ? "" : " (no manifest)", hex);
    status = CLI_OK;
    goto out;
fail:
    status = cli_fail(&err, false);
out:
    pm_manifest_free(&m);
    pw_layout_free(&layout);
    pb_buf_free(&mod);
    pb_buf_free(&result);
    pt_key_free(key);
    pb_free(file_signer);
    pb_free(a.pos);
    return status;
}

/* ---- verify ---------------------------------------------------------------- */

static void verify_text(const char *file, const pt_report *r)
{
    bool color = cli_color(stdout);
    char hex[2 * PT_SHA256_LEN + 1];

    pt_hex(r->digest, PT_SHA256_LEN, hex);
    printf("%smodule:%s ", cli_sgr(color, CLI_BOLD), cli_reset(color));
    cli_put_safe(stdout, file, strlen(file));
    printf("\nsigner: %s\n", r->parsed ? r->sig.signer : "(none)");
    printf("sha256: %s (without perch.signature)\n", hex);
    for (int i = 0; i < PT_CHECK__COUNT; i++) {
        const pt_check *c = &r->checks[i];
        cli_style st = c->status == PT_PASS ? CLI_GREEN
                     : c->status == PT_FAIL ? CLI_RED
                                            : CLI_DIM;
        printf("  %s%-11s%s %-9s  ", cli_sgr(color, st), pt_status_name(c->status),
               cli_reset(color), pt_check_name((pt_check_id)i));
        if (c->status == PT_FAIL)
            printf("%s: ", perch_err_kind_name(c->kind));
        cli_put_safe(stdout, c->message, strlen(c->message));
        putchar('\n');
    }
    if (r->failures == 0)
        printf("%sVERIFIED%s: every check passed\n", cli_sgr(color, CLI_GREEN),
               cli_reset(color));
    else
        printf("%sNOT VERIFIED%s: %zu %s failed\n", cli_sgr(color, CLI_RED), cli_reset(color),
               r->failures, r->failures == 1 ? "check" : "checks");
}

static int verify_json(const char *file, const char *keyring, const pt_report *r)
{
    char hex[2 * PT_SHA256_LEN + 1], b64[64];
    json_t *o = json_object(), *checks = json_array();
    char *text = NULL;

    pt_hex(r->digest, PT_SHA256_LEN, hex);
    if (r->parsed)
        pt_b64_encode(r->sig.pubkey, PT_ED25519_PUBLIC_LEN, b64);
    if (o && checks) {
        for (int i = 0; i < PT_CHECK__COUNT; i++) {
            const pt_check *c = &r->checks[i];
            json_t *e = json_object();
            json_object_set_new(e, "check", json_string(pt_check_name((pt_check_id)i)));
            json_object_set_new(e, "status", json_string(pt_status_name(c->status)));
            json_object_set_new(e, "kind", c->status == PT_FAIL
                                               ? json_string(perch_err_kind_name(c->kind))
                                               : json_null());
            json_object_set_new(e, "message", json_string(c->message));
            json_array_append_new(checks, e);
        }
        json_object_set_new(o, "schema", json_integer(1));
        json_object_set_new(o, "file", json_string(file));
        json_object_set_new(o, "keyring", keyring ? json_string(keyring) : json_null());
        json_object_set_new(o, "signer", r->parsed ? json_string(r->sig.signer) : json_null());
        json_object_set_new(o, "pubkey", r->parsed ? json_string(b64) : json_null());
        json_object_set_new(o, "sha256", json_string(hex));
        json_object_set_new(o, "signature_sections", json_integer((json_int_t)r->sections));
        json_object_set_new(o, "checks", checks);
        checks = NULL;
        json_object_set_new(o, "verified", json_boolean(r->failures == 0));
        text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    }
    json_decref(checks);
    json_decref(o);
    if (!text) {
        fprintf(stderr, "io: out of memory writing JSON\n");
        return CLI_ERROR;
    }
    printf("%s\n", text);
    free(text);
    return r->failures ? CLI_NEGATIVE : CLI_OK;
}

int cmd_wasm_verify(int argc, char **argv)
{
    static const char *const formats[] = {"text", "json"};
    const char *keyring = NULL, *format = NULL;
    cli_opt opts[] = {
        {"trust-keys", 0, true, &keyring, NULL},
        {"format", 0, true, &format, NULL},
    };
    cli_args a;
    pb_buf mod = {0};
    pw_layout layout = {0};
    pt_keyring ring = {0};
    pt_report r;
    perch_err err;
    bool json = false;
    int status = CLI_ERROR;

    perch_err_clear(&err);
    if (!cli_parse("wasm verify", argc, argv, opts, sizeof opts / sizeof opts[0], &a, false))
        goto out;
    if (a.help) {
        fputs(verify_help, stdout);
        status = CLI_OK;
        goto out;
    }
    if (!cli_format("wasm verify", format, formats, 2))
        goto out;
    json = format && strcmp(format, "json") == 0;
    if (a.npos != 1) {
        cli_usage("wasm verify", "expected one MODULE, got %d arguments", a.npos);
        goto out;
    }
    if (!keyring) {
        cli_usage("wasm verify", "--trust-keys KEYRING is required (the signers to trust)");
        goto out;
    }
    if (pt_keyring_read(keyring, &ring, &err) != PERCH_OK)
        goto fail;
    if (pb_file_read(a.pos[0], &mod, &err) != PERCH_OK)
        goto fail;
    if (pw_layout_read(mod.data, mod.len, &layout, &err) != PERCH_OK) {
        pb_prefix(&err, "%s", a.pos[0]);
        goto fail;
    }
    if (pt_verify_module(mod.data, mod.len, &layout, &ring, &r, &err) != PERCH_OK)
        goto fail;
    if (json) {
        status = verify_json(a.pos[0], keyring, &r);
    } else {
        verify_text(a.pos[0], &r);
        status = r.failures ? CLI_NEGATIVE : CLI_OK;
    }
    goto out;
fail:
    status = cli_fail(&err, json);
out:
    pt_keyring_free(&ring);
    pw_layout_free(&layout);
    pb_buf_free(&mod);
    pb_free(a.pos);
    return status;
}
