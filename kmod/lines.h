/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvashim: text written to a debugfs file, cut into lines (lines.c).
 */
#ifndef KVASHIM_LINES_H
#define KVASHIM_LINES_H

#include <linux/fs.h>
#include <linux/types.h>

#include "arena.h"

/* The longest line any reader takes, its newline excluded, plus one. */
#define KVS_LINE_MAX		256

/**
 * struct kvs_lines - one open of a file that is loaded line by line.
 * @line_fn: called with @line NUL-terminated and @lineno its number, for
 *           each line that is not a comment; returns 0 or an errno,
 *           recorded with kvs_fail(&@why, ...).
 * @what:    what the file holds ("the layout"), for the reasons.
 * @max:     the longest line, plus one (at most KVS_LINE_MAX).
 * @lineno:  lines seen, the current one included.
 * @len:     bytes in @line.
 * @comment: the current line is a comment: skipped to its newline.
 * @err:     0, or the errno of the first bad line (sticky).
 * @why:     its reason.
 * @line:    the current line, up to its newline.
 */
struct kvs_lines {
	int (*line_fn)(struct kvs_lines *lr);
	const char *what;
	unsigned int max;
	unsigned long lineno;
	unsigned int len;
	bool comment;
	int err;
	struct kvs_err why;
	char line[KVS_LINE_MAX];
};

void kvs_lines_init(struct kvs_lines *lr, int (*line_fn)(struct kvs_lines *),
		    const char *what, unsigned int max);
ssize_t kvs_lines_write(struct kvs_lines *lr, const char __user *ubuf,
			size_t count, loff_t *ppos);
int kvs_lines_end(struct kvs_lines *lr);

#endif /* KVASHIM_LINES_H */
