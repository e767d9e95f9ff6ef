/*
 * harness.h: the fuzz harnesses for marquee's parsers of outside input. Each takes
 * arbitrary bytes and must never crash, leak or trip a sanitizer. They are driven
 * by libFuzzer (fuzz/fuzz_main.c, `make fuzz`) and replayed over the checked-in
 * corpus by tests/test_fuzz_corpus.c on every `make test`.
 */
#ifndef MQ_FUZZ_HARNESS_H
#define MQ_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* JSON documents as the API and the JSONL importers receive them: parsed as an
 * event, a title and a profile (and each element of an array as an event). */
int mq_fuzz_json(const uint8_t *data, size_t size);
/* Timestamps, numbers and ids as text. */
int mq_fuzz_text(const uint8_t *data, size_t size);

#endif
