/* err.c: the error type's code table and message helpers (see MQ_ERRNO_MAP). */
#include "util.h"

#include <string.h>

static const char *const mq_err_text[] = {
#define MQ_ERR_TEXT(name, text) text,
    MQ_ERRNO_MAP(MQ_ERR_TEXT)
#undef MQ_ERR_TEXT
};

const char *mq_strerror(int code) {
    if (code < 0 || code >= MQ_ERR_COUNT)
        return "unknown error";
    return mq_err_text[code];
}

int mq_err_set(mq_err *err, int code, const char *fmt, ...) {
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int mq_err_prefix(mq_err *err, const char *fmt, ...) {
    if (!err)
        return 0;
    char prefix[MQ_ERR_MSG_MAX], old[MQ_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3)
        n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t m = strlen(old);
    if (m > sizeof err->msg - n - 3)
        m = sizeof err->msg - n - 3;
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
    return err->code;
}

void mq_err_clear(mq_err *err) {
    if (err) {
        err->code = MQ_OK;
        err->msg[0] = '\0';
    }
}
