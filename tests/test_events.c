/* test_events.c: event parsing and validation (messages name index, field,
 * expectation and what was found), the JSON round trip, and the semantics table. */
#include "events/events.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

static json_t *parse(const char *text) {
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    cr_assert_not_null(j, "test JSON does not parse: %s", je.text);
    return j;
}

/* Parses one event and returns the error code; err gets the message. */
static int try_event(const char *text, mq_event *e, mq_err *err) {
    json_t *j = parse(text);
    int rc = mq_event_from_json(j, e, "events[3]", 1700000000000LL, err);
    json_decref(j);
    return rc;
}

Test(events, impression_parses_every_field) {
    json_t *j = parse("{\"event_id\":\"e1\",\"profile\":\"296\",\"type\":\"impression\","
                      "\"ts\":\"2023-11-14T22:13:20Z\",\"title\":\"1\",\"context\":{\"device\":"
                      "\"tv\",\"tz_offset_min\":60,\"country\":\"FR\"},\"page_id\":\"pg\","
                      "\"row_id\":\"r1\",\"row_pos\":2,\"col_pos\":4,\"artwork_id\":\"a3\","
                      "\"synopsis_id\":\"s1\",\"label\":\"New\",\"propensity\":0.25}");
    mq_event e;
    mq_err err = {0};
    cr_assert_eq(mq_event_from_json(j, &e, "events[0]", 1700000000000LL, &err), MQ_OK, "%s",
                 err.msg);
    cr_assert_eq(e.type, MQ_EV_IMPRESSION);
    cr_assert_str_eq(e.profile, "296");
    cr_assert_str_eq(e.title, "1");
    cr_assert_eq(e.ts_ms, 1700000000000LL);
    cr_assert_eq(e.device, MQ_DEVICE_TV);
    cr_assert_eq(e.tz_offset_min, 60);
    cr_assert_str_eq(e.country, "FR");
    cr_assert_eq(e.row_pos, 2);
    cr_assert_eq(e.col_pos, 4);
    cr_assert_float_eq(e.propensity, 0.25, 1e-12);
    int wd, h;
    mq_event_local_time(&e, &wd, &h);
    cr_assert_eq(h, 23); /* 22:13 UTC at +01:00 */
    cr_assert_eq(wd, 1); /* Tuesday */

    /* Round trip through the JSON writer. */
    json_t *out = mq_event_to_json(&e);
    mq_event e2;
    cr_assert_eq(mq_event_from_json(out, &e2, "rt", 0, &err), MQ_OK, "%s", err.msg);
    cr_assert_eq(e2.ts_ms, e.ts_ms);
    cr_assert_str_eq(e2.artwork_id, "a3");
    cr_assert_str_eq(e2.synopsis_id, "s1");
    cr_assert_str_eq(e2.label, "New");
    cr_assert_eq(e2.device, e.device);
    json_decref(out);
    json_decref(j);
}

Test(events, epoch_milliseconds_and_minimal_types) {
    mq_event e;
    mq_err err = {0};
    cr_assert_eq(try_event("{\"event_id\":\"x\",\"profile\":\"p\",\"type\":\"search\",\"ts\":"
                           "1700000000000,\"query\":\"heist\"}",
                           &e, &err),
                 MQ_OK, "%s", err.msg);
    cr_assert_null(e.title);
    cr_assert_eq(try_event("{\"event_id\":\"x\",\"profile\":\"p\",\"type\":\"thumbs\",\"ts\":1,"
                           "\"title\":\"t\",\"value\":\"down\"}",
                           &e, &err),
                 MQ_OK, "%s", err.msg);
    cr_assert_eq(e.value, MQ_THUMB_DOWN);
    cr_assert_eq(try_event("{\"event_id\":\"x\",\"profile\":\"p\",\"type\":\"row_scroll\","
                           "\"ts\":1,\"page_id\":\"pg\",\"row_id\":\"r\",\"row_pos\":3,"
                           "\"direction\":\"past\"}",
                           &e, &err),
                 MQ_OK, "%s", err.msg);
    cr_assert_eq(e.direction, MQ_DIR_PAST);
}

Test(events, errors_name_index_field_expected_and_found) {
    mq_event e;
    mq_err err = {0};
    struct {
        const char *json, *msg;
    } cases[] = {
        {"{\"event_id\":\"x\",\"profile\":\"p\",\"type\":\"rating\",\"ts\":\"yesterday\","
         "\"title\":\"t\",\"value\":4}",
         "events[3].ts: expected RFC 3339 or epoch milliseconds, got \"yesterday\""},
        {"{\"event_id\":\"x\",\"profile\":\"p\",\"type\":\"rating\",\"ts\":1,\"title\":\"t\","
         "\"value\":7}",
         "events[3].value: expected a number from 0.5 to 5, got 7"},
        {"{\"event_id\":\"x\",\"profile\":\"p\",\"type\":\"dance\",\"ts\":1}",
         "events[3].type: expected one of impression"},
        {"{\"event_id\":\"x\",\"profile\":\"p\",\"type\":\"play_start\",\"ts\":1}",
         "events[3].title: expected a string of at most 128 bytes, got nothing"},
        {"{\"event_id\":\"x\",\"profile\":\"p\",\"type\":\"play_start\",\"ts\":1,\"title\":\"t\","
         "\"position_s\":1e300}",
         "events[3].position_s: expected a number from 0 to 1e+06, got 1e+300"},
        {"{\"event_id\":\"x\",\"profile\":\"p\",\"type\":\"click\",\"ts\":1,\"title\":\"t\","
         "\"page_id\":\"pg\",\"row_id\":\"r\",\"row_pos\":\"two\",\"col_pos\":1}",
         "events[3].row_pos: expected an integer from 0 to 100000, got \"two\""},
        {"{\"event_id\":\"x\",\"profile\":\"p\",\"type\":\"search\",\"ts\":\"2999-01-01T00:00:00Z\","
         "\"query\":\"q\"}",
         "events[3].ts: expected a time no more than 24 hours in the future"},
        {"{\"event_id\":\"x\",\"profile\":\"p\",\"type\":\"search\",\"ts\":1,\"query\":\"q\","
         "\"context\":{\"device\":\"fridge\"}}",
         "events[3].context.device: expected \"tv\", \"phone\", \"tablet\" or \"web\", got "
         "\"fridge\""},
        {"{\"profile\":\"p\",\"type\":\"search\",\"ts\":1,\"query\":\"q\"}",
         "events[3].event_id: expected a string"},
        {"[1,2]", "events[3]: expected an event object, got an array"},
        {"{\"event_id\":\"x\",\"profile\":\"p\",\"type\":\"thumbs\",\"ts\":1,\"title\":\"t\","
         "\"value\":\"meh\"}",
         "events[3].value: expected \"up\", \"down\" or \"none\", got \"meh\""},
    };
    for (size_t i = 0; i < MQ_ARRAY_LEN(cases); i++) {
        cr_assert_eq(try_event(cases[i].json, &e, &err), MQ_EINVAL, "case %zu accepted", i);
        cr_assert(strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) == 0,
                  "case %zu:\n got  %s\n want %s", i, err.msg, cases[i].msg);
    }
}

Test(events, type_table_is_consistent) {
    for (int t = 0; t < MQ_EV_COUNT; t++)
        cr_assert_eq(mq_event_type_parse(mq_event_type_name((mq_event_type)t)), t);
    cr_assert_eq(mq_event_type_parse("nope"), -1);
    cr_assert_eq(mq_device_parse("phone"), MQ_DEVICE_PHONE);
    cr_assert_eq(mq_device_parse("unknown"), -1);
}

Test(semantics, ratings_thumbs_plays) {
    mq_semantics s;
    mq_semantics_defaults(&s);
    mq_event e;
    mq_event_init(&e);
    e.type = MQ_EV_RATING;
    e.value = 4;
    mq_signal g = mq_semantics_event(&s, &e);
    cr_assert(g.positive && g.confidence > 0);
    e.value = 5;
    cr_assert_gt(mq_semantics_event(&s, &e).confidence, g.confidence, "5 stars beat 4");
    e.value = 3.5;
    cr_assert_not(mq_semantics_event(&s, &e).positive, "3.5 stars is not a positive");
    e.value = 1;
    cr_assert_gt(mq_semantics_event(&s, &e).negative, 0);

    e.type = MQ_EV_THUMBS;
    e.value = MQ_THUMB_DOWN;
    g = mq_semantics_event(&s, &e);
    cr_assert(!g.positive && g.negative > 0 && g.confidence == 0);

    g = mq_semantics_play(&s, 0.02, false);
    cr_assert_gt(g.negative, 0, "an early abandon is a negative");
    g = mq_semantics_play(&s, 0.95, false);
    cr_assert(g.positive, "a completion is a positive");
    mq_signal rw = mq_semantics_play(&s, 0.95, true);
    cr_assert_gt(rw.confidence, g.confidence, "a rewatch adds confidence");
    mq_signal half = mq_semantics_play(&s, 0.5, false);
    cr_assert(!half.positive && half.confidence > 0 && half.confidence < g.confidence);

    cr_assert_float_eq(mq_semantics_decay(&s, (int64_t)(s.half_life_days * 86400000.0)), 0.5,
                       1e-9);
    cr_assert_float_eq(mq_semantics_decay(&s, 0), 1.0, 1e-12);
}

Test(semantics, thresholds_come_from_config) {
    mq_config *c = mq_config_create();
    mq_err err = {0};
    cr_assert_eq(mq_config_set(c, "semantics.rating_positive", "4.5", "test", &err), MQ_OK);
    mq_semantics s;
    mq_semantics_from_config(&s, c);
    mq_event e;
    mq_event_init(&e);
    e.type = MQ_EV_RATING;
    e.value = 4;
    cr_assert_not(mq_semantics_event(&s, &e).positive);
    mq_config_destroy(c);
}
