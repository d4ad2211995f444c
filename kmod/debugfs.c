// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: the files under /sys/kernel/debug/kvashim/.
 *
 *   control  0600  commands in (see control.c), results read back
 *   stats    0400  "name value" lines; no addresses
 *   areas    0400  one line per indexed area: start-end size flags
 *                   ("pages": populated; "lazy": freed, awaiting the purge)
 *   arena    0400  the reserved range: start-end size
 *   holes    0400  the free space between reservations: "name value"
 *                   lines, the holes counted by order like buddyinfo
 *                   (order_K: 2^K to 2^(K+1) - 1 pages), free and used
 *                   bytes; lazy areas and per-CPU chunks are used
 *                   (holes.c); no addresses
 *   chunks   0400  one line per per-CPU chunk: start-end size cpu=
 *                   bumped= areas= and current, retired or stranded
 *                   (pcpu.c); empty while the overlay is off
 *   selftest 0400  the KTAP report of the last "selftest" command
 *   results  0400  the last "bench": one key=value line per result
 *   histograms 0400  the last "bench": latency histogram of each result
 *   inject   0400  fault injection: each site's mode and counts
 *   bench_layout 0600  the areas of "bench background=layout": written as
 *                   "OFFSET SIZE" lines, read back as a status line
 *                   (layout.c)
 *   replay   0600  a recorded trace for the "replay" command: written as
 *                   docs/REPLAY.md's lines, read back as a status line and
 *                   the last replay's results (replay.c)
 *
 * Root only, and no more than each file needs: only control,
 * bench_layout and replay are writable, and only control takes commands.  Under
 * lockdown, debugfs refuses to open the writable files and still serves
 * the read-only ones.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "arena.h"
#include "bench.h"
#include "control.h"
#include "debugfs.h"
#include "holes.h"
#include "inject.h"
#include "layout.h"
#include "pcpu.h"
#include "replay.h"
#include "selftest.h"

static struct dentry *kvs_dir;

/* === control === */

static int kvs_ctl_open(struct inode *inode, struct file *file)
{
	struct kvs_ctl *ctl = kzalloc(sizeof(*ctl), GFP_KERNEL);

	if (!ctl)
		return -ENOMEM;
	ctl->arena = inode->i_private;
	mutex_init(&ctl->lock);
	file->private_data = ctl;
	/*
	 * The VFS would serialise the users of a shared descriptor on its
	 * f_pos lock, uninterruptibly, for as long as a command runs; ctl->lock
	 * serialises them instead, and can be interrupted.
	 */
	file->f_mode &= ~FMODE_ATOMIC_POS;
	return 0;
}

static int kvs_ctl_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

/*
 * A command may run for minutes (bench, selftest), holding ctl->lock: the
 * other users of the same descriptor wait for it interruptibly, so that
 * they can be killed and never count as hung, or not at all with
 * O_NONBLOCK.  They cannot leave a reason to read back: the descriptor's
 * result belongs to the running command.
 */
static int kvs_ctl_lock(struct kvs_ctl *ctl, struct file *file, bool nowait)
{
	if (nowait || (file->f_flags & O_NONBLOCK))
		return mutex_trylock(&ctl->lock) ? 0 : -EAGAIN;
	return mutex_lock_interruptible(&ctl->lock) ? -ERESTARTSYS : 0;
}

/*
 * A write is one command, whatever its shape: write_iter sees a writev()
 * whole, where ->write would see each segment as a command of its own.
 */
static ssize_t kvs_ctl_write(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct kvs_ctl *ctl = file->private_data;
	size_t count = iov_iter_count(from);
	char *line = NULL;
	bool ran = false;
	int err;

	err = kvs_ctl_lock(ctl, file, iocb->ki_flags & IOCB_NOWAIT);
	if (err)
		return err;
	if (count >= KVS_CMD_MAX) {
		err = kvs_fail(&ctl->err, -EINVAL,
			       "command longer than %d bytes", KVS_CMD_MAX - 1);
		goto out;
	}
	line = kmalloc(count + 1, GFP_KERNEL);
	if (!line) {
		err = kvs_fail(&ctl->err, -ENOMEM, "no memory for the command");
		goto out;
	}
	if (!copy_from_iter_full(line, count, from)) {
		err = kvs_fail(&ctl->err, -EFAULT, "cannot read the command");
		goto out;
	}
	line[count] = '\0';
	if (strlen(line) != count) {
		err = kvs_fail(&ctl->err, -EINVAL,
			       "command contains a NUL byte");
		goto out;
	}
	err = kvs_ctl_exec(ctl, line);
	ran = true;
out:
	/* Refused before it ran: the reason, not the previous result. */
	if (err && !ran)
		kvs_ctl_error(ctl, err);
	/*
	 * The result is read back from the start.  A failed write() does not
	 * store the position back into f_pos, so reset both.
	 */
	iocb->ki_pos = 0;
	file->f_pos = 0;
	mutex_unlock(&ctl->lock);
	kfree(line);
	return err ? err : count;
}

static ssize_t kvs_ctl_read(struct file *file, char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	struct kvs_ctl *ctl = file->private_data;
	ssize_t ret;

	ret = kvs_ctl_lock(ctl, file, false);
	if (ret)
		return ret;
	ret = simple_read_from_buffer(ubuf, count, ppos, ctl->out, ctl->len);
	mutex_unlock(&ctl->lock);
	return ret;
}

static const struct file_operations kvs_ctl_fops = {
	.owner		= THIS_MODULE,
	.open		= kvs_ctl_open,
	.release	= kvs_ctl_release,
	.read		= kvs_ctl_read,
	.write_iter	= kvs_ctl_write,
	.llseek		= default_llseek,
};

/* === stats === */

static int stats_show(struct seq_file *m, void *v)
{
	kvs_stats_show(m->private, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

/* === arena === */

static int arena_show(struct seq_file *m, void *v)
{
	struct kvs_arena *a = m->private;

	seq_printf(m, "0x%lx-0x%lx %lu\n", a->base, a->base + a->size,
		   a->size);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(arena);

/* === chunks === */

static int chunks_show(struct seq_file *m, void *v)
{
	kvs_pcpu_chunks_show(m->private, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(chunks);

/* === results === */

static int results_show(struct seq_file *m, void *v)
{
	kvs_bench_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(results);

static int histograms_show(struct seq_file *m, void *v)
{
	kvs_bench_show_hist(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(histograms);

/* === selftest === */

static int selftest_show(struct seq_file *m, void *v)
{
	kvs_selftest_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(selftest);

/* === areas === */

/*
 * The iterator's position is an offset into the arena: each step asks the
 * backend for the first area at or above it, so a listing stays correct
 * (if not a snapshot) while areas come and go.
 */
struct kvs_areas_iter {
	struct kvs_arena *arena;
	struct kvs_area cur;
};

static void *kvs_areas_find(struct seq_file *m, loff_t pos)
{
	struct kvs_areas_iter *it = m->private;
	struct kvs_arena *a = it->arena;

	if (pos < 0 || pos >= a->size)
		return NULL;
	if (!kvs_next(a, a->base + pos, &it->cur))
		return NULL;
	return &it->cur;
}

static void *areas_start(struct seq_file *m, loff_t *pos)
{
	return kvs_areas_find(m, *pos);
}

static void *areas_next(struct seq_file *m, void *v, loff_t *pos)
{
	struct kvs_areas_iter *it = m->private;

	*pos = it->cur.start - it->arena->base + 1;
	return kvs_areas_find(m, *pos);
}

static void areas_stop(struct seq_file *m, void *v)
{
}

static int areas_show(struct seq_file *m, void *v)
{
	struct kvs_areas_iter *it = m->private;
	const struct kvs_area *va = v;

	seq_printf(m, "0x%lx-0x%lx %10lu %s%s%s%s%s\n", va->start, va->end,
		   va->end - va->start, it->arena->be->name,
		   va->flags & KVS_AF_GUARD ? " guard" : "",
		   va->flags & KVS_AF_TOP ? " top" : "",
		   va->flags & KVS_AF_BACKED ? " pages" : "",
		   va->flags & KVS_AF_LAZY ? " lazy" : "");
	return 0;
}

static const struct seq_operations areas_sops = {
	.start	= areas_start,
	.next	= areas_next,
	.stop	= areas_stop,
	.show	= areas_show,
};

static int areas_open(struct inode *inode, struct file *file)
{
	struct kvs_areas_iter *it;

	it = __seq_open_private(file, &areas_sops, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->arena = inode->i_private;
	return 0;
}

static const struct file_operations areas_fops = {
	.owner		= THIS_MODULE,
	.open		= areas_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.release	= seq_release_private,
};

/* === Setup === */

/**
 * kvs_debugfs_init() - create the files; failures only cost the files.
 * @a: the arena they drive.
 */
void kvs_debugfs_init(struct kvs_arena *a)
{
	kvs_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	/*
	 * debugfs's full proxy, which guards each call against the file's
	 * removal, forwards ->write but not ->write_iter, and so would split
	 * a writev() into commands.  The open-only proxy installs these fops
	 * as they are; that guard is not needed here: an open descriptor pins
	 * the module (.owner), and the arena lives as long as the module.
	 */
	debugfs_create_file_unsafe("control", 0600, kvs_dir, a, &kvs_ctl_fops);
	debugfs_create_file("stats", 0400, kvs_dir, a, &stats_fops);
	debugfs_create_file("areas", 0400, kvs_dir, a, &areas_fops);
	debugfs_create_file("arena", 0400, kvs_dir, a, &arena_fops);
	kvs_holes_debugfs(kvs_dir, a);
	debugfs_create_file("chunks", 0400, kvs_dir, a, &chunks_fops);
	debugfs_create_file("selftest", 0400, kvs_dir, a, &selftest_fops);
	debugfs_create_file("results", 0400, kvs_dir, a, &results_fops);
	debugfs_create_file("histograms", 0400, kvs_dir, a, &histograms_fops);
	kvs_inject_debugfs(kvs_dir);
	kvs_layout_debugfs(kvs_dir);
	kvs_replay_debugfs(kvs_dir, a);
}

void kvs_debugfs_exit(void)
{
	debugfs_remove_recursive(kvs_dir);
}
