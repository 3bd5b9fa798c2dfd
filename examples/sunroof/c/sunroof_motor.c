/*
 * A simulated sunroof motor: every 20 ms it moves the roof towards the controller's target
 * (Vehicle.Cabin.Sunroof.TargetPosition) by at most 1 % (50 %/s), and reports where the roof is
 * (Vehicle.Cabin.Sunroof.Position, whole percent, as VSS defines it).
 */
#include <sl_vss.h>

#define MAX_STEP 1.0

static int32_t target, position;
static double at;

SL_EXPORT(sl_init) int32_t sl_init(void) {
    target = SL_VSS_SIGNAL("Vehicle.Cabin.Sunroof.TargetPosition");
    position = SL_VSS_SIGNAL("Vehicle.Cabin.Sunroof.Position");
    return target < 0 || position < 0;
}

SL_EXPORT(sl_step) int32_t sl_step(void) {
    double goal;
    int32_t rc = sl_vss_get_f64(target, &goal);
    if (rc == SL_VSS_OK) {
        double d = goal - at;
        at += d > MAX_STEP ? MAX_STEP : d < -MAX_STEP ? -MAX_STEP : d;
    } else if (rc != SL_VSS_EMPTY) {
        return rc;
    }
    rc = sl_vss_set_i64(position, (int64_t)(at + 0.5));
    return rc < 0 ? rc : 0;
}
