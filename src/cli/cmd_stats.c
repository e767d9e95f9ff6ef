/* cmd_stats.c: `marquee stats`: what the store holds, as text or JSON. */
#include "cli.h"
#include "store/store.h"

int mq_cmd_stats(mq_cli *cli) {
    mq_err err = {0};
    mq_store *s;
    if (mq_store_open(mq_cli_store(cli), MQ_STORE_DEFAULT, &s, &err))
        return mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
    mq_store_stats st;
    int rc = mq_store_stats_get(s, &st, &err);
    char where[512];
    snprintf(where, sizeof where, "%s (%s)", mq_store_target(s), mq_store_backend(s));
    mq_store_close(s);
    if (rc)
        return mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
    char first[32] = "", last[32] = "";
    if (st.events) {
        mq_time_format_rfc3339(st.first_ts_ms, first, sizeof first);
        mq_time_format_rfc3339(st.last_ts_ms, last, sizeof last);
    }
    if (mq_cli_has(cli, "json")) {
        json_t *o = json_object(), *by = json_object();
        json_object_set_new(o, "titles", json_integer((json_int_t)st.titles));
        json_object_set_new(o, "profiles", json_integer((json_int_t)st.profiles));
        json_object_set_new(o, "events", json_integer((json_int_t)st.events));
        for (int t = 0; t < MQ_EV_COUNT; t++)
            json_object_set_new(by, mq_event_type_name((mq_event_type)t),
                                json_integer((json_int_t)st.by_type[t]));
        json_object_set_new(o, "events_by_type", by);
        json_object_set_new(o, "first_ts", st.events ? json_string(first) : json_null());
        json_object_set_new(o, "last_ts", st.events ? json_string(last) : json_null());
        json_dumpf(o, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(o);
        return MQ_EXIT_OK;
    }
    printf("store     %s\n", where);
    printf("titles    %llu\nprofiles  %llu\nevents    %llu\n", (unsigned long long)st.titles,
           (unsigned long long)st.profiles, (unsigned long long)st.events);
    for (int t = 0; t < MQ_EV_COUNT; t++)
        if (st.by_type[t])
            printf("  %-14s %llu\n", mq_event_type_name((mq_event_type)t),
                   (unsigned long long)st.by_type[t]);
    if (st.events)
        printf("from      %s\nto        %s\n", first, last);
    return MQ_EXIT_OK;
}
