/* The module map (include/module.modulemap, which Package.swift's system-library target uses)
 * checked without a Swift toolchain: `make test-package` compiles this with clang -fmodules, which
 * builds the `tchat` module from the map, links it against libtchat and runs it. Plain C in a .m
 * file: no Foundation, no ARC needed. */
@import tchat;

#include <stdio.h>
#include <string.h>

int main(void) {
    /* Functions, enums and macros all come through the module. */
    if (strcmp(tchat_version(), TCHAT_VERSION_STRING) != 0) {
        fprintf(stderr, "@import tchat: tchat_version() is %s, the module's header says %s\n", tchat_version(),
                TCHAT_VERSION_STRING);
        return 1;
    }
    tchat_client_options *options = tchat_client_options_new();
    tchat_status status = tchat_client_options_set_base_url(options, NULL);
    tchat_client_options_free(options);
    if (status != TCHAT_INVALID_ARGUMENT) {
        fprintf(stderr, "@import tchat: a NULL base URL gave %s\n", tchat_status_str(status));
        return 1;
    }
    printf("@import tchat: tchat %s through the module map (%s)\n", tchat_version(), tchat_status_str(TCHAT_OK));
    return 0;
}
