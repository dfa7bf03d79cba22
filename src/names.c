// Names of the enumerations, as the CLI and the model file spell them.
#include "internal.h"

#include <string.h>

static const char *const ACTIVATION_NAMES[] = {
    "relu", "leaky_relu", "tanh", "sigmoid", "identity",
};
static const char *const LOSS_NAMES[] = {
    "softmax_cross_entropy", "sigmoid_binary_cross_entropy", "mse",
};
static const char *const INIT_NAMES[] = {
    "auto", "he", "he-uniform", "xavier", "xavier-uniform",
    "lecun", "small", "normal", "zeros",
};
static const char *const OPTIMIZER_NAMES[] = {"sgd", "momentum", "adam"};
static const char *const SCHEDULE_NAMES[] = {"constant", "step", "cosine"};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *name_at(const char *const *names, int n, int i) {
    return i >= 0 && i < n ? names[i] : "unknown";
}

static fnn_status parse_name(const char *const *names, int n,
                             const char *name, int *out) {
    if (!name) {
        return FNN_ERR_INVALID;
    }
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            *out = i;
            return FNN_OK;
        }
    }
    return FNN_ERR_INVALID;
}

const char *fnn_activation_name(fnn_activation a) {
    return name_at(ACTIVATION_NAMES, COUNT(ACTIVATION_NAMES), (int)a);
}

fnn_status fnn_activation_parse(const char *name, fnn_activation *out) {
    int i;
    if (name && strcmp(name, "leaky-relu") == 0) {
        name = "leaky_relu";
    }
    fnn_status s = parse_name(ACTIVATION_NAMES, COUNT(ACTIVATION_NAMES),
                              name, &i);
    if (s == FNN_OK) {
        *out = (fnn_activation)i;
    }
    return s;
}

const char *fnn_loss_name(fnn_loss l) {
    if (l == FNN_LOSS_AUTO) {
        return "auto";
    }
    return name_at(LOSS_NAMES, COUNT(LOSS_NAMES), (int)l);
}

fnn_status fnn_loss_parse(const char *name, fnn_loss *out) {
    static const struct {
        const char *alias;
        fnn_loss loss;
    } ALIASES[] = {
        {"auto", FNN_LOSS_AUTO},
        {"softmax", FNN_LOSS_SOFTMAX_CE},
        {"cross_entropy", FNN_LOSS_SOFTMAX_CE},
        {"sigmoid", FNN_LOSS_SIGMOID_BCE},
        {"bce", FNN_LOSS_SIGMOID_BCE},
    };
    for (int i = 0; name && i < COUNT(ALIASES); i++) {
        if (strcmp(name, ALIASES[i].alias) == 0) {
            *out = ALIASES[i].loss;
            return FNN_OK;
        }
    }
    int i;
    fnn_status s = parse_name(LOSS_NAMES, COUNT(LOSS_NAMES), name, &i);
    if (s == FNN_OK) {
        *out = (fnn_loss)i;
    }
    return s;
}

const char *fnn_init_name(fnn_init i) {
    return name_at(INIT_NAMES, COUNT(INIT_NAMES), (int)i);
}

fnn_status fnn_init_parse(const char *name, fnn_init *out) {
    int i;
    fnn_status s = parse_name(INIT_NAMES, COUNT(INIT_NAMES), name, &i);
    if (s == FNN_OK) {
        *out = (fnn_init)i;
    }
    return s;
}

const char *fnn_optimizer_name(fnn_optimizer o) {
    return name_at(OPTIMIZER_NAMES, COUNT(OPTIMIZER_NAMES), (int)o);
}

fnn_status fnn_optimizer_parse(const char *name, fnn_optimizer *out) {
    int i;
    fnn_status s = parse_name(OPTIMIZER_NAMES, COUNT(OPTIMIZER_NAMES), name,
                              &i);
    if (s == FNN_OK) {
        *out = (fnn_optimizer)i;
    }
    return s;
}

const char *fnn_schedule_name(fnn_schedule s) {
    return name_at(SCHEDULE_NAMES, COUNT(SCHEDULE_NAMES), (int)s);
}

fnn_status fnn_schedule_parse(const char *name, fnn_schedule *out) {
    int i;
    fnn_status s = parse_name(SCHEDULE_NAMES, COUNT(SCHEDULE_NAMES), name,
                              &i);
    if (s == FNN_OK) {
        *out = (fnn_schedule)i;
    }
    return s;
}

const char *fnn_dtype_name(fnn_dtype d) {
    return d == FNN_F64 ? "float64" : "float32";
}
