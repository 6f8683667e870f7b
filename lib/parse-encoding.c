/*
 * The parser's byte layer: what libxml2 is handed. The encoding is
 * decided from the first bytes (BOM, XML declaration, HTTP charset);
 * another ASCII-compatible encoding is made UTF-8 by iconv, bad UTF-8 is
 * escaped for parse-html.c to read, a bare '&' is escaped, CDATA becomes
 * character data and a DOCTYPE is held until whole, so that libxml2 sees
 * the same bytes however the document was cut.
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "gazette/utf8.h"
#include "parse-html.h"
#include "parse-internal.h"

/* The encoding named by the XML declaration at s (n bytes), or "". */
static void
decl_encoding(const char *s, size_t n, char out[64])
{
	const char *end, *e;
	size_t len;

	out[0] = '\0';
	if (s == NULL || n < 6 || memcmp(s, "<?xml", 5) != 0)
		return;
	end = memmem(s, n, "?>", 2);
	if (end == NULL)
		return;
	e = memmem(s, (size_t)(end - s), "encoding", 8);
	if (e == NULL)
		return;
	e += 8;
	while (e < end && (isspace((unsigned char)*e) || *e == '='))
		e++;
	if (e >= end || (*e != '"' && *e != '\''))
		return;
	e++;
	len = 0;
	while (e + len < end && e[len] != '"' && e[len] != '\'' && len < 63)
		len++;
	memcpy(out, e, len);
	out[len] = '\0';
}

/*
 * Feed bytes to libxml2 in blocks of XML_BLOCK at fixed offsets of what
 * it reads, whatever pieces they came in. libxml2's push parser reads a
 * malformed document differently depending on where its input was cut
 * (a start tag with a byte no name may hold, the last byte of a text, a
 * section left open); cut always at the same places, a document parses
 * the same in any chunking. A whole block is passed without a copy.
 */
static void
xml_push_raw(struct gz_parser *p, const char *buf, size_t len)
{
	while (len > 0 && !p->error && !p->stopped) {
		size_t k = XML_BLOCK - p->blk.len;

		if (p->blk.len == 0 && len >= XML_BLOCK) {
			xmlParseChunk(p->ctxt, buf, XML_BLOCK, 0);
			buf += XML_BLOCK;
			len -= XML_BLOCK;
			continue;
		}
		if (k > len)
			k = len;
		if (!parse_buf_add(&p->blk, buf, k)) {
			parse_fail(p, -ENOMEM);
			return;
		}
		buf += k;
		len -= k;
		if (p->blk.len == XML_BLOCK) {
			xmlParseChunk(p->ctxt, p->blk.s, XML_BLOCK, 0);
			p->blk.len = 0;
		}
	}
}

/* Give libxml2 the last, partial block: the document has ended. */
void
parse_encoding_flush(struct gz_parser *p)
{
	if (p->blk.len && !p->error && !p->stopped)
		xmlParseChunk(p->ctxt, p->blk.s, (int)p->blk.len, 0);
	p->blk.len = 0;
}

/* Keep s[i..n) for the next push: a reference or tag cut by the chunk. */
static void
filter_hold(struct gz_parser *p, const char *s, size_t i, size_t n)
{
	p->hold.len = 0;
	if (!parse_buf_add(&p->hold, s + i, n - i))
		parse_fail(p, -ENOMEM);
}

/* Length of a well-formed reference body after '&' at s[i], or 0; *more
 * is set when the buffer ends before it could be told. */
static size_t
ref_scan(const char *s, size_t i, size_t n, bool *more)
{
	size_t j = i + 1;

	*more = false;
	if (j < n && s[j] == '#') {
		bool hex;
		j++;
		hex = j < n && (s[j] == 'x' || s[j] == 'X');
		if (hex)
			j++;
		size_t d = j;
		while (j < n && j - i < 40 &&
		       (hex ? isxdigit((unsigned char)s[j])
		            : isdigit((unsigned char)s[j])))
			j++;
		if (j == n) {
			*more = j - i < 40;
			return 0;
		}
		return j > d && s[j] == ';' ? j - i : 0;
	}
	if (j < n && !(isalpha((unsigned char)s[j]) || s[j] == '_' ||
	               s[j] == ':' || (unsigned char)s[j] >= 0x80))
		return 0;
	while (j < n && j - i < 40 &&
	       (isalnum((unsigned char)s[j]) || s[j] == '_' || s[j] == ':' ||
	        s[j] == '.' || s[j] == '-' || (unsigned char)s[j] >= 0x80))
		j++;
	if (j == n) {
		*more = j - i < 40;
		return 0;
	}
	return j > i + 1 && s[j] == ';' ? j - i : 0;
}

/*
 * true once the DOCTYPE at d (avail bytes, from "<!DOCTYPE") has its end.
 * libxml2's push parser looks for the end of an internal subset with a
 * scan that loses its place in a comment cut by the chunk ("<!-- it's
 * ]> -->" then ends the subset early), so the filter holds the whole
 * declaration back and libxml2 gets it in one piece, as from a whole
 * document. p->dt keeps the scan's place between pushes: d is the same
 * held bytes, with more after them, each time until the end is found.
 */
static bool
doctype_whole(struct gz_parser *p, const char *d, size_t avail)
{
	size_t i = p->dt.pos ? p->dt.pos : 9;

	for (; i < avail; i++) {
		char c = d[i];
		size_t rest = avail - i;

		if (p->dt.quote) {
			if (c == p->dt.quote)
				p->dt.quote = 0;
			continue;
		}
		switch (p->dt.at) {
		case DT_HEAD:
			if (c == '"' || c == '\'')
				p->dt.quote = c;
			else if (c == '[')
				p->dt.at = DT_SUBSET;
			else if (c == '>')
				goto whole;
			break;
		case DT_CLOSE:
			if (c == '>')
				goto whole;
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
				break;
			p->dt.at = DT_SUBSET;
			i--; /* c again, in the subset */
			break;
		case DT_SUBSET:
			if (c == '<' && rest < 4)
				goto more; /* "<!--" or not: told later */
			if (c == '<' && !memcmp(d + i, "<!--", 4)) {
				p->dt.at = DT_COMMENT;
				i += 3;
			} else if (c == '<' && d[i + 1] == '?') {
				p->dt.at = DT_PI;
				i++;
			} else if (c == '"' || c == '\'') {
				p->dt.quote = c;
			} else if (c == ']') {
				p->dt.at = DT_CLOSE;
			}
			break;
		case DT_COMMENT:
			if (c == '-' && rest < 3)
				goto more;
			if (c == '-' && !memcmp(d + i, "-->", 3)) {
				p->dt.at = DT_SUBSET;
				i += 2;
			}
			break;
		case DT_PI:
			if (c == '?' && rest < 2)
				goto more;
			if (c == '?' && d[i + 1] == '>') {
				p->dt.at = DT_SUBSET;
				i++;
			}
			break;
		}
	}
more:
	if (i <= MAX_DOCTYPE_HOLD) {
		p->dt.pos = i;
		return false;
	}
	/* too long to hold: libxml2 takes it as it comes */
whole:
	memset(&p->dt, 0, sizeof(p->dt));
	return true;
}

/*
 * The text of a CDATA section from s[i], up to its "]]>" or to n, into
 * p->fout as character data: '<', '&' and ']' as character references.
 * libxml2 2.9's push parser reads a section whose end has not arrived
 * 300 bytes per xmlParseChunk() call and drops what is left at the end
 * of the document, so how much of an unterminated section it saw, and
 * what it did with a byte XML forbids in one, depended on the chunking;
 * character data it reads the same way however the bytes arrive.
 * Returns where the text after the section starts, n when the section
 * goes on, or SIZE_MAX when a "]" or "]]" at the end of s is held back.
 */
static size_t
cdata_run(struct gz_parser *p, const char *s, size_t i, size_t n, bool final)
{
	size_t run = i;

	for (; i < n; i++) {
		const char *rep;

		switch (s[i]) {
		case '<':
			rep = "&#60;";
			break;
		case '&':
			rep = "&#38;";
			break;
		case ']':
			if (n - i >= 3 && s[i + 1] == ']' && s[i + 2] == '>') {
				parse_buf_add(&p->fout, s + run, i - run);
				p->fs = FS_TEXT;
				return i + 3;
			}
			/* "]" or "]]" at the end: maybe the end of the section
			 */
			if (!final &&
			    (n - i == 1 || (n - i == 2 && s[i + 1] == ']'))) {
				parse_buf_add(&p->fout, s + run, i - run);
				filter_hold(p, s, i, n);
				return SIZE_MAX;
			}
			rep = "&#93;";
			break;
		default:
			continue;
		}
		parse_buf_add(&p->fout, s + run, i - run);
		parse_buf_add(&p->fout, rep, 5);
		run = i + 1;
	}
	parse_buf_add(&p->fout, s + run, n - run);
	return n;
}

/*
 * The '&' filter over s[0..n): a '&' that starts no reference becomes
 * "&amp;", and "&#X" becomes "&#x", outside comments, CDATA and PIs;
 * CDATA sections become character data (cdata_run).
 * Output goes to p->fout; an undecidable tail is held back unless final.
 */
static void
filter_run(struct gz_parser *p, const char *s, size_t n, bool final)
{
	size_t i = 0, run = 0, next_amp = 0, next_lt = 0;
	bool amp_known = false, lt_known = false;

	while (i < n) {
		char c;
		if (p->fs == FS_CDATA) {
			i = cdata_run(p, s, i, n, final);
			if (i == SIZE_MAX)
				return;
			run = i;
			continue;
		}
		if (p->fs != FS_TEXT) {
			char mark = p->fs == FS_COMMENT ? '-' : '?';
			size_t need = p->fs == FS_PI ? 1 : 2, m = 0, end;
			const char *gt = memchr(s + i, '>', n - i);
			end = gt ? (size_t)(gt - s) : n;
			/* the marks just before '>', with those carried over
			 * from the last chunk when the run reaches back */
			while (m < need && end - m > i &&
			       s[end - m - 1] == mark)
				m++;
			if (end - m == i)
				m += (size_t)p->fmatch;
			if (m > need)
				m = need;
			if (gt == NULL) {
				p->fmatch = (int)m;
				i = n;
				continue;
			}
			i = end + 1;
			p->fmatch = 0;
			if (m == need)
				p->fs = FS_TEXT;
			continue;
		}
		/* the next '&' and '<', each searched once per position */
		if (!amp_known || next_amp < i) {
			const char *a = memchr(s + i, '&', n - i);
			next_amp = a ? (size_t)(a - s) : n;
			amp_known = true;
		}
		if (!lt_known || next_lt < i) {
			const char *l = memchr(s + i, '<', n - i);
			next_lt = l ? (size_t)(l - s) : n;
			lt_known = true;
		}
		i = next_amp < next_lt ? next_amp : next_lt;
		if (i >= n)
			break;
		c = s[i];
		size_t rest = n - i;
		if (c == '<') {
			if (rest < 9 && !final) {
				parse_buf_add(&p->fout, s + run, i - run);
				filter_hold(p, s, i, n);
				return;
			}
			if (rest >= 4 && !memcmp(s + i, "<!--", 4)) {
				p->fs = FS_COMMENT;
				i += 4;
				/*
				 * libxml2's push parser takes "<!-->" and
				 * "<!--->" for whole comments when it has only
				 * those bytes; a space in the (unreported)
				 * comment keeps every chunking the same.
				 */
				if (i < n &&
				    (s[i] == '>' || (s[i] == '-' && i + 1 < n &&
				                     s[i + 1] == '>'))) {
					parse_buf_add(&p->fout, s + run,
					              i - run);
					parse_buf_add(&p->fout, " ", 1);
					run = i;
				}
			} else if (rest >= 9 &&
			           !memcmp(s + i, "<![CDATA[", 9)) {
				parse_buf_add(&p->fout, s + run, i - run);
				p->fs = FS_CDATA;
				i += 9;
				run = i;
			} else if (rest >= 2 && s[i + 1] == '?') {
				p->fs = FS_PI;
				i += 2;
			} else if (!final && !memcmp(s + i, "<!DOCTYPE", 9) &&
			           !doctype_whole(p, s + i, rest)) {
				parse_buf_add(&p->fout, s + run, i - run);
				filter_hold(p, s, i, n);
				return;
			} else {
				i++;
			}
			continue;
		}
		bool more;
		size_t r = ref_scan(s, i, n, &more);
		if (more && !final) {
			parse_buf_add(&p->fout, s + run, i - run);
			filter_hold(p, s, i, n);
			return;
		}
		if (r) {
			if (s[i + 1] == '#' && s[i + 2] == 'X') {
				parse_buf_add(&p->fout, s + run, i + 2 - run);
				parse_buf_add(&p->fout, "x", 1);
				run = i + 3;
				parse_bozo(p, BZ_FILTER,
				           "a character reference with '&#X'");
			}
			i += r + 1;
			continue;
		}
		parse_buf_add(&p->fout, s + run, i - run);
		parse_buf_add(&p->fout, "&amp;", 5);
		parse_bozo(p, BZ_FILTER,
		           "an unescaped '&' was read as '&amp;'");
		run = ++i;
	}
	if (!parse_buf_add(&p->fout, s + run, n - run))
		parse_fail(p, -ENOMEM);
}

/* Length of the valid UTF-8 sequence at s (avail bytes), 0 if none. */
static size_t
utf8_seq(const unsigned char *s, size_t avail)
{
	size_t need;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		need = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		need = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		need = 4;
	else
		return 0;
	if (avail < need)
		return 0;
	for (size_t k = 1; k < need; k++)
		if ((s[k] & 0xC0) != 0x80)
			return 0;
	if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0) ||
	    (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
		return 0;
	return need;
}

/*
 * Bytes of a UTF-8 document that are not UTF-8 are read as windows-1252
 * (what such a byte almost always is), before libxml2 sees them: libxml2
 * would switch the rest of the document to Latin-1 at a point that
 * depends on the chunking. Returns how many bytes of s were taken; an
 * unfinished sequence at the end is left for the next push.
 */
static size_t
utf8_repair(struct gz_parser *p, const char *s, size_t n, bool final,
            const char **out, size_t *out_len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0, end = n;
	bool copied = false;

	if (!final) {
		size_t j = n;
		while (j > 0 && n - j < 3 && (u[j - 1] & 0xC0) == 0x80)
			j--;
		if (j > 0 && u[j - 1] >= 0xC2 && u[j - 1] <= 0xF4) {
			size_t need = u[j - 1] >= 0xF0   ? 4
			              : u[j - 1] >= 0xE0 ? 3
			                                 : 2;
			if (n - (j - 1) < need)
				end = j - 1;
		}
	}
	while (i < end) {
		size_t k;
		if (u[i] < 0x80) {
			i++;
			while (i + 8 <= end) {
				uint64_t w;
				memcpy(&w, u + i, 8);
				if (w & 0x8080808080808080ULL)
					break;
				i += 8;
			}
			continue;
		}
		k = utf8_seq(u + i, end - i);
		if (k) {
			i += k;
			continue;
		}
		if (!copied) {
			p->fix.len = 0;
			copied = true;
			parse_bozo(p, BZ_UTF8,
			           "bytes that are not UTF-8 were read as "
			           "windows-1252");
		}
		char c[4];
		/* read once the text it is in is whole (parse-html.c) */
		size_t cl = parse_html_byte_escape(u[i], c);
		parse_buf_add(&p->fix, s + run, i - run);
		parse_buf_add(&p->fix, c, cl);
		run = ++i;
	}
	if (copied) {
		parse_buf_add(&p->fix, s + run, end - run);
		*out = p->fix.s;
		*out_len = p->fix.len;
	} else {
		*out = s;
		*out_len = end;
	}
	return end;
}

/*
 * *s (*n bytes) after the bytes held back in held, joined in into, which
 * *s then points to; held is emptied. false when out of memory.
 */
static bool
join_held(struct buf *held, struct buf *into, const char **s, size_t *n)
{
	into->len = 0;
	if (!parse_buf_add(into, held->s, held->len) ||
	    !parse_buf_add(into, *s, *n))
		return false;
	held->len = 0;
	*s = into->s;
	*n = into->len;
	return true;
}

/*
 * s[0..n) of a document in another ASCII-compatible encoding, as UTF-8
 * in p->conv. libxml2's own conversion stops at the first byte sequence
 * the encoding does not have and ends the document there without a
 * word: a windows-1252 feed with one stray 0x81 was lost whole, and
 * where depended on the chunking. Here such a sequence becomes U+FFFD;
 * one cut by the end of s waits for the next push.
 */
static void
convert(struct gz_parser *p, const char *s, size_t n, bool final)
{
	char *in, *o;
	size_t left, room;

	if (p->carry.len && !join_held(&p->carry, &p->cin, &s, &n)) {
		parse_fail(p, -ENOMEM);
		return;
	}
	in = (char *)s;
	left = n;
	p->conv.len = 0;
	for (;;) {
		size_t r, k;

		/* first: p->conv.s is never NULL, even for no bytes */
		if (!parse_buf_reserve(&p->conv, 4 * left + 16)) {
			parse_fail(p, -ENOMEM);
			return;
		}
		if (left == 0 && !final)
			return;
		o = p->conv.s + p->conv.len;
		room = p->conv.cap - p->conv.len - 1;
		if (left == 0) {
			/* the end: back to the initial shift state */
			iconv(p->cd, NULL, NULL, &o, &room);
			p->conv.len = (size_t)(o - p->conv.s);
			return;
		}
		r = iconv(p->cd, &in, &left, &o, &room);
		p->conv.len = (size_t)(o - p->conv.s);
		if (r != (size_t)-1 || errno == E2BIG)
			continue;
		if (errno == EINVAL && !final) {
			if (!parse_buf_add(&p->carry, in, left))
				parse_fail(p, -ENOMEM);
			return;
		}
		/* EILSEQ, or EINVAL at the end of the document */
		parse_bozo(p, BZ_CONVERT,
		           "bytes that are not %s were read as U+FFFD",
		           p->cd_from);
		if (!parse_buf_add(&p->conv, "\xef\xbf\xbd", 3)) {
			parse_fail(p, -ENOMEM);
			return;
		}
		/* a whole code unit: UTF-16 and -32 stay aligned */
		k = p->cd_unit < left ? p->cd_unit : left;
		in += k;
		left -= k;
	}
}

/*
 * The bytes libxml2 gets for s[0..n): bad UTF-8 repaired, bare '&'
 * escaped; into p->fout, with an undecidable tail held back.
 */
static void
prepare(struct gz_parser *p, const char *s, size_t n, bool final)
{
	const char *t = s;
	size_t tn = n, taken = n;

	if (p->utf8)
		taken = utf8_repair(p, s, n, final, &t, &tn);
	p->fout.len = 0;
	p->hold.len = 0;
	filter_run(p, t, tn, final);
	/* an unfinished UTF-8 sequence follows what the filter held */
	if (taken < n && !parse_buf_add(&p->hold, s + taken, n - taken))
		parse_fail(p, -ENOMEM);
}

/* Push one slice through the '&' filter (when on) to libxml2. */
static void
xml_push_slice(struct gz_parser *p, const char *s, size_t n, bool final)
{
	if (!p->filter) {
		xml_push_raw(p, s, n);
		return;
	}
	if (p->cd != (iconv_t)-1) {
		convert(p, s, n, final);
		s = p->conv.s;
		n = p->conv.len;
	}
	if (p->hold.len && !join_held(&p->hold, &p->fin, &s, &n)) {
		parse_fail(p, -ENOMEM);
		return;
	}
	prepare(p, s, n, final);
	xml_push_raw(p, p->fout.s, p->fout.len);
}

/*
 * Push bytes through the '&' filter (when on) to libxml2, in slices, so
 * that a whole document pushed at once is not copied whole.
 */
void
parse_encoding_push(struct gz_parser *p, const char *s, size_t n, bool final)
{
	do {
		size_t k = n < PUSH_SLICE ? n : PUSH_SLICE;
		xml_push_slice(p, s, k, final && k == n);
		s += k;
		n -= k;
	} while (n > 0 && !p->error && !p->stopped);
}

/* How an ASCII-compatible document in encoding name is read. */
enum enc_way {
	ENC_LIBXML, /* by libxml2: UTF-8 and Latin-1, or UTF-16 and -32 */
	ENC_ICONV,  /* through iconv, by convert() */
	ENC_UTF8,   /* as UTF-8: another spelling of it ("utf--8") */
	ENC_UNKNOWN /* as UTF-8: iconv does not know the name */
};

/*
 * Decide how a document in encoding name is read, and open the iconv
 * conversion for ENC_ICONV. libxml2 is not left the others: it takes
 * names iconv does not know to ICU, which reads them differently
 * depending on the chunking.
 */
static enum enc_way
convert_start(struct gz_parser *p, const char *name)
{
	char alnum[64];
	size_t n = 0;

	for (const char *c = name; *c && n < sizeof(alnum) - 1; c++)
		if (isalnum((unsigned char)*c))
			alnum[n++] = (char)tolower((unsigned char)*c);
	alnum[n] = '\0';
	if (!strcasecmp(name, "utf-8") || !strcasecmp(name, "utf8") ||
	    strstr(alnum, "utf16") || strstr(alnum, "utf32") ||
	    strstr(alnum, "ucs") || !strcmp(alnum, "unicode"))
		return ENC_LIBXML;
	/* every byte is Latin-1: libxml2's own reader never stops */
	if (!strcmp(alnum, "iso88591") || !strcmp(alnum, "latin1") ||
	    !strcmp(alnum, "isolatin1"))
		return ENC_LIBXML;
	if (!strcmp(alnum, "utf8"))
		return ENC_UTF8;
	p->cd = iconv_open("UTF-8", name);
	if (p->cd == (iconv_t)-1)
		p->cd = iconv_open("UTF-8", alnum);
	if (p->cd == (iconv_t)-1)
		return ENC_UNKNOWN;
	snprintf(p->cd_from, sizeof(p->cd_from), "%s", name);
	return ENC_ICONV;
}

/*
 * The encoding of a document that is not ASCII-compatible, from its
 * byte-order mark or how its first '<' is spelled (XML 1.0 appendix F),
 * with the mark's length in *bom; NULL for an order iconv has no name
 * for, which libxml2 is left to read.
 */
static const char *
wide_encoding(const unsigned char *u, size_t n, size_t *bom)
{
	*bom = 0;
	if (n >= 4 && !memcmp(u, "\0\0\xfe\xff", 4))
		return *bom = 4, "UTF-32BE";
	if (n >= 4 && !memcmp(u, "\xff\xfe\0\0", 4))
		return *bom = 4, "UTF-32LE";
	if (n >= 2 && u[0] == 0xFE && u[1] == 0xFF)
		return *bom = 2, "UTF-16BE";
	if (n >= 2 && u[0] == 0xFF && u[1] == 0xFE)
		return *bom = 2, "UTF-16LE";
	if (n >= 4 && !u[0] && !u[1] && !u[2] && u[3])
		return "UTF-32BE";
	if (n >= 4 && u[0] && !u[1] && !u[2] && !u[3])
		return "UTF-32LE";
	if (n >= 2 && !u[0] && u[1])
		return "UTF-16BE";
	if (n >= 2 && u[0] && !u[1])
		return "UTF-16LE";
	return NULL;
}

/*
 * Read a UTF-16 or UTF-32 document through iconv, as UTF-8, with its
 * byte-order mark dropped: libxml2's own reader ends the document at a
 * sequence it cannot convert, without an error, at a point that depends
 * on the chunking (a declaration cut by the pushes was read, and found
 * malformed, only when it came before the bad sequence). false when
 * iconv has no such conversion; libxml2 then reads it.
 */
static bool
wide_start(struct gz_parser *p)
{
	size_t bom;
	const char *name = wide_encoding((const unsigned char *)p->pre.s,
	                                 p->pre.len, &bom);

	if (name == NULL)
		return false;
	p->cd = iconv_open("UTF-8", name);
	if (p->cd == (iconv_t)-1)
		return false;
	snprintf(p->cd_from, sizeof(p->cd_from), "%s", name);
	p->cd_unit = name[4] == '3' ? 4 : 2;
	memmove(p->pre.s, p->pre.s + bom, p->pre.len - bom);
	p->pre.len -= bom;
	return true;
}

/* Create the libxml2 context once the first bytes are known. */
int
parse_encoding_start(struct gz_parser *p)
{
	xmlSAXHandler sax;
	xmlCharEncodingHandlerPtr force = NULL;
	const char *s = p->pre.s;
	size_t n = p->pre.len;
	bool ascii_compat = true;
	char enc[64];
	const char *eff = NULL; /* the encoding the bytes are read in */
	int opts = XML_PARSE_RECOVER | XML_PARSE_NONET | XML_PARSE_NOWARNING;

	p->started = true;
	if (n >= 2 && ((s[0] == '\xfe' && s[1] == '\xff') ||
	               (s[0] == '\xff' && s[1] == '\xfe')))
		ascii_compat = false;
	if (n >= 4 && (s[0] == 0 || s[1] == 0))
		ascii_compat = false;
	if (ascii_compat) {
		size_t i = 0, skip;
		if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
			i = 3;
		skip = i;
		while (skip < n && s[skip] != '<')
			skip++;
		for (size_t j = i; j < skip; j++)
			if (!isspace((unsigned char)s[j])) {
				p->skipped_junk = true;
				break;
			}
		if (skip == n && n >= SNIFF_MAX) {
			/* still in junk: drop it and keep looking */
			p->skipping_junk = true;
			p->pre.len = 0;
			p->started = false;
			return 0;
		}
		if (skip > i) {
			memmove(p->pre.s + i, p->pre.s + skip, n - skip);
			p->pre.len = n = n - (skip - i);
		}
		decl_encoding(s + i, n - i, enc);
		eff = enc[0] ? enc : "UTF-8";
		if (p->skipped_junk)
			parse_bozo(p, BZ_START, "junk before the XML document");
		if (p->charset) {
			force = xmlFindCharEncodingHandler(p->charset);
			if (force)
				eff = p->charset;
			if (force == NULL) {
				parse_bozo(
				        p, BZ_START,
				        "unknown charset '%s' in Content-Type",
				        p->charset);
			}
		} else if (enc[0]) {
			xmlCharEncodingHandlerPtr h =
			        xmlFindCharEncodingHandler(enc);
			if (h == NULL) {
				parse_bozo(p, BZ_START,
				           "unknown encoding '%s' in the XML "
				           "declaration",
				           enc);
				force = xmlFindCharEncodingHandler("UTF-8");
				eff = "UTF-8";
			} else {
				/* iconv handlers are made afresh each time */
				xmlCharEncCloseFunc(h);
			}
		}
		if (i == 3) {
			/* a UTF-8 BOM wins over any charset; libxml2 need not
			 * see it (its push parser trips on it byte by byte) */
			if (force)
				xmlCharEncCloseFunc(force);
			force = xmlFindCharEncodingHandler("UTF-8");
			eff = "UTF-8";
			memmove(p->pre.s, p->pre.s + 3, n - 3);
			p->pre.len = n = n - 3;
		}
		enum enc_way way = convert_start(p, eff);
		if (way == ENC_UNKNOWN)
			parse_bozo(p, BZ_START,
			           "unknown encoding '%s': read as UTF-8", eff);
		if (way != ENC_LIBXML) {
			if (force)
				xmlCharEncCloseFunc(force);
			force = xmlFindCharEncodingHandler("UTF-8");
			if (way != ENC_ICONV)
				eff = "UTF-8";
		}
	}
	if (!ascii_compat && wide_start(p))
		force = xmlFindCharEncodingHandler("UTF-8");
	if (p->http_nonxml)
		parse_bozo(p, BZ_START, "served with a non-XML Content-Type");

	parse_xml_sax(&sax);

	p->filter = ascii_compat || p->cd != (iconv_t)-1;
	if (p->filter && p->cd == (iconv_t)-1) {
		const char *names[] = {enc, p->charset};
		for (int k = 0; k < 2; k++)
			if (names[k] && (strstr(names[k], "2022") ||
			                 strcasestr(names[k], "utf-7")))
				p->filter = false;
	}
	/* (what convert() makes is UTF-8 already: nothing to repair) */
	p->utf8 = p->filter && eff && p->cd == (iconv_t)-1 &&
	          (!strcasecmp(eff, "utf-8") || !strcasecmp(eff, "utf8"));
	if (p->filter) {
		s = p->pre.s;
		n = p->pre.len;
		if (p->cd != (iconv_t)-1) {
			convert(p, s, n, false);
			s = p->conv.s;
			n = p->conv.len;
		}
		prepare(p, s, n, false);
		s = p->fout.s;
		n = p->fout.len;
	} else {
		s = p->pre.s;
		n = p->pre.len;
	}
	if (force) {
		p->ctxt = xmlCreatePushParserCtxt(&sax, p, NULL, 0, NULL);
		if (p->ctxt) {
			xmlSwitchToEncoding(p->ctxt, force);
			opts |= XML_PARSE_IGNORE_ENC;
		} else {
			xmlCharEncCloseFunc(force);
		}
	} else {
		p->ctxt = xmlCreatePushParserCtxt(&sax, p, s,
		                                  (int)(n < 4 ? n : 4), NULL);
		s += n < 4 ? n : 4;
		n -= n < 4 ? n : 4;
	}
	if (p->ctxt == NULL)
		return -ENOMEM;
	xmlCtxtUseOptions(p->ctxt, opts);
	p->ctxt->replaceEntities = 0;
	p->ctxt->loadsubset = 0;
	p->ctxt->validate = 0;
	if (n)
		xml_push_raw(p, s, n);
	p->pre.len = 0;
	return p->error;
}

/*
 * true once the held bytes tell the encoding: the whole XML declaration,
 * or a first tag that is not one. UTF-16/32 wait for SNIFF_MAX bytes.
 */
bool
parse_encoding_ready(const struct gz_parser *p)
{
	const char *s = p->pre.s, *lt;
	size_t n = p->pre.len, i = 0;

	if (n < 4 || s[0] == 0 || s[1] == 0 || (unsigned char)s[0] == 0xFE ||
	    (unsigned char)s[0] == 0xFF)
		return false;
	if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
		i = 3;
	lt = memchr(s + i, '<', n - i);
	if (lt == NULL || (size_t)(s + n - lt) < 6)
		return false;
	if (memcmp(lt, "<?xml", 5) != 0)
		return true;
	return memmem(lt, (size_t)(s + n - lt), "?>", 2) != NULL;
}
