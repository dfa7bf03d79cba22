// Times the forward product Z = X W^T of each 784-256-128-10 layer on one
// thread, three ways, and prints one JSON object per layer and row count:
//
//   pack_wt     W^T packed, then the kernel: one thread's cost when it packs
//               the weights itself
//   shared_wt   the kernel alone on a W^T packed beforehand: the limit of a
//               pack shared by many row blocks
//   fnn_sgemm   the library's choice, which computes Z^T = W X^T and packs
//               X^T instead for up to FNN_SGEMM_XT_MAX_ROWS (64) rows
//
// GFLOP/s of 2 rows n_in n_out per product, best of 5 timed runs. Operands
// stay in the cache between repetitions, while training reads the weights
// from farther away, so these rates are upper bounds for a training step.
//
//   sgemm_shapes
#include "sgemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *alloc_floats(size_t n) {
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "sgemm_shapes: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        p[i] = (float)(i % 13) * 0.01f - 0.06f;
    }
    return p;
}

enum { METHODS = 3, TRIALS = 5 };

static void run_product(int m, int n, int k, const float *x, const float *w,
                        float *z, float *pack, float *shared, int method) {
    if (method == 0) {
        fnn_sgemm_pack_bt(n, k, w, k, 0, n, pack);
        fnn_sgemm_packed(0, m, n, k, x, k, pack, 0, z, n);
    } else if (method == 1) {
        fnn_sgemm_packed(0, m, n, k, x, k, shared, 0, z, n);
    } else {
        fnn_sgemm(0, 1, m, n, k, x, k, w, k, 0, z, n, pack);
    }
}

int main(void) {
    if (!fnn_sgemm_uses_kernel()) {
        printf("{\"skipped\": \"no AVX-512 kernel on this processor\"}\n");
        return 0;
    }
    const int layers[][2] = {{784, 256}, {256, 128}, {128, 10}};
    const int rows[] = {16, 32, 64, 128, 256};
    const char *names[METHODS] = {"pack_wt", "shared_wt", "fnn_sgemm"};
    for (int l = 0; l < 3; l++) {
        int k = layers[l][0], n = layers[l][1];
        for (int r = 0; r < 5; r++) {
            int m = rows[r];
            float *x = alloc_floats((size_t)m * k);
            float *w = alloc_floats((size_t)n * k);
            float *z = alloc_floats((size_t)m * n);
            float *pack = alloc_floats(fnn_sgemm_pack_floats(n, k));
            float *shared = alloc_floats(fnn_sgemm_packed_floats(n, k));
            fnn_sgemm_pack_bt(n, k, w, k, 0, n, shared);
            double flops = 2.0 * m * n * k;
            // About 20 ms of arithmetic per timed run at 200 GFLOP/s.
            int reps = (int)(4e9 / flops) + 1;
            printf("{\"n_in\": %d, \"n_out\": %d, \"rows\": %d", k, n, m);
            for (int method = 0; method < METHODS; method++) {
                double best = 0;
                for (int t = 0; t < TRIALS; t++) {
                    double start = now_seconds();
                    for (int i = 0; i < reps; i++) {
                        run_product(m, n, k, x, w, z, pack, shared, method);
                    }
                    double rate = flops * reps / (now_seconds() - start);
                    best = rate > best ? rate : best;
                }
                printf(", \"%s\": %.1f", names[method], best * 1e-9);
            }
            printf("}\n");
            free(x);
            free(w);
            free(z);
            free(pack);
            free(shared);
        }
    }
    return 0;
}
