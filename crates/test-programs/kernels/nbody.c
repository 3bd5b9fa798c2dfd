/* N-body simulation: 5 bodies, 20,000 steps (the classic benchmark's integrator). */
#include <math.h>
#define B 5
static double x[B], y[B], z[B], vx[B], vy[B], vz[B], m[B];

unsigned kernel(void) {
    for (int i = 0; i < B; i++) {
        x[i] = i; y[i] = i * 0.5; z[i] = -i * 0.25;
        vx[i] = 0.01 * i; vy[i] = -0.02 * i; vz[i] = 0.005; m[i] = 1.0 + i;
    }
    const double dt = 0.001;
    for (int s = 0; s < 20000; s++) {
        for (int i = 0; i < B; i++)
            for (int j = i + 1; j < B; j++) {
                double dx = x[i] - x[j], dy = y[i] - y[j], dz = z[i] - z[j];
                double d2 = dx * dx + dy * dy + dz * dz + 0.01;
                double mag = dt / (d2 * sqrt(d2));
                vx[i] -= dx * m[j] * mag; vy[i] -= dy * m[j] * mag; vz[i] -= dz * m[j] * mag;
                vx[j] += dx * m[i] * mag; vy[j] += dy * m[i] * mag; vz[j] += dz * m[i] * mag;
            }
        for (int i = 0; i < B; i++) { x[i] += dt * vx[i]; y[i] += dt * vy[i]; z[i] += dt * vz[i]; }
    }
    double e = 0;
    for (int i = 0; i < B; i++) e += 0.5 * m[i] * (vx[i] * vx[i] + vy[i] * vy[i] + vz[i] * vz[i]);
    return (unsigned)(e * 1e6);
}
