// One optimizer update for a scalar type; compiled twice by optim.c.
// Expects REAL, SUFFIX and SQRT to be defined, and KERNELS to be 1 where
// REAL is float and the loops of kernels.h apply.

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SUFFIX)

// Updates the values [begin, end) of the vectors; every value's update is
// independent of the others, so any split gives the same bits.
static void FN(update)(fnn_optim *opt, void *params_v, const void *grads_v,
                       double lr, int64_t begin, int64_t end) {
    REAL *p = (REAL *)params_v + begin;
    const REAL *g = (const REAL *)grads_v + begin;
    int64_t n = end - begin;
    const fnn_optim_options *o = &opt->o;
    if (o->kind == FNN_SGD) {
        REAL rate = (REAL)lr;
        for (int64_t i = 0; i < n; i++) {
            p[i] -= rate * g[i];
        }
    } else if (o->kind == FNN_MOMENTUM) {
        // v = mu v + g;  p -= lr v  (the form PyTorch's SGD uses)
        REAL *v = (REAL *)opt->state1 + begin;
        REAL mu = (REAL)o->momentum;
        REAL rate = (REAL)lr;
#if KERNELS
        fnn_momentum_f32(p, v, g, n, mu, rate);
        return;
#endif
        for (int64_t i = 0; i < n; i++) {
            v[i] = mu * v[i] + g[i];
            p[i] -= rate * v[i];
        }
    } else {
        // Adam (Kingma and Ba 2015) with bias correction by the shared step
        // count t. lr m_hat / (sqrt(v_hat) + eps) is computed in the paper's
        // cheaper, equal form lr_t m / (sqrt(v) + eps sqrt(c2)), with
        // lr_t = lr sqrt(c2) / c1, c1 = 1 - beta1^t and c2 = 1 - beta2^t.
        REAL *m = (REAL *)opt->state1 + begin;
        REAL *v = (REAL *)opt->state2 + begin;
        double t = (double)opt->steps;
        double c1 = 1.0 - pow(o->beta1, t);
        double c2 = 1.0 - pow(o->beta2, t);
        REAL rate = (REAL)(lr * sqrt(c2) / c1);
        REAL eps = (REAL)(o->adam_epsilon * sqrt(c2));
        REAL b1 = (REAL)o->beta1, b2 = (REAL)o->beta2;
        REAL a1 = (REAL)(1 - o->beta1), a2 = (REAL)(1 - o->beta2);
#if KERNELS
        fnn_adam_consts c = {b1, a1, b2, a2, rate, eps};
        fnn_adam_f32(p, m, v, g, n, &c);
        return;
#endif
        for (int64_t i = 0; i < n; i++) {
            REAL gi = g[i];
            m[i] = b1 * m[i] + a1 * gi;
            v[i] = b2 * v[i] + a2 * gi * gi;
            p[i] -= rate * m[i] / (SQRT(v[i]) + eps);
        }
    }
}

#undef FN
#undef CAT
#undef CAT_
