/*
 * jobs.c - job and task state machines, tenant ids, UUIDv7 job ids.
 */
#include "jobs/jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static const char *const job_state_names[JOB_STATE_COUNT] = {
	[JOB_SCHEDULED] = "scheduled", [JOB_RUNNING] = "running",
	[JOB_SUCCEEDED] = "succeeded", [JOB_FAILED] = "failed",
	[JOB_CANCELLED] = "cancelled", [JOB_HELD] = "held",
};

static const char *const task_state_names[TASK_STATE_COUNT] = {
	[TASK_PENDING] = "pending", [TASK_IN_FLIGHT] = "in_flight",
	[TASK_WAITING] = "waiting", [TASK_SUCCEEDED] = "succeeded",
	[TASK_DEAD] = "dead", [TASK_SKIPPED] = "skipped",
};

static const char *const task_kind_names[] = {
	[TASK_KIND_DELETE] = "delete", [TASK_KIND_SUSPEND] = "suspend",
	[TASK_KIND_RESTORE] = "restore",
};

/* Out-of-range values (a corrupt row) print as "unknown", never NULL. */
static const char *name_of(const char *const *names, size_t n, int v)
{
	if (v < 0 || (size_t)v >= n || names[v] == NULL)
		return "unknown";
	return names[v];
}

static int parse_name(const char *const *names, size_t n, const char *name, int *out)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (names[i] != NULL && strcmp(names[i], name) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return -1;
}

/* Returns the name of s ("scheduled", ...); "unknown" when out of range. */
const char *jobs_job_state_name(enum job_state s)
{
	return name_of(job_state_names, JOB_STATE_COUNT, (int)s);
}

/* Returns the name of s ("in_flight", ...); "unknown" when out of range. */
const char *jobs_task_state_name(enum task_state s)
{
	return name_of(task_state_names, TASK_STATE_COUNT, (int)s);
}

/* Returns the name of k ("delete", ...); "unknown" when out of range. */
const char *jobs_task_kind_name(enum task_kind k)
{
	return name_of(task_kind_names, sizeof(task_kind_names) / sizeof(task_kind_names[0]), (int)k);
}

/* 0 and *out set when name is a job state name; -1 (out untouched) otherwise. */
int jobs_job_state_parse(const char *name, enum job_state *out)
{
	int v;

	if (parse_name(job_state_names, JOB_STATE_COUNT, name, &v) < 0)
		return -1;
	*out = (enum job_state)v;
	return 0;
}

/* 0 and *out set when name is a task state name; -1 (out untouched) otherwise. */
int jobs_task_state_parse(const char *name, enum task_state *out)
{
	int v;

	if (parse_name(task_state_names, TASK_STATE_COUNT, name, &v) < 0)
		return -1;
	*out = (enum task_state)v;
	return 0;
}

/* 0 and *out set when name is a task kind name; -1 (out untouched) otherwise. */
int jobs_task_kind_parse(const char *name, enum task_kind *out)
{
	int v;
	size_t n = sizeof(task_kind_names) / sizeof(task_kind_names[0]);

	if (parse_name(task_kind_names, n, name, &v) < 0)
		return -1;
	*out = (enum task_kind)v;
	return 0;
}

/* 1 for succeeded and cancelled, else 0. */
int jobs_job_is_terminal(enum job_state s)
{
	return s == JOB_SUCCEEDED || s == JOB_CANCELLED;
}

/* 1 for succeeded, dead and skipped, else 0. */
int jobs_task_is_finished(enum task_state s)
{
	return s == TASK_SUCCEEDED || s == TASK_DEAD || s == TASK_SKIPPED;
}

/* A hold can be put on, and released back to, exactly these states. */
static int holdable(enum job_state s)
{
	return s == JOB_SCHEDULED || s == JOB_RUNNING || s == JOB_FAILED;
}

/* 0 when ask is complete whatever the job's state; see jobs.h. */
int jobs_action_check_input(const struct job_action_ask *ask, const char **why)
{
	if (ask->act == JOB_ACT_HOLD && (ask->reason == NULL || ask->reason[0] == '\0')) {
		if (why != NULL)
			*why = "a hold needs a reason";
		return -1;
	}
	return 0;
}

/* The state after act from `from` (held from held_from); -1 when refused. */
static int next_state(enum job_action act, enum job_state from, enum job_state held_from,
		      enum job_state *to)
{
	switch (act) {
	case JOB_ACT_RETRY:
		*to = JOB_RUNNING;
		return from == JOB_FAILED || from == JOB_RUNNING ? 0 : -1;
	case JOB_ACT_CANCEL:
		*to = JOB_CANCELLED;
		return from == JOB_SCHEDULED ? 0 : -1;
	case JOB_ACT_HOLD:
		*to = JOB_HELD;
		return holdable(from) ? 0 : -1;
	case JOB_ACT_RELEASE:
		*to = held_from;
		return from == JOB_HELD && holdable(held_from) ? 0 : -1;
	case JOB_ACT_APPROVE:
		break;
	}
	return -1;
}

/*
 * DESIGN 3. RETRY is accepted on a running job too: a running job may hold
 * dead tasks of an earlier phase's retry. CANCEL only from scheduled: once
 * purging started the saga only moves forward, and a held job must be
 * released first.
 */
int jobs_action_check(const struct job_action_ask *ask, enum job_state from,
		      enum job_state held_from, enum job_state *to, const char **why)
{
	enum job_state next;

	if (jobs_action_check_input(ask, why) < 0)
		return -1;
	if (next_state(ask->act, from, held_from, &next) < 0) {
		if (why != NULL)
			*why = "not allowed in its state";
		return -1;
	}
	if (ask->act == JOB_ACT_RETRY && ask->dead_tasks <= 0) {
		if (why != NULL)
			*why = "no dead task to retry";
		return -1;
	}
	if (ask->act == JOB_ACT_CANCEL && ask->parent_waits) {
		if (why != NULL)
			*why = "a user's erasure waits for it";
		return -1;
	}
	*to = next;
	return 0;
}

/* DESIGN 10: a second person, never the requester, approves a pending job. */
int jobs_approval_check(enum job_approval approval, enum job_state state,
			const char *requested_by, const char *by, const char **why)
{
	const char *msg = NULL;

	if (by == NULL || by[0] == '\0')
		msg = "an approval needs the approver's name";
	else if (approval != JOB_APPROVAL_PENDING || jobs_job_is_terminal(state))
		msg = "not awaiting approval";
	else if (requested_by != NULL && strcmp(requested_by, by) == 0)
		msg = "the requester cannot approve their own request";
	if (msg != NULL && why != NULL)
		*why = msg;
	return msg == NULL ? 0 : -1;
}

const char *jobs_approval_name(enum job_approval a)
{
	switch (a) {
	case JOB_APPROVAL_PENDING: return "pending";
	case JOB_APPROVAL_APPROVED: return "approved";
	case JOB_APPROVAL_NONE: break;
	}
	return NULL;
}

int jobs_approval_parse(const char *s, enum job_approval *out)
{
	if (s == NULL)
		*out = JOB_APPROVAL_NONE;
	else if (strcmp(s, "pending") == 0)
		*out = JOB_APPROVAL_PENDING;
	else if (strcmp(s, "approved") == 0)
		*out = JOB_APPROVAL_APPROVED;
	else
		return -1;
	return 0;
}

static int is_alnum_ascii(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * 0 when id is a valid tenant id; else -1 and *why (if why is not NULL) a
 * static message. The length is checked first, then the characters, then
 * the first character: "../x" is told about its '/', "..x" that it must
 * start with a letter or digit.
 */
int jobs_tenant_id_check(const char *id, const char **why)
{
	const char *msg = NULL;
	size_t n = id ? strnlen(id, JOBS_TENANT_ID_MAX + 1) : 0;

	if (n == 0 || n > JOBS_TENANT_ID_MAX) {
		msg = "tenant id must be 1-128 characters";
	} else {
		for (size_t i = 0; i < n && msg == NULL; i++) {
			unsigned char c = (unsigned char)id[i];
			if (!is_alnum_ascii(c) && c != '.' && c != '_' && c != ':' && c != '-')
				msg = "tenant id contains a character outside [A-Za-z0-9._:-]";
		}
		if (msg == NULL && !is_alnum_ascii((unsigned char)id[0]))
			msg = "tenant id must start with a letter or digit";
	}
	if (msg != NULL && why != NULL)
		*why = msg;
	return msg ? -1 : 0;
}

/*
 * UUIDv7 generation state (RFC 9562 section 6.2, method 1): a 12-bit counter
 * in rand_a, seeded at random (top bit clear, leaving room to count) for each
 * new millisecond and incremented within one. When it overflows, or the
 * clock goes back, the timestamp is carried forward from the last id, so ids
 * of one process are strictly increasing whatever the clock does. Random
 * bytes are fetched in batches: a getrandom call per id costs too much for
 * bulk scheduling. The batch is dropped in a child after a fork (a
 * pthread_atfork handler) so that parent and child do not share it: a
 * getpid() check per id was a system call per id (glibc caches no pid),
 * 100,000 of them in a bulk schedule of 100,000 jobs, 0.6 s of its 1 s of
 * CPU on a virtual machine.
 */
#define RAND_BATCH 4096

static struct {
	pthread_mutex_t lock;
	int64_t last_ms;
	unsigned counter;
	unsigned char pool[RAND_BATCH];
	size_t pool_used;
} idgen = { .lock = PTHREAD_MUTEX_INITIALIZER, .last_ms = -1, .pool_used = RAND_BATCH };

static void pool_fill(void)
{
	size_t got = 0;
	ssize_t n;

	/* The kernel's generator: no set-up to pay (OpenSSL's DRBG took a quarter
	 * of a short command's instructions to instantiate for one id). */
	while (got < sizeof(idgen.pool)) {
		n = getrandom(idgen.pool + got, sizeof(idgen.pool) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "tenantdel: no source of random bytes for job ids: %s\n",
				strerror(errno));
			abort();
		}
		got += (size_t)n;
	}
	idgen.pool_used = 0;
}

/* In the child of a fork: its own random bytes, and the lock free (another
 * thread of the parent may have held it). */
static void idgen_forked(void)
{
	idgen.pool_used = sizeof(idgen.pool);
	pthread_mutex_init(&idgen.lock, NULL);
}

static pthread_once_t idgen_once = PTHREAD_ONCE_INIT;

static void idgen_init(void)
{
	(void)pthread_atfork(NULL, NULL, idgen_forked);
}

static void pool_take(unsigned char *out, size_t n)
{
	if (idgen.pool_used + n > sizeof(idgen.pool))
		pool_fill();
	memcpy(out, idgen.pool + idgen.pool_used, n);
	idgen.pool_used += n;
}

/* Picks the timestamp and counter of the next id; lock held. */
static void next_stamp(int64_t now_ms, int64_t *ms, unsigned *counter)
{
	unsigned char r[2];

	if (now_ms < 0)
		now_ms = 0;
	if (now_ms > idgen.last_ms) {
		pool_take(r, 2);
		idgen.last_ms = now_ms;
		idgen.counter = ((unsigned)r[0] << 8 | r[1]) & 0x7ff;
	} else if (++idgen.counter > 0xfff) {
		pool_take(r, 2);
		idgen.last_ms++;
		idgen.counter = ((unsigned)r[0] << 8 | r[1]) & 0x7ff;
	}
	*ms = idgen.last_ms;
	*counter = idgen.counter;
}

/* Writes a new UUIDv7 for now_ms into out, lower case. Can't fail. */
void jobs_id_new(int64_t now_ms, char out[JOBS_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	unsigned counter;
	int64_t ms;
	char *p = out;

	pthread_once(&idgen_once, idgen_init);
	pthread_mutex_lock(&idgen.lock);
	next_stamp(now_ms, &ms, &counter);
	pool_take(b + 8, 8);
	pthread_mutex_unlock(&idgen.lock);

	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)((uint64_t)ms >> (40 - 8 * i));
	b[6] = (unsigned char)(0x70 | (counter >> 8));
	b[7] = (unsigned char)(counter & 0xff);
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[b[i] >> 4];
		*p++ = hex[b[i] & 0xf];
	}
	*p = '\0';
}

/*
 * 0 when s is lower-case UUID text (8-4-4-4-12 hex digits), else -1. The
 * version is not checked: any such id is safe in a URL and a file name.
 */
int jobs_id_check(const char *s)
{
	if (s == NULL || strnlen(s, JOBS_ID_LEN + 1) != JOBS_ID_LEN)
		return -1;
	for (int i = 0; i < JOBS_ID_LEN; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return -1;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return -1;
		}
	}
	return 0;
}
