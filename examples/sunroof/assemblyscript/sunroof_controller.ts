// The sunroof controller in AssemblyScript: the same EMA as c/sunroof_controller.c, step for
// step, so the two binaries write the same targets for the same knob readings.
import { log } from "../../../sdk/assemblyscript/silverline";
import { signal, getF64, lastF64, setF64, OK, EMPTY } from "../../../sdk/assemblyscript/sl_vss";

// EMA weight of the newest knob reading per step.
const ALPHA: f64 = 0.3;

let knob: i32 = 0;
let target: i32 = 0;
let ema: f64 = 0;
let seeded = false;

export function sl_init(): i32 {
  knob = signal("Vehicle.Cabin.Sunroof.Knob");
  target = signal("Vehicle.Cabin.Sunroof.TargetPosition");
  if (knob < 0 || target < 0) return 1;
  log("sunroof controller (AssemblyScript) ready");
  return 0;
}

export function sl_step(): i32 {
  const rc = getF64(knob);
  if (rc == EMPTY) return 0; // nobody has turned the knob yet
  if (rc != OK) return rc;
  const x = lastF64();
  if (!seeded) {
    ema = x;
    seeded = true;
  } else {
    ema += ALPHA * (x - ema);
  }
  const written = setF64(target, ema);
  return written < 0 ? written : 0; // DROPPED_INACTIVE: a shadow, not the active one
}
