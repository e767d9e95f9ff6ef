/* render.c: a layout into the page the caller reads (mq_page: rows with their
 * captions and evidence, items with their title, match, chosen assets and the
 * evidence for each), and that page into JSON (docs/openapi.yaml, HomePage) or
 * into text for a terminal (`marquee page`). The JSON is written by hand into one
 * buffer: a 40 x 25 page is a thousand items, and building a tree for it would
 * cost more than assembling the page. What is the same on every page, a title's
 * name, assets and labels, is escaped once per catalogue snapshot (the first
 * time a page shows the title; about 0.7 KB a title) and copied after. */
#include "page_impl.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

/* -------------------------------------------------------------- evidence ---- */

/* The decimal digits of v, at least w of them (zero-padded); returns the end. */
static char *put_digits(char *d, uint64_t v, int w) {
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v || k < w);
    while (k)
        *d++ = tmp[--k];
    return d;
}

/* a, b, the decimal digits of v and c, cut to n bytes as snprintf(out, n,
 * "%s%s%u%s", a, b, v, c) would: a page has a few hundred pieces of evidence,
 * and the format machinery was a few percent of a page. */
void pg_cat_u(char *out, size_t n, const char *a, const char *b, unsigned v, const char *c) {
    char digits[24];
    *put_digits(digits, v, 1) = '\0';
    size_t k = 0;
    const char *parts[4] = {a, b, digits, c};
    for (int i = 0; i < 4; i++)
        for (const char *p = parts[i]; *p && k + 1 < n; p++)
            out[k++] = *p;
    if (n)
        out[k] = '\0';
}

/* snprintf(out, n, "%s%s", a, b) without the format machinery. */
void pg_cat2(char *out, size_t n, const char *a, const char *b) {
    size_t k = 0;
    for (; *a && k + 1 < n; a++)
        out[k++] = *a;
    for (; *b && k + 1 < n; b++)
        out[k++] = *b;
    if (n)
        out[k] = '\0';
}

static void days_text(char *out, size_t n, const char *prefix, unsigned days) {
    if (days == 0)
        pg_cat2(out, n, prefix, " today");
    else if (days == 1)
        pg_cat2(out, n, prefix, " yesterday");
    else if (days < 14)
        pg_cat_u(out, n, prefix, " ", days, " days ago");
    else if (days < 60)
        pg_cat_u(out, n, prefix, " ", days / 7, " weeks ago");
    else
        pg_cat_u(out, n, prefix, " ", days / 30, " months ago");
}

static void item_evidence(const pg_snap *s, const pg_row *r, const pg_item *it, char *out,
                          size_t n) {
    const char *genre = it->why == PG_WHY_GENRE && it->why_genre && it->why_genre <= s->genres.len
                            ? s->genres.items[it->why_genre - 1]
                            : NULL;
    switch ((mq_page_row_kind)r->kind) {
    case MQ_ROW_CONTINUE:
        if (it->aux == 0xFFFE)
            pg_cat2(out, n, "Next episode", "");
        else if (it->aux > 0 && it->aux != 0xFFFF)
            pg_cat_u(out, n, "", "", it->aux, " min left");
        else
            pg_cat2(out, n, "Resume where you stopped", "");
        return;
    case MQ_ROW_BECAUSE_WATCHED: {
        const mq_title *t = r->ref < s->end ? s->title[r->ref] : NULL;
        pg_cat2(out, n, "Similar to ", t ? (t->name && *t->name ? t->name : t->ext_id) : "it");
        return;
    }
    case MQ_ROW_TRENDING:
        if (it->aux != 0xFFFF)
            pg_cat_u(out, n, "#", "", it->aux, " in Trending Now");
        else
            pg_cat2(out, n, "Trending now", "");
        return;
    case MQ_ROW_POPULAR:
        pg_cat_u(out, n, "#", "", it->aux, " on marquee");
        return;
    case MQ_ROW_NEW:
        if (it->aux != 0xFFFF)
            days_text(out, n, "Added", it->aux);
        else
            pg_cat2(out, n, "New", "");
        return;
    case MQ_ROW_WATCH_AGAIN:
        if (it->aux != 0xFFFF)
            days_text(out, n, "You finished it", it->aux);
        else
            pg_cat2(out, n, "You finished it", "");
        return;
    case MQ_ROW_MY_LIST:
        pg_cat2(out, n, "On your list", "");
        return;
    case MQ_ROW_BECAUSE_SEARCHED:
        pg_cat2(out, n, "Matches your search", "");
        return;
    case MQ_ROW_THEME:
    case MQ_ROW_TOP_PICKS:
    default:
        if (genre)
            pg_cat2(out, n, "Because you like ", genre);
        else if (r->kind == MQ_ROW_THEME && r->ref < s->n_themes)
            pg_cat2(out, n, "", s->themes[r->ref].caption);
        else
            pg_cat2(out, n, "", "Picked for you");
        return;
    }
}

void pg_render_rows(const pg_layout *l, const pg_snap *s, mq_arena *a, size_t from, size_t n,
                    mq_page *out) {
    if (from > l->n_rows)
        from = l->n_rows;
    if (n > l->n_rows - from)
        n = l->n_rows - from;
    out->rows = mq_arena_alloc(a, (n ? n : 1) * sizeof *out->rows);
    out->n_rows = 0;
    out->first_row = from;
    out->total_rows = l->n_rows;
    if (!out->rows)
        return;
    for (size_t i = 0; i < n; i++) {
        const pg_row *r = &l->rows[from + i];
        mq_page_row *o = &out->rows[out->n_rows];
        o->kind = (mq_page_row_kind)r->kind;
        o->row_id = l->strs + r->str;
        o->caption = o->row_id + strlen(o->row_id) + 1;
        o->evidence = o->caption + strlen(o->caption) + 1;
        o->score = r->score;
        o->items = mq_arena_alloc(a, (r->n ? r->n : 1) * sizeof *o->items);
        o->n_items = 0;
        if (!o->items)
            break;
        for (uint16_t k = 0; k < r->n; k++) {
            const pg_item *it = &l->items[r->first + k];
            const mq_title *t = it->title < s->end ? s->title[it->title] : NULL;
            if (!t)
                continue; /* deleted since the page was assembled */
            mq_page_item *d = &o->items[o->n_items++];
            d->title_id = it->title;
            d->title = t;
            d->match = it->match == 0xFFFF ? NAN : it->match / 10000.0;
            /* (the snapshot's counts: the title itself stays out of the cache) */
            const uint8_t *na = s->n_assets[it->title];
            d->artwork = it->art < (int)na[0] ? it->art : -1;
            d->synopsis = it->syn < (int)na[1] ? it->syn : -1;
            d->label = it->label < (int)na[2] ? it->label : -1;
            d->propensity = it->propensity;
            item_evidence(s, r, it, d->evidence, sizeof d->evidence);
        }
        out->n_rows++;
    }
}

/* ------------------------------------------------------------------ JSON ---- */

/* reserve() when b must grow: mq_buf grows on append, so append n bytes and
 * take them back. */
static int reserve_slow(mq_buf *b, size_t n) {
    static const char zeros[4096];
    size_t len = b->len;
    while (n > 0) {
        size_t k = MQ_MIN(n, sizeof zeros);
        int rc = mq_buf_append(b, zeros, k);
        if (rc) {
            b->len = len;
            return rc;
        }
        n -= k;
    }
    b->len = len;
    b->data[len] = '\0';
    return MQ_OK;
}

/* Makes room for n more bytes in b, so the writers below can copy without a
 * call per piece (inline: it is asked a dozen times per item). */
static inline int reserve(mq_buf *b, size_t n) {
    return b->alloc > b->len + n ? MQ_OK : reserve_slow(b, n);
}

/* A JSON string, written into reserved room (6 bytes per input byte at worst). */
static int put_str(mq_buf *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(s);
    if (reserve(b, 6 * n + 3))
        return MQ_ETOOBIG;
    char *d = b->data + b->len;
    *d++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\') {
            *d++ = (char)c;
        } else if (c < 0x20) {
            *d++ = '\\';
            *d++ = 'u';
            *d++ = '0';
            *d++ = '0';
            *d++ = hex[c >> 4];
            *d++ = hex[c & 15];
        } else {
            *d++ = '\\';
            *d++ = (char)c;
        }
    }
    *d++ = '"';
    *d = '\0';
    b->len = (size_t)(d - b->data);
    return MQ_OK;
}

static inline int put_n(mq_buf *b, const char *s, size_t n) {
    if (reserve(b, n + 1))
        return MQ_ETOOBIG;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return MQ_OK;
}

static int put(mq_buf *b, const char *s) {
    return put_n(b, s, strlen(s));
}

/* A string literal: its length known, the copy is a few moves, not a call to
 * strlen and one to memcpy (a page's items have a dozen each). */
#define put_lit(b, s) put_n(b, "" s, sizeof(s) - 1)

/* The asset URL from assets.url_template ("{id}", "{title}"). */
static int put_url(mq_buf *b, const char *tmpl, const char *title, const char *id) {
    char url[512];
    mq_asset_url_format(tmpl, title, id, url, sizeof url);
    return put_str(b, url);
}

/* Bytes after a title's text that put_piece may read: it copies 32 bytes at a
 * time, past the end of the last piece. */
#define PIECE_PAD 32

/* A title's JSON pieces, in one allocation: the head (`{"title":...,"name":...`),
 * each artwork (`,"artwork":{"id":...,"url":...`, the propensity is the item's),
 * each synopsis (`,"synopsis":{...}`), each label as a string, and every label
 * joined by commas. Piece i is text[off[i]..off[i + 1]). Written by the same
 * functions as the pieces they replace, so the bytes are the same. */
struct pg_json_title {
    uint32_t n_art, n_syn, n_lab;
    uint32_t *off; /* pieces + 1 */
    char *text;
};

void pg_json_title_free(struct pg_json_title *j) {
    mq_free(j);
}

/* The pieces of a title an item is written from, whether cached (json_title) or
 * written directly (a page built off a snapshot). */
static int put_title_head(mq_buf *b, const mq_title *t) {
    int rc = put_lit(b, "{\"title\":");
    rc |= put_str(b, t->ext_id);
    rc |= put_lit(b, ",\"name\":");
    return rc | put_str(b, t->name ? t->name : "");
}

/* Without the closing brace: the propensity is the item's. */
static int put_artwork(mq_buf *b, const char *tmpl, const mq_title *t, uint32_t i) {
    int rc = put_lit(b, ",\"artwork\":{\"id\":");
    rc |= put_str(b, t->artwork[i].id);
    rc |= put_lit(b, ",\"url\":");
    return rc | put_url(b, tmpl, t->ext_id, t->artwork[i].id);
}

static int put_synopsis(mq_buf *b, const mq_title *t, uint32_t i) {
    int rc = put_lit(b, ",\"synopsis\":{\"id\":");
    rc |= put_str(b, t->synopses[i].id);
    rc |= put_lit(b, ",\"text\":");
    rc |= put_str(b, t->synopses[i].text ? t->synopses[i].text : "");
    return rc | put_lit(b, "}");
}

static int put_all_labels(mq_buf *b, const mq_title *t) {
    int rc = 0;
    for (uint32_t l = 0; l < t->labels.n; l++) {
        if (l)
            rc |= put_lit(b, ",");
        rc |= put_str(b, t->labels.items[l]);
    }
    return rc;
}

static struct pg_json_title *json_title_build(const mq_title *t, const char *url_template) {
    uint32_t np = 1 + t->n_artwork + t->n_synopses + t->labels.n + 1;
    uint32_t *off = mq_malloc(((size_t)np + 1) * sizeof *off);
    mq_buf b;
    mq_buf_init(&b, 0);
    int rc = 0;
    uint32_t k = 0;
    off[k++] = 0;
    rc |= put_title_head(&b, t);
    off[k++] = (uint32_t)b.len;
    for (uint32_t i = 0; i < t->n_artwork; i++) {
        rc |= put_artwork(&b, url_template, t, i);
        off[k++] = (uint32_t)b.len;
    }
    for (uint32_t i = 0; i < t->n_synopses; i++) {
        rc |= put_synopsis(&b, t, i);
        off[k++] = (uint32_t)b.len;
    }
    for (uint32_t l = 0; l < t->labels.n; l++) {
        rc |= put_str(&b, t->labels.items[l]);
        off[k++] = (uint32_t)b.len;
    }
    rc |= put_all_labels(&b, t);
    off[k++] = (uint32_t)b.len;
    struct pg_json_title *j = NULL;
    if (!rc && b.len < UINT32_MAX) {
        j = mq_malloc(sizeof *j + ((size_t)np + 1) * sizeof *off + b.len + 1 + PIECE_PAD);
        j->n_art = t->n_artwork;
        j->n_syn = t->n_synopses;
        j->n_lab = t->labels.n;
        j->off = (uint32_t *)(j + 1);
        memcpy(j->off, off, ((size_t)np + 1) * sizeof *off);
        j->text = (char *)(j->off + np + 1);
        memcpy(j->text, b.data ? b.data : "", b.len);
        memset(j->text + b.len, 0, 1 + PIECE_PAD);
    }
    mq_free(off);
    mq_buf_free(&b);
    return j;
}

/* The pieces of title id for this snapshot, written by the first page to show
 * it (pages built concurrently may both write them; one copy is kept). NULL when
 * the page was not built on a snapshot or with another url template. */
static const struct pg_json_title *json_title(pg_snap *s, const mq_page_item *it) {
    if (!s || it->title_id >= s->end || s->title[it->title_id] != it->title)
        return NULL;
    _Atomic(struct pg_json_title *) *slot = &s->json[it->title_id];
    struct pg_json_title *j = atomic_load_explicit(slot, memory_order_acquire);
    if (j)
        return j;
    j = json_title_build(it->title, s->url_template);
    if (!j)
        return NULL;
    struct pg_json_title *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(slot, &none, j, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        pg_json_title_free(j);
        j = none;
    }
    return j;
}

/* A piece into reserved room, 32 bytes at a time: pieces are a few dozen bytes,
 * five per item, and a call to memcpy for each cost more than the copy. The
 * moves may read past the piece (into the next, or the PIECE_PAD after the
 * text) and write past it, into room reserved for the writes that follow. */
static inline int put_piece(mq_buf *b, const struct pg_json_title *j, uint32_t i) {
    uint32_t from = j->off[i], n = j->off[i + 1] - from;
    if (reserve(b, (size_t)n + PIECE_PAD))
        return MQ_ETOOBIG;
    char *d = b->data + b->len;
    const char *s = j->text + from;
    for (uint32_t k = 0; k < n; k += 32) {
        memcpy(d + k, s + k, 16);
        memcpy(d + k + 16, s + k + 16, 16);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return MQ_OK;
}

/* ------------------------------------------------------------- numbers ---- */

/* snprintf's "%.4f" of x, when x is a float's value (a row's score): x * 10^4 is
 * then exact in a double (24 + 10 bits), and rounding it to an integer in the
 * current mode rounds as printf does. False (nothing written) for any other x,
 * which takes snprintf: a page has forty scores, and the format machinery cost
 * as much as the rest of their rows. */
bool pg_fmt_f4(double x, char *out) {
    if (!((double)(float)x == x) || !(fabs(x) < 1e9))
        return false;
    double n = nearbyint(x * 10000.0);
    char *d = out;
    if (signbit(x))
        *d++ = '-';
    uint64_t v = (uint64_t)fabs(n);
    d = put_digits(d, v / 10000, 1);
    *d++ = '.';
    d = put_digits(d, v % 10000, 4);
    *d = '\0';
    return true;
}

/* snprintf's "%.4g" of p, when p is a float's value in [1e-4, 1) (a
 * propensity): the first scale 10^k at which p has four digits before the point
 * is %g's exponent, p * 10^k is exact (24 + 17 bits), rounded as printf rounds,
 * and %g's fixed form is those digits with the trailing zeros cut. False
 * (nothing written) otherwise. A page has a thousand propensities. */
bool pg_fmt_g4(double p, char *out) {
    static const double pow10[] = {1e4, 1e5, 1e6, 1e7};
    if (!((double)(float)p == p) || !(p > 0 && p < 1))
        return false;
    for (int k = 0; k < 4; k++) {
        double e = p * pow10[k];
        if (e < 1000)
            continue;
        double n = nearbyint(e);
        int dec = 4 + k;  /* decimals */
        if (n >= 10000) { /* rounded up to the next power of ten */
            n = 1000;
            dec--;
        }
        uint64_t v = (uint64_t)n, scale = 1;
        for (int i = 0; i < dec; i++)
            scale *= 10;
        uint64_t ip = v / scale, fp = v % scale;
        while (dec > 0 && fp % 10 == 0) {
            fp /= 10;
            dec--;
        }
        char *d = put_digits(out, ip, 1);
        if (dec > 0) {
            *d++ = '.';
            d = put_digits(d, fp, dec);
        }
        *d = '\0';
        return true;
    }
    return false;
}

/* `,"propensity":P}` for an item's propensity (not 1). */
static int put_propensity(mq_buf *b, double p) {
    char text[48] = ",\"propensity\":";
    size_t k = sizeof ",\"propensity\":" - 1;
    if (!pg_fmt_g4(p, text + k))
        snprintf(text + k, sizeof text - k, "%.4g", p);
    k += strlen(text + k);
    text[k++] = '}';
    return put_n(b, text, k);
}

/* The pieces of a title, if written, without waiting for them. */
static inline const struct pg_json_title *json_peek(const pg_snap *s, uint32_t id) {
    return id < s->end ? atomic_load_explicit(&s->json[id], memory_order_relaxed) : NULL;
}

/* Asks for the start of each item's pieces (the offsets, and the head). */
static void prefetch_heads(const pg_snap *s, const mq_page_row *r) {
    for (size_t k = 0; k < r->n_items; k++) {
        const struct pg_json_title *j = json_peek(s, r->items[k].title_id);
        if (j)
            mq_prefetch(j, 128);
    }
}

/* Asks for the pieces item `it` is written from (mq_page_json below). */
static void prefetch_pieces(const pg_snap *s, const mq_page_item *it) {
    const struct pg_json_title *j = json_peek(s, it->title_id);
    if (!j)
        return;
    const uint32_t *off = j->off;
    mq_prefetch(j->text, off[1]);
    if (it->artwork >= 0 && (uint32_t)it->artwork < j->n_art) {
        uint32_t a = 1 + (uint32_t)it->artwork;
        mq_prefetch(j->text + off[a], off[a + 1] - off[a]);
    }
    if (it->synopsis >= 0 && (uint32_t)it->synopsis < j->n_syn) {
        uint32_t y = 1 + j->n_art + (uint32_t)it->synopsis;
        mq_prefetch(j->text + off[y], off[y + 1] - off[y]);
    }
    uint32_t l = 1 + j->n_art + j->n_syn + (it->label >= 0 ? (uint32_t)it->label : j->n_lab);
    if (l < 1 + j->n_art + j->n_syn + j->n_lab + 1)
        mq_prefetch(j->text + off[l], off[l + 1] - off[l]);
}

int mq_page_json(const mq_page *p, const mq_page_params *params, mq_buf *b) {
    int rc = 0;
    char ts[40], num[64];
    mq_time_format_rfc3339(p->generated_ms, ts, sizeof ts);
    rc |= put_lit(b, "{\"page_id\":");
    rc |= put_str(b, p->page_id);
    rc |= put_lit(b, ",\"profile\":");
    rc |= put_str(b, p->profile ? p->profile : "");
    pg_snap *snap = p->snap;
    if (snap && strcmp(snap->url_template, params->url_template ? params->url_template : ""))
        snap = NULL; /* pieces written with another template */
    rc |= mq_buf_printf(b,
                        ",\"device\":\"%s\",\"policy\":\"%s\",\"generated_at\":\"%s\","
                        "\"row_count\":%zu,\"first_row\":%zu,\"rows\":[",
                        mq_device_name(p->device), mq_page_policy_name(p->policy), ts,
                        p->total_rows, p->first_row);
    if (snap && p->n_rows)
        prefetch_heads(snap, &p->rows[0]);
    for (size_t i = 0; i < p->n_rows; i++) {
        const mq_page_row *r = &p->rows[i];
        rc |= put(b, i ? ",{\"row_id\":" : "{\"row_id\":");
        rc |= put_str(b, r->row_id);
        rc |= put_lit(b, ",\"type\":\"");
        rc |= put(b, mq_page_row_type(r->kind));
        pg_cat_u(num, sizeof num, "\",\"position\":", "", (unsigned)(p->first_row + i),
                 ",\"caption\":");
        rc |= put(b, num);
        rc |= put_str(b, r->caption);
        rc |= put_lit(b, ",\"evidence\":");
        rc |= put_str(b, r->evidence);
        double score = isfinite(r->score) ? r->score : 0;
        rc |= put_lit(b, ",\"score\":");
        if (!pg_fmt_f4(score, num))
            snprintf(num, sizeof num, "%.4f", score);
        rc |= put(b, num);
        rc |= put_lit(b, ",\"items\":[");
        /* The row's pieces are scattered in memory: ask for them all at once, so
         * that their cache misses overlap instead of coming one item at a time;
         * the pieces of this row (their offsets came in during the previous
         * row), and the offsets of the next. */
        if (snap) {
            for (size_t k = 0; k < r->n_items; k++)
                prefetch_pieces(snap, &r->items[k]);
            if (i + 1 < p->n_rows)
                prefetch_heads(snap, &p->rows[i + 1]);
        }
        for (size_t k = 0; k < r->n_items; k++) {
            const mq_page_item *it = &r->items[k];
            const mq_title *t = it->title;
            const struct pg_json_title *j = json_title(snap, it);
            if (k)
                rc |= put_lit(b, ",");
            rc |= j ? put_piece(b, j, 0) : put_title_head(b, t);
            if (isnan(it->match)) {
                rc |= put_lit(b, ",\"match\":null,\"match_pct\":null");
            } else {
                /* by hand: a thousand of these per page */
                int pm = (int)lround(MQ_MIN(MQ_MAX(it->match, 0.0), 1.0) * 1000);
                int pct = (pm + 5) / 10;
                char *d = num;
                memcpy(d, ",\"match\":", 9);
                d += 9;
                if (pm >= 1000) {
                    memcpy(d, "1.000", 5);
                } else {
                    d[0] = '0';
                    d[1] = '.';
                    d[2] = (char)('0' + pm / 100);
                    d[3] = (char)('0' + pm / 10 % 10);
                    d[4] = (char)('0' + pm % 10);
                }
                d += 5;
                memcpy(d, ",\"match_pct\":", 13);
                d += 13;
                if (pct >= 100)
                    *d++ = '1';
                if (pct >= 10)
                    *d++ = (char)('0' + pct / 10 % 10);
                *d++ = (char)('0' + pct % 10);
                rc |= mq_buf_append(b, num, (size_t)(d - num));
            }
            if (it->artwork >= 0) {
                rc |= j ? put_piece(b, j, 1 + (uint32_t)it->artwork)
                        : put_artwork(b, params->url_template, t, (uint32_t)it->artwork);
                if (it->propensity == 1.0) {
                    rc |= put_lit(b, ",\"propensity\":1}");
                } else {
                    rc |= put_propensity(b, it->propensity);
                }
            } else {
                rc |= put_lit(b, ",\"artwork\":null");
            }
            if (it->synopsis >= 0) {
                rc |= j ? put_piece(b, j, 1 + j->n_art + (uint32_t)it->synopsis)
                        : put_synopsis(b, t, (uint32_t)it->synopsis);
            } else {
                rc |= put_lit(b, ",\"synopsis\":null");
            }
            /* The chosen label, to be logged back with the impression. */
            uint32_t lab0 = j ? 1 + j->n_art + j->n_syn : 0;
            rc |= put_lit(b, ",\"label\":");
            if (it->label >= 0)
                rc |= j ? put_piece(b, j, lab0 + (uint32_t)it->label)
                        : put_str(b, t->labels.items[it->label]);
            else
                rc |= put_lit(b, "null");
            rc |= put_lit(b, ",\"labels\":[");
            if (j) {
                rc |=
                    put_piece(b, j, it->label >= 0 ? lab0 + (uint32_t)it->label : lab0 + j->n_lab);
            } else if (it->label >= 0) {
                rc |= put_str(b, t->labels.items[it->label]);
            } else {
                rc |= put_all_labels(b, t);
            }
            rc |= put_lit(b, "],\"evidence\":");
            rc |= put_str(b, it->evidence);
            rc |= put_lit(b, "}");
        }
        rc |= put_lit(b, "]}");
    }
    rc |= put_lit(b, "],\"next_cursor\":");
    if (p->next_cursor[0])
        rc |= put_str(b, p->next_cursor);
    else
        rc |= put_lit(b, "null");
    rc |= put_lit(b, "}");
    return rc ? MQ_ETOOBIG : MQ_OK;
}

/* ------------------------------------------------------------------ text ---- */

/* Cuts s to at most `cols` display columns (UTF-8 aware, with an ellipsis). */
static void fit(char *out, size_t n, const char *s, int cols) {
    size_t k = 0;
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && k + 4 < n;) {
        size_t len = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;
        if (w + 1 > cols) {
            if (k >= 3 && w >= 1) {
                /* replace the last character with an ellipsis */
                while (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0x80)
                    k--;
                if (k > 0)
                    k--;
                memcpy(out + k, "\xe2\x80\xa6", 3);
                k += 3;
            }
            break;
        }
        for (size_t i = 0; i < len && p[i]; i++)
            out[k++] = (char)p[i];
        p += len;
        w++;
    }
    out[k] = '\0';
}

void mq_page_print(const mq_page *p, FILE *f, int width, bool ansi) {
    if (width < 40)
        width = 40;
    const char *B = ansi ? "\033[1m" : "", *D = ansi ? "\033[2m" : "", *G = ansi ? "\033[32m" : "",
               *R = ansi ? "\033[0m" : "";
    fprintf(f, "%shomepage%s of %s on %s, policy %s: %zu rows (page %s)\n", B, R,
            p->profile ? p->profile : "?", mq_device_name(p->device),
            mq_page_policy_name(p->policy), p->total_rows, p->page_id);
    char line[1024];
    for (size_t i = 0; i < p->n_rows; i++) {
        const mq_page_row *r = &p->rows[i];
        fit(line, sizeof line, r->caption, width - 6);
        fprintf(f, "\n%s%2zu  %s%s\n", B, p->first_row + i + 1, line, R);
        fit(line, sizeof line, r->evidence, width - 6);
        fprintf(f, "    %s%s  [%s]%s\n", D, line, r->row_id, R);
        for (size_t k = 0; k < r->n_items; k++) {
            const mq_page_item *it = &r->items[k];
            char name[512], ev[256], m[16];
            if (isnan(it->match))
                snprintf(m, sizeof m, "    ");
            else
                snprintf(m, sizeof m, "%3d%%", (int)lround(it->match * 100));
            int name_w = (width - 12) * 3 / 5;
            fit(name, sizeof name, it->title->name ? it->title->name : it->title->ext_id, name_w);
            fit(ev, sizeof ev, it->evidence, width - 12 - name_w - 2);
            int pad = name_w - (int)strlen(name);
            /* strlen over-counts multi-byte names; padding is cosmetic */
            fprintf(f, "    %s%s%s  %s%*s  %s%s%s\n", G, m, R, name, pad > 0 ? pad : 0, "", D, ev,
                    R);
        }
    }
    if (p->next_cursor[0])
        fprintf(f, "\n%smore rows: --cursor %s%s\n", D, p->next_cursor, R);
}

bool mq_page_in_first_screen(const mq_page *p, const mq_page_params *params, uint32_t title_id) {
    for (size_t i = 0; i < p->n_rows && p->first_row + i < (size_t)params->screen_rows; i++) {
        const mq_page_row *r = &p->rows[i];
        for (size_t k = 0; k < r->n_items && k < (size_t)params->screen_cols; k++)
            if (r->items[k].title_id == title_id)
                return true;
    }
    return false;
}
