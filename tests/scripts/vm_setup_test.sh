#!/bin/bash
# deploy/nva-vm-setup against a fake sysfs tree and a fake kernel
# (fake_sysfs.py: bind/unbind move the driver link or fail as Linux does):
# dry run changes nothing, a run moves the data NIC to uio_hv_generic and
# reserves hugepages, a second run changes nothing, --revert gives it back;
# a refused bind is undone; a kernel without driver_override gets new_id
# (and remove_id on undo); wrong devices and short hugepages are refused.
set -uo pipefail
root_dir="$1"
setup="$root_dir/deploy/nva-vm-setup"
fake="$(cd "$(dirname "$0")" && pwd)/fake_sysfs.py"
tmp=$(mktemp -d /tmp/nva-vm-setup-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0 passes=0
DATA=6f1e7c3a-0d2b-4c59-9a43-1b2c3d4e5f60
MGMT=00112233-4455-6677-8899-aabbccddeeff
DISK=ba6163d9-04a1-4d29-b605-72e2ffb1dc7f  # a storvsc class

cat >"$tmp/writer" <<EOF
#!/bin/sh
exec python3 "$fake" write "\$@"
EOF
chmod +x "$tmp/writer"
export NVA_SYSFS_WRITER="$tmp/writer"

check() {  # NAME COND...
  local name=$1
  shift
  if "$@"; then
    passes=$((passes + 1))
    echo "ok: $name"
  else
    failures=$((failures + 1))
    echo "FAIL: $name"
  fi
}
fresh() {  # NAME [make options]: a new fake machine in $t
  t="$tmp/$1"
  shift
  python3 "$fake" make "$t" "nvatest-data0:$DATA" "nvatest-mgmt0:$MGMT" \
    "nvatest-disk0:$DISK:$DISK" "$@" || exit 1
}
run() {  # ARGS...: the script on $t; output in $out, status in $rc
  out=$("$setup" --sysfs "$t/sys" --proc "$t/proc" --no-modprobe "$@" 2>&1)
  rc=$?
  echo "$out" | sed 's/^/    /'
}
driver() { basename "$(readlink "$t/sys/bus/vmbus/devices/$1/driver")" 2>/dev/null; }
writes() { [ -f "$t/writes.log" ] && wc -l <"$t/writes.log" || echo 0; }
has() { grep -q -- "$1" <<<"$out"; }
fails_with() { [ "$rc" -eq 1 ] && has "$1"; }  # MESSAGE
on() { [ "$(driver "$1")" = "$2" ]; }          # UUID DRIVER

# --- dry run ---------------------------------------------------------------
fresh dry
run --nic nvatest-data0 --dry-run
check "dry run: exit 0" [ "$rc" -eq 0 ]
check "dry run: says each write" has "would write 'uio_hv_generic' to .*/devices/$DATA/driver_override"
check "dry run: unbind from hv_netvsc shown" has "would write '$DATA' to .*/drivers/hv_netvsc/unbind"
check "dry run: nothing written" [ "$(writes)" -eq 0 ]
check "dry run: still on hv_netvsc" [ "$(driver $DATA)" = hv_netvsc ]

# --- a run, then again, then revert -------------------------------------------
fresh run
run --nic nvatest-data0 --hugepages 512
check "run: exit 0" [ "$rc" -eq 0 ]
check "run: data NIC on uio_hv_generic" [ "$(driver $DATA)" = uio_hv_generic ]
check "run: management NIC untouched" [ "$(driver $MGMT)" = hv_netvsc ]
check "run: 512 hugepages" [ "$(cat "$t/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")" = 512 ]
check "run: driver_override set" [ "$(cat "$t/sys/bus/vmbus/devices/$DATA/driver_override")" = uio_hv_generic ]
check "run: writes in order (hugepages, override, unbind, bind)" \
  diff <(cut -d' ' -f1 "$t/writes.log") <(printf '%s\n' \
    /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages \
    "/sys/bus/vmbus/devices/$DATA/driver_override" \
    /sys/bus/vmbus/drivers/hv_netvsc/unbind /sys/bus/vmbus/drivers/uio_hv_generic/bind)
n=$(writes)
run --nic nvatest-data0 --hugepages 512
check "again: exit 0" [ "$rc" -eq 0 ]
check "again: says already" has "already on uio_hv_generic"
check "again: hugepages already" has "hugepages: already 512"
check "again: no write" [ "$(writes)" -eq "$n" ]
run --vmbus-id "$DATA" --revert
check "revert: exit 0" [ "$rc" -eq 0 ]
check "revert: back on hv_netvsc" [ "$(driver $DATA)" = hv_netvsc ]
check "revert: driver_override cleared" [ -z "$(cat "$t/sys/bus/vmbus/devices/$DATA/driver_override")" ]
run --vmbus-id "$DATA" --revert
check "revert again: already" has "already on hv_netvsc"

# --- the kernel refuses the bind: everything undone -------------------------------
fresh refuse
echo uio_hv_generic >"$t/refuse"
run --nic nvatest-data0 --hugepages 0
check "refused bind: exit 1" [ "$rc" -eq 1 ]
check "refused bind: says so" has "cannot bind to uio_hv_generic"
check "refused bind: back on hv_netvsc" [ "$(driver $DATA)" = hv_netvsc ]
check "refused bind: driver_override cleared" [ -z "$(cat "$t/sys/bus/vmbus/devices/$DATA/driver_override")" ]

# --- a kernel without driver_override: new_id, removed again on failure ------------
fresh newid --no-override
run --nic nvatest-data0 --hugepages 0
check "new_id: exit 0" [ "$rc" -eq 0 ]
check "new_id: on uio_hv_generic" [ "$(driver $DATA)" = uio_hv_generic ]
check "new_id: the netvsc class added" grep -q f8615163-df3e-46c5-913f-f2d2f965ed0e "$t/sys/bus/vmbus/drivers/uio_hv_generic/new_id"
fresh newid-refused --no-override
echo uio_hv_generic >"$t/refuse"
run --nic nvatest-data0 --hugepages 0
check "new_id refused: exit 1" [ "$rc" -eq 1 ]
check "new_id refused: back on hv_netvsc" on "$DATA" hv_netvsc
check "new_id refused: remove_id written" grep -q "drivers/uio_hv_generic/remove_id" "$t/writes.log"
check "new_id refused: class removed" [ -z "$(tr -d '\n' <"$t/sys/bus/vmbus/drivers/uio_hv_generic/new_id")" ]

# --- refusals before anything changes ------------------------------------------
fresh wrong
run --nic nvatest-nope0
check "unknown NIC: named" fails_with "no network interface 'nvatest-nope0'"
run --vmbus-id "$DISK"
check "not a NIC: the class named" fails_with "is class '$DISK', not a network device"
run --nic nvatest-data0 --vmbus-id "$MGMT"
check "NIC and id disagree: refused" fails_with "is VMBus device $DATA, not $MGMT"
run --nic nvatest-data0 --hugepages lots
check "bad --hugepages: named" fails_with "--hugepages: not a number"
check "refusals: nothing written" [ "$(writes)" -eq 0 ]

# --- the kernel gives fewer hugepages than asked -----------------------------------
fresh short --hugepage-cap 100
run --nic nvatest-data0 --hugepages 512
check "short hugepages: exit 1 with the fix" fails_with "the kernel gave 100 of 512"
check "short hugepages: put back" [ "$(cat "$t/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")" = 0 ]
check "short hugepages: NIC untouched" [ "$(driver $DATA)" = hv_netvsc ]

# --- the NIC with the default route is refused -------------------------------------
def=$(ip -o route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
if [ -n "$def" ]; then
  t="$tmp/default"
  python3 "$fake" make "$t" "$def:$DATA" || exit 1
  run --nic "$def" --hugepages 0
  check "default-route NIC ($def): refused" fails_with "carries the default route"
  check "default-route NIC: untouched" [ "$(driver $DATA)" = hv_netvsc ]
else
  echo "note: this machine has no default route; the management-NIC refusal is not exercised"
fi

echo "vm-setup: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
