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

/*
 * Fills o with this process's identity; its host is node (a shared
 * store's [store] node: two schedulers with different nodes are two hosts
 * to each other, whatever machine they run on), or the host name when node
 * is NULL or empty. Can't fail (unknown parts are "?").
 */
void lease_owner_self(struct lease_owner *o, const char *node);

enum lease_liveness {
	LEASE_OWNER_UNKNOWN, /* another host, or an id it cannot read */
	LEASE_OWNER_DEAD,
	LEASE_OWNER_ALIVE,
};

/*
 * What is known of owner (an id as lease_owner_self makes), from this
 * host: DEAD when it is this host and another boot, or this boot and no
 * process with that pid, a zombie, or one with another start time (the pid
 * was reused); ALIVE when that very process is running here (its start
 * time matches, or cannot be read: then a live pid is taken as alive, the
 * safe side); UNKNOWN when it lives on another host. Can't fail.
 */
enum lease_liveness lease_owner_liveness(const struct lease_owner *self, const char *owner);

/* 1 when lease_owner_liveness says DEAD, else 0. */
int lease_owner_dead(const struct lease_owner *self, const char *owner);

#endif
