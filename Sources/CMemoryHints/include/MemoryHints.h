#ifndef LANDMARK_MEMORY_HINTS_H
#define LANDMARK_MEMORY_HINTS_H

/// Asks the processor to start loading the cache line at `address` for reading, so that a graph or
/// shortlist walk can overlap the memory latency of the next rows with the arithmetic on this one.
/// A hint only: an address that is not mapped is ignored, never faulted.
static inline void landmark_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
