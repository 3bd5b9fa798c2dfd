//! Zig bindings of the vehicle signal API `sl:vss` (import module `sl_vss`, docs/vss.md).
//! Resolve paths once (`signal`), then read and write by id; a refused write returns a negative
//! code and changes nothing.

pub const OK: i32 = 0;
/// A valid write not applied: this module's outputs are inactive (a shadow, a standby replica).
pub const DROPPED_INACTIVE: i32 = 1;
pub const ENOENT: i32 = -1;
pub const EINVAL: i32 = -2;
pub const ETYPE: i32 = -3;
pub const ERANGE: i32 = -4;
pub const EMPTY: i32 = -5;
pub const EUNAVAILABLE: i32 = -6;

// The import's name is `signal`, taken by the slice-taking wrapper below.
const raw = struct {
    extern "sl_vss" fn signal(ptr: [*]const u8, len: i32) i32;
};
pub extern "sl_vss" fn get_f64(id: i32, out: *f64) i32;
pub extern "sl_vss" fn get_i64(id: i32, out: *i64) i32;
pub extern "sl_vss" fn get_bool(id: i32) i32;
pub extern "sl_vss" fn get_string(id: i32, buf: [*]u8, cap: i32) i32;
pub extern "sl_vss" fn set_f64(id: i32, value: f64) i32;
pub extern "sl_vss" fn set_i64(id: i32, value: i64) i32;
pub extern "sl_vss" fn set_bool(id: i32, value: i32) i32;
pub extern "sl_vss" fn set_string(id: i32, ptr: [*]const u8, len: i32) i32;
pub extern "sl_vss" fn version(id: i32) i64;

/// The id of the signal at `path`, or `ENOENT` / `EINVAL`.
pub fn signal(path: []const u8) i32 {
    return raw.signal(path.ptr, @intCast(path.len));
}

/// Write a string signal.
pub fn setString(id: i32, value: []const u8) i32 {
    return set_string(id, value.ptr, @intCast(value.len));
}
