// Optimizers over the flat parameter and gradient vectors, and learning-rate
// schedules.
#include "kernels.h"
#include "train_internal.h"

#include <math.h>
#include <string.h>

struct fnn_optim {
    fnn_optim_options o;
    fnn_dtype dtype;
    int64_t n;
    int64_t steps;  // updates applied; Adam's t, shared by every tensor
    void *state1; // velocity (momentum) or first moment (Adam), in dtype
    void *state2; // second moment (Adam), in dtype
};

fnn_optim_options fnn_optim_options_default(void) {
    fnn_optim_options o;
    o.kind = FNN_ADAM;
    o.learning_rate = 1e-3;
    o.momentum = 0.9;
    o.beta1 = 0.9;
    o.beta2 = 0.999;
    o.adam_epsilon = 1e-8;
    return o;
}

fnn_optim *fnn_optim_create(const fnn_net *net, const fnn_optim_options *o,
                            fnn_status *status) {
    if (!net || !o || (int)o->kind < 0 || o->kind > FNN_ADAM ||
        !(o->learning_rate >= 0) || !isfinite(o->learning_rate) || !(o->momentum >= 0) ||
        !(o->momentum < 1) || !(o->beta1 >= 0) || !(o->beta1 < 1) ||
        !(o->beta2 >= 0) || !(o->beta2 < 1) || !(o->adam_epsilon >= 0) ||
        !isfinite(o->adam_epsilon)) {
        fnn_set_status(status, FNN_ERR_INVALID);
        return NULL;
    }
    fnn_optim *opt = calloc(1, sizeof *opt);
    if (!opt) {
        fnn_set_status(status, FNN_ERR_NOMEM);
        return NULL;
    }
    opt->o = *o;
    opt->dtype = net->opt.dtype;
    opt->n = net->n_params;
    size_t n = (size_t)opt->n;
    if (o->kind != FNN_SGD) {
        opt->state1 = calloc(n, net->elem);
    }
    if (o->kind == FNN_ADAM) {
        opt->state2 = calloc(n, net->elem);
    }
    if ((o->kind != FNN_SGD && !opt->state1) ||
        (o->kind == FNN_ADAM && !opt->state2)) {
        fnn_optim_free(opt);
        fnn_set_status(status, FNN_ERR_NOMEM);
        return NULL;
    }
    fnn_set_status(status, FNN_OK);
    return opt;
}

void fnn_optim_free(fnn_optim *opt) {
    if (!opt) {
        return;
    }
    free(opt->state1);
    free(opt->state2);
    free(opt);
}

int64_t fnn_optim_steps(const fnn_optim *opt) {
    return opt ? opt->steps : 0;
}

// The state has the parameters' type, as in PyTorch, so the float32 update
// loops vectorize; the per-step constants are computed in double.
#define REAL float
#define SUFFIX f32
#define SQRT sqrtf
#define KERNELS 1
#include "optim_impl.h"
#undef REAL
#undef SUFFIX
#undef SQRT
#undef KERNELS
#define REAL double
#define SUFFIX f64
#define SQRT sqrt
#define KERNELS 0
#include "optim_impl.h"
#undef REAL
#undef SUFFIX
#undef SQRT
#undef KERNELS

// Values per block of an update shared over the network's threads: 64 KiB
// of each float32 vector, a multiple of the 16-value vector width.
#define UPDATE_CHUNK 16384

typedef struct update_job {
    fnn_optim *opt;
    fnn_net *net;
    double learning_rate;
    int64_t chunk; // values per block
} update_job;

static void update_block(void *arg, int block) {
    update_job *job = arg;
    int64_t begin = block * job->chunk;
    int64_t end = begin + job->chunk < job->opt->n ? begin + job->chunk
                                                   : job->opt->n;
    if (job->opt->dtype == FNN_F64) {
        update_f64(job->opt, job->net->params, job->net->grads,
                   job->learning_rate, begin, end);
    } else {
        update_f32(job->opt, job->net->params, job->net->grads,
                   job->learning_rate, begin, end);
    }
}

fnn_status fnn_optim_step(fnn_optim *opt, fnn_net *net, double learning_rate) {
    if (!opt || !net || net->n_params != opt->n ||
        net->opt.dtype != opt->dtype || !(learning_rate >= 0) ||
        !isfinite(learning_rate)) {
        return FNN_ERR_INVALID;
    }
    opt->steps++;
    update_job job = {opt, net, learning_rate, UPDATE_CHUNK};
    // The block count must fit fnn_net_parallel_for's 16 bits.
    while ((opt->n + job.chunk - 1) / job.chunk > 0xffff) {
        job.chunk *= 2;
    }
    int blocks = (int)((opt->n + job.chunk - 1) / job.chunk);
    if (fnn_net_threads(net) > 1 && blocks > 1) {
        fnn_net_parallel_for(net, update_block, &job, blocks);
    } else {
        job.chunk = opt->n;
        update_block(&job, 0);
    }
    return FNN_OK;
}

double fnn_schedule_rate(fnn_schedule s, double base_rate, double epoch,
                         int epochs, int step_epochs, double step_gamma) {
    switch (s) {
    case FNN_SCHEDULE_CONSTANT:
        return base_rate;
    case FNN_SCHEDULE_STEP:
        if (step_epochs <= 0) {
            return base_rate;
        }
        return base_rate * pow(step_gamma, floor(epoch / step_epochs));
    case FNN_SCHEDULE_COSINE:
        if (epochs <= 0) {
            return base_rate;
        }
        // 0.5 (1 + cos(pi t / T)): base_rate at t = 0, 0 at t = T.
        return 0.5 * base_rate * (1.0 + cos(FNN_PI * epoch / epochs));
    }
    return base_rate;
}

fnn_optim_state fnn_optim_get_state(fnn_optim *opt) {
    fnn_optim_state st = {opt->state1, opt->state2, opt->n, &opt->steps};
    return st;
}
