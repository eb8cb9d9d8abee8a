/*
 * interp_goto.c: the interpreter as threaded code: each handler jumps
 * straight to the next through a table of label addresses (a GNU C
 * extension, hence the pedantic warning turned off for this file only).
 * Built with PW_NO_GOTO, or by a compiler without the extension, it is the
 * switch interpreter under another name.
 */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(PW_NO_GOTO)
#pragma GCC diagnostic ignored "-Wpedantic"
#define PW_USE_GOTO 1
#else
#define PW_USE_GOTO 0
#endif
#define PW_RUN_NAME pw_run_goto
#include "wasm/interp_loop.h"

const bool pw_have_goto = PW_USE_GOTO;
