/* strmap.c: open-addressing (linear probing) hash map from strings to uint32_t,
 * used for external id -> dense internal id maps. Keys live in the map's arena;
 * removal uses backward-shift deletion so no tombstones accumulate. */
#include "util.h"

#include <string.h>

typedef struct {
    const char *key; /* NULL: empty slot */
    uint32_t len;
    uint32_t val;
    uint64_t hash;
} slot;

struct mq_strmap {
    slot *slots;
    size_t mask, count;
    mq_arena keys;
};

/* FNV-1a would do, but this 64-bit mix (wyhash-style folding) is faster on the
 * short numeric ids that dominate imports. */
uint64_t mq_hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull);
    while (n >= 8) {
        uint64_t k;
        memcpy(&k, s, 8);
        h ^= k * 0xC2B2AE3D27D4EB4Full;
        h = (h << 31 | h >> 33) * 0x9E3779B97F4A7C15ull;
        s += 8;
        n -= 8;
    }
    uint64_t k = 0;
    memcpy(&k, s, n);
    h ^= k * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 33;
    return h;
}

mq_strmap *mq_strmap_create(void) {
    mq_strmap *m = mq_calloc(1, sizeof *m);
    m->mask = 63;
    m->slots = mq_calloc(m->mask + 1, sizeof(slot));
    mq_arena_init(&m->keys, 64 * 1024, 0);
    return m;
}

void mq_strmap_destroy(mq_strmap *m) {
    if (!m)
        return;
    mq_arena_free(&m->keys);
    mq_free(m->slots);
    mq_free(m);
}

static slot *find(const mq_strmap *m, const char *key, size_t len, uint64_t h) {
    size_t i = h & m->mask;
    for (;;) {
        slot *s = &m->slots[i];
        if (!s->key)
            return s;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return s;
        i = (i + 1) & m->mask;
    }
}

static void grow(mq_strmap *m) {
    size_t old_n = m->mask + 1;
    slot *old = m->slots;
    m->mask = old_n * 2 - 1;
    m->slots = mq_calloc(m->mask + 1, sizeof(slot));
    for (size_t i = 0; i < old_n; i++) {
        if (!old[i].key)
            continue;
        size_t j = old[i].hash & m->mask;
        while (m->slots[j].key)
            j = (j + 1) & m->mask;
        m->slots[j] = old[i];
    }
    mq_free(old);
}

bool mq_strmap_getn(const mq_strmap *m, const char *key, size_t len, uint32_t *val) {
    const slot *s = find(m, key, len, mq_hash_bytes(key, len));
    if (!s->key)
        return false;
    if (val)
        *val = s->val;
    return true;
}

bool mq_strmap_get(const mq_strmap *m, const char *key, uint32_t *val) {
    return mq_strmap_getn(m, key, strlen(key), val);
}

const char *mq_strmap_put(mq_strmap *m, const char *key, uint32_t val) {
    size_t len = strlen(key);
    if ((m->count + 1) * 4 > (m->mask + 1) * 3)
        grow(m);
    uint64_t h = mq_hash_bytes(key, len);
    slot *s = find(m, key, len, h);
    if (!s->key) {
        s->key = mq_arena_strndup(&m->keys, key, len);
        s->len = (uint32_t)len;
        s->hash = h;
        m->count++;
    }
    s->val = val;
    return s->key;
}

bool mq_strmap_remove(mq_strmap *m, const char *key) {
    size_t len = strlen(key);
    uint64_t h = mq_hash_bytes(key, len);
    slot *s = find(m, key, len, h);
    if (!s->key)
        return false;
    size_t i = (size_t)(s - m->slots);
    /* Backward-shift deletion: pull later entries of the cluster into the hole when
     * their home slot is not cyclically between the hole and their position. */
    size_t j = i;
    for (;;) {
        m->slots[i].key = NULL;
        for (;;) {
            j = (j + 1) & m->mask;
            if (!m->slots[j].key) {
                m->count--;
                return true;
            }
            size_t home = m->slots[j].hash & m->mask;
            if ((i <= j) ? (i < home && home <= j) : (i < home || home <= j))
                continue;
            break;
        }
        m->slots[i] = m->slots[j];
        i = j;
    }
}

size_t mq_strmap_count(const mq_strmap *m) {
    return m->count;
}
