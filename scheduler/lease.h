/*
 * lease.h - who holds a lease: this process's identity (host, boot id, pid
 * and the pid's start time) and whether another holder is known dead.
 */
#ifndef TENANTDEL_LEASE_H
#define TENANTDEL_LEASE_H

#include <sys/types.h>

#define LEASE_OWNER_MAX 400

struct lease_owner {
	char host[256];
	char boot_id[64];
	pid_t pid;
	unsigned long long start; /* the process's start time in clock ticks since boot */
	char id[LEASE_OWNER_MAX]; /* "host/boot_id/pid/start", as stored in leases */
};

/* Fills o with this process's identity. Can't fail (unknown parts are "?"). */
void lease_owner_self(struct lease_owner *o);

/*
 * 1 when owner (an id as lease_owner_self makes) is known dead: same host
 * and a different boot id, or the same boot and no process with that pid
 * (or one with another start time: the pid was reused). 0 when it may be
 * alive, or lives on another host (its lease must run out).
 */
int lease_owner_dead(const struct lease_owner *self, const char *owner);

#endif
