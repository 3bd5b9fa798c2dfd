/*
 * sensor (C pipeline, periodic): on every activation publishes one 16-byte message on output "out":
 *
 *     offset 0: u64 little-endian  seq    = sl_activation()
 *     offset 8: f64 little-endian  sample = sin(0.1 * seq)
 *
 * The sample is a pure function of the activation index, so a test can recompute it exactly.
 * Logs nothing. Init fails if the manifest has no output channel "out".
 */
#include <math.h>
#include <string.h>

#include <silverline.h>

static int32_t out = -1;

SL_EXPORT(sl_init) int32_t sl_init(void) {
    out = sl_channel_open("out", SL_OUT);
    return out < 0 ? 1 : 0;
}

SL_EXPORT(sl_step) int32_t sl_step(void) {
    uint64_t seq = sl_activation();
    double sample = sin(0.1 * (double)seq);

    unsigned char msg[16]; /* wasm is little-endian: memcpy yields the LE layout */
    memcpy(msg, &seq, 8);
    memcpy(msg + 8, &sample, 8);

    int32_t rc = sl_channel_publish(out, msg, sizeof msg);
    return rc < 0 ? rc : 0; /* SL_DROPPED_INACTIVE is not an error */
}
