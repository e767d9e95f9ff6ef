/*
 * catalog.h: the things marquee personalizes and the people it personalizes for.
 * A title (movie or series) with its genres, tags and asset variants (artwork,
 * synopses, labels); a profile with its country and maturity limit; and the
 * in-memory catalog that maps external string ids to dense internal ids.
 *
 * Internal ids are uint32_t starting at 1, assigned by the store; 0 means "none".
 * External ids are kept exactly as given. docs/data-model.md describes the JSON
 * forms read and written here.
 */
#ifndef MQ_CATALOG_H
#define MQ_CATALOG_H

#include "util/util.h"

#include <jansson.h>

#define MQ_ID_MAX_LEN 128

typedef enum { MQ_KIND_MOVIE = 0, MQ_KIND_SERIES = 1 } mq_title_kind;

typedef struct mq_strlist {
    char **items;
    uint32_t n;
} mq_strlist;

/* One artwork or synopsis variant of a title. `text` is the synopsis (NULL for
 * artwork); `tags` describe it ("close-up", "action", "warm") so bandits can learn
 * which kinds of asset a profile responds to. */
typedef struct mq_asset {
    char *id;
    char *text;
    mq_strlist tags;
} mq_asset;

typedef struct mq_title {
    uint32_t id; /* internal; 0 until stored */
    char *ext_id;
    char *name;
    mq_title_kind kind;
    int year;        /* 0 = unknown */
    int runtime_min; /* movie length, or a typical episode's for series; 0 = unknown */
    int maturity;    /* minimum age: 0 (all), 7, 13, 16 or 18 */
    int64_t added_ms; /* when it joined the catalogue; 0 = unknown */
    mq_strlist genres;
    mq_strlist tags;
    mq_asset *artwork; /* artwork[0] is the editorial default */
    uint32_t n_artwork;
    mq_asset *synopses; /* synopses[0] is the default */
    uint32_t n_synopses;
    mq_strlist labels; /* candidate evidence labels ("New", "Award-winning") */
} mq_title;

typedef struct mq_profile {
    uint32_t id; /* internal; 0 until stored */
    char *ext_id;
    char country[8]; /* ISO 3166 alpha-2, "" = unknown */
    int maturity_limit; /* highest title maturity the profile may see (18 = all) */
    int64_t created_ms;
} mq_profile;

/* Maturity ratings as text ("PG-13", "TV-MA", "13") to a minimum age; -1 if unknown. */
int mq_maturity_parse(const char *s);

/* Reads a title from its JSON form. Strings are copied into `a`. `where` names the
 * input in messages ("titles.jsonl:12"). Returns 0 or MQ_EINVAL with a message such
 * as "titles.jsonl:12: year: expected an integer from 1870 to 2100, got \"soon\"". */
int mq_title_from_json(const json_t *o, mq_title *t, mq_arena *a, const char *where,
                       mq_err *err);
/* The JSON form of a title; the caller owns the result (json_decref). */
json_t *mq_title_to_json(const mq_title *t);

int mq_profile_from_json(const json_t *o, mq_profile *p, mq_arena *a, const char *where,
                         mq_err *err);
json_t *mq_profile_to_json(const mq_profile *p);

/* True when s is an acceptable external id: 1..128 bytes of UTF-8, no control chars. */
bool mq_ext_id_valid(const char *s);

/* Splits "a|b|c" into a list allocated in `a`; empty fields are dropped. */
mq_strlist mq_strlist_split(const char *s, char sep, mq_arena *a);
bool mq_strlist_has(const mq_strlist *l, const char *s);

/* ---------------------------------------------------------------- catalog ---- */

/* An in-memory catalog: titles and profiles indexed by internal id, with external
 * id maps. The catalog owns copies of everything added to it. */
typedef struct mq_catalog mq_catalog;

mq_catalog *mq_catalog_create(void);
void mq_catalog_destroy(mq_catalog *c);
/* Copies t into the catalog at index t->id (which must be > 0). Replaces any title
 * with the same id. */
void mq_catalog_put_title(mq_catalog *c, const mq_title *t);
void mq_catalog_put_profile(mq_catalog *c, const mq_profile *p);
/* NULL when absent. */
const mq_title *mq_catalog_title(const mq_catalog *c, uint32_t id);
const mq_profile *mq_catalog_profile(const mq_catalog *c, uint32_t id);
uint32_t mq_catalog_title_id(const mq_catalog *c, const char *ext_id);
uint32_t mq_catalog_profile_id(const mq_catalog *c, const char *ext_id);
/* One past the largest id in use, for sizing arrays indexed by id. */
uint32_t mq_catalog_title_end(const mq_catalog *c);
uint32_t mq_catalog_profile_end(const mq_catalog *c);
size_t mq_catalog_title_count(const mq_catalog *c);
size_t mq_catalog_profile_count(const mq_catalog *c);

#endif
