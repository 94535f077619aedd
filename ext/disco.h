/*
 * disco.h - a small C library for Disco external programs (docs/external.md, ext/README.md).
 *
 * An external map or reduce program reads a parameter block and then key-value pairs on its
 * stdin, and writes result lists on its stdout:
 *
 *   pair         <key size><key><value size><value>     sizes: 32-bit little-endian
 *   result list  <num pairs><pair>...
 *
 * A map program writes exactly one result list (possibly empty) per input pair, in order; a
 * reduce program writes lists whenever it likes. Messages go to stderr as "**<MSG> text"
 * lines; "**<ERR> text" (see die()) stops the job.
 *
 * Differences from the original Disco 0.4.5 library: read_parameters() returns a small
 * dictionary of its own (params_t, looked up with param_get()) instead of a Judy array, so
 * there is nothing to link but this file; input and output are buffered by the library and
 * stdout is flushed whenever the library is about to wait for input (not after every pair),
 * which keeps the program fast and still never leaves an answer unsent while it waits.
 * Read stdin only through this library (read_parameters, read_kv, read_line, read_exact).
 */
#ifndef DISCO_H
#define DISCO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A string of bytes: len bytes in data, followed by a zero byte (so data is also a C string
 * when it has no zero bytes of its own). size is the room allocated for data (len <= size). */
typedef struct {
    uint32_t len;
    uint32_t size;
    char data[];
} p_entry;

/* The parameter dictionary read by read_parameters(). */
typedef struct params params_t;

/* Read the parameter block (a netstring-encoded dictionary, or "0\n" when the job has none).
 * Call it once, before the first read_kv(). Dies on a malformed block. */
params_t *read_parameters(void);

/* The value of parameter key as a C string, or NULL when there is none. Later entries with
 * the same key win. */
const char *param_get(const params_t *params, const char *key);

/* The value of parameter key with its length (values may hold zero bytes), or NULL. */
const p_entry *param_entry(const params_t *params, const char *key);

/* Number of parameters, and the i-th key and value (0 <= i < param_count). */
size_t param_count(const params_t *params);
const p_entry *param_key_at(const params_t *params, size_t i);
const p_entry *param_value_at(const params_t *params, size_t i);

/* Free a dictionary from read_parameters(). */
void params_free(params_t *params);

/* Read the next pair into *key and *val, (re)allocating them as needed: pass the same
 * pointers again and no per-pair malloc/free happens (start with NULL; free() them at the
 * end). Returns 1 for a pair, 0 at the end of the input. Dies on truncated input. */
int read_kv(p_entry **key, p_entry **val);

/* Read one line (up to '\n', which is not kept) into *line, e.g. a raw parameter string.
 * Returns 1 for a line (also a last line without '\n'), 0 at the end of the input. */
int read_line(p_entry **line);

/* Read exactly len bytes. Returns 1, or 0 if the input ended before the first byte; dies if
 * it ends in the middle. */
int read_exact(void *buf, size_t len);

/* Start a result list of num pairs; exactly num write_kv() calls must follow. */
void write_num_prefix(int num);

/* Write one pair of a result list. */
void write_kv(const p_entry *key, const p_entry *val);

/* Write one pair from plain buffers. */
void write_kv_raw(const void *key, uint32_t key_len, const void *val, uint32_t val_len);

/* Write one string of bytes (<size><data>): half a pair. */
void write_entry(const p_entry *e);

/* Send what has been written so far (the library does this by itself before it waits for
 * input and when the program exits). */
void flush_output(void);

/* Send a task message (printf-style): one "**<MSG> text" line on stderr. Newlines in the
 * text become spaces. Messages are rate-limited by Disco (a few per second). */
void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Stop the job with a message (printf-style): "**<ERR> text" on stderr, then exit(1). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* malloc() that dies instead of returning NULL. */
void *dxmalloc(size_t size);

/* Copy src into *dst, growing *dst if it is too small (or allocating it if NULL). */
void copy_entry(p_entry **dst, const p_entry *src);

/* A new entry holding a copy of len bytes of data (free() it). */
p_entry *new_entry(const void *data, uint32_t len);

#ifdef __cplusplus
}
#endif

#endif /* DISCO_H */
