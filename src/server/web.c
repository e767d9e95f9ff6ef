/*
 * web.c: what a browser needs besides the JSON API. The web UI's files (web/,
 * plain HTML, CSS and JavaScript with no build step) at / and /ui/{file}, and
 * posters drawn as SVG from an artwork variant's tags, so that a catalogue with no
 * image files (the synthetic world, an import) still has a face for every title.
 *
 * A poster is a pure function of the title and the variant: the colour tag picks
 * the palette, the style tag the composition (a close-up, an action scene, a
 * landscape, an ensemble, dark, bright, minimal, text-heavy), the motif tag a
 * glyph, and the title's name is set in it. Every string from data is escaped for
 * XML. A title without artwork gets a placeholder coloured by its genres.
 */
#include "server_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#ifndef MQ_WEB_DIR
#define MQ_WEB_DIR "web"
#endif

/* ---------------------------------------------------------------- files ---- */

static const char *content_type(const char *name) {
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < MQ_ARRAY_LEN(types); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

/* Serves web_dir/name. Names are one path segment (the route guarantees no '/');
 * hidden files and unknown types are not served. */
static mq_hres serve_file(mq_req *r, const char *name) {
    const char *dir =
        r->srv->opt.web_dir && *r->srv->opt.web_dir ? r->srv->opt.web_dir : MQ_WEB_DIR;
    const char *type = content_type(name);
    if (name[0] == '.' || strchr(name, '/') || !type) {
        mq_req_error(r, 404, "/ui/%s: no such file in the web UI", name);
        return MQ_H_DONE;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT && strcmp(name, "index.html") == 0)
            mq_req_error(r, 404,
                         "the web UI is not installed: %s/index.html is missing "
                         "(server.web_dir names its folder)",
                         dir);
        else
            mq_req_error(r, 404, "/ui/%s: no such file in the web UI", name);
        return MQ_H_DONE;
    }
    mq_buf b;
    mq_buf_init(&b, (size_t)16 << 20);
    char chunk[16384];
    size_t k;
    bool too_big = false;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (mq_buf_append(&b, chunk, k)) {
            too_big = true;
            break;
        }
    fclose(f);
    if (too_big)
        mq_req_error(r, 500, "/ui/%s: larger than 16 MB", name);
    else
        mq_req_reply(r, 200, type, b.len ? b.data : "", b.len);
    mq_buf_free(&b);
    return MQ_H_DONE;
}

mq_hres mq_h_ui_index(mq_req *r) {
    return serve_file(r, "index.html");
}

mq_hres mq_h_ui_file(mq_req *r) {
    return serve_file(r, r->param);
}

/* --------------------------------------------------------------- posters ---- */

static void xml_escape(mq_buf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&':
            mq_buf_puts(b, "&amp;");
            break;
        case '<':
            mq_buf_puts(b, "&lt;");
            break;
        case '>':
            mq_buf_puts(b, "&gt;");
            break;
        case '"':
            mq_buf_puts(b, "&quot;");
            break;
        case '\'':
            mq_buf_puts(b, "&apos;");
            break;
        default:
            /* XML 1.0 forbids most control characters. */
            if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n')
                mq_buf_append(b, s, 1);
        }
    }
}

typedef struct {
    const char *name;
    const char *light, *dark, *ink;
} palette;

static const palette palettes[] = {
    {"warm", "#f2994a", "#7a2512", "#fff4e6"},       {"cool", "#56ccf2", "#14306b", "#eef8ff"},
    {"monochrome", "#bdbdbd", "#1f1f1f", "#ffffff"}, {"neon", "#ff2bd6", "#14052e", "#e8fffb"},
    {"pastel", "#f7cad0", "#8ec5d6", "#2b2d42"},     {"earthy", "#b08968", "#3d2b1f", "#f5ebe0"},
    {"vivid", "#ffd000", "#d7263d", "#1b1b1b"},      {"muted", "#8d99ae", "#2b2d42", "#edf2f4"},
};

static bool has_tag(const mq_asset *v, const char *tag) {
    for (size_t i = 0; v && i < v->tags.n; i++)
        if (strcmp(v->tags.items[i], tag) == 0)
            return true;
    return false;
}

/* The poster's name, wrapped into at most 3 lines of about `width` characters. */
static void name_lines(mq_buf *b, const char *name, double y, int size, int width,
                       const char *ink) {
    char line[3][64];
    int n = 0;
    size_t len = 0;
    line[0][0] = '\0';
    const char *p = name;
    while (*p && n < 3) {
        while (*p == ' ')
            p++;
        const char *e = strchrnul(p, ' ');
        size_t w = (size_t)(e - p);
        if (w == 0)
            break;
        if (w > (size_t)width) {
            /* A word longer than a line is cut (at a UTF-8 character boundary). */
            w = (size_t)width;
            while (w > 1 && ((unsigned char)p[w] & 0xC0) == 0x80)
                w--;
            e = p + w;
        }
        if (len && len + 1 + w > (size_t)width) {
            if (++n == 3)
                break;
            len = 0;
            line[n][0] = '\0';
        }
        if (len + w + 2 >= sizeof line[0])
            w = sizeof line[0] - len - 2;
        if (len)
            line[n][len++] = ' ';
        memcpy(line[n] + len, p, w);
        len += w;
        line[n][len] = '\0';
        p = e;
    }
    int lines = n < 3 ? n + 1 : 3;
    for (int i = 0; i < lines; i++) {
        mq_buf_printf(b,
                      "<text x='100' y='%.0f' text-anchor='middle' font-family='Georgia,serif' "
                      "font-weight='bold' font-size='%d' fill='%s'>",
                      y + i * size * 1.15, size, ink);
        xml_escape(b, line[i]);
        mq_buf_puts(b, "</text>");
    }
}

static void motif_glyph(mq_buf *b, uint64_t h, double cx, double cy, double r, const char *fill) {
    switch (h % 4) {
    case 0: /* a star */
        mq_buf_printf(b, "<polygon fill='%s' points='", fill);
        for (int i = 0; i < 10; i++) {
            double a = -M_PI / 2 + i * M_PI / 5, rr = i % 2 ? r * 0.45 : r;
            mq_buf_printf(b, "%.1f,%.1f ", cx + rr * cos(a), cy + rr * sin(a));
        }
        mq_buf_puts(b, "'/>");
        break;
    case 1: /* a diamond */
        mq_buf_printf(b, "<polygon fill='%s' points='%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f'/>",
                      fill, cx, cy - r, cx + r * 0.7, cy, cx, cy + r, cx - r * 0.7, cy);
        break;
    case 2: /* a ring */
        mq_buf_printf(b,
                      "<circle cx='%.1f' cy='%.1f' r='%.1f' fill='none' stroke='%s' "
                      "stroke-width='%.1f'/>",
                      cx, cy, r * 0.8, fill, r * 0.3);
        break;
    default: /* a triangle */
        mq_buf_printf(b, "<polygon fill='%s' points='%.1f,%.1f %.1f,%.1f %.1f,%.1f'/>", fill, cx,
                      cy - r, cx + r, cy + r * 0.8, cx - r, cy + r * 0.8);
    }
}

/* An SVG poster (200 x 300) of title t dressed in variant v (NULL: a placeholder). */
static void poster_svg(mq_buf *b, const mq_title *t, const mq_asset *v) {
    uint64_t h = mq_hash_bytes(t->ext_id, strlen(t->ext_id));
    const palette *pal = NULL;
    for (size_t i = 0; v && i < MQ_ARRAY_LEN(palettes); i++)
        if (has_tag(v, palettes[i].name))
            pal = &palettes[i];
    if (!pal) {
        /* No colour tag: a palette from the first genre (or the id), so one genre
         * looks alike. */
        const char *g = t->genres.n ? t->genres.items[0] : t->ext_id;
        pal = &palettes[mq_hash_bytes(g, strlen(g)) % MQ_ARRAY_LEN(palettes)];
    }
    const char *light = pal->light, *dark = pal->dark, *ink = pal->ink;
    mq_buf_puts(b, "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 200 300' "
                   "width='200' height='300' role='img' aria-label='");
    xml_escape(b, t->name ? t->name : t->ext_id);
    mq_buf_printf(b,
                  "'><defs><linearGradient id='g' x1='0' y1='0' x2='0.4' y2='1'>"
                  "<stop offset='0' stop-color='%s'/><stop offset='1' stop-color='%s'/>"
                  "</linearGradient></defs><rect width='200' height='300' fill='url(#g)'/>",
                  light, dark);
    bool text_heavy = has_tag(v, "text-heavy");
    if (!v) {
        mq_buf_printf(b,
                      "<rect x='20' y='40' width='160' height='130' rx='8' fill='none' "
                      "stroke='%s' stroke-opacity='0.5' stroke-dasharray='6 5'/>",
                      ink);
        motif_glyph(b, h, 100, 105, 30, ink);
    } else if (has_tag(v, "close-up")) {
        mq_buf_printf(b,
                      "<circle cx='100' cy='120' r='70' fill='%s' fill-opacity='0.55'/>"
                      "<circle cx='78' cy='108' r='8' fill='%s'/><circle cx='122' cy='108' "
                      "r='8' fill='%s'/>",
                      ink, dark, dark);
    } else if (has_tag(v, "action-scene")) {
        for (int i = 0; i < 5; i++)
            mq_buf_printf(b,
                          "<polygon fill='%s' fill-opacity='%.2f' points='%d,0 %d,0 %d,220 "
                          "%d,220'/>",
                          ink, 0.12 + 0.08 * i, -60 + 60 * i, -40 + 60 * i, 40 + 60 * i,
                          20 + 60 * i);
    } else if (has_tag(v, "landscape")) {
        mq_buf_printf(b,
                      "<circle cx='150' cy='70' r='22' fill='%s' fill-opacity='0.8'/>"
                      "<polygon fill='%s' fill-opacity='0.7' points='0,210 60,120 110,180 "
                      "150,110 200,190 200,300 0,300'/>",
                      ink, dark);
    } else if (has_tag(v, "ensemble")) {
        for (int i = 0; i < 5; i++)
            mq_buf_printf(b, "<circle cx='%d' cy='%d' r='%d' fill='%s' fill-opacity='0.6'/>",
                          28 + 36 * i, 120 - (i % 2) * 20, 17 + (i == 2) * 5, ink);
    } else if (has_tag(v, "minimal")) {
        motif_glyph(b, h >> 8, 100, 110, 18, ink);
    }
    if (has_tag(v, "dark"))
        mq_buf_puts(b, "<rect width='200' height='300' fill='#000' fill-opacity='0.45'/>");
    if (has_tag(v, "bright"))
        mq_buf_puts(b, "<rect width='200' height='300' fill='#fff' fill-opacity='0.25'/>");
    /* The motif: any tag that is neither a colour nor a style, as a glyph and a word. */
    const char *motif = NULL;
    for (size_t i = 0; v && i < v->tags.n && !motif; i++) {
        const char *tag = v->tags.items[i];
        bool known = false;
        for (size_t k = 0; k < MQ_ARRAY_LEN(palettes); k++)
            known |= strcmp(tag, palettes[k].name) == 0;
        static const char *const styles[] = {"close-up", "action-scene", "landscape", "ensemble",
                                             "dark",     "bright",       "minimal",   "text-heavy"};
        for (size_t k = 0; k < MQ_ARRAY_LEN(styles); k++)
            known |= strcmp(tag, styles[k]) == 0;
        if (!known)
            motif = tag;
    }
    if (motif) {
        motif_glyph(b, mq_hash_bytes(motif, strlen(motif)), 174, 26, 11, ink);
        mq_buf_printf(b,
                      "<text x='158' y='30' text-anchor='end' font-family='sans-serif' "
                      "font-size='11' letter-spacing='2' fill='%s' fill-opacity='0.85'>",
                      ink);
        xml_escape(b, motif);
        mq_buf_puts(b, "</text>");
    }
    const char *name = t->name && *t->name ? t->name : t->ext_id;
    if (text_heavy)
        name_lines(b, name, 120, 30, 10, ink);
    else
        name_lines(b, name, 196, 19, 16, ink);
    if (!v)
        mq_buf_printf(b,
                      "<text x='100' y='288' text-anchor='middle' font-family='sans-serif' "
                      "font-size='10' fill='%s' fill-opacity='0.7'>no artwork</text>",
                      ink);
    mq_buf_puts(b, "</svg>");
}

/* GET /v1/titles/{id}/artwork/{artwork}: the variant's poster; "default" is the
 * editorial default, or a placeholder for a title without artwork. */
mq_hres mq_h_artwork(mq_req *r) {
    mq_title t;
    if (!mq_req_read_title(r, r->param, &t))
        return MQ_H_DONE;
    const mq_asset *v = NULL;
    bool found = strcmp(r->param2, "default") == 0;
    if (found && t.n_artwork)
        v = &t.artwork[0];
    for (uint32_t i = 0; !found && i < t.n_artwork; i++)
        if (strcmp(t.artwork[i].id, r->param2) == 0)
            v = &t.artwork[i], found = true;
    if (!found) {
        mq_req_error(r, 404,
                     "artwork: title %s has no artwork \"%s\" (its ids are in GET "
                     "/v1/titles/%s; \"default\" is the editorial default)",
                     r->param, r->param2, r->param);
        return MQ_H_DONE;
    }
    mq_buf b;
    mq_buf_init(&b, 0);
    poster_svg(&b, &t, v);
    r->cache_control = "public, max-age=3600";
    mq_req_reply(r, 200, "image/svg+xml", b.data, b.len);
    mq_buf_free(&b);
    return MQ_H_DONE;
}
