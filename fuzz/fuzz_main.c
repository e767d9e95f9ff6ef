/* fuzz_main.c: libFuzzer entry points; FUZZ_TARGET selects the harness. */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return FUZZ_TARGET(data, size);
}
