/*
 * ingest_impl.h: private to the ingest module. The pieces every importer shares:
 * a buffered line reader (lines.c), field splitting for CSV (RFC 4180 quoting) and
 * the separator-delimited MovieLens files, hand-written number parsers and
 * latin-1 -> UTF-8 repair (fields.c), and the import context: bad-row accounting,
 * batched event writes, counting new profiles and the progress bar (run.c).
 * movielens.c and jsonl.c implement the public entry points on top of these.
 */
#ifndef MQ_INGEST_IMPL_H
#define MQ_INGEST_IMPL_H

#include "ingest.h"

#include <pthread.h>

/* ------------------------------------------------------------ line reader ---- */

/* Longest line (or CSV record) accepted; past it the row is bad. The buffer only
 * grows that far for such a line. */
#define ING_LINE_MAX (16u << 20)

typedef struct ing_lines {
    const char *path; /* as given, for messages */
    int fd;
    char *buf; /* buf[start, end) is read but not yet returned */
    size_t alloc, start, end;
    uint64_t line;     /* number of the line last returned, 1-based */
    uint64_t consumed; /* bytes of the file returned so far (for progress) */
    uint64_t size;     /* file size in bytes, 0 when unknown */
    bool eof;
    bool too_long; /* inside a line past ING_LINE_MAX, being skipped */
} ing_lines;

/* Opens `path` for reading line by line. Fails with MQ_EIO naming the path. */
int ing_lines_open(ing_lines *r, const char *path, mq_err *err);
/* Next line, NUL-terminated in place without its "\n" or "\r\n"; *line is NULL at
 * the end of the file. The pointer is valid until the next call. A leading UTF-8
 * byte order mark is dropped. Fails with MQ_EIO on a read error, and with
 * MQ_ETOOBIG for a line past ING_LINE_MAX, which is then skipped: the caller may
 * count it as a bad row and go on. */
int ing_lines_next(ing_lines *r, char **line, size_t *len, mq_err *err);
void ing_lines_close(ing_lines *r);

/* ----------------------------------------------------------------- fields ---- */

#define ING_MAX_FIELDS 32

typedef struct ing_fields {
    char *f[ING_MAX_FIELDS];
    int n; /* fields found; may exceed ING_MAX_FIELDS (only the first are kept) */
} ing_fields;

/* Splits a line in place on a one-byte separator (no quoting: u.data, u.item). */
void ing_split_char(char *line, char sep, ing_fields *out);
/* Splits a line in place on a two-byte separator ("::" in ml-1m and ml-10m). */
void ing_split_pair(char *line, const char *sep, ing_fields *out);
/* Splits one CSV record (RFC 4180: fields may be quoted, "" inside quotes is a
 * quote, a quoted field may span lines, which are then read from r). `line` is
 * the line r just returned. Quoted records are unquoted into `scratch`, so field
 * pointers are valid until the next call on scratch or r. On a malformed record
 * returns MQ_EINVAL with "path:line: expected ..., got ..." in err (and r is left
 * after the record); a read error is returned as such. */
int ing_split_csv(ing_lines *r, char *line, size_t len, mq_buf *scratch, ing_fields *out,
                  mq_err *err);

/* Parses a whole string of decimal digits (at most 18). */
bool ing_parse_uint(const char *s, uint64_t *out);
/* Parses a decimal number without sign or exponent ("4", "3.5", "4.0"). */
bool ing_parse_decimal(const char *s, double *out);
/* Copies n bytes of text into `a` as UTF-8: valid UTF-8 is copied as is, anything
 * else is taken as latin-1 (ISO 8859-1) and converted, which is what the older
 * MovieLens releases are written in. */
char *ing_text_dup(mq_arena *a, const char *s, size_t n);
/* Strips leading and trailing ASCII whitespace in place; returns the new start. */
char *ing_trim(char *s);
/* A short, printable quotation of a field for messages: "\"abc\"" (cut at 40
 * bytes, control bytes escaped). */
void ing_quote(const char *s, char *out, size_t n);

/* ---------------------------------------------------------------- context ---- */

typedef enum { ING_VALIDATE, ING_WRITE } ing_pass;

/* One import in progress. While a writer thread runs (ing_writer), the store,
 * seen_profiles and the report's event counts are the writer's; bad-row
 * accounting is shared and goes through `lock`. */
typedef struct ing_ctx {
    mq_store *s;
    mq_import_opts o;
    mq_import_report *r;
    mq_err *err; /* the caller's (or own_err): the failure, if any */
    mq_err own_err;
    double t0;
    uint64_t shown;           /* bad-row messages logged so far */
    uint64_t kept;            /* events committed by this import so far */
    mq_strmap *seen_profiles; /* profile -> PROF_* state, see run.c */
    pthread_mutex_t lock;
} ing_ctx;

void ing_ctx_init(ing_ctx *c, mq_store *s, const mq_import_opts *o, mq_import_report *r,
                  const char *layout, mq_err *err);
/* Finishes the report (seconds) and frees the context. */
void ing_ctx_free(ing_ctx *c);

/* A malformed row, described in `row` ("path:line: expected ..., got ..."). Without
 * skip_bad it becomes the import's error (in *dst) and MQ_EINVAL is returned (the
 * importer stops); with skip_bad the row is counted, the first messages are
 * logged, and 0 is returned (the importer goes on). Thread-safe. */
int ing_bad_row_to(ing_ctx *c, const mq_err *row, mq_err *dst);
/* The same with dst = c->err, and with a message formatted here. */
int ing_bad_row(ing_ctx *c, const mq_err *row);
int ing_bad(ing_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Events waiting to be appended in one transaction, with the line each came from
 * and the strings they point to. */
typedef struct ing_batch {
    const char *path; /* the input file, for messages */
    mq_event *ev;
    uint64_t *line;
    mq_append_status *status;
    uint8_t *maybe_new; /* the profile was unknown to the store when queued */
    size_t n, cap;
    mq_arena strings; /* reset after each flush */
    double store_s;   /* seconds spent in the store */
    mq_err err;       /* why the last flush failed */
} ing_batch;

void ing_batch_init(ing_batch *b, const char *path, size_t cap);
void ing_batch_free(ing_batch *b);
/* The next free event slot (initialised with mq_event_init), or NULL when the
 * batch is full and must be flushed first. */
mq_event *ing_batch_slot(ing_batch *b, uint64_t line);
/* Appends the queued events in one transaction and commits. Unknown titles are bad
 * rows (with skip_bad counted; without, the transaction is rolled back and the
 * import fails); duplicates are counted. A failure is described in b->err. */
int ing_batch_flush(ing_ctx *c, ing_batch *b);

/* Writes batches of events while the importer parses the next: with a thread
 * budget of 2 or more, a writer thread appends one batch while the caller fills
 * the other, so parsing costs no wall time beside the store's; otherwise
 * batches are written in the caller's thread. While it runs the caller must
 * not use the store. */
typedef struct ing_writer {
    ing_ctx *c;
    ing_batch b[2];
    int fill; /* the batch the caller fills */
    bool threaded, stopping, failed_first;
    ing_batch *todo; /* handed to the writer, not yet written */
    int rc;          /* the writer's first failure */
    mq_err err;
    pthread_t th;
    pthread_cond_t cv;
} ing_writer;

void ing_writer_start(ing_writer *w, ing_ctx *c, const char *path);
/* The batch to fill. */
ing_batch *ing_writer_batch(ing_writer *w);
/* A free slot in the batch being filled, handing a full batch over first. NULL
 * when the writer failed (stop; ing_writer_finish reports why). */
mq_event *ing_writer_slot(ing_writer *w, uint64_t line);
/* Writes what is left (when rc is 0), waits for the writer and frees it.
 * Returns rc, or the writer's failure (with its message in c->err). */
int ing_writer_finish(ing_writer *w, int rc);

/* Progress over the bytes of one input file, shown as rows (the total row count
 * is estimated from the bytes read so far). */
typedef struct ing_progress {
    mq_progress p;
    bool on, drawn;
    uint64_t rows;
} ing_progress;

void ing_progress_start(ing_progress *pr, const ing_ctx *c, const ing_lines *r, const char *label);
void ing_progress_row(ing_progress *pr, const ing_lines *r);
void ing_progress_finish(ing_progress *pr);

#endif
