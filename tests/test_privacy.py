from __future__ import annotations

import pytest

from bot.services.privacy import PersonalData, mask_name, mask_phone, valid_phone


def test_seal_and_open():
    vault = PersonalData("k" * 32)
    sealed = vault.seal("13812345678")
    assert sealed != "13812345678" and "1381234" not in sealed
    assert vault.open(sealed) == "13812345678"
    assert vault.seal("") == "" and vault.open("") == ""
    assert PersonalData("other" * 8).open(sealed) == "（无法解密）"
    with pytest.raises(ValueError):
        PersonalData("")


@pytest.mark.parametrize("raw,expected", [
    ("13812345678", "13812345678"), ("138 1234 5678", "13812345678"),
    ("+86 13812345678", "13812345678"), ("0871-65551234", "0871-65551234"),
    ("12345", None), ("1381234567x", None), ("23812345678", None), ("", None),
])
def test_valid_phone(raw, expected):
    assert valid_phone(raw) == expected


def test_masks():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三丰") == "张**" and mask_name("") == ""
