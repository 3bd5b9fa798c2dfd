/* Bitwise CRC-32 (no table) of a 128 KiB buffer. */
#include <stdint.h>
#define LEN (128 * 1024)
static uint8_t buf[LEN];

unsigned kernel(void) {
    for (int i = 0; i < LEN; i++) buf[i] = (uint8_t)(i ^ (i >> 5));
    uint32_t crc = 0xffffffffu;
    for (int i = 0; i < LEN; i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
    }
    return ~crc;
}
