/* event.c: the event type table, and the JSON form of an event: parsing with
 * validation (every message names the event, field, expectation and what was
 * found), and writing. */
#include "events.h"

#include <math.h>
#include <string.h>

static const struct {
    const char *name;
    unsigned fields;
} types[] = {
#define MQ_EV_ROW(e, name, fields) {name, fields},
    MQ_EVENT_TYPES(MQ_EV_ROW)
#undef MQ_EV_ROW
};

static const char *const devices[] = {"unknown", "tv", "phone", "tablet", "web"};

const char *mq_event_type_name(mq_event_type t) {
    return (unsigned)t < MQ_EV_COUNT ? types[t].name : "unknown";
}

int mq_event_type_parse(const char *s) {
    for (int i = 0; i < MQ_EV_COUNT; i++)
        if (strcmp(types[i].name, s) == 0)
            return i;
    return -1;
}

unsigned mq_event_type_fields(mq_event_type t) {
    return (unsigned)t < MQ_EV_COUNT ? types[t].fields : 0;
}

const char *mq_device_name(mq_device d) {
    return (unsigned)d < MQ_DEVICE_COUNT ? devices[d] : "unknown";
}

int mq_device_parse(const char *s) {
    for (int i = 1; i < MQ_DEVICE_COUNT; i++)
        if (strcmp(devices[i], s) == 0)
            return i;
    return -1;
}

void mq_event_init(mq_event *e) {
    memset(e, 0, sizeof *e);
    e->row_pos = e->col_pos = -1;
    e->propensity = e->position_s = e->duration_s = e->value = NAN;
}

void mq_event_local_time(const mq_event *e, int *weekday, int *hour) {
    mq_time_local(e->ts_ms, e->tz_offset_min, weekday, hour);
}

/* ------------------------------------------------------------------ parse ---- */

#define MAX_POS 100000
#define MAX_SECONDS 1e6 /* 277 hours: longer than any title or episode */

/* Reads an optional/required string field into *out; absent leaves *out NULL. */
static int str_field(const json_t *o, const char *where, const char *name, bool required,
                     size_t max, const char **out, mq_err *err) {
    int rc = mq_json_str(o, where, name, required, max, out, err);
    if (rc == MQ_ENOTFOUND)
        return MQ_OK;
    if (rc == MQ_OK && !mq_utf8_valid(*out, strlen(*out)))
        return mq_err_set(err, MQ_EINVAL, "%s.%s: expected UTF-8 text, got invalid bytes", where,
                          name);
    return rc;
}

static int int_field(const json_t *o, const char *where, const char *name, bool required,
                     int32_t *out, mq_err *err) {
    int64_t v;
    int rc = mq_json_int(o, where, name, required, 0, MAX_POS, &v, err);
    if (rc == MQ_ENOTFOUND)
        return MQ_OK;
    if (rc == MQ_OK)
        *out = (int32_t)v;
    return rc;
}

static int num_field(const json_t *o, const char *where, const char *name, bool required,
                     double lo, double hi, double *out, mq_err *err) {
    int rc = mq_json_num(o, where, name, required, lo, hi, out, err);
    return rc == MQ_ENOTFOUND ? MQ_OK : rc;
}

static int parse_ts(const json_t *o, const char *where, int64_t *out, mq_err *err) {
    json_t *v = json_object_get(o, "ts");
    char got[64];
    if (!v || json_is_null(v))
        return mq_err_set(err, MQ_EINVAL,
                          "%s.ts: expected RFC 3339 or epoch milliseconds, got nothing (the field "
                          "is required)",
                          where);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return MQ_OK;
    }
    if (json_is_real(v) && isfinite(json_real_value(v)) && fabs(json_real_value(v)) < 9e15) {
        *out = (int64_t)json_real_value(v);
        return MQ_OK;
    }
    if (json_is_string(v) && mq_time_parse_rfc3339(json_string_value(v), out) == MQ_OK)
        return MQ_OK;
    mq_json_describe(v, got, sizeof got);
    return mq_err_set(err, MQ_EINVAL, "%s.ts: expected RFC 3339 or epoch milliseconds, got %s",
                      where, got);
}

static int parse_context(const json_t *o, mq_event *e, const char *where, mq_err *err) {
    json_t *ctx = json_object_get(o, "context");
    char got[64], path[160];
    if (!ctx || json_is_null(ctx))
        return MQ_OK;
    if (!json_is_object(ctx)) {
        mq_json_describe(ctx, got, sizeof got);
        return mq_err_set(err, MQ_EINVAL, "%s.context: expected an object, got %s", where, got);
    }
    snprintf(path, sizeof path, "%s.context", where);
    const char *s;
    int64_t v;
    int rc = mq_json_str(ctx, path, "device", false, 16, &s, err);
    if (rc == MQ_OK) {
        int d = mq_device_parse(s);
        if (d < 0)
            return mq_err_set(err, MQ_EINVAL,
                              "%s.device: expected \"tv\", \"phone\", \"tablet\" or \"web\", got "
                              "\"%s\"",
                              path, s);
        e->device = (mq_device)d;
    } else if (rc != MQ_ENOTFOUND)
        return rc;
    rc = mq_json_int(ctx, path, "tz_offset_min", false, -14 * 60, 14 * 60, &v, err);
    if (rc == MQ_OK)
        e->tz_offset_min = (int16_t)v;
    else if (rc != MQ_ENOTFOUND)
        return rc;
    rc = mq_json_str(ctx, path, "country", false, 3, &s, err);
    if (rc == MQ_OK)
        snprintf(e->country, sizeof e->country, "%s", s);
    else if (rc != MQ_ENOTFOUND)
        return rc;
    return MQ_OK;
}

static int parse_value(const json_t *o, mq_event *e, unsigned f, const char *where,
                       mq_err *err) {
    json_t *v = json_object_get(o, "value");
    char got[64];
    if (f & MQ_F_THUMB) {
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        if (s && strcmp(s, "up") == 0)
            e->value = MQ_THUMB_UP;
        else if (s && strcmp(s, "down") == 0)
            e->value = MQ_THUMB_DOWN;
        else if (s && strcmp(s, "none") == 0)
            e->value = MQ_THUMB_NONE;
        else {
            if (v)
                mq_json_describe(v, got, sizeof got);
            else
                snprintf(got, sizeof got, "nothing (the field is required)");
            return mq_err_set(err, MQ_EINVAL,
                              "%s.value: expected \"up\", \"down\" or \"none\", got %s", where, got);
        }
    } else if (f & MQ_F_STARS) {
        return mq_json_num(o, where, "value", true, 0.5, 5, &e->value, err);
    }
    return MQ_OK;
}

int mq_event_from_json(const json_t *o, mq_event *e, const char *where, int64_t now_ms,
                       mq_err *err) {
    mq_event_init(e);
    char got[64];
    if (!json_is_object(o)) {
        mq_json_describe(o, got, sizeof got);
        return mq_err_set(err, MQ_EINVAL, "%s: expected an event object, got %s", where, got);
    }
    const char *type;
    int rc;
    if ((rc = str_field(o, where, "event_id", true, MQ_EVENT_ID_MAX, &e->event_id, err)) ||
        (rc = str_field(o, where, "profile", true, MQ_ID_MAX_LEN, &e->profile, err)) ||
        (rc = mq_json_str(o, where, "type", true, 32, &type, err)))
        return rc;
    int t = mq_event_type_parse(type);
    if (t < 0)
        return mq_err_set(err, MQ_EINVAL,
                          "%s.type: expected one of impression, click, play_start, pause, seek, "
                          "play_progress, play_stop, complete, search, search_click, thumbs, "
                          "rating, row_scroll, list_add, list_remove; got \"%s\"",
                          where, type);
    e->type = (mq_event_type)t;
    unsigned f = types[t].fields;
    if ((rc = parse_ts(o, where, &e->ts_ms, err)) || (rc = parse_context(o, e, where, err)))
        return rc;
    bool page = f & (MQ_F_PAGE | MQ_F_ROW);
    if ((rc = str_field(o, where, "title", f & MQ_F_TITLE, MQ_ID_MAX_LEN, &e->title, err)) ||
        (rc = str_field(o, where, "page_id", page, MQ_ID_MAX_LEN, &e->page_id, err)) ||
        (rc = str_field(o, where, "row_id", page, MQ_ID_MAX_LEN, &e->row_id, err)) ||
        (rc = int_field(o, where, "row_pos", page, &e->row_pos, err)) ||
        (rc = int_field(o, where, "col_pos", f & MQ_F_PAGE, &e->col_pos, err)) ||
        (rc = str_field(o, where, "artwork_id", f & MQ_F_ARTWORK, MQ_ID_MAX_LEN, &e->artwork_id,
                        err)) ||
        (rc = str_field(o, where, "synopsis_id", false, MQ_ID_MAX_LEN, &e->synopsis_id, err)) ||
        (rc = str_field(o, where, "label", false, MQ_ID_MAX_LEN, &e->label, err)) ||
        (rc = str_field(o, where, "query", f & MQ_F_QUERY, MQ_QUERY_MAX, &e->query, err)) ||
        (rc = num_field(o, where, "propensity", false, 1e-9, 1, &e->propensity, err)) ||
        (rc = num_field(o, where, "position_s", f & MQ_F_POSITION, 0, MAX_SECONDS,
                        &e->position_s, err)) ||
        (rc = num_field(o, where, "duration_s", f & MQ_F_DURATION, 1e-3, MAX_SECONDS,
                        &e->duration_s, err)) ||
        (rc = parse_value(o, e, f, where, err)))
        return rc;
    if (f & MQ_F_DIRECTION) {
        const char *d = NULL;
        rc = mq_json_str(o, where, "direction", true, 16, &d, err);
        if (rc)
            return rc;
        if (strcmp(d, "past") == 0)
            e->direction = MQ_DIR_PAST;
        else if (strcmp(d, "along") == 0)
            e->direction = MQ_DIR_ALONG;
        else
            return mq_err_set(err, MQ_EINVAL,
                              "%s.direction: expected \"past\" or \"along\", got \"%s\"", where, d);
    }
    return mq_event_validate(e, where, now_ms, err);
}

int mq_event_validate(const mq_event *e, const char *where, int64_t now_ms, mq_err *err) {
    if ((unsigned)e->type >= MQ_EV_COUNT)
        return mq_err_set(err, MQ_EINVAL, "%s.type: expected a known event type", where);
    unsigned f = types[e->type].fields;
    if (!e->event_id || !*e->event_id)
        return mq_err_set(err, MQ_EINVAL, "%s.event_id: expected a non-empty string", where);
    if (!e->profile || !mq_ext_id_valid(e->profile))
        return mq_err_set(err, MQ_EINVAL,
                          "%s.profile: expected 1-128 bytes without control characters, got \"%s\"",
                          where, e->profile ? e->profile : "");
    if ((f & MQ_F_TITLE) && (!e->title || !mq_ext_id_valid(e->title)))
        return mq_err_set(err, MQ_EINVAL,
                          "%s.title: expected 1-128 bytes without control characters, got \"%s\"",
                          where, e->title ? e->title : "");
    if (e->ts_ms < MQ_TS_MIN_MS)
        return mq_err_set(err, MQ_EINVAL, "%s.ts: expected a time after 1970-01-01, got %lld ms",
                          where, (long long)e->ts_ms);
    if (now_ms && e->ts_ms > now_ms + MQ_TS_FUTURE_SLACK_MS) {
        char ts[32];
        mq_time_format_rfc3339(e->ts_ms, ts, sizeof ts);
        return mq_err_set(err, MQ_EINVAL,
                          "%s.ts: expected a time no more than 24 hours in the future, got %s",
                          where, ts);
    }
    if ((f & MQ_F_PAGE) && (e->row_pos < 0 || e->col_pos < 0))
        return mq_err_set(err, MQ_EINVAL, "%s: expected row_pos and col_pos", where);
    if ((f & (MQ_F_PAGE | MQ_F_ROW)) && (!e->page_id || !e->row_id))
        return mq_err_set(err, MQ_EINVAL, "%s: expected page_id and row_id", where);
    if ((f & MQ_F_ARTWORK) && !e->artwork_id)
        return mq_err_set(err, MQ_EINVAL, "%s.artwork_id: expected a string", where);
    if ((f & MQ_F_POSITION) && !(e->position_s >= 0))
        return mq_err_set(err, MQ_EINVAL, "%s.position_s: expected seconds >= 0", where);
    if ((f & MQ_F_DURATION) && !(e->duration_s > 0))
        return mq_err_set(err, MQ_EINVAL, "%s.duration_s: expected seconds > 0", where);
    if ((f & MQ_F_QUERY) && (!e->query || !*e->query))
        return mq_err_set(err, MQ_EINVAL, "%s.query: expected a non-empty string", where);
    if ((f & MQ_F_STARS) && !(e->value >= 0.5 && e->value <= 5))
        return mq_err_set(err, MQ_EINVAL, "%s.value: expected a number from 0.5 to 5, got %g",
                          where, e->value);
    if ((f & MQ_F_THUMB) && !(e->value == MQ_THUMB_UP || e->value == MQ_THUMB_DOWN ||
                              e->value == MQ_THUMB_NONE))
        return mq_err_set(err, MQ_EINVAL, "%s.value: expected up, down or none", where);
    if ((f & MQ_F_DIRECTION) && e->direction == MQ_DIR_NONE)
        return mq_err_set(err, MQ_EINVAL, "%s.direction: expected \"past\" or \"along\"", where);
    return MQ_OK;
}

/* ------------------------------------------------------------------ write ---- */

json_t *mq_event_to_json(const mq_event *e) {
    json_t *o = json_object();
    char ts[32];
    unsigned f = mq_event_type_fields(e->type);
    json_object_set_new(o, "event_id", json_string(e->event_id));
    json_object_set_new(o, "profile", json_string(e->profile));
    json_object_set_new(o, "type", json_string(mq_event_type_name(e->type)));
    mq_time_format_rfc3339(e->ts_ms, ts, sizeof ts);
    json_object_set_new(o, "ts", json_string(ts));
    if (e->title)
        json_object_set_new(o, "title", json_string(e->title));
    if (e->device || e->tz_offset_min || e->country[0]) {
        json_t *ctx = json_object();
        if (e->device)
            json_object_set_new(ctx, "device", json_string(mq_device_name(e->device)));
        if (e->tz_offset_min)
            json_object_set_new(ctx, "tz_offset_min", json_integer(e->tz_offset_min));
        if (e->country[0])
            json_object_set_new(ctx, "country", json_string(e->country));
        json_object_set_new(o, "context", ctx);
    }
    if (e->page_id)
        json_object_set_new(o, "page_id", json_string(e->page_id));
    if (e->row_id)
        json_object_set_new(o, "row_id", json_string(e->row_id));
    if (e->row_pos >= 0)
        json_object_set_new(o, "row_pos", json_integer(e->row_pos));
    if (e->col_pos >= 0)
        json_object_set_new(o, "col_pos", json_integer(e->col_pos));
    if (e->artwork_id)
        json_object_set_new(o, "artwork_id", json_string(e->artwork_id));
    if (e->synopsis_id)
        json_object_set_new(o, "synopsis_id", json_string(e->synopsis_id));
    if (e->label)
        json_object_set_new(o, "label", json_string(e->label));
    if (!isnan(e->propensity))
        json_object_set_new(o, "propensity", json_real(e->propensity));
    if (!isnan(e->position_s))
        json_object_set_new(o, "position_s", json_real(e->position_s));
    if (!isnan(e->duration_s))
        json_object_set_new(o, "duration_s", json_real(e->duration_s));
    if (e->query)
        json_object_set_new(o, "query", json_string(e->query));
    if (f & MQ_F_THUMB)
        json_object_set_new(o, "value", json_string(e->value > 0   ? "up"
                                                    : e->value < 0 ? "down"
                                                                   : "none"));
    else if (f & MQ_F_STARS)
        json_object_set_new(o, "value", json_real(e->value));
    if (e->direction)
        json_object_set_new(o, "direction",
                            json_string(e->direction == MQ_DIR_PAST ? "past" : "along"));
    return o;
}
