/* Dense matrix multiply, 128x128 doubles, i-k-j order. */
#define N 128
static double a[N][N], b[N][N], c[N][N];

unsigned kernel(void) {
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            a[i][j] = (double)((i * 31 + j * 17) % 97) / 97.0;
            b[i][j] = (double)((i * 7 + j * 13) % 89) / 89.0;
            c[i][j] = 0.0;
        }
    for (int i = 0; i < N; i++)
        for (int k = 0; k < N; k++) {
            double aik = a[i][k];
            for (int j = 0; j < N; j++) c[i][j] += aik * b[k][j];
        }
    double s = 0;
    for (int i = 0; i < N; i++) s += c[i][i];
    return (unsigned)(s * 1000.0);
}
