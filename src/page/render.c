/* render.c: a layout into the page the caller reads (mq_page: rows with their
 * captions and evidence, items with their title, match, chosen assets and the
 * evidence for each), and that page into JSON (docs/openapi.yaml, HomePage) or
 * into text for a terminal (`marquee page`). The JSON is written by hand into one
 * buffer: a 40 x 25 page is a thousand items, and building a tree for it would
 * cost more than assembling the page. */
#include "page_impl.h"

#include <math.h>
#include <string.h>

/* -------------------------------------------------------------- evidence ---- */

static void days_text(char *out, size_t n, const char *prefix, unsigned days) {
    if (days == 0)
        snprintf(out, n, "%s today", prefix);
    else if (days == 1)
        snprintf(out, n, "%s yesterday", prefix);
    else if (days < 14)
        snprintf(out, n, "%s %u days ago", prefix, days);
    else if (days < 60)
        snprintf(out, n, "%s %u weeks ago", prefix, days / 7);
    else
        snprintf(out, n, "%s %u months ago", prefix, days / 30);
}

static void item_evidence(const pg_snap *s, const pg_row *r, const pg_item *it, char *out,
                          size_t n) {
    const char *genre = it->why == PG_WHY_GENRE && it->why_genre && it->why_genre <= s->genres.len
                            ? s->genres.items[it->why_genre - 1]
                            : NULL;
    switch ((mq_page_row_kind)r->kind) {
    case MQ_ROW_CONTINUE:
        if (it->aux == 0xFFFE)
            snprintf(out, n, "Next episode");
        else if (it->aux > 0 && it->aux != 0xFFFF)
            snprintf(out, n, "%u min left", it->aux);
        else
            snprintf(out, n, "Resume where you stopped");
        return;
    case MQ_ROW_BECAUSE_WATCHED: {
        const mq_title *t = r->ref < s->end ? s->title[r->ref] : NULL;
        snprintf(out, n, "Similar to %s", t ? (t->name && *t->name ? t->name : t->ext_id) : "it");
        return;
    }
    case MQ_ROW_TRENDING:
        if (it->aux != 0xFFFF)
            snprintf(out, n, "#%u in Trending Now", it->aux);
        else
            snprintf(out, n, "Trending now");
        return;
    case MQ_ROW_POPULAR:
        snprintf(out, n, "#%u on marquee", it->aux);
        return;
    case MQ_ROW_NEW:
        if (it->aux != 0xFFFF)
            days_text(out, n, "Added", it->aux);
        else
            snprintf(out, n, "New");
        return;
    case MQ_ROW_WATCH_AGAIN:
        if (it->aux != 0xFFFF)
            days_text(out, n, "You finished it", it->aux);
        else
            snprintf(out, n, "You finished it");
        return;
    case MQ_ROW_MY_LIST:
        snprintf(out, n, "On your list");
        return;
    case MQ_ROW_BECAUSE_SEARCHED:
        snprintf(out, n, "Matches your search");
        return;
    case MQ_ROW_THEME:
    case MQ_ROW_TOP_PICKS:
    default:
        if (genre)
            snprintf(out, n, "Because you like %s", genre);
        else if (r->kind == MQ_ROW_THEME && r->ref < s->n_themes)
            snprintf(out, n, "%s", s->themes[r->ref].caption);
        else
            snprintf(out, n, "Picked for you");
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
            d->artwork = it->art < (int)t->n_artwork ? it->art : -1;
            d->synopsis = it->syn < (int)t->n_synopses ? it->syn : -1;
            d->label = it->label < (int)t->labels.n ? it->label : -1;
            d->propensity = it->propensity;
            item_evidence(s, r, it, d->evidence, sizeof d->evidence);
        }
        out->n_rows++;
    }
}

/* ------------------------------------------------------------------ JSON ---- */

/* Makes room for n more bytes in b (mq_buf grows on append: append n bytes and
 * take them back), so the writers below can copy without a call per piece. */
static int reserve(mq_buf *b, size_t n) {
    static const char zeros[4096];
    if (b->alloc > b->len + n)
        return MQ_OK;
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

static int put(mq_buf *b, const char *s) {
    size_t n = strlen(s);
    if (reserve(b, n + 1))
        return MQ_ETOOBIG;
    memcpy(b->data + b->len, s, n + 1);
    b->len += n;
    return MQ_OK;
}

/* The asset URL from assets.url_template ("{id}", "{title}"). */
static int put_url(mq_buf *b, const char *tmpl, const char *title, const char *id) {
    char url[512];
    mq_asset_url_format(tmpl, title, id, url, sizeof url);
    return put_str(b, url);
}

int mq_page_json(const mq_page *p, const mq_page_params *params, mq_buf *b) {
    int rc = 0;
    char ts[40], num[64];
    mq_time_format_rfc3339(p->generated_ms, ts, sizeof ts);
    rc |= put(b, "{\"page_id\":");
    rc |= put_str(b, p->page_id);
    rc |= put(b, ",\"profile\":");
    rc |= put_str(b, p->profile ? p->profile : "");
    rc |= mq_buf_printf(b,
                        ",\"device\":\"%s\",\"policy\":\"%s\",\"generated_at\":\"%s\","
                        "\"row_count\":%zu,\"first_row\":%zu,\"rows\":[",
                        mq_device_name(p->device), mq_page_policy_name(p->policy), ts,
                        p->total_rows, p->first_row);
    for (size_t i = 0; i < p->n_rows; i++) {
        const mq_page_row *r = &p->rows[i];
        rc |= put(b, i ? ",{\"row_id\":" : "{\"row_id\":");
        rc |= put_str(b, r->row_id);
        rc |= mq_buf_printf(b, ",\"type\":\"%s\",\"position\":%zu,\"caption\":",
                            mq_page_row_type(r->kind), p->first_row + i);
        rc |= put_str(b, r->caption);
        rc |= put(b, ",\"evidence\":");
        rc |= put_str(b, r->evidence);
        snprintf(num, sizeof num, ",\"score\":%.4f,\"items\":[", isfinite(r->score) ? r->score : 0);
        rc |= put(b, num);
        for (size_t k = 0; k < r->n_items; k++) {
            const mq_page_item *it = &r->items[k];
            const mq_title *t = it->title;
            rc |= put(b, k ? ",{\"title\":" : "{\"title\":");
            rc |= put_str(b, t->ext_id);
            rc |= put(b, ",\"name\":");
            rc |= put_str(b, t->name ? t->name : "");
            if (isnan(it->match)) {
                rc |= put(b, ",\"match\":null,\"match_pct\":null");
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
                const mq_asset *a = &t->artwork[it->artwork];
                rc |= put(b, ",\"artwork\":{\"id\":");
                rc |= put_str(b, a->id);
                rc |= put(b, ",\"url\":");
                rc |= put_url(b, params->url_template, t->ext_id, a->id);
                if (it->propensity == 1.0) {
                    rc |= put(b, ",\"propensity\":1}");
                } else {
                    snprintf(num, sizeof num, ",\"propensity\":%.4g}", it->propensity);
                    rc |= put(b, num);
                }
            } else {
                rc |= put(b, ",\"artwork\":null");
            }
            if (it->synopsis >= 0) {
                const mq_asset *a = &t->synopses[it->synopsis];
                rc |= put(b, ",\"synopsis\":{\"id\":");
                rc |= put_str(b, a->id);
                rc |= put(b, ",\"text\":");
                rc |= put_str(b, a->text ? a->text : "");
                rc |= put(b, "}");
            } else {
                rc |= put(b, ",\"synopsis\":null");
            }
            /* The chosen label, to be logged back with the impression. */
            rc |= put(b, ",\"label\":");
            rc |= it->label >= 0 ? put_str(b, t->labels.items[it->label]) : put(b, "null");
            rc |= put(b, ",\"labels\":[");
            if (it->label >= 0) {
                rc |= put_str(b, t->labels.items[it->label]);
            } else {
                for (uint32_t l = 0; l < t->labels.n; l++) {
                    if (l)
                        rc |= put(b, ",");
                    rc |= put_str(b, t->labels.items[l]);
                }
            }
            rc |= put(b, "],\"evidence\":");
            rc |= put_str(b, it->evidence);
            rc |= put(b, "}");
        }
        rc |= put(b, "]}");
    }
    rc |= put(b, "],\"next_cursor\":");
    if (p->next_cursor[0])
        rc |= put_str(b, p->next_cursor);
    else
        rc |= put(b, "null");
    rc |= put(b, "}");
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
