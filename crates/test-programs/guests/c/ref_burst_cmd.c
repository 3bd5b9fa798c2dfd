/* Reference-ABI command: writes "<n>" for n = 1..count to the path argv[1] and exits, so a test can
 * count at an independent subscriber what a short-lived command module published. */
#include <stdio.h>
#include <stdlib.h>
#include "ref_abi.h"

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "burst";
    int count = argc > 2 ? atoi(argv[2]) : 10;
    int fd = ch_open(path, CH_WRONLY, 0);
    if (fd < 0) return 1;
    for (int n = 1; n <= count; n++) {
        char msg[16];
        int len = snprintf(msg, sizeof msg, "%d", n);
        if (ch_write_msg(fd, msg, len) != len) return 3;
    }
    printf("published %d\n", count);
    return 0;
}
