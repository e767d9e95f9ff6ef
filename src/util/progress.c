/* progress.c: a one-line progress bar on stderr (label, bar, count, rate, ETA),
 * redrawn at most 10 times a second, and only when stderr is a terminal so logs
 * and pipes stay clean. */
#include "util.h"

#include <unistd.h>

void mq_progress_start(mq_progress *p, const char *label, const char *unit, uint64_t total) {
    p->label = label;
    p->unit = unit ? unit : "";
    p->total = total;
    p->done = 0;
    p->t0 = mq_mono_s();
    p->last_draw = 0;
    p->tty = isatty(STDERR_FILENO);
}

static void fmt_duration(double s, char *out, size_t n) {
    if (s < 0 || s > 1e7)
        snprintf(out, n, "--:--");
    else if (s >= 3600)
        snprintf(out, n, "%d:%02d:%02d", (int)s / 3600, (int)s % 3600 / 60, (int)s % 60);
    else
        snprintf(out, n, "%02d:%02d", (int)s / 60, (int)s % 60);
}

static void draw(mq_progress *p, bool final) {
    double el = mq_mono_s() - p->t0;
    double rate = el > 0 ? (double)p->done / el : 0;
    char eta[16];
    fmt_duration(final ? el : (rate > 0 && p->total ? (double)(p->total - p->done) / rate : -1),
                 eta, sizeof eta);
    if (p->total) {
        double frac = (double)p->done / (double)p->total;
        if (frac > 1)
            frac = 1;
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r%-14s [%s] %3.0f%% %llu/%llu %s  %.0f %s/s  %s %s\033[K", p->label,
                bar, frac * 100, (unsigned long long)p->done, (unsigned long long)p->total,
                p->unit, rate, p->unit, final ? "took" : "ETA", eta);
    } else {
        fprintf(stderr, "\r%-14s %llu %s  %.0f %s/s  %s\033[K", p->label,
                (unsigned long long)p->done, p->unit, rate, p->unit, eta);
    }
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

void mq_progress_update(mq_progress *p, uint64_t done) {
    p->done = done;
    if (!p->tty)
        return;
    double now = mq_mono_s();
    if (now - p->last_draw < 0.1)
        return;
    p->last_draw = now;
    draw(p, false);
}

void mq_progress_finish(mq_progress *p) {
    if (p->tty)
        draw(p, true);
}
