/* interp_switch.c: the interpreter dispatching through a switch, for
 * compilers without computed goto and as the tested fallback. */
#define PW_RUN_NAME pw_run_switch
#define PW_USE_GOTO 0
#include "wasm/interp_loop.h"
