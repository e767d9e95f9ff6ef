/* cmd_synth.c: `marquee synth` (placeholder until the generator lands). */
#include "cli.h"
int mq_cmd_synth(mq_cli *cli) {
    return mq_cli_fail(cli, MQ_EXIT_FAIL, "not implemented yet");
}
