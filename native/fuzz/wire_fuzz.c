/*
 * libFuzzer target for the C side of the wire protocol (native/wire/wire.h), as the shim uses it:
 *  - reply parsing: arbitrary bytes as an uploader's answer: header check, then REPLY, RESULT and
 *    STAT_REPLY decoded exactly as native/shim/conn.c does (bounded message buffer, sticky errors);
 *  - frame encoding: OPEN, RENAME, UNLINK and STAT built from fuzzed fields into a buffer of fuzzed
 *    capacity; wire_finish() must refuse exactly the frames that do not fit, and every frame it
 *    accepts must decode back to the same fields.
 * Buffers are heap copies of their exact size, so AddressSanitizer catches any read or write past
 * them. Build and run: bench/fuzz.sh (clang -fsanitize=fuzzer,address,undefined).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../wire/wire.h"

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "wire_fuzz: check failed: %s (line %d)\n", #cond, __LINE__); \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* Takes n bytes from the input, or fewer at its end. */
struct input {
  const uint8_t *p;
  size_t left;
};

static uint32_t take_u32(struct input *in) {
  uint32_t v = 0;
  for (int i = 0; i < 4 && in->left > 0; i++, in->p++, in->left--) v = v << 8 | *in->p;
  return v;
}

static const uint8_t *take(struct input *in, size_t *n) {
  if (*n > in->left) *n = in->left;
  const uint8_t *p = in->p;
  in->p += *n;
  in->left -= *n;
  return p;
}

/* REPLY, RESULT, STAT_REPLY as conn.c decodes them. */
static void parse_answer(const uint8_t *payload, size_t len, uint16_t type) {
  char message[WIRE_MAX_MESSAGE + 1];
  struct wire_reader r = {payload, len, 0};
  int32_t err = wire_get_i32(&r);
  if (type == WIRE_MSG_RESULT) (void)wire_get_u64(&r);
  if (type == WIRE_MSG_STAT_REPLY) {
    (void)wire_get_u64(&r);
    (void)wire_get_i64(&r);
  }
  size_t n = wire_get_str(&r, message, sizeof message);
  CHECK(r.left <= len);
  if (!r.error) {
    CHECK(n <= WIRE_MAX_MESSAGE);
    CHECK(message[n] == '\0');
    /* What the shim does next: a negative err is malformed, otherwise it is the errno. */
    (void)err;
  } else {
    CHECK(n == 0 && message[0] == '\0');
  }
}

static void fuzz_answer(struct input *in) {
  uint8_t header[WIRE_HEADER_SIZE] = {0};
  size_t hn = WIRE_HEADER_SIZE;
  const uint8_t *h = take(in, &hn);
  memcpy(header, h, hn);
  uint16_t type = 0;
  uint32_t len = 0;
  if (wire_parse_header(header, &type, &len) != 0) return;
  CHECK(len <= WIRE_MAX_PAYLOAD);
  size_t n = in->left < len ? in->left : len;
  uint8_t *payload = malloc(n ? n : 1);
  CHECK(payload != NULL);
  memcpy(payload, in->p, n);
  /* Every type, whatever the header says: the shim checks the type, the decoder must not care. */
  parse_answer(payload, n, WIRE_MSG_REPLY);
  parse_answer(payload, n, WIRE_MSG_RESULT);
  parse_answer(payload, n, WIRE_MSG_STAT_REPLY);
  free(payload);
}

static void check_str(struct wire_reader *r, const uint8_t *want, size_t n) {
  char *got = malloc(n + 1);
  CHECK(got != NULL);
  size_t len = wire_get_str(r, got, n + 1);
  CHECK(!r->error && len == n && memcmp(got, want, n) == 0);
  free(got);
}

static void fuzz_encode(struct input *in) {
  uint32_t sel = take_u32(in);
  size_t cap = take_u32(in) % (2 * WIRE_MAX_PAYLOAD + 64);
  size_t n1 = take_u32(in) % (WIRE_MAX_PAYLOAD + 16), n2 = take_u32(in) % (WIRE_MAX_PAYLOAD + 16);
  uint32_t a = take_u32(in), b = take_u32(in), c = take_u32(in);
  const uint8_t *s1 = take(in, &n1);
  const uint8_t *s2 = take(in, &n2);
  uint16_t types[] = {WIRE_MSG_OPEN, WIRE_MSG_RENAME, WIRE_MSG_UNLINK, WIRE_MSG_STAT};
  uint16_t type = types[sel % 4];

  uint8_t *buf = malloc(cap ? cap : 1);
  CHECK(buf != NULL);
  struct wire_writer w;
  wire_begin(&w, buf, cap, type);
  wire_put_str(&w, (const char *)s1, n1); /* the token */
  size_t expected = WIRE_HEADER_SIZE + 4 + n1;
  if (type == WIRE_MSG_OPEN) {
    wire_put_str(&w, (const char *)s2, n2);
    wire_put_u32(&w, a);
    wire_put_u32(&w, b);
    wire_put_u32(&w, c);
    expected += 4 + n2 + 12;
  } else if (type == WIRE_MSG_RENAME) {
    wire_put_str(&w, (const char *)s2, n2);
    wire_put_str(&w, (const char *)s1, n1);
    expected += 4 + n2 + 4 + n1;
  } else {
    wire_put_str(&w, (const char *)s2, n2);
    expected += 4 + n2;
  }
  long total = wire_finish(&w);
  int fits = expected <= cap && expected - WIRE_HEADER_SIZE <= WIRE_MAX_PAYLOAD;
  CHECK(fits ? total == (long)expected : total == -1);
  if (total > 0) {
    uint16_t got_type = 0;
    uint32_t len = 0;
    CHECK(wire_parse_header(buf, &got_type, &len) == 0);
    CHECK(got_type == type && len == (uint32_t)(total - WIRE_HEADER_SIZE));
    struct wire_reader r = {buf + WIRE_HEADER_SIZE, len, 0};
    check_str(&r, s1, n1);
    check_str(&r, s2, n2);
    if (type == WIRE_MSG_OPEN) {
      CHECK(wire_get_u32(&r) == a && wire_get_u32(&r) == b && wire_get_u32(&r) == c);
    } else if (type == WIRE_MSG_RENAME) {
      check_str(&r, s1, n1);
    }
    CHECK(!r.error && r.left == 0);
  }
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  struct input in = {data + 1, size - 1};
  if (data[0] & 1)
    fuzz_answer(&in);
  else
    fuzz_encode(&in);
  return 0;
}
