// Replays the fuzz seed corpora (fuzz/corpus/<target>/) and every input that
// once crashed or hung a reader (fuzz/regressions/<target>/) through the
// same target functions that libFuzzer runs. A memory error shows under the
// sanitizer build; here every seed must give the expected result: seeds
// named reject_* are rejected with a message, all others are read.
#define FUZZ_NO_MAIN
#include "../fuzz/fuzz_checkpoint.c"
#include "../fuzz/fuzz_csv.c"
#include "../fuzz/fuzz_idx.c"
#include "../fuzz/fuzz_model.c"
#include "../fuzz/fuzz_npy.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

static unsigned char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

// Runs fn on every file in FNN_SOURCE_DIR/fuzz/<kind>/<target>; with
// check_seeds, also checks each file's expected result. Returns the count.
static int replay(const char *kind, const char *target, fuzz_fn fn,
                  int check_seeds) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/fuzz/%s/%s", FNN_SOURCE_DIR, kind, target);
    DIR *d = opendir(dir);
    if (!d) {
        return 0;
    }
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t size = 0;
        unsigned char *data = read_all(path, &size);
        fn(data, size);
        free(data);
        int want = strncmp(e->d_name, "reject_", 7) != 0;
        if (check_seeds && fuzz_last_accepted != want) {
            fail_msg("%s: %s, expected %s", path,
                     fuzz_last_accepted ? "accepted" : "rejected",
                     want ? "accepted" : "rejected");
        }
        n++;
    }
    closedir(d);
    return n;
}

static void check_target(const char *target, fuzz_fn fn) {
    int seeds = replay("corpus", target, fn, 1);
    if (seeds < 3) {
        fail_msg("fuzz/corpus/%s holds %d seeds, expected at least 3", target,
                 seeds);
    }
    replay("regressions", target, fn, 0);
}

static void idx_inputs(void **state) {
    (void)state;
    check_target("idx", fuzz_idx);
}

static void csv_inputs(void **state) {
    (void)state;
    check_target("csv", fuzz_csv);
}

static void npy_inputs(void **state) {
    (void)state;
    check_target("npy", fuzz_npy);
}

static void model_inputs(void **state) {
    (void)state;
    check_target("model", fuzz_model);
}

static void checkpoint_inputs(void **state) {
    (void)state;
    check_target("checkpoint", fuzz_checkpoint);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idx_inputs),   cmocka_unit_test(csv_inputs),
        cmocka_unit_test(npy_inputs),   cmocka_unit_test(model_inputs),
        cmocka_unit_test(checkpoint_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
