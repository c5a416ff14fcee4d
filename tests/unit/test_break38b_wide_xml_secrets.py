"""Attack (stop 38, break38b): a UTF-16 or UTF-32 XML body one stray byte longer than its code
units (a hostile or cut body; refused, 400, and kept as a dead letter) holding a secret split by
CDATA. The body could not be decoded as a whole, so it was searched as UTF-8, where its text is
NUL-separated and no secret is read: the split secret was kept (failed before: each case below).
Now the whole code units are searched in the body's encoding and the stray bytes kept as they
came. No I/O."""

from __future__ import annotations

import pytest

from receiver.escaped_secrets import REDACTED
from receiver.xml_secrets import in_xml

SECRET = "s3cr3t-Token/with+plus=="
BODY = "<p><Note><![CDATA[s3cr3t-Tok]]><![CDATA[en/with+plus==]]></Note></p>"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-16", "utf-32-le", "utf-32"])
@pytest.mark.parametrize("stray", [b"\x00", b"<", b"\x00\x00\x00"])
def test_a_split_secret_in_a_wide_body_with_stray_bytes_is_not_kept(
    encoding: str, stray: bytes
) -> None:
    body = BODY.encode(encoding)
    unit = 4 if "32" in encoding else 2
    if len(stray) % unit == 0:
        pytest.skip("whole code units")
    kept = in_xml(body + stray, (SECRET,))
    assert kept.endswith(stray)
    redacted = kept[: len(kept) - len(stray)].decode(encoding)
    assert redacted == BODY.replace(BODY[9:-11], REDACTED)
