/* Default paths for configuration, database and control socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gazette/paths.h"

#define SYS_CONFIG "/etc/gazette"
#define SYS_STATE  "/var/lib/gazette"
#define SYS_RUN    "/run/gazette"

/* dir + "/" + name, or NULL when out of memory. */
static char *
join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

/* An environment variable that is set to an absolute path, else NULL. */
static const char *
env_dir(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] == '/' ? v : NULL;
}

/* $XDG_name, else $HOME/fallback, + "/gazette/" + file. */
static char *
xdg(const char *name, const char *fallback, const char *file)
{
	const char *d = env_dir(name), *home;
	char *p;

	if (d) {
		if (asprintf(&p, "%s/gazette/%s", d, file) < 0)
			return NULL;
		return p;
	}
	home = env_dir("HOME");
	if (home == NULL)
		return NULL;
	if (asprintf(&p, "%s/%s/gazette/%s", home, fallback, file) < 0)
		return NULL;
	return p;
}

/*
 * The system service's directory def, under $GAZETTE_SYSTEM_ROOT when
 * that is set (tests, chroots), or systemd's env when the service runs.
 * systemd may hand several colon-separated directories; we use the first.
 */
static char *
sd_dir(const char *env, const char *def)
{
	const char *v = env_dir(env), *root = env_dir("GAZETTE_SYSTEM_ROOT");
	char *p;

	if (v)
		return strndup(v, strcspn(v, ":"));
	if (root == NULL)
		return strdup(def);
	if (asprintf(&p, "%s%s", root, def) < 0)
		return NULL;
	return p;
}

/* The system service's paths. */
static int
system_paths(struct paths *p)
{
	char *cfg = sd_dir("CONFIGURATION_DIRECTORY", SYS_CONFIG);
	char *state = sd_dir("STATE_DIRECTORY", SYS_STATE);
	char *run = sd_dir("RUNTIME_DIRECTORY", SYS_RUN);
	int r = -ENOMEM;

	if (cfg && state && run) {
		p->system = true;
		p->config = join(cfg, "gazette.conf");
		p->db = join(state, "gazette.db");
		p->socket = join(run, "control.sock");
		if (p->config && p->db && p->socket)
			r = 0;
	}
	free(cfg);
	free(state);
	free(run);
	return r;
}

/* The user's paths: XDG directories, else under $HOME. */
static int
user_paths(struct paths *p)
{
	p->system = false;
	p->config = xdg("XDG_CONFIG_HOME", ".config", "gazette.conf");
	p->db = xdg("XDG_DATA_HOME", ".local/share", "gazette.db");
	if (env_dir("XDG_RUNTIME_DIR")) {
		if (asprintf(&p->socket, "%s/gazette/control.sock",
		             getenv("XDG_RUNTIME_DIR")) < 0)
			p->socket = NULL;
	} else {
		p->socket =
		        xdg("XDG_DATA_HOME", ".local/share", "control.sock");
	}
	if (p->config == NULL || p->db == NULL || p->socket == NULL)
		return env_dir("HOME") || env_dir("XDG_DATA_HOME") ? -ENOMEM
		                                                   : -ENOENT;
	return 0;
}

/*
 * The one rule both programs follow (gazette(1), gazetted(8), FILES):
 * 1. systemd started the system service (STATE_DIRECTORY is set): the
 *    system paths;
 * 2. else the user's own files, when their gazette.conf or gazette.db
 *    exists;
 * 3. else the system service's, when its database exists and this user
 *    may read and write it (root, or group gazette);
 * 4. else the user's, created on first use.
 * Being root changes nothing: root without its own files and without a
 * system database gets the user's paths under its own HOME.
 */
int
paths_default(struct paths *ret)
{
	struct paths p = {0}, sys = {0};
	int r;

	if (env_dir("STATE_DIRECTORY")) {
		r = system_paths(&p);
		goto done;
	}
	r = user_paths(&p);
	if (r == 0 && (access(p.config, F_OK) == 0 || access(p.db, F_OK) == 0))
		goto done;
	if (system_paths(&sys) == 0 && access(sys.db, R_OK | W_OK) == 0) {
		paths_clear(&p);
		*ret = sys;
		return 0;
	}
	paths_clear(&sys);
done:
	if (r < 0) {
		paths_clear(&p);
		return r;
	}
	*ret = p;
	return 0;
}

/* Free the strings of p. */
void
paths_clear(struct paths *p)
{
	free(p->config);
	free(p->db);
	free(p->socket);
	p->config = p->db = p->socket = NULL;
}

/* Create every missing directory above path, like mkdir -p. */
int
paths_make_parent(const char *path, unsigned mode)
{
	char *dir = strdup(path), *s;
	int r = 0;

	if (dir == NULL)
		return -ENOMEM;
	s = strrchr(dir, '/');
	if (s == NULL || s == dir) {
		free(dir);
		return 0;
	}
	*s = '\0';
	for (s = dir + 1; r == 0; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(dir, (mode_t)mode) < 0 && errno != EEXIST)
			r = -errno;
		*s = c;
		if (c == '\0')
			break;
	}
	free(dir);
	return r;
}
