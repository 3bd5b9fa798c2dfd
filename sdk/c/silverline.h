/*
 * silverline.h - header-only C bindings for the silverline native channel ABI (import module "sl").
 *
 * The normative description of the ABI is docs/channel-abi.md; the comments below summarise it.
 *
 * A guest module is a WebAssembly module that:
 *   - exports its linear memory as "memory" (clang does this by default);
 *   - optionally exports `int32_t sl_init(void)`, called once after instantiation (after
 *     `_initialize` for reactors). A non-zero return means initialisation failed;
 *   - exports `int32_t sl_step(void)` if it is periodic or event-triggered: it is called on every
 *     activation. A negative return is counted as an error in the module's profile; the module keeps
 *     running;
 *   - or, for `trigger: command` modules, is an ordinary WASI command (`main`, exported as `_start`)
 *     that runs once.
 *
 * Build a reactor (periodic / event-triggered) module with:
 *     clang --target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--strip-all -I sdk/c -o m.wasm m.c
 * and a command module with:
 *     clang --target=wasm32-wasi -O2 -I sdk/c -o m.wasm m.c
 * Add -msimd128 for Wasm SIMD (the Host runs it; it speeds up vectorisable float loops and can
 * slow byte-wise code: measure).
 *
 * Minimal reactor:
 *
 *     #include <silverline.h>
 *     static int32_t out;
 *     SL_EXPORT(sl_init) int32_t sl_init(void) {
 *         out = sl_channel_open("out", SL_OUT);
 *         return out < 0;                       // fail init if the manifest has no "out"
 *     }
 *     SL_EXPORT(sl_step) int32_t sl_step(void) {
 *         uint64_t k = sl_activation();
 *         int32_t rc = sl_channel_publish(out, &k, sizeof k);
 *         return rc < 0 ? rc : 0;               // SL_DROPPED_INACTIVE (1) is not an error
 *     }
 *
 * Freestanding use: when compiled with -ffreestanding (or with SL_NO_LIBC defined) the header needs
 * no C library at all; `sl_logf` is then not available. On non-wasm targets the imports are plain
 * extern declarations, so guest logic can be unit-tested natively against a mock implementation.
 */
#ifndef SILVERLINE_H
#define SILVERLINE_H

#include <stddef.h>
#include <stdint.h>

#if !defined(SL_NO_LIBC) && !__STDC_HOSTED__
#define SL_NO_LIBC 1
#endif

#ifndef SL_NO_LIBC
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------------
 * Constants
 * --------------------------------------------------------------------------------------------- */

/** Direction argument of sl_channel_open: an input channel (messages are received). */
#define SL_IN 0
/** Direction argument of sl_channel_open: an output channel (messages are published). */
#define SL_OUT 1

/** Success. */
#define SL_OK 0
/**
 * sl_channel_publish: the output channel is inactive; the message was dropped and counted by the
 * Host. This is NOT an error: whether a channel is active is decided outside the module.
 */
#define SL_DROPPED_INACTIVE 1
/** sl_channel_open: no channel of that name exists in the manifest for that direction. */
#define SL_ENOENT (-1)
/** Bad pointer or length (outside the guest's memory), or a name that is not UTF-8. */
#define SL_EINVAL (-2)
/** Bad handle: never opened, closed, or of the wrong direction for the operation. */
#define SL_EBADF (-3)
/** sl_channel_publish: the message is larger than SL_MAX_MESSAGE bytes. */
#define SL_E2BIG (-4)
/** sl_channel_receive: no message is waiting. */
#define SL_EMPTY (-5)
/** sl_channel_publish: the Host could not queue the message for the broker (its outgoing queue is
 *  full, e.g. while the broker is unreachable); nothing was sent beyond the Host. */
#define SL_EAGAIN (-6)
/** sl_channel_publish: the module is over its publish budget (the manifest's
 *  resources.maxPublishPerSecond / maxPublishBytesPerSecond); dropped and counted. */
#define SL_ERATE (-7)

/** Largest message the Host accepts from sl_channel_publish (1 MiB). */
#define SL_MAX_MESSAGE (1024 * 1024)

/** Size of the stack buffer sl_logf formats into; longer lines are truncated. Override before
 *  including the header if needed. */
#ifndef SL_LOGF_MAX
#define SL_LOGF_MAX 512
#endif

/* ------------------------------------------------------------------------------------------------
 * Attribute helpers
 * --------------------------------------------------------------------------------------------- */

/**
 * Export a function under the given (bare, unquoted) name, e.g.
 *     SL_EXPORT(sl_step) int32_t sl_step(void) { ... }
 */
#if defined(__wasm__)
#define SL_EXPORT(name) __attribute__((export_name(#name)))
#define SL_IMPORT_(name) __attribute__((import_module("sl"), import_name(#name)))
#else
#define SL_EXPORT(name)
#define SL_IMPORT_(name)
#endif

/* ------------------------------------------------------------------------------------------------
 * Entry points the guest may define (declared here so that their signatures are checked)
 * --------------------------------------------------------------------------------------------- */

/** Optional. Called once after instantiation. Return 0 on success, non-zero if init failed. */
int32_t sl_init(void);
/** Periodic / event-triggered modules: called on every activation. Negative = error (counted). */
int32_t sl_step(void);

/* ------------------------------------------------------------------------------------------------
 * Raw host imports (module "sl"). Pointers are offsets into the guest's exported memory.
 * --------------------------------------------------------------------------------------------- */

/**
 * Open a channel by its NAME in the application manifest (not its endpoint/topic: the manifest maps
 * names to endpoints, so a binary can be relinked without recompiling). `name` need not be
 * NUL-terminated; `len` bytes are read. `direction` is SL_IN or SL_OUT.
 *
 * Returns a handle >= 0. Opening the same name and direction again returns the same handle.
 * Errors: SL_ENOENT (-1) no such channel for that direction in the manifest; SL_EINVAL (-2) bad
 * pointer/length or the name is not UTF-8.
 */
SL_IMPORT_(channel_open)
int32_t sl_channel_open_n(const char *name, size_t len, int32_t direction);

/**
 * Publish `len` bytes at `data` on the output channel `handle`. The bytes are copied.
 *
 * Returns SL_OK (0) when the message was handed to the channel; SL_DROPPED_INACTIVE (1) when the
 * channel is inactive (dropped and counted; not an error); SL_EINVAL (-2) when the buffer is out of
 * bounds; SL_EBADF (-3) when `handle` is not an open output handle; SL_E2BIG (-4) when
 * len > SL_MAX_MESSAGE; SL_EAGAIN (-6) when the Host could not queue it for the broker (co-located
 * subscribers may have received it; nobody else did; counted); SL_ERATE (-7) when the module is over
 * its publish budget (nobody received it; counted).
 */
SL_IMPORT_(channel_publish)
int32_t sl_channel_publish(int32_t handle, const void *data, size_t len);

/**
 * Take the oldest queued message of the input channel `handle`.
 *
 * Returns its FULL length n >= 0 and copies min(n, cap) bytes into `buf`. If n > cap the message was
 * truncated: the rest is lost and the message is consumed all the same. Returns SL_EMPTY (-5) when
 * nothing is waiting, SL_EBADF (-3) when `handle` is not an open input handle, SL_EINVAL (-2) when
 * the buffer is out of bounds.
 */
SL_IMPORT_(channel_receive)
int32_t sl_channel_receive(int32_t handle, void *buf, size_t cap);

/**
 * Number of messages queued on the input channel `handle` (>= 0), or SL_EBADF (-3).
 */
SL_IMPORT_(channel_pending)
int32_t sl_channel_pending(int32_t handle);

/**
 * Close `handle`. Returns SL_OK (0) or SL_EBADF (-3). After closing, the handle is invalid; open the
 * channel again to use it.
 */
SL_IMPORT_(channel_close)
int32_t sl_channel_close(int32_t handle);

/**
 * Index k (0-based) of the current activation of this module. For a periodic module, activation k
 * is scheduled at start + k * period, so k is a natural sequence number (indices of activations the
 * Host skipped are not reused).
 */
SL_IMPORT_(activation)
uint64_t sl_activation(void);

/**
 * Write `len` bytes at `msg` as ONE line of the Host's log, attributed to the module. No trailing
 * newline is needed. (WASI stdout also works: the Host prints it line by line with the module name.)
 */
SL_IMPORT_(log)
void sl_log_n(const char *msg, size_t len);

#undef SL_IMPORT_

/* ------------------------------------------------------------------------------------------------
 * Convenience wrappers
 * --------------------------------------------------------------------------------------------- */

/** strlen that works without a C library. */
static inline size_t sl_strlen_(const char *s) {
#ifndef SL_NO_LIBC
    return strlen(s);
#else
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
#endif
}

/**
 * Open the channel called `name` (NUL-terminated) in `direction` (SL_IN or SL_OUT).
 * Returns a handle >= 0, SL_ENOENT (-1) or SL_EINVAL (-2). See sl_channel_open_n.
 */
static inline int32_t sl_channel_open(const char *name, int direction) {
    return sl_channel_open_n(name, sl_strlen_(name), (int32_t)direction);
}

/** Write the NUL-terminated string `line` as one line of the Host's log. See sl_log_n. */
static inline void sl_log(const char *line) {
    sl_log_n(line, sl_strlen_(line));
}

/** Short symbolic name of a return code ("SL_EMPTY", ...), for diagnostics. */
static inline const char *sl_strerror(int32_t rc) {
    switch (rc) {
    case SL_OK: return "SL_OK";
    case SL_DROPPED_INACTIVE: return "SL_DROPPED_INACTIVE";
    case SL_ENOENT: return "SL_ENOENT";
    case SL_EINVAL: return "SL_EINVAL";
    case SL_EBADF: return "SL_EBADF";
    case SL_E2BIG: return "SL_E2BIG";
    case SL_EMPTY: return "SL_EMPTY";
    default: return rc > 0 ? "(length)" : "(unknown)";
    }
}

#ifndef SL_NO_LIBC
/**
 * printf-style sl_log: formats into a stack buffer of SL_LOGF_MAX bytes (longer lines are
 * truncated) and writes it as one log line. Not available without a C library.
 */
static inline void sl_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void sl_logf(const char *fmt, ...) {
    char buf[SL_LOGF_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
    sl_log_n(buf, len);
}
#endif

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SILVERLINE_H */
