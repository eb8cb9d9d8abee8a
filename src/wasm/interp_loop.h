/*
 * interp_loop.h: the interpreter, written once through dispatch macros and
 * compiled twice (interp_switch.c, interp_goto.c), as STYLE.md's habit 7
 * asks: VM_CASE(op) opens a handler, VM_NEXT dispatches the next one.
 *
 * Before including, define PW_RUN_NAME (the function's name) and
 * PW_USE_GOTO (1: threaded code through a table of label addresses;
 * 0: a switch in a loop).
 *
 * Registers: pc (the current opcode cell), sp (first free slot), fp (the
 * frame's first local), mem/memsize (memory 0 of the running instance,
 * reloaded after anything that may move or grow it), inst, cur.
 */
#include <errno.h>
#include <time.h>

#include "wasm/numeric.h"
#include "wasm/ops.h"
#include "wasm/runtime.h"

#ifndef PW_RUN_NAME
#error "define PW_RUN_NAME before including interp_loop.h"
#endif

#if PW_USE_GOTO
#define VM_CASE(op) L_##op:
#define VM_NEXT goto *labels[pc->u64]
#define VM_LOOP_BEGIN VM_NEXT;
#define VM_LOOP_END
#else
#define VM_CASE(op) case PW_OP_##op:
#define VM_NEXT goto vm_next
#define VM_LOOP_BEGIN                                                          \
    vm_next:                                                                   \
    switch ((enum pw_op)pc->u64) {
#define VM_LOOP_END                                                            \
    default:                                                                   \
        goto bad_op;                                                           \
    }
#endif

/* Operations per fuel check; a pending interrupt is seen within this many
 * loop iterations or calls. */
#define PW_TICK_CHUNK 4096

/* Spend the finished chunk; check interrupt, fuel and deadline; grant the
 * next chunk. Returns PERCH_OK or wasm_exhausted. */
static perch_err_kind tick_slow(perch_store *s, int64_t *ticks, int64_t *grant,
                                   perch_err *err)
{
    uint64_t spent = (uint64_t)(*grant - *ticks);
    if (atomic_load_explicit(&s->interrupt, memory_order_relaxed))
        return pb_fail(err, PERCH_E_WASM_EXHAUSTED, "interrupted");
    if (s->fuel != PERCH_FUEL_UNLIMITED) {
        s->fuel = spent >= s->fuel ? 0 : s->fuel - spent;
        if (s->fuel == 0)
            return pb_fail(err, PERCH_E_WASM_EXHAUSTED, "out of fuel");
    }
    if (s->limits.deadline_ns) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec >= s->limits.deadline_ns)
            return pb_fail(err, PERCH_E_WASM_EXHAUSTED, "deadline exceeded");
    }
    *grant = s->fuel != PERCH_FUEL_UNLIMITED && s->fuel < PW_TICK_CHUNK ? (int64_t)s->fuel
                                                                          : PW_TICK_CHUNK;
    *ticks = *grant;
    return PERCH_OK;
}

perch_err_kind PW_RUN_NAME(perch_store *s, perch_func *func, uint64_t *sp_in, perch_err *err)
{
#if PW_USE_GOTO
    static const void *const labels[PW_OP__COUNT] = {
#define PW_X_CONTROL(name, nimm) [PW_OP_##name] = &&L_##name,
#define PW_X_MEMORY(name, byte, size, type, align) [PW_OP_##name] = &&L_##name,
#define PW_X_NUMERIC(name, byte, a, b, r) [PW_OP_##name] = &&L_##name,
        PW_CONTROL_OPS(PW_X_CONTROL)
        PW_MEMORY_OPS(PW_X_MEMORY)
        PW_NUMERIC_OPS(PW_X_NUMERIC)
#define PW_X_FUSED(name)                                                       \
    [PW_OP_##name##_L] = &&L_##name##_L, [PW_OP_##name##_K] = &&L_##name##_K,    \
    [PW_OP_##name##_S] = &&L_##name##_S, [PW_OP_##name##_LS] = &&L_##name##_LS,  \
    [PW_OP_##name##_KS] = &&L_##name##_KS,
#define PW_X_FUSED_BR(name)                                                    \
    [PW_OP_##name##_BR] = &&L_##name##_BR, [PW_OP_##name##_L_BR] = &&L_##name##_L_BR,          \
    [PW_OP_##name##_K_BR] = &&L_##name##_K_BR,
#define PW_X_FUSED_LOAD(name) [PW_OP_##name##_L] = &&L_##name##_L,
#define PW_X_FUSED_ARITH(name)                                                 \
    [PW_OP_##name##_LL] = &&L_##name##_LL, [PW_OP_##name##_LK] = &&L_##name##_LK,      \
    [PW_OP_##name##_LLS] = &&L_##name##_LLS, [PW_OP_##name##_LKS] = &&L_##name##_LKS,  \
    [PW_OP_##name##_T] = &&L_##name##_T, [PW_OP_##name##_LT] = &&L_##name##_LT,        \
    [PW_OP_##name##_KT] = &&L_##name##_KT,
        PW_FUSED_BINOPS(PW_X_FUSED)
        PW_FUSED_ARITH(PW_X_FUSED_ARITH)
        PW_FUSED_CMPS(PW_X_FUSED_BR)
        PW_FUSED_LOADS(PW_X_FUSED_LOAD)
#undef PW_X_FUSED
#undef PW_X_FUSED_BR
#undef PW_X_FUSED_LOAD
#undef PW_X_FUSED_ARITH
#undef PW_X_CONTROL
#undef PW_X_MEMORY
#undef PW_X_NUMERIC
    };
#endif
    const pw_cell *pc;
    uint64_t *sp, *fp;
    uint8_t *mem;
    uint64_t memsize;
    perch_instance *inst;
    perch_func *cur = NULL;    /* the running function */
    perch_func *next = func;   /* the function being entered */
    pw_frame *const frames = s->frames;
    uint32_t depth = s->depth;
    const uint32_t max_depth = s->limits.call_depth;
    uint64_t *const stack_end = s->stack + s->stack_slots;
    int64_t grant = s->fuel != PERCH_FUEL_UNLIMITED && s->fuel < PW_TICK_CHUNK ? (int64_t)s->fuel
                                                                                : PW_TICK_CHUNK;
    int64_t ticks = grant;
    perch_err_kind rc = PERCH_OK;
    const char *trap = NULL;

#define RELOAD_MEM()                                                           \
    do {                                                                       \
        perch_memory *m0_ = inst->mem0;                                        \
        mem = m0_ ? m0_->data : NULL;                                          \
        memsize = m0_ ? m0_->size : 0;                                         \
    } while (0)
#define TRAP(msg)                                                              \
    do {                                                                       \
        trap = (msg);                                                          \
        goto do_trap;                                                          \
    } while (0)
/* Values only ever move down the stack (dst <= src): a forward copy is
 * right even when the ranges overlap, and cheaper than a call. */
#define MOVE_DOWN(dst, src, n)                                                 \
    do {                                                                       \
        uint64_t *d_ = (dst);                                                  \
        const uint64_t *s_ = (src);                                            \
        for (uint64_t k_ = 0; k_ < (n); k_++)                                  \
            d_[k_] = s_[k_];                                                   \
    } while (0)
#define TICK()                                                                 \
    do {                                                                       \
        if (--ticks <= 0) {                                                    \
            if ((rc = tick_slow(s, &ticks, &grant, err)) != PERCH_OK)       \
                goto done;                                                     \
        }                                                                      \
    } while (0)

    /* The outermost frame returns to no one (pc == NULL). */
    pc = NULL;
    fp = sp_in;
    sp = sp_in + func->type->nparams;

enter: {
    const pw_code *code = next->code;
    uint32_t np = next->type->nparams;
    if (depth >= max_depth) {
        rc = pb_fail(err, PERCH_E_WASM_EXHAUSTED, "call stack exhausted");
        goto done;
    }
    /* The caller's arguments become the callee's first locals. */
    frames[depth].pc = pc;
    frames[depth].fp = fp;
    frames[depth].func = cur;
    depth++;
    cur = next;
    fp = sp - np;
    if ((size_t)(stack_end - fp) < (size_t)code->frame_slots) {
        rc = pb_fail(err, PERCH_E_WASM_EXHAUSTED, "call stack exhausted");
        goto done;
    }
    sp = fp + np;
    for (uint32_t k = code->nlocals; k > 0; k--)
        *sp++ = 0;
    pc = code->cells;
    inst = cur->inst;
    RELOAD_MEM();
    TICK();
}

    VM_LOOP_BEGIN

    /* unreachable : trap */
    VM_CASE(UNREACHABLE)
        TRAP("unreachable");

    /* br [off] */
    VM_CASE(BR)
        pc += pc[1].i64;
        VM_NEXT;

    /* br [off n dest] : the label's n values move down to dest */
    VM_CASE(BR_MOVE) {
        uint64_t n = pc[2].u64;
        uint64_t *dst = fp + pc[3].u64;
        MOVE_DOWN(dst, sp - n, n);
        sp = dst + n;
        pc += pc[1].i64;
        VM_NEXT;
    }

    /* br_if [off] */
    VM_CASE(BR_IF)
        if ((uint32_t)*--sp)
            pc += pc[1].i64;
        else
            pc += 2;
        VM_NEXT;

    VM_CASE(BR_IF_MOVE)
        if ((uint32_t)*--sp) {
            uint64_t n = pc[2].u64;
            uint64_t *dst = fp + pc[3].u64;
            MOVE_DOWN(dst, sp - n, n);
            sp = dst + n;
            pc += pc[1].i64;
        } else {
            pc += 4;
        }
        VM_NEXT;

    /* if: jump to the else branch or the end when the condition is 0 */
    VM_CASE(BR_UNLESS)
        if ((uint32_t)*--sp)
            pc += 2;
        else
            pc += pc[1].i64;
        VM_NEXT;

    /* br_table [count n] pairs [off dest] : out-of-range indices take the last */
    VM_CASE(BR_TABLE) {
        uint64_t count = pc[1].u64, n = pc[2].u64;
        uint64_t i = (uint32_t)*--sp;
        const pw_cell *e = pc + 3 + 2 * (i < count ? i : count);
        uint64_t *dst = fp + e[1].u64;
        if (dst != sp - n)
            MOVE_DOWN(dst, sp - n, n);
        sp = dst + n;
        pc += e[0].i64;
        VM_NEXT;
    }

    VM_CASE(LOOP)
        TICK();
        pc += 1;
        VM_NEXT;

    /* return [n] : the top n slots become the results at the frame base */
    VM_CASE(RETURN) {
        uint64_t n = pc[1].u64;
        pw_frame *f;
        MOVE_DOWN(fp, sp - n, n);
        sp = fp + n;
        f = &frames[--depth];
        if (!f->pc) {
            rc = PERCH_OK;
            goto done;
        }
        pc = f->pc;
        fp = f->fp;
        cur = f->func;
        inst = cur->inst;
        RELOAD_MEM();
        VM_NEXT;
    }

    /* call [funcidx] */
    VM_CASE(CALL) {
        perch_func *callee = inst->funcs[pc[1].u64];
        pc += 2;
        if (callee->host) {
            uint32_t np = callee->type->nparams;
            s->sp = sp;
            s->depth = depth;
            if ((rc = pw_call_host(s, inst, callee, sp - np, err)) != PERCH_OK)
                goto done;
            sp = sp - np + callee->type->nresults;
            RELOAD_MEM();
            VM_NEXT;
        }
        next = callee;
        goto enter;
    }

    /* call_indirect [typeidx tableidx] */
    VM_CASE(CALL_INDIRECT) {
        const perch_table *t = inst->tables[pc[2].u64];
        const pw_functype *want = &inst->module->m->types[pc[1].u64];
        uint32_t i = (uint32_t)*--sp;
        perch_func *callee;
        if (i >= t->size) {
            rc = pb_fail(err, PERCH_E_WASM_TRAP, "undefined element %u", i);
            goto done;
        }
        callee = (perch_func *)(uintptr_t)t->elems[i];
        if (!callee) {
            rc = pb_fail(err, PERCH_E_WASM_TRAP, "uninitialized element %u", i);
            goto done;
        }
        if (!pw_functype_eq(callee->type, want))
            TRAP("indirect call type mismatch");
        pc += 3;
        if (callee->host) {
            uint32_t np = callee->type->nparams;
            s->sp = sp;
            s->depth = depth;
            if ((rc = pw_call_host(s, inst, callee, sp - np, err)) != PERCH_OK)
                goto done;
            sp = sp - np + callee->type->nresults;
            RELOAD_MEM();
            VM_NEXT;
        }
        next = callee;
        goto enter;
    }

    VM_CASE(DROP)
        sp--;
        pc += 1;
        VM_NEXT;

    /* select : c ? a : b */
    VM_CASE(SELECT)
        sp -= 2;
        if (!(uint32_t)sp[1])
            sp[-1] = sp[0];
        pc += 1;
        VM_NEXT;

    VM_CASE(LOCAL_GET)
        *sp++ = fp[pc[1].u64];
        pc += 2;
        VM_NEXT;

    VM_CASE(LOCAL_SET)
        fp[pc[1].u64] = *--sp;
        pc += 2;
        VM_NEXT;

    VM_CASE(LOCAL_TEE)
        fp[pc[1].u64] = sp[-1];
        pc += 2;
        VM_NEXT;

    VM_CASE(GLOBAL_GET)
        *sp++ = inst->globals[pc[1].u64]->val;
        pc += 2;
        VM_NEXT;

    VM_CASE(GLOBAL_SET)
        inst->globals[pc[1].u64]->val = *--sp;
        pc += 2;
        VM_NEXT;

    VM_CASE(CONST)
        *sp++ = pc[1].u64;
        pc += 2;
        VM_NEXT;

    VM_CASE(REF_IS_NULL)
        sp[-1] = sp[-1] == 0;
        pc += 1;
        VM_NEXT;

    VM_CASE(REF_FUNC)
        *sp++ = (uint64_t)(uintptr_t)inst->funcs[pc[1].u64];
        pc += 2;
        VM_NEXT;

    /* table.get [t] : i -> table[i] */
    VM_CASE(TABLE_GET) {
        const perch_table *t = inst->tables[pc[1].u64];
        uint32_t i = (uint32_t)sp[-1];
        if (i >= t->size)
            TRAP("out of bounds table access");
        sp[-1] = t->elems[i];
        pc += 2;
        VM_NEXT;
    }

    VM_CASE(TABLE_SET) {
        perch_table *t = inst->tables[pc[1].u64];
        uint32_t i = (uint32_t)sp[-2];
        if (i >= t->size)
            TRAP("out of bounds table access");
        t->elems[i] = sp[-1];
        sp -= 2;
        pc += 2;
        VM_NEXT;
    }

    /* table.init [elem table] : d s n; bounds checked before any write */
    VM_CASE(TABLE_INIT) {
        uint32_t e = (uint32_t)pc[1].u64;
        perch_table *t = inst->tables[pc[2].u64];
        uint64_t d = (uint32_t)sp[-3], src = (uint32_t)sp[-2], n = (uint32_t)sp[-1];
        sp -= 3;
        if (src + n > inst->elem_len[e] || d + n > t->size)
            TRAP("out of bounds table access");
        if (n)
            memcpy(t->elems + d, inst->elem_refs[e] + src, n * sizeof *t->elems);
        pc += 3;
        VM_NEXT;
    }

    VM_CASE(ELEM_DROP)
        inst->elem_len[pc[1].u64] = 0;
        pc += 2;
        VM_NEXT;

    VM_CASE(TABLE_COPY) {
        perch_table *dt = inst->tables[pc[1].u64];
        const perch_table *st = inst->tables[pc[2].u64];
        uint64_t d = (uint32_t)sp[-3], src = (uint32_t)sp[-2], n = (uint32_t)sp[-1];
        sp -= 3;
        if (src + n > st->size || d + n > dt->size)
            TRAP("out of bounds table access");
        if (n)
            memmove(dt->elems + d, st->elems + src, n * sizeof *dt->elems);
        pc += 3;
        VM_NEXT;
    }

    VM_CASE(TABLE_GROW) {
        perch_table *t = inst->tables[pc[1].u64];
        int64_t old = pw_table_grow(t, (uint32_t)sp[-1], sp[-2]);
        sp -= 1;
        sp[-1] = (uint32_t)old;
        pc += 2;
        VM_NEXT;
    }

    VM_CASE(TABLE_SIZE)
        *sp++ = inst->tables[pc[1].u64]->size;
        pc += 2;
        VM_NEXT;

    VM_CASE(TABLE_FILL) {
        perch_table *t = inst->tables[pc[1].u64];
        uint64_t i = (uint32_t)sp[-3], val = sp[-2], n = (uint32_t)sp[-1];
        sp -= 3;
        if (i + n > t->size)
            TRAP("out of bounds table access");
        for (uint64_t k = 0; k < n; k++)
            t->elems[i + k] = val;
        pc += 2;
        VM_NEXT;
    }

    VM_CASE(MEMORY_SIZE)
        *sp++ = memsize / PW_PAGE;
        pc += 1;
        VM_NEXT;

    VM_CASE(MEMORY_GROW) {
        int64_t old = pw_memory_grow(inst->mem0, (uint32_t)sp[-1]);
        sp[-1] = (uint32_t)old;
        RELOAD_MEM();
        pc += 1;
        VM_NEXT;
    }

    /* memory.init [data] : d s n */
    VM_CASE(MEMORY_INIT) {
        uint32_t di = (uint32_t)pc[1].u64;
        uint64_t d = (uint32_t)sp[-3], src = (uint32_t)sp[-2], n = (uint32_t)sp[-1];
        sp -= 3;
        if (src + n > inst->data_len[di] || d + n > memsize)
            TRAP("out of bounds memory access");
        if (n)
            memcpy(mem + d, inst->module->m->datas[di].bytes + src, n);
        pc += 2;
        VM_NEXT;
    }

    VM_CASE(DATA_DROP)
        inst->data_len[pc[1].u64] = 0;
        pc += 2;
        VM_NEXT;

    VM_CASE(MEMORY_COPY) {
        uint64_t d = (uint32_t)sp[-3], src = (uint32_t)sp[-2], n = (uint32_t)sp[-1];
        sp -= 3;
        if (src + n > memsize || d + n > memsize)
            TRAP("out of bounds memory access");
        if (n)
            memmove(mem + d, mem + src, n);
        pc += 1;
        VM_NEXT;
    }

    VM_CASE(MEMORY_FILL) {
        uint64_t d = (uint32_t)sp[-3], n = (uint32_t)sp[-1];
        int val = (int)(uint8_t)sp[-2];
        sp -= 3;
        if (d + n > memsize)
            TRAP("out of bounds memory access");
        if (n)
            memset(mem + d, val, n);
        pc += 1;
        VM_NEXT;
    }

    VM_CASE(LOCAL_COPY)
        fp[pc[2].u64] = fp[pc[1].u64];
        pc += 3;
        VM_NEXT;

    VM_CASE(CONST_SET)
        fp[pc[2].u64] = pc[1].u64;
        pc += 3;
        VM_NEXT;

    /* local.set a; local.get b */
    VM_CASE(LOCAL_SET_GET)
        fp[pc[1].u64] = sp[-1];
        sp[-1] = fp[pc[2].u64];
        pc += 3;
        VM_NEXT;

    /* ---- memory: every access is checked against the current size ---- */

#define LOAD(op, T, expr)                                                      \
    VM_CASE(op) {                                                              \
        uint64_t ea_ = (uint64_t)(uint32_t)sp[-1] + pc[1].u64;                 \
        T x;                                                                   \
        if (ea_ + sizeof x > memsize)                                          \
            TRAP("out of bounds memory access");                               \
        memcpy(&x, mem + ea_, sizeof x);                                       \
        sp[-1] = (expr);                                                       \
        pc += 2;                                                               \
        VM_NEXT;                                                               \
    }                                                                          \
    VM_CASE(op##_L) {                                                          \
        uint64_t ea_ = (uint64_t)(uint32_t)fp[pc[2].u64] + pc[1].u64;          \
        T x;                                                                   \
        if (ea_ + sizeof x > memsize)                                          \
            TRAP("out of bounds memory access");                               \
        memcpy(&x, mem + ea_, sizeof x);                                       \
        *sp++ = (expr);                                                        \
        pc += 3;                                                               \
        VM_NEXT;                                                               \
    }
#define STORE(op, T, expr)                                                     \
    VM_CASE(op) {                                                              \
        uint64_t ea_ = (uint64_t)(uint32_t)sp[-2] + pc[1].u64;                 \
        uint64_t v_ = sp[-1];                                                  \
        T x = (expr);                                                          \
        if (ea_ + sizeof x > memsize)                                          \
            TRAP("out of bounds memory access");                               \
        memcpy(mem + ea_, &x, sizeof x);                                       \
        sp -= 2;                                                               \
        pc += 2;                                                               \
        VM_NEXT;                                                               \
    }

    LOAD(I32_LOAD, uint32_t, x)
    LOAD(I64_LOAD, uint64_t, x)
    LOAD(F32_LOAD, uint32_t, x)
    LOAD(F64_LOAD, uint64_t, x)
    LOAD(I32_LOAD8_S, int8_t, (uint32_t)(int32_t)x)
    LOAD(I32_LOAD8_U, uint8_t, x)
    LOAD(I32_LOAD16_S, int16_t, (uint32_t)(int32_t)x)
    LOAD(I32_LOAD16_U, uint16_t, x)
    LOAD(I64_LOAD8_S, int8_t, (uint64_t)(int64_t)x)
    LOAD(I64_LOAD8_U, uint8_t, x)
    LOAD(I64_LOAD16_S, int16_t, (uint64_t)(int64_t)x)
    LOAD(I64_LOAD16_U, uint16_t, x)
    LOAD(I64_LOAD32_S, int32_t, (uint64_t)(int64_t)x)
    LOAD(I64_LOAD32_U, uint32_t, x)
    STORE(I32_STORE, uint32_t, (uint32_t)v_)
    STORE(I64_STORE, uint64_t, v_)
    STORE(F32_STORE, uint32_t, (uint32_t)v_)
    STORE(F64_STORE, uint64_t, v_)
    STORE(I32_STORE8, uint8_t, (uint8_t)v_)
    STORE(I32_STORE16, uint16_t, (uint16_t)v_)
    STORE(I64_STORE8, uint8_t, (uint8_t)v_)
    STORE(I64_STORE16, uint16_t, (uint16_t)v_)
    STORE(I64_STORE32, uint32_t, (uint32_t)v_)
#undef LOAD
#undef STORE

    /* ---- numeric ---- */

    /* Binary operators: a and b are the operands, the result replaces them. */
#define BIN(op, T, get, expr, put)                                             \
    VM_CASE(op) {                                                              \
        T b = get(sp[-1]), a = get(sp[-2]);                                    \
        sp--;                                                                  \
        sp[-1] = put(expr);                                                    \
        pc += 1;                                                               \
        VM_NEXT;                                                               \
    }
/* The same operator with b from a local (_L) or a constant (_K). */
#define BINX(op, T, get, expr, put)                                            \
    BIN(op, T, get, expr, put)                                                 \
    VM_CASE(op##_L) {                                                          \
        T b = get(fp[pc[1].u64]), a = get(sp[-1]);                             \
        sp[-1] = put(expr);                                                    \
        pc += 2;                                                               \
        VM_NEXT;                                                               \
    }                                                                          \
    VM_CASE(op##_K) {                                                          \
        T b = get(pc[1].u64), a = get(sp[-1]);                                 \
        sp[-1] = put(expr);                                                    \
        pc += 2;                                                               \
        VM_NEXT;                                                               \
    }                                                                          \
    VM_CASE(op##_S) {                                                          \
        T b = get(sp[-1]), a = get(sp[-2]);                                    \
        sp -= 2;                                                               \
        fp[pc[1].u64] = put(expr);                                             \
        pc += 2;                                                               \
        VM_NEXT;                                                               \
    }                                                                          \
    VM_CASE(op##_LS) {                                                         \
        T b = get(fp[pc[1].u64]), a = get(sp[-1]);                             \
        sp -= 1;                                                               \
        fp[pc[2].u64] = put(expr);                                             \
        pc += 3;                                                               \
        VM_NEXT;                                                               \
    }                                                                          \
    VM_CASE(op##_KS) {                                                         \
        T b = get(pc[1].u64), a = get(sp[-1]);                                 \
        sp -= 1;                                                               \
        fp[pc[2].u64] = put(expr);                                             \
        pc += 3;                                                               \
        VM_NEXT;                                                               \
    }
/* Arithmetic, with every operand and result form of ops.h. */
#define BINA(op, T, get, expr, put)                                            \
    BINX(op, T, get, expr, put)                                                \
    VM_CASE(op##_LL) {                                                         \
        T a = get(fp[pc[1].u64]), b = get(fp[pc[2].u64]);                      \
        *sp++ = put(expr);                                                     \
        pc += 3;                                                               \
        VM_NEXT;                                                               \
    }                                                                          \
    VM_CASE(op##_LK) {                                                         \
        T a = get(fp[pc[1].u64]), b = get(pc[2].u64);                          \
        *sp++ = put(expr);                                                     \
        pc += 3;                                                               \
        VM_NEXT;                                                               \
    }                                                                          \
    VM_CASE(op##_LLS) {                                                        \
        T a = get(fp[pc[1].u64]), b = get(fp[pc[2].u64]);                      \
        fp[pc[3].u64] = put(expr);                                             \
        pc += 4;                                                               \
        VM_NEXT;                                                               \
    }                                                                          \
    VM_CASE(op##_LKS) {                                                        \
        T a = get(fp[pc[1].u64]), b = get(pc[2].u64);                          \
        fp[pc[3].u64] = put(expr);                                             \
        pc += 4;                                                               \
        VM_NEXT;                                                               \
    }                                                                          \
    VM_CASE(op##_T) {                                                          \
        T b = get(sp[-1]), a = get(sp[-2]);                                    \
        sp--;                                                                  \
        sp[-1] = fp[pc[1].u64] = put(expr);                                    \
        pc += 2;                                                               \
        VM_NEXT;                                                               \
    }                                                                          \
    VM_CASE(op##_LT) {                                                         \
        T b = get(fp[pc[1].u64]), a = get(sp[-1]);                             \
        sp[-1] = fp[pc[2].u64] = put(expr);                                    \
        pc += 3;                                                               \
        VM_NEXT;                                                               \
    }                                                                          \
    VM_CASE(op##_KT) {                                                         \
        T b = get(pc[1].u64), a = get(sp[-1]);                                 \
        sp[-1] = fp[pc[2].u64] = put(expr);                                    \
        pc += 3;                                                               \
        VM_NEXT;                                                               \
    }
/* A comparison, also fused with the br_if that consumes it. */
#define BINC(op, T, get, expr, put)                                            \
    BINX(op, T, get, expr, put)                                                \
    VM_CASE(op##_BR) {                                                         \
        T b = get(sp[-1]), a = get(sp[-2]);                                    \
        sp -= 2;                                                               \
        pc += (expr) ? pc[1].i64 : 2;                                          \
        VM_NEXT;                                                               \
    }                                                                          \
    VM_CASE(op##_L_BR) {                                                       \
        T b = get(fp[pc[1].u64]), a = get(sp[-1]);                             \
        sp -= 1;                                                               \
        pc += (expr) ? pc[2].i64 : 3;                                          \
        VM_NEXT;                                                               \
    }                                                                          \
    VM_CASE(op##_K_BR) {                                                       \
        T b = get(pc[1].u64), a = get(sp[-1]);                                 \
        sp -= 1;                                                               \
        pc += (expr) ? pc[2].i64 : 3;                                          \
        VM_NEXT;                                                               \
    }
#define UN(op, T, get, expr, put)                                              \
    VM_CASE(op) {                                                              \
        T a = get(sp[-1]);                                                     \
        sp[-1] = put(expr);                                                    \
        pc += 1;                                                               \
        VM_NEXT;                                                               \
    }
#define U32(x) ((uint32_t)(x))
#define U64(x) ((uint64_t)(x))
#define S32(x) ((int32_t)(uint32_t)(x))
#define S64(x) ((int64_t)(uint64_t)(x))
#define PUT32(x) ((uint64_t)(uint32_t)(x))
#define PUT64(x) ((uint64_t)(x))
#define F32V(x) pw_f32(x)
#define F64V(x) pw_f64(x)
#define PUTF32(x) pw_f32_bits(x)
#define PUTF64(x) pw_f64_bits(x)

    UN(I32_EQZ, uint32_t, U32, a == 0, PUT32)
    BINC(I32_EQ, uint32_t, U32, a == b, PUT32)
    BINC(I32_NE, uint32_t, U32, a != b, PUT32)
    BINC(I32_LT_S, uint32_t, U32, (int32_t)a < (int32_t)b, PUT32)
    BINC(I32_LT_U, uint32_t, U32, a < b, PUT32)
    BINC(I32_GT_S, uint32_t, U32, (int32_t)a > (int32_t)b, PUT32)
    BINC(I32_GT_U, uint32_t, U32, a > b, PUT32)
    BINC(I32_LE_S, uint32_t, U32, (int32_t)a <= (int32_t)b, PUT32)
    BINC(I32_LE_U, uint32_t, U32, a <= b, PUT32)
    BINC(I32_GE_S, uint32_t, U32, (int32_t)a >= (int32_t)b, PUT32)
    BINC(I32_GE_U, uint32_t, U32, a >= b, PUT32)
    UN(I64_EQZ, uint64_t, U64, a == 0, PUT32)
    BINC(I64_EQ, uint64_t, U64, a == b, PUT32)
    BINC(I64_NE, uint64_t, U64, a != b, PUT32)
    BINC(I64_LT_S, uint64_t, U64, (int64_t)a < (int64_t)b, PUT32)
    BINC(I64_LT_U, uint64_t, U64, a < b, PUT32)
    BINC(I64_GT_S, uint64_t, U64, (int64_t)a > (int64_t)b, PUT32)
    BINC(I64_GT_U, uint64_t, U64, a > b, PUT32)
    BINC(I64_LE_S, uint64_t, U64, (int64_t)a <= (int64_t)b, PUT32)
    BINC(I64_LE_U, uint64_t, U64, a <= b, PUT32)
    BINC(I64_GE_S, uint64_t, U64, (int64_t)a >= (int64_t)b, PUT32)
    BINC(I64_GE_U, uint64_t, U64, a >= b, PUT32)
    BIN(F32_EQ, float, F32V, a == b, PUT32)
    BIN(F32_NE, float, F32V, a != b, PUT32)
    BIN(F32_LT, float, F32V, a < b, PUT32)
    BIN(F32_GT, float, F32V, a > b, PUT32)
    BIN(F32_LE, float, F32V, a <= b, PUT32)
    BIN(F32_GE, float, F32V, a >= b, PUT32)
    BIN(F64_EQ, double, F64V, a == b, PUT32)
    BIN(F64_NE, double, F64V, a != b, PUT32)
    BIN(F64_LT, double, F64V, a < b, PUT32)
    BIN(F64_GT, double, F64V, a > b, PUT32)
    BIN(F64_LE, double, F64V, a <= b, PUT32)
    BIN(F64_GE, double, F64V, a >= b, PUT32)

    UN(I32_CLZ, uint32_t, U32, pw_clz32(a), PUT32)
    UN(I32_CTZ, uint32_t, U32, pw_ctz32(a), PUT32)
    UN(I32_POPCNT, uint32_t, U32, (uint32_t)__builtin_popcount(a), PUT32)
    BINA(I32_ADD, uint32_t, U32, a + b, PUT32)
    BINA(I32_SUB, uint32_t, U32, a - b, PUT32)
    BINA(I32_MUL, uint32_t, U32, a * b, PUT32)
    VM_CASE(I32_DIV_S) {
        uint32_t b = U32(sp[-1]), a = U32(sp[-2]);
        if (b == 0)
            TRAP("integer divide by zero");
        if (a == 0x80000000u && b == UINT32_MAX)
            TRAP("integer overflow");
        sp--;
        sp[-1] = PUT32((int32_t)a / (int32_t)b);
        pc += 1;
        VM_NEXT;
    }
    VM_CASE(I32_DIV_U) {
        uint32_t b = U32(sp[-1]), a = U32(sp[-2]);
        if (b == 0)
            TRAP("integer divide by zero");
        sp--;
        sp[-1] = PUT32(a / b);
        pc += 1;
        VM_NEXT;
    }
    VM_CASE(I32_REM_S) {
        uint32_t b = U32(sp[-1]), a = U32(sp[-2]);
        if (b == 0)
            TRAP("integer divide by zero");
        sp--;
        sp[-1] = b == UINT32_MAX ? 0 : PUT32((int32_t)a % (int32_t)b);
        pc += 1;
        VM_NEXT;
    }
    VM_CASE(I32_REM_U) {
        uint32_t b = U32(sp[-1]), a = U32(sp[-2]);
        if (b == 0)
            TRAP("integer divide by zero");
        sp--;
        sp[-1] = PUT32(a % b);
        pc += 1;
        VM_NEXT;
    }
    BINA(I32_AND, uint32_t, U32, a & b, PUT32)
    BINA(I32_OR, uint32_t, U32, a | b, PUT32)
    BINA(I32_XOR, uint32_t, U32, a ^ b, PUT32)
    BINA(I32_SHL, uint32_t, U32, a << (b & 31), PUT32)
    BINA(I32_SHR_S, uint32_t, U32, pw_shr_s32(a, b), PUT32)
    BINA(I32_SHR_U, uint32_t, U32, a >> (b & 31), PUT32)
    BIN(I32_ROTL, uint32_t, U32, pw_rotl32(a, b), PUT32)
    BIN(I32_ROTR, uint32_t, U32, pw_rotr32(a, b), PUT32)

    UN(I64_CLZ, uint64_t, U64, pw_clz64(a), PUT64)
    UN(I64_CTZ, uint64_t, U64, pw_ctz64(a), PUT64)
    UN(I64_POPCNT, uint64_t, U64, (uint64_t)__builtin_popcountll(a), PUT64)
    BINA(I64_ADD, uint64_t, U64, a + b, PUT64)
    BINA(I64_SUB, uint64_t, U64, a - b, PUT64)
    BINA(I64_MUL, uint64_t, U64, a * b, PUT64)
    VM_CASE(I64_DIV_S) {
        uint64_t b = sp[-1], a = sp[-2];
        if (b == 0)
            TRAP("integer divide by zero");
        if (a == 0x8000000000000000ull && b == UINT64_MAX)
            TRAP("integer overflow");
        sp--;
        sp[-1] = (uint64_t)((int64_t)a / (int64_t)b);
        pc += 1;
        VM_NEXT;
    }
    VM_CASE(I64_DIV_U) {
        uint64_t b = sp[-1], a = sp[-2];
        if (b == 0)
            TRAP("integer divide by zero");
        sp--;
        sp[-1] = a / b;
        pc += 1;
        VM_NEXT;
    }
    VM_CASE(I64_REM_S) {
        uint64_t b = sp[-1], a = sp[-2];
        if (b == 0)
            TRAP("integer divide by zero");
        sp--;
        sp[-1] = b == UINT64_MAX ? 0 : (uint64_t)((int64_t)a % (int64_t)b);
        pc += 1;
        VM_NEXT;
    }
    VM_CASE(I64_REM_U) {
        uint64_t b = sp[-1], a = sp[-2];
        if (b == 0)
            TRAP("integer divide by zero");
        sp--;
        sp[-1] = a % b;
        pc += 1;
        VM_NEXT;
    }
    BINA(I64_AND, uint64_t, U64, a & b, PUT64)
    BINA(I64_OR, uint64_t, U64, a | b, PUT64)
    BINA(I64_XOR, uint64_t, U64, a ^ b, PUT64)
    BINA(I64_SHL, uint64_t, U64, a << (b & 63), PUT64)
    BINA(I64_SHR_S, uint64_t, U64, pw_shr_s64(a, b), PUT64)
    BINA(I64_SHR_U, uint64_t, U64, a >> (b & 63), PUT64)
    BIN(I64_ROTL, uint64_t, U64, pw_rotl64(a, b), PUT64)
    BIN(I64_ROTR, uint64_t, U64, pw_rotr64(a, b), PUT64)

    /* Sign operations act on the bits, so NaN payloads pass unchanged. */
    UN(F32_ABS, uint32_t, U32, a & 0x7fffffffu, PUT32)
    UN(F32_NEG, uint32_t, U32, a ^ 0x80000000u, PUT32)
    UN(F32_CEIL, float, F32V, pw_ceilf(a), PUTF32)
    UN(F32_FLOOR, float, F32V, pw_floorf(a), PUTF32)
    UN(F32_TRUNC, float, F32V, pw_truncf(a), PUTF32)
    UN(F32_NEAREST, float, F32V, pw_nearestf(a), PUTF32)
    UN(F32_SQRT, float, F32V, sqrtf(a), PUTF32)
    BINA(F32_ADD, float, F32V, a + b, PUTF32)
    BINA(F32_SUB, float, F32V, a - b, PUTF32)
    BINA(F32_MUL, float, F32V, a * b, PUTF32)
    BINA(F32_DIV, float, F32V, a / b, PUTF32)
    BIN(F32_MIN, float, F32V, pw_fminf(a, b), PUTF32)
    BIN(F32_MAX, float, F32V, pw_fmaxf(a, b), PUTF32)
    BIN(F32_COPYSIGN, uint32_t, U32, (a & 0x7fffffffu) | (b & 0x80000000u), PUT32)
    UN(F64_ABS, uint64_t, U64, a & 0x7fffffffffffffffull, PUT64)
    UN(F64_NEG, uint64_t, U64, a ^ 0x8000000000000000ull, PUT64)
    UN(F64_CEIL, double, F64V, pw_ceil(a), PUTF64)
    UN(F64_FLOOR, double, F64V, pw_floor(a), PUTF64)
    UN(F64_TRUNC, double, F64V, pw_trunc(a), PUTF64)
    UN(F64_NEAREST, double, F64V, pw_nearest(a), PUTF64)
    UN(F64_SQRT, double, F64V, sqrt(a), PUTF64)
    BINA(F64_ADD, double, F64V, a + b, PUTF64)
    BINA(F64_SUB, double, F64V, a - b, PUTF64)
    BINA(F64_MUL, double, F64V, a * b, PUTF64)
    BINA(F64_DIV, double, F64V, a / b, PUTF64)
    BIN(F64_MIN, double, F64V, pw_fmin(a, b), PUTF64)
    BIN(F64_MAX, double, F64V, pw_fmax(a, b), PUTF64)
    BIN(F64_COPYSIGN, uint64_t, U64, (a & 0x7fffffffffffffffull) | (b & 0x8000000000000000ull), PUT64)

    UN(I32_WRAP_I64, uint64_t, U64, a, PUT32)
#define TRUNC(op, T, get, fn, put)                                             \
    VM_CASE(op) {                                                              \
        T r_;                                                                  \
        int e_ = fn(get(sp[-1]), &r_);                                         \
        if (e_ == 1)                                                           \
            TRAP("invalid conversion to integer");                             \
        if (e_ == 2)                                                           \
            TRAP("integer overflow");                                          \
        sp[-1] = put(r_);                                                      \
        pc += 1;                                                               \
        VM_NEXT;                                                               \
    }
    TRUNC(I32_TRUNC_F32_S, uint32_t, F32V, pw_trunc_i32_s, PUT32)
    TRUNC(I32_TRUNC_F32_U, uint32_t, F32V, pw_trunc_i32_u, PUT32)
    TRUNC(I32_TRUNC_F64_S, uint32_t, F64V, pw_trunc_i32_s, PUT32)
    TRUNC(I32_TRUNC_F64_U, uint32_t, F64V, pw_trunc_i32_u, PUT32)
    UN(I64_EXTEND_I32_S, uint32_t, U32, (uint64_t)(int64_t)(int32_t)a, PUT64)
    UN(I64_EXTEND_I32_U, uint32_t, U32, a, PUT64)
    TRUNC(I64_TRUNC_F32_S, uint64_t, F32V, pw_trunc_i64_s, PUT64)
    TRUNC(I64_TRUNC_F32_U, uint64_t, F32V, pw_trunc_i64_u, PUT64)
    TRUNC(I64_TRUNC_F64_S, uint64_t, F64V, pw_trunc_i64_s, PUT64)
    TRUNC(I64_TRUNC_F64_U, uint64_t, F64V, pw_trunc_i64_u, PUT64)
#undef TRUNC
    UN(F32_CONVERT_I32_S, uint32_t, U32, (float)(int32_t)a, PUTF32)
    UN(F32_CONVERT_I32_U, uint32_t, U32, (float)a, PUTF32)
    UN(F32_CONVERT_I64_S, uint64_t, U64, (float)(int64_t)a, PUTF32)
    UN(F32_CONVERT_I64_U, uint64_t, U64, (float)a, PUTF32)
    UN(F32_DEMOTE_F64, double, F64V, (float)a, PUTF32)
    UN(F64_CONVERT_I32_S, uint32_t, U32, (double)(int32_t)a, PUTF64)
    UN(F64_CONVERT_I32_U, uint32_t, U32, (double)a, PUTF64)
    UN(F64_CONVERT_I64_S, uint64_t, U64, (double)(int64_t)a, PUTF64)
    UN(F64_CONVERT_I64_U, uint64_t, U64, (double)a, PUTF64)
    UN(F64_PROMOTE_F32, float, F32V, (double)a, PUTF64)
    UN(I32_REINTERPRET_F32, uint32_t, U32, a, PUT32)
    UN(I64_REINTERPRET_F64, uint64_t, U64, a, PUT64)
    UN(F32_REINTERPRET_I32, uint32_t, U32, a, PUT32)
    UN(F64_REINTERPRET_I64, uint64_t, U64, a, PUT64)
    UN(I32_EXTEND8_S, uint32_t, U32, (uint32_t)(int32_t)(int8_t)a, PUT32)
    UN(I32_EXTEND16_S, uint32_t, U32, (uint32_t)(int32_t)(int16_t)a, PUT32)
    UN(I64_EXTEND8_S, uint64_t, U64, (uint64_t)(int64_t)(int8_t)a, PUT64)
    UN(I64_EXTEND16_S, uint64_t, U64, (uint64_t)(int64_t)(int16_t)a, PUT64)
    UN(I64_EXTEND32_S, uint64_t, U64, (uint64_t)(int64_t)(int32_t)a, PUT64)
    UN(I32_TRUNC_SAT_F32_S, float, F32V, pw_sat_i32_s(a), PUT32)
    UN(I32_TRUNC_SAT_F32_U, float, F32V, pw_sat_i32_u(a), PUT32)
    UN(I32_TRUNC_SAT_F64_S, double, F64V, pw_sat_i32_s(a), PUT32)
    UN(I32_TRUNC_SAT_F64_U, double, F64V, pw_sat_i32_u(a), PUT32)
    UN(I64_TRUNC_SAT_F32_S, float, F32V, pw_sat_i64_s(a), PUT64)
    UN(I64_TRUNC_SAT_F32_U, float, F32V, pw_sat_i64_u(a), PUT64)
    UN(I64_TRUNC_SAT_F64_S, double, F64V, pw_sat_i64_s(a), PUT64)
    UN(I64_TRUNC_SAT_F64_U, double, F64V, pw_sat_i64_u(a), PUT64)

    VM_LOOP_END

#if !PW_USE_GOTO
bad_op:
    /* Internal code comes from the validator only: unreachable. */
    rc = pb_fail(err, PERCH_E_WASM_TRAP, "internal error: unknown internal opcode %llu",
                 (unsigned long long)pc->u64);
    goto done;
#endif

do_trap:
    rc = pb_fail(err, PERCH_E_WASM_TRAP, "%s", trap);
done:
    /* Unwind: a trap or limit leaves the store ready for the next call. */
    if (s->fuel != PERCH_FUEL_UNLIMITED && rc != PERCH_E_WASM_EXHAUSTED) {
        uint64_t spent = (uint64_t)(grant - ticks);
        s->fuel = spent >= s->fuel ? 0 : s->fuel - spent;
    }
    (void)cur;
    return rc;

#undef RELOAD_MEM
#undef MOVE_DOWN
#undef TRAP
#undef TICK
#undef BIN
#undef BINX
#undef BINA
#undef BINC
#undef UN
#undef U32
#undef U64
#undef S32
#undef S64
#undef PUT32
#undef PUT64
#undef F32V
#undef F64V
#undef PUTF32
#undef PUTF64
}

#undef VM_CASE
#undef VM_NEXT
#undef VM_LOOP_BEGIN
#undef VM_LOOP_END
