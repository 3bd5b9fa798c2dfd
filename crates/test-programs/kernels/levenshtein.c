/* Edit distance (dynamic programming, two rows) between two 2,000-character strings. */
#define L 2000
static char s[L], t[L];
static int prev[L + 1], cur[L + 1];

unsigned kernel(void) {
    unsigned x = 7;
    for (int i = 0; i < L; i++) {
        x = x * 1664525u + 1013904223u; s[i] = 'a' + (x >> 24) % 4;
        x = x * 1664525u + 1013904223u; t[i] = 'a' + (x >> 24) % 4;
    }
    for (int j = 0; j <= L; j++) prev[j] = j;
    for (int i = 1; i <= L; i++) {
        cur[0] = i;
        for (int j = 1; j <= L; j++) {
            int del = prev[j] + 1, ins = cur[j - 1] + 1, sub = prev[j - 1] + (s[i - 1] != t[j - 1]);
            int best = del < ins ? del : ins;
            cur[j] = best < sub ? best : sub;
        }
        for (int j = 0; j <= L; j++) prev[j] = cur[j];
    }
    return (unsigned)prev[L];
}
