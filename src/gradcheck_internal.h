// Internals of the gradient check: the incremental cost evaluator of a
// network and the mode driver shared by fnn_gradcheck_run and
// fnn_gradcheck_function. Not installed.
#ifndef FNN_GRADCHECK_INTERNAL_H
#define FNN_GRADCHECK_INTERNAL_H

#include "net_internal.h"

// Computes J(theta + dtheta) - J(theta) for a float64 network from the
// forward pass cached in its work buffers, recomputing only what dtheta
// changes. Each change is propagated as a difference (dz, then
// g(z + dz) - g(z) through an exact identity, then the loss difference
// through expm1/log1p), so the result keeps its relative precision however
// small dtheta is, where J(theta + dtheta) - J(theta) computed from two
// costs loses about ulp(J) to rounding.
typedef struct gc_delta gc_delta;

// Creates the evaluator from the last fnn_net_cost of `net` (float64) on
// labels y, as doubles in fnn_net_cost's layout. Keeps pointers into the
// network's buffers and to y: neither may change while it is in use.
gc_delta *gc_delta_create(fnn_net *net, const double *y, int batch_size,
                          fnn_status *status);
void gc_delta_free(gc_delta *d);

// Returns J(theta + h e_k) - J(theta), L2 term included. Sets *kink to 1
// when a ReLU or leaky-ReLU pre-activation changes side of 0 (leaves it
// unchanged otherwise).
double gc_delta_coord(gc_delta *d, int64_t k, double h, int *kink);

// Returns J(theta + h u) - J(theta) for a direction u [n_params]; *kink as
// for gc_delta_coord.
double gc_delta_direction(gc_delta *d, const double *u, double h, int *kink);

// What the mode driver checks: a parameter vector of n values with the
// analytic gradient `grad` [n], and two ways to evaluate cost differences.
typedef struct gc_target {
    int64_t n;
    const double *grad;
    // Sets *dj = J(theta + h e_k) - J(theta) and *step to the step actually
    // applied (fl(theta_k + h) - theta_k); sets *kink to 1 on a kink.
    fnn_status (*coord)(void *ctx, int64_t k, double h, double *dj,
                        double *step, int *kink);
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
