// One optimizer update for a scalar type; compiled twice by optim.c.
// Expects REAL and SUFFIX to be defined.

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SUFFIX)

static void FN(update)(fnn_optim *opt, void *params_v, const void *grads_v,
                       double lr) {
    REAL *p = (REAL *)params_v;
    const REAL *g = (const REAL *)grads_v;
    int64_t n = opt->n;
    const fnn_optim_options *o = &opt->o;
    if (o->kind == FNN_SGD) {
        for (int64_t i = 0; i < n; i++) {
            p[i] = (REAL)(p[i] - lr * g[i]);
        }
    } else if (o->kind == FNN_MOMENTUM) {
        // v = mu v + g;  p -= lr v  (the form PyTorch's SGD uses)
        double *v = opt->state1;
        for (int64_t i = 0; i < n; i++) {
            v[i] = o->momentum * v[i] + g[i];
            p[i] = (REAL)(p[i] - lr * v[i]);
        }
    } else {
        // Adam (Kingma and Ba 2015) with bias correction by the shared step
        // count t: p -= lr m_hat / (sqrt(v_hat) + eps).
        double *m = opt->state1;
        double *v = opt->state2;
        double t = (double)opt->steps;
        double c1 = 1.0 - pow(o->beta1, t);
        double c2 = 1.0 - pow(o->beta2, t);
        for (int64_t i = 0; i < n; i++) {
            double gi = g[i];
            m[i] = o->beta1 * m[i] + (1 - o->beta1) * gi;
            v[i] = o->beta2 * v[i] + (1 - o->beta2) * gi * gi;
            double m_hat = m[i] / c1;
            double v_hat = v[i] / c2;
            p[i] = (REAL)(p[i] - lr * m_hat / (sqrt(v_hat) + o->adam_epsilon));
        }
    }
}

#undef FN
#undef CAT
#undef CAT_
