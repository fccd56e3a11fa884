"""Message content: the self-describing, compressed body of a message (wire format v1).

```
byte 0: ccc mmmmm    ccc = ContentType (0..5), mmmmm = encoding
        mmmmm 0..15  free text, text method (compress.TextMethod): 0 raw UTF-8, 1 DEFLATE+dict v1, 2 PPM v1
        mmmmm 16     form layout v1 (forms_codec); only for NOODMELDING, SITRAP, AANVRAAG, BULLETIN
        others       reserved: a newer nspgw; DecodeError asks the operator to update this box
byte 1..: the payload of that encoding (up to the end of the message body)
```
Any content type may carry free text (a sitrap typed as prose is still a sitrap); only the form types carry
forms. `encode_content` picks the smallest text encoding per message; `decode_content` accepts every
encoding this version or an older one ever produced.
"""

from __future__ import annotations

from nspgw.errors import DecodeError, UsageError
from nspgw.wire.compress import KNOWN_TEXT_METHODS, compress_text, decompress_text
from nspgw.wire.forms import FORM_CLASSES, Form, validate
from nspgw.wire.forms_codec import decode_form, encode_form
from nspgw.wire.forms_render import render_form
from nspgw.wire.frames import ContentType

FORM_LAYOUT_V1 = 16

__all__ = ["ContentType", "Form", "decode_content", "encode_content", "render"]


def encode_content(content_type: ContentType, value: str | Form) -> bytes:
    """Smallest self-describing encoding of a text or form; UsageError (Dutch) for invalid input."""
    try:
        ct = ContentType(content_type)
    except ValueError:
        raise UsageError(f"onbekend berichttype: {content_type!r}") from None
    if isinstance(value, str):
        method, payload = compress_text(value)
        return bytes([(ct << 5) | method]) + payload
    form_class = FORM_CLASSES.get(ct)
    if form_class is None or not isinstance(value, form_class):
        want = form_class.__name__.lower() if form_class else "tekst"
        raise UsageError(f"berichttype {ct.name.lower()} verwacht {want}, niet {type(value).__name__}")
    return bytes([(ct << 5) | FORM_LAYOUT_V1]) + encode_form(value)


def decode_content(data: bytes) -> tuple[ContentType, str | Form]:
    """Inverse of `encode_content`. Any bytes give a value or DecodeError, in bounded time and memory."""
    if not data:
        raise DecodeError("lege berichtinhoud")
    head = data[0]
    try:
        ct = ContentType(head >> 5)
    except ValueError:
        raise DecodeError(f"onbekend berichttype {head >> 5} (nieuwere nspgw-versie? werk deze box bij)") from None
    method = head & 0x1F
    if method in KNOWN_TEXT_METHODS:
        return ct, decompress_text(method, data[1:])
    if method == FORM_LAYOUT_V1 and ct in FORM_CLASSES:
        return ct, decode_form(ct, data, 1)
    raise DecodeError(
        f"onbekende codering {method} voor {ct.name.lower()}: dit bericht komt van een nieuwere nspgw-versie; "
        "werk deze box bij"
    )


def render(content_type: ContentType, value: str | Form, lang: str = "nl") -> str:
    """Readable text of a content value: the text itself, or the form laid out in Dutch ("nl") or English."""
    if isinstance(value, str):
        if content_type == ContentType.AFHANDELING:
            from nspgw.wire.handling import decode_handling, render_handling

            try:
                return render_handling(decode_handling(value), lang)
            except DecodeError:
                return value
        return value
    validate(value)
    return render_form(value, lang)
