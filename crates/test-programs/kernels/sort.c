/* Quicksort of 100,000 pseudo-random ints (LCG), then a checksum of every 1000th. */
#define N 100000
static int v[N];

static void quicksort(int *a, int lo, int hi) {
    while (lo < hi) {
        int p = a[(lo + hi) / 2], i = lo, j = hi;
        while (i <= j) {
            while (a[i] < p) i++;
            while (a[j] > p) j--;
            if (i <= j) { int t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
        }
        if (j - lo < hi - i) { quicksort(a, lo, j); lo = i; }
        else { quicksort(a, i, hi); hi = j; }
    }
}

unsigned kernel(void) {
    unsigned x = 12345;
    for (int i = 0; i < N; i++) { x = x * 1103515245u + 12345u; v[i] = (int)(x >> 1); }
    quicksort(v, 0, N - 1);
    unsigned s = 0;
    for (int i = 0; i < N; i += 1000) s = s * 31 + (unsigned)v[i];
    return s;
}
