/*
 * fuzz_policy.c: the policy file reader on arbitrary bytes, and composition
 * under whatever policy it accepts.
 *
 * Properties: no crash, hang, leak or out-of-bounds read; a refusal is
 * policy_invalid (or io, out of memory) with a message safe to print that
 * starts with the file name; an accepted policy composes with a fixed
 * manifest without error other than manifest_rejected, and every refusal
 * names a need the manifest declared.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *read[] = {"/inputs"}, *write[] = {"/out/logs"};
    static char *net[] = {"*", "api.example.com:443"}, *env[] = {"GITHUB_TOKEN"};
    pm_manifest m;
    pp_policy p;
    pp_set set = {0};
    pp_request q;
    pp_grant g;
    pp_risk risk;
    perch_err err;
    perch_err_kind rc;

    perch_err_clear(&err);
    if (pp_parse((const char *)data, size, "fuzz.yaml", &p, &err) != PERCH_OK) {
        if (err.kind != PERCH_E_POLICY_INVALID && err.kind != PERCH_E_IO)
            abort();
        if (err.kind == PERCH_E_POLICY_INVALID && strncmp(err.message, "fuzz.yaml", 9) != 0)
            abort();
        for (const char *c = err.message; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                abort();
        return 0;
    }
    if (pp_set_add(&set, &p, &err) != PERCH_OK) {
        pp_policy_free(&p);
        return 0;
    }
    memset(&m, 0, sizeof m);
    m.schema = PM_SCHEMA;
    m.name = "fuzz";
    m.version = "1.0.0";
    m.needs_read = (pm_list){read, 1};
    m.needs_write = (pm_list){write, 1};
    m.needs_net = (pm_list){net, 2};
    m.needs_env = (pm_list){env, 1};
    m.has_memory_max = true;
    m.memory_max = 1u << 20;
    memset(&q, 0, sizeof q);
    q.declared = &m;
    q.policies = &set;
    q.signer = "vendor";
    q.ci = size % 2 ? "true" : NULL;
    rc = pp_compose(&q, &g, &err);
    if (rc != PERCH_OK && rc != PERCH_E_MANIFEST_REJECTED && rc != PERCH_E_IO)
        abort();
    if (rc == PERCH_OK && g.nrefusals)
        abort();
    for (size_t i = 0; i < g.nrefusals; i++)
        if (strchr(g.refusals[i].need, ':') == NULL)
            abort();
    pp_grant_free(&g);
    if (pp_risk_build(&set, &risk, &err) == PERCH_OK)
        pp_risk_free(&risk);
    pp_set_free(&set);
    return 0;
}
