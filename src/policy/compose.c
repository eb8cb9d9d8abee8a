/*
 * compose.c: the intersection of every layer (DESIGN.md, "Capabilities and
 * refusals"), the explanation of who refused what, the signature posture
 * the layers ask for together, and the HIGH RISK rules extended by policy.
 *
 * Every declared need is checked against every layer, and each layer that
 * refuses it adds one refusal (its first rule that does), so that lifting
 * one rule never reveals a second refusal only at the next run.
 */
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"

const char *pp_layer_name(pp_layer layer)
{
    switch (layer) {
    case PP_LAYER_MANIFEST: return "manifest";
    case PP_LAYER_PERCH_FILE: return "perch-file";
    case PP_LAYER_POLICY: return "policy";
    case PP_LAYER_FLAG: return "flag";
    }
    return "unknown";
}

void pp_grant_free(pp_grant *g)
{
    if (!g)
        return;
    pm_manifest_free(&g->grant);
    for (size_t i = 0; i < g->nrefusals; i++) {
        pb_free(g->refusals[i].need);
        pb_free(g->refusals[i].source);
        pb_free(g->refusals[i].rule);
    }
    pb_free(g->refusals);
    pb_free(g->exception_detail);
    memset(g, 0, sizeof *g);
    pm_manifest_init(&g->grant);
}

typedef struct ctx {
    const pp_request *req;
    pp_grant *g;
    perch_err *err;
    size_t cap;          /* allocated refusals */
    size_t before;       /* refusals before the need being checked */
} ctx;

static perch_err_kind nomem(ctx *c) { return pb_fail(c->err, PERCH_E_IO, "out of memory"); }

static perch_err_kind refuse(ctx *c, pp_kind kind, const char *need, pp_layer layer,
                             const char *source, const char *rule)
{
    pp_refusal *r;
    if (c->g->nrefusals == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 8;
        pp_refusal *n = pb_realloc(c->g->refusals, ncap * sizeof *n);
        if (!n)
            return nomem(c);
        c->g->refusals = n;
        c->cap = ncap;
    }
    r = &c->g->refusals[c->g->nrefusals];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->layer = layer;
    c->g->nrefusals++;
    if (!(r->need = pb_malloc(strlen(pp_kind_name(kind)) + strlen(need) + 2)) ||
        !(r->source = pb_strdup(source)) || !(r->rule = pb_strdup(rule)))
        return nomem(c);
    sprintf(r->need, "%s:%s", pp_kind_name(kind), need);
    return PERCH_OK;
}

/* Which deny lists of a layer apply to a need: reads are denied to writes too. */
static bool deny_applies(pp_kind rule_kind, pp_kind need_kind)
{
    return rule_kind == need_kind || (rule_kind == PP_READ && need_kind == PP_WRITE);
}

/* perch-file: deny "KIND" / deny "KIND:PATTERN" */
static perch_err_kind check_perch(ctx *c, pp_kind kind, const char *need)
{
    const pp_request *q = c->req;
    const char *file = q->perch_file ? q->perch_file : "perch file";
    for (size_t i = 0; i < q->nperch_deny; i++) {
        pp_kind k;
        const char *pattern;
        char source[300], rule[320];
        if (pp_parse_cap(q->perch_deny[i].cap, &k, &pattern, NULL) != PERCH_OK)
            continue; /* reported once, before any need is checked */
        if (!deny_applies(k, kind) || (pattern && !pp_pattern_refuses(k, pattern, need)))
            continue;
        if (q->perch_deny[i].line)
            snprintf(source, sizeof source, "%s:%u", file, (unsigned)q->perch_deny[i].line);
        else
            snprintf(source, sizeof source, "%s", file);
        snprintf(rule, sizeof rule, "deny %s", q->perch_deny[i].cap);
        return refuse(c, kind, need, PP_LAYER_PERCH_FILE, source, rule);
    }
    return PERCH_OK;
}

static void where_text(char *buf, size_t cap, const pp_policy *p, pp_where at)
{
    if (at.line)
        snprintf(buf, cap, "%s:%u:%u", p->path, (unsigned)at.line, (unsigned)at.column);
    else
        snprintf(buf, cap, "%s", p->path);
}

/* policy: deny.KIND patterns, every file */
static perch_err_kind check_policy_deny(ctx *c, pp_kind kind, const char *need)
{
    const pp_set *s = c->req->policies;
    for (size_t f = 0; s && f < s->count; f++) {
        const pp_policy *p = &s->files[f];
        bool done = false;
        for (int k = 0; k < PP_MEMORY && !done; k++) {
            if (!deny_applies((pp_kind)k, kind))
                continue;
            for (size_t i = 0; i < p->deny[k].count; i++) {
                const pp_item *it = &p->deny[k].items[i];
                char source[600], rule[320];
                perch_err_kind rc;
                if (!pp_pattern_refuses((pp_kind)k, it->value, need))
                    continue;
                where_text(source, sizeof source, p, it->at);
                snprintf(rule, sizeof rule, "deny.%s \"%s\"", pp_kind_name((pp_kind)k),
                         it->value);
                if ((rc = refuse(c, kind, need, PP_LAYER_POLICY, source, rule)))
                    return rc;
                done = true;
                break;
            }
        }
    }
    return PERCH_OK;
}

static bool listed(const pp_items *l, const char *s, const pp_item **at)
{
    for (size_t i = 0; i < l->count; i++) {
        if (strcmp(l->items[i].value, s) == 0) {
            if (at)
                *at = &l->items[i];
            return true;
        }
    }
    return false;
}

/*
 * The wildcard rule: a module declaring net "*" may reach any host at all,
 * so it runs only when its verified, trusted signer is listed in
 * wildcard_net.signers by every policy file (a repository's own policy
 * cannot grant what the user's does not), and in CI only when every file
 * also sets allow_in_ci. Granting it is recorded as an exception.
 */
static perch_err_kind check_wildcard(ctx *c, const char *need)
{
    const pp_request *q = c->req;
    const pp_set *s = q->policies;
    const char *signer = q->signer;
    bool in_ci = q->ci && q->ci[0];
    pb_buf detail = {0};
    perch_err_kind rc = PERCH_OK;
    char rule[400], source[600];

    if (!signer)
        return refuse(c, PP_NET, need, PP_LAYER_POLICY, "(built-in wildcard rule)",
                      "net * needs a verified, trusted signer listed in wildcard_net.signers; "
                      "this module has none");
    if (!s || s->count == 0) {
        snprintf(rule, sizeof rule,
                 "net * needs its signer listed in wildcard_net.signers; no policy file "
                 "lists %s",
                 signer);
        return refuse(c, PP_NET, need, PP_LAYER_POLICY, "(built-in wildcard rule)", rule);
    }
    if (!pb_buf_printf(&detail, "net:* for signer %s allowed by", signer))
        return nomem(c);
    for (size_t f = 0; f < s->count; f++) {
        const pp_policy *p = &s->files[f];
        const pp_item *it = NULL;
        if (!listed(&p->wildcard_signers, signer, &it)) {
            where_text(source, sizeof source, p, (pp_where){0, 0});
            snprintf(rule, sizeof rule, "wildcard_net.signers does not list %s", signer);
            rc = refuse(c, PP_NET, need, PP_LAYER_POLICY, source, rule);
        } else if (in_ci && !p->wildcard_ci) {
            where_text(source, sizeof source, p, it->at);
            snprintf(rule, sizeof rule,
                     "CI is set and wildcard_net.allow_in_ci is not true: net * fails in CI "
                     "unless every policy allows it");
            rc = refuse(c, PP_NET, need, PP_LAYER_POLICY, source, rule);
        } else {
            where_text(source, sizeof source, p, it->at);
            if (!pb_buf_printf(&detail, "%s %s", f ? "," : "", source))
                rc = nomem(c);
        }
        if (rc)
            break;
    }
    if (rc == PERCH_OK && c->g->nrefusals == c->before) {
        c->g->exception_detail = (char *)detail.data;
        detail.data = NULL;
    }
    pb_buf_free(&detail);
    return rc;
}

/* flags: --no-network, --no-write, --untrusted, --deny, --allow-host */
static perch_err_kind check_flags(ctx *c, pp_kind kind, const char *need)
{
    const pp_flags *fl = c->req->flags;
    char source[320], rule[320];
    if (!fl)
        return PERCH_OK;
    if (kind == PP_NET && fl->no_network)
        return refuse(c, kind, need, PP_LAYER_FLAG, "--no-network", "no network access");
    if (kind == PP_WRITE && fl->no_write)
        return refuse(c, kind, need, PP_LAYER_FLAG, "--no-write", "no writes");
    if (fl->untrusted && kind != PP_READ)
        return refuse(c, kind, need, PP_LAYER_FLAG, "--untrusted",
                      "untrusted: no network, no writes, no environment");
    for (size_t i = 0; i < fl->ndeny; i++) {
        pp_kind k;
        const char *pattern;
        if (pp_parse_cap(fl->deny[i], &k, &pattern, NULL) != PERCH_OK)
            continue; /* reported before any need is checked */
        if (!deny_applies(k, kind) || (pattern && !pp_pattern_refuses(k, pattern, need)))
            continue;
        snprintf(source, sizeof source, "--deny %s", fl->deny[i]);
        snprintf(rule, sizeof rule, "deny %s", fl->deny[i]);
        return refuse(c, kind, need, PP_LAYER_FLAG, source, rule);
    }
    if (kind == PP_NET && fl->nallow_hosts) {
        pm_net want;
        bool ok = pm_net_parse(need, &want);
        for (size_t i = 0; ok && i < fl->nallow_hosts; i++) {
            pm_net a;
            char entry[320];
            const char *h = fl->allow_hosts[i];
            bool parsed = pm_net_parse(h, &a);
            if (!parsed) {
                /* HOST without a port is HOST:443 */
                snprintf(entry, sizeof entry, "%s:443", h);
                parsed = pm_net_parse(entry, &a);
            }
            if (parsed && pm_net_covers(&a, &want))
                return PERCH_OK;
        }
        return refuse(c, kind, need, PP_LAYER_FLAG, "--allow-host",
                      "not within any --allow-host entry");
    }
    return PERCH_OK;
}

static perch_err_kind check_need(ctx *c, pp_kind kind, const char *need)
{
    perch_err_kind rc;
    pm_net n;
    c->before = c->g->nrefusals;
    if ((rc = check_perch(c, kind, need)) || (rc = check_policy_deny(c, kind, need)))
        return rc;
    if (kind == PP_NET && pm_net_parse(need, &n) && n.any && (rc = check_wildcard(c, need)))
        return rc;
    if ((rc = check_flags(c, kind, need)))
        return rc;
    if (c->g->nrefusals == c->before) {
        pm_list *l = kind == PP_READ    ? &c->g->grant.needs_read
                     : kind == PP_WRITE ? &c->g->grant.needs_write
                     : kind == PP_NET   ? &c->g->grant.needs_net
                                        : &c->g->grant.needs_env;
        char **items = pb_realloc(l->items, (l->count + 1) * sizeof *items);
        if (!items)
            return nomem(c);
        l->items = items;
        if (!(l->items[l->count] = pb_strdup(need)))
            return nomem(c);
        l->count++;
        if (kind == PP_NET && n.any)
            c->g->wildcard_exception = true;
    } else if (kind == PP_NET && c->g->exception_detail && !c->g->wildcard_exception) {
        pb_free(c->g->exception_detail);
        c->g->exception_detail = NULL;
    }
    return PERCH_OK;
}

/* memory: the smallest cap wins; a declared limit above a cap is refused */
static perch_err_kind check_memory(ctx *c)
{
    const pm_manifest *d = c->req->declared;
    const pp_set *s = c->req->policies;
    const pp_flags *fl = c->req->flags;
    pm_manifest *g = &c->g->grant;
    char need[32], source[600], rule[96];
    perch_err_kind rc;

    g->has_memory_max = d->has_memory_max;
    g->memory_max = d->memory_max;
    snprintf(need, sizeof need, "%llu", (unsigned long long)d->memory_max);
    for (size_t f = 0; s && f < s->count; f++) {
        const pp_policy *p = &s->files[f];
        if (!p->has_memory_max)
            continue;
        if (d->has_memory_max && d->memory_max > p->memory_max) {
            where_text(source, sizeof source, p, p->memory_at);
            snprintf(rule, sizeof rule, "memory_max %llu", (unsigned long long)p->memory_max);
            if ((rc = refuse(c, PP_MEMORY, need, PP_LAYER_POLICY, source, rule)))
                return rc;
        }
        if (!g->has_memory_max || p->memory_max < g->memory_max)
            g->memory_max = p->memory_max;
        g->has_memory_max = true;
    }
    if (fl && fl->has_memory_max) {
        if (d->has_memory_max && d->memory_max > fl->memory_max) {
            snprintf(source, sizeof source, "--memory-max %llu",
                     (unsigned long long)fl->memory_max);
            snprintf(rule, sizeof rule, "memory_max %llu", (unsigned long long)fl->memory_max);
            if ((rc = refuse(c, PP_MEMORY, need, PP_LAYER_FLAG, source, rule)))
                return rc;
        }
        if (!g->has_memory_max || fl->memory_max < g->memory_max)
            g->memory_max = fl->memory_max;
        g->has_memory_max = true;
    }
    return PERCH_OK;
}

/* Every capability string of the .perch file and of --deny is well-formed. */
static perch_err_kind check_caps(const pp_request *q, perch_err *err)
{
    perch_err_kind rc;
    pp_kind k;
    const char *pattern;
    for (size_t i = 0; i < q->nperch_deny; i++) {
        if (pp_parse_cap(q->perch_deny[i].cap, &k, &pattern, err) != PERCH_OK) {
            if (q->perch_deny[i].line)
                pb_prefix(err, "%s:%u", q->perch_file ? q->perch_file : "perch file",
                          (unsigned)q->perch_deny[i].line);
            if (err)
                err->kind = PERCH_E_PERCH_SYNTAX;
            return PERCH_E_PERCH_SYNTAX;
        }
    }
    for (size_t i = 0; q->flags && i < q->flags->ndeny; i++)
        if ((rc = pp_parse_cap(q->flags->deny[i], &k, &pattern, err))) {
            pb_prefix(err, "--deny");
            return rc;
        }
    return PERCH_OK;
}

perch_err_kind pp_compose(const pp_request *req, pp_grant *out, perch_err *err)
{
    ctx c;
    perch_err_kind rc;
    const pm_manifest *d = req->declared;
    const pm_list *lists[] = {&d->needs_read, &d->needs_write, &d->needs_net, &d->needs_env};

    memset(out, 0, sizeof *out);
    pm_manifest_init(&out->grant);
    memset(&c, 0, sizeof c);
    c.req = req;
    c.g = out;
    c.err = err;
    if ((rc = check_caps(req, err)))
        return rc;
    out->grant.schema = d->schema;
    if ((d->name && !(out->grant.name = pb_strdup(d->name))) ||
        (d->version && !(out->grant.version = pb_strdup(d->version))))
        goto nomem;
    for (int k = 0; k < PP_MEMORY; k++)
        for (size_t i = 0; i < lists[k]->count; i++)
            if ((rc = check_need(&c, (pp_kind)k, lists[k]->items[i])))
                goto fail;
    if ((rc = check_memory(&c)))
        goto fail;
    if (out->nrefusals) {
        const pp_refusal *r = &out->refusals[0];
        char more[64] = "";
        if (out->nrefusals > 1)
            snprintf(more, sizeof more, " (and %zu more refusal%s)", out->nrefusals - 1,
                     out->nrefusals == 2 ? "" : "s");
        return pb_fail(err, PERCH_E_MANIFEST_REJECTED, "%s refused by %s %s: %s%s", r->need,
                       pp_layer_name(r->layer), r->source, r->rule, more);
    }
    return PERCH_OK;
nomem:
    rc = nomem(&c);
fail:
    pp_grant_free(out);
    return rc;
}

/* ---- signatures ------------------------------------------------------------------ */

pp_unsigned pp_unsigned_posture(const pp_set *set, const pp_flags *flags, const char *ci,
                                const char **source, char *buf, size_t cap)
{
    const pp_policy *deny = NULL, *allow = NULL;
    pp_unsigned flag = flags ? flags->unsigned_mode : PP_UNSIGNED_UNSET;
    const char *src;
    pp_unsigned mode;
    for (size_t f = 0; set && f < set->count; f++) {
        const pp_policy *p = &set->files[f];
        if (p->unsigned_mode == PP_UNSIGNED_DENY && !deny)
            deny = p;
        if (p->unsigned_mode == PP_UNSIGNED_ALLOW && !allow)
            allow = p;
    }
    if (deny || allow) {
        const pp_policy *p = deny ? deny : allow;
        where_text(buf, cap, p, p->unsigned_at);
    }
    if (deny) {
        mode = PP_UNSIGNED_DENY, src = buf;
    } else if (flag == PP_UNSIGNED_DENY) {
        mode = PP_UNSIGNED_DENY, src = "--unsigned-deny";
    } else if (flag == PP_UNSIGNED_ALLOW) {
        mode = PP_UNSIGNED_ALLOW, src = "--unsigned-allow";
    } else if (allow) {
        mode = PP_UNSIGNED_ALLOW, src = buf;
    } else if (ci && ci[0]) {
        mode = PP_UNSIGNED_DENY, src = "default (CI is set)";
    } else {
        mode = PP_UNSIGNED_ALLOW, src = "default (CI is not set)";
    }
    if (source)
        *source = src;
    return mode;
}

bool pp_signer_allowed(const pp_set *set, const char *signer, char *buf, size_t cap)
{
    for (size_t f = 0; set && f < set->count; f++) {
        const pp_policy *p = &set->files[f];
        if (p->has_signers && (!signer || !listed(&p->signers, signer, NULL))) {
            where_text(buf, cap, p, p->signers_at);
            return false;
        }
    }
    return true;
}

/* ---- HIGH RISK ----------------------------------------------------------------- */

void pp_risk_free(pp_risk *r)
{
    if (!r)
        return;
    pb_free((void *)r->env);
    pb_free((void *)r->net);
    pb_free((void *)r->write);
    memset(r, 0, sizeof *r);
}

/* base's entries, then each file's list of kind, into an owned array. */
static const char **risk_join(const char *const *base, size_t nbase, const pp_set *set,
                              pp_kind kind, size_t *n)
{
    size_t total = nbase, k = 0;
    const char **v;
    for (size_t f = 0; set && f < set->count; f++)
        total += set->files[f].risk[kind].count;
    if (!(v = pb_calloc(total ? total : 1, sizeof *v)))
        return NULL;
    for (size_t i = 0; i < nbase; i++)
        v[k++] = base[i];
    for (size_t f = 0; set && f < set->count; f++)
        for (size_t i = 0; i < set->files[f].risk[kind].count; i++)
            v[k++] = set->files[f].risk[kind].items[i].value;
    *n = k;
    return v;
}

perch_err_kind pp_risk_build(const pp_set *set, pp_risk *out, perch_err *err)
{
    const pm_risk *d = pm_risk_default();
    memset(out, 0, sizeof *out);
    if (!(out->env = risk_join(d->env_globs, d->env_count, set, PP_ENV, &out->rules.env_count)) ||
        !(out->net = risk_join(d->net, d->net_count, set, PP_NET, &out->rules.net_count)) ||
        !(out->write = risk_join(d->write, d->write_count, set, PP_WRITE,
                                 &out->rules.write_count))) {
        pp_risk_free(out);
        return pb_fail(err, PERCH_E_IO, "out of memory");
    }
    out->rules.env_globs = out->env;
    out->rules.net = out->net;
    out->rules.write = out->write;
    return PERCH_OK;
}
