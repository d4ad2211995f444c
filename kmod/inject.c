// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: deterministic fault injection (see inject.h).
 *
 * The kernel's fault_attr needs CONFIG_FAULT_INJECTION, which Debian's
 * kernels do not enable, and draws from a random source; this counter
 * scheme works everywhere and replays exactly.  Per site:
 *
 *   nth=N     fail evaluations N .. N+T-1 (T = times, default 1)
 *   every=N   fail evaluations N, 2N, 3N, ... at most T times (default: no cap)
 *   percent=P fail when a hash of (seed, evaluation) mod 100 is below P,
 *             at most T times (default: no cap)
 *
 * Arming a site zeroes its evaluation and failure counts; disarming keeps
 * them readable.  Driven by the "inject" control command, the "inject"
 * module parameter (SITE:MODE=N[:times=T][:seed=S], comma-separated) and
 * read back from the "inject" debugfs file.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#include "arena.h"
#include "inject.h"

enum kvs_inj_mode { KVS_INJ_OFF, KVS_INJ_NTH, KVS_INJ_EVERY, KVS_INJ_PERCENT };

static const char *const kvs_inj_modes[] = {
	[KVS_INJ_OFF] = "off", [KVS_INJ_NTH] = "nth",
	[KVS_INJ_EVERY] = "every", [KVS_INJ_PERCENT] = "percent",
};

static const char *const kvs_inj_names[KVS_INJ_NR] = {
	[KVS_INJ_AREA] = "area", [KVS_INJ_MAPLE] = "maple",
	[KVS_INJ_RBNODE] = "rbnode", [KVS_INJ_CHUNK] = "chunk",
	[KVS_INJ_PAGE] = "page", [KVS_INJ_PTE] = "pte",
	[KVS_INJ_KSYM] = "ksym",
};

/**
 * struct kvs_inj - one site's configuration and counts.
 * @mode:  enum kvs_inj_mode.
 * @n:     N of nth/every, P of percent.
 * @times: most failures to inject; 0: no cap.
 * @seed:  seed of percent.
 * @calls: evaluations since the site was armed.
 * @hits:  failures injected since the site was armed.
 * @total: failures injected since the module was loaded.
 */
struct kvs_inj {
	int mode;
	unsigned long n;
	unsigned long times;
	u64 seed;
	unsigned long calls;
	unsigned long hits;
	unsigned long total;
};

/* Bit per armed site; read locklessly by kvs_inject(). */
unsigned long kvs_inject_armed;

static DEFINE_SPINLOCK(kvs_inj_lock);	/* protects kvs_inj[] */
static struct kvs_inj kvs_inj[KVS_INJ_NR];

/* splitmix64: a well-mixed function of (seed, evaluation). */
static u64 kvs_inj_hash(u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/**
 * __kvs_inject() - count an evaluation of an armed site and decide.
 * @site: the site.
 *
 * Context: any context but hard IRQ; takes a spinlock.
 * Return: true if this evaluation must fail.
 */
bool __kvs_inject(enum kvs_inj_site site)
{
	struct kvs_inj *s = &kvs_inj[site];
	bool fail = false;
	unsigned long c;

	spin_lock(&kvs_inj_lock);
	if (s->mode == KVS_INJ_OFF || (s->times && s->hits >= s->times))
		goto out;
	c = ++s->calls;
	switch (s->mode) {
	case KVS_INJ_NTH:
		fail = c >= s->n;
		break;
	case KVS_INJ_EVERY:
		fail = !(c % s->n);
		break;
	case KVS_INJ_PERCENT:
		fail = kvs_inj_hash(s->seed + c) % 100 < s->n;
		break;
	}
	if (fail) {
		s->hits++;
		s->total++;
	}
out:
	spin_unlock(&kvs_inj_lock);
	return fail;
}

static int kvs_inj_site_by_name(const char *name)
{
	int i;

	for (i = 0; i < KVS_INJ_NR; i++)
		if (!strcmp(name, kvs_inj_names[i]))
			return i;
	return -1;
}

/* Arm (mode != OFF) or disarm one site; the caller holds kvs_inj_lock. */
static void kvs_inj_set(int site, const struct kvs_inj *cfg)
{
	struct kvs_inj *s = &kvs_inj[site];

	if (cfg->mode == KVS_INJ_OFF) {
		s->mode = KVS_INJ_OFF;
		WRITE_ONCE(kvs_inject_armed, kvs_inject_armed & ~BIT(site));
		return;
	}
	s->mode = cfg->mode;
	s->n = cfg->n;
	s->times = cfg->mode == KVS_INJ_NTH && !cfg->times ? 1 : cfg->times;
	s->seed = cfg->seed;
	s->calls = 0;
	s->hits = 0;
	WRITE_ONCE(kvs_inject_armed, kvs_inject_armed | BIT(site));
}

/*
 * Parse "MODE=N", "times=T" and "seed=S" words into @cfg.
 * Return: 0, -EINVAL or -ERANGE with the reason in @e.
 */
static int kvs_inj_parse(int argc, char **argv, struct kvs_inj *cfg,
			 struct kvs_err *e)
{
	int i, m, err;

	for (i = 0; i < argc; i++) {
		char *key = argv[i], *val = strchr(key, '=');
		unsigned long v;
		size_t klen;

		if (!val)
			return kvs_fail(e, -EINVAL, "unknown option \"%s\"", key);
		klen = val++ - key;
		err = kstrtoul(val, 0, &v);
		if (err)
			return kvs_fail(e, err, "\"%.*s\" value \"%s\" is %s",
					(int)klen, key, val,
					err == -ERANGE ? "out of range" : "not a number");
		if (klen == 5 && !strncmp(key, "times", 5)) {
			cfg->times = v;
			continue;
		}
		if (klen == 4 && !strncmp(key, "seed", 4)) {
			cfg->seed = v;
			continue;
		}
		for (m = KVS_INJ_NTH; m < ARRAY_SIZE(kvs_inj_modes); m++)
			if (strlen(kvs_inj_modes[m]) == klen &&
			    !strncmp(key, kvs_inj_modes[m], klen))
				break;
		if (m == ARRAY_SIZE(kvs_inj_modes))
			return kvs_fail(e, -EINVAL, "unknown option \"%.*s\"",
					(int)klen, key);
		if (cfg->mode != KVS_INJ_OFF)
			return kvs_fail(e, -EINVAL, "one of nth, every, percent");
		if (!v)
			return kvs_fail(e, -EINVAL, "%s must be at least 1",
					kvs_inj_modes[m]);
		if (m == KVS_INJ_PERCENT && v > 100)
			return kvs_fail(e, -ERANGE, "percent is at most 100");
		cfg->mode = m;
		cfg->n = v;
	}
	if (cfg->mode == KVS_INJ_OFF)
		return kvs_fail(e, -EINVAL, "give nth=N, every=N or percent=P");
	return 0;
}

/* One line listing the armed sites into @out. */
static void kvs_inj_summary(char *out, size_t len)
{
	size_t n = scnprintf(out, len, "armed:");
	bool any = false;
	int i;

	for (i = 0; i < KVS_INJ_NR; i++) {
		if (kvs_inj[i].mode == KVS_INJ_OFF)
			continue;
		any = true;
		n += scnprintf(out + n, len - n, " %s", kvs_inj_names[i]);
	}
	if (!any)
		scnprintf(out + n, len - n, " none");
}

/*
 * Parse one "inject" command's words, "inject" included, arming nothing:
 * "off" (@site = -1: every site off), "SITE off", or "SITE MODE=N ...".
 * Return: 0, -EINVAL or -ERANGE with the reason in @e.
 */
static int kvs_inj_parse_cmd(int argc, char **argv, int *site,
			     struct kvs_inj *cfg, struct kvs_err *e)
{
	memset(cfg, 0, sizeof(*cfg));
	if (argc == 2 && !strcmp(argv[1], "off")) {
		*site = -1;
		return 0;
	}
	*site = kvs_inj_site_by_name(argv[1]);
	if (*site < 0)
		return kvs_fail(e, -EINVAL,
				"unknown site \"%s\" (area, maple, rbnode, chunk, page, pte, ksym)",
				argv[1]);
	if (argc == 3 && !strcmp(argv[2], "off"))
		return 0;
	return kvs_inj_parse(argc - 2, argv + 2, cfg, e);
}

/**
 * kvs_inject_cmd() - the "inject" control command.
 * @argc: words, "inject" included.
 * @argv: the words.
 * @out:  the result text, on success.
 * @len:  size of @out.
 * @e:    the reason, on failure.
 *
 *   inject                      list the armed sites
 *   inject off                  disarm every site
 *   inject SITE off             disarm one
 *   inject SITE nth=N|every=N|percent=P [times=T] [seed=S]
 *
 * Every word is checked before anything is armed or disarmed.
 *
 * Return: 0, -EINVAL or -ERANGE.
 */
int kvs_inject_cmd(int argc, char **argv, char *out, size_t len,
		   struct kvs_err *e)
{
	struct kvs_inj cfg;
	int site, i, err;

	if (argc >= 2) {
		err = kvs_inj_parse_cmd(argc, argv, &site, &cfg, e);
		if (err)
			return err;
		spin_lock(&kvs_inj_lock);
		for (i = 0; i < KVS_INJ_NR; i++)
			if (site < 0 || i == site)
				kvs_inj_set(i, &cfg);
		spin_unlock(&kvs_inj_lock);
	}
	spin_lock(&kvs_inj_lock);
	kvs_inj_summary(out, len);
	spin_unlock(&kvs_inj_lock);
	return 0;
}

/* === Module parameter: inject=SITE:MODE=N[:times=T][:seed=S][,...] === */

/*
 * All specs are parsed before any is applied, so that a list with one
 * bad spec changes nothing; applied in order, a later spec for a site
 * (or "off" for all) replaces an earlier one, as one at a time would.
 * The refusal is one warning line: the parameter has no read-back.
 */
static int kvs_inj_param_set(const char *val, const struct kernel_param *kp)
{
	/* On the heap: a KASAN build's redzones put it over the frame limit. */
	struct {
		struct kvs_inj cfg[KVS_INJ_NR];
		bool set[KVS_INJ_NR];
		struct kvs_inj one;
		struct kvs_err e;
	} *st;
	char *buf, *p, *spec, *argv[6];
	int argc, site, i, err = 0;

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	buf = kstrdup(val, GFP_KERNEL);
	if (!st || !buf) {
		kfree(st);
		kfree(buf);
		return -ENOMEM;
	}
	p = strim(buf);
	while (!err && (spec = strsep(&p, ",")) != NULL) {
		argv[0] = "inject";
		argc = 1;
		while (argc < ARRAY_SIZE(argv) &&
		       (argv[argc] = strsep(&spec, ":")) != NULL)
			argc++;
		if (spec) {
			err = kvs_fail(&st->e, -EINVAL,
				       "a spec has more than %zu fields",
				       ARRAY_SIZE(argv) - 1);
			break;
		}
		err = kvs_inj_parse_cmd(argc, argv, &site, &st->one, &st->e);
		for (i = 0; !err && i < KVS_INJ_NR; i++) {
			if (site >= 0 && i != site)
				continue;
			st->cfg[i] = st->one;
			st->set[i] = true;
		}
	}
	kfree(buf);
	if (err) {
		pr_warn("inject=: %s; nothing armed\n", st->e.msg);
		kfree(st);
		return err;
	}
	spin_lock(&kvs_inj_lock);
	for (i = 0; i < KVS_INJ_NR; i++)
		if (st->set[i])
			kvs_inj_set(i, &st->cfg[i]);
	spin_unlock(&kvs_inj_lock);
	kfree(st);
	return 0;
}

static int kvs_inj_param_get(char *buf, const struct kernel_param *kp)
{
	int len;

	spin_lock(&kvs_inj_lock);
	kvs_inj_summary(buf, PAGE_SIZE - 1);
	spin_unlock(&kvs_inj_lock);
	len = strlen(buf);
	buf[len++] = '\n';
	buf[len] = '\0';
	return len;
}

static const struct kernel_param_ops kvs_inj_param_ops = {
	.set = kvs_inj_param_set,
	.get = kvs_inj_param_get,
};

module_param_cb(inject, &kvs_inj_param_ops, NULL, 0600);
MODULE_PARM_DESC(inject,
		 "fault injection: SITE:nth=N|every=N|percent=P[:times=T][:seed=S],... (sites: area maple rbnode chunk page pte ksym)");

/* === debugfs: inject === */

static int inject_show(struct seq_file *m, void *v)
{
	struct kvs_inj snap[KVS_INJ_NR];
	int i;

	spin_lock(&kvs_inj_lock);
	memcpy(snap, kvs_inj, sizeof(snap));
	spin_unlock(&kvs_inj_lock);
	for (i = 0; i < KVS_INJ_NR; i++)
		seq_printf(m, "%s mode=%s n=%lu times=%lu seed=%llu calls=%lu hits=%lu total_hits=%lu\n",
			   kvs_inj_names[i], kvs_inj_modes[snap[i].mode],
			   snap[i].n, snap[i].times, snap[i].seed,
			   snap[i].calls, snap[i].hits, snap[i].total);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(inject);

/**
 * kvs_inject_debugfs() - create the read-only "inject" file in @dir.
 * @dir: kvashim's debugfs directory.
 */
void kvs_inject_debugfs(struct dentry *dir)
{
	debugfs_create_file("inject", 0400, dir, NULL, &inject_fops);
}
