/* world.c: the synthetic catalogue and its members. Titles get a sparse mixture of
 * 1-3 themes, a log-normal (heavy-tailed) popularity, a kind, length, maturity,
 * year and date added, a generated name, 3-9 artwork variants with a style, colour
 * and motif, and 2-3 synopsis variants. Profiles get a taste concentrated on 1-3
 * themes plus a little of everything, a drift theme, an artwork-style response,
 * device habits, active hours, a country and time zone, and a heavy-tailed
 * activity level. Everything is drawn from PCG streams seeded by params.seed, in a
 * fixed order, so the same parameters always give the same world. */
#include "sim_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define RNG_TITLES 0x7469746c /* PCG stream ids: one per kind of draw */
#define RNG_PROFILES 0x70726f66
#define RECENT_DAYS 60

/* One word from a NULL-padded list. */
static const char *pick(const char *const *list, int n, mq_rng *r) {
    int m = 0;
    while (m < n && list[m])
        m++;
    return m ? list[mq_rng_below(r, (uint32_t)m)] : "";
}

#define PICK(th, field, r) pick((th)->field, (int)MQ_ARRAY_LEN((th)->field), r)

/* ----------------------------------------------------------------- pools ---- */

uint32_t mq_sim_pool_draw(const sim_pool *pl, mq_rng *r) {
    if (!pl->n)
        return MQ_SIM_NONE;
    if (!pl->cdf)
        return pl->idx[mq_rng_below(r, pl->n)];
    double x = mq_rng_unif(r) * pl->cdf[pl->n - 1];
    uint32_t lo = 0, hi = pl->n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (pl->cdf[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return pl->idx[lo];
}

static void pool_add(sim_pool *pl, uint32_t t, double weight, uint32_t cap, bool weighted) {
    if (!pl->idx) {
        pl->idx = mq_malloc(cap * sizeof *pl->idx);
        if (weighted)
            pl->cdf = mq_malloc(cap * sizeof *pl->cdf);
    }
    if (weighted)
        pl->cdf[pl->n] = (pl->n ? pl->cdf[pl->n - 1] : 0) + weight;
    pl->idx[pl->n++] = t;
}

static void pool_free(sim_pool *pl) {
    mq_free(pl->idx);
    mq_free(pl->cdf);
}

/* ------------------------------------------------------------ vocabulary ---- */

static int draw_theme(mq_rng *r, const bool *allowed) {
    double w[MQ_SIM_MAX_THEMES] = {0};
    for (int k = 0; k < mq_sim_n_themes_c; k++)
        w[k] = allowed[k] ? mq_sim_themes[k].prevalence : 0;
    return (int)mq_rng_categorical(r, w, (size_t)mq_sim_n_themes_c);
}

static bool any_allowed(const bool *allowed) {
    for (int k = 0; k < mq_sim_n_themes_c; k++)
        if (allowed[k])
            return true;
    return false;
}

static int64_t jan1_ms(int year) {
    char s[32];
    int64_t ms = 0;
    snprintf(s, sizeof s, "%04d-01-01T00:00:00Z", year);
    mq_time_parse_rfc3339(s, &ms);
    return ms;
}

static void capitalize(char *s) {
    if (s[0] >= 'a' && s[0] <= 'z')
        s[0] = (char)(s[0] - 'a' + 'A');
}

static char *lower_dup(mq_arena *a, const char *s) {
    char *d = mq_arena_strdup(a, s);
    for (char *q = d; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
        else if (*q == '-')
            *q = ' ';
    return d;
}

static mq_strlist strlist_from(mq_arena *a, const char *const *items, uint32_t n) {
    mq_strlist l = {mq_arena_alloc(a, (n ? n : 1) * sizeof(char *)), 0};
    for (uint32_t i = 0; i < n; i++) {
        bool dup = false;
        for (uint32_t j = 0; j < l.n; j++)
            dup |= strcmp(l.items[j], items[i]) == 0;
        if (!dup)
            l.items[l.n++] = mq_arena_strdup(a, items[i]);
    }
    return l;
}

/* ----------------------------------------------------------------- titles ---- */

/* A name from the dominant theme's words, made unique with a sequel number. */
static char *make_name(mq_world *w, const sim_theme *th, const sim_theme *th2, mq_rng *r,
                       mq_strmap *seen, const char **noun_out) {
    char buf[160];
    const char *noun = PICK(th, nouns, r), *adj = PICK(th, adjs, r);
    const char *noun2 = PICK(th2, nouns, r);
    switch (mq_rng_below(r, 6)) {
    case 0:
        snprintf(buf, sizeof buf, "The %s %s", adj, noun);
        break;
    case 1:
        snprintf(buf, sizeof buf, "%s %s", adj, noun);
        break;
    case 2:
        snprintf(buf, sizeof buf, "%s of the %s %s", noun, adj,
                 strcmp(noun2, noun) ? noun2 : "Night");
        break;
    case 3:
        snprintf(buf, sizeof buf, "The %s", noun);
        break;
    case 4:
        snprintf(buf, sizeof buf, "%s: %s %s", noun, adj, strcmp(noun2, noun) ? noun2 : "Road");
        break;
    default:
        snprintf(buf, sizeof buf, "%s's %s", mq_sim_first_names[mq_rng_below(r, MQ_SIM_N_NAMES)],
                 noun);
        break;
    }
    *noun_out = noun;
    uint32_t count = 0;
    if (mq_strmap_get(seen, buf, &count)) {
        mq_strmap_put(seen, buf, count + 1);
        char sequel[176];
        snprintf(sequel, sizeof sequel, "%s %u", buf, count + 1);
        return mq_arena_strdup(&w->arena, sequel);
    }
    mq_strmap_put(seen, buf, 1);
    return mq_arena_strdup(&w->arena, buf);
}

static char *make_synopsis(mq_world *w, const sim_theme *th, const char *kind, mq_rng *r,
                           const char **mood_out) {
    char buf[512], role[96];
    snprintf(role, sizeof role, "%s", PICK(th, roles, r));
    const char *goal = PICK(th, goals, r), *mood = PICK(th, moods, r);
    *mood_out = mood;
    if (strcmp(kind, "plot") == 0) {
        capitalize(role);
        snprintf(buf, sizeof buf, "%s must %s.", role, goal);
    } else if (strcmp(kind, "cast") == 0) {
        snprintf(buf, sizeof buf, "%s %s and %s %s star in this %s %s about %s.",
                 mq_sim_first_names[mq_rng_below(r, MQ_SIM_N_NAMES)],
                 mq_sim_last_names[mq_rng_below(r, MQ_SIM_N_NAMES)],
                 mq_sim_first_names[mq_rng_below(r, MQ_SIM_N_NAMES)],
                 mq_sim_last_names[mq_rng_below(r, MQ_SIM_N_NAMES)], mood, th->query, role);
    } else {
        char m[32];
        snprintf(m, sizeof m, "%s", mood);
        capitalize(m);
        const char *other = PICK(th, moods, r);
        for (int i = 0; i < 3 && strcmp(other, mood) == 0; i++)
            other = th->moods[i];
        snprintf(buf, sizeof buf, "%s and %s: %s sets out to %s.", m, other, role, goal);
    }
    return mq_arena_strdup(&w->arena, buf);
}

static int maturity_for(const sim_theme *th, mq_rng *r) {
    double u = mq_rng_unif(r);
    switch (th->audience) {
    case MQ_AUD_KIDS:
        return u < 0.6 ? 0 : 7;
    case MQ_AUD_FAMILY:
        return u < 0.35 ? 0 : 7;
    default:
        if (th->style == 4 || strcmp(th->name, "war-epic") == 0 ||
            strcmp(th->name, "true-crime") == 0)
            return u < 0.5 ? 16 : 18;
        return u < 0.4 ? 13 : u < 0.75 ? 16 : 18;
    }
}

static void make_title(mq_world *w, uint32_t t, mq_rng *r, mq_strmap *seen) {
    const int K = mq_sim_n_themes_c;
    sim_title *st = &w->tt[t];
    mq_title *ct = &w->titles[t];
    mq_arena *a = &w->arena;
    bool allowed[MQ_SIM_MAX_THEMES] = {0};

    /* Themes: a dominant one, and up to two compatible secondaries. */
    for (int k = 0; k < K; k++)
        allowed[k] = true;
    int k0 = draw_theme(r, allowed);
    const sim_theme *th = &mq_sim_themes[k0];
    double u = mq_rng_unif(r);
    int n = u < 0.4 ? 1 : u < 0.8 ? 2 : 3;
    for (int k = 0; k < K; k++)
        allowed[k] =
            k != k0 && (th->audience == MQ_AUD_GENERAL ? mq_sim_themes[k].audience == MQ_AUD_GENERAL
                                                       : mq_sim_themes[k].family_ok);
    st->theme[0] = (uint8_t)k0;
    double wt[3] = {mq_rng_gamma(r, 4.0), 0, 0}, sum = wt[0];
    st->n_themes = 1;
    for (int i = 1; i < n && any_allowed(allowed); i++) {
        int k = draw_theme(r, allowed);
        allowed[k] = false;
        st->theme[i] = (uint8_t)k;
        wt[i] = mq_rng_gamma(r, 1.5);
        if (wt[i] > wt[0]) /* the dominant theme keeps the largest weight */
            wt[i] = wt[0] * mq_rng_unif(r);
        sum += wt[i];
        st->n_themes++;
    }
    for (int i = 0; i < st->n_themes; i++)
        st->weight[i] = (float)(wt[i] / sum);
    const sim_theme *th2 = &mq_sim_themes[st->theme[st->n_themes > 1 ? 1 : 0]];

    /* Popularity: log-normal; standardized log popularity is the draw itself. */
    double z = mq_rng_normal(r);
    st->log_pop = (float)z;
    st->pop = (float)exp(w->p.pop_sigma * z);

    /* Kind, length, maturity. */
    ct->kind = mq_rng_unif(r) < th->series_share ? MQ_KIND_SERIES : MQ_KIND_MOVIE;
    if (ct->kind == MQ_KIND_SERIES) {
        ct->runtime_min =
            th->ep_min + (int)mq_rng_below(r, (uint32_t)(th->ep_max - th->ep_min + 1));
        st->n_episodes = (uint16_t)(6 + (int)mq_rng_exp(r, 1.0 / 10));
        if (st->n_episodes > 120)
            st->n_episodes = 120;
    } else {
        ct->runtime_min =
            th->movie_min + (int)mq_rng_below(r, (uint32_t)(th->movie_max - th->movie_min + 1));
        st->n_episodes = 1;
    }
    st->dur_s = ct->runtime_min * 60;
    ct->maturity = maturity_for(th, r);
    st->family = ct->maturity <= 7;
    st->is_short = ct->runtime_min <= 60;

    /* Year and date added: some titles arrive during the window ("new"). */
    bool is_new = mq_rng_unif(r) < w->p.new_title_share;
    int64_t span = w->end_ms - w->start_ms;
    if (is_new) {
        ct->added_ms = w->start_ms + (int64_t)(mq_rng_unif(r) * (double)(span - DAY_MS));
        ct->year = mq_rng_unif(r) < 0.7 ? 2026 : 2025;
    } else {
        int age = (int)mq_rng_exp(r, 1.0 / 9);
        ct->year = 2026 - (age > 76 ? 76 : age);
        int64_t lo = jan1_ms(ct->year + (ct->year < 2026 ? 1 : 0));
        if (lo < w->start_ms - 6 * 365 * DAY_MS)
            lo = w->start_ms - 6 * 365 * DAY_MS;
        int64_t hi = w->start_ms - DAY_MS;
        if (lo > hi)
            lo = hi - DAY_MS;
        ct->added_ms = lo + (int64_t)(mq_rng_unif(r) * (double)(hi - lo));
    }
    ct->added_ms -= ct->added_ms % 1000;

    /* Flavour: tone and pace lean the dominant theme's way, era follows the year,
     * depth is free. Strong positions show in the tags, so content models can see
     * them. */
    st->flavour[0] = (float)(0.8 * mq_sim_theme_tone[k0] + 0.8 * mq_rng_normal(r));
    st->flavour[1] = (float)(0.8 * mq_sim_theme_pace[k0] + 0.8 * mq_rng_normal(r));
    st->flavour[2] = (float)((ct->year - 2017) / 9.0 + 0.3 * mq_rng_normal(r));
    st->flavour[3] = (float)mq_rng_normal(r);

    /* Name, ids, genres, tags. */
    char id[32];
    snprintf(id, sizeof id, "t%05u", t + 1);
    ct->ext_id = mq_arena_strdup(a, id);
    const char *noun;
    ct->name = make_name(w, th, th2, r, seen, &noun);
    st->query_word = lower_dup(a, noun);
    const char *g[9], *tg[12];
    uint32_t ng = 0, ntg = 0;
    for (int i = 0; i < st->n_themes; i++) {
        const sim_theme *ti = &mq_sim_themes[st->theme[i]];
        for (int j = 0; j < 3 && ti->genres[j]; j++)
            g[ng++] = ti->genres[j];
        if (i == 0)
            for (int j = 0; j < 3; j++)
                tg[ntg++] = ti->tags[j];
        else
            tg[ntg++] = ti->tags[0];
    }
    tg[ntg++] = PICK(th, moods, r);
    if (st->flavour[0] > 1.2 || st->flavour[0] < -1.2)
        tg[ntg++] = st->flavour[0] > 0 ? "dark" : "light-hearted";
    if (st->flavour[1] > 1.2 || st->flavour[1] < -1.2)
        tg[ntg++] = st->flavour[1] > 0 ? "fast-paced" : "slow-burn";
    if (st->flavour[3] > 1.2 || st->flavour[3] < -1.2)
        tg[ntg++] = st->flavour[3] > 0 ? "cerebral" : "easy-watching";
    ct->genres = strlist_from(a, g, ng);
    ct->tags = strlist_from(a, tg, ntg);

    /* Artwork: [0] is the editorial default in the theme's usual style; the others
     * take the remaining styles in random order (a 9th repeats one). */
    st->n_art = (uint8_t)(3 + mq_rng_below(r, 7));
    int order[MQ_SIM_N_STYLES], m = 0;
    for (int s = 0; s < MQ_SIM_N_STYLES; s++)
        if (s != th->style)
            order[m++] = s;
    for (int i = m - 1; i > 0; i--) {
        int j = (int)mq_rng_below(r, (uint32_t)(i + 1)), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    ct->n_artwork = st->n_art;
    ct->artwork = mq_arena_alloc(a, st->n_art * sizeof(mq_asset));
    for (int i = 0; i < st->n_art; i++) {
        int s = i == 0      ? th->style
                : i - 1 < m ? order[i - 1]
                            : (int)mq_rng_below(r, MQ_SIM_N_STYLES);
        st->style[i] = (uint8_t)s;
        const sim_theme *tm = mq_rng_unif(r) < 0.8 ? th : th2;
        const char *tags[3] = {mq_sim_style_name(s),
                               mq_sim_colours[mq_rng_below(r, MQ_SIM_N_COLOURS)],
                               PICK(tm, motifs, r)};
        snprintf(id, sizeof id, "t%05u-a%d", t + 1, i);
        ct->artwork[i] = (mq_asset){mq_arena_strdup(a, id), NULL, strlist_from(a, tags, 3)};
    }

    /* Synopses: a plot one first, then cast and mood ones in random order. */
    st->n_syn = (uint8_t)(2 + mq_rng_below(r, 2));
    const char *kinds[3] = {"plot", "cast", "mood"};
    if (mq_rng_below(r, 2)) {
        kinds[1] = "mood";
        kinds[2] = "cast";
    }
    ct->n_synopses = st->n_syn;
    ct->synopses = mq_arena_alloc(a, st->n_syn * sizeof(mq_asset));
    for (int i = 0; i < st->n_syn; i++) {
        const char *mood;
        char *text = make_synopsis(w, th, kinds[i], r, &mood);
        const char *tags[2] = {kinds[i], mood};
        snprintf(id, sizeof id, "t%05u-s%d", t + 1, i);
        ct->synopses[i] = (mq_asset){mq_arena_strdup(a, id), text, strlist_from(a, tags, 2)};
    }

    /* Labels: candidate evidence for the page ("New" only for titles added in the
     * window). */
    const char *labels[4];
    uint32_t nl = 0;
    if (is_new)
        labels[nl++] = "New";
    if (mq_rng_unif(r) < 0.06)
        labels[nl++] = "Award-winning";
    if (mq_rng_unif(r) < 0.08)
        labels[nl++] = "Critically acclaimed";
    if ((strcmp(th->name, "true-crime") == 0 || strcmp(th->name, "war-epic") == 0) &&
        mq_rng_unif(r) < 0.3)
        labels[nl++] = "Based on a true story";
    ct->labels = strlist_from(a, labels, nl);
}

/* --------------------------------------------------------------- profiles ---- */

static void add_peak(float *hw, double centre, double sd, double weight) {
    for (int h = 0; h < 24; h++) {
        double d = fabs(h + 0.5 - centre);
        if (d > 12)
            d = 24 - d;
        hw[h] += (float)(weight * exp(-0.5 * d * d / (sd * sd)));
    }
}

static void make_profile(mq_world *w, uint32_t p, mq_rng *r) {
    const int K = mq_sim_n_themes_c;
    sim_profile *sp = &w->pp[p];
    mq_profile *cp = &w->profiles[p];
    bool allowed[MQ_SIM_MAX_THEMES] = {0};
    int64_t span = w->end_ms - w->start_ms;

    sp->kids = mq_rng_unif(r) < w->p.kids_share;
    double cw[MQ_SIM_N_COUNTRIES];
    for (int i = 0; i < MQ_SIM_N_COUNTRIES; i++)
        cw[i] = mq_sim_countries[i].share;
    sp->country = (uint8_t)mq_rng_categorical(r, cw, MQ_SIM_N_COUNTRIES);
    sp->tz_offset_min = (int16_t)mq_sim_countries[sp->country].tz_offset_min;

    /* Taste: 1-3 primary themes (kids: family and kids themes), plus background. */
    for (int k = 0; k < K; k++)
        allowed[k] = !sp->kids || mq_sim_themes[k].audience != MQ_AUD_GENERAL;
    double u = mq_rng_unif(r);
    int n = u < 0.2 ? 1 : u < 0.65 ? 2 : 3;
    double prim[MQ_SIM_MAX_THEMES] = {0}, psum = 0, bg[MQ_SIM_MAX_THEMES], bsum = 0;
    for (int i = 0; i < n && any_allowed(allowed); i++) {
        int k = draw_theme(r, allowed);
        allowed[k] = false;
        prim[k] = mq_rng_gamma(r, 2.0);
        psum += prim[k];
    }
    for (int k = 0; k < K; k++) {
        bg[k] = mq_rng_gamma(r, 0.5);
        bsum += bg[k];
    }
    double bgm = w->p.taste_background;
    sp->taste_max = 0;
    for (int k = 0; k < K; k++) {
        sp->taste[k] = (float)((1 - bgm) * prim[k] / psum + bgm * bg[k] / bsum);
        if (sp->taste[k] > sp->taste_max) {
            sp->taste_max = sp->taste[k];
            sp->top_theme = (uint8_t)k;
        }
    }
    /* Drift: toward a theme that is not already a primary one. */
    if (!any_allowed(allowed))
        for (int k = 0; k < K; k++)
            allowed[k] = k != sp->top_theme;
    sp->drift_theme = (uint8_t)draw_theme(r, allowed);

    /* Flavour preferences: partly those of the top theme's titles. */
    sp->flavour[0] = (float)(0.5 * mq_sim_theme_tone[sp->top_theme] + 0.85 * mq_rng_normal(r));
    sp->flavour[1] = (float)(0.5 * mq_sim_theme_pace[sp->top_theme] + 0.85 * mq_rng_normal(r));
    sp->flavour[2] = (float)mq_rng_normal(r);
    sp->flavour[3] = (float)mq_rng_normal(r);

    /* Artwork: one preferred style (often the top theme's usual style, so it can be
     * predicted from what the profile watches), and a small response to the rest. */
    sp->pref_style =
        (uint8_t)(mq_rng_unif(r) < w->p.art_taste_link ? mq_sim_themes[sp->top_theme].style
                                                       : (int)mq_rng_below(r, MQ_SIM_N_STYLES));
    for (int s = 0; s < MQ_SIM_N_STYLES; s++)
        sp->style_pref[s] = (float)mq_rng_normal(r);
    sp->style_pref[sp->pref_style] = 0;

    /* Devices: an archetype household, perturbed. */
    static const double archetypes[5][4] = {
        {0.70, 0.15, 0.05, 0.10}, /* living-room TV */
        {0.15, 0.65, 0.10, 0.10}, /* mobile */
        {0.40, 0.30, 0.10, 0.20}, /* mixed */
        {0.20, 0.20, 0.10, 0.50}, /* desktop */
        {0.60, 0.05, 0.35, 0.00}, /* kids */
    };
    const double *arch = archetypes[sp->kids ? 4 : mq_rng_below(r, 4)];
    double dsum = 0, d[4];
    for (int i = 0; i < 4; i++) {
        d[i] = arch[i] > 0 ? mq_rng_gamma(r, 20 * arch[i]) : 0;
        dsum += d[i];
    }
    for (int i = 0; i < 4; i++)
        sp->device_p[i] = (float)(d[i] / dsum);

    /* Active hours: an evening peak and a second one; kids: mornings and after
     * school, and much more at weekends. */
    memset(sp->hour_w, 0, sizeof sp->hour_w);
    if (sp->kids) {
        add_peak(sp->hour_w, 8.5 + mq_rng_normal(r) * 0.5, 1.2, 0.5);
        add_peak(sp->hour_w, 16.5 + mq_rng_normal(r) * 0.7, 1.3, 0.5);
        sp->weekend = (float)(1.8 + 0.8 * mq_rng_unif(r));
    } else {
        static const double second[4] = {7.5, 12.5, 17.5, 23.5};
        double we = 0.6 + 0.25 * mq_rng_unif(r);
        add_peak(sp->hour_w, 20.5 + mq_rng_normal(r) * 1.0, 1.5, we);
        add_peak(sp->hour_w, second[mq_rng_below(r, 4)] + mq_rng_normal(r) * 0.5, 1.0, 1 - we);
        sp->weekend = (float)(1.0 + 0.6 * mq_rng_unif(r));
    }
    for (int h = 0; h < 24; h++)
        sp->hour_w[h] += 0.01f;

    double sig = w->p.activity_sigma;
    sp->activity = (float)exp(sig * mq_rng_normal(r) - 0.5 * sig * sig);

    char id[32];
    snprintf(id, sizeof id, "p%05u", p + 1);
    cp->ext_id = mq_arena_strdup(&w->arena, id);
    snprintf(cp->country, sizeof cp->country, "%s", mq_sim_countries[sp->country].code);
    cp->maturity_limit = sp->kids ? 7 : 18;
    if (mq_rng_unif(r) < w->p.new_profile_share)
        cp->created_ms = w->start_ms + (int64_t)(mq_rng_unif(r) * 0.8 * (double)span);
    else
        cp->created_ms = w->start_ms - (int64_t)(mq_rng_unif(r) * 3 * 365 * (double)DAY_MS);
    cp->created_ms -= cp->created_ms % 1000;
}

/* ------------------------------------------------------------------ pools ---- */

static int cmp_added(const void *a, const void *b, void *ud) {
    const mq_world *w = ud;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    int64_t ax = w->titles[x].added_ms, ay = w->titles[y].added_ms;
    return ax < ay ? -1 : ax > ay ? 1 : (x > y) - (x < y);
}

static void build_pools(mq_world *w) {
    uint32_t n = w->n_titles;
    for (uint32_t t = 0; t < n; t++) {
        const sim_title *st = &w->tt[t];
        for (int pl = 0; pl < 2; pl++) {
            if (pl == POOL_KIDS && !st->family)
                continue;
            pool_add(&w->popular[pl], t, st->pop, n, true);
            pool_add(&w->uniform[pl], t, 1, n, false);
            for (int i = 0; i < st->n_themes; i++)
                if (st->weight[i] >= 0.2f)
                    pool_add(&w->theme[pl][st->theme[i]], t, sqrt(st->pop) * st->weight[i], n,
                             true);
        }
    }
    w->recent = mq_malloc(n * sizeof *w->recent);
    for (uint32_t t = 0; t < n; t++)
        if (w->titles[t].added_ms >= w->start_ms - RECENT_DAYS * DAY_MS)
            w->recent[w->n_recent++] = t;
    qsort_r(w->recent, w->n_recent, sizeof *w->recent, cmp_added, w);
}

/* ------------------------------------------------------------------ world ---- */

int mq_world_generate(const mq_world_params *p, mq_world **out, mq_err *err) {
    *out = NULL;
    int rc = mq_world_params_check(p, err);
    if (rc)
        return rc;
    mq_world *w = mq_calloc(1, sizeof *w);
    w->p = *p;
    w->end_ms = MQ_SIM_WINDOW_END_MS;
    w->start_ms = w->end_ms - (int64_t)p->days * DAY_MS;
    w->n_titles = p->n_titles;
    w->n_profiles = p->n_profiles;
    mq_arena_init(&w->arena, 1 << 20, 0);
    w->titles = mq_calloc(w->n_titles, sizeof *w->titles);
    w->tt = mq_calloc(w->n_titles, sizeof *w->tt);
    w->profiles = mq_calloc(w->n_profiles, sizeof *w->profiles);
    w->pp = mq_calloc(w->n_profiles, sizeof *w->pp);

    mq_rng r;
    mq_rng_seed(&r, p->seed, RNG_TITLES);
    mq_strmap *seen = mq_strmap_create();
    for (uint32_t t = 0; t < w->n_titles; t++)
        make_title(w, t, &r, seen);
    mq_strmap_destroy(seen);
    double total = 0;
    for (uint32_t t = 0; t < w->n_titles; t++)
        total += w->tt[t].pop;
    for (uint32_t t = 0; t < w->n_titles; t++)
        w->tt[t].pop = (float)(w->tt[t].pop / total);

    mq_rng_seed(&r, p->seed, RNG_PROFILES);
    for (uint32_t q = 0; q < w->n_profiles; q++)
        make_profile(w, q, &r);
    build_pools(w);
    *out = w;
    return MQ_OK;
}

void mq_world_destroy(mq_world *w) {
    if (!w)
        return;
    for (int pl = 0; pl < 2; pl++) {
        pool_free(&w->popular[pl]);
        pool_free(&w->uniform[pl]);
        for (int k = 0; k < MQ_SIM_MAX_THEMES; k++)
            pool_free(&w->theme[pl][k]);
    }
    mq_free(w->recent);
    mq_free(w->titles);
    mq_free(w->tt);
    mq_free(w->profiles);
    mq_free(w->pp);
    mq_arena_free(&w->arena);
    mq_free(w);
}

/* -------------------------------------------------------------- accessors ---- */

const mq_world_params *mq_world_params_get(const mq_world *w) {
    return &w->p;
}

uint32_t mq_world_n_titles(const mq_world *w) {
    return w->n_titles;
}

uint32_t mq_world_n_profiles(const mq_world *w) {
    return w->n_profiles;
}

int64_t mq_world_start_ms(const mq_world *w) {
    return w->start_ms;
}

int64_t mq_world_end_ms(const mq_world *w) {
    return w->end_ms;
}

const mq_title *mq_world_title(const mq_world *w, uint32_t t) {
    return t < w->n_titles ? &w->titles[t] : NULL;
}

const mq_profile *mq_world_profile(const mq_world *w, uint32_t p) {
    return p < w->n_profiles ? &w->profiles[p] : NULL;
}

/* "t00042" -> 41: the letter, then the number written exactly as generated. */
static uint32_t parse_index(const char *ext, char letter, uint32_t n) {
    if (!ext || ext[0] != letter)
        return MQ_SIM_NONE;
    int64_t v;
    if (!mq_parse_i64(ext + 1, &v) || v < 1 || v > (int64_t)n)
        return MQ_SIM_NONE;
    char buf[32];
    snprintf(buf, sizeof buf, "%c%05u", letter, (unsigned)v);
    return strcmp(buf, ext) == 0 ? (uint32_t)(v - 1) : MQ_SIM_NONE;
}

uint32_t mq_world_title_index(const mq_world *w, const char *ext_id) {
    return parse_index(ext_id, 't', w->n_titles);
}

uint32_t mq_world_profile_index(const mq_world *w, const char *ext_id) {
    return parse_index(ext_id, 'p', w->n_profiles);
}

int mq_world_artwork_index(const mq_world *w, uint32_t t, const char *asset_id) {
    if (t >= w->n_titles || !asset_id)
        return -1;
    const mq_title *ct = &w->titles[t];
    for (uint32_t i = 0; i < ct->n_artwork; i++)
        if (strcmp(ct->artwork[i].id, asset_id) == 0)
            return (int)i;
    for (uint32_t i = 0; i < ct->n_synopses; i++)
        if (strcmp(ct->synopses[i].id, asset_id) == 0)
            return (int)i;
    return -1;
}

int mq_world_title_themes(const mq_world *w, uint32_t t, int themes[3], double weights[3]) {
    const sim_title *st = &w->tt[t];
    for (int i = 0; i < st->n_themes; i++) {
        themes[i] = st->theme[i];
        weights[i] = st->weight[i];
    }
    return st->n_themes;
}

double mq_world_title_theme_weight(const mq_world *w, uint32_t t, int k) {
    const sim_title *st = &w->tt[t];
    for (int i = 0; i < st->n_themes; i++)
        if (st->theme[i] == k)
            return st->weight[i];
    return 0;
}

double mq_world_title_popularity(const mq_world *w, uint32_t t) {
    return w->tt[t].pop;
}

double mq_world_title_log_pop(const mq_world *w, uint32_t t) {
    return w->tt[t].log_pop;
}

bool mq_world_title_family(const mq_world *w, uint32_t t) {
    return w->tt[t].family;
}

bool mq_world_title_short(const mq_world *w, uint32_t t) {
    return w->tt[t].is_short;
}

int mq_world_artwork_style(const mq_world *w, uint32_t t, int a) {
    return a >= 0 && a < w->tt[t].n_art ? w->tt[t].style[a] : -1;
}

void mq_world_title_flavour(const mq_world *w, uint32_t t, double *out) {
    for (int f = 0; f < MQ_SIM_N_FLAVOURS; f++)
        out[f] = w->tt[t].flavour[f];
}

void mq_world_profile_flavour(const mq_world *w, uint32_t p, double *out) {
    for (int f = 0; f < MQ_SIM_N_FLAVOURS; f++)
        out[f] = w->pp[p].flavour[f];
}

int mq_world_top_theme(const mq_world *w, uint32_t p) {
    return w->pp[p].top_theme;
}

int mq_world_preferred_style(const mq_world *w, uint32_t p) {
    return w->pp[p].pref_style;
}

int mq_world_tz_offset(const mq_world *w, uint32_t p) {
    return w->pp[p].tz_offset_min;
}

bool mq_world_profile_kids(const mq_world *w, uint32_t p) {
    return w->pp[p].kids;
}

int mq_world_from_store(mq_store *s, const char *who, mq_world **out, mq_err *err) {
    void *data = NULL;
    size_t len = 0;
    mq_err e2 = {0};
    int rc = mq_store_get_blob(s, MQ_SIM_TRUTH_BLOB, &data, &len, &e2);
    if (rc == MQ_ENOTFOUND)
        return mq_err_set(err, MQ_ENOTFOUND,
                          "the store holds no ground truth (blob \"" MQ_SIM_TRUTH_BLOB
                          "\"): %s needs a world made by `marquee synth`",
                          who);
    if (rc)
        return mq_err_set(err, rc, "%s", e2.msg);
    json_error_t je;
    json_t *root = json_loadb(data, len, 0, &je);
    mq_free(data);
    if (!root)
        return mq_err_set(err, MQ_ECORRUPT, MQ_SIM_TRUTH_BLOB ":%d:%d: %s", je.line, je.column,
                          je.text);
    mq_world_params p;
    mq_world_params_default(&p);
    rc = mq_world_params_from_json(&p, json_object_get(root, "params"), MQ_SIM_TRUTH_BLOB ".params",
                                   err);
    json_decref(root);
    return rc ? rc : mq_world_generate(&p, out, err);
}
