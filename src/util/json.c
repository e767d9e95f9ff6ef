/* json.c: typed field readers over jansson objects that word every error the same
 * way ("events[3].ts: expected ..., got ..."), so messages are consistent across
 * importers and the HTTP API. */
#include "util.h"

#include <math.h>
#include <string.h>

void mq_json_describe(const json_t *v, char *out, size_t n) {
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len = strlen(s);
        if (len > 40)
            snprintf(out, n, "\"%.37s...\"", s);
        else
            snprintf(out, n, "\"%s\"", s);
        break;
    }
    case JSON_INTEGER:
        snprintf(out, n, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        snprintf(out, n, "%g", json_real_value(v));
        break;
    case JSON_TRUE:
        snprintf(out, n, "true");
        break;
    case JSON_FALSE:
        snprintf(out, n, "false");
        break;
    case JSON_NULL:
        snprintf(out, n, "null");
        break;
    case JSON_OBJECT:
        snprintf(out, n, "an object");
        break;
    case JSON_ARRAY:
        snprintf(out, n, "an array");
        break;
    }
}

/* The expectation ("an integer from 0 to 10") is formatted only when a message
 * needs it: these readers run for every field of every ingested event, and
 * formatting it eagerly cost more than the rest of the validation. */
typedef struct {
    char text[96];
} what_buf;

static const char *what_str(what_buf *w, size_t max_len) {
    snprintf(w->text, sizeof w->text, "a string of at most %zu bytes", max_len);
    return w->text;
}

static const char *what_int(what_buf *w, int64_t min, int64_t max) {
    snprintf(w->text, sizeof w->text, "an integer from %lld to %lld", (long long)min,
             (long long)max);
    return w->text;
}

static const char *what_num(what_buf *w, double min, double max) {
    snprintf(w->text, sizeof w->text, "a number from %g to %g", min, max);
    return w->text;
}

static int absent(const char *where, const char *name, bool required, const char *what,
                  mq_err *err) {
    if (!required)
        return MQ_ENOTFOUND;
    return mq_err_set(err, MQ_EINVAL, "%s.%s: expected %s, got nothing (the field is required)",
                      where, name, what);
}

static int mismatch(const char *where, const char *name, const char *what, const json_t *v,
                    mq_err *err) {
    char got[64];
    mq_json_describe(v, got, sizeof got);
    return mq_err_set(err, MQ_EINVAL, "%s.%s: expected %s, got %s", where, name, what, got);
}

int mq_json_str(const json_t *o, const char *where, const char *name, bool required,
                size_t max_len, const char **out, mq_err *err) {
    what_buf w;
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return absent(where, name, required, required ? what_str(&w, max_len) : "", err);
    if (!json_is_string(v) || json_string_length(v) > max_len)
        return mismatch(where, name, what_str(&w, max_len), v, err);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return mq_err_set(err, MQ_EINVAL, "%s.%s: expected %s, got a string with a NUL byte",
                          where, name, what_str(&w, max_len));
    *out = json_string_value(v);
    return MQ_OK;
}

int mq_json_int(const json_t *o, const char *where, const char *name, bool required,
                int64_t min, int64_t max, int64_t *out, mq_err *err) {
    what_buf w;
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return absent(where, name, required, required ? what_int(&w, min, max) : "", err);
    int64_t x;
    if (json_is_integer(v))
        x = json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
             fabs(json_real_value(v)) < 9e15)
        x = (int64_t)json_real_value(v);
    else
        return mismatch(where, name, what_int(&w, min, max), v, err);
    if (x < min || x > max)
        return mismatch(where, name, what_int(&w, min, max), v, err);
    *out = x;
    return MQ_OK;
}

int mq_json_num(const json_t *o, const char *where, const char *name, bool required,
                double min, double max, double *out, mq_err *err) {
    what_buf w;
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return absent(where, name, required, required ? what_num(&w, min, max) : "", err);
    if (!json_is_number(v))
        return mismatch(where, name, what_num(&w, min, max), v, err);
    double x = json_number_value(v);
    if (!isfinite(x) || x < min || x > max)
        return mismatch(where, name, what_num(&w, min, max), v, err);
    *out = x;
    return MQ_OK;
}
