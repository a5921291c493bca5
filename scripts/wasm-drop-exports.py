#!/usr/bin/env python3
"""Removes named function exports from a WebAssembly module, in place (its export section only;
the functions stay, unexported). Envoy's proxy-wasm host does not enter the VM for a callback
the module does not export, and the proxy-wasm crate exports every callback whether the filter
implements it or not: dropping the ones left at the crate's do-nothing default saves a V8 entry
each, on every request.

Usage: wasm-drop-exports.py FILE NAME...   drop these exports (again: nothing to do)
       wasm-drop-exports.py --list FILE    print the function exports, one per line
Fails when only some NAMEs are exported (a renamed callback), or on a module it cannot read."""
import os
import sys


def leb(data, at):
    """Unsigned LEB128 at `at`: (value, next offset)."""
    value = shift = 0
    while True:
        if at >= len(data):
            raise SystemExit("wasm-drop-exports: truncated LEB128")
        b = data[at]
        at += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, at
        if shift >= 35:
            raise SystemExit("wasm-drop-exports: LEB128 longer than a u32's 5 bytes")


def enc(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def exports(module):
    """(section start, section end, [(name, kind, raw entry bytes)]) of the export section."""
    if module[:8] != b"\0asm\x01\0\0\0":
        raise SystemExit("wasm-drop-exports: not a version-1 wasm module")
    at = 8
    while at < len(module):
        sid = module[at]
        size, body = leb(module, at + 1)
        end = body + size
        if end > len(module):
            raise SystemExit("wasm-drop-exports: section runs past the end")
        if sid == 7:
            count, p = leb(module, body)
            entries = []
            for _ in range(count):
                start = p
                n, p = leb(module, p)
                name = module[p:p + n].decode("utf-8")
                p += n
                kind = module[p]
                _, p = leb(module, p + 1)
                entries.append((name, kind, module[start:p]))
            if p != end:
                raise SystemExit("wasm-drop-exports: export section size mismatch")
            return at, end, entries
        at = end
    raise SystemExit("wasm-drop-exports: no export section")


def drop_exports(module, names):
    """The module without the function exports in `names`; None when it has none of them."""
    start, end, entries = exports(module)
    functions = {name for name, kind, _ in entries if kind == 0}
    if "proxy_on_memory_allocate" not in functions:
        raise SystemExit("wasm-drop-exports: not a proxy-wasm module (no proxy_on_memory_allocate)")
    present = names & functions
    if not present:
        return None
    if present != names:
        raise SystemExit(f"wasm-drop-exports: not exported: {', '.join(sorted(names - present))}")
    kept = [raw for name, kind, raw in entries if not (kind == 0 and name in names)]
    payload = enc(len(kept)) + b"".join(kept)
    return module[:start] + bytes([7]) + enc(len(payload)) + payload + module[end:]


def main():
    try:
        run()
    except (IndexError, UnicodeDecodeError):
        raise SystemExit("wasm-drop-exports: truncated or malformed export section")


def run():
    if len(sys.argv) == 3 and sys.argv[1] == "--list":
        for name, kind, _ in exports(open(sys.argv[2], "rb").read())[2]:
            if kind == 0:
                print(name)
        return
    if len(sys.argv) < 3 or sys.argv[1].startswith("-"):
        raise SystemExit(__doc__)
    path, names = sys.argv[1], set(sys.argv[2:])
    data = drop_exports(open(path, "rb").read(), names)
    if data is None:
        return
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, os.stat(path).st_mode & 0o7777)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
