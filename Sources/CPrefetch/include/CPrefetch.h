#ifndef CPREFETCH_H
#define CPREFETCH_H

/* Asks the CPU to bring the cache line holding `address` into its caches, for reading, without waiting
   for it: Swift has no prefetch of its own. */
static inline __attribute__((always_inline)) void ferd_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/* The same for a line about to be written, so that the write does not wait for the line's old contents. */
static inline __attribute__((always_inline)) void ferd_prefetch_for_writing(void *address) {
    __builtin_prefetch(address, 1, 3);
}

#endif
