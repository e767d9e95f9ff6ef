/*
 * util.h: the bottom layer of marquee. Everything here depends on libc (and jansson
 * for the JSON helpers) only: the error type, memory (arena, growable buffers with
 * caps), a string -> id hash map, PCG random numbers, time parsing and formatting,
 * logging, a terminal progress bar, the configuration table and the thread budget.
 *
 * Every other module includes this header; it includes no other marquee header.
 */
#ifndef MQ_UTIL_H
#define MQ_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* ---------------------------------------------------------------- errors ---- */

/* One error type for the whole code base: 0 is success, codes and their short
 * descriptions are defined once here. Functions that can fail take an `mq_err *`
 * (which may be NULL) and fill in a detail message naming the input, the place,
 * what was expected and what was found. */
#define MQ_ERRNO_MAP(X)                                                                  \
    X(OK, "success")                                                                     \
    X(EINVAL, "invalid input")                                                           \
    X(EUSAGE, "usage error")                                                             \
    X(ENOMEM, "out of memory")                                                           \
    X(EIO, "input/output error")                                                         \
    X(ENOTFOUND, "not found")                                                            \
    X(ESTORE, "store error")                                                             \
    X(EVERSION, "unsupported version")                                                   \
    X(ECORRUPT, "corrupt data")                                                          \
    X(ETOOBIG, "too large")                                                              \
    X(EBUSY, "busy")

typedef enum {
#define MQ_ERR_ENUM(name, text) MQ_##name,
    MQ_ERRNO_MAP(MQ_ERR_ENUM)
#undef MQ_ERR_ENUM
        MQ_ERR_COUNT
} mq_code;

#define MQ_ERR_MSG_MAX 512
typedef struct mq_err {
    int code;
    char msg[MQ_ERR_MSG_MAX];
} mq_err;

/* Short description of a code ("invalid input"). Never NULL. */
const char *mq_strerror(int code);
/* Sets err (if not NULL) and returns code, so callers can `return mq_err_set(...)`. */
int mq_err_set(mq_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes the existing message with "prefix: ". Returns err->code (0 if err NULL). */
int mq_err_prefix(mq_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mq_err_clear(mq_err *err);

/* ---------------------------------------------------------------- memory ---- */

/* Allocation that never returns NULL: on exhaustion it logs and aborts, since no
 * caller can do anything useful without memory. */
void *mq_malloc(size_t n);
void *mq_calloc(size_t n, size_t size);
void *mq_realloc(void *p, size_t n);
char *mq_strdup(const char *s);
char *mq_strndup(const char *s, size_t n);
void mq_free(void *p);

/* Arena: bump allocation in blocks, freed all at once. `cap` bounds the total bytes
 * (0 = unbounded); mq_arena_alloc returns NULL past the cap, never aborts. */
typedef struct mq_arena_block mq_arena_block;
typedef struct mq_arena {
    mq_arena_block *head;
    size_t used_total;
    size_t cap;
    size_t block_size;
} mq_arena;

void mq_arena_init(mq_arena *a, size_t block_size, size_t cap);
void *mq_arena_alloc(mq_arena *a, size_t n);
char *mq_arena_strdup(mq_arena *a, const char *s);
char *mq_arena_strndup(mq_arena *a, const char *s, size_t n);
/* Frees every block but the first, and rewinds. */
void mq_arena_reset(mq_arena *a);
void mq_arena_free(mq_arena *a);

/* Growable byte buffer with a cap (0 = unbounded). Appends past the cap fail with
 * MQ_ETOOBIG and leave the buffer unchanged. Always NUL-terminated. */
typedef struct mq_buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap;
} mq_buf;

void mq_buf_init(mq_buf *b, size_t cap);
int mq_buf_append(mq_buf *b, const void *p, size_t n);
int mq_buf_puts(mq_buf *b, const char *s);
int mq_buf_printf(mq_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mq_buf_reset(mq_buf *b);
/* The contents (NULL when nothing was ever appended; the caller frees) and their
 * length; b is left empty with a new allocation as large, so that a buffer
 * reused for outputs of one size does not grow again. */
char *mq_buf_take(mq_buf *b, size_t *len);
void mq_buf_free(mq_buf *b);

/* Growable array of T: `MQ_VEC(T) v = {0}; MQ_VEC_PUSH(&v, x); mq_free(v.items);` */
#define MQ_VEC(T)                                                                        \
    struct {                                                                             \
        T *items;                                                                        \
        size_t len, alloc;                                                               \
    }
#define MQ_VEC_RESERVE(v, n)                                                             \
    do {                                                                                 \
        if ((n) > (v)->alloc) {                                                          \
            size_t na_ = (v)->alloc ? (v)->alloc * 2 : 16;                               \
            while (na_ < (n))                                                            \
                na_ *= 2;                                                                \
            (v)->items = mq_realloc((v)->items, na_ * sizeof(*(v)->items));              \
            (v)->alloc = na_;                                                            \
        }                                                                                \
    } while (0)
#define MQ_VEC_PUSH(v, x)                                                                \
    do {                                                                                 \
        MQ_VEC_RESERVE(v, (v)->len + 1);                                                 \
        (v)->items[(v)->len++] = (x);                                                    \
    } while (0)

/* ------------------------------------------------------------ string map ---- */

/* Open-addressing hash map from strings to uint32_t values. Keys are copied into
 * the map's own arena. Used for external id -> internal id maps and interning. */
typedef struct mq_strmap mq_strmap;

mq_strmap *mq_strmap_create(void);
void mq_strmap_destroy(mq_strmap *m);
/* Returns true and sets *val when found. */
bool mq_strmap_get(const mq_strmap *m, const char *key, uint32_t *val);
bool mq_strmap_getn(const mq_strmap *m, const char *key, size_t len, uint32_t *val);
/* Inserts or replaces. Returns the map's own copy of the key. */
const char *mq_strmap_put(mq_strmap *m, const char *key, uint32_t val);
bool mq_strmap_remove(mq_strmap *m, const char *key);
size_t mq_strmap_count(const mq_strmap *m);
uint64_t mq_hash_bytes(const void *p, size_t n);

/* ----------------------------------------------------------------- random ---- */

/* PCG32 (O'Neill 2014, pcg32_random_r): small, fast, and the same sequence on
 * every platform, which the deterministic generators rely on. */
typedef struct mq_rng {
    uint64_t state, inc;
} mq_rng;

void mq_rng_seed(mq_rng *r, uint64_t seed, uint64_t stream);
uint32_t mq_rng_u32(mq_rng *r);
/* Uniform in [0, n), unbiased. n must be > 0. */
uint32_t mq_rng_below(mq_rng *r, uint32_t n);
/* Uniform double in [0, 1). */
double mq_rng_unif(mq_rng *r);
double mq_rng_normal(mq_rng *r);
double mq_rng_exp(mq_rng *r, double rate);
/* Gamma(shape, 1) by Marsaglia & Tsang 2000. */
double mq_rng_gamma(mq_rng *r, double shape);
/* Index drawn from unnormalised weights w[0..n). */
size_t mq_rng_categorical(mq_rng *r, const double *w, size_t n);

/* ------------------------------------------------------------------- time ---- */

/* Milliseconds since the Unix epoch, UTC. */
int64_t mq_now_ms(void);
/* Monotonic seconds, for measuring durations. */
double mq_mono_s(void);
/* Parses RFC 3339 ("2024-05-01T20:15:00Z", "...+02:00", fractional seconds).
 * Returns 0 and sets *ms, or MQ_EINVAL. */
int mq_time_parse_rfc3339(const char *s, int64_t *ms);
/* Formats as "2024-05-01T20:15:00.000Z" (or without millis when they are 0).
 * out must hold 32 bytes. */
void mq_time_format_rfc3339(int64_t ms, char *out, size_t outlen);
/* Local weekday (0 = Monday .. 6 = Sunday) and hour for ts + tz offset. */
void mq_time_local(int64_t ms, int tz_offset_min, int *weekday, int *hour);

/* -------------------------------------------------------------------- log ---- */

typedef enum { MQ_LOG_DEBUG, MQ_LOG_INFO, MQ_LOG_WARN, MQ_LOG_ERROR } mq_log_level;
void mq_log_set_level(mq_log_level lvl);
void mq_log(mq_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --------------------------------------------------------------- progress ---- */

/* A progress bar on stderr, drawn only when stderr is a terminal: label, bar,
 * count/total, rate per second and ETA. total 0 means unknown (no bar, no ETA). */
typedef struct mq_progress {
    const char *label;
    const char *unit;
    uint64_t total, done;
    double t0, last_draw;
    bool tty;
} mq_progress;

void mq_progress_start(mq_progress *p, const char *label, const char *unit, uint64_t total);
void mq_progress_update(mq_progress *p, uint64_t done);
void mq_progress_finish(mq_progress *p);

/* ----------------------------------------------------------------- config ---- */

/* The configuration table: every setting's name, type, default and meaning lives in
 * one X-macro (config.c), which also feeds `marquee config --markdown` and hence
 * docs/configuration.md. Precedence, lowest first: defaults, DIR/marquee.conf
 * (`name = value` lines), the environment (MARQUEE_NAME, upper case, dots as _),
 * command-line flags (--name value). */
typedef struct mq_config mq_config;

mq_config *mq_config_create(void);
void mq_config_destroy(mq_config *c);
/* Loads DIR/marquee.conf if it exists. Unknown keys and bad values are errors
 * naming file:line. */
int mq_config_load_file(mq_config *c, const char *path, mq_err *err);
int mq_config_load_env(mq_config *c, mq_err *err);
/* Sets a value by name from its text form; errors name the setting and what was
 * expected. `origin` is used in messages ("--port", "marquee.conf:3"). */
int mq_config_set(mq_config *c, const char *name, const char *value, const char *origin,
                  mq_err *err);
bool mq_config_has(const char *name);
double mq_config_num(const mq_config *c, const char *name);
const char *mq_config_str(const mq_config *c, const char *name);
/* Writes the table as Markdown. */
void mq_config_print_markdown(FILE *f);
/* Writes the effective values as `name = value` lines. */
void mq_config_print(const mq_config *c, FILE *f);

/* --------------------------------------------------------------- threads ---- */

/* One thread budget for the process, shared by OpenBLAS, XGBoost's OpenMP and
 * marquee's own pools. Default: the number of online cores. */
int mq_threads_budget(void);
void mq_threads_set_budget(int n);

/* ------------------------------------------------------------------- json ---- */

/* Readers for one field of a JSON object that produce the project's standard
 * message: "<where>.<field>: expected <what>, got <what was found>". Each returns
 * 0 when the field is present and valid (setting *out), MQ_ENOTFOUND when it is
 * absent or null and not required (err untouched), and MQ_EINVAL otherwise.
 * Strings returned point into the JSON value and live as long as it does. */
int mq_json_str(const json_t *o, const char *where, const char *field, bool required,
                size_t max_len, const char **out, mq_err *err);
int mq_json_int(const json_t *o, const char *where, const char *field, bool required,
                int64_t min, int64_t max, int64_t *out, mq_err *err);
int mq_json_num(const json_t *o, const char *where, const char *field, bool required,
                double min, double max, double *out, mq_err *err);
/* A short rendering of a value for messages: "\"yesterday\"", "42", "an object". */
void mq_json_describe(const json_t *v, char *out, size_t n);

/* ---------------------------------------------------------------- helpers ---- */

/* Parses a whole string as a number; false on trailing junk or overflow. */
bool mq_parse_i64(const char *s, int64_t *out);
bool mq_parse_double(const char *s, double *out);
/* True when s is valid UTF-8. */
bool mq_utf8_valid(const char *s, size_t n);
/* Creates a directory and its parents (mkdir -p). */
int mq_mkdirs(const char *path, mq_err *err);
bool mq_path_exists(const char *path);

#define MQ_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MQ_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MQ_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Asks for the n bytes at p to be brought into cache (every 64-byte line).
 * Always inlined: GCC (12, -O2) counts a prefetch as no side effect, so a call
 * to a function made only of prefetches is dead code, and where it was not
 * inlined early (a size known only at run time) every such call was deleted. */
static inline __attribute__((always_inline)) void mq_prefetch(const void *p, size_t n) {
    for (size_t k = 0; k < n; k += 64)
        __builtin_prefetch((const char *)p + k);
    if (n)
        __builtin_prefetch((const char *)p + n - 1);
}

#endif
