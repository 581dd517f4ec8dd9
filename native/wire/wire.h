/*
 * C view of the diskless wire protocol. The protocol itself is specified in wire.def (read it);
 * this header only turns it into constants and gives bounds-checked little-endian encoders and
 * decoders. Used by the LD_PRELOAD shim (plain C99, no allocation) and its tests.
 */
#ifndef DISKLESS_WIRE_H
#define DISKLESS_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CONST(name, value) enum { name = (value) };
#define ENV(name, variable) static const char name[] = variable;
#define MSG(name, number, direction, fields)
#include "wire.def"
#undef CONST
#undef ENV
#undef MSG

enum wire_msg_type {
#define CONST(name, value)
#define ENV(name, variable)
#define MSG(name, number, direction, fields) WIRE_MSG_##name = (number),
#include "wire.def"
#undef CONST
#undef ENV
#undef MSG
};

/*
 * Encoder over a caller-owned buffer. Overflow is sticky: wire_finish() then returns -1 and
 * nothing must be sent.
 */
struct wire_writer {
  uint8_t *buf;
  size_t cap;
  size_t len;
  int overflow;
};

static inline void wire__put(struct wire_writer *w, const void *p, size_t n) {
  if (w->overflow || n > w->cap - w->len) {
    w->overflow = 1;
    return;
  }
  memcpy(w->buf + w->len, p, n);
  w->len += n;
}

static inline void wire_put_u16(struct wire_writer *w, uint16_t v) {
  uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  wire__put(w, b, 2);
}

static inline void wire_put_u32(struct wire_writer *w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  wire__put(w, b, 4);
}

static inline void wire_put_i32(struct wire_writer *w, int32_t v) { wire_put_u32(w, (uint32_t)v); }

static inline void wire_put_u64(struct wire_writer *w, uint64_t v) {
  wire_put_u32(w, (uint32_t)v);
  wire_put_u32(w, (uint32_t)(v >> 32));
}

static inline void wire_put_i64(struct wire_writer *w, int64_t v) { wire_put_u64(w, (uint64_t)v); }

static inline void wire_put_str(struct wire_writer *w, const char *s, size_t n) {
  wire_put_u32(w, (uint32_t)n);
  wire__put(w, s, n);
}

/* Starts a frame of `type`; the payload length is filled in by wire_finish(). */
static inline void wire_begin(struct wire_writer *w, uint8_t *buf, size_t cap, uint16_t type) {
  w->buf = buf;
  w->cap = cap;
  w->len = 0;
  w->overflow = 0;
  wire_put_u32(w, 0);
  wire_put_u16(w, type);
  wire_put_u16(w, WIRE_VERSION);
}

/* Returns the frame's total size, or -1 if it overflowed the buffer or the protocol's maximum. */
static inline long wire_finish(struct wire_writer *w) {
  size_t payload;
  if (w->overflow || w->len < WIRE_HEADER_SIZE) return -1;
  payload = w->len - WIRE_HEADER_SIZE;
  if (payload > WIRE_MAX_PAYLOAD) return -1;
  w->buf[0] = (uint8_t)payload;
  w->buf[1] = (uint8_t)(payload >> 8);
  w->buf[2] = (uint8_t)(payload >> 16);
  w->buf[3] = (uint8_t)(payload >> 24);
  return (long)w->len;
}

/* Decoder over a received payload. Errors are sticky; check `error` once at the end. */
struct wire_reader {
  const uint8_t *p;
  size_t left;
  int error;
};

static inline uint32_t wire_get_u32(struct wire_reader *r) {
  uint32_t v;
  if (r->error || r->left < 4) {
    r->error = 1;
    return 0;
  }
  v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
  r->p += 4;
  r->left -= 4;
  return v;
}

static inline int32_t wire_get_i32(struct wire_reader *r) { return (int32_t)wire_get_u32(r); }

static inline uint64_t wire_get_u64(struct wire_reader *r) {
  uint64_t lo = wire_get_u32(r);
  uint64_t hi = wire_get_u32(r);
  return lo | hi << 32;
}

static inline int64_t wire_get_i64(struct wire_reader *r) { return (int64_t)wire_get_u64(r); }

/* Copies a string into out (NUL-terminated, at most cap-1 bytes); a longer string is an error. */
static inline size_t wire_get_str(struct wire_reader *r, char *out, size_t cap) {
  uint32_t n = wire_get_u32(r);
  if (r->error || n > r->left || (size_t)n >= cap) {
    r->error = 1;
    if (cap) out[0] = '\0';
    return 0;
  }
  memcpy(out, r->p, n);
  out[n] = '\0';
  r->p += n;
  r->left -= n;
  return n;
}

/* Parses a frame header; returns 0 and fills type and payload length, or -1 if it is not valid. */
static inline int wire_parse_header(const uint8_t h[WIRE_HEADER_SIZE], uint16_t *type, uint32_t *payload_len) {
  uint32_t len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
  uint16_t version = (uint16_t)(h[6] | h[7] << 8);
  if (version != WIRE_VERSION || len > WIRE_MAX_PAYLOAD) return -1;
  *type = (uint16_t)(h[4] | h[5] << 8);
  *payload_len = len;
  return 0;
}

#endif
