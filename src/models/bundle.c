/* bundle.c: the bundle file. One binary file, little-endian, laid out to be
 * mmap'ed and used in place:
 *
 *   header (64 bytes)  magic "MQBUNDLE", format version, section count, file size,
 *                      CRC-32C of the header and the section table
 *   section table      per section: id, element size, offset, size, CRC-32C, name
 *   sections           each at a 64-byte aligned offset: the metadata (JSON text),
 *                      title ids, then each model's arrays
 *
 * Loading checks, in order: the magic, the version, that the file is as long as
 * the header says (a torn write is caught here), the header checksum, each
 * section's bounds and checksum, then that the arrays agree with each other (CSR
 * pointers monotone, indices in range, sizes matching the title count and factors)
 * so that a bundle that loads can be served without further checks. Any failure
 * names the file and what is wrong, and returns nothing: the caller keeps whatever
 * bundle it had. Writing goes to a temporary file, fsync, rename; publishing keeps
 * every version under DATA_DIR/bundles/ and repoints DATA_DIR/bundle.mqb. */
#include "models_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_SIZE 64
#define ENTRY_SIZE 48
#define ALIGN 64

static const struct {
    const char *name;
    uint32_t elem;
} sections[] = {
#define MQ_SEC_ROW(e, name, size) {name, size},
    MQ_SECTIONS(MQ_SEC_ROW)
#undef MQ_SEC_ROW
};

/* -------------------------------------------------------------- in memory ---- */

mq_bundle *mq_bundle_new(uint32_t n_titles) {
    mq_bundle *b = mq_calloc(1, sizeof *b);
    b->n = n_titles;
    b->meta = json_object();
    b->default_model = -1;
    return b;
}

void *mq_bundle_own(mq_bundle *b, mq_section s, void *p, size_t bytes) {
    mq_free(b->owned[s]);
    b->owned[s] = p;
    b->sec_size[s] = bytes;
    return p;
}

void mq_bundle_index_titles(mq_bundle *b) {
    uint32_t end = 0;
    for (uint32_t c = 0; c < b->n; c++)
        if (b->title_ids[c] >= end)
            end = b->title_ids[c] + 1;
    mq_free(b->col_of);
    b->col_of = mq_calloc(end ? end : 1, sizeof *b->col_of);
    b->col_of_len = end;
    for (uint32_t c = 0; c < b->n; c++)
        b->col_of[b->title_ids[c]] = c + 1;
}

void mq_bundle_destroy(mq_bundle *b) {
    if (!b)
        return;
    void *att = atomic_load(&b->attach);
    if (att && b->attach_free)
        b->attach_free(att);
    for (size_t i = 0; i < b->n_extra; i++)
        mq_free(b->extra[i].owned);
    mq_free(b->extra);
    for (int s = 0; s < MQ_SEC_COUNT; s++)
        mq_free(b->owned[s]);
    if (b->map) {
        if (b->mapped)
            munmap(b->map, b->map_len);
        else
            free(b->map);
    }
    mq_free(b->col_of);
    json_decref(b->meta);
    mq_free(b->meta_text);
    mq_free(b);
}

const char *mq_bundle_meta(const mq_bundle *b) {
    mq_bundle *mb = (mq_bundle *)b;
    if (!mb->meta_text)
        mb->meta_text =
            json_dumps(b->meta, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(8));
    return mb->meta_text;
}

void mq_bundle_meta_set(mq_bundle *b, const char *key, json_t *v) {
    json_object_set_new(b->meta, key, v);
    free(b->meta_text);
    b->meta_text = NULL;
}

unsigned mq_bundle_models(const mq_bundle *b) {
    return b->models;
}

bool mq_bundle_has(const mq_bundle *b, mq_model_kind k) {
    return (unsigned)k < MQ_MODEL_COUNT && (b->models & (1u << k));
}

mq_model_kind mq_bundle_default_model(const mq_bundle *b) {
    if (b->default_model >= 0 && mq_bundle_has(b, (mq_model_kind)b->default_model))
        return (mq_model_kind)b->default_model;
    return mq_bundle_has(b, MQ_MODEL_IALS) ? MQ_MODEL_IALS : MQ_MODEL_POPULAR;
}

void mq_bundle_set_default_model(mq_bundle *b, mq_model_kind k) {
    b->default_model = (int)k;
    mq_bundle_meta_set(b, "default_model", json_string(mq_model_name(k)));
}

uint32_t mq_bundle_n_titles(const mq_bundle *b) {
    return b->n;
}

uint32_t mq_bundle_title_id(const mq_bundle *b, uint32_t col) {
    return col < b->n ? b->title_ids[col] : 0;
}

const char *mq_bundle_title_ext(const mq_bundle *b, uint32_t col) {
    return col < b->n ? b->ext + b->ext_off[col] : NULL;
}

uint32_t mq_bundle_col(const mq_bundle *b, uint32_t title_id) {
    if (title_id >= b->col_of_len || !b->col_of[title_id])
        return UINT32_MAX;
    return b->col_of[title_id] - 1;
}

const float *mq_bundle_item_factors(const mq_bundle *b, int *factors) {
    if (factors)
        *factors = b->Y ? (int)b->k : 0;
    return b->Y;
}

const float *mq_bundle_popularity(const mq_bundle *b) {
    return b->popular;
}

const float *mq_bundle_trending(const mq_bundle *b) {
    return b->trending;
}

bool mq_bundle_content(const mq_bundle *b, const uint64_t **ptr, const uint32_t **idx,
                       const float **w, uint32_t *n_feats) {
    if (!(b->models & (1u << MQ_MODEL_CONTENT)) || !b->content.ptr)
        return false;
    *ptr = b->content.ptr;
    *idx = b->content.idx;
    *w = b->content.w;
    *n_feats = b->n_feats;
    return true;
}

bool mq_bundle_knn(const mq_bundle *b, const uint64_t **ptr, const uint32_t **idx,
                   const float **w) {
    if (!(b->models & (1u << MQ_MODEL_KNN)) || !b->knn.ptr)
        return false;
    *ptr = b->knn.ptr;
    *idx = b->knn.idx;
    *w = b->knn.w;
    return true;
}

/* ------------------------------------------------------- extra sections ---- */

void mq_bundle_add_section(mq_bundle *b, const char *name, const void *data, size_t bytes) {
    mq_bundle_extra *x = NULL;
    for (size_t i = 0; i < b->n_extra; i++)
        if (strcmp(b->extra[i].name, name) == 0)
            x = &b->extra[i];
    if (!x) {
        b->extra = mq_realloc(b->extra, (b->n_extra + 1) * sizeof *b->extra);
        x = &b->extra[b->n_extra++];
        memset(x, 0, sizeof *x);
        snprintf(x->name, sizeof x->name, "%s", name);
    }
    mq_free(x->owned);
    x->owned = mq_malloc(bytes ? bytes : 1);
    if (bytes)
        memcpy(x->owned, data, bytes);
    x->data = x->owned;
    x->size = bytes;
}

const void *mq_bundle_section(const mq_bundle *b, const char *name, size_t *bytes) {
    for (size_t i = 0; i < b->n_extra; i++)
        if (strcmp(b->extra[i].name, name) == 0) {
            if (bytes)
                *bytes = b->extra[i].size;
            return b->extra[i].data;
        }
    if (bytes)
        *bytes = 0;
    return NULL;
}

void *mq_bundle_attach(const mq_bundle *cb, void *p, void (*free_fn)(void *)) {
    mq_bundle *b = (mq_bundle *)cb;
    void *expected = NULL;
    /* attach_free is set before the pointer is published, and is the same function
     * for every caller of one kind of attachment. */
    b->attach_free = free_fn;
    if (atomic_compare_exchange_strong(&b->attach, &expected, p))
        return p;
    if (free_fn)
        free_fn(p);
    return expected;
}

void *mq_bundle_attachment(const mq_bundle *b) {
    return atomic_load(&((mq_bundle *)b)->attach);
}

/* Where each section's bytes are in memory. */
static const void *section_data(const mq_bundle *b, int s) {
    switch ((mq_section)s) {
    case MQ_SEC_META:
        return NULL; /* written from the JSON */
    case MQ_SEC_TITLE_IDS:
        return b->title_ids;
    case MQ_SEC_TITLE_EXT:
        return b->ext;
    case MQ_SEC_TITLE_EXT_OFF:
        return b->ext_off;
    case MQ_SEC_POPULAR:
        return b->popular;
    case MQ_SEC_TRENDING:
        return b->trending;
    case MQ_SEC_KNN_PTR:
        return b->knn.ptr;
    case MQ_SEC_KNN_IDX:
        return b->knn.idx;
    case MQ_SEC_KNN_W:
        return b->knn.w;
    case MQ_SEC_IALS_Y:
        return b->Y;
    case MQ_SEC_IALS_GRAM:
        return b->G;
    case MQ_SEC_EASE_DENSE:
        return b->ease_dense;
    case MQ_SEC_EASE_PTR:
        return b->ease.ptr;
    case MQ_SEC_EASE_IDX:
        return b->ease.idx;
    case MQ_SEC_EASE_W:
        return b->ease.w;
    case MQ_SEC_CONTENT_PTR:
        return b->content.ptr;
    case MQ_SEC_CONTENT_IDX:
        return b->content.idx;
    case MQ_SEC_CONTENT_W:
        return b->content.w;
    case MQ_SEC_COLD_PTR:
        return b->cold.ptr;
    case MQ_SEC_COLD_IDX:
        return b->cold.idx;
    case MQ_SEC_COLD_W:
        return b->cold.w;
    case MQ_SEC_COUNT:
        break;
    }
    return NULL;
}

/* The scalar state the arrays need, into the metadata (what loading reads back). */
static void meta_sync(mq_bundle *b) {
    json_t *models = json_array();
    for (int k = 0; k < MQ_MODEL_COUNT; k++)
        if (b->models & (1u << k))
            json_array_append_new(models, json_string(mq_model_name((mq_model_kind)k)));
    mq_bundle_meta_set(b, "format", json_string("marquee bundle"));
    mq_bundle_meta_set(b, "version", json_integer(MQ_BUNDLE_VERSION));
    mq_bundle_meta_set(b, "models", models);
    mq_bundle_meta_set(b, "titles", json_integer(b->n));
    mq_bundle_meta_set(b, "binary", json_boolean(b->binary));
    mq_bundle_meta_set(b, "cold_weight", json_real(b->cold_weight));
    if (b->default_model >= 0)
        mq_bundle_meta_set(b, "default_model",
                           json_string(mq_model_name((mq_model_kind)b->default_model)));
    if (b->Y)
        mq_bundle_meta_set(b, "ials",
                           json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:i}", "factors", (int)b->k,
                                     "unobserved", b->a0, "alpha", b->alpha, "reg", b->reg,
                                     "reg_exp", b->reg_exp, "negative", b->negw, "train_titles",
                                     (int)b->n_train_cols));
}

/* ---------------------------------------------------------------- writing ---- */

static void put32(unsigned char *p, uint32_t v) {
    memcpy(p, &v, 4);
}
static void put64(unsigned char *p, uint64_t v) {
    memcpy(p, &v, 8);
}
static uint32_t get32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static int write_all(int fd, const void *p, size_t n, const char *path, mq_err *err) {
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return mq_err_set(err, MQ_EIO, "%s: write failed: %s", path, strerror(errno));
        }
        c += w;
        n -= (size_t)w;
    }
    return MQ_OK;
}

static int fsync_dir(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int mq_bundle_write(const mq_bundle *cb, const char *path, mq_err *err) {
    mq_bundle *b = (mq_bundle *)cb;
    meta_sync(b);
    const char *meta = mq_bundle_meta(b);
    size_t meta_len = strlen(meta);
    int present[MQ_SEC_COUNT], ns = 0;
    size_t size[MQ_SEC_COUNT];
    for (int s = 0; s < MQ_SEC_COUNT; s++) {
        size[s] = s == MQ_SEC_META ? meta_len : b->sec_size[s];
        present[s] = s == MQ_SEC_META || section_data(b, s) != NULL;
        ns += present[s];
    }
    ns += (int)b->n_extra;
    size_t table_end = HEADER_SIZE + (size_t)ns * ENTRY_SIZE;
    unsigned char *head = mq_calloc(1, table_end);
    uint64_t off = (table_end + ALIGN - 1) / ALIGN * ALIGN;
    int e = 0;
    for (int s = 0; s < MQ_SEC_COUNT; s++) {
        if (!present[s])
            continue;
        const void *d = s == MQ_SEC_META ? meta : section_data(b, s);
        unsigned char *ent = head + HEADER_SIZE + (size_t)e++ * ENTRY_SIZE;
        put32(ent, (uint32_t)s);
        put32(ent + 4, sections[s].elem);
        put64(ent + 8, off);
        put64(ent + 16, size[s]);
        put32(ent + 24, mq_crc32c(0, d, size[s]));
        snprintf((char *)ent + 32, 16, "%s", sections[s].name);
        off = (off + size[s] + ALIGN - 1) / ALIGN * ALIGN;
    }
    for (size_t x = 0; x < b->n_extra; x++) {
        const mq_bundle_extra *ex = &b->extra[x];
        unsigned char *ent = head + HEADER_SIZE + (size_t)e++ * ENTRY_SIZE;
        put32(ent, MQ_EXTRA_ID + (uint32_t)x);
        put32(ent + 4, 1);
        put64(ent + 8, off);
        put64(ent + 16, ex->size);
        put32(ent + 24, mq_crc32c(0, ex->data, ex->size));
        snprintf((char *)ent + 32, 16, "%s", ex->name);
        off = (off + ex->size + ALIGN - 1) / ALIGN * ALIGN;
    }
    memcpy(head, MQ_BUNDLE_MAGIC, 8);
    put32(head + 8, MQ_BUNDLE_VERSION);
    put32(head + 12, (uint32_t)ns);
    put64(head + 16, off);
    put32(head + 24, 0);
    put32(head + 24, mq_crc32c(0, head, table_end));

    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int rc = MQ_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        rc = mq_err_set(err, MQ_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    static const unsigned char zeros[ALIGN];
    uint64_t pos = 0;
    if ((rc = write_all(fd, head, table_end, tmp, err)))
        goto fail;
    pos = table_end;
    for (int s = 0; s < MQ_SEC_COUNT; s++) {
        if (!present[s])
            continue;
        size_t pad = (size_t)((pos + ALIGN - 1) / ALIGN * ALIGN - pos);
        if ((rc = write_all(fd, zeros, pad, tmp, err)))
            goto fail;
        pos += pad;
        const void *d = s == MQ_SEC_META ? meta : section_data(b, s);
        if ((rc = write_all(fd, d, size[s], tmp, err)))
            goto fail;
        pos += size[s];
    }
    for (size_t x = 0; x < b->n_extra; x++) {
        size_t pad = (size_t)((pos + ALIGN - 1) / ALIGN * ALIGN - pos);
        if ((rc = write_all(fd, zeros, pad, tmp, err)) ||
            (rc = write_all(fd, b->extra[x].data, b->extra[x].size, tmp, err)))
            goto fail;
        pos += pad + b->extra[x].size;
    }
    if (pos < off && (rc = write_all(fd, zeros, (size_t)(off - pos), tmp, err)))
        goto fail;
    if (fsync(fd) != 0) {
        rc = mq_err_set(err, MQ_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = mq_err_set(err, MQ_EIO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        goto fail;
    }
    fsync_dir(path);
    goto out;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out:
    mq_free(head);
    return rc;
}

/* ---------------------------------------------------------------- loading ---- */

#define BAD(...) return mq_err_set(err, MQ_ECORRUPT, __VA_ARGS__)

static int check_csr(const char *file, const char *what, const uint64_t *ptr, size_t ptr_n,
                     const uint32_t *idx, size_t idx_n, size_t w_n, uint32_t rows, uint32_t bound,
                     mq_err *err) {
    if (ptr_n != (size_t)rows + 1)
        BAD("%s: %s: expected %u row pointers, found %zu", file, what, rows + 1, ptr_n);
    if (ptr[0] != 0 || ptr[rows] != idx_n || idx_n != w_n)
        BAD("%s: %s: row pointers end at %llu but there are %zu indices and %zu weights", file,
            what, (unsigned long long)ptr[rows], idx_n, w_n);
    for (uint32_t r = 0; r < rows; r++)
        if (ptr[r + 1] < ptr[r])
            BAD("%s: %s: row pointer %u decreases", file, what, r + 1);
    for (size_t q = 0; q < idx_n; q++)
        if (idx[q] >= bound)
            BAD("%s: %s: index %zu is %u, expected below %u", file, what, q, idx[q], bound);
    return MQ_OK;
}

static double meta_num(json_t *o, const char *key, double dflt) {
    json_t *v = o ? json_object_get(o, key) : NULL;
    return json_is_number(v) ? json_number_value(v) : dflt;
}

/* Parses and verifies the bytes at b->map (b->map_len). */
static int parse(mq_bundle *b, const char *file, mq_err *err) {
    const unsigned char *p = b->map;
    size_t len = b->map_len;
    if (len < HEADER_SIZE)
        BAD("%s: truncated: %zu bytes, shorter than the %d-byte bundle header", file, len,
            HEADER_SIZE);
    if (memcmp(p, MQ_BUNDLE_MAGIC, 8) != 0)
        BAD("%s: not a marquee bundle (the first 8 bytes are not \"" MQ_BUNDLE_MAGIC "\")", file);
    uint32_t version = get32(p + 8), ns = get32(p + 12);
    if (version != MQ_BUNDLE_VERSION)
        return mq_err_set(err, MQ_EVERSION,
                          "%s: bundle format version %u, this build reads version %d; retrain "
                          "with `marquee train`",
                          file, version, MQ_BUNDLE_VERSION);
    uint64_t fsize = get64(p + 16);
    if (fsize != len)
        BAD("%s: truncated or padded: the header says %llu bytes, the file has %zu", file,
            (unsigned long long)fsize, len);
    if (ns == 0 || ns > 4096 || HEADER_SIZE + (size_t)ns * ENTRY_SIZE > len)
        BAD("%s: the section table (%u sections) does not fit in the file", file, ns);
    size_t table_end = HEADER_SIZE + (size_t)ns * ENTRY_SIZE;
    unsigned char *head = mq_malloc(table_end);
    memcpy(head, p, table_end);
    uint32_t stored = get32(head + 24);
    put32(head + 24, 0);
    uint32_t crc = mq_crc32c(0, head, table_end);
    mq_free(head);
    if (crc != stored)
        BAD("%s: header checksum mismatch (stored %08x, computed %08x): the header or section "
            "table is corrupt",
            file, stored, crc);
    const void *data[MQ_SEC_COUNT] = {0};
    size_t count[MQ_SEC_COUNT] = {0};
    for (uint32_t e = 0; e < ns; e++) {
        const unsigned char *ent = p + HEADER_SIZE + (size_t)e * ENTRY_SIZE;
        uint32_t id = get32(ent), elem = get32(ent + 4), scrc = get32(ent + 24);
        uint64_t off = get64(ent + 8), size = get64(ent + 16);
        char name[17];
        memcpy(name, ent + 32, 16);
        name[16] = '\0';
        if (off > len || size > len - off)
            BAD("%s: section \"%s\" (offset %llu, %llu bytes) runs past the end of the file (%zu "
                "bytes)",
                file, name, (unsigned long long)off, (unsigned long long)size, len);
        if (off % ALIGN)
            BAD("%s: section \"%s\" is not %d-byte aligned", file, name, ALIGN);
        uint32_t c = mq_crc32c(0, p + off, size);
        if (c != scrc)
            BAD("%s: section \"%s\" checksum mismatch (stored %08x, computed %08x): the file is "
                "corrupt",
                file, name, scrc, c);
        if (id >= MQ_EXTRA_ID && id < MQ_EXTRA_ID + 4096) {
            /* An extra section of a module above this one (mq_bundle_section). */
            b->extra = mq_realloc(b->extra, (b->n_extra + 1) * sizeof *b->extra);
            mq_bundle_extra *x = &b->extra[b->n_extra++];
            memset(x, 0, sizeof *x);
            memcpy(x->name, name, sizeof x->name - 1);
            x->data = p + off;
            x->size = (size_t)size;
            continue;
        }
        if (id >= MQ_SEC_COUNT)
            continue; /* a section this build does not know: ignored */
        if (elem != sections[id].elem || size % elem)
            BAD("%s: section \"%s\": element size %u and %llu bytes, expected elements of %u "
                "bytes",
                file, name, elem, (unsigned long long)size, sections[id].elem);
        data[id] = p + off;
        count[id] = size / elem;
    }
    if (!data[MQ_SEC_META])
        BAD("%s: no metadata section", file);
    json_error_t je;
    b->meta = json_loadb(data[MQ_SEC_META], count[MQ_SEC_META], 0, &je);
    if (!json_is_object(b->meta))
        BAD("%s: metadata: expected a JSON object, got %s (line %d)", file,
            b->meta ? "another JSON value" : je.text, je.line);
    double nt = meta_num(b->meta, "titles", -1);
    if (!(nt >= 0 && nt < 4e9))
        BAD("%s: metadata: titles: expected a count, got none", file);
    uint32_t n = b->n = (uint32_t)nt;
    json_t *models = json_object_get(b->meta, "models");
    size_t mi;
    json_t *mv;
    json_array_foreach(models, mi, mv) {
        int k = json_is_string(mv) ? mq_model_parse(json_string_value(mv)) : -1;
        if (k < 0)
            BAD("%s: metadata: models[%zu]: expected a model name", file, mi);
        b->models |= 1u << k;
    }
    json_t *dm = json_object_get(b->meta, "default_model");
    b->default_model = json_is_string(dm) ? mq_model_parse(json_string_value(dm)) : -1;
    b->binary = json_is_true(json_object_get(b->meta, "binary"));
    b->cold_weight = meta_num(b->meta, "cold_weight", 0);

    /* Titles. */
    if (count[MQ_SEC_TITLE_IDS] != n || count[MQ_SEC_TITLE_EXT_OFF] != n || !data[MQ_SEC_TITLE_EXT])
        BAD("%s: title sections hold %zu ids and %zu external ids, expected %u each", file,
            count[MQ_SEC_TITLE_IDS], count[MQ_SEC_TITLE_EXT_OFF], n);
    b->title_ids = data[MQ_SEC_TITLE_IDS];
    b->ext = data[MQ_SEC_TITLE_EXT];
    b->ext_len = count[MQ_SEC_TITLE_EXT];
    b->ext_off = data[MQ_SEC_TITLE_EXT_OFF];
    if (b->ext_len == 0 || b->ext[b->ext_len - 1] != '\0')
        BAD("%s: title_ext: expected NUL-terminated strings", file);
    for (uint32_t c = 0; c < n; c++)
        if (b->ext_off[c] >= b->ext_len)
            BAD("%s: title_ext_off[%u] points past the strings", file, c);
    if (count[MQ_SEC_POPULAR] != n || count[MQ_SEC_TRENDING] != n)
        BAD("%s: popular/trending: expected %u scores each, found %zu and %zu", file, n,
            count[MQ_SEC_POPULAR], count[MQ_SEC_TRENDING]);
    b->popular = data[MQ_SEC_POPULAR];
    b->trending = data[MQ_SEC_TRENDING];

    int rc;
    if (b->models & (1u << MQ_MODEL_KNN)) {
        if ((rc = check_csr(file, "knn", data[MQ_SEC_KNN_PTR], count[MQ_SEC_KNN_PTR],
                            data[MQ_SEC_KNN_IDX], count[MQ_SEC_KNN_IDX], count[MQ_SEC_KNN_W], n, n,
                            err)))
            return rc;
        b->knn = (mq_csr){data[MQ_SEC_KNN_PTR], data[MQ_SEC_KNN_IDX], data[MQ_SEC_KNN_W]};
    }
    if (b->models & (1u << MQ_MODEL_IALS)) {
        json_t *ials = json_object_get(b->meta, "ials");
        double k = meta_num(ials, "factors", 0);
        if (!(k >= 1 && k <= 1024))
            BAD("%s: metadata: ials.factors: expected 1 to 1024", file);
        b->k = (uint32_t)k;
        if (count[MQ_SEC_IALS_Y] != (size_t)n * b->k ||
            count[MQ_SEC_IALS_GRAM] != (size_t)b->k * b->k)
            BAD("%s: ials: expected %u x %u item factors and a %u x %u Gramian, found %zu and %zu "
                "floats",
                file, n, b->k, b->k, b->k, count[MQ_SEC_IALS_Y], count[MQ_SEC_IALS_GRAM]);
        b->Y = data[MQ_SEC_IALS_Y];
        b->G = data[MQ_SEC_IALS_GRAM];
        b->a0 = meta_num(ials, "unobserved", 0);
        b->alpha = meta_num(ials, "alpha", 1);
        b->reg = meta_num(ials, "reg", 0);
        b->reg_exp = meta_num(ials, "reg_exp", 0);
        b->negw = meta_num(ials, "negative", 0);
        b->n_train_cols = (uint32_t)meta_num(ials, "train_titles", n);
        if (!(b->reg > 0 || b->a0 > 0))
            BAD("%s: metadata: ials: reg and unobserved are both 0", file);
    }
    if (b->models & (1u << MQ_MODEL_EASE)) {
        if (data[MQ_SEC_EASE_DENSE]) {
            if (count[MQ_SEC_EASE_DENSE] != (size_t)n * n)
                BAD("%s: ease_dense: expected %u x %u floats, found %zu", file, n, n,
                    count[MQ_SEC_EASE_DENSE]);
            b->ease_dense = data[MQ_SEC_EASE_DENSE];
        } else {
            if ((rc = check_csr(file, "ease", data[MQ_SEC_EASE_PTR], count[MQ_SEC_EASE_PTR],
                                data[MQ_SEC_EASE_IDX], count[MQ_SEC_EASE_IDX], count[MQ_SEC_EASE_W],
                                n, n, err)))
                return rc;
            b->ease = (mq_csr){data[MQ_SEC_EASE_PTR], data[MQ_SEC_EASE_IDX], data[MQ_SEC_EASE_W]};
        }
    }
    if (b->models & (1u << MQ_MODEL_CONTENT)) {
        uint32_t nf = 0;
        const uint32_t *fi = data[MQ_SEC_CONTENT_IDX];
        for (size_t q = 0; q < count[MQ_SEC_CONTENT_IDX]; q++)
            if (fi[q] >= nf)
                nf = fi[q] + 1;
        if ((rc =
                 check_csr(file, "content", data[MQ_SEC_CONTENT_PTR], count[MQ_SEC_CONTENT_PTR], fi,
                           count[MQ_SEC_CONTENT_IDX], count[MQ_SEC_CONTENT_W], n, nf + 1, err)) ||
            (rc = check_csr(file, "cold", data[MQ_SEC_COLD_PTR], count[MQ_SEC_COLD_PTR],
                            data[MQ_SEC_COLD_IDX], count[MQ_SEC_COLD_IDX], count[MQ_SEC_COLD_W], n,
                            n, err)))
            return rc;
        b->n_feats = nf;
        b->content =
            (mq_csr){data[MQ_SEC_CONTENT_PTR], data[MQ_SEC_CONTENT_IDX], data[MQ_SEC_CONTENT_W]};
        b->cold = (mq_csr){data[MQ_SEC_COLD_PTR], data[MQ_SEC_COLD_IDX], data[MQ_SEC_COLD_W]};
    }
    mq_bundle_index_titles(b);
    return MQ_OK;
}

int mq_bundle_open(const char *path, mq_bundle **out, mq_err *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return mq_err_set(err, errno == ENOENT ? MQ_ENOTFOUND : MQ_EIO, "%s: cannot open: %s%s",
                          path, strerror(errno),
                          errno == ENOENT ? " (run `marquee train` to create a bundle)" : "");
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return mq_err_set(err, MQ_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    mq_bundle *b = mq_calloc(1, sizeof *b);
    b->default_model = -1;
    b->map_len = (size_t)st.st_size;
    if (b->map_len) {
        void *m = mmap(NULL, b->map_len, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            mq_free(b);
            return mq_err_set(err, MQ_EIO, "%s: cannot map: %s", path, strerror(e));
        }
        b->map = m;
        b->mapped = true;
    }
    close(fd);
    int rc = parse(b, path, err);
    if (rc) {
        mq_bundle_destroy(b);
        return rc;
    }
    *out = b;
    return MQ_OK;
}

int mq_bundle_open_bytes(const void *data, size_t len, const char *name, mq_bundle **out,
                         mq_err *err) {
    *out = NULL;
    mq_bundle *b = mq_calloc(1, sizeof *b);
    b->default_model = -1;
    b->map = aligned_alloc(ALIGN, (len + ALIGN - 1) / ALIGN * ALIGN + ALIGN);
    if (!b->map) {
        mq_free(b);
        return mq_err_set(err, MQ_ENOMEM, "%s: cannot allocate %zu bytes", name, len);
    }
    memcpy(b->map, data, len);
    b->map_len = len;
    int rc = parse(b, name, err);
    if (rc) {
        mq_bundle_destroy(b);
        return rc;
    }
    *out = b;
    return MQ_OK;
}

int mq_bundle_open_data(const char *data_dir, mq_bundle **out, mq_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/bundle.mqb", data_dir);
    return mq_bundle_open(path, out, err);
}

int mq_bundle_open_published(const char *data_dir, mq_store *s, mq_bundle **out, mq_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/bundle.mqb", data_dir);
    if (mq_path_exists(path) || !s)
        return mq_bundle_open(path, out, err);
    void *data = NULL;
    size_t len = 0;
    int rc = mq_store_get_blob(s, "bundle", &data, &len, err);
    if (rc == MQ_ENOTFOUND)
        return mq_err_set(err, MQ_ENOTFOUND,
                          "no bundle: neither %s nor the store's blob \"bundle\" exists (run "
                          "`marquee train`)",
                          path);
    if (rc)
        return rc;
    char name[256];
    snprintf(name, sizeof name, "%s (blob \"bundle\")", mq_store_target(s));
    rc = mq_bundle_open_bytes(data, len, name, out, err);
    mq_free(data);
    return rc;
}

/* -------------------------------------------------------------- publishing ---- */

static int read_file(const char *path, void **data, size_t *len, mq_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return mq_err_set(err, MQ_EIO, "%s: cannot open: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = mq_malloc(n > 0 ? (size_t)n : 1);
    *len = fread(*data, 1, n > 0 ? (size_t)n : 0, f);
    fclose(f);
    if (*len != (size_t)n) {
        mq_free(*data);
        return mq_err_set(err, MQ_EIO, "%s: short read", path);
    }
    return MQ_OK;
}

int mq_bundle_publish(const mq_bundle *b, const char *data_dir, mq_store *s, char *path_out,
                      size_t path_len, mq_err *err) {
    char dir[4096], path[4200], cur[4200], tmp[4300], stamp[40];
    snprintf(dir, sizeof dir, "%s/bundles", data_dir);
    int rc = mq_mkdirs(dir, err);
    if (rc)
        return rc;
    int64_t now = mq_now_ms();
    char iso[32];
    mq_time_format_rfc3339(now, iso, sizeof iso);
    /* 2024-05-01T20:15:00.123Z -> 20240501T201500123Z: sortable, no colons. */
    size_t k = 0;
    for (const char *c = iso; *c && k + 1 < sizeof stamp; c++)
        if (*c != '-' && *c != ':' && *c != '.')
            stamp[k++] = *c;
    stamp[k] = '\0';
    snprintf(path, sizeof path, "%s/bundle-%s.mqb", dir, stamp);
    for (int i = 2; mq_path_exists(path) && i < 1000; i++)
        snprintf(path, sizeof path, "%s/bundle-%s-%d.mqb", dir, stamp, i);
    if ((rc = mq_bundle_write(b, path, err)))
        return rc;
    mq_bundle *check;
    if ((rc = mq_bundle_open(path, &check, err))) {
        mq_err_prefix(err, "the bundle just written does not verify");
        return rc;
    }
    mq_bundle_destroy(check);
    /* DATA_DIR/bundle.mqb: a hard link to the immutable versioned file, swapped in
     * with rename so a reader sees the old bundle or the new one, never a mix. */
    snprintf(cur, sizeof cur, "%s/bundle.mqb", data_dir);
    snprintf(tmp, sizeof tmp, "%s/.bundle.mqb.tmp.%d", data_dir, (int)getpid());
    unlink(tmp);
    if (link(path, tmp) != 0) {
        void *d;
        size_t len;
        if ((rc = read_file(path, &d, &len, err)))
            return rc;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            mq_free(d);
            return mq_err_set(err, MQ_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        }
        rc = write_all(fd, d, len, tmp, err);
        if (!rc && fsync(fd) != 0)
            rc = mq_err_set(err, MQ_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
        close(fd);
        mq_free(d);
        if (rc) {
            unlink(tmp);
            return rc;
        }
    }
    if (rename(tmp, cur) != 0) {
        unlink(tmp);
        return mq_err_set(err, MQ_EIO, "%s: cannot rename to %s: %s", tmp, cur, strerror(errno));
    }
    fsync_dir(cur);
    if (s) {
        void *d;
        size_t len;
        if ((rc = read_file(path, &d, &len, err)))
            return rc;
        rc = mq_store_put_blob(s, "bundle", d, len, err);
        mq_free(d);
        if (rc)
            return rc;
    }
    if (path_out)
        snprintf(path_out, path_len, "%s", path);
    return MQ_OK;
}
