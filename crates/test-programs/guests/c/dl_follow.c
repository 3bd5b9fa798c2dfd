/*
 * A datalayer sense-act step: claims the cart's drive command, and on every step writes the
 * negated pendulum angle to it (plant/pendulum/angle -> plant/cart/velocity_cmd), through
 * sdk/c/sl_datalayer.h. No angle yet is not an error.
 */
#include <sl_datalayer.h>

static int32_t angle, drive;

SL_EXPORT(sl_init) int32_t sl_init(void) {
    angle = SL_DL_OPEN("plant/pendulum/angle");
    drive = SL_DL_OPEN("plant/cart/velocity_cmd");
    return angle < 0 || drive < 0 || sl_dl_claim(drive) != SL_DL_OK;
}

SL_EXPORT(sl_step) int32_t sl_step(void) {
    double x;
    int32_t rc = sl_dl_read_f64(angle, &x);
    if (rc == SL_DL_EEMPTY) return 0;
    if (rc != SL_DL_OK) return rc;
    rc = sl_dl_write_f64(drive, -x);
    return rc < 0 ? rc : 0;
}
