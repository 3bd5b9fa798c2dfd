/*
 * probe: a test helper exercising the edges of the channel ABI. Works periodic or event-triggered
 * (trigger channel "in"); every channel is optional, and sl_init always succeeds.
 *
 * On every step it:
 *   1. opens a channel that does not exist ("no-such-channel", input)         -> open_missing
 *   2. opens output "out" twice (same handle expected)                        -> same=1|0
 *      publishes the 5 bytes "probe" on it                                    -> pub
 *   3. opens input "in", receives ONE message into a 4-byte buffer            -> recv (full length,
 *      SL_EMPTY=-5, or the open error), the bytes actually copied (hex)        -> got  ("-" if none)
 *      then the number of messages still queued                               -> pending
 *   4. ABI misuse: publish on the input handle                                -> ebadf_pub (-3)
 *                  receive on the output handle                               -> ebadf_recv (-3)
 *                  publish SL_MAX_MESSAGE+1 in-bounds bytes on "out"           -> e2big (-4)
 *                  (the buffer comes from growing memory once by 17 pages;
 *                  e2big=1000 if that growth was refused)
 *                  publish with a buffer past the end of memory on "out"      -> einval (-2)
 *   5. closes "out"                                                           -> close (0)
 *      publishes on the closed handle                                         -> after_close (-3)
 *   6. publishes the report below as text on output "report" (if it exists) and writes it to the
 *      Host log with sl_log:
 *
 *   open_missing=-1 pub=0 recv=10 pending=0 got=61626364 same=1 ebadf_pub=-3 ebadf_recv=-3
 *   e2big=-4 einval=-2 close=0 after_close=-3 report=0 act=7                       (one line)
 *
 * `report` is the result of publishing the PREVIOUS step's report (-1 on the first step). `act` is
 * sl_activation(). When "out" does not exist pub/e2big/einval/close/after_close report -3 (the -1
 * handle is a bad handle); when "in" does not exist recv=-1 (the open error) and pending=-3.
 * Only the first four fields are guaranteed to stay in this order; match fields by key.
 */
#include <stdio.h>
#include <string.h>

#include <silverline.h>

static unsigned char *big = NULL; /* SL_MAX_MESSAGE + 1 bytes inside memory, grown once */
static int32_t prev_report_rc = -1;

static unsigned char *big_buffer(void) {
    if (big == NULL) {
        size_t pages = (SL_MAX_MESSAGE + 1 + 65535) / 65536;
        size_t old = __builtin_wasm_memory_grow(0, pages);
        if (old != (size_t)-1) {
            big = (unsigned char *)(old * 65536);
        }
    }
    return big;
}

SL_EXPORT(sl_init) int32_t sl_init(void) {
    return 0;
}

SL_EXPORT(sl_step) int32_t sl_step(void) {
    static const char payload[] = "probe";
    char report[512];

    int32_t open_missing = sl_channel_open("no-such-channel", SL_IN);

    int32_t out = sl_channel_open("out", SL_OUT);
    int32_t out2 = sl_channel_open("out", SL_OUT);
    int32_t pub = sl_channel_publish(out, payload, sizeof payload - 1);

    int32_t in = sl_channel_open("in", SL_IN);
    unsigned char small[4];
    int32_t recv = in < 0 ? in : sl_channel_receive(in, small, sizeof small);
    int32_t pending = sl_channel_pending(in);
    char got[2 * sizeof small + 1] = "-";
    if (recv > 0) {
        int32_t copied = recv < (int32_t)sizeof small ? recv : (int32_t)sizeof small;
        for (int32_t i = 0; i < copied; i++) {
            snprintf(got + 2 * i, 3, "%02x", small[i]);
        }
    }

    int32_t ebadf_pub = sl_channel_publish(in, payload, 1);
    int32_t ebadf_recv = sl_channel_receive(out, small, sizeof small);
    unsigned char *b = big_buffer();
    int32_t e2big = b ? sl_channel_publish(out, b, SL_MAX_MESSAGE + 1) : 1000;
    size_t mem_end = __builtin_wasm_memory_size(0) * 65536;
    int32_t einval = sl_channel_publish(out, (const void *)(mem_end - 2), 16);

    int32_t close_rc = sl_channel_close(out);
    int32_t after_close = sl_channel_publish(out, payload, 1);

    snprintf(report, sizeof report,
             "open_missing=%d pub=%d recv=%d pending=%d got=%s same=%d ebadf_pub=%d ebadf_recv=%d "
             "e2big=%d einval=%d close=%d after_close=%d report=%d act=%llu",
             (int)open_missing, (int)pub, (int)recv, (int)pending, got, out == out2 ? 1 : 0,
             (int)ebadf_pub, (int)ebadf_recv, (int)e2big, (int)einval, (int)close_rc,
             (int)after_close, (int)prev_report_rc, (unsigned long long)sl_activation());

    int32_t rep = sl_channel_open("report", SL_OUT);
    prev_report_rc = sl_channel_publish(rep, report, strlen(report));
    sl_log(report);
    return 0;
}
