/* Wraps one kernel (linked next to this file) for each way the benchmark runs it. */
unsigned kernel(void);
volatile unsigned kernel_sink;

#ifdef NATIVE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* argv[1] runs; prints the checksum, then one kernel time in nanoseconds per line. */
int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 10;
    printf("checksum %u\n", kernel());
    for (int i = 0; i < runs; i++) {
        long long t0 = now_ns();
        kernel_sink = kernel();
        printf("%lld\n", now_ns() - t0);
    }
    return 0;
}
#else
__attribute__((export_name("sl_step"))) int sl_step(void) {
    kernel_sink = kernel();
    return 0;
}

__attribute__((export_name("run_kernel"))) unsigned run_kernel(void) {
    return kernel();
}
#endif
