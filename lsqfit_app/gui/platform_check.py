"""Can Qt open a window here?  Asked before any QtGui/QtWidgets import.

Qt aborts the process (SIGABRT, "Reinstalling the application may fix this
problem") when no platform plugin can start: on a server or over SSH
without a display, and on a desktop that lacks one of the xcb libraries
its X11 plugin links (a fresh Debian/Ubuntu has no libxcb-cursor0,
libxcb-icccm4, libxcb-keysyms1, and Qt's message names only the first).
An abort cannot be caught, so :func:`startup_problem` looks first and
returns one message naming everything that is missing and how to install
it; the launcher prints it and exits with status 2.

Only the standard library is used and no Qt module is imported (the
PySide6 package is located with :func:`importlib.util.find_spec`), so the
check works where importing QtGui would already fail.  Whatever the check
cannot decide (an unknown layout, an unreadable file) lets the start go on:
the check may only ever prevent aborts, never a start that would work.
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Mapping

#: the X11 platform plugin of Qt 6
XCB_PLUGIN = "libqxcb.so"

#: seconds ldd may take before the check falls back to reading the ELF files itself
LDD_TIMEOUT = 10.0
#: seconds to wait for the X server to answer (a TCP display on a dead host can take minutes)
CONNECT_TIMEOUT = 5.0

HEADLESS_HINT = "for headless work use 'lsqfit-app fit FILE' (see 'lsqfit-app --help')"

# Debian/Ubuntu package names follow the library's soname (libxcb-icccm.so.4 ->
# libxcb-icccm4, libxkbcommon-x11.so.0 -> libxkbcommon-x11-0, see _debian_package);
# these are the libraries Qt links whose package is named otherwise.
_DEBIAN_EXCEPTIONS = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0",
    "libgcc_s.so.1": "libgcc-s1",
    "libz.so.1": "zlib1g",
}

# Fedora packages by library stem (the soname without ".so.N").
_FEDORA = {
    "libxcb-cursor": "xcb-util-cursor",
    "libxcb-icccm": "xcb-util-wm",
    "libxcb-ewmh": "xcb-util-wm",
    "libxcb-keysyms": "xcb-util-keysyms",
    "libxcb-image": "xcb-util-image",
    "libxcb-util": "xcb-util",
    "libxcb-render-util": "xcb-util-renderutil",
    "libX11": "libX11",
    "libX11-xcb": "libX11-xcb",
    "libXext": "libXext",
    "libXrender": "libXrender",
    "libSM": "libSM",
    "libICE": "libICE",
    "libxkbcommon": "libxkbcommon",
    "libxkbcommon-x11": "libxkbcommon-x11",
    "libGL": "libglvnd-glx",
    "libGLX": "libglvnd-glx",
    "libEGL": "libglvnd-egl",
    "libOpenGL": "libglvnd-opengl",
    "libglib-2.0": "glib2",
    "libgthread-2.0": "glib2",
    "libgobject-2.0": "glib2",
    "libfontconfig": "fontconfig",
    "libfreetype": "freetype",
    "libdbus-1": "dbus-libs",
    "libwayland-client": "libwayland-client",
    "libwayland-cursor": "libwayland-cursor",
    "libwayland-egl": "libwayland-egl",
    "libstdc++": "libstdc++",
    "libgcc_s": "libgcc",
    "libz": "zlib",
    "libzstd": "libzstd",
}

#: libraries that come with PySide6 itself: missing means a broken PySide6, not a system package
_BUNDLED = ("libQt6", "libpyside6", "libshiboken6", "libicu")


# --------------------------------------------------------------------------- the question
def startup_problem(env: Mapping[str, str] | None = None, file: str | None = None) -> str | None:
    """Why the GUI cannot start here, as one message; None when it can (or we cannot tell).

    ``file`` is the path the user asked to open, quoted in the headless hint.
    """
    env = os.environ if env is None else env
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None          # Windows and macOS have one platform plugin that always starts
    platforms = qt_platforms(env)
    if not platforms:
        return no_display_message(env, file)
    if platforms == ["wayland"] and not _wayland_socket(env):
        return no_display_message(env, file)
    if platforms[0] != "xcb" or not sys.platform.startswith("linux"):
        # Wayland first (it falls back to xcb by itself), offscreen, vnc, ...: the user's choice
        return None
    if not env.get("DISPLAY"):
        return no_display_message(env, file)
    try:
        plugin = xcb_plugin(env)
        if plugin is None:
            return None
        missing = missing_libraries(plugin)
    except Exception:  # noqa: BLE001 - an unreadable layout must not stop a start that works
        return None
    if missing:
        return missing_libraries_message(missing, plugin)
    try:
        return display_connect_problem(env, file)
    except Exception:  # noqa: BLE001 - an odd libxcb: let Qt try
        return None


def qt_platforms(env: Mapping[str, str]) -> list[str]:
    """The platform plugins Qt 6 will try, in order (QGuiApplication's own rule).

    ``QT_QPA_PLATFORM`` ("xcb", "wayland;xcb", "xcb:option") wins; without it
    Qt prefers Wayland when ``WAYLAND_DISPLAY`` is set or the session is a
    Wayland one, then xcb when ``DISPLAY`` is set.  Empty: no display at all.
    """
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return [part.split(":", 1)[0].strip() for part in chosen.split(";") if part.strip()]
    order = []
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE", "").lower() == "wayland":
        order.append("wayland")
    if env.get("DISPLAY"):
        order.append("xcb")
    return order


def _wayland_socket(env: Mapping[str, str]) -> bool:
    """Is there a Wayland compositor to talk to (Qt's rule: WAYLAND_DISPLAY, else wayland-0)?"""
    name = env.get("WAYLAND_DISPLAY") or "wayland-0"
    if os.path.isabs(name):
        return os.path.exists(name)
    return (Path(env.get("XDG_RUNTIME_DIR", "/nonexistent")) / name).exists()


def no_display_message(env: Mapping[str, str], file: str | None = None) -> str:
    """The message for a session without any display (SSH, a server, a container)."""
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if not chosen:
        why = "neither DISPLAY nor WAYLAND_DISPLAY is set"
    elif qt_platforms(env) == ["wayland"]:
        why = f"QT_QPA_PLATFORM={chosen} but no Wayland compositor runs (WAYLAND_DISPLAY)"
    else:
        why = f"QT_QPA_PLATFORM={chosen} but DISPLAY is not set"
    example = _fit_example(file)
    return (f"lsqfit-app: cannot open the GUI: there is no display ({why}; an SSH session "
            f"or a server?). For headless work use {example} (see 'lsqfit-app --help'); "
            "for the window, log in to a desktop or use 'ssh -X'.")


def _fit_example(file: str | None) -> str:
    """The headless command for the file the user wanted to open."""
    return f"'lsqfit-app fit {shlex.quote(file)}'" if file else "'lsqfit-app fit FILE'"


# --------------------------------------------------------------------------- the plugin
def pyside6_dir() -> Path | None:
    """The installed PySide6 package folder, found without importing any Qt module."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def xcb_plugin(env: Mapping[str, str] | None = None) -> Path | None:
    """The libqxcb.so Qt will load: QT_QPA_PLATFORM_PLUGIN_PATH first, then PySide6's."""
    env = os.environ if env is None else env
    candidates = []
    if env.get("QT_QPA_PLATFORM_PLUGIN_PATH"):
        candidates += [Path(p) / XCB_PLUGIN
                       for p in env["QT_QPA_PLATFORM_PLUGIN_PATH"].split(os.pathsep) if p]
    candidates += [Path(p) / "platforms" / XCB_PLUGIN
                   for p in env.get("QT_PLUGIN_PATH", "").split(os.pathsep) if p]
    package = pyside6_dir()
    if package is not None:
        candidates += [package / "Qt" / "plugins" / "platforms" / XCB_PLUGIN,
                       package / "plugins" / "platforms" / XCB_PLUGIN]
    return next((c for c in candidates if c.is_file()), None)


def missing_libraries(plugin: Path) -> list[str]:
    """Sonames the plugin needs, directly or through the libraries it loads, that do not resolve.

    One ``ldd`` run (the dynamic loader's own answer) where ldd exists;
    otherwise the ELF files are read here and each library looked up.
    """
    missing = _missing_by_ldd(plugin)
    if missing is None:
        missing = _missing_by_elf(plugin)
    return missing


def _missing_by_ldd(plugin: Path) -> list[str] | None:
    """``libfoo.so.1 => not found`` lines of ldd; None when ldd is absent or gives no answer."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return None
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True,
                             timeout=LDD_TIMEOUT, env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.splitlines()
    if not any("=>" in line for line in lines):
        return None              # "not a dynamic executable", a foreign loader, ...
    missing = []
    for line in lines:
        name, _, where = line.strip().partition("=>")
        if where.strip() == "not found" and name.strip() not in missing:
            missing.append(name.strip())
    return missing


def _missing_by_elf(plugin: Path) -> list[str]:
    """Without ldd: follow DT_NEEDED through the libraries shipped next to Qt, and ask
    the dynamic loader (dlopen) for every other one."""
    missing: list[str] = []
    seen: set[str] = set()
    todo = [plugin]
    while todo:
        path = todo.pop()
        needed, search = elf_needed(path)
        for name in needed:
            if name in seen:
                continue
            seen.add(name)
            local = next((Path(d) / name for d in search if (Path(d) / name).is_file()), None)
            if local is not None:
                todo.append(local)           # a Qt library: its own needs count too
                continue
            absent = _dlopen_missing(name)
            if absent is not None and absent not in missing:
                missing.append(absent)
    return missing


def _dlopen_missing(name: str) -> str | None:
    """None when the loader finds ``name`` (and what it needs); else the soname it lacks."""
    for folder in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep):
        if folder and (Path(folder) / name).is_file():
            return None
    try:
        ctypes.CDLL(name)
    except OSError as exc:
        # "libxcb-util.so.1: cannot open shared object file": names the one really absent,
        # which is a dependency of ``name`` when ``name`` itself is there
        found = re.match(r"\s*([^\s:]+\.so[.\d]*):", str(exc))
        return found.group(1) if found else name
    return None


def elf_needed(path: Path) -> tuple[list[str], list[str]]:
    """DT_NEEDED sonames of an ELF shared object, and the folders of its RUNPATH
    (or RPATH) with ``$ORIGIN`` expanded.  Reads the section headers only."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF":
        raise ValueError(f"{path}: not an ELF file")
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
        sh_fmt, dyn_fmt = end + "IIQQQQIIQQ", end + "qQ"
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
        sh_fmt, dyn_fmt = end + "IIIIIIIIII", end + "iI"
    sections = [struct.unpack_from(sh_fmt, data, shoff + i * shentsize) for i in range(shnum)]
    SHT_DYNAMIC, DT_NEEDED, DT_RPATH, DT_RUNPATH = 6, 1, 15, 29
    needed, rpath, runpath = [], [], []
    for sh in sections:
        if sh[1] != SHT_DYNAMIC:
            continue
        offset, size, link, entsize = sh[4], sh[5], sh[6], sh[9] or struct.calcsize(dyn_fmt)
        strtab = sections[link][4]

        def string(at: int) -> str:
            stop = data.index(b"\0", strtab + at)
            return data[strtab + at:stop].decode("utf-8", "replace")

        for k in range(size // entsize):
            tag, value = struct.unpack_from(dyn_fmt, data, offset + k * entsize)
            if tag == 0:
                break
            if tag == DT_NEEDED:
                needed.append(string(value))
            elif tag == DT_RUNPATH:
                runpath += string(value).split(":")
            elif tag == DT_RPATH:
                rpath += string(value).split(":")
    origin = str(Path(path).resolve().parent)
    search = [d.replace("$ORIGIN", origin).replace("${ORIGIN}", origin)
              for d in (runpath or rpath) if d]
    return needed, search


# --------------------------------------------------------------------------- the message
def missing_libraries_message(missing: list[str], plugin: Path | None = None) -> str:
    """One message: every missing library and the commands that install them."""
    system = [m for m in missing if not m.startswith(_BUNDLED)]
    bundled = [m for m in missing if m.startswith(_BUNDLED)]
    where = f" ({plugin})" if plugin else ""
    lines = [f"lsqfit-app: cannot open the GUI: Qt's X11 platform plugin{where} needs "
             f"{_plural(len(missing), 'library', 'libraries')} that "
             f"{'is' if len(missing) == 1 else 'are'} not installed: {', '.join(missing)}."]
    if system:
        them = "it" if len(system) == 1 else "them"
        lines += [f"Install {them} with", *install_commands(system)]
    if bundled:
        lines.append("PySide6 is incomplete: reinstall it with "
                     "'pip install --force-reinstall PySide6'.")
    lines.append("Then start lsqfit-app again. Headless work ('lsqfit-app fit FILE') "
                 "needs none of them.")
    return "\n".join(lines)


def install_commands(missing: list[str]) -> list[str]:
    """The apt-get and dnf lines that install the packages holding ``missing``."""
    debian = _unique(_debian_package(m) for m in missing)
    fedora = _unique(_fedora_package(m) for m in missing)
    return [f"  Debian/Ubuntu: sudo apt-get install {' '.join(debian)}",
            f"  Fedora:        sudo dnf install {' '.join(fedora)}"]


def _split_soname(soname: str) -> tuple[str, str]:
    stem, _, version = soname.partition(".so")
    return stem, version.lstrip(".").split(".")[0]


def _debian_package(soname: str) -> str:
    """Debian policy 8.1: the package of libfoo.so.N is libfooN (libfoo-N after a digit)."""
    if soname in _DEBIAN_EXCEPTIONS:
        return _DEBIAN_EXCEPTIONS[soname]
    stem, version = _split_soname(soname)
    stem = stem.lower().replace("_", "-")
    if not version:
        return stem
    return f"{stem}-{version}" if stem[-1].isdigit() else f"{stem}{version}"


def _fedora_package(soname: str) -> str:
    stem, _version = _split_soname(soname)
    if stem in _FEDORA:
        return _FEDORA[stem]
    if stem.startswith("libxcb"):
        return "libxcb"          # libxcb-randr, -shm, -sync, -xfixes, ... are all in libxcb
    # dnf installs whatever package provides the soname
    return f"'{soname}()(64bit)'" if sys.maxsize > 2 ** 32 else f"'{soname}'"


def _unique(items) -> list[str]:
    return list(dict.fromkeys(items))


def _plural(n: int, one: str, many: str) -> str:
    return f"a {one}" if n == 1 else f"{n} {many}"


def import_error_message(exc: ImportError) -> str:
    """An ImportError of QtGui/QtWidgets (a missing libGL, libEGL, ...) as one message."""
    text = str(exc)
    found = re.match(r"\s*([^\s:]+\.so[.\d]*):", text)
    if found and not found.group(1).startswith(_BUNDLED):
        name = found.group(1)
        return "\n".join([f"lsqfit-app: cannot open the GUI: Qt needs {name}, which is not "
                          "installed. Install it with", *install_commands([name]),
                          f"Then start lsqfit-app again; {HEADLESS_HINT}."])
    return (f"lsqfit-app: the GUI is not available ({text}); reinstall PySide6 "
            f"('pip install --force-reinstall PySide6'); {HEADLESS_HINT}")


# --------------------------------------------------------------------------- the X server
def display_connect_problem(env: Mapping[str, str], file: str | None = None) -> str | None:
    """Qt also aborts when DISPLAY names no X server that answers (a stale DISPLAY in
    tmux, a closed SSH tunnel): try the connection with libxcb, as Qt will."""
    display = env.get("DISPLAY", "")
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return None
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    answer: list[int] = []

    def connect():
        # ctypes drops the GIL during the call, so a hung connect only costs the timeout
        conn = xcb.xcb_connect(display.encode(), None)
        answer.append(xcb.xcb_connection_has_error(conn))
        xcb.xcb_disconnect(conn)

    thread = threading.Thread(target=connect, daemon=True)
    # the connection reads the same environment Qt will (XAUTHORITY, ...)
    thread.start()
    thread.join(CONNECT_TIMEOUT)
    if not answer or answer[0] == 0:
        return None                  # connected, or undecided: let Qt try
    example = _fit_example(file)
    return (f"lsqfit-app: cannot open the GUI: no X server answers on DISPLAY={display} "
            f"(xcb error {answer[0]}: not running, not reachable or not authorized). "
            f"Check DISPLAY (over SSH use 'ssh -X'); for headless work use {example}.")
