/*
 * echo (event-triggered on input "in"): republishes every message received on "in", byte for byte,
 * on output "out". The receive buffer is SL_MAX_MESSAGE (1 MiB) so no message that the Host accepts
 * can be truncated. Drains the whole queue in one step. Init fails if "in" or "out" is missing.
 */
#include <silverline.h>

static int32_t in = -1;
static int32_t out = -1;
static unsigned char buf[SL_MAX_MESSAGE];

SL_EXPORT(sl_init) int32_t sl_init(void) {
    in = sl_channel_open("in", SL_IN);
    out = sl_channel_open("out", SL_OUT);
    return (in < 0 || out < 0) ? 1 : 0;
}

SL_EXPORT(sl_step) int32_t sl_step(void) {
    int32_t status = 0;
    for (;;) {
        int32_t n = sl_channel_receive(in, buf, sizeof buf);
        if (n == SL_EMPTY) {
            break;
        }
        if (n < 0) {
            return n;
        }
        if ((size_t)n > sizeof buf) {
            sl_logf("echo: message of %d bytes truncated to %zu, not republished", (int)n, sizeof buf);
            status = -1;
            continue;
        }
        int32_t rc = sl_channel_publish(out, buf, (size_t)n);
        if (rc < 0) {
            status = rc;
        }
    }
    return status;
}
