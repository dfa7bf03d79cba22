// xoshiro256** by Blackman and Vigna (2018), seeded through splitmix64 so
// that nearby seeds give unrelated states.
#include "internal.h"

#include <math.h>

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void fnn_rng_seed(fnn_rng *rng, uint64_t seed) {
    uint64_t state = seed;
    for (int i = 0; i < 4; i++) {
        rng->s[i] = splitmix64(&state);
    }
}

uint64_t fnn_rng_next(fnn_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double fnn_rng_uniform(fnn_rng *rng) {
    // The top 53 bits fill the mantissa exactly: multiples of 2^-53 in [0, 1).
    return (double)(fnn_rng_next(rng) >> 11) * 0x1.0p-53;
}

double fnn_rng_normal(fnn_rng *rng) {
    // Box-Muller, one draw per call; 1 - u lies in (0, 1], so log is finite.
    double u1 = 1.0 - fnn_rng_uniform(rng);
    double u2 = fnn_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * FNN_PI * u2);
}

uint64_t fnn_rng_below(fnn_rng *rng, uint64_t n) {
    if (n == 0) {
        return 0;
    }
    // Rejection sampling: discard the top partial range to avoid modulo bias.
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = fnn_rng_next(rng);
    } while (x >= limit);
    return x % n;
}
