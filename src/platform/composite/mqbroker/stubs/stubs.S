/* musqratt broker interface: one synchronous-invocation stub per function. */
#include <cos_asm_stubs.h>

cos_asm_stub(mqbroker_attach)
cos_asm_stub(mqbroker_thdid)
