/* cmd_serve.c: `marquee serve`: runs the HTTP API (src/server) until SIGTERM or
 * SIGINT, then stops gracefully. The signals are blocked in every thread and
 * taken here with sigwait, so no handler runs inside the server's threads. */
#include "cli.h"
#include "server/server.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

int mq_cmd_serve(mq_cli *cli) {
    mq_server_options o;
    mq_server_options_from_config(&o, cli->config, cli->data_dir);
    if (mq_cli_has(cli, "bind"))
        o.bind = mq_cli_flag(cli, "bind");
    int64_t port;
    if (!mq_cli_flag_i64(cli, "port", 0, 65535, o.port, &port))
        return MQ_EXIT_USAGE;
    o.port = (int)port;

    /* Before any thread starts, so every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    mq_err err = {0};
    mq_server *srv;
    if (mq_server_start(&o, &srv, &err))
        return mq_cli_fail(cli, MQ_EXIT_FAIL, "%s", err.msg);
    bool v6 = strchr(o.bind, ':') != NULL;
    /* Tests and scripts read this line to learn the port (with --port 0). */
    printf("listening on http://%s%s%s:%d\n", v6 ? "[" : "", o.bind, v6 ? "]" : "",
           mq_server_port(srv));
    fflush(stdout);
    mq_log(MQ_LOG_INFO, "serving %s on %s port %d", cli->data_dir, o.bind, mq_server_port(srv));

    int sig = 0;
    sigwait(&set, &sig);
    mq_log(MQ_LOG_INFO, "%s: finishing in-flight requests, then stopping",
           sig == SIGTERM ? "SIGTERM" : "SIGINT");
    mq_server_stop(srv);
    mq_log(MQ_LOG_INFO, "stopped");
    return MQ_EXIT_OK;
}
