/*
 * The sunroof controller of the paper's automotive case study: every 100 ms it reads the knob
 * (Vehicle.Cabin.Sunroof.Knob, percent), smooths it with an exponential moving average and
 * writes the motor's target (Vehicle.Cabin.Sunroof.TargetPosition, percent). The same binary
 * runs on a zone controller or a vehicle computer: it names signals, never a bus or a broker.
 */
#include <sl_vss.h>

/* EMA weight of the newest knob reading per 100 ms step. */
#define ALPHA 0.3

static int32_t knob, target;
static double ema;
static int seeded;

SL_EXPORT(sl_init) int32_t sl_init(void) {
    knob = SL_VSS_SIGNAL("Vehicle.Cabin.Sunroof.Knob");
    target = SL_VSS_SIGNAL("Vehicle.Cabin.Sunroof.TargetPosition");
    return knob < 0 || target < 0;
}

SL_EXPORT(sl_step) int32_t sl_step(void) {
    double x;
    int32_t rc = sl_vss_get_f64(knob, &x);
    if (rc == SL_VSS_EMPTY) return 0; /* nobody has turned the knob yet */
    if (rc != SL_VSS_OK) return rc;
    if (!seeded) {
        ema = x;
        seeded = 1;
    } else {
        ema += ALPHA * (x - ema);
    }
    rc = sl_vss_set_f64(target, ema);
    return rc < 0 ? rc : 0; /* SL_VSS_DROPPED_INACTIVE: a shadow, not the active controller */
}
