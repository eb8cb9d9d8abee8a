/*
 * manifest_cmd.c: `perch wasm manifest set|get`: embed a manifest written
 * as JSON into a module, or show the one it carries.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "manifest/manifest.h"
#include "wasm/reader.h"

static const char help[] =
    "usage: perch wasm manifest set MODULE MANIFEST.json [-o OUT]\n"
    "       perch wasm manifest get MODULE [--format json|cbor]\n"
    "\n"
    "A module declares what it needs in its perch.manifest custom section: one\n"
    "CBOR map with the keys schema (1), name, version, needs_read, needs_write,\n"
    "needs_net, needs_env and memory_max (docs/manifest.md). Authors write the\n"
    "same keys as JSON; these commands convert between the two.\n"
    "\n"
    "commands:\n"
    "  set    validate MANIFEST.json and embed it in MODULE\n"
    "  get    print the module's manifest (JSON by default)\n"
    "\n"
    "'perch wasm manifest set --help' and 'perch wasm manifest get --help'\n"
    "describe each. Exit status: 0 success; 2 an error, printed as\n"
    "'kind: message (detail)'.\n";

static const char set_help[] =
    "usage: perch wasm manifest set MODULE MANIFEST.json [-o OUT]\n"
    "\n"
    "Validate MANIFEST.json (a JSON object with the keys of schema 1) and store\n"
    "it in MODULE as its perch.manifest section, encoded as deterministic CBOR.\n"
    "An existing perch.manifest section is replaced where it stands; otherwise\n"
    "the section is appended at the end. Every other byte of the module is kept\n"
    "as it was. MANIFEST.json may be '-' to read it from standard input.\n"
    "\n"
    "The result replaces MODULE (or is written to OUT) atomically: on any\n"
    "failure the existing file is left exactly as it was.\n"
    "\n"
    "Refused: a MODULE that is not a well-formed WebAssembly module\n"
    "(wasm_malformed, with the byte offset), a manifest that breaks a rule of\n"
    "the schema (manifest_malformed, naming the key and the rule), a MODULE that\n"
    "already carries two perch.manifest sections (manifest_malformed).\n"
    "\n"
    "options:\n"
    "  -o, --output OUT  write the new module to OUT instead of replacing MODULE\n"
    "  -h, --help        print this help\n"
    "\n"
    "exit status: 0 the manifest was stored; 2 an error (usage, io,\n"
    "wasm_malformed, manifest_malformed), printed as 'kind: message (detail)'.\n";

static const char get_help[] =
    "usage: perch wasm manifest get MODULE [--format json|cbor]\n"
    "\n"
    "Print MODULE's perch.manifest section after checking it against every rule\n"
    "of the schema.\n"
    "\n"
    "options:\n"
    "  --format json    the JSON form (the default): every key in schema order,\n"
    "                   lists sorted, memory_max null when absent; the input\n"
    "                   'perch wasm manifest set' takes\n"
    "  --format cbor    the stored payload bytes, unchanged (refused when\n"
    "                   standard output is a terminal)\n"
    "  -h, --help       print this help\n"
    "\n"
    "exit status: 0 the manifest was printed; 2 an error: manifest_missing (the\n"
    "module has no perch.manifest section), manifest_malformed, wasm_malformed,\n"
    "io or usage, printed as 'kind: message (detail)'.\n";

/* The module's bytes and section layout, with the file name in any error. */
static perch_err_kind load_module(const char *path, pb_buf *bytes, pw_layout *layout,
                                  perch_err *err)
{
    perch_err_kind rc = pb_file_read(path, bytes, err);
    if (rc != PERCH_OK)
        return rc;
    rc = pw_layout_read(bytes->data, bytes->len, layout, err);
    if (rc != PERCH_OK) {
        pb_prefix(err, "%s", path);
        pb_buf_free(bytes);
    }
    return rc;
}

/* Standard input, whole, at most PM_MAX_PAYLOAD bytes. */
static perch_err_kind read_stdin(pb_buf *out, perch_err *err)
{
    memset(out, 0, sizeof *out);
    for (;;) {
        ssize_t n;
        if (!pb_buf_reserve(out, 65536)) {
            pb_buf_free(out);
            return pb_fail(err, PERCH_E_IO, "out of memory reading standard input");
        }
        n = read(STDIN_FILENO, out->data + out->len, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            pb_buf_free(out);
            return pb_fail(err, PERCH_E_IO, "cannot read standard input: %s", strerror(errno));
        }
        if (n == 0)
            return PERCH_OK;
        out->len += (size_t)n;
        if (out->len > PM_MAX_PAYLOAD) {
            pb_buf_free(out);
            return pb_fail(err, PERCH_E_MANIFEST_MALFORMED,
                           "standard input: manifest is over %u bytes; the limit is %u",
                           PM_MAX_PAYLOAD, PM_MAX_PAYLOAD);
        }
    }
}

static int cmd_set(int argc, char **argv)
{
    const char *cmd = "wasm manifest set", *out_path = NULL, *module, *json_path;
    cli_opt opts[] = {{"output", 'o', true, &out_path, NULL}};
    cli_args a;
    perch_err err;
    pb_buf bytes = {0}, json = {0}, payload = {0}, result = {0};
    pw_layout layout = {0};
    pm_manifest m;
    struct stat st;
    unsigned mode = 0644;
    int status = CLI_ERROR;

    perch_err_clear(&err);
    pm_manifest_init(&m);
    if (!cli_parse(cmd, argc, argv, opts, 1, &a, false))
        goto done_args;
    if (a.help) {
        fputs(set_help, stdout);
        status = CLI_OK;
        goto done_args;
    }
    if (a.npos != 2) {
        status = cli_usage(cmd, a.npos < 2 ? "expected MODULE and MANIFEST.json"
                                           : "too many arguments (expected MODULE and MANIFEST.json)");
        goto done_args;
    }
    module = a.pos[0];
    json_path = a.pos[1];

    if (load_module(module, &bytes, &layout, &err) != PERCH_OK)
        goto fail;
    if (strcmp(json_path, "-") == 0 ? read_stdin(&json, &err) != PERCH_OK
                                    : pb_file_read(json_path, &json, &err) != PERCH_OK)
        goto fail;
    if (pm_from_json((const char *)json.data, json.len, &m, &err) != PERCH_OK) {
        pb_prefix(&err, "%s", strcmp(json_path, "-") == 0 ? "standard input" : json_path);
        goto fail;
    }
    if (pm_to_cbor(&m, &payload, &err) != PERCH_OK)
        goto fail;
    if (pm_module_set(bytes.data, bytes.len, &layout, payload.data, payload.len, &result,
                      &err) != PERCH_OK) {
        pb_prefix(&err, "%s", module);
        goto fail;
    }
    if (stat(module, &st) == 0)
        mode = st.st_mode & 0777u;
    if (pb_file_write_atomic(out_path ? out_path : module, result.data, result.len, mode,
                             &err) != PERCH_OK)
        goto fail;
    status = CLI_OK;
    goto done;
fail:
    status = cli_fail(&err, false);
done:
    pm_manifest_free(&m);
    pw_layout_free(&layout);
    pb_buf_free(&bytes);
    pb_buf_free(&json);
    pb_buf_free(&payload);
    pb_buf_free(&result);
done_args:
    pb_free(a.pos);
    return status;
}

static int cmd_get(int argc, char **argv)
{
    static const char *const formats[] = {"json", "cbor"};
    const char *cmd = "wasm manifest get", *format = NULL, *module;
    cli_opt opts[] = {{"format", 0, true, &format, NULL}};
    cli_args a;
    perch_err err;
    pb_buf bytes = {0}, text = {0};
    pw_layout layout = {0};
    pm_manifest m;
    bool present = false, cbor;
    int status = CLI_ERROR;

    perch_err_clear(&err);
    pm_manifest_init(&m);
    if (!cli_parse(cmd, argc, argv, opts, 1, &a, false))
        goto done_args;
    if (a.help) {
        fputs(get_help, stdout);
        status = CLI_OK;
        goto done_args;
    }
    if (!cli_format(cmd, format, formats, 2))
        goto done_args;
    if (a.npos != 1) {
        status = cli_usage(cmd, a.npos < 1 ? "expected MODULE" : "too many arguments (expected MODULE)");
        goto done_args;
    }
    module = a.pos[0];
    cbor = format && strcmp(format, "cbor") == 0;
    if (cbor && isatty(STDOUT_FILENO)) {
        status = cli_usage(cmd, "refusing to write binary CBOR to a terminal "
                                "(redirect standard output to a file or a pipe)");
        goto done_args;
    }

    if (load_module(module, &bytes, &layout, &err) != PERCH_OK)
        goto fail;
    if (pm_module_manifest(bytes.data, &layout, &m, &present, &err) != PERCH_OK) {
        pb_prefix(&err, "%s", module);
        goto fail;
    }
    if (!present) {
        pb_fail(&err, PERCH_E_MANIFEST_MISSING, "%s has no perch.manifest section", module);
        goto fail;
    }
    if (cbor) {
        const pw_section *s;
        pw_layout_custom(&layout, bytes.data, PM_SECTION_NAME, &s);
        fwrite(bytes.data + s->content, 1, pw_section_end(s) - s->content, stdout);
    } else {
        if (pm_to_json(&m, &text, &err) != PERCH_OK)
            goto fail;
        fwrite(text.data, 1, text.len, stdout);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        pb_fail(&err, PERCH_E_IO, "cannot write standard output: %s", strerror(errno));
        goto fail;
    }
    status = CLI_OK;
    goto done;
fail:
    status = cli_fail(&err, false);
done:
    pm_manifest_free(&m);
    pw_layout_free(&layout);
    pb_buf_free(&bytes);
    pb_buf_free(&text);
done_args:
    pb_free(a.pos);
    return status;
}

int cmd_wasm_manifest(int argc, char **argv)
{
    if (argc < 2) {
        fputs(help, stderr);
        return CLI_ERROR;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(help, stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "set") == 0)
        return cmd_set(argc - 1, argv + 1);
    if (strcmp(argv[1], "get") == 0)
        return cmd_get(argc - 1, argv + 1);
    return cli_usage("wasm manifest", "unknown command '%s' (expected set or get)", argv[1]);
}
