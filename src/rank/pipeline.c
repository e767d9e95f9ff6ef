/* pipeline.c: the ranker's fit end to end, shared by `marquee train` (window: the
 * last rank.window of the event times) and `marquee eval --protocol time` (the
 * same window, ending at the split time T). The candidate models whose scores are
 * features are refitted on the events before the window, so that a feature never
 * saw the play it is asked to predict (stacking without leakage); the final
 * bundle's own models, fitted on everything, are then used at serving time. */
#include "rank_impl.h"

int mq_rank_fit(mq_store *s, const mq_matrix_opts *mo, const mq_train_params *tp,
                const mq_rank_params *rp, const mq_rank_settings *st, int64_t from_ms,
                int64_t to_ms, mq_bundle *into, bool progress, mq_rank_train_report *rep,
                mq_err *err) {
    memset(rep, 0, sizeof *rep);
    mq_matrix_opts o = *mo;
    o.to_ms = from_ms;
    o.progress = false;
    mq_matrix *m = NULL;
    mq_bundle *b = NULL;
    mq_rank_data d = {0};
    int rc = mq_matrix_from_store(s, &o, &m, err);
    if (rc)
        goto out;
    if (m->nnz == 0) {
        snprintf(rep->skipped, sizeof rep->skipped, "no interactions before the ranker's window");
        goto out;
    }
    mq_train_report tr;
    if ((rc = mq_train(m, tp, NULL, NULL, &tr, &b, err)))
        goto out;
    mq_matrix_destroy(m);
    m = NULL;
    if ((rc = mq_rank_add_titles(s, b, from_ms, err)))
        goto out;
    if ((rc = mq_rank_data_build(s, b, &mo->sem, rp, st, MQ_RANK_DATA_TRAIN, from_ms, to_ms,
                                 progress, &d, err)))
        goto out;
    rc = mq_rank_train(&d, rp, into, rep, err);
out:
    mq_rank_data_free(&d);
    mq_bundle_destroy(b);
    mq_matrix_destroy(m);
    return rc;
}
