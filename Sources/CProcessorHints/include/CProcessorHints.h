#ifndef CPROCESSORHINTS_H
#define CPROCESSORHINTS_H

/* Hints to the processor that Swift has no words for. */

/* Asks the CPU to bring the cache line holding `address` into its caches, for reading, without waiting
   for it. */
static inline __attribute__((always_inline)) void ferd_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/* The same for a line about to be written, so that the write does not wait for the line's old contents. */
static inline __attribute__((always_inline)) void ferd_prefetch_for_writing(void *address) {
    __builtin_prefetch(address, 1, 3);
}

/* Tells the CPU that this thread is spinning on a flag (x86 PAUSE, ARM YIELD): the spin loop then leaves the
   core's resources to a sibling hardware thread and exits without a memory-order flush. */
static inline __attribute__((always_inline)) void ferd_spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

#endif
