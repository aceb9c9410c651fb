"""What a hostile upload or a guessing visitor meets: a zip holding a link, a folder of huge files, an
empty or partial access token. Each is refused; nothing is unpacked, read or unlocked."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest
from streamlit.testing.v1 import AppTest

from vae.data.own import MAX_FOLDER_BYTES, check_folder
from vae.portable.uploads import UploadRefused
from vae.training.own_data import UPLOADS, store_upload

from .test_own_data import write_folder


def test_a_zip_holding_a_symbolic_link_is_refused_and_nothing_is_unpacked(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("shapes/circles/0.png", b"\x89PNG")
        link = zipfile.ZipInfo("shapes/circles/1.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16  # how `zip --symlinks` stores a link
        archive.writestr(link, "/etc/passwd")  # a link's member data is its target
    with pytest.raises(UploadRefused, match="symbolic link 'shapes/circles/1.png'"):
        store_upload(tmp_path, "shapes.zip", buffer.getvalue())
    assert list((tmp_path / UPLOADS).iterdir()) == []


def test_a_folder_of_more_image_bytes_than_allowed_is_refused_before_any_is_read(tmp_path):
    root = write_folder(tmp_path / "shapes")  # 15 good images
    for name in ("circles", "squares"):  # two sparse files: 1.2 GB each on paper, no disk used
        with (root / name / "huge.png").open("wb") as huge:
            huge.truncate(MAX_FOLDER_BYTES * 6 // 10)
    check = check_folder(root)
    assert not check.ok and "GB of image files" in check.refusal
    assert check.n_images == 0 and check.n_unreadable == 0  # refused from the sizes alone


def _token_gate_script():
    import streamlit as st

    from ui.access import token_form, unlocked

    if unlocked():
        st.success("unlocked")
    else:
        token_form("start training")


@pytest.mark.parametrize("entered", ["", "s3cret", "s3cret-token-and-more"])
def test_only_the_whole_token_unlocks(monkeypatch, entered):
    monkeypatch.setenv("VAE_LAB_TOKEN", "s3cret-token")
    at = AppTest.from_function(_token_gate_script, default_timeout=30).run()
    at.text_input(key="access_token_entry").input(entered)
    at.button[0].click().run()
    assert not at.exception and not at.success
    assert any("not the access token" in e.value for e in at.error)
    at.text_input(key="access_token_entry").input("s3cret-token")
    at.button[0].click().run()
    assert [s.value for s in at.success] == ["unlocked"]
