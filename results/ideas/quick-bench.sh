#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The quick bench of results/ideas (README section 7): a few single-thread
# workloads on maple, maple-rfc and rbtree, one run.  Run it in a guest:
#   tests/vm/run.sh --series 6.1 --arch amd64 --icount --mem 4G -- bash results/ideas/quick-bench.sh
# QB_W, QB_T, QB_X: other workloads, targets, extra bench words.
insmod "$KVS_KO" || exit 1
D=/sys/kernel/debug/kvashim
exec 3<>$D/control
printf '%s' "bench workload=${QB_W:-fix_size_alloc,full_fit_alloc,long_busy_list_alloc,random_size_alloc,fix_align_alloc,random_size_align_alloc,xcpu_storm} target=${QB_T:-maple,maple-rfc,rbtree} reps=3 loops=2000 busy=15000 ${QB_X:-}" >&3
echo "rc=$?"
cat <&3
cat $D/results
exec 3>&-
rmmod kvashim
