/* cmd_page.c: `marquee page --profile ID [--device tv]`: the profile's homepage,
 * assembled exactly as the server assembles it (src/page), from the store's
 * catalogue, the profile's live state rebuilt from its events, and the current
 * bundle (DATA_DIR/bundle.mqb; without one, pages come from the catalogue),
 * printed readably or as the API's JSON. */
#include "cli.h"
#include "page/page.h"
#include "store/store.h"

#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int apply_event(void *ud, const mq_event *e) {
    mq_state_apply(ud, e);
    return 0;
}

int mq_cmd_page(mq_cli *cli) {
    const char *profile = mq_cli_flag(cli, "profile");
    if (!profile)
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "expected --profile ID");
    mq_page_request rq = {0};
    rq.policy = -1;
    rq.device = MQ_DEVICE_TV;
    const char *dev = mq_cli_flag(cli, "device");
    if (dev) {
        int d = mq_device_parse(dev);
        if (d <= MQ_DEVICE_UNKNOWN)
            return mq_cli_fail(cli, MQ_EXIT_USAGE,
                               "--device: expected tv, phone, tablet or web, got \"%s\"", dev);
        rq.device = (mq_device)d;
    }
    const char *pol = mq_cli_flag(cli, "policy");
    if (pol && (rq.policy = mq_page_policy_parse(pol)) < 0)
        return mq_cli_fail(cli, MQ_EXIT_USAGE,
                           "--policy: expected full, no-ranker, template or popular, got \"%s\"",
                           pol);
    int64_t rows, items;
    if (!mq_cli_flag_i64(cli, "rows", 1, MQ_PAGE_MAX_ROWS, 0, &rows) ||
        !mq_cli_flag_i64(cli, "items", 1, MQ_PAGE_MAX_ITEMS, 0, &items))
        return MQ_EXIT_USAGE;
    rq.rows = (int)rows;
    rq.items = (int)items;
    bool json = mq_cli_has(cli, "json");

    mq_err err = {0};
    mq_page_params pp;
    if (mq_page_params_from_config(&pp, cli->config, &err))
        return mq_cli_fail(cli, MQ_EXIT_USAGE, "%s", err.msg);
    pp.cache_pages = 0; /* one page: nothing to keep */
    mq_store *s = NULL;
    mq_catalog *cat = NULL;
    mq_page_service *svc = NULL;
    mq_state *st = NULL;
    mq_bundle *b = NULL;
    mq_arena a;
    mq_arena_init(&a, 1 << 20, 0);
    mq_page page = {0};
    bool built = false;
    int rc = MQ_EXIT_FAIL;
    if (mq_store_open(mq_cli_store(cli), MQ_STORE_READONLY, &s, &err) ||
        mq_store_load_catalog(s, &cat, &err))
        goto out;
    mq_profile prof;
    if (mq_store_get_profile(s, profile, &prof, &a, &err)) {
        if (err.code == MQ_ENOTFOUND)
            mq_err_set(&err, MQ_ENOTFOUND, "--profile: no profile \"%s\" in the store", profile);
        goto out;
    }
    if (mq_page_service_create(&pp, &svc, &err))
        goto out;
    int crc = mq_page_service_set_catalog(svc, cat, &err);
    cat = NULL; /* taken */
    if (crc)
        goto out;
    mq_semantics sem;
    mq_semantics_from_config(&sem, cli->config);
    st = mq_state_create(&sem);
    mq_event_filter f = MQ_EVENT_FILTER_ALL;
    f.profile_id = prof.id;
    if (mq_store_each_event(s, &f, apply_event, st, &err))
        goto out;
    mq_err berr = {0};
    if (mq_bundle_open_published(cli->data_dir, s, &b, &berr))
        fprintf(stderr, "marquee page: no bundle (%s): titles ordered by popularity\n", berr.msg);
    rq.profile_id = prof.id;
    rq.profile = profile;
    rq.maturity_limit = prof.maturity_limit;
    rq.now_ms = mq_now_ms();
    rq.state = st;
    rq.bundle = b;
    rq.bundle_version = 1;
    if (mq_page_build(svc, &rq, &a, &page, &err))
        goto out;
    built = true;
    if (json) {
        mq_buf out;
        mq_buf_init(&out, 0);
        mq_page_json(&page, &pp, &out);
        fwrite(out.data, 1, out.len, stdout);
        fputc('\n', stdout);
        mq_buf_free(&out);
    } else {
        struct winsize ws;
        int width = isatty(1) && ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 100;
        mq_page_print(&page, stdout, width, isatty(1));
    }
    rc = MQ_EXIT_OK;
out:
    if (built)
        mq_page_done(svc, &page);
    if (rc)
        mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
    mq_arena_free(&a);
    mq_bundle_destroy(b);
    mq_state_destroy(st);
    mq_page_service_destroy(svc);
    mq_catalog_destroy(cat);
    mq_store_close(s);
    return rc;
}
