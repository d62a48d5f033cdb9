"""gutaxis._outputs: all-or-nothing output folders and files, and clear refusals of bad targets."""

from __future__ import annotations

import os

import pytest

from gutaxis._outputs import atomic_dir, atomic_file, check_output_dir
from gutaxis.errors import InputError


def test_a_failed_run_leaves_the_previous_output_untouched(tmp_path):
    out = tmp_path / "o"
    with atomic_dir(out) as d:
        (d / "a.txt").write_text("run 1")
        (d / "b.txt").write_text("run 1")
    with pytest.raises(RuntimeError), atomic_dir(out, overwrite=True) as d:
        (d / "a.txt").write_text("run 2")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt"]
    assert (out / "a.txt").read_text() == "run 1"
    assert [p.name for p in tmp_path.iterdir()] == ["o"]  # no partial folder left behind


def test_a_new_run_replaces_the_folder_without_stale_files(tmp_path):
    out = tmp_path / "o"
    with atomic_dir(out) as d:
        (d / "old.txt").write_text("1")
    with atomic_dir(out, overwrite=True) as d:
        (d / "new.txt").write_text("2")
    assert [p.name for p in out.iterdir()] == ["new.txt"]


def test_bad_targets_are_refused_with_what_to_do(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_output_dir(f)
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    with pytest.raises(InputError, match="--overwrite"):
        check_output_dir(full)
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_output_dir(f / "sub")
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        with pytest.raises(InputError, match="permission"):
            check_output_dir(ro / "o")


def test_atomic_file_keeps_the_old_file_on_failure(tmp_path):
    p = tmp_path / "r.tsv"
    p.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_file(p) as t:
        t.write_text("half")
        raise KeyboardInterrupt
    assert p.read_text() == "old" and [x.name for x in tmp_path.iterdir()] == ["r.tsv"]
    with atomic_file(p) as t:
        t.write_text("new")
    assert p.read_text() == "new"
