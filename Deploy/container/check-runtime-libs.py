#!/usr/bin/env python3
"""Checks that the runtime stage of Deploy/container/Containerfile installs exactly the libraries ferd links.

    check-runtime-libs.py BINARY CONTAINERFILE

BINARY is a ferd built on this Debian machine (make release: .build/release/ferd). Its shared libraries, as `ldd`
resolves them, are mapped to the Debian packages that own them (dpkg). The check passes when

- the runtime stage's `apt-get install` list is exactly the set of packages owning the libraries the binary
  names itself (readelf's NEEDED entries): nothing missing, nothing extra;
- every library ldd resolves, the indirect ones included, belongs to a package in the dependency closure of that
  list (apt-cache depends), so the image's apt-get brings it;
- the Swift runtime libraries, which no Debian package owns (the toolchain's own folder), are linked statically:
  the build stage's `swift build` has --static-swift-stdlib (a binary built with it names none of them).

It prints what it compared and exits 1, naming the difference and the fix, when a check fails.
"""
import os
import re
import subprocess
import sys


def fail(message):
    print(f"check-runtime-libs: {message}", file=sys.stderr)
    sys.exit(1)


def run(arguments):
    try:
        done = subprocess.run(arguments, capture_output=True, text=True)
    except FileNotFoundError:
        fail(f"{arguments[0]} is not installed; it comes with Debian's "
             f"{ {'ldd': 'libc-bin', 'readelf': 'binutils'}.get(arguments[0], 'apt and dpkg')} package")
    return done


def instructions(path):
    """The Containerfile's instructions, continuation lines joined and comments dropped."""
    joined, current = [], ""
    with open(path, encoding="utf-8") as file:
        for line in file:
            stripped = line.strip()
            if stripped.startswith("#") or not stripped:
                continue
            if stripped.endswith("\\"):
                current += stripped[:-1] + " "
                continue
            joined.append(current + stripped)
            current = ""
    if current:
        joined.append(current)
    return joined


def stages(path):
    """Lists of instructions, one per FROM."""
    result = []
    for instruction in instructions(path):
        if instruction.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(instruction)
    if len(result) < 2:
        fail(f"{path} has {len(result)} stage(s); expected a build stage and a runtime stage")
    return result


def installed_packages(stage, path):
    """The packages of the stage's `apt-get install` commands."""
    packages = []
    for instruction in stage:
        if not instruction.upper().startswith("RUN "):
            continue
        for command in re.split(r"&&|;|\|\|", instruction[4:]):
            words = command.split()
            if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
                after = words[words.index("install") + 1:]
                packages += [word for word in after if not word.startswith("-")]
    if not packages:
        fail(f"the runtime stage of {path} has no `apt-get install`")
    return packages


def ldd(binary):
    """(soname, resolved path) of every library the dynamic loader loads for the binary."""
    done = run(["ldd", binary])
    if done.returncode != 0:
        fail(f"ldd {binary} failed: {done.stderr.strip() or done.stdout.strip()}")
    libraries = []
    for line in done.stdout.splitlines():
        line = line.strip()
        if "not found" in line:
            fail(f"ldd {binary}: {line}; install the package that provides it (make deps)")
        match = re.match(r"(\S+) => (/\S+) \(", line) or re.match(r"((/\S+)) \(", line)
        if match:
            libraries.append((os.path.basename(match.group(1)), match.group(2)))
    return libraries


def needed(binary):
    done = run(["readelf", "-d", binary])
    if done.returncode != 0:
        fail(f"readelf -d {binary} failed: {done.stderr.strip()}")
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]", done.stdout))


def owner(path):
    """The Debian package that owns a library file (merged /usr and alternatives symlinks followed), or None."""
    candidates = []
    for each in (path, os.path.realpath(path)):
        candidates += [each, each[4:] if each.startswith("/usr/") else "/usr" + each]
    for candidate in candidates:
        done = run(["dpkg-query", "-S", candidate])
        if done.returncode == 0:
            for line in done.stdout.splitlines():
                package, _, file = line.partition(": ")
                if file == candidate and "diversion" not in package:
                    return package.split(":")[0]
    return None


def closure(packages):
    """The packages apt installs for `packages`: they and their dependencies, recursively (installed ones)."""
    done = run(["apt-cache", "depends", "--recurse", "--installed", "--no-recommends", "--no-suggests",
                "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *packages])
    if done.returncode != 0:
        fail(f"apt-cache depends failed: {done.stderr.strip()}; are {' '.join(packages)} installed here? (make deps)")
    return {line.strip() for line in done.stdout.splitlines() if line and not line[0].isspace() and not line.startswith("<")}


def main():
    if len(sys.argv) != 3:
        fail("usage: check-runtime-libs.py BINARY CONTAINERFILE")
    binary, containerfile = sys.argv[1], sys.argv[2]
    if not os.access(binary, os.X_OK):
        fail(f"{binary} is not an executable; build it first (make release)")
    build, runtime = stages(containerfile)[0], stages(containerfile)[-1]
    listed = installed_packages(runtime, containerfile)
    static = any("swift build" in each and "--static-swift-stdlib" in each for each in build)

    direct, packages, swift_runtime = needed(binary), {}, []
    for soname, path in ldd(binary):
        package = owner(path)
        if package is None:
            if os.path.exists(os.path.join(os.path.dirname(os.path.realpath(path)), "libswiftCore.so")):
                swift_runtime.append(soname)
                continue
            fail(f"no Debian package owns {path} ({soname}); the runtime stage could not install it")
        packages.setdefault(package, set()).add(soname)
    if swift_runtime and not static:
        fail(f"{binary} links the Swift runtime ({', '.join(sorted(swift_runtime))}) and the build stage of "
             f"{containerfile} does not link it statically; add --static-swift-stdlib to its swift build")

    wanted = {package for package, sonames in packages.items() if sonames & direct}
    missing, extra = wanted - set(listed), set(listed) - wanted
    print(f"ferd names: {' '.join(sorted(direct))}")
    for package in sorted(packages):
        print(f"  {package:24} {' '.join(sorted(packages[package]))}{'' if package in wanted else '  (indirect)'}")
    if swift_runtime:
        print(f"  Swift runtime, static in the image: {' '.join(sorted(swift_runtime))}")
    print(f"runtime stage installs: {' '.join(listed)}")
    if missing:
        fail(f"the runtime stage of {containerfile} misses {' '.join(sorted(missing))}; add it to its apt-get install")
    if extra:
        fail(f"the runtime stage of {containerfile} installs {' '.join(sorted(extra))}, which owns no library ferd names; "
             "remove it")
    brought = closure(listed)
    unreached = sorted(set(packages) - brought)
    if unreached:
        fail(f"{' '.join(unreached)} (indirect libraries of ferd) are not dependencies of the runtime stage's packages; "
             "add them to its apt-get install")
    print(f"ok: the runtime stage installs every library ferd loads ({len(packages)} packages with their dependencies)")


if __name__ == "__main__":
    main()
