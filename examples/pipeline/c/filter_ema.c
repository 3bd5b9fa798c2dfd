/*
 * filter_ema (C pipeline, event-triggered on input "in"): for every {u64 seq, f64 sample} message
 * received on "in", updates an exponential moving average
 *
 *     ema = sample                              (first message)
 *     ema = ema + 0.25 * (sample - ema)         (afterwards)
 *
 * and publishes {u64 seq, f64 ema} (16 bytes, little-endian) on "out".
 *
 * It drains every queued message in one step; the activations the Host still makes for messages
 * already consumed find the queue empty and return 0. Messages shorter than 16 bytes are skipped and
 * make the step return -1 (counted as an error). Init fails if "in" or "out" is missing.
 */
#include <string.h>

#include <silverline.h>

#define ALPHA 0.25

static int32_t in = -1;
static int32_t out = -1;
static int have_ema = 0;
static double ema = 0.0;

SL_EXPORT(sl_init) int32_t sl_init(void) {
    in = sl_channel_open("in", SL_IN);
    out = sl_channel_open("out", SL_OUT);
    return (in < 0 || out < 0) ? 1 : 0;
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
            return n;
        }
        if (n < (int32_t)sizeof msg) {
            status = -1; /* malformed: too short */
            continue;
        }
        uint64_t seq;
        double sample;
        memcpy(&seq, msg, 8);
        memcpy(&sample, msg + 8, 8);

        if (!have_ema) {
            ema = sample;
            have_ema = 1;
        } else {
            ema += ALPHA * (sample - ema);
        }

        memcpy(msg + 8, &ema, 8);
        int32_t rc = sl_channel_publish(out, msg, sizeof msg);
        if (rc < 0) {
            status = rc;
        }
    }
    return status;
}
