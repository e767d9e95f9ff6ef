/*
 * ingest.h: importers that load outside data into a store. MovieLens (every public
 * layout: ml-100k, ml-1m/10m, ml-latest/20m/25m/32m) and marquee's own JSONL forms
 * of titles, profiles and events (docs/data-model.md).
 *
 * Every importer is idempotent (re-running it stores nothing twice: titles and
 * profiles are upserts, events are keyed by event_id), never crashes on bad input,
 * and never half-imports silently: a malformed row is reported as
 * "file:line: what was expected, what was found" and the whole import rolls back,
 * unless opts.skip_bad is set, in which case bad rows are counted and skipped.
 */
#ifndef MQ_INGEST_H
#define MQ_INGEST_H

#include "store/store.h"

typedef struct mq_import_opts {
    bool skip_bad;  /* skip and count malformed rows instead of failing */
    size_t batch;   /* rows per transaction (0 = default 50,000) */
    bool progress;  /* draw a progress bar when stderr is a terminal */
    int max_errors_shown; /* with skip_bad: how many bad-row messages to log (default 10) */
} mq_import_opts;

typedef struct mq_import_report {
    char layout[32];     /* "ml-latest", "ml-1m", "ml-100k", "jsonl" */
    uint64_t rows;       /* input rows read */
    uint64_t titles, profiles;
    uint64_t events;     /* events newly stored */
    uint64_t duplicates; /* events already present */
    uint64_t bad_rows;   /* skipped with skip_bad */
    double seconds;
} mq_import_report;

void mq_import_opts_default(mq_import_opts *o);

/* Detects the layout in `dir` and imports titles (with genres, and tags where
 * present) and ratings as `rating` events. External ids are kept as given: user
 * 296 is profile "296", movie 1 is title "1". */
int mq_import_movielens(mq_store *s, const char *dir, const mq_import_opts *o,
                        mq_import_report *r, mq_err *err);
int mq_import_titles_jsonl(mq_store *s, const char *path, const mq_import_opts *o,
                           mq_import_report *r, mq_err *err);
int mq_import_profiles_jsonl(mq_store *s, const char *path, const mq_import_opts *o,
                             mq_import_report *r, mq_err *err);
int mq_import_events_jsonl(mq_store *s, const char *path, const mq_import_opts *o,
                           mq_import_report *r, mq_err *err);

#endif
