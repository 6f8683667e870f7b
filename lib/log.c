/* The logger: stderr, with journal priority prefixes under systemd. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gazette/log.h"
#include "gazette/utf8.h"

static const char *log_prog = "gazette";
static enum log_level log_max = LOG_LVL_NOTICE;
static bool log_journal;

/* Set the program name and level; detect the journal from JOURNAL_STREAM. */
void
log_init(const char *progname, enum log_level max)
{
	log_prog = progname;
	log_max = max;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

/* Change the most verbose level printed. */
void
log_set_level(enum log_level max)
{
	log_max = max;
}

/* The most verbose level printed. */
enum log_level
log_get_level(void)
{
	return log_max;
}

/* Print one line at a level, if that level is enabled. */
void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = {
	        [LOG_LVL_ERR] = "error",     [LOG_LVL_WARN] = "warning",
	        [LOG_LVL_NOTICE] = "notice", [LOG_LVL_INFO] = "info",
	        [LOG_LVL_DEBUG] = "debug",
	};
	char line[2048];
	va_list ap;

	if (lvl > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* The journal records the time and the program; a terminal wants both.
	 */
	if (log_journal)
		fprintf(stderr, "<%d>%s\n", (int)lvl, line);
	else
		fprintf(stderr, "%s: %s: %s\n", log_prog, names[lvl], line);
}

/* Escape control characters and quotes so a feed cannot forge log lines. */
const char *
log_quote(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	if (size < 8) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	if (s == NULL)
		s = "(null)";
	buf[o++] = '\'';
	while (*s && o + 6 < size) {
		unsigned char c = (unsigned char)*s;
		size_t n = utf8_valid_len(s);

		if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\' || n == 0) {
			/* controls, quotes and bytes that are not UTF-8 */
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
			s++;
		} else if (o + n + 5 < size) {
			memcpy(buf + o, s, n);
			o += n;
			s += n;
		} else {
			break;
		}
	}
	if (*s && o + 4 <= size - 1) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}
