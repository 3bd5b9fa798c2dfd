/* A module built against the reference runtime's early header, whose uuid calls return nothing:
 * the Host links this form too, chosen from the module's import types. Prints both uuids. */
#include <stdio.h>

__attribute__((import_module("env"), import_name("runtime_get_uuid"))) void runtime_get_uuid(char *buf);
__attribute__((import_module("env"), import_name("module_get_uuid"))) void module_get_uuid(char *buf);

int main(void) {
    char runtime[40] = {0}, module[40] = {0};
    runtime_get_uuid(runtime);
    module_get_uuid(module);
    printf("early runtime=%s module=%s\n", runtime, module);
    return 0;
}
