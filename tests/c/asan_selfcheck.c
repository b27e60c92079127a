/* Only for tests/sanitize/asan_c.sh, never for make test-c: proves that the sanitized build really
 * catches errors inside libtchat before its clean run is believed. Each mode makes one mistake that
 * only AddressSanitizer/LeakSanitizer can see; the script expects a report and the exit code set by
 * its ASAN_OPTIONS, and fails if the program runs through.
 *
 *   asan_selfcheck use-after-free | overflow | leak
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tchat.h"

/* Loses an options object (allocated by Rust), out of line so that no register or live stack slot
 * of main still points at it when LeakSanitizer scans at exit. */
static void __attribute__((noinline)) lose_options(void) {
    tchat_client_options *volatile lost = tchat_client_options_new();
    (void)lost;
}

/* Overwrites the stack below main, where lose_options' frame was. */
static void __attribute__((noinline)) scrub_stack(void) {
    volatile unsigned char scratch[4096];
    size_t i;
    for (i = 0; i < sizeof scratch; i++) scratch[i] = 0;
}

int main(int argc, char **argv) {
    tchat_client_options *options = tchat_client_options_new();
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "use-after-free") == 0) {
        /* libtchat's own (instrumented) drop code reads the freed object. */
        tchat_client_options_free(options);
        tchat_client_options_free(options);
    } else if (strcmp(mode, "overflow") == 0) {
        /* libtchat copies 64 bytes out of an 8-byte buffer. */
        unsigned char *pem = malloc(8);
        if (!pem) return 2;
        memset(pem, 'x', 8);
        tchat_client_options_add_root_certs_pem(options, pem, 64);
        free(pem);
        tchat_client_options_free(options);
    } else if (strcmp(mode, "leak") == 0) {
        tchat_client_options_free(options);
        lose_options();
        scrub_stack();
    } else {
        fprintf(stderr, "usage: %s use-after-free|overflow|leak\n", argv[0]);
        tchat_client_options_free(options);
        return 2;
    }
    printf("asan_selfcheck %s: no report\n", mode);
    return 0;
}
