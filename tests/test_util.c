/* test_util.c: the util module: errors, arena and buffer caps, the string map,
 * PCG determinism, RFC 3339 parsing and formatting, UTF-8 validation, config
 * precedence and messages, JSON field readers. */
#include "util/util.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

Test(err, set_prefix_and_strerror) {
    mq_err e = {0};
    cr_assert_eq(mq_err_set(&e, MQ_EINVAL, "x.%s: bad", "ts"), MQ_EINVAL);
    cr_assert_str_eq(e.msg, "x.ts: bad");
    mq_err_prefix(&e, "file:%d", 3);
    cr_assert_str_eq(e.msg, "file:3: x.ts: bad");
    cr_assert_str_eq(mq_strerror(MQ_ENOTFOUND), "not found");
    cr_assert_str_eq(mq_strerror(9999), "unknown error");
    cr_assert_eq(mq_err_set(NULL, MQ_EIO, "ignored"), MQ_EIO);
}

Test(arena, alloc_cap_reset) {
    mq_arena a;
    mq_arena_init(&a, 64, 256);
    char *s = mq_arena_strdup(&a, "hello");
    cr_assert_str_eq(s, "hello");
    cr_assert_eq((uintptr_t)s % 16, 0);
    cr_assert_not_null(mq_arena_alloc(&a, 100));
    cr_assert_null(mq_arena_alloc(&a, 200), "allocation past the cap must fail");
    mq_arena_reset(&a);
    cr_assert_eq(a.used_total, 0);
    cr_assert_not_null(mq_arena_alloc(&a, 200));
    mq_arena_free(&a);
}

Test(buf, cap_is_enforced) {
    mq_buf b;
    mq_buf_init(&b, 8);
    cr_assert_eq(mq_buf_puts(&b, "1234"), MQ_OK);
    cr_assert_eq(mq_buf_printf(&b, "%d", 5678), MQ_OK);
    cr_assert_eq(mq_buf_puts(&b, "9"), MQ_ETOOBIG);
    cr_assert_str_eq(b.data, "12345678");
    cr_assert_eq(b.len, 8);
    mq_buf_free(&b);
}

Test(buf, take_hands_over_the_contents_and_keeps_the_room) {
    mq_buf b;
    mq_buf_init(&b, 0);
    size_t len = 1;
    cr_assert_null(mq_buf_take(&b, &len), "nothing appended, nothing to take");
    cr_assert_eq(len, 0);
    char big[1000];
    memset(big, 'x', sizeof big);
    cr_assert_eq(mq_buf_append(&b, big, sizeof big), MQ_OK);
    size_t room = b.alloc;
    char *got = mq_buf_take(&b, &len);
    cr_assert_eq(len, sizeof big);
    cr_assert(memcmp(got, big, sizeof big) == 0 && got[len] == '\0');
    free(got);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.alloc, room, "the same room for the next output");
    cr_assert_str_eq(b.data, "");
    cr_assert_eq(mq_buf_puts(&b, "next"), MQ_OK);
    cr_assert_str_eq(b.data, "next");
    mq_buf_free(&b);
}

Test(strmap, put_get_remove_many) {
    mq_strmap *m = mq_strmap_create();
    char key[32];
    for (uint32_t i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "k%u", i);
        mq_strmap_put(m, key, i * 3);
    }
    cr_assert_eq(mq_strmap_count(m), 20000);
    for (uint32_t i = 0; i < 20000; i += 2) {
        snprintf(key, sizeof key, "k%u", i);
        cr_assert(mq_strmap_remove(m, key));
    }
    for (uint32_t i = 0; i < 20000; i++) {
        uint32_t v = 0;
        snprintf(key, sizeof key, "k%u", i);
        bool found = mq_strmap_get(m, key, &v);
        cr_assert_eq(found, i % 2 == 1, "key %s", key);
        if (found)
            cr_assert_eq(v, i * 3);
    }
    cr_assert_eq(mq_strmap_count(m), 10000);
    cr_assert_not(mq_strmap_remove(m, "absent"));
    mq_strmap_destroy(m);
}

Test(rng, deterministic_and_in_range) {
    mq_rng a, b;
    mq_rng_seed(&a, 42, 7);
    mq_rng_seed(&b, 42, 7);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(mq_rng_u32(&a), mq_rng_u32(&b));
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        uint32_t x = mq_rng_below(&a, 10);
        cr_assert_lt(x, 10);
        double u = mq_rng_unif(&a);
        cr_assert(u >= 0 && u < 1);
        sum += u;
    }
    cr_assert_float_eq(sum / 100000, 0.5, 0.01);
    double g = 0;
    for (int i = 0; i < 20000; i++)
        g += mq_rng_gamma(&a, 0.5);
    cr_assert_float_eq(g / 20000, 0.5, 0.03, "Gamma(0.5) has mean 0.5");
    double w[3] = {0, 1, 3};
    int counts[3] = {0};
    for (int i = 0; i < 40000; i++)
        counts[mq_rng_categorical(&a, w, 3)]++;
    cr_assert_eq(counts[0], 0);
    cr_assert_float_eq(counts[2] / 40000.0, 0.75, 0.02);
}

Test(time, rfc3339_round_trip_and_offsets) {
    int64_t ms;
    cr_assert_eq(mq_time_parse_rfc3339("1970-01-01T00:00:00Z", &ms), MQ_OK);
    cr_assert_eq(ms, 0);
    cr_assert_eq(mq_time_parse_rfc3339("2024-05-01T20:15:00.250Z", &ms), MQ_OK);
    cr_assert_eq(ms, 1714594500250LL);
    int64_t ms2;
    cr_assert_eq(mq_time_parse_rfc3339("2024-05-01T22:15:00.25+02:00", &ms2), MQ_OK);
    cr_assert_eq(ms, ms2);
    char out[32];
    mq_time_format_rfc3339(ms, out, sizeof out);
    cr_assert_str_eq(out, "2024-05-01T20:15:00.250Z");
    mq_time_format_rfc3339(951782400000LL, out, sizeof out);
    cr_assert_str_eq(out, "2000-02-29T00:00:00Z");
    const char *bad[] = {"yesterday", "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z",
                         "2024-05-01T20:15:00", "2024-05-01T25:00:00Z", "2024-05-01T20:15:00Zjunk",
                         "", "2024-5-1T20:15:00Z"};
    for (size_t i = 0; i < MQ_ARRAY_LEN(bad); i++)
        cr_assert_eq(mq_time_parse_rfc3339(bad[i], &ms), MQ_EINVAL, "%s", bad[i]);
}

Test(time, local_weekday_and_hour) {
    int wd, h;
    /* 2024-05-04 was a Saturday. 23:30 UTC is 01:30 Sunday at +02:00. */
    int64_t ms;
    mq_time_parse_rfc3339("2024-05-04T23:30:00Z", &ms);
    mq_time_local(ms, 0, &wd, &h);
    cr_assert_eq(wd, 5);
    cr_assert_eq(h, 23);
    mq_time_local(ms, 120, &wd, &h);
    cr_assert_eq(wd, 6);
    cr_assert_eq(h, 1);
}

Test(misc, utf8_and_numbers) {
    cr_assert(mq_utf8_valid("h\xc3\xa9llo", 6));
    cr_assert_not(mq_utf8_valid("\xc3\x28", 2));
    cr_assert_not(mq_utf8_valid("\xed\xa0\x80", 3), "surrogates are invalid");
    cr_assert_not(mq_utf8_valid("\xc0\xaf", 2), "overlong forms are invalid");
    int64_t v;
    double d;
    cr_assert(mq_parse_i64("-42", &v) && v == -42);
    cr_assert_not(mq_parse_i64("42x", &v));
    cr_assert_not(mq_parse_i64("99999999999999999999", &v));
    cr_assert(mq_parse_double("2.5", &d) && d == 2.5);
    cr_assert_not(mq_parse_double("inf", &d));
}

Test(config, precedence_and_messages) {
    char *dir = th_tmpdir();
    char *path = th_write(dir, "marquee.conf",
                          "# comment\nsemantics.half_life_days = 10\nthreads = 3\n");
    mq_config *c = mq_config_create();
    mq_err e = {0};
    cr_assert_float_eq(mq_config_num(c, "semantics.half_life_days"), 60, 1e-9);
    cr_assert_eq(mq_config_load_file(c, path, &e), MQ_OK, "%s", e.msg);
    cr_assert_float_eq(mq_config_num(c, "semantics.half_life_days"), 10, 1e-9);
    setenv("MARQUEE_THREADS", "5", 1);
    cr_assert_eq(mq_config_load_env(c, &e), MQ_OK);
    unsetenv("MARQUEE_THREADS");
    cr_assert_float_eq(mq_config_num(c, "threads"), 5, 1e-9, "the environment beats the file");
    cr_assert_eq(mq_config_set(c, "threads", "7", "--threads", &e), MQ_OK);
    cr_assert_float_eq(mq_config_num(c, "threads"), 7, 1e-9, "flags beat the environment");
    cr_assert_eq(mq_config_set(c, "threads", "many", "--threads", &e), MQ_EINVAL);
    cr_assert_str_eq(e.msg, "--threads: threads: expected a number, got \"many\"");
    cr_assert_eq(mq_config_set(c, "nope", "1", "--nope", &e), MQ_EINVAL);
    cr_assert(strstr(e.msg, "unknown setting \"nope\""));
    free(path);
    path = th_write(dir, "bad.conf", "threads = 2\nthreads 3\n");
    cr_assert_eq(mq_config_load_file(c, path, &e), MQ_EINVAL);
    cr_assert(strstr(e.msg, "bad.conf:2: expected `name = value`"), "%s", e.msg);
    mq_config_destroy(c);
    free(path);
    th_rmrf(dir);
    free(dir);
}

Test(json, field_readers_word_errors) {
    json_error_t je;
    json_t *o = json_loads("{\"a\": \"x\", \"n\": 5, \"big\": 1e300, \"s\": 3}", 0, &je);
    mq_err e = {0};
    const char *s;
    int64_t v;
    double d;
    cr_assert_eq(mq_json_str(o, "ev", "a", true, 10, &s, &e), MQ_OK);
    cr_assert_str_eq(s, "x");
    cr_assert_eq(mq_json_str(o, "ev", "zz", false, 10, &s, &e), MQ_ENOTFOUND);
    cr_assert_eq(mq_json_str(o, "ev", "zz", true, 10, &s, &e), MQ_EINVAL);
    cr_assert_str_eq(e.msg, "ev.zz: expected a string of at most 10 bytes, got nothing (the "
                            "field is required)");
    cr_assert_eq(mq_json_str(o, "ev", "s", true, 10, &s, &e), MQ_EINVAL);
    cr_assert_str_eq(e.msg, "ev.s: expected a string of at most 10 bytes, got 3");
    cr_assert_eq(mq_json_int(o, "ev", "n", true, 0, 4, &v, &e), MQ_EINVAL);
    cr_assert_str_eq(e.msg, "ev.n: expected an integer from 0 to 4, got 5");
    cr_assert_eq(mq_json_num(o, "ev", "big", true, 0, 1e6, &d, &e), MQ_EINVAL);
    json_decref(o);
}
