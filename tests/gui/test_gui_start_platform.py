"""Starting the GUI where Qt cannot open a window: one message and exit 2, never an abort.

Qt aborts the process (SIGABRT) when no display is there or the X11 plugin
lacks a system library; ``lsqfit_app.gui.platform_check`` looks first.
"""
import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lsqfit_app import launcher
from lsqfit_app.gui import platform_check as pc

ROOT = Path(__file__).resolve().parents[2]
XCB_TRIO = ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="Linux platform plugins")


@pytest.fixture
def x11_session(monkeypatch):
    """The environment of an X11 desktop (the display need not exist: nothing connects
    before the libraries are checked)."""
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM_PLUGIN_PATH", raising=False)
    monkeypatch.delenv("QT_PLUGIN_PATH", raising=False)
    monkeypatch.setenv("XDG_SESSION_TYPE", "x11")
    monkeypatch.setenv("DISPLAY", ":0")


@pytest.fixture
def no_gui_start(monkeypatch):
    """Fail instead of opening a window if the check lets the start through."""
    from lsqfit_app.gui import app
    started = []
    monkeypatch.setattr(app, "run_gui", lambda argv, checked=False: started.append(argv) or 0)
    return started


def _needed_closure(plugin: Path) -> set[str]:
    """Every soname the plugin and the Qt libraries beside it need (the ELF reader's view)."""
    names, todo, seen = set(), [plugin], set()
    while todo:
        path = todo.pop()
        needed, search = pc.elf_needed(path)
        for name in needed:
            names.add(name)
            local = [Path(d) / name for d in search if (Path(d) / name).is_file()]
            if local and name not in seen:
                seen.add(name)
                todo.append(local[0])
    return names


@linux_only
def test_missing_xcb_libraries_give_one_message_and_exit_2(x11_session, no_gui_start,
                                                            monkeypatch, capsys):
    monkeypatch.setattr(pc, "_missing_by_ldd", lambda plugin: list(XCB_TRIO))
    assert launcher.main([]) == 2
    assert not no_gui_start                      # no QApplication was attempted
    out, err = capsys.readouterr()
    assert out == ""
    assert "no display" not in err
    for name in XCB_TRIO:
        assert name in err
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in err
    assert "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms" in err
    assert "libqxcb.so" in err                   # which plugin was checked
    assert err.count("lsqfit-app:") == 1         # one message


@linux_only
def test_without_ldd_the_elf_files_are_read_and_each_library_looked_up(x11_session,
                                                                        no_gui_start,
                                                                        monkeypatch, capsys):
    plugin = pc.xcb_plugin()
    needed = _needed_closure(plugin)
    assert {"libxcb.so.1", "libQt6XcbQpa.so.6", "libxcb-icccm.so.4"} <= needed
    absent = {"libxcb-icccm.so.4", "libxkbcommon-x11.so.0"}
    asked = []

    def fake_loader(name):
        asked.append(name)
        return name if name in absent else None

    monkeypatch.setattr(pc.shutil, "which", lambda cmd: None)     # no ldd on this system
    monkeypatch.setattr(pc, "_dlopen_missing", fake_loader)
    assert sorted(pc.missing_libraries(plugin)) == sorted(absent)
    # the Qt libraries beside the plugin are found on its RUNPATH, not asked of the loader
    assert "libQt6XcbQpa.so.6" not in asked and "libxcb-cursor.so.0" in asked
    peak = ROOT / "resources" / "examples" / "peak.csv"
    assert launcher.main([str(peak)]) == 2
    err = capsys.readouterr().err
    apt = next(line for line in err.splitlines() if "sudo apt-get install" in line)
    dnf = next(line for line in err.splitlines() if "sudo dnf install" in line)
    assert sorted(apt.split("install")[1].split()) == ["libxcb-icccm4", "libxkbcommon-x11-0"]
    assert sorted(dnf.split("install")[1].split()) == ["libxkbcommon-x11", "xcb-util-wm"]
    assert not no_gui_start


@linux_only
def test_a_plugin_without_its_qt_libraries_says_reinstall_pyside6(x11_session, tmp_path,
                                                                   monkeypatch, capsys,
                                                                   no_gui_start):
    real = pc.xcb_plugin()
    fake = tmp_path / "platforms"
    fake.mkdir()
    shutil.copy(real, fake / pc.XCB_PLUGIN)
    monkeypatch.setenv("QT_QPA_PLATFORM_PLUGIN_PATH", str(fake))
    assert pc.xcb_plugin() == fake / pc.XCB_PLUGIN
    # $ORIGIN/../../lib is empty there: libQt6XcbQpa cannot be found, by either method
    assert "libQt6XcbQpa.so.6" in pc.missing_libraries(fake / pc.XCB_PLUGIN)
    monkeypatch.setattr(pc.shutil, "which", lambda cmd: None)
    assert "libQt6XcbQpa.so.6" in pc.missing_libraries(fake / pc.XCB_PLUGIN)
    assert launcher.main([]) == 2
    err = capsys.readouterr().err
    assert "libQt6XcbQpa.so.6" in err and "reinstall" in err and str(fake) in err
    # PySide6's own libraries are no system packages: none is made up for them
    install_lines = [line for line in err.splitlines() if "sudo " in line]
    assert not any("qt6" in line.lower() for line in install_lines)
    assert not no_gui_start


@linux_only
def test_the_real_check_on_this_machine_agrees_with_the_loader():
    plugin = pc.xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so"
    missing = pc.missing_libraries(plugin)
    # independent answer: ask the dynamic loader for each system library directly
    bundled_dir = plugin.resolve().parents[2] / "lib"
    for name in sorted(_needed_closure(plugin)):
        if (bundled_dir / name).exists():
            continue
        try:
            ctypes.CDLL(name)
        except OSError as exc:
            # absent itself, or one of its own dependencies is (that one is then named)
            assert name in missing or any(m in str(exc) for m in missing), (name, missing)
        else:
            assert name not in missing
    if shutil.which("ldd"):
        # both methods see the same libraries missing
        import lsqfit_app.gui.platform_check as again
        assert sorted(again._missing_by_ldd(plugin)) == sorted(again._missing_by_elf(plugin))
    env = {"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}
    problem = pc.startup_problem(env) if missing else None
    if missing:
        assert all(name in problem for name in missing)
        assert "sudo apt-get install" in problem and "sudo dnf install" in problem


def _run(env_changes: dict, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_SESSION_TYPE",
                        "QT_QPA_PLATFORM_PLUGIN_PATH", "QT_PLUGIN_PATH")}
    env.update(env_changes)
    # the timeout only stops a hang (the failure this guards against); it is no measure
    return subprocess.run([sys.executable, "-m", "lsqfit_app", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120)


def _no_abort(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Aborted" not in proc.stderr and "core dumped" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "could not load the Qt platform plugin" not in proc.stderr
    assert proc.stdout == ""


@linux_only
def test_no_display_says_so_and_points_to_the_command_line():
    proc = _run({})
    _no_abort(proc)
    assert "no display" in proc.stderr
    assert "lsqfit-app fit FILE" in proc.stderr
    assert proc.stderr.count("lsqfit-app:") == 1
    # with a file, the hint names it
    peak = str(ROOT / "resources" / "examples" / "peak.csv")
    proc = _run({}, peak)
    _no_abort(proc)
    assert f"lsqfit-app fit {peak}" in proc.stderr


@linux_only
def test_run_gui_itself_checks_before_the_qapplication():
    code = "import sys; from lsqfit_app.gui.app import run_gui; sys.exit(run_gui([]))"
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_SESSION_TYPE")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    _no_abort(proc)
    assert "no display" in proc.stderr


@linux_only
def test_a_display_nobody_serves_is_refused_not_aborted():
    # a display number with no server socket: either this machine lacks an xcb library
    # (then that is the message) or the connection is tried and refused
    free = next(n for n in range(93, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    proc = _run({"DISPLAY": f":{free}"})
    _no_abort(proc)
    assert ("not installed" in proc.stderr) or (f"DISPLAY=:{free}" in proc.stderr)


@pytest.mark.parametrize("env, expected", [
    ({}, []),
    ({"DISPLAY": ":0"}, ["xcb"]),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, ["wayland", "xcb"]),
    ({"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":1"}, ["wayland", "xcb"]),
    ({"QT_QPA_PLATFORM": "offscreen"}, ["offscreen"]),
    ({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":0"}, ["wayland", "xcb"]),
    ({"QT_QPA_PLATFORM": "xcb:nograb"}, ["xcb"]),
])
def test_the_platforms_qt_will_try(env, expected):
    assert pc.qt_platforms(env) == expected


@linux_only
def test_only_the_x11_start_is_checked(monkeypatch):
    monkeypatch.setattr(pc, "_missing_by_ldd", lambda plugin: list(XCB_TRIO))
    # the user's choice of another plugin, or Wayland first: not our business
    for env in ({"QT_QPA_PLATFORM": "offscreen"}, {"QT_QPA_PLATFORM": "vnc"},
                {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}):
        assert pc.startup_problem(env) is None, env
    for env in ({"DISPLAY": ":0"}, {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}):
        assert "libxcb-cursor.so.0" in pc.startup_problem(env)
    # xcb asked for but no DISPLAY; Wayland asked for but no compositor
    assert "no display" in pc.startup_problem({"QT_QPA_PLATFORM": "xcb"})
    assert "no display" in pc.startup_problem({"QT_QPA_PLATFORM": "wayland",
                                               "XDG_RUNTIME_DIR": "/nonexistent"})


@pytest.mark.parametrize("soname, debian, fedora", [
    ("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    ("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    ("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    ("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
    ("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
    ("libGL.so.1", "libgl1", "libglvnd-glx"),
    ("libEGL.so.1", "libegl1", "libglvnd-egl"),
    ("libglib-2.0.so.0", "libglib2.0-0", "glib2"),
    ("libfontconfig.so.1", "libfontconfig1", "fontconfig"),
    ("libz.so.1", "zlib1g", "zlib"),
])
def test_library_to_package_names(soname, debian, fedora):
    apt, dnf = pc.install_commands([soname])
    assert apt.split()[-1] == debian
    assert dnf.split()[-1] == fedora


def test_a_qtgui_import_error_names_the_library_and_its_package():
    message = pc.import_error_message(
        ImportError("libEGL.so.1: cannot open shared object file: No such file or directory"))
    assert "libEGL.so.1" in message
    assert "sudo apt-get install libegl1" in message and "sudo dnf install libglvnd-egl" in message
