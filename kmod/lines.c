// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: the line reader of the files that are loaded by writing them
 * whole (bench_layout, replay).  A write may end anywhere in a line, so
 * the current line is kept across writes; a line that starts with '#'
 * (after blanks) is a comment; the first bad line stops the load and its
 * reason is kept for the file's owner to publish at close.
 *
 * Locking: none of its own.  A reader belongs to one open file
 * description, whose writes the VFS serialises (f_pos_lock: debugfs
 * files are regular files).
 */
#include <linux/ctype.h>
#include <linux/minmax.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

#include "lines.h"

void kvs_lines_init(struct kvs_lines *lr, int (*line_fn)(struct kvs_lines *),
		    const char *what, unsigned int max)
{
	lr->line_fn = line_fn;
	lr->what = what;
	lr->max = min_t(unsigned int, max, KVS_LINE_MAX);
}

static bool kvs_blank(const char *s, unsigned int len)
{
	while (len--)
		if (!isspace(*s++))
			return false;
	return true;
}

/* The current line is complete: hand it over unless it is a comment. */
static int kvs_lines_take(struct kvs_lines *lr)
{
	int err;

	lr->lineno++;
	lr->line[lr->len] = '\0';
	err = lr->comment ? 0 : lr->line_fn(lr);
	lr->len = 0;
	lr->comment = false;
	return err;
}

/* Feed @len bytes of text; stops at the first error. */
static int kvs_lines_feed(struct kvs_lines *lr, const char *buf, size_t len)
{
	size_t i;
	int err;

	for (i = 0; i < len; i++) {
		char c = buf[i];

		if (!c)
			return kvs_fail(&lr->why, -EINVAL,
					"line %lu contains a NUL byte",
					lr->lineno + 1);
		if (c == '\n') {
			err = kvs_lines_take(lr);
			if (err)
				return err;
			continue;
		}
		if (lr->comment)
			continue;
		if (c == '#' && kvs_blank(lr->line, lr->len)) {
			lr->comment = true;
			continue;
		}
		if (lr->len == lr->max - 1)
			return kvs_fail(&lr->why, -EINVAL,
					"line %lu is longer than %u bytes",
					lr->lineno + 1, lr->max - 1);
		lr->line[lr->len++] = c;
	}
	return 0;
}

/**
 * kvs_lines_write() - a file's write(): feed the user's bytes.
 * @lr:    the open file's reader.
 * @ubuf:  the bytes.
 * @count: how many.
 * @ppos:  the file position, advanced by @count.
 *
 * Context: may sleep; killable between 256-byte pieces.
 * Return: @count, or the sticky errno of the first bad line.
 */
ssize_t kvs_lines_write(struct kvs_lines *lr, const char __user *ubuf,
			size_t count, loff_t *ppos)
{
	char buf[256];
	size_t done = 0, n;

	if (lr->err)
		return lr->err;
	while (done < count) {
		n = min(count - done, sizeof(buf));
		if (copy_from_user(buf, ubuf + done, n)) {
			lr->err = kvs_fail(&lr->why, -EFAULT,
					   "cannot read %s", lr->what);
			return lr->err;
		}
		lr->err = kvs_lines_feed(lr, buf, n);
		if (lr->err)
			return lr->err;
		done += n;
		if (fatal_signal_pending(current)) {
			lr->err = kvs_fail(&lr->why, -EINTR, "interrupted");
			return lr->err;
		}
	}
	*ppos += count;
	return count;
}

/* At close: the last line, if it had no newline.  Return: lr->err. */
int kvs_lines_end(struct kvs_lines *lr)
{
	if (!lr->err && lr->len && !lr->comment)
		lr->err = kvs_lines_take(lr);
	return lr->err;
}
