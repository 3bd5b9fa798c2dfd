//! Zig bindings of silverline's channel API (import module `sl`, docs/channel-abi.md) for guest
//! modules built with `zig build-exe -target wasm32-freestanding -fno-entry -rdynamic`.
//! Return codes stay integers, as in the C header: 0 or a count on success, negative on error.

pub const IN: i32 = 0;
pub const OUT: i32 = 1;
pub const OK: i32 = 0;
pub const ENOENT: i32 = -1;
pub const EINVAL: i32 = -2;
pub const EBADF: i32 = -3;
pub const E2BIG: i32 = -4;
pub const EMPTY: i32 = -5;
pub const EAGAIN: i32 = -6;
pub const ERATE: i32 = -7;

pub extern "sl" fn channel_open(name: [*]const u8, len: i32, direction: i32) i32;
pub extern "sl" fn channel_publish(handle: i32, ptr: [*]const u8, len: i32) i32;
pub extern "sl" fn channel_receive(handle: i32, ptr: [*]u8, cap: i32) i32;
pub extern "sl" fn channel_pending(handle: i32) i32;
pub extern "sl" fn channel_close(handle: i32) i32;
pub extern "sl" fn activation() i64;
pub extern "sl" fn log(ptr: [*]const u8, len: i32) void;

/// Open a channel of the module's manifest by name.
pub fn open(name: []const u8, direction: i32) i32 {
    return channel_open(name.ptr, @intCast(name.len), direction);
}

/// Publish `bytes` on an output channel.
pub fn publish(handle: i32, bytes: []const u8) i32 {
    return channel_publish(handle, bytes.ptr, @intCast(bytes.len));
}

/// Receive one message into `buf`; its length, or a negative code.
pub fn receive(handle: i32, buf: []u8) i32 {
    return channel_receive(handle, buf.ptr, @intCast(buf.len));
}

/// Write a line to the Host's log for this module.
pub fn print(text: []const u8) void {
    log(text.ptr, @intCast(text.len));
}
