#!/bin/sh
# Lock-heavy daemons at the default options against the plain daemon:
# fuse-overlayfs (required by issue 15) and libfuse3's high-level
# passthrough (its path locks), 2000 files created, stat()ed, unlinked.
# Target: <= 1.05x of plain.
d=$(dirname "$0")
"$d/fs.sh" fuse-overlayfs meta; a=$?
"$d/fs.sh" passthrough meta; b=$?
[ $a = 0 ] && [ $b = 0 ]
