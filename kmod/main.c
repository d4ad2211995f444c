// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: a maple-tree KVA allocator over a private vmalloc range.
 *
 * At load the module reserves one range of the vmalloc space with
 * get_vm_area() and indexes it with the selected backend; everything it
 * hands out comes from that range, so it can be driven, measured and
 * broken without touching the kernel's own allocator.  At unload every
 * live area is freed and the range is given back.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sizes.h>
#include <linux/vmalloc.h>

#include "arena.h"
#include "bench.h"
#include "compat.h"
#include "debugfs.h"
#include "ksym.h"
#include "layout.h"
#include "replay.h"
#include "selftest.h"

#define KVS_VERSION "0.1.0"

/* === Parameters === */

/* 10^6 live 4 KiB areas, each with its guard page, need 8e9 bytes. */
static unsigned long arena_size = 8UL << 30;

static int kvs_set_size(const char *val, const struct kernel_param *kp)
{
	unsigned long size;
	char *end;

	size = memparse(val, &end);
	if (*end && *end != '\n')
		return -EINVAL;
	if (size < PAGE_SIZE || size > (ULONG_MAX >> 1))
		return -ERANGE;
	*(unsigned long *)kp->arg = PAGE_ALIGN(size);
	return 0;
}

static const struct kernel_param_ops kvs_size_ops = {
	.set = kvs_set_size,
	.get = param_get_ulong,
};

module_param_cb(arena_size, &kvs_size_ops, &arena_size, 0444);
MODULE_PARM_DESC(arena_size,
		 "bytes of vmalloc space to reserve, K/M/G suffixes (default 8G)");

static char *backend = "maple";
module_param(backend, charp, 0444);
MODULE_PARM_DESC(backend,
		 "index at load: maple (default), maple-rfc, maple-dual, rbtree, list");

static bool guard = true;
module_param(guard, bool, 0444);
MODULE_PARM_DESC(guard, "put a guard page after each area (default Y)");

static bool pcpu = true;
module_param(pcpu, bool, 0444);
MODULE_PARM_DESC(pcpu, "serve small requests from per-CPU chunks (default Y)");

/*
 * A chunk indexes its areas in an array of one pointer per page, allocated
 * at every refill: 1G keeps it at 2 MiB with 4 KiB pages, where a larger
 * chunk would make kvcalloc() ask for more than it allows (INT_MAX bytes,
 * and a WARN) long before the arena's eighth stops it.
 */
#define KVS_CHUNK_MAX	SZ_1G

static unsigned long chunk_size = KVS_CHUNK_DEFAULT;
module_param_cb(chunk_size, &kvs_size_ops, &chunk_size, 0444);
MODULE_PARM_DESC(chunk_size,
		 "bytes per per-CPU chunk (default 64M; at most 1G and arena_size/8)");

/* === Load and unload === */

static struct kvs_arena kvs_arena;

/*
 * Sizes the parameter parser cannot judge alone, refused with one line:
 * the arena must fit the architecture's vmalloc space (what is free of it
 * is for get_vm_area() to say), and a chunk its slot array.
 */
static int kvs_check_sizes(void)
{
	if (arena_size > VMALLOC_TOTAL) {
		pr_warn("arena_size %lu exceeds the vmalloc space (%lu bytes)\n",
			arena_size, (unsigned long)VMALLOC_TOTAL);
		return -ERANGE;
	}
	if (chunk_size > KVS_CHUNK_MAX) {
		pr_warn("chunk_size %lu exceeds 1G: its slot array would be too large\n",
			chunk_size);
		return -ERANGE;
	}
	return 0;
}

/*
 * Not inlined into the __init caller: /proc/vmallocinfo names the range by
 * its caller's address, which must stay valid after init memory is freed.
 */
static noinline int kvs_reserve(struct kvs_arena *a, unsigned long size)
{
	a->vm = kvs_ksym.get_vm_area(size, 0);
	if (!a->vm) {
		pr_warn("cannot reserve %lu bytes of vmalloc space for the arena\n",
			size);
		return -ENOMEM;
	}
	a->base = (unsigned long)a->vm->addr;
	a->size = size;
	return 0;
}

static int __init kvs_init(void)
{
	const struct kvs_backend *be = kvs_backend_by_name(backend);
	int err;

	if (!be) {
		pr_warn("unknown backend \"%s\"\n", backend);
		return -EINVAL;
	}
	err = kvs_check_sizes();
	if (err)
		return err;
	err = kvs_ksym_init();
	if (err)
		return err;
	err = kvs_areas_init();
	if (err)
		return err;
	err = kvs_reserve(&kvs_arena, arena_size);
	if (err)
		goto areas_exit;
	kvs_arena.chunk_size = pcpu ? chunk_size : 0;
	err = kvs_arena_create(&kvs_arena, be, guard);
	if (err) {
		pr_err("cannot set up the %s backend (%d)\n", be->name, err);
		goto unreserve;
	}
	/* Armed fault sites apply to this arena alone. */
	kvs_arena.faults = true;
	kvs_debugfs_init(&kvs_arena);
	pr_info("%lu MiB arena indexed by %s\n", arena_size >> 20, be->name);
	return 0;

unreserve:
	free_vm_area(kvs_arena.vm);
areas_exit:
	kvs_areas_exit();
	return err;
}

static void __exit kvs_exit(void)
{
	unsigned long live;

	kvs_debugfs_exit();
	live = kvs_arena_destroy(&kvs_arena);
	free_vm_area(kvs_arena.vm);
	kvs_areas_exit();
	kvs_selftest_exit();
	kvs_bench_exit();
	kvs_layout_exit();
	kvs_replay_exit();
	if (live)
		pr_info("unloaded with %lu live areas; all freed\n", live);
}

module_init(kvs_init);
module_exit(kvs_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Maple-tree KVA allocator over a private vmalloc range, with switchable backends");
MODULE_AUTHOR("kvashim developers");
MODULE_VERSION(KVS_VERSION);
