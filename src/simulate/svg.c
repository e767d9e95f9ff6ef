/* svg.c: the time-to-play chart of a simulation: for each page policy, the share
 * of sessions that have started a play by each second of browsing (a cumulative
 * curve that ends at the policy's share of sessions with a play), drawn as a
 * small standalone SVG with its own axes and legend. */
#include "simulate.h"

#include <errno.h>
#include <string.h>

static const char *const colours[] = {"#9e9e9e", "#e69f00", "#56b4e9", "#d62728", "#009e73"};

int mq_simulate_svg(const mq_simulate_report *r, const char *path, mq_err *err) {
    FILE *f = fopen(path, "w");
    if (!f)
        return mq_err_set(err, MQ_EIO, "%s: cannot write: %s", path, strerror(errno));
    const double W = 720, H = 420, L = 64, R = 170, T = 40, B = 56;
    double pw = W - L - R, ph = H - T - B;
    double xmax = r->opts.patience_s > 0 ? r->opts.patience_s : 90;
    double ymax = 0;
    for (size_t i = 0; i < r->n; i++) {
        const mq_simulate_result *x = &r->res[i];
        double share = x->sessions ? (double)x->played / (double)x->sessions : 0;
        if (share > ymax)
            ymax = share;
    }
    ymax = ymax <= 0 ? 1 : (ymax < 0.2 ? 0.25 : ymax < 0.45 ? 0.5 : ymax < 0.7 ? 0.75 : 1.0);
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%.0f\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Time to play: "
            "share of sessions that have started a play</text>\n",
            W, H, W, H, L);
    /* grid and axes */
    for (int k = 0; k <= 5; k++) {
        double v = ymax * k / 5, y = T + ph - ph * k / 5;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f%%</text>\n",
                L, y, L + pw, y, L - 6, y + 4, 100 * v);
    }
    int step = xmax <= 60 ? 10 : xmax <= 180 ? 15 : 60;
    for (int s = 0; s <= (int)xmax; s += step) {
        double x = L + pw * s / xmax;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n",
                x, T, x, T + ph, x, T + ph + 16, s);
    }
    fprintf(
        f,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n"
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n"
        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">simulated seconds of browsing</text>\n",
        L, T + ph, L + pw, T + ph, L, T, L, T + ph, L + pw / 2, H - 14);
    if (r->opts.target_s > 0 && r->opts.target_s <= xmax) {
        double x = L + pw * r->opts.target_s / xmax;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" "
                "stroke-dasharray=\"4 3\"/>\n",
                x, T, x, T + ph);
    }
    /* one step curve per policy */
    for (size_t i = 0; i < r->n; i++) {
        const mq_simulate_result *x = &r->res[i];
        const char *c = colours[i % (sizeof colours / sizeof *colours)];
        double n = x->sessions ? (double)x->sessions : 1;
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%.1f,%.1f", c,
                L, T + ph);
        double y = 0;
        for (size_t k = 0; k < x->n_ttp;) {
            /* one step per distinct time (looks cost whole seconds: few steps) */
            size_t e = k;
            while (e < x->n_ttp && x->ttp[e] == x->ttp[k])
                e++;
            double px = L + pw * MQ_MIN(x->ttp[k], xmax) / xmax;
            fprintf(f, " %.1f,%.1f", px, T + ph - ph * y / ymax);
            y = (double)e / n;
            fprintf(f, " %.1f,%.1f", px, T + ph - ph * y / ymax);
            k = e;
        }
        fprintf(f, " %.1f,%.1f\"/>\n", L + pw, T + ph - ph * y / ymax);
        double ly = T + 10 + 22.0 * (double)i;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"3\"/>\n<text x=\"%.1f\" y=\"%.1f\">%s %.0f%%</text>\n",
                L + pw + 12, ly, L + pw + 34, ly, c, L + pw + 40, ly + 4,
                mq_page_policy_name(x->policy), 100 * x->share_target);
    }
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0)
        return mq_err_set(err, MQ_EIO, "%s: cannot write: %s", path, strerror(errno));
    return MQ_OK;
}
