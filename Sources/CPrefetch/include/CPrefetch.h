#ifndef CPREFETCH_H
#define CPREFETCH_H

/* Asks the CPU to bring the cache line holding `address` into its caches, for reading, without waiting
   for it: Swift has no prefetch of its own. */
static inline __attribute__((always_inline)) void ferd_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
