/*
 * Default paths, the same for the daemon and the CLI: XDG for a user,
 * /etc/gazette and /var/lib/gazette (or systemd's directories) for the
 * system service.
 */
#ifndef GAZETTE_PATHS_H
#define GAZETTE_PATHS_H

#include <stdbool.h>

struct paths {
	bool system;  /* the system service's paths */
	char *config; /* gazette.conf */
	char *db;     /* gazette.db */
	char *socket; /* the daemon's control socket */
};

enum paths_who {
	PATHS_DAEMON, /* system when systemd gave a StateDirectory, or root */
	PATHS_CLI,    /* the user's, unless only the system's exist and open */
};

/* Fill *ret with newly allocated paths; 0 or -ENOMEM / -ENOENT (no HOME). */
int paths_default(enum paths_who who, struct paths *ret);
void paths_clear(struct paths *p);

/* mkdir -p for the directory that holds path, with mode for new ones. */
int paths_make_parent(const char *path, unsigned mode);

#endif
