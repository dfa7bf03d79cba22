// Network construction, parameter layout and work buffers.
#include "net_internal.h"
#include "sgemm.h"

#include <math.h>
#include <string.h>

// Streams drawn from the seed for purposes other than the weights, so that
// changing keep_prob does not change the initial weights.
#define DROPOUT_STREAM 0x64726f706f7574ULL
#define SHUFFLE_STREAM 0x73687566666c65ULL

fnn_net_options fnn_net_options_default(void) {
    fnn_net_options o;
    memset(&o, 0, sizeof o);
    o.n_layers = 3;
    o.sizes[0] = 784;
    o.sizes[1] = 256;
    o.sizes[2] = 128;
    o.sizes[3] = 10;
    o.activation = FNN_RELU;
    o.init = FNN_INIT_AUTO;
    o.loss = FNN_LOSS_SOFTMAX_CE;
    o.dtype = FNN_F32;
    o.l2 = 0;
    o.keep_prob = 1;
    o.seed = 42;
    return o;
}

static fnn_status check_options(const fnn_net_options *o) {
    if (o->n_layers < 1 || o->n_layers > FNN_MAX_LAYERS) {
        return FNN_ERR_INVALID;
    }
    for (int l = 0; l <= o->n_layers; l++) {
        if (o->sizes[l] < 1 || o->sizes[l] > (1 << 24)) {
            return FNN_ERR_INVALID;
        }
    }
    if ((int)o->activation < 0 || o->activation > FNN_IDENTITY ||
        (int)o->loss < 0 || o->loss > FNN_LOSS_MSE ||
        (int)o->init < 0 || o->init > FNN_INIT_ZEROS ||
        (o->dtype != FNN_F32 && o->dtype != FNN_F64)) {
        return FNN_ERR_INVALID;
    }
    if (o->loss == FNN_LOSS_SOFTMAX_CE && o->sizes[o->n_layers] < 2) {
        return FNN_ERR_INVALID;
    }
    if (!(o->l2 >= 0) || !isfinite(o->l2) || !(o->keep_prob > 0) ||
        !(o->keep_prob <= 1)) {
        return FNN_ERR_INVALID;
    }
    return FNN_OK;
}

static fnn_status layout_params(fnn_net *net) {
    int64_t off = 0;
    for (int l = 0; l < net->opt.n_layers; l++) {
        int64_t nw;
        if (!fnn_mul_size(net->opt.sizes[l], net->opt.sizes[l + 1], &nw)) {
            return FNN_ERR_INVALID;
        }
        net->w_off[l] = off;
        net->b_off[l] = off + nw;
        off += nw + net->opt.sizes[l + 1];
    }
    net->n_params = off;
    int64_t bytes;
    if (!fnn_mul_size(off, (int64_t)net->elem, &bytes) ||
        bytes > INT64_MAX / 2) {
        return FNN_ERR_NOMEM;
    }
    net->params = calloc((size_t)off, net->elem);
    net->grads = calloc((size_t)off, net->elem);
    return net->params && net->grads ? FNN_OK : FNN_ERR_NOMEM;
}

fnn_net *fnn_net_alloc(const fnn_net_options *o, fnn_status *status) {
    fnn_status s = check_options(o);
    if (s != FNN_OK) {
        fnn_set_status(status, s);
        return NULL;
    }
    fnn_net *net = calloc(1, sizeof *net);
    if (!net) {
        fnn_set_status(status, FNN_ERR_NOMEM);
        return NULL;
    }
    net->opt = *o;
    net->elem = o->dtype == FNN_F64 ? sizeof(double) : sizeof(float);
    s = layout_params(net);
    if (s != FNN_OK) {
        fnn_net_free(net);
        fnn_set_status(status, s);
        return NULL;
    }
    fnn_rng_seed(&net->rng_dropout, o->seed ^ DROPOUT_STREAM);
    fnn_rng_seed(&net->rng_shuffle, o->seed ^ SHUFFLE_STREAM);
    fnn_set_status(status, FNN_OK);
    return net;
}

// Draws every weight matrix in double from one generator seeded with
// opt.seed, then stores it in the network's dtype, so a float32 and a
// float64 network with the same seed start from the same values.
static fnn_status init_weights(fnn_net *net) {
    const fnn_net_options *o = &net->opt;
    fnn_rng rng;
    fnn_rng_seed(&rng, o->seed);
    for (int l = 0; l < o->n_layers; l++) {
        int hidden = l < o->n_layers - 1;
        fnn_init init = o->init;
        if (init == FNN_INIT_AUTO) {
            // The output layer has no nonlinearity: it is an identity layer
            // feeding the loss, so the rule gives it xavier.
            init = fnn_init_for(hidden ? o->activation : FNN_IDENTITY);
        }
        net->layer_init[l] = init;
        int n_in = o->sizes[l];
        int n_out = o->sizes[l + 1];
        size_t nw = (size_t)n_in * (size_t)n_out;
        double *w = malloc(nw * sizeof(double));
        if (!w) {
            return FNN_ERR_NOMEM;
        }
        fnn_init_fill(w, n_out, n_in, init, &rng);
        if (o->dtype == FNN_F64) {
            memcpy((double *)net->params + net->w_off[l], w, nw * 8);
        } else {
            float *dst = (float *)net->params + net->w_off[l];
            for (size_t i = 0; i < nw; i++) {
                dst[i] = (float)w[i];
            }
        }
        free(w);
    }
    return FNN_OK;
}

fnn_net *fnn_net_create(const fnn_net_options *options, fnn_status *status) {
    if (!options) {
        fnn_set_status(status, FNN_ERR_INVALID);
        return NULL;
    }
    fnn_net *net = fnn_net_alloc(options, status);
    if (!net) {
        return NULL;
    }
    fnn_status s = init_weights(net);
    if (s != FNN_OK) {
        fnn_net_free(net);
        fnn_set_status(status, s);
        return NULL;
    }
    return net;
}

static void free_workspace(fnn_net *net) {
    free(net->x_norm);
    free(net->dz);
    free(net->da);
    for (int l = 0; l < FNN_MAX_LAYERS; l++) {
        free(net->z[l]);
        free(net->act[l]);
        free(net->drop[l]);
        free(net->mask[l]);
        net->z[l] = net->act[l] = net->drop[l] = net->mask[l] = NULL;
    }
    net->x_norm = net->dz = net->da = NULL;
    net->ws_batch = 0;
    net->mask_valid = 0;
}

void fnn_net_free(fnn_net *net) {
    if (!net) {
        return;
    }
    fnn_pool_free(net->pool);
    free_workspace(net);
    free(net->gemm_pack);
    free(net->params);
    free(net->grads);
    free(net->norm_mean);
    free(net->norm_std);
    free(net->training_json);
    free(net);
}

float *fnn_net_alloc_pack(const fnn_net *net) {
    if (net->opt.dtype != FNN_F32) {
        return NULL;
    }
    size_t n = 0;
    for (int l = 0; l < net->opt.n_layers; l++) {
        size_t f = fnn_sgemm_pack_floats(net->opt.sizes[l + 1],
                                         net->opt.sizes[l]);
        n = f > n ? f : n;
    }
    // aligned_alloc wants a multiple of the alignment.
    return aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
}

fnn_status fnn_net_reserve(fnn_net *net, int batch_size) {
    if (batch_size <= 0) {
        return FNN_ERR_INVALID;
    }
    if (net->opt.dtype == FNN_F32 && !net->gemm_pack) {
        net->gemm_pack = fnn_net_alloc_pack(net);
        if (!net->gemm_pack) {
            return FNN_ERR_NOMEM;
        }
    }
    if (batch_size <= net->ws_batch) {
        return FNN_OK;
    }
    free_workspace(net);
    const fnn_net_options *o = &net->opt;
    size_t rows = (size_t)batch_size;
    int width = 0;
    for (int l = 0; l <= o->n_layers; l++) {
        width = o->sizes[l] > width ? o->sizes[l] : width;
    }
    int ok = 1;
    net->x_norm = malloc(rows * (size_t)o->sizes[0] * net->elem);
    net->dz = malloc(rows * (size_t)width * net->elem);
    net->da = malloc(rows * (size_t)width * net->elem);
    ok = net->x_norm && net->dz && net->da;
    for (int l = 0; ok && l < o->n_layers; l++) {
        size_t n = rows * (size_t)o->sizes[l + 1] * net->elem;
        net->z[l] = malloc(n);
        net->act[l] = malloc(n);
        ok = net->z[l] && net->act[l];
        if (ok && l < o->n_layers - 1 && o->keep_prob < 1) {
            net->drop[l] = malloc(n);
            net->mask[l] = malloc(n);
            ok = net->drop[l] && net->mask[l];
        }
    }
    if (!ok) {
        free_workspace(net);
        return FNN_ERR_NOMEM;
    }
    net->ws_batch = batch_size;
    net->max_width = width;
    return FNN_OK;
}

fnn_net *fnn_net_clone(const fnn_net *net, fnn_dtype dtype,
                       fnn_status *status) {
    if (!net) {
        fnn_set_status(status, FNN_ERR_INVALID);
        return NULL;
    }
    fnn_net_options o = net->opt;
    o.dtype = dtype;
    fnn_net *copy = fnn_net_alloc(&o, status);
    if (!copy) {
        return NULL;
    }
    memcpy(copy->layer_init, net->layer_init, sizeof net->layer_init);
    copy->rng_dropout = net->rng_dropout;
    copy->rng_shuffle = net->rng_shuffle;
    if (net->training_json) {
        copy->training_json = fnn_strdup(net->training_json);
        if (!copy->training_json) {
            fnn_net_free(copy);
            fnn_set_status(status, FNN_ERR_NOMEM);
            return NULL;
        }
    }
    for (int64_t i = 0; i < net->n_params; i++) {
        double v = net->opt.dtype == FNN_F64 ? ((double *)net->params)[i]
                                             : ((float *)net->params)[i];
        if (dtype == FNN_F64) {
            ((double *)copy->params)[i] = v;
        } else {
            ((float *)copy->params)[i] = (float)v;
        }
    }
    if (net->norm_mean) {
        fnn_status s = fnn_net_set_normalization(copy, net->norm_mean,
                                                 net->norm_std);
        if (s != FNN_OK) {
            fnn_net_free(copy);
            fnn_set_status(status, s);
            return NULL;
        }
    }
    fnn_set_status(status, FNN_OK);
    return copy;
}

const fnn_net_options *fnn_net_get_options(const fnn_net *net) {
    return &net->opt;
}

fnn_init fnn_net_layer_init(const fnn_net *net, int l) {
    return l >= 0 && l < net->opt.n_layers ? net->layer_init[l]
                                           : FNN_INIT_AUTO;
}

int64_t fnn_net_param_count(const fnn_net *net) {
    return net->n_params;
}

void *fnn_net_params(fnn_net *net) {
    return net->params;
}

void *fnn_net_grads(fnn_net *net) {
    return net->grads;
}

int64_t fnn_net_weight_offset(const fnn_net *net, int l) {
    return l >= 0 && l < net->opt.n_layers ? net->w_off[l] : -1;
}

int64_t fnn_net_bias_offset(const fnn_net *net, int l) {
    return l >= 0 && l < net->opt.n_layers ? net->b_off[l] : -1;
}

fnn_status fnn_net_set_normalization(fnn_net *net, const double *mean,
                                     const double *std) {
    if (!net) {
        return FNN_ERR_INVALID;
    }
    if (!mean || !std) {
        free(net->norm_mean);
        free(net->norm_std);
        net->norm_mean = net->norm_std = NULL;
        return FNN_OK;
    }
    int n = net->opt.sizes[0];
    for (int j = 0; j < n; j++) {
        if (!isfinite(mean[j]) || !isfinite(std[j]) || std[j] < 0) {
            return FNN_ERR_INVALID;
        }
    }
    double *m = malloc((size_t)n * sizeof(double));
    double *s = malloc((size_t)n * sizeof(double));
    if (!m || !s) {
        free(m);
        free(s);
        return FNN_ERR_NOMEM;
    }
    for (int j = 0; j < n; j++) {
        m[j] = mean[j];
        s[j] = std[j] > 0 ? std[j] : 1.0;
    }
    free(net->norm_mean);
    free(net->norm_std);
    net->norm_mean = m;
    net->norm_std = s;
    return FNN_OK;
}

const double *fnn_net_norm_mean(const fnn_net *net) {
    return net->norm_mean;
}

const double *fnn_net_norm_std(const fnn_net *net) {
    return net->norm_std;
}

void fnn_net_normalize_row(const fnn_net *net, const double *row,
                           double *out) {
    int n = net->opt.sizes[0];
    for (int j = 0; j < n; j++) {
        out[j] = net->norm_mean ? (row[j] - net->norm_mean[j]) /
                                      net->norm_std[j]
                                : row[j];
    }
}

fnn_status fnn_net_set_keep_prob(fnn_net *net, double keep_prob) {
    if (!net || !(keep_prob > 0) || !(keep_prob <= 1)) {
        return FNN_ERR_INVALID;
    }
    if (keep_prob < 1 && net->opt.keep_prob >= 1) {
        // Mask buffers exist only when dropout was on at reservation time.
        free_workspace(net);
    }
    net->opt.keep_prob = keep_prob;
    net->mask_valid = 0;
    return FNN_OK;
}

fnn_status fnn_net_set_l2(fnn_net *net, double l2) {
    if (!net || !(l2 >= 0) || !isfinite(l2)) {
        return FNN_ERR_INVALID;
    }
    net->opt.l2 = l2;
    return FNN_OK;
}

const void *fnn_net_preactivation(const fnn_net *net, int l) {
    return l >= 0 && l < net->opt.n_layers ? net->z[l] : NULL;
}

const void *fnn_net_activation(const fnn_net *net, int l) {
    return l >= 0 && l < net->opt.n_layers ? net->act[l] : NULL;
}
