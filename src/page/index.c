/* index.c: what the catalogue gives every page, built once per catalogue
 * snapshot, and what a bundle gives, built once per bundle:
 *
 *   themes     every genre, and every genre x tag combination with at least
 *              page.theme_min_titles titles ("Feel-good comedies"): the subjects
 *              of the personalized theme rows (the "personalized genre rows" of
 *              Gomez-Uribe & Hunt, "The Netflix Recommender System", ACM TMIS 2015);
 *   words      lower-cased words of names, genres and tags -> titles, for the
 *              "Because you searched" rows;
 *   newest     titles by the date they joined the catalogue;
 *   bundle     popularity percentiles and order, the trending order, and titles
 *              similar to a title (item-kNN, else iALS factors, else shared
 *              themes), the last computed on first use and kept. */
#include "page_impl.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------------- captions ---- */

/* How a genre reads inside a caption ("Feel-good comedies"). */
static const struct {
    const char *genre, *plural;
} plurals[] = {
    {"Action", "action"},
    {"Adventure", "adventures"},
    {"Animation", "animation"},
    {"Children", "children's films"},
    {"Comedy", "comedies"},
    {"Crime", "crime"},
    {"Documentary", "documentaries"},
    {"Drama", "dramas"},
    {"Family", "family films"},
    {"Fantasy", "fantasy"},
    {"Film-Noir", "film noir"},
    {"History", "history"},
    {"Horror", "horror"},
    {"Kids", "kids' shows"},
    {"Musical", "musicals"},
    {"Mystery", "mysteries"},
    {"Nature", "nature films"},
    {"Reality", "reality TV"},
    {"Romance", "romances"},
    {"Sci-Fi", "sci-fi"},
    {"Sport", "sports titles"},
    {"Thriller", "thrillers"},
    {"War", "war stories"},
    {"Western", "westerns"},
};

static void genre_plural(const char *g, char *out, size_t n) {
    for (size_t i = 0; i < MQ_ARRAY_LEN(plurals); i++)
        if (strcasecmp(plurals[i].genre, g) == 0) {
            snprintf(out, n, "%s", plurals[i].plural);
            return;
        }
    snprintf(out, n, "%s", g);
    for (char *c = out; *c; c++)
        *c = (char)tolower((unsigned char)*c);
}

static const char *make_caption(mq_arena *a, const char *genre, const char *tag) {
    char pl[96], buf[256];
    genre_plural(genre, pl, sizeof pl);
    if (!tag) {
        /* A genre alone keeps its own spelling when its plural is the same word
         * ("Sci-Fi", "Horror"); otherwise the plural, capitalized ("Comedies"). */
        if (strcasecmp(pl, genre) == 0)
            snprintf(buf, sizeof buf, "%s", genre);
        else
            snprintf(buf, sizeof buf, "%s", pl);
    } else {
        snprintf(buf, sizeof buf, "%s %s", tag, pl);
    }
    buf[0] = (char)toupper((unsigned char)buf[0]);
    return mq_arena_strdup(a, buf);
}

/* Row ids use a lower-case slug: "theme:comedy+feel-good". */
static void slug(const char *s, char *out, size_t n) {
    size_t k = 0;
    for (; *s && k + 1 < n; s++) {
        unsigned char c = (unsigned char)*s;
        out[k++] = isalnum(c) ? (char)tolower(c) : (c == '-' || c == '\'' ? (char)c : '-');
    }
    out[k] = '\0';
}

/* ------------------------------------------------------------------ snapshot ---- */

static uint32_t intern(mq_strmap *m, void *vec, const char *s) {
    MQ_VEC(const char *) *v = vec;
    uint32_t id;
    if (mq_strmap_get(m, s, &id))
        return id;
    id = (uint32_t)v->len;
    MQ_VEC_PUSH(v, mq_strmap_put(m, s, id));
    return id;
}

static void *arena_array(mq_arena *a, size_t n, size_t size) {
    void *p = mq_arena_alloc(a, (n ? n : 1) * size);
    if (!p)
        abort(); /* the snapshot's arena has no cap */
    memset(p, 0, (n ? n : 1) * size);
    return p;
}

static int by_added_desc(const void *x, const void *y, void *ud) {
    const pg_snap *sort_snap = ud;
    const mq_title *a = sort_snap->title[*(const uint32_t *)x];
    const mq_title *b = sort_snap->title[*(const uint32_t *)y];
    if (a->added_ms != b->added_ms)
        return a->added_ms > b->added_ms ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int by_size_desc(const void *x, const void *y, void *ud) {
    const pg_snap *sort_snap = ud;
    const pg_theme *a = &sort_snap->themes[*(const uint32_t *)x];
    const pg_theme *b = &sort_snap->themes[*(const uint32_t *)y];
    if (a->n != b->n)
        return a->n > b->n ? -1 : 1;
    return strcmp(a->caption, b->caption);
}

/* Words of names, genres and tags that a search matches: lower case, split at
 * anything but letters and digits, at least 3 bytes, minus a few stop words. */
static bool stop_word(const char *w) {
    static const char *const stop[] = {"the", "and", "for", "with", "from", "les", "der", "des"};
    for (size_t i = 0; i < MQ_ARRAY_LEN(stop); i++)
        if (strcmp(stop[i], w) == 0)
            return true;
    return false;
}

typedef void (*word_fn)(void *ud, const char *w);

static void each_word(const char *s, word_fn fn, void *ud) {
    char w[64];
    size_t k = 0;
    for (;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c && (isalnum(c) || c >= 0x80)) {
            if (k + 1 < sizeof w)
                w[k++] = (char)tolower(c);
            continue;
        }
        if (k >= 3) {
            w[k] = '\0';
            if (!stop_word(w))
                fn(ud, w);
        }
        k = 0;
        if (!c)
            break;
    }
}

typedef struct {
    pg_snap *s;
    uint32_t title;
    uint32_t *count, *last; /* per word: postings, last title counted */
    uint32_t *fill;
    MQ_VEC(uint32_t) grow; /* word counts while the vocabulary grows */
    MQ_VEC(uint32_t) lastv;
    bool second;
} word_pass;

static void word_seen(void *ud, const char *w) {
    word_pass *wp = ud;
    uint32_t id;
    if (!wp->second) {
        if (!mq_strmap_get(wp->s->words, w, &id)) {
            id = (uint32_t)mq_strmap_count(wp->s->words);
            mq_strmap_put(wp->s->words, w, id);
            MQ_VEC_PUSH(&wp->grow, 0);
            MQ_VEC_PUSH(&wp->lastv, 0);
        }
        if (wp->lastv.items[id] != wp->title) {
            wp->lastv.items[id] = wp->title;
            wp->grow.items[id]++;
        }
        return;
    }
    if (!mq_strmap_get(wp->s->words, w, &id) || wp->lastv.items[id] == wp->title)
        return;
    wp->lastv.items[id] = wp->title;
    wp->s->w_idx[wp->s->w_ptr[id] + wp->fill[id]++] = wp->title;
}

static void title_words(word_pass *wp, const mq_title *t) {
    wp->title = t->id;
    if (t->name)
        each_word(t->name, word_seen, wp);
    for (uint32_t i = 0; i < t->genres.n; i++)
        each_word(t->genres.items[i], word_seen, wp);
    for (uint32_t i = 0; i < t->tags.n; i++) {
        each_word(t->tags.items[i], word_seen, wp);
        word_seen(wp, t->tags.items[i]); /* "feel-good" as typed, too */
    }
}

static void build_words(pg_snap *s) {
    s->words = mq_strmap_create();
    word_pass wp = {.s = s};
    for (uint32_t id = 1; id < s->end; id++)
        if (s->title[id])
            title_words(&wp, s->title[id]);
    size_t nw = wp.grow.len;
    s->w_ptr = arena_array(&s->arena, nw + 1, sizeof *s->w_ptr);
    for (size_t i = 0; i < nw; i++)
        s->w_ptr[i + 1] = s->w_ptr[i] + wp.grow.items[i];
    s->w_idx = arena_array(&s->arena, s->w_ptr[nw], sizeof *s->w_idx);
    wp.fill = mq_calloc(nw + 1, sizeof *wp.fill);
    for (size_t i = 0; i < nw; i++)
        wp.lastv.items[i] = 0;
    wp.second = true;
    for (uint32_t id = 1; id < s->end; id++)
        if (s->title[id])
            title_words(&wp, s->title[id]);
    mq_free(wp.fill);
    mq_free(wp.grow.items);
    mq_free(wp.lastv.items);
}

int pg_snap_build(mq_catalog *cat, const mq_page_params *p, uint64_t version, pg_snap **out,
                  mq_err *err) {
    (void)err;
    pg_snap *s = mq_calloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->version = version;
    s->cat = cat;
    mq_arena_init(&s->arena, 1 << 16, 0);
    pthread_mutex_init(&s->bd_mu, NULL);
    s->end = mq_catalog_title_end(cat);
    if (s->end == 0)
        s->end = 1;
    s->title = arena_array(&s->arena, s->end, sizeof *s->title);
    s->url_template = mq_strdup(p->url_template ? p->url_template : "");
    s->json = mq_calloc(s->end, sizeof *s->json);
    s->maturity = arena_array(&s->arena, s->end, sizeof *s->maturity);
    memset(s->maturity, PG_ABSENT, s->end);
    s->n_assets = arena_array(&s->arena, s->end, sizeof *s->n_assets);
    s->genre_ids = mq_strmap_create();
    s->tag_ids = mq_strmap_create();
    size_t n_titles = 0;
    for (uint32_t id = 1; id < s->end; id++) {
        const mq_title *t = mq_catalog_title(cat, id);
        if (!t)
            continue;
        s->title[id] = t;
        s->maturity[id] = (int8_t)MQ_MIN(MQ_MAX(t->maturity, -1), 100);
        s->n_assets[id][0] = (uint8_t)MQ_MIN(t->n_artwork, 255u);
        s->n_assets[id][1] = (uint8_t)MQ_MIN(t->n_synopses, 255u);
        s->n_assets[id][2] = (uint8_t)MQ_MIN(t->labels.n, 255u);
        n_titles++;
        for (uint32_t i = 0; i < t->genres.n; i++)
            intern(s->genre_ids, &s->genres, t->genres.items[i]);
        for (uint32_t i = 0; i < t->tags.n; i++)
            intern(s->tag_ids, &s->tags, t->tags.items[i]);
    }
    size_t ng = s->genres.len, nt = s->tags.len;

    /* Counts of genres and genre x tag pairs. */
    uint32_t *gc = mq_calloc(ng + 1, sizeof *gc);
    uint32_t *pc = mq_calloc(ng * nt + 1, sizeof *pc);
    uint32_t gi[64], ti[256];
    for (uint32_t id = 1; id < s->end; id++) {
        const mq_title *t = s->title[id];
        if (!t)
            continue;
        uint32_t n_g = MQ_MIN(t->genres.n, 64u), n_t = MQ_MIN(t->tags.n, 256u);
        for (uint32_t i = 0; i < n_g; i++) {
            mq_strmap_get(s->genre_ids, t->genres.items[i], &gi[i]);
            gc[gi[i]]++;
        }
        for (uint32_t j = 0; j < n_t; j++)
            mq_strmap_get(s->tag_ids, t->tags.items[j], &ti[j]);
        for (uint32_t i = 0; i < n_g; i++)
            for (uint32_t j = 0; j < n_t; j++)
                pc[(size_t)gi[i] * nt + ti[j]]++;
    }
    /* Themes: genres first, then pairs; a pair that is nearly its whole genre
     * says nothing the genre does not. */
    uint32_t min = (uint32_t)MQ_MAX(p->theme_min_titles, 1);
    MQ_VEC(pg_theme) th = {0};
    s->genre_theme = arena_array(&s->arena, ng, sizeof *s->genre_theme);
    for (size_t g = 0; g < ng; g++) {
        s->genre_theme[g] = UINT32_MAX;
        if (gc[g] >= min) {
            s->genre_theme[g] = (uint32_t)th.len;
            MQ_VEC_PUSH(&th, ((pg_theme){(int)g, -1, NULL, NULL, NULL, 0}));
        }
    }
    uint32_t *pair_theme = mq_malloc((ng * nt + 1) * sizeof *pair_theme);
    for (size_t g = 0; g < ng; g++)
        for (size_t t = 0; t < nt; t++) {
            size_t k = g * nt + t;
            pair_theme[k] = UINT32_MAX;
            if (pc[k] >= min && pc[k] < gc[g] * 9 / 10) {
                pair_theme[k] = (uint32_t)th.len;
                MQ_VEC_PUSH(&th, ((pg_theme){(int)g, (int)t, NULL, NULL, NULL, 0}));
            }
        }
    s->n_themes = (uint32_t)th.len;
    s->themes = arena_array(&s->arena, th.len, sizeof *s->themes);
    if (th.len)
        memcpy(s->themes, th.items, th.len * sizeof *th.items);
    mq_free(th.items);
    for (uint32_t k = 0; k < s->n_themes; k++) {
        pg_theme *T = &s->themes[k];
        uint32_t n = T->tag < 0 ? gc[T->genre] : pc[(size_t)T->genre * nt + (size_t)T->tag];
        T->members = arena_array(&s->arena, n, sizeof *T->members);
        const char *g = s->genres.items[T->genre], *tg = T->tag < 0 ? NULL : s->tags.items[T->tag];
        T->caption = make_caption(&s->arena, g, tg);
        char sg[96], st[96];
        slug(g, sg, sizeof sg);
        if (tg) {
            slug(tg, st, sizeof st);
            T->row_id = pg_strdupf(&s->arena, "theme:%s+%s", sg, st);
        } else {
            T->row_id = pg_strdupf(&s->arena, "theme:%s", sg);
        }
    }
    /* Members, and each title's themes. */
    s->tt_ptr = arena_array(&s->arena, (size_t)s->end + 1, sizeof *s->tt_ptr);
    MQ_VEC(uint32_t) tt = {0};
    for (uint32_t id = 1; id < s->end; id++) {
        s->tt_ptr[id] = (uint32_t)tt.len;
        const mq_title *t = s->title[id];
        if (t) {
            uint32_t n_g = MQ_MIN(t->genres.n, 64u), n_t = MQ_MIN(t->tags.n, 256u);
            for (uint32_t i = 0; i < n_g; i++)
                mq_strmap_get(s->genre_ids, t->genres.items[i], &gi[i]);
            for (uint32_t j = 0; j < n_t; j++)
                mq_strmap_get(s->tag_ids, t->tags.items[j], &ti[j]);
            for (uint32_t i = 0; i < n_g; i++) {
                uint32_t k = s->genre_theme[gi[i]];
                if (k != UINT32_MAX) {
                    pg_theme *T = &s->themes[k];
                    if (T->n == 0 || T->members[T->n - 1] != id) {
                        T->members[T->n++] = id;
                        MQ_VEC_PUSH(&tt, k);
                    }
                }
                for (uint32_t j = 0; j < n_t; j++) {
                    k = pair_theme[(size_t)gi[i] * nt + ti[j]];
                    if (k == UINT32_MAX)
                        continue;
                    pg_theme *T = &s->themes[k];
                    if (T->n == 0 || T->members[T->n - 1] != id) {
                        T->members[T->n++] = id;
                        MQ_VEC_PUSH(&tt, k);
                    }
                }
            }
        }
    }
    s->tt_ptr[s->end] = (uint32_t)tt.len;
    s->tt_ptr[0] = 0;
    s->tt_idx = arena_array(&s->arena, tt.len, sizeof *s->tt_idx);
    if (tt.len)
        memcpy(s->tt_idx, tt.items, tt.len * sizeof *tt.items);
    mq_free(tt.items);
    mq_free(pair_theme);
    mq_free(pc);
    mq_free(gc);

    s->by_size = arena_array(&s->arena, ng, sizeof *s->by_size);
    for (size_t g = 0; g < ng; g++)
        if (s->genre_theme[g] != UINT32_MAX)
            s->by_size[s->n_by_size++] = s->genre_theme[g];
    qsort_r(s->by_size, s->n_by_size, sizeof *s->by_size, by_size_desc, s);
    s->newest = arena_array(&s->arena, n_titles, sizeof *s->newest);
    for (uint32_t id = 1; id < s->end; id++)
        if (s->title[id])
            s->newest[s->n_newest++] = id;
    qsort_r(s->newest, s->n_newest, sizeof *s->newest, by_added_desc, s);
    s->newest_ms = s->n_newest ? s->title[s->newest[0]]->added_ms : 0;
    build_words(s);
    *out = s;
    return MQ_OK;
}

void pg_snap_release(pg_snap *s) {
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    pg_bdata_release(s->bd);
    pthread_mutex_destroy(&s->bd_mu);
    for (uint32_t t = 0; s->json && t < s->end; t++)
        pg_json_title_free(atomic_load(&s->json[t]));
    mq_free(s->json);
    mq_free(s->url_template);
    mq_strmap_destroy(s->genre_ids);
    mq_strmap_destroy(s->tag_ids);
    mq_strmap_destroy(s->words);
    mq_free(s->genres.items);
    mq_free(s->tags.items);
    mq_arena_free(&s->arena);
    mq_catalog_destroy(s->cat);
    mq_free(s);
}

/* ------------------------------------------------------------- bundle data ---- */

static int by_key_desc(const void *x, const void *y, void *ud) {
    const float *sort_key = ud;
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    if (sort_key[a] != sort_key[b])
        return sort_key[a] > sort_key[b] ? -1 : 1;
    return a < b ? -1 : a > b;
}

/* Sorts ids by key, descending (ties by id). */
static void sort_by(uint32_t *ids, size_t n, const float *key) {
    qsort_r(ids, n, sizeof *ids, by_key_desc, (void *)key);
}

#define PG_TREND_TOP 300

static pg_bdata *bdata_build(pg_snap *s, const mq_bundle *b, int64_t version) {
    pg_bdata *bd = mq_calloc(1, sizeof *bd);
    atomic_init(&bd->refs, 1);
    bd->b = b;
    bd->version = version;
    uint32_t end = s->end;
    bd->col = mq_malloc((size_t)end * sizeof *bd->col);
    bd->pop = mq_calloc(end, sizeof *bd->pop);
    bd->pop_order = mq_malloc(((size_t)s->n_newest + 1) * sizeof *bd->pop_order);
    float *key = mq_calloc(end, sizeof *key);
    const float *pop = b ? mq_bundle_popularity(b) : NULL;
    bd->n_cols = b ? mq_bundle_n_titles(b) : 0;
    for (uint32_t t = 0; t < end; t++) {
        bd->col[t] = b && s->title[t] ? mq_bundle_col(b, t) : UINT32_MAX;
        if (bd->col[t] != UINT32_MAX && bd->col[t] >= bd->n_cols)
            bd->col[t] = UINT32_MAX;
    }
    /* Popularity: the bundle's; titles it does not know, and every title without
     * a bundle, rank after by date added (newest first). */
    for (uint32_t i = 0; i < s->n_newest; i++) {
        uint32_t t = s->newest[i];
        float older = -1.0f - (float)i / (float)(s->n_newest + 1);
        key[t] = pop && bd->col[t] != UINT32_MAX ? pop[bd->col[t]] : older;
        bd->pop_order[bd->n_pop++] = t;
    }
    sort_by(bd->pop_order, bd->n_pop, key);
    for (uint32_t i = 0; i < bd->n_pop; i++)
        bd->pop[bd->pop_order[i]] = 1.0f - (float)i / (float)bd->n_pop;
    /* Trending: the bundle's trending model, its top titles. */
    if (b && mq_bundle_has(b, MQ_MODEL_TRENDING)) {
        float *sc = mq_malloc(((size_t)bd->n_cols + 1) * sizeof *sc);
        mq_model_ws *ws = mq_model_ws_create(b);
        if (mq_model_score(b, MQ_MODEL_TRENDING, NULL, 0, sc, ws, NULL) == MQ_OK) {
            uint32_t *cols = mq_malloc(PG_TREND_TOP * sizeof *cols);
            size_t n = mq_topk(sc, bd->n_cols, PG_TREND_TOP, cols, NULL);
            bd->trend_order = mq_malloc((n + 1) * sizeof *bd->trend_order);
            for (size_t i = 0; i < n; i++) {
                uint32_t t = mq_bundle_title_id(b, cols[i]);
                if (t < end && s->title[t])
                    bd->trend_order[bd->n_trend++] = t;
            }
            mq_free(cols);
        }
        mq_model_ws_destroy(ws);
        mq_free(sc);
    }
    /* A theme's popularity: the mean percentile of its ten most popular titles
     * (what a profile with no history is shown first). */
    bd->theme_pop = mq_calloc(s->n_themes + 1, sizeof *bd->theme_pop);
    for (uint32_t k = 0; k < s->n_themes; k++) {
        const pg_theme *T = &s->themes[k];
        float top[10] = {0};
        for (uint32_t i = 0; i < T->n; i++) {
            float v = bd->pop[T->members[i]];
            for (int j = 0; j < 10; j++)
                if (v > top[j]) {
                    float tmp = top[j];
                    top[j] = v;
                    v = tmp;
                }
        }
        float sum = 0;
        for (int j = 0; j < 10; j++)
            sum += top[j];
        bd->theme_pop[k] = sum / 10;
    }
    /* A theme's share of everyone's plays (the bundle's popularity mass of its
     * titles): how likely a member we know nothing about is to want it. */
    bd->theme_share = mq_calloc(s->n_themes + 1, sizeof *bd->theme_share);
    double mx = 0;
    for (uint32_t k = 0; pop && k < s->n_themes; k++) {
        const pg_theme *T = &s->themes[k];
        double sum = 0;
        for (uint32_t i = 0; i < T->n; i++)
            if (bd->col[T->members[i]] != UINT32_MAX)
                sum += pop[bd->col[T->members[i]]];
        bd->theme_share[k] = (float)sum;
        if (sum > mx)
            mx = sum;
    }
    for (uint32_t k = 0; k < s->n_themes; k++)
        bd->theme_share[k] = mx > 0 ? (float)(bd->theme_share[k] / mx)
                                    : (float)s->themes[k].n / (float)MQ_MAX(s->n_newest, 1u);
    /* Theme members by popularity: pop_order walked once, each title appended to
     * its themes. */
    bd->theme_ptr = mq_calloc(s->n_themes + 1, sizeof *bd->theme_ptr);
    for (uint32_t k = 0; k < s->n_themes; k++)
        bd->theme_ptr[k + 1] = bd->theme_ptr[k] + s->themes[k].n;
    bd->theme_by_pop = mq_malloc(((size_t)bd->theme_ptr[s->n_themes] + 1) * sizeof(uint32_t));
    uint32_t *fill = mq_malloc(((size_t)s->n_themes + 1) * sizeof *fill);
    memcpy(fill, bd->theme_ptr, (size_t)s->n_themes * sizeof *fill);
    bool ok = true;
    for (uint32_t i = 0; i < bd->n_pop && ok; i++) {
        uint32_t t = bd->pop_order[i];
        for (uint32_t q = s->tt_ptr[t]; q < s->tt_ptr[t + 1] && ok; q++) {
            uint32_t k = s->tt_idx[q];
            ok = fill[k] < bd->theme_ptr[k + 1];
            if (ok)
                bd->theme_by_pop[fill[k]++] = t;
        }
    }
    for (uint32_t k = 0; k < s->n_themes && ok; k++)
        ok = fill[k] == bd->theme_ptr[k + 1];
    mq_free(fill);
    if (!ok) { /* members outside pop_order: sort them per request instead */
        mq_free(bd->theme_ptr);
        mq_free(bd->theme_by_pop);
        bd->theme_ptr = bd->theme_by_pop = NULL;
    }
    mq_free(key);
    bd->end = end;
    bd->similar = mq_calloc(end, sizeof *bd->similar);
    return bd;
}

pg_bdata *pg_bdata_get(pg_snap *s, const mq_bundle *b, int64_t version) {
    pthread_mutex_lock(&s->bd_mu);
    pg_bdata *bd = s->bd;
    if (!bd || bd->b != b || bd->version != version) {
        pg_bdata *fresh = bdata_build(s, b, version);
        s->bd = fresh;
        pg_bdata_release(bd);
        bd = fresh;
    }
    atomic_fetch_add(&bd->refs, 1);
    pthread_mutex_unlock(&s->bd_mu);
    return bd;
}

void pg_bdata_release(pg_bdata *bd) {
    if (!bd || atomic_fetch_sub(&bd->refs, 1) != 1)
        return;
    for (uint32_t t = 0; t < bd->end; t++)
        mq_free(atomic_load(&bd->similar[t]));
    mq_free(bd->similar);
    mq_free(bd->col);
    mq_free(bd->pop);
    mq_free(bd->pop_order);
    mq_free(bd->trend_order);
    mq_free(bd->theme_pop);
    mq_free(bd->theme_share);
    mq_free(bd->theme_ptr);
    mq_free(bd->theme_by_pop);
    mq_free(bd);
}

/* ----------------------------------------------------------- similar titles ---- */

/* The models' per-thread workspace, kept for the bundle it was made for, and
 * freed when its thread ends. */
typedef struct tl_models {
    const mq_bundle *b;
    int64_t version;
    mq_model_ws *ws;
} tl_models;

static pthread_key_t models_key;
static pthread_once_t models_once = PTHREAD_ONCE_INIT;

static void models_free(void *p) {
    tl_models *t = p;
    mq_model_ws_destroy(t->ws);
    mq_free(t);
}

static void models_init(void) {
    pthread_key_create(&models_key, models_free);
}

mq_model_ws *pg_model_ws(const mq_bundle *b, int64_t version) {
    pthread_once(&models_once, models_init);
    tl_models *t = pthread_getspecific(models_key);
    if (!t) {
        t = mq_calloc(1, sizeof *t);
        pthread_setspecific(models_key, t);
    }
    if (t->b != b || t->version != version || !t->ws) {
        mq_model_ws_destroy(t->ws);
        t->ws = mq_model_ws_create(b);
        t->b = b;
        t->version = version;
    }
    return t->ws;
}

/* Titles sharing the most themes with t (no bundle, or no model that knows t). */
static uint32_t similar_by_themes(const pg_snap *s, uint32_t t, mq_arena *a, uint32_t *out) {
    float *sc = mq_arena_alloc(a, (size_t)s->end * sizeof *sc);
    uint32_t *touched = mq_arena_alloc(a, (size_t)s->end * sizeof *touched);
    if (!sc || !touched)
        return 0;
    uint32_t nt = 0;
    /* Dense accumulation: reset only what was touched. */
    memset(sc, 0, (size_t)s->end * sizeof *sc);
    for (uint32_t q = s->tt_ptr[t]; q < s->tt_ptr[t + 1]; q++) {
        const pg_theme *T = &s->themes[s->tt_idx[q]];
        float w = 1.0f / logf(2.0f + (float)T->n);
        for (uint32_t i = 0; i < T->n; i++) {
            uint32_t m = T->members[i];
            if (m != t) {
                if (sc[m] == 0)
                    touched[nt++] = m;
                sc[m] += w;
            }
        }
    }
    sort_by(touched, nt, sc);
    uint32_t n = MQ_MIN(nt, (uint32_t)PG_SIMILAR);
    memcpy(out, touched, n * sizeof *out);
    return n;
}

const uint32_t *pg_similar(const pg_snap *s, pg_bdata *bd, uint32_t t, mq_arena *a, uint32_t *n) {
    *n = 0;
    if (t == 0 || t >= bd->end)
        return NULL;
    uint32_t *got = atomic_load(&bd->similar[t]);
    if (got) {
        *n = got[0];
        return got + 1;
    }
    uint32_t ids[PG_SIMILAR], k = 0;
    const mq_bundle *b = bd->b;
    uint32_t col = bd->col[t];
    if (b && col != UINT32_MAX) {
        float *sc = mq_arena_alloc(a, ((size_t)bd->n_cols + 1) * sizeof *sc);
        uint32_t cols[PG_SIMILAR + 1];
        int factors = 0;
        const float *Y = mq_bundle_item_factors(b, &factors);
        mq_model_kind kind = mq_bundle_has(b, MQ_MODEL_KNN)       ? MQ_MODEL_KNN
                             : mq_bundle_has(b, MQ_MODEL_CONTENT) ? MQ_MODEL_CONTENT
                                                                  : MQ_MODEL_COUNT;
        bool ok = false;
        if (sc && kind != MQ_MODEL_COUNT) {
            mq_hist_item h = {col, 1.0f, 0.0f};
            ok = mq_model_score(b, kind, &h, 1, sc, pg_model_ws(b, bd->version), NULL) == MQ_OK;
        } else if (sc && Y && factors > 0) {
            /* Cosine of iALS item factors. */
            const float *y = Y + (size_t)col * factors;
            double ny = 0;
            for (int f = 0; f < factors; f++)
                ny += (double)y[f] * y[f];
            for (uint32_t c = 0; c < bd->n_cols; c++) {
                const float *z = Y + (size_t)c * factors;
                double d = 0, nz = 0;
                for (int f = 0; f < factors; f++) {
                    d += (double)y[f] * z[f];
                    nz += (double)z[f] * z[f];
                }
                sc[c] = nz > 0 && ny > 0 ? (float)(d / sqrt(ny * nz)) : 0;
            }
            ok = true;
        }
        if (ok) {
            sc[col] = -INFINITY;
            size_t got_n = mq_topk(sc, bd->n_cols, PG_SIMILAR, cols, NULL);
            for (size_t i = 0; i < got_n; i++) {
                uint32_t id = mq_bundle_title_id(b, cols[i]);
                if (id < s->end && s->title[id] && id != t)
                    ids[k++] = id;
            }
        }
    }
    if (k < PG_SIMILAR / 2) {
        /* Few or none from the models (a cold title): fill with shared themes. */
        uint32_t more[PG_SIMILAR];
        uint32_t m = similar_by_themes(s, t, a, more);
        for (uint32_t i = 0; i < m && k < PG_SIMILAR; i++) {
            bool dup = false;
            for (uint32_t j = 0; j < k && !dup; j++)
                dup = ids[j] == more[i];
            if (!dup)
                ids[k++] = more[i];
        }
    }
    uint32_t *arr = mq_malloc(((size_t)k + 1) * sizeof *arr);
    arr[0] = k;
    memcpy(arr + 1, ids, k * sizeof *ids);
    uint32_t *expected = NULL;
    if (!atomic_compare_exchange_strong(&bd->similar[t], &expected, arr)) {
        mq_free(arr); /* another thread got there first: the same list */
        arr = expected;
    }
    *n = arr[0];
    return arr + 1;
}
