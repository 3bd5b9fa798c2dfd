/*
 * A simulated sunroof knob: a fixed profile of user inputs, one level every 2 s (20 steps of
 * 100 ms), written to Vehicle.Cabin.Sunroof.Knob. The profile repeats.
 */
#include <sl_vss.h>

static const double PROFILE[] = {0, 60, 60, 20, 100, 40, 0, 80};
#define STEPS_PER_LEVEL 20

static int32_t knob;
static uint32_t step;

SL_EXPORT(sl_init) int32_t sl_init(void) {
    knob = SL_VSS_SIGNAL("Vehicle.Cabin.Sunroof.Knob");
    return knob < 0;
}

SL_EXPORT(sl_step) int32_t sl_step(void) {
    uint32_t level = (step++ / STEPS_PER_LEVEL) % (sizeof PROFILE / sizeof PROFILE[0]);
    int32_t rc = sl_vss_set_f64(knob, PROFILE[level]);
    return rc < 0 ? rc : 0;
}
