/* test_cli.c: the marquee binary's command line: help, exit codes, --data before
 * or after the command, configuration precedence, `stats --json`, and that
 * docs/configuration.md is exactly what `marquee config --markdown` prints.
 * MQ_TEST_LABEL: integration */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

Test(cli, help_lists_every_command) {
    char *out, *err;
    cr_assert_eq(th_run(&out, &err, "--help", NULL), 0);
    const char *cmds[] = {"synth", "import", "stats", "config"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        cr_assert(strstr(out, cmds[i]), "--help does not list %s", cmds[i]);
    free(out);
    free(err);
    cr_assert_eq(th_run(&out, &err, "import", "--help", NULL), 0);
    cr_assert(strstr(out, "--skip-bad"), "import --help explains its flags");
    free(out);
    free(err);
}

Test(cli, usage_errors_exit_2_with_a_message) {
    char *out, *err;
    cr_assert_eq(th_run(&out, &err, "frobnicate", NULL), 2);
    cr_assert(strstr(err, "unknown command \"frobnicate\""), "%s", err);
    free(out);
    free(err);
    cr_assert_eq(th_run(&out, &err, "stats", "--frob", NULL), 2);
    cr_assert(strstr(err, "unknown flag --frob"), "%s", err);
    free(out);
    free(err);
    cr_assert_eq(th_run(&out, &err, NULL), 2, "no command is a usage error");
    free(out);
    free(err);
    cr_assert_eq(th_run(&out, &err, "stats", "--threads", "lots", NULL), 2);
    cr_assert(strstr(err, "--threads: threads: expected a number, got \"lots\""), "%s", err);
    free(out);
    free(err);
    cr_assert_eq(th_run(&out, &err, "import", "movielens", NULL), 2, "missing argument");
    free(out);
    free(err);
}

Test(cli, data_flag_before_or_after_and_stats_json) {
    char *dir = th_tmpdir(), *out, *err;
    cr_assert_eq(th_run(&out, &err, "--data", dir, "stats", "--json", NULL), 0, "%s", err);
    free(out);
    free(err);
    cr_assert_eq(th_run(&out, &err, "stats", "--json", "--data", dir, NULL), 0, "%s", err);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    cr_assert_not_null(j, "stats --json prints JSON: %s", je.text);
    const char *keys[] = {"titles", "profiles", "events", "events_by_type", "first_ts", "last_ts"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert_not_null(json_object_get(j, keys[i]), "missing key %s", keys[i]);
    cr_assert(json_is_object(json_object_get(j, "events_by_type")));
    cr_assert_not_null(json_object_get(json_object_get(j, "events_by_type"), "rating"));
    json_decref(j);
    free(out);
    free(err);
    th_rmrf(dir);
    free(dir);
}

Test(cli, config_file_env_and_flags_in_order) {
    char *dir = th_tmpdir(), *out, *err;
    free(th_write(dir, "marquee.conf", "threads = 3\nsemantics.w_play = 2\n"));
    cr_assert_eq(th_run(&out, &err, "--data", dir, "config", NULL), 0, "%s", err);
    cr_assert(strstr(out, "threads = 3\n"), "%s", out);
    cr_assert(strstr(out, "semantics.w_play = 2\n"), "%s", out);
    free(out);
    free(err);
    setenv("MARQUEE_THREADS", "4", 1);
    cr_assert_eq(th_run(&out, &err, "--data", dir, "config", NULL), 0);
    cr_assert(strstr(out, "threads = 4\n"), "the environment beats the file: %s", out);
    free(out);
    free(err);
    cr_assert_eq(th_run(&out, &err, "--data", dir, "config", "--threads=5", NULL), 0);
    cr_assert(strstr(out, "threads = 5\n"), "flags beat the environment: %s", out);
    unsetenv("MARQUEE_THREADS");
    free(out);
    free(err);
    free(th_write(dir, "marquee.conf", "threads = -1\n"));
    cr_assert_eq(th_run(&out, &err, "--data", dir, "config", NULL), 2);
    cr_assert(strstr(err, "marquee.conf:1: threads: expected a number from 0 to 1024, got -1"),
              "%s", err);
    free(out);
    free(err);
    th_rmrf(dir);
    free(dir);
}

Test(cli, configuration_doc_is_generated_from_the_table) {
    char *out, *err;
    cr_assert_eq(th_run(&out, &err, "config", "--markdown", NULL), 0);
    char *doc = th_read(MQ_SOURCE_DIR "/docs/configuration.md", NULL);
    cr_assert_not_null(doc, "docs/configuration.md is missing");
    cr_assert_str_eq(doc, out, "docs/configuration.md is stale: run `make docs`");
    free(doc);
    free(out);
    free(err);
}
