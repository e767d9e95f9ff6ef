/* export.c: the world as the JSONL files `marquee import` reads back (one JSON
 * object per line, docs/data-model.md): titles.jsonl, profiles.jsonl and
 * events.jsonl, the last in log order. The JSON forms are the catalog and events
 * modules' own (mq_title_to_json, mq_profile_to_json, mq_event_to_json), so an
 * export and an import cannot disagree about a field. */
#include "sim_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    FILE *f;
    const char *path;
    mq_err *err;
} sink;

/* One line. Dumped into a buffer first: json_dumpf writes token by token, which
 * makes a 2-million-event export several times slower. */
static int put_json(sink *s, json_t *o) {
    char buf[16384];
    size_t n = json_dumpb(o, buf, sizeof buf - 1, JSON_COMPACT);
    bool ok;
    if (n && n < sizeof buf - 1) {
        buf[n] = '\n';
        ok = fwrite(buf, 1, n + 1, s->f) == n + 1;
    } else {
        char *big = json_dumps(o, JSON_COMPACT);
        ok = big && fputs(big, s->f) != EOF && fputc('\n', s->f) != EOF;
        free(big);
    }
    json_decref(o);
    if (!ok)
        return mq_err_set(s->err, MQ_EIO, "%s: cannot write: %s", s->path, strerror(errno));
    return MQ_OK;
}

static int event_line(void *ud, const mq_event *e) {
    return put_json(ud, mq_event_to_json(e));
}

static int open_sink(sink *s, const char *dir, const char *name, char *path, size_t n,
                     mq_err *err) {
    snprintf(path, n, "%s/%s", dir, name);
    s->path = path;
    s->err = err;
    s->f = fopen(path, "wb");
    if (!s->f)
        return mq_err_set(err, MQ_EIO, "%s: cannot create: %s", path, strerror(errno));
    setvbuf(s->f, NULL, _IOFBF, 1 << 20);
    return MQ_OK;
}

static int close_sink(sink *s, int rc) {
    if (!s->f)
        return rc;
    if (fclose(s->f) != 0 && !rc)
        rc = mq_err_set(s->err, MQ_EIO, "%s: cannot write: %s", s->path, strerror(errno));
    s->f = NULL;
    return rc;
}

int mq_sim_export(const mq_world *w, const mq_sim_log *l, const char *dir, mq_err *err) {
    int rc = mq_mkdirs(dir, err);
    if (rc)
        return rc;
    char path[4096];
    sink s = {0};
    if ((rc = open_sink(&s, dir, "titles.jsonl", path, sizeof path, err)))
        return rc;
    for (uint32_t t = 0; t < mq_world_n_titles(w) && !rc; t++)
        rc = put_json(&s, mq_title_to_json(mq_world_title(w, t)));
    if ((rc = close_sink(&s, rc)))
        return rc;

    if ((rc = open_sink(&s, dir, "profiles.jsonl", path, sizeof path, err)))
        return rc;
    for (uint32_t p = 0; p < mq_world_n_profiles(w) && !rc; p++)
        rc = put_json(&s, mq_profile_to_json(mq_world_profile(w, p)));
    if ((rc = close_sink(&s, rc)))
        return rc;

    if ((rc = open_sink(&s, dir, "events.jsonl", path, sizeof path, err)))
        return rc;
    rc = mq_sim_log_each(w, l, 0, mq_sim_log_count(l), event_line, &s);
    return close_sink(&s, rc);
}
