/* test_page_api.c: the homepage end to end. MQ_TEST_LABEL: integration
 *
 * A small synthetic world (`marquee synth`), a bundle (`marquee train`), then the
 * real server on a free port: GET /v1/profiles/{id}/homepage answers a page with
 * ids, rows and items as docs/openapi.yaml says; `rows` and `cursor` page through
 * the same page; a thumbs down posted a moment earlier removes the title from the
 * next page; a play moves Continue Watching and a completion takes the movie out
 * of it; bad input is a 4xx. Also `marquee page` and the simulator: on a small
 * world with a fixed seed, the full page gets more sessions to a play within 90
 * simulated seconds than the fixed template. */
#include "helpers.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *dir;
static pid_t server_pid;
static int port;

/* The world: small enough to make and train in a few seconds. */
static void make_world(void) {
    dir = th_tmpdir();
    char *out = NULL, *err = NULL;
    int rc = th_run(&out, &err, "--data", dir, "synth", "--titles", "400", "--profiles", "300",
                    "--days", "60", NULL);
    cr_assert_eq(rc, 0, "synth: %s", err);
    free(out);
    free(err);
    rc = th_run(&out, &err, "--data", dir, "train", NULL);
    cr_assert_eq(rc, 0, "train: %s", err);
    free(out);
    free(err);
}

static void start_server(void) {
    char log[4096], line[256];
    snprintf(log, sizeof log, "%s/serve.log", dir);
    server_pid =
        th_serve(&port, line, sizeof line, log, "--data", dir, "serve", "--port", "0", NULL);
    cr_assert_geq(server_pid, 0);
    cr_assert(port, "server: \"%s\"", line);
}

static void setup(void) {
    make_world();
    start_server();
}

static void teardown(void) {
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = 0;
    }
    if (dir) {
        th_rmrf(dir);
        free(dir);
        dir = NULL;
    }
}

TestSuite(page_api, .init = setup, .fini = teardown, .timeout = 300);

/* ------------------------------------------------------------------- HTTP ---- */

static th_resp http(const char *method, const char *path, const char *body) {
    th_resp r = th_http(port, method, path, "Content-Type: application/json\r\n", body,
                        body ? strlen(body) : 0);
    cr_assert_neq(r.status, 0, "%s %s: no answer from the server", method, path);
    return r;
}

static json_t *get_json(const char *path, int expect) {
    th_resp r = http("GET", path, NULL);
    cr_assert_eq(r.status, expect, "GET %s: %d %s", path, r.status, r.body);
    json_error_t je;
    json_t *j = json_loads(r.body, 0, &je);
    cr_assert_not_null(j, "GET %s: not JSON: %s", path, je.text);
    th_resp_free(&r);
    return j;
}

static void post_events(const char *events) {
    th_resp r = http("POST", "/v1/events", events);
    cr_assert_eq(r.status, 200, "POST /v1/events: %d %s", r.status, r.body);
    cr_assert(strstr(r.body, "\"rejected\":[]"), "%s", r.body);
    th_resp_free(&r);
}

static bool page_has(json_t *page, const char *title, const char **row_type) {
    size_t i, k;
    json_t *row, *item;
    json_array_foreach(json_object_get(page, "rows"), i, row) {
        json_array_foreach(json_object_get(row, "items"), k, item) {
            if (strcmp(json_string_value(json_object_get(item, "title")), title) == 0) {
                if (row_type)
                    *row_type = json_string_value(json_object_get(row, "type"));
                return true;
            }
        }
    }
    return false;
}

static json_t *row_of_type(json_t *page, const char *type) {
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(page, "rows"), i, row) {
        if (strcmp(json_string_value(json_object_get(row, "type")), type) == 0)
            return row;
    }
    return NULL;
}

/* ------------------------------------------------------------------ tests ---- */

Test(page_api, homepage_rows_items_and_cursor) {
    json_t *p = get_json("/v1/profiles/p00001/homepage?device=tv&rows=40&items=25", 200);
    const char *page_id = json_string_value(json_object_get(p, "page_id"));
    cr_assert(page_id && *page_id);
    json_t *rows = json_object_get(p, "rows");
    cr_assert_gt(json_array_size(rows), 5);
    size_t i, k;
    json_t *row, *item;
    json_array_foreach(rows, i, row) {
        cr_assert(json_is_string(json_object_get(row, "row_id")));
        cr_assert(json_is_string(json_object_get(row, "type")));
        cr_assert(json_is_string(json_object_get(row, "caption")));
        cr_assert(json_is_string(json_object_get(row, "evidence")));
        json_t *items = json_object_get(row, "items");
        cr_assert_gt(json_array_size(items), 0);
        cr_assert_leq(json_array_size(items), 25);
        json_array_foreach(items, k, item) {
            cr_assert(json_is_string(json_object_get(item, "title")));
            cr_assert(json_is_string(json_object_get(item, "evidence")));
            cr_assert(json_is_object(json_object_get(item, "artwork")));
            cr_assert(json_is_array(json_object_get(item, "labels")));
            json_t *m = json_object_get(item, "match");
            cr_assert(json_is_null(m) || (json_number_value(m) >= 0 && json_number_value(m) <= 1));
        }
    }
    /* Another request, another page id. */
    json_t *p2 = get_json("/v1/profiles/p00001/homepage", 200);
    cr_assert_str_neq(json_string_value(json_object_get(p2, "page_id")), page_id);
    json_decref(p2);

    /* Two rows at a time through the cursor: the same page's next rows. */
    json_t *a = get_json("/v1/profiles/p00002/homepage?rows=2", 200);
    cr_assert_eq(json_array_size(json_object_get(a, "rows")), 2);
    const char *cur = json_string_value(json_object_get(a, "next_cursor"));
    cr_assert_not_null(cur, "a page with more rows has a next_cursor");
    char path[512];
    snprintf(path, sizeof path, "/v1/profiles/p00002/homepage?rows=2&cursor=%s", cur);
    json_t *b = get_json(path, 200);
    cr_assert_str_eq(json_string_value(json_object_get(b, "page_id")),
                     json_string_value(json_object_get(a, "page_id")));
    cr_assert_eq(json_integer_value(json_object_get(b, "first_row")), 2);
    json_t *b0 = json_array_get(json_object_get(b, "rows"), 0);
    cr_assert_eq(json_integer_value(json_object_get(b0, "position")), 2);
    json_array_foreach(json_object_get(a, "rows"), i, row)
        cr_assert_str_neq(json_string_value(json_object_get(row, "row_id")),
                          json_string_value(json_object_get(b0, "row_id")));
    json_decref(b);
    /* The cursor of another profile's page, and a made-up one, are refused. */
    snprintf(path, sizeof path, "/v1/profiles/p00003/homepage?cursor=%s", cur);
    json_decref(get_json(path, 400));
    json_decref(a); /* cur points into a */
    json_decref(get_json("/v1/profiles/p00003/homepage?cursor=nonsense", 400));
    json_decref(get_json("/v1/profiles/p00001/homepage?device=fridge", 400));
    json_decref(get_json("/v1/profiles/p00001/homepage?rows=0", 400));
    json_decref(get_json("/v1/profiles/nobody/homepage", 404));
    json_decref(p);
}

Test(page_api, a_thumbs_down_removes_the_title_at_once) {
    json_t *p = get_json("/v1/profiles/p00004/homepage", 200);
    json_t *row0 = json_array_get(json_object_get(p, "rows"), 0);
    const char *victim = json_string_value(
        json_object_get(json_array_get(json_object_get(row0, "items"), 0), "title"));
    char title[64];
    snprintf(title, sizeof title, "%s", victim);
    json_decref(p);
    char body[256];
    snprintf(body, sizeof body, "{\"title\":\"%s\",\"value\":\"down\"}", title);
    th_resp r = http("POST", "/v1/profiles/p00004/thumbs", body);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_resp_free(&r);
    p = get_json("/v1/profiles/p00004/homepage", 200);
    cr_assert_not(page_has(p, title, NULL), "%s is still on the page after a thumbs down", title);
    json_decref(p);
}

static const char *first_movie_not_started(json_t *page, char *out, size_t n) {
    /* Any title on the page that is a movie (the synthetic world's series have
     * episodes; a movie's completion is final). */
    size_t i, k;
    json_t *row, *item;
    json_array_foreach(json_object_get(page, "rows"), i, row) {
        if (strcmp(json_string_value(json_object_get(row, "type")), "continue-watching") == 0)
            continue;
        json_array_foreach(json_object_get(row, "items"), k, item) {
            const char *t = json_string_value(json_object_get(item, "title"));
            char path[128];
            snprintf(path, sizeof path, "/v1/titles/%s", t);
            json_t *tj = get_json(path, 200);
            bool movie = strcmp(json_string_value(json_object_get(tj, "kind")), "movie") == 0;
            json_decref(tj);
            if (movie) {
                snprintf(out, n, "%s", t);
                return out;
            }
        }
    }
    return NULL;
}

Test(page_api, plays_move_continue_watching) {
    json_t *p = get_json("/v1/profiles/p00005/homepage", 200);
    char movie[64];
    cr_assert_not_null(first_movie_not_started(p, movie, sizeof movie));
    json_decref(p);
    /* Half of it, then stop: it appears in Continue Watching, first. */
    char ev[2048];
    long long now = (long long)time(NULL) * 1000;
    snprintf(ev, sizeof ev,
             "[{\"event_id\":\"pa-1\",\"profile\":\"p00005\",\"type\":\"play_start\",\"ts\":%lld,"
             "\"title\":\"%s\",\"position_s\":0,\"context\":{\"device\":\"tv\"}},"
             "{\"event_id\":\"pa-2\",\"profile\":\"p00005\",\"type\":\"play_stop\",\"ts\":%lld,"
             "\"title\":\"%s\",\"position_s\":3000,\"duration_s\":6000,\"context\":{\"device\":"
             "\"tv\"}}]",
             now - 4000, movie, now - 3000, movie);
    post_events(ev);
    p = get_json("/v1/profiles/p00005/homepage", 200);
    json_t *cw = row_of_type(p, "continue-watching");
    cr_assert_not_null(cw, "no Continue Watching row after a half-watched movie");
    json_t *first = json_array_get(json_object_get(cw, "items"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(first, "title")), movie);
    cr_assert(strstr(json_string_value(json_object_get(first, "evidence")), "min left"));
    json_decref(p);
    /* It completes: it leaves Continue Watching. */
    snprintf(ev, sizeof ev,
             "[{\"event_id\":\"pa-3\",\"profile\":\"p00005\",\"type\":\"complete\",\"ts\":%lld,"
             "\"title\":\"%s\",\"duration_s\":6000,\"context\":{\"device\":\"tv\"}}]",
             now - 1000, movie);
    post_events(ev);
    p = get_json("/v1/profiles/p00005/homepage", 200);
    const char *type = NULL;
    cw = row_of_type(p, "continue-watching");
    if (cw) {
        size_t k;
        json_t *item;
        json_array_foreach(json_object_get(cw, "items"), k, item)
            cr_assert_str_neq(json_string_value(json_object_get(item, "title")), movie);
    }
    if (page_has(p, movie, &type))
        cr_assert_str_eq(type, "watch-again", "a finished movie only in Watch It Again");
    json_decref(p);
}

Test(page_api, cli_page) {
    char *out = NULL, *err = NULL;
    int rc =
        th_run(&out, &err, "--data", dir, "page", "--profile", "p00001", "--device", "phone", NULL);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert(strstr(out, "homepage"), "%s", out);
    cr_assert(strstr(out, "phone"), "%s", out);
    free(out);
    free(err);
    rc = th_run(&out, &err, "--data", dir, "page", "--profile", "p00001", "--json", NULL);
    cr_assert_eq(rc, 0, "%s", err);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j);
    cr_assert_gt(json_array_size(json_object_get(j, "rows")), 0);
    json_decref(j);
    free(out);
    free(err);
    rc = th_run(&out, &err, "--data", dir, "page", "--profile", "nobody", NULL);
    cr_assert_eq(rc, 1);
    free(out);
    free(err);
}

/* The simulator: deterministic, and the full page beats the fixed template on
 * sessions that play within 90 simulated seconds (the requirement; see
 * docs/page.md for what the simulator measures). */
Test(page_api, simulator_full_beats_template) {
    char *out = NULL, *err = NULL;
    int rc;
    json_t *j;
    char svg[4096];
    snprintf(svg, sizeof svg, "%s/ttp.svg", dir);
    rc = th_run(&out, &err, "--data", dir, "simulate", "--sessions", "6000", "--seed", "1",
                "--policies", "template,full", "--json", "--svg", svg, NULL);
    cr_assert_eq(rc, 0, "%s", err);
    j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "%s", out);
    json_t *pols = json_object_get(j, "policies");
    cr_assert_eq(json_array_size(pols), 2);
    double share[2];
    for (size_t i = 0; i < 2; i++) {
        json_t *x = json_array_get(pols, i);
        share[i] = json_number_value(json_object_get(x, "share_played_within_target"));
        cr_assert_gt(json_number_value(json_object_get(x, "take_rate")), 0);
        cr_assert_gt(json_number_value(json_object_get(x, "ecs")), 1);
    }
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(pols, 0), "policy")),
                     "template");
    cr_assert_gt(share[1], share[0], "full %.4f vs template %.4f", share[1], share[0]);
    char *again = NULL, *e2 = NULL;
    rc = th_run(&again, &e2, "--data", dir, "simulate", "--sessions", "6000", "--seed", "1",
                "--policies", "template,full", "--json", NULL);
    cr_assert_eq(rc, 0);
    json_t *j2 = json_loads(again, 0, NULL);
    json_t *p0 = json_array_get(json_object_get(j2, "policies"), 1);
    cr_assert_eq(json_number_value(json_object_get(p0, "share_played_within_target")), share[1],
                 "the same seed gives the same result");
    json_decref(j2);
    free(again);
    free(e2);
    char *doc = th_read(svg, NULL);
    cr_assert(doc && strstr(doc, "<svg") && strstr(doc, "polyline"));
    free(doc);
    json_decref(j);
    free(out);
    free(err);
}

/* The asset bandits serve: once caught up with the log they choose the artwork
 * (with its propensity, below 1 where a title has several variants), the title
 * page shows the same choice on every visit, every event teaches them, and a
 * graceful stop leaves a checkpoint the next start resumes from. */
Test(page_api, bandits_choose_artwork_learn_and_checkpoint) {
    json_t *d = NULL;
    for (int i = 0; i < 600; i++) { /* up to 60 s to catch up */
        d = get_json("/v1/dashboard", 200);
        if (json_is_object(json_object_get(d, "bandits")))
            break;
        json_decref(d);
        d = NULL;
        usleep(100000);
    }
    cr_assert_not_null(d, "the bandits came online");
    json_t *band = json_object_get(d, "bandits");
    json_int_t events0 = json_integer_value(json_object_get(band, "events"));
    json_int_t imp0 = json_integer_value(json_object_get(band, "impressions"));
    cr_assert_gt(imp0, 100, "they learned from the world's logged impressions");
    json_t *art = json_array_get(json_object_get(band, "slots"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(art, "slot")), "artwork");
    cr_assert_gt(json_array_size(json_object_get(art, "arms")), 3, "one arm per artwork tag");
    json_decref(d);

    json_t *p = get_json("/v1/profiles/p00005/homepage", 200);
    size_t i, j, below = 0, items = 0;
    json_t *row, *it;
    char title[64] = "", artwork[64] = "";
    json_array_foreach(json_object_get(p, "rows"), i, row) {
        json_array_foreach(json_object_get(row, "items"), j, it) {
            json_t *a = json_object_get(it, "artwork");
            if (!json_is_object(a))
                continue;
            double pr = json_real_value(json_object_get(a, "propensity"));
            cr_assert(pr > 0 && pr <= 1, "a propensity is a probability: %g", pr);
            below += pr < 1;
            items++;
            const char *url = json_string_value(json_object_get(a, "url"));
            cr_assert(strncmp(url, "/v1/titles/", 11) == 0, "%s", url);
            if (!title[0]) {
                snprintf(title, sizeof title, "%s",
                         json_string_value(json_object_get(it, "title")));
                snprintf(artwork, sizeof artwork, "%s",
                         json_string_value(json_object_get(a, "id")));
            }
        }
    }
    json_decref(p);
    cr_assert_gt(items, 10);
    cr_assert_gt(below, 0, "the bandit explores: some choices have a propensity below 1");

    /* The title page: the bandit's artwork and synopsis, the same on each visit. */
    char path[256];
    snprintf(path, sizeof path, "/v1/profiles/p00005/titles/%s", title);
    json_t *t1 = get_json(path, 200), *t2 = get_json(path, 200);
    json_t *a1 = json_object_get(t1, "artwork"), *s1 = json_object_get(t1, "synopsis");
    cr_assert(json_is_object(a1) && json_is_object(s1), "artwork and synopsis are chosen");
    cr_assert(strncmp(json_string_value(json_object_get(a1, "id")), title, strlen(title)) == 0,
              "the artwork is one of the title's");
    cr_assert_str_eq(json_string_value(json_object_get(a1, "id")),
                     json_string_value(json_object_get(json_object_get(t2, "artwork"), "id")));
    cr_assert_not_null(json_string_value(json_object_get(s1, "text")));
    json_decref(t1);
    json_decref(t2);

    /* Every stored event reaches them, within moments (the learner follows the log). */
    char evs[1024];
    snprintf(evs, sizeof evs,
             "[{\"event_id\":\"bx1\",\"profile\":\"p00005\",\"type\":\"impression\","
             "\"ts\":%lld,\"title\":\"%s\",\"page_id\":\"pg\",\"row_id\":\"r\",\"row_pos\":0,"
             "\"col_pos\":0,\"artwork_id\":\"%s\",\"propensity\":0.5},"
             "{\"event_id\":\"bx2\",\"profile\":\"p00005\",\"type\":\"play_start\",\"ts\":%lld,"
             "\"title\":\"%s\",\"position_s\":0}]",
             (long long)mq_now_ms(), title, artwork, (long long)mq_now_ms() + 1000, title);
    post_events(evs);
    json_int_t events1 = 0, imp1 = 0;
    for (int k = 0; k < 100 && events1 < events0 + 2; k++) {
        if (k)
            usleep(50000);
        d = get_json("/v1/dashboard", 200);
        band = json_object_get(d, "bandits");
        events1 = json_integer_value(json_object_get(band, "events"));
        imp1 = json_integer_value(json_object_get(band, "impressions"));
        json_decref(d);
    }
    cr_assert_eq(events1, events0 + 2, "both events were learned from");
    cr_assert_eq(imp1, imp0 + 1);

    /* A graceful stop writes the checkpoint; the next start resumes from it. */
    kill(server_pid, SIGTERM);
    waitpid(server_pid, NULL, 0);
    server_pid = 0;
    start_server();
    char log[4096];
    snprintf(log, sizeof log, "%s/serve.log", dir);
    bool resumed = false;
    for (int k = 0; k < 600 && !resumed; k++) {
        char *text = th_read(log, NULL);
        resumed =
            text && strstr(text, "asset bandits online: thompson, 0 events applied after seq");
        free(text);
        if (!resumed)
            usleep(100000);
    }
    cr_assert(resumed, "the second start applied no event: it resumed from the checkpoint");
}
