/* harness.c: see harness.h. */
#include "harness.h"

#include "events/events.h"

#include <string.h>

int mq_fuzz_json(const uint8_t *data, size_t size) {
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size, 0, &je);
    if (!j)
        return 0;
    mq_err err;
    mq_event e;
    mq_arena a;
    mq_arena_init(&a, 4096, 1 << 20);
    if (mq_event_from_json(j, &e, "fuzz", 1700000000000LL, &err) == MQ_OK) {
        json_t *back = mq_event_to_json(&e);
        mq_event e2;
        /* What the writer writes, the reader must read back. */
        if (mq_event_from_json(back, &e2, "fuzz", 0, &err) != MQ_OK)
            __builtin_trap();
        json_decref(back);
    }
    if (json_is_array(j))
        for (size_t i = 0; i < json_array_size(j); i++)
            mq_event_from_json(json_array_get(j, i), &e, "fuzz", 0, &err);
    mq_title t;
    if (mq_title_from_json(j, &t, &a, "fuzz", &err) == MQ_OK) {
        json_t *back = mq_title_to_json(&t);
        mq_title t2;
        if (mq_title_from_json(back, &t2, &a, "fuzz", &err) != MQ_OK)
            __builtin_trap();
        json_decref(back);
    }
    mq_profile p;
    mq_profile_from_json(j, &p, &a, "fuzz", &err);
    mq_arena_free(&a);
    json_decref(j);
    return 0;
}

int mq_fuzz_text(const uint8_t *data, size_t size) {
    char buf[256];
    size_t n = size < sizeof buf - 1 ? size : sizeof buf - 1;
    memcpy(buf, data, n);
    buf[n] = '\0';
    int64_t ms, v;
    double d;
    if (mq_time_parse_rfc3339(buf, &ms) == MQ_OK) {
        char out[32];
        int64_t back;
        mq_time_format_rfc3339(ms, out, sizeof out);
        if (mq_time_parse_rfc3339(out, &back) != MQ_OK || back != ms)
            __builtin_trap();
    }
    mq_parse_i64(buf, &v);
    mq_parse_double(buf, &d);
    mq_utf8_valid((const char *)data, size);
    mq_ext_id_valid(buf);
    mq_maturity_parse(buf);
    return 0;
}
