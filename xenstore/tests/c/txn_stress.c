/*
 * txn_stress: transaction read-modify-write increments from several processes through
 * Debian's libxenstore (xs_open honours XENSTORED_PATH). Every process adds ITERS to a
 * counter, retrying on EAGAIN as libxl does; at the end the counter must equal
 * PROCS * ITERS, otherwise an update was lost.
 *
 *   txn_stress [PROCS [ITERS [PATH]]]      exit 0 = no update lost
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenstore.h>

static int worker(const char *path, int iters, unsigned long *retries)
{
    struct xs_handle *h = xs_open(0);
    if (!h) {
        perror("xs_open");
        return 2;
    }
    for (int i = 0; i < iters; i++) {
        for (;;) {
            xs_transaction_t t = xs_transaction_start(h);
            if (t == XBT_NULL) {
                perror("xs_transaction_start");
                return 2;
            }
            unsigned int len;
            char *val = xs_read(h, t, path, &len);
            if (!val) {
                perror("xs_read");
                xs_transaction_end(h, t, true);
                return 2;
            }
            char buf[32];
            snprintf(buf, sizeof(buf), "%lu", strtoul(val, NULL, 10) + 1);
            free(val);
            if (!xs_write(h, t, path, buf, strlen(buf))) {
                perror("xs_write");
                xs_transaction_end(h, t, true);
                return 2;
            }
            if (xs_transaction_end(h, t, false))
                break;
            if (errno != EAGAIN) {
                perror("xs_transaction_end");
                return 2;
            }
            (*retries)++;
        }
    }
    xs_close(h);
    return 0;
}

int main(int argc, char **argv)
{
    int procs = argc > 1 ? atoi(argv[1]) : 4;
    int iters = argc > 2 ? atoi(argv[2]) : 200;
    const char *path = argc > 3 ? argv[3] : "/txn-stress/counter";

    struct xs_handle *h = xs_open(0);
    if (!h) {
        perror("xs_open (is XENSTORED_PATH set?)");
        return 2;
    }
    if (!xs_write(h, XBT_NULL, path, "0", 1)) {
        perror("xs_write initial");
        return 2;
    }
    for (int p = 0; p < procs; p++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            unsigned long retries = 0;
            int rc = worker(path, iters, &retries);
            fprintf(stderr, "worker %d: %lu EAGAIN retries\n", p, retries);
            _exit(rc);
        }
    }
    bool ok = true;
    for (int p = 0; p < procs; p++) {
        int st;
        if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            ok = false;
    }
    unsigned int len;
    char *val = xs_read(h, XBT_NULL, path, &len);
    unsigned long got = val ? strtoul(val, NULL, 10) : 0;
    unsigned long want = (unsigned long)procs * iters;
    printf("txn_stress: %d processes x %d increments: counter %lu, expected %lu\n", procs, iters, got, want);
    free(val);
    xs_close(h);
    if (!ok) {
        fprintf(stderr, "txn_stress: a worker failed\n");
        return 1;
    }
    if (got != want) {
        fprintf(stderr, "txn_stress: LOST %lu updates\n", want - got);
        return 1;
    }
    return 0;
}
