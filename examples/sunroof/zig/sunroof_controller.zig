//! The sunroof controller in Zig: the same EMA as c/sunroof_controller.c, step for step, so the
//! two binaries write the same targets for the same knob readings.
const sl = @import("silverline");
const vss = @import("sl_vss");

/// EMA weight of the newest knob reading per step.
const alpha: f64 = 0.3;

var knob: i32 = 0;
var target: i32 = 0;
var ema: f64 = 0;
var seeded = false;

export fn sl_init() i32 {
    knob = vss.signal("Vehicle.Cabin.Sunroof.Knob");
    target = vss.signal("Vehicle.Cabin.Sunroof.TargetPosition");
    if (knob < 0 or target < 0) return 1;
    sl.print("sunroof controller (Zig) ready");
    return 0;
}

export fn sl_step() i32 {
    var x: f64 = 0;
    const rc = vss.get_f64(knob, &x);
    if (rc == vss.EMPTY) return 0; // nobody has turned the knob yet
    if (rc != vss.OK) return rc;
    if (!seeded) {
        ema = x;
        seeded = true;
    } else {
        ema += alpha * (x - ema);
    }
    const written = vss.set_f64(target, ema);
    return if (written < 0) written else 0; // DROPPED_INACTIVE: a shadow, not the active one
}
