/*
 * Word count map as an external program (the Disco tutorial's map, in C): for every input
 * line it answers with one result list holding [word, "1"] per word. Words are separated by
 * ASCII whitespace; with the parameter lowercase=1 they are lowercased first.
 *
 * Build: gcc -O2 -I ext -o wordcount-map ext/disco.c examples/external/wordcount_map.c
 */
#include <stdlib.h>
#include <string.h>

#include "disco.h"

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "map") != 0)
        die("wordcount-map is a map program: run it with the argument \"map\"");

    params_t *params = read_parameters();
    const char *lowercase = param_get(params, "lowercase");
    int lower = lowercase && strcmp(lowercase, "1") == 0;

    static const char one[] = "1";
    p_entry *key = NULL, *line = NULL;
    unsigned long long lines = 0, words = 0;
    while (read_kv(&key, &line)) {
        char *s = line->data, *end = line->data + line->len;
        if (lower)
            for (char *p = s; p < end; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p += 'a' - 'A';
        /* Count first: a result list starts with its number of pairs. */
        int n = 0;
        for (char *p = s; p < end;) {
            while (p < end && is_space(*p))
                p++;
            if (p == end)
                break;
            n++;
            while (p < end && !is_space(*p))
                p++;
        }
        write_num_prefix(n);
        for (char *p = s; p < end;) {
            while (p < end && is_space(*p))
                p++;
            if (p == end)
                break;
            char *w = p;
            while (p < end && !is_space(*p))
                p++;
            write_kv_raw(w, (uint32_t)(p - w), one, 1);
        }
        lines++;
        words += (unsigned long long)n;
    }
    msg("wordcount-map: %llu lines, %llu words", lines, words);
    params_free(params);
    free(key);
    free(line);
    return 0;
}
