/*
 * disco.c - the C library for Disco external programs (see disco.h and ext/README.md).
 *
 * Input and output go through buffers of the library's own (read(2)/write(2) on fds 0 and 1)
 * so that stdout can be flushed exactly when the program is about to wait for more input:
 * answers are never held back while the worker waits for them, and no write(2) happens per
 * pair. Sizes are encoded little-endian byte by byte, so the code also works on big-endian
 * machines.
 */
#include "disco.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IO_BUFFER_SIZE (64 * 1024)
#define MAX_DECIMAL_DIGITS 10

static unsigned char in_buf[IO_BUFFER_SIZE];
static size_t in_pos, in_len;
static int in_eof;

static unsigned char out_buf[IO_BUFFER_SIZE];
static size_t out_len;
static int exit_hook_set;
static int dying;

struct params {
    size_t count, room;
    p_entry **keys;
    p_entry **values;
};

/* ---- messages ---------------------------------------------------------------------------- */

static void write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (fd == 1 && !dying)
                die("cannot write to stdout: %s", strerror(errno));
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

/* One stderr line "<tag><formatted text>\n" in a single write, newlines in the text flattened. */
static void stderr_line(const char *tag, const char *fmt, va_list ap)
{
    char small[1024];
    size_t tag_len = strlen(tag);
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(small + tag_len, sizeof(small) - tag_len - 1, fmt, copy);
    va_end(copy);
    if (n < 0)
        n = 0;
    char *line = small;
    if ((size_t)n + tag_len + 2 > sizeof(small)) {
        line = malloc((size_t)n + tag_len + 2);
        if (!line) {
            line = small; /* out of memory: send what fits */
            n = (int)(sizeof(small) - tag_len - 2);
        } else {
            vsnprintf(line + tag_len, (size_t)n + 1, fmt, ap);
        }
    }
    memcpy(line, tag, tag_len);
    for (int i = 0; i < n; i++)
        if (line[tag_len + i] == '\n' || line[tag_len + i] == '\r')
            line[tag_len + i] = ' ';
    line[tag_len + n] = '\n';
    write_all(2, line, tag_len + (size_t)n + 1);
    if (line != small)
        free(line);
}

void msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    stderr_line("**<MSG> ", fmt, ap);
    va_end(ap);
}

void die(const char *fmt, ...)
{
    va_list ap;
    dying = 1; /* the job fails: pending output does not matter any more */
    va_start(ap, fmt);
    stderr_line("**<ERR> ", fmt, ap);
    va_end(ap);
    exit(1);
}

/* ---- memory ------------------------------------------------------------------------------ */

void *dxmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        die("memory allocation failed (%zu bytes)", size);
    return p;
}

/* Make *e able to hold len bytes (its contents are not kept). */
static void ensure_entry(p_entry **e, uint32_t len)
{
    if (*e && (*e)->size >= len)
        return;
    free(*e);
    *e = dxmalloc(sizeof(p_entry) + (size_t)len + 1);
    (*e)->size = len;
    (*e)->len = 0;
}

void copy_entry(p_entry **dst, const p_entry *src)
{
    ensure_entry(dst, src->len);
    (*dst)->len = src->len;
    memcpy((*dst)->data, src->data, src->len);
    (*dst)->data[src->len] = 0;
}

p_entry *new_entry(const void *data, uint32_t len)
{
    p_entry *e = NULL;
    ensure_entry(&e, len);
    e->len = len;
    memcpy(e->data, data, len);
    e->data[len] = 0;
    return e;
}

/* ---- output ------------------------------------------------------------------------------ */

static void flush_at_exit(void)
{
    if (!dying)
        flush_output();
}

void flush_output(void)
{
    if (out_len > 0) {
        size_t n = out_len;
        out_len = 0;
        write_all(1, out_buf, n);
    }
}

static void out_write(const void *data, size_t len)
{
    if (!exit_hook_set) {
        exit_hook_set = 1;
        atexit(flush_at_exit);
    }
    if (out_len + len > sizeof(out_buf))
        flush_output();
    if (len >= sizeof(out_buf)) {
        write_all(1, data, len);
        return;
    }
    memcpy(out_buf + out_len, data, len);
    out_len += len;
}

static void out_u32(uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    out_write(b, 4);
}

void write_num_prefix(int num)
{
    if (num < 0)
        die("write_num_prefix: negative number of pairs (%d)", num);
    out_u32((uint32_t)num);
}

void write_kv_raw(const void *key, uint32_t key_len, const void *val, uint32_t val_len)
{
    out_u32(key_len);
    out_write(key, key_len);
    out_u32(val_len);
    out_write(val, val_len);
}

void write_entry(const p_entry *e)
{
    out_u32(e->len);
    out_write(e->data, e->len);
}

void write_kv(const p_entry *key, const p_entry *val)
{
    write_entry(key);
    write_entry(val);
}

/* ---- input ------------------------------------------------------------------------------- */

/* Refill the input buffer; 0 at end of input. Answers go out first: the worker may be
 * waiting for them before it sends more. */
static int refill(void)
{
    if (in_eof)
        return 0;
    flush_output();
    for (;;) {
        ssize_t n = read(0, in_buf, sizeof(in_buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("cannot read stdin: %s", strerror(errno));
        if (n == 0) {
            in_eof = 1;
            return 0;
        }
        in_pos = 0;
        in_len = (size_t)n;
        return 1;
    }
}

/* Up to len bytes; fewer only at the end of the input. */
static size_t in_read(void *dst, size_t len)
{
    unsigned char *d = dst;
    size_t got = 0;
    while (got < len) {
        if (in_pos == in_len && !refill())
            break;
        size_t n = in_len - in_pos;
        if (n > len - got)
            n = len - got;
        memcpy(d + got, in_buf + in_pos, n);
        in_pos += n;
        got += n;
    }
    return got;
}

static int in_byte(void)
{
    if (in_pos == in_len && !refill())
        return -1;
    return in_buf[in_pos++];
}

int read_exact(void *buf, size_t len)
{
    size_t got = in_read(buf, len);
    if (got == len)
        return 1;
    if (got == 0)
        return 0;
    die("input ended in the middle of a record (%zu of %zu bytes)", got, len);
}

static uint32_t in_u32(const char *what)
{
    unsigned char b[4];
    if (!read_exact(b, 4))
        die("input ended before the %s", what);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void read_entry(p_entry **e, uint32_t len, const char *what)
{
    ensure_entry(e, len);
    if (len && !read_exact((*e)->data, len))
        die("input ended before the %s (%u bytes)", what, len);
    (*e)->len = len;
    (*e)->data[len] = 0;
}

int read_kv(p_entry **key, p_entry **val)
{
    unsigned char b[4];
    if (!read_exact(b, 4))
        return 0;
    uint32_t len = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    read_entry(key, len, "key");
    read_entry(val, in_u32("value size"), "value");
    return 1;
}

int read_line(p_entry **line)
{
    uint32_t n = 0;
    int c = in_byte();
    if (c < 0)
        return 0;
    ensure_entry(line, 64);
    while (c >= 0 && c != '\n') {
        if (n == (*line)->size) {
            p_entry *bigger = NULL;
            ensure_entry(&bigger, (*line)->size * 2);
            memcpy(bigger->data, (*line)->data, n);
            free(*line);
            *line = bigger;
        }
        (*line)->data[n++] = (char)c;
        c = in_byte();
    }
    (*line)->len = n;
    (*line)->data[n] = 0;
    return 1;
}

/* ---- parameters -------------------------------------------------------------------------- */

/* Decimal digits ended by `end`; *used grows by the bytes read. */
static uint32_t read_decimal(char end, const char *what, uint64_t *used)
{
    uint64_t v = 0;
    int digits = 0;
    for (;;) {
        int c = in_byte();
        if (c < 0)
            die("invalid parameter block: input ended in the %s", what);
        ++*used;
        if (c == end && digits > 0)
            break;
        if (c < '0' || c > '9' || digits == MAX_DECIMAL_DIGITS)
            die("invalid parameter block: bad %s (byte %d); is extParams a dictionary?", what, c);
        v = v * 10 + (uint64_t)(c - '0');
        digits++;
    }
    if (v > UINT32_MAX)
        die("invalid parameter block: %s too large", what);
    return (uint32_t)v;
}

static p_entry *read_param_item(char sep, const char *what, uint64_t *used)
{
    uint32_t len = read_decimal(' ', what, used);
    p_entry *e = NULL;
    read_entry(&e, len, what);
    int c = in_byte();
    if (c != sep)
        die("invalid parameter block: %s is not followed by the expected separator", what);
    *used += (uint64_t)len + 1;
    return e;
}

params_t *read_parameters(void)
{
    params_t *p = dxmalloc(sizeof(params_t));
    p->count = p->room = 0;
    p->keys = p->values = NULL;
    uint64_t size_digits = 0, used = 0;
    uint32_t total = read_decimal('\n', "parameter block size", &size_digits);
    while (used < total) {
        p_entry *key = read_param_item(' ', "parameter name", &used);
        p_entry *val = read_param_item('\n', "parameter value", &used);
        if (p->count == p->room) {
            p->room = p->room ? p->room * 2 : 8;
            p->keys = realloc(p->keys, p->room * sizeof(p_entry *));
            p->values = realloc(p->values, p->room * sizeof(p_entry *));
            if (!p->keys || !p->values)
                die("memory allocation failed (parameters)");
        }
        p->keys[p->count] = key;
        p->values[p->count] = val;
        p->count++;
    }
    if (used != total)
        die("invalid parameter block: %u bytes announced, %llu read", total, (unsigned long long)used);
    return p;
}

const p_entry *param_entry(const params_t *params, const char *key)
{
    size_t len = strlen(key);
    /* From the end: a later entry with the same key wins (as inserting into a dictionary). */
    for (size_t i = params->count; i-- > 0;) {
        const p_entry *k = params->keys[i];
        if (k->len == len && memcmp(k->data, key, len) == 0)
            return params->values[i];
    }
    return NULL;
}

const char *param_get(const params_t *params, const char *key)
{
    const p_entry *v = param_entry(params, key);
    return v ? v->data : NULL;
}

size_t param_count(const params_t *params)
{
    return params->count;
}

const p_entry *param_key_at(const params_t *params, size_t i)
{
    return i < params->count ? params->keys[i] : NULL;
}

const p_entry *param_value_at(const params_t *params, size_t i)
{
    return i < params->count ? params->values[i] : NULL;
}

void params_free(params_t *params)
{
    if (!params)
        return;
    for (size_t i = 0; i < params->count; i++) {
        free(params->keys[i]);
        free(params->values[i]);
    }
    free(params->keys);
    free(params->values);
    free(params);
}
