// Per-feature statistics in one streaming pass. Welford's update keeps the
// running mean and the sum of squared deviations (M2), so a large common
// offset (1e9 + small) does not cancel the variance away as sum(x^2) would.
#include "internal.h"

#include <math.h>
#include <string.h>

fnn_norm *fnn_norm_create(int n_features, fnn_status *status) {
    if (n_features <= 0) {
        fnn_set_status(status, FNN_ERR_INVALID);
        return NULL;
    }
    fnn_norm *norm = calloc(1, sizeof *norm);
    if (norm) {
        norm->n_features = n_features;
        norm->mean = calloc((size_t)n_features, sizeof(double));
        norm->std = calloc((size_t)n_features, sizeof(double));
        norm->min = malloc((size_t)n_features * sizeof(double));
        norm->max = malloc((size_t)n_features * sizeof(double));
    }
    if (!norm || !norm->mean || !norm->std || !norm->min || !norm->max) {
        fnn_norm_free(norm);
        fnn_set_status(status, FNN_ERR_NOMEM);
        return NULL;
    }
    for (int j = 0; j < n_features; j++) {
        norm->min[j] = INFINITY;
        norm->max[j] = -INFINITY;
    }
    fnn_set_status(status, FNN_OK);
    return norm;
}

void fnn_norm_free(fnn_norm *norm) {
    if (!norm) {
        return;
    }
    free(norm->mean);
    free(norm->std);
    free(norm->min);
    free(norm->max);
    free(norm);
}

// Until fnn_norm_finish, norm->std holds M2, the sum of squared deviations.
void fnn_norm_update(fnn_norm *norm, const double *row) {
    norm->count++;
    double n = (double)norm->count;
    for (int j = 0; j < norm->n_features; j++) {
        double x = row[j];
        double delta = x - norm->mean[j];
        norm->mean[j] += delta / n;
        norm->std[j] += delta * (x - norm->mean[j]);
        if (x < norm->min[j]) {
            norm->min[j] = x;
        }
        if (x > norm->max[j]) {
            norm->max[j] = x;
        }
    }
}

void fnn_norm_finish(fnn_norm *norm) {
    norm->n_zero_variance = 0;
    for (int j = 0; j < norm->n_features; j++) {
        double var = norm->count > 0 ? norm->std[j] / (double)norm->count : 0;
        // A constant column gives M2 == 0 exactly: every delta is 0 once the
        // mean has settled on the first value.
        norm->std[j] = sqrt(var > 0 ? var : 0);
        if (norm->std[j] == 0) {
            norm->n_zero_variance++;
        }
    }
}

fnn_norm *fnn_norm_fit(const fnn_dataset *ds, fnn_status *status) {
    if (!ds || ds->n_rows <= 0 || ds->n_features <= 0 ||
        (!ds->f32 && !ds->u8)) {
        fnn_set_status(status, FNN_ERR_INVALID);
        return NULL;
    }
    fnn_norm *norm = fnn_norm_create(ds->n_features, status);
    if (!norm) {
        return NULL;
    }
    size_t n = (size_t)ds->n_features;
    float *row = malloc(n * sizeof(float));
    double *row64 = malloc(n * sizeof(double));
    if (!row || !row64) {
        free(row);
        free(row64);
        fnn_norm_free(norm);
        fnn_set_status(status, FNN_ERR_NOMEM);
        return NULL;
    }
    for (int64_t i = 0; i < ds->n_rows; i++) {
        fnn_dataset_get_rows(ds, i, 1, row);
        for (size_t j = 0; j < n; j++) {
            row64[j] = row[j];
        }
        fnn_norm_update(norm, row64);
    }
    free(row);
    free(row64);
    fnn_norm_finish(norm);
    fnn_set_status(status, FNN_OK);
    return norm;
}
