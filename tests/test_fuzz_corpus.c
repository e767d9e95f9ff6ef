/* test_fuzz_corpus.c: replays the fuzz corpus (fuzz/corpus/) through the fuzz
 * harnesses, so every input that once found a bug, or that seeds the fuzzer,
 * stays a regression test (and runs under ASan + UBSan in CI). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>

#include "../fuzz/harness.c"
#include "helpers.h"

static int replay(const char *sub, int (*fn)(const uint8_t *, size_t)) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", MQ_SOURCE_DIR, sub);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s is missing", dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len;
        char *buf = th_read(path, &len);
        cr_assert_not_null(buf);
        fn((const uint8_t *)buf, len);
        /* Every prefix too: truncated input is the commonest malformed input. */
        for (size_t k = 0; k < len; k += 7)
            fn((const uint8_t *)buf, k);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

Test(fuzz_corpus, json) {
    cr_assert_gt(replay("json", mq_fuzz_json), 0);
}

Test(fuzz_corpus, text) {
    cr_assert_gt(replay("time", mq_fuzz_text), 0);
}
