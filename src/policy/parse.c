/*
 * parse.c: policy files, from YAML to pp_policy, failing closed.
 *
 * Two steps, so that each check has one home. libyaml's event parser feeds
 * a small tree (build_*) that refuses what YAML allows and a policy must
 * not have: anchors and aliases (a billion-laughs document expands
 * exponentially through them), tags (they change what a value means), a
 * second document, keys that are not text, duplicate keys, nesting past
 * PP_MAX_DEPTH and more than PP_MAX_NODES nodes. Then the schema walk
 * (schema_*) checks keys, types and values against docs/policy.md.
 *
 * libyaml allocates with the C library's allocator (it has no hook); the
 * tree and the policy go through pb_malloc.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "policy/policy.h"
#include "trust/trust.h"

/* ---- the tree --------------------------------------------------------------- */

typedef enum ntype { N_SCALAR, N_MAP, N_SEQ } ntype;

typedef struct node {
    ntype type;
    pp_where at;
    char *text;           /* scalar: owned, NUL-terminated */
    size_t len;
    bool plain;           /* scalar written without quotes or block style */
    struct node **kids;   /* owned; a map's are key, value, key, value... */
    size_t n, cap;
} node;

static void node_free(node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        node_free(n->kids[i]);
    pb_free(n->kids);
    pb_free(n->text);
    pb_free(n);
}

typedef struct parse_ctx {
    const char *name;
    perch_err *err;
    node *stack[PP_MAX_DEPTH + 1];
    size_t depth;
    size_t nodes;
    node *root;
} parse_ctx;

static perch_err_kind fail_at(parse_ctx *c, pp_where at, const char *fmt, ...) PB_PRINTF(3, 4);

static perch_err_kind fail_at(parse_ctx *c, pp_where at, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pb_fail(c->err, PERCH_E_POLICY_INVALID, "%s:%u:%u: %s", c->name,
                   (unsigned)at.line, (unsigned)at.column, msg);
}

static perch_err_kind nomem(parse_ctx *c)
{
    return pb_fail(c->err, PERCH_E_IO, "out of memory reading %s", c->name);
}

static pp_where where_of(yaml_mark_t m)
{
    pp_where w;
    w.line = (uint32_t)(m.line + 1 > UINT32_MAX ? UINT32_MAX : m.line + 1);
    w.column = (uint32_t)(m.column + 1 > UINT32_MAX ? UINT32_MAX : m.column + 1);
    return w;
}

static const char *scalar_type(const node *n);

/* A node of a mapping's key position: plain text, not yet used in the mapping. */
static perch_err_kind check_key(parse_ctx *c, const node *map, const node *key)
{
    if (key->type != N_SCALAR)
        return fail_at(c, key->at, "a mapping key must be text, not a %s",
                       key->type == N_MAP ? "mapping" : "sequence");
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const node *k = map->kids[i];
        if (k->len == key->len && memcmp(k->text, key->text, k->len) == 0) {
            char q[96];
            pm_quote(q, sizeof q, (const uint8_t *)key->text, key->len);
            return fail_at(c, key->at, "duplicate key %s (first at line %u)", q,
                           (unsigned)k->at.line);
        }
    }
    return PERCH_OK;
}

/* Attach a new node to the one being built (or make it the root). */
static perch_err_kind attach(parse_ctx *c, node *n)
{
    node *parent;
    perch_err_kind rc;
    if (++c->nodes > PP_MAX_NODES) {
        pp_where at = n->at;
        node_free(n);
        return fail_at(c, at, "too many values (more than %u)", (unsigned)PP_MAX_NODES);
    }
    if (c->depth == 0) {
        c->root = n;
        return PERCH_OK;
    }
    parent = c->stack[c->depth - 1];
    if (parent->type == N_MAP && parent->n % 2 == 0 && (rc = check_key(c, parent, n))) {
        node_free(n);
        return rc;
    }
    if (parent->n == parent->cap) {
        size_t ncap = parent->cap ? parent->cap * 2 : 8;
        node **k = pb_realloc(parent->kids, ncap * sizeof(node *));
        if (!k) {
            node_free(n);
            return nomem(c);
        }
        parent->kids = k;
        parent->cap = ncap;
    }
    parent->kids[parent->n++] = n;
    return PERCH_OK;
}

static node *node_new(ntype type, yaml_mark_t m)
{
    node *n = pb_calloc(1, sizeof *n);
    if (n) {
        n->type = type;
        n->at = where_of(m);
    }
    return n;
}

/*
 * Anchors, aliases and tags are refused wherever they appear: an anchor
 * is harmless alone, but only exists to be aliased.
 */
static perch_err_kind refuse_props(parse_ctx *c, const yaml_event_t *ev,
                                   const yaml_char_t *anchor, const yaml_char_t *tag)
{
    if (anchor)
        return fail_at(c, where_of(ev->start_mark),
                       "anchors (&%.40s) are not allowed in a policy", (const char *)anchor);
    if (tag)
        return fail_at(c, where_of(ev->start_mark),
                       "tags (%.40s) are not allowed in a policy", (const char *)tag);
    return PERCH_OK;
}

static perch_err_kind open_node(parse_ctx *c, const yaml_event_t *ev, ntype type)
{
    node *n;
    perch_err_kind rc;
    if (c->depth == PP_MAX_DEPTH)
        return fail_at(c, where_of(ev->start_mark), "nested deeper than %u levels",
                       (unsigned)PP_MAX_DEPTH);
    if (!(n = node_new(type, ev->start_mark)))
        return nomem(c);
    if ((rc = attach(c, n)))
        return rc;
    c->stack[c->depth++] = n;
    return PERCH_OK;
}

/* One event into the tree. */
static perch_err_kind build_event(parse_ctx *c, const yaml_event_t *ev, int *docs)
{
    perch_err_kind rc;
    switch (ev->type) {
    case YAML_NO_EVENT:
    case YAML_STREAM_START_EVENT:
    case YAML_STREAM_END_EVENT:
    case YAML_DOCUMENT_END_EVENT:
        return PERCH_OK;
    case YAML_DOCUMENT_START_EVENT:
        if (++*docs > 1)
            return fail_at(c, where_of(ev->start_mark),
                           "a second YAML document (a policy is one document)");
        if (ev->data.document_start.tag_directives.start !=
            ev->data.document_start.tag_directives.end)
            return fail_at(c, where_of(ev->start_mark),
                           "tags (%%TAG) are not allowed in a policy");
        return PERCH_OK;
    case YAML_ALIAS_EVENT:
        return fail_at(c, where_of(ev->start_mark),
                       "aliases (*%.40s) are not allowed in a policy (a pattern starting "
                       "with '*' must be quoted: \"*_TOKEN\")",
                       (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT: {
        node *n;
        if ((rc = refuse_props(c, ev, ev->data.scalar.anchor, ev->data.scalar.tag)))
            return rc;
        if (!(n = node_new(N_SCALAR, ev->start_mark)) ||
            !(n->text = pb_strndup((const char *)ev->data.scalar.value,
                                   ev->data.scalar.length))) {
            pb_free(n);
            return nomem(c);
        }
        n->len = ev->data.scalar.length;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        return attach(c, n);
    }
    case YAML_SEQUENCE_START_EVENT:
        if ((rc = refuse_props(c, ev, ev->data.sequence_start.anchor,
                               ev->data.sequence_start.tag)))
            return rc;
        return open_node(c, ev, N_SEQ);
    case YAML_MAPPING_START_EVENT:
        if ((rc = refuse_props(c, ev, ev->data.mapping_start.anchor,
                               ev->data.mapping_start.tag)))
            return rc;
        return open_node(c, ev, N_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        c->depth--;
        return PERCH_OK;
    }
    return PERCH_OK;
}

static perch_err_kind yaml_error(parse_ctx *c, const yaml_parser_t *p)
{
    pp_where at = where_of(p->problem_mark);
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_MEMORY_ERROR)
        return nomem(c);
    if (p->error == YAML_READER_ERROR)
        return pb_fail(c->err, PERCH_E_POLICY_INVALID, "%s: byte %zu: %s", c->name,
                       p->problem_offset, problem);
    if (p->context)
        return fail_at(c, at, "YAML syntax: %s %s (line %u)", problem, p->context,
                       (unsigned)(p->context_mark.line + 1));
    return fail_at(c, at, "YAML syntax: %s", problem);
}

/* Parse text into c->root (NULL for a stream without a document). */
static perch_err_kind build_tree(parse_ctx *c, const char *text, size_t len)
{
    yaml_parser_t p;
    yaml_event_t ev;
    perch_err_kind rc = PERCH_OK;
    int docs = 0;
    bool done = false;

    if (!yaml_parser_initialize(&p))
        return nomem(c);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
    while (!done) {
        if (!yaml_parser_parse(&p, &ev)) {
            rc = yaml_error(c, &p);
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = build_event(c, &ev, &docs);
        yaml_event_delete(&ev);
        if (rc)
            break;
    }
    yaml_parser_delete(&p);
    return rc;
}

/* ---- the schema ------------------------------------------------------------- */

static bool one_of(const node *n, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(n->text, *words) == 0)
            return true;
    return false;
}

/*
 * What YAML makes of a plain scalar: the core schema's null, booleans,
 * integers and floats, plus YAML 1.1's yes/no/on/off (so that an env name
 * NO never silently becomes false). Anything quoted is text.
 */
static const char *scalar_type(const node *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const bools[] = {"true",  "True", "TRUE", "false", "False", "FALSE",
                                        "yes",   "Yes",  "YES",  "no",    "No",    "NO",
                                        "on",    "On",   "ON",   "off",   "Off",   "OFF",
                                        "y",     "Y",    "n",    "N",     NULL};
    static const char *const floats[] = {".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF",
                                         "+.inf", ".nan", ".NaN", ".NAN", NULL};
    const char *s = n->text;
    bool digits = false, dot = false, exp = false;
    if (!n->plain)
        return "text";
    if (one_of(n, nulls))
        return "null";
    if (one_of(n, bools))
        return "boolean";
    if (one_of(n, floats))
        return "float";
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o') && s[2] &&
        strspn(s + 2, "0123456789abcdefABCDEF") == strlen(s + 2))
        return "integer";
    if (*s == '-' || *s == '+')
        s++;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            digits = true;
        } else if (*s == '.' && !dot && !exp) {
            dot = true;
        } else if ((*s == 'e' || *s == 'E') && digits && !exp) {
            exp = true;
            if (s[1] == '-' || s[1] == '+')
                s++;
        } else {
            return "text";
        }
    }
    if (!digits)
        return "text";
    return dot || exp ? "float" : "integer";
}

static const char *type_of(const node *n)
{
    switch (n->type) {
    case N_MAP: return "mapping";
    case N_SEQ: return "sequence";
    case N_SCALAR: break;
    }
    return scalar_type(n);
}

static perch_err_kind expect(parse_ctx *c, const node *n, const char *path, const char *want)
{
    return fail_at(c, n->at, "%s: expected %s, found %s", path, want, type_of(n));
}

/* A mapping's keys: one of allowed (NULL-terminated), in which *index gets its position. */
static perch_err_kind key_index(parse_ctx *c, const node *key, const char *path,
                                const char *const *allowed, size_t *index)
{
    char q[96], list[256] = "";
    size_t used = 0;
    for (size_t i = 0; allowed[i]; i++) {
        if (strcmp(key->text, allowed[i]) == 0 && strlen(allowed[i]) == key->len) {
            *index = i;
            return PERCH_OK;
        }
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                 allowed[i]);
        if (used >= sizeof list)
            used = sizeof list - 1;
    }
    pm_quote(q, sizeof q, (const uint8_t *)key->text, key->len);
    return fail_at(c, key->at, "unknown key %s in %s (expected one of: %s)", q, path, list);
}

/* A decimal unsigned integer written without quotes, at most max. */
static perch_err_kind get_uint(parse_ctx *c, const node *n, const char *path, uint64_t max,
                               uint64_t *out)
{
    uint64_t v = 0;
    if (n->type != N_SCALAR || strcmp(scalar_type(n), "integer") != 0)
        return expect(c, n, path, "an integer");
    if (strspn(n->text, "0123456789") != n->len)
        return fail_at(c, n->at, "%s: write the number in decimal, without a sign", path);
    for (size_t i = 0; i < n->len; i++) {
        if (v > (max - (uint64_t)(n->text[i] - '0')) / 10)
            return fail_at(c, n->at, "%s: %s is out of range (at most %llu)", path, n->text,
                           (unsigned long long)max);
        v = v * 10 + (uint64_t)(n->text[i] - '0');
    }
    *out = v;
    return PERCH_OK;
}

static perch_err_kind get_bool(parse_ctx *c, const node *n, const char *path, bool *out)
{
    if (n->type != N_SCALAR || strcmp(scalar_type(n), "boolean") != 0)
        return expect(c, n, path, "true or false");
    if (strcmp(n->text, "true") != 0 && strcmp(n->text, "false") != 0)
        return fail_at(c, n->at, "%s: write true or false, not %s", path, n->text);
    *out = n->text[0] == 't';
    return PERCH_OK;
}

/* Text: a quoted scalar, or a plain one YAML reads as text. */
static perch_err_kind get_text(parse_ctx *c, const node *n, const char *path)
{
    if (n->type != N_SCALAR || strcmp(scalar_type(n), "text") != 0)
        return fail_at(c, n->at, "%s: expected text, found %s%s", path, type_of(n),
                       n->type == N_SCALAR ? " (quote it to make it text)" : "");
    if (strlen(n->text) != n->len)
        return fail_at(c, n->at, "%s: contains a NUL character", path);
    return PERCH_OK;
}

/* How an entry of a list is checked; why gets a static reason. */
typedef bool (*entry_rule)(const char *value, const char **why, void *ud);

static bool rule_pattern(const char *v, const char **why, void *ud)
{
    return pp_check_pattern(*(const pp_kind *)ud, v, why);
}

static bool rule_signer(const char *v, const char **why, void *ud)
{
    (void)ud;
    return pt_signer_valid(v, strlen(v), why);
}

static bool rule_risk(const char *v, const char **why, void *ud)
{
    switch (*(const pp_kind *)ud) {
    case PP_NET: return pm_check_net(v, why);
    case PP_WRITE: return pm_check_path(v, why);
    default: return pp_check_pattern(PP_ENV, v, why);
    }
}

static bool rule_keyring(const char *v, const char **why, void *ud)
{
    (void)ud;
    if (!*v) {
        *why = "is empty";
        return false;
    }
    for (const char *s = v; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            *why = "contains a control character";
            return false;
        }
    }
    return true;
}

/* The directory part of name with its '/', or "" when it has none. */
static size_t dir_len(const char *name)
{
    const char *slash = strrchr(name, '/');
    return slash ? (size_t)(slash - name) + 1 : 0;
}

/*
 * list -> "[" entry ("," entry)* "]" | ("-" entry)+ : every entry text,
 * valid under rule, listed once. resolve: keyring paths, joined to the
 * policy's directory unless absolute.
 */
static perch_err_kind get_list(parse_ctx *c, const node *n, const char *path, entry_rule rule,
                               void *ud, bool resolve, pp_items *out)
{
    perch_err_kind rc;
    char where[128];
    if (n->type != N_SEQ)
        return expect(c, n, path, "a sequence");
    if (n->n > PM_MAX_ENTRIES)
        return fail_at(c, n->at, "%s: more than %u entries", path, (unsigned)PM_MAX_ENTRIES);
    if (n->n && !(out->items = pb_calloc(n->n, sizeof *out->items)))
        return nomem(c);
    for (size_t i = 0; i < n->n; i++) {
        const node *e = n->kids[i];
        const char *why = NULL;
        char q[96];
        snprintf(where, sizeof where, "%s[%zu]", path, i);
        if ((rc = get_text(c, e, where)))
            return rc;
        pm_quote(q, sizeof q, (const uint8_t *)e->text, e->len);
        if (!rule(e->text, &why, ud))
            return fail_at(c, e->at, "%s %s %s", where, q, why);
        for (size_t j = 0; j < i; j++)
            if (strcmp(n->kids[j]->text, e->text) == 0)
                return fail_at(c, e->at, "%s %s is listed twice (first at line %u)", where, q,
                               (unsigned)n->kids[j]->at.line);
        if (resolve && e->text[0] != '/') {
            size_t d = dir_len(c->name);
            char *full = pb_malloc(d + e->len + 1);
            if (!full)
                return nomem(c);
            memcpy(full, c->name, d);
            memcpy(full + d, e->text, e->len + 1);
            out->items[i].value = full;
        } else if (!(out->items[i].value = pb_strdup(e->text))) {
            return nomem(c);
        }
        out->items[i].at = e->at;
        out->count = i + 1;
    }
    return PERCH_OK;
}

static perch_err_kind get_map(parse_ctx *c, const node *n, const char *path)
{
    return n->type == N_MAP ? PERCH_OK : expect(c, n, path, "a mapping");
}

static const char *const cap_keys[] = {"read", "write", "net", "env", NULL};

/* deny -> { read | write | net | env : [pattern...] } */
static perch_err_kind schema_deny(parse_ctx *c, const node *n, pp_policy *p)
{
    perch_err_kind rc;
    if ((rc = get_map(c, n, "deny")))
        return rc;
    for (size_t i = 0; i < n->n; i += 2) {
        size_t k;
        pp_kind kind;
        char path[32];
        if ((rc = key_index(c, n->kids[i], "deny", cap_keys, &k)))
            return rc;
        kind = (pp_kind)k;
        snprintf(path, sizeof path, "deny.%s", cap_keys[k]);
        if ((rc = get_list(c, n->kids[i + 1], path, rule_pattern, &kind, false, &p->deny[k])))
            return rc;
    }
    return PERCH_OK;
}

/* signatures -> { unsigned: allow|deny, signers: [name...], keyrings: [path...] } */
static perch_err_kind schema_signatures(parse_ctx *c, const node *n, pp_policy *p)
{
    static const char *const keys[] = {"unsigned", "signers", "keyrings", NULL};
    perch_err_kind rc;
    if ((rc = get_map(c, n, "signatures")))
        return rc;
    for (size_t i = 0; i < n->n; i += 2) {
        const node *v = n->kids[i + 1];
        size_t k;
        if ((rc = key_index(c, n->kids[i], "signatures", keys, &k)))
            return rc;
        switch (k) {
        case 0:
            if ((rc = get_text(c, v, "signatures.unsigned")))
                return rc;
            if (strcmp(v->text, "allow") != 0 && strcmp(v->text, "deny") != 0) {
                char q[96];
                pm_quote(q, sizeof q, (const uint8_t *)v->text, v->len);
                return fail_at(c, v->at, "signatures.unsigned: expected allow or deny, found %s",
                               q);
            }
            p->unsigned_mode = v->text[0] == 'a' ? PP_UNSIGNED_ALLOW : PP_UNSIGNED_DENY;
            p->unsigned_at = v->at;
            break;
        case 1:
            p->has_signers = true;
            p->signers_at = n->kids[i]->at;
            if ((rc = get_list(c, v, "signatures.signers", rule_signer, NULL, false,
                               &p->signers)))
                return rc;
            break;
        default:
            if ((rc = get_list(c, v, "signatures.keyrings", rule_keyring, NULL, true,
                               &p->keyrings)))
                return rc;
            break;
        }
    }
    return PERCH_OK;
}

/* high_risk -> { env: [glob...], net: [entry...], write: [path...] } */
static perch_err_kind schema_high_risk(parse_ctx *c, const node *n, pp_policy *p)
{
    static const char *const keys[] = {"env", "net", "write", NULL};
    static const pp_kind kinds[] = {PP_ENV, PP_NET, PP_WRITE};
    perch_err_kind rc;
    if ((rc = get_map(c, n, "high_risk")))
        return rc;
    for (size_t i = 0; i < n->n; i += 2) {
        size_t k;
        pp_kind kind;
        char path[32];
        if ((rc = key_index(c, n->kids[i], "high_risk", keys, &k)))
            return rc;
        kind = kinds[k];
        snprintf(path, sizeof path, "high_risk.%s", keys[k]);
        if ((rc = get_list(c, n->kids[i + 1], path, rule_risk, &kind, false, &p->risk[kind])))
            return rc;
    }
    return PERCH_OK;
}

/* wildcard_net -> { signers: [name...], allow_in_ci: bool } */
static perch_err_kind schema_wildcard(parse_ctx *c, const node *n, pp_policy *p)
{
    static const char *const keys[] = {"signers", "allow_in_ci", NULL};
    perch_err_kind rc;
    if ((rc = get_map(c, n, "wildcard_net")))
        return rc;
    for (size_t i = 0; i < n->n; i += 2) {
        size_t k;
        if ((rc = key_index(c, n->kids[i], "wildcard_net", keys, &k)))
            return rc;
        if (k == 0) {
            rc = get_list(c, n->kids[i + 1], "wildcard_net.signers", rule_signer, NULL, false,
                          &p->wildcard_signers);
        } else {
            rc = get_bool(c, n->kids[i + 1], "wildcard_net.allow_in_ci", &p->wildcard_ci);
            p->wildcard_ci_at = n->kids[i + 1]->at;
        }
        if (rc)
            return rc;
    }
    return PERCH_OK;
}

/*
 * policy -> { version: 1, deny?, memory_max?, signatures?, high_risk?,
 *             wildcard_net? }
 */
static perch_err_kind schema_policy(parse_ctx *c, const node *root, pp_policy *p)
{
    static const char *const keys[] = {"version",   "deny",      "memory_max",
                                       "signatures", "high_risk", "wildcard_net", NULL};
    perch_err_kind rc;
    bool version = false;
    if (!root || (root->type == N_SCALAR && strcmp(scalar_type(root), "null") == 0))
        return pb_fail(c->err, PERCH_E_POLICY_INVALID,
                       "%s:1:1: the policy is empty (it starts with 'version: 1')", c->name);
    if (root->type != N_MAP)
        return fail_at(c, root->at, "the policy must be a mapping of keys, found %s",
                       type_of(root));
    for (size_t i = 0; i < root->n; i += 2) {
        const node *v = root->kids[i + 1];
        size_t k;
        uint64_t n = 0;
        if ((rc = key_index(c, root->kids[i], "the policy", keys, &k)))
            return rc;
        switch (k) {
        case 0:
            if ((rc = get_uint(c, v, "version", UINT32_MAX, &n)))
                return rc;
            if (n != 1)
                return fail_at(c, v->at, "version %llu is not supported (this perch reads 1)",
                               (unsigned long long)n);
            version = true;
            break;
        case 1: rc = schema_deny(c, v, p); break;
        case 2:
            rc = get_uint(c, v, "memory_max", PM_MEMORY_LIMIT, &p->memory_max);
            p->has_memory_max = true;
            p->memory_at = v->at;
            break;
        case 3: rc = schema_signatures(c, v, p); break;
        case 4: rc = schema_high_risk(c, v, p); break;
        default: rc = schema_wildcard(c, v, p); break;
        }
        if (rc)
            return rc;
    }
    if (!version)
        return fail_at(c, root->at, "missing key \"version\" (write 'version: 1' first)");
    return PERCH_OK;
}

/* ---- entry points ------------------------------------------------------------ */

void pp_policy_init(pp_policy *p) { memset(p, 0, sizeof *p); }

static void items_free(pp_items *l)
{
    for (size_t i = 0; i < l->count; i++)
        pb_free(l->items[i].value);
    pb_free(l->items);
    l->items = NULL;
    l->count = 0;
}

void pp_policy_free(pp_policy *p)
{
    if (!p)
        return;
    pb_free(p->path);
    for (int k = 0; k < PP_MEMORY; k++) {
        items_free(&p->deny[k]);
        items_free(&p->risk[k]);
    }
    items_free(&p->signers);
    items_free(&p->keyrings);
    items_free(&p->wildcard_signers);
    pp_policy_init(p);
}

perch_err_kind pp_parse(const char *text, size_t len, const char *name, pp_policy *out,
                        perch_err *err)
{
    parse_ctx c;
    perch_err_kind rc;

    pp_policy_init(out);
    memset(&c, 0, sizeof c);
    c.name = name;
    c.err = err;
    if (len > PP_MAX_BYTES)
        return pb_fail(err, PERCH_E_POLICY_INVALID,
                       "%s: %zu bytes is too large for a policy (at most %u)", name, len,
                       (unsigned)PP_MAX_BYTES);
    if ((rc = build_tree(&c, text, len)) == PERCH_OK) {
        if (!(out->path = pb_strdup(name)))
            rc = nomem(&c);
        else
            rc = schema_policy(&c, c.root, out);
    }
    node_free(c.root);
    if (rc)
        pp_policy_free(out);
    return rc;
}

perch_err_kind pp_read(const char *path, pp_policy *out, perch_err *err)
{
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    perch_err_kind rc;
    int fd;

    pp_policy_init(out);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return pb_fail(err, PERCH_E_IO, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = pb_fail(err, PERCH_E_IO, "%s is not a regular file", path);
        goto out;
    }
    if (!(text = pb_malloc(PP_MAX_BYTES + 2))) {
        rc = pb_fail(err, PERCH_E_IO, "out of memory reading %s", path);
        goto out;
    }
    /* read one byte past the limit, to tell a full file from a huge one */
    while (len <= PP_MAX_BYTES) {
        ssize_t n = read(fd, text + len, PP_MAX_BYTES + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = pb_fail(err, PERCH_E_IO, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > PP_MAX_BYTES) {
        rc = pb_fail(err, PERCH_E_POLICY_INVALID,
                     "%s: the file is too large for a policy (more than %u bytes)", path,
                     (unsigned)PP_MAX_BYTES);
        goto out;
    }
    text[len] = '\0';
    rc = pp_parse(text, len, path, out, err);
out:
    pb_free(text);
    close(fd);
    return rc;
}
