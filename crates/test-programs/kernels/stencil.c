/* Jacobi 5-point stencil on a 256x256 float grid, 20 sweeps. */
#define N 256
static float g[2][N][N];

unsigned kernel(void) {
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) g[0][i][j] = g[1][i][j] = (i == 0 || j == 0) ? 100.0f : 0.0f;
    int cur = 0;
    for (int it = 0; it < 20; it++) {
        int nxt = 1 - cur;
        for (int i = 1; i < N - 1; i++)
            for (int j = 1; j < N - 1; j++)
                g[nxt][i][j] = 0.25f * (g[cur][i - 1][j] + g[cur][i + 1][j] + g[cur][i][j - 1] + g[cur][i][j + 1]);
        cur = nxt;
    }
    float s = 0;
    for (int i = 0; i < N; i++) s += g[cur][i][N / 2];
    return (unsigned)(s * 100.0f);
}
