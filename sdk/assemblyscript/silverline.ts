// AssemblyScript bindings of silverline's channel API (import module `sl`, docs/channel-abi.md).
// Return codes stay integers, as in the C header: 0 or a count on success, negative on error.

export const IN: i32 = 0;
export const OUT: i32 = 1;
export const OK: i32 = 0;
export const ENOENT: i32 = -1;
export const EINVAL: i32 = -2;
export const EBADF: i32 = -3;
export const E2BIG: i32 = -4;
export const EMPTY: i32 = -5;
export const EAGAIN: i32 = -6;
export const ERATE: i32 = -7;

@external("sl", "channel_open") declare function raw_open(name: usize, len: i32, direction: i32): i32;
@external("sl", "channel_publish") declare function raw_publish(handle: i32, ptr: usize, len: i32): i32;
@external("sl", "channel_receive") declare function raw_receive(handle: i32, ptr: usize, cap: i32): i32;
@external("sl", "channel_pending") export declare function pending(handle: i32): i32;
@external("sl", "channel_close") export declare function close(handle: i32): i32;
@external("sl", "activation") export declare function activation(): i64;
@external("sl", "log") declare function raw_log(ptr: usize, len: i32): void;

/** Open a channel of the module's manifest by name (IN or OUT). */
export function open(name: string, direction: i32): i32 {
  const utf8 = String.UTF8.encode(name);
  return raw_open(changetype<usize>(utf8), utf8.byteLength, direction);
}

/** Publish the bytes of `data` on an output channel. */
export function publish(handle: i32, data: Uint8Array): i32 {
  return raw_publish(handle, data.dataStart, data.byteLength);
}

/** Receive one message into `buf`: its length, or a negative code. */
export function receive(handle: i32, buf: Uint8Array): i32 {
  return raw_receive(handle, buf.dataStart, buf.byteLength);
}

/** Write a line to the Host's log for this module. */
export function log(text: string): void {
  const utf8 = String.UTF8.encode(text);
  raw_log(changetype<usize>(utf8), utf8.byteLength);
}
