/* bench_state.c: memory and update rate of the live profile state (src/state).
 *
 * Usage: bench_state [PROFILES] [EVENTS_PER_PROFILE]   (default 1,000,000 and 20)
 *
 * Applies a typical mix to every profile: impressions of a handful of titles, a
 * row scrolled past, two plays (start, progress, stop), a thumbs and a My List
 * add, drawn from a 5,000-title catalogue, interleaved across profiles as a live
 * log would be (round r of every profile, then round r + 1). Reports the resident
 * memory the state added (RSS delta, allocator overhead included), the bytes the
 * state accounts for itself, and events applied per second, as one JSON object. */
#include "state/state.h"

#include <stdlib.h>
#include <unistd.h>

static size_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

/* Event `r` of profile `p`'s session. */
static void make_event(mq_event *e, mq_rng *rng, uint32_t p, int r, int per, int64_t t0) {
    static const char *const rows[] = {"genre:comedy", "genre:drama", "trending", "new",
                                       "because:t1", "top10"};
    mq_event_init(e);
    e->profile_id = p;
    e->event_id = "x";
    e->profile = "p";
    e->ts_ms = t0 + (int64_t)r * 60000;
    e->device = MQ_DEVICE_TV;
    uint32_t title = 1 + mq_rng_below(rng, 5000);
    int slot = r * 20 / per; /* the same shape for any events-per-profile */
    if (slot < 10) {
        e->type = MQ_EV_IMPRESSION;
        e->title_id = title;
    } else if (slot == 10) {
        e->type = MQ_EV_ROW_SCROLL;
        e->row_id = rows[mq_rng_below(rng, 6)];
        e->direction = MQ_DIR_PAST;
    } else if (slot < 17) {
        static const mq_event_type play[] = {MQ_EV_PLAY_START, MQ_EV_PLAY_PROGRESS,
                                             MQ_EV_PLAY_STOP};
        e->type = play[(slot - 11) % 3];
        e->title_id = 1 + (p * 7 + (uint32_t)(slot - 11) / 3) % 5000;
        e->position_s = 600.0 * (slot - 10);
        e->duration_s = 5400;
    } else if (slot == 17) {
        e->type = MQ_EV_THUMBS;
        e->title_id = title;
        e->value = MQ_THUMB_UP;
    } else {
        e->type = MQ_EV_LIST_ADD;
        e->title_id = title;
    }
}

int main(int argc, char **argv) {
    uint32_t n = argc > 1 ? (uint32_t)atol(argv[1]) : 1000000;
    int per = argc > 2 ? atoi(argv[2]) : 20;
    if (n == 0 || per <= 0) {
        fprintf(stderr, "usage: bench_state [PROFILES] [EVENTS_PER_PROFILE]\n");
        return 2;
    }
    mq_semantics sem;
    mq_semantics_defaults(&sem);
    mq_rng rng;
    mq_rng_seed(&rng, 1, 1);
    int64_t t0 = 1714600000000LL;
    size_t rss0 = rss_bytes();
    mq_state *st = mq_state_create(&sem);
    double start = mq_mono_s();
    for (int r = 0; r < per; r++)
        for (uint32_t p = 1; p <= n; p++) {
            mq_event e;
            make_event(&e, &rng, p, r, per, t0);
            mq_state_apply(st, &e);
        }
    double dt = mq_mono_s() - start;
    size_t rss1 = rss_bytes();
    size_t own = mq_state_memory(st);
    /* Read one profile back, so the work cannot be optimised away. */
    mq_state_view v;
    mq_state_get(st, n / 2 + 1, t0, &v);
    size_t titles = v.n_titles;
    mq_state_view_free(&v);
    uint64_t events = (uint64_t)n * (uint64_t)per;
    printf("{\"profiles\": %u, \"events_per_profile\": %d, \"titles_in_sample_profile\": %zu, "
           "\"apply_per_s\": %.0f, \"state_bytes\": %zu, \"rss_delta_bytes\": %zu, "
           "\"rss_bytes_per_profile\": %.1f, \"rss_mib_per_million_profiles\": %.1f}\n",
           n, per, titles, (double)events / dt, own, rss1 - rss0,
           (double)(rss1 - rss0) / n, (double)(rss1 - rss0) / n * 1e6 / 1048576.0);
    mq_state_destroy(st);
    return 0;
}
