// Internals of the gradient check: the mode driver shared by
// fnn_gradcheck_run and fnn_gradcheck_function. Not installed.
#ifndef FNN_GRADCHECK_INTERNAL_H
#define FNN_GRADCHECK_INTERNAL_H

#include "net_internal.h"

// What the mode driver checks: a parameter vector of n values with the
// analytic gradient `grad` [n], and two ways to evaluate cost differences.
typedef struct gc_target {
    int64_t n;
    const double *grad;
    // For e < n: sets dj[e] = J(theta + h[e] e_k[e]) - J(theta) and
    // step[e] to the step actually applied (fl(theta_k + h) - theta_k);
    // sets kink[e] to 1 on a kink. The network's evaluator runs entries
    // that move one column of a pre-activation in one pass.
    fnn_status (*coords)(void *ctx, int n, const int64_t *k, const double *h,
                         double *dj, double *step, int *kink);
    // Sets *dj = J(theta + h u) - J(theta) for u [n].
    fnn_status (*direction)(void *ctx, const double *u, double h, double *dj,
                            int *kink);
    void *ctx;
} gc_target;

// Runs the check of options->mode (never AUTO here) and fills the report,
// whose blocks (name, layer, offset, rows, cols) the caller has set.
fnn_status gc_check(const gc_target *t, const fnn_gradcheck_options *o,
                    fnn_gradcheck_report *r, fnn_error *err);

// Validates options; fills err naming the bad field.
fnn_status gc_check_options(const fnn_gradcheck_options *o, fnn_error *err);

// Allocates r->blocks [n_blocks] zeroed and resets the rest of the report.
fnn_status gc_report_init(fnn_gradcheck_report *r, int n_blocks,
                          const fnn_gradcheck_options *o, int64_t n);

double gc_now_seconds(void);

#endif
