/*
 * lease.c - lease owner identity and liveness.
 */
#include "scheduler/lease.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

/* The 22nd field of /proc/PID/stat (starttime); 0 when unreadable. *state
 * (may be NULL) receives field 3 ('Z': a zombie, dead but not reaped). */
static unsigned long long proc_stat(pid_t pid, char *state)
{
	char path[64];
	char *text, *p;
	unsigned long long start = 0;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	text = util_read_file(path, NULL);
	if (text == NULL)
		return 0;
	/* The command name may hold spaces and parentheses: skip to the last ')'. */
	p = strrchr(text, ')');
	if (p != NULL && state != NULL && p[1] == ' ')
		*state = p[2];
	if (p != NULL) {
		int field = 2;
		for (p++; *p && field < 22; p++)
			if (*p == ' ')
				field++;
		if (field == 22)
			start = strtoull(p, NULL, 10);
	}
	free(text);
	return start;
}

static void read_boot_id(char *out, size_t len)
{
	char *text = util_read_file("/proc/sys/kernel/random/boot_id", NULL);

	snprintf(out, len, "%s", text ? text : "?");
	out[strcspn(out, "\n/")] = '\0';
	free(text);
}

void lease_owner_self(struct lease_owner *o, const char *node)
{
	memset(o, 0, sizeof *o);
	if (node != NULL && node[0] != '\0')
		snprintf(o->host, sizeof o->host, "%s", node);
	else if (gethostname(o->host, sizeof o->host - 1) != 0 || o->host[0] == '\0')
		snprintf(o->host, sizeof o->host, "?");
	o->host[strcspn(o->host, "/")] = '\0';
	read_boot_id(o->boot_id, sizeof o->boot_id);
	o->pid = getpid();
	o->start = proc_stat(o->pid, NULL);
	snprintf(o->id, sizeof o->id, "%s/%s/%ld/%llu", o->host, o->boot_id, (long)o->pid,
		 o->start);
}

enum lease_liveness lease_owner_liveness(const struct lease_owner *self, const char *owner)
{
	char host[256], boot[64], state = '?';
	long pid;
	unsigned long long start, now_start;

	if (owner == NULL)
		return LEASE_OWNER_DEAD;
	if (sscanf(owner, "%255[^/]/%63[^/]/%ld/%llu", host, boot, &pid, &start) != 4 ||
	    strcmp(host, self->host) != 0)
		return LEASE_OWNER_UNKNOWN;
	if (strcmp(boot, self->boot_id) != 0)
		return LEASE_OWNER_DEAD; /* the host rebooted since: nothing of it survives */
	if (pid <= 0)
		return LEASE_OWNER_UNKNOWN;
	/* EPERM: a process of another user has that pid; /proc tells which */
	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return LEASE_OWNER_DEAD;
	now_start = proc_stat((pid_t)pid, &state);
	if (state == 'Z' || state == 'X')
		return LEASE_OWNER_DEAD; /* a zombie waiting to be reaped */
	if (start != 0 && now_start != 0 && now_start != start)
		return LEASE_OWNER_DEAD;
	return LEASE_OWNER_ALIVE;
}

int lease_owner_dead(const struct lease_owner *self, const char *owner)
{
	return lease_owner_liveness(self, owner) == LEASE_OWNER_DEAD;
}
