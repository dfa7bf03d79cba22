// Shared pieces of the fuzz targets. Each target is a function
// fuzz_<reader>(data, size) that feeds one input to a file reader through
// memory-backed files and returns 0. The libFuzzer build wraps it in
// LLVMFuzzerTestOneInput; tests/test_fuzz_regressions.c calls it directly to
// replay the seed corpora and every input that once crashed.
#ifndef FNN_FUZZ_INPUT_H
#define FNN_FUZZ_INPUT_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fastnn.h"

// A file in memory (memfd_create) with a path that fopen and gzopen accept.
typedef struct fuzz_file {
    int fd;
    char path[64];
} fuzz_file;

// Creates a memory-backed file holding data[0..size). Returns 0 on success.
static inline int fuzz_file_open(fuzz_file *f, const uint8_t *data, size_t size) {
    f->fd = memfd_create("fastnn-fuzz", 0);
    if (f->fd < 0) {
        return -1;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(f->fd, data + done, size - done);
        if (n <= 0) {
            close(f->fd);
            return -1;
        }
        done += (size_t)n;
    }
    snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
    return 0;
}

static inline void fuzz_file_close(fuzz_file *f) {
    close(f->fd);
}

// Splits an input into two files: the first two bytes (little-endian) give
// the length of the first file, clamped to what remains; the rest is the
// second file. Returns 0 on success.
static inline int fuzz_split(const uint8_t *data, size_t size, fuzz_file *a,
                      fuzz_file *b) {
    if (size < 2) {
        return -1;
    }
    size_t n = (size_t)data[0] | (size_t)data[1] << 8;
    data += 2;
    size -= 2;
    if (n > size) {
        n = size;
    }
    if (fuzz_file_open(a, data, n) != 0) {
        return -1;
    }
    if (fuzz_file_open(b, data + n, size - n) != 0) {
        fuzz_file_close(a);
        return -1;
    }
    return 0;
}

// Whether the last input was accepted by the reader, for the replay test.
static int fuzz_last_accepted;

// A rejection must come with a message; an empty one is a reader bug that
// the fuzzer should report, so it aborts.
static inline void fuzz_check_rejection(const void *result,
                                        const fnn_error *err) {
    fuzz_last_accepted = result != NULL;
    if (!result && err->message[0] == '\0') {
        fprintf(stderr, "reader rejected the input without a message\n");
        __builtin_trap();
    }
}

#endif
