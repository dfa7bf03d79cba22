// Checks a hand-written gradient with fnn_gradcheck_function: L2-regularized
// logistic regression on a small synthetic data set, once with the correct
// gradient and once with the L2 gradient off by a factor of 2.
//
// Exits 0 when the check passes the correct gradient and fails the wrong one.
#include "fastnn.h"

#include <math.h>
#include <stdio.h>

#define N_SAMPLES 50
#define N_FEATURES 4

typedef struct problem {
    double x[N_SAMPLES][N_FEATURES];
    double y[N_SAMPLES]; // 0 or 1
    double lambda;
    int l2_bug; // doubles the L2 gradient
} problem;

// theta = [w (N_FEATURES values), b]. J = mean binary cross-entropy of
// sigmoid(w . x + b) plus (lambda / 2m) ||w||^2.
static int logistic_cost(void *user, const double *theta, double *cost,
                         double *grad) {
    const problem *p = user;
    const double m = N_SAMPLES;
    double j = 0;
    if (grad) {
        for (int k = 0; k <= N_FEATURES; k++) {
            grad[k] = 0;
        }
    }
    for (int i = 0; i < N_SAMPLES; i++) {
        double z = theta[N_FEATURES];
        for (int k = 0; k < N_FEATURES; k++) {
            z += theta[k] * p->x[i][k];
        }
        // log(1 + e^z) - y z, written so that no exp overflows
        j += (z > 0 ? z : 0) + log1p(exp(-fabs(z))) - p->y[i] * z;
        if (grad) {
            double s = 1.0 / (1.0 + exp(-z));
            for (int k = 0; k < N_FEATURES; k++) {
                grad[k] += (s - p->y[i]) * p->x[i][k] / m;
            }
            grad[N_FEATURES] += (s - p->y[i]) / m;
        }
    }
    j /= m;
    double l2_factor = p->l2_bug ? 2 : 1;
    for (int k = 0; k < N_FEATURES; k++) {
        j += p->lambda / (2 * m) * theta[k] * theta[k];
        if (grad) {
            grad[k] += l2_factor * p->lambda / m * theta[k];
        }
    }
    *cost = j;
    return 0;
}

static void make_problem(problem *p) {
    fnn_rng rng;
    fnn_rng_seed(&rng, 1);
    const double true_w[N_FEATURES] = {1.5, -2, 0.5, 0};
    for (int i = 0; i < N_SAMPLES; i++) {
        double z = 0.3;
        for (int k = 0; k < N_FEATURES; k++) {
            p->x[i][k] = fnn_rng_normal(&rng);
            z += true_w[k] * p->x[i][k];
        }
        p->y[i] = fnn_rng_uniform(&rng) < 1.0 / (1.0 + exp(-z)) ? 1 : 0;
    }
    p->lambda = 5.0;
    p->l2_bug = 0;
}

static fnn_gradcheck_verdict check(problem *p, const char *label) {
    const double theta[N_FEATURES + 1] = {0.4, -0.8, 1.2, 0.1, -0.3};
    const fnn_gradcheck_block_spec blocks[2] = {
        {"weight", 1, N_FEATURES},
        {"bias", 1, 1},
    };
    fnn_gradcheck_report r;
    fnn_error err = {{0}};
    fnn_status s = fnn_gradcheck_function(logistic_cost, p, theta,
                                          N_FEATURES + 1, blocks, 2, NULL,
                                          &r, &err);
    if (s != FNN_OK) {
        fprintf(stderr, "check_user_gradient: %s\n", err.message);
        return FNN_GRADCHECK_FAIL;
    }
    printf("%s: relative difference %.3e, %s\n", label,
           r.relative_difference, fnn_gradcheck_verdict_name(r.verdict));
    for (int b = 0; b < r.n_blocks; b++) {
        const fnn_gradcheck_block *blk = &r.blocks[b];
        const fnn_gradcheck_coord *c = &blk->worst[0];
        printf("  %-6s %.3e %-4s worst [%lld, %lld]: analytic %.9f "
               "numerical %.9f\n",
               blk->name, blk->relative_difference,
               fnn_gradcheck_verdict_name(blk->verdict), (long long)c->row,
               (long long)c->col, c->analytic, c->numerical);
    }
    fnn_gradcheck_verdict v = r.verdict;
    fnn_gradcheck_report_free(&r);
    return v;
}

int main(void) {
    static problem p;
    make_problem(&p);
    fnn_gradcheck_verdict good = check(&p, "correct gradient");
    p.l2_bug = 1;
    fnn_gradcheck_verdict bad = check(&p, "L2 gradient doubled");
    return good == FNN_GRADCHECK_PASS && bad == FNN_GRADCHECK_FAIL ? 0 : 1;
}
