/* jsonmem.c: request bodies parsed into a request-scoped arena. Parsing a batch
 * of a thousand events with jansson's default allocator costs tens of thousands
 * of malloc/free pairs, about a quarter of the parse; from an arena each is a
 * pointer bump, and the whole tree goes at once when the request completes.
 *
 * jansson's allocator is process-wide (json_set_alloc_funcs). While a thread has
 * an arena installed (mq_jsonmem_begin .. mq_jsonmem_end) its allocations come
 * from the arena and its frees do nothing; otherwise both go to malloc and free,
 * so JSON made anywhere else (responses, json_dumps results freed with free())
 * is untouched. The rules that keep this safe, followed in routes.c:
 *   - a request's tree is built and changed only between begin and end;
 *   - it is never json_decref'ed: the request's arena is freed instead;
 *   - nothing outside the request keeps a pointer into it. */
#include "server_impl.h"

#include <stdlib.h>

static __thread mq_arena *current;

static void *jm_malloc(size_t n) {
    return current ? mq_arena_alloc(current, n) : malloc(n);
}

static void jm_free(void *p) {
    if (!current)
        free(p);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void install(void) {
    json_set_alloc_funcs(jm_malloc, jm_free);
}

void mq_jsonmem_install(void) {
    pthread_once(&once, install);
}

void mq_jsonmem_begin(mq_arena *a) {
    current = a;
}

void mq_jsonmem_end(void) {
    current = NULL;
}
