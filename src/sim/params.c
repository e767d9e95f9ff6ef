/* params.c: the world parameter table (MQ_WORLD_PARAMS in sim.h) as code: defaults,
 * range checks, setting by name, and the JSON and Markdown forms. Every effect size
 * of the behaviour model is one row, so the ground truth, the docs and the code
 * cannot disagree about what a size is. */
#include "sim.h"

#include <math.h>
#include <string.h>

enum { K_I, K_R };

typedef struct {
    const char *name;
    int kind;
    double dflt, lo, hi;
    const char *doc;
    size_t offset;
    size_t size;
} param_row;

static const param_row rows[] = {
#define MQ_WP_ROW(kind, type, name, dflt, lo, hi, doc)                                             \
    {#name, K_##kind, dflt, lo, hi, doc, offsetof(mq_world_params, name), sizeof(type)},
    MQ_WORLD_PARAMS(MQ_WP_ROW)
#undef MQ_WP_ROW
};

static double get(const mq_world_params *p, const param_row *r) {
    const char *base = (const char *)p + r->offset;
    if (r->kind == K_R)
        return *(const double *)base;
    if (r->size == sizeof(uint64_t))
        return (double)*(const uint64_t *)base;
    return (double)*(const uint32_t *)base;
}

static void put(mq_world_params *p, const param_row *r, double v) {
    char *base = (char *)p + r->offset;
    if (r->kind == K_R)
        *(double *)base = v;
    else if (r->size == sizeof(uint64_t))
        *(uint64_t *)base = (uint64_t)v;
    else
        *(uint32_t *)base = (uint32_t)v;
}

void mq_world_params_default(mq_world_params *p) {
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < MQ_ARRAY_LEN(rows); i++)
        put(p, &rows[i], rows[i].dflt);
}

static int check_row(const param_row *r, double v, const char *where, mq_err *err) {
    if (!isfinite(v) || v < r->lo || v > r->hi || (r->kind == K_I && v != floor(v)))
        return mq_err_set(err, MQ_EINVAL, "%s%s%s: expected %s from %g to %g, got %g",
                          where ? where : "", where ? "." : "", r->name,
                          r->kind == K_I ? "an integer" : "a number", r->lo, r->hi, v);
    return MQ_OK;
}

int mq_world_params_check(const mq_world_params *p, mq_err *err) {
    for (size_t i = 0; i < MQ_ARRAY_LEN(rows); i++) {
        int rc = check_row(&rows[i], get(p, &rows[i]), "world parameter", err);
        if (rc)
            return rc;
    }
    return MQ_OK;
}

static const param_row *find(const char *name) {
    for (size_t i = 0; i < MQ_ARRAY_LEN(rows); i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    return NULL;
}

int mq_world_params_set(mq_world_params *p, const char *name, double value, mq_err *err) {
    const param_row *r = find(name);
    if (!r)
        return mq_err_set(err, MQ_EINVAL,
                          "unknown world parameter \"%s\" (docs/synthetic-world.md lists them)",
                          name);
    int rc = check_row(r, value, "world parameter", err);
    if (!rc)
        put(p, r, value);
    return rc;
}

int mq_world_params_from_json(mq_world_params *p, const json_t *o, const char *where, mq_err *err) {
    char got[64];
    if (!json_is_object(o)) {
        mq_json_describe(o, got, sizeof got);
        return mq_err_set(err, MQ_EINVAL, "%s: expected an object of world parameters, got %s",
                          where, got);
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        const param_row *r = find(key);
        if (!r)
            return mq_err_set(err, MQ_EINVAL,
                              "%s.%s: unknown world parameter (docs/synthetic-world.md lists "
                              "them)",
                              where, key);
        if (!json_is_number(v)) {
            mq_json_describe(v, got, sizeof got);
            return mq_err_set(err, MQ_EINVAL, "%s.%s: expected a number, got %s", where, key, got);
        }
        int rc = check_row(r, json_number_value(v), where, err);
        if (rc)
            return rc;
        put(p, r, json_number_value(v));
    }
    return MQ_OK;
}

json_t *mq_world_params_to_json(const mq_world_params *p) {
    json_t *o = json_object();
    for (size_t i = 0; i < MQ_ARRAY_LEN(rows); i++) {
        double v = get(p, &rows[i]);
        json_object_set_new(o, rows[i].name,
                            rows[i].kind == K_I ? json_integer((json_int_t)v) : json_real(v));
    }
    return o;
}

void mq_world_params_print_markdown(FILE *f) {
    fprintf(f, "| parameter | default | range | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < MQ_ARRAY_LEN(rows); i++)
        fprintf(f, "| `%s` | %.16g | %.16g to %.16g | %s |\n", rows[i].name, rows[i].dflt,
                rows[i].lo, rows[i].hi, rows[i].doc);
}
