// Checkpoints, resume and signal handling for fastnn train.
#include "train_checkpoint.h"

#include "cli.h"

#include <cJSON.h>
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

static volatile sig_atomic_t received_signal;

static void on_signal(int signo) {
    received_signal = signo;
}

void ckpt_install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    // SA_RESETHAND: the first signal stops training cleanly, a second one
    // terminates at once.
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void ckpt_restore_signals(void) {
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

int ckpt_signal_received(void) {
    return (int)received_signal;
}

int ckpt_parse_every(const char *text, int64_t *epochs, int64_t *steps) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    int by_steps = *end == 's' && end[1] == '\0';
    if (end == text || errno || v < 1 || (*end != '\0' && !by_steps)) {
        cli_error("invalid value \"%s\" for --checkpoint-every: expected N "
                  "(epochs) or Ns (steps), N >= 1",
                  text);
        return -1;
    }
    *epochs = by_steps ? 0 : v;
    *steps = by_steps ? v : 0;
    return 0;
}

int ckpt_on_batch(void *user, int epoch, int64_t batch, int64_t n_batches,
                  double loss) {
    ckpt_run *c = user;
    if (c->inner.on_batch &&
        c->inner.on_batch(c->inner.user, epoch, batch, n_batches, loss)) {
        return 1;
    }
    if (c->every_steps > 0) {
        int64_t step = (int64_t)(epoch - 1) * n_batches + batch;
        c->due = step % c->every_steps == 0;
    }
    return received_signal || c->due;
}

int ckpt_on_epoch(void *user, const fnn_epoch_report *r) {
    ckpt_run *c = user;
    if (c->inner.on_epoch && c->inner.on_epoch(c->inner.user, r)) {
        return 1;
    }
    if (c->every_epochs > 0) {
        c->due = r->epoch % c->every_epochs == 0;
    }
    return received_signal || c->due;
}

static int save(fnn_trainer *t, const ckpt_run *c) {
    fnn_error err = {{0}};
    if (fnn_checkpoint_save(t, c->path, c->config, &err) != FNN_OK) {
        cli_error("%s: the previous checkpoint, if any, is unchanged",
                  err.message);
        return -1;
    }
    return 0;
}

static int stop_for_signal(fnn_trainer *t, const ckpt_run *c, int signo) {
    fnn_train_position p = fnn_trainer_position(t);
    const char *name = signo == SIGINT ? "SIGINT" : "SIGTERM";
    if (save(t, c) != 0) {
        return CLI_EXIT_USAGE;
    }
    fprintf(stderr,
            "fastnn: stopped by %s after step %lld (epoch %d, batch "
            "%lld of %lld); checkpoint written to %s\n"
            "fastnn: resume with: fastnn train --resume %s\n",
            name, (long long)p.step, p.epoch + 1, (long long)p.batch,
            (long long)p.n_batches, c->path, c->path);
    return 128 + signo;
}

int ckpt_train(fnn_trainer *t, ckpt_run *c) {
    int periodic = c->every_epochs > 0 || c->every_steps > 0;
    // The first checkpoint also proves that the path is writable before
    // any training time is spent.
    if (periodic && save(t, c) != 0) {
        return CLI_EXIT_USAGE;
    }
    for (;;) {
        fnn_error err = {{0}};
        c->due = 0;
        fnn_status s = fnn_trainer_run(t, &err);
        int signo = ckpt_signal_received();
        if (s == FNN_OK) {
            return periodic && save(t, c) != 0 ? CLI_EXIT_USAGE : -1;
        }
        if (s == FNN_ERR_INTERRUPTED && signo) {
            return stop_for_signal(t, c, signo);
        }
        if (s == FNN_ERR_INTERRUPTED && c->due) {
            if (save(t, c) != 0) {
                return CLI_EXIT_USAGE;
            }
            continue;
        }
        cli_error("%s", err.message);
        if (s == FNN_ERR_NONFINITE && periodic) {
            fprintf(stderr, "fastnn: the last good checkpoint, %s, is kept\n",
                    c->path);
        }
        return cli_exit_for(s);
    }
}

char *ckpt_args_json(int argc, char **argv) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 1; a && i < argc; i++) {
        if (strcmp(argv[i], "--resume") == 0) {
            i++;
            continue;
        }
        if (strncmp(argv[i], "--resume=", 9) == 0) {
            continue;
        }
        cJSON_AddItemToArray(a, cJSON_CreateString(argv[i]));
    }
    char *text = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return text;
}

// Options that a resumed run may set again: where files go and how progress
// is shown. Everything else would change the result.
static int may_override(const char *arg) {
    static const char *const NAMES[] = {
        "out", "checkpoint", "checkpoint-every", "json", "log", "resume",
    };
    const char *name = arg + 2;
    size_t len = strcspn(name, "=");
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
        if (strlen(NAMES[i]) == len && strncmp(NAMES[i], name, len) == 0) {
            return 1;
        }
    }
    return 0;
}

static int check_overrides(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0) {
            continue; // an option's value
        }
        if (!may_override(argv[i])) {
            cli_error("%s cannot be combined with --resume: the checkpoint "
                      "fixes the configuration; only --out, --checkpoint, "
                      "--checkpoint-every, --json and --log may be given",
                      argv[i]);
            return -1;
        }
    }
    return 0;
}

void ckpt_free_args(char **args, int n) {
    for (int i = 0; args && i < n; i++) {
        free(args[i]);
    }
    free(args);
}

// Appends strdup(s) to args; returns -1 when out of memory.
static int push(char **args, int *n, const char *s) {
    args[*n] = strdup(s);
    return args[(*n)++] ? 0 : -1;
}

int ckpt_resume_args(const char *path, int argc, char **argv, char ***out) {
    if (check_overrides(argc, argv) != 0) {
        return -1;
    }
    fnn_error err = {{0}};
    fnn_status s;
    char *config = fnn_checkpoint_read_config(path, &err, &s);
    if (!config) {
        cli_error("%s", err.message);
        return -1;
    }
    cJSON *stored = cJSON_Parse(config);
    free(config);
    int n_stored = cJSON_IsArray(stored) ? cJSON_GetArraySize(stored) : -1;
    char **args = n_stored >= 0 ? calloc((size_t)(n_stored + argc + 1),
                                         sizeof *args)
                                : NULL;
    int n = 0;
    int ok = args && push(args, &n, argv[0]) == 0;
    for (int i = 0; ok && i < n_stored; i++) {
        const cJSON *v = cJSON_GetArrayItem(stored, i);
        ok = cJSON_IsString(v) && push(args, &n, v->valuestring) == 0;
    }
    for (int i = 1; ok && i < argc; i++) {
        if (strcmp(argv[i], "--resume") == 0) {
            i++;
        } else if (strncmp(argv[i], "--resume=", 9) != 0) {
            ok = push(args, &n, argv[i]) == 0;
        }
    }
    cJSON_Delete(stored);
    if (!ok) {
        cli_error("%s: the stored command line is not a list of strings: "
                  "the checkpoint was not written by fastnn train",
                  path);
        ckpt_free_args(args, n);
        return -1;
    }
    *out = args;
    return n;
}

const char *ckpt_find_resume(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--resume") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strncmp(argv[i], "--resume=", 9) == 0) {
            path = argv[i] + 9;
        }
    }
    return path;
}

int ckpt_check_space(const char *path, int64_t bytes, const char *what) {
    char *copy = strdup(path);
    struct statvfs fs;
    int ok = copy && statvfs(dirname(copy), &fs) == 0;
    if (ok && (uint64_t)fs.f_bavail * fs.f_frsize < (uint64_t)bytes) {
        cli_error("cannot write %s: %llu bytes are free there, but the %s "
                  "needs about %lld: free some space or choose another path",
                  path, (unsigned long long)fs.f_bavail * fs.f_frsize, what,
                  (long long)bytes);
        free(copy);
        return 0;
    }
    free(copy);
    // statvfs failing leaves the check to the write itself.
    return 1;
}
