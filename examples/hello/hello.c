/*
 * hello: a WASI command that greets whoever HELLO_NAME names. Its manifest
 * asks for that one variable and a little memory, nothing else.
 *
 *     perch wasm inspect hello.wasm
 *     perch wasm run --accept-manifest --env HELLO_NAME=auditor hello.wasm
 */
#include <stdio.h>
#include <stdlib.h>

#include <perch/manifest.h>

PERCH_MANIFEST(
    PERCH_NAME("hello"),
    PERCH_VERSION("1.0.0"),
    PERCH_NEEDS_ENV("HELLO_NAME"),
    PERCH_MEMORY_MAX(PERCH_MIB(1)));

int main(void)
{
    const char *name = getenv("HELLO_NAME");
    printf("hello, %s\n", name && *name ? name : "world");
    return 0;
}
