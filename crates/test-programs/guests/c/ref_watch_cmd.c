/* Reference-ABI watcher: polls a native module's output and the relay's with a timeout and
 * reports what it saw (and how many polls timed out) on "ref/report". */
#include <stdio.h>
#include "ref_abi.h"

int main(void) {
    int fds[2] = {ch_open("native/count", CH_RDONLY, 0), ch_open("ref/relayed", CH_RDONLY, 0)};
    int report = ch_open("ref/report", CH_WRONLY, 0);
    if (fds[0] < 0 || fds[1] < 0 || report < 0) return 1;
    int got[2] = {0, 0}, timeouts = 0;
    char buf[256];
    for (;;) {
        int ready = ch_poll(fds, 2, 20);
        if (ready == 0) {
            timeouts++;
            continue;
        }
        for (int i = 0; i < 2; i++)
            while (ch_read_msg(fds[i], buf, sizeof buf) > 0) got[i]++;
        char msg[96];
        int len = snprintf(msg, sizeof msg, "native=%d ref=%d timeouts=%d", got[0], got[1], timeouts);
        ch_write_msg(report, msg, len);
        period_yield();
    }
}
