/* cli.c: the subcommand table, global flags (--data, --help, and every setting of
 * the configuration table as --name VALUE), flag parsing and help output. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const mq_command commands[] = {
    {"synth", "generate a synthetic world (titles, profiles, months of events) into the store",
     "synth [--seed N] [--titles N] [--profiles N] [--days N] [--sessions N] [--export DIR]\n"
     "       [--params FILE] [--force]",
     "Generates a deterministic synthetic world from --seed: titles with genres, tags,\n"
     "artwork and synopsis variants; profiles with latent tastes; and months of events\n"
     "from a ground-truth behaviour model. The ground truth is written as JSON to\n"
     "DIR/ground_truth.json. With --export, the world is also written as JSONL files\n"
     "(titles.jsonl, profiles.jsonl, events.jsonl) that `marquee import` reads back.\n"
     "Refuses to write into a store that already has events unless --force.",
     0, 0,
     {{"seed", "N", "random seed (default 1)"},
      {"titles", "N", "number of titles (default 5000)"},
      {"profiles", "N", "number of profiles (default 20000)"},
      {"days", "N", "days of history (default 90)"},
      {"sessions", "N", "mean sessions per profile (default: sized for ~100 events/profile)"},
      {"export", "DIR", "also write the world as JSONL files into DIR"},
      {"force", NULL, "write even if the store already holds events"},
      {"params", "FILE", "effect sizes and other world parameters as JSON "
                         "(docs/synthetic-world.md)"}},
     mq_cmd_synth},
    {"import", "import MovieLens or JSONL data into the store",
     "import movielens DIR | import titles FILE.jsonl | import profiles FILE.jsonl | "
     "import events FILE.jsonl",
     "movielens DIR   detects ml-100k (u.data, u.item), ml-1m/ml-10m (ratings.dat,\n"
     "                movies.dat) and ml-latest/20m/25m/32m (ratings.csv, movies.csv,\n"
     "                optional tags.csv). Ratings become `rating` events.\n"
     "titles FILE     one title JSON object per line (docs/data-model.md)\n"
     "profiles FILE   one profile JSON object per line\n"
     "events FILE     one event JSON object per line\n"
     "A malformed row fails the import (nothing is kept) with file:line and what was\n"
     "expected; with --skip-bad it is skipped and counted. Re-running is idempotent.",
     2, 2,
     {{"skip-bad", NULL, "skip and count malformed rows instead of failing"},
      {"batch", "N", "rows per transaction (default: import.batch)"},
      {"json", NULL, "print the report as JSON"}},
     mq_cmd_import},
    {"stats", "counts of titles, profiles and events by type, and the date range",
     "stats [--json]", "Reads the store and prints what it holds.", 0, 0,
     {{"json", NULL, "print JSON (keys: titles, profiles, events, events_by_type, first_ts, "
                     "last_ts)"}},
     mq_cmd_stats},
    {"config", "print the configuration table or the effective settings",
     "config [--markdown]",
     "Without flags, prints every setting's effective value (defaults, then\n"
     "DIR/marquee.conf, then MARQUEE_* variables, then flags).\n"
     "With --markdown, prints the documented table (docs/configuration.md).",
     0, 0,
     {{"markdown", NULL, "print the table of settings as Markdown"}},
     mq_cmd_config},
    {"train", "fit the candidate models and publish a bundle",
     "train [--models LIST] [--no-validation] [--json]",
     "Builds the implicit-feedback matrix from the store (the semantics table turns\n"
     "plays, completions, rewatches, thumbs and ratings into confidences and\n"
     "negatives, with recency decay), then fits popularity and trending, item-kNN,\n"
     "iALS, EASE (skipped above models.ease.max_titles) and the content model.\n"
     "First a validation split (models.validation of the profiles) picks the model\n"
     "served by default (best Recall@20); then every model is fitted on all the data.\n"
     "The bundle is written to DIR/bundles/bundle-TIME.mqb, DIR/bundle.mqb is\n"
     "repointed to it atomically, and it is stored as the blob \"bundle\".\n"
     "Hyperparameters are the models.* settings (docs/models.md).",
     0, 0,
     {{"models", "LIST", "comma-separated models to fit (default all): popular, trending, knn, "
                         "ials, ease, content"},
      {"no-validation", NULL, "skip the validation split (iALS becomes the default model)"},
      {"json", NULL, "print the report as JSON"}},
     mq_cmd_train},
    {"eval", "offline evaluation of the candidate models",
     "eval [--protocol strong|loo|time] [--split test|validation] [--seed N] [--models LIST]\n"
     "       [--k LIST] [--time T] [--repeats N] [--include-seen] [--json]\n"
     "       eval --assets [--simulate] [--slot artwork|synopsis] [--seed N] [--json]",
     "Splits the data by a protocol of DESIGN.md, fits the models on the training part\n"
     "and ranks the whole catalogue for every held-out profile (no sampled negatives,\n"
     "titles in the given history excluded):\n"
     "  strong   strong generalization: 20% test / 10% validation profiles among those\n"
     "           with >= 5 positives; 80% of each one's positives given, 20% scored\n"
     "  loo      leave-last-out: each profile's last positive held out\n"
     "  time     global time split at the 90th percentile of event times (or --time)\n"
     "Prints one table per model: Recall, NDCG, HR, coverage, ECS and novelty at each\n"
     "K, and MRR. Tune hyperparameters with --split validation, never on test.",
     0, 0,
     {{"protocol", "P", "strong (default), loo or time"},
      {"split", "S", "test (default) or validation"},
      {"seed", "N", "seed of the split (default 1)"},
      {"models", "LIST", "comma-separated models (default all)"},
      {"k", "LIST", "cut-offs (default 10,20,50,100)"},
      {"time", "T", "time split: train before this RFC 3339 time"},
      {"include-seen", NULL, "also rank titles in the given history"},
      {"repeats", "N", "strong: average over N hold-out draws of the same profiles (default 1)"},
      {"json", NULL, "print JSON"},
      /* asset bandits (issue 7; cmd_eval_assets.c, docs/assets.md) */
      {"assets", NULL, "evaluate the artwork bandits instead: replay and SNIPS on the log"},
      {"simulate", NULL, "with --assets: online simulation against the synthetic world"},
      {"slot", "S", "with --assets: artwork (default) or synopsis"},
      /* the homepage (issue 6; cmd_eval_page.c, docs/page.md) */
      {"page", NULL, "the homepage's first-screen hit rate on the global time split"},
      {"plays", "N", "with --page: held-out plays scored, at most (default 3000)"}},
     mq_cmd_eval},
    {"recommend", "batch recommendations from the current bundle",
     "recommend (--profiles FILE | --profile ID) [-k N] [--model NAME] [--format csv|text|json]",
     "Scores each profile's history (read from the store, folded in live) with the\n"
     "bundle's default model (the best on validation) or --model, and prints the top\n"
     "k titles, already-seen titles excluded. --profiles reads one profile id per line\n"
     "and writes CSV: a header `profile,rank,title,score`, then one row per\n"
     "recommendation with ranks from 1. --profile prints a readable list.",
     0, 0,
     {{"profiles", "FILE", "file with one profile id per line"},
      {"profile", "ID", "one profile, as a readable list"},
      {"k", "N", "recommendations per profile (default 20)"},
      {"model", "NAME", "popular, trending, knn, ials, ease or content"},
      {"format", "F", "csv (default with --profiles), text (default with --profile) or json"},
      {"include-seen", NULL, "do not exclude titles the profile has already seen"}},
     mq_cmd_recommend},
    {"serve", "serve the HTTP API: events, titles, profiles, live state, metrics",
     "serve [--bind ADDR] [--port N]",
     "Serves the HTTP JSON API described in docs/openapi.yaml on server.bind and\n"
     "server.port (default 127.0.0.1:8080): event ingestion (durable before the answer,\n"
     "group-committed), titles, profiles, thumbs, each profile's live state, /healthz\n"
     "and /metrics. The live state is rebuilt from the event log at start.\n"
     "Prints `listening on http://ADDR:PORT` on stdout once it accepts connections\n"
     "(--port 0 picks a free port). SIGTERM or SIGINT stops it gracefully: requests in\n"
     "flight finish and everything acknowledged is committed. Other settings: the\n"
     "server.* rows of `marquee config`.",
     0, 0,
     {{"bind", "ADDR", "address to listen on (default: server.bind, 127.0.0.1)"},
      {"port", "N", "TCP port (default: server.port, 8080; 0 = any free port)"}},
     mq_cmd_serve},
    /* the homepage (issue 6; cmd_page.c, cmd_simulate.c, docs/page.md) */
    {"page", "print a profile's personalized homepage",
     "page --profile ID [--device tv|phone|tablet|web] [--rows N] [--items N]\n"
     "       [--policy full|no-ranker|template|popular] [--json]",
     "Assembles the profile's homepage as `marquee serve` does (GET\n"
     "/v1/profiles/ID/homepage): candidate rows scored and chosen one position at a\n"
     "time, titles ordered by the ranker, from the store's catalogue, the profile's\n"
     "state rebuilt from its events, and DIR/bundle.mqb. Prints the rows with their\n"
     "captions, evidence and titles with their match, or --json as the API does.",
     0, 0,
     {{"profile", "ID", "the profile (external id)"},
      {"device", "D", "tv (default), phone, tablet or web: the device's format"},
      {"rows", "N", "rows (default: the device's)"},
      {"items", "N", "titles per row (default: the device's)"},
      {"policy", "P", "page policy (default page.policy)"},
      {"json", NULL, "print the API's JSON"}},
     mq_cmd_page},
    {"simulate", "simulated members browse marquee's homepages: time to play per page policy",
     "simulate [--sessions N] [--seed N] [--policies LIST] [--svg FILE] [--json]",
     "Regenerates the synthetic world from the store's ground truth and lets its\n"
     "members, with the world's true tastes, open the homepage marquee assembles for\n"
     "them (in process, as the server does) and browse it: row by row, left to right,\n"
     "up to the device's visible titles (sometimes scrolling along), each row glance\n"
     "and title look costing simulated seconds (simulate.*), playing a title when the\n"
     "ground truth's attraction says so, giving up after simulate.patience_s. Their\n"
     "impressions, scrolls and plays go back into the live state, so the pages learn\n"
     "as they go. Each page policy sees the same members at the same times with the\n"
     "same random draws. Reports per policy: share of sessions that play within\n"
     "simulate.target_s, median time to play, take rate, watch minutes per session\n"
     "and Effective Catalog Size; writes an SVG of time to play with --svg.\n"
     "Needs `marquee synth` and `marquee train` first.",
     0, 0,
     {{"sessions", "N", "sessions per policy (default simulate.sessions)"},
      {"seed", "N", "random seed (default simulate.seed)"},
      {"policies", "LIST", "comma-separated page policies (default popular,template,no-ranker,full)"},
      {"svg", "FILE", "write the time-to-play chart (SVG) to FILE"},
      {"json", NULL, "print JSON"}},
     mq_cmd_simulate},
};

static void print_main_help(FILE *f) {
    fprintf(f, "marquee: a personalization engine for video catalogues\n\n"
               "usage: marquee [--data DIR] COMMAND [flags]\n\ncommands:\n");
    for (size_t i = 0; i < MQ_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nglobal flags:\n"
               "  --data DIR     data directory (default ./marquee-data, or $MARQUEE_DATA)\n"
               "  --store URL    a shared PostgreSQL store (postgres://user@host:port/db)\n"
               "                 instead of SQLite in the data directory ($MARQUEE_STORE)\n"
               "  --SETTING V    any configuration setting (`marquee config` lists them)\n"
               "  --help         this text; `marquee COMMAND --help` explains a command\n"
               "\nexit codes: 0 success, 1 failure, 2 usage error\n");
}

static void print_cmd_help(const mq_command *c, FILE *f) {
    fprintf(f, "usage: marquee [--data DIR] %s\n\n%s\n\n%s\n", c->usage, c->summary, c->details);
    if (c->flags[0].name) {
        fprintf(f, "\nflags:\n");
        for (int i = 0; i < MQ_MAX_FLAGS && c->flags[i].name; i++) {
            char lhs[64];
            snprintf(lhs, sizeof lhs, "--%s%s%s", c->flags[i].name, c->flags[i].arg ? " " : "",
                     c->flags[i].arg ? c->flags[i].arg : "");
            fprintf(f, "  %-18s %s\n", lhs, c->flags[i].help);
        }
    }
}

const char *mq_cli_store(const mq_cli *cli) {
    const char *url = cli->config ? mq_config_str(cli->config, "store") : NULL;
    return url && *url ? url : cli->data_dir;
}

const char *mq_cli_flag(const mq_cli *cli, const char *name) {
    for (int i = 0; i < MQ_MAX_FLAGS && cli->cmd->flags[i].name; i++)
        if (strcmp(cli->cmd->flags[i].name, name) == 0)
            return cli->flag_values[i];
    return NULL;
}

bool mq_cli_has(const mq_cli *cli, const char *name) {
    return mq_cli_flag(cli, name) != NULL;
}

int mq_cli_fail(const mq_cli *cli, int code, const char *fmt, ...) {
    fprintf(stderr, "marquee %s: ", cli->cmd ? cli->cmd->name : "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

bool mq_cli_flag_i64(const mq_cli *cli, const char *name, int64_t min, int64_t max,
                     int64_t dflt, int64_t *out) {
    const char *v = mq_cli_flag(cli, name);
    *out = dflt;
    if (!v)
        return true;
    if (!mq_parse_i64(v, out) || *out < min || *out > max) {
        mq_cli_fail(cli, MQ_EXIT_USAGE, "--%s: expected an integer from %lld to %lld, got \"%s\"",
                    name, (long long)min, (long long)max, v);
        return false;
    }
    return true;
}

static const mq_command *find_command(const char *name) {
    for (size_t i = 0; i < MQ_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int find_flag(const mq_command *c, const char *name) {
    for (int i = 0; c && i < MQ_MAX_FLAGS && c->flags[i].name; i++)
        if (strcmp(c->flags[i].name, name) == 0)
            return i;
    return -1;
}

int mq_cli_main(int argc, char **argv) {
    mq_cli cli = {0};
    const char *data = getenv("MARQUEE_DATA");
    /* Config flags are applied after the file and environment, so collect them. */
    char cfg_names[64][128];
    const char *cfg_values[64];
    int n_cfg = 0;
    bool help = false;
    int rc = MQ_EXIT_USAGE;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help = true;
            continue;
        }
        /* -k N: a one-letter flag of the command may be written with one dash. */
        char short_flag[4];
        if (a[0] == '-' && a[1] && a[1] != '-' && a[2] == '\0' && find_flag(cli.cmd, a + 1) >= 0) {
            snprintf(short_flag, sizeof short_flag, "--%c", a[1]);
            a = short_flag;
        }
        if (strncmp(a, "--", 2) != 0 || strlen(a) == 2) {
            if (!cli.cmd) {
                cli.cmd = find_command(a);
                if (!cli.cmd) {
                    fprintf(stderr,
                            "marquee: unknown command \"%s\"; `marquee --help` lists the "
                            "commands\n",
                            a);
                    return MQ_EXIT_USAGE;
                }
            } else if (cli.n_pos < MQ_MAX_POSITIONAL) {
                cli.pos[cli.n_pos++] = a;
            } else {
                return mq_cli_fail(&cli, MQ_EXIT_USAGE, "too many arguments");
            }
            continue;
        }
        /* --name value or --name=value */
        char name[128];
        const char *val = NULL, *eq = strchr(a + 2, '=');
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - a - 2) : (int)strlen(a + 2), a + 2);
        if (eq)
            val = eq + 1;
        int fi = find_flag(cli.cmd, name);
        bool is_data = strcmp(name, "data") == 0;
        bool takes_arg = is_data || mq_config_has(name) || (fi >= 0 && cli.cmd->flags[fi].arg);
        if (fi < 0 && !is_data && !mq_config_has(name)) {
            if (cli.cmd)
                return mq_cli_fail(&cli, MQ_EXIT_USAGE,
                                   "unknown flag --%s; `marquee %s --help` lists the flags", name,
                                   cli.cmd->name);
            fprintf(stderr, "marquee: unknown flag --%s; `marquee --help` lists the flags\n",
                    name);
            return MQ_EXIT_USAGE;
        }
        if (takes_arg && !val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "marquee: --%s: expected a value\n", name);
                return MQ_EXIT_USAGE;
            }
            val = argv[++i];
        } else if (!takes_arg && val) {
            return mq_cli_fail(&cli, MQ_EXIT_USAGE, "--%s takes no value", name);
        } else if (!takes_arg) {
            val = "1";
        }
        if (is_data)
            data = val;
        else if (fi >= 0)
            cli.flag_values[fi] = val;
        else if (n_cfg < 64) {
            memcpy(cfg_names[n_cfg], name, sizeof name);
            cfg_values[n_cfg++] = val;
        }
    }
    if (!cli.cmd) {
        print_main_help(help ? stdout : stderr);
        return help ? MQ_EXIT_OK : MQ_EXIT_USAGE;
    }
    if (help) {
        print_cmd_help(cli.cmd, stdout);
        return MQ_EXIT_OK;
    }
    if (cli.n_pos < cli.cmd->min_pos || cli.n_pos > cli.cmd->max_pos)
        return mq_cli_fail(&cli, MQ_EXIT_USAGE, "expected: marquee %s", cli.cmd->usage);

    cli.data_dir = data && *data ? data : "./marquee-data";
    cli.config = mq_config_create();
    mq_err err = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/marquee.conf", cli.data_dir);
    if (mq_config_load_file(cli.config, path, &err) || mq_config_load_env(cli.config, &err)) {
        rc = mq_cli_fail(&cli, MQ_EXIT_USAGE, "%s", err.msg);
        goto out;
    }
    for (int i = 0; i < n_cfg; i++) {
        char origin[160];
        snprintf(origin, sizeof origin, "--%s", cfg_names[i]);
        if (mq_config_set(cli.config, cfg_names[i], cfg_values[i], origin, &err)) {
            rc = mq_cli_fail(&cli, MQ_EXIT_USAGE, "%s", err.msg);
            goto out;
        }
    }
    mq_threads_set_budget((int)mq_config_num(cli.config, "threads"));
    const char *lvl = mq_config_str(cli.config, "log_level");
    mq_log_set_level(strcmp(lvl, "debug") == 0  ? MQ_LOG_DEBUG
                     : strcmp(lvl, "warn") == 0  ? MQ_LOG_WARN
                     : strcmp(lvl, "error") == 0 ? MQ_LOG_ERROR
                                                 : MQ_LOG_INFO);
    rc = cli.cmd->run(&cli);
out:
    mq_config_destroy(cli.config);
    return rc;
}
