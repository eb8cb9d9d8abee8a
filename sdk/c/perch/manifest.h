/*
 * perch/manifest.h: declare a module's perch manifest in C source.
 *
 * Header-only. Compiled with clang --target=wasm32-wasi, PERCH_MANIFEST
 * emits the "perch.manifest" custom section (a CBOR map, schema 1) into the
 * object file, and the linker carries it into the .wasm:
 *
 *     #include <perch/manifest.h>
 *
 *     PERCH_MANIFEST(
 *         PERCH_NAME("risk-model"), PERCH_VERSION("1.4.2"),
 *         PERCH_NEEDS_READ("/inputs"),
 *         PERCH_NEEDS_NET("risk-api.vendor.com:443"),
 *         PERCH_NEEDS_ENV("RISK_THRESHOLD"),
 *         PERCH_MEMORY_MAX(PERCH_MIB(256)));
 *
 * Use it once per module, at file scope, in one translation unit. Items come
 * in any order; NAME and VERSION are required, every other item is optional
 * and appears at most once. Lists take 1 to 64 string literals. For other
 * targets (native unit tests of the same code) the macro keeps only its
 * compile-time checks and emits nothing.
 *
 * Encoding: the map keys are emitted in the bytewise order RFC 8949 section
 * 4.2.1 asks for, whatever order the items are written in; integers and
 * length headers are the shortest form. List entries are emitted in the order
 * written: write them sorted (bytewise, as strcmp does) to get the bytes
 * perch itself writes. Readers accept any order.
 *
 * How it works: each item macro expands to a tuple of slots, one for its
 * compile-time checks and one per map key in key order; PERCH_MANIFEST
 * concatenates the slots key by key. String lengths are unknown to the
 * preprocessor, so the assembler computes them from label differences. Its
 * `.if` cannot evaluate those while clang parses inline assembly, but a
 * `.fill` count can (it is resolved at layout), and a true comparison there
 * is -1: each header byte is a `.fill -(condition)` that emits it or not, and
 * the last one a `.byte` whose value is computed. Each string literal becomes
 * its own __asm__ statement, so no literal exceeds the 4095 characters
 * -Wpedantic allows.
 */
#ifndef PERCH_SDK_MANIFEST_H
#define PERCH_SDK_MANIFEST_H

/* ---- the items ---------------------------------------------------------- */

/* Slots of an item tuple:
 *   (checks, name, version, needs_env, needs_net, memory_max, needs_read,
 *    needs_write)
 * "schema" sorts between name and version and is emitted by PERCH_MANIFEST. */

/* The module's name: 1 to 256 bytes. */
#define PERCH_NAME(s) \
    (PERCH__CHECK_TEXT(PERCH_NAME, 256, s), \
     PERCH__ASM_TEXT_KEY(0x64, "name", s), , , , , , )

/* The module's version (semver 2.0.0, e.g. "1.4.2"): 1 to 256 bytes. */
#define PERCH_VERSION(s) \
    (PERCH__CHECK_TEXT(PERCH_VERSION, 256, s), \
     , PERCH__ASM_TEXT_KEY(0x67, "version", s), , , , , )

/* Environment variable names the module reads: 1 to 256 bytes each. */
#define PERCH_NEEDS_ENV(...) \
    (PERCH__CHECK_LIST(PERCH_NEEDS_ENV, PERCH__CHECK_ENV, __VA_ARGS__), \
     , , PERCH__ASM_LIST(0x69, "needs_env", __VA_ARGS__), , , , )

/* Hosts the module connects to: "host:port", "*.domain:port" or "*". */
#define PERCH_NEEDS_NET(...) \
    (PERCH__CHECK_LIST(PERCH_NEEDS_NET, PERCH__CHECK_LONG, __VA_ARGS__), \
     , , , PERCH__ASM_LIST(0x69, "needs_net", __VA_ARGS__), , , )

/*
 * Bytes of linear memory the module may reach, 0 to 4 GiB. The expression is
 * read twice, by C (range check) and by the assembler (encoding), so it must
 * be one both understand: integer literals without suffixes (no 256u), + - *
 * / % << >> & | ~ and parentheses. PERCH_MIB and PERCH_GIB qualify.
 */
#define PERCH_MEMORY_MAX(bytes) \
    (PERCH__CHECK_MEMORY(bytes), \
     , , , , PERCH__ASM_MEMORY(bytes), , )

/* Guest absolute paths the module reads: 1 to 4096 bytes each. */
#define PERCH_NEEDS_READ(...) \
    (PERCH__CHECK_LIST(PERCH_NEEDS_READ, PERCH__CHECK_LONG, __VA_ARGS__), \
     , , , , , PERCH__ASM_LIST(0x6a, "needs_read", __VA_ARGS__), )

/* Guest absolute paths the module writes (write implies read). */
#define PERCH_NEEDS_WRITE(...) \
    (PERCH__CHECK_LIST(PERCH_NEEDS_WRITE, PERCH__CHECK_LONG, __VA_ARGS__), \
     , , , , , , PERCH__ASM_LIST(0x6b, "needs_write", __VA_ARGS__))

/* Sizes for PERCH_MEMORY_MAX. 0x100000000 is wide enough in C without a
 * suffix, which the assembler would not accept, so PERCH_GIB(4) does not
 * overflow an int. */
#define PERCH_KIB(n) ((n) * (0x100000000 / 0x400000))
#define PERCH_MIB(n) ((n) * (0x100000000 / 0x1000))
#define PERCH_GIB(n) ((n) * (0x100000000 / 0x4))

/* ---- the manifest --------------------------------------------------------- */

/*
 * Errors it reports at compile time:
 *   an item given twice        redefinition of enumerator
 *                              'perch_manifest_declares_PERCH_<ITEM>'
 *   no PERCH_NAME/VERSION      use of undeclared identifier
 *                              'perch_manifest_declares_PERCH_<ITEM>'
 *   a bad string or range      a static assertion naming the item
 *   manifests in two files     wasm-ld: duplicate symbol
 *   of one module              perch_manifest_one_per_module
 */
#if defined(__wasm__)
#define PERCH_MANIFEST(...) \
    PERCH__EACH(PERCH__SLOT_CHECKS, __VA_ARGS__) \
    PERCH__CHECK_REQUIRED; \
    extern const char perch_manifest_one_per_module; \
    const char perch_manifest_one_per_module = 1; \
    __asm__(PERCH__ASM_PRELUDE ".byte 0xa1 + " \
            PERCH__STR(PERCH__NARG(__VA_ARGS__)) "\n"); \
    PERCH__EACH(PERCH__SLOT_NAME, __VA_ARGS__) \
    __asm__(".byte 0x66\n.ascii \"schema\"\n.byte 0x01\n"); \
    PERCH__EACH(PERCH__SLOT_VERSION, __VA_ARGS__) \
    PERCH__EACH(PERCH__SLOT_NEEDS_ENV, __VA_ARGS__) \
    PERCH__EACH(PERCH__SLOT_NEEDS_NET, __VA_ARGS__) \
    PERCH__EACH(PERCH__SLOT_MEMORY_MAX, __VA_ARGS__) \
    PERCH__EACH(PERCH__SLOT_NEEDS_READ, __VA_ARGS__) \
    PERCH__EACH(PERCH__SLOT_NEEDS_WRITE, __VA_ARGS__) \
    __asm__(".text\n")
#else
#define PERCH_MANIFEST(...) \
    PERCH__EACH(PERCH__SLOT_CHECKS, __VA_ARGS__) \
    PERCH__CHECK_REQUIRED
#endif

/* ---- implementation ------------------------------------------------------- */

#if defined(__cplusplus)
#define PERCH__ASSERT static_assert
#else
#define PERCH__ASSERT _Static_assert
#endif

#define PERCH__STR(x) PERCH__STR_I(x)
#define PERCH__STR_I(x) #x
#define PERCH__CAT(a, b) PERCH__CAT_I(a, b)
#define PERCH__CAT_I(a, b) a##b

#define PERCH__SLOT_CHECKS(t) PERCH__SLOT0 t
#define PERCH__SLOT_NAME(t) PERCH__SLOT1 t
#define PERCH__SLOT_VERSION(t) PERCH__SLOT2 t
#define PERCH__SLOT_NEEDS_ENV(t) PERCH__SLOT3 t
#define PERCH__SLOT_NEEDS_NET(t) PERCH__SLOT4 t
#define PERCH__SLOT_MEMORY_MAX(t) PERCH__SLOT5 t
#define PERCH__SLOT_NEEDS_READ(t) PERCH__SLOT6 t
#define PERCH__SLOT_NEEDS_WRITE(t) PERCH__SLOT7 t
#define PERCH__SLOT0(s0, s1, s2, s3, s4, s5, s6, s7) s0
#define PERCH__SLOT1(s0, s1, s2, s3, s4, s5, s6, s7) s1
#define PERCH__SLOT2(s0, s1, s2, s3, s4, s5, s6, s7) s2
#define PERCH__SLOT3(s0, s1, s2, s3, s4, s5, s6, s7) s3
#define PERCH__SLOT4(s0, s1, s2, s3, s4, s5, s6, s7) s4
#define PERCH__SLOT5(s0, s1, s2, s3, s4, s5, s6, s7) s5
#define PERCH__SLOT6(s0, s1, s2, s3, s4, s5, s6, s7) s6
#define PERCH__SLOT7(s0, s1, s2, s3, s4, s5, s6, s7) s7

/* Checks. `"" s` accepts only string literals: a pointer variable would
 * stringize into its own name. */
#define PERCH__DECLARES(item) \
    enum { perch_manifest_declares_##item = 1 };
#define PERCH__CHECK_TEXT(item, max, s) \
    PERCH__DECLARES(item) \
    PERCH__ASSERT(sizeof("" s) > 1 && sizeof("" s) <= (max) + 1, \
                  #item ": a string literal of 1 to " #max " bytes");
#define PERCH__CHECK_LIST(item, each, ...) \
    PERCH__DECLARES(item) PERCH__EACH(each, __VA_ARGS__)
#define PERCH__CHECK_ENV(s) \
    PERCH__ASSERT(sizeof("" s) > 1 && sizeof("" s) <= 257, \
                  "perch manifest: " #s " is not 1 to 256 bytes");
#define PERCH__CHECK_LONG(s) \
    PERCH__ASSERT(sizeof("" s) > 1 && sizeof("" s) <= 4097, \
                  "perch manifest: " #s " is not 1 to 4096 bytes");
/* The cast turns a negative value into a huge one, and keeps clang from
 * calling the comparison always true for a 32-bit operand. */
#define PERCH__CHECK_MEMORY(bytes) \
    PERCH__DECLARES(PERCH_MEMORY_MAX) \
    PERCH__ASSERT((unsigned long long)(bytes) <= 0x100000000ull, \
                  "PERCH_MEMORY_MAX: 0 to 4 GiB (4294967296 bytes)");
#define PERCH__CHECK_REQUIRED \
    PERCH__ASSERT(perch_manifest_declares_PERCH_NAME && \
                  perch_manifest_declares_PERCH_VERSION, \
                  "PERCH_MANIFEST needs PERCH_NAME and PERCH_VERSION")

/*
 * The assembler side. perch_manifest_text emits one CBOR text string: its
 * header (0x60+n below 24, 0x78 n below 256, 0x79 n16 up to 4096, the
 * longest string the checks let through) then its bytes. The label
 * difference 2f-1f is its length.
 */
#define PERCH__ASM_PRELUDE \
    ".section .custom_section.perch.manifest,\"\",@\n" \
    ".macro perch_manifest_text s\n" \
    ".fill -(((2f-1f) >= 24) & ((2f-1f) < 256)), 1, 0x78\n" \
    ".fill -((2f-1f) >= 256), 1, 0x79\n" \
    PERCH__ASM_HIGH(1) PERCH__ASM_HIGH(2) PERCH__ASM_HIGH(3) \
    PERCH__ASM_HIGH(4) PERCH__ASM_HIGH(5) PERCH__ASM_HIGH(6) \
    PERCH__ASM_HIGH(7) PERCH__ASM_HIGH(8) PERCH__ASM_HIGH(9) \
    PERCH__ASM_HIGH(10) PERCH__ASM_HIGH(11) PERCH__ASM_HIGH(12) \
    PERCH__ASM_HIGH(13) PERCH__ASM_HIGH(14) PERCH__ASM_HIGH(15) \
    PERCH__ASM_HIGH(16) \
    ".byte (0x60 & ((2f-1f) < 24)) + ((2f-1f) & 0xff)\n" \
    "1: .ascii \"\\s\"\n" \
    "2:\n" \
    ".endm\n"
/* A .fill value must be a constant, so the high length byte is one of
 * sixteen .fill lines, the one whose value matches. */
#define PERCH__ASM_HIGH(k) ".fill -(((2f-1f) >> 8) == " #k "), 1, " #k "\n"

#define PERCH__ASM_KEY(hdr, key) ".byte " #hdr "\n.ascii \"" key "\"\n"
#define PERCH__ASM_TEXT_KEY(hdr, key, s) \
    __asm__(PERCH__ASM_KEY(hdr, key) \
            "perch_manifest_text " PERCH__STR(s) "\n");
#define PERCH__ASM_ENTRY(s) \
    __asm__("perch_manifest_text " PERCH__STR(s) "\n");
#define PERCH__ASM_LIST(hdr, key, ...) \
    __asm__(PERCH__ASM_KEY(hdr, key) \
            PERCH__ASM_ARRAY(PERCH__STR(PERCH__NARG(__VA_ARGS__)))); \
    PERCH__EACH(PERCH__ASM_ENTRY, __VA_ARGS__)
#define PERCH__ASM_ARRAY(n) \
    ".if " n " < 24\n.byte 0x80 + " n "\n" \
    ".else\n.byte 0x98, " n "\n.endif\n"
/* The value is a constant to the assembler, so .if picks the width. */
#define PERCH__ASM_MEMORY(bytes) \
    __asm__(PERCH__ASM_KEY(0x6a, "memory_max") \
            PERCH__ASM_UINT(PERCH__STR((bytes))));
#define PERCH__ASM_UINT(v) \
    ".if " v " < 24 # PERCH_MEMORY_MAX: no integer suffixes (256, not 256u)\n" \
    ".byte " v "\n" \
    ".elseif " v " < 0x100\n.byte 0x18, " v "\n" \
    ".elseif " v " < 0x10000\n.byte 0x19, " PERCH__ASM_BE(v, 8, 0) "\n" \
    ".elseif " v " < 0x100000000\n.byte 0x1a, " \
    PERCH__ASM_BE(v, 24, 16) ", " PERCH__ASM_BE(v, 8, 0) "\n" \
    ".else\n.byte 0x1b, " PERCH__ASM_BE(v, 56, 48) ", " \
    PERCH__ASM_BE(v, 40, 32) ", " PERCH__ASM_BE(v, 24, 16) ", " \
    PERCH__ASM_BE(v, 8, 0) "\n.endif\n"
#define PERCH__ASM_BE(v, a, b) \
    "((" v ") >> " #a ") & 0xff, ((" v ") >> " #b ") & 0xff"

/* PERCH__EACH(f, x1, ..., xn) -> f(x1) ... f(xn), for n from 1 to 64. */
#define PERCH__EACH(f, ...) \
    PERCH__CAT(PERCH__E, PERCH__NARG(__VA_ARGS__))(f, __VA_ARGS__)
#define PERCH__NARG(...) PERCH__NARG_I(__VA_ARGS__, 64, 63, 62, 61, 60, 59, \
    58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, \
    40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, \
    22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, \
    2, 1, 0)
#define PERCH__NARG_I(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, \
    a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24, a25, a26, \
    a27, a28, a29, a30, a31, a32, a33, a34, a35, a36, a37, a38, a39, a40, \
    a41, a42, a43, a44, a45, a46, a47, a48, a49, a50, a51, a52, a53, a54, \
    a55, a56, a57, a58, a59, a60, a61, a62, a63, a64, n, ...) n
#define PERCH__E1(f, x) f(x)
#define PERCH__E2(f, x, ...) f(x) PERCH__E1(f, __VA_ARGS__)
#define PERCH__E3(f, x, ...) f(x) PERCH__E2(f, __VA_ARGS__)
#define PERCH__E4(f, x, ...) f(x) PERCH__E3(f, __VA_ARGS__)
#define PERCH__E5(f, x, ...) f(x) PERCH__E4(f, __VA_ARGS__)
#define PERCH__E6(f, x, ...) f(x) PERCH__E5(f, __VA_ARGS__)
#define PERCH__E7(f, x, ...) f(x) PERCH__E6(f, __VA_ARGS__)
#define PERCH__E8(f, x, ...) f(x) PERCH__E7(f, __VA_ARGS__)
#define PERCH__E9(f, x, ...) f(x) PERCH__E8(f, __VA_ARGS__)
#define PERCH__E10(f, x, ...) f(x) PERCH__E9(f, __VA_ARGS__)
#define PERCH__E11(f, x, ...) f(x) PERCH__E10(f, __VA_ARGS__)
#define PERCH__E12(f, x, ...) f(x) PERCH__E11(f, __VA_ARGS__)
#define PERCH__E13(f, x, ...) f(x) PERCH__E12(f, __VA_ARGS__)
#define PERCH__E14(f, x, ...) f(x) PERCH__E13(f, __VA_ARGS__)
#define PERCH__E15(f, x, ...) f(x) PERCH__E14(f, __VA_ARGS__)
#define PERCH__E16(f, x, ...) f(x) PERCH__E15(f, __VA_ARGS__)
#define PERCH__E17(f, x, ...) f(x) PERCH__E16(f, __VA_ARGS__)
#define PERCH__E18(f, x, ...) f(x) PERCH__E17(f, __VA_ARGS__)
#define PERCH__E19(f, x, ...) f(x) PERCH__E18(f, __VA_ARGS__)
#define PERCH__E20(f, x, ...) f(x) PERCH__E19(f, __VA_ARGS__)
#define PERCH__E21(f, x, ...) f(x) PERCH__E20(f, __VA_ARGS__)
#define PERCH__E22(f, x, ...) f(x) PERCH__E21(f, __VA_ARGS__)
#define PERCH__E23(f, x, ...) f(x) PERCH__E22(f, __VA_ARGS__)
#define PERCH__E24(f, x, ...) f(x) PERCH__E23(f, __VA_ARGS__)
#define PERCH__E25(f, x, ...) f(x) PERCH__E24(f, __VA_ARGS__)
#define PERCH__E26(f, x, ...) f(x) PERCH__E25(f, __VA_ARGS__)
#define PERCH__E27(f, x, ...) f(x) PERCH__E26(f, __VA_ARGS__)
#define PERCH__E28(f, x, ...) f(x) PERCH__E27(f, __VA_ARGS__)
#define PERCH__E29(f, x, ...) f(x) PERCH__E28(f, __VA_ARGS__)
#define PERCH__E30(f, x, ...) f(x) PERCH__E29(f, __VA_ARGS__)
#define PERCH__E31(f, x, ...) f(x) PERCH__E30(f, __VA_ARGS__)
#define PERCH__E32(f, x, ...) f(x) PERCH__E31(f, __VA_ARGS__)
#define PERCH__E33(f, x, ...) f(x) PERCH__E32(f, __VA_ARGS__)
#define PERCH__E34(f, x, ...) f(x) PERCH__E33(f, __VA_ARGS__)
#define PERCH__E35(f, x, ...) f(x) PERCH__E34(f, __VA_ARGS__)
#define PERCH__E36(f, x, ...) f(x) PERCH__E35(f, __VA_ARGS__)
#define PERCH__E37(f, x, ...) f(x) PERCH__E36(f, __VA_ARGS__)
#define PERCH__E38(f, x, ...) f(x) PERCH__E37(f, __VA_ARGS__)
#define PERCH__E39(f, x, ...) f(x) PERCH__E38(f, __VA_ARGS__)
#define PERCH__E40(f, x, ...) f(x) PERCH__E39(f, __VA_ARGS__)
#define PERCH__E41(f, x, ...) f(x) PERCH__E40(f, __VA_ARGS__)
#define PERCH__E42(f, x, ...) f(x) PERCH__E41(f, __VA_ARGS__)
#define PERCH__E43(f, x, ...) f(x) PERCH__E42(f, __VA_ARGS__)
#define PERCH__E44(f, x, ...) f(x) PERCH__E43(f, __VA_ARGS__)
#define PERCH__E45(f, x, ...) f(x) PERCH__E44(f, __VA_ARGS__)
#define PERCH__E46(f, x, ...) f(x) PERCH__E45(f, __VA_ARGS__)
#define PERCH__E47(f, x, ...) f(x) PERCH__E46(f, __VA_ARGS__)
#define PERCH__E48(f, x, ...) f(x) PERCH__E47(f, __VA_ARGS__)
#define PERCH__E49(f, x, ...) f(x) PERCH__E48(f, __VA_ARGS__)
#define PERCH__E50(f, x, ...) f(x) PERCH__E49(f, __VA_ARGS__)
#define PERCH__E51(f, x, ...) f(x) PERCH__E50(f, __VA_ARGS__)
#define PERCH__E52(f, x, ...) f(x) PERCH__E51(f, __VA_ARGS__)
#define PERCH__E53(f, x, ...) f(x) PERCH__E52(f, __VA_ARGS__)
#define PERCH__E54(f, x, ...) f(x) PERCH__E53(f, __VA_ARGS__)
#define PERCH__E55(f, x, ...) f(x) PERCH__E54(f, __VA_ARGS__)
#define PERCH__E56(f, x, ...) f(x) PERCH__E55(f, __VA_ARGS__)
#define PERCH__E57(f, x, ...) f(x) PERCH__E56(f, __VA_ARGS__)
#define PERCH__E58(f, x, ...) f(x) PERCH__E57(f, __VA_ARGS__)
#define PERCH__E59(f, x, ...) f(x) PERCH__E58(f, __VA_ARGS__)
#define PERCH__E60(f, x, ...) f(x) PERCH__E59(f, __VA_ARGS__)
#define PERCH__E61(f, x, ...) f(x) PERCH__E60(f, __VA_ARGS__)
#define PERCH__E62(f, x, ...) f(x) PERCH__E61(f, __VA_ARGS__)
#define PERCH__E63(f, x, ...) f(x) PERCH__E62(f, __VA_ARGS__)
#define PERCH__E64(f, x, ...) f(x) PERCH__E63(f, __VA_ARGS__)

#endif /* PERCH_SDK_MANIFEST_H */
