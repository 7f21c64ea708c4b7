#!/usr/bin/env python3
"""A fake sysfs tree with VMBus NICs, and a fake kernel that applies writes
to it the way Linux does, for testing deploy/nva-vm-setup.

  fake_sysfs.py make ROOT NIC:UUID[:CLASS] ... [--no-override] [--hugepage-cap N]
      ROOT/sys with class/net/NIC -> VMBus device UUID (bound to hv_netvsc),
      drivers hv_netvsc and uio_hv_generic, 2 MiB hugepages (0 reserved),
      and ROOT/proc/mounts with hugetlbfs on /dev/hugepages.
  fake_sysfs.py write FILE VALUE
      What the kernel does for `echo VALUE > FILE` (deploy/nva-vm-setup calls
      it through NVA_SYSFS_WRITER): bind and unbind move the device's driver
      link or fail as the kernel refuses (busy, driver_override naming
      another driver, a class the driver does not take); new_id, remove_id,
      driver_override and nr_hugepages (capped) change what they change.
      Every write is appended to ROOT/writes.log. ROOT/refuse lists drivers
      whose bind fails (a probe error).
"""
import os
import sys

NETVSC = "f8615163-df3e-46c5-913f-f2d2f965ed0e"
DRIVERS = ("hv_netvsc", "uio_hv_generic")


def make(root, nics, override=True, cap=None):
    sysfs = os.path.join(root, "sys")
    vmbus = os.path.join(sysfs, "bus", "vmbus")
    for d in DRIVERS:
        path = os.path.join(vmbus, "drivers", d)
        os.makedirs(path)
        for f in ("bind", "unbind", "new_id", "remove_id"):
            open(os.path.join(path, f), "w").close()
    # hv_netvsc takes the netvsc class by its id table.
    with open(os.path.join(vmbus, "drivers", "hv_netvsc", "ids"), "w") as f:
        f.write(NETVSC + "\n")
    for spec in nics:
        parts = spec.split(":")
        nic, uuid = parts[0], parts[1]
        cls = parts[2] if len(parts) > 2 else NETVSC
        dev = os.path.join(vmbus, "devices", uuid)
        os.makedirs(dev)
        with open(os.path.join(dev, "class_id"), "w") as f:
            f.write("{" + cls + "}\n")
        if override:
            open(os.path.join(dev, "driver_override"), "w").close()
        if cls == NETVSC:
            os.symlink("../../drivers/hv_netvsc", os.path.join(dev, "driver"))
        netdir = os.path.join(sysfs, "class", "net", nic)
        os.makedirs(netdir)
        os.symlink(os.path.relpath(dev, netdir), os.path.join(netdir, "device"))
    hp = os.path.join(sysfs, "kernel", "mm", "hugepages", "hugepages-2048kB")
    os.makedirs(hp)
    with open(os.path.join(hp, "nr_hugepages"), "w") as f:
        f.write("0\n")
    if cap is not None:
        with open(os.path.join(root, "hugepage_cap"), "w") as f:
            f.write(str(cap))
    os.makedirs(os.path.join(root, "proc"))
    with open(os.path.join(root, "proc", "mounts"), "w") as f:
        f.write("sysfs /sys sysfs rw 0 0\nhugetlbfs /dev/hugepages hugetlbfs rw 0 0\n")


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def fail(why):
    print("fake kernel: " + why, file=sys.stderr)
    sys.exit(1)


def write(path, value):
    path = os.path.abspath(path)
    marker = os.sep + "sys" + os.sep
    root = path[: path.index(marker)]
    with open(os.path.join(root, "writes.log"), "a") as log:
        log.write("%s %s\n" % (path[len(root):], value))
    name = os.path.basename(path)
    parent = os.path.dirname(path)
    vmbus = os.path.join(root, "sys", "bus", "vmbus")
    if name in ("bind", "unbind"):
        driver = os.path.basename(parent)
        dev = os.path.join(vmbus, "devices", value)
        if not os.path.isdir(dev):
            fail("no device " + value)  # ENODEV
        link = os.path.join(dev, "driver")
        bound = os.path.basename(os.readlink(link)) if os.path.islink(link) else ""
        if name == "unbind":
            if bound != driver:
                fail("%s is not bound to %s" % (value, driver))
            os.unlink(link)
            return
        if bound:
            fail("%s is busy with %s" % (value, bound))  # EBUSY
        override = read(os.path.join(dev, "driver_override"))
        cls = read(os.path.join(dev, "class_id")).strip("{}")
        ids = read(os.path.join(parent, "ids")).split() + read(
            os.path.join(parent, "new_id")).split()
        if override and override != driver:
            fail("driver_override is " + override)
        if not override and cls not in ids:
            fail("%s does not take class %s" % (driver, cls))
        if driver in read(os.path.join(root, "refuse")).split():
            fail(driver + ": probe failed")
        os.symlink("../../drivers/" + driver, link)
        return
    if name == "new_id":
        ids = read(path).split()
        if value in ids:
            fail("id exists")  # EEXIST
        with open(path, "w") as f:
            f.write("\n".join(ids + [value]) + "\n")
        return
    if name == "remove_id":
        new_id = os.path.join(parent, "new_id")
        ids = read(new_id).split()
        if value not in ids:
            fail("no such id")  # ENODEV
        with open(new_id, "w") as f:
            f.write("\n".join(i for i in ids if i != value) + "\n")
        return
    if name == "nr_hugepages":
        cap = read(os.path.join(root, "hugepage_cap"))
        n = int(value)
        if cap:
            n = min(n, int(cap))
        value = str(n)
    with open(path, "w") as f:
        f.write(value + "\n")


def main():
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "make":
        rest = args[2:]
        override = "--no-override" not in rest
        cap = None
        if "--hugepage-cap" in rest:
            cap = int(rest[rest.index("--hugepage-cap") + 1])
        nics = [a for a in rest if ":" in a]
        make(args[1], nics, override, cap)
    elif len(args) == 3 and args[0] == "write":
        write(args[1], args[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
