/*
 * sink (C pipeline, event-triggered on input "in"): prints every {u64 seq, f64 value} message it
 * receives to WASI stdout as
 *
 *     seq=<seq> value=<value with 3 decimals>
 *
 * stdout is flushed after every step: a reactor never exits, and wasi-libc buffers stdout fully when
 * it is not a terminal. Messages shorter than 16 bytes are skipped and make the step return -1.
 */
#include <stdio.h>
#include <string.h>

#include <silverline.h>

static int32_t in = -1;

SL_EXPORT(sl_init) int32_t sl_init(void) {
    in = sl_channel_open("in", SL_IN);
    return in < 0 ? 1 : 0;
}

SL_EXPORT(sl_step) int32_t sl_step(void) {
    int32_t status = 0;
    for (;;) {
        unsigned char msg[16];
        int32_t n = sl_channel_receive(in, msg, sizeof msg);
        if (n == SL_EMPTY) {
            break;
        }
        if (n < 0) {
            status = n;
            break;
        }
        if (n < (int32_t)sizeof msg) {
            status = -1;
            continue;
        }
        uint64_t seq;
        double value;
        memcpy(&seq, msg, 8);
        memcpy(&value, msg + 8, 8);
        printf("seq=%llu value=%.3f\n", (unsigned long long)seq, value);
    }
    fflush(stdout);
    return status;
}
