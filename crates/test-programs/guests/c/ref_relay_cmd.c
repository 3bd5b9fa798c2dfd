/* Reference-ABI relay: a wildcard reader; blocks in ch_poll without timeout, forwards everything. */
#include "ref_abi.h"

int main(void) {
    int in = ch_open("ref/sensor/+", CH_RDONLY, 0);
    int out = ch_open("ref/relayed", CH_WRONLY, 0);
    if (in < 0 || out < 0) return 1;
    if (ch_open("ref/sensor/+", CH_RDONLY, 0) != in) return 2; /* same path, same fd */
    char buf[256];
    for (;;) {
        if (ch_poll(&in, 1, 0) <= 0) continue; /* 0: wait forever */
        int n;
        while ((n = ch_read_msg(in, buf, sizeof buf)) > 0) ch_write_msg(out, buf, n);
    }
}
