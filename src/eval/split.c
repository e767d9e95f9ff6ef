/* split.c: the evaluation protocols of DESIGN.md, turning a matrix into what the
 * models train on and, for each evaluated profile, the history it gives and the
 * titles held out. Every random choice comes from the seed (PCG), so a split is
 * the same on every machine. */
#include "eval.h"

#include <stdlib.h>
#include <string.h>

static const char *protocols[] = {"strong", "loo", "time"};

const char *mq_protocol_name(mq_protocol p) {
    return (unsigned)p < 3 ? protocols[p] : "unknown";
}

int mq_protocol_parse(const char *s) {
    for (int i = 0; i < 3; i++)
        if (strcmp(s, protocols[i]) == 0)
            return i;
    return -1;
}

void mq_eval_opts_default(mq_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->protocol = MQ_PROTO_STRONG;
    o->split = MQ_SPLIT_TEST;
    o->seed = 1;
    o->test_frac = 0.2;
    o->valid_frac = 0.1;
    o->holdout_frac = 0.2;
    o->min_positives = 5;
    o->repeats = 1;
    o->time_quantile = 0.9;
    static const size_t ks[] = {10, 20, 50, 100};
    memcpy(o->ks, ks, sizeof ks);
    o->n_ks = 4;
}

void mq_split_destroy(mq_split *s) {
    if (!s)
        return;
    for (size_t u = 0; u < s->n_users; u++) {
        mq_free(s->users[u].hist);
        mq_free(s->users[u].held);
    }
    mq_free(s->users);
    mq_matrix_destroy(s->train);
    mq_free(s);
}

static bool is_positive(const mq_matrix *m, size_t e) {
    return (m->flags[e] & (MQ_PAIR_POSITIVE | MQ_PAIR_NEGATIVE)) == MQ_PAIR_POSITIVE;
}

static void shuffle_u32(uint32_t *a, size_t n, mq_rng *r) {
    for (size_t i = n; i > 1; i--) {
        size_t j = mq_rng_below(r, (uint32_t)i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Adds an evaluated user: history = the row's entries not held out (entries
 * flagged in `held_e`, indexed from the row's first entry). */
static void add_user(mq_split *sp, size_t *cap, const mq_matrix *m, uint32_t r,
                     const bool *held_e) {
    if (sp->n_users == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        sp->users = mq_realloc(sp->users, *cap * sizeof *sp->users);
    }
    mq_eval_user *u = &sp->users[sp->n_users++];
    size_t a = m->row_ptr[r], z = m->row_ptr[r + 1], nh = 0;
    for (size_t e = a; e < z; e++)
        nh += held_e[e - a];
    u->profile_id = m->row_profile[r];
    u->n_held = nh;
    u->n_hist = (z - a) - nh;
    u->held = mq_malloc((nh ? nh : 1) * sizeof *u->held);
    u->hist = mq_malloc((u->n_hist ? u->n_hist : 1) * sizeof *u->hist);
    size_t i = 0, h = 0;
    for (size_t e = a; e < z; e++) {
        if (held_e[e - a])
            u->held[i++] = m->col[e];
        else
            u->hist[h++] = (mq_hist_item){m->col[e], m->conf[e], m->neg[e]};
    }
}

/* Holds out a random share of row r's positives (at least one). */
static void hold_out(mq_split *sp, size_t *cap, const mq_matrix *m, uint32_t r, double frac,
                     mq_rng *rng) {
    size_t a = m->row_ptr[r], z = m->row_ptr[r + 1];
    uint32_t *pos = mq_malloc((z - a) * sizeof *pos);
    size_t np = 0;
    for (size_t e = a; e < z; e++)
        if (is_positive(m, e))
            pos[np++] = (uint32_t)(e - a);
    shuffle_u32(pos, np, rng);
    size_t nh = (size_t)(frac * (double)np);
    if (nh == 0)
        nh = 1;
    bool *held = mq_calloc(z - a, sizeof *held);
    for (size_t k = 0; k < nh && k < np; k++)
        held[pos[k]] = true;
    add_user(sp, cap, m, r, held);
    mq_free(held);
    mq_free(pos);
}

static int split_strong(const mq_matrix *m, const mq_eval_opts *o, mq_split *sp, mq_err *err) {
    mq_rng rng;
    mq_rng_seed(&rng, o->seed, 0x5EED);
    uint32_t *elig = mq_malloc((m->n_rows ? m->n_rows : 1) * sizeof *elig);
    size_t ne = 0;
    for (uint32_t r = 0; r < m->n_rows; r++)
        if (mq_matrix_row_positives(m, r) >= (size_t)o->min_positives)
            elig[ne++] = r;
    shuffle_u32(elig, ne, &rng);
    size_t n_test = (size_t)(o->test_frac * (double)ne + 0.5);
    size_t n_valid = (size_t)(o->valid_frac * (double)ne + 0.5);
    if (n_test + n_valid > ne)
        n_valid = ne - n_test;
    sp->n_eligible = ne;
    sp->n_test = n_test;
    sp->n_valid = n_valid;
    uint32_t *chosen = o->split == MQ_SPLIT_TEST ? elig : elig + n_test;
    size_t n_chosen = o->split == MQ_SPLIT_TEST ? n_test : n_valid;
    if (n_chosen == 0) {
        mq_free(elig);
        return mq_err_set(err, MQ_EINVAL,
                          "strong generalization: no %s profiles (%zu profiles have at least %d "
                          "positives)",
                          o->split == MQ_SPLIT_TEST ? "test" : "validation", ne, o->min_positives);
    }
    /* Training rows: everything that is neither test nor validation. */
    uint8_t *out = mq_calloc(m->n_rows ? m->n_rows : 1, 1);
    for (size_t i = 0; i < n_test + n_valid; i++)
        out[elig[i]] = 1;
    uint32_t *rows = mq_malloc((m->n_rows ? m->n_rows : 1) * sizeof *rows);
    size_t nr = 0;
    for (uint32_t r = 0; r < m->n_rows; r++)
        if (!out[r])
            rows[nr++] = r;
    sp->train = mq_matrix_select_rows(m, rows, nr);
    mq_free(rows);
    mq_free(out);
    /* Evaluated users in row order (stable reports), each with its own hold-out. */
    qsort(chosen, n_chosen, sizeof *chosen, cmp_u32);
    size_t cap = 0;
    int repeats = o->repeats > 0 ? o->repeats : 1;
    for (int rep = 0; rep < repeats; rep++) {
        /* Hold-outs have their own stream, so repeats redraw them for the same
         * profiles without changing which profiles are held out. */
        mq_rng_seed(&rng, o->seed, 0x40D0 + (uint64_t)rep);
        for (size_t i = 0; i < n_chosen; i++)
            hold_out(sp, &cap, m, chosen[i], o->holdout_frac, &rng);
    }
    mq_free(elig);
    snprintf(sp->desc, sizeof sp->desc,
             "strong generalization, %s profiles: %zu of %zu eligible (>= %d positives), "
             "%.0f%% of positives held out%s, seed %llu",
             o->split == MQ_SPLIT_TEST ? "test" : "validation", n_chosen, ne, o->min_positives,
             o->holdout_frac * 100, repeats > 1 ? " (repeated draws)" : "",
             (unsigned long long)o->seed);
    return MQ_OK;
}

/* The row's positive entries by recency (latest first), ties broken by the seed. */
typedef struct {
    int64_t t;
    uint32_t tie;
    uint32_t off;
} by_time;

static int cmp_time_desc(const void *a, const void *b) {
    const by_time *x = a, *y = b;
    if (x->t != y->t)
        return x->t > y->t ? -1 : 1;
    return x->tie < y->tie ? -1 : x->tie > y->tie;
}

static int split_loo(const mq_matrix *m, const mq_eval_opts *o, mq_split *sp, mq_err *err) {
    mq_rng rng;
    mq_rng_seed(&rng, o->seed, 0x100);
    int need = o->split == MQ_SPLIT_TEST ? 2 : 3; /* keep at least one positive given */
    bool *drop = mq_calloc(m->nnz ? m->nnz : 1, sizeof *drop);
    uint32_t *held_entry = mq_malloc((m->n_rows ? m->n_rows : 1) * sizeof *held_entry);
    by_time *bt = NULL;
    size_t bt_cap = 0, ne = 0;
    for (uint32_t r = 0; r < m->n_rows; r++) {
        held_entry[r] = UINT32_MAX;
        size_t a = m->row_ptr[r], z = m->row_ptr[r + 1], np = 0;
        if (z - a > bt_cap) {
            bt_cap = z - a;
            bt = mq_realloc(bt, bt_cap * sizeof *bt);
        }
        for (size_t e = a; e < z; e++)
            if (is_positive(m, e))
                bt[np++] = (by_time){m->t_last[e], mq_rng_u32(&rng), (uint32_t)(e - a)};
        if (np < (size_t)need)
            continue;
        qsort(bt, np, sizeof *bt, cmp_time_desc);
        ne++;
        if (o->split == MQ_SPLIT_VALIDATION) {
            drop[a + bt[0].off] = true; /* the test item is never seen */
            held_entry[r] = bt[1].off;
        } else {
            held_entry[r] = bt[0].off;
        }
        drop[a + held_entry[r]] = true;
    }
    mq_free(bt);
    if (ne == 0) {
        mq_free(drop);
        mq_free(held_entry);
        return mq_err_set(err, MQ_EINVAL, "leave-last-out: no profile has %d positives", need);
    }
    sp->train = mq_matrix_drop_entries(m, drop);
    sp->n_eligible = ne;
    size_t cap = 0;
    for (uint32_t r = 0; r < m->n_rows; r++) {
        if (held_entry[r] == UINT32_MAX)
            continue;
        size_t a = m->row_ptr[r], z = m->row_ptr[r + 1];
        bool *held = mq_calloc(z - a, sizeof *held);
        held[held_entry[r]] = true;
        /* The history is what stayed in training (the dropped last item too is not
         * given in validation). */
        if (o->split == MQ_SPLIT_VALIDATION)
            for (size_t e = a; e < z; e++)
                if (drop[e] && e - a != held_entry[r])
                    held[e - a] = true; /* removed below */
        add_user(sp, &cap, m, r, held);
        if (o->split == MQ_SPLIT_VALIDATION) { /* keep only the true held-out column */
            mq_eval_user *u = &sp->users[sp->n_users - 1];
            u->held[0] = m->col[a + held_entry[r]];
            u->n_held = 1;
        }
        mq_free(held);
    }
    mq_free(drop);
    mq_free(held_entry);
    snprintf(sp->desc, sizeof sp->desc,
             "leave-last-out, %s: %zu profiles with >= %d positives, seed %llu",
             o->split == MQ_SPLIT_TEST ? "test (last positive)"
                                       : "validation (second-to-last positive)",
             sp->n_users, need, (unsigned long long)o->seed);
    return MQ_OK;
}

static int split_time(const mq_matrix *full, const mq_matrix *before, const mq_eval_opts *o,
                      mq_split *sp, mq_err *err) {
    if (!before)
        return mq_err_set(err, MQ_EINVAL, "time split: the matrix before T is missing");
    /* profile id -> row of `before` */
    uint32_t max_pid = 0;
    for (uint32_t r = 0; r < before->n_rows; r++)
        if (before->row_profile[r] > max_pid)
            max_pid = before->row_profile[r];
    uint32_t *brow = mq_malloc(((size_t)max_pid + 1) * sizeof *brow);
    for (uint32_t p = 0; p <= max_pid; p++)
        brow[p] = UINT32_MAX;
    for (uint32_t r = 0; r < before->n_rows; r++)
        brow[before->row_profile[r]] = r;
    uint32_t *all = mq_malloc((before->n_rows ? before->n_rows : 1) * sizeof *all);
    for (uint32_t r = 0; r < before->n_rows; r++)
        all[r] = r;
    sp->train = mq_matrix_select_rows(before, all, before->n_rows);
    mq_free(all);
    size_t cap = 0;
    for (uint32_t r = 0; r < full->n_rows; r++) {
        uint32_t pid = full->row_profile[r];
        if (pid > max_pid || brow[pid] == UINT32_MAX)
            continue; /* no history before T */
        uint32_t br = brow[pid];
        /* Held out: positives in `full` on titles the profile had not touched before T. */
        MQ_VEC(uint32_t) held = {0};
        size_t bq = before->row_ptr[br], bz = before->row_ptr[br + 1];
        for (size_t e = full->row_ptr[r]; e < full->row_ptr[r + 1]; e++) {
            if (!is_positive(full, e))
                continue;
            while (bq < bz && before->col[bq] < full->col[e])
                bq++;
            if (bq < bz && before->col[bq] == full->col[e])
                continue;
            MQ_VEC_PUSH(&held, full->col[e]);
        }
        if (held.len == 0) {
            mq_free(held.items);
            continue;
        }
        if (sp->n_users == cap) {
            cap = cap ? cap * 2 : 64;
            sp->users = mq_realloc(sp->users, cap * sizeof *sp->users);
        }
        mq_eval_user *u = &sp->users[sp->n_users++];
        u->profile_id = pid;
        u->held = held.items;
        u->n_held = held.len;
        u->n_hist = bz - before->row_ptr[br];
        u->hist = mq_malloc((u->n_hist ? u->n_hist : 1) * sizeof *u->hist);
        for (size_t e = before->row_ptr[br], i = 0; e < bz; e++, i++)
            u->hist[i] = (mq_hist_item){before->col[e], before->conf[e], before->neg[e]};
    }
    mq_free(brow);
    sp->n_eligible = sp->n_users;
    char t[32];
    mq_time_format_rfc3339(sp->time_ms, t, sizeof t);
    snprintf(sp->desc, sizeof sp->desc,
             "global time split, %s: train before %s, %zu profiles with new positives after",
             o->split == MQ_SPLIT_TEST ? "test" : "validation", t, sp->n_users);
    if (sp->n_users == 0)
        return mq_err_set(err, MQ_EINVAL,
                          "time split: no profile with history before %s has a new positive "
                          "after it",
                          t);
    return MQ_OK;
}

int mq_split_make(const mq_matrix *full, const mq_matrix *before, const mq_eval_opts *o,
                  mq_split **out, mq_err *err) {
    *out = NULL;
    mq_split *sp = mq_calloc(1, sizeof *sp);
    sp->protocol = o->protocol;
    sp->split = o->split;
    sp->seed = o->seed;
    int rc;
    switch (o->protocol) {
    case MQ_PROTO_STRONG:
        rc = split_strong(full, o, sp, err);
        break;
    case MQ_PROTO_LOO:
        rc = split_loo(full, o, sp, err);
        break;
    case MQ_PROTO_TIME:
        sp->time_ms = o->time_ms;
        rc = split_time(full, before, o, sp, err);
        break;
    default:
        rc = mq_err_set(err, MQ_EINVAL, "unknown protocol %d", (int)o->protocol);
    }
    if (rc) {
        mq_split_destroy(sp);
        return rc;
    }
    *out = sp;
    return MQ_OK;
}
