/*
 * counter (periodic): keeps a count of the steps it has run and publishes it as decimal ASCII text
 * (no newline, no NUL) on output "out": the first step publishes "1", the second "2", ...
 * The count is of steps actually run, not the activation index, so skipped activations show up as
 * a difference between the two. Handy for `mosquitto_sub -t <endpoint>` checks.
 * Init fails if the manifest has no output channel "out".
 */
#include <stdio.h>

#include <silverline.h>

static int32_t out = -1;
static unsigned long long counter = 0;

SL_EXPORT(sl_init) int32_t sl_init(void) {
    out = sl_channel_open("out", SL_OUT);
    return out < 0 ? 1 : 0;
}

SL_EXPORT(sl_step) int32_t sl_step(void) {
    char text[24];
    counter++;
    int n = snprintf(text, sizeof text, "%llu", counter);
    int32_t rc = sl_channel_publish(out, text, (size_t)n);
    return rc < 0 ? rc : 0;
}
