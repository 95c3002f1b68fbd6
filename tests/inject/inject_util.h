// Helpers of the fault-injection test programs beyond testutil.h: a
// monotonic clock in milliseconds, the byte pattern every stream carries and
// its checksum (FNV-1a 64, which the driver computes the same way), so that
// "the data stayed intact" is checked at the other end of each connection.
#pragma once
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

static inline long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// Byte number `offset` of a stream: period 251, so a shifted or repeated
// block never checks out by accident.
static inline unsigned char pattern_byte(uint64_t offset) { return (unsigned char)(offset % 251); }

static inline void pattern_fill(unsigned char* buf, size_t n, uint64_t offset) {
  for (size_t i = 0; i < n; ++i) buf[i] = pattern_byte(offset + i);
}

#define FNV_OFFSET 0xcbf29ce484222325ull

static inline uint64_t fnv1a(uint64_t h, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}
