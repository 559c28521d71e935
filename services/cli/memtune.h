/* How the naipool process asks glibc's malloc to give memory back. See memtune.c. */
#ifndef CLI_MEMTUNE_H
#define CLI_MEMTUNE_H

/* cli_malloc_tune fixes malloc's mmap threshold (CLI_MMAP_THRESHOLD) unless the operator set
 * one (MALLOC_MMAP_THRESHOLD_ or GLIBC_TUNABLES); call it first, before any thread starts. */
void cli_malloc_tune(void);

/* How often the main thread calls cli_malloc_trim while it waits for a signal. */
#define CLI_TRIM_SECONDS 30
/* cli_malloc_trim gives the free memory inside malloc's arenas back to the system. */
void cli_malloc_trim(void);

#endif
