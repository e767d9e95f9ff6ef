/* log.c: leveled logging to stderr with a timestamp; thread-safe via stdio locks. */
#include "util.h"

static mq_log_level min_level = MQ_LOG_INFO;

void mq_log_set_level(mq_log_level lvl) {
    min_level = lvl;
}

void mq_log(mq_log_level lvl, const char *fmt, ...) {
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (lvl < min_level)
        return;
    char ts[32];
    mq_time_format_rfc3339(mq_now_ms(), ts, sizeof ts);
    flockfile(stderr);
    fprintf(stderr, "%s marquee %s: ", ts, names[lvl]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    funlockfile(stderr);
}
