# tree.sh - the file tree workload of the mounted daemon tests
# (tests/fuse/mounted.sh, tests/fuse/fuse317.sh) and the manifest their
# trees are compared by (sourced, bash).  The same workload on the same
# daemon without the shim and with it must leave equal manifests.

# fsr_tree_data DIR: the workload's input files (deterministic)
fsr_tree_data() {
	seq 1 200000 > "$1/blob"                 # ~1.2 MB
	head -c 65536 "$1/blob" > "$1/small"
}

# fsr_tree_workload DIR DATA: mkdir, big copy, rename, truncate, unlink,
# symlink, chmod, fsync'd writes, 4 parallel appenders, rmdir, in DIR
# (on the mount); DATA holds fsr_tree_data's files.  Stops at the first
# failing step (status != 0).
fsr_tree_workload() {
	local W=$1 D=$2 i
	set -e
	mkdir "$W/d1" "$W/d2"
	cp "$D/blob" "$W/big"
	cmp "$D/blob" "$W/big"
	printf 'hello world\n' > "$W/d1/f1"
	cat "$W/d1/f1" > /dev/null
	mv "$W/d1/f1" "$W/d2/f2"
	truncate -s 12345 "$W/big"
	cp "$D/small" "$W/tmp1"; rm "$W/tmp1"
	ln -s ../big "$W/d1/lnk"
	chmod 600 "$W/d2/f2"
	dd if="$D/small" of="$W/synced" bs=4096 conv=fsync status=none
	sync "$W/synced"
	ls -laR "$W" > /dev/null
	for i in 1 2 3 4; do
		( for j in 1 2 3 4 5 6 7 8; do cat "$D/small" >> "$W/par$i"; done; sync "$W/par$i" ) &
	done
	wait
	mkdir "$W/d3"; rmdir "$W/d3"
	cat "$W/big" "$W/par1" > "$W/d1/cat"
	set +e
}

# fsr_tree_manifest DIR: names, types, modes, link targets, checksums and
# sizes of everything under DIR, sorted (stdout)
fsr_tree_manifest() {
	( cd "$1" && find . -mindepth 1 -printf '%y %p %m %l\n' | sort &&
	  find . -type f -print0 | sort -z | xargs -0 -r md5sum && find . -type f -printf '%s %p\n' | sort )
}
