/* Reference-ABI producer: every period, writes "<label>:<n>" to the path given as argv[1]. */
#include <stdio.h>
#include <string.h>
#include "ref_abi.h"

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "ref/sensor/a";
    const char *label = argc > 2 ? argv[2] : "a";
    char runtime[40], module[40];
    if (runtime_get_uuid(runtime) != 0 || module_get_uuid(module) != 0) return 2;
    printf("producer %s runtime=%s module=%s\n", label, runtime, module);
    fflush(stdout);
    int fd = ch_open(path, CH_WRONLY, 0);
    if (fd < 0) return 1;
    period_set_flags(0);
    for (int n = 1;; n++) {
        period_start();
        char msg[64];
        int len = snprintf(msg, sizeof msg, "%s:%d", label, n);
        ch_write_msg(fd, msg, len);
        period_end();
    }
}
