/*
 * cli.h: the `marquee` command line. One table of subcommands (cli.c) feeds
 * dispatch and `--help`; each subcommand lives in its own cmd_*.c file and
 * declares its flags in the same table row.
 *
 * Exit codes: 0 success, 1 failure, 2 usage error.
 */
#ifndef MQ_CLI_H
#define MQ_CLI_H

#include "util/util.h"

enum { MQ_EXIT_OK = 0, MQ_EXIT_FAIL = 1, MQ_EXIT_USAGE = 2 };

/* A flag a subcommand accepts. `arg` names its value ("N", "DIR"), NULL for a
 * boolean switch. */
typedef struct mq_flag {
    const char *name;
    const char *arg;
    const char *help;
} mq_flag;

#define MQ_MAX_FLAGS 24
#define MQ_MAX_POSITIONAL 8

/* What a subcommand receives: the data directory, the effective configuration,
 * flags given (by name) and positional arguments. */
typedef struct mq_cli {
    const char *data_dir;
    mq_config *config;
    const char *flag_values[MQ_MAX_FLAGS]; /* parallel to the command's flags; NULL = absent */
    const struct mq_command *cmd;
    const char *pos[MQ_MAX_POSITIONAL];
    int n_pos;
} mq_cli;

typedef struct mq_command {
    const char *name;
    const char *summary; /* one line for `marquee --help` */
    const char *usage;   /* the synopsis after "marquee " */
    const char *details; /* paragraphs for `marquee CMD --help` */
    int min_pos, max_pos;
    mq_flag flags[MQ_MAX_FLAGS];
    int (*run)(mq_cli *cli);
} mq_command;

int mq_cli_main(int argc, char **argv);

/* The store every subcommand opens: the `store` setting (--store URL,
 * MARQUEE_STORE) when set, else the data directory (SQLite). */
const char *mq_cli_store(const mq_cli *cli);

/* Flag access for subcommands. */
const char *mq_cli_flag(const mq_cli *cli, const char *name);
bool mq_cli_has(const mq_cli *cli, const char *name);
/* Parses a numeric flag; on a bad value prints a usage error and returns false. */
bool mq_cli_flag_i64(const mq_cli *cli, const char *name, int64_t min, int64_t max,
                     int64_t dflt, int64_t *out);
/* Prints "marquee CMD: message" to stderr and returns the exit code. */
int mq_cli_fail(const mq_cli *cli, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The subcommands. */
int mq_cmd_synth(mq_cli *cli);
int mq_cmd_import(mq_cli *cli);
int mq_cmd_stats(mq_cli *cli);
int mq_cmd_config(mq_cli *cli);
int mq_cmd_train(mq_cli *cli);
int mq_cmd_eval(mq_cli *cli);
int mq_cmd_eval_assets(mq_cli *cli); /* eval --assets (cmd_eval_assets.c) */
int mq_cmd_recommend(mq_cli *cli);
/* train: the ranker and match score after the candidate models (cmd_train_rank.c);
 * eval --protocol time: the ranker against the best model (cmd_eval_rank.c). */
struct mq_store;
struct mq_matrix_opts;
struct mq_train_params;
struct mq_bundle;
int mq_cmd_train_rank(mq_cli *cli, struct mq_store *s, const struct mq_matrix_opts *mo,
                      const struct mq_train_params *tp, struct mq_bundle *b, bool quiet,
                      json_t **report, mq_err *err);
int mq_cmd_eval_rank(mq_cli *cli, struct mq_store *s, struct mq_bundle *before_t,
                     int64_t t_ms, double t_quantile, bool json, json_t **report);

/* Training progress for train and eval (cmd_train.c): a bar with model,
 * iteration, loss and ETA on a terminal; a line per fitted model unless quiet.
 * Pass as the mq_train_cb with a zeroed mq_cli_progress (prefix set) as ud. */
struct mq_train_event;
typedef struct mq_cli_progress {
    mq_progress bar;
    char label[96];
    const char *prefix;
    bool quiet;
    bool active;
} mq_cli_progress;
void mq_cli_train_progress(void *ud, const struct mq_train_event *ev);
int mq_cmd_serve(mq_cli *cli);
/* The homepage (issue 6): cmd_page.c, cmd_simulate.c, and eval --page
 * (cmd_eval_page.c). */
int mq_cmd_page(mq_cli *cli);
int mq_cmd_simulate(mq_cli *cli);
int mq_cmd_eval_page(mq_cli *cli);

#endif
