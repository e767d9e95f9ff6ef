/*
 * ingest.h: importers that load outside data into a store. MovieLens (every public
 * layout: ml-100k, ml-1m/10m, ml-latest/20m/25m/32m) and marquee's own JSONL forms
 * of titles, profiles and events (docs/data-model.md). docs/importing.md is the
 * user's guide.
 *
 * Every importer is idempotent (re-running it stores nothing twice: titles and
 * profiles are upserts, events are keyed by event_id), never crashes on bad input,
 * and never half-imports silently: a malformed row is reported as
 * "file:line: what was expected, what was found" and the import writes nothing,
 * unless opts.skip_bad is set, in which case bad rows are counted and skipped.
 */
#ifndef MQ_INGEST_H
#define MQ_INGEST_H

#include "store/store.h"

typedef struct mq_import_opts {
    bool skip_bad;        /* skip and count malformed rows instead of failing */
    size_t batch;         /* rows per transaction (0 = default 50,000) */
    bool progress;        /* draw a progress bar when stderr is a terminal */
    int max_errors_shown; /* with skip_bad: how many bad-row messages to log (default 10) */
} mq_import_opts;

/* What an import did. Counts are of this run only, so a re-run reports 0 events
 * and every event as a duplicate. */
typedef struct mq_import_report {
    char layout[32];      /* "ml-latest", "ml-1m", "ml-100k", "jsonl" */
    uint64_t rows;        /* data rows read (every input file; no headers, no blank lines) */
    uint64_t titles;      /* titles written (inserted or updated) */
    uint64_t profiles;    /* profiles written by a profiles import; for events, the
                             profiles the import's events created */
    uint64_t events;      /* events newly stored */
    uint64_t duplicates;  /* events already present */
    uint64_t bad_rows;    /* skipped with skip_bad */
    double seconds;       /* wall time of the whole import */
    double store_seconds; /* of which appending events and committing them */
} mq_import_report;

/* Fills in the defaults above. */
void mq_import_opts_default(mq_import_opts *o);

/* Every importer: `o` may be NULL (defaults); `r` is filled in even on failure
 * (what was done before the failure). Returns 0, MQ_EINVAL for bad data (the
 * message names file:line, what was expected and what was found), MQ_EIO for a
 * file that cannot be read, or MQ_ESTORE.
 *
 * Without skip_bad, every row is checked before anything is written, so a bad row
 * leaves the store exactly as it was. Writes then go in transactions of
 * `batch` rows; only a store failure in the middle (disk full) can leave the
 * earlier batches committed, and the message says so.
 *
 * Detects the layout in `dir` and imports titles (with genres, and tags where
 * present) and ratings as `rating` events with event_id "ml:USER:MOVIE".
 * External ids are kept as given: user 296 is profile "296", movie 1 is title "1".
 * docs/importing.md describes the mapping. */
int mq_import_movielens(mq_store *s, const char *dir, const mq_import_opts *o, mq_import_report *r,
                        mq_err *err);
int mq_import_titles_jsonl(mq_store *s, const char *path, const mq_import_opts *o,
                           mq_import_report *r, mq_err *err);
int mq_import_profiles_jsonl(mq_store *s, const char *path, const mq_import_opts *o,
                             mq_import_report *r, mq_err *err);
int mq_import_events_jsonl(mq_store *s, const char *path, const mq_import_opts *o,
                           mq_import_report *r, mq_err *err);

#endif
