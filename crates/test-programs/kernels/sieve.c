/* Sieve of Eratosthenes up to 2,000,000: the number of primes. */
#define N 2000000
static unsigned char composite[N + 1];

unsigned kernel(void) {
    for (int i = 0; i <= N; i++) composite[i] = 0;
    unsigned count = 0;
    for (int i = 2; i <= N; i++) {
        if (composite[i]) continue;
        count++;
        for (long long j = (long long)i * i; j <= N; j += i) composite[j] = 1;
    }
    return count;
}
