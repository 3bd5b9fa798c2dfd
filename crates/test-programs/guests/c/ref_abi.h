/* The guest ABI of Silverline's reference runtime (import module "env"), with exactly the
 * prototypes of its published header (the uuid calls return 0 on success). silverline's Host runs these modules unmodified; see docs/channel-abi.md for the mapping. */
#ifndef REF_ABI_H
#define REF_ABI_H
#include <stdint.h>

#define REF_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

REF_IMPORT(ch_open) int ch_open(const char *path, int flags, int mode);
REF_IMPORT(ch_close) int ch_close(int fd);
REF_IMPORT(ch_write_msg) int ch_write_msg(int fd, const void *buf, int len);
REF_IMPORT(ch_read_msg) int ch_read_msg(int fd, void *buf, int len);
REF_IMPORT(ch_poll) int ch_poll(const int *fds, int n, int timeout_ms);
REF_IMPORT(runtime_get_uuid) int runtime_get_uuid(char *buf);
REF_IMPORT(module_get_uuid) int module_get_uuid(char *buf);
REF_IMPORT(period_start) void period_start(void);
REF_IMPORT(period_end) void period_end(void);
REF_IMPORT(period_yield) void period_yield(void);
REF_IMPORT(period_set_flags) void period_set_flags(int flags);

#define CH_RDONLY 0
#define CH_WRONLY 1
#define CH_RDWR 2
#endif
