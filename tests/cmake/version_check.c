/* A program linked against an installed tchat (`make test-package`): built by tests/cmake (CMake,
 * shared and static) and by the README's static pkg-config link line. The library it runs with
 * must be the version of the header it was compiled against, and a client must come up (which
 * pulls in most of the library, so a static link without the libraries it needs fails here). */
#include <stdio.h>
#include <string.h>

#include "tchat.h"

#define STR_(x) #x
#define STR(x) STR_(x)

int main(void) {
    const char *header = STR(TCHAT_VERSION_MAJOR) "." STR(TCHAT_VERSION_MINOR) "." STR(TCHAT_VERSION_PATCH);
    const char *library = tchat_version();
    if (strcmp(library, header) != 0 || strcmp(header, TCHAT_VERSION_STRING) != 0) {
        fprintf(stderr, "tchat_version() is %s, the header's macros say %s (TCHAT_VERSION_STRING %s)\n", library,
                header, TCHAT_VERSION_STRING);
        return 1;
    }

    tchat_client_options *options = tchat_client_options_new();
    tchat_client *client = NULL;
    if (options == NULL || tchat_client_options_set_base_url(options, "http://127.0.0.1:9") != TCHAT_OK ||
        tchat_client_options_set_token(options, "tr_dev_tchat_local") != TCHAT_OK ||
        tchat_client_new(options, &client) != TCHAT_OK) {
        fprintf(stderr, "tchat_client_new: %s\n", tchat_last_error_message());
        tchat_client_options_free(options);
        return 1;
    }
    tchat_client_options_free(options);
    tchat_client_free(client);

    printf("tchat %s: the library and the header agree; a client came up\n", library);
    return 0;
}
