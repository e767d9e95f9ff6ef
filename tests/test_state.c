/* test_state.c: the live profile state (src/state): recency decay, the play life
 * cycle and its derived signals, continue-watching, thumbs, impressions without a
 * play, rows skipped, habits, eviction at the caps, forgetting a profile, the
 * JSON view, and concurrent updates across shards. */
#include "state/state.h"

#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#define DAY_MS (86400LL * 1000)
#define T0 1714600000000LL /* 2024-05-01T21:46:40Z */

static mq_semantics sem;

static void setup(void) {
    mq_semantics_defaults(&sem);
}

TestSuite(state, .init = setup);

static mq_event ev(mq_event_type type, uint32_t profile, uint32_t title, int64_t ts) {
    mq_event e;
    mq_event_init(&e);
    e.type = type;
    e.profile_id = profile;
    e.title_id = title;
    e.ts_ms = ts;
    e.event_id = "x";
    e.profile = "p";
    return e;
}

static mq_event play(mq_event_type type, uint32_t profile, uint32_t title, int64_t ts,
                     double pos, double dur) {
    mq_event e = ev(type, profile, title, ts);
    e.position_s = pos;
    e.duration_s = dur;
    return e;
}

static const mq_state_title *find(const mq_state_view *v, uint32_t title) {
    for (size_t i = 0; i < v->n_titles; i++)
        if (v->titles[i].title_id == title)
            return &v->titles[i];
    return NULL;
}

Test(state, signal_table_is_complete) {
    cr_assert_eq(MQ_SIG_COUNT, 6);
    for (int i = 0; i < MQ_SIG_COUNT; i++) {
        cr_assert_gt(strlen(mq_state_signal_name((mq_state_signal)i)), 0);
        cr_assert_gt(strlen(mq_state_signal_doc((mq_state_signal)i)), 20);
        char sc = mq_state_signal_scope((mq_state_signal)i);
        cr_assert(sc == 'T' || sc == 'R');
        for (int k = 0; k < i; k++)
            cr_assert_str_neq(mq_state_signal_name((mq_state_signal)i),
                              mq_state_signal_name((mq_state_signal)k));
    }
    cr_assert_str_eq(mq_state_signal_name(MQ_SIG_WATCH_FRACTION), "watch_fraction");
    cr_assert_eq(mq_state_signal_scope(MQ_SIG_ROW_SKIPPED), 'R');
}

Test(state, rating_decays_by_half_life) {
    mq_state *st = mq_state_create(&sem);
    mq_event e = ev(MQ_EV_RATING, 1, 7, T0);
    e.value = 5;
    mq_state_apply(st, &e);
    mq_state_view v;
    cr_assert(mq_state_get(st, 1, T0, &v));
    double w0 = sem.w_rating * (1 + 5 - sem.rating_positive);
    cr_assert_float_eq(find(&v, 7)->weight, w0, 1e-5);
    mq_state_view_free(&v);
    int64_t hl = (int64_t)(sem.half_life_days * DAY_MS);
    cr_assert(mq_state_get(st, 1, T0 + hl, &v));
    cr_assert_float_eq(find(&v, 7)->weight, w0 / 2, 1e-5);
    mq_state_view_free(&v);
    cr_assert(mq_state_get(st, 1, T0 + 2 * hl, &v));
    cr_assert_float_eq(find(&v, 7)->weight, w0 / 4, 1e-5);
    mq_state_view_free(&v);
    mq_state_destroy(st);
}

Test(state, arrival_order_does_not_matter) {
    mq_state *a = mq_state_create(&sem), *b = mq_state_create(&sem);
    mq_event evs[4];
    int64_t hl = (int64_t)(sem.half_life_days * DAY_MS);
    for (int i = 0; i < 4; i++) {
        evs[i] = ev(MQ_EV_RATING, 3, 9, T0 + i * hl / 3);
        evs[i].value = 4 + (i % 2);
    }
    for (int i = 0; i < 4; i++)
        mq_state_apply(a, &evs[i]);
    for (int i = 3; i >= 0; i--)
        mq_state_apply(b, &evs[i]);
    mq_state_view va, vb;
    cr_assert(mq_state_get(a, 3, T0 + hl * 2, &va));
    cr_assert(mq_state_get(b, 3, T0 + hl * 2, &vb));
    cr_assert_float_eq(find(&va, 9)->weight, find(&vb, 9)->weight, 1e-4);
    /* The closed form: sum of w_i * 0.5^(age_i / half-life). */
    double expect = 0;
    for (int i = 0; i < 4; i++)
        expect += sem.w_rating * (1 + evs[i].value - sem.rating_positive) *
                  pow(0.5, (double)(T0 + hl * 2 - evs[i].ts_ms) / (double)hl);
    cr_assert_float_eq(find(&va, 9)->weight, expect, 1e-4);
    mq_state_view_free(&va);
    mq_state_view_free(&vb);
    mq_state_destroy(a);
    mq_state_destroy(b);
}

Test(state, play_completion_rewatch_and_abandon) {
    mq_state *st = mq_state_create(&sem);
    mq_event e = play(MQ_EV_PLAY_START, 1, 5, T0, 0, NAN);
    mq_state_apply(st, &e);
    e = play(MQ_EV_PLAY_PROGRESS, 1, 5, T0 + 60000, 3000, 6000);
    mq_state_apply(st, &e);
    mq_state_view v;
    cr_assert(mq_state_get(st, 1, T0 + 60000, &v));
    const mq_state_title *t = find(&v, 5);
    cr_assert(t->playing);
    cr_assert(mq_state_title_continue(t), "a play at 50%% is continue-watching");
    cr_assert_float_eq(t->signal[MQ_SIG_WATCH_FRACTION], 0.5, 1e-6);
    cr_assert_float_eq(t->weight, 0, 1e-9, "an open play has not been scored yet");
    mq_state_view_free(&v);

    e = play(MQ_EV_PLAY_STOP, 1, 5, T0 + 120000, 5700, 6000);
    mq_state_apply(st, &e);
    cr_assert(mq_state_get(st, 1, T0 + 120000, &v));
    t = find(&v, 5);
    cr_assert(!t->playing);
    cr_assert(t->completed_ever);
    cr_assert_eq(t->signal[MQ_SIG_COMPLETION], 1);
    cr_assert_eq(t->signal[MQ_SIG_EARLY_ABANDON], 0);
    cr_assert_eq(t->signal[MQ_SIG_REWATCH], 0);
    cr_assert(!mq_state_title_continue(t), "a completed play is not continue-watching");
    double w1 = sem.w_play * 0.95 + sem.w_complete;
    cr_assert_float_eq(t->weight, w1, 1e-4);
    mq_state_view_free(&v);

    /* Second play: a rewatch, abandoned at 5%. */
    e = play(MQ_EV_PLAY_START, 1, 5, T0 + 180000, 0, NAN);
    mq_state_apply(st, &e);
    e = play(MQ_EV_PLAY_STOP, 1, 5, T0 + 200000, 300, 6000);
    mq_state_apply(st, &e);
    cr_assert(mq_state_get(st, 1, T0 + 200000, &v));
    t = find(&v, 5);
    cr_assert_eq(t->plays, 2);
    cr_assert_eq(t->signal[MQ_SIG_REWATCH], 1);
    cr_assert_eq(t->signal[MQ_SIG_EARLY_ABANDON], 1);
    cr_assert_eq(t->signal[MQ_SIG_COMPLETION], 0);
    cr_assert_float_eq(t->negative, sem.w_abandon, 1e-4);
    cr_assert_float_eq(t->weight, w1, 1e-3, "an abandon adds no confidence");
    mq_state_view_free(&v);
    mq_state_destroy(st);
}

Test(state, complete_event_counts_once) {
    mq_state *st = mq_state_create(&sem);
    mq_event e = play(MQ_EV_PLAY_START, 2, 5, T0, 0, NAN);
    mq_state_apply(st, &e);
    e = play(MQ_EV_PLAY_PROGRESS, 2, 5, T0 + 1000, 100, 1000);
    mq_state_apply(st, &e);
    e = play(MQ_EV_COMPLETE, 2, 5, T0 + 2000, NAN, 1000);
    mq_state_apply(st, &e);
    mq_state_view v;
    cr_assert(mq_state_get(st, 2, T0 + 2000, &v));
    const mq_state_title *t = find(&v, 5);
    cr_assert_eq(t->signal[MQ_SIG_COMPLETION], 1);
    cr_assert_float_eq(t->weight, sem.w_play + sem.w_complete, 1e-4);
    cr_assert(!mq_state_title_continue(t));
    mq_state_view_free(&v);
    /* A stop after the completion closes nothing and counts nothing. */
    e = play(MQ_EV_PLAY_STOP, 2, 5, T0 + 3000, 1000, 1000);
    mq_state_apply(st, &e);
    cr_assert(mq_state_get(st, 2, T0 + 3000, &v));
    t = find(&v, 5);
    cr_assert_float_eq(t->weight, sem.w_play + sem.w_complete, 1e-4);
    cr_assert_eq(t->plays, 1);
    mq_state_view_free(&v);

    /* A stop at 95% closes the play as completed; the `complete` that follows is
     * the same play, not a rewatch. */
    e = play(MQ_EV_PLAY_START, 3, 5, T0, 0, NAN);
    mq_state_apply(st, &e);
    e = play(MQ_EV_PLAY_STOP, 3, 5, T0 + 1000, 950, 1000);
    mq_state_apply(st, &e);
    e = play(MQ_EV_COMPLETE, 3, 5, T0 + 1001, NAN, 1000);
    mq_state_apply(st, &e);
    cr_assert(mq_state_get(st, 3, T0 + 1001, &v));
    t = find(&v, 5);
    cr_assert_eq(t->plays, 1);
    cr_assert_eq(t->signal[MQ_SIG_REWATCH], 0);
    cr_assert_float_eq(t->weight, sem.w_play * 0.95 + sem.w_complete, 1e-4);
    mq_state_view_free(&v);
    mq_state_destroy(st);
}

Test(state, thumbs_are_the_latest_value) {
    mq_state *st = mq_state_create(&sem);
    mq_event e = ev(MQ_EV_THUMBS, 1, 4, T0);
    e.value = MQ_THUMB_UP;
    mq_state_apply(st, &e);
    mq_state_view v;
    cr_assert(mq_state_get(st, 1, T0, &v));
    cr_assert_eq(find(&v, 4)->thumb, 1);
    mq_state_view_free(&v);
    e.value = MQ_THUMB_DOWN;
    mq_state_apply(st, &e);
    cr_assert(mq_state_get(st, 1, T0, &v));
    cr_assert_eq(find(&v, 4)->thumb, -1);
    mq_state_view_free(&v);
    e.value = MQ_THUMB_NONE;
    mq_state_apply(st, &e);
    cr_assert(mq_state_get(st, 1, T0, &v));
    cr_assert_eq(find(&v, 4)->thumb, 0);
    mq_state_view_free(&v);
    mq_state_destroy(st);
}

Test(state, impressions_without_play_reset_by_a_play) {
    mq_state *st = mq_state_create(&sem);
    for (int i = 0; i < 3; i++) {
        mq_event e = ev(MQ_EV_IMPRESSION, 1, 8, T0 + i);
        mq_state_apply(st, &e);
    }
    mq_state_view v;
    cr_assert(mq_state_get(st, 1, T0, &v));
    cr_assert_eq(find(&v, 8)->signal[MQ_SIG_IMPRESSION_NO_PLAY], 3);
    cr_assert_eq(find(&v, 8)->plays, 0);
    mq_state_view_free(&v);
    mq_event e = play(MQ_EV_PLAY_START, 1, 8, T0 + 10, 0, NAN);
    mq_state_apply(st, &e);
    cr_assert(mq_state_get(st, 1, T0, &v));
    cr_assert_eq(find(&v, 8)->signal[MQ_SIG_IMPRESSION_NO_PLAY], 0);
    mq_state_view_free(&v);
    mq_state_destroy(st);
}

Test(state, rows_and_habits) {
    mq_state *st = mq_state_create(&sem);
    const char *rows[] = {"genre:comedy", "genre:comedy", "trending"};
    mq_scroll_dir dirs[] = {MQ_DIR_PAST, MQ_DIR_PAST, MQ_DIR_ALONG};
    for (int i = 0; i < 3; i++) {
        mq_event e = ev(MQ_EV_ROW_SCROLL, 1, 0, T0);
        e.row_id = rows[i];
        e.page_id = "pg";
        e.row_pos = i;
        e.direction = dirs[i];
        mq_state_apply(st, &e);
    }
    /* 2024-05-01T21:46:40Z at UTC-2 is 19h local. */
    mq_event e = play(MQ_EV_PLAY_START, 1, 3, T0, 0, NAN);
    e.device = MQ_DEVICE_TV;
    e.tz_offset_min = -120;
    mq_state_apply(st, &e);
    mq_state_view v;
    cr_assert(mq_state_get(st, 1, T0, &v));
    cr_assert_eq(v.n_rows, 2);
    for (size_t i = 0; i < v.n_rows; i++) {
        if (strcmp(v.rows[i].row_id, "genre:comedy") == 0) {
            cr_assert_eq(v.rows[i].past, 2);
            cr_assert_eq(v.rows[i].along, 0);
        } else {
            cr_assert_str_eq(v.rows[i].row_id, "trending");
            cr_assert_eq(v.rows[i].along, 1);
        }
    }
    cr_assert_eq(v.device[MQ_DEVICE_TV], 1);
    cr_assert_eq(v.hour[19], 1);
    cr_assert_eq(v.events, 4);
    mq_state_view_free(&v);
    mq_state_destroy(st);
}

Test(state, forget_and_counts) {
    mq_state *st = mq_state_create(&sem);
    for (uint32_t p = 1; p <= 200; p++) {
        mq_event e = ev(MQ_EV_IMPRESSION, p, 1, T0);
        mq_state_apply(st, &e);
    }
    cr_assert_eq(mq_state_profile_count(st), 200);
    size_t mem = mq_state_memory(st);
    cr_assert_gt(mem, 200 * 32);
    mq_state_forget(st, 77);
    mq_state_forget(st, 77);
    mq_state_forget(st, 100000); /* never seen */
    cr_assert_eq(mq_state_profile_count(st), 199);
    cr_assert_lt(mq_state_memory(st), mem);
    mq_state_view v;
    cr_assert(!mq_state_get(st, 77, T0, &v));
    cr_assert_eq(v.n_titles, 0);
    mq_state_view_free(&v);
    cr_assert(mq_state_get(st, 78, T0, &v));
    mq_state_view_free(&v);
    /* Events without ids are ignored rather than misfiled. */
    mq_event e = ev(MQ_EV_IMPRESSION, 0, 1, T0);
    mq_state_apply(st, &e);
    e = ev(MQ_EV_IMPRESSION, 5, 0, T0);
    mq_state_apply(st, &e);
    cr_assert_eq(mq_state_profile_count(st), 199);
    mq_state_destroy(st);
}

Test(state, caps_evict_only_shown_titles_first) {
    mq_state *st = mq_state_create(&sem);
    mq_event e = ev(MQ_EV_RATING, 1, 1, T0);
    e.value = 5;
    mq_state_apply(st, &e);
    for (uint32_t t = 2; t < MQ_STATE_MAX_TITLES + 300; t++) {
        e = ev(MQ_EV_IMPRESSION, 1, t, T0 + t);
        mq_state_apply(st, &e);
    }
    mq_state_view v;
    cr_assert(mq_state_get(st, 1, T0, &v));
    cr_assert_eq(v.n_titles, MQ_STATE_MAX_TITLES);
    cr_assert_not_null(find(&v, 1), "the rated title survives eviction");
    cr_assert_null(find(&v, 2), "the oldest shown-only title went first");
    cr_assert_not_null(find(&v, MQ_STATE_MAX_TITLES + 299));
    mq_state_view_free(&v);
    mq_state_destroy(st);
}

static const char *name_of(void *ud, uint32_t id) {
    static const char *const names[] = {NULL, "heat", "up"};
    return id < 3 ? names[id] : NULL;
}

Test(state, json_view) {
    mq_state *st = mq_state_create(&sem);
    mq_event e = play(MQ_EV_PLAY_START, 1, 1, T0, 0, NAN);
    mq_state_apply(st, &e);
    e = play(MQ_EV_PLAY_PROGRESS, 1, 1, T0 + 1000, 600, 6000);
    mq_state_apply(st, &e);
    e = ev(MQ_EV_IMPRESSION, 1, 2, T0);
    mq_state_apply(st, &e);
    e = ev(MQ_EV_IMPRESSION, 1, 9, T0); /* a title without a name: left out */
    mq_state_apply(st, &e);
    mq_state_view v;
    mq_state_get(st, 1, T0, &v);
    json_t *o = mq_state_view_json(&v, "p1", name_of, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(o, "profile")), "p1");
    cr_assert_eq(json_integer_value(json_object_get(o, "events")), 4);
    json_t *cw = json_object_get(o, "continue_watching");
    cr_assert_eq(json_array_size(cw), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(cw, 0), "title")), "heat");
    cr_assert_float_eq(json_number_value(json_object_get(json_array_get(cw, 0), "position_s")),
                       600, 1e-9);
    json_t *hist = json_object_get(o, "history");
    cr_assert_eq(json_array_size(hist), 1, "shown-only titles are not history");
    json_t *sig = json_object_get(json_array_get(hist, 0), "signals");
    cr_assert_float_eq(json_number_value(json_object_get(sig, "watch_fraction")), 0.1, 1e-6);
    cr_assert_null(json_object_get(sig, "row_skipped"), "row signals are not per title");
    json_t *shown = json_object_get(o, "impressions_without_play");
    cr_assert_eq(json_array_size(shown), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(shown, 0), "title")), "up");
    cr_assert_not_null(json_object_get(o, "habits"));
    cr_assert_not_null(json_object_get(o, "rows"));
    json_decref(o);
    mq_state_view_free(&v);
    mq_state_destroy(st);
}

typedef struct {
    mq_state *st;
    uint32_t first;
} worker_arg;

static void *worker(void *p) {
    worker_arg *a = p;
    for (int k = 0; k < 2000; k++) {
        mq_event e = ev(MQ_EV_IMPRESSION, a->first + (uint32_t)(k % 100), (uint32_t)(k % 7) + 1,
                        T0 + k);
        mq_state_apply(a->st, &e);
    }
    return NULL;
}

Test(state, concurrent_updates) {
    mq_state *st = mq_state_create(&sem);
    pthread_t th[4];
    worker_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (worker_arg){st, 1 + (uint32_t)i * 100};
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(mq_state_profile_count(st), 400);
    uint64_t total = 0;
    for (uint32_t p = 1; p <= 400; p++) {
        mq_state_view v;
        cr_assert(mq_state_get(st, p, T0, &v));
        total += v.events;
        mq_state_view_free(&v);
    }
    cr_assert_eq(total, 8000);
    mq_state_destroy(st);
}
