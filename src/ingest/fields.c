/* fields.c: splitting rows into fields and reading what is in them. CSV follows
 * RFC 4180 (quoted fields, "" for a quote inside one, quoted line breaks); the
 * MovieLens .dat and ml-100k files use bare separators. Numbers are parsed by hand
 * because strtod/strtoll per field is a visible share of an import's time, and
 * text that is not UTF-8 is converted from latin-1, the encoding of the older
 * MovieLens releases. */
#include "ingest_impl.h"

#include <string.h>

static void keep(ing_fields *out, char *f) {
    if (out->n < ING_MAX_FIELDS)
        out->f[out->n] = f;
    out->n++;
}

void ing_split_char(char *line, char sep, ing_fields *out) {
    out->n = 0;
    char *p = line;
    for (;;) {
        keep(out, p);
        char *q = strchr(p, sep);
        if (!q)
            return;
        *q = '\0';
        p = q + 1;
    }
}

void ing_split_pair(char *line, const char *sep, ing_fields *out) {
    out->n = 0;
    char *p = line;
    for (;;) {
        keep(out, p);
        char *q = strstr(p, sep);
        if (!q)
            return;
        *q = '\0';
        p = q + 2;
    }
}

/* Appends to the record being unquoted; fails past the line cap. */
static int put(mq_buf *b, const char *p, size_t n, ing_lines *r, uint64_t line, mq_err *err) {
    if (mq_buf_append(b, p, n))
        return mq_err_set(err, MQ_EINVAL,
                          "%s:%llu: expected a record shorter than %u MiB, got a "
                          "longer one (an unclosed quote?)",
                          r->path, (unsigned long long)line, ING_LINE_MAX >> 20);
    return MQ_OK;
}

int ing_split_csv(ing_lines *r, char *line, size_t len, mq_buf *scratch, ing_fields *out,
                  mq_err *err) {
    if (!memchr(line, '"', len)) {
        ing_split_char(line, ',', out);
        return MQ_OK;
    }
    /* The slow path, for records with quotes: unquote into scratch, keeping
     * offsets because scratch may move while it grows. */
    uint64_t first = r->line;
    size_t off[ING_MAX_FIELDS];
    int rc;
    mq_buf_reset(scratch);
    scratch->cap = ING_LINE_MAX;
    out->n = 0;
    const char *p = line;
    for (;;) {
        if (out->n < ING_MAX_FIELDS)
            off[out->n] = scratch->len;
        out->n++;
        if (*p == '"') {
            p++;
            for (;;) {
                size_t run = strcspn(p, "\"");
                if ((rc = put(scratch, p, run, r, first, err)))
                    return rc;
                p += run;
                if (*p == '"' && p[1] == '"') {
                    if ((rc = put(scratch, "\"", 1, r, first, err)))
                        return rc;
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    /* End of the line inside quotes: the field goes on. */
                    char *next;
                    size_t nlen;
                    if ((rc = ing_lines_next(r, &next, &nlen, err)))
                        return rc == MQ_ETOOBIG ? MQ_EINVAL : rc; /* a bad record */
                    if (!next)
                        return mq_err_set(err, MQ_EINVAL,
                                          "%s:%llu: expected a closing quote for field %d, got "
                                          "the end of the file",
                                          r->path, (unsigned long long)first, out->n);
                    if ((rc = put(scratch, "\n", 1, r, first, err)))
                        return rc;
                    p = next;
                }
            }
            if (*p != ',' && *p != '\0') {
                char got[64];
                ing_quote(p, got, sizeof got);
                /* The record ends with this line: the next row starts on the next. */
                return mq_err_set(err, MQ_EINVAL,
                                  "%s:%llu: expected a comma or the end of the line after the "
                                  "closing quote of field %d, got %s",
                                  r->path, (unsigned long long)r->line, out->n, got);
            }
        } else {
            /* A quote inside an unquoted field is taken literally, as most
             * writers and readers do. */
            size_t run = strcspn(p, ",");
            if ((rc = put(scratch, p, run, r, first, err)))
                return rc;
            p += run;
        }
        if ((rc = put(scratch, "", 1, r, first, err)))
            return rc;
        if (*p == '\0')
            break;
        p++; /* the comma */
    }
    for (int i = 0; i < out->n && i < ING_MAX_FIELDS; i++)
        out->f[i] = scratch->data + off[i];
    return MQ_OK;
}

bool ing_parse_uint(const char *s, uint64_t *out) {
    uint64_t v = 0;
    int n = 0;
    for (; s[n]; n++) {
        unsigned d = (unsigned)(unsigned char)s[n] - '0';
        if (d > 9 || n >= 18)
            return false;
        v = v * 10 + d;
    }
    if (!n)
        return false;
    *out = v;
    return true;
}

bool ing_parse_decimal(const char *s, double *out) {
    uint64_t ip = 0, fp = 0, scale = 1;
    int n = 0, k = 0;
    for (; s[n] >= '0' && s[n] <= '9'; n++) {
        if (n >= 15)
            return false;
        ip = ip * 10 + (uint64_t)(s[n] - '0');
    }
    if (!n)
        return false;
    if (s[n] == '.') {
        const char *f = s + n + 1;
        for (; f[k] >= '0' && f[k] <= '9'; k++) {
            if (k < 9) {
                fp = fp * 10 + (uint64_t)(f[k] - '0');
                scale *= 10;
            }
        }
        if (!k || f[k])
            return false;
    } else if (s[n]) {
        return false;
    }
    *out = (double)ip + (double)fp / (double)scale;
    return true;
}

/* Windows-1252's printable characters in 0x80-0x9F, where latin-1 has C1 control
 * codes: files that call themselves latin-1 usually mean this. 0 = undefined
 * (kept as the latin-1 code point). */
static const uint16_t cp1252[32] = {0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017D, 0,
                                    0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

char *ing_text_dup(mq_arena *a, const char *s, size_t n) {
    if (mq_utf8_valid(s, n))
        return mq_arena_strndup(a, s, n);
    char *out = mq_arena_alloc(a, n * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i];
        if (c >= 0x80 && c < 0xA0 && cp1252[c - 0x80])
            c = cp1252[c - 0x80];
        if (c < 0x80) {
            *o++ = (char)c;
        } else if (c < 0x800) {
            *o++ = (char)(0xC0 | (c >> 6));
            *o++ = (char)(0x80 | (c & 0x3F));
        } else {
            *o++ = (char)(0xE0 | (c >> 12));
            *o++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *o++ = (char)(0x80 | (c & 0x3F));
        }
    }
    *o = '\0';
    return out;
}

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

char *ing_trim(char *s) {
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n && is_space(s[n - 1]))
        s[--n] = '\0';
    return s;
}

void ing_quote(const char *s, char *out, size_t n) {
    size_t o = 0, i = 0;
    if (n < 8) {
        if (n)
            out[0] = '\0';
        return;
    }
    out[o++] = '"';
    for (; s[i] && o + 6 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= 40 && (c & 0xC0) != 0x80) /* cut, but not inside a UTF-8 sequence */
            break;
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            int w = (c == '"' || c == '\\') ? snprintf(out + o, n - o, "\\%c", c)
                                            : snprintf(out + o, n - o, "\\x%02x", c);
            o += (size_t)w;
        } else {
            out[o++] = (char)c;
        }
    }
    if (s[i] && o + 5 < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
}
