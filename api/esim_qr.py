"""An eSIM's activation code as the QR picture a phone's camera reads to install it (PNG or
SVG), with qrcode (already installed for the staff second factor)."""

import io

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M


def activation_qr(activation_code: str, image_format: str) -> bytes:
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(activation_code)
    qr.make(fit=True)
    buffer = io.BytesIO()
    if image_format == "svg":
        qr.make_image(image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
    else:
        qr.make_image().save(buffer)  # Pillow, PNG
    return buffer.getvalue()
