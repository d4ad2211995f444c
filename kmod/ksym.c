// SPDX-License-Identifier: GPL-2.0
/*
 * kvashim: resolve unexported kernel symbols through kallsyms.
 *
 * kallsyms_lookup_name() itself is unexported since v5.7.  A kprobe
 * registered on it reports its address, which is all this needs: the
 * probe is removed again at once.  If any step fails the module refuses
 * to load with one line saying which symbol and why.  The "ksym" fault
 * injection site fails these steps on demand, so the refusals are tested
 * on kernels where every symbol is present.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kprobes.h>
#include <linux/module.h>

#include "compat.h"
#include "inject.h"
#include "ksym.h"

struct kvs_ksyms kvs_ksym;

typedef unsigned long (*kvs_lookup_fn)(const char *name);

static kvs_lookup_fn kvs_find_lookup(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	kvs_lookup_fn fn;
	int err;

	if (kvs_inject(KVS_INJ_KSYM)) {
		pr_err("cannot resolve kernel symbols: kprobe on kallsyms_lookup_name failed (injected)\n");
		return NULL;
	}
	err = register_kprobe(&kp);
	if (err) {
		pr_err("cannot resolve kernel symbols: kprobe on kallsyms_lookup_name failed (%d); is CONFIG_KPROBES set?\n",
		       err);
		return NULL;
	}
	fn = (kvs_lookup_fn)kp.addr;
	unregister_kprobe(&kp);
	return fn;
}

static void *kvs_resolve(kvs_lookup_fn lookup, const char *name)
{
	void *addr = (void *)lookup(name);

	if (!addr || kvs_inject(KVS_INJ_KSYM)) {
		pr_err("cannot resolve kernel symbol %s: %s\n", name,
		       addr ? "lookup failed (injected)" : "not in kallsyms");
		return NULL;
	}
	if (!kvs_callable(addr)) {
		pr_err("cannot call kernel symbol %s: no indirect-branch landing pad (IBT sealed it)\n",
		       name);
		return NULL;
	}
	return addr;
}

/**
 * kvs_ksym_init() - resolve every symbol in struct kvs_ksyms.
 * Return: 0, or -ENOENT after logging the one symbol that failed.
 */
int kvs_ksym_init(void)
{
	kvs_lookup_fn lookup = kvs_find_lookup();

	if (!lookup)
		return -ENOENT;
	kvs_ksym.get_vm_area = kvs_resolve(lookup, "get_vm_area");
	if (!kvs_ksym.get_vm_area)
		return -ENOENT;
	/*
	 * Data symbols are in kallsyms only with CONFIG_KALLSYMS_ALL, which
	 * Debian's arm64 6.1 lacks: without init_mm, map through mm's own
	 * vmalloc helpers, which are functions.
	 */
	kvs_ksym.init_mm = (struct mm_struct *)lookup("init_mm");
	if (!kvs_ksym.init_mm) {
		kvs_ksym.vmap_pages_range_noflush =
			kvs_resolve(lookup, "vmap_pages_range_noflush");
		kvs_ksym.vunmap_range_noflush =
			kvs_resolve(lookup, "vunmap_range_noflush");
		if (!kvs_ksym.vmap_pages_range_noflush ||
		    !kvs_ksym.vunmap_range_noflush)
			return -ENOENT;
	}
	if (KVS_FLUSH_TLB_KERNEL_OUT_OF_LINE) {
		kvs_ksym.flush_tlb_kernel_range =
			kvs_resolve(lookup, "flush_tlb_kernel_range");
		if (!kvs_ksym.flush_tlb_kernel_range)
			return -ENOENT;
	}
	return 0;
}
