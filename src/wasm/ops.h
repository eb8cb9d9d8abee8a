/*
 * ops.h: the internal code the interpreter runs.
 *
 * A compiled function is an array of pw_cell: an opcode cell followed by its
 * immediates. Values live in 64-bit stack slots (i32 and f32 in the low
 * half); locals are the first slots of a frame, the operand stack follows.
 * Branch offsets are in cells, relative to the branch's opcode cell; slot
 * heights are relative to the frame pointer. block, loop, nop, end and else
 * vanish in translation; every branch knows where its values go.
 *
 * Each opcode's synopsis: name [immediates] : what it does.
 */
#ifndef PERCH_WASM_OPS_H
#define PERCH_WASM_OPS_H

/*
 * Control and variable access.
 *   X(name, immediates)
 */
#define PW_CONTROL_OPS(X)                                                     \
    X(UNREACHABLE, 0)      /* : trap "unreachable" */                          \
    X(BR, 1)               /* [off] : jump, the stack already in place */      \
    X(BR_MOVE, 3)          /* [off n dest] : move the top n slots to dest, jump */ \
    X(BR_IF, 1)            /* [off] : pop c; jump if c != 0 */                 \
    X(BR_IF_MOVE, 3)       /* [off n dest] : pop c; if c != 0 move and jump */  \
    X(BR_UNLESS, 1)        /* [off] : pop c; jump if c == 0 (if/else) */        \
    X(BR_TABLE, 2)         /* [count n] then count+1 pairs [off dest] : pop i, branch */ \
    X(LOOP, 0)             /* : loop head: fuel, deadline and interruption */    \
    X(RETURN, 1)           /* [n] : results to the frame base, back to the caller */ \
    X(CALL, 1)             /* [funcidx] */                                     \
    X(CALL_INDIRECT, 2)    /* [typeidx tableidx] : pop i, call table[i] if its type matches */ \
    X(DROP, 0)                                                                \
    X(SELECT, 0)           /* : pop c, b, a; push c ? a : b */                 \
    X(LOCAL_GET, 1)        /* [slot] */                                        \
    X(LOCAL_SET, 1)        /* [slot] */                                        \
    X(LOCAL_TEE, 1)        /* [slot] */                                        \
    X(GLOBAL_GET, 1)       /* [globalidx] */                                   \
    X(GLOBAL_SET, 1)       /* [globalidx] */                                   \
    X(CONST, 1)            /* [bits] : every constant and ref.null */           \
    X(REF_IS_NULL, 0)                                                         \
    X(REF_FUNC, 1)         /* [funcidx] */                                     \
    X(TABLE_GET, 1)        /* [tableidx] */                                    \
    X(TABLE_SET, 1)        /* [tableidx] */                                    \
    X(TABLE_INIT, 2)       /* [elemidx tableidx] : pop d s n */                \
    X(ELEM_DROP, 1)        /* [elemidx] */                                     \
    X(TABLE_COPY, 2)       /* [dsttable srctable] : pop d s n */               \
    X(TABLE_GROW, 1)       /* [tableidx] : pop init n; push old size or -1 */   \
    X(TABLE_SIZE, 1)       /* [tableidx] */                                    \
    X(TABLE_FILL, 1)       /* [tableidx] : pop i val n */                      \
    X(MEMORY_SIZE, 0)                                                         \
    X(MEMORY_GROW, 0)      /* : pop n; push old pages or -1 */                  \
    X(MEMORY_INIT, 1)      /* [dataidx] : pop d s n */                          \
    X(DATA_DROP, 1)        /* [dataidx] */                                     \
    X(MEMORY_COPY, 0)      /* : pop d s n */                                   \
    X(MEMORY_FILL, 0)      /* : pop d val n */                                 \
    X(LOCAL_SET_GET, 2)    /* [slot slot] : local.set then local.get */        \
    X(LOCAL_COPY, 2)       /* [src dst] : local.get src; local.set dst */      \
    X(CONST_SET, 2)        /* [bits dst] : const; local.set dst */

/*
 * Memory access: X(name, wasm opcode, access bytes, value type, natural
 * alignment log2). Immediate: [offset]. Loads pop an address and push a
 * value; stores pop a value and an address.
 */
#define PW_MEMORY_OPS(X)                                                      \
    X(I32_LOAD, 0x28, 4, I32, 2)                                              \
    X(I64_LOAD, 0x29, 8, I64, 3)                                              \
    X(F32_LOAD, 0x2a, 4, F32, 2)                                              \
    X(F64_LOAD, 0x2b, 8, F64, 3)                                              \
    X(I32_LOAD8_S, 0x2c, 1, I32, 0)                                           \
    X(I32_LOAD8_U, 0x2d, 1, I32, 0)                                           \
    X(I32_LOAD16_S, 0x2e, 2, I32, 1)                                          \
    X(I32_LOAD16_U, 0x2f, 2, I32, 1)                                          \
    X(I64_LOAD8_S, 0x30, 1, I64, 0)                                           \
    X(I64_LOAD8_U, 0x31, 1, I64, 0)                                           \
    X(I64_LOAD16_S, 0x32, 2, I64, 1)                                          \
    X(I64_LOAD16_U, 0x33, 2, I64, 1)                                          \
    X(I64_LOAD32_S, 0x34, 4, I64, 2)                                          \
    X(I64_LOAD32_U, 0x35, 4, I64, 2)                                          \
    X(I32_STORE, 0x36, 4, I32, 2)                                             \
    X(I64_STORE, 0x37, 8, I64, 3)                                             \
    X(F32_STORE, 0x38, 4, F32, 2)                                             \
    X(F64_STORE, 0x39, 8, F64, 3)                                             \
    X(I32_STORE8, 0x3a, 1, I32, 0)                                            \
    X(I32_STORE16, 0x3b, 2, I32, 1)                                           \
    X(I64_STORE8, 0x3c, 1, I64, 0)                                            \
    X(I64_STORE16, 0x3d, 2, I64, 1)                                           \
    X(I64_STORE32, 0x3e, 4, I64, 2)

/*
 * Numeric instructions: X(name, wasm opcode, operand 1, operand 2 or NONE,
 * result). The 0xfc-prefixed saturating truncations use 0x100 + sub-opcode.
 */
#define PW_NUMERIC_OPS(X)                                                     \
    X(I32_EQZ, 0x45, I32, NONE, I32)                                          \
    X(I32_EQ, 0x46, I32, I32, I32)                                            \
    X(I32_NE, 0x47, I32, I32, I32)                                            \
    X(I32_LT_S, 0x48, I32, I32, I32)                                          \
    X(I32_LT_U, 0x49, I32, I32, I32)                                          \
    X(I32_GT_S, 0x4a, I32, I32, I32)                                          \
    X(I32_GT_U, 0x4b, I32, I32, I32)                                          \
    X(I32_LE_S, 0x4c, I32, I32, I32)                                          \
    X(I32_LE_U, 0x4d, I32, I32, I32)                                          \
    X(I32_GE_S, 0x4e, I32, I32, I32)                                          \
    X(I32_GE_U, 0x4f, I32, I32, I32)                                          \
    X(I64_EQZ, 0x50, I64, NONE, I32)                                          \
    X(I64_EQ, 0x51, I64, I64, I32)                                            \
    X(I64_NE, 0x52, I64, I64, I32)                                            \
    X(I64_LT_S, 0x53, I64, I64, I32)                                          \
    X(I64_LT_U, 0x54, I64, I64, I32)                                          \
    X(I64_GT_S, 0x55, I64, I64, I32)                                          \
    X(I64_GT_U, 0x56, I64, I64, I32)                                          \
    X(I64_LE_S, 0x57, I64, I64, I32)                                          \
    X(I64_LE_U, 0x58, I64, I64, I32)                                          \
    X(I64_GE_S, 0x59, I64, I64, I32)                                          \
    X(I64_GE_U, 0x5a, I64, I64, I32)                                          \
    X(F32_EQ, 0x5b, F32, F32, I32)                                            \
    X(F32_NE, 0x5c, F32, F32, I32)                                            \
    X(F32_LT, 0x5d, F32, F32, I32)                                            \
    X(F32_GT, 0x5e, F32, F32, I32)                                            \
    X(F32_LE, 0x5f, F32, F32, I32)                                            \
    X(F32_GE, 0x60, F32, F32, I32)                                            \
    X(F64_EQ, 0x61, F64, F64, I32)                                            \
    X(F64_NE, 0x62, F64, F64, I32)                                            \
    X(F64_LT, 0x63, F64, F64, I32)                                            \
    X(F64_GT, 0x64, F64, F64, I32)                                            \
    X(F64_LE, 0x65, F64, F64, I32)                                            \
    X(F64_GE, 0x66, F64, F64, I32)                                            \
    X(I32_CLZ, 0x67, I32, NONE, I32)                                          \
    X(I32_CTZ, 0x68, I32, NONE, I32)                                          \
    X(I32_POPCNT, 0x69, I32, NONE, I32)                                       \
    X(I32_ADD, 0x6a, I32, I32, I32)                                           \
    X(I32_SUB, 0x6b, I32, I32, I32)                                           \
    X(I32_MUL, 0x6c, I32, I32, I32)                                           \
    X(I32_DIV_S, 0x6d, I32, I32, I32)                                         \
    X(I32_DIV_U, 0x6e, I32, I32, I32)                                         \
    X(I32_REM_S, 0x6f, I32, I32, I32)                                         \
    X(I32_REM_U, 0x70, I32, I32, I32)                                         \
    X(I32_AND, 0x71, I32, I32, I32)                                           \
    X(I32_OR, 0x72, I32, I32, I32)                                            \
    X(I32_XOR, 0x73, I32, I32, I32)                                           \
    X(I32_SHL, 0x74, I32, I32, I32)                                           \
    X(I32_SHR_S, 0x75, I32, I32, I32)                                         \
    X(I32_SHR_U, 0x76, I32, I32, I32)                                         \
    X(I32_ROTL, 0x77, I32, I32, I32)                                          \
    X(I32_ROTR, 0x78, I32, I32, I32)                                          \
    X(I64_CLZ, 0x79, I64, NONE, I64)                                          \
    X(I64_CTZ, 0x7a, I64, NONE, I64)                                          \
    X(I64_POPCNT, 0x7b, I64, NONE, I64)                                       \
    X(I64_ADD, 0x7c, I64, I64, I64)                                           \
    X(I64_SUB, 0x7d, I64, I64, I64)                                           \
    X(I64_MUL, 0x7e, I64, I64, I64)                                           \
    X(I64_DIV_S, 0x7f, I64, I64, I64)                                         \
    X(I64_DIV_U, 0x80, I64, I64, I64)                                         \
    X(I64_REM_S, 0x81, I64, I64, I64)                                         \
    X(I64_REM_U, 0x82, I64, I64, I64)                                         \
    X(I64_AND, 0x83, I64, I64, I64)                                           \
    X(I64_OR, 0x84, I64, I64, I64)                                            \
    X(I64_XOR, 0x85, I64, I64, I64)                                           \
    X(I64_SHL, 0x86, I64, I64, I64)                                           \
    X(I64_SHR_S, 0x87, I64, I64, I64)                                         \
    X(I64_SHR_U, 0x88, I64, I64, I64)                                         \
    X(I64_ROTL, 0x89, I64, I64, I64)                                          \
    X(I64_ROTR, 0x8a, I64, I64, I64)                                          \
    X(F32_ABS, 0x8b, F32, NONE, F32)                                          \
    X(F32_NEG, 0x8c, F32, NONE, F32)                                          \
    X(F32_CEIL, 0x8d, F32, NONE, F32)                                         \
    X(F32_FLOOR, 0x8e, F32, NONE, F32)                                        \
    X(F32_TRUNC, 0x8f, F32, NONE, F32)                                        \
    X(F32_NEAREST, 0x90, F32, NONE, F32)                                      \
    X(F32_SQRT, 0x91, F32, NONE, F32)                                         \
    X(F32_ADD, 0x92, F32, F32, F32)                                           \
    X(F32_SUB, 0x93, F32, F32, F32)                                           \
    X(F32_MUL, 0x94, F32, F32, F32)                                           \
    X(F32_DIV, 0x95, F32, F32, F32)                                           \
    X(F32_MIN, 0x96, F32, F32, F32)                                           \
    X(F32_MAX, 0x97, F32, F32, F32)                                           \
    X(F32_COPYSIGN, 0x98, F32, F32, F32)                                      \
    X(F64_ABS, 0x99, F64, NONE, F64)                                          \
    X(F64_NEG, 0x9a, F64, NONE, F64)                                          \
    X(F64_CEIL, 0x9b, F64, NONE, F64)                                         \
    X(F64_FLOOR, 0x9c, F64, NONE, F64)                                        \
    X(F64_TRUNC, 0x9d, F64, NONE, F64)                                        \
    X(F64_NEAREST, 0x9e, F64, NONE, F64)                                      \
    X(F64_SQRT, 0x9f, F64, NONE, F64)                                         \
    X(F64_ADD, 0xa0, F64, F64, F64)                                           \
    X(F64_SUB, 0xa1, F64, F64, F64)                                           \
    X(F64_MUL, 0xa2, F64, F64, F64)                                           \
    X(F64_DIV, 0xa3, F64, F64, F64)                                           \
    X(F64_MIN, 0xa4, F64, F64, F64)                                           \
    X(F64_MAX, 0xa5, F64, F64, F64)                                           \
    X(F64_COPYSIGN, 0xa6, F64, F64, F64)                                      \
    X(I32_WRAP_I64, 0xa7, I64, NONE, I32)                                     \
    X(I32_TRUNC_F32_S, 0xa8, F32, NONE, I32)                                  \
    X(I32_TRUNC_F32_U, 0xa9, F32, NONE, I32)                                  \
    X(I32_TRUNC_F64_S, 0xaa, F64, NONE, I32)                                  \
    X(I32_TRUNC_F64_U, 0xab, F64, NONE, I32)                                  \
    X(I64_EXTEND_I32_S, 0xac, I32, NONE, I64)                                 \
    X(I64_EXTEND_I32_U, 0xad, I32, NONE, I64)                                 \
    X(I64_TRUNC_F32_S, 0xae, F32, NONE, I64)                                  \
    X(I64_TRUNC_F32_U, 0xaf, F32, NONE, I64)                                  \
    X(I64_TRUNC_F64_S, 0xb0, F64, NONE, I64)                                  \
    X(I64_TRUNC_F64_U, 0xb1, F64, NONE, I64)                                  \
    X(F32_CONVERT_I32_S, 0xb2, I32, NONE, F32)                                \
    X(F32_CONVERT_I32_U, 0xb3, I32, NONE, F32)                                \
    X(F32_CONVERT_I64_S, 0xb4, I64, NONE, F32)                                \
    X(F32_CONVERT_I64_U, 0xb5, I64, NONE, F32)                                \
    X(F32_DEMOTE_F64, 0xb6, F64, NONE, F32)                                   \
    X(F64_CONVERT_I32_S, 0xb7, I32, NONE, F64)                                \
    X(F64_CONVERT_I32_U, 0xb8, I32, NONE, F64)                                \
    X(F64_CONVERT_I64_S, 0xb9, I64, NONE, F64)                                \
    X(F64_CONVERT_I64_U, 0xba, I64, NONE, F64)                                \
    X(F64_PROMOTE_F32, 0xbb, F32, NONE, F64)                                  \
    X(I32_REINTERPRET_F32, 0xbc, F32, NONE, I32)                              \
    X(I64_REINTERPRET_F64, 0xbd, F64, NONE, I64)                              \
    X(F32_REINTERPRET_I32, 0xbe, I32, NONE, F32)                              \
    X(F64_REINTERPRET_I64, 0xbf, I64, NONE, F64)                              \
    X(I32_EXTEND8_S, 0xc0, I32, NONE, I32)                                    \
    X(I32_EXTEND16_S, 0xc1, I32, NONE, I32)                                   \
    X(I64_EXTEND8_S, 0xc2, I64, NONE, I64)                                    \
    X(I64_EXTEND16_S, 0xc3, I64, NONE, I64)                                   \
    X(I64_EXTEND32_S, 0xc4, I64, NONE, I64)                                   \
    X(I32_TRUNC_SAT_F32_S, 0x100, F32, NONE, I32)                             \
    X(I32_TRUNC_SAT_F32_U, 0x101, F32, NONE, I32)                             \
    X(I32_TRUNC_SAT_F64_S, 0x102, F64, NONE, I32)                             \
    X(I32_TRUNC_SAT_F64_U, 0x103, F64, NONE, I32)                             \
    X(I64_TRUNC_SAT_F32_S, 0x104, F32, NONE, I64)                             \
    X(I64_TRUNC_SAT_F32_U, 0x105, F32, NONE, I64)                             \
    X(I64_TRUNC_SAT_F64_S, 0x106, F64, NONE, I64)                             \
    X(I64_TRUNC_SAT_F64_U, 0x107, F64, NONE, I64)

/*
 * Superinstructions, made by the translator from common sequences:
 *   NAME_L [slot]      local.get slot; NAME       (b is the local)
 *   NAME_K [bits]      i32/i64/f32/f64.const; NAME (b is the constant)
 * for these binary operators; and for the integer comparisons
 *   NAME_BR [off]          NAME; br_if        (pop b a; jump if a OP b)
 *   NAME_L_BR [slot off]   local.get; NAME; br_if
 *   NAME_K_BR [bits off]   const; NAME; br_if
 * Loads have NAME_L [offset slot]: local.get slot; NAME offset.
 * The binary operators also write straight to a local (local.set dst):
 *   NAME_S [dst]   NAME_LS [slot dst]   NAME_KS [bits dst]
 * and the arithmetic ones (PW_FUSED_ARITH) take both operands from locals
 * or a local and a constant, and tee their result:
 *   NAME_LL [a b]  NAME_LK [a bits]  NAME_LLS [a b dst]  NAME_LKS [a bits dst]
 *   NAME_T [dst]   NAME_LT [b dst]   NAME_KT [bits dst]
 */
#define PW_FUSED_BINOPS(X) PW_FUSED_ARITH(X) PW_FUSED_CMPS(X)

#define PW_FUSED_ARITH(X)                                                     \
    X(I32_ADD) X(I32_SUB) X(I32_MUL) X(I32_AND) X(I32_OR) X(I32_XOR)          \
    X(I32_SHL) X(I32_SHR_S) X(I32_SHR_U)                                      \
    X(I64_ADD) X(I64_SUB) X(I64_MUL) X(I64_AND) X(I64_OR) X(I64_XOR)          \
    X(I64_SHL) X(I64_SHR_S) X(I64_SHR_U)                                      \
    X(F32_ADD) X(F32_SUB) X(F32_MUL) X(F32_DIV)                               \
    X(F64_ADD) X(F64_SUB) X(F64_MUL) X(F64_DIV)

#define PW_FUSED_CMPS(X)                                                      \
    X(I32_EQ) X(I32_NE) X(I32_LT_S) X(I32_LT_U) X(I32_GT_S) X(I32_GT_U)       \
    X(I32_LE_S) X(I32_LE_U) X(I32_GE_S) X(I32_GE_U)                           \
    X(I64_EQ) X(I64_NE) X(I64_LT_S) X(I64_LT_U) X(I64_GT_S) X(I64_GT_U)       \
    X(I64_LE_S) X(I64_LE_U) X(I64_GE_S) X(I64_GE_U)

#define PW_FUSED_LOADS(X)                                                     \
    X(I32_LOAD) X(I64_LOAD) X(F32_LOAD) X(F64_LOAD) X(I32_LOAD8_S)            \
    X(I32_LOAD8_U) X(I32_LOAD16_S) X(I32_LOAD16_U) X(I64_LOAD8_S)             \
    X(I64_LOAD8_U) X(I64_LOAD16_S) X(I64_LOAD16_U) X(I64_LOAD32_S)            \
    X(I64_LOAD32_U)

enum pw_op {
#define PW_X_CONTROL(name, nimm) PW_OP_##name,
#define PW_X_MEMORY(name, byte, size, type, align) PW_OP_##name,
#define PW_X_NUMERIC(name, byte, a, b, r) PW_OP_##name,
    PW_CONTROL_OPS(PW_X_CONTROL)
    PW_MEMORY_OPS(PW_X_MEMORY)
    PW_NUMERIC_OPS(PW_X_NUMERIC)
#define PW_X_FUSED(name) PW_OP_##name##_L, PW_OP_##name##_K, PW_OP_##name##_S,           \
                         PW_OP_##name##_LS, PW_OP_##name##_KS,
#define PW_X_FUSED_BR(name) PW_OP_##name##_BR, PW_OP_##name##_L_BR, PW_OP_##name##_K_BR,
#define PW_X_FUSED_LOAD(name) PW_OP_##name##_L,
#define PW_X_FUSED_ARITH(name) PW_OP_##name##_LL, PW_OP_##name##_LK, PW_OP_##name##_LLS, \
    PW_OP_##name##_LKS, PW_OP_##name##_T, PW_OP_##name##_LT, PW_OP_##name##_KT,
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
    PW_OP__COUNT
};

#endif /* PERCH_WASM_OPS_H */
