/* UTF-8: encoding a code point, checking a sequence. */
#ifndef GAZETTE_UTF8_H
#define GAZETTE_UTF8_H

#include <stddef.h>

/*
 * Encode code point c as UTF-8 into out (4 bytes at most, no NUL); its
 * length. NUL, surrogates and values past U+10FFFF become U+FFFD.
 */
size_t utf8_encode(unsigned long c, char *out);

/*
 * The length (1 to 4) of the well-formed UTF-8 sequence s starts with, or
 * 0 when it starts with none (a stray or overlong byte, a surrogate, a cut
 * sequence, NUL).
 */
size_t utf8_valid_len(const char *s);

#endif
