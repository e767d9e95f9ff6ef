/* title.c: titles and profiles to and from their JSON form (docs/data-model.md),
 * with validation that names the input, field, expectation and what was found. */
#include "catalog.h"

#include <string.h>
#include <strings.h>

bool mq_ext_id_valid(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > MQ_ID_MAX_LEN || !mq_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

int mq_maturity_parse(const char *s) {
    static const struct {
        const char *name;
        int age;
    } map[] = {{"G", 0},      {"TV-Y", 0},   {"TV-G", 0},   {"ALL", 0},    {"TV-Y7", 7},
               {"PG", 7},     {"TV-PG", 7},  {"PG-13", 13}, {"TV-14", 13}, {"R", 16},
               {"TV-MA", 18}, {"NC-17", 18}, {"18+", 18},   {"16+", 16},   {"13+", 13},
               {"7+", 7}};
    for (size_t i = 0; i < MQ_ARRAY_LEN(map); i++)
        if (strcasecmp(map[i].name, s) == 0)
            return map[i].age;
    int64_t v;
    if (mq_parse_i64(s, &v) && v >= 0 && v <= 21)
        return (int)v;
    return -1;
}

mq_strlist mq_strlist_split(const char *s, char sep, mq_arena *a) {
    mq_strlist l = {0};
    if (!s || !*s)
        return l;
    uint32_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == sep;
    l.items = mq_arena_alloc(a, n * sizeof(char *));
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == sep || !*p) {
            if (p > start)
                l.items[l.n++] = mq_arena_strndup(a, start, (size_t)(p - start));
            if (!*p)
                break;
            start = p + 1;
        }
    }
    return l;
}

bool mq_strlist_has(const mq_strlist *l, const char *s) {
    for (uint32_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], s) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------- from JSON ---- */

static int strlist_from_json(const json_t *o, const char *where, const char *name,
                             mq_strlist *out, mq_arena *a, mq_err *err) {
    json_t *v = json_object_get(o, name);
    *out = (mq_strlist){0};
    if (!v || json_is_null(v))
        return MQ_OK;
    char got[64];
    if (!json_is_array(v)) {
        mq_json_describe(v, got, sizeof got);
        return mq_err_set(err, MQ_EINVAL, "%s.%s: expected an array of strings, got %s", where,
                          name, got);
    }
    size_t n = json_array_size(v);
    if (n > 1000)
        return mq_err_set(err, MQ_EINVAL, "%s.%s: expected at most 1000 items, got %zu", where,
                          name, n);
    out->items = mq_arena_alloc(a, (n ? n : 1) * sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || json_string_length(e) > 256 || json_string_length(e) == 0) {
            mq_json_describe(e, got, sizeof got);
            return mq_err_set(err, MQ_EINVAL,
                              "%s.%s[%zu]: expected a non-empty string of at most 256 bytes, "
                              "got %s",
                              where, name, i, got);
        }
        out->items[out->n++] = mq_arena_strdup(a, json_string_value(e));
    }
    return MQ_OK;
}

static int assets_from_json(const json_t *o, const char *where, const char *name, bool text,
                            mq_asset **out, uint32_t *n_out, mq_arena *a, mq_err *err) {
    json_t *v = json_object_get(o, name);
    *out = NULL;
    *n_out = 0;
    if (!v || json_is_null(v))
        return MQ_OK;
    char got[64], path[256];
    if (!json_is_array(v) || json_array_size(v) > 64) {
        mq_json_describe(v, got, sizeof got);
        return mq_err_set(err, MQ_EINVAL, "%s.%s: expected an array of at most 64 objects, got %s",
                          where, name, got);
    }
    size_t n = json_array_size(v);
    *out = mq_arena_alloc(a, (n ? n : 1) * sizeof(mq_asset));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        snprintf(path, sizeof path, "%s.%s[%zu]", where, name, i);
        if (!json_is_object(e)) {
            mq_json_describe(e, got, sizeof got);
            return mq_err_set(err, MQ_EINVAL, "%s: expected an object, got %s", path, got);
        }
        mq_asset *as = &(*out)[i];
        memset(as, 0, sizeof *as);
        const char *id, *txt;
        int rc = mq_json_str(e, path, "id", true, MQ_ID_MAX_LEN, &id, err);
        if (rc)
            return rc;
        as->id = mq_arena_strdup(a, id);
        if (text) {
            if ((rc = mq_json_str(e, path, "text", true, 4096, &txt, err)))
                return rc;
            as->text = mq_arena_strdup(a, txt);
        }
        if ((rc = strlist_from_json(e, path, "tags", &as->tags, a, err)))
            return rc;
        (*n_out)++;
    }
    return MQ_OK;
}

static int time_field(const json_t *o, const char *where, const char *name, int64_t *out,
                      mq_err *err) {
    json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v))
        return MQ_OK;
    char got[64];
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return MQ_OK;
    }
    if (json_is_string(v) && mq_time_parse_rfc3339(json_string_value(v), out) == MQ_OK)
        return MQ_OK;
    mq_json_describe(v, got, sizeof got);
    return mq_err_set(err, MQ_EINVAL, "%s.%s: expected RFC 3339 or epoch milliseconds, got %s",
                      where, name, got);
}

/* o is an object (a `what`) with a valid "id", into *id. */
static int object_id(const json_t *o, const char *what, const char *where, const char **id,
                     mq_err *err) {
    if (!json_is_object(o)) {
        char got[64];
        mq_json_describe(o, got, sizeof got);
        return mq_err_set(err, MQ_EINVAL, "%s: expected a %s object, got %s", where, what, got);
    }
    int rc = mq_json_str(o, where, "id", true, MQ_ID_MAX_LEN, id, err);
    if (rc)
        return rc;
    if (!mq_ext_id_valid(*id))
        return mq_err_set(err, MQ_EINVAL,
                          "%s.id: expected 1-128 bytes without control characters, got \"%s\"",
                          where, *id);
    return MQ_OK;
}

int mq_title_from_json(const json_t *o, mq_title *t, mq_arena *a, const char *where,
                       mq_err *err) {
    memset(t, 0, sizeof *t);
    char got[64];
    const char *s;
    int64_t v;
    int rc;
    if ((rc = object_id(o, "title", where, &s, err)))
        return rc;
    t->ext_id = mq_arena_strdup(a, s);
    if ((rc = mq_json_str(o, where, "name", true, 1024, &s, err)))
        return rc;
    t->name = mq_arena_strdup(a, s);
    rc = mq_json_str(o, where, "kind", false, 16, &s, err);
    if (rc == MQ_OK) {
        if (strcmp(s, "movie") == 0)
            t->kind = MQ_KIND_MOVIE;
        else if (strcmp(s, "series") == 0)
            t->kind = MQ_KIND_SERIES;
        else
            return mq_err_set(err, MQ_EINVAL, "%s.kind: expected \"movie\" or \"series\", got \"%s\"",
                              where, s);
    } else if (rc != MQ_ENOTFOUND)
        return rc;
    if ((rc = mq_json_int(o, where, "year", false, 1870, 2100, &v, err)) == MQ_OK)
        t->year = (int)v;
    else if (rc != MQ_ENOTFOUND)
        return rc;
    if ((rc = mq_json_int(o, where, "runtime_min", false, 1, 100000, &v, err)) == MQ_OK)
        t->runtime_min = (int)v;
    else if (rc != MQ_ENOTFOUND)
        return rc;
    json_t *mat = json_object_get(o, "maturity");
    if (mat && !json_is_null(mat)) {
        int age = -1;
        if (json_is_string(mat))
            age = mq_maturity_parse(json_string_value(mat));
        else if (json_is_integer(mat) && json_integer_value(mat) >= 0 &&
                 json_integer_value(mat) <= 21)
            age = (int)json_integer_value(mat);
        if (age < 0) {
            mq_json_describe(mat, got, sizeof got);
            return mq_err_set(err, MQ_EINVAL,
                              "%s.maturity: expected a rating (G, PG, PG-13, R, NC-17, TV-MA, ...) "
                              "or a minimum age 0-21, got %s",
                              where, got);
        }
        t->maturity = age;
    }
    if ((rc = time_field(o, where, "added", &t->added_ms, err)))
        return rc;
    if ((rc = strlist_from_json(o, where, "genres", &t->genres, a, err)) ||
        (rc = strlist_from_json(o, where, "tags", &t->tags, a, err)) ||
        (rc = strlist_from_json(o, where, "labels", &t->labels, a, err)) ||
        (rc = assets_from_json(o, where, "artwork", false, &t->artwork, &t->n_artwork, a, err)) ||
        (rc = assets_from_json(o, where, "synopses", true, &t->synopses, &t->n_synopses, a,
                               err)))
        return rc;
    return MQ_OK;
}

int mq_profile_from_json(const json_t *o, mq_profile *p, mq_arena *a, const char *where,
                         mq_err *err) {
    memset(p, 0, sizeof *p);
    p->maturity_limit = 18;
    const char *s;
    int64_t v;
    int rc;
    if ((rc = object_id(o, "profile", where, &s, err)))
        return rc;
    p->ext_id = mq_arena_strdup(a, s);
    rc = mq_json_str(o, where, "country", false, 3, &s, err);
    if (rc == MQ_OK)
        snprintf(p->country, sizeof p->country, "%s", s);
    else if (rc != MQ_ENOTFOUND)
        return rc;
    if ((rc = mq_json_int(o, where, "maturity_limit", false, 0, 21, &v, err)) == MQ_OK)
        p->maturity_limit = (int)v;
    else if (rc != MQ_ENOTFOUND)
        return rc;
    return time_field(o, where, "created", &p->created_ms, err);
}

/* --------------------------------------------------------------- to JSON ---- */

static json_t *strlist_json(const mq_strlist *l) {
    json_t *arr = json_array();
    for (uint32_t i = 0; i < l->n; i++)
        json_array_append_new(arr, json_string(l->items[i]));
    return arr;
}

static json_t *assets_json(const mq_asset *as, uint32_t n) {
    json_t *arr = json_array();
    for (uint32_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(as[i].id));
        if (as[i].text)
            json_object_set_new(o, "text", json_string(as[i].text));
        json_object_set_new(o, "tags", strlist_json(&as[i].tags));
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *mq_title_to_json(const mq_title *t) {
    json_t *o = json_object();
    char ts[32];
    json_object_set_new(o, "id", json_string(t->ext_id));
    json_object_set_new(o, "name", json_string(t->name));
    json_object_set_new(o, "kind", json_string(t->kind == MQ_KIND_SERIES ? "series" : "movie"));
    if (t->year)
        json_object_set_new(o, "year", json_integer(t->year));
    if (t->runtime_min)
        json_object_set_new(o, "runtime_min", json_integer(t->runtime_min));
    json_object_set_new(o, "maturity", json_integer(t->maturity));
    if (t->added_ms) {
        mq_time_format_rfc3339(t->added_ms, ts, sizeof ts);
        json_object_set_new(o, "added", json_string(ts));
    }
    json_object_set_new(o, "genres", strlist_json(&t->genres));
    json_object_set_new(o, "tags", strlist_json(&t->tags));
    json_object_set_new(o, "artwork", assets_json(t->artwork, t->n_artwork));
    json_object_set_new(o, "synopses", assets_json(t->synopses, t->n_synopses));
    json_object_set_new(o, "labels", strlist_json(&t->labels));
    return o;
}

json_t *mq_profile_to_json(const mq_profile *p) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(p->ext_id));
    if (p->country[0])
        json_object_set_new(o, "country", json_string(p->country));
    json_object_set_new(o, "maturity_limit", json_integer(p->maturity_limit));
    if (p->created_ms) {
        char ts[32];
        mq_time_format_rfc3339(p->created_ms, ts, sizeof ts);
        json_object_set_new(o, "created", json_string(ts));
    }
    return o;
}
