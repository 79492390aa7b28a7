/* shiftnas command-line front end: dispatches to subcommands. */
#include "config.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("shiftnas %s (%s)\n", PACKAGE_VERSION, SHIFTNAS_REVISION);
        return 0;
    }
    fprintf(stderr, "usage: shiftnas --version\n");
    return 2;
}
