/* main.c: the marquee binary; everything is in src/cli. */
#include "cli/cli.h"

int main(int argc, char **argv) {
    return mq_cli_main(argc, argv);
}
