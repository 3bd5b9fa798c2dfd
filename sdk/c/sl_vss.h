/*
 * sl_vss.h - header-only C bindings for the silverline vehicle signal API `sl:vss`
 * (import module "sl_vss"). The normative description is docs/vss.md.
 *
 * Signals are named by their VSS path ("Vehicle.Cabin.Sunroof.Position") and resolved once to a
 * 32-bit id with sl_vss_signal; every other call takes the id. A write is checked against the
 * Host's VSS catalog (datatype, min, max, allowed values): a refused write returns a negative code
 * and changes nothing. A module that imports this header's functions is placed only on Hosts
 * that offer `sl:vss`.
 *
 *     #include <sl_vss.h>
 *     static int32_t knob, target;
 *     SL_EXPORT(sl_init) int32_t sl_init(void) {
 *         knob = SL_VSS_SIGNAL("Vehicle.Cabin.Sunroof.Knob");
 *         target = SL_VSS_SIGNAL("Vehicle.Cabin.Sunroof.TargetPosition");
 *         return knob < 0 || target < 0;
 *     }
 *     SL_EXPORT(sl_step) int32_t sl_step(void) {
 *         double x;
 *         if (sl_vss_get_f64(knob, &x) != SL_VSS_OK) return 0;   // no knob value yet
 *         int32_t rc = sl_vss_set_f64(target, x);
 *         return rc < 0 ? rc : 0;   // SL_VSS_DROPPED_INACTIVE while a shadow
 *     }
 */
#ifndef SL_VSS_H
#define SL_VSS_H

#include "silverline.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Success. */
#define SL_VSS_OK 0
/** A valid write that was not applied because this module's outputs are inactive (a staged
 *  update's shadow, a standby replica): not an error; the active instance's write counts. */
#define SL_VSS_DROPPED_INACTIVE 1
/** No signal of that path (sl_vss_signal) or id. */
#define SL_VSS_ENOENT (-1)
/** Bad pointer or length, or a path that is not UTF-8. */
#define SL_VSS_EINVAL (-2)
/** The value's type is not the signal's datatype; nothing changed. */
#define SL_VSS_ETYPE (-3)
/** The value is outside the signal's min/max or allowed values; nothing changed. */
#define SL_VSS_ERANGE (-4)
/** The signal has no value yet. */
#define SL_VSS_EMPTY (-5)
/** The signal store (databroker) cannot be reached; nothing changed. */
#define SL_VSS_EUNAVAILABLE (-6)

#if defined(__wasm__)
#define SL_VSS_IMPORT_(name) __attribute__((import_module("sl_vss"), import_name(#name)))
#else
#define SL_VSS_IMPORT_(name)
#endif

/** The id of the signal at `path` (`len` bytes, no NUL needed), or SL_VSS_ENOENT / SL_VSS_EINVAL. */
SL_VSS_IMPORT_(signal) int32_t sl_vss_signal(const char *path, int32_t len);
/** The id of a signal given as a string literal. */
#define SL_VSS_SIGNAL(lit) sl_vss_signal((lit), (int32_t)(sizeof(lit) - 1))

/** Read a float or double signal (any numeric signal, converted) into `*out`. */
SL_VSS_IMPORT_(get_f64) int32_t sl_vss_get_f64(int32_t signal, double *out);
/** Read an integer signal into `*out` (SL_VSS_ERANGE: an unsigned value above INT64_MAX). */
SL_VSS_IMPORT_(get_i64) int32_t sl_vss_get_i64(int32_t signal, int64_t *out);
/** A boolean signal: 0 or 1, or a negative code. */
SL_VSS_IMPORT_(get_bool) int32_t sl_vss_get_bool(int32_t signal);
/** Copy up to `cap` bytes of a string signal into `buf` (no NUL); returns its full length. */
SL_VSS_IMPORT_(get_string) int32_t sl_vss_get_string(int32_t signal, char *buf, int32_t cap);

/** Write a float or double signal. */
SL_VSS_IMPORT_(set_f64) int32_t sl_vss_set_f64(int32_t signal, double value);
/** Write an integer signal (signed or unsigned, of any width: the catalog's range is checked). */
SL_VSS_IMPORT_(set_i64) int32_t sl_vss_set_i64(int32_t signal, int64_t value);
/** Write a boolean signal (any non-zero `value` is true). */
SL_VSS_IMPORT_(set_bool) int32_t sl_vss_set_bool(int32_t signal, int32_t value);
/** Write a string signal (`len` bytes of UTF-8). */
SL_VSS_IMPORT_(set_string) int32_t sl_vss_set_string(int32_t signal, const char *value, int32_t len);

/** How many times the signal has been written (0: never), or a negative code: compare two
 *  readings to learn whether a value is new. */
SL_VSS_IMPORT_(version) int64_t sl_vss_version(int32_t signal);

/** A short text for a code, for logs. */
static inline const char *sl_vss_strerror(int32_t rc) {
    switch (rc) {
    case SL_VSS_OK: return "ok";
    case SL_VSS_DROPPED_INACTIVE: return "not applied: outputs inactive";
    case SL_VSS_ENOENT: return "no such signal";
    case SL_VSS_EINVAL: return "bad pointer or length";
    case SL_VSS_ETYPE: return "wrong type for the signal";
    case SL_VSS_ERANGE: return "outside the signal's range or allowed values";
    case SL_VSS_EMPTY: return "no value yet";
    case SL_VSS_EUNAVAILABLE: return "signal store unavailable";
    default: return "(unknown)";
    }
}

#ifdef __cplusplus
}
#endif

#endif /* SL_VSS_H */
