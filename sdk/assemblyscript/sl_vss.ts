// AssemblyScript bindings of the vehicle signal API `sl:vss` (import module `sl_vss`,
// docs/vss.md). Build guests with `asc ... --runtime stub --use abort=` so that they import
// nothing but silverline's APIs. Resolve paths once (`signal`), then read and write by id; a
// refused write returns a negative code and changes nothing.

export const OK: i32 = 0;
// A valid write not applied: this module's outputs are inactive (a shadow, a standby replica).
export const DROPPED_INACTIVE: i32 = 1;
export const ENOENT: i32 = -1;
export const EINVAL: i32 = -2;
export const ETYPE: i32 = -3;
export const ERANGE: i32 = -4;
export const EMPTY: i32 = -5;
export const EUNAVAILABLE: i32 = -6;

@external("sl_vss", "signal") declare function raw_signal(ptr: usize, len: i32): i32;
@external("sl_vss", "get_f64") declare function raw_get_f64(id: i32, out: usize): i32;
@external("sl_vss", "get_i64") declare function raw_get_i64(id: i32, out: usize): i32;
@external("sl_vss", "get_bool") export declare function getBool(id: i32): i32;
@external("sl_vss", "set_f64") export declare function setF64(id: i32, value: f64): i32;
@external("sl_vss", "set_i64") export declare function setI64(id: i32, value: i64): i32;
@external("sl_vss", "set_bool") export declare function setBool(id: i32, value: i32): i32;
@external("sl_vss", "set_string") declare function raw_set_string(id: i32, ptr: usize, len: i32): i32;
@external("sl_vss", "version") export declare function version(id: i32): i64;

// Where a get writes its value: static, so reads allocate nothing.
const SCRATCH: usize = memory.data(8);

/** The id of the signal at `path`, or ENOENT / EINVAL. */
export function signal(path: string): i32 {
  const utf8 = String.UTF8.encode(path);
  return raw_signal(changetype<usize>(utf8), utf8.byteLength);
}

// Gets return the code and leave the value in a static slot, read with lastF64/lastI64: a
// module built with the stub runtime never frees, so the step path must not allocate.

/** Read a numeric signal (any numeric type, converted); OK, then `lastF64()` is its value. */
export function getF64(id: i32): i32 {
  return raw_get_f64(id, SCRATCH);
}

/** The value of the last successful getF64. */
export function lastF64(): f64 {
  return load<f64>(SCRATCH);
}

/** Read an integer signal; OK, then `lastI64()` is its value. */
export function getI64(id: i32): i32 {
  return raw_get_i64(id, SCRATCH);
}

/** The value of the last successful getI64. */
export function lastI64(): i64 {
  return load<i64>(SCRATCH);
}

/** Write a string signal (allocates the UTF-8 copy: keep it out of tight loops). */
export function setString(id: i32, value: string): i32 {
  const utf8 = String.UTF8.encode(value);
  return raw_set_string(id, changetype<usize>(utf8), utf8.byteLength);
}
