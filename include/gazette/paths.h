/*
 * Default paths, the same for the daemon and the CLI: XDG for a user,
 * /etc/gazette and /var/lib/gazette (or systemd's directories) for the
 * system service. One rule picks between them (paths_default), so that
 * gazette and gazetted run by one user in one environment open the same
 * database. $GAZETTE_SYSTEM_ROOT, when set, is put before the system
 * service's directories (tests point it at a directory of their own).
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

/*
 * Fill *ret with newly allocated paths; 0 or -ENOMEM / -ENOENT (no HOME).
 * The system service's when systemd started it (STATE_DIRECTORY); else
 * the user's when their gazette.conf or gazette.db exists; else the
 * system service's when its database exists and this user may read and
 * write it; else the user's.
 */
int paths_default(struct paths *ret);
void paths_clear(struct paths *p);

/* mkdir -p for the directory that holds path, with mode for new ones. */
int paths_make_parent(const char *path, unsigned mode);

#endif
