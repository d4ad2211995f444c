// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: replay of a real kernel's vmalloc traffic,
 * /sys/kernel/debug/kvashim/replay and the "replay" command.
 *
 * A trace (docs/REPLAY.md; debugfs-scripts/kvashim-record makes one from
 * the running kernel) is a header, the windows the kernel allocated in
 * and one operation per line:
 *
 *   kvs-replay 1 [KEY=VALUE...]
 *   window ID SIZE
 *   alloc ID SIZE ALIGN WINDOW [CPU TIME CALLER]
 *   free ID
 *   end OPS
 *
 * ID names an area from its alloc to its free (an id may be used again
 * after its free); SIZE is the reservation alloc_vmap_area() was asked
 * for, its guard page included; ALIGN a power of two; WINDOW a window's
 * ID.  A window's SIZE is its vend - vstart, taken in whole pages.  The
 * windows come before the operations, numbered from 0; "end" closes the
 * trace with its number of operations, so that a truncated trace is
 * refused.  Numbers are decimal or 0x hex, SIZE, ALIGN and a
 * window's SIZE with an optional K, M, G or T suffix.  Blank lines and
 * lines starting with '#' are skipped; CPU, TIME and CALLER are not read.
 *
 * Written: one open for writing is one load, checked line by line (an
 * unknown op, a free of an id that is not live, an alloc of one that is,
 * a size that does not fit its window in the arena, a missing field...):
 * the first bad line fails its write() with EINVAL, ERANGE or E2BIG
 * (ENOMEM if the kernel runs out), with its line number in the reason,
 * and the load leaves no trace loaded.  The checks at the end (the end
 * line, its count) happen at close, where an error shows only in the
 * file's status.  Writing nothing clears the loaded trace.
 *
 * "replay [target=T,..]" replays the loaded trace on one thread, on each
 * target in turn (every backend, and maple with the per-CPU overlay,
 * "maple+pcpu"), each in a fresh private arena over the live arena's
 * range, with no guard page of its own: the trace's sizes include the
 * kernel's.  The widest window is the whole arena (unconstrained, as the
 * kernel's vmalloc space is: the overlay may serve it); each other window
 * is a range of its recorded size (at most a quarter of the arena, shared
 * among them) at the arena's top, one below the other.  An alloc that
 * fails is counted and its free skipped.
 *
 * Read: the status, "ops N allocs N frees N live N windows N ids N" for
 * the loaded trace (ops 0: none), or "error: ENAME: reason" after a failed
 * load; then one line per target of the last replay: operations, failures,
 * the mean ns per operation (instructions under QEMU -icount), per alloc
 * and per free, the areas live at the end and the largest free hole then.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "arena.h"
#include "control.h"
#include "lines.h"
#include "replay.h"

enum { KVS_ROP_ALLOC, KVS_ROP_FREE };

/**
 * struct kvs_rop - one operation of a trace.
 * @size:  alloc: bytes of the reservation.
 * @id:    the area's id.
 * @op:    KVS_ROP_ALLOC or KVS_ROP_FREE.
 * @win:   alloc: the window.
 * @shift: alloc: log2 of the alignment.
 */
struct kvs_rop {
	unsigned long size;
	u32 id;
	u8 op;
	u8 win;
	u8 shift;
};

/**
 * struct kvs_trace - a loaded trace; immutable, shared by reference.
 * @ref:    a replay holds one while it runs.
 * @nr:     operations.
 * @nr_ids: one more than the largest id.
 * @allocs: alloc operations.
 * @frees:  free operations.
 * @live:   ids live at the end.
 * @nr_win: windows.
 * @w_off:  each window's offset from the arena's base; with @w_len 0, the
 *          whole arena.
 * @w_len:  each window's bytes in the arena; 0: the whole arena.
 * @ops:    the operations, in order.
 */
struct kvs_trace {
	struct kref ref;
	unsigned long nr;
	unsigned long nr_ids;
	unsigned long allocs;
	unsigned long frees;
	unsigned long live;
	unsigned int nr_win;
	unsigned long w_off[KVS_REPLAY_WINDOWS];
	unsigned long w_len[KVS_REPLAY_WINDOWS];
	struct kvs_rop ops[];
};

/* The targets: every backend, then maple with the overlay. */
#define KVS_RT_PCPU	KVS_NR_BACKENDS
#define KVS_NR_RTARGETS	(KVS_NR_BACKENDS + 1)

static const char *kvs_rtarget_name(int t)
{
	return t == KVS_RT_PCPU ? "maple+pcpu" : kvs_backends[t]->name;
}

/**
 * struct kvs_rres - what one target's replay measured.
 * @target:   its index (kvs_rtarget_name()).
 * @ops:      operations replayed (skipped frees included).
 * @fails:    allocs and frees that failed.
 * @skipped:  frees of areas whose alloc had failed.
 * @alloc_ns: time in the allocs, summed.
 * @free_ns:  time in the frees, summed.
 * @allocs:   allocs attempted.
 * @frees:    frees attempted.
 * @live:     areas live at the end.
 * @hole:     the largest free hole at the end, bytes.
 * @bad:      "check" failed at the end.
 */
struct kvs_rres {
	int target;
	unsigned long ops;
	unsigned long fails;
	unsigned long skipped;
	u64 alloc_ns;
	u64 free_ns;
	unsigned long allocs;
	unsigned long frees;
	unsigned long live;
	unsigned long hole;
	bool bad;
};

/*
 * kvs_replay_lock guards the loaded trace, the status of the last load and
 * the results of the last replay; held only briefly.  kvs_replay_run_lock
 * lets one replay run at a time, held for all of it.
 */
static DEFINE_MUTEX(kvs_replay_lock);
static DEFINE_MUTEX(kvs_replay_run_lock);
static struct kvs_trace *kvs_trace;		/* under kvs_replay_lock */
static char kvs_trace_err[sizeof(((struct kvs_err *)0)->msg) + 32];
static struct kvs_rres kvs_rres[KVS_NR_RTARGETS];	/* under the lock */
static unsigned int kvs_nr_rres;

static void kvs_trace_release(struct kref *ref)
{
	kvfree(container_of(ref, struct kvs_trace, ref));
}

static void kvs_trace_put(struct kvs_trace *t)
{
	if (t)
		kref_put(&t->ref, kvs_trace_release);
}

/* === Loading === */

/**
 * struct kvs_rw - one open of replay for writing: a load.
 * @arena:   the live arena, whose size the windows are fitted to.
 * @ops:     operations parsed so far.
 * @nr:      how many.
 * @cap:     room in @ops.
 * @live:    ids live now, a bit each.
 * @nr_live: how many.
 * @nr_ids:  one more than the largest id seen.
 * @allocs:  alloc operations.
 * @frees:   free operations.
 * @nr_win:  windows declared.
 * @w_size:  their recorded sizes.
 * @w_off:   their offsets in the arena (kvs_rw_fit()).
 * @w_len:   their lengths in the arena; 0: the whole arena.
 * @header:  the header line was read.
 * @fitted:  the windows were fitted (at the first operation).
 * @ended:   the end line was read.
 * @lr:      the text, line by line; its first bad line's errno and reason.
 */
struct kvs_rw {
	struct kvs_arena *arena;
	struct kvs_rop *ops;
	unsigned long nr;
	unsigned long cap;
	unsigned long *live;
	unsigned long nr_live;
	unsigned long nr_ids;
	unsigned long allocs;
	unsigned long frees;
	unsigned int nr_win;
	unsigned long w_size[KVS_REPLAY_WINDOWS];
	unsigned long w_off[KVS_REPLAY_WINDOWS];
	unsigned long w_len[KVS_REPLAY_WINDOWS];
	bool header;
	bool fitted;
	bool ended;
	struct kvs_lines lr;
};

/* Room for one more operation: doubling, up to KVS_REPLAY_MAX_OPS. */
static int kvs_rw_grow(struct kvs_rw *rw)
{
	unsigned long cap = rw->cap ? 2 * rw->cap : 1024;
	struct kvs_rop *ops;

	if (rw->nr == KVS_REPLAY_MAX_OPS)
		return kvs_fail(&rw->lr.why, -E2BIG,
				"line %lu: more than %lu operations", rw->lr.lineno,
				KVS_REPLAY_MAX_OPS);
	if (rw->nr < rw->cap)
		return 0;
	cap = min(cap, KVS_REPLAY_MAX_OPS);
	ops = kvmalloc_array(cap, sizeof(*ops), GFP_KERNEL);
	if (!ops)
		return kvs_fail(&rw->lr.why, -ENOMEM,
				"no memory for %lu operations", cap);
	if (rw->nr)
		memcpy(ops, rw->ops, rw->nr * sizeof(*ops));
	kvfree(rw->ops);
	rw->ops = ops;
	rw->cap = cap;
	return 0;
}

/* A number: with @size, kvs_parse_size()'s suffixes too. */
static int kvs_rw_number(struct kvs_rw *rw, const char *what, const char *s,
			 bool size, unsigned long *v)
{
	int err = size ? kvs_parse_size(s, v) : kstrtoul(s, 0, v);

	if (err == -ERANGE)
		return kvs_fail(&rw->lr.why, err,
				"line %lu: %s \"%s\" is out of range",
				rw->lr.lineno, what, s);
	if (err)
		return kvs_fail(&rw->lr.why, -EINVAL,
				"line %lu: %s \"%s\" is not a number",
				rw->lr.lineno, what, s);
	return 0;
}

/*
 * Place the windows in the arena, once all are declared: the widest is
 * the whole arena, the others ranges of their size (together at most a
 * quarter of the arena) below its top, one under the other.
 */
static void kvs_rw_fit(struct kvs_rw *rw)
{
	unsigned long size = rw->arena->size, top = size, cap = 0, len;
	unsigned int i, wide = 0;

	rw->fitted = true;
	for (i = 1; i < rw->nr_win; i++)
		if (rw->w_size[i] > rw->w_size[wide])
			wide = i;
	if (rw->nr_win > 1)
		cap = PAGE_ALIGN_DOWN(size / 4 / (rw->nr_win - 1));
	for (i = 0; i < rw->nr_win; i++) {
		if (i == wide)
			continue;
		len = min(rw->w_size[i], cap);
		top -= len;
		rw->w_off[i] = top;
		rw->w_len[i] = len;
	}
}

/* The bytes window @w has in the arena. */
static unsigned long kvs_rw_room(struct kvs_rw *rw, unsigned int w)
{
	return rw->w_len[w] ? rw->w_len[w] : rw->arena->size;
}

static int kvs_rw_window(struct kvs_rw *rw, int argc, char **argv)
{
	unsigned long id, size;
	int err;

	if (argc != 3)
		return kvs_fail(&rw->lr.why, -EINVAL,
				"line %lu: want \"window ID SIZE\"", rw->lr.lineno);
	if (rw->fitted)
		return kvs_fail(&rw->lr.why, -EINVAL,
				"line %lu: a window after the first operation",
				rw->lr.lineno);
	err = kvs_rw_number(rw, "window id", argv[1], false, &id);
	if (!err)
		err = kvs_rw_number(rw, "window size", argv[2], true, &size);
	if (err)
		return err;
	if (id != rw->nr_win)
		return kvs_fail(&rw->lr.why, -EINVAL,
				"line %lu: window %lu where window %u comes next",
				rw->lr.lineno, id, rw->nr_win);
	if (rw->nr_win == KVS_REPLAY_WINDOWS)
		return kvs_fail(&rw->lr.why, -E2BIG,
				"line %lu: more than %d windows", rw->lr.lineno,
				KVS_REPLAY_WINDOWS);
	/* x86's VMALLOC_END is inclusive: vend - vstart may end a byte short. */
	if (size < PAGE_SIZE)
		return kvs_fail(&rw->lr.why, -EINVAL,
				"line %lu: window size %#lx is below a page",
				rw->lr.lineno, size);
	rw->w_size[rw->nr_win++] = PAGE_ALIGN_DOWN(size);
	return 0;
}

static int kvs_rw_alloc(struct kvs_rw *rw, unsigned long id, int argc,
			char **argv)
{
	unsigned long size, align, win;
	struct kvs_rop *op;
	int err;

	/* CPU, TIME and CALLER may follow; they are not replayed. */
	if (argc < 5 || argc > 8)
		return kvs_fail(&rw->lr.why, -EINVAL,
				"line %lu: want \"alloc ID SIZE ALIGN WINDOW [CPU TIME CALLER]\"",
				rw->lr.lineno);
	err = kvs_rw_number(rw, "size", argv[2], true, &size);
	if (!err)
		err = kvs_rw_number(rw, "align", argv[3], true, &align);
	if (!err)
		err = kvs_rw_number(rw, "window", argv[4], false, &win);
	if (err)
		return err;
	if (!size || !PAGE_ALIGNED(size))
		return kvs_fail(&rw->lr.why, -EINVAL,
				"line %lu: size %#lx is not a positive multiple of the page size",
				rw->lr.lineno, size);
	if (!is_power_of_2(align))
		return kvs_fail(&rw->lr.why, -EINVAL,
				"line %lu: align %#lx is not a power of two",
				rw->lr.lineno, align);
	if (win >= rw->nr_win)
		return kvs_fail(&rw->lr.why, -EINVAL,
				"line %lu: window %lu is not declared (%u windows)",
				rw->lr.lineno, win, rw->nr_win);
	if (size > kvs_rw_room(rw, win) || align > rw->arena->size)
		return kvs_fail(&rw->lr.why, -ERANGE,
				"line %lu: size %#lx align %#lx do not fit window %lu's %lu bytes of the arena",
				rw->lr.lineno, size, align, win,
				kvs_rw_room(rw, win));
	if (test_bit(id, rw->live))
		return kvs_fail(&rw->lr.why, -EINVAL,
				"line %lu: alloc of id %lu, which is live",
				rw->lr.lineno, id);
	err = kvs_rw_grow(rw);
	if (err)
		return err;
	op = &rw->ops[rw->nr++];
	op->op = KVS_ROP_ALLOC;
	op->id = id;
	op->size = size;
	op->win = win;
	op->shift = ilog2(align);
	__set_bit(id, rw->live);
	rw->nr_live++;
	rw->nr_ids = max(rw->nr_ids, id + 1);
	rw->allocs++;
	return 0;
}

static int kvs_rw_free(struct kvs_rw *rw, unsigned long id, int argc)
{
	struct kvs_rop *op;
	int err;

	if (argc != 2)
		return kvs_fail(&rw->lr.why, -EINVAL, "line %lu: want \"free ID\"",
				rw->lr.lineno);
	if (!test_bit(id, rw->live))
		return kvs_fail(&rw->lr.why, -EINVAL,
				"line %lu: free of id %lu, which is not live",
				rw->lr.lineno, id);
	err = kvs_rw_grow(rw);
	if (err)
		return err;
	op = &rw->ops[rw->nr++];
	op->op = KVS_ROP_FREE;
	op->id = id;
	__clear_bit(id, rw->live);
	rw->nr_live--;
	rw->frees++;
	return 0;
}

/* An "alloc" or "free" line. */
static int kvs_rw_op(struct kvs_rw *rw, int argc, char **argv)
{
	unsigned long id;
	int err;

	if (!rw->fitted)
		kvs_rw_fit(rw);
	if (argc < 2)
		return kvs_fail(&rw->lr.why, -EINVAL, "line %lu: %s without an id",
				rw->lr.lineno, argv[0]);
	err = kvs_rw_number(rw, "id", argv[1], false, &id);
	if (err)
		return err;
	if (id >= KVS_REPLAY_MAX_OPS)
		return kvs_fail(&rw->lr.why, -ERANGE,
				"line %lu: id %lu is out of range (0 to %lu)",
				rw->lr.lineno, id, KVS_REPLAY_MAX_OPS - 1);
	if (!strcmp(argv[0], "alloc"))
		return kvs_rw_alloc(rw, id, argc, argv);
	return kvs_rw_free(rw, id, argc);
}

static int kvs_rw_end(struct kvs_rw *rw, int argc, char **argv)
{
	unsigned long n;
	int err;

	if (argc != 2)
		return kvs_fail(&rw->lr.why, -EINVAL, "line %lu: want \"end OPS\"",
				rw->lr.lineno);
	err = kvs_rw_number(rw, "operation count", argv[1], false, &n);
	if (err)
		return err;
	if (n != rw->nr)
		return kvs_fail(&rw->lr.why, -EINVAL,
				"line %lu: end says %lu operations, the trace has %lu",
				rw->lr.lineno, n, rw->nr);
	rw->ended = true;
	return 0;
}

#define KVS_RW_WORDS	10

/* One complete line, NUL-terminated, without its newline. */
static int kvs_rw_line(struct kvs_lines *lr)
{
	struct kvs_rw *rw = container_of(lr, struct kvs_rw, lr);
	char *line = strim(rw->lr.line), *argv[KVS_RW_WORDS], *tok;
	unsigned long v;
	int argc = 0;

	if (!*line || *line == '#')
		return 0;
	while ((tok = strsep(&line, " \t")) != NULL) {
		if (!*tok)
			continue;
		/* The header's KEY=VALUE words are not read: any number. */
		if (argc == KVS_RW_WORDS && !rw->header)
			break;
		if (argc == KVS_RW_WORDS)
			return kvs_fail(&rw->lr.why, -EINVAL,
					"line %lu: more than %d words",
					rw->lr.lineno, KVS_RW_WORDS);
		argv[argc++] = tok;
	}
	if (rw->ended)
		return kvs_fail(&rw->lr.why, -EINVAL,
				"line %lu: text after the end line", rw->lr.lineno);
	if (!rw->header) {
		if (strcmp(argv[0], "kvs-replay") || argc < 2)
			return kvs_fail(&rw->lr.why, -EINVAL,
					"line %lu: want the header \"kvs-replay %d ...\" first",
					rw->lr.lineno, KVS_REPLAY_VERSION);
		if (kstrtoul(argv[1], 10, &v) || v != KVS_REPLAY_VERSION)
			return kvs_fail(&rw->lr.why, -EINVAL,
					"line %lu: trace version \"%s\", this module reads version %d",
					rw->lr.lineno, argv[1], KVS_REPLAY_VERSION);
		rw->header = true;
		return 0;
	}
	if (!strcmp(argv[0], "window"))
		return kvs_rw_window(rw, argc, argv);
	if (!strcmp(argv[0], "alloc") || !strcmp(argv[0], "free"))
		return kvs_rw_op(rw, argc, argv);
	if (!strcmp(argv[0], "end"))
		return kvs_rw_end(rw, argc, argv);
	return kvs_fail(&rw->lr.why, -EINVAL, "line %lu: unknown op \"%s\"",
			rw->lr.lineno, argv[0]);
}

static int kvs_replay_open(struct inode *inode, struct file *file)
{
	struct kvs_rw *rw;

	if (!(file->f_mode & FMODE_WRITE))
		return 0;
	rw = kzalloc(sizeof(*rw), GFP_KERNEL);
	if (!rw)
		return -ENOMEM;
	rw->live = bitmap_zalloc(KVS_REPLAY_MAX_OPS, GFP_KERNEL);
	if (!rw->live) {
		kfree(rw);
		return -ENOMEM;
	}
	kvs_lines_init(&rw->lr, kvs_rw_line, "the trace", KVS_REPLAY_LINE);
	rw->arena = inode->i_private;
	file->private_data = rw;
	return 0;
}

static ssize_t kvs_replay_write(struct file *file, const char __user *ubuf,
				size_t count, loff_t *ppos)
{
	struct kvs_rw *rw = file->private_data;

	return kvs_lines_write(&rw->lr, ubuf, count, ppos);
}

/* The checks of a whole trace, at close: its last line, its end line. */
static void kvs_rw_finish(struct kvs_rw *rw)
{
	if (kvs_lines_end(&rw->lr))
		return;
	if (rw->header && !rw->ended)
		rw->lr.err = kvs_fail(&rw->lr.why, -EINVAL,
				      "truncated: no \"end\" line after line %lu",
				      rw->lr.lineno);
	else if (!rw->header && rw->lr.lineno)
		rw->lr.err = kvs_fail(&rw->lr.why, -EINVAL,
				      "no header \"kvs-replay %d ...\"",
				      KVS_REPLAY_VERSION);
}

/* Make @rw's operations the loaded trace, or record why it failed. */
static void kvs_replay_commit(struct kvs_rw *rw)
{
	struct kvs_trace *t = NULL, *old;
	char num[16];

	kvs_rw_finish(rw);
	if (!rw->lr.err && rw->header) {
		t = kvmalloc(struct_size(t, ops, rw->nr), GFP_KERNEL);
		if (!t) {
			rw->lr.err = kvs_fail(&rw->lr.why, -ENOMEM,
					      "no memory for %lu operations",
					      rw->nr);
		} else {
			kref_init(&t->ref);
			t->nr = rw->nr;
			t->nr_ids = rw->nr_ids;
			t->allocs = rw->allocs;
			t->frees = rw->frees;
			t->live = rw->nr_live;
			t->nr_win = rw->nr_win;
			memcpy(t->w_off, rw->w_off, sizeof(t->w_off));
			memcpy(t->w_len, rw->w_len, sizeof(t->w_len));
			if (rw->nr)
				memcpy(t->ops, rw->ops, rw->nr * sizeof(*t->ops));
		}
	}
	mutex_lock(&kvs_replay_lock);
	old = kvs_trace;
	kvs_trace = t;
	if (rw->lr.err)
		snprintf(kvs_trace_err, sizeof(kvs_trace_err),
			 "error: %s: %s", kvs_errname(rw->lr.err, num, sizeof(num)),
			 rw->lr.why.msg);
	else
		kvs_trace_err[0] = '\0';
	mutex_unlock(&kvs_replay_lock);
	kvs_trace_put(old);
}

static int kvs_replay_release(struct inode *inode, struct file *file)
{
	struct kvs_rw *rw = file->private_data;

	if (!rw)
		return 0;
	kvs_replay_commit(rw);
	kvfree(rw->ops);
	bitmap_free(rw->live);
	kfree(rw);
	return 0;
}

/* Mean of @sum over @n, 0 for none. */
static u64 kvs_mean(u64 sum, unsigned long n)
{
	return n ? div64_u64(sum, n) : 0;
}

#define KVS_REPLAY_SHOW	(256 * (KVS_NR_RTARGETS + 1))

static ssize_t kvs_replay_read(struct file *file, char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	const struct kvs_rres *r;
	unsigned int i;
	ssize_t ret;
	char *buf;
	int len;

	buf = kmalloc(KVS_REPLAY_SHOW, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	mutex_lock(&kvs_replay_lock);
	if (kvs_trace_err[0])
		len = scnprintf(buf, KVS_REPLAY_SHOW, "%s\n", kvs_trace_err);
	else if (kvs_trace)
		len = scnprintf(buf, KVS_REPLAY_SHOW,
				"ops %lu allocs %lu frees %lu live %lu windows %u ids %lu\n",
				kvs_trace->nr, kvs_trace->allocs,
				kvs_trace->frees, kvs_trace->live,
				kvs_trace->nr_win, kvs_trace->nr_ids);
	else
		len = scnprintf(buf, KVS_REPLAY_SHOW, "ops 0\n");
	for (i = 0; i < kvs_nr_rres; i++) {
		r = &kvs_rres[i];
		len += scnprintf(buf + len, KVS_REPLAY_SHOW - len,
				 "target=%s ops=%lu fails=%lu skipped=%lu ns_per_op=%llu alloc_ns=%llu free_ns=%llu live=%lu largest_hole=%lu check_failed=%d\n",
				 kvs_rtarget_name(r->target), r->ops, r->fails,
				 r->skipped,
				 kvs_mean(r->alloc_ns + r->free_ns,
					  r->allocs + r->frees),
				 kvs_mean(r->alloc_ns, r->allocs),
				 kvs_mean(r->free_ns, r->frees), r->live,
				 r->hole, r->bad);
	}
	mutex_unlock(&kvs_replay_lock);
	ret = simple_read_from_buffer(ubuf, count, ppos, buf, len);
	kfree(buf);
	return ret;
}

static const struct file_operations kvs_replay_fops = {
	.owner		= THIS_MODULE,
	.open		= kvs_replay_open,
	.release	= kvs_replay_release,
	.read		= kvs_replay_read,
	.write		= kvs_replay_write,
	.llseek		= default_llseek,
};

/* === Replaying === */

/* A fresh private arena for target @id over the live arena's range. */
static struct kvs_arena *kvs_replay_arena(struct kvs_arena *live, int id)
{
	struct kvs_arena *a = kzalloc(sizeof(*a), GFP_KERNEL);

	if (!a)
		return NULL;
	a->base = live->base;
	a->size = live->size;
	if (id == KVS_RT_PCPU) {
		a->chunk_size = KVS_CHUNK_DEFAULT;
		id = 0;
	}
	/* No guard page: the trace's sizes hold the kernel's. */
	if (kvs_arena_create(a, kvs_backends[id], false)) {
		kfree(a);
		return NULL;
	}
	return a;
}

/* Replay @t on target @r->target, one operation after the other. */
static int kvs_replay_one(struct kvs_arena *live, const struct kvs_trace *t,
			  struct kvs_rres *r)
{
	const struct kvs_rop *op;
	struct kvs_spec s = {};
	struct kvs_usage u;
	struct kvs_arena *a;
	unsigned long *h, i;
	int err = 0;
	u64 t0;

	a = kvs_replay_arena(live, r->target);
	h = kvcalloc(max(t->nr_ids, 1UL), sizeof(*h), GFP_KERNEL);
	if (!a || !h) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < t->nr; i++) {
		op = &t->ops[i];
		r->ops++;
		if (op->op == KVS_ROP_ALLOC) {
			s.size = op->size;
			s.align = 1UL << op->shift;
			s.vstart = t->w_len[op->win] ?
				   a->base + t->w_off[op->win] : 0;
			s.vend = t->w_len[op->win] ?
				 s.vstart + t->w_len[op->win] : 0;
			t0 = local_clock();
			if (kvs_alloc(a, &s, &h[op->id], NULL)) {
				h[op->id] = 0;
				r->fails++;
			}
			r->alloc_ns += local_clock() - t0;
			r->allocs++;
		} else if (!h[op->id]) {
			r->skipped++;
		} else {
			t0 = local_clock();
			if (kvs_free(a, h[op->id], NULL))
				r->fails++;
			r->free_ns += local_clock() - t0;
			r->frees++;
			h[op->id] = 0;
		}
		if (!(i % 256)) {
			if (fatal_signal_pending(current)) {
				err = -EINTR;
				break;
			}
			cond_resched();
		}
	}
	for (i = 0; i < t->nr_ids; i++)
		r->live += !!h[i];
	kvs_usage(a, &u);
	r->hole = u.largest_hole;
	r->bad = !!kvs_check(a, NULL);
out:
	if (a) {
		kvs_arena_destroy(a);
		kfree(a);
	}
	kvfree(h);
	return err;
}

static int kvs_replay_run(struct kvs_arena *live, unsigned long targets,
			  char *out, size_t len, struct kvs_err *e)
{
	struct kvs_rres res = {};
	struct kvs_trace *t;
	unsigned long fails = 0;
	int id, n = 0, err = 0;

	if (!mutex_trylock(&kvs_replay_run_lock))
		return kvs_fail(e, -EBUSY, "a replay is already running");
	mutex_lock(&kvs_replay_lock);
	t = kvs_trace;
	if (t)
		kref_get(&t->ref);
	kvs_nr_rres = 0;
	mutex_unlock(&kvs_replay_lock);
	if (!t) {
		err = kvs_fail(e, -ENOENT, "no trace loaded: write one to replay");
		goto unlock;
	}
	for (id = 0; id < KVS_NR_RTARGETS && !err; id++) {
		if (targets && !(targets & BIT(id)))
			continue;
		memset(&res, 0, sizeof(res));
		res.target = id;
		err = kvs_replay_one(live, t, &res);
		if (err == -EINTR)
			kvs_fail(e, err, "interrupted on %s; %d targets done",
				 kvs_rtarget_name(id), n);
		else if (err)
			kvs_fail(e, err, "no memory for %s's arena",
				 kvs_rtarget_name(id));
		if (err)
			break;
		mutex_lock(&kvs_replay_lock);
		kvs_rres[kvs_nr_rres++] = res;
		mutex_unlock(&kvs_replay_lock);
		fails += res.fails;
		n++;
	}
	if (err)
		goto put;
	if (n == 1)
		snprintf(out, len,
			 "%s ops=%lu fails=%lu ns_per_op=%llu live=%lu largest_hole=%lu check_failed=%d",
			 kvs_rtarget_name(res.target), res.ops, res.fails,
			 kvs_mean(res.alloc_ns + res.free_ns,
				  res.allocs + res.frees),
			 res.live, res.hole, res.bad);
	else
		snprintf(out, len, "ok %d targets, %lu ops each, %lu failures; see replay",
			 n, t->nr, fails);
put:
	kvs_trace_put(t);
unlock:
	mutex_unlock(&kvs_replay_run_lock);
	return err;
}

/**
 * kvs_replay_cmd() - the "replay" control command.
 * @live: the live arena, whose range the targets' arenas copy.
 * @argc: words, "replay" included.
 * @argv: the words: target=T,.. at most.
 * @out:  the result text, on success.
 * @len:  size of @out.
 * @e:    the reason, on failure.
 *
 * Context: process context; takes as long as the trace; a fatal signal
 * stops it.
 * Return: 0, -EINVAL (a bad option or target), -ENOENT (no trace loaded),
 * -EBUSY (a replay is running), -ENOMEM, -EINTR.
 */
int kvs_replay_cmd(struct kvs_arena *live, int argc, char **argv, char *out,
		   size_t len, struct kvs_err *e)
{
	unsigned long targets = 0;
	char *val, *tok;
	int i, id;

	for (i = 1; i < argc; i++) {
		val = strchr(argv[i], '=');
		if (!val || strncmp(argv[i], "target=", 7))
			return kvs_fail(e, -EINVAL, "unknown option \"%s\"",
					argv[i]);
		val++;
		while ((tok = strsep(&val, ",")) != NULL) {
			for (id = 0; id < KVS_NR_RTARGETS; id++)
				if (!strcmp(tok, kvs_rtarget_name(id)))
					break;
			if (id == KVS_NR_RTARGETS)
				return kvs_fail(e, -EINVAL,
						"unknown target \"%s\"", tok);
			targets |= BIT(id);
		}
	}
	return kvs_replay_run(live, targets, out, len, e);
}

/**
 * kvs_replay_debugfs() - create replay in @dir.
 * @dir:  kvashim's debugfs directory.
 * @live: the live arena, whose size the windows are fitted to.
 */
void kvs_replay_debugfs(struct dentry *dir, struct kvs_arena *live)
{
	debugfs_create_file("replay", 0600, dir, live, &kvs_replay_fops);
}

/**
 * kvs_replay_exit() - free the loaded trace at unload.
 */
void kvs_replay_exit(void)
{
	kvs_trace_put(kvs_trace);
	kvs_trace = NULL;
	kvs_trace_err[0] = '\0';
	kvs_nr_rres = 0;
}
