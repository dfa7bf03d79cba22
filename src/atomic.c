#include "model.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// Syncs the directory that holds `path`, so the rename itself is durable.
static void sync_parent(const char *path) {
    char *copy = fnn_strdup(path);
    if (!copy) {
        return;
    }
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

static fnn_status write_failed(const char *path, int e, fnn_error *err) {
    if (e == ENOSPC || e == EDQUOT) {
        return fnn_fail(err, FNN_ERR_IO,
                        "%s: write failed: %s: free some space or choose "
                        "another path",
                        path, strerror(e));
    }
    return fnn_fail(err, FNN_ERR_IO, "%s: write failed: %s", path,
                    strerror(e ? e : EIO));
}

// Writes straight into an existing file that is not a regular file (a
// device such as /dev/null or /dev/full, a FIFO): renaming a temporary file
// over it would replace the device node itself.
static fnn_status write_in_place(const char *path,
                                 int (*write)(FILE *, void *), void *ctx,
                                 fnn_error *err) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        return fnn_fail(err, FNN_ERR_IO, "%s: cannot open for writing: %s",
                        path, strerror(errno));
    }
    errno = 0;
    int ok = write(f, ctx) && fflush(f) == 0;
    int e = errno;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        return write_failed(path, e ? e : errno, err);
    }
    return FNN_OK;
}

fnn_status fnn_atomic_write(const char *path, int (*write)(FILE *, void *),
                            void *ctx, fnn_error *err) {
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        return write_in_place(path, write, ctx, err);
    }
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) {
        return fnn_fail(err, FNN_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return fnn_fail(err, FNN_ERR_IO, "%s: cannot create a file there: %s",
                        path, strerror(e));
    }
    // mkstemp creates the file with mode 0600; give it the usual 0644 less
    // the umask, as fopen would.
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return fnn_fail(err, FNN_ERR_IO, "%s: %s", path, strerror(e));
    }
    errno = 0;
    int ok = write(f, ctx);
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    ok = (fclose(f) == 0) && ok;
    if (ok && rename(tmp, path) != 0) {
        e = errno;
        ok = 0;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return write_failed(path, e, err);
    }
    free(tmp);
    sync_parent(path);
    return FNN_OK;
}
