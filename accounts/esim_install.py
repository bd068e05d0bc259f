"""What a customer needs to install an eSIM, for the customer's pages and the partner API
alike: the QR code of its activation code (SVG or PNG), the phones' direct-install links
(iOS 17.4 and later, recent Android), and the SM-DP+ address and matching id to type by hand
on phones that cannot scan."""

import io
from dataclasses import dataclass
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from django.core.exceptions import ValidationError

from accounts.models import SimLine
from reseller.validators import parse_activation_code

APPLE_INSTALL_URL = "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata="
ANDROID_INSTALL_URL = "https://esimsetup.android.com/esim_qrcode_provisioning?carddata="


@dataclass(frozen=True)
class EsimInstall:
    activation_code: str
    smdp_address: str
    matching_id: str
    ios_url: str
    android_url: str

    @property
    def qr_svg(self) -> str:
        return qr_image(self.activation_code, "svg").decode()


def esim_install(line: SimLine) -> EsimInstall | None:
    """None for a physical SIM (or an eSIM whose code does not parse)."""
    if line.kind != SimLine.Kind.ESIM or not line.activation_code:
        return None
    try:
        smdp, matching_id = parse_activation_code(line.activation_code)
    except ValidationError:
        return None
    # As Apple documents it (LPA:1$host$id unencoded: ":" and "$" are allowed in a query).
    code = quote(line.activation_code, safe=":$")
    return EsimInstall(
        activation_code=line.activation_code,
        smdp_address=smdp,
        matching_id=matching_id,
        ios_url=APPLE_INSTALL_URL + code,
        android_url=ANDROID_INSTALL_URL + code,
    )


def qr_image(text: str, image_format: str = "svg") -> bytes:
    """The QR code of ``text`` with medium error correction, as phones scan it: SVG (no image
    library) or PNG (Pillow)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(text)
    code.make(fit=True)
    buffer = io.BytesIO()
    if image_format == "svg":
        code.make_image(image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
    else:
        code.make_image().save(buffer)
    return buffer.getvalue()
