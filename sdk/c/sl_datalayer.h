/*
 * sl_datalayer.h - header-only C bindings for the silverline industrial datalayer API
 * `sl:datalayer` (import module "sl_datalayer"). The normative description is docs/datalayer.md.
 *
 * Nodes are named by hierarchical path ("plant/pendulum/angle") and reached through handles the
 * Host manages: open once in sl_init, then read and write by handle. A module that claims a node
 * is its only writer; a refused call returns a negative code and changes nothing.
 *
 *     #include <sl_datalayer.h>
 *     static int32_t angle, drive;
 *     SL_EXPORT(sl_init) int32_t sl_init(void) {
 *         angle = SL_DL_OPEN("plant/pendulum/angle");
 *         drive = SL_DL_OPEN("plant/cart/velocity_cmd");
 *         return angle < 0 || drive < 0 || sl_dl_claim(drive) != SL_DL_OK;
 *     }
 */
#ifndef SL_DATALAYER_H
#define SL_DATALAYER_H

#include "silverline.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Success. */
#define SL_DL_OK 0
/** A valid write not applied: this module's outputs are inactive (a staged update's shadow, a
 *  standby replica). Not an error. */
#define SL_DL_DROPPED_INACTIVE 1
/** No node at that path. */
#define SL_DL_ENOENT (-1)
/** Bad pointer or length, or a path that is not UTF-8. */
#define SL_DL_EINVAL (-2)
/** Not a live handle of this module instance (closed, stale or forged). */
#define SL_DL_EBADF (-3)
/** The value's type is not the node's; nothing changed. */
#define SL_DL_ETYPE (-4)
/** Outside the node's bounds; nothing changed. */
#define SL_DL_ERANGE (-5)
/** Field input: modules may not write or claim it. */
#define SL_DL_EREADONLY (-6)
/** Another module owns the node; nothing changed. */
#define SL_DL_EOWNED (-7)
/** The node has no value yet. */
#define SL_DL_EEMPTY (-8)

#if defined(__wasm__)
#define SL_DL_IMPORT_(name) __attribute__((import_module("sl_datalayer"), import_name(#name)))
#else
#define SL_DL_IMPORT_(name)
#endif

/** A handle (> 0) on the node at `path` (`len` bytes), or SL_DL_ENOENT / SL_DL_EINVAL. */
SL_DL_IMPORT_(open) int32_t sl_dl_open(const char *path, int32_t len);
/** A handle on a node given as a string literal. */
#define SL_DL_OPEN(lit) sl_dl_open((lit), (int32_t)(sizeof(lit) - 1))
/** Close a handle (it is stale from then on). */
SL_DL_IMPORT_(close) int32_t sl_dl_close(int32_t handle);
/** Read an f64 node into `*out`. */
SL_DL_IMPORT_(read_f64) int32_t sl_dl_read_f64(int32_t handle, double *out);
/** Read an i64 node into `*out`. */
SL_DL_IMPORT_(read_i64) int32_t sl_dl_read_i64(int32_t handle, int64_t *out);
/** A bool node: 0 or 1, or a negative code. */
SL_DL_IMPORT_(read_bool) int32_t sl_dl_read_bool(int32_t handle);
/** Write an f64 node. */
SL_DL_IMPORT_(write_f64) int32_t sl_dl_write_f64(int32_t handle, double value);
/** Write an i64 node. */
SL_DL_IMPORT_(write_i64) int32_t sl_dl_write_i64(int32_t handle, int64_t value);
/** Write a bool node (non-zero is true). */
SL_DL_IMPORT_(write_bool) int32_t sl_dl_write_bool(int32_t handle, int32_t value);
/** Become the node's only writer (this module: its shadow and replicas share the claim). */
SL_DL_IMPORT_(claim) int32_t sl_dl_claim(int32_t handle);
/** Give the claim up. */
SL_DL_IMPORT_(release) int32_t sl_dl_release(int32_t handle);
/** How often the node was written (0: never), or a negative code. */
SL_DL_IMPORT_(version) int64_t sl_dl_version(int32_t handle);

#ifdef __cplusplus
}
#endif

#endif /* SL_DATALAYER_H */
