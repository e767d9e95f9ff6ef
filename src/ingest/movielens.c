/* movielens.c: the MovieLens importer (GroupLens; F. Maxwell Harper and Joseph A.
 * Konstan. 2015. The MovieLens Datasets: History and Context. ACM TiiS 5, 4,
 * Article 19). It detects the three file layouts the public releases use:
 *
 *   ml-latest, ml-20m, ml-25m, ml-32m  ratings.csv, movies.csv, tags.csv (RFC 4180)
 *   ml-1m, ml-10m                      ratings.dat, movies.dat, tags.dat ("::")
 *   ml-100k                            u.data (tabs), u.item ("|", 19 genre flags)
 *
 * Movies become titles (the "(1995)" suffix split off into the year, genres from
 * the pipe list or the flags, the most frequent tags where there are any);
 * ratings become `rating` events with event_id "ml:USER:MOVIE", which is unique
 * per pair in every release and so makes a re-import store nothing new. What a
 * rating means for training is the semantics table's business, not this file's.
 *
 * Order of work: movies and tags are read into memory; without skip_bad the
 * ratings are then checked in a first pass, so that a bad row fails the import
 * before anything is written; then titles are written, then the ratings in
 * batches, which a writer thread appends while the next batch is parsed (the
 * store's append is nine tenths of an import's time, so parsing rides along). */
#include "ingest_impl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ML_MAX_TAGS 20  /* tags kept per title, most frequent first */
#define ML_TEXT_MAX 256 /* longest genre or tag the title's JSON form accepts */
#define ML_NAME_MAX 1024
#define ML_TS_MAX 100000000000ULL /* seconds; year 5138 */

typedef enum { SEP_CSV, SEP_PAIR, SEP_TAB, SEP_BAR } ml_sep;

/* One input file of a layout: its name, how its fields are separated, the
 * columns it must have (for messages; CSV files also start with them as a
 * header), and how many. */
typedef struct ml_file {
    const char *name;
    ml_sep sep;
    const char *cols;
    int n_cols;
} ml_file;

typedef struct ml_spec {
    const char *layout;
    ml_file ratings, movies, tags; /* tags.name NULL: the layout has none */
} ml_spec;

static const ml_spec specs[] = {
    {"ml-latest",
     {"ratings.csv", SEP_CSV, "userId,movieId,rating,timestamp", 4},
     {"movies.csv", SEP_CSV, "movieId,title,genres", 3},
     {"tags.csv", SEP_CSV, "userId,movieId,tag,timestamp", 4}},
    {"ml-1m",
     {"ratings.dat", SEP_PAIR, "UserID::MovieID::Rating::Timestamp", 4},
     {"movies.dat", SEP_PAIR, "MovieID::Title::Genres", 3},
     {"tags.dat", SEP_PAIR, "UserID::MovieID::Tag::Timestamp", 4}},
    {"ml-100k",
     {"u.data", SEP_TAB, "user id, item id, rating, timestamp", 4},
     {"u.item", SEP_BAR, "movie id|title|release date|video release date|IMDb URL|19 genre flags",
      24},
     {NULL, SEP_CSV, NULL, 0}},
};

/* The genre flag columns of ml-100k's u.item, in order. "unknown" means none. */
static const char *const genres_100k[19] = {
    "unknown",     "Action", "Adventure", "Animation", "Children's", "Comedy",  "Crime",
    "Documentary", "Drama",  "Fantasy",   "Film-Noir", "Horror",     "Musical", "Mystery",
    "Romance",     "Sci-Fi", "Thriller",  "War",       "Western"};

typedef struct ml_title {
    char *ext_id, *name;
    int year;
    uint64_t line; /* where it was listed, for duplicate messages */
    mq_strlist genres, tags;
} ml_title;

typedef struct ml_tag {
    uint32_t title, count;
    char *text;
} ml_tag;

typedef struct ml {
    ing_ctx *c;
    const ml_spec *spec;
    char dir_path[3][4096]; /* ratings, movies, tags */
    mq_arena arena;         /* titles' and tags' strings */
    MQ_VEC(ml_title) titles;
    mq_strmap *title_idx; /* movie id -> index in titles */
    MQ_VEC(ml_tag) tags;
    mq_strmap *tag_idx; /* "index<US>tag" -> index in tags */
    mq_buf scratch;     /* unquoted CSV records */
    ing_writer w;       /* while the ratings are written */
    uint64_t row_line;  /* where the row being read starts */
    char label[64];
} ml;

enum { F_RATINGS, F_MOVIES, F_TAGS };

typedef int (*ml_row_fn)(ml *m, ing_lines *r, ing_fields *f, ing_pass pass);

/* Checks a CSV header against the expected columns (case-insensitively). */
static bool header_matches(const ing_fields *f, const char *cols) {
    const char *p = cols;
    for (int i = 0; i < f->n && i < ING_MAX_FIELDS; i++) {
        size_t n = strcspn(p, ",");
        if (strlen(f->f[i]) != n || strncasecmp(f->f[i], p, n) != 0)
            return false;
        p += n + (p[n] == ',');
    }
    return *p == '\0';
}

static bool blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t')
            return false;
    return true;
}

/* Reads one file row by row: splits each row, checks the header and the number
 * of fields, and hands the fields to fn. Rows are counted on the pass that
 * writes, so that a checking pass does not count them twice. */
static int each_row(ml *m, int which, ing_pass pass, bool count, ml_row_fn fn) {
    const ml_file *spec = which == F_RATINGS  ? &m->spec->ratings
                          : which == F_MOVIES ? &m->spec->movies
                                              : &m->spec->tags;
    const char *path = m->dir_path[which];
    ing_lines r;
    ing_progress pr;
    int rc = ing_lines_open(&r, path, m->c->err);
    if (rc)
        return rc;
    snprintf(m->label, sizeof m->label, "%s%s", pass == ING_VALIDATE ? "check " : "", spec->name);
    ing_progress_start(&pr, m->c, &r, m->label);
    char *line;
    size_t len;
    ing_fields f;
    mq_err row = {0};
    for (;;) {
        if ((rc = ing_lines_next(&r, &line, &len, &row))) {
            if (rc == MQ_ETOOBIG && count)
                m->c->r->rows++;
            if (rc == MQ_ETOOBIG && !(rc = ing_bad_row(m->c, &row)))
                continue; /* an overlong line, skipped */
            if (rc != MQ_EINVAL)
                *m->c->err = row;
            break;
        }
        if (!line)
            break;
        if (blank(line))
            continue;
        size_t nul = strlen(line);
        if (nul != len) {
            ing_progress_row(&pr, &r);
            if (count)
                m->c->r->rows++;
            if ((rc = ing_bad(m->c, "%s:%llu: expected text, got a NUL byte at column %zu", path,
                              (unsigned long long)r.line, nul + 1)))
                break;
            continue;
        }
        uint64_t first_line = r.line;
        char head[64] = "";
        if (first_line == 1) /* quoted as found if it is neither header nor data */
            ing_quote(line, head, sizeof head);
        switch (spec->sep) {
        case SEP_CSV:
            rc = ing_split_csv(&r, line, len, &m->scratch, &f, &row);
            if (rc == MQ_EINVAL) { /* a malformed record; a read error stops below */
                ing_progress_row(&pr, &r);
                if (count)
                    m->c->r->rows++;
                if ((rc = ing_bad_row(m->c, &row)))
                    goto out;
                continue;
            }
            if (rc) {
                *m->c->err = row;
                goto out;
            }
            break;
        case SEP_PAIR:
            ing_split_pair(line, "::", &f);
            break;
        case SEP_TAB:
            ing_split_char(line, '\t', &f);
            break;
        case SEP_BAR:
            ing_split_char(line, '|', &f);
            break;
        }
        if (first_line == 1 && spec->sep == SEP_CSV) {
            uint64_t v;
            if (header_matches(&f, spec->cols))
                continue;
            if (!ing_parse_uint(f.f[0], &v)) {
                rc = mq_err_set(m->c->err, MQ_EINVAL, "%s:1: expected the header %s, got %s", path,
                                spec->cols, head);
                goto out;
            }
            /* No header: the first line is data. */
        }
        ing_progress_row(&pr, &r);
        if (count)
            m->c->r->rows++;
        if (f.n != spec->n_cols) {
            if ((rc = ing_bad(m->c, "%s:%llu: expected %d fields (%s), got %d", path,
                              (unsigned long long)first_line, spec->n_cols, spec->cols, f.n)))
                break;
            continue;
        }
        m->row_line = first_line;
        if ((rc = fn(m, &r, &f, pass)))
            break;
    }
out:
    ing_progress_finish(&pr);
    ing_lines_close(&r);
    return rc;
}

/* Reports a field that is not what its column holds. */
static int bad_field(ml *m, ing_lines *r, int col, const char *what, const char *found) {
    char got[64];
    ing_quote(found, got, sizeof got);
    return ing_bad(m->c, "%s:%llu: expected %s in column %d, got %s", r->path,
                   (unsigned long long)m->row_line, what, col, got);
}

static bool is_id(const char *s) {
    uint64_t v;
    return ing_parse_uint(s, &v);
}

/* Splits a trailing "(1995)" off the name into the year. A name that is only the
 * year, or a year outside what a title's JSON form accepts, is kept as given. */
static int split_year(char *name) {
    size_t n = strlen(name);
    if (n < 7 || name[n - 1] != ')' || name[n - 6] != '(')
        return 0;
    int y = 0;
    for (size_t i = n - 5; i < n - 1; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        y = y * 10 + (name[i] - '0');
    }
    if (y < 1870 || y > 2100)
        return 0;
    size_t keep = n - 6;
    while (keep && (name[keep - 1] == ' ' || name[keep - 1] == '\t'))
        keep--;
    if (!keep)
        return 0;
    name[keep] = '\0';
    return y;
}

/* ------------------------------------------------------------------ movies ---- */

static int movie_row(ml *m, ing_lines *r, ing_fields *f, ing_pass pass) {
    const char *id = f->f[0];
    if (!is_id(id))
        return bad_field(m, r, 1, "a movie id (an integer)", id);
    uint32_t idx;
    if (mq_strmap_get(m->title_idx, id, &idx)) {
        char got[64];
        ing_quote(id, got, sizeof got);
        return ing_bad(m->c,
                       "%s:%llu: expected a movie id not listed before, got %s again "
                       "(first on line %llu)",
                       r->path, (unsigned long long)m->row_line, got,
                       (unsigned long long)m->titles.items[idx].line);
    }
    char *raw = ing_trim(f->f[1]);
    if (strlen(raw) > ML_NAME_MAX)
        return bad_field(m, r, 2, "a title of at most 1024 bytes", raw);
    ml_title t = {0};
    t.line = m->row_line;
    t.name = ing_text_dup(&m->arena, raw, strlen(raw));
    t.year = split_year(t.name);
    if (m->spec->movies.sep == SEP_BAR) {
        /* ml-100k: 19 flags; the release date ("01-Jan-1995") when the name has
         * no year. */
        t.genres.items = mq_arena_alloc(&m->arena, 19 * sizeof(char *));
        for (int g = 0; g < 19; g++) {
            const char *v = f->f[5 + g];
            if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
                char what[64];
                snprintf(what, sizeof what, "0 or 1 (the %s flag)", genres_100k[g]);
                return bad_field(m, r, 6 + g, what, v);
            }
            if (v[0] == '1' && g > 0)
                t.genres.items[t.genres.n++] = (char *)genres_100k[g];
        }
        size_t dl = strlen(f->f[2]);
        if (!t.year && dl >= 4) {
            int y = atoi(f->f[2] + dl - 4);
            if (y >= 1870 && y <= 2100)
                t.year = y;
        }
    } else {
        char *g = ing_trim(f->f[2]);
        if (strcmp(g, "(no genres listed)") != 0) {
            g = ing_text_dup(&m->arena, g, strlen(g));
            t.genres = mq_strlist_split(g, '|', &m->arena);
            for (uint32_t i = 0; i < t.genres.n; i++)
                if (strlen(t.genres.items[i]) > ML_TEXT_MAX)
                    return bad_field(m, r, 3, "genres of at most 256 bytes each", f->f[2]);
        }
    }
    t.ext_id = mq_arena_strdup(&m->arena, id);
    mq_strmap_put(m->title_idx, id, (uint32_t)m->titles.len);
    MQ_VEC_PUSH(&m->titles, t);
    return MQ_OK;
}

/* Looks a rating's or tag's movie up; a movie not in the movies file is a bad
 * row. Sets *idx. */
static int find_movie(ml *m, ing_lines *r, const char *id, uint32_t *idx) {
    if (!is_id(id))
        return bad_field(m, r, 2, "a movie id (an integer)", id) ? MQ_EINVAL : MQ_ENOTFOUND;
    if (mq_strmap_get(m->title_idx, id, idx))
        return MQ_OK;
    char what[64];
    snprintf(what, sizeof what, "a movie id listed in %s", m->spec->movies.name);
    return bad_field(m, r, 2, what, id) ? MQ_EINVAL : MQ_ENOTFOUND;
}

/* -------------------------------------------------------------------- tags ---- */

static int tag_row(ml *m, ing_lines *r, ing_fields *f, ing_pass pass) {
    uint32_t idx;
    int rc;
    if (!is_id(f->f[0]))
        return bad_field(m, r, 1, "a user id (an integer)", f->f[0]);
    if ((rc = find_movie(m, r, f->f[1], &idx)))
        return rc == MQ_ENOTFOUND ? MQ_OK : rc;
    if (!is_id(f->f[3]))
        return bad_field(m, r, 4, "a Unix time in seconds", f->f[3]);
    /* Tags are free text typed by users: compare them lowercased and trimmed.
     * Empty and overlong ones carry nothing a title can use, and are left out. */
    char *tag = ing_trim(f->f[2]);
    size_t n = strlen(tag);
    if (!n || n > ML_TEXT_MAX)
        return MQ_OK;
    for (char *p = tag; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    char key[ML_TEXT_MAX + 16];
    int kn = snprintf(key, sizeof key, "%u\x1f%s", idx, tag);
    uint32_t ti;
    if (mq_strmap_getn(m->tag_idx, key, (size_t)kn, &ti)) {
        m->tags.items[ti].count++;
        return MQ_OK;
    }
    ml_tag t = {idx, 1, ing_text_dup(&m->arena, tag, n)};
    mq_strmap_put(m->tag_idx, key, (uint32_t)m->tags.len);
    MQ_VEC_PUSH(&m->tags, t);
    return MQ_OK;
}

static int tag_order(const void *a, const void *b) {
    const ml_tag *x = a, *y = b;
    if (x->title != y->title)
        return x->title < y->title ? -1 : 1;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->text, y->text);
}

/* Gives each title its ML_MAX_TAGS most frequent tags (ties alphabetical, so a
 * re-import writes the same document). */
static void attach_tags(ml *m) {
    if (!m->tags.len)
        return;
    qsort(m->tags.items, m->tags.len, sizeof(ml_tag), tag_order);
    for (size_t i = 0; i < m->tags.len;) {
        size_t j = i;
        while (j < m->tags.len && m->tags.items[j].title == m->tags.items[i].title)
            j++;
        ml_title *t = &m->titles.items[m->tags.items[i].title];
        uint32_t n = (uint32_t)MQ_MIN(j - i, (size_t)ML_MAX_TAGS);
        t->tags.items = mq_arena_alloc(&m->arena, n * sizeof(char *));
        for (uint32_t k = 0; k < n; k++)
            t->tags.items[t->tags.n++] = m->tags.items[i + k].text;
        i = j;
    }
}

/* ----------------------------------------------------------------- ratings ---- */

static int rating_row(ml *m, ing_lines *r, ing_fields *f, ing_pass pass) {
    const char *user = f->f[0], *movie = f->f[1];
    uint32_t idx;
    uint64_t secs;
    double stars;
    int rc;
    if (!is_id(user))
        return bad_field(m, r, 1, "a user id (an integer)", user);
    if ((rc = find_movie(m, r, movie, &idx)))
        return rc == MQ_ENOTFOUND ? MQ_OK : rc;
    if (!ing_parse_decimal(f->f[2], &stars) || stars < 0.5 || stars > 5)
        return bad_field(m, r, 3, "a rating from 0.5 to 5", f->f[2]);
    if (!ing_parse_uint(f->f[3], &secs) || secs > ML_TS_MAX)
        return bad_field(m, r, 4, "a Unix time in seconds", f->f[3]);
    if (pass == ING_VALIDATE)
        return MQ_OK;

    mq_event *e = ing_writer_slot(&m->w, m->row_line);
    if (!e)
        return MQ_ESTORE; /* the writer failed; ing_writer_finish says why */
    /* One allocation holds "ml:USER:MOVIE" and "USER". */
    size_t ul = strlen(user), ml_ = strlen(movie);
    char *s = mq_arena_alloc(&ing_writer_batch(&m->w)->strings, 3 + ul + 1 + ml_ + 1 + ul + 1);
    char *p = s;
    memcpy(p, "ml:", 3);
    p += 3;
    memcpy(p, user, ul);
    p += ul;
    *p++ = ':';
    memcpy(p, movie, ml_ + 1);
    p += ml_ + 1;
    memcpy(p, user, ul + 1);
    e->event_id = s;
    e->profile = p;
    e->title = m->titles.items[idx].ext_id;
    e->type = MQ_EV_RATING;
    e->ts_ms = (int64_t)secs * 1000;
    e->value = stars;
    return MQ_OK;
}

/* ------------------------------------------------------------------ titles ---- */

static int write_titles(ml *m) {
    ing_ctx *c = m->c;
    mq_err serr = {0};
    size_t in_txn = 0;
    int rc = MQ_OK;
    for (size_t i = 0; i < m->titles.len; i++) {
        if (!in_txn && (rc = mq_store_begin(c->s, &serr)))
            goto fail;
        ml_title *mt = &m->titles.items[i];
        mq_title t = {0};
        t.ext_id = mt->ext_id;
        t.name = mt->name;
        t.kind = MQ_KIND_MOVIE;
        t.year = mt->year;
        t.genres = mt->genres;
        t.tags = mt->tags;
        if ((rc = mq_store_put_title(c->s, &t, &serr))) {
            mq_store_rollback(c->s);
            goto fail;
        }
        c->r->titles++;
        if (++in_txn == c->o.batch || i + 1 == m->titles.len) {
            if ((rc = mq_store_commit(c->s, &serr)))
                goto fail;
            in_txn = 0;
        }
    }
    return MQ_OK;
fail:
    return mq_err_set(c->err, rc, "writing titles: %s", serr.msg);
}

/* ------------------------------------------------------------------- entry ---- */

int mq_import_movielens(mq_store *s, const char *dir, const mq_import_opts *o, mq_import_report *r,
                        mq_err *err) {
    mq_import_report own_r;
    if (!r)
        r = &own_r;
    const ml_spec *spec = NULL;
    char rp[4096], mp[4096];
    for (size_t i = 0; i < MQ_ARRAY_LEN(specs) && !spec; i++) {
        snprintf(rp, sizeof rp, "%s/%s", dir, specs[i].ratings.name);
        snprintf(mp, sizeof mp, "%s/%s", dir, specs[i].movies.name);
        if (mq_path_exists(rp) && mq_path_exists(mp))
            spec = &specs[i];
    }
    ing_ctx c;
    ing_ctx_init(&c, s, o, r, spec ? spec->layout : "movielens", err);
    if (!spec) {
        int rc = mq_err_set(c.err, MQ_EINVAL,
                            "%s: expected a MovieLens directory holding ratings.csv and "
                            "movies.csv (ml-latest, ml-20m, ml-25m, ml-32m), ratings.dat and "
                            "movies.dat (ml-1m, ml-10m) or u.data and u.item (ml-100k), found "
                            "none of these pairs",
                            dir);
        ing_ctx_free(&c);
        return rc;
    }
    ml *m = mq_calloc(1, sizeof *m);
    m->c = &c;
    m->spec = spec;
    snprintf(m->dir_path[F_RATINGS], sizeof m->dir_path[0], "%s/%s", dir, spec->ratings.name);
    snprintf(m->dir_path[F_MOVIES], sizeof m->dir_path[0], "%s/%s", dir, spec->movies.name);
    bool has_tags = false;
    if (spec->tags.name) {
        snprintf(m->dir_path[F_TAGS], sizeof m->dir_path[0], "%s/%s", dir, spec->tags.name);
        has_tags = mq_path_exists(m->dir_path[F_TAGS]);
    }
    mq_arena_init(&m->arena, 1u << 20, 0);
    m->title_idx = mq_strmap_create();
    m->tag_idx = mq_strmap_create();
    mq_buf_init(&m->scratch, ING_LINE_MAX);

    int rc;
    double t[5];
    t[0] = mq_mono_s();
    if ((rc = each_row(m, F_MOVIES, ING_WRITE, true, movie_row)))
        goto out;
    if (has_tags && (rc = each_row(m, F_TAGS, ING_WRITE, true, tag_row)))
        goto out;
    attach_tags(m);
    t[1] = mq_mono_s();
    if (!c.o.skip_bad && (rc = each_row(m, F_RATINGS, ING_VALIDATE, false, rating_row)))
        goto out;
    t[2] = mq_mono_s();
    if ((rc = write_titles(m)))
        goto out;
    t[3] = mq_mono_s();
    ing_writer_start(&m->w, &c, m->dir_path[F_RATINGS]);
    rc = each_row(m, F_RATINGS, ING_WRITE, true, rating_row);
    if ((rc = ing_writer_finish(&m->w, rc)))
        goto out;
    t[4] = mq_mono_s();
    mq_log(MQ_LOG_DEBUG,
           "import %s: movies and tags %.3f s, checking ratings %.3f s, writing titles %.3f s, "
           "ratings %.3f s (the store's append and commit: %.3f s, %s)",
           dir, t[1] - t[0], t[2] - t[1], t[3] - t[2], t[4] - t[3], c.r->store_seconds,
           m->w.threaded ? "in a writer thread beside the parsing" : "in the same thread");
out:
    mq_buf_free(&m->scratch);
    mq_strmap_destroy(m->tag_idx);
    mq_strmap_destroy(m->title_idx);
    mq_free(m->titles.items);
    mq_free(m->tags.items);
    mq_arena_free(&m->arena);
    mq_free(m);
    ing_ctx_free(&c);
    return rc;
}
