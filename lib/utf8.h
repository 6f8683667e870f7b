/* Private to lib/: UTF-8 encoding shared by the parser and the store. */
#ifndef GAZETTE_UTF8_H
#define GAZETTE_UTF8_H

#include <stddef.h>

/*
 * Encode code point c as UTF-8 into out (4 bytes at most, no NUL); its
 * length. NUL, surrogates and values past U+10FFFF become U+FFFD.
 */
size_t utf8_encode(unsigned long c, char *out);

#endif
