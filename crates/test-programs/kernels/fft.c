/* Iterative radix-2 complex FFT of 16384 points (doubles), twiddles computed per stage. */
#include <math.h>
#define N 16384
static double re[N], im[N];

unsigned kernel(void) {
    for (int i = 0; i < N; i++) {
        re[i] = sin(2 * M_PI * 5 * i / N) + 0.5 * cos(2 * M_PI * 40 * i / N);
        im[i] = 0;
    }
    for (int i = 1, j = 0; i < N; i++) {
        int bit = N >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            double t = re[i]; re[i] = re[j]; re[j] = t;
            t = im[i]; im[i] = im[j]; im[j] = t;
        }
    }
    for (int len = 2; len <= N; len <<= 1) {
        double ang = -2 * M_PI / len, wr = cos(ang), wi = sin(ang);
        for (int i = 0; i < N; i += len) {
            double cr = 1, ci = 0;
            for (int k = 0; k < len / 2; k++) {
                int u = i + k, v = i + k + len / 2;
                double xr = re[v] * cr - im[v] * ci, xi = re[v] * ci + im[v] * cr;
                re[v] = re[u] - xr; im[v] = im[u] - xi;
                re[u] += xr; im[u] += xi;
                double t = cr * wr - ci * wi;
                ci = cr * wi + ci * wr;
                cr = t;
            }
        }
    }
    return (unsigned)(sqrt(re[5] * re[5] + im[5] * im[5]) + sqrt(re[40] * re[40] + im[40] * im[40]));
}
