/*
 * hello_cmd: a WASI command module (`trigger: command`, exports `_start`). It prints to stdout:
 *
 *     hello from wasm
 *     arg[1]=<argv[1]>          one line per argument after argv[0]
 *     ...
 *     GREETING=<value>          only if the environment variable GREETING is set
 *     in.txt: <first line>      only if /data/in.txt can be opened (a preopened directory)
 *
 * and exits with code atoi(argv[1]) when an argument is given, else 0, so a test can check that
 * args, env, preopens and the exit code all reach the Host (each only when the manifest's `wasi`
 * section grants it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    printf("hello from wasm\n");
    for (int i = 1; i < argc; i++) {
        printf("arg[%d]=%s\n", i, argv[i]);
    }

    const char *greeting = getenv("GREETING");
    if (greeting != NULL) {
        printf("GREETING=%s\n", greeting);
    }

    FILE *f = fopen("/data/in.txt", "r");
    if (f != NULL) {
        char line[256];
        if (fgets(line, sizeof line, f) != NULL) {
            line[strcspn(line, "\r\n")] = '\0';
            printf("in.txt: %s\n", line);
        }
        fclose(f);
    }

    fflush(stdout);
    return argc > 1 ? atoi(argv[1]) : 0;
}
