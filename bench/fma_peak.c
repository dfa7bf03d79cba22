// Measures the fp32 FMA peak of one core: independent chains of 512-bit
// (or 256-bit) fused multiply-adds, enough of them to cover the FMA latency
// on both pipes. Run one copy per core at once to get the machine's peak.
// Compiled with -mavx512f (or -mavx2 -mfma); `make bench` picks the widest
// that the CPU reports in /proc/cpuinfo (see the Makefile).
//
//   fma_peak [seconds]   prints {"gflops": G, "width_bits": W}
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12 // >= latency (4 cycles) x pipes (2), with slack

#ifdef __AVX512F__
typedef __m512 vec;
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define STORE _mm512_storeu_ps
#else
typedef __m256 vec;
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define STORE _mm256_storeu_ps
#endif

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    vec acc[CHAINS];
    for (int c = 0; c < CHAINS; c++) {
        acc[c] = SET1(1.0f + (float)c * 1e-3f);
    }
    // Factors that keep the values bounded: a * 0.9999 + 1e-4 stays near 1.
    vec mul = SET1(0.9999f), add = SET1(1e-4f);
    const long iters = 1L << 20;
    long rounds = 0;
    double start = now_seconds(), elapsed;
    do {
        for (long i = 0; i < iters; i++) {
            for (int c = 0; c < CHAINS; c++) {
                acc[c] = FMA(acc[c], mul, add);
            }
        }
        rounds++;
        elapsed = now_seconds() - start;
    } while (elapsed < seconds);
    float sink[LANES] = {0};
    for (int c = 0; c < CHAINS; c++) {
        float out[LANES];
        STORE(out, acc[c]);
        for (int l = 0; l < LANES; l++) {
            sink[l] += out[l];
        }
    }
    double flops = 2.0 * LANES * CHAINS * (double)iters * (double)rounds;
    printf("{\"gflops\":%.1f,\"width_bits\":%d,\"check\":%g}\n",
           flops / elapsed * 1e-9, LANES * 32, (double)sink[0]);
    return 0;
}
