/*
 * validate.c: the type rules of WebAssembly 2.0, and the translation of
 * each function body into internal code (ops.h) as it is checked.
 *
 * The body walk follows the validation algorithm of the specification's
 * appendix: an operand stack of types (PW_T_ANY where the stack is
 * polymorphic) and a stack of control frames. Every type check lives here;
 * the translation only decides what to emit, using the stack heights the
 * checks establish. Nothing is emitted for unreachable code.
 */
#include <stdio.h>
#include <string.h>

#include "wasm/cursor.h"
#include "wasm/module.h"
#include "wasm/ops.h"

/* Implementation limits: guest-controlled sizes never size a host
 * allocation beyond these. */
#define PW_MAX_CTRL_DEPTH 65536u
#define PW_MAX_CELLS ((size_t)1 << 31)

enum { K_BLOCK, K_LOOP, K_IF, K_ELSE, K_FUNC };

typedef struct ctrl {
    uint8_t kind;
    bool unreachable; /* the rest of this block cannot be reached */
    bool dead;        /* the whole block is unreachable: emit nothing */
    const pw_valtype *params;
    const pw_valtype *results;
    uint32_t nparams, nresults;
    uint32_t height;  /* operand stack height below the params */
    size_t head;      /* LOOP: cell of the loop head; IF: the branch to else */
    size_t head_off;  /* IF: the cell holding that branch's offset */
    size_t chain;     /* forward branches to patch at `end` (cell index + 1) */
} ctrl;

/* A one-value block type [] -> [t] points here, at single_types[t]. */
static const pw_valtype single_types[256] = {
    [PW_T_I32] = PW_T_I32, [PW_T_I64] = PW_T_I64, [PW_T_F32] = PW_T_F32,
    [PW_T_F64] = PW_T_F64, [PW_T_FUNCREF] = PW_T_FUNCREF, [PW_T_EXTERNREF] = PW_T_EXTERNREF,
};

typedef struct vstate {
    const pw_module *m;
    pw_cursor c;
    perch_err *err;
    uint32_t funcidx;
    const pw_valtype *locals;
    uint32_t nlocals;      /* params included */
    pw_valtype *vals;
    uint32_t nvals, capvals, maxvals;
    ctrl *ctrls;
    uint32_t nctrls, capctrls;
    pw_cell *cells;
    size_t ncells, capcells;
    bool live;
    bool oom;
    size_t last;           /* opcode cell of the last instruction, or NO_LAST */
    size_t prev;           /* the one before it, when contiguous, or NO_LAST */
} vstate;

/* No instruction to fuse with: nothing emitted yet, or a label since. */
#define NO_LAST SIZE_MAX

/* ---- numeric opcode table ------------------------------------------------ */

typedef struct numinfo {
    uint16_t op;
    pw_valtype a, b, r;
} numinfo;

#define NONE 0
#define I32 PW_T_I32
#define I64 PW_T_I64
#define F32 PW_T_F32
#define F64 PW_T_F64
static const numinfo numeric[0x108] = {
#define PW_X(name, byte, ta, tb, tr) [byte] = {PW_OP_##name, ta, tb, tr},
    PW_NUMERIC_OPS(PW_X)
#undef PW_X
};

typedef struct meminfo {
    uint16_t op;
    uint8_t size;
    pw_valtype type;
    uint8_t align;
} meminfo;

static const meminfo memops[0x3f] = {
#define PW_X(name, byte, sz, t, al) [byte] = {PW_OP_##name, sz, t, al},
    PW_MEMORY_OPS(PW_X)
#undef PW_X
};
#undef NONE
#undef I32
#undef I64
#undef F32
#undef F64

/* ---- superinstructions (ops.h) ------------------------------------------- */

static const uint16_t fuse_l[PW_OP__COUNT] = {
#define PW_X(name) [PW_OP_##name] = PW_OP_##name##_L,
    PW_FUSED_BINOPS(PW_X) PW_FUSED_LOADS(PW_X)
#undef PW_X
};
static const uint16_t fuse_k[PW_OP__COUNT] = {
#define PW_X(name) [PW_OP_##name] = PW_OP_##name##_K,
    PW_FUSED_BINOPS(PW_X)
#undef PW_X
};
/* A binary operator in any of its forms, followed by local.set. */
static const uint16_t fuse_s[PW_OP__COUNT] = {
#define PW_X(name) [PW_OP_##name] = PW_OP_##name##_S, [PW_OP_##name##_L] = PW_OP_##name##_LS, \
                   [PW_OP_##name##_K] = PW_OP_##name##_KS,
    PW_FUSED_BINOPS(PW_X)
#undef PW_X
#define PW_X(name) [PW_OP_##name##_LL] = PW_OP_##name##_LLS, [PW_OP_##name##_LK] = PW_OP_##name##_LKS,
    PW_FUSED_ARITH(PW_X)
#undef PW_X
};
/* ... followed by local.tee. */
static const uint16_t fuse_t[PW_OP__COUNT] = {
#define PW_X(name) [PW_OP_##name] = PW_OP_##name##_T, [PW_OP_##name##_L] = PW_OP_##name##_LT, \
                   [PW_OP_##name##_K] = PW_OP_##name##_KT,
    PW_FUSED_ARITH(PW_X)
#undef PW_X
};
/* local.get a; local.get b; OP and local.get a; const k; OP. */
static const uint16_t fuse_ll[PW_OP__COUNT] = {
#define PW_X(name) [PW_OP_##name] = PW_OP_##name##_LL,
    PW_FUSED_ARITH(PW_X)
#undef PW_X
};
static const uint16_t fuse_lk[PW_OP__COUNT] = {
#define PW_X(name) [PW_OP_##name] = PW_OP_##name##_LK,
    PW_FUSED_ARITH(PW_X)
#undef PW_X
};
/* Cells taken by each form that may be fused further. */
static const uint8_t form_len[PW_OP__COUNT] = {
#define PW_X(name) [PW_OP_##name] = 1, [PW_OP_##name##_L] = 2, [PW_OP_##name##_K] = 2,
    PW_FUSED_BINOPS(PW_X)
#undef PW_X
#define PW_X(name) [PW_OP_##name##_LL] = 3, [PW_OP_##name##_LK] = 3,
    PW_FUSED_ARITH(PW_X)
#undef PW_X
};

/* A comparison in any of its three forms, followed by br_if. */
static const uint16_t fuse_br[PW_OP__COUNT] = {
#define PW_X(name) [PW_OP_##name] = PW_OP_##name##_BR, [PW_OP_##name##_L] = PW_OP_##name##_L_BR, \
                   [PW_OP_##name##_K] = PW_OP_##name##_K_BR,
    PW_FUSED_CMPS(PW_X)
#undef PW_X
};
/* The comparison that is true exactly when this one is false. */
#define NEG2(a, b) [PW_OP_##a] = PW_OP_##b, [PW_OP_##b] = PW_OP_##a,                             \
                   [PW_OP_##a##_L] = PW_OP_##b##_L, [PW_OP_##b##_L] = PW_OP_##a##_L,             \
                   [PW_OP_##a##_K] = PW_OP_##b##_K, [PW_OP_##b##_K] = PW_OP_##a##_K
static const uint16_t negate[PW_OP__COUNT] = {
    NEG2(I32_EQ, I32_NE), NEG2(I32_LT_S, I32_GE_S), NEG2(I32_LT_U, I32_GE_U),
    NEG2(I32_GT_S, I32_LE_S), NEG2(I32_GT_U, I32_LE_U),
    NEG2(I64_EQ, I64_NE), NEG2(I64_LT_S, I64_GE_S), NEG2(I64_LT_U, I64_GE_U),
    NEG2(I64_GT_S, I64_LE_S), NEG2(I64_GT_U, I64_LE_U),
};
#undef NEG2

/* ---- errors -------------------------------------------------------------- */

static perch_err_kind invalid(vstate *v, size_t at, const char *fmt, ...) PB_PRINTF(3, 4);
static perch_err_kind invalid(vstate *v, size_t at, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pb_fail_at(v->err, PERCH_E_WASM_INVALID, at, "%s", msg);
    if (v->err)
        snprintf(v->err->detail, sizeof v->err->detail, "in function %u, at byte %zu (0x%zx)",
                 v->funcidx, at, at);
    return PERCH_E_WASM_INVALID;
}

static perch_err_kind malformed(vstate *v, size_t at, const char *msg)
{
    pb_fail_at(v->err, PERCH_E_WASM_MALFORMED, at, "%s", msg);
    if (v->err)
        snprintf(v->err->detail, sizeof v->err->detail, "in function %u, at byte %zu (0x%zx)",
                 v->funcidx, at, at);
    return PERCH_E_WASM_MALFORMED;
}

static perch_err_kind oom(vstate *v)
{
    v->oom = true;
    return pb_fail(v->err, PERCH_E_IO, "out of memory validating function %u", v->funcidx);
}

static perch_err_kind cur_fail(vstate *v)
{
    if (v->err)
        snprintf(v->err->detail, sizeof v->err->detail, "in function %u, at byte %zu (0x%zx)",
                 v->funcidx, (size_t)v->err->offset, (size_t)v->err->offset);
    return v->err ? v->err->kind : PERCH_E_WASM_MALFORMED;
}

/* ---- emission ------------------------------------------------------------ */

static bool grow_cells(vstate *v)
{
    size_t ncap = v->capcells ? v->capcells * 2 : 64;
    pw_cell *p;
    if (ncap > PW_MAX_CELLS)
        return false;
    if (!(p = pb_realloc(v->cells, ncap * sizeof *p)))
        return false;
    v->cells = p;
    v->capcells = ncap;
    return true;
}

/* Append one cell when the code is live; returns its index. */
static size_t emit(vstate *v, uint64_t x)
{
    if (!v->live)
        return 0;
    if (v->ncells == v->capcells && !grow_cells(v)) {
        v->oom = true;
        v->live = false;
        return 0;
    }
    v->cells[v->ncells].u64 = x;
    return v->ncells++;
}

static size_t emit_op(vstate *v, enum pw_op op)
{
    size_t at = emit(v, (uint64_t)op);
    if (v->live) {
        v->prev = v->last;
        v->last = at;
    }
    return at;
}

/* The last instruction, when it is op-shaped and its cells end the code:
 * its opcode, else PW_OP__COUNT. ncells is how many cells it takes. */
static enum pw_op last_op(const vstate *v, size_t ncells)
{
    if (!v->live || v->last == NO_LAST || v->last + ncells != v->ncells)
        return PW_OP__COUNT;
    return (enum pw_op)v->cells[v->last].u64;
}

/*
 * When the last instruction is a comparison (or i32.eqz), the branch that
 * would consume its result: taken when the comparison holds (or, with
 * negated, when it does not). PW_OP__COUNT when there is none.
 */
static enum pw_op fused_branch(const vstate *v, bool negated)
{
    enum pw_op prev;
    size_t len;
    if (!v->live || v->last == NO_LAST)
        return PW_OP__COUNT;
    prev = (enum pw_op)v->cells[v->last].u64;
    len = v->ncells - v->last;
    if (prev == PW_OP_I32_EQZ && len == 1)
        return negated ? PW_OP_BR_IF : PW_OP_BR_UNLESS;
    if (!fuse_br[prev] || len != form_len[prev])
        return PW_OP__COUNT;
    return (enum pw_op)fuse_br[negated ? negate[prev] : prev];
}

/* A binary operator: fold a preceding local.get or constant into it. */
static void emit_binop(vstate *v, enum pw_op op)
{
    enum pw_op prev = last_op(v, 2);
    bool after_get = v->prev != NO_LAST && v->prev + 2 == v->last &&
                     v->cells[v->prev].u64 == PW_OP_LOCAL_GET;
    if ((prev == PW_OP_LOCAL_GET || prev == PW_OP_CONST) && after_get &&
        (prev == PW_OP_LOCAL_GET ? fuse_ll[op] : fuse_lk[op])) {
        /* local.get a; (local.get b | const k); OP  ->  OP_LL a b | OP_LK a k */
        v->cells[v->prev].u64 = prev == PW_OP_LOCAL_GET ? fuse_ll[op] : fuse_lk[op];
        v->cells[v->prev + 2].u64 = v->cells[v->last + 1].u64;
        v->ncells = v->prev + 3;
        v->last = v->prev;
        v->prev = NO_LAST;
        return;
    }
    if (prev == PW_OP_LOCAL_GET && fuse_l[op]) {
        v->cells[v->last].u64 = fuse_l[op];
        return;
    }
    if (prev == PW_OP_CONST && fuse_k[op]) {
        v->cells[v->last].u64 = fuse_k[op];
        return;
    }
    emit_op(v, op);
}

static void update_live(vstate *v)
{
    const ctrl *top = &v->ctrls[v->nctrls - 1];
    v->live = !v->oom && !top->dead && !top->unreachable;
}

/* Emit a branch target cell for a forward branch to frame L, chained for
 * patching when L ends. base is the cell the offset is relative to. */
static void emit_fwd(vstate *v, ctrl *L, size_t base)
{
    size_t at;
    if (!v->live)
        return;
    at = emit(v, 0);
    if (!v->live)
        return;
    v->cells[at].u64 = (uint64_t)L->chain | ((uint64_t)(at - base) << 32);
    L->chain = at + 1;
}

static void patch_chain(vstate *v, ctrl *L, size_t target)
{
    size_t k = L->chain;
    while (k) {
        size_t at = k - 1;
        uint64_t cell = v->cells[at].u64;
        size_t base = at - (size_t)(cell >> 32);
        k = (size_t)(uint32_t)cell;
        v->cells[at].i64 = (int64_t)target - (int64_t)base;
    }
    L->chain = 0;
}

/* ---- the type stack ------------------------------------------------------ */

static perch_err_kind push(vstate *v, pw_valtype t)
{
    if (v->nvals == v->capvals) {
        uint32_t ncap = v->capvals ? v->capvals * 2 : 64;
        pw_valtype *p = pb_realloc(v->vals, ncap);
        if (!p)
            return oom(v);
        v->vals = p;
        v->capvals = ncap;
    }
    v->vals[v->nvals++] = t;
    if (v->nvals > v->maxvals)
        v->maxvals = v->nvals;
    return PERCH_OK;
}

static perch_err_kind pop_any(vstate *v, size_t at, pw_valtype *out)
{
    ctrl *top = &v->ctrls[v->nctrls - 1];
    if (v->nvals == top->height) {
        if (top->unreachable) {
            *out = PW_T_ANY;
            return PERCH_OK;
        }
        return invalid(v, at, "type mismatch: %s", "operand stack is empty");
    }
    *out = v->vals[--v->nvals];
    return PERCH_OK;
}

static perch_err_kind pop(vstate *v, size_t at, pw_valtype want)
{
    pw_valtype t = 0;
    perch_err_kind rc = pop_any(v, at, &t);
    if (rc)
        return rc;
    if (t != want && t != PW_T_ANY && want != PW_T_ANY) {
        char msg[96];
        snprintf(msg, sizeof msg, "expected %s, found %s", pw_valtype_name(want),
                 pw_valtype_name(t));
        return invalid(v, at, "type mismatch: %s", msg);
    }
    return PERCH_OK;
}

static perch_err_kind pop_n(vstate *v, size_t at, const pw_valtype *ts, uint32_t n)
{
    for (uint32_t i = n; i-- > 0;) {
        perch_err_kind rc = pop(v, at, ts[i]);
        if (rc)
            return rc;
    }
    return PERCH_OK;
}

/* The top n values fit types ts, without popping them (br_table: the
 * specification's push_vals(pop_vals(...)) for each label). */
static perch_err_kind peek_n(vstate *v, size_t at, const pw_valtype *ts, uint32_t n)
{
    const ctrl *top = &v->ctrls[v->nctrls - 1];
    uint32_t avail = v->nvals - top->height;
    for (uint32_t k = 0; k < n; k++) {
        pw_valtype t, want = ts[n - 1 - k];
        if (k >= avail) {
            if (top->unreachable)
                return PERCH_OK;
            return invalid(v, at, "type mismatch: %s", "operand stack is empty");
        }
        t = v->vals[v->nvals - 1 - k];
        if (t != want && t != PW_T_ANY)
            return invalid(v, at, "type mismatch: %s", "br_table label types differ");
    }
    return PERCH_OK;
}

static perch_err_kind push_n(vstate *v, const pw_valtype *ts, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        perch_err_kind rc = push(v, ts[i]);
        if (rc)
            return rc;
    }
    return PERCH_OK;
}

static perch_err_kind push_ctrl(vstate *v, size_t at, uint8_t kind, const pw_valtype *params,
                                uint32_t np, const pw_valtype *results, uint32_t nr)
{
    ctrl *c;
    bool dead;
    if (v->nctrls == v->capctrls) {
        uint32_t ncap = v->capctrls ? v->capctrls * 2 : 16;
        ctrl *p;
        if (ncap > PW_MAX_CTRL_DEPTH)
            return invalid(v, at, "%s", "blocks nested too deeply (implementation limit)");
        if (!(p = pb_realloc(v->ctrls, ncap * sizeof *p)))
            return oom(v);
        v->ctrls = p;
        v->capctrls = ncap;
    }
    dead = v->nctrls ? !v->live : false;
    c = &v->ctrls[v->nctrls++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->params = params;
    c->nparams = np;
    c->results = results;
    c->nresults = nr;
    c->height = v->nvals;
    c->dead = dead;
    update_live(v);
    return push_n(v, params, np);
}

/* Check the end of the top frame's instruction sequence. */
static perch_err_kind check_frame_end(vstate *v, size_t at)
{
    ctrl *top = &v->ctrls[v->nctrls - 1];
    perch_err_kind rc = pop_n(v, at, top->results, top->nresults);
    if (rc)
        return rc;
    if (v->nvals != top->height)
        return invalid(v, at, "type mismatch: %s", "values remain on the stack at the end of a block");
    return PERCH_OK;
}

static void set_unreachable(vstate *v)
{
    ctrl *top = &v->ctrls[v->nctrls - 1];
    v->nvals = top->height;
    top->unreachable = true;
    v->live = false;
}

static const pw_valtype *label_types(const ctrl *L, uint32_t *n)
{
    if (L->kind == K_LOOP) {
        *n = L->nparams;
        return L->params;
    }
    *n = L->nresults;
    return L->results;
}

/* ---- immediates ---------------------------------------------------------- */

static perch_err_kind rd_u32(vstate *v, uint32_t *out, const char *what)
{
    if (!pw_u32(&v->c, out, what))
        return cur_fail(v);
    return PERCH_OK;
}

/* The reserved zero byte of memory instructions. */
static perch_err_kind rd_zero(vstate *v)
{
    size_t at = v->c.pos;
    uint8_t b = 0;
    if (!pw_u8(&v->c, &b, "reserved byte"))
        return cur_fail(v);
    if (b != 0)
        return malformed(v, at, "zero byte expected");
    return PERCH_OK;
}

/*
 * blocktype -> 0x40 | valtype | typeidx:s33
 */
static perch_err_kind rd_blocktype(vstate *v, ctrl *tmp)
{
    size_t at = v->c.pos;
    uint8_t b = 0;
    int64_t idx = 0;
    tmp->params = tmp->results = NULL;
    tmp->nparams = tmp->nresults = 0;
    if (at >= v->c.end)
        return malformed(v, at, "unexpected end of section or function: expected a block type");
    b = v->c.base[at];
    switch (b) {
    case 0x40:
        v->c.pos++;
        return PERCH_OK;
    case PW_T_I32: case PW_T_I64: case PW_T_F32: case PW_T_F64:
    case PW_T_FUNCREF: case PW_T_EXTERNREF:
        v->c.pos++;
        tmp->results = &single_types[b];
        tmp->nresults = 1;
        return PERCH_OK;
    case PW_T_V128:
        return invalid(v, at, "%s", "SIMD is not supported yet");
    default:
        break;
    }
    if (!pw_s33(&v->c, &idx, "block type"))
        return cur_fail(v);
    if (idx < 0)
        return malformed(v, at, "malformed block type");
    if ((uint64_t)idx >= v->m->ntypes)
        return invalid(v, at, "unknown type: %s", "block type index out of range");
    {
        const pw_functype *ft = &v->m->types[idx];
        tmp->params = ft->types;
        tmp->nparams = ft->nparams;
        tmp->results = pw_results(ft);
        tmp->nresults = ft->nresults;
    }
    return PERCH_OK;
}

/* memarg -> align:u32 offset:u32 */
static perch_err_kind rd_memarg(vstate *v, size_t at, unsigned natural, uint32_t *offset)
{
    uint32_t align = 0;
    perch_err_kind rc;
    if ((rc = rd_u32(v, &align, "alignment")) || (rc = rd_u32(v, offset, "offset")))
        return rc;
    if (v->m->nmems == 0)
        return invalid(v, at, "unknown memory %s", "0");
    if (align > natural)
        return invalid(v, at, "%s", "alignment must not be larger than natural");
    return PERCH_OK;
}

/* ---- branches ------------------------------------------------------------ */

static perch_err_kind label_at(vstate *v, size_t at, uint32_t depth, ctrl **out)
{
    if (depth >= v->nctrls)
        return invalid(v, at, "unknown label: %s", "branch depth out of range");
    *out = &v->ctrls[v->nctrls - 1 - depth];
    return PERCH_OK;
}

/* Emit a branch to L with the label's values on top of the stack. */
static void emit_branch(vstate *v, ctrl *L, enum pw_op plain, enum pw_op move)
{
    uint32_t arity = 0;
    uint64_t dest, cur;
    size_t at;
    if (!v->live)
        return;
    label_types(L, &arity);
    dest = (uint64_t)v->nlocals + L->height;
    cur = (uint64_t)v->nlocals + v->nvals;
    if (plain == PW_OP_BR_IF && cur - arity == dest) {
        /* compare; br_if  ->  one compare-and-branch */
        enum pw_op fused = fused_branch(v, false);
        if (fused != PW_OP__COUNT) {
            at = v->last;
            v->cells[at].u64 = fused;
            if (L->kind == K_LOOP)
                emit(v, (uint64_t)((int64_t)L->head - (int64_t)at));
            else
                emit_fwd(v, L, at);
            return;
        }
    }
    at = emit_op(v, cur - arity == dest ? plain : move);
    if (L->kind == K_LOOP)
        emit(v, (uint64_t)((int64_t)L->head - (int64_t)at));
    else
        emit_fwd(v, L, at);
    if (cur - arity != dest) {
        emit(v, arity);
        emit(v, dest);
    }
}

/* ---- the body ------------------------------------------------------------ */

static perch_err_kind op_fc(vstate *v, size_t at)
{
    const pw_module *m = v->m;
    uint32_t sub, x, y;
    perch_err_kind rc;
    if ((rc = rd_u32(v, &sub, "0xfc sub-opcode")))
        return rc;
    if (sub <= 7) {
        const numinfo *ni = &numeric[0x100 + sub];
        if ((rc = pop(v, at, ni->a)) || (rc = push(v, ni->r)))
            return rc;
        emit_op(v, ni->op);
        return PERCH_OK;
    }
    switch (sub) {
    case 8: /* memory.init dataidx 0x00 */
        if ((rc = rd_u32(v, &x, "data index")) || (rc = rd_zero(v)))
            return rc;
        if (!m->has_datacount && m->ndatas)
            return malformed(v, at, "data count section required");
        if (m->nmems == 0)
            return invalid(v, at, "unknown memory %s", "0");
        if (x >= m->ndatas)
            return invalid(v, at, "unknown data segment %s", "");
        if ((rc = pop(v, at, PW_T_I32)) || (rc = pop(v, at, PW_T_I32)) || (rc = pop(v, at, PW_T_I32)))
            return rc;
        emit_op(v, PW_OP_MEMORY_INIT);
        emit(v, x);
        return PERCH_OK;
    case 9: /* data.drop dataidx */
        if ((rc = rd_u32(v, &x, "data index")))
            return rc;
        if (!m->has_datacount && m->ndatas)
            return malformed(v, at, "data count section required");
        if (x >= m->ndatas)
            return invalid(v, at, "unknown data segment %s", "");
        emit_op(v, PW_OP_DATA_DROP);
        emit(v, x);
        return PERCH_OK;
    case 10: /* memory.copy 0x00 0x00 */
        if ((rc = rd_zero(v)) || (rc = rd_zero(v)))
            return rc;
        if (m->nmems == 0)
            return invalid(v, at, "unknown memory %s", "0");
        if ((rc = pop(v, at, PW_T_I32)) || (rc = pop(v, at, PW_T_I32)) || (rc = pop(v, at, PW_T_I32)))
            return rc;
        emit_op(v, PW_OP_MEMORY_COPY);
        return PERCH_OK;
    case 11: /* memory.fill 0x00 */
        if ((rc = rd_zero(v)))
            return rc;
        if (m->nmems == 0)
            return invalid(v, at, "unknown memory %s", "0");
        if ((rc = pop(v, at, PW_T_I32)) || (rc = pop(v, at, PW_T_I32)) || (rc = pop(v, at, PW_T_I32)))
            return rc;
        emit_op(v, PW_OP_MEMORY_FILL);
        return PERCH_OK;
    case 12: /* table.init elemidx tableidx */
        if ((rc = rd_u32(v, &x, "element index")) || (rc = rd_u32(v, &y, "table index")))
            return rc;
        if (y >= m->ntables)
            return invalid(v, at, "unknown table %s", "");
        if (x >= m->nelems)
            return invalid(v, at, "unknown elem segment %s", "");
        if (m->elems[x].type != m->tables[y].elem)
            return invalid(v, at, "type mismatch: %s", "element segment and table types differ");
        if ((rc = pop(v, at, PW_T_I32)) || (rc = pop(v, at, PW_T_I32)) || (rc = pop(v, at, PW_T_I32)))
            return rc;
        emit_op(v, PW_OP_TABLE_INIT);
        emit(v, x);
        emit(v, y);
        return PERCH_OK;
    case 13: /* elem.drop elemidx */
        if ((rc = rd_u32(v, &x, "element index")))
            return rc;
        if (x >= m->nelems)
            return invalid(v, at, "unknown elem segment %s", "");
        emit_op(v, PW_OP_ELEM_DROP);
        emit(v, x);
        return PERCH_OK;
    case 14: /* table.copy dst src */
        if ((rc = rd_u32(v, &x, "table index")) || (rc = rd_u32(v, &y, "table index")))
            return rc;
        if (x >= m->ntables || y >= m->ntables)
            return invalid(v, at, "unknown table %s", "");
        if (m->tables[x].elem != m->tables[y].elem)
            return invalid(v, at, "type mismatch: %s", "table types differ");
        if ((rc = pop(v, at, PW_T_I32)) || (rc = pop(v, at, PW_T_I32)) || (rc = pop(v, at, PW_T_I32)))
            return rc;
        emit_op(v, PW_OP_TABLE_COPY);
        emit(v, x);
        emit(v, y);
        return PERCH_OK;
    case 15: /* table.grow x : [t i32] -> [i32] */
    case 16: /* table.size x : [] -> [i32] */
    case 17: /* table.fill x : [i32 t i32] -> [] */
        if ((rc = rd_u32(v, &x, "table index")))
            return rc;
        if (x >= m->ntables)
            return invalid(v, at, "unknown table %s", "");
        if (sub == 15) {
            if ((rc = pop(v, at, PW_T_I32)) || (rc = pop(v, at, m->tables[x].elem)) ||
                (rc = push(v, PW_T_I32)))
                return rc;
            emit_op(v, PW_OP_TABLE_GROW);
        } else if (sub == 16) {
            if ((rc = push(v, PW_T_I32)))
                return rc;
            emit_op(v, PW_OP_TABLE_SIZE);
        } else {
            if ((rc = pop(v, at, PW_T_I32)) || (rc = pop(v, at, m->tables[x].elem)) ||
                (rc = pop(v, at, PW_T_I32)))
                return rc;
            emit_op(v, PW_OP_TABLE_FILL);
        }
        emit(v, x);
        return PERCH_OK;
    default:
        return malformed(v, at, "illegal opcode 0xfc with an unknown sub-opcode");
    }
}

static perch_err_kind instr(vstate *v, bool *done)
{
    const pw_module *m = v->m;
    size_t at = v->c.pos;
    uint8_t op = 0;
    uint32_t x, y;
    perch_err_kind rc;
    pw_valtype t = 0;
    ctrl bt, *L = NULL;

    if (!pw_u8(&v->c, &op, "instruction")) {
        return malformed(v, at, "unexpected end of section or function: END opcode expected");
    }
    if (op >= 0x45 && op <= 0xc4) {
        const numinfo *ni = &numeric[op];
        if (ni->b && (rc = pop(v, at, ni->b)))
            return rc;
        if ((rc = pop(v, at, ni->a)) || (rc = push(v, ni->r)))
            return rc;
        if (ni->b)
            emit_binop(v, ni->op);
        else
            emit_op(v, ni->op);
        return PERCH_OK;
    }
    if (op >= 0x28 && op <= 0x3e) {
        const meminfo *mi = &memops[op];
        uint32_t offset = 0;
        if ((rc = rd_memarg(v, at, mi->align, &offset)))
            return rc;
        if (op <= 0x35) {
            if ((rc = pop(v, at, PW_T_I32)) || (rc = push(v, mi->type)))
                return rc;
        } else if ((rc = pop(v, at, mi->type)) || (rc = pop(v, at, PW_T_I32))) {
            return rc;
        }
        if (last_op(v, 2) == PW_OP_LOCAL_GET && fuse_l[mi->op]) {
            uint64_t slot = v->cells[v->last + 1].u64;
            v->cells[v->last].u64 = fuse_l[mi->op];
            v->cells[v->last + 1].u64 = offset;
            emit(v, slot);
            return PERCH_OK;
        }
        emit_op(v, mi->op);
        emit(v, offset);
        return PERCH_OK;
    }
    switch (op) {
    case 0x00: /* unreachable */
        emit_op(v, PW_OP_UNREACHABLE);
        set_unreachable(v);
        return PERCH_OK;
    case 0x01: /* nop */
        return PERCH_OK;
    case 0x02: /* block bt */
    case 0x03: /* loop bt */
        if ((rc = rd_blocktype(v, &bt)) || (rc = pop_n(v, at, bt.params, bt.nparams)))
            return rc;
        if ((rc = push_ctrl(v, at, op == 0x02 ? K_BLOCK : K_LOOP, bt.params, bt.nparams,
                            bt.results, bt.nresults)))
            return rc;
        L = &v->ctrls[v->nctrls - 1];
        if (op == 0x03) {
            L->head = v->ncells;
            emit_op(v, PW_OP_LOOP);
        }
        return PERCH_OK;
    case 0x04: { /* if bt */
        size_t head;
        if ((rc = rd_blocktype(v, &bt)) || (rc = pop(v, at, PW_T_I32)) ||
            (rc = pop_n(v, at, bt.params, bt.nparams)))
            return rc;
        {
            /* compare; if  ->  branch to else when the comparison fails */
            enum pw_op fused = fused_branch(v, true);
            size_t off;
            if (fused != PW_OP__COUNT) {
                head = v->last;
                v->cells[head].u64 = fused;
            } else {
                head = emit_op(v, PW_OP_BR_UNLESS);
            }
            off = emit(v, 0);
            if ((rc = push_ctrl(v, at, K_IF, bt.params, bt.nparams, bt.results, bt.nresults)))
                return rc;
            v->ctrls[v->nctrls - 1].head = head;
            v->ctrls[v->nctrls - 1].head_off = off;
        }
        return PERCH_OK;
    }
    case 0x05: /* else */
        L = &v->ctrls[v->nctrls - 1];
        if (L->kind != K_IF)
            return malformed(v, at, "else without a matching if");
        if ((rc = check_frame_end(v, at)))
            return rc;
        if (v->live) {
            size_t jat = emit_op(v, PW_OP_BR);
            emit_fwd(v, L, jat);
        }
        if (!L->dead && !v->oom)
            v->cells[L->head_off].i64 = (int64_t)(v->ncells - L->head);
        v->last = v->prev = NO_LAST;
        L->kind = K_ELSE;
        L->unreachable = false;
        update_live(v);
        return push_n(v, L->params, L->nparams);
    case 0x0b: /* end */
        L = &v->ctrls[v->nctrls - 1];
        if ((rc = check_frame_end(v, at)))
            return rc;
        if (L->kind == K_IF) {
            if (L->nparams != L->nresults ||
                (L->nparams && memcmp(L->params, L->results, L->nparams) != 0))
                return invalid(v, at, "type mismatch: %s", "if without else must not change the stack type");
            if (!L->dead && !v->oom)
                v->cells[L->head_off].i64 = (int64_t)(v->ncells - L->head);
        }
        if (!v->oom)
            patch_chain(v, L, v->ncells);
        v->last = v->prev = NO_LAST;
        if (L->kind == K_FUNC) {
            /* Branches to the function's label land on this RETURN even
             * when the fall-through is unreachable. */
            v->live = !v->oom;
            emit_op(v, PW_OP_RETURN);
            emit(v, L->nresults);
            v->nctrls--;
            *done = true;
            return PERCH_OK;
        }
        {
            const pw_valtype *res = L->results;
            uint32_t nr = L->nresults;
            v->nctrls--;
            update_live(v);
            return push_n(v, res, nr);
        }
    case 0x0c: /* br l */
        if ((rc = rd_u32(v, &x, "label")) || (rc = label_at(v, at, x, &L)))
            return rc;
        {
            uint32_t n = 0;
            const pw_valtype *ts = label_types(L, &n);
            emit_branch(v, L, PW_OP_BR, PW_OP_BR_MOVE);
            if ((rc = pop_n(v, at, ts, n)))
                return rc;
        }
        set_unreachable(v);
        return PERCH_OK;
    case 0x0d: /* br_if l */
        if ((rc = rd_u32(v, &x, "label")) || (rc = label_at(v, at, x, &L)) ||
            (rc = pop(v, at, PW_T_I32)))
            return rc;
        {
            uint32_t n = 0;
            const pw_valtype *ts = label_types(L, &n);
            if ((rc = pop_n(v, at, ts, n)) || (rc = push_n(v, ts, n)))
                return rc;
            emit_branch(v, L, PW_OP_BR_IF, PW_OP_BR_IF_MOVE);
        }
        return PERCH_OK;
    case 0x0e: { /* br_table vec(l) l */
        uint32_t n, arity, dflt;
        size_t base, tat = at;
        if ((rc = rd_u32(v, &n, "label count")))
            return rc;
        if (n > pw_left(&v->c))
            return malformed(v, at, "unexpected end of section or function: br_table label count");
        if ((rc = pop(v, at, PW_T_I32)))
            return rc;
        /* Read the default first: its arity decides the others'. */
        {
            pw_cursor scan = v->c;
            uint32_t tmp = 0;
            for (uint32_t i = 0; i < n; i++)
                if (!pw_u32(&scan, &tmp, "label"))
                    return cur_fail(v);
            if (!pw_u32(&scan, &dflt, "label"))
                return cur_fail(v);
        }
        if ((rc = label_at(v, tat, dflt, &L)))
            return rc;
        label_types(L, &arity);
        base = v->ncells;
        emit_op(v, PW_OP_BR_TABLE);
        emit(v, n);
        emit(v, arity);
        for (uint32_t i = 0; i <= n; i++) {
            uint32_t la, ln;
            const pw_valtype *ts;
            if ((rc = rd_u32(v, &la, "label")) || (rc = label_at(v, at, la, &L)))
                return rc;
            ts = label_types(L, &ln);
            if (ln != arity)
                return invalid(v, at, "type mismatch: %s", "br_table labels have different arities");
            if ((rc = peek_n(v, at, ts, ln)))
                return rc;
            if (v->live) {
                uint64_t dest = (uint64_t)v->nlocals + L->height;
                if (L->kind == K_LOOP)
                    emit(v, (uint64_t)((int64_t)L->head - (int64_t)base));
                else
                    emit_fwd(v, L, base);
                emit(v, dest);
            }
        }
        if ((rc = pop_n(v, at, label_types(&v->ctrls[v->nctrls - 1 - dflt], &arity), arity)))
            return rc;
        set_unreachable(v);
        return PERCH_OK;
    }
    case 0x0f: /* return */
        L = &v->ctrls[0];
        if ((rc = pop_n(v, at, L->results, L->nresults)))
            return rc;
        emit_op(v, PW_OP_RETURN);
        emit(v, L->nresults);
        set_unreachable(v);
        return PERCH_OK;
    case 0x10: { /* call f */
        const pw_functype *ft;
        if ((rc = rd_u32(v, &x, "function index")))
            return rc;
        if (x >= m->nfuncs)
            return invalid(v, at, "unknown function %s", "");
        ft = pw_func_type(m, x);
        if ((rc = pop_n(v, at, ft->types, ft->nparams)) ||
            (rc = push_n(v, pw_results(ft), ft->nresults)))
            return rc;
        emit_op(v, PW_OP_CALL);
        emit(v, x);
        return PERCH_OK;
    }
    case 0x11: { /* call_indirect typeidx tableidx */
        const pw_functype *ft;
        if ((rc = rd_u32(v, &x, "type index")) || (rc = rd_u32(v, &y, "table index")))
            return rc;
        if (y >= m->ntables)
            return invalid(v, at, "unknown table %s", "");
        if (m->tables[y].elem != PW_T_FUNCREF)
            return invalid(v, at, "type mismatch: %s", "call_indirect needs a funcref table");
        if (x >= m->ntypes)
            return invalid(v, at, "unknown type %s", "");
        ft = &m->types[x];
        if ((rc = pop(v, at, PW_T_I32)) || (rc = pop_n(v, at, ft->types, ft->nparams)) ||
            (rc = push_n(v, pw_results(ft), ft->nresults)))
            return rc;
        emit_op(v, PW_OP_CALL_INDIRECT);
        emit(v, x);
        emit(v, y);
        return PERCH_OK;
    }
    case 0x1a: /* drop */
        if ((rc = pop_any(v, at, &t)))
            return rc;
        emit_op(v, PW_OP_DROP);
        return PERCH_OK;
    case 0x1b: { /* select */
        pw_valtype t1, t2;
        if ((rc = pop(v, at, PW_T_I32)) || (rc = pop_any(v, at, &t1)) || (rc = pop_any(v, at, &t2)))
            return rc;
        if (pw_is_ref(t1) || pw_is_ref(t2))
            return invalid(v, at, "type mismatch: %s", "select without a type needs numeric operands");
        if (t1 != t2 && t1 != PW_T_ANY && t2 != PW_T_ANY)
            return invalid(v, at, "type mismatch: %s", "select operands differ");
        if ((rc = push(v, t1 == PW_T_ANY ? t2 : t1)))
            return rc;
        emit_op(v, PW_OP_SELECT);
        return PERCH_OK;
    }
    case 0x1c: { /* select vec(valtype) */
        uint32_t n = 0;
        pw_valtype st = 0;
        pw_cursor tc;
        if ((rc = rd_u32(v, &n, "select type count")))
            return rc;
        if (n != 1)
            return invalid(v, at, "invalid result arity %s", "for select");
        tc = v->c;
        if (!pw_u8(&v->c, &st, "select type"))
            return cur_fail(v);
        switch (st) {
        case PW_T_I32: case PW_T_I64: case PW_T_F32: case PW_T_F64:
        case PW_T_FUNCREF: case PW_T_EXTERNREF:
            break;
        case PW_T_V128:
            return invalid(v, tc.pos, "%s", "SIMD is not supported yet");
        default:
            return malformed(v, tc.pos, "malformed value type");
        }
        if ((rc = pop(v, at, PW_T_I32)) || (rc = pop(v, at, st)) || (rc = pop(v, at, st)) ||
            (rc = push(v, st)))
            return rc;
        emit_op(v, PW_OP_SELECT);
        return PERCH_OK;
    }
    case 0x20: /* local.get x */
    case 0x21: /* local.set x */
    case 0x22: /* local.tee x */
        if ((rc = rd_u32(v, &x, "local index")))
            return rc;
        if (x >= v->nlocals)
            return invalid(v, at, "unknown local %s", "");
        t = v->locals[x];
        if (op == 0x20)
            rc = push(v, t);
        else if (op == 0x21)
            rc = pop(v, at, t);
        else if (!(rc = pop(v, at, t)))
            rc = push(v, t);
        if (rc)
            return rc;
        if (op == 0x20 && last_op(v, 2) == PW_OP_LOCAL_SET) {
            v->cells[v->last].u64 = PW_OP_LOCAL_SET_GET;
            emit(v, x);
            return PERCH_OK;
        }
        if (op != 0x20 && v->live && v->last != NO_LAST) {
            /* the value's producer writes the local itself */
            enum pw_op prev = (enum pw_op)v->cells[v->last].u64;
            size_t len = v->ncells - v->last;
            const uint16_t *fuse = op == 0x21 ? fuse_s : fuse_t;
            if (op == 0x21 && (prev == PW_OP_LOCAL_GET || prev == PW_OP_CONST) && len == 2) {
                v->cells[v->last].u64 = prev == PW_OP_LOCAL_GET ? PW_OP_LOCAL_COPY : PW_OP_CONST_SET;
                emit(v, x);
                return PERCH_OK;
            }
            if (fuse[prev] && len == form_len[prev]) {
                v->cells[v->last].u64 = fuse[prev];
                emit(v, x);
                return PERCH_OK;
            }
        }
        emit_op(v, op == 0x20 ? PW_OP_LOCAL_GET : op == 0x21 ? PW_OP_LOCAL_SET : PW_OP_LOCAL_TEE);
        emit(v, x);
        return PERCH_OK;
    case 0x23: /* global.get x */
    case 0x24: /* global.set x */
        if ((rc = rd_u32(v, &x, "global index")))
            return rc;
        if (x >= m->nglobals)
            return invalid(v, at, "unknown global %s", "");
        t = m->global_types[x].type;
        if (op == 0x23) {
            if ((rc = push(v, t)))
                return rc;
            emit_op(v, PW_OP_GLOBAL_GET);
        } else {
            if (!m->global_types[x].mutable_)
                return invalid(v, at, "global is immutable%s", "");
            if ((rc = pop(v, at, t)))
                return rc;
            emit_op(v, PW_OP_GLOBAL_SET);
        }
        emit(v, x);
        return PERCH_OK;
    case 0x25: /* table.get x : [i32] -> [t] */
    case 0x26: /* table.set x : [i32 t] -> [] */
        if ((rc = rd_u32(v, &x, "table index")))
            return rc;
        if (x >= m->ntables)
            return invalid(v, at, "unknown table %s", "");
        t = m->tables[x].elem;
        if (op == 0x25) {
            if ((rc = pop(v, at, PW_T_I32)) || (rc = push(v, t)))
                return rc;
            emit_op(v, PW_OP_TABLE_GET);
        } else {
            if ((rc = pop(v, at, t)) || (rc = pop(v, at, PW_T_I32)))
                return rc;
            emit_op(v, PW_OP_TABLE_SET);
        }
        emit(v, x);
        return PERCH_OK;
    case 0x3f: /* memory.size 0x00 */
    case 0x40: /* memory.grow 0x00 */
        if ((rc = rd_zero(v)))
            return rc;
        if (m->nmems == 0)
            return invalid(v, at, "unknown memory %s", "0");
        if (op == 0x40 && (rc = pop(v, at, PW_T_I32)))
            return rc;
        if ((rc = push(v, PW_T_I32)))
            return rc;
        emit_op(v, op == 0x3f ? PW_OP_MEMORY_SIZE : PW_OP_MEMORY_GROW);
        return PERCH_OK;
    case 0x41: { /* i32.const */
        int32_t k = 0;
        if (!pw_s32(&v->c, &k, "i32 constant"))
            return cur_fail(v);
        if ((rc = push(v, PW_T_I32)))
            return rc;
        emit_op(v, PW_OP_CONST);
        emit(v, (uint32_t)k);
        return PERCH_OK;
    }
    case 0x42: { /* i64.const */
        int64_t k = 0;
        if (!pw_s64(&v->c, &k, "i64 constant"))
            return cur_fail(v);
        if ((rc = push(v, PW_T_I64)))
            return rc;
        emit_op(v, PW_OP_CONST);
        emit(v, (uint64_t)k);
        return PERCH_OK;
    }
    case 0x43: /* f32.const */
    case 0x44: { /* f64.const */
        const uint8_t *raw = NULL;
        uint64_t bits = 0;
        size_t n = op == 0x43 ? 4 : 8;
        if (!pw_bytes(&v->c, n, &raw, "float constant"))
            return cur_fail(v);
        for (size_t i = 0; i < n; i++)
            bits |= (uint64_t)raw[i] << (8 * i);
        if ((rc = push(v, op == 0x43 ? PW_T_F32 : PW_T_F64)))
            return rc;
        emit_op(v, PW_OP_CONST);
        emit(v, bits);
        return PERCH_OK;
    }
    case 0xd0: { /* ref.null t */
        uint8_t rt = 0;
        size_t tat = v->c.pos;
        if (!pw_u8(&v->c, &rt, "reference type"))
            return cur_fail(v);
        if (rt != PW_T_FUNCREF && rt != PW_T_EXTERNREF)
            return malformed(v, tat, "malformed reference type");
        if ((rc = push(v, rt)))
            return rc;
        emit_op(v, PW_OP_CONST);
        emit(v, 0);
        return PERCH_OK;
    }
    case 0xd1: /* ref.is_null */
        if ((rc = pop_any(v, at, &t)))
            return rc;
        if (t != PW_T_ANY && !pw_is_ref(t))
            return invalid(v, at, "type mismatch: %s", "ref.is_null needs a reference");
        if ((rc = push(v, PW_T_I32)))
            return rc;
        emit_op(v, PW_OP_REF_IS_NULL);
        return PERCH_OK;
    case 0xd2: /* ref.func x */
        if ((rc = rd_u32(v, &x, "function index")))
            return rc;
        if (x >= m->nfuncs)
            return invalid(v, at, "unknown function %s", "");
        if (!m->func_declared[x])
            return invalid(v, at, "undeclared function reference%s", "");
        if ((rc = push(v, PW_T_FUNCREF)))
            return rc;
        emit_op(v, PW_OP_REF_FUNC);
        emit(v, x);
        return PERCH_OK;
    case 0xfc:
        return op_fc(v, at);
    case 0xfd:
        return invalid(v, at, "%s", "SIMD is not supported yet");
    default: {
        char msg[64];
        snprintf(msg, sizeof msg, "illegal opcode 0x%02x", op);
        return malformed(v, at, msg);
    }
    }
}

static perch_err_kind validate_body(const pw_module *m, uint32_t i, pw_code *code,
                                    vstate *v)
{
    uint32_t fidx = m->nfunc_imports + i;
    const pw_functype *ft = pw_func_type(m, fidx);
    perch_err_kind rc = PERCH_OK;
    bool done = false;

    v->c = pw_cursor_make(m->bytes, code->body_start, code->body_end, v->err);
    v->funcidx = fidx;
    v->locals = code->local_types;
    v->nlocals = ft->nparams + code->nlocals;
    v->nvals = v->maxvals = 0;
    v->nctrls = 0;
    v->ncells = 0;
    v->live = true;
    v->oom = false;
    v->last = v->prev = NO_LAST;
    if ((rc = push_ctrl(v, code->body_start, K_FUNC, NULL, 0, pw_results(ft), ft->nresults)))
        return rc;
    while (!done) {
        if ((rc = instr(v, &done)))
            return rc;
        if (v->oom)
            return oom(v);
    }
    if (v->c.pos != v->c.end)
        return malformed(v, v->c.pos, "section size mismatch: bytes after the end of the function body");
    if (!(code->cells = pb_malloc(v->ncells * sizeof *code->cells + sizeof *code->cells)))
        return oom(v);
    memcpy(code->cells, v->cells, v->ncells * sizeof *code->cells);
    code->ncells = v->ncells;
    code->frame_slots = v->nlocals + v->maxvals;
    return PERCH_OK;
}

/*
 * The structure of a body alone: every instruction and immediate decodes,
 * blocks nest, the body ends with its final `end`. Used after a type error
 * so that a body (or a later one) that is also malformed is reported as
 * malformed, as decoding comes before validation in the specification.
 */
static perch_err_kind scan_body(const pw_module *m, const pw_code *code, perch_err *err)
{
    pw_cursor c = pw_cursor_make(m->bytes, code->body_start, code->body_end, err);
    uint64_t depth = 1;
    uint32_t x = 0, n = 0;
    int32_t s32 = 0;
    int64_t s64 = 0;
    const uint8_t *raw = NULL;
    uint8_t b = 0;
#define NEED(expr) do { if (!(expr)) return err ? err->kind : PERCH_E_WASM_MALFORMED; } while (0)
#define BAD(msg) return pb_fail_at(err, PERCH_E_WASM_MALFORMED, at, msg)
    while (depth > 0) {
        size_t at = c.pos;
        uint8_t op = 0;
        if (!pw_u8(&c, &op, "instruction"))
            BAD("unexpected end of section or function: END opcode expected");
        switch (op) {
        case 0x02: case 0x03: case 0x04:
            if (c.pos < c.end && (c.base[c.pos] == 0x40 || c.base[c.pos] >= 0x6f))
                c.pos++;
            else
                NEED(pw_s33(&c, &s64, "block type"));
            depth++;
            break;
        case 0x0b: depth--; break;
        case 0x0c: case 0x0d: case 0x10: case 0xd2:
        case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25: case 0x26:
            NEED(pw_u32(&c, &x, "index"));
            break;
        case 0x0e:
            NEED(pw_u32(&c, &n, "label count"));
            for (uint64_t i = 0; i <= n; i++)
                NEED(pw_u32(&c, &x, "label"));
            break;
        case 0x11:
            NEED(pw_u32(&c, &x, "type index") && pw_u32(&c, &x, "table index"));
            break;
        case 0x1c:
            NEED(pw_u32(&c, &n, "type count"));
            NEED(pw_bytes(&c, n, &raw, "types"));
            break;
        case 0x3f: case 0x40:
            NEED(pw_u8(&c, &b, "reserved byte"));
            if (b)
                BAD("zero byte expected");
            break;
        case 0x41: NEED(pw_s32(&c, &s32, "i32")); break;
        case 0x42: NEED(pw_s64(&c, &s64, "i64")); break;
        case 0x43: NEED(pw_bytes(&c, 4, &raw, "f32")); break;
        case 0x44: NEED(pw_bytes(&c, 8, &raw, "f64")); break;
        case 0xd0: NEED(pw_u8(&c, &b, "reference type")); break;
        case 0xfc:
            NEED(pw_u32(&c, &x, "sub-opcode"));
            switch (x) {
            case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7: break;
            case 8: NEED(pw_u32(&c, &x, "index") && pw_u8(&c, &b, "reserved")); break;
            case 10: NEED(pw_u8(&c, &b, "reserved") && pw_u8(&c, &b, "reserved")); break;
            case 11: NEED(pw_u8(&c, &b, "reserved")); break;
            case 12: case 14: NEED(pw_u32(&c, &x, "index") && pw_u32(&c, &x, "index")); break;
            case 9: case 13: case 15: case 16: case 17: NEED(pw_u32(&c, &x, "index")); break;
            default: BAD("illegal opcode");
            }
            break;
        default:
            if (op >= 0x28 && op <= 0x3e) {
                NEED(pw_u32(&c, &x, "alignment") && pw_u32(&c, &x, "offset"));
            } else if (!(op <= 0x01 || op == 0x05 || op == 0x0f || op == 0x1a || op == 0x1b ||
                         (op >= 0x45 && op <= 0xc4) || op == 0xd1 || op == 0xfd)) {
                BAD("illegal opcode");
            }
            break;
        }
        if (op == 0xfd)
            return PERCH_OK; /* SIMD: refused as invalid, not malformed */
    }
#undef NEED
#undef BAD
    if (c.pos != c.end)
        return pb_fail_at(err, PERCH_E_WASM_MALFORMED, c.pos,
                          "section size mismatch: bytes after the end of the function body");
    return PERCH_OK;
}

/* ---- module level -------------------------------------------------------- */

static perch_err_kind mod_invalid(perch_err *err, size_t at, const char *fmt, ...)
    PB_PRINTF(3, 4);
static perch_err_kind mod_invalid(perch_err *err, size_t at, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pb_fail_at(err, PERCH_E_WASM_INVALID, at, "%s", msg);
}

/*
 * A constant expression: instr* end, each instruction constant, producing
 * exactly one value of type want. global.get may only name an imported,
 * immutable global.
 */
static perch_err_kind check_const(const pw_module *m, const pw_constexpr *e, pw_valtype want,
                                  perch_err *err)
{
    pw_cursor c = pw_cursor_make(m->bytes, e->start, e->end, err);
    pw_valtype stack[16];
    unsigned n = 0;
    for (;;) {
        size_t at = c.pos;
        uint8_t op = 0;
        uint32_t x = 0;
        int32_t s32;
        int64_t s64;
        const uint8_t *raw = NULL;
        pw_valtype t = 0;
        if (!pw_u8(&c, &op, "constant expression"))
            return err ? err->kind : PERCH_E_WASM_MALFORMED;
        switch (op) {
        case 0x0b:
            if (n != 1 || (stack[0] != want))
                return pb_fail_at(err, PERCH_E_WASM_INVALID, e->start,
                                  "type mismatch: constant expression must produce one %s",
                                  pw_valtype_name(want));
            return PERCH_OK;
        case 0x41: (void)pw_s32(&c, &s32, "i32"); t = PW_T_I32; break;
        case 0x42: (void)pw_s64(&c, &s64, "i64"); t = PW_T_I64; break;
        case 0x43: (void)pw_bytes(&c, 4, &raw, "f32"); t = PW_T_F32; break;
        case 0x44: (void)pw_bytes(&c, 8, &raw, "f64"); t = PW_T_F64; break;
        case 0xd0: (void)pw_u8(&c, &t, "reftype"); break;
        case 0xd2:
            (void)pw_u32(&c, &x, "function index");
            if (x >= m->nfuncs)
                return mod_invalid(err, at, "unknown function %u", x);
            t = PW_T_FUNCREF;
            break;
        case 0x23:
            (void)pw_u32(&c, &x, "global index");
            if (x >= m->nglobal_imports)
                return mod_invalid(err, at, "unknown global %u (constant expressions may only read imported globals)", x);
            if (m->global_types[x].mutable_)
                return mod_invalid(err, at, "constant expression required: global %u is mutable", x);
            t = m->global_types[x].type;
            break;
        default:
            return mod_invalid(err, at, "constant expression required (opcode 0x%02x)", op);
        }
        if (n == 16)
            return pb_fail_at(err, PERCH_E_WASM_INVALID, at, "type mismatch: constant expression too long");
        stack[n++] = t;
    }
}

static perch_err_kind check_limits(const pw_limits *l, uint64_t bound, const char *what,
                                   size_t at, perch_err *err)
{
    if (l->min > bound || (l->has_max && l->max > bound))
        return pb_fail_at(err, PERCH_E_WASM_INVALID, at,
                          "%s size must be at most %llu", what, (unsigned long long)bound);
    if (l->has_max && l->min > l->max)
        return pb_fail_at(err, PERCH_E_WASM_INVALID, at,
                          "size minimum must not be greater than maximum (%s)", what);
    return PERCH_OK;
}

static perch_err_kind validate_module_parts(pw_module *m, perch_err *err)
{
    perch_err_kind rc;
    for (uint32_t i = 0; i < m->nimports; i++) {
        const pw_import *im = &m->imports[i];
        size_t at = (size_t)(im->name - m->bytes);
        if (im->kind == PW_EXTERN_FUNC && im->type_index >= m->ntypes)
            return mod_invalid(err, at, "unknown type %u", im->type_index);
    }
    for (uint32_t i = m->nfunc_imports; i < m->nfuncs; i++)
        if (m->func_types[i] >= m->ntypes)
            return mod_invalid(err, 0, "unknown type %u", m->func_types[i]);
    for (uint32_t i = 0; i < m->ntables; i++)
        if ((rc = check_limits(&m->tables[i].limits, UINT32_MAX, "table", 0, err)))
            return rc;
    if (m->nmems > 1)
        return mod_invalid(err, 0, "multiple memories (%u) are not allowed", m->nmems);
    for (uint32_t i = 0; i < m->nmems; i++)
        if ((rc = check_limits(&m->mems[i], 65536, "memory", 0, err)))
            return rc;
    /* C.refs: functions named outside function bodies may be ref.func'd. */
    if (!(m->func_declared = pb_calloc((size_t)m->nfuncs + 1, 1)))
        return pb_fail(err, PERCH_E_IO, "out of memory validating the module");
    for (uint32_t i = 0; i < m->nexports; i++)
        if (m->exports[i].kind == PW_EXTERN_FUNC && m->exports[i].index < m->nfuncs)
            m->func_declared[m->exports[i].index] = true;
    for (uint32_t i = 0; i < m->nelems; i++) {
        const pw_elem *e = &m->elems[i];
        for (uint32_t k = 0; k < e->count; k++) {
            if (e->func_idx) {
                if (e->func_idx[k] < m->nfuncs)
                    m->func_declared[e->func_idx[k]] = true;
            } else if (m->bytes[e->exprs[k].start] == 0xd2) {
                pw_cursor c = pw_cursor_make(m->bytes, e->exprs[k].start + 1, e->exprs[k].end, NULL);
                uint32_t x = 0;
                if (pw_u32(&c, &x, "") && x < m->nfuncs)
                    m->func_declared[x] = true;
            }
        }
    }
    for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++) {
        const pw_constexpr *e = &m->global_inits[i];
        if (m->bytes[e->start] == 0xd2) {
            pw_cursor c = pw_cursor_make(m->bytes, e->start + 1, e->end, NULL);
            uint32_t x = 0;
            if (pw_u32(&c, &x, "") && x < m->nfuncs)
                m->func_declared[x] = true;
        }
    }
    for (uint32_t i = m->nglobal_imports; i < m->nglobals; i++)
        if ((rc = check_const(m, &m->global_inits[i], m->global_types[i].type, err)))
            return rc;
    for (uint32_t i = 0; i < m->nexports; i++) {
        const pw_export *ex = &m->exports[i];
        uint32_t bound = ex->kind == PW_EXTERN_FUNC ? m->nfuncs
                         : ex->kind == PW_EXTERN_TABLE ? m->ntables
                         : ex->kind == PW_EXTERN_MEMORY ? m->nmems : m->nglobals;
        size_t at = (size_t)(ex->name - m->bytes);
        if (ex->index >= bound)
            return pb_fail_at(err, PERCH_E_WASM_INVALID, at, "unknown %s %u in export",
                              pw_extern_kind_name(ex->kind), ex->index);
        for (uint32_t k = 0; k < i; k++)
            if (m->exports[k].name_len == ex->name_len &&
                memcmp(m->exports[k].name, ex->name, ex->name_len) == 0)
                return pb_fail_at(err, PERCH_E_WASM_INVALID, at, "duplicate export name \"%.*s\"",
                                  (int)ex->name_len, (const char *)ex->name);
    }
    if (m->has_start) {
        const pw_functype *ft;
        if (m->start >= m->nfuncs)
            return mod_invalid(err, 0, "unknown function %u (start)", m->start);
        ft = pw_func_type(m, m->start);
        if (ft->nparams || ft->nresults)
            return mod_invalid(err, 0, "start function %u must take and return nothing", m->start);
    }
    for (uint32_t i = 0; i < m->nelems; i++) {
        const pw_elem *e = &m->elems[i];
        if (e->mode == PW_SEG_ACTIVE) {
            if (e->table >= m->ntables)
                return mod_invalid(err, e->at, "unknown table %u", e->table);
            if (m->tables[e->table].elem != e->type)
                return mod_invalid(err, e->at, "type mismatch: element segment %u and its table differ", i);
            if ((rc = check_const(m, &e->offset, PW_T_I32, err)))
                return rc;
        }
        for (uint32_t k = 0; k < e->count; k++) {
            if (e->func_idx) {
                if (e->func_idx[k] >= m->nfuncs)
                    return mod_invalid(err, e->at, "unknown function %u", e->func_idx[k]);
            } else if ((rc = check_const(m, &e->exprs[k], e->type, err))) {
                return rc;
            }
        }
    }
    for (uint32_t i = 0; i < m->ndatas; i++) {
        const pw_data *d = &m->datas[i];
        if (d->mode == PW_SEG_ACTIVE) {
            if (d->memory >= m->nmems)
                return mod_invalid(err, d->at, "unknown memory %u", d->memory);
            if ((rc = check_const(m, &d->offset, PW_T_I32, err)))
                return rc;
        }
    }
    return PERCH_OK;
}

perch_err_kind pw_module_validate(pw_module *m, perch_err *err)
{
    perch_err_kind rc;
    vstate v;

    if (m->validated)
        return PERCH_OK;
    if ((rc = validate_module_parts(m, err)))
        return rc;
    memset(&v, 0, sizeof v);
    v.m = m;
    v.err = err;
    for (uint32_t i = 0; i < m->ncodes && rc == PERCH_OK; i++) {
        rc = validate_body(m, i, &m->codes[i], &v);
        if (rc == PERCH_E_WASM_INVALID) {
            /* A malformed body, this one or a later one, wins. */
            perch_err serr;
            for (uint32_t k = i; k < m->ncodes; k++) {
                perch_err_clear(&serr);
                if (scan_body(m, &m->codes[k], &serr) == PERCH_E_WASM_MALFORMED) {
                    if (err) {
                        *err = serr;
                        snprintf(err->detail, sizeof err->detail, "in function %u, at byte %zu (0x%zx)",
                                 m->nfunc_imports + k, (size_t)serr.offset, (size_t)serr.offset);
                    }
                    rc = PERCH_E_WASM_MALFORMED;
                    break;
                }
            }
        }
    }
    pb_free(v.vals);
    pb_free(v.ctrls);
    pb_free(v.cells);
    if (rc)
        return rc;
    m->validated = true;
    return PERCH_OK;
}
