// Data-parallel training steps: a persistent pool of worker threads per
// network runs the forward and backward pass of each contiguous block of
// the batch's rows with single-threaded BLAS, then sums the per-block
// gradients in block order.
//
// Each block works on a replica of the network: a copy of the struct with a
// gradient vector of its own and work buffers that point at the block's
// rows of the network's buffers. All those buffers are row-major
// [ws_batch, width], so a block of rows is one contiguous range. After a
// step the network's pre-activations, activations and masks therefore
// contain the whole batch, as after a single-threaded pass, and only the
// reduction writes the network's gradient.
#include "kernels.h"
#include "net_internal.h"
#include "sgemm.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

// How long an idle thread polls for the next job before it sleeps on a
// condition variable, in nanoseconds. Between two jobs of a step the main
// thread works alone for up to tens of microseconds (the dropout masks, the
// step's bookkeeping), about what a wake-up from sleep costs, so a short
// poll covers that gap.
// Longer polls measured slower on a busy machine: the polling thread takes
// CPU time from the other processes and from its own turn.
#define SPIN_NS 50000

// Which thread runs a block of a job does not change its result, so blocks
// are handed to whichever thread claims them first: when the other threads are
// slow to wake or descheduled on a busy machine, the calling thread runs
// their blocks itself.
typedef fnn_pool_task pool_task;

typedef struct pool_worker {
    struct fnn_pool *pool;
    pthread_t tid;
} pool_worker;

struct fnn_pool {
    int n_threads;
    int n_started; // workers whose thread was created
    pthread_mutex_t mutex;
    pthread_cond_t wake; // generation moved or stop set
    pthread_cond_t done; // every block of the job finished
    atomic_uint generation; // incremented once per job
    // The job's blocks in one word, so a thread never claims a block of a
    // job with another job's count: generation << 32 | n_blocks << 16 |
    // next block to claim.
    _Atomic uint64_t work;
    atomic_int finished; // blocks of the current job finished
    atomic_int stop;
    _Atomic(pool_task) task;
    _Atomic(void *) arg;
    pool_worker workers[FNN_MAX_THREADS];
    fnn_net *replicas[FNN_MAX_THREADS]; // [n_threads], one per row block
    void *grads[FNN_MAX_THREADS];       // [n_threads][n_params]
    float *pack[FNN_MAX_THREADS];       // fnn_sgemm buffers, float32 only
    // Every layer's W^T packed once per pass and read by all row blocks:
    // float32 with the AVX-512 kernel only, else NULL.
    float *wt;
    size_t wt_off[FNN_MAX_LAYERS]; // floats before layer l's part of wt
    // Results of the row blocks in the current pass.
    fnn_status status[FNN_MAX_THREADS];
    double loss[FNN_MAX_THREADS];
    atomic_int nonfinite; // a reduced chunk held a non-finite value
};

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e9 * (double)ts.tv_sec + (double)ts.tv_nsec;
}

static void cpu_relax(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_ia32_pause();
#endif
}

// Returns the generation after `seen`, polling for SPIN_NS, then sleeping.
static unsigned wait_for_job(fnn_pool *p, unsigned seen) {
    double deadline = now_ns() + SPIN_NS;
    for (int i = 1;; i++) {
        unsigned g = atomic_load(&p->generation);
        if (g != seen || atomic_load(&p->stop)) {
            return g;
        }
        if (i % 64 == 0 && now_ns() > deadline) {
            break;
        }
        cpu_relax();
    }
    pthread_mutex_lock(&p->mutex);
    while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop)) {
        pthread_cond_wait(&p->wake, &p->mutex);
    }
    unsigned g = atomic_load(&p->generation);
    pthread_mutex_unlock(&p->mutex);
    return g;
}

// Claims and runs blocks of job `gen` until none is left. A claim succeeds
// only while the job is current, and the caller of pool_run cannot start
// the next job before every claimed block has finished, so task and arg
// read after a claim belong to that job.
static void run_blocks(fnn_pool *p, unsigned gen) {
    uint64_t w = atomic_load(&p->work);
    for (;;) {
        int next = (int)(w & 0xffff);
        int n_blocks = (int)((w >> 16) & 0xffff);
        if ((unsigned)(w >> 32) != gen || next >= n_blocks) {
            return;
        }
        if (!atomic_compare_exchange_weak(&p->work, &w, w + 1)) {
            continue; // w is now the current word
        }
        pool_task task = atomic_load(&p->task);
        task(atomic_load(&p->arg), next);
        if (atomic_fetch_add(&p->finished, 1) + 1 == n_blocks) {
            pthread_mutex_lock(&p->mutex);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mutex);
        }
        w = atomic_load(&p->work);
    }
}

static void *worker_main(void *arg) {
    pool_worker *w = arg;
    fnn_pool *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_job(p, seen);
        if (atomic_load(&p->stop)) {
            break;
        }
        run_blocks(p, seen);
    }
    return NULL;
}

// Runs task(arg, b) for every block b in [0, n_blocks), on the caller and
// the workers, and returns when all have finished.
static void pool_run(fnn_pool *p, pool_task task, void *arg, int n_blocks) {
    FNN_ASSERT(n_blocks >= 1 && n_blocks <= 0xffff);
    unsigned gen = atomic_load(&p->generation) + 1;
    atomic_store(&p->task, task);
    atomic_store(&p->arg, arg);
    atomic_store(&p->finished, 0);
    atomic_store(&p->work, (uint64_t)gen << 32 | (uint64_t)n_blocks << 16);
    pthread_mutex_lock(&p->mutex);
    atomic_store(&p->generation, gen);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    run_blocks(p, gen);
    double deadline = now_ns() + SPIN_NS;
    for (int i = 1; atomic_load(&p->finished) != n_blocks; i++) {
        if (i % 64 == 0 && now_ns() > deadline) {
            pthread_mutex_lock(&p->mutex);
            while (atomic_load(&p->finished) != n_blocks) {
                pthread_cond_wait(&p->done, &p->mutex);
            }
            pthread_mutex_unlock(&p->mutex);
            break;
        }
        cpu_relax();
    }
}

void fnn_net_parallel_for(fnn_net *net, fnn_pool_task task, void *arg,
                          int n_blocks) {
    if (!net->pool) {
        for (int b = 0; b < n_blocks; b++) {
            task(arg, b);
        }
        return;
    }
    pool_run(net->pool, task, arg, n_blocks);
}

void fnn_pool_free(fnn_pool *p) {
    if (!p) {
        return;
    }
    pthread_mutex_lock(&p->mutex);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    for (int t = 1; t <= p->n_started; t++) {
        pthread_join(p->workers[t].tid, NULL);
    }
    for (int t = 0; t < p->n_threads; t++) {
        free(p->replicas[t]);
        free(p->grads[t]);
        free(p->pack[t]);
    }
    free(p->wt);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mutex);
    free(p);
}

static fnn_pool *pool_create(const fnn_net *net, int n_threads) {
    fnn_pool *p = calloc(1, sizeof *p);
    if (!p) {
        return NULL;
    }
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    int ok = 1;
    for (int t = 0; ok && t < n_threads; t++) {
        p->replicas[t] = malloc(sizeof *p->replicas[t]);
        p->grads[t] = malloc((size_t)net->n_params * net->elem);
        p->pack[t] = fnn_net_alloc_pack(net);
        ok = p->replicas[t] && p->grads[t] &&
             (p->pack[t] || net->opt.dtype != FNN_F32);
    }
    if (ok && net->opt.dtype == FNN_F32 && fnn_sgemm_uses_kernel()) {
        size_t total = 0;
        for (int l = 0; l < net->opt.n_layers; l++) {
            p->wt_off[l] = total;
            total += fnn_sgemm_packed_floats(net->opt.sizes[l + 1],
                                             net->opt.sizes[l]);
        }
        // Each layer's part starts on a 64-byte line: its size is a
        // multiple of 16 floats.
        p->wt = aligned_alloc(64, total * sizeof(float));
        ok = p->wt != NULL;
    }
    for (int t = 1; ok && t < n_threads; t++) {
        p->workers[t] = (pool_worker){.pool = p};
        ok = pthread_create(&p->workers[t].tid, NULL, worker_main,
                            &p->workers[t]) == 0;
        p->n_started += ok;
    }
    if (!ok) {
        fnn_pool_free(p);
        return NULL;
    }
    return p;
}

fnn_status fnn_net_set_threads(fnn_net *net, int n_threads) {
    if (!net || n_threads < 1 || n_threads > FNN_MAX_THREADS) {
        return FNN_ERR_INVALID;
    }
    if (n_threads == fnn_net_threads(net)) {
        return FNN_OK;
    }
    fnn_pool_free(net->pool);
    net->pool = NULL;
    net->n_threads = 1;
    if (n_threads == 1) {
        return FNN_OK;
    }
    net->pool = pool_create(net, n_threads);
    if (!net->pool) {
        return FNN_ERR_NOMEM;
    }
    net->n_threads = n_threads;
    return FNN_OK;
}

int fnn_net_threads(const fnn_net *net) {
    return net && net->n_threads > 1 ? net->n_threads : 1;
}

// One training pass split into `used` row blocks.
typedef struct pass_job {
    fnn_net *net;
    const char *x; // [batch, n_in]
    const char *y; // [batch] or [batch, n_out]
    size_t x_row;  // bytes per row of x
    size_t y_row;  // bytes per row of y
    int batch;
    int used;
    fnn_dropout_mode dropout;
    int shared_wt; // the blocks multiply by the pool's packed W^T
    fnn_fill_rows fill; // writes a block's rows of x and y, or NULL
    void *fill_arg;
} pass_job;

// First row and row count of block t: the first batch % used blocks get
// one row more.
static void thread_rows(int batch, int used, int t, int *first, int *rows) {
    int base = batch / used;
    int extra = batch % used;
    *rows = base + (t < extra);
    *first = t * base + (t < extra ? t : extra);
}

static void *row_view(void *buf, int64_t row, int width, size_t elem) {
    return buf ? (char *)buf + (size_t)(row * width) * elem : NULL;
}

// Makes replica rep a view of rows [first, first + rows) of net's work
// buffers with its own gradient vector. The loss and the L2 gradient are
// divided by the whole batch; only block 0 adds the L2 gradient.
static void make_replica(fnn_net *rep, const fnn_net *net, void *grads,
                         int first, int rows, int batch, int with_l2) {
    const fnn_net_options *o = &net->opt;
    memcpy(rep, net, sizeof *rep);
    rep->grads = grads;
    rep->pool = NULL;
    rep->n_threads = 1;
    rep->cost_rows = batch;
    rep->opt.l2 = with_l2 ? o->l2 : 0;
    rep->ws_batch = rows;
    rep->x_norm = row_view(net->x_norm, first, o->sizes[0], net->elem);
    rep->dz = row_view(net->dz, first, net->max_width, net->elem);
    rep->da = row_view(net->da, first, net->max_width, net->elem);
    for (int l = 0; l < o->n_layers; l++) {
        int w = o->sizes[l + 1];
        rep->z[l] = row_view(net->z[l], first, w, net->elem);
        rep->act[l] = row_view(net->act[l], first, w, net->elem);
        rep->drop[l] = row_view(net->drop[l], first, w, net->elem);
        rep->mask[l] = row_view(net->mask[l], first, w, net->elem);
    }
}

// Packs 16-column strip `strip` (counted over all layers in order) of the
// layers' W^T into the pool's shared buffer.
static void pack_task(void *arg, int strip) {
    fnn_net *net = arg;
    const fnn_net_options *o = &net->opt;
    int l = 0;
    int strips = (o->sizes[1] + 15) / 16;
    while (strip >= strips) {
        strip -= strips;
        l++;
        strips = (o->sizes[l + 1] + 15) / 16;
    }
    const float *w = (const float *)net->params + net->w_off[l];
    fnn_sgemm_pack_bt(o->sizes[l + 1], o->sizes[l], w, o->sizes[l],
                      16 * strip, 16 * strip + 16,
                      net->pool->wt + net->pool->wt_off[l]);
}

static int pack_strips(const fnn_net *net) {
    int n = 0;
    for (int l = 0; l < net->opt.n_layers; l++) {
        n += (net->opt.sizes[l + 1] + 15) / 16;
    }
    return n;
}

static void pass_task(void *arg, int t) {
    pass_job *job = arg;
    fnn_pool *p = job->net->pool;
    int first, rows;
    thread_rows(job->batch, job->used, t, &first, &rows);
    fnn_net *rep = p->replicas[t];
    make_replica(rep, job->net, p->grads[t], first, rows, job->batch, t == 0);
    rep->gemm_pack = p->pack[t];
    for (int l = 0; l < job->net->opt.n_layers; l++) {
        rep->packed_wt[l] = job->shared_wt ? p->wt + p->wt_off[l] : NULL;
    }
    p->loss[t] = 0;
    if (job->fill) {
        job->fill(job->fill_arg, first, rows);
    }
    fnn_status s = fnn_net_forward(rep, job->x + (size_t)first * job->x_row,
                                   rows, job->dropout, 1);
    if (s == FNN_OK) {
        s = fnn_net_loss(rep, job->y + (size_t)first * job->y_row, rows,
                         &p->loss[t], NULL, 1);
    }
    if (s == FNN_OK) {
        fnn_net_backward(rep, rows);
    }
    p->status[t] = s;
}

// Draws every hidden layer's mask for the whole batch from the network's
// generator with the formula of the single-threaded forward pass. The draws
// run in its order too (layer by layer, row-major within a layer), so the
// blocks apply the masks that one thread would have drawn.
static void sample_masks(fnn_net *net, int batch) {
    const fnn_net_options *o = &net->opt;
    double keep = o->keep_prob;
    for (int l = 0; l < o->n_layers - 1; l++) {
        int64_t n = (int64_t)batch * o->sizes[l + 1];
        if (o->dtype == FNN_F64) {
            double *mask = net->mask[l];
            double scale = 1.0 / keep;
            for (int64_t i = 0; i < n; i++) {
                mask[i] = fnn_rng_uniform(&net->rng_dropout) < keep ? scale
                                                                    : 0;
            }
        } else {
            float *mask = net->mask[l];
            float scale = (float)(1.0 / keep);
            for (int64_t i = 0; i < n; i++) {
                mask[i] = fnn_rng_uniform(&net->rng_dropout) < keep ? scale
                                                                    : 0;
            }
        }
    }
    net->mask_valid = 1;
}

// The reduction runs in chunks of this many 64-byte lines (16 float32
// values each), so threads share it out as they come free.
#define REDUCE_LINES 2048

typedef struct reduce_job {
    fnn_net *net;
    int used; // row blocks of the pass
} reduce_job;

// out = a + b over n values. The fixed-length inner loop and restrict let
// the compiler vectorize at -O2 (its cheap cost model needs both); the sums
// are the same either way.
static void add_f32(float *restrict out, const float *restrict a,
                    const float *restrict b, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int j = 0; j < 16; j++) {
            out[i + j] = a[i + j] + b[i + j];
        }
    }
    for (; i < n; i++) {
        out[i] = a[i] + b[i];
    }
}

// out += b over n values, vectorized as add_f32.
static void accumulate_f32(float *restrict out, const float *restrict b,
                           int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int j = 0; j < 16; j++) {
            out[i + j] += b[i + j];
        }
    }
    for (; i < n; i++) {
        out[i] += b[i];
    }
}

// out = ((g0 + g1) + g2) + ... over [begin, end) of the vectors.
static void reduce_f32(float *out, void *const *g, int used, int64_t begin,
                       int64_t end) {
    const float *g0 = (const float *)g[0] + begin;
    out += begin;
    if (used == 1) {
        memcpy(out, g0, (size_t)(end - begin) * sizeof(float));
        return;
    }
    add_f32(out, g0, (const float *)g[1] + begin, end - begin);
    for (int u = 2; u < used; u++) {
        accumulate_f32(out, (const float *)g[u] + begin, end - begin);
    }
}

static void reduce_f64(double *out, void *const *g, int used, int64_t begin,
                       int64_t end) {
    for (int64_t i = begin; i < end; i++) {
        double sum = ((const double *)g[0])[i];
        for (int u = 1; u < used; u++) {
            sum += ((const double *)g[u])[i];
        }
        out[i] = sum;
    }
}

// Values per chunk: REDUCE_LINES lines, more for vectors so long that the
// chunk count would not fit the 16 bits of a job's block count.
static int64_t reduce_chunk(const fnn_net *net) {
    int64_t per_line = 64 / (int64_t)net->elem;
    int64_t lines = (net->n_params + per_line - 1) / per_line;
    int64_t min_lines = (lines + 0xfffe) / 0xffff;
    return (min_lines > REDUCE_LINES ? min_lines : REDUCE_LINES) * per_line;
}

// Chunks of whole 64-byte lines, so no two threads write one line.
static void reduce_task(void *arg, int chunk) {
    reduce_job *job = arg;
    fnn_net *net = job->net;
    fnn_pool *p = net->pool;
    int64_t begin = chunk * reduce_chunk(net);
    int64_t end = begin + reduce_chunk(net);
    end = end < net->n_params ? end : net->n_params;
    if (net->opt.dtype == FNN_F64) {
        reduce_f64(net->grads, p->grads, job->used, begin, end);
    } else {
        reduce_f32(net->grads, p->grads, job->used, begin, end);
        // The chunk was just written, so this reads it from the cache.
        if (!fnn_all_finite_f32((const float *)net->grads + begin,
                                end - begin)) {
            atomic_store(&p->nonfinite, 1);
        }
    }
}

// Returns the first failure in block order, a non-finite loss only when no
// block failed otherwise.
static fnn_status merge_status(const fnn_pool *p, int used) {
    fnn_status s = FNN_OK;
    for (int t = 0; t < used; t++) {
        if (p->status[t] != FNN_OK && p->status[t] != FNN_ERR_NONFINITE) {
            return p->status[t];
        }
        if (p->status[t] != FNN_OK) {
            s = p->status[t];
        }
    }
    return s;
}

static fnn_status parallel_pass(fnn_net *net, const void *x, const void *y,
                                int batch, fnn_fill_rows fill, void *fill_arg,
                                double *loss_sum, int *grads_finite) {
    const fnn_net_options *o = &net->opt;
    fnn_status s = fnn_net_reserve(net, batch);
    if (s != FNN_OK) {
        return s;
    }
    int k = o->sizes[o->n_layers];
    int use_dropout = o->keep_prob < 1.0;
    pass_job job = {
        .net = net, .x = x, .y = y, .batch = batch,
        .x_row = (size_t)o->sizes[0] * net->elem,
        .y_row = (o->loss == FNN_LOSS_SOFTMAX_CE ? 1 : (size_t)k) * net->elem,
        .used = batch < net->n_threads ? batch : net->n_threads,
        .dropout = use_dropout ? FNN_DROPOUT_FREEZE : FNN_DROPOUT_OFF,
        .fill = fill, .fill_arg = fill_arg,
    };
    if (use_dropout) {
        sample_masks(net, batch);
    }
    net->input = x;
    net->dropout_used = use_dropout;
    int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    // Blocks of larger row counts multiply by one W^T packed for all of
    // them. Smaller blocks pack only their own rows (see sgemm.h), which
    // measured faster.
    int shared_wt = net->pool->wt && (batch + job.used - 1) / job.used >
                                         FNN_SGEMM_XT_MAX_ROWS;
    if (shared_wt) {
        pool_run(net->pool, pack_task, net, pack_strips(net));
    }
    job.shared_wt = shared_wt;
    pool_run(net->pool, pass_task, &job, job.used);
    s = merge_status(net->pool, job.used);
    if (s == FNN_OK) {
        reduce_job r = {net, job.used};
        int64_t chunks = (net->n_params + reduce_chunk(net) - 1) /
                         reduce_chunk(net);
        atomic_store(&net->pool->nonfinite, 0);
        pool_run(net->pool, reduce_task, &r, (int)chunks);
        if (grads_finite && o->dtype == FNN_F32) {
            *grads_finite = !atomic_load(&net->pool->nonfinite);
        }
    }
    openblas_set_num_threads(blas_threads);
    for (int t = 0; t < job.used; t++) {
        *loss_sum += net->pool->loss[t];
    }
    return s;
}

fnn_status fnn_net_train_pass(fnn_net *net, const void *x, const void *y,
                              int batch_size, fnn_fill_rows fill,
                              void *fill_arg, double *loss_sum,
                              int *grads_finite) {
    if (grads_finite) {
        *grads_finite = -1;
    }
    if (net->pool && batch_size > 1) {
        return parallel_pass(net, x, y, batch_size, fill, fill_arg, loss_sum,
                             grads_finite);
    }
    if (fill) {
        fill(fill_arg, 0, batch_size);
    }
    fnn_status s = fnn_net_forward(net, x, batch_size, FNN_DROPOUT_SAMPLE, 1);
    if (s == FNN_OK) {
        s = fnn_net_loss(net, y, batch_size, loss_sum, NULL, 1);
    }
    if (s == FNN_OK) {
        fnn_net_backward(net, batch_size);
    }
    return s;
}
