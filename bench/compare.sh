#!/usr/bin/env bash
# bench/compare.sh: benchmark nobodd-go side by side with Debian's
# tftpd-hpa, dnsmasq and atftpd on one machine, and write a markdown table
# of medians over repetitions, with ratios to nobodd-go.
#
# Usage (as root, from anywhere; Debian 12 or similar):
#
#   bench/compare.sh [--quick] [--reps N] [--out FILE] [--servers "a b ..."] [--keep]
#
#   --quick    small files, few load points, one repetition: a smoke test
#              that takes seconds, for CI. Prints the table; writes FILE
#              only when --out is given.
#   --reps N   repetitions of every load point (default 3; 1 with --quick).
#   --out FILE where the markdown goes (default docs/benchmarks.md of this
#              repository; with --quick, standard output only).
#   --servers  which servers to run, any of: nobodd-go tftpd-hpa dnsmasq
#              atftpd floor floor-uring floor-poll (default all seven).
#   --keep     keep the work directory (payload, raw JSON lines, logs).
#   --only RE  run only the load points whose name matches the extended
#              regular expression RE (e.g. 'blksize 65464$' or 'Pi 4').
#
# What it does:
#  1. Installs what is missing with apt-get: tftpd-hpa, dnsmasq-base (the
#     binary without the system service), dosfstools, mtools, fdisk,
#     iproute2. A policy-rc.d that forbids starting services is in place
#     during the install, so no package starts a daemon on port 69 or 53.
#     atftpd conflicts with tftpd-hpa as a Debian package, so it is fetched
#     with "apt-get download" and unpacked with "dpkg-deb -x" into the work
#     directory, and run from there; it is skipped if a library it needs is
#     missing.
#  2. Builds, with the Go toolchain, from this repository: cmd/nobodd-go
#     (the server, and the load tool as "nobodd-go bench") and
#     bench/tabulate (the markdown table).
#  3. Builds one payload: a Pi-like disk image (MBR; partition 1 FAT, type
#     0x0c, holding the files; partition 2 an empty Linux partition) for
#     nobodd-go, and the same files in a directory for the others. The files
#     are a Pi 4 boot directory (start4.elf, fixup4.dat, config.txt,
#     cmdline.txt, the dtb, overlays, kernel8.img, initrd.img) plus big.bin
#     and loss.bin, with random contents. Every serial of SERIALS gets them
#     under its prefix: one --board per serial for nobodd-go, a symlink
#     SERIAL -> boot for the others.
#  4. Re-runs itself in a private network namespace (unshare --net) with
#     only a loopback interface, so no traffic leaves the machine and
#     dnsmasq, whose TFTP server cannot listen elsewhere than port 69, uses
#     a port 69 nobody else can see. The other servers listen on 6969.
#     (The namespace also holds a veth pair connected to nothing, only so
#     that in.tftpd can resolve 127.0.0.1: see the comment below.)
#  5. For every repetition, load point and server (interleaved, to spread
#     the machine's noise): starts the server in the foreground in a fresh
#     cgroup (v2 under /sys/fs/cgroup, or v1 cpuacct and memory, whichever
#     is writable; otherwise measured by PID and descendants), runs the
#     load tool with --json against 127.0.0.1, stops the server. The
#     server's CPU time is the cgroup's (or the process tree's), its peak
#     memory the cgroup's memory.peak / max_usage_in_bytes (or VmHWM and
#     sampled RSS of the tree).
#  6. Writes the table: medians over the repetitions.
#
# floor, floor-uring and floor-poll (bench/floor) are not servers to use but
# reference points: the least a TFTP server with one socket per transfer can
# make the kernel do per block, with epoll, with io_uring and with poll (as
# dnsmasq waits), and no work in user space (data sent from an mmap of the
# file, no timers, no logs, no retransmission but on a repeated ACK). They run only at the storm points
# (200 transfers, 100 boots), where CPU per GB is the target, so that the
# table shows how far below every real server the kernel's own cost lies.
# They are built with gcc (floor-poll is floor.c with -DFLOOR_POLL);
# floor-uring needs liburing-dev.
#
# One CPU: the points whose name ends in ", one CPU" run the server and the
# load tool on CPU 0 only (taskset -c 0; a Go program then also sets
# GOMAXPROCS to 1). Unpinned, a single lock-step transfer on a virtual
# machine is fast only while the kernel keeps client and server on one CPU:
# when it puts them on two, every block wakes an idle virtual CPU, which
# costs a trip through the hypervisor, and the same server measures 5-7x
# slower from one run to the next (docs/benchmarks.md shows the draws).
# Pinned, the figures repeat within a few per cent, and the throughput of a
# storm measures the CPU client and server spend per block together.
#
# Servers' limits on concurrent transfers are raised (dnsmasq --tftp-max,
# atftpd --maxthread) so that the load, not a configured cap, is measured.
# Everything else is each server's default.
set -euo pipefail

QUICK=0
REPS=
OUT=
SERVERS="nobodd-go tftpd-hpa dnsmasq atftpd floor floor-uring floor-poll"
KEEP=0
ONLY=
INNER=0
PIN=() # the command prefix that pins a point's processes (run_point)
WORK=
SERIALS="c0ffee01 c0ffee02 c0ffee03 c0ffee04 c0ffee05 c0ffee06 c0ffee07 c0ffee08"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() { echo "compare.sh: $*" >&2; exit 1; }
log() { echo "compare.sh: $*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--reps) REPS=$2; shift ;;
	--out) OUT=$2; shift ;;
	--servers) SERVERS=$2; shift ;;
	--keep) KEEP=1 ;;
	--only) ONLY=$2; shift ;;
	--inner) INNER=1 ;;
	--work) WORK=$2; shift ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; /^set -e/d'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
	shift
done
if [ -z "$REPS" ]; then
	if [ $QUICK = 1 ]; then REPS=1; else REPS=3; fi
fi
case $REPS in ''|*[!0-9]*|0) die "--reps $REPS: want a positive number" ;; esac
if [ -n "$OUT" ]; then
	case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
elif [ $QUICK = 0 ]; then
	OUT=$REPO/docs/benchmarks.md
fi

# ---------------------------------------------------------------- outside
if [ $INNER = 0 ]; then
	[ "$(id -u)" = 0 ] || die "run as root: it installs packages, makes cgroups and a network namespace"
	command -v go >/dev/null || die "the Go toolchain is needed to build nobodd-go and the helpers"
	command -v unshare >/dev/null || die "unshare (util-linux) is needed"
	WORK=$(mktemp -d /tmp/nobodd-bench.XXXXXX)
	chmod 755 "$WORK"
	trap 'rm -rf "$WORK"' EXIT # until the exec below hands it over
	log "work directory $WORK"

	# 1. Packages.
	need=()
	command -v in.tftpd >/dev/null || need+=(tftpd-hpa)
	command -v dnsmasq >/dev/null || need+=(dnsmasq-base)
	command -v mkfs.vfat >/dev/null || need+=(dosfstools)
	command -v mcopy >/dev/null || need+=(mtools)
	command -v sfdisk >/dev/null || need+=(fdisk)
	command -v ip >/dev/null || need+=(iproute2)
	case " $SERVERS " in *" floor"*)
		command -v gcc >/dev/null || need+=(gcc libc6-dev)
		[ -e /usr/include/liburing.h ] || need+=(liburing-dev)
	esac
	if [ ${#need[@]} -gt 0 ]; then
		log "installing ${need[*]}"
		made_policy=0
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
			chmod 755 /usr/sbin/policy-rc.d
			made_policy=1
		fi
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >&2
		apt-get install -y -q --no-install-recommends "${need[@]}" >&2
		if [ $made_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
	fi
	case " $SERVERS " in *" atftpd "*)
		mkdir -p "$WORK/atftpd"
		chmod 777 "$WORK/atftpd" # apt's _apt user downloads into it
		if (cd "$WORK/atftpd" && apt-get download -q atftpd >&2) &&
			dpkg-deb -x "$WORK"/atftpd/atftpd_*.deb "$WORK/atftpd/x" &&
			! ldd "$WORK/atftpd/x/usr/sbin/atftpd" | grep -q 'not found'; then
			log "atftpd $(dpkg-deb -f "$WORK"/atftpd/atftpd_*.deb Version) unpacked"
		else
			log "atftpd unavailable (download, unpack or libraries failed): skipped"
			SERVERS=$(echo " $SERVERS " | sed 's/ atftpd / /')
		fi
	esac

	# 2. Binaries.
	mkdir -p "$WORK/bin"
	(cd "$REPO" && go build -o "$WORK/bin/" ./bench/tabulate && go build -o "$WORK/bin/nobodd-go" ./cmd/nobodd-go) >&2
	case " $SERVERS " in *" floor "*)
		gcc -O2 -o "$WORK/bin/floor" "$REPO/bench/floor/floor.c" >&2 ||
			{ log "floor did not build: skipped"; SERVERS=$(echo " $SERVERS " | sed 's/ floor / /'); }
	esac
	case " $SERVERS " in *" floor-poll "*)
		gcc -O2 -DFLOOR_POLL -o "$WORK/bin/floor-poll" "$REPO/bench/floor/floor.c" >&2 ||
			{ log "floor-poll did not build: skipped"; SERVERS=$(echo " $SERVERS " | sed 's/ floor-poll / /'); }
	esac
	case " $SERVERS " in *" floor-uring "*)
		gcc -O2 -o "$WORK/bin/floor-uring" "$REPO/bench/floor/floor-uring.c" -luring >&2 ||
			{ log "floor-uring did not build: skipped"; SERVERS=$(echo " $SERVERS " | sed 's/ floor-uring / /'); }
	esac

	# 3. Payload. Sizes in bytes.
	if [ $QUICK = 1 ]; then
		BIG=$((1 << 20)) KERNEL=$((1 << 20)) INITRD=$((256 << 10)) LOSS=$((32 << 10)) START4=$((128 << 10)) FATMB=16
	else
		BIG=$((30 << 20)) KERNEL=$((9 << 20)) INITRD=$((8 << 20)) LOSS=2200000 START4=$((2200 << 10)) FATMB=96
	fi
	BOOT=$WORK/root/boot
	mkdir -p "$BOOT/overlays"
	mk() { head -c "$2" /dev/urandom >"$BOOT/$1"; }
	mk start4.elf "$START4"
	mk fixup4.dat 5400
	mk bcm2711-rpi-4-b.dtb 52000
	mk overlays/overlay_map.dtb 3100
	mk overlays/vc4-kms-v3d-pi4.dtbo 4200
	mk overlays/disable-bt.dtbo 1100
	mk kernel8.img "$KERNEL"
	mk initrd.img "$INITRD"
	mk big.bin "$BIG"
	mk loss.bin "$LOSS"
	printf '[all]\narm_64bit=1\nkernel=kernel8.img\ninitramfs initrd.img followkernel\ndtoverlay=vc4-kms-v3d-pi4\ndtoverlay=disable-bt\n' >"$BOOT/config.txt"
	printf 'console=serial0,115200 root=/dev/nfs rootwait\n' >"$BOOT/cmdline.txt"
	chmod -R a+rX "$WORK/root"
	for s in $SERIALS; do ln -s boot "$WORK/root/$s"; done
	fatargs=()
	if [ $FATMB -ge 64 ]; then fatargs=(-F 32); fi
	mkfs.vfat "${fatargs[@]}" -n BOOT -C "$WORK/fat.img" $((FATMB * 1024)) >/dev/null
	MTOOLS_SKIP_CHECK=1 mcopy -s -i "$WORK/fat.img" "$BOOT"/* ::/
	truncate -s $((1 + FATMB + 4))M "$WORK/pi.img"
	printf 'label: dos\nstart=2048, size=%d, type=c\ntype=83\n' $((FATMB * 2048)) | sfdisk -q "$WORK/pi.img"
	dd if="$WORK/fat.img" of="$WORK/pi.img" bs=1M seek=1 conv=notrunc status=none
	rm "$WORK/fat.img"

	# 4. The rest in a private network namespace.
	args=(--inner --work "$WORK" --reps "$REPS" --servers "$SERVERS")
	[ $QUICK = 1 ] && args+=(--quick)
	[ $KEEP = 1 ] && args+=(--keep)
	[ -n "$OUT" ] && args+=(--out "$OUT")
	[ -n "$ONLY" ] && args+=(--only "$ONLY")
	exec unshare --net bash "${BASH_SOURCE[0]}" "${args[@]}"
fi

# ---------------------------------------------------------------- inside
[ -n "$WORK" ] && [ -d "$WORK" ] || die "--inner needs --work"
ip link set lo up
# in.tftpd resolves its -a address with AI_ADDRCONFIG, which glibc refuses
# when no interface but lo has an address: give it a veth pair, connected
# to nothing outside this namespace, with a TEST-NET-1 address.
if ip link add nbench0 type veth peer name nbench1 2>/dev/null; then
	ip addr add 192.0.2.1/32 dev nbench0
	ip link set nbench0 up
	ip link set nbench1 up
else
	log "no veth pair: in.tftpd may fail to resolve 127.0.0.1"
fi
BIN=$WORK/bin
BOOT=$WORK/root/boot
RESULTS=$WORK/results.jsonl
: >"$RESULTS"
SERVER_PID=
CGDIRS=

BENCH=("$BIN/nobodd-go" bench)
: >"$WORK/empty.toml"

# Cgroups: v2 if it has a memory controller to offer, else v1.
CGMODE=pid
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
	if mkdir /sys/fs/cgroup/nobodd-bench-probe-$$ 2>/dev/null; then
		CGMODE=v2
		rmdir /sys/fs/cgroup/nobodd-bench-probe-$$
	fi
elif [ -d /sys/fs/cgroup/cpuacct ] && [ -d /sys/fs/cgroup/memory ] &&
	mkdir /sys/fs/cgroup/cpuacct/nobodd-bench-probe-$$ 2>/dev/null; then
	rmdir /sys/fs/cgroup/cpuacct/nobodd-bench-probe-$$
	if mkdir /sys/fs/cgroup/memory/nobodd-bench-probe-$$ 2>/dev/null; then
		CGMODE=v1
		rmdir /sys/fs/cgroup/memory/nobodd-bench-probe-$$
	fi
fi
log "server measurement: $CGMODE"

cg_make() { # name: sets CGDIRS (comma-separated), empty in pid mode
	local n=nobodd-bench-$$-$1
	case $CGMODE in
	v2) mkdir /sys/fs/cgroup/$n && CGDIRS=/sys/fs/cgroup/$n ;;
	v1) mkdir /sys/fs/cgroup/cpuacct/$n /sys/fs/cgroup/memory/$n &&
		CGDIRS=/sys/fs/cgroup/cpuacct/$n,/sys/fs/cgroup/memory/$n ;;
	*) CGDIRS= ;;
	esac
}

cg_remove() {
	local d p
	[ -n "$CGDIRS" ] || return 0
	for d in ${CGDIRS//,/ }; do
		# Children the server left behind, by their PIDs.
		for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
	done
	for d in ${CGDIRS//,/ }; do
		for _ in $(seq 50); do rmdir "$d" 2>/dev/null && break; sleep 0.1; done
	done
	CGDIRS=
}

port_ready() { # port: whether a UDP socket listens on it (this namespace)
	local hex
	hex=$(printf ':%04X ' "$1")
	grep -q "$hex" /proc/net/udp /proc/net/udp6 2>/dev/null
}

start_server() { # name: sets SERVER_PID and ADDR
	local name=$1 port=6969 cmd=() s
	case $name in
	nobodd-go)
		cmd=("$BIN/nobodd-go" --config "$WORK/empty.toml" --listen 127.0.0.1 --port $port)
		for s in $SERIALS; do cmd+=(--board "$s,$WORK/pi.img"); done ;;
	tftpd-hpa) cmd=(in.tftpd -L -a 127.0.0.1:$port -s "$WORK/root") ;;
	dnsmasq)
		port=69
		cmd=(dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --enable-tftp
			--tftp-root="$WORK/root" --listen-address=127.0.0.1 --bind-interfaces
			--pid-file= --log-facility=/dev/null --tftp-max=10000) ;;
	atftpd)
		cmd=("$WORK/atftpd/x/usr/sbin/atftpd" --daemon --no-fork --port $port
			--bind-address 127.0.0.1 --user root --group root --logfile /dev/null
			--maxthread 10000 "$WORK/root") ;;
	floor) cmd=("$BIN/floor" "$WORK/root" $port) ;;
	floor-uring) cmd=("$BIN/floor-uring" "$WORK/root" $port) ;;
	floor-poll) cmd=("$BIN/floor-poll" "$WORK/root" $port) ;;
	*) die "unknown server $name" ;;
	esac
	cg_make "$name"
	(
		for d in ${CGDIRS//,/ }; do echo "$BASHPID" >"$d/cgroup.procs"; done
		exec "${PIN[@]}" "${cmd[@]}"
	) >>"$WORK/$name.log" 2>&1 &
	SERVER_PID=$!
	ADDR=127.0.0.1:$port
	for _ in $(seq 100); do
		port_ready $port && return 0
		kill -0 $SERVER_PID 2>/dev/null || break
		sleep 0.05
	done
	die "$name did not start listening on $ADDR (see $WORK/$name.log)"
}

stop_server() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
	cg_remove
}

cleanup() {
	stop_server
	if [ $KEEP = 0 ]; then rm -rf "$WORK"; else log "kept $WORK"; fi
}
trap cleanup EXIT

run_point() { # rep id warm args...: one load point against every server
	local rep=$1 id=$2 warm=$3 s meas
	shift 3
	if [ -n "$ONLY" ] && ! printf '%s\n' "$id" | grep -Eq -- "$ONLY"; then return 0; fi
	# A point named "..., one CPU" runs the server and the load tool on
	# CPU 0 only (taskset): see the header.
	PIN=()
	case $id in *", one CPU") PIN=(taskset -c 0) ;; esac
	for s in $SERVERS; do
		case $s in floor*)
			printf '%s\n' "$id" | grep -Eq "$FLOOR_POINTS" || continue
		esac
		start_server "$s"
		# One untimed read of the warm-up file first, so that every server
		# is measured warm (code paths, caches), as in a boot storm.
		"${PIN[@]}" "${BENCH[@]}" --file "$warm" --count 1 --file-timeout 10s "$ADDR" >/dev/null 2>>"$WORK/bench.log" ||
			log "$s: warm-up read of $warm failed"
		if [ -n "$CGDIRS" ]; then meas=(--cgroup "$CGDIRS"); else meas=(--pid "$SERVER_PID"); fi
		"${PIN[@]}" "${BENCH[@]}" --json --tag "server=$s" --tag "point=$id" --tag "rep=$rep" \
			"${meas[@]}" "$@" "$ADDR" >>"$RESULTS" 2>>"$WORK/bench.log" || true
		stop_server
	done
}

FLOOR_POINTS='^(200|10) × (9 MiB|1 MiB) kernel|^(100|5) × Pi 4 boot'
S0=${SERIALS%% *}
SERIAL_LIST=${SERIALS// /,}
if [ $QUICK = 1 ]; then
	BLKSIZES="512 65464" WINDOWS="8" CONCS="10" BOOTS="5" DEADLINE=60s
	BIGNAME="1 MiB" KNAME="1 MiB kernel" LNAME="32 KiB"
else
	BLKSIZES="512 1468 8192 65464" WINDOWS="8 16" CONCS="1 10 50 200" BOOTS="1 20 100" DEADLINE=10m
	BIGNAME="30 MiB" KNAME="9 MiB kernel" LNAME="2.2 MB"
fi
# single_points rep suffix: the single-transfer points of the 30 MiB file,
# their names ending in suffix.
single_points() {
	local rep=$1 sfx=$2 b w
	for b in $BLKSIZES; do
		run_point "$rep" "1 × $BIGNAME, blksize $b$sfx" "$S0/big.bin" --file "$S0/big.bin" --blksize "$b" --count 1 --deadline $DEADLINE
	done
	for w in $WINDOWS; do
		run_point "$rep" "1 × $BIGNAME, blksize 1468, window $w$sfx" "$S0/big.bin" --file "$S0/big.bin" --blksize 1468 --windowsize "$w" --count 1 --deadline $DEADLINE
	done
}

started=$(date -u +%s)
for rep in $(seq "$REPS"); do
	log "repetition $rep of $REPS"
	single_points "$rep" ""
	for c in $CONCS; do
		run_point "$rep" "$c × $KNAME, blksize 1468" "$S0/kernel8.img" --file "$S0/kernel8.img" --blksize 1468 --concurrency "$c" --deadline $DEADLINE
	done
	for c in $BOOTS; do
		run_point "$rep" "$c × Pi 4 boot" "$S0/kernel8.img" --mode boots --model pi4 --serials "$SERIAL_LIST" --boot-dir "$BOOT" --concurrency "$c" --deadline $DEADLINE
	done
	# The single-transfer points and the largest storm again, with the
	# server and the load tool on CPU 0 only: see "One CPU" in the header.
	single_points "$rep" ", one CPU"
	run_point "$rep" "1 × $KNAME, blksize 1468, one CPU" "$S0/kernel8.img" --file "$S0/kernel8.img" --blksize 1468 --count 1 --deadline $DEADLINE
	c=${CONCS##* }
	run_point "$rep" "$c × $KNAME, blksize 1468, one CPU" "$S0/kernel8.img" --file "$S0/kernel8.img" --blksize 1468 --concurrency "$c" --deadline $DEADLINE
	# The client answers a resent copy of the block it last acknowledged
	# at once (its ACK was lost) and otherwise re-ACKs after its own
	# timeout, 250 ms here; so each lost packet costs the server's
	# retransmit timeout. It gives up after 20 retries (5 s of silence);
	# the Pi's 30 s bound the file.
	run_point "$rep" "$LNAME, blksize 1024, 5% loss" "$S0/loss.bin" --file "$S0/loss.bin" --blksize 1024 --loss 0.05 --seed "$rep" --timeout 250ms --retries 20 --count 1 --deadline $DEADLINE
done
elapsed=$(($(date -u +%s) - started))

# ---------------------------------------------------------------- report
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$REPO" status --porcelain 2>/dev/null)" ]; then commit="$commit (with uncommitted changes)"; fi
atftpd_ver=unknown
if ls "$WORK"/atftpd/atftpd_*.deb >/dev/null 2>&1; then atftpd_ver=$(dpkg-deb -f "$WORK"/atftpd/atftpd_*.deb Version); fi
report() {
	cat <<EOF
# nobodd-go benchmarks

Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`bench/compare.sh$([ $QUICK = 1 ] && echo ' --quick')$([ -n "$ONLY" ] && echo " --only '$ONLY'")\`,
$REPS repetition(s), in ${elapsed} s.

- Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'),
  kernel $(uname -r), $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME").
- nobodd-go: commit $commit, served by the daemon (\`nobodd-go --board SERIAL,IMAGE\`) out of a disk image.
- tftpd-hpa $(ver tftpd-hpa) (\`in.tftpd -L -s DIR\`), dnsmasq $(ver dnsmasq-base) (\`--enable-tftp --tftp-max=10000\`, on port 69 of a private network namespace),
  atftpd $atftpd_ver (\`--daemon --no-fork --maxthread 10000\`, unpacked from the .deb), serving a directory with the same files.
- Load: \`${BENCH[*]##*/}\`, the project's load tool, on the same machine, over loopback in a private network namespace; every byte checked by SHA-256.
  Server CPU time and peak memory: $(case $CGMODE in v2) echo "a cgroup v2 per server run (cpu.stat usage_usec, memory.peak)";; v1) echo "a cgroup v1 per server run (cpuacct.usage, memory.max_usage_in_bytes)";; *) echo "the server process and its descendants (/proc stat and VmHWM/VmRSS)";; esac).
  Each server is started afresh for each load point. A cgroup's peak memory is what its processes were charged:
  file pages already cached (the binaries, the payload written just before the runs) are charged elsewhere, so
  it is mostly anonymous memory and smaller than the processes' RSS; the PID-based fallback reports RSS instead.
  The daemon logs one line per transfer to a file; the other servers' logs go to /dev/null (or an absent syslog).

Throughput is the median over repetitions of all bytes received / wall time (MB = 10^6 bytes) for transfers,
boots completed per second for boots; × nobodd-go is that median divided by nobodd-go's. p50/p99 are medians
of the per-run completion-time percentiles of successful jobs. "agreed" is the block size / window size the
server granted (a server without windowsize support shows window 1 on the window points). Failures are summed
over repetitions. Each server reads the point's file (for boots, the kernel) once, untimed, before a point.
Points named "one CPU" run the server and the load tool on CPU 0 only (taskset -c 0): unpinned, a single
transfer on this virtual machine is fast only when the kernel happens to keep client and server on one CPU,
and swings 5-7× between runs for every server; pinned, it repeats, and a storm's throughput measures the CPU
that client and server spend per block together.
The loss point drops 5% of packets each way in a seeded relay inside the load tool, with the Pi's 30 s
per-file deadline; its throughput counts the bytes received by then even when the transfer timed out. Its
client re-ACKs at once a resent copy of the block it last acknowledged (its ACK was lost) and otherwise after
250 ms (giving up after 20 retries), so what a lost packet costs is each server's retransmit timeout.

EOF
	"$BIN/tabulate" --base nobodd-go <"$RESULTS"
}
if [ -n "$OUT" ]; then
	report >"$OUT"
	log "wrote $OUT"
fi
if [ $QUICK = 1 ] || [ -z "$OUT" ]; then
	report
fi
