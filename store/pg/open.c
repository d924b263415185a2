/*
 * open.c - opening a PostgreSQL store: connecting with the DSN (a secret:
 * never in a message), telling a tenantdel store from an empty database
 * or another program's, creating it (STORE_OPEN_CREATE) and migrating it
 * under the migration lock; closing; the integrity check.
 */
#include "store/pg/pg_int.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONNECT_WAIT_MS 60000 /* a daemon waits this long for its server at start */

/* Whether the schema is ours (tenantdel_schema), and how many tables the
 * current schema holds. */
static const char SQL_IDENTIFY[] =
	"SELECT to_regclass('tenantdel_schema') IS NOT NULL,"
	" (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema())";

/* The password the DSN holds (malloc'ed), NULL when none. */
static char *dsn_password(const char *dsn)
{
	PQconninfoOption *opts = sym_PQconninfoParse(dsn, NULL);
	char *pw = NULL;

	for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0')
			pw = xstrdup(o->val);
	sym_PQconninfoFree(opts);
	return pw;
}

/* The first line of libpq's message about a connection that failed: it
 * names the server (socket or host, port) and the user; the DSN is never
 * printed, and a password the message would repeat is masked. */
static void connect_error(struct pg_store *s, char *err, size_t errlen)
{
	const char *msg = s->conn ? sym_PQerrorMessage(s->conn) : "out of memory";
	char *line = xstrndup(msg, strcspn(msg, "\n")), *pw = dsn_password(s->dsn), *at;

	while (pw != NULL && (at = strstr(line, pw)) != NULL)
		memset(at, '*', strlen(pw));
	snprintf(err, errlen, "cannot connect to the PostgreSQL store: %s", line);
	if (pw != NULL)
		explicit_bzero(pw, strlen(pw));
	free(pw);
	free(line);
}

static void handle_free(struct pg_store *s)
{
	if (s == NULL)
		return;
	pg_events_drop(s);
	free(s->pending);
	if (s->conn != NULL)
		sym_PQfinish(s->conn);
	if (s->dsn != NULL) {
		explicit_bzero(s->dsn, strlen(s->dsn));
		free(s->dsn);
	}
	store_base_clear(&s->base);
	free(s);
}

/* One try at connecting (s->conn set, good or bad); a connection
 * string's own settings win over ours. The session's settings are
 * connection options, so that a reconnection (PQreset) keeps them. Over
 * TCP, a server that vanished (no answer, no reset) breaks the connection
 * within about 16 s (keepalives: a query waiting on it; the TCP user
 * timeout: data unacknowledged), not the system's 15 minutes. 0, or -1
 * with *transient set when the server is down or not accepting yet. */
static int connect_once(struct pg_store *s, int *transient)
{
	const char *const keys[] = { "connect_timeout", "keepalives_idle", "keepalives_interval",
				     "keepalives_count", "tcp_user_timeout", "application_name",
				     "options", "dbname", NULL };
	const char *const vals[] = { "10", "10", "2", "3", "10000", "tenantdel",
				     "-c client_min_messages=warning", s->dsn, NULL };
	PGPing ping;

	for (int tries = 0;; tries++) {
		if (s->conn != NULL)
			sym_PQfinish(s->conn);
		s->conn = sym_PQconnectdbParams(keys, vals, 1);
		if (s->conn != NULL && sym_PQstatus(s->conn) == CONNECTION_OK)
			return 0;
		/* down, or starting, stopping, recovering: worth another try;
		 * an answer (a wrong password, no such database) is not. A
		 * server that accepts now may have been starting a moment ago
		 * ("not yet accepting connections"): once more at once. */
		ping = sym_PQpingParams(keys, vals, 1);
		*transient = ping == PQPING_REJECT || ping == PQPING_NO_RESPONSE;
		if (ping != PQPING_OK || tries > 0)
			return -1;
	}
}

/* Is this a tenantdel store, an empty database, or something else? Creates
 * or migrates as the flags allow. 0, or -1 with err set. */
static int identify(struct pg_store *s, int flags, char *err, size_t errlen)
{
	PGresult *r = pg_run(s, SQL_IDENTIFY, NULL);
	int ours, tables;

	if (r == NULL) {
		snprintf(err, errlen, "%s: cannot read it: %s", s->label, s->base.err_msg);
		return -1;
	}
	ours = (int)pg_int(r, 0, 0, 0);
	tables = (int)pg_int(r, 0, 1, 0);
	sym_PQclear(r);
	if (!ours && tables > 0) {
		snprintf(err, errlen, "%s: not a tenantdel store (another program's database)",
			 s->label);
		return -1;
	}
	if (!ours && !(flags & STORE_OPEN_CREATE)) {
		snprintf(err, errlen, "no store in %s", s->label);
		return -1;
	}
	return pg_migrate(s, err, errlen);
}

/*
 * One try at connecting, then at identify on the new connection. 0; or -1
 * with err set and *transient when it is worth another try: the server
 * is down, starting or restarting (not one that refused), or it went away
 * between the connection and the first statements.
 */
static int open_once(struct pg_store *s, int flags, int *transient, char *err,
		     size_t errlen)
{
	if (connect_once(s, transient) < 0) {
		connect_error(s, err, errlen);
		return -1;
	}
	snprintf(s->label, sizeof s->label, "database %s on %s", sym_PQdb(s->conn),
		 sym_PQhost(s->conn) ? sym_PQhost(s->conn) : "localhost");
	s->n_cache = 0; /* a new connection: nothing prepared on it */
	s->generation++;
	s->lost = 0;
	s->sqlstate[0] = '\0';
	if (identify(s, flags, err, errlen) == 0)
		return 0;
	*transient = s->lost;
	return -1;
}

/*
 * Connects and identifies the store. A daemon (without STORE_OPEN_BRIEF)
 * started while the server restarts or is not up yet tries again, 0.1 s
 * doubling up to 2 s, for up to CONNECT_WAIT_MS, one log line a try; a
 * command fails at once. 0, or -1 with err set.
 */
static int open_db(struct pg_store *s, int flags, char *err, size_t errlen)
{
	char *parse_err = NULL;
	PQconninfoOption *opts = sym_PQconninfoParse(s->dsn, &parse_err);
	int64_t wait = 100, until = clock_mono_ms() + CONNECT_WAIT_MS;
	int transient = 0;

	/* libpq's message about a DSN that does not parse quotes the DSN */
	sym_PQfreemem(parse_err);
	if (opts == NULL) {
		snprintf(err, errlen, "the PostgreSQL connection string does not parse "
			 "(see \"Connection Strings\" in PostgreSQL's manual)");
		return -1;
	}
	sym_PQconninfoFree(opts);
	while (open_once(s, flags, &transient, err, errlen) < 0) {
		if (!transient || (flags & STORE_OPEN_BRIEF) || clock_mono_ms() + wait > until)
			return -1;
		log_msg(LOG_WARN, "store.connect.retry", "%s; trying again in %lld ms", err,
			(long long)wait);
		pg_sleep_ms(wait);
		wait = wait * 2 > 2000 ? 2000 : wait * 2;
	}
	err[0] = '\0';
	return 0;
}

struct store *pg_open(const struct store_config *c, char *err, size_t errlen)
{
	struct pg_store *s;

	if (c->dsn == NULL || c->dsn[0] == '\0') {
		snprintf(err, errlen, "no connection string for the postgresql store "
			 "([store] dsn_file or dsn_env)");
		return NULL;
	}
	if (pg_libpq_load(err, errlen) < 0)
		return NULL;
	s = xcalloc(1, sizeof *s);
	store_base_init(&s->base, &store_pg_backend);
	s->dsn = xstrdup(c->dsn);
	s->brief = (c->flags & STORE_OPEN_BRIEF) != 0;
	snprintf(s->label, sizeof s->label, "the PostgreSQL store");
	if (c->node != NULL && c->node[0] != '\0')
		snprintf(s->node, sizeof s->node, "%s", c->node);
	else if (gethostname(s->node, sizeof s->node - 1) < 0)
		snprintf(s->node, sizeof s->node, "localhost");
	if (open_db(s, c->flags, err, errlen) < 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "%s: %s", s->label, s->base.err_msg);
		handle_free(s);
		return NULL;
	}
	return &s->base;
}

void pg_close(struct store *base)
{
	handle_free(pg_of(base));
}

static const char SQL_CHECK[] =
	"SELECT (SELECT max(version) FROM tenantdel_schema),"
	" (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'events'::regclass"
	"  AND tgname IN ('events_no_update','events_no_truncate') AND tgenabled <> 'D')";

/*
 * The server keeps its own pages (checksums, WAL); what the store checks
 * is its own shape: the schema version it knows, and the triggers that
 * keep the events append-only, present and enabled.
 */
int pg_check_integrity(struct store *base, int *intact, char *why, size_t whylen)
{
	struct pg_store *s = pg_of(base);
	PGresult *r = pg_run(s, SQL_CHECK, NULL);
	int64_t version, triggers;

	*intact = 0;
	if (r == NULL)
		return STORE_ERR;
	version = pg_int(r, 0, 0, 0);
	triggers = pg_int(r, 0, 1, 0);
	sym_PQclear(r);
	if (version != pg_n_migrations)
		snprintf(why, whylen, "schema version %lld, expected %d", (long long)version,
			 pg_n_migrations);
	else if (triggers != 2)
		snprintf(why, whylen, "the events table's append-only triggers are missing "
			 "or disabled");
	else {
		*intact = 1;
		snprintf(why, whylen, "ok");
	}
	return STORE_OK;
}
