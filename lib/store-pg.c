/*
 * The PostgreSQL half of the store's driver (lib/store-sql.c has the
 * SQLite half and the API both share): connecting, the shared SQL's ?N
 * turned into $N, statements prepared by name on the connection, their
 * results read whole, errors mapped to the SQLite codes the rest of the
 * store speaks, and a lost connection re-established with back-off.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gazette/log.h"
#include "store-internal.h"

#define RECONNECT_TRIES 6 /* 0.1 s, doubling: about 6 s in all */

/* Notices (a NOTICE from CREATE ... IF NOT EXISTS) are not ours to print. */
static void
pg_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Keep the message of a failed result (or the connection's) on s. */
static void
pg_keep_error(struct store *s, const PGresult *res)
{
	const char *m = res ? PQresultErrorMessage(res) : NULL;
	size_t n;

	if (!m || !*m)
		m = PQerrorMessage(s->pg);
	snprintf(s->dberr, sizeof(s->dberr), "%s", m && *m ? m : "error");
	n = strlen(s->dberr);
	while (n > 0 && (s->dberr[n - 1] == '\n' || s->dberr[n - 1] == ' '))
		s->dberr[--n] = '\0';
}

/* The SQLite-style code of a failed result, from its SQLSTATE. */
static int
pg_code(struct store *s, const PGresult *res)
{
	const char *state =
	        res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(s->pg) == CONNECTION_BAD)
		return SQLITE_IOERR;
	if (!state)
		return SQLITE_ERROR;
	if (strncmp(state, "23", 2) == 0) /* integrity constraint */
		return SQLITE_CONSTRAINT;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "55P03") == 0) /* serialization, deadlock, lock */
		return SQLITE_BUSY;
	if (strcmp(state, "53100") == 0) /* disk full */
		return SQLITE_FULL;
	if (strcmp(state, "53200") == 0) /* out of memory */
		return SQLITE_NOMEM;
	if (strcmp(state, "42501") == 0) /* insufficient privilege */
		return SQLITE_PERM;
	if (strcmp(state, "25006") == 0) /* read-only transaction */
		return SQLITE_READONLY;
	if (strncmp(state, "08", 2) == 0) /* connection exception */
		return SQLITE_IOERR;
	return SQLITE_ERROR;
}

/* Settings every connection of ours takes. */
static int
pg_setup(struct store *s)
{
	PGresult *res;
	int rc = 0;

	PQsetNoticeProcessor(s->pg, pg_notice, NULL);
	/*
	 * A commit waits for the server's disk only where SQLite's would
	 * (STORE_SYNC_FULL: the CLI's marks). The daemon's, as SQLite's
	 * synchronous=NORMAL, may be lost to a crash of the server's
	 * machine, never half-kept: its polls are then fetched again.
	 */
	res = PQexec(s->pg, s->flags & STORE_SYNC_FULL
	                            ? "SET client_min_messages = warning;"
	                              " SET lock_timeout = '5s';"
	                              " SET synchronous_commit = on"
	                            : "SET client_min_messages = warning;"
	                              " SET lock_timeout = '5s';"
	                              " SET synchronous_commit = off");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_keep_error(s, res);
		rc = pg_code(s, res);
	}
	PQclear(res);
	if (rc)
		return rc;
	/*
	 * lz4 for the stories' text (PostgreSQL 14 on, built with it):
	 * a quarter of pglz's time on insert. Without it, the default.
	 */
	res = PQexec(s->pg, "SET default_toast_compression = lz4");
	PQclear(res);
	return 0;
}

/* Connect to conninfo (a postgresql:// URI); s->dberr on failure. */
int
pg_open(struct store *s, const char *conninfo)
{
	s->pg = PQconnectdb(conninfo);
	if (!s->pg) {
		snprintf(s->dberr, sizeof(s->dberr), "out of memory");
		return SQLITE_NOMEM;
	}
	if (PQstatus(s->pg) != CONNECTION_OK) {
		pg_keep_error(s, NULL);
		return SQLITE_CANTOPEN;
	}
	s->pg_gen = 1;
	return pg_setup(s);
}

/* Close the connection. */
void
pg_close(struct store *s)
{
	if (s->pg)
		PQfinish(s->pg);
	s->pg = NULL;
}

/*
 * The connection went away outside a transaction: reconnect, waiting
 * 0.1 s, 0.2 s, ... between tries, and say so. Statements prepared on
 * the old connection are prepared again on first use (pg_gen).
 */
static bool
pg_reconnect(struct store *s)
{
	long wait_ms = 100;

	log_warn("lost the connection to PostgreSQL: %s; reconnecting",
	         s->dberr);
	for (int i = 0; i < RECONNECT_TRIES; i++) {
		struct timespec ts = {wait_ms / 1000,
		                      (wait_ms % 1000) * 1000000};

		nanosleep(&ts, NULL);
		/* A new connection, not PQreset: that one keeps pipeline mode.
		 */
		s->pipe_n = 0;
		PQfinish(s->pg);
		s->pg = PQconnectdb(s->path);
		if (!s->pg) { /* libpq's calls take NULL as a bad one */
			snprintf(s->dberr, sizeof(s->dberr), "out of memory");
			break;
		}
		if (PQstatus(s->pg) == CONNECTION_OK && pg_setup(s) == 0) {
			s->pg_gen++;
			log_info("reconnected to PostgreSQL after %d %s", i + 1,
			         i ? "tries" : "try");
			return true;
		}
		pg_keep_error(s, NULL);
		wait_ms *= 2;
	}
	log_err("cannot reconnect to PostgreSQL: %s", s->dberr);
	return false;
}

/* Prepare st on the current connection. */
static int
pg_prepare(struct sql_stmt *st)
{
	struct store *s = st->s;
	PGresult *res;
	int rc = 0;

	res = PQprepare(s->pg, st->name, st->pg_sql, st->nparams,
	                (const Oid *)st->types);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		pg_keep_error(s, res);
		rc = pg_code(s, res);
	} else {
		st->pg_gen = s->pg_gen;
	}
	PQclear(res);
	return rc;
}

/*
 * Queue st on the connection's pipeline: sent now, its answer read by
 * pg_drain. A statement not yet prepared on this connection is prepared
 * in the pipeline before it. Sent are at most PG_PIPE_MAX statements,
 * whose small answers the socket's buffer holds while the server works
 * through them (so neither side waits for the other to read).
 */
int
pg_defer(struct sql_stmt *st, int64_t *sum)
{
	struct store *s = st->s;
	int rc;

	if (s->tx_lost) {
		snprintf(s->dberr, sizeof(s->dberr),
		         "the connection was lost in the transaction, which "
		         "the server rolled back");
		return SQLITE_IOERR;
	}
	if (s->pipe_n >= PG_PIPE_MAX - 1) {
		rc = pg_drain(s);
		if (rc)
			return rc;
	}
	if (PQpipelineStatus(s->pg) == PQ_PIPELINE_OFF &&
	    !PQenterPipelineMode(s->pg))
		goto failed;
	if (st->pg_gen != s->pg_gen) {
		if (!PQsendPrepare(s->pg, st->name, st->pg_sql, st->nparams,
		                   (const Oid *)st->types))
			goto failed;
		st->pg_gen = s->pg_gen;
		s->pipe[s->pipe_n++] = (struct pipe_item){st, NULL};
	}
	if (!PQsendQueryPrepared(s->pg, st->name, st->nparams,
	                         (const char *const *)st->vals,
	                         st->binary ? st->lens : NULL,
	                         st->binary ? st->fmts : NULL, 0))
		goto failed;
	s->pipe[s->pipe_n++] = (struct pipe_item){NULL, sum};
	return 0;
failed:
	pg_keep_error(s, NULL);
	if (PQstatus(s->pg) != CONNECTION_BAD)
		return SQLITE_ERROR;
	s->pipe_n = 0;
	s->tx_lost = true; /* pg_defer runs only inside a transaction */
	(void)pg_reconnect(s);
	return SQLITE_IOERR;
}

/*
 * Read every queued answer, adding the integers asked for; the first
 * failure's code (those after it were not run: the transaction is
 * aborted and its owner rolls it back), or 0.
 */
int
pg_drain(struct store *s)
{
	PGresult *res;
	int rc = 0;

	if (PQpipelineStatus(s->pg) == PQ_PIPELINE_OFF) {
		s->pipe_n = 0;
		return 0;
	}
	if (!PQpipelineSync(s->pg)) {
		pg_keep_error(s, NULL);
		rc = SQLITE_IOERR;
	}
	/*
	 * Every answer is read, those after a failure too (aborted), and
	 * then the sync's: else the connection stays in pipeline mode.
	 */
	for (int i = 0; i < s->pipe_n && rc != SQLITE_IOERR; i++) {
		struct pipe_item *it = &s->pipe[i];

		while ((res = PQgetResult(s->pg))) {
			ExecStatusType es = PQresultStatus(res);

			if (es == PGRES_TUPLES_OK && it->sum &&
			    PQntuples(res) > 0)
				*it->sum += strtoll(PQgetvalue(res, 0, 0), NULL,
				                    10);
			if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK) {
				if (it->prepared)
					it->prepared->pg_gen = 0;
				if (es == PGRES_FATAL_ERROR && !rc) {
					pg_keep_error(s, res);
					rc = pg_code(s, res);
				}
			}
			PQclear(res);
		}
		if (PQstatus(s->pg) == CONNECTION_BAD && !rc) {
			pg_keep_error(s, NULL);
			rc = SQLITE_IOERR;
		}
	}
	s->pipe_n = 0;
	if (PQstatus(s->pg) == CONNECTION_BAD) {
		/* As pg_run: the transaction is gone, none of it runs again. */
		if (s->tx_depth > 0)
			s->tx_lost = true;
		(void)pg_reconnect(s);
		return SQLITE_IOERR;
	}
	/* The sync's own answer, then the connection is as before. */
	while ((res = PQgetResult(s->pg))) {
		ExecStatusType es = PQresultStatus(res);

		PQclear(res);
		if (es == PGRES_PIPELINE_SYNC)
			break;
	}
	if (PQexitPipelineMode(s->pg))
		return rc;
	if (PQstatus(s->pg) == CONNECTION_BAD) {
		if (s->tx_depth > 0)
			s->tx_lost = true;
		(void)pg_reconnect(s);
		return SQLITE_IOERR;
	}
	if (!rc) {
		pg_keep_error(s, NULL);
		rc = SQLITE_ERROR;
	}
	return rc;
}

/* Run st with its parameters; the first row (SQL_ROW) or SQL_DONE. */
int
pg_run(struct sql_stmt *st)
{
	struct store *s = st->s;
	ExecStatusType es;
	PGresult *res;
	int rc;

	/*
	 * The transaction went with the old connection: nothing of it may
	 * run on the new one, where each statement would commit alone.
	 */
	if (s->tx_lost && s->tx_depth > 0) {
		snprintf(s->dberr, sizeof(s->dberr),
		         "the connection was lost in the transaction, which "
		         "the server rolled back");
		return SQLITE_IOERR;
	}
	/* What was queued is answered first; its failure is this one's. */
	if (s->pipe_n || PQpipelineStatus(s->pg) != PQ_PIPELINE_OFF) {
		rc = pg_drain(s);
		if (rc)
			return rc;
	}
	for (int attempt = 0;; attempt++) {
		if (st->pg_gen != s->pg_gen) {
			rc = pg_prepare(st);
			if (rc)
				goto failed;
		}
		res = PQexecPrepared(s->pg, st->name, st->nparams,
		                     (const char *const *)st->vals,
		                     st->binary ? st->lens : NULL,
		                     st->binary ? st->fmts : NULL, 0);
		es = PQresultStatus(res);
		if (es == PGRES_TUPLES_OK || es == PGRES_COMMAND_OK)
			break;
		pg_keep_error(s, res);
		rc = pg_code(s, res);
		PQclear(res);
	failed:
		/*
		 * Only outside a transaction is the statement run again: in
		 * one, the server rolled everything back with the connection,
		 * and the caller's rollback and retry keep it whole.
		 */
		if (PQstatus(s->pg) == CONNECTION_BAD && attempt == 0 &&
		    s->tx_depth == 0 && pg_reconnect(s))
			continue;
		if (PQstatus(s->pg) == CONNECTION_BAD && s->tx_depth > 0) {
			s->tx_lost = true;
			(void)pg_reconnect(s);
			rc = SQLITE_IOERR;
		}
		return rc;
	}
	st->res = res;
	st->nrows = es == PGRES_TUPLES_OK ? PQntuples(res) : 0;
	st->row = 0;
	s->changes = atoi(PQcmdTuples(res));
	return st->nrows > 0 ? SQL_ROW : SQL_DONE;
}

/* Run a script of several statements in one call (migrations). */
int
pg_script(struct store *s, const char *script)
{
	PGresult *res = PQexec(s->pg, script);
	int r = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		pg_keep_error(s, res);
		r = sql_errno(pg_code(s, res));
		snprintf(s->err, sizeof(s->err), "%s", s->dberr);
	}
	PQclear(res);
	return r;
}

/*
 * The shared SQL's ?N as $N (outside quoted strings and identifiers),
 * newly allocated; *ret_nparams the highest N.
 */
char *
pg_translate(const char *sql, int *ret_nparams)
{
	size_t n = strlen(sql);
	char *out = malloc(n + 1), *o = out;
	int max = 0;
	char quote = 0;

	if (!out)
		return NULL;
	for (const char *p = sql; *p; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
			*o++ = *p;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
			*o++ = *p;
		} else if (*p == '?' && p[1] >= '0' && p[1] <= '9') {
			int v = atoi(p + 1);

			if (v > max)
				max = v;
			*o++ = '$';
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	*ret_nparams = max;
	return out;
}
