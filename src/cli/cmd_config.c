/* cmd_config.c: `marquee config`: the settings table, or the effective values. */
#include "cli.h"

int mq_cmd_config(mq_cli *cli) {
    if (mq_cli_has(cli, "markdown"))
        mq_config_print_markdown(stdout);
    else
        mq_config_print(cli->config, stdout);
    return MQ_EXIT_OK;
}
