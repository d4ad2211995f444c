// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: the command language of /sys/kernel/debug/kvashim/control.
 *
 * One command per write:
 *
 *   alloc SIZE [align=A] [vstart=X vend=Y] [top] [populate]
 *   free ADDR | free all
 *   find ADDR
 *   touch ADDR
 *   ptes ADDR SIZE
 *   purge
 *   check
 *   reset
 *   backend NAME
 *   pcpu on|off
 *   selftest [seed=N] [ops=N]
 *   bench [scaling] [populate] [workload=W,..] [target=T,..] [threads=N] [loops=N]
 *         [busy=N] [reps=N] [budget_ms=N] [seed=N] [background=N|layout]
 *   inject [off | SITE off | SITE nth=N|every=N|percent=P [times=T] [seed=S]]
 *   replay [target=T,..]
 *
 * SIZE and A take a K, M, G or T suffix (powers of 1024).  ADDR, X and Y
 * are absolute addresses (0x...) or offsets into the arena written +N
 * (e.g. vstart=+1M); without vstart and vend the window is the whole
 * arena.  A failed command returns its errno from write(); the reason,
 * and any command's result, is read back from the same open file
 * descriptor.
 *
 * A write is one command, a writev() included (its segments are joined);
 * a command is never assembled from several writes.  While a command
 * runs, other reads and writes of the same descriptor wait for it,
 * interruptibly (EAGAIN with O_NONBLOCK).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/kernel.h>
#include <linux/random.h>
#include <linux/string.h>

#include "arena.h"
#include "backing.h"
#include "bench.h"
#include "control.h"
#include "inject.h"
#include "replay.h"
#include "selftest.h"

#define KVS_MAX_ARGS	8

struct kvs_cmd {
	const char *name;
	int (*run)(struct kvs_ctl *ctl, int argc, char **argv);
	const char *usage;
};

/* === Parsing === */

/*
 * Every errno a command can fail with, so that a reply always names it:
 * the module's own, and those of the kernel calls behind the commands
 * (copy from user space, page-table population, signals).
 */
static const struct {
	int err;
	const char *name;
} kvs_errnos[] = {
	{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EINTR, "EINTR" },
	{ EIO, "EIO" }, { ENXIO, "ENXIO" }, { E2BIG, "E2BIG" },
	{ EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" }, { EFAULT, "EFAULT" },
	{ EBUSY, "EBUSY" }, { EEXIST, "EEXIST" }, { ENODEV, "ENODEV" },
	{ EINVAL, "EINVAL" }, { ENOSPC, "ENOSPC" }, { ERANGE, "ERANGE" },
	{ EOVERFLOW, "EOVERFLOW" }, { EOPNOTSUPP, "EOPNOTSUPP" },
	{ ETIMEDOUT, "ETIMEDOUT" }, { EUCLEAN, "EUCLEAN" },
};

/**
 * kvs_errname() - the name of a negative errno, as replies give it.
 * @err: the negative errno.
 * @buf: room for a name missing from the table, which is given by number.
 * @len: bytes of @buf.
 *
 * Return: the name, e.g. "EINVAL".
 */
const char *kvs_errname(int err, char *buf, size_t len)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(kvs_errnos); i++)
		if (kvs_errnos[i].err == -err)
			return kvs_errnos[i].name;
	snprintf(buf, len, "E%d", -err);
	return buf;
}

/**
 * kvs_parse_size() - a number with an optional K/M/G/T suffix.
 * @s:   the text: decimal, 0x hex or 0 octal, then the suffix if any.
 * @out: the value, in bytes.
 *
 * Return: 0, -EINVAL if malformed, -ERANGE if it overflows.
 */
int kvs_parse_size(const char *s, unsigned long *out)
{
	static const char units[] = "KMGT";
	char num[24];
	size_t len = strlen(s);
	const char *u;
	int shift = 0, err;

	if (!len)
		return -EINVAL;
	if (len >= sizeof(num))
		return isdigit(*s) ? -ERANGE : -EINVAL;
	u = len > 1 ? strchr(units, toupper(s[len - 1])) : NULL;
	if (u && *u) {
		shift = 10 * (u - units + 1);
		len--;
	}
	memcpy(num, s, len);
	num[len] = '\0';
	err = kstrtoul(num, 0, out);
	if (err)
		return err;
	if (shift && *out > (ULONG_MAX >> shift))
		return -ERANGE;
	*out <<= shift;
	return 0;
}

/* An address: absolute, or +OFFSET from the arena's base. */
static int kvs_parse_addr(struct kvs_arena *a, const char *s,
			  unsigned long *out)
{
	unsigned long off;
	int err;

	if (*s != '+')
		return kstrtoul(s, 0, out);
	err = kvs_parse_size(s + 1, &off);
	if (err)
		return err;
	if (off > a->size)
		return -ERANGE;
	*out = a->base + off;
	return 0;
}

static int kvs_bad_number(struct kvs_ctl *ctl, const char *what,
			  const char *s, int err)
{
	return kvs_fail(&ctl->err, err, "%s \"%s\" is %s", what, s,
			err == -ERANGE ? "out of range" : "not a number");
}

/* An ADDR argument, with the reason when it is not one. */
static int kvs_addr_arg(struct kvs_ctl *ctl, const char *s,
			unsigned long *addr)
{
	int err = kvs_parse_addr(ctl->arena, s, addr);

	return err ? kvs_bad_number(ctl, "address", s, err) : 0;
}

/* Split "key=value" in place; a word without '=' is an unknown option. */
static int kvs_opt(struct kvs_ctl *ctl, char *word, char **val)
{
	*val = strchr(word, '=');
	if (!*val)
		return kvs_fail(&ctl->err, -EINVAL, "unknown option \"%s\"",
				word);
	*(*val)++ = '\0';
	return 0;
}

/* === Commands === */

static int kvs_cmd_alloc(struct kvs_ctl *ctl, int argc, char **argv)
{
	struct kvs_arena *a = ctl->arena;
	struct kvs_spec s = {};
	bool vstart = false, vend = false;
	unsigned long addr;
	char *val;
	int i, err;

	if (argc < 2)
		return -EINVAL;
	err = kvs_parse_size(argv[1], &s.size);
	if (err)
		return kvs_bad_number(ctl, "size", argv[1], err);

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "top")) {
			s.top = true;
			continue;
		}
		if (!strcmp(argv[i], "populate")) {
			s.populate = true;
			continue;
		}
		err = kvs_opt(ctl, argv[i], &val);
		if (err)
			return err;
		if (!strcmp(argv[i], "align")) {
			err = kvs_parse_size(val, &s.align);
		} else if (!strcmp(argv[i], "vstart")) {
			vstart = true;
			err = kvs_parse_addr(a, val, &s.vstart);
		} else if (!strcmp(argv[i], "vend")) {
			vend = true;
			err = kvs_parse_addr(a, val, &s.vend);
		} else {
			return kvs_fail(&ctl->err, -EINVAL,
					"unknown option \"%s\"", argv[i]);
		}
		if (err)
			return kvs_bad_number(ctl, argv[i], val, err);
	}
	/*
	 * Only an absent window means the whole arena: kvs_alloc() reads
	 * vstart = vend = 0 that way, so a window written as 0 and 0 must be
	 * refused here, as the empty window it is.
	 */
	if (vstart != vend)
		return kvs_fail(&ctl->err, -EINVAL,
				"vstart and vend go together");
	if (vstart && s.vstart >= s.vend)
		return kvs_fail(&ctl->err, -EINVAL,
				"window [%#lx, %#lx) is empty or inverted",
				s.vstart, s.vend);

	err = kvs_alloc(a, &s, &addr, &ctl->err);
	if (err)
		return err;
	return kvs_ctl_out(ctl, "%#lx", addr);
}

static int kvs_cmd_free(struct kvs_ctl *ctl, int argc, char **argv)
{
	unsigned long addr;
	int err;

	if (argc != 2)
		return -EINVAL;
	if (!strcmp(argv[1], "all"))
		return kvs_ctl_out(ctl, "freed %lu",
				   kvs_free_all(ctl->arena));
	err = kvs_addr_arg(ctl, argv[1], &addr);
	if (err)
		return err;
	err = kvs_free(ctl->arena, addr, &ctl->err);
	if (err)
		return err;
	return kvs_ctl_out(ctl, "ok");
}

static int kvs_cmd_find(struct kvs_ctl *ctl, int argc, char **argv)
{
	struct kvs_area va;
	unsigned long addr;
	int err;

	if (argc != 2)
		return -EINVAL;
	err = kvs_addr_arg(ctl, argv[1], &addr);
	if (err)
		return err;
	if (!kvs_find(ctl->arena, addr, &va))
		return kvs_fail(&ctl->err, -ENOENT,
				"no live area contains %#lx", addr);
	return kvs_ctl_out(ctl, "%#lx-%#lx %lu", va.start, va.end, va.size);
}

static int kvs_cmd_touch(struct kvs_ctl *ctl, int argc, char **argv)
{
	unsigned long addr, pages;
	int err;

	if (argc != 2)
		return -EINVAL;
	err = kvs_addr_arg(ctl, argv[1], &addr);
	if (err)
		return err;
	err = kvs_bk_touch(ctl->arena, addr, &pages, &ctl->err);
	if (err)
		return err;
	return kvs_ctl_out(ctl, "ok %lu pages", pages);
}

static int kvs_cmd_ptes(struct kvs_ctl *ctl, int argc, char **argv)
{
	unsigned long addr, size, present, total;
	int err;

	if (argc != 3)
		return -EINVAL;
	err = kvs_addr_arg(ctl, argv[1], &addr);
	if (err)
		return err;
	err = kvs_parse_size(argv[2], &size);
	if (err)
		return kvs_bad_number(ctl, "size", argv[2], err);
	err = kvs_bk_ptes(ctl->arena, addr, size, &present, &total, &ctl->err);
	if (err)
		return err;
	return kvs_ctl_out(ctl, "present %lu of %lu", present, total);
}

static int kvs_cmd_purge(struct kvs_ctl *ctl, int argc, char **argv)
{
	unsigned long n;

	if (argc != 1)
		return -EINVAL;
	n = kvs_purge(ctl->arena);
	kvs_trim(ctl->arena);
	return kvs_ctl_out(ctl, "purged %lu", n);
}

static int kvs_cmd_check(struct kvs_ctl *ctl, int argc, char **argv)
{
	int err;

	if (argc != 1)
		return -EINVAL;
	err = kvs_check(ctl->arena, &ctl->err);
	if (err)
		return err;
	return kvs_ctl_out(ctl, "%s", ctl->err.msg);
}

static int kvs_cmd_reset(struct kvs_ctl *ctl, int argc, char **argv)
{
	if (argc != 1)
		return -EINVAL;
	kvs_reset(ctl->arena);
	return kvs_ctl_out(ctl, "ok");
}

static int kvs_cmd_backend(struct kvs_ctl *ctl, int argc, char **argv)
{
	int err;

	if (argc != 2)
		return -EINVAL;
	err = kvs_switch_backend(ctl->arena, argv[1], &ctl->err);
	if (err)
		return err;
	return kvs_ctl_out(ctl, "ok %s", argv[1]);
}

static int kvs_cmd_selftest(struct kvs_ctl *ctl, int argc, char **argv)
{
	unsigned long seed = get_random_u32(), ops = 100000;
	unsigned int failed;
	char *val;
	int i, err;

	for (i = 1; i < argc; i++) {
		err = kvs_opt(ctl, argv[i], &val);
		if (err)
			return err;
		if (!strcmp(argv[i], "seed"))
			err = kstrtoul(val, 0, &seed);
		else if (!strcmp(argv[i], "ops"))
			err = kvs_parse_size(val, &ops);
		else
			return kvs_fail(&ctl->err, -EINVAL,
					"unknown option \"%s\"", argv[i]);
		if (err)
			return kvs_bad_number(ctl, argv[i], val, err);
	}
	err = kvs_selftest(seed, ops, &failed);
	if (err)
		return kvs_fail(&ctl->err, err, "self test could not run");
	if (failed)
		return kvs_fail(&ctl->err, -EUCLEAN,
				"%u self test cases failed (seed %lu); see selftest",
				failed, seed);
	return kvs_ctl_out(ctl, "ok seed %lu", seed);
}

static int kvs_cmd_bench(struct kvs_ctl *ctl, int argc, char **argv)
{
	struct kvs_bench_opts o = {
		.loops = 100000, .busy = 15000, .reps = 1,
		.budget_ms = 10000, .seed = 1,
	};
	char *val;
	int i, err;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "scaling")) {
			o.scaling = true;
			continue;
		}
		if (!strcmp(argv[i], "populate")) {
			o.populate = true;
			continue;
		}
		err = kvs_opt(ctl, argv[i], &val);
		if (!err)
			err = kvs_bench_parse(&o, argv[i], val, &ctl->err);
		if (err)
			return err;
	}
	err = kvs_bench_run(ctl->arena, &o, &ctl->err);
	if (err)
		return err;
	return kvs_ctl_out(ctl, "ok; see results");
}

static int kvs_cmd_pcpu(struct kvs_ctl *ctl, int argc, char **argv)
{
	bool on;
	int err;

	/* Exactly on or off: kstrtobool() would take "nonsense" for off. */
	if (argc != 2)
		return -EINVAL;
	if (!strcmp(argv[1], "on"))
		on = true;
	else if (!strcmp(argv[1], "off"))
		on = false;
	else
		return kvs_fail(&ctl->err, -EINVAL,
				"pcpu takes on or off, not \"%s\"", argv[1]);
	err = kvs_set_pcpu(ctl->arena, on, &ctl->err);
	if (err)
		return err;
	return kvs_ctl_out(ctl, "ok pcpu %s", on ? "on" : "off");
}

#define KVS_BENCH_USAGE \
	"bench [scaling] [populate] [workload=W,..] [target=T,..] [threads|loops|busy|reps|budget_ms|seed|background=N] [background=layout]"

static int kvs_cmd_inject(struct kvs_ctl *ctl, int argc, char **argv)
{
	char out[KVS_CMD_MAX - 1];
	int err;

	err = kvs_inject_cmd(argc, argv, out, sizeof(out), &ctl->err);
	if (err)
		return err;
	return kvs_ctl_out(ctl, "%s", out);
}

static int kvs_cmd_replay(struct kvs_ctl *ctl, int argc, char **argv)
{
	char out[KVS_CMD_MAX - 1];
	int err;

	err = kvs_replay_cmd(ctl->arena, argc, argv, out, sizeof(out),
			     &ctl->err);
	if (err)
		return err;
	return kvs_ctl_out(ctl, "%s", out);
}

static const struct kvs_cmd kvs_cmds[] = {
	{ "alloc", kvs_cmd_alloc,
	  "alloc SIZE [align=A] [vstart=X vend=Y] [top] [populate]" },
	{ "free", kvs_cmd_free, "free ADDR | free all" },
	{ "find", kvs_cmd_find, "find ADDR" },
	{ "touch", kvs_cmd_touch, "touch ADDR" },
	{ "ptes", kvs_cmd_ptes, "ptes ADDR SIZE" },
	{ "purge", kvs_cmd_purge, "purge" },
	{ "check", kvs_cmd_check, "check" },
	{ "reset", kvs_cmd_reset, "reset" },
	{ "backend", kvs_cmd_backend, "backend NAME" },
	{ "pcpu", kvs_cmd_pcpu, "pcpu on|off" },
	{ "selftest", kvs_cmd_selftest, "selftest [seed=N] [ops=N]" },
	{ "bench", kvs_cmd_bench, KVS_BENCH_USAGE },
	{ "inject", kvs_cmd_inject,
	  "inject [off | SITE off | SITE nth=N|every=N|percent=P [times=T] [seed=S]]" },
	{ "replay", kvs_cmd_replay, "replay [target=T,..]" },
};

/* === Dispatch === */

static int kvs_split(char *line, char **argv)
{
	int argc = 0;
	char *tok;

	while ((tok = strsep(&line, " \t")) != NULL) {
		if (!*tok)
			continue;
		if (argc == KVS_MAX_ARGS)
			return -E2BIG;
		argv[argc++] = tok;
	}
	return argc;
}

static int kvs_ctl_run(struct kvs_ctl *ctl, char *line)
{
	char *argv[KVS_MAX_ARGS];
	int argc, i, err;

	line = strim(line);
	if (strchr(line, '\n'))
		return kvs_fail(&ctl->err, -EINVAL, "one command per write");
	argc = kvs_split(line, argv);
	if (argc < 0)
		return kvs_fail(&ctl->err, -EINVAL, "more than %d words",
				KVS_MAX_ARGS);
	if (!argc)
		return kvs_fail(&ctl->err, -EINVAL, "empty command");

	for (i = 0; i < ARRAY_SIZE(kvs_cmds); i++) {
		if (strcmp(argv[0], kvs_cmds[i].name))
			continue;
		ctl->err.msg[0] = '\0';
		err = kvs_cmds[i].run(ctl, argc, argv);
		if (err == -EINVAL && !ctl->err.msg[0])
			kvs_fail(&ctl->err, err, "usage: %s",
				 kvs_cmds[i].usage);
		return err;
	}
	return kvs_fail(&ctl->err, -EINVAL, "unknown command \"%s\"", argv[0]);
}

/**
 * kvs_ctl_out() - set the text a read of the control file returns.
 * @ctl: the open file's state.
 * @fmt: printf-style; a newline is appended.
 *
 * Return: 0.
 */
int kvs_ctl_out(struct kvs_ctl *ctl, const char *fmt, ...)
{
	va_list args;
	int len;

	va_start(args, fmt);
	len = vscnprintf(ctl->out, sizeof(ctl->out) - 1, fmt, args);
	va_end(args);
	ctl->out[len++] = '\n';
	ctl->len = len;
	return 0;
}

/**
 * kvs_ctl_exec() - run one command written to the control file.
 * @ctl:  the open file's state; its result text is replaced.
 * @line: the NUL-terminated command; modified.
 *
 * Return: 0 or the negative errno the write returns.
 */
int kvs_ctl_exec(struct kvs_ctl *ctl, char *line)
{
	int err = kvs_ctl_run(ctl, line);

	if (err)
		kvs_ctl_error(ctl, err);
	return err;
}

/**
 * kvs_ctl_error() - set the read-back text of a failed write.
 * @ctl: the open file's state.
 * @err: the negative errno the write returns; the reason is in @ctl->err.
 */
void kvs_ctl_error(struct kvs_ctl *ctl, int err)
{
	char num[16];

	kvs_ctl_out(ctl, "error: %s: %s", kvs_errname(err, num, sizeof(num)),
		    ctl->err.msg[0] ? ctl->err.msg : "failed");
}
