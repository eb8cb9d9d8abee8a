/*
 * numeric.h: WebAssembly's numeric semantics where C's differ or are
 * undefined: float bit access, min/max with NaN and signed zeros, rounding,
 * shifts and rotations, and the float-to-integer conversions with their
 * range checks. Included by the interpreters only.
 */
#ifndef PERCH_WASM_NUMERIC_H
#define PERCH_WASM_NUMERIC_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the interpreter reads linear memory in host byte order: little-endian hosts only"
#endif

static inline float pw_f32(uint64_t slot)
{
    uint32_t u = (uint32_t)slot;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint64_t pw_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline double pw_f64(uint64_t slot)
{
    double d;
    memcpy(&d, &slot, sizeof d);
    return d;
}

static inline uint64_t pw_f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* Rounding: a NaN operand comes back quieted (the C library may return a
 * signalling NaN unchanged). */
#define PW_ROUND(name, T, fn)                                                  \
    static inline T name(T a) { return a != a ? a + a : fn(a); }
PW_ROUND(pw_ceilf, float, ceilf)
PW_ROUND(pw_floorf, float, floorf)
PW_ROUND(pw_truncf, float, truncf)
PW_ROUND(pw_nearestf, float, nearbyintf)
PW_ROUND(pw_ceil, double, ceil)
PW_ROUND(pw_floor, double, floor)
PW_ROUND(pw_trunc, double, trunc)
PW_ROUND(pw_nearest, double, nearbyint)
#undef PW_ROUND

/* min/max: any NaN operand gives a NaN (the operation quiets it); -0 < +0. */
static inline float pw_fminf(float a, float b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return signbit(a) ? a : b;
    return a < b ? a : b;
}

static inline float pw_fmaxf(float a, float b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return signbit(a) ? b : a;
    return a > b ? a : b;
}

static inline double pw_fmin(double a, double b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return signbit(a) ? a : b;
    return a < b ? a : b;
}

static inline double pw_fmax(double a, double b)
{
    if (a != a || b != b)
        return a + b;
    if (a == b)
        return signbit(a) ? b : a;
    return a > b ? a : b;
}

static inline uint32_t pw_rotl32(uint32_t x, uint32_t k)
{
    k &= 31;
    return k ? (x << k) | (x >> (32 - k)) : x;
}

static inline uint32_t pw_rotr32(uint32_t x, uint32_t k)
{
    k &= 31;
    return k ? (x >> k) | (x << (32 - k)) : x;
}

static inline uint64_t pw_rotl64(uint64_t x, uint64_t k)
{
    k &= 63;
    return k ? (x << k) | (x >> (64 - k)) : x;
}

static inline uint64_t pw_rotr64(uint64_t x, uint64_t k)
{
    k &= 63;
    return k ? (x >> k) | (x << (64 - k)) : x;
}

static inline uint32_t pw_clz32(uint32_t x) { return x ? (uint32_t)__builtin_clz(x) : 32; }
static inline uint32_t pw_ctz32(uint32_t x) { return x ? (uint32_t)__builtin_ctz(x) : 32; }
static inline uint64_t pw_clz64(uint64_t x) { return x ? (uint64_t)__builtin_clzll(x) : 64; }
static inline uint64_t pw_ctz64(uint64_t x) { return x ? (uint64_t)__builtin_ctzll(x) : 64; }

/* Arithmetic shift right without relying on implementation-defined >>. */
static inline uint32_t pw_shr_s32(uint32_t x, uint32_t k)
{
    k &= 31;
    return (x >> k) | ((x & 0x80000000u) && k ? ~(UINT32_MAX >> k) : 0);
}

static inline uint64_t pw_shr_s64(uint64_t x, uint64_t k)
{
    k &= 63;
    return (x >> k) | ((x & 0x8000000000000000ull) && k ? ~(UINT64_MAX >> k) : 0);
}

/*
 * Float to integer. Each returns 0 on success, 1 for a NaN ("invalid
 * conversion to integer") and 2 out of range ("integer overflow"); the
 * bounds are the exact values where the conversion leaves the type.
 */
static inline int pw_trunc_i32_s(double x, uint32_t *out)
{
    if (x != x)
        return 1;
    if (!(x > -2147483649.0 && x < 2147483648.0))
        return 2;
    *out = (uint32_t)(int32_t)x;
    return 0;
}

static inline int pw_trunc_i32_u(double x, uint32_t *out)
{
    if (x != x)
        return 1;
    if (!(x > -1.0 && x < 4294967296.0))
        return 2;
    *out = (uint32_t)x;
    return 0;
}

static inline int pw_trunc_i64_s(double x, uint64_t *out)
{
    if (x != x)
        return 1;
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0))
        return 2;
    *out = (uint64_t)(int64_t)x;
    return 0;
}

static inline int pw_trunc_i64_u(double x, uint64_t *out)
{
    if (x != x)
        return 1;
    if (!(x > -1.0 && x < 18446744073709551616.0))
        return 2;
    *out = (uint64_t)x;
    return 0;
}

/* Saturating versions: NaN gives 0, out of range the nearest bound. */
static inline uint32_t pw_sat_i32_s(double x)
{
    if (x != x)
        return 0;
    if (x <= -2147483649.0)
        return 0x80000000u;
    if (x >= 2147483648.0)
        return 0x7fffffffu;
    return (uint32_t)(int32_t)x;
}

static inline uint32_t pw_sat_i32_u(double x)
{
    if (x != x || x <= -1.0)
        return 0;
    if (x >= 4294967296.0)
        return UINT32_MAX;
    return (uint32_t)x;
}

static inline uint64_t pw_sat_i64_s(double x)
{
    if (x != x)
        return 0;
    if (x < -9223372036854775808.0)
        return 0x8000000000000000ull;
    if (x >= 9223372036854775808.0)
        return 0x7fffffffffffffffull;
    return (uint64_t)(int64_t)x;
}

static inline uint64_t pw_sat_i64_u(double x)
{
    if (x != x || x <= -1.0)
        return 0;
    if (x >= 18446744073709551616.0)
        return UINT64_MAX;
    return (uint64_t)x;
}

#endif /* PERCH_WASM_NUMERIC_H */
