// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: the bench's background layout, /sys/kernel/debug/kvashim/bench_layout.
 *
 * "bench background=layout" places areas at given offsets in each target
 * arena before the timed part, and frees them after: a real machine's
 * vmalloc space as /proc/vmallocinfo shows it (tests/vmallocinfo-layout.sh
 * makes the text), instead of an empty arena or a random mix.
 *
 * Written: one area per line, "OFFSET SIZE", in bytes (decimal or 0x hex,
 * with an optional K, M, G or T suffix), OFFSET from the arena's base,
 * SIZE the whole reservation as /proc/vmallocinfo gives it, the guard page
 * included.  Both are multiples of the page size, SIZE at least two pages
 * (an area and its guard page); lines are sorted by offset and the areas
 * do not overlap.  Blank lines and lines starting with '#' are skipped.
 * At most KVS_LAYOUT_MAX areas, lines of at most KVS_LAYOUT_LINE - 1 bytes.
 *
 * One open for writing is one load: it replaces the loaded layout when the
 * file is closed, and writing nothing clears it.  The first bad line fails
 * its write() with EINVAL, ERANGE or E2BIG (ENOMEM if the kernel runs out)
 * and every later write() of the same open with the same errno; the load
 * then leaves no layout loaded.  A last line without a newline is read at
 * close, where an error can only show in the file's status.
 *
 * Read: the status, one line: "areas N span BYTES bytes BYTES" for the
 * loaded layout (areas 0: none), or "error: ENAME: reason" after a failed
 * load, as the control file replies.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "arena.h"
#include "control.h"
#include "layout.h"
#include "lines.h"

/*
 * The loaded layout and the status of the last load.  A bench takes a copy
 * (kvs_layout_copy()), so that a load during a run changes nothing in it.
 */
static DEFINE_MUTEX(kvs_layout_lock);
static struct kvs_layout *kvs_layout;	/* under kvs_layout_lock */
static char kvs_layout_err[sizeof(((struct kvs_err *)0)->msg) + 32];

/**
 * struct kvs_lw - one open of bench_layout for writing: a load.
 * @e:       areas parsed so far.
 * @n:       how many.
 * @cap:     room in @e.
 * @end:     end of the last area's reservation (the next offset's floor).
 * @bytes:   sum of their sizes.
 * @lr:      the text, line by line; its first bad line's errno and reason.
 */
struct kvs_lw {
	struct kvs_lent *e;
	unsigned long n;
	unsigned long cap;
	unsigned long end;
	unsigned long bytes;
	struct kvs_lines lr;
};

/* Room for one more area: doubling, up to KVS_LAYOUT_MAX. */
static int kvs_lw_grow(struct kvs_lw *lw)
{
	unsigned long cap = lw->cap ? 2 * lw->cap : 256;
	struct kvs_lent *e;

	if (lw->n == KVS_LAYOUT_MAX)
		return kvs_fail(&lw->lr.why, -E2BIG,
				"line %lu: more than %d areas", lw->lr.lineno,
				KVS_LAYOUT_MAX);
	if (lw->n < lw->cap)
		return 0;
	cap = min_t(unsigned long, cap, KVS_LAYOUT_MAX);
	e = kvmalloc_array(cap, sizeof(*e), GFP_KERNEL);
	if (!e)
		return kvs_fail(&lw->lr.why, -ENOMEM, "no memory for %lu areas",
				cap);
	if (lw->n)
		memcpy(e, lw->e, lw->n * sizeof(*e));
	kvfree(lw->e);
	lw->e = e;
	lw->cap = cap;
	return 0;
}

static int kvs_lw_number(struct kvs_lw *lw, const char *what, const char *s,
			 unsigned long *v)
{
	int err = kvs_parse_size(s, v);

	if (err == -ERANGE)
		return kvs_fail(&lw->lr.why, err, "line %lu: %s \"%s\" is out of range",
				lw->lr.lineno, what, s);
	if (err)
		return kvs_fail(&lw->lr.why, -EINVAL,
				"line %lu: %s \"%s\" is not a number", lw->lr.lineno,
				what, s);
	if (!PAGE_ALIGNED(*v))
		return kvs_fail(&lw->lr.why, -EINVAL,
				"line %lu: %s %#lx is not a multiple of the page size",
				lw->lr.lineno, what, *v);
	return 0;
}

/* One complete line, NUL-terminated, without its newline. */
static int kvs_lw_line(struct kvs_lines *lr)
{
	struct kvs_lw *lw = container_of(lr, struct kvs_lw, lr);
	char *line = strim(lw->lr.line), *off_s, *size_s;
	unsigned long off, size, end;
	int err;

	if (!*line || *line == '#')
		return 0;
	off_s = strsep(&line, " \t");
	line = line ? skip_spaces(line) : NULL;
	size_s = line ? strsep(&line, " \t") : NULL;
	if (!size_s || line)
		return kvs_fail(&lw->lr.why, -EINVAL,
				"line %lu: want \"OFFSET SIZE\", two numbers",
				lw->lr.lineno);
	err = kvs_lw_number(lw, "offset", off_s, &off);
	if (!err)
		err = kvs_lw_number(lw, "size", size_s, &size);
	if (err)
		return err;
	if (size < 2 * PAGE_SIZE)
		return kvs_fail(&lw->lr.why, -EINVAL,
				"line %lu: size %#lx is below two pages (an area and its guard page)",
				lw->lr.lineno, size);
	if (check_add_overflow(off, size, &end))
		return kvs_fail(&lw->lr.why, -ERANGE,
				"line %lu: offset %#lx + size %#lx overflows",
				lw->lr.lineno, off, size);
	if (off < lw->end)
		return kvs_fail(&lw->lr.why, -EINVAL,
				"line %lu: offset %#lx is below the previous area's end %#lx (unsorted or overlapping)",
				lw->lr.lineno, off, lw->end);
	err = kvs_lw_grow(lw);
	if (err)
		return err;
	lw->e[lw->n].off = off;
	lw->e[lw->n].size = size;
	lw->n++;
	lw->end = end;
	lw->bytes += size;
	return 0;
}

static int kvs_layout_open(struct inode *inode, struct file *file)
{
	struct kvs_lw *lw;

	if (!(file->f_mode & FMODE_WRITE))
		return 0;
	lw = kzalloc(sizeof(*lw), GFP_KERNEL);
	if (!lw)
		return -ENOMEM;
	kvs_lines_init(&lw->lr, kvs_lw_line, "the layout", KVS_LAYOUT_LINE);
	file->private_data = lw;
	return 0;
}

static ssize_t kvs_layout_write(struct file *file, const char __user *ubuf,
				size_t count, loff_t *ppos)
{
	struct kvs_lw *lw = file->private_data;

	return kvs_lines_write(&lw->lr, ubuf, count, ppos);
}

/* Make @lw's areas the loaded layout, or record why it failed. */
static void kvs_layout_commit(struct kvs_lw *lw)
{
	struct kvs_layout *l = NULL;
	char num[16];

	if (!kvs_lines_end(&lw->lr) && lw->n) {
		l = kvmalloc(struct_size(l, e, lw->n), GFP_KERNEL);
		if (!l) {
			lw->lr.err = kvs_fail(&lw->lr.why, -ENOMEM,
					      "no memory for %lu areas", lw->n);
		} else {
			l->n = lw->n;
			l->span = lw->end;
			l->bytes = lw->bytes;
			l->gap_cap = 0;
			memcpy(l->e, lw->e, lw->n * sizeof(*l->e));
		}
	}
	mutex_lock(&kvs_layout_lock);
	kvfree(kvs_layout);
	kvs_layout = l;
	if (lw->lr.err)
		snprintf(kvs_layout_err, sizeof(kvs_layout_err),
			 "error: %s: %s", kvs_errname(lw->lr.err, num, sizeof(num)),
			 lw->lr.why.msg);
	else
		kvs_layout_err[0] = '\0';
	mutex_unlock(&kvs_layout_lock);
}

static int kvs_layout_release(struct inode *inode, struct file *file)
{
	struct kvs_lw *lw = file->private_data;

	if (!lw)
		return 0;
	kvs_layout_commit(lw);
	kvfree(lw->e);
	kfree(lw);
	return 0;
}

static ssize_t kvs_layout_read(struct file *file, char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	char buf[sizeof(kvs_layout_err) + 1];
	int len;

	mutex_lock(&kvs_layout_lock);
	if (kvs_layout_err[0])
		len = scnprintf(buf, sizeof(buf), "%s\n", kvs_layout_err);
	else if (kvs_layout)
		len = scnprintf(buf, sizeof(buf), "areas %lu span %lu bytes %lu\n",
				kvs_layout->n, kvs_layout->span,
				kvs_layout->bytes);
	else
		len = scnprintf(buf, sizeof(buf), "areas 0\n");
	mutex_unlock(&kvs_layout_lock);
	return simple_read_from_buffer(ubuf, count, ppos, buf, len);
}

static const struct file_operations kvs_layout_fops = {
	.owner		= THIS_MODULE,
	.open		= kvs_layout_open,
	.release	= kvs_layout_release,
	.read		= kvs_layout_read,
	.write		= kvs_layout_write,
	.llseek		= default_llseek,
};

/**
 * kvs_layout_copy() - a private copy of the loaded layout, for a bench.
 * @e: the reason, on failure.
 *
 * Return: the copy, to be kvfree()d, or ERR_PTR(-ENOENT) when none is
 * loaded, ERR_PTR(-ENOMEM).
 */
struct kvs_layout *kvs_layout_copy(struct kvs_err *e)
{
	struct kvs_layout *l = NULL;
	size_t len;

	mutex_lock(&kvs_layout_lock);
	if (kvs_layout) {
		len = struct_size(kvs_layout, e, kvs_layout->n);
		l = kvmalloc(len, GFP_KERNEL);
		if (l)
			memcpy(l, kvs_layout, len);
		else
			l = ERR_PTR(kvs_fail(e, -ENOMEM,
					     "no memory for the layout"));
	}
	mutex_unlock(&kvs_layout_lock);
	if (!l)
		return ERR_PTR(kvs_fail(e, -ENOENT,
					"no layout loaded: write one to bench_layout"));
	return l;
}

/* Bytes of the layout's gaps with every one narrowed to at most @cap. */
static unsigned long kvs_layout_gaps(const struct kvs_layout *l,
				     unsigned long cap)
{
	unsigned long i, prev = 0, sum = 0;

	for (i = 0; i < l->n; i++) {
		sum += min(l->e[i].off - prev, cap);
		prev = l->e[i].off + l->e[i].size;
	}
	return sum;
}

/**
 * kvs_layout_fit() - make a layout fit an arena of @size bytes.
 * @l:    the layout, changed in place.
 * @size: the arena's size.
 * @e:    the reason, on failure.
 *
 * A layout that fits stays as it is.  One that spans more keeps its areas'
 * sizes and order and narrows its widest gaps: every gap wider than a cap
 * shrinks to the cap, the largest whole number of pages that makes the
 * layout fit, and the narrower gaps stay exact.  A machine's vmalloc space
 * is a dense cluster of small areas and holes at its start and a few areas
 * terabytes away (the per-CPU chunks at its end); the cluster, where first
 * fit finds its holes, is kept exact.  l->gap_cap records the cap.
 *
 * Return: 0, or -ERANGE when the areas alone take more than @size.
 */
int kvs_layout_fit(struct kvs_layout *l, unsigned long size,
		   struct kvs_err *e)
{
	unsigned long lo = 0, hi = 0, mid, cap, i, prev = 0, pos = 0, gap;

	l->gap_cap = 0;
	if (l->span <= size)
		return 0;
	if (l->bytes > size)
		return kvs_fail(e, -ERANGE,
				"the layout's %lu areas take %lu bytes, more than the %lu-byte arena",
				l->n, l->bytes, size);
	/* The largest cap, in pages, under which the layout fits. */
	for (i = 0; i < l->n; i++) {
		hi = max(hi, (l->e[i].off - prev) >> PAGE_SHIFT);
		prev = l->e[i].off + l->e[i].size;
	}
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (kvs_layout_gaps(l, mid << PAGE_SHIFT) <= size - l->bytes)
			lo = mid;
		else
			hi = mid - 1;
	}
	cap = lo << PAGE_SHIFT;
	prev = 0;
	for (i = 0; i < l->n; i++) {
		gap = l->e[i].off - prev;
		prev = l->e[i].off + l->e[i].size;
		pos += min(gap, cap);
		l->e[i].off = pos;
		pos += l->e[i].size;
	}
	l->span = pos;
	l->gap_cap = cap;
	pr_info("bench: layout of %lu areas spans more than the %lu-byte arena: gaps wider than %lu bytes narrowed to it\n",
		l->n, size, cap);
	return 0;
}

/**
 * kvs_layout_debugfs() - create bench_layout in @dir.
 * @dir: kvashim's debugfs directory.
 */
void kvs_layout_debugfs(struct dentry *dir)
{
	debugfs_create_file("bench_layout", 0600, dir, NULL, &kvs_layout_fops);
}

/**
 * kvs_layout_exit() - free the loaded layout at unload.
 */
void kvs_layout_exit(void)
{
	kvfree(kvs_layout);
	kvs_layout = NULL;
	kvs_layout_err[0] = '\0';
}
