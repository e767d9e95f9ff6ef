/* cmd_import.c: `marquee import` (placeholder until the importers land). */
#include "cli.h"
int mq_cmd_import(mq_cli *cli) {
    return mq_cli_fail(cli, MQ_EXIT_FAIL, "not implemented yet");
}
