/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: state of one open control file.
 */
#ifndef KVASHIM_CONTROL_H
#define KVASHIM_CONTROL_H

#include <linux/mutex.h>

#include "arena.h"

/* Longest command accepted by one write, newline included. */
#define KVS_CMD_MAX	256

/**
 * struct kvs_ctl - one open file descriptor of the control file.
 * @arena: the arena it drives.
 * @lock:  serialises commands and read-back on this descriptor; held
 *         for a whole command, minutes for a bench, so never waited for
 *         uninterruptibly (debugfs.c).
 * @err:   the reason of the last failure.
 * @len:   bytes of @out.
 * @out:   the last command's result, or "error: ENAME: reason".
 */
struct kvs_ctl {
	struct kvs_arena *arena;
	struct mutex lock;	/* see @lock above */
	struct kvs_err err;
	size_t len;
	char out[KVS_CMD_MAX];
};

__printf(2, 3) int kvs_ctl_out(struct kvs_ctl *ctl, const char *fmt, ...);
int kvs_ctl_exec(struct kvs_ctl *ctl, char *line);
void kvs_ctl_error(struct kvs_ctl *ctl, int err);
int kvs_parse_size(const char *s, unsigned long *out);
const char *kvs_errname(int err, char *buf, size_t len);

#endif /* KVASHIM_CONTROL_H */
