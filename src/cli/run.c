/*
 * run.c: `perch wasm run`: run a WASI command module (its _start export)
 * with the arguments and environment variables given, and nothing else.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "host/wasi.h"

static const char help[] =
    "usage: perch wasm run [OPTIONS] MODULE [--] [ARG...]\n"
    "\n"
    "Run a WASI command module: instantiate MODULE, call its _start export with\n"
    "ARG... as its arguments (MODULE itself is argument 0). The module sees\n"
    "standard input, output and error, the clocks and random bytes, and only\n"
    "the environment variables named with --env. It gets no files and no\n"
    "network.\n"
    "\n"
    "options:\n"
    "  --env NAME[=VALUE]   pass an environment variable (VALUE, or the\n"
    "                       caller's value of NAME); may be repeated\n"
    "  --memory-max BYTES   cap the module's linear memory (wins over the\n"
    "                       module's own maximum)\n"
    "  --timeout SECONDS    stop the module after this long (wasm_exhausted)\n"
    "  --fuel N             stop after N calls and loop iterations (wasm_exhausted)\n"
    "  -h, --help           print this help\n"
    "\n"
    "exit status: the module's own (0 when _start returns, N when it calls\n"
    "proc_exit(N)); 2 when perch reports an error (usage, io, wasm_malformed,\n"
    "wasm_invalid, wasm_unlinkable, wasm_trap, wasm_exhausted), printed as\n"
    "'kind: message (detail)'.\n";

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (!s || !*s || *s == '-')
        return false;
    v = strtoull(s, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

int cmd_wasm_run(int argc, char **argv)
{
    const char **env = NULL;
    size_t envc = 0;
    const char *module_path = NULL;
    const char **gargv = NULL;
    size_t gargc = 0;
    uint64_t memory_max = 0, fuel = 0, timeout = 0;
    bool has_memory_max = false, has_fuel = false, has_timeout = false;
    perch_err err;
    pb_buf bytes = {0};
    perch_module *module = NULL;
    perch_store *store = NULL;
    ph_wasi_state *wasi = NULL;
    perch_extern *imports = NULL;
    perch_instance *inst = NULL;
    perch_extern start;
    perch_err_kind rc;
    int status = CLI_ERROR;
    int i;

    perch_err_clear(&err);
    if (!(env = pb_calloc((size_t)argc + 1, sizeof *env)) ||
        !(gargv = pb_calloc((size_t)argc + 1, sizeof *gargv))) {
        fprintf(stderr, "io: out of memory\n");
        goto out;
    }
    /* Options come before MODULE; everything after it belongs to the module. */
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(help, stdout);
            status = CLI_OK;
            goto out;
        }
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (strncmp(a, "--", 2) == 0 && strchr(a, '=') &&
            strncmp(a, "--env=", 6) != 0 && strncmp(a, "--memory-max=", 13) != 0 &&
            strncmp(a, "--timeout=", 10) != 0 && strncmp(a, "--fuel=", 7) != 0) {
            status = cli_usage("wasm run", "unknown option '%s'", a);
            goto out;
        }
#define OPT(name)                                                              \
    ((strcmp(a, "--" name) == 0 && i + 1 < argc && (val = argv[++i])) ||       \
     (strncmp(a, "--" name "=", sizeof(name) + 2) == 0 && (val = a + sizeof(name) + 2)))
        if (OPT("env")) {
            if (!*val || *val == '=') {
                status = cli_usage("wasm run", "--env needs NAME or NAME=VALUE");
                goto out;
            }
            if (strchr(val, '=')) {
                env[envc++] = val;
            } else {
                /* NAME alone passes the caller's value, if it has one. */
                const char *hv = getenv(val);
                if (hv) {
                    size_t n = strlen(val) + strlen(hv) + 2;
                    char *kv = pb_malloc(n);
                    if (!kv) {
                        fprintf(stderr, "io: out of memory\n");
                        goto out;
                    }
                    snprintf(kv, n, "%s=%s", val, hv);
                    env[envc++] = kv; /* freed with the process */
                }
            }
        } else if (OPT("memory-max")) {
            if (!parse_u64(val, &memory_max)) {
                status = cli_usage("wasm run", "--memory-max needs a number of bytes");
                goto out;
            }
            has_memory_max = true;
        } else if (OPT("timeout")) {
            if (!parse_u64(val, &timeout)) {
                status = cli_usage("wasm run", "--timeout needs a whole number of seconds");
                goto out;
            }
            has_timeout = true;
        } else if (OPT("fuel")) {
            if (!parse_u64(val, &fuel)) {
                status = cli_usage("wasm run", "--fuel needs a number");
                goto out;
            }
            has_fuel = true;
        } else {
            status = cli_usage("wasm run", "unknown option '%s'", a);
            goto out;
        }
#undef OPT
    }
    if (i >= argc) {
        status = cli_usage("wasm run", "missing MODULE");
        goto out;
    }
    module_path = argv[i++];
    gargv[gargc++] = module_path;
    if (i < argc && strcmp(argv[i], "--") == 0)
        i++;
    for (; i < argc; i++)
        gargv[gargc++] = argv[i];

    if ((rc = pb_file_read(module_path, &bytes, &err)))
        goto fail;
    if ((rc = perch_module_new(bytes.data, bytes.len, &module, &err))) {
        pb_prefix(&err, "%s", module_path);
        goto fail;
    }
    if ((rc = perch_store_new(&store, &err)))
        goto fail;
    {
        perch_limits lim = perch_limits_default();
        if (has_memory_max)
            lim.memory_max_bytes = memory_max;
        if (has_fuel)
            lim.fuel = fuel;
        if (has_timeout) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            lim.deadline_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec +
                              timeout * 1000000000u;
        }
        perch_store_set_limits(store, &lim);
    }
    {
        ph_wasi_config cfg;
        cfg.argc = gargc;
        cfg.argv = gargv;
        cfg.envc = envc;
        cfg.env = env;
        cfg.stdin_fd = STDIN_FILENO;
        cfg.stdout_fd = STDOUT_FILENO;
        cfg.stderr_fd = STDERR_FILENO;
        if ((rc = ph_wasi_new(&cfg, &wasi, &err)))
            goto fail;
    }
    if ((rc = ph_wasi_imports(wasi, store, module, &imports, &err)) ||
        (rc = perch_store_instantiate(store, module, imports, perch_module_import_count(module),
                                      &inst, &err)))
        goto fail;
    if (!perch_instance_export(inst, "_start", &start) || start.kind != PERCH_EXTERN_FUNC) {
        rc = pb_fail(&err, PERCH_E_WASM_UNLINKABLE,
                     "%s is not a WASI command: it exports no _start function", module_path);
        goto fail;
    }
    fflush(stdout);
    rc = perch_func_call(store, start.of.func, NULL, 0, NULL, 0, &err);
    if (rc == PERCH_E_WASM_MODULE_EXITED) {
        status = ph_wasi_exit_code(wasi);
        goto out;
    }
    if (rc)
        goto fail;
    status = CLI_OK;
    goto out;
fail:
    status = cli_fail(&err, false);
out:
    ph_imports_free(imports);
    ph_wasi_delete(wasi);
    perch_store_delete(store);
    perch_module_delete(module);
    pb_buf_free(&bytes);
    pb_free(gargv);
    pb_free(env);
    return status;
}
