/*
 * One logger for both programs: levels, stderr, with the "<N>" priority
 * prefixes systemd's journal reads when running under systemd.
 */
#ifndef GAZETTE_LOG_H
#define GAZETTE_LOG_H

#include <stddef.h>

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

/* Set the program name and the most verbose level printed. */
void log_init(const char *progname, enum log_level max);
void log_set_level(enum log_level max);
enum log_level log_get_level(void);

void log_msg(enum log_level lvl, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#define log_err(...)    log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)  log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/*
 * Quote user-controlled text (a feed title, a URL) for a message: control
 * characters escaped, cut at max bytes. Returns buf.
 */
const char *log_quote(const char *s, char *buf, size_t size);

#endif
