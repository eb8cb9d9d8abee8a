/* main.c: `perch` dispatches to its subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const cli_command commands[] = {
    {"wasm inspect", "show what a module declares it needs, and what it imports", cmd_wasm_inspect},
    {"wasm diff", "compare two modules' declared capabilities; verdict UNCHANGED, REDUCED or ELEVATED", cmd_wasm_diff},
    {"wasm manifest", "embed (set) or extract (get) a module's perch.manifest section", cmd_wasm_manifest},
    {"wasm run", "run a WASI command module with the arguments and environment given", cmd_wasm_run},
    {"wasm keygen", "make an Ed25519 key pair for signing modules", cmd_wasm_keygen},
    {"wasm sign", "sign a module: add or replace its perch.signature section", cmd_wasm_sign},
    {"wasm verify", "check a module's signature against a keyring, one line per check", cmd_wasm_verify},
    {"check", "parse and check a .perch file and its requires; --scan: risk report", cmd_check},
    {"policy", "show the host policy in effect and where each rule comes from (show|check)", cmd_policy},
    {"audit", "verify, show or checkpoint a hash-chained audit log (verify|show|checkpoint)", cmd_audit},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_help(FILE *out)
{
    fprintf(out,
            "perch %s: a WebAssembly runtime whose unit of trust is what a module\n"
            "declares it needs.\n"
            "\n"
            "usage: perch COMMAND [ARGS...]\n"
            "\n"
            "commands:\n",
            perch_version());
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-16s %s\n", commands[i].path, commands[i].synopsis);
    fprintf(out,
            "  %-16s %s\n"
            "\n"
            "options:\n"
            "  --version        print perch's version and exit\n"
            "  -h, --help       print this help and exit\n"
            "\n"
            "'perch COMMAND --help' describes each command. Errors print as\n"
            "'kind: message (detail)' on stderr; the kinds are listed in docs/errors.md.\n",
            "help", "print this help");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return CLI_ERROR;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("perch %s\n", perch_version());
        return CLI_OK;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        if (argc > 2 && strcmp(argv[1], "help") == 0) {
            /* `perch help wasm inspect` is `perch wasm inspect --help` */
            char path[64];
            snprintf(path, sizeof path, "%s%s%s", argv[2], argc > 3 ? " " : "",
                     argc > 3 ? argv[3] : "");
            for (size_t i = 0; i < NCOMMANDS; i++) {
                if (strcmp(commands[i].path, path) == 0) {
                    char *hargv[] = {argv[argc > 3 ? 3 : 2], "--help", NULL};
                    return commands[i].fn(2, hargv);
                }
            }
            fprintf(stderr, "usage: no command 'perch %s' (see 'perch help')\n", path);
            return CLI_ERROR;
        }
        print_help(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "wasm") == 0) {
        if (argc < 3 || strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) {
            FILE *out = argc < 3 ? stderr : stdout;
            fprintf(out, "usage: perch wasm COMMAND [ARGS...]\n\ncommands:\n");
            for (size_t i = 0; i < NCOMMANDS; i++)
                if (strncmp(commands[i].path, "wasm ", 5) == 0)
                    fprintf(out, "  %-12s %s\n", commands[i].path + 5, commands[i].synopsis);
            return argc < 3 ? CLI_ERROR : CLI_OK;
        }
        for (size_t i = 0; i < NCOMMANDS; i++)
            if (strncmp(commands[i].path, "wasm ", 5) == 0 &&
                strcmp(commands[i].path + 5, argv[2]) == 0)
                return commands[i].fn(argc - 2, argv + 2);
        fprintf(stderr, "usage: unknown command 'perch wasm %s' (see 'perch wasm --help')\n",
                argv[2]);
        return CLI_ERROR;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].path, argv[1]) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "usage: unknown command '%s' (see 'perch help')\n", argv[1]);
    return CLI_ERROR;
}
